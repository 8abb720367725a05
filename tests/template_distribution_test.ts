/**
 * Template distribution and relay block submission end to end: a real nats-server with
 * JetStream, a devnet node, the real pool process (through the launcher, `templates.publish`
 * on) as the primary, and a relay-side {@link NatsTemplateSource} in this process.
 *
 * - a relay that connects after the pool gets the current template at once (from the
 *   last-value stream), and the relay's template is the primary's, byte for byte;
 * - a new block on the devnet reaches the relay as a clean_jobs template within a short bound,
 *   with a sane latency (reported);
 * - a block solved on the relay's template and sent over NATS is accepted by the primary's node;
 * - malformed submissions get error replies that say what is wrong;
 * - heartbeats continue while the chain is quiet.
 *
 * Needs `nats-server` (Debian package "nats-server"); fails, never skips, without it. Every wait
 * is bounded.
 *
 * @module
 */
import assert from "node:assert/strict";
import { connect, type NatsConnection } from "nats";
import { jetstreamManager } from "nats/jetstream";
import { sha256d } from "@tbg/shared/bitcoin";
import { templateFromGbt } from "@tbg/shared/engine";
import { blockSubmitSubject } from "@tbg/shared/nats";
import {
  type BlockSubmitReply,
  decodeBlockSubmitReply,
  encodeBlockSubmitRequest,
  isPrimaryTemplateUpdate,
  MINING_TEMPLATES_STREAM_NAME,
  NatsTemplateSource,
  type PrimaryTemplateUpdate,
} from "@tbg/shared/templates";
import { regtestAddress } from "./support/addresses.ts";
import { startDevnet } from "./support/devnet/mod.ts";
import type { GbtTemplate } from "./support/miner/block_assembly.ts";
import { solveTemplate } from "./support/miner/gbt_miner.ts";
import { startPoolProcess } from "./support/pool_process.ts";
import { startNatsServer } from "./support/servers/nats_server.ts";
import { MemoryLog, waitFor } from "./support/template_relay.ts";

const HEARTBEAT_MS = 200;
/** A relay that connects after the pool must have the current template within this. */
const CURRENT_TEMPLATE_BOUND_MS = 2_000;
/** A new block must reach the relay as a clean template within this (the pool hears it by ZMQ). */
const NEW_BLOCK_BOUND_MS = 2_000;

