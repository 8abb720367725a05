import assert from "node:assert/strict";
import { ACCEPT_BACKOFF_MAX_MS, acceptBackoffMs, runAcceptLoop } from "./accept_loop.ts";

/** A listener that replays a script: a connection (a number) or an error per accept. */
function scripted(script: (number | Error)[]) {
  let open = true;
  return {
    get open() {
      return open;
    },
    close() {
      open = false;
    },
    accept(): Promise<number> {
      const next = script.shift();
      if (next === undefined) {
        open = false;
        return Promise.reject(new Deno.errors.BadResource("listener closed"));
      }
      return next instanceof Error ? Promise.reject(next) : Promise.resolve(next);
    },
  };
}

const emfile = () => new Error("Too many open files (os error 24)");

Deno.test("acceptBackoffMs() doubles from 10 ms up to 1 s", () => {
  assert.deepEqual(
    [1, 2, 3, 4, 5, 6, 7, 8, 50].map(acceptBackoffMs),
    [10, 20, 40, 80, 160, 320, 640, 1000, ACCEPT_BACKOFF_MAX_MS],
  );
});

Deno.test("runAcceptLoop() pauses after every failed accept and reports each burst once", async () => {
  const listener = scripted([1, emfile(), emfile(), emfile(), 2, emfile(), 3]);
  const accepted: number[] = [];
  const sleeps: number[] = [];
  const failures: unknown[] = [];
  const recovered: number[] = [];
  await runAcceptLoop(listener, {
    isOpen: () => listener.open,
    onConnection: (conn) => accepted.push(conn),
    onFailure: (failure) => failures.push(failure),
    onRecovered: (count) => recovered.push(count),
    sleep: (ms) => {
      sleeps.push(ms);
      return Promise.resolve();
    },
  });
  assert.deepEqual(accepted, [1, 2, 3]);
  assert.deepEqual(sleeps, [10, 20, 40, 10]);
  assert.equal(failures.length, 2);
  assert.deepEqual(recovered, [3, 1]);
});

Deno.test("runAcceptLoop() ends without a report when the listener was closed", async () => {
  const listener = scripted([1, emfile(), emfile()]);
  const failures: unknown[] = [];
  let sleeps = 0;
  await runAcceptLoop(listener, {
    isOpen: () => listener.open,
    onConnection: () => listener.close(),
    onFailure: (failure) => failures.push(failure),
    sleep: () => {
      sleeps += 1;
      return Promise.resolve();
    },
  });
  assert.equal(failures.length, 0);
  assert.equal(sleeps, 0);
});
