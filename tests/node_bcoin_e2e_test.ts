/**
 * The pool against a real full node that is not Bitcoin Core: bcoin (npm, an independent
 * implementation in JavaScript), installed into ~/.cache/tbg by tools/ensure_bcoin.sh when missing
 * (the test fails, it does not skip, when it cannot be installed). bcoin runs on regtest in memory
 * without peers; the pool reaches it by RPC only (bcoin has no ZMQ: long polls and tip polling).
 * The pool refuses bcoin at genesis (no `initialblockdownload`: derived syncing) and takes it once
 * synced; the support CPU miner finds blocks through the pool, and bcoin, validating them with its
 * own consensus code, takes them as its tip, paying the miner's address (the first with a witness
 * transaction from bcoin's mempool); a block bcoin mines itself reaches the pool by long poll; the
 * node metrics read bcoin's getmempoolinfo and getnetworkinfo. About 1.5 s.
 */
import assert from "node:assert/strict";
import * as bitcoin from "bitcoinjs-lib";
import { BitcoindPool } from "@tbg/shared/bitcoind";
import { bytesToHex } from "@tbg/shared/bitcoin";
import { getLogger } from "@tbg/shared/log";
import type { EventSink } from "@tbg/shared/engine";
import type { BlockFound } from "@tbg/shared/events";
import { regtestAddress } from "./support/addresses.ts";
import {
  BCOIN_OP_TRUE_ADDRESS,
  BCOIN_SEGWIT_HEIGHT,
  mineToSegwitWithWitnessTx,
  startBcoin,
} from "./support/bcoin/mod.ts";
import { startInProcessPool } from "./support/pool_in_process.ts";
import { CpuMiner, StratumClient } from "./support/stratum_client/mod.ts";

/** Polls `check` every 50 ms until it holds, at most `timeoutMs`. */
async function until(what: string, check: () => Promise<boolean>, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

Deno.test({
  name: "bcoin 1.0.2: the pool mines a block bcoin accepts, paying the miner",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const node = await startBcoin();
    try {
      // bcoin sends no initialblockdownload: at genesis (2011) the pool derives that it is
      // syncing and refuses it; once bcoin has mined to now, it is taken.
      const watcher = new BitcoindPool({
        nodes: [{ url: `127.0.0.1:${node.rpcPort}`, auth: node.user, pass: node.password }],
        healthCheckIntervalMs: 100,
        logger: getLogger(["test-bcoin"]),
      });
      let txid: string;
      try {
        await watcher.start();
        assert.equal(watcher.connected, false);
        assert.match(watcher.eligibilityDetail(), /initial block download/);
        txid = await mineToSegwitWithWitnessTx(node);
        await until(
          "the synced bcoin to become eligible",
          () => Promise.resolve(watcher.connected),
          3_000,
        );
      } finally {
        await watcher.stop();
      }
      // No ZMQ (bcoin has none) and a slow tip poll: new work comes by long poll.
      const found: BlockFound[] = [];
      const events: EventSink = {
        emit(type, data) {
          if (type === "block_found") found.push(data as BlockFound);
        },
      };
      const pool = await startInProcessPool(
        node,
        { blockpoll: 60_000, startdiff: 0.000001 },
        events,
      );
      // The node metrics poller reads bcoin's getmempoolinfo and getnetworkinfo (whose `version`
      // is a string there): the witness transaction waiting, no peers.
      const server = pool.runtime.metricsServer!;
      const metric = async (name: string) => {
        const text = await (await fetch(`http://${server.hostname}:${server.port}/metrics`)).text();
        return text.match(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, "m"))?.[1];
      };
      await until(
        "bitcoin_mempool_size 1",
        async () => (await metric("bitcoin_mempool_size")) === "1",
        5_000,
      );
      assert.equal(await metric("bitcoin_peer_count"), "0");
      const { address, scriptHex } = regtestAddress("p2wpkh", 11);
      const client = await StratumClient.start({
        host: "127.0.0.1",
        port: pool.port,
        username: `${address}.bcoin`,
      });
      // Every share at startdiff is also a block at regtest's difficulty: the miner finds a few
      // (some on the same parent, which bcoin keeps as side chains) before it is stopped.
      const miner = new CpuMiner(client, { batchNonces: 1024 });
      try {
        miner.start();
        await until(
          "bcoin to take two blocks from the pool",
          async () => (await node.call<number>("getblockcount")) >= BCOIN_SEGWIT_HEIGHT + 2,
          15_000,
        );
        await miner.stop();
        const height = await node.call<number>("getblockcount");
        for (let h = BCOIN_SEGWIT_HEIGHT + 1; h <= height; h++) {
          const hash = await node.call<string>("getblockhash", [h]);
          const block = bitcoin.Block.fromHex(await node.call<string>("getblock", [hash, false]));
          const coinbase = block.transactions![0]!;
          assert.equal(bytesToHex(coinbase.outs[0]!.script), scriptHex, `${h} pays the miner`);
          assert.ok(block.checkTxRoots(), `${h}: merkle root and witness commitment`);
          assert.ok(block.hasWitnessCommit(), `${h}: the coinbase commits to the witnesses`);
          if (h === BCOIN_SEGWIT_HEIGHT + 1) {
            const ids = block.transactions!.map((tx) => tx.getId());
            assert.deepEqual(ids.slice(1), [txid], "the first block carries the witness tx");
          }
        }
        // The second block was built on the first by a template the pool got by long poll.
        assert.ok(pool.source.longPollsAnswered >= 1, "a long poll answered");
        // The pool's view: bcoin answered every submitblock with null (side chains included).
        assert.ok(found.length >= 2, `${found.length} block_found events`);
        for (const event of found) {
          assert.equal(event.accepted, true, `${event.hash}: ${event.reject_reason}`);
        }

        // A block bcoin mines itself ("the network"): its long poll answer brings the pool's
        // next job onto it (the tip poll is 60 s).
        const answered = pool.source.longPollsAnswered;
        const [external] = await node.call<string[]>("generatetoaddress", [
          1,
          BCOIN_OP_TRUE_ADDRESS,
        ]);
        await until(
          "the engine's job on bcoin's own block",
          () =>
            Promise.resolve(pool.runtime.engine.jobs.current?.template.prevHashHex === external),
          5_000,
        );
        assert.ok(pool.source.longPollsAnswered > answered, "by long poll");
      } finally {
        await miner.stop();
        client.close();
        await pool.stop();
      }
    } catch (error) {
      throw new Error(`${error}\nbcoin output:\n${node.output()}`, { cause: error });
    } finally {
      await node.stop();
    }
  },
});
