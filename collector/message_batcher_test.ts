import assert from "node:assert/strict";
import { type Delay, MessageBatcher } from "./message_batcher.ts";

/** An async iterable fed by the test, ended by `end()`. */
function channel<T>() {
  const queue: T[] = [];
  let wake: (() => void) | undefined;
  let ended = false;
  let pulled = 0;
  return {
    push(...items: T[]) {
      queue.push(...items);
      wake?.();
    },
    end() {
      ended = true;
      wake?.();
    },
    get pulled() {
      return pulled;
    },
    async *[Symbol.asyncIterator]() {
      for (;;) {
        while (queue.length === 0 && !ended) await new Promise<void>((r) => wake = r);
        if (queue.length === 0) return;
        pulled++;
        yield queue.shift()!;
      }
    },
  };
}

/** Timers the test fires by hand. */
function manualTimers() {
  const pending: { ms: number; fire: () => void }[] = [];
  return {
    pending,
    delay(ms: number): Delay {
      let fire: () => void = () => {};
      const done = new Promise<void>((resolve) => fire = resolve);
      const entry = { ms, fire };
      pending.push(entry);
      return {
        done,
        cancel: () => {
          pending.splice(pending.indexOf(entry), 1);
          fire();
        },
      };
    },
    fireAll() {
      for (const entry of pending.splice(0)) entry.fire();
    },
  };
}

const tick = () => new Promise((resolve) => setTimeout(resolve, 0));

Deno.test("MessageBatcher hands out a full batch at once", async () => {
  const source = channel<number>();
  const timers = manualTimers();
  const batcher = new MessageBatcher(source, {
    maxItems: 3,
    maxWaitMs: 50,
    maxBuffered: 6,
    delay: timers.delay,
  });
  source.push(1, 2, 3, 4);
  assert.deepEqual(await batcher.next(), [1, 2, 3]);
  assert.equal(timers.pending.length, 0);
  source.end();
  assert.deepEqual(await batcher.next(), [4]);
  assert.deepEqual(await batcher.next(), []);
});

Deno.test("MessageBatcher closes a partial batch when its wait expires", async () => {
  const source = channel<string>();
  const timers = manualTimers();
  const batcher = new MessageBatcher(source, {
    maxItems: 10,
    maxWaitMs: 25,
    maxBuffered: 10,
    delay: timers.delay,
  });
  source.push("a");
  const next = batcher.next();
  await tick();
  source.push("b");
  await tick();
  assert.deepEqual(timers.pending.map((t) => t.ms), [25]);
  timers.fireAll();
  assert.deepEqual(await next, ["a", "b"]);
});

Deno.test("MessageBatcher stops reading the source while its buffer is full", async () => {
  const source = channel<number>();
  const batcher = new MessageBatcher(source, {
    maxItems: 2,
    maxWaitMs: 0,
    maxBuffered: 4,
    delay: manualTimers().delay,
  });
  source.push(1, 2, 3, 4, 5, 6, 7, 8);
  await tick();
  assert.equal(batcher.buffered, 4);
  assert.equal(source.pulled, 4);
  assert.deepEqual(await batcher.next(), [1, 2]);
  await tick();
  assert.equal(source.pulled, 6);
  assert.deepEqual(batcher.takeBuffered(), [3, 4, 5, 6]);
  await tick();
  assert.equal(batcher.buffered, 2);
});

Deno.test("MessageBatcher rethrows the source's error after the items before it", async () => {
  const boom = new Error("consumer failed");
  async function* failing() {
    yield 1;
    throw boom;
  }
  const batcher = new MessageBatcher(failing(), {
    maxItems: 5,
    maxWaitMs: 0,
    maxBuffered: 5,
    delay: manualTimers().delay,
  });
  await batcher.pumped;
  assert.deepEqual(await batcher.next(), [1]);
  await assert.rejects(batcher.next(), (error) => error === boom);
  assert.deepEqual(await batcher.next(), []);
});

Deno.test("MessageBatcher rejects sizes that cannot work", () => {
  const options = { maxItems: 2, maxWaitMs: 1, maxBuffered: 2 };
  assert.throws(() => new MessageBatcher(channel(), { ...options, maxItems: 0 }), RangeError);
  assert.throws(() => new MessageBatcher(channel(), { ...options, maxBuffered: 1 }), RangeError);
  assert.throws(() => new MessageBatcher(channel(), { ...options, maxWaitMs: -1 }), RangeError);
});
