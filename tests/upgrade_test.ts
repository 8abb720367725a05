/**
 * Zero-downtime upgrade and rollback (seed Phase 5 §4.3–§4.4, issue 14 item 5): `deno task
 * upgrade` moves the miners of a pool host from instance 0 (the "old version") to instance 1 (the
 * "new version", on the same Stratum port through reuse_port) and back, while support CPU miners
 * submit real shares throughout; then an upgrade whose gate fails rolls itself back.
 *
 * Both instances run this checkout (one version is all there is to run here); what is under test
 * is the move: the tool's start/health/drain/gate steps and the pool's drain (listener closed
 * first, client.reconnect spread over `drain_reconnect_window_ms`, events flushed, exit 0).
 *
 * Asserted:
 * - each move tells every miner to reconnect once, and one connection attempt gives it work
 *   again, on the instance the tool moved it to (the second byte of its extranonce1);
 * - no connection is closed under a miner without a client.reconnect first;
 * - every share submitted is answered exactly once: none lost to a close, no answer unmatched;
 * - the events exactly once: JetStream holds every event once under its own id; its share
 *   events per worker equal what the miners saw answered; miner_connected per worker equals
 *   their connections; PostgreSQL's mining_events and shares hold the same, once each.
 *
 * Needs nats-server, redis-server and PostgreSQL; fails, never skips, without them.
 *
 * @module
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { EVENT_PIPELINE_DURABLE, MINING_EVENTS_STREAM_NAME } from "@tbg/shared/nats";
import { regtestAddress, type TestAddressType } from "./support/addresses.ts";
import { readStream } from "./support/pipeline/exact_check.ts";
import { waitFor } from "./support/pipeline/stack.ts";
import { reporter } from "./support/sim/scenario_layout.ts";
import { ReconnectingRig } from "./support/upgrade/reconnecting_rig.ts";
import { startUpgradeHost, type UpgradeHost } from "./support/upgrade/upgrade_host.ts";

const ROOT = fileURLToPath(new URL("../", import.meta.url));
const report = reporter("upgrade");
const OLD = 0;
const NEW = 1;
const MINER_TYPES: readonly TestAddressType[] = ["p2wpkh", "p2tr", "p2pkh", "p2wpkh"];
/** Each miner answers about 23 shares a second at the host's share difficulty. */
const HASHES_PER_SECOND = 20_000;
/** Reconnects spread over this; short, so the test stays short. */
const DRAIN_WINDOW_MS = 500;

