/**
 * Probes the regions the way the GeoDNS health checks and a miner would (Phase 4 §5.3): GET
 * `/health` on each region's metrics listener (HTTP 200 means healthy) and the Stratum round-trip
 * time to its Stratum port (`mining.subscribe` → answer), then applies the selection policy of `region_select.ts`.
 *
 *   deno run --allow-net tools/region_probe.ts \
 *     --region eu=mine-eu.example:3333,http://mine-eu.example:9100/health \
 *     --region us-east=mine-us.example:3333,http://mine-us.example:9100/health [--rounds 3]
 *
 * Prints one JSON line per region and the choice; exit 0 when a region was chosen, 1 when none
 * is reachable, 2 on bad arguments. Without a DNS provider, this is how the failover policy is
 * exercised against running regions (tests/multi_region_test.ts, MR-08).
 *
 * @module
 */
import { parseArgs } from "node:util";
import {
  DEFAULT_FAILURE_THRESHOLD,
  INITIAL_HEALTH,
  nextHealth,
  type RegionCandidate,
  type RegionHealthState,
  type RegionSelection,
  selectRegion,
} from "./region_select.ts";

/** Where a region is probed. */
export interface RegionEndpoint {
  /** Region slug. */
  readonly region: string;
  /** Stratum host. */
  readonly stratumHost: string;
  /** Stratum port (the RTT is a `mining.subscribe` round trip on it). */
  readonly stratumPort: number;
  /** Full URL of its `/health`. */
  readonly healthUrl: string;
  /** Preference on near-ties, lower first. */
  readonly priority?: number;
}

/** One probe of one region. */
export interface ProbeResult {
  readonly region: string;
  /** `/health` answered 200. */
  readonly healthOk: boolean;
  /** The health body's detail, or why the probe failed. */
  readonly detail: string;
  /** Median Stratum round trip (subscribe → answer), ms; `undefined` when it failed or timed out. */
  readonly rttMs: number | undefined;
}

const DEFAULT_TIMEOUT_MS = 2_000;
const DEFAULT_RTT_SAMPLES = 3;

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] as number;
}

/**
 * GET a `/health` URL.
 *
 * @returns Whether it answered 200, and a short detail.
 */
export async function probeHealth(
  url: string,
  timeoutMs = DEFAULT_TIMEOUT_MS,
): Promise<{ ok: boolean; detail: string }> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    const text = await response.text();
    return { ok: response.status === 200, detail: `HTTP ${response.status} ${text.slice(0, 200)}` };
  } catch (error) {
    return { ok: false, detail: error instanceof Error ? error.message : String(error) };
  }
}

const SUBSCRIBE = new TextEncoder().encode(
  `${JSON.stringify({ id: 1, method: "mining.subscribe", params: ["tbg-region-probe"] })}\n`,
);

/** One Stratum round trip on a new connection: `mining.subscribe` sent → first line back, ms. */
async function stratumRoundTrip(host: string, port: number, deadline: number): Promise<number> {
  const conn = await Deno.connect({ hostname: host, port });
  const timer = setTimeout(() => conn.close(), Math.max(0, deadline - Date.now()));
  try {
    const started = performance.now();
    await conn.write(SUBSCRIBE);
    const buffer = new Uint8Array(4096);
    for (;;) {
      const read = await conn.read(buffer);
      if (read === null) throw new Error("Cannot measure RTT: the server closed the connection");
      if (buffer.subarray(0, read).includes(0x0a)) return performance.now() - started;
    }
  } finally {
    clearTimeout(timer);
    try {
      conn.close();
    } catch {
      // Closed by the timer.
    }
  }
}

/**
 * The median Stratum round-trip time to `host:port`: `samples` connections, each timing its
 * `mining.subscribe` request to the first line of the answer (what a miner's latency is; a TCP
 * connect alone would end at the nearest proxy or load balancer).
 *
 * @returns Milliseconds, or `undefined` when a connection fails or answers too late.
 */
export async function measureStratumRtt(
  host: string,
  port: number,
  samples = DEFAULT_RTT_SAMPLES,
  timeoutMs = DEFAULT_TIMEOUT_MS,
): Promise<number | undefined> {
  const times: number[] = [];
  for (let i = 0; i < samples; i++) {
    try {
      times.push(await stratumRoundTrip(host, port, Date.now() + timeoutMs));
    } catch {
      return undefined;
    }
  }
  return times.length === 0 ? undefined : median(times);
}

/** Probes one region: health and RTT. */
export async function probeRegion(
  endpoint: RegionEndpoint,
  timeoutMs = DEFAULT_TIMEOUT_MS,
): Promise<ProbeResult> {
  const [health, rttMs] = await Promise.all([
    probeHealth(endpoint.healthUrl, timeoutMs),
    measureStratumRtt(endpoint.stratumHost, endpoint.stratumPort, DEFAULT_RTT_SAMPLES, timeoutMs),
  ]);
  return { region: endpoint.region, healthOk: health.ok, detail: health.detail, rttMs };
}

