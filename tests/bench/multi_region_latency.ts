/**
 * Scenario multi_region_latency (Phase 4 §9.3) on the multi-region simulation
 * (`tests/support/sim/`): hub and two bridged leaves (US-East 80 ms, Asia 150–180 ms one way),
 * devnet nodes, the EU primary, two relays, the collector and two support miners per region,
 * with blocks every few seconds. Over one window it measures:
 *
 * - same-region share RTT: an in-process CPU miner on each region's Stratum port, on loopback
 *   (the miner sits in the service's region; no bridge on that path);
 * - template propagation EU → US / Asia: primary's send stamp → arrival on each relay's leaf
 *   (direct), with the relays' own `ckpool_relay_template_propagation_ms` mean as a cross-check;
 *   and a floor: a tiny stamped message published on the hub, timed on arrival at each leaf;
 * - event replication relay → primary: edge-stream storage → hub MINING_EVENTS storage;
 * - stale share rate per relay: `ckpool_stale_shares_total` over `ckpool_shares_total` (deltas),
 *   and the stale window: stale shares per block over shares per second (the rate at any block
 *   interval is this window over the interval);
 *
 * then crashes the primary and times each relay's `ckpool_relay_independent_mode` reaching 1.
 */
import { PRIMARY_REGION } from "../support/sim/sim_options.ts";
import { type PromSample, sampleValue, scrape, sumValues } from "../support/sim/prom_text.ts";
import { type Simulation, startSimulation } from "../support/sim/simulation.ts";
import { regtestAddress } from "../support/addresses.ts";
import { loadAverage1m, sleep } from "./bench_setup.ts";
import {
  type Probe,
  quantile,
  startRttMiner,
  watchFloor,
  watchReplication,
  watchTemplates,
} from "./region_probes.ts";
import type { BenchContext, Column, RunResult, Scenario } from "./scenario.ts";
import { connect, type NatsConnection } from "nats";
import { regionInboxPrefix } from "@tbg/shared/nats";

/** Seconds of measurement with everything running. */
const WINDOW_S = 60;
/** Mean seconds between blocks at the miners' capped hash rate ("every few seconds"). */
const BLOCK_INTERVAL_S = 3;
/** Relay: ms without template or heartbeat before independent mode (the simulation's default). */
const INDEPENDENT_AFTER_MS = 5_000;
/** Primary: fetch a fresh template after this many seconds without a block (more samples). */
const UPDATE_INTERVAL_S = 1;
/**
 * Seconds between shares vardiff aims for: shorter than the simulation's 0.5 s so the stale rate
 * rests on about 800 shares per relay. A share every 50 ms (3,400 per relay) loaded the 2 cores
 * enough to move the latency figures by several ms, so the stale window is the steadier figure.
 */
const TARGET_SHARE_INTERVAL_S = 0.2;
/** Hash rate cap of each in-process RTT miner. */
const RTT_MINER_HASHRATE = 8_000;
/** Longest wait for a relay to switch to independent mode after the primary dies. */
const INDEPENDENT_WAIT_MS = 30_000;
const POLL_MS = 100;
const READY_TIMEOUT_MS = 60_000;
const REGIONS = ["eu", "us-east", "asia"] as const;
const SHORT: Record<string, string> = { "eu": "Eu", "us-east": "Us", "asia": "Asia" };

function columns(): Column[] {
  const out: Column[] = [];
  for (const region of REGIONS) {
    out.push({ key: `rttP50${SHORT[region]}`, label: `share RTT ${region} p50 ms`, digits: 2 });
    out.push({ key: `rttP99${SHORT[region]}`, label: `share RTT ${region} p99 ms`, digits: 2 });
  }
  for (const region of REGIONS.slice(1)) {
    const s = SHORT[region];
    out.push({ key: `tplP50${s}`, label: `template EU→${region} p50 ms`, digits: 1 });
    out.push({ key: `tplP90${s}`, label: `template EU→${region} p90 ms`, digits: 1 });
    out.push({ key: `tplP99${s}`, label: `template EU→${region} p99 ms`, digits: 1 });
    out.push({ key: `tplMax${s}`, label: `template EU→${region} max ms`, digits: 1 });
    out.push({ key: `floorP50${s}`, label: `floor hub→${region} leaf p50 ms`, digits: 1 });
    out.push({ key: `floorP99${s}`, label: `floor hub→${region} leaf p99 ms`, digits: 1 });
    out.push({ key: `tplN${s}`, label: `templates ${region}`, digits: 0 });
    out.push({ key: `tplRelayMean${s}`, label: `relay ${region} own mean ms`, digits: 1 });
  }
  for (const region of REGIONS.slice(1)) {
    const s = SHORT[region];
    out.push({ key: `replP50${s}`, label: `replication ${region}→hub p50 ms`, digits: 1 });
    out.push({ key: `replP99${s}`, label: `replication ${region}→hub p99 ms`, digits: 1 });
  }
  for (const region of REGIONS.slice(1)) {
    const s = SHORT[region];
    out.push({ key: `stale${s}`, label: `stale ${region} %`, digits: 3 });
    out.push({ key: `shares${s}`, label: `shares ${region}`, digits: 0 });
    out.push({ key: `staleWindow${s}`, label: `stale window ${region} ms`, digits: 1 });
  }
  for (const region of REGIONS.slice(1)) {
    out.push({
      key: `indep${SHORT[region]}`,
      label: `independent ${region} after kill s`,
      digits: 2,
    });
  }
  out.push({ key: "blocks", label: "blocks in window", digits: 0 });
  out.push({ key: "loadAvg", label: "load avg 1m", digits: 2 });
  return out;
}

