/**
 * What a simulation run looks like: the regions and their links to the primary region, how many
 * CPU miners mine where and how fast, and how often blocks come. Pure: options in, a checked
 * plan out, so the CLI and the tests refuse a bad value before any process starts.
 *
 * @module
 */
import { difficultyToTarget, targetToBits } from "@tbg/shared/bitcoin";
import type { LinkShape } from "../latency_bridge.ts";

/** The primary (EU) region's slug. */
export const PRIMARY_REGION = "eu";

/** A relay region and its link to the primary region's hub. */
export interface RelayRegionSpec {
  /** Region slug (NATS subjects, JetStream domain of its leaf). */
  readonly region: string;
  /** First byte of every extranonce1 the relay hands out (1–255, unique). */
  readonly regionIndex: number;
  /** One-way shape of the leaf↔hub link (both directions). */
  readonly link: Readonly<Pick<LinkShape, "delayMs" | "jitterMs">>;
}

/**
 * The seed's relay regions (Phase 4 §2, §9.1, runbook "Multi-Region Stack"): US-East 80 ms from
 * EU, Asia 150–180 ms with jitter.
 */
export const DEFAULT_RELAYS: readonly RelayRegionSpec[] = [
  { region: "us-east", regionIndex: 1, link: { delayMs: 80, jitterMs: 0 } },
  { region: "asia", regionIndex: 2, link: { delayMs: 150, jitterMs: 30 } },
];

/** Options of a simulation; every field has a default. */
export interface SimOptions {
  /** Relay regions (default {@link DEFAULT_RELAYS}). */
  readonly relays?: readonly RelayRegionSpec[];
  /** CPU miners per region, primary included (default 2). */
  readonly minersPerRegion?: number;
  /** Hash rate cap of each miner, hashes per second (default 8,000). */
  readonly minerHashrate?: number;
  /**
   * Mean seconds between blocks found by the simulation's miners at their capped hash rate
   * (default 10); sets the network difficulty. A busy machine hashes less, so blocks come later.
   */
  readonly blockIntervalS?: number;
  /** Network difficulty; overrides {@link blockIntervalS}. */
  readonly networkDifficulty?: number;
  /** Seconds between shares that vardiff aims for (default 0.5). */
  readonly targetShareIntervalS?: number;
  /** Relay: ms without template or heartbeat before independent mode (default 5,000). */
  readonly independentAfterMs?: number;
  /** Primary: ms between heartbeats (default 500). */
  readonly heartbeatMs?: number;
  /**
   * Seconds without a new block after which the pools fetch a fresh template (ckpool's
   * `update_interval`; default 5, production 30): keeps templates flowing to the relays.
   */
  readonly updateIntervalS?: number;
}

/** A checked, complete plan. */
export interface SimPlan {
  readonly relays: readonly RelayRegionSpec[];
  /** Every region, primary first. */
  readonly regions: readonly string[];
  readonly minersPerRegion: number;
  readonly minerHashrate: number;
  readonly networkDifficulty: number;
  /** nBits of the devnet's blocks after its initial chain. */
  readonly bits: number;
  /** Mean seconds between blocks at the capped hash rate. */
  readonly expectedBlockIntervalS: number;
  readonly targetShareIntervalS: number;
  /** Share difficulty a miner reaches at the target interval; the pool starts it there. */
  readonly startDifficulty: number;
  readonly independentAfterMs: number;
  readonly heartbeatMs: number;
  readonly updateIntervalS: number;
}

const TWO_POW_32 = 2 ** 32;
/** Regtest's proof-of-work limit as a difficulty: no block can be easier. */
const MIN_NETWORK_DIFFICULTY = 1 / 2 ** 31;

function positive(value: number, what: string): number {
  if (!(Number.isFinite(value) && value > 0)) {
    throw new RangeError(`Cannot plan the simulation: ${what} must be > 0, got ${value}`);
  }
  return value;
}

function integer(value: number, what: string, min: number, max: number): number {
  if (!(Number.isInteger(value) && value >= min && value <= max)) {
    throw new RangeError(
      `Cannot plan the simulation: ${what} must be an integer ${min}–${max}, got ${value}`,
    );
  }
  return value;
}

/**
 * Checks the options and fills in defaults.
 *
 * @param options What to change from the defaults.
 * @returns The plan.
 * @throws {RangeError} Naming the first bad value.
 */
export function planSimulation(options: SimOptions = {}): SimPlan {
  const relays = options.relays ?? DEFAULT_RELAYS;
  const regions = [PRIMARY_REGION, ...relays.map((relay) => relay.region)];
  if (new Set(regions).size !== regions.length) {
    throw new RangeError(`Cannot plan the simulation: a region repeats in ${regions.join(", ")}`);
  }
  const indexes = new Set<number>();
  for (const relay of relays) {
    if (!/^[a-z0-9-]{1,32}$/.test(relay.region)) {
      throw new RangeError(`Cannot plan the simulation: "${relay.region}" is not a region slug`);
    }
    integer(relay.regionIndex, `region index of ${relay.region}`, 1, 255);
    if (indexes.has(relay.regionIndex)) {
      throw new RangeError(
        `Cannot plan the simulation: region index ${relay.regionIndex} of ${relay.region} is taken`,
      );
    }
    indexes.add(relay.regionIndex);
    for (const key of ["delayMs", "jitterMs"] as const) {
      const value = relay.link[key];
      if (!(Number.isFinite(value) && value >= 0)) {
        throw new RangeError(
          `Cannot plan the simulation: ${key} of ${relay.region} must be ≥ 0, got ${value}`,
        );
      }
    }
  }
  const minersPerRegion = integer(options.minersPerRegion ?? 2, "miners per region", 0, 50);
  const minerHashrate = positive(options.minerHashrate ?? 8_000, "miner hash rate");
  const totalHashrate = minersPerRegion * regions.length * minerHashrate;
  const targetShareIntervalS = positive(
    options.targetShareIntervalS ?? 0.5,
    "target share interval",
  );
  let networkDifficulty: number;
  if (options.networkDifficulty !== undefined) {
    networkDifficulty = positive(options.networkDifficulty, "network difficulty");
  } else {
    const interval = positive(options.blockIntervalS ?? 10, "block interval");
    if (totalHashrate === 0) {
      throw new RangeError("Cannot plan the simulation: a block interval needs miners");
    }
    networkDifficulty = totalHashrate * interval / TWO_POW_32;
  }
  networkDifficulty = Math.max(networkDifficulty, MIN_NETWORK_DIFFICULTY);
  const bits = targetToBits(difficultyToTarget(networkDifficulty));
  const expectedBlockIntervalS = totalHashrate === 0
    ? Infinity
    : networkDifficulty * TWO_POW_32 / totalHashrate;
  return {
    relays,
    regions,
    minersPerRegion,
    minerHashrate,
    networkDifficulty,
    bits,
    expectedBlockIntervalS,
    targetShareIntervalS,
    startDifficulty: minerHashrate * targetShareIntervalS / TWO_POW_32,
    independentAfterMs: integer(
      options.independentAfterMs ?? 5_000,
      "independent_after_ms",
      1,
      600_000,
    ),
    heartbeatMs: integer(options.heartbeatMs ?? 500, "heartbeat_ms", 10, 60_000),
    updateIntervalS: integer(options.updateIntervalS ?? 5, "update_interval", 1, 3_600),
  };
}
