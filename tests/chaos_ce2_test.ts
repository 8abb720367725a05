/**
 * Chaos CE2 (seed Phase 5 §7.2, "kill Bitcoin Core → graceful degradation; events pause, resume
 * on recovery"): the pool (its own process) runs with two nodes in `btcd[]`, two devnets holding
 * one chain (`startStack({ standbyNode: true })`). "Killing" a node closes its RPC listener: to
 * the pool that is a dead bitcoind (connection refused); the devnet keeps its chain in memory,
 * as Core keeps it on disk across a restart. While three miners submit:
 *
 * 1. The first node dies: the pool switches to the standby node (the switch itself, the
 *    health-check failback and IBD rules are `tests/bitcoind_failover_test.ts`'s; here it is the
 *    whole pool): clean_jobs only on a new tip (the failover template builds on the same one),
 *    shares answered, blocks accepted by the standby.
 * 2. The standby dies too, no node left: miners keep their last job (not one mining.notify, so no
 *    clean_jobs storm) and every submit is answered, accepted against that job; `/health` answers
 *    503 and says why (`bitcoind_connected: no eligible node (<url>: … connection failed …)`,
 *    `template_source: cannot deliver new templates`), `ckpool_bitcoin_connected` is 0. Share events keep flowing (real shares on
 *    valid work); the node-driven events pause: a block found meanwhile is kept and retried, and
 *    its `block_found` comes only with a node's verdict.
 * 3. The standby returns: the pool takes it again, the kept blocks are submitted at once (the
 *    first template wakes the block keeper); found on one job, they share a height: one is
 *    accepted, the others refused. New work flows: every miner gets a clean_jobs notify on the
 *    accepted block and its shares on the new job are accepted; `/health` is 200.
 * 4. Nothing lost or counted twice: the full check of `tests/support/pipeline/exact_check.ts`,
 *    against the standby's chain (the first node missed the blocks found while it was down).
 *
 * Needs nats-server, redis-server and PostgreSQL; fails, never skips, without them.
 *
 * @module
 */
import assert from "node:assert/strict";
import type { MiningEvent } from "@tbg/shared/events";
import { assertPipelineExact } from "./support/pipeline/exact_check.ts";
import {
  answered,
  mine,
  poolMetric,
  SHARE_DIFFICULTY,
  type Stack,
  startMining,
  startStack,
  stopMining,
  waitFor,
} from "./support/pipeline/stack.ts";
import { reporter } from "./support/sim/scenario_layout.ts";

const report = reporter("ce2");

/** mining.notify messages each miner received, and the clean_jobs ones. */
interface NotifyCount {
  all: number;
  /** prevhash (as sent, Stratum word order) of every clean_jobs notify. */
  readonly cleanPrevHashes: Set<string>;
  /** clean_jobs notifies whose prevhash an earlier notify already carried (not a new tip). */
  cleanRepeats: number;
  /** prevhash of the latest notify. */
  lastPrevHash: string;
}

function countNotifies(stack: Stack): Map<string, NotifyCount> {
  const counts = new Map<string, NotifyCount>();
  for (const rig of stack.rigs) {
    const count: NotifyCount = {
      all: 0,
      cleanPrevHashes: new Set(),
      cleanRepeats: 0,
      lastPrevHash: "",
    };
    counts.set(rig.worker, count);
    const seen = new Set<string>();
    rig.client.onNotification((method, params) => {
      if (method !== "mining.notify") return;
      count.all++;
      const prevHash = String(params[1]);
      if (params[8] === true) {
        if (seen.has(prevHash)) count.cleanRepeats++;
        count.cleanPrevHashes.add(prevHash);
      }
      seen.add(prevHash);
      count.lastPrevHash = prevHash;
    });
  }
  return counts;
}

function snapshot(counts: Map<string, NotifyCount>): Map<string, NotifyCount> {
  return new Map(
    [...counts].map(([worker, count]) => [worker, {
      ...count,
      cleanPrevHashes: new Set(count.cleanPrevHashes),
    }]),
  );
}

/** Stratum's prevhash field: the hash's bytes in internal order, each 4-byte word reversed. */
function stratumPrevHash(displayHash: string): string {
  const internal = displayHash.match(/../g)!.reverse().join("");
  return internal.match(/.{8}/g)!.map((word) => word.match(/../g)!.reverse().join("")).join("");
}

interface Health {
  readonly status: number;
  readonly body: { ok: boolean; checks: Record<string, { ok: boolean; detail: string }> };
}

async function health(stack: Stack): Promise<Health> {
  const response = await fetch(`http://127.0.0.1:${stack.pool.metricsPort}/health`);
  return { status: response.status, body: await response.json() };
}

function accepted(stack: Stack): number {
  return stack.rigs.reduce((sum, rig) => sum + rig.accepted, 0);
}

