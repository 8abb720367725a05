/**
 * The bitcoind template source against two in-process devnet nodes: failover and failback,
 * nodes in initial block download, ZMQ and polling new-block detection, block submission to
 * every node.
 *
 * Run (loopback only; the zeromq addon needs FFI and read access to its files):
 *
 * ```sh
 * deno test --allow-net=127.0.0.1 --allow-ffi=./node_modules \
 *   --allow-read=./node_modules,/etc/alpine-release tests/bitcoind_failover_test.ts
 * ```
 *
 * Both devnets start from the same clock and seeds, so they hold identical chains and mempools:
 * a block built on one is valid on the other, as on two synced Bitcoin Core nodes.
 *
 * @module
 */
import assert from "node:assert/strict";
import {
  BitcoindTemplateSource,
  type BitcoindTemplateSourceOptions,
  type NodeSwitchEvent,
  type TemplateUpdate,
} from "@tbg/shared/bitcoind";
import { type Devnet, startDevnet } from "./support/devnet/mod.ts";
import type { GbtTemplate } from "./support/miner/block_assembly.ts";
import { solveTemplate } from "./support/miner/gbt_miner.ts";

interface Pair {
  readonly a: Devnet;
  readonly b: Devnet;
  stop(): Promise<void>;
}

async function startPair(): Promise<Pair> {
  const startMs = Date.now();
  const a = await startDevnet({ clock: () => startMs });
  const b = await startDevnet({ clock: () => startMs }).catch(async (error: unknown) => {
    await a.stop();
    throw error;
  });
  assert.equal(a.chain.tipHash(), b.chain.tipHash(), "both devnets must share their chain");
  return { a, b, stop: async () => void await Promise.all([a.stop(), b.stop()]) };
}

function btcd(devnet: Devnet): { url: string; auth: string; pass: string; notify: boolean } {
  return { url: devnet.rpcUrl, auth: devnet.user, pass: devnet.password, notify: false };
}

/** A running source that records every template and switch. */
interface Harness {
  readonly source: BitcoindTemplateSource;
  readonly updates: (TemplateUpdate & { readonly nodeUrl: string | null })[];
  readonly switches: NodeSwitchEvent[];
}

async function startSource(
  config: ConstructorParameters<typeof BitcoindTemplateSource>[0],
  options: BitcoindTemplateSourceOptions = {},
): Promise<Harness> {
  const source = new BitcoindTemplateSource(config, options);
  const updates: Harness["updates"] = [];
  const switches: NodeSwitchEvent[] = [];
  source.pool.onSwitch((event) => switches.push(event));
  await source.start((update) => updates.push({ ...update, nodeUrl: source.pool.activeUrl }));
  return { source, updates, switches };
}

