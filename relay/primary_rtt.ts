/**
 * Measures the round trip to the primary every few seconds (`ckpool_relay_primary_rtt_ms`) with
 * a NATS request the primary answers ({@link pingPrimary}); probes that get no answer in time are
 * counted, and the gauge keeps the last measured value.
 *
 * @module
 */
import type { NatsConnection } from "nats";
import { pingPrimary, type PrimaryPingResult } from "@tbg/shared/nats";
import type { StructuredLogger } from "@tbg/shared/log";

/** Default time between probes, ms. */
export const DEFAULT_RTT_INTERVAL_MS = 5_000;
/** Default wait for one answer, ms. */
export const DEFAULT_RTT_TIMEOUT_MS = 2_000;

/** Settings of {@link PrimaryRttProbe}. */
export interface PrimaryRttProbeOptions {
  /** The usable connection towards the primary, or null while there is none. */
  readonly connection: () => NatsConnection | null;
  /** Told every measured round trip. */
  readonly onRtt: (result: PrimaryPingResult) => void;
  /** Told every probe that failed (no connection, no responder, timeout, bad reply). */
  readonly onFailure: (error: string) => void;
  readonly log: StructuredLogger;
  readonly intervalMs?: number;
  readonly timeoutMs?: number;
}

/** Probes the primary's round trip until stopped. */
export class PrimaryRttProbe {
  readonly #options: PrimaryRttProbeOptions;
  readonly #intervalMs: number;
  readonly #timeoutMs: number;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #inFlight: Promise<void> | undefined;
  #running = false;
  #failures = 0;

  /**
   * @param options connection accessor, listeners, timing
   * @throws {RangeError} when a timing is not positive
   */
  constructor(options: PrimaryRttProbeOptions) {
    this.#options = options;
    this.#intervalMs = options.intervalMs ?? DEFAULT_RTT_INTERVAL_MS;
    this.#timeoutMs = options.timeoutMs ?? DEFAULT_RTT_TIMEOUT_MS;
    if (!(this.#intervalMs > 0) || !(this.#timeoutMs > 0)) {
      throw new RangeError("Cannot create RTT probe: interval and timeout must be positive");
    }
  }

  /** Probes at once, then every interval. Idempotent. */
  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#schedule(0);
  }

  /** Stops probing; waits for the probe in flight (bounded by the timeout). */
  async stop(): Promise<void> {
    this.#running = false;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#inFlight;
  }

  /** Runs one probe now. */
  async probe(): Promise<void> {
    const connection = this.#options.connection();
    if (connection === null) {
      this.#fail("no connection to the primary's NATS server");
      return;
    }
    try {
      const result = await pingPrimary(connection, this.#timeoutMs);
      if (this.#failures > 0) {
        this.#options.log.info("primary answers pings again", {
          rttMs: result.rttMs,
          afterFailures: this.#failures,
        });
      }
      this.#failures = 0;
      this.#options.onRtt(result);
    } catch (error) {
      this.#fail(error instanceof Error ? error.message : String(error));
    }
  }

  #fail(reason: string): void {
    this.#failures++;
    // The first failure of a run is worth a line; the rest are counted in the metric.
    if (this.#failures === 1) this.#options.log.warn("primary ping failed", { error: reason });
    this.#options.onFailure(reason);
  }

  #schedule(delayMs: number): void {
    if (!this.#running) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#inFlight = this.probe().finally(() => {
        this.#inFlight = undefined;
        this.#schedule(this.#intervalMs);
      });
    }, delayMs);
  }
}
