/**
 * A logger for this folder's unit tests that keeps every record in memory.
 *
 * @module
 */
import type { LogProperties, StructuredLogger } from "../log/mod.ts";

/** One record kept by {@linkcode RecordingLogger}. */
export interface LogRecord {
  readonly level: string;
  readonly message: string;
  readonly properties: LogProperties;
}

/** Records log calls instead of writing them. */
export class RecordingLogger implements StructuredLogger {
  readonly category: readonly string[] = ["test"];
  readonly records: LogRecord[];

  constructor(records: LogRecord[] = []) {
    this.records = records;
  }

  #add(level: string, message: string, properties: LogProperties = {}): void {
    this.records.push({ level, message, properties });
  }

  trace(message: string, properties?: LogProperties): void {
    this.#add("trace", message, properties);
  }
  debug(message: string, properties?: LogProperties): void {
    this.#add("debug", message, properties);
  }
  info(message: string, properties?: LogProperties): void {
    this.#add("info", message, properties);
  }
  warn(message: string, properties?: LogProperties): void {
    this.#add("warning", message, properties);
  }
  error(message: string, properties?: LogProperties): void {
    this.#add("error", message, properties);
  }
  fatal(message: string, properties?: LogProperties): void {
    this.#add("fatal", message, properties);
  }
  with(_properties: LogProperties): StructuredLogger {
    return this;
  }
  getChild(_subcategory: string): StructuredLogger {
    return this;
  }
  isEnabledFor(): boolean {
    return true;
  }
}
