/**
 * Phase 4 §9.2 (MR-01 to MR-10) on the multi-region simulation (`tests/support/sim/`): real
 * nats-server hub and leaves behind latency bridges (US-East 80 ms, Asia 150–170 ms with jitter),
 * a devnet node per region on one chain, the primary pool, two relays, the collector with
 * PostgreSQL and Redis, and CPU miners in every region, all as processes. One simulation runs
 * every scenario in turn (starting it is most of the cost); each step leaves the system running
 * normally for the next, and asserts the table's expected result:
 *
 * | id    | scenario                              | asserted here                                                     |
 * | ----- | ------------------------------------- | ----------------------------------------------------------------- |
 * | MR-01 | miner connects to each region         | shares accepted in all 3 regions, events of each region persisted |
 * | MR-02 | template propagation latency          | relay metric: US < 100 ms, Asia < 200 ms (median), ≥ link delay   |
 * | MR-03 | block found on a relay                | submitted by both paths, block_found with the region in PostgreSQL|
 * | MR-08 | GeoDNS failover                       | /health of each region; nearest healthy region, next-nearest when |
 * |       |                                       | its health check fails, back when it passes                       |
 * | MR-10 | stale shares under latency            | < 0.5 % per relay at one block per 8 s (blocks every few seconds) |
 * | MR-04 | primary crash, relay continues        | independent mode < 15 s, miners never dropped, events at the edge |
 * | MR-05 | primary recovery                      | passthrough again, templates resume, events converge              |
 * | MR-06 | relay region cut off                  | independent mode, miners keep mining, events held at the leaf     |
 * | MR-07 | partition heals                       | events replayed once each, in order; PostgreSQL = what miners saw |
 * | MR-09 | NATS hub killed                       | events buffered at the leaves and the primary's spool, replayed   |
 *
 * Needs nats-server, redis-server, PostgreSQL and openssl (Debian packages "nats-server",
 * "redis-server", "postgresql", "openssl"); fails, never skips, without them. Every wait is
 * bounded. Figures (latencies, activation times, stale rates) are printed; the machine may be
 * busy with other work, which they include.
 *
 * @module
 */
import assert from "node:assert/strict";
import { type LatencyBridge, startLatencyBridge } from "./support/latency_bridge.ts";
import { persistedCounts, persistedSharesByWorker } from "./support/sim/event_audit.ts";
import { type PromSample, sampleValue, sumValues } from "./support/sim/prom_text.ts";
import { startSimulation } from "./support/sim/simulation.ts";
import {
  accepted,
  assertConnected,
  assertRegionConverged,
  assertSharesMatchMiners,
  delay,
  metrics,
  relayMode,
  waitMoreShares,
  waitUntil,
} from "./support/sim/sim_checks.ts";
import {
  ASIA,
  EU,
  INDEPENDENT_AFTER_MS,
  INDEPENDENT_BUDGET_MS,
  reporter,
  SCENARIO_RELAYS,
  US,
} from "./support/sim/scenario_layout.ts";
import { RegionSelector } from "../tools/region_probe.ts";

const POLL_MS = 100;
/**
 * MR-10's window: at least this many new blocks and shares at each relay. A share is stale when
 * it was on its way while a new block's work went out (a few ms on this machine), so the rate is
 * that time over the block interval; thousands of shares keep the count's noise well below the
 * 0.5 % being tested.
 */
const MR10_MIN_BLOCKS = 5;
const MR10_MIN_SHARES = 2_000;
const MR10_MAX_WINDOW_MS = 180_000;
/**
 * The block interval the simulation aims at (blocks every ~8 s: the stale rate is the in-flight
 * time over the block interval, so much faster blocks would measure this 2-core machine's
 * scheduling more than the relays). Blocks arrive at random, 5 to 13 in a ~50 s window, and the
 * raw stale rate scales with their count; MR-10 asserts the rate at this interval (stale shares
 * per block over the shares one interval holds), which takes that luck out and keeps what the relay
 * controls: how long work is in flight when a block arrives.
 */
