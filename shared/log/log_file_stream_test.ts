import assert from "node:assert/strict";
import { type LogFile, logFileStream, logFileWriteFailures } from "./log_file_stream.ts";

/**
 * A real file whose writes fail with ENOSPC while `full` is set, after writing the first
 * `partial` bytes of the chunk (as a file system with a few bytes left does).
 */
function fillableFile(file: Deno.FsFile, partial: number): LogFile & { full: boolean } {
  let tornThisChunk = false;
  return {
    full: false,
    async write(bytes: Uint8Array): Promise<number> {
      if (!this.full) return await file.write(bytes);
      if (!tornThisChunk && partial > 0) {
        tornThisChunk = true;
        return await file.write(bytes.subarray(0, Math.min(partial, bytes.length)));
      }
      tornThisChunk = false;
      throw new Error("No space left on device (os error 28)");
    },
    stat: () => file.stat(),
    truncate: (len?: number) => file.truncate(len),
  };
}

Deno.test("logFileStream() drops and counts lines the disk refuses, keeps whole lines, resumes", async () => {
  const path = await Deno.makeTempFile({ prefix: "tbg-log-stream-" });
  const file = await Deno.open(path, { append: true, write: true });
  const notices: Record<string, unknown>[] = [];
  try {
    const disk = fillableFile(file, 7);
    const writer = logFileStream(disk, {
      path,
      service: "stratum",
      notice: (line) => notices.push(JSON.parse(line)),
    }).getWriter();
    const line = (n: number) => new TextEncoder().encode(`{"n":${n}}\n`);
    const failuresBefore = logFileWriteFailures.value;

    await writer.write(line(1));
    disk.full = true;
    await writer.write(line(2));
    await writer.write(line(3));
    disk.full = false;
    await writer.write(line(4));
    await writer.close();

    // Line 2's first 7 bytes landed and were cut off again: only whole lines remain.
    assert.equal(await Deno.readTextFile(path), '{"n":1}\n{"n":4}\n');
    assert.equal(logFileWriteFailures.value - failuresBefore, 2);
    assert.deepEqual(
      notices.map((n) => [n.level, n.msg, n.dropped_lines]),
      [
        ["error", "log file cannot be written; log lines are dropped until it can", undefined],
        ["info", "log file writable again", 2],
      ],
    );
    assert.equal(notices[0]!.path, path);
    assert.match(String(notices[0]!.error), /No space left/);
  } finally {
    file.close();
    await Deno.remove(path);
  }
});
