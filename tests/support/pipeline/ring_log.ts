/**
 * A structured logger that keeps the last lines, so a failed pipeline test can show what the
 * in-process collector reported just before.
 *
 * @module
 */
import type { LogProperties, StructuredLogger } from "@tbg/shared/log";

/** Lines kept: the tail matters in a failure, and long tests must stay bounded. */
const MAX_LINES = 300;

/** Keeps the last {@link MAX_LINES} log lines, timestamped. */
export class RingLog implements StructuredLogger {
  readonly category: readonly string[] = ["collector"];
  /** The kept lines, oldest first. */
  readonly lines: string[] = [];

  #add(level: string, message: string, properties?: LogProperties): void {
    const at = new Date().toISOString().slice(11, 23);
    this.lines.push(`${at} ${level} ${message} ${JSON.stringify(properties ?? {})}`);
    if (this.lines.length > MAX_LINES) this.lines.shift();
  }
  trace(): void {}
  debug(): void {}
  info(message: string, properties?: LogProperties): void {
    this.#add("info", message, properties);
  }
  warn(message: string, properties?: LogProperties): void {
    this.#add("warn", message, properties);
  }
  error(message: string, properties?: LogProperties): void {
    this.#add("error", message, properties);
  }
  fatal(message: string, properties?: LogProperties): void {
    this.#add("fatal", message, properties);
  }
  with(): StructuredLogger {
    return this;
  }
  getChild(): StructuredLogger {
    return this;
  }
  isEnabledFor(): boolean {
    return true;
  }
}