const MR10_BLOCK_INTERVAL_S = 8;

const report = reporter("MR");

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] as number;
}

Deno.test({
  name: "multi-region simulation: MR-01 to MR-10",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn(t) {
    const started = Date.now();
    const sim = await startSimulation({
      relays: SCENARIO_RELAYS,
      minersPerRegion: 2,
      minerHashrate: 5_000,
      blockIntervalS: MR10_BLOCK_INTERVAL_S,
      targetShareIntervalS: 0.05,
      independentAfterMs: INDEPENDENT_AFTER_MS,
      heartbeatMs: 250,
      updateIntervalS: 2,
    });
    report(`simulation up in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    try {
      await t.step("MR-01: miners mine in all three regions", async () => {
        for (const region of [EU, US, ASIA]) {
          const miners = sim.miners(region);
          assert.equal(miners.length, 2);
          await Promise.all(miners.map((m) => m.waitAccepted(3, 30_000)));
          // The region index is extranonce1's first byte: no two regions hand out the same work.
          const index = region === EU
            ? 0
            : SCENARIO_RELAYS.find((r) => r.region === region)!.regionIndex;
          for (const miner of miners) {
            assert.equal(miner.sessionId.slice(0, 2), index.toString(16).padStart(2, "0"));
          }
          const persisted = await waitUntil(`${region} share events in PostgreSQL`, async () => {
            const counts = await persistedSharesByWorker(sim.sql, miners.map((m) => m.worker));
            return [...counts.values()].every((n) => n >= 1);
          }, 30_000);
          const samples = await metrics(sim, region);
          assert.ok(sumValues(samples, "ckpool_shares_total", { valid: "true" }) >= 6);
          if (region !== EU) assert.equal(sampleValue(samples, "ckpool_relay_independent_mode"), 0);
          report(
            `MR-01 ${region}: shares accepted, first events in PostgreSQL after ${persisted} ms more`,
          );
        }
      });

      await t.step("MR-02: template propagation US < 100 ms, Asia < 200 ms", async () => {
        const budgets: Record<string, number> = { [US]: 100, [ASIA]: 200 };
        const samples = new Map<string, number[]>([[US, []], [ASIA, []]]);
        const lastCount = new Map<string, number>();
        const deadline = Date.now() + 30_000;
        while (Date.now() < deadline && [...samples.values()].some((s) => s.length < 6)) {
          for (const region of [US, ASIA]) {
            const text = await metrics(sim, region);
            const received = sampleValue(text, "ckpool_relay_templates_received_total") ?? 0;
            const latency = sampleValue(text, "ckpool_relay_template_latency_ms");
            if (
              lastCount.has(region) && received > lastCount.get(region)! && latency !== undefined
            ) {
              samples.get(region)!.push(latency);
            }
            lastCount.set(region, received);
          }
          await delay(50);
        }
        for (const relay of SCENARIO_RELAYS) {
          const values = samples.get(relay.region)!;
          assert.ok(values.length >= 3, `${relay.region}: only ${values.length} templates in 30 s`);
          const p50 = median(values);
          const { delayMs, jitterMs } = relay.link;
          report(
            `MR-02 ${relay.region} (link ${delayMs}${
              jitterMs ? `–${delayMs + jitterMs}` : ""
            } ms): ` +
              `template latency p50 ${p50.toFixed(1)} ms, max ${
                Math.max(...values).toFixed(1)
              } ms ` +
              `over ${values.length}; beyond the link's mean delay p50 ${
                (p50 - delayMs - jitterMs / 2).toFixed(1)
              } ms`,
          );
          assert.ok(p50 < budgets[relay.region]!, `${relay.region}: p50 ${p50} ms`);
          // Every template crossed the bridge: none can be faster than its one-way delay.
          assert.ok(
            Math.min(...values) >= delayMs - 1,
            `${relay.region}: ${values} below the link delay`,
          );
        }
      });

      await t.step(
        "MR-03: a block found at a relay is submitted and reaches the hub's pipeline",
        async () => {
          let row: { region: string; hash: string; submitted: string[] } | undefined;
          const waited = await waitUntil(
            "an accepted block_found from a relay in PostgreSQL",
            async () => {
              const rows = await sim.sql<{ region: string; hash: string; submitted: string[] }[]>`
            SELECT region, payload->>'hash' AS hash,
                   ARRAY(SELECT jsonb_array_elements_text(payload->'submitted_to')) AS submitted
            FROM mining_events
            WHERE event_type = 'block_found' AND region IN (${US}, ${ASIA})
              AND (payload->>'accepted')::boolean
            LIMIT 1`;
              row = rows[0];
              return row !== undefined;
            },
            150_000,
          );
          const found = row!;
          // Dual submission: the relay's own node, and the primary's node by way of the primary.
          const localNode = `http://127.0.0.1:${sim.service(found.region).node.rpcPort}`;
          assert.ok(found.submitted.includes(localNode), `local path in ${found.submitted}`);
          assert.ok(
            found.submitted.includes(sim.mesh.node(EU).rpcUrl),
            `primary path in ${found.submitted}`,
          );
          // The primary's node has the block: it is the chain's truth in the primary region.
          const status = await sim.mesh.status();
          const primaryNode = sim.mesh.node(EU);
          const block = await fetch(primaryNode.rpcUrl, {
            method: "POST",
            headers: {
              authorization: `Basic ${btoa(`${primaryNode.user}:${primaryNode.password}`)}`,
              "content-type": "application/json",
            },
            body: JSON.stringify({
              jsonrpc: "1.0",
              id: 1,
              method: "getblockheader",
              params: [found.hash],
            }),
          }).then((r) => r.json()) as { result: { hash: string } | null };
          assert.equal(block.result?.hash, found.hash, "the primary's node has the relay's block");
          // The primary path answered with a verdict. "accepted" is not required: with blocks
          // every few seconds in three regions, the primary's node may already have had another
          // block at that height, and its "inconclusive" is counted as rejected (CI saw it).
          const samples = await metrics(sim, found.region);
          const primaryVerdicts = ["accepted", "rejected"].map((outcome) =>
            sumValues(samples, "ckpool_relay_block_submit_total", { path: "primary", outcome })
          );
          assert.ok(
            primaryVerdicts[0]! + primaryVerdicts[1]! >= 1,
            `primary path accepted ${primaryVerdicts[0]}, rejected ${primaryVerdicts[1]}`,
          );
          report(
            `MR-03 block ${
              found.hash.slice(0, 16)
            }… from ${found.region} after ${waited} ms; height ${status.nodes[EU]?.height}`,
          );
        },
      );

      await t.step(
        "MR-08: region health endpoints and nearest-healthy-region selection",
        async () => {
          for (const service of sim.services) {
            const response = await fetch(service.healthUrl);
            const body = await response.json() as {
              ok: boolean;
              checks: Record<string, { ok: boolean }>;
            };
            assert.equal(response.status, 200, `${service.region} /health`);
            assert.equal(body.ok, true);
            for (const [name, check] of Object.entries(body.checks)) {
              assert.equal(check.ok, true, `${service.region} check ${name}`);
            }
          }
          // A US miner's vantage point: one-way delays to each region's Stratum port, and the
          // health checker's path to each /health (a bridge, so the check can be cut).
          const vantage: Record<string, number> = { [US]: 10, [EU]: 45, [ASIA]: 80 };
          const bridges: LatencyBridge[] = [];
          try {
            const endpoints = [];
            const healthBridges = new Map<string, LatencyBridge>();
            for (const [i, service] of sim.services.entries()) {
              const stratum = await startLatencyBridge({
                target: { hostname: "127.0.0.1", port: service.stratumPort },
                upstream: { delayMs: vantage[service.region]! },
                downstream: { delayMs: vantage[service.region]! },
              });
              const health = await startLatencyBridge({
                target: { hostname: "127.0.0.1", port: service.metricsPort },
              });
              bridges.push(stratum, health);
              healthBridges.set(service.region, health);
              endpoints.push({
                region: service.region,
                stratumHost: "127.0.0.1",
                stratumPort: stratum.port,
                healthUrl: `http://127.0.0.1:${health.port}/health`,
                priority: i,
              });
            }
            const selector = new RegionSelector(endpoints, 3);
            const rounds = async (n: number) => {
              for (let i = 0; i < n; i++) await selector.probe();
              return selector.select();
            };
            const normal = await rounds(1);
            assert.equal(normal.region, US, JSON.stringify(normal));
            assert.deepEqual(normal.ranked, [US, EU, ASIA]);
            healthBridges.get(US)!.partition({ mode: "reset" });
            const afterOne = await rounds(1);
            assert.equal(afterOne.region, US, "one failed check does not move miners");
            const failover = await rounds(2);
            assert.equal(failover.region, EU, JSON.stringify(failover));
            assert.equal(selector.healthy(US), false);
            healthBridges.get(US)!.heal();
            const back = await rounds(3);
            assert.equal(back.region, US, JSON.stringify(back));
            report(
              `MR-08 US vantage: ${
                normal.ranked.join(" > ")
              }; US check cut → ${failover.region}; restored → ${back.region}`,
            );
          } finally {
            await Promise.all(bridges.map((b) => b.close()));
          }
        },
      );

      await t.step("MR-10: stale shares < 0.5 % per relay while new blocks arrive", async () => {
        // The window closes once enough blocks and shares were seen, not after a fixed time:
        // stale shares are few by design, so the ratio means something only over thousands of
        // shares, and a window with too few blocks would not test latency at all.
        const before = new Map<string, PromSample[]>();
        for (const region of [US, ASIA]) before.set(region, await metrics(sim, region));
        const heightBefore = (await sim.mesh.status()).nodes[EU]!.height;
        const shares = async (region: string) =>
          sumValues(await metrics(sim, region), "ckpool_shares_total") -
          sumValues(before.get(region)!, "ckpool_shares_total");
        let blocks = 0;
        const windowMs = await waitUntil(
          `${MR10_MIN_BLOCKS} new blocks and ${MR10_MIN_SHARES} shares at each relay`,
          async () => {
            blocks = (await sim.mesh.status()).nodes[EU]!.height - heightBefore;
            return blocks >= MR10_MIN_BLOCKS &&
              (await shares(US)) >= MR10_MIN_SHARES && (await shares(ASIA)) >= MR10_MIN_SHARES;
          },
          MR10_MAX_WINDOW_MS,
        );
        for (const region of [US, ASIA]) {
          const a = before.get(region)!;
          const b = await metrics(sim, region);
          const answered = sumValues(b, "ckpool_shares_total") -
            sumValues(a, "ckpool_shares_total");
          const stale = (sampleValue(b, "ckpool_stale_shares_total") ?? 0) -
            (sampleValue(a, "ckpool_stale_shares_total") ?? 0);
          const percent = (100 * stale) / answered;
          const sharesPerInterval = (answered / (windowMs / 1000)) * MR10_BLOCK_INTERVAL_S;
          const atInterval = (100 * (stale / blocks)) / sharesPerInterval;
          const gauge = sampleValue(b, "ckpool_relay_stale_shares_percent");
          report(
            `MR-10 ${region}: ${stale} stale of ${answered} shares (${percent.toFixed(3)} %) over ${
              (windowMs / 1000).toFixed(0)
            } s with ${blocks} new blocks ` +
              `(${(stale / blocks).toFixed(2)} stale per block: ${
                atInterval.toFixed(3)
              } % at one block per ${MR10_BLOCK_INTERVAL_S} s); relay gauge ${gauge?.toFixed(2)} %`,
          );
          assert.ok(
            atInterval < 0.5,
            `${region}: ${atInterval} % stale at one block per ${MR10_BLOCK_INTERVAL_S} s`,
          );
          assert.ok(gauge !== undefined && gauge < 0.5, `${region}: gauge ${gauge}`);
        }
      });

      await t.step(
        "MR-04: primary crash — relays continue, miners uninterrupted, events held",
        async () => {
          const relayMiners = [...sim.miners(US), ...sim.miners(ASIA)];
          const edgeBefore = new Map<string, number>();
          for (const region of [US, ASIA]) {
            edgeBefore.set(region, await sim.edgeStreamCount(region));
          }
          const crashedAt = Date.now();
          await sim.service(EU).service.crash();
          const activation = await Promise.all(
            [US, ASIA].map((region) =>
              waitUntil(
                `${region} independent mode`,
                async () => (await relayMode(sim, region)) === 1,
                INDEPENDENT_BUDGET_MS,
              )
            ),
          );
          for (const [i, region] of [US, ASIA].entries()) {
            report(
              `MR-04 ${region}: independent mode seen ${activation[i]} ms after the crash ` +
                `(threshold ${INDEPENDENT_AFTER_MS} ms, metrics polled every ${POLL_MS} ms)`,
            );
          }
          assert.ok(Date.now() - crashedAt < INDEPENDENT_BUDGET_MS + 1_000);
          const before = accepted(relayMiners);
          await waitMoreShares(before, 5, 30_000);
          assertConnected(relayMiners);
          for (const region of [US, ASIA]) {
            assert.ok(
              (await sim.edgeStreamCount(region)) > edgeBefore.get(region)!,
              `${region}: events stored at the edge during the outage`,
            );
          }
          // The primary's miners lost their pool; they are started again with it (MR-05).
          await waitUntil(
            "EU miners to notice",
            () => sim.miners(EU).every((m) => m.exited),
            20_000,
          );
          await sim.stopMiners(EU);
        },
      );

      await t.step("MR-05: primary recovery — templates resume, events converge", async () => {
        const relayMiners = [...sim.miners(US), ...sim.miners(ASIA)];
        const primary = sim.service(EU);
        await primary.service.start();
        const received = new Map<string, number>();
        for (const region of [US, ASIA]) {
          received.set(
            region,
            sampleValue(await metrics(sim, region), "ckpool_relay_templates_received_total") ?? 0,
          );
        }
        const resumed = await Promise.all(
          [US, ASIA].map((region) =>
            waitUntil(`${region} passthrough mode`, async () => {
              const samples = await metrics(sim, region);
              return sampleValue(samples, "ckpool_relay_independent_mode") === 0 &&
                (sampleValue(samples, "ckpool_relay_templates_received_total") ?? 0) >
                  received.get(region)!;
            }, 30_000)
          ),
        );
        report(
          `MR-05 passthrough again after restart: us-east ${resumed[0]} ms, asia ${resumed[1]} ms`,
        );
        await sim.startMiners(EU);
        await Promise.all(
          sim.miners(EU).map((m) => m.waitAccepted(2, 30_000)),
        );
        const before = accepted(relayMiners);
        await waitMoreShares(before, 2, 30_000);
        assertConnected(relayMiners);
        // Everything the edges held up to now reaches the hub and PostgreSQL.
        for (const region of [US, ASIA]) {
          const edge = await sim.edgeStreamCount(region);
          await waitUntil(
            `${region}: ${edge} events in PostgreSQL`,
            async () => (await persistedCounts(sim.sql, region)).rows >= edge,
            30_000,
          );
        }
      });

      await t.step("MR-06: a relay region cut off goes independent and keeps mining", async () => {
        const miners = sim.miners(US);
        const hubBefore = await sim.hubStreamCount(US);
        const edgeBefore = await sim.edgeStreamCount(US);
        const cutAt = Date.now();
        await sim.partition(US, { mode: "blackhole" });
        const ms = await waitUntil(
          "us-east independent mode",
          async () => (await relayMode(sim, US)) === 1,
          INDEPENDENT_BUDGET_MS,
        );
        report(
          `MR-06 us-east: independent mode ${
            Date.now() - cutAt
          } ms after the cut (${ms} ms polled)`,
        );
        await waitMoreShares(accepted(miners), 5, 30_000);
        assertConnected(miners);
        assert.equal(await relayMode(sim, ASIA), 0, "the other relay is unaffected");
        const edgeNow = await sim.edgeStreamCount(US);
        const hubNow = await sim.hubStreamCount(US);
        assert.ok(edgeNow > edgeBefore + 10, "events keep being stored at the edge");
        // Nothing crosses the cut (a message or two may have been in flight when it fell).
        assert.ok(
          hubNow <= hubBefore + 5,
          `hub got ${hubNow - hubBefore} us-east events during the cut`,
        );
        // What the CrossRegionSplit alert watches: the hub has stopped answering through the leaf.
        const unreachable = await waitUntil(
          "us-east's hub-unreachable gauge to rise",
          async () =>
            (sampleValue(await metrics(sim, US), "ckpool_relay_hub_unreachable_seconds") ?? 0) > 0,
          15_000,
        );
        report(
          `MR-06 during the cut: edge +${edgeNow - edgeBefore} events, hub +${
            hubNow - hubBefore
          }; hub-unreachable gauge > 0 (seen after ${unreachable} ms more)`,
        );
      });

      await t.step(
        "MR-07: the partition heals — events replay once each, nothing lost",
        async () => {
          const healedAt = Date.now();
          await sim.heal(US);
          await waitUntil(
            "us-east passthrough mode",
            async () => (await relayMode(sim, US)) === 0,
            30_000,
          );
          report(
            `MR-07 us-east back on the primary's templates ${
              Date.now() - healedAt
            } ms after the heal`,
          );
          await waitUntil(
            "us-east's hub-unreachable gauge back to 0",
            async () =>
              sampleValue(await metrics(sim, US), "ckpool_relay_hub_unreachable_seconds") === 0,
            30_000,
          );
          const shares = await assertSharesMatchMiners(sim, US);
          const { events } = await assertRegionConverged(sim, US);
          report(
            `MR-07 us-east: ${events} events once each in order on the hub and in PostgreSQL; ${shares} share answers = share events`,
          );
          await sim.startMiners(US);
        },
      );

      await t.step(
        "MR-09: NATS hub killed — events buffered at the edges, replayed on reconnect",
        async () => {
          const edgeBefore = new Map<string, number>();
          for (const region of [US, ASIA]) {
            edgeBefore.set(region, await sim.edgeStreamCount(region));
          }
          sim.topology.hub.kill("SIGKILL");
          await delay(6_000);
          for (const region of [US, ASIA]) {
            const edge = await sim.edgeStreamCount(region);
            assert.ok(edge > edgeBefore.get(region)! + 10, `${region}: edge stream kept storing`);
          }
          assertConnected([...sim.miners(US), ...sim.miners(ASIA), ...sim.miners(EU)]);
          const restartedAt = Date.now();
          await sim.topology.hub.restart();
          await Promise.all(sim.topology.leaves.map((leaf) => leaf.waitConnected(30_000)));
          report(`MR-09 hub back, leaves reconnected in ${Date.now() - restartedAt} ms`);
          let total = 0;
          for (const region of [EU, US, ASIA]) {
            total += await assertSharesMatchMiners(sim, region);
          }
          for (const region of [US, ASIA]) {
            const { events } = await assertRegionConverged(sim, region);
            report(`MR-09 ${region}: ${events} events converged once each`);
          }
          const eu = await persistedCounts(sim.sql, EU);
          assert.equal(eu.rows, eu.distinctIds, "eu: every event id once");
          assert.equal(eu.rows, await sim.hubStreamCount(EU), "eu: PostgreSQL = hub");
          report(`MR-09 share answers of all miners = share events in PostgreSQL (${total})`);
        },
      );
    } finally {
      const stopReport = await sim.stop();
      report(
        `stopped; exit codes ${JSON.stringify(stopReport.exitCodes)}; total ${
          ((Date.now() - started) / 1000).toFixed(0)
        } s`,
      );
    }
  },
});
