import assert from "node:assert/strict";
import type { OutboundEvent } from "./outbound_event.ts";
import { encodeRecords, SEGMENT_MAGIC } from "./spool_format.ts";
import { listSegments, readSegment, segmentPath } from "./spool_reader.ts";
import { SpoolWriter, type SpoolWriterOptions } from "./spool_writer.ts";
import { RecordingLogger } from "./_test_logger.ts";

const utf8 = new TextEncoder();

function sample(n: number): OutboundEvent {
  return {
    subject: "mining.events.eu.share_submitted",
    msgId: `id-${n}`,
    payload: utf8.encode(JSON.stringify({ n })),
  };
}

async function withDir(body: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "tbg-spool-test-" });
  try {
    await body(`${dir}/spool`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function options(dir: string, log = new RecordingLogger()): SpoolWriterOptions {
  // A long interval so that no test depends on the timer firing; close() must clear it.
  return { dir, segmentMaxBytes: 1 << 20, fsyncRecords: 1_000, fsyncIntervalMs: 60_000, log };
}

async function spooledIds(dir: string): Promise<string[]> {
  const ids: string[] = [];
  for (const segment of await listSegments(dir)) {
    for (const record of (await readSegment(segment.path)).records) ids.push(record.msgId);
  }
  return ids;
}

Deno.test("SpoolWriter keeps appended events on disk, in order, for the next open", async () => {
  await withDir(async (dir) => {
    const writer = await SpoolWriter.open(options(dir));
    assert.ok(writer.isEmpty());
    await writer.append([sample(0), sample(1)]);
    await writer.append([sample(2)]);
    assert.equal(writer.records, 3);
    await writer.close();

    assert.deepEqual(await spooledIds(dir), ["id-0", "id-1", "id-2"]);
    const reopened = await SpoolWriter.open(options(dir));
    assert.equal(reopened.records, 3);
    assert.equal(reopened.sealed().length, 1);
    assert.equal(reopened.bytes, (await Deno.stat(reopened.sealed()[0]!.path)).size);
    await reopened.append([sample(3)]);
    await reopened.close();
    assert.deepEqual(await spooledIds(dir), ["id-0", "id-1", "id-2", "id-3"]);
    assert.equal((await listSegments(dir)).length, 2, "appends after a reopen start a new segment");
  });
});

Deno.test("SpoolWriter counts an append as spooled before the write completes", async () => {
  await withDir(async (dir) => {
    const writer = await SpoolWriter.open(options(dir));
    const pending = writer.append([sample(0)]);
    assert.equal(writer.isEmpty(), false);
    assert.equal(writer.records, 1);
    await pending;
    await writer.close();
  });
});

Deno.test("SpoolWriter.open() cuts a torn final record off and keeps the complete ones", async () => {
  await withDir(async (dir) => {
    const writer = await SpoolWriter.open(options(dir));
    await writer.append([sample(0), sample(1), sample(2)]);
    await writer.close();
    const [segment] = await listSegments(dir);
    const goodSize = (await Deno.stat(segment!.path)).size;
    // A crash in the middle of the next write: half of a record reached the disk.
    const torn = encodeRecords([sample(3)]);
    await Deno.writeFile(segment!.path, torn.subarray(0, torn.length >> 1), { append: true });

    const log = new RecordingLogger();
    const reopened = await SpoolWriter.open(options(dir, log));
    assert.equal((await Deno.stat(segment!.path)).size, goodSize, "file truncated");
    assert.equal(reopened.records, 3);
    assert.ok(log.records.some((r) => r.level === "warning" && r.message.includes("torn")));
    await reopened.append([sample(4)]);
    await reopened.close();
    assert.deepEqual(await spooledIds(dir), ["id-0", "id-1", "id-2", "id-4"]);
  });
});

Deno.test("SpoolWriter.open() deletes a segment that holds no complete record", async () => {
  await withDir(async (dir) => {
    await Deno.mkdir(dir, { recursive: true });
    const path = segmentPath(dir, 7);
    const torn = encodeRecords([sample(0)]);
    await Deno.writeFile(path, new Uint8Array([...SEGMENT_MAGIC, ...torn.subarray(0, 5)]));
    const writer = await SpoolWriter.open(options(dir));
    assert.ok(writer.isEmpty());
    await assert.rejects(Deno.stat(path), Deno.errors.NotFound);
    await writer.append([sample(1)]);
    await writer.close();
    const segments = await listSegments(dir);
    assert.deepEqual(segments.map((s) => s.seq), [8], "numbering continues after the old segment");
  });
});

Deno.test("SpoolWriter.open() moves a file that is not a segment aside and logs an error", async () => {
  await withDir(async (dir) => {
    await Deno.mkdir(dir, { recursive: true });
    const path = segmentPath(dir, 1);
    await Deno.writeTextFile(path, "not a spool segment at all");
    const log = new RecordingLogger();
    const writer = await SpoolWriter.open(options(dir, log));
    assert.ok(writer.isEmpty());
    assert.equal(await Deno.readTextFile(`${path}.corrupt`), "not a spool segment at all");
    assert.ok(log.records.some((r) => r.level === "error"));
    await writer.close();
  });
});

Deno.test("SpoolWriter seals a segment when it reaches segmentMaxBytes", async () => {
  await withDir(async (dir) => {
    const recordBytes = encodeRecords([sample(0)]).length;
    const writer = await SpoolWriter.open({
      ...options(dir),
      segmentMaxBytes: SEGMENT_MAGIC.length + 3 * recordBytes,
    });
    for (let n = 0; n < 7; n++) await writer.append([sample(n)]);
    assert.deepEqual(writer.sealed().map((s) => s.records), [3, 3]);
    assert.equal(writer.records, 7);
    await writer.close();
    assert.equal((await listSegments(dir)).length, 3);
    assert.deepEqual(await spooledIds(dir), [
      "id-0",
      "id-1",
      "id-2",
      "id-3",
      "id-4",
      "id-5",
      "id-6",
    ]);
  });
});

Deno.test("SpoolWriter deletes a segment only through remove(), and only a sealed one", async () => {
  await withDir(async (dir) => {
    const writer = await SpoolWriter.open(options(dir));
    await writer.append([sample(0)]);
    assert.equal(writer.sealed().length, 0);
    await writer.seal();
    const [sealed] = writer.sealed();
    await writer.append([sample(1)]);
    await assert.rejects(writer.remove(sealed!.seq + 1), RangeError, "the active one");
    assert.ok((await Deno.stat(sealed!.path)).isFile);
    await writer.remove(sealed!.seq);
    await assert.rejects(Deno.stat(sealed!.path), Deno.errors.NotFound);
    assert.equal(writer.isEmpty(), false);
    await writer.seal();
    await writer.remove(writer.sealed()[0]!.seq);
    assert.ok(writer.isEmpty());
    assert.equal(writer.bytes, 0);
    await writer.close();
    assert.deepEqual(await listSegments(dir), []);
  });
});

Deno.test("SpoolWriter fsyncs once fsyncRecords records are unsynced, and on sync()", async () => {
  await withDir(async (dir) => {
    const writer = await SpoolWriter.open({ ...options(dir), fsyncRecords: 10 });
    await writer.append(Array.from({ length: 4 }, (_, n) => sample(n)));
    assert.equal(writer.unsyncedRecords, 4);
    await writer.append(Array.from({ length: 6 }, (_, n) => sample(n + 4)));
    assert.equal(writer.unsyncedRecords, 0);
    await writer.append([sample(10)]);
    assert.equal(writer.unsyncedRecords, 1);
    await writer.sync();
    assert.equal(writer.unsyncedRecords, 0);
    await writer.close();
  });
});

Deno.test("SpoolWriter fsyncs unsynced records after fsyncIntervalMs", async () => {
  await withDir(async (dir) => {
    const writer = await SpoolWriter.open({ ...options(dir), fsyncIntervalMs: 1 });
    await writer.append([sample(0)]);
    assert.equal(writer.unsyncedRecords, 1);
    for (let i = 0; i < 200 && writer.unsyncedRecords > 0; i++) {
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    assert.equal(writer.unsyncedRecords, 0);
    await writer.close();
  });
});

Deno.test("SpoolWriter refuses appends after close()", async () => {
  await withDir(async (dir) => {
    const writer = await SpoolWriter.open(options(dir));
    await writer.close();
    assert.throws(() => writer.append([sample(0)]), TypeError);
  });
});
