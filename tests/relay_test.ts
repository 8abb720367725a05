/**
 * The relay service end to end: a real nats-server (JetStream), two devnet nodes on one chain
 * (A for the primary, B as the relay's local node, linked like P2P block relay), the real
 * primary pool process publishing templates, and the real relay process with a support CPU miner
 * on it. In order, on the same processes:
 *
 * 1. shares are accepted at the relay on the primary's templates; extranonce1 carries the region;
 * 2. a block found at the relay is submitted by both paths (local node and primary, with the P2P
 *    link paused so each node can only have it from its own path) and block_found, read back from
 *    JetStream, carries the relay's region;
 * 3. the primary is stopped: the relay goes independent within the threshold and the miner keeps
 *    getting shares accepted on the same connection;
 * 4. the primary is started again: the relay returns to its templates;
 * 5. a block appears on the relay's local node first: preemptive clean_jobs from a local
 *    template, then the primary's template for the same tip without another clean_jobs.
 *
 * Run with `deno task test tests/relay_test.ts`.
 */
import assert from "node:assert/strict";
import { connect, type NatsConnection } from "nats";
import { jetstreamManager } from "nats/jetstream";
import { bytesToHex, difficultyToTarget, reverseBytes, targetToBits } from "@tbg/shared/bitcoin";
import { type EventOf, parseEvent } from "@tbg/shared/events";
import { miningEventsStreamConfig } from "@tbg/shared/nats";
import { stratumToPrevHash } from "@tbg/shared/stratum";
import { mineBlockOn, startTwinDevnets, type TwinDevnets } from "./support/devnet_link.ts";
import { type PoolProcess, startPoolProcess } from "./support/pool_process.ts";
import { type RelayProcess, startRelayProcess } from "./support/relay_process.ts";
import { type NatsServerHandle, startNatsServer } from "./support/servers/nats_server.ts";
import { regtestAddress } from "./support/addresses.ts";
import { CpuMiner, StratumClient } from "./support/stratum_client/mod.ts";

/** One CPU miner finds a block every few seconds at this difficulty; shares come several a second. */
const NETWORK_DIFFICULTY = 0.0001;
const INDEPENDENT_AFTER_MS = 3_000;
const RELAY_REGION = "us-east";
const RELAY_REGION_INDEX = 7;

/** A sample's value: the first series of `name` having every `labels` pair (any order). */
function sample(text: string, name: string, labels: Record<string, string> = {}): number {
  const wanted = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  const line = text.split("\n").find((l) => {
    if (!l.startsWith(name + "{") && !l.startsWith(name + " ")) return false;
    return wanted.every((pair) => l.includes(pair));
  });
  return line === undefined ? NaN : Number(line.split(" ").pop());
}

async function metrics(process: PoolProcess): Promise<string> {
  return await (await fetch(`http://127.0.0.1:${process.metricsPort}/metrics`)).text();
}