/** Runs `deno task upgrade …` as an operator does; resolves with its exit code and output. */
async function upgrade(host: UpgradeHost, extra: readonly string[]): Promise<[number, string]> {
  const result = await new Deno.Command(Deno.execPath(), {
    args: [
      "task",
      "-q",
      "upgrade",
      "--old",
      String(OLD),
      "--new",
      String(NEW),
      "--config-dir",
      host.etc,
      "--start",
      host.hooks.start,
      "--stop",
      host.hooks.stop,
      "--soak-s",
      "1",
      "--poll-ms",
      "250",
      "--health-timeout-s",
      "30",
      "--stop-timeout-s",
      "30",
      // The devnet finds a block about every 150 shares, so stale shares are a large part of
      // the rejects here, and now and then a block found on a job its own block had just made
      // stale is refused (a block submit failure, an "error"); the thresholds themselves are
      // tools/upgrade_gates_test.ts's.
      "--max-reject-ratio",
      "0.5",
      "--max-error-ratio",
      "0.2",
      ...extra,
    ],
    cwd: ROOT,
    env: { DENO: Deno.execPath(), NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder();
  return [result.code, text.decode(result.stdout) + text.decode(result.stderr)];
}

/** Waits until every rig has made `moves` reconnects, and checks each one. */
async function assertMoved(rigs: readonly ReconnectingRig[], moves: number, to: number) {
  await waitFor(`every miner to reconnect (move ${moves})`, (note) => {
    note(rigs.map((r) => `${r.options.worker}: ${r.reconnects.length}`).join(", "));
    return rigs.every((r) => r.reconnects.length >= moves);
  }, 20_000);
  for (const rig of rigs) {
    assert.equal(rig.reconnects.length, moves, `${rig.options.worker}: one reconnect per move`);
    const last = rig.reconnects.at(-1)!;
    assert.equal(last.attempts, 1, `${rig.options.worker}: first connection attempt taken`);
    assert.notEqual(last.workAtMs, null, `${rig.options.worker}: work after the reconnect`);
    assert.equal(last.extranonce1[1], to, `${rig.options.worker}: now on instance ${to}`);
    assert.equal(rig.unexpectedCloses, 0, `${rig.options.worker}: closed without a reconnect`);
  }
}

/** Answered shares over all rigs. */
const answered = (rigs: readonly ReconnectingRig[]) =>
  rigs.reduce((sum, r) => sum + r.accepted + r.rejected, 0);

async function mineShares(rigs: readonly ReconnectingRig[], shares: number, what: string) {
  const target = answered(rigs) + shares;
  await waitFor(what, (note) => {
    note(`answered ${answered(rigs)}/${target}`);
    return answered(rigs) >= target;
  }, 20_000);
}

/** Every event once in JetStream and PostgreSQL, and the miners' counts equal the events'. */
async function assertEventsOnce(host: UpgradeHost, rigs: readonly ReconnectingRig[]) {
  const stream = MINING_EVENTS_STREAM_NAME;
  await waitFor("the collector to acknowledge the whole stream", async (note) => {
    const lastSeq = (await host.jsm.streams.info(stream)).state.last_seq;
    const info = await host.jsm.consumers.info(stream, EVENT_PIPELINE_DURABLE);
    note(
      `last_seq ${lastSeq}, pending ${info.num_pending}, ack floor ${info.ack_floor.stream_seq}`,
    );
    return info.num_pending === 0 && info.num_ack_pending === 0 &&
      info.ack_floor.stream_seq >= lastSeq;
  });
  const messages = await readStream(host);
  const ids = new Set<string>();
  const shares = new Map<string, { accepted: number; rejected: number }>();
  const connected = new Map<string, number>();
  for (const message of messages) {
    const { event } = message;
    assert.equal(message.msgId, event.event_id, `Nats-Msg-Id of seq ${message.seq}`);
    assert.ok(!ids.has(event.event_id), `event ${event.event_id} stored twice`);
    ids.add(event.event_id);
    if (event.event === "share_submitted") {
      const key = `${event.data.user}.${event.data.worker}`;
      const counts = shares.get(key) ?? { accepted: 0, rejected: 0 };
      if (event.data.accepted) counts.accepted++;
      else counts.rejected++;
      shares.set(key, counts);
    } else if (event.event === "miner_connected") {
      const key = `${event.data.user}.${event.data.worker}`;
      connected.set(key, (connected.get(key) ?? 0) + 1);
    }
  }
  for (const rig of rigs) {
    assert.deepEqual(
      shares.get(rig.username),
      { accepted: rig.accepted, rejected: rig.rejected },
      `${rig.options.worker}: share events vs answers the miner saw`,
    );
    assert.equal(connected.get(rig.username), rig.connections, `${rig.options.worker}: connects`);
  }
  const rows = await host.sql<{ id: string }[]>`SELECT event_id::text AS id FROM mining_events`;
  const stored = new Set(rows.map((row) => row.id));
  assert.equal(stored.size, rows.length, "mining_events holds an event twice");
  assert.deepEqual(
    { missing: [...ids].filter((id) => !stored.has(id)).length, extra: stored.size - ids.size },
    { missing: 0, extra: 0 },
    "mining_events vs JetStream",
  );
  const shareRows = await host.sql<
    { user: string; worker: string; accepted: boolean; n: number }[]
  >`
    SELECT "user", worker, accepted, count(*)::int AS n FROM shares GROUP BY 1, 2, 3`;
  for (const rig of rigs) {
    const count = (accepted: boolean) =>
      shareRows.find((r) => `${r.user}.${r.worker}` === rig.username && r.accepted === accepted)
        ?.n ?? 0;
    assert.deepEqual(
      { accepted: count(true), rejected: count(false) },
      { accepted: rig.accepted, rejected: rig.rejected },
      `${rig.options.worker}: shares table`,
    );
  }
  return messages.length;
}

Deno.test({
  name: "deno task upgrade: miners move to the new instance and back, every share and event once",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const startedAt = Date.now();
    const host = await startUpgradeHost({ instances: [OLD, NEW], drainWindowMs: DRAIN_WINDOW_MS });
    const rigs = MINER_TYPES.map((type, i) =>
      new ReconnectingRig({
        port: host.stratumPort,
        user: regtestAddress(type, 60 + i).address,
        worker: `rig${i}`,
        hashesPerSecond: HASHES_PER_SECOND,
      })
    );
    const outputs: string[] = [];
    const phases: string[] = [];
    let phaseAt = startedAt;
    const phase = (name: string) => {
      phases.push(`${name} ${((Date.now() - phaseAt) / 1000).toFixed(1)} s`);
      phaseAt = Date.now();
    };
    phase("servers");
    try {
      await host.ctl("start", OLD);
      await waitFor(
        "instance 0 to log pool ready",
        async () => (await host.logTail(OLD, 200)).includes('"pool ready"'),
        30_000,
      );
      for (const rig of rigs) await rig.start();
      await mineShares(rigs, 20, "shares on the old instance");
      phase("old instance and miners");

      // 1. Upgrade: instance 1 started on the same port, instance 0 drained.
      const [upCode, upOut] = await upgrade(host, []);
      outputs.push(upOut);
      assert.equal(upCode, 0, `upgrade exit code\n${upOut}`);
      assert.match(upOut, /gate shares: pass/);
      phase("upgrade");
      await assertMoved(rigs, 1, NEW);
      await mineShares(rigs, 20, "shares on the new instance");

      // 2. Rollback on request: instance 0 again, instance 1 drained.
      const [backCode, backOut] = await upgrade(host, ["--rollback"]);
      outputs.push(backOut);
      assert.equal(backCode, 0, `rollback exit code\n${backOut}`);
      phase("rollback");
      await assertMoved(rigs, 2, OLD);
      await mineShares(rigs, 20, "shares after the rollback");

      // 3. A gate that cannot pass (more shares than the soak can bring): automatic rollback.
      const [autoCode, autoOut] = await upgrade(host, ["--min-shares", "1000000"]);
      outputs.push(autoOut);
      assert.equal(autoCode, 3, `a failed gate exits 3 after rolling back\n${autoOut}`);
      assert.match(autoOut, /gate shares: FAIL/);
      assert.match(autoOut, /rolled back: instances 0 serve the port/);
      phase("failed upgrade, rolled back");
      await assertMoved(rigs, 4, OLD);
      await mineShares(rigs, 20, "shares after the automatic rollback");

      for (const rig of rigs) {
        assert.deepEqual(
          rig.reconnects.map((m) => m.extranonce1[1]),
          [NEW, OLD, NEW, OLD],
          `${rig.options.worker}: the instance after each move`,
        );
      }
      await Promise.all(rigs.map((rig) => rig.stop()));
      for (const rig of rigs) {
        const name = rig.options.worker;
        assert.equal(rig.lost, 0, `${name}: shares lost to a closed connection`);
        assert.equal(rig.unmatched, 0, `${name}: answers matching no submit (answered twice)`);
        assert.equal(rig.submitted, rig.accepted + rig.rejected, `${name}: every submit answered`);
      }
      // Instance 0 drains like any stop: its last events reach NATS before it exits.
      await host.ctl("stop", OLD);
      const events = await assertEventsOnce(host, rigs);
      phase("checks");
      const gaps = rigs.flatMap((r) =>
        r.reconnects.map((m) => Math.round(m.workAtMs! - m.toldAtMs))
      )
        .sort((a, b) => a - b);
      report(
        `${rigs.length} miners, 4 moves each (upgrade, rollback, upgrade + automatic rollback); ` +
          `${answered(rigs)} shares answered once each, ${events} events once each; ` +
          `client.reconnect → work on the new process: median ${gaps[gaps.length >> 1]} ms, ` +
          `max ${gaps.at(-1)} ms (window ${DRAIN_WINDOW_MS} ms); ` +
          `${Math.round((Date.now() - startedAt) / 1000)} s: ${phases.join(", ")}`,
      );
    } catch (error) {
      const logs = [OLD, NEW].map(async (n) =>
        `--- instance ${n} ---\n${await host.logTail(n, 40)}`
      );
      await Deno.stderr.write(
        new TextEncoder().encode(
          `${outputs.join("\n")}\n${(await Promise.all(logs)).join("\n")}\n`,
        ),
      );
      throw error;
    } finally {
      await Promise.all(rigs.map((rig) => rig.stop().catch(() => {})));
      await host.close();
    }
  },
});