/** Shares and stale shares a service counted so far. */
function shareTotals(samples: readonly PromSample[]): { total: number; stale: number } {
  return {
    total: sumValues(samples, "ckpool_shares_total"),
    stale: sampleValue(samples, "ckpool_stale_shares_total") ?? 0,
  };
}

/** Sum and count of the relay's own template propagation histogram. */
function propagationTotals(samples: readonly PromSample[]): { sum: number; count: number } {
  return {
    sum: sampleValue(samples, "ckpool_relay_template_propagation_ms_sum") ?? 0,
    count: sampleValue(samples, "ckpool_relay_template_propagation_ms_count") ?? 0,
  };
}

async function waitForRelayTemplates(sim: Simulation): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (const region of REGIONS.slice(1)) {
    const url = sim.service(region).metricsUrl;
    for (;;) {
      const samples = await scrape(url, 2_000).catch(() => []);
      if ((sampleValue(samples, "ckpool_relay_templates_received_total") ?? 0) > 0) break;
      if (Date.now() > deadline) throw new Error(`relay ${region} got no template in time`);
      await sleep(250);
    }
  }
}

/** Seconds from `killedAt` until the relay reports independent mode (NaN if not in time). */
async function timeIndependent(metricsUrl: string, killedAt: number): Promise<number> {
  while (performance.now() - killedAt < INDEPENDENT_WAIT_MS) {
    const samples = await scrape(metricsUrl, 1_000).catch(() => []);
    if (sampleValue(samples, "ckpool_relay_independent_mode") === 1) {
      return (performance.now() - killedAt) / 1000;
    }
    await sleep(POLL_MS);
  }
  return NaN;
}