/** Polls `predicate` every 5 ms until it holds; fails after `deadlineMs`. */
async function waitFor(
  what: string,
  predicate: () => boolean,
  deadlineMs = 10_000,
): Promise<number> {
  const started = performance.now();
  while (!predicate()) {
    if (performance.now() - started > deadlineMs) {
      throw new Error(`Cannot observe ${what}: nothing within ${deadlineMs} ms`);
    }
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  return performance.now() - started;
}

function prevOf(update: TemplateUpdate): string {
  return (update.gbt as { previousblockhash: string }).previousblockhash;
}

const BLOCKPOLL_MS = 100;

Deno.test("templates continue from the second node when the first refuses connections, then fail back", async () => {
  const pair = await startPair();
  const { source, updates, switches } = await startSource({
    btcd: [btcd(pair.a), btcd(pair.b)],
    blockpoll: BLOCKPOLL_MS,
    update_interval: 30,
  });
  try {
    assert.equal(source.pool.activeUrl, pair.a.rpcUrl);
    assert.equal(updates[0]?.reason, "startup");

    await pair.a.setUnreachable(true);
    const before = updates.length;
    const failoverMs = await waitFor(
      "a template from the second node",
      () => updates.slice(before).some((u) => u.nodeUrl === pair.b.rpcUrl),
    );
    // The next getbestblockhash poll finds the refusal and switches at once, without waiting
    // for the health check (every max(blockpoll × 10, 1000) ms).
    assert.ok(
      failoverMs < source.pool.healthCheckIntervalMs,
      `failover took ${failoverMs.toFixed(0)} ms`,
    );
    const failover = updates.slice(before).find((u) => u.nodeUrl === pair.b.rpcUrl)!;
    assert.deepEqual([failover.reason, failover.source], ["failover", "switch"]);
    assert.deepEqual(switches.at(-1), {
      fromIndex: 0,
      toIndex: 1,
      fromUrl: pair.a.rpcUrl,
      toUrl: pair.b.rpcUrl,
      reason: "failure",
    });
    assert.ok(source.healthy);

    // A new block on the second node is seen by polling it.
    const hashOnB = await pair.b.mineExternalBlock();
    await waitFor(
      "a new_block template from the second node",
      () => updates.some((u) => prevOf(u) === hashOnB && u.reason === "new_block"),
    );

    // The preferred node returns: the health check fails back to it.
    const beforeFailback = updates.length;
    await pair.a.setUnreachable(false);
    await waitFor("failback to the first node", () => source.pool.activeIndex === 0);
    assert.equal(switches.at(-1)?.reason, "failback");
    await waitFor(
      "a template from the first node",
      () => updates.slice(beforeFailback).some((u) => u.nodeUrl === pair.a.rpcUrl),
    );
    // The first node never saw the second node's block, so its template is on its own tip.
    const back = updates.slice(beforeFailback).find((u) => u.nodeUrl === pair.a.rpcUrl)!;
    assert.equal(prevOf(back), pair.a.chain.tipHash());
    assert.equal(back.reason, "new_block");
  } finally {
    await source.stop();
    await pair.stop();
  }
});

Deno.test("a node in initial block download is never chosen", async () => {
  const pair = await startPair();
  pair.a.setInitialBlockDownload(true);
  const { source, updates, switches } = await startSource({
    btcd: [btcd(pair.a), btcd(pair.b)],
    blockpoll: BLOCKPOLL_MS,
  });
  try {
    assert.equal(source.pool.activeUrl, pair.b.rpcUrl);
    assert.equal(updates[0]?.nodeUrl, pair.b.rpcUrl);
    assert.equal(source.pool.nodeStatuses()[0]?.initialBlockDownload, true);

    // The only other node goes away: the syncing node is still not used.
    await pair.b.setUnreachable(true);
    await waitFor("the pool to notice", () => !source.pool.connected);
    assert.equal(source.healthy, false);
    // The syncing node is probed again and again (failover attempts and health checks), and
    // refused every time.
    const probes = source.pool.nodeStatuses()[0]!.probes;
    await waitFor(
      "three more probes of the syncing node",
      () => source.pool.nodeStatuses()[0]!.probes >= probes + 3,
    );
    assert.ok(switches.every((event) => event.toIndex !== 0));
    assert.equal(source.pool.connected, false);
    assert.ok(updates.every((u) => u.nodeUrl !== pair.a.rpcUrl));

    // Once it has synced, it is taken.
    const before = updates.length;
    pair.a.setInitialBlockDownload(false);
    await waitFor(
      "a template from the synced node",
      () => updates.slice(before).some((u) => u.nodeUrl === pair.a.rpcUrl),
    );
    assert.equal(source.pool.activeIndex, 0);
    assert.ok(source.healthy);
  } finally {
    await source.stop();
    await pair.b.setUnreachable(false);
    await pair.stop();
  }
});

Deno.test("ZMQ hashblock brings a new_block template without waiting for a poll", async () => {
  const pair = await startPair();
  // Polling once a minute: only ZMQ can be quick here.
  const { source, updates } = await startSource({
    btcd: [btcd(pair.a)],
    blockpoll: 60_000,
    zmqblock: pair.a.zmqUrl,
  });
  try {
    // A ZMQ subscription reaches the publisher asynchronously (messages before it are lost, as
    // with Core); mine until one block has been announced.
    const deadline = performance.now() + 10_000;
    while (source.zmq!.received === 0) {
      assert.ok(performance.now() < deadline, "Cannot receive hashblock: deadline passed");
      await pair.a.mineExternalBlock();
      await waitFor("a hashblock", () => source.zmq!.received > 0, 200).catch(() => undefined);
    }
    const hash = await pair.a.mineExternalBlock();
    await waitFor(
      "a new_block template on the mined block",
      () => updates.some((u) => prevOf(u) === hash),
    );
    const update = updates.find((u) => prevOf(u) === hash)!;
    assert.deepEqual([update.reason, update.source], ["new_block", "zmq"]);
  } finally {
    await source.stop();
    await pair.stop();
  }
});

Deno.test("ZMQ and polling announcing the same block give one template", async () => {
  const pair = await startPair();
  const { source, updates } = await startSource({
    btcd: [btcd(pair.a)],
    blockpoll: 10,
    zmqblock: pair.a.zmqUrl,
  });
  try {
    const zmq = source.zmq!;
    const deadline = performance.now() + 10_000;
    while (zmq.received === 0) {
      assert.ok(performance.now() < deadline, "Cannot receive hashblock: deadline passed");
      await pair.a.mineExternalBlock();
      await waitFor("a hashblock", () => zmq.received > 0, 200).catch(() => undefined);
    }
    const receivedBefore = zmq.received;
    const hashes: string[] = [];
    for (let i = 0; i < 3; i++) {
      const hash = await pair.a.mineExternalBlock();
      hashes.push(hash);
      await waitFor("a template on the block", () => updates.some((u) => prevOf(u) === hash));
    }
    await waitFor("ZMQ to announce all three", () => zmq.received === receivedBefore + 3);
    // Give polling time to report the last block again: 20 more polls see the same tip.
    const last = hashes.at(-1)!;
    const polls = performance.now();
    await waitFor("20 poll intervals", () => performance.now() - polls > 200);
    for (const hash of hashes) {
      const onBlock = updates.filter((u) => prevOf(u) === hash && u.reason === "new_block");
      assert.equal(onBlock.length, 1, `templates on ${hash}: ${onBlock.length}`);
    }
    assert.equal(prevOf(updates.at(-1)!), last);
  } finally {
    await source.stop();
    await pair.stop();
  }
});

Deno.test("without ZMQ, getbestblockhash polling brings the new_block template", async () => {
  const pair = await startPair();
  const { source, updates } = await startSource({
    btcd: [btcd(pair.a)],
    blockpoll: BLOCKPOLL_MS,
  });
  try {
    assert.equal(source.zmq, undefined);
    const hash = await pair.a.mineExternalBlock();
    await waitFor("a new_block template", () => updates.some((u) => prevOf(u) === hash));
    const update = updates.find((u) => prevOf(u) === hash)!;
    assert.deepEqual([update.reason, update.source], ["new_block", "poll"]);
  } finally {
    await source.stop();
    await pair.stop();
  }
});

Deno.test("submitBlock() delivers a found block to both nodes", async () => {
  const pair = await startPair();
  const { source, updates } = await startSource({
    btcd: [btcd(pair.a), btcd(pair.b)],
    blockpoll: BLOCKPOLL_MS,
  });
  try {
    const template = updates[0]!.gbt as GbtTemplate;
    assert.ok(template.transactions.length > 0, "the template should carry mempool transactions");
    const solved = solveTemplate(template, { payoutAddress: pair.a.wallet.p2wpkhAddress });
    assert.ok(solved !== null);

    const outcome = await source.submitBlock(solved.hex);
    assert.deepEqual(outcome, {
      accepted: true,
      tipMoved: true,
      blockHash: solved.hash,
      results: [
        { url: pair.a.rpcUrl, result: null, tipMoved: true },
        { url: pair.b.rpcUrl, result: null, tipMoved: true },
      ],
    });
    assert.equal(pair.a.chain.tipHash(), solved.hash);
    assert.equal(pair.b.chain.tipHash(), solved.hash);
    await waitFor(
      "a template on the found block",
      () => updates.some((u) => prevOf(u) === solved.hash && u.reason === "new_block"),
    );

    // Submitting again: Core answers "duplicate", which still counts as accepted.
    const again = await source.submitBlock(solved.hex);
    assert.equal(again.accepted, true);
    assert.deepEqual(again.results.map((r) => r.result), ["duplicate", "duplicate"]);
  } finally {
    await source.stop();
    await pair.stop();
  }
});

Deno.test("submitBlock() still reaches the second node when the first is down", async () => {
  const pair = await startPair();
  const { source, updates } = await startSource({
    btcd: [btcd(pair.a), btcd(pair.b)],
    blockpoll: BLOCKPOLL_MS,
  });
  try {
    const solved = solveTemplate(updates[0]!.gbt as GbtTemplate, {
      payoutAddress: pair.b.wallet.p2wpkhAddress,
    });
    assert.ok(solved !== null);
    await pair.a.setUnreachable(true);
    const outcome = await source.submitBlock(solved.hex);
    assert.equal(outcome.accepted, true);
    assert.equal(outcome.tipMoved, true);
    assert.match(outcome.results[0]?.error ?? "", /Connection refused/);
    assert.deepEqual(outcome.results[1], { url: pair.b.rpcUrl, result: null, tipMoved: true });
    assert.equal(pair.b.chain.tipHash(), solved.hash);
  } finally {
    await source.stop();
    await pair.a.setUnreachable(false);
    await pair.stop();
  }
});