/**
 * Keeps each region's health across probe rounds (Route53's thresholds) and answers which region
 * a client at this vantage point should use.
 */
export class RegionSelector {
  readonly #endpoints: readonly RegionEndpoint[];
  readonly #threshold: number;
  readonly #health = new Map<string, RegionHealthState>();
  #last: readonly ProbeResult[] = [];

  /**
   * @param endpoints The regions.
   * @param threshold Consecutive contrary probes that flip a region's health (default 3).
   */
  constructor(endpoints: readonly RegionEndpoint[], threshold = DEFAULT_FAILURE_THRESHOLD) {
    this.#endpoints = endpoints;
    this.#threshold = threshold;
    for (const endpoint of endpoints) this.#health.set(endpoint.region, INITIAL_HEALTH);
  }

  /** Probes every region once and updates its health; returns the probes. */
  async probe(timeoutMs = DEFAULT_TIMEOUT_MS): Promise<readonly ProbeResult[]> {
    const results = await Promise.all(this.#endpoints.map((e) => probeRegion(e, timeoutMs)));
    for (const result of results) {
      const before = this.#health.get(result.region) ?? INITIAL_HEALTH;
      // A region whose Stratum port refuses is down whatever its /health says (§5.3 checks both).
      const ok = result.healthOk && result.rttMs !== undefined;
      this.#health.set(result.region, nextHealth(before, ok, this.#threshold));
    }
    this.#last = results;
    return results;
  }

  /** Whether a region is healthy by the checks so far. */
  healthy(region: string): boolean {
    return (this.#health.get(region) ?? INITIAL_HEALTH).healthy;
  }

  /** The choice from the last probe round (nothing is reachable before the first). */
  select(): RegionSelection {
    const candidates: RegionCandidate[] = this.#endpoints.map((endpoint) => {
      const probe = this.#last.find((p) => p.region === endpoint.region);
      return {
        region: endpoint.region,
        rttMs: probe?.rttMs,
        healthy: this.healthy(endpoint.region),
        ...(endpoint.priority === undefined ? {} : { priority: endpoint.priority }),
      };
    });
    return selectRegion(candidates);
  }
}

/**
 * Parses `--region <slug>=<host>:<port>,<health url>`.
 *
 * @throws {RangeError} Naming what is wrong.
 */
export function parseRegionArg(value: string, priority?: number): RegionEndpoint {
  const match = /^([a-z0-9-]{1,32})=([^,:]+|\[[^\]]+\]):(\d{1,5}),(https?:\/\/\S+)$/.exec(value);
  if (match === null) {
    throw new RangeError(
      `Cannot parse --region "${value}": expected <region>=<host>:<port>,<health url>`,
    );
  }
  const port = Number(match[3]);
  if (port < 1 || port > 65535) {
    throw new RangeError(`Cannot parse --region "${value}": port ${port} is out of range`);
  }
  return {
    region: match[1] as string,
    stratumHost: (match[2] as string).replace(/^\[|\]$/g, ""),
    stratumPort: port,
    healthUrl: match[4] as string,
    ...(priority === undefined ? {} : { priority }),
  };
}

async function main(): Promise<number> {
  const write = (line: unknown) =>
    Deno.stdout.writeSync(new TextEncoder().encode(`${JSON.stringify(line)}\n`));
  let endpoints: RegionEndpoint[];
  let rounds: number;
  try {
    const { values } = parseArgs({
      args: Deno.args,
      options: { region: { type: "string", multiple: true }, rounds: { type: "string" } },
      strict: true,
    });
    // The first region listed is preferred on ties (list the primary first).
    endpoints = (values.region ?? []).map((value, i) => parseRegionArg(value, i));
    if (endpoints.length === 0) throw new RangeError("Cannot probe: give at least one --region");
    rounds = Number(values.rounds ?? DEFAULT_FAILURE_THRESHOLD);
    if (!(Number.isInteger(rounds) && rounds >= 1 && rounds <= 100)) {
      throw new RangeError(`Cannot probe: --rounds must be 1–100, got ${values.rounds}`);
    }
  } catch (error) {
    write({ error: error instanceof Error ? error.message : String(error) });
    return 2;
  }
  const selector = new RegionSelector(endpoints);
  let results: readonly ProbeResult[] = [];
  for (let i = 0; i < rounds; i++) results = await selector.probe();
  for (const result of results) write({ ...result, healthy: selector.healthy(result.region) });
  const choice = selector.select();
  write({ choice });
  return choice.region === null ? 1 : 0;
}

if (import.meta.main) {
  Deno.exit(await main());
}
