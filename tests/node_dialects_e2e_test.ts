/**
 * The pool against every node dialect the devnet speaks (Core, Core 0.21, Knots, btcd, and btcd
 * leaving out `default_witness_commitment`): pool + devnet + the support CPU miner find a block
 * the node accepts (the devnet validates it independently, witness commitment included) and that
 * pays the miner's address. New tips reach the pool by BIP22 long polling alone (no ZMQ, slow
 * getbestblockhash polling). Also: a node that does not report `initialblockdownload` is refused
 * while syncing and taken once synced, and a node refusing templates with -9 leaves the pool on
 * its last work with the reason on /health, until it serves again.
 */
import assert from "node:assert/strict";
import * as bitcoin from "bitcoinjs-lib";
import { BitcoindPool } from "@tbg/shared/bitcoind";
import { difficultyToTarget, targetToBits } from "@tbg/shared/bitcoin";
import { chainToNetwork } from "@tbg/shared/config";
import { getLogger } from "@tbg/shared/log";
import { regtestAddress } from "./support/addresses.ts";
import { type Dialect, DIALECTS } from "./support/devnet/dialect.ts";
import { type Devnet, startDevnet } from "./support/devnet/mod.ts";
import { startInProcessPool } from "./support/pool_in_process.ts";
import { CpuMiner, StratumClient } from "./support/stratum_client/mod.ts";

/** Network difficulty at which the CPU miner's first share (at startdiff 0.000001) is a block. */
const NETWORK_DIFFICULTY = 0.000001;
const INITIAL_BLOCKS = 101;

/**
 * Polls `check` every 50 ms until it holds, at most `timeoutMs`: generous bounds (each wait takes
 * well under a second on a quiet machine), so a loaded CI machine does not fail them.
 */
async function until(what: string, check: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

function startDialectDevnet(dialect: Dialect, omitWitnessCommitment = false): Promise<Devnet> {
  return startDevnet({
    dialect,
    omitWitnessCommitment,
    bits: targetToBits(difficultyToTarget(NETWORK_DIFFICULTY)),
    initialChainLength: INITIAL_BLOCKS,
    mempoolTarget: 6,
  });
}

async function minesABlock(dialect: Dialect, omitWitnessCommitment: boolean): Promise<void> {
  const devnet = await startDialectDevnet(dialect, omitWitnessCommitment);
  // No zmqblock and a slow tip poll: only long polling brings the external block below quickly.
  // update_interval 5 s: a long poll the node answered at once with an unchanged id waits that
  // long before the next (the anti-spin rule), which under a loaded machine can be the one due
  // when the external block comes; the default 30 s would outlast the test's bound.
  const pool = await startInProcessPool(devnet, {
    blockpoll: 60_000,
    startdiff: 0.000001,
    update_interval: 5,
  });
  const { address, scriptHex } = regtestAddress("p2wpkh", 7);
  const client = await StratumClient.start({
    host: "127.0.0.1",
    port: pool.port,
    username: `${address}.dialect`,
  });
  const miner = new CpuMiner(client, { batchNonces: 1024 });
  try {
    miner.start();
    const paysMiner = () => {
      for (let h = INITIAL_BLOCKS + 1; h <= devnet.chain.tipHeight(); h++) {
        const hash = devnet.chain.blockAtHeight(h)!.hash;
        if (devnet.chain.coinbase(hash)!.outputs[0]!.scriptHex === scriptHex) return hash;
      }
      return undefined;
    };
    await until(`a ${dialect} block paying the miner`, () => paysMiner() !== undefined, 30_000);
    const hash = paysMiner()!;
    const block = devnet.chain.block(hash)!;
    assert.ok(block.onActiveChain, "the node took the block as its tip's ancestor or tip");
    const parsed = bitcoin.Block.fromHex(block.hex);
    assert.ok(parsed.checkTxRoots(), "merkle root and witness commitment");
    // The devnet's mempool holds P2WPKH spends, so the block has witness data and needs the
    // commitment (the node's, or with omitWitnessCommitment the pool's own).
    assert.ok(parsed.transactions!.some((tx, i) => i > 0 && tx.hasWitnesses()), "witness txs");
    assert.ok(parsed.hasWitnessCommit(), "witness transactions come with a commitment");
    await miner.stop();

    // A block from "the network": with ZMQ off and a 60 s tip poll, a long poll delivers it.
    const answeredBefore = pool.source.longPollsAnswered;
    const external = await devnet.mineExternalBlock();
    await until(
      `a long poll answer on ${external}`,
      () => pool.source.longPollsAnswered > answeredBefore,
      15_000,
    );
    await until(
      "the engine's job on the external block",
      () => pool.runtime.engine.jobs.current?.template.prevHashHex === external,
      15_000,
    );
  } finally {
    await miner.stop();
    client.close();
    await pool.stop();
    await devnet.stop();
  }
}

for (const dialect of DIALECTS) {
  Deno.test({
    name: `${dialect}: the pool mines a block the node accepts, paying the miner`,
    sanitizeOps: false,
    sanitizeResources: false,
    fn: () => minesABlock(dialect, false),
  });
}

Deno.test({
  name: "btcd without default_witness_commitment: the pool's own commitment is accepted",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: () => minesABlock("btcd", true),
});

Deno.test({
  name: "btcd (no initialblockdownload field): refused while syncing, taken once synced",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const devnet = await startDialectDevnet("btcd");
    devnet.setInitialBlockDownload(true);
    const pool = new BitcoindPool({
      nodes: [{ url: `127.0.0.1:${devnet.rpcPort}`, auth: devnet.user, pass: devnet.password }],
      healthCheckIntervalMs: 200,
      logger: getLogger(["test-dialects"]),
    });
    try {
      await pool.start();
      assert.equal(pool.connected, false);
      assert.match(
        pool.eligibilityDetail(),
        /initial block download .*derived: tip is \d+ h old/,
      );
      devnet.setInitialBlockDownload(false);
      await until("the synced btcd to become eligible", () => pool.connected, 15_000);
      assert.equal(pool.activeUrl, `http://127.0.0.1:${devnet.rpcPort}`);
      // What the services do at start without a configured network (learnNetwork).
      assert.equal(chainToNetwork(await pool.chain()), "regtest");
      // btcd has no getnetworkinfo: an RPC error, not an outage that would fail the node over.
      await assert.rejects(pool.getNetworkInfo(), /Command unimplemented/);
      assert.equal(pool.connected, true);
    } finally {
      await pool.stop();
      await devnet.stop();
    }
  },
});

