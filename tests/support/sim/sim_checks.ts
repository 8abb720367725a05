/**
 * Checks shared by the scenario tests on the multi-region simulation (MR-01..MR-10 and the
 * chaos tests): bounded waits, relay state from metrics and /health, miner connectivity, and
 * the convergence audit (edge stream = hub copy = PostgreSQL, once each, order kept per subject;
 * one share event per answer a miner got).
 *
 * @module
 */
import assert from "node:assert/strict";
import { connect } from "nats";
import { MINING_EVENTS_STREAM_NAME, regionEventsStreamName } from "@tbg/shared/nats";
import { assertConverged, type HubEvent } from "../event_convergence.ts";
import {
  persistedCounts,
  persistedIds,
  persistedSharesByWorker,
  readStreamEvents,
} from "./event_audit.ts";
import type { MinerProcess } from "./miner_process.ts";
import { type PromSample, sampleValue, scrape } from "./prom_text.ts";
import type { Simulation } from "./simulation.ts";

/** Poll interval of {@link waitUntil}. */
const POLL_MS = 100;

/** Resolves after `ms` milliseconds. */
export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `check` until it holds; returns the ms it took. @throws {Error} naming `what` on timeout. */
export async function waitUntil(
  what: string,
  check: () => boolean | Promise<boolean>,
  timeoutMs: number,
): Promise<number> {
  const started = Date.now();
  for (;;) {
    if (await check()) return Date.now() - started;
    if (Date.now() - started > timeoutMs) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    }
    await delay(POLL_MS);
  }
}

/** A region's service metrics, scraped now. */
export async function metrics(sim: Simulation, region: string): Promise<PromSample[]> {
  return await scrape(sim.service(region).metricsUrl);
}

/** `ckpool_relay_independent_mode` of a relay (1 independent, 0 passthrough). */
export async function relayMode(sim: Simulation, region: string): Promise<number | undefined> {
  return sampleValue(await metrics(sim, region), "ckpool_relay_independent_mode");
}

/** Primary templates a relay has received so far. */
export async function templatesReceived(sim: Simulation, region: string): Promise<number> {
  return sampleValue(await metrics(sim, region), "ckpool_relay_templates_received_total") ?? 0;
}

/** A service's /health answer. */
export interface HealthBody {
  ok: boolean;
  checks: Record<string, { ok: boolean; detail: string }>;
}

/** A region's /health answer with its HTTP status. */
export async function health(
  sim: Simulation,
  region: string,
): Promise<HealthBody & { status: number }> {
  const response = await fetch(sim.service(region).healthUrl, {
    signal: AbortSignal.timeout(5_000),
  });
  const body = await response.json() as HealthBody;
  return { ...body, status: response.status };
}

/** Each miner's accepted shares so far. */
export function accepted(miners: readonly MinerProcess[]): Map<MinerProcess, number> {
  return new Map(miners.map((miner) => [miner, miner.counts().accepted]));
}

/** Each miner's answered shares (accepted or rejected) so far. */
export function answered(miners: readonly MinerProcess[]): Map<MinerProcess, number> {
  return new Map(miners.map((miner) => [miner, miner.counts().answered]));
}

/** Waits until every miner in `before` has `more` accepted shares beyond its count there. */
export async function waitMoreShares(
  before: Map<MinerProcess, number>,
  more: number,
  timeoutMs: number,
): Promise<void> {
  for (const [miner, count] of before) await miner.waitAccepted(count + more, timeoutMs);
}

/** Asserts no miner was disconnected or exited. */
export function assertConnected(miners: readonly MinerProcess[]): void {
  for (const miner of miners) {
    assert.equal(miner.disconnected, false, `${miner.name} was disconnected`);
    assert.equal(miner.exited, false, `${miner.name} exited`);
  }
}

