/**
 * Template distribution against a real nats-server, with the pool runtime in this process: a
 * relay that starts before the primary, NATS restarts, the primary going silent, templates cut to
 * fit a small `max_payload` (and still valid), and the auth token on block submissions.
 *
 * Needs `nats-server` (Debian package "nats-server"); fails, never skips, without it. Every wait
 * is bounded.
 *
 * @module
 */
import assert from "node:assert/strict";
import { connect } from "nats";
import { jetstreamManager } from "nats/jetstream";
import {
  blockTemplateOf,
  isPrimaryTemplateUpdate,
  MINING_TEMPLATES_STREAM_NAME,
  type PrimaryTemplateUpdate,
} from "@tbg/shared/templates";
import { regtestAddress } from "./support/addresses.ts";
import { type Devnet, startDevnet } from "./support/devnet/mod.ts";
import type { GbtTemplate } from "./support/miner/block_assembly.ts";
import { fetchTemplate, solveTemplate } from "./support/miner/gbt_miner.ts";
import { type InProcessPool, startInProcessPool } from "./support/pool_in_process.ts";
import { startNatsServer } from "./support/servers/nats_server.ts";
import { MemoryLog, relaySource, WAIT_MS, waitFor } from "./support/template_relay.ts";

/** A block solved on `gbt`, paying a test address. */
function solve(gbt: unknown): { hex: string; hash: string } {
  const solved = solveTemplate(gbt as GbtTemplate, {
    payoutAddress: regtestAddress("p2wpkh", 5).address,
  });
  assert.ok(solved !== null, "regtest difficulty is solved within the nonce range");
  return solved;
}

function poolWithTemplates(
  devnet: Devnet,
  natsUrl: string,
  templates: Record<string, unknown> = {},
): Promise<InProcessPool> {
  return startInProcessPool(devnet, {
    zmqblock: devnet.zmqUrl,
    events: { enabled: false, nats_url: natsUrl },
    templates: { publish: true, heartbeat_ms: 100, ...templates },
  });
}

Deno.test({
  name: "a relay waits for a primary that starts later, rides out a NATS restart, sees it go",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const nats = await startNatsServer();
    const devnet = await startDevnet();
    const log = new MemoryLog();
    const source = relaySource(nats.url, log, { primaryTimeoutMs: 1_000 });
    const updates: PrimaryTemplateUpdate[] = [];
    let pool: InProcessPool | undefined;
    try {
      const started = source.start((update) => {
        assert.ok(isPrimaryTemplateUpdate(update));
        updates.push(update);
      });
      await waitFor("the relay's connection", () => source.connected || undefined, WAIT_MS, log);
      // Nobody serves block submissions yet: the result says so, it does not throw.
      const early = await source.submitBlockToPrimary(
        solve(
          await fetchTemplate({ url: devnet.rpcUrl, user: devnet.user, password: devnet.password }),
        )
          .hex,
      );
      assert.equal(early.result.accepted, false);
      assert.match(
        early.result.results[0]!.error ?? "",
        /no primary serves mining\.blocks\.submit/,
      );
      await new Promise((resolve) => setTimeout(resolve, 500));
      assert.equal(updates.length, 0);
      assert.equal(source.healthy, false);
      assert.equal(source.lastPrimaryContactAtMs, 0);

      pool = await poolWithTemplates(devnet, nats.url);
      await Promise.race([
        started,
        waitFor("the first template", () => undefined, WAIT_MS, log),
      ]);
      const first = updates[0]!;
      assert.equal(first.template.prevHashHex, devnet.chain.tipHash());
      await waitFor("healthy", () => source.healthy || undefined, WAIT_MS, log);

      // A copy with another reason (as a failover layer makes) is still the primary's template.
      const copy = { ...first, reason: "failover" as const };
      assert.ok(isPrimaryTemplateUpdate(copy));
      assert.equal(blockTemplateOf(copy), first.template);
      assert.equal(copy.gbt.previousblockhash, first.template.prevHashHex);
      assert.equal(copy.gbt.transactions.length, first.template.transactions.length);

      // NATS restarts: the relay reconnects and follows the next block.
      const beforeRestart = source.lastHeartbeat!.sequence;
      await nats.restart();
      await waitFor(
        "a heartbeat after the restart",
        () => (source.lastHeartbeat!.sequence > beforeRestart + 2 ? true : undefined),
        WAIT_MS,
        log,
      );
      const hash = await devnet.mineExternalBlock();
      const next = await waitFor(
        "the template on the block mined after the restart",
        () => updates.find((u) => u.template.prevHashHex === hash),
        WAIT_MS,
        log,
      );
      assert.equal(next.cleanJobs, true);
      assert.equal(next.message.epoch, first.message.epoch);
      assert.ok(next.message.sequence > first.message.sequence);

      // The primary stops: no heartbeat, no template; the source turns unhealthy.
      await pool.stop();
      pool = undefined;
      const silentSince = source.lastPrimaryContactAtMs;
      await waitFor("unhealthy after the primary left", () => !source.healthy || undefined);
      assert.equal(source.lastPrimaryContactAtMs, silentSince);
    } finally {
      await source.stop();
      await pool?.stop();
      await devnet.stop();
      await nats.stop();
    }
  },
});