Deno.test({
  name: "a node answering -9 (not connected) is not eligible: last work kept, reason on /health",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const devnet = await startDialectDevnet("core");
    const pool = await startInProcessPool(devnet, { blockpoll: 100 }, null, {
      healthCheckIntervalMs: 100,
    });
    const health = async () => {
      const server = pool.runtime.metricsServer!;
      const response = await fetch(`http://${server.hostname}:${server.port}/health`);
      return (await response.json()) as {
        checks: Record<string, { ok: boolean; detail: string }>;
      };
    };
    try {
      devnet.setNotConnected(true);
      // A new tip makes the pool ask for a template (a long poll already waiting may still
      // answer it, as Core's does); the next request is refused.
      await devnet.mineExternalBlock();
      await until("the pool to drop the refusing node", () => !pool.pool.connected, 15_000);
      const lastWork = pool.runtime.engine.jobs.current!;
      const probes = pool.pool.nodeStatuses()[0]!.probes;
      await devnet.mineExternalBlock();
      await until(
        "two more probes",
        () => pool.pool.nodeStatuses()[0]!.probes >= probes + 2,
        15_000,
      );
      assert.equal(pool.pool.connected, false, "probes do not make a refusing node eligible");
      assert.equal(pool.runtime.engine.jobs.current, lastWork, "the last work is kept");
      const refused = await health();
      assert.equal(refused.checks.bitcoind_connected!.ok, false);
      assert.match(
        refused.checks.bitcoind_connected!.detail,
        /getblocktemplate refused \(-9: Bitcoin Core is not connected!\)/,
      );
      devnet.setNotConnected(false);
      await until("the node to serve again", () => pool.pool.connected, 15_000);
      await until(
        "a job on the new tip",
        () => pool.runtime.engine.jobs.current?.template.prevHashHex === devnet.chain.tipHash(),
        15_000,
      );
      assert.equal((await health()).checks.bitcoind_connected!.ok, true);
    } finally {
      await pool.stop();
      await devnet.stop();
    }
  },
});