/** Asserts that each subject's events come in the same order in `actual` as in `expected`. */
export function assertOrderPerSubject(
  actual: readonly HubEvent[],
  expected: readonly HubEvent[],
  what: string,
): number {
  const bySubject = (events: readonly HubEvent[]) => {
    const out = new Map<string, string[]>();
    for (const event of events) {
      const list = out.get(event.subject) ?? [];
      list.push(event.eventId);
      out.set(event.subject, list);
    }
    return out;
  };
  const want = bySubject(expected);
  const got = bySubject(actual);
  assert.deepEqual([...got.keys()].sort(), [...want.keys()].sort(), `${what}: subjects`);
  for (const [subject, ids] of want) {
    const seen = got.get(subject)!;
    const at = ids.findIndex((id, i) => seen[i] !== id);
    assert.ok(
      at === -1 && seen.length === ids.length,
      `${what}: ${subject} order differs at ${at} (${seen[at]} vs ${ids[at]})`,
    );
  }
  return want.size;
}

/**
 * Waits until a relay region's edge stream, the hub's copy and PostgreSQL hold the same number
 * of events for two polls in a row (its miners stopped), then checks them event by event: once
 * each on the hub in the edge's order (per subject too), the same ids once each in PostgreSQL.
 */
export async function assertRegionConverged(
  sim: Simulation,
  region: string,
  timeoutMs = 60_000,
): Promise<{ events: number; subjects: number }> {
  let previous = -1;
  let stableFor = 0;
  let last = "";
  try {
    await waitUntil(`${region}: edge, hub and PostgreSQL to agree`, async () => {
      const [edge, hub, pg] = await Promise.all([
        sim.edgeStreamCount(region),
        sim.hubStreamCount(region).catch(() => -1),
        persistedCounts(sim.sql, region),
      ]);
      last = `edge ${edge}, hub ${hub}, PostgreSQL ${pg.rows}`;
      const agreed = edge === hub && hub === pg.rows;
      stableFor = agreed && edge === previous ? stableFor + 1 : 0;
      previous = agreed ? edge : -1;
      return stableFor >= 2;
    }, timeoutMs);
  } catch (error) {
    throw new Error(`${(error as Error).message} (last seen: ${last})`);
  }
  const edgeConnection = await connect({ servers: sim.topology.leaf(region).url });
  try {
    const edge = await readStreamEvents(
      edgeConnection,
      regionEventsStreamName(region),
      `mining.events.${region}.>`,
    );
    const hub = await readStreamEvents(
      sim.hub,
      MINING_EVENTS_STREAM_NAME,
      `mining.events.${region}.>`,
    );
    assertConverged(hub, edge.map((e) => e.eventId), regionEventsStreamName(region));
    const subjects = assertOrderPerSubject(hub, edge, `${region} hub vs edge`);
    const ids = await persistedIds(sim.sql, region);
    assert.equal(ids.length, edge.length, `${region}: PostgreSQL rows vs edge events`);
    const pgSet = new Set(ids);
    assert.equal(pgSet.size, ids.length, `${region}: an event id twice in PostgreSQL`);
    const missing = edge.filter((e) => !pgSet.has(e.eventId));
    assert.equal(missing.length, 0, `${region}: ${missing.length} edge events not in PostgreSQL`);
    return { events: edge.length, subjects };
  } finally {
    await edgeConnection.close();
  }
}

/** Stops a region's miners and checks PostgreSQL holds one share event per answer they got. */
export async function assertSharesMatchMiners(sim: Simulation, region: string): Promise<number> {
  const stopped = await sim.stopMiners(region);
  const workers = stopped.map((s) => s.miner.worker);
  let persisted = new Map<string, number>();
  await waitUntil(`${region}: share events of the stopped miners in PostgreSQL`, async () => {
    persisted = await persistedSharesByWorker(sim.sql, workers);
    return stopped.every((s) => (persisted.get(s.miner.worker) ?? 0) >= s.counts.answered);
  }, 60_000);
  await delay(1_000); // a late duplicate would show now
  persisted = await persistedSharesByWorker(sim.sql, workers);
  let total = 0;
  for (const { miner, counts } of stopped) {
    assert.equal(
      persisted.get(miner.worker),
      counts.answered,
      `${miner.name}: share events in PostgreSQL vs answers the miner got`,
    );
    total += counts.answered;
  }
  return total;
}