Deno.test({
  name: "a relay recovers when the templates stream is deleted and the primary recreates it",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const nats = await startNatsServer();
    const devnet = await startDevnet();
    const log = new MemoryLog();
    const source = relaySource(nats.url, log);
    const updates: PrimaryTemplateUpdate[] = [];
    let pool: InProcessPool | undefined;
    const admin = await connect({ servers: nats.url });
    try {
      pool = await poolWithTemplates(devnet, nats.url);
      await source.start((update) => {
        if (isPrimaryTemplateUpdate(update)) updates.push(update);
      });
      // Move the stream's sequence on, so a recreated stream numbers below what the relay saw.
      for (let i = 0; i < 3; i++) {
        const hash = await devnet.mineExternalBlock();
        await waitFor(
          "a block's template",
          () => updates.find((u) => u.template.prevHashHex === hash),
        );
      }
      const jsm = await jetstreamManager(admin);
      await jsm.streams.delete(MINING_TEMPLATES_STREAM_NAME);
      const hash = await devnet.mineExternalBlock();
      const update = await waitFor(
        "the template published into the recreated stream",
        () => updates.find((u) => u.template.prevHashHex === hash),
        40_000,
        log,
      );
      assert.equal(update.cleanJobs, true);
      // A last-value stream again: one full and one live message (the full one lands just after).
      await waitFor(
        "the full and the live message in the recreated stream",
        async () =>
          (await jsm.streams.info(MINING_TEMPLATES_STREAM_NAME)).state.messages === 2 ||
          undefined,
      );
    } finally {
      await admin.close();
      await source.stop();
      await pool?.stop();
      await devnet.stop();
      await nats.stop();
    }
  },
});

Deno.test({
  name: "a template above the server's max_payload is cut to fit and still makes a valid block",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const nats = await startNatsServer({ extraConfig: "max_payload: 65536" });
    const devnet = await startDevnet({ mempoolTarget: 400 });
    const log = new MemoryLog();
    const source = relaySource(nats.url, log);
    let pool: InProcessPool | undefined;
    try {
      pool = await poolWithTemplates(devnet, nats.url);
      const updates: PrimaryTemplateUpdate[] = [];
      await source.start((update) => {
        if (isPrimaryTemplateUpdate(update)) updates.push(update);
      });
      const update = updates[0]!;
      const full = devnet.chain.mempoolTxids().length;
      assert.ok(update.sizeBytes <= 65_536, `${update.sizeBytes} B`);
      assert.ok(
        update.template.transactions.length > 0 && update.template.transactions.length < full,
        `${update.template.transactions.length} of ${full} transactions`,
      );
      assert.ok(pool.runtime.distribution!.metrics.templatesTrimmed.value >= 1);
      // Coinbase value, merkle branch and witness commitment of the cut template are right:
      // the node accepts a block built on it, submitted through the primary.
      const solved = solve(update.gbt);
      const result = await source.submitBlock(solved.hex);
      assert.equal(result.accepted, true, JSON.stringify(result));
      assert.equal(devnet.chain.tipHash(), solved.hash);
    } finally {
      await source.stop();
      await pool?.stop();
      await devnet.stop();
      await nats.stop();
    }
  },
});

Deno.test({
  name: "with relay_auth_tokens the primary refuses submissions without one of them",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const nats = await startNatsServer();
    const devnet = await startDevnet();
    const log = new MemoryLog();
    const anonymous = relaySource(nats.url, log);
    const wrong = relaySource(nats.url, log, { authToken: "guess" });
    const member = relaySource(nats.url, log, { authToken: "s3cret-us-east" });
    let pool: InProcessPool | undefined;
    try {
      pool = await poolWithTemplates(devnet, nats.url, {
        relay_auth_tokens: ["s3cret-asia", "s3cret-us-east"],
      });
      const updates: PrimaryTemplateUpdate[] = [];
      await anonymous.start((update) => {
        if (isPrimaryTemplateUpdate(update)) updates.push(update);
      });
      await wrong.start(() => {});
      await member.start(() => {});
      const solved = solve(updates[0]!.gbt);
      const refused = await anonymous.submitBlockToPrimary(solved.hex);
      assert.equal(refused.result.accepted, false);
      assert.equal(refused.reply?.ok, false);
      assert.match(
        refused.result.results[0]!.error ?? "",
        /^unauthorized: .*carries no auth token and this primary requires one/,
      );
      const guessed = await wrong.submitBlockToPrimary(solved.hex);
      assert.match(guessed.result.results[0]!.error ?? "", /auth token is not accepted/);
      assert.notEqual(devnet.chain.tipHash(), solved.hash, "refused blocks are not submitted");
      const accepted = await member.submitBlockToPrimary(solved.hex);
      assert.equal(accepted.result.accepted, true, JSON.stringify(accepted.result));
      assert.ok(accepted.roundTripMs > 0);
      assert.equal(devnet.chain.tipHash(), solved.hash);
      const counts = pool.runtime.distribution!.metrics.relayBlockSubmissions;
      assert.equal(counts.refused.value, 2);
      assert.equal(counts.accepted.value, 1);
    } finally {
      await Promise.all([anonymous.stop(), wrong.stop(), member.stop()]);
      await pool?.stop();
      await devnet.stop();
      await nats.stop();
    }
  },
});
