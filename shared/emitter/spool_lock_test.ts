import assert from "node:assert/strict";
import type { OutboundEvent } from "./outbound_event.ts";
import { listSegments } from "./spool_reader.ts";
import { SPOOL_LOCK_FILE, SpoolLock, SpoolLockedError } from "./spool_lock.ts";
import { SpoolWriter, type SpoolWriterOptions } from "./spool_writer.ts";
import { RecordingLogger } from "./_test_logger.ts";

function sample(n: number): OutboundEvent {
  return {
    subject: "mining.events.eu.share_submitted",
    msgId: `id-${n}`,
    payload: new TextEncoder().encode(JSON.stringify({ n })),
  };
}

async function withDir(body: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "tbg-spool-lock-test-" });
  try {
    await body(`${dir}/spool`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function options(dir: string): SpoolWriterOptions {
  return {
    dir,
    segmentMaxBytes: 1 << 20,
    fsyncRecords: 1_000,
    fsyncIntervalMs: 60_000,
    log: new RecordingLogger(),
  };
}

Deno.test("SpoolWriter.open() refuses a directory another writer of this process holds", async () => {
  await withDir(async (dir) => {
    const first = await SpoolWriter.open(options(dir));
    await first.append([sample(0)]);
    await first.sync();
    // flock belongs to the open file description, so a second open in one process conflicts.
    const error = await SpoolWriter.open(options(dir)).then(
      () => assert.fail("the second open succeeded"),
      (e: unknown) => e,
    );
    assert.ok(error instanceof SpoolLockedError);
    assert.equal(error.dir, dir);
    assert.equal(error.lockPath, `${dir}/${SPOOL_LOCK_FILE}`);
    assert.equal(error.holderPid, Deno.pid);
    assert.equal(
      error.message,
      `Cannot open event spool ${dir}: process ${Deno.pid} holds ${dir}/${SPOOL_LOCK_FILE}`,
    );
    // The refused open recovered nothing: the first writer's active segment is still its own.
    await first.append([sample(1)]);
    assert.equal(first.records, 2);
    await first.close();

    const second = await SpoolWriter.open(options(dir));
    assert.equal(second.records, 2, "close() released the lock and kept the events");
    await second.close();
  });
});

Deno.test("SpoolWriter lock file is never taken for a segment", async () => {
  await withDir(async (dir) => {
    const writer = await SpoolWriter.open(options(dir));
    await writer.close();
    assert.deepEqual(await listSegments(dir), []);
    assert.ok((await Deno.stat(`${dir}/${SPOOL_LOCK_FILE}`)).isFile);
    const reopened = await SpoolWriter.open(options(dir));
    assert.ok(reopened.isEmpty());
    await reopened.close();
    assert.equal((await Deno.stat(`${dir}/${SPOOL_LOCK_FILE}`)).isFile, true, "never deleted");
  });
});

Deno.test("SpoolLock.release() frees the directory and may be called twice", async () => {
  await withDir(async (dir) => {
    await Deno.mkdir(dir, { recursive: true });
    const lock = await SpoolLock.acquire(dir);
    assert.ok(lock.held);
    await assert.rejects(SpoolLock.acquire(dir), SpoolLockedError);
    lock.release();
    lock.release();
    assert.equal(lock.held, false);
    const again = await SpoolLock.acquire(dir);
    assert.equal((await Deno.readTextFile(again.path)).trim(), String(Deno.pid));
    again.release();
  });
});

Deno.test("a spool lock held by a process that is SIGKILLed is free for the next writer", async () => {
  await withDir(async (dir) => {
    await Deno.mkdir(dir, { recursive: true });
    const module = new URL("./spool_lock.ts", import.meta.url).href;
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "eval",
        "--ext=ts",
        `import { SpoolLock } from ${JSON.stringify(module)};
         await SpoolLock.acquire(${JSON.stringify(dir)});
         console.log("locked");
         // Bounded: the test kills it long before this.
         await new Promise((resolve) => setTimeout(resolve, 60_000));`,
      ],
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    try {
      let out = "";
      while (!out.includes("locked")) {
        const { value, done } = await reader.read();
        if (done) assert.fail(`the child exited before locking; it printed ${JSON.stringify(out)}`);
        out += value;
      }
      const error = await SpoolWriter.open(options(dir)).then(
        () => assert.fail("opened a spool another process holds"),
        (e: unknown) => e,
      );
      assert.ok(error instanceof SpoolLockedError);
      assert.equal(error.holderPid, child.pid);

      child.kill("SIGKILL");
      assert.equal((await child.status).signal, "SIGKILL");

      const writer = await SpoolWriter.open(options(dir));
      await writer.close();
    } finally {
      await reader.cancel().catch(() => {});
      try {
        child.kill("SIGKILL");
      } catch {
        // Already gone.
      }
      await child.status;
    }
  });
});