async function measure(sim: Simulation, context: BenchContext): Promise<RunResult> {
  const values: Record<string, number> = {};
  const notes: string[] = [];
  const leaves = new Map<string, NatsConnection>();
  const probes: Probe[] = [];
  try {
    for (const region of REGIONS.slice(1)) {
      leaves.set(
        region,
        await connect({
          servers: sim.topology.leaf(region).url,
          name: `bench-${region}`,
          // As a relay connects: the hub answers a leaf only on its region's inboxes.
          inboxPrefix: regionInboxPrefix(region),
        }),
      );
    }
    await waitForRelayTemplates(sim);
    context.progress("  relays have templates; measuring");
    const templates = new Map<string, Probe>();
    const replication = new Map<string, Probe>();
    const rtt = new Map<string, Probe>();
    const floors = new Map<string, Probe>();
    for (const region of REGIONS.slice(1)) {
      const leaf = leaves.get(region) as NatsConnection;
      templates.set(region, await watchTemplates(leaf, sim.topology.hub.domain));
      replication.set(region, await watchReplication(leaf, sim.hub, region));
      floors.set(region, await watchFloor(sim.hub, leaf, region));
    }
    for (const [i, region] of REGIONS.entries()) {
      const { address } = regtestAddress("p2wpkh", 900 + i);
      rtt.set(
        region,
        await startRttMiner({
          port: sim.service(region).stratumPort,
          username: `${address}.rtt-${region}`,
          maxHashrate: RTT_MINER_HASHRATE,
        }),
      );
    }
    probes.push(
      ...templates.values(),
      ...floors.values(),
      ...replication.values(),
      ...rtt.values(),
    );

    const metricsAt = async () =>
      await Promise.all(REGIONS.map((r) => scrape(sim.service(r).metricsUrl, 5_000)));
    const heightAt = async () => (await sim.mesh.status()).nodes[PRIMARY_REGION]?.height ?? 0;
    const [before, heightBefore] = await Promise.all([metricsAt(), heightAt()]);
    await sleep(WINDOW_S * 1000);
    const [after, heightAfter] = await Promise.all([metricsAt(), heightAt()]);
    for (const probe of probes) await probe.stop();
    probes.length = 0;

    for (const [i, region] of REGIONS.entries()) {
      const s = SHORT[region];
      const probe = rtt.get(region) as Probe;
      values[`rttP50${s}`] = quantile(probe.samples, 0.5);
      values[`rttP99${s}`] = quantile(probe.samples, 0.99);
      notes.push(
        `${region}: ${probe.samples.length} accepted RTT shares (${probe.skipped} rejected)`,
      );
      if (i === 0) continue;
      const tpl = templates.get(region) as Probe;
      values[`tplP50${s}`] = quantile(tpl.samples, 0.5);
      values[`tplP90${s}`] = quantile(tpl.samples, 0.9);
      values[`tplP99${s}`] = quantile(tpl.samples, 0.99);
      values[`tplMax${s}`] = quantile(tpl.samples, 1);
      values[`tplN${s}`] = tpl.samples.length;
      const floor = floors.get(region) as Probe;
      values[`floorP50${s}`] = quantile(floor.samples, 0.5);
      values[`floorP99${s}`] = quantile(floor.samples, 0.99);
      const p0 = propagationTotals(before[i] as PromSample[]);
      const p1 = propagationTotals(after[i] as PromSample[]);
      values[`tplRelayMean${s}`] = (p1.sum - p0.sum) / (p1.count - p0.count);
      const repl = replication.get(region) as Probe;
      values[`replP50${s}`] = quantile(repl.samples, 0.5);
      values[`replP99${s}`] = quantile(repl.samples, 0.99);
      notes.push(
        `${region}: ${repl.samples.length} events replicated in the window` +
          ` (${repl.skipped} on the hub without an edge time)`,
      );
      const s0 = shareTotals(before[i] as PromSample[]);
      const s1 = shareTotals(after[i] as PromSample[]);
      values[`shares${s}`] = s1.total - s0.total;
      values[`stale${s}`] = 100 * (s1.stale - s0.stale) / (s1.total - s0.total);
      // Stale shares per block over shares per second: how long each new block's work took to
      // replace the old at the miners. The stale rate is this over the block interval, so it
      // carries over to mainnet's 600 s blocks where the rate itself does not.
      const blocks = heightAfter - heightBefore;
      values[`staleWindow${s}`] = blocks === 0
        ? Number.NaN
        : (1000 * (s1.stale - s0.stale) / blocks) / ((s1.total - s0.total) / WINDOW_S);
    }
    values.blocks = heightAfter - heightBefore;

    context.progress("  crashing the primary");
    const killedAt = performance.now();
    await sim.service(PRIMARY_REGION).service.crash();
    const times = await Promise.all(
      REGIONS.slice(1).map((region) => timeIndependent(sim.service(region).metricsUrl, killedAt)),
    );
    for (const [i, region] of REGIONS.slice(1).entries()) {
      values[`indep${SHORT[region]}`] = times[i] as number;
    }
    notes.push(
      `independent_after_ms ${INDEPENDENT_AFTER_MS}, heartbeat every ${sim.plan.heartbeatMs} ms, ` +
        `metrics polled every ${POLL_MS} ms`,
    );
    return { values, commands: [], notes };
  } finally {
    for (const probe of probes) await probe.stop().catch(() => {});
    for (const nc of leaves.values()) await nc.close().catch(() => {});
  }
}

/** The multi_region_latency scenario. */
export const multiRegionLatency: Scenario = {
  name: "multi_region_latency",
  workload: `multi-region simulation (EU primary; US-East relay 80 ms and Asia relay 150–180 ms ` +
    `one way through the latency bridge), 2 support miners per region, a block every ` +
    `~${BLOCK_INTERVAL_S} s, a template refresh every ${UPDATE_INTERVAL_S} s, vardiff aiming at a ` +
    `share every ${TARGET_SHARE_INTERVAL_S} s; ${WINDOW_S} s ` +
    `window with one in-process RTT miner per region on loopback; then the primary is crashed`,
  columns: columns(),
  async run(context: BenchContext): Promise<RunResult> {
    const loadAvg = await loadAverage1m();
    const sim = await startSimulation({
      blockIntervalS: BLOCK_INTERVAL_S,
      independentAfterMs: INDEPENDENT_AFTER_MS,
      updateIntervalS: UPDATE_INTERVAL_S,
      targetShareIntervalS: TARGET_SHARE_INTERVAL_S,
      onProgress: (line) => context.progress(`  ${line}`),
    });
    try {
      const result = await measure(sim, context);
      return { ...result, values: { ...result.values, loadAvg } };
    } finally {
      await sim.stop();
    }
  },
};
