/**
 * Events the pool emits from its template path (the share-path events are covered by the
 * pipeline tests): a new network tip becomes exactly one new_block_network with the new block's
 * height and hash, the tip worked on before, and how the pool learnt of it.
 */
import assert from "node:assert/strict";
import type { EventPayloads, EventType } from "@tbg/shared/events";
import { startDevnet } from "./support/devnet/mod.ts";
import { startInProcessPool } from "./support/pool_in_process.ts";

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
    // ZMQ first, then a pool that only polls.
    for (const zmq of [true, false]) {
      recorded.length = 0;
      const pool = await startInProcessPool(
        devnet,
        zmq ? { zmqblock: devnet.zmqUrl, blockpoll: 60_000 } : { blockpoll: 100 },
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