Deno.test({
  name: "chaos CE2: node killed — failover, miners keep last work, /health says why, recovers",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    // A block about every 50 shares: phase 2 waits for one found while no node answers.
    const stack = await startStack({
      standbyNode: true,
      networkDifficulty: SHARE_DIFFICULTY * 50,
    });
    const [first, standby] = [stack.devnet, stack.standby!];
    try {
      const notifies = countNotifies(stack);
      startMining(stack);
      await mine(stack, "shares on the first node", 40);

      // 1. The first node dies: the standby takes over.
      await first.setUnreachable(true);
      const standbyFrom = standby.chain.tipHeight();
      await stack.pool.waitForLog((l) =>
        l.msg === "bitcoind node switch" && String(l.toUrl).endsWith(`:${standby.rpcPort}`)
      );
      await mine(stack, "shares on the standby node", 60);
      await waitFor("a block found on the standby", () => standby.chain.tipHeight() > standbyFrom);
      for (const [worker, count] of notifies) {
        // The failover template builds on the same tip: a clean_jobs there would repeat it.
        assert.equal(count.cleanRepeats, 0, `${worker}: clean_jobs only on a new tip`);
      }
      assert.equal((await health(stack)).status, 200, "healthy on the standby");

      // 2. The standby dies too: no node left. Nobody mines across the edge: a block the standby
      // accepts in the instant it goes down moves its tip while the pool, unable to fetch a
      // template, keeps the miners on the old one, and every block kept in the outage would be
      // stale (a clean-clone CI run on a loaded host saw exactly that). So mining stops, every
      // block submission ends and every miner's work is on the standby's tip first.
      await stopMining(stack.rigs);
      await waitFor("every block submission answered and the work on the standby's tip", () => {
        const found = stack.pool.logs.filter((l) => l.msg === "block candidate found, submitting");
        const submitted = stack.pool.logs.filter((l) => l.msg === "block submitted");
        const tip = stratumPrevHash(standby.chain.tipHash());
        return found.length === submitted.length &&
          [...notifies.values()].every((count) => count.lastPrevHash === tip);
      });
      await standby.setUnreachable(true);
      const downAt = Date.now();
      await waitFor("/health to say the node is unreachable", async (note) => {
        const { status, body } = await health(stack);
        note(`${status} ${JSON.stringify(body.checks)}`);
        // The detail names each node and why it is not usable (here: connection refused).
        const detail = body.checks.bitcoind_connected?.detail ?? "";
        return status === 503 && /^no eligible node \(.*connection failed/.test(detail) &&
          body.checks.template_source?.detail === "cannot deliver new templates";
      });
      await waitFor(
        "ckpool_bitcoin_connected to read 0",
        async () => await poolMetric(stack, "ckpool_bitcoin_connected") === 0,
      );
      startMining(stack);
      const atOutage = snapshot(notifies);
      const acceptedAtOutage = accepted(stack);
      const answeredAtOutage = answered(stack.rigs);
      const isOutageCandidate = (l: Record<string, unknown>) =>
        l.msg === "block candidate found, submitting" && Date.parse(String(l.ts)) >= downAt;
      const candidate = await stack.pool.waitForLog(isOutageCandidate, 30_000);
      await stack.pool.waitForLog((l) =>
        l.msg === "no node could take the block; retrying" && l.hash === candidate.hash
      );
      await mine(stack, "shares with no node at all", 40);
      // Stopped before the node returns: a block found in the second before the pool sees it
      // again would go straight to it and take the kept blocks' height (a race between two
      // valid blocks that this test leaves out; it only decides which miner's block wins).
      await stopMining(stack.rigs);
      for (const [worker, count] of notifies) {
        assert.equal(count.all, atOutage.get(worker)!.all, `${worker}: no new job without a node`);
      }
      assert.ok(accepted(stack) > acceptedAtOutage, "shares on the last job are still accepted");
      const outageMs = Date.now() - downAt;

      // 3. The standby returns: the kept blocks go out (all at one height: one wins), new work
      // flows.
      const backAt = Date.now();
      const kept = stack.pool.logs.filter(isOutageCandidate).map((l) => String(l.hash));
      await standby.setUnreachable(false);
      let winner = "";
      await waitFor("a kept block on the standby's chain", (note) => {
        note(`kept ${kept.join(", ")}`);
        winner = kept.find((hash) => standby.chain.block(hash)?.onActiveChain === true) ?? "";
        return winner !== "";
      });
      const keptBlockMs = Date.now() - backAt;
      const onBlock = stratumPrevHash(winner);
      for (const rig of stack.rigs) {
        await waitFor(
          `${rig.worker} to get new work on the kept block`,
          () => notifies.get(rig.worker)!.cleanPrevHashes.has(onBlock),
        );
      }
      const acceptedAtReturn = accepted(stack);
      startMining(stack);
      await mine(stack, "shares after the node returned", 40);
      assert.ok(accepted(stack) > acceptedAtReturn, "shares on the new work are accepted");
      const back = await health(stack);
      assert.equal(back.status, 200, `healthy again: ${JSON.stringify(back.body.checks)}`);

      await stopMining(stack.rigs);
      const events = await assertPipelineExact(stack, undefined, standby);
      for (const hash of kept) {
        const found = [...events.values()].find((e): e is Extract<MiningEvent, {
          event: "block_found";
        }> => e.event === "block_found" && e.data.hash === hash);
        assert.ok(found !== undefined, `the kept block ${hash}'s block_found event`);
        assert.equal(found.data.accepted, hash === winner, `${hash}: accepted only if it won`);
        assert.ok(
          found.timestamp / 1000 >= backAt,
          `block_found waited for the node: emitted at ${found.timestamp / 1000} ms, node back ` +
            `at ${backAt} ms`,
        );
      }
      report(
        `failover to the standby; no node for ${outageMs} ms: ` +
          `${answered(stack.rigs) - answeredAtOutage}+ shares answered on the last job, no ` +
          `mining.notify; ${kept.length} kept blocks, ${winner} on the chain ${keptBlockMs} ms after ` +
          `the node returned; ${events.size} events once each`,
      );
    } catch (error) {
      await Deno.stderr.write(new TextEncoder().encode(`${stack.logTail()}\n`));
      throw error;
    } finally {
      await standby.setUnreachable(false).catch(() => {});
      await first.setUnreachable(false).catch(() => {});
      await stack.close();
    }
  },
});