async function waitUntil(what: string, predicate: () => boolean | Promise<boolean>, ms = 20_000) {
  const deadline = Date.now() + ms;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The block_found events one region stored in the MINING_EVENTS stream. */
async function storedBlocksFound(
  nc: NatsConnection,
  region: string,
): Promise<EventOf<"block_found">[]> {
  const jsm = await jetstreamManager(nc);
  const info = await jsm.streams.info("MINING_EVENTS");
  const found: EventOf<"block_found">[] = [];
  for (let seq = info.state.first_seq; seq <= info.state.last_seq && seq > 0; seq++) {
    const msg = await jsm.streams.getMessage("MINING_EVENTS", { seq }).catch(() => null);
    if (msg === null || msg.subject !== `mining.events.${region}.block_found`) continue;
    const event = parseEvent(msg.data);
    if (event.event === "block_found") found.push(event);
  }
  return found;
}

interface Rig {
  nats: NatsServerHandle;
  nc: NatsConnection;
  twins: TwinDevnets;
  primary: PoolProcess;
  relay: RelayProcess;
  client: StratumClient;
  miner: CpuMiner;
  payoutScriptHex: string;
}

function primaryConfig(natsUrl: string): Record<string, unknown> {
  return {
    templates: { publish: true, heartbeat_ms: 250 },
    events: { enabled: true, nats_url: natsUrl },
  };
}

Deno.test({
  name:
    "relay: shares on the primary's templates, dual block submission, independent mode and back, preemptive clean_jobs",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn(t) {
    const nats = await startNatsServer({ jetstream: true, extraConfig: "max_payload: 8MB" });
    const nc = await connect({ servers: nats.url });
    await (await jetstreamManager(nc)).streams.add(miningEventsStreamConfig());
    const twins = await startTwinDevnets({
      bits: targetToBits(difficultyToTarget(NETWORK_DIFFICULTY)),
    });
    const cleanups: (() => Promise<unknown>)[] = [];
    try {
      const primary = await startPoolProcess(twins.a, primaryConfig(nats.url));
      cleanups.push(() => primary.stop());
      const relay = await startRelayProcess(
        twins.b,
        { primaryNatsUrl: nats.url, eventsNatsUrl: nats.url },
        {
          region: RELAY_REGION,
          region_index: RELAY_REGION_INDEX,
          independent_after_ms: INDEPENDENT_AFTER_MS,
          // About two shares a second from one CPU miner, so every step sees shares quickly.
          vardiff: { target_share_interval: 0.5, retarget_interval: 5 },
        },
      );
      cleanups.push(() => relay.stop());
      const payout = regtestAddress("p2wpkh", 9);
      const client = await StratumClient.start({
        host: "127.0.0.1",
        port: relay.stratumPort,
        username: `${payout.address}.relay-rig`,
      });
      cleanups.push(() => Promise.resolve(client.close()));
      const miner = new CpuMiner(client, { batchNonces: 1024 });
      cleanups.push(() => miner.stop());
      const r: Rig = {
        nats,
        nc,
        twins,
        primary,
        relay,
        client,
        miner,
        payoutScriptHex: payout.scriptHex,
      };

      await t.step("shares are accepted at the relay on the primary's templates", async () => {
        await r.relay.waitForLog((l) =>
          l.msg === "relay template feed ready" && l.origin === "primary"
        );
        r.miner.start();
        await waitUntil("5 accepted shares", () => r.miner.stats.accepted >= 5);
        const text = await metrics(r.relay);
        assert.equal(sample(text, "ckpool_relay_independent_mode"), 0);
        assert.ok(
          sample(text, "ckpool_relay_templates_received_total") >= 1,
          "templates from NATS",
        );
        assert.ok(sample(text, "ckpool_shares_total", { valid: "true" }) >= 5);
        await waitUntil(
          "a primary RTT sample",
          async () => sample(await metrics(r.relay), "ckpool_relay_primary_rtt_ms") > 0,
        );
        await r.miner.stop();
        // Phase 4 §8.3: every relay metric is exported, with a value.
        const relayText = await metrics(r.relay);
        for (
          const name of [
            "ckpool_relay_template_latency_ms",
            "ckpool_relay_primary_rtt_ms",
            "ckpool_relay_stale_shares_percent",
            "ckpool_relay_independent_mode",
            "ckpool_nats_replication_lag_ms",
          ]
        ) assert.ok(Number.isFinite(sample(relayText, name)), `missing ${name}`);
        assert.ok(sample(relayText, "ckpool_relay_template_propagation_ms_count") >= 0);
      });

      await t.step("a block found at the relay reaches both nodes by its own paths", async () => {
        r.twins.link.pause();
        const earlier = new Set(
          r.relay.logs.filter((l) => l.msg === "block accepted").map((l) => String(l.hash)),
        );
        r.miner.start();
        const found = await r.relay.waitForLog(
          (l) => l.msg === "block accepted" && !earlier.has(String(l.hash)),
          60_000,
        );
        await r.miner.stop();
        const hash = String(found.hash);
        assert.ok(r.twins.b.chain.block(hash), "the relay's own node has the block (local path)");
        await waitUntil(
          "the primary's node to have the block",
          () => r.twins.a.chain.block(hash) !== undefined,
        );
        const coinbase = r.twins.b.chain.coinbase(hash)!;
        assert.equal(coinbase.outputs[0]!.scriptHex, r.payoutScriptHex, "pays the relay's miner");
        let event: EventOf<"block_found"> | undefined;
        await waitUntil("block_found in JetStream", async () => {
          event = (await storedBlocksFound(r.nc, RELAY_REGION)).find((e) => e.data.hash === hash);
          return event !== undefined;
        });
        const data = event!.data;
        assert.equal(data.region, RELAY_REGION);
        assert.equal(data.accepted, true);
        assert.equal(data.submitted_to.length, 2, JSON.stringify(data.submitted_to));
        const text = await metrics(r.relay);
        for (const path of ["local", "primary"]) {
          assert.ok(
            sample(text, "ckpool_relay_block_submit_total", { outcome: "accepted", path }) >=
              1,
            `${path} path accepted`,
          );
        }
        r.twins.link.resume();
        await r.twins.link.waitInSync();
      });

      await t.step(
        "with the primary stopped the relay goes independent and miners keep working",
        async () => {
          r.miner.start();
          await waitUntil("shares before the cut", () => r.miner.stats.accepted >= 1);
          assert.equal(await r.primary.stop(), 0);
          const stoppedAt = Date.now();
          const line = await r.relay.waitForLog(
            (l) => String(l.msg).startsWith("independent mode"),
            INDEPENDENT_AFTER_MS + 10_000,
          );
          const activationMs = Date.now() - stoppedAt;
          assert.ok(
            activationMs < INDEPENDENT_AFTER_MS + 2_000,
            `activation took ${activationMs} ms`,
          );
          assert.ok(typeof line.silentForMs === "number");
          const before = r.miner.stats.accepted;
          await waitUntil(
            "shares accepted in independent mode",
            () => r.miner.stats.accepted >= before + 3,
          );
          assert.equal(r.client.connection.isClosed, false, "the miner was never disconnected");
          assert.equal(r.client.received.get("client.reconnect") ?? 0, 0);
          assert.equal(sample(await metrics(r.relay), "ckpool_relay_independent_mode"), 1);
          await r.miner.stop();
        },
      );

      await t.step("a restarted primary takes over again", async () => {
        const restarted = await startPoolProcess(r.twins.a, primaryConfig(r.nats.url));
        cleanups.push(() => restarted.stop());
        r.primary = restarted;
        await r.relay.waitForLog((l) => String(l.msg).startsWith("passthrough mode"), 20_000);
        assert.equal(sample(await metrics(r.relay), "ckpool_relay_independent_mode"), 0);
        r.miner.start();
        const before = r.miner.stats.accepted;
        await waitUntil(
          "shares on the primary's templates again",
          () => r.miner.stats.accepted >= before + 3,
        );
        await r.miner.stop();
        assert.equal(r.client.connection.isClosed, false);
      });

      await t.step(
        "a block seen by the local node first triggers a preemptive clean_jobs",
        async () => {
          await r.twins.link.waitInSync();
          // A block the miner found in an earlier step may still be on its way to the relay as a
          // local template (itself a preemptive clean_jobs); count from work on the synced tip.
          const syncedTip = r.twins.b.chain.tipHash();
          await waitUntil("the relay's work on the synced tip", () => {
            const job = r.client.currentJob;
            return job !== null && bytesToHex(reverseBytes(job.prevHash)) === syncedTip;
          });
          const notifies: { prevHash: string; clean: boolean }[] = [];
          r.client.onNotification((method, params) => {
            if (method === "mining.notify") {
              notifies.push({
                prevHash: bytesToHex(reverseBytes(stratumToPrevHash(String(params[1])))),
                clean: params[8] === true,
              });
            }
          });
          const preemptiveBefore = sample(
            await metrics(r.relay),
            "ckpool_relay_preemptive_clean_jobs_total",
          );
          r.twins.link.pause();
          const hash = await mineBlockOn(r.twins.b, regtestAddress("p2wpkh", 33).address);
          await waitUntil(
            "clean_jobs on the new tip",
            () => notifies.some((n) => n.prevHash === hash && n.clean),
          );
          assert.equal(
            sample(await metrics(r.relay), "ckpool_relay_preemptive_clean_jobs_total"),
            preemptiveBefore + 1,
          );
          await r.relay.waitForLog((l) => String(l.msg).startsWith("preemptive clean_jobs"));
          const cleanOnTip = () => notifies.filter((n) => n.prevHash === hash && n.clean).length;
          assert.equal(cleanOnTip(), 1);
          r.twins.link.resume();
          await r.twins.link.waitInSync();
          // The primary's template for the same tip replaces the local one without clean_jobs.
          await waitUntil(
            "the primary's work on the new tip",
            () => notifies.some((n) => n.prevHash === hash && !n.clean),
            15_000,
          );
          assert.equal(cleanOnTip(), 1, "no second clean_jobs for the same tip");
        },
      );
      await t.step("extranonce1 starts with the region index, then the instance", async () => {
        assert.equal(
          r.client.extranonce1[0],
          RELAY_REGION_INDEX,
          "extranonce1 starts with the region",
        );
        const primaryClient = await StratumClient.start({
          host: "127.0.0.1",
          port: r.primary.stratumPort,
          username: `${payout.address}.primary-rig`,
        });
        assert.equal(r.client.extranonce1[1], 0, "then the relay process's --instance");
        assert.equal(primaryClient.extranonce1[0], 0, "the primary's extranonce1 space is 0");
        assert.equal(primaryClient.extranonce1[1], 0, "then the primary process's --instance");
        primaryClient.close();
      });
    } finally {
      for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
      await nc.close();
      await twins.stop();
      await nats.stop();
    }
  },
});
