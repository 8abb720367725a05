/**
 * The log file (`<logdir>/<service>.log`) as a stream that survives a full disk.
 *
 * A `Deno.FsFile`'s own `writable` errors for good after one failed write: every later line is
 * refused, so logging would never come back when space returns. This stream writes each chunk
 * with `file.write`, and when a write fails (ENOSPC, EIO, quota) it cuts off the part of the line
 * that did land (so the file holds whole JSON lines only), drops the line, counts the failure in
 * {@link logFileWriteFailures} (`ckpool_disk_write_failures_total{kind="log"}`), and tries the
 * next line as if nothing happened. Nothing retries on its own, so a full disk costs one failed
 * write per log line, never a loop. The change of state (failing, writable again) is reported
 * once each on stderr, where journald still takes it.
 *
 * @module
 */
import { CounterCell } from "../metrics/counter.ts";

/**
 * Log lines that could not be written to the log file, in this process (one count per line).
 * Process-wide, as logging is; a pool exports it as `ckpool_disk_write_failures_total{kind="log"}`.
 */
export const logFileWriteFailures: CounterCell = new CounterCell();

/** The part of a `Deno.FsFile` (opened for append) the stream uses. */
export type LogFile = Pick<Deno.FsFile, "write" | "stat" | "truncate">;

/** Where the state changes of the log file are reported: stderr by default. */
export type LogFileNotice = (line: string) => void;

/** Options of {@link logFileStream}. */
export interface LogFileStreamOptions {
  /** The file's path, for the notices. */
  readonly path: string;
  /** Service name written on the notices. */
  readonly service: string;
  /** Reports a state change; one JSON line written synchronously to stderr by default. */
  readonly notice?: LogFileNotice;
}

function stderrNotice(line: string): void {
  try {
    Deno.stderr.writeSync(new TextEncoder().encode(`${line}\n`));
  } catch {
    // stderr gone too: nothing left to tell.
  }
}

/**
 * A stream of log bytes into `file` (opened for append) that drops, counts and reports a line it
 * cannot write instead of failing, and writes again as soon as the file system takes it.
 *
 * @param file the log file, opened with `append: true`; the caller closes it
 * @param options path and service for the notices, and where they go
 * @returns a stream that never errors; each chunk should be one whole line
 */
export function logFileStream(
  file: LogFile,
  options: LogFileStreamOptions,
): WritableStream<Uint8Array> {
  const notice = options.notice ?? stderrNotice;
  let failing = false;
  let dropped = 0;
  const report = (level: string, msg: string, extra: Record<string, unknown>) =>
    notice(JSON.stringify({
      ts: new Date().toISOString(),
      level,
      service: options.service,
      category: ["log"],
      msg,
      path: options.path,
      ...extra,
    }));
  return new WritableStream<Uint8Array>({
    async write(chunk) {
      let written = 0;
      try {
        while (written < chunk.length) written += await file.write(chunk.subarray(written));
      } catch (error) {
        if (written > 0) {
          // A torn line would make the file unreadable as JSON Lines; the file is append-only
          // and this process its only writer, so its end is this line's start plus `written`.
          try {
            const { size } = await file.stat();
            await file.truncate(size - written);
          } catch {
            // Left torn: a reader skips one unparsable line.
          }
        }
        logFileWriteFailures.inc();
        dropped++;
        if (!failing) {
          failing = true;
          report("error", "log file cannot be written; log lines are dropped until it can", {
            error: String(error),
          });
        }
        return;
      }
      if (failing) {
        failing = false;
        report("info", "log file writable again", { dropped_lines: dropped });
        dropped = 0;
      }
    },
  });
}
