/**
 * Process-wide logging setup: logtape routed to one JSON Lines sink.
 *
 * @module
 */
import {
  configure,
  drain,
  getStreamSink,
  isLogLevel,
  type LogLevel,
  type LogRecord,
  reset,
  type Sink,
} from "@logtape/logtape";
import { formatLogLine } from "./json_line.ts";

/**
 * Where formatted lines go.
 *
 * - `"stderr"`: the process's standard error, written asynchronously and in order.
 * - a function: called synchronously with each line, without its `\n` terminator (tests,
 *   in-process collectors).
 * - a `WritableStream`: each line plus `\n`, encoded as UTF-8 (files, pipes); the stream is left
 *   open and unlocked when logging shuts down, and a line whose write fails is dropped.
 */
export type LogSinkTarget =
  | "stderr"
  | ((line: string) => void)
  | WritableStream<Uint8Array>;

/** Options for {@link configureLogging}. */
export interface LoggingOptions {
  /** Service name written on every line, e.g. `"stratum"` or `"collector-2"`. */
  readonly service: string;
  /** Lowest level written; records below it are dropped before formatting. */
  readonly level: LogLevel;
  /** Destination of the lines; standard error when omitted. */
  readonly sink?: LogSinkTarget;
}

/**
 * Wraps a destination so that a failed write (e.g. stderr's reader went away) drops that line
 * instead of rejecting: logtape chains stream writes on one promise, and a rejection there would
 * be unhandled and end the process. The destination's writer is taken per line and released at
 * once, so the destination is never left locked.
 */
function forgivingStream(destination: WritableStream<Uint8Array>): WritableStream<Uint8Array> {
  return new WritableStream<Uint8Array>({
    async write(chunk) {
      let writer: WritableStreamDefaultWriter<Uint8Array> | undefined;
      try {
        writer = destination.getWriter();
        await writer.write(chunk);
      } catch {
        // Nowhere left to report a failing log destination; the line is lost.
      } finally {
        writer?.releaseLock();
      }
    },
  });
}

function buildSink(target: LogSinkTarget, service: string): Sink {
  if (typeof target === "function") {
    return (record: LogRecord) => target(formatLogLine(record, service));
  }
  const stream = forgivingStream(target === "stderr" ? Deno.stderr.writable : target);
  return getStreamSink(stream, {
    formatter: (record) => `${formatLogLine(record, service)}\n`,
    closeStream: false,
  });
}

/**
 * Configures logtape for this process, replacing any earlier configuration, so that every logger
 * (this project's and any library's) writes one JSON object per line with `ts`, `level`,
 * `service`, `category`, `msg` and the record's properties.
 *
 * Logtape's own diagnostics are kept at `warning` and above.
 *
 * @param options Service name, level and sink.
 * @returns Resolves once the configuration is active.
 * @throws {TypeError} If `service` is empty or `level` is not a logtape level.
 */
export async function configureLogging(options: LoggingOptions): Promise<void> {
  const { service, level } = options;
  if (typeof service !== "string" || service === "") {
    throw new TypeError("Cannot configure logging: service name is empty");
  }
  if (!isLogLevel(level)) {
    throw new TypeError(`Cannot configure logging: ${JSON.stringify(level)} is not a log level`);
  }
  // Reset first: a stream sink takes the stream's writer lock, which the previous sink must
  // release before a new sink on the same stream (e.g. stderr) can take it.
  await reset();
  await configure({
    reset: true,
    sinks: { jsonLines: buildSink(options.sink ?? "stderr", service) },
    loggers: [
      { category: [], sinks: ["jsonLines"], lowestLevel: level },
      { category: ["logtape", "meta"], lowestLevel: "warning" },
    ],
  });
}

/**
 * Waits until every line logged so far has been handed to the sink's destination, leaving
 * logging configured. Call before a planned exit that skips {@link shutdownLogging}.
 *
 * @returns Resolves when pending writes have settled.
 */
export async function flushLogging(): Promise<void> {
  await drain();
}

/**
 * Flushes pending lines and removes the configuration; later records are dropped. Services call
 * it last while draining on SIGTERM.
 *
 * @returns Resolves when the sink has been flushed and released.
 */
export async function shutdownLogging(): Promise<void> {
  await reset();
}
