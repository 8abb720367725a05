/**
 * Structured JSON Lines logging over logtape.
 *
 * Call {@link configureLogging} once at start, get loggers with {@link getLogger}, and put every
 * untrusted value in the properties object, never in the message:
 *
 * ```ts
 * await configureLogging({ service: "stratum", level: "info" });
 * const log = getLogger(["stratum", "session"]);
 * log.info("miner connected", { user, worker, userAgent });
 * ```
 *
 * @module
 */
export {
  configureLogging,
  flushLogging,
  type LoggingOptions,
  type LogSinkTarget,
  shutdownLogging,
} from "./configure.ts";
export {
  logFileStream,
  type LogFileStreamOptions,
  logFileWriteFailures,
} from "./log_file_stream.ts";
export { getLogger, type LogProperties, type StructuredLogger } from "./logger.ts";
export {
  formatLogLine,
  MAX_LOG_COLLECTION_ENTRIES,
  MAX_LOG_DEPTH,
  MAX_LOG_STRING_LENGTH,
  RESERVED_LOG_FIELDS,
  type SafeLogValue,
  toSafeLogValue,
  truncateLogString,
} from "./json_line.ts";
export { isLogLevel, type LogLevel, parseLogLevel } from "@logtape/logtape";