/** Prints a measured figure (kept in the test output for the report). */
function report(line: string): void {
  Deno.stdout.writeSync(new TextEncoder().encode(`${line}\n`));
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

async function request(nc: NatsConnection, payload: Uint8Array): Promise<BlockSubmitReply> {
  const msg = await nc.request(blockSubmitSubject, payload, { timeout: 10_000 });
  return decodeBlockSubmitReply(msg.data);
}

function expectError(reply: BlockSubmitReply, code: string, pattern: RegExp): void {
  assert.equal(reply.ok, false, `expected an error reply, got ${JSON.stringify(reply)}`);
  if (reply.ok) return;
  assert.equal(reply.error.code, code, reply.error.message);
  assert.match(reply.error.message, pattern);
  assert.equal(reply.region, "eu");
}

Deno.test({
  name: "templates reach a relay at once and on every block; relay blocks go through the primary",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const nats = await startNatsServer();
    const devnet = await startDevnet({ mempoolTarget: 300 });
    const lines: string[] = [];
    const log = new MemoryLog(lines);
    let pool: Awaited<ReturnType<typeof startPoolProcess>> | undefined;
    let source: NatsTemplateSource | undefined;
    let raw: NatsConnection | undefined;
    try {
      pool = await startPoolProcess(devnet, {
        templates: { publish: true, heartbeat_ms: HEARTBEAT_MS },
        events: { enabled: false, nats_url: nats.url },
        // No refresh while the chain is quiet: only blocks make templates here.
        update_interval: 600,
      });
      const tip = devnet.chain.tipHash();

      // The pool has stored its startup template in the last-value stream.
      raw = await connect({ servers: nats.url });
      const jsm = await jetstreamManager(raw);
      await waitFor("the startup template in the stream", async () => {
        try {
          await jsm.streams.getMessage(MINING_TEMPLATES_STREAM_NAME, {
            last_by_subj: "mining.templates.regtest",
          });
          return true;
        } catch {
          return undefined;
        }
      });

      const updates: PrimaryTemplateUpdate[] = [];
      source = new NatsTemplateSource({
        servers: [nats.url],
        name: "relay-us-east-test",
        network: "regtest",
        region: "us-east",
        primaryRegion: "eu",
        log,
        submitTimeoutMs: 10_000,
      });
      const startedAt = performance.now();
      const started = source.start((update) => {
        assert.ok(isPrimaryTemplateUpdate(update));
        updates.push(update);
      });
      await waitFor("the relay's first template", () => updates.length > 0 ? true : undefined);
      await started;
      const startMs = performance.now() - startedAt;
      assert.ok(
        startMs < CURRENT_TEMPLATE_BOUND_MS,
        `current template after ${startMs.toFixed(1)} ms\n${lines.join("\n")}`,
      );
      const current = updates[0]!;
      assert.equal(current.replayed, true, "the startup template was stored before we connected");
      assert.equal(current.template.prevHashHex, tip);
      assert.equal(current.template.height, devnet.chain.tipHeight() + 1);
      assert.equal(current.reason, "startup");
      assert.equal(current.cleanJobs, true);
      assert.equal(current.message.originRegion, "eu");
      assert.ok(current.template.transactions.length > 0, "the devnet mempool is in the template");
      // The engine's template from the message equals what templateFromGbt builds from its gbt.
      assert.deepEqual(
        { ...templateFromGbt(current.gbt, 0), receivedAtMs: 0 },
        { ...current.template, receivedAtMs: 0 },
      );

      // New blocks: each reaches the relay as a clean, live template.
      const latencies: number[] = [];
      const arrivals: number[] = [];
      for (let i = 0; i < 5; i++) {
        const seen = updates.length;
        const hash = await devnet.mineExternalBlock();
        const update = await waitFor(
          `the template on block ${hash}`,
          () => updates.slice(seen).find((u) => u.template.prevHashHex === hash),
          NEW_BLOCK_BOUND_MS,
        );
        // The primary's getblocktemplate answer → ready at the relay (both clocks on this host).
        arrivals.push(update.receivedAtMs - update.message.templateAtMs);
        assert.equal(update.cleanJobs, true);
        assert.equal(update.reason, "new_block");
        assert.equal(update.replayed, false);
        assert.ok(
          update.latencyMs >= 0 && update.latencyMs < 1_000,
          `latency ${update.latencyMs} ms`,
        );
        // One more template at least (the pool may send a refresh as well).
        assert.ok(update.message.sequence > (updates[seen - 1] ?? current).message.sequence);
        latencies.push(update.latencyMs);
      }
      report(
        `template primary→relay latency ms (5 blocks, ${
          updates.at(-1)!.template.transactions.length
        } txs, ${updates.at(-1)!.sizeBytes} B): median ${median(latencies).toFixed(2)}, max ${
          Math.max(...latencies).toFixed(2)
        }; primary's template arrival → relay ms: median ${median(arrivals).toFixed(2)}; ` +
          `connect → current template ${startMs.toFixed(1)} ms`,
      );
      assert.equal(source.lastLatencyMs, latencies.at(-1));

      // A block solved on the relay's template, sent to the primary over NATS.
      const work = updates.at(-1)!;
      const payout = regtestAddress("p2wpkh", 77).address;
      const solved = solveTemplate(work.gbt as unknown as GbtTemplate, {
        payoutAddress: payout,
        coinbaseTag: "/relay-us-east/",
      });
      assert.ok(solved !== null, "regtest difficulty is solved within the nonce range");
      const outcome = await source.submitBlockToPrimary(solved.hex);
      assert.equal(outcome.result.accepted, true, JSON.stringify(outcome.result));
      assert.equal(outcome.result.blockHash, solved.hash);
      assert.equal(outcome.result.tipMoved, true);
      assert.equal(outcome.reply?.region, "eu");
      assert.equal(devnet.chain.tipHash(), solved.hash);
      assert.equal(devnet.chain.coinbase(solved.hash)?.outputs[0]?.address, payout);
      // The primary moves on to the relay's block and tells the relays.
      const onTop = await waitFor(
        "the template on the relay's block",
        () => updates.find((u) => u.template.prevHashHex === solved.hash),
        NEW_BLOCK_BOUND_MS,
      );
      assert.equal(onTop.cleanJobs, true);
      // The same block again is a duplicate, which Core counts as accepted.
      assert.equal((await source.submitBlock(solved.hex)).accepted, true);

      // Malformed submissions get error replies saying what is wrong.
      expectError(
        await request(raw, new TextEncoder().encode("hello")),
        "bad_request",
        /Cannot decode block submission: .*(magic|truncated)/,
      );
      const block = Uint8Array.from(solved.hex.match(/../g)!.map((h) => parseInt(h, 16)));
      const base = {
        sentAtMs: Date.now(),
        height: onTop.template.height - 1,
        blockHash: sha256d(block.subarray(0, 80)),
        region: "us-east",
        network: "regtest",
        authToken: "",
        block,
      };
      expectError(
        await request(raw, encodeBlockSubmitRequest({ ...base, blockHash: new Uint8Array(32) })),
        "bad_request",
        /is not the header's hash/,
      );
      expectError(
        await request(raw, encodeBlockSubmitRequest({ ...base, height: base.height + 1 })),
        "bad_request",
        /is not the coinbase's BIP34 height/,
      );
      expectError(
        await request(raw, encodeBlockSubmitRequest({ ...base, network: "mainnet" })),
        "wrong_network",
        /it is for mainnet, this primary mines regtest/,
      );
      // The same block with a nonce whose hash misses the target.
      const weak = block.slice();
      const view = new DataView(weak.buffer);
      let weakHash = sha256d(weak.subarray(0, 80));
      for (let nonce = 0; nonce < 1_000 && (weakHash[31]! & 0x80) === 0; nonce++) {
        view.setUint32(76, nonce, true);
        weakHash = sha256d(weak.subarray(0, 80));
      }
      expectError(
        await request(
          raw,
          encodeBlockSubmitRequest({ ...base, block: weak, blockHash: weakHash }),
        ),
        "bad_request",
        /does not meet its header's nBits 0x207fffff/,
      );
      await assert.rejects(() => source!.submitBlock("zz"), TypeError);

      // Quiet chain: heartbeats continue, no template.
      const beforeTemplates = source.templatesReceived;
      const beforeBeat = source.lastHeartbeat!.sequence;
      await new Promise((resolve) => setTimeout(resolve, 6 * HEARTBEAT_MS));
      const beats = source.lastHeartbeat!.sequence - beforeBeat;
      assert.ok(beats >= 3, `${beats} heartbeats in ${6 * HEARTBEAT_MS} ms`);
      assert.equal(source.templatesReceived, beforeTemplates);
      assert.equal(source.lastHeartbeat!.templatesHealthy, true);
      assert.equal(source.lastHeartbeat!.templateSequence, source.lastSequence);
      assert.ok(performance.timeOrigin + performance.now() - source.lastHeartbeatAtMs < 1_000);
      assert.equal(source.healthy, true);

      const metrics = await (await fetch(`http://127.0.0.1:${pool.metricsPort}/metrics`)).text();
      const value = (line: string) => {
        const match = metrics.split("\n").find((l) => l.startsWith(line));
        return match === undefined ? NaN : Number(match.slice(match.lastIndexOf(" ") + 1));
      };
      assert.ok(value("ckpool_templates_published_total") >= 7, metrics);
      // Every live message is counted by kind; the startup template had no base to diff against.
      assert.ok(value('ckpool_template_bytes_sent_total{kind="full"') >= current.sizeBytes);
      assert.equal(
        value('ckpool_template_messages_sent_total{kind="full"') +
          value('ckpool_template_messages_sent_total{kind="delta"'),
        value("ckpool_templates_published_total"),
      );
      assert.equal(value('ckpool_relay_block_submissions_total{outcome="accepted"'), 2);
      assert.equal(value('ckpool_relay_block_submissions_total{outcome="refused"'), 5);
      assert.ok(value("ckpool_primary_heartbeats_total") > 0);
      assert.equal(value("ckpool_template_publish_failures_total"), 0);
    } finally {
      await source?.stop();
      await raw?.close();
      const code = pool === undefined ? 0 : await pool.stop();
      await devnet.stop();
      await nats.stop();
      assert.equal(code, 0, "the pool drains and exits 0");
    }
  },
});
