/**
 * Events the pool emits from its template path (the share-path events are covered by the
 * pipeline tests): a new network tip becomes exactly one new_block_network with the new block's
 * height and hash, the tip worked on before, and how the pool learnt of it.
 */
import assert from "node:assert/strict";
import type { EventPayloads, EventType } from "@tbg/shared/events";
import { startDevnet } from "./support/devnet/mod.ts";
import { startInProcessPool } from "./support/pool_in_process.ts";
import { regtestAddress } from "./support/addresses.ts";
import { StratumClient } from "./support/stratum_client/mod.ts";

interface Recorded {
  readonly type: EventType;
  readonly data: EventPayloads[EventType];
}

async function waitUntil(what: string, predicate: () => boolean, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

Deno.test({
  name: "a new network block is emitted once as new_block_network, from ZMQ or from polling",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const devnet = await startDevnet();
    const recorded: Recorded[] = [];
    const sink = {
      emit: <T extends EventType>(type: T, data: EventPayloads[T]) => {
        recorded.push({ type, data });
      },
    };
    const networkBlocks = () =>
      recorded.filter((e) => e.type === "new_block_network").map((e) =>
        e.data as EventPayloads["new_block_network"]
      );
    // ZMQ first (long polling off: it would race ZMQ for the tip), then a pool that only polls
    // (getbestblockhash and BIP22 long polls, both reported as "poll").
    for (const zmq of [true, false]) {
      recorded.length = 0;
      const pool = await startInProcessPool(
        devnet,
        zmq ? { zmqblock: devnet.zmqUrl, blockpoll: 60_000, longpoll: false } : { blockpoll: 100 },
        sink,
      );
      try {
        assert.deepEqual(networkBlocks(), [], "the startup template is not a new network block");
        const before = devnet.chain.tipHash();
        const hash = await devnet.mineExternalBlock();
        await waitUntil("new_block_network", () => networkBlocks().length > 0);
        await new Promise((r) => setTimeout(r, 300));
        assert.deepEqual(networkBlocks(), [{
          height: devnet.chain.tipHeight(),
          hash,
          prev_hash: before,
          source: zmq ? "zmq" : "poll",
        }]);
      } finally {
        await pool.stop();
      }
    }
    await devnet.stop();
  },
});

Deno.test({
  name: "a submit to a job the pool never issued is reported as a rejected share (unknown_job)",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const devnet = await startDevnet();
    const recorded: Recorded[] = [];
    const sink = {
      emit: <T extends EventType>(type: T, data: EventPayloads[T]) => {
        recorded.push({ type, data });
      },
    };
    const pool = await startInProcessPool(devnet, {}, sink);
    const { address } = regtestAddress("p2wpkh", 7);
    const client = await StratumClient.start({
      host: "127.0.0.1",
      port: pool.port,
      username: `${address}.w1`,
    });
    try {
      const job = await client.waitForJob();
      const extranonce2 = "00".repeat(client.extranonce2Size);
      const outcome = await client.submit("ffffffff", extranonce2, job.ntime, 1);
      assert.equal(outcome.accepted, false);
      assert.deepEqual(outcome.error, [21, "Job not found"]);
      const shares = recorded.filter((e) => e.type === "share_submitted").map((e) =>
        e.data as EventPayloads["share_submitted"]
      );
      assert.equal(shares.length, 1);
      assert.deepEqual(
        {
          user: shares[0]!.user,
          worker: shares[0]!.worker,
          job_id: shares[0]!.job_id,
          accepted: shares[0]!.accepted,
          reject_reason: shares[0]!.reject_reason,
          share_diff: shares[0]!.share_diff,
        },
        {
          user: address,
          worker: "w1",
          job_id: "ffffffff",
          accepted: false,
          reject_reason: "unknown_job",
          share_diff: 0,
        },
      );
    } finally {
      client.close();
      await pool.stop();
      await devnet.stop();
    }
  },
});
