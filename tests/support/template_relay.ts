/**
 * What the template-distribution tests share: a logger that keeps lines for failure messages,
 * a bounded wait, and a relay-side {@link NatsTemplateSource} (region `us-east`, following the
 * primary of `eu` on regtest).
 *
 * @module
 */
import type { LogProperties, StructuredLogger } from "@tbg/shared/log";
import { NatsTemplateSource, type NatsTemplateSourceOptions } from "@tbg/shared/templates";

/** Default bound of {@link waitFor}, ms. */
export const WAIT_MS = 15_000;
const POLL_MS = 10;
/** Lines kept: enough for a failure message, bounded for long tests. */
const MAX_LINES = 500;

/** Keeps the first log lines so a failed wait can show what the source reported. */
export class MemoryLog implements StructuredLogger {
  readonly category: readonly string[] = ["relay-test"];

  /** @param lines where lines go (the first {@link MAX_LINES}) */
  constructor(readonly lines: string[] = []) {}

  #add(level: string, message: string, properties?: LogProperties): void {
    if (this.lines.length < MAX_LINES) {
      this.lines.push(`${level} ${message} ${JSON.stringify(properties ?? {})}`);
    }
  }
  trace(m: string, p?: LogProperties): void {
    this.#add("trace", m, p);
  }
  debug(m: string, p?: LogProperties): void {
    this.#add("debug", m, p);
  }
  info(m: string, p?: LogProperties): void {
    this.#add("info", m, p);
  }
  warn(m: string, p?: LogProperties): void {
    this.#add("warn", m, p);
  }
  error(m: string, p?: LogProperties): void {
    this.#add("error", m, p);
  }
  fatal(m: string, p?: LogProperties): void {
    this.#add("fatal", m, p);
  }
  getChild(): StructuredLogger {
    return this;
  }
  with(): StructuredLogger {
    return this;
  }
  isEnabledFor(): boolean {
    return true;
  }
}

/**
 * Polls `probe` until it returns something other than undefined.
 *
 * @param what what is awaited, for the error
 * @param probe returns the value, or undefined to keep waiting
 * @param timeoutMs bound of the wait
 * @param log lines appended to the error
 * @returns the probe's value
 * @throws {Error} after `timeoutMs`
 */
export async function waitFor<T>(
  what: string,
  probe: () => T | undefined | Promise<T | undefined>,
  timeoutMs = WAIT_MS,
  log?: MemoryLog,
): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    const value = await probe();
    if (value !== undefined) return value;
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
  throw new Error(
    `timed out after ${timeoutMs} ms waiting for ${what}\n${log?.lines.join("\n") ?? ""}`,
  );
}

/** Options of {@link relaySource} besides the server and logger. */
export type RelaySourceExtra = Partial<
  Pick<
    NatsTemplateSourceOptions,
    "authToken" | "primaryTimeoutMs" | "submitTimeoutMs" | "jetstreamDomain"
  >
>;

/**
 * A relay's template source for regtest in `us-east`, following the `eu` primary.
 *
 * @param url the NATS server the relay connects to
 * @param log its logger
 * @param extra other settings (submit timeout 5 s unless given)
 */
export function relaySource(
  url: string,
  log: MemoryLog,
  extra: RelaySourceExtra = {},
): NatsTemplateSource {
  return new NatsTemplateSource({
    servers: [url],
    name: "relay-test",
    network: "regtest",
    region: "us-east",
    primaryRegion: "eu",
    log,
    submitTimeoutMs: 5_000,
    ...extra,
  });
}
