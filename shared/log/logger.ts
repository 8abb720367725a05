/**
 * The logger every service and library module uses: a thin wrapper over a logtape `Logger` that
 * accepts only a constant message plus a properties object.
 *
 * Rule: **untrusted values go in properties, never in the message.** The message is a constant
 * written at the call site (`"miner connected"`), and everything a miner controls (user agent,
 * worker name, username, raw request text, addresses) goes in the properties object, where the
 * JSON Lines formatter escapes and truncates it. Logtape's tagged-template overloads are left out
 * on purpose, so `` logger.info`ua ${ua}` `` does not compile.
 *
 * ```ts
 * const log = getLogger(["stratum", "session"]);
 * log.info("miner connected", { user, worker, userAgent, ip });
 * ```
 *
 * @module
 */
import { getLogger as getLogtapeLogger, type Logger, type LogLevel } from "@logtape/logtape";

/** Structured properties attached to one log record. */
export type LogProperties = Readonly<Record<string, unknown>>;

/** A category-scoped structured logger. */
export interface StructuredLogger {
  /** The logger's category, outermost first, e.g. `["stratum", "session"]`. */
  readonly category: readonly string[];
  /** Logs at `trace`. `message` must be a constant; put variable data in `properties`. */
  trace(message: string, properties?: LogProperties): void;
  /** Logs at `debug`. `message` must be a constant; put variable data in `properties`. */
  debug(message: string, properties?: LogProperties): void;
  /** Logs at `info`. `message` must be a constant; put variable data in `properties`. */
  info(message: string, properties?: LogProperties): void;
  /** Logs at `warning`. `message` must be a constant; put variable data in `properties`. */
  warn(message: string, properties?: LogProperties): void;
  /** Logs at `error`. `message` must be a constant; put variable data in `properties`. */
  error(message: string, properties?: LogProperties): void;
  /** Logs at `fatal`. `message` must be a constant; put variable data in `properties`. */
  fatal(message: string, properties?: LogProperties): void;
  /** Returns a logger that adds `properties` to every record it writes (e.g. a session id). */
  with(properties: LogProperties): StructuredLogger;
  /** Returns the logger for a subcategory of this one. */
  getChild(subcategory: string): StructuredLogger;
  /** Tells whether a record at `level` would be written, to skip building costly properties. */
  isEnabledFor(level: LogLevel): boolean;
}

class LogtapeStructuredLogger implements StructuredLogger {
  readonly #logger: Logger;

  constructor(logger: Logger) {
    this.#logger = logger;
  }

  get category(): readonly string[] {
    return this.#logger.category;
  }

  trace(message: string, properties?: LogProperties): void {
    this.#logger.trace(message, properties ?? {});
  }

  debug(message: string, properties?: LogProperties): void {
    this.#logger.debug(message, properties ?? {});
  }

  info(message: string, properties?: LogProperties): void {
    this.#logger.info(message, properties ?? {});
  }

  warn(message: string, properties?: LogProperties): void {
    this.#logger.warn(message, properties ?? {});
  }

  error(message: string, properties?: LogProperties): void {
    this.#logger.error(message, properties ?? {});
  }

  fatal(message: string, properties?: LogProperties): void {
    this.#logger.fatal(message, properties ?? {});
  }

  with(properties: LogProperties): StructuredLogger {
    return new LogtapeStructuredLogger(this.#logger.with({ ...properties }));
  }

  getChild(subcategory: string): StructuredLogger {
    return new LogtapeStructuredLogger(this.#logger.getChild(subcategory));
  }

  isEnabledFor(level: LogLevel): boolean {
    return this.#logger.isEnabledFor(level);
  }
}

/**
 * Returns the structured logger for a category. Cheap to call; keep one per module or session.
 *
 * @param category Category path, outermost first, e.g. `["collector", "writer"]`. Must be constant
 *   names chosen by code, never miner-supplied text.
 * @returns The logger. Records go nowhere until {@link configureLogging} has run.
 * @throws {TypeError} If `category` is empty.
 */
export function getLogger(category: readonly string[]): StructuredLogger {
  const [first, ...rest] = category;
  if (first === undefined) throw new TypeError("Cannot get logger: category is empty");
  return new LogtapeStructuredLogger(getLogtapeLogger([first, ...rest]));
}
