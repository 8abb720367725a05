/**
 * A found block survives its node being down: the block keeper (shared/bitcoind/block_keeper.ts)
 * against the real template source and an in-process devnet node. The block is on disk before
 * any answer, re-submitted until the node is back, re-submitted by the next process when the
 * first died with it pending, and not re-submitted once a node gave a verdict.
 *
 * ```sh
 * deno test --allow-net=127.0.0.1 --allow-read --allow-write tests/block_keeper_test.ts
 * ```
 *
 * @module
 */
import assert from "node:assert/strict";
import {
  BitcoindTemplateSource,
  BlockKeeper,
  type BlockSubmitResult,
  foundBlockFileName,
  FoundBlockState,
  saveFoundBlock,
  type TemplateUpdate,
} from "@tbg/shared/bitcoind";
import type { EventSink } from "@tbg/shared/engine";
import type { EventPayloads, EventType } from "@tbg/shared/events";
import { getLogger } from "@tbg/shared/log";
import { regtestAddress } from "./support/addresses.ts";
import { type Devnet, startDevnet } from "./support/devnet/mod.ts";
import { startInProcessPool } from "./support/pool_in_process.ts";
import { waitUntil } from "./support/sim/sim_checks.ts";
import { CpuMiner, StratumClient } from "./support/stratum_client/mod.ts";
import type { GbtTemplate } from "./support/miner/block_assembly.ts";
import { solveTemplate } from "./support/miner/gbt_miner.ts";

interface Harness {
  readonly devnet: Devnet;
  readonly source: BitcoindTemplateSource;
  readonly updates: TemplateUpdate[];
  readonly dir: string;
  stop(): Promise<void>;
}

async function start(): Promise<Harness> {
  const devnet = await startDevnet();
  const source = new BitcoindTemplateSource({
    btcd: [{ url: devnet.rpcUrl, auth: devnet.user, pass: devnet.password, notify: false }],
    blockpoll: 100,
  }, { rpcTimeoutMs: 2_000 });
  const updates: TemplateUpdate[] = [];
  await source.start((update) => updates.push(update));
  const dir = await Deno.makeTempDir({ prefix: "tbg-blocks-" });
  return {
    devnet,
    source,
    updates,
    dir,
    stop: async () => {
      await source.stop();
      await devnet.setUnreachable(false).catch(() => {});
      await devnet.stop();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

/** Runs `body` against a fresh harness and always stops it. */
async function withHarness(body: (h: Harness) => Promise<void>): Promise<void> {
  const h = await start();
  try {
    await body(h);
  } finally {
    await h.stop();
  }
}

function keeperFor(h: Harness, retryWindowMs: number): BlockKeeper {
  return new BlockKeeper((hex) => h.source.submitBlock(hex), {
    dir: h.dir,
    retryWindowMs,
    initialRetryMs: 100,
    maxRetryMs: 400,
    log: getLogger(["test", "blocks"]),
  });
}

function solve(h: Harness): { hex: string; hash: string; height: number } {
  const template = h.updates.at(-1)!.gbt as GbtTemplate;
  const solved = solveTemplate(template, { payoutAddress: h.devnet.wallet.p2wpkhAddress });
  assert.ok(solved !== null, "the devnet's regtest target is solved at once");
  return { hex: solved.hex, hash: solved.hash, height: template.height };
}

async function names(dir: string): Promise<string[]> {
  return (await Array.fromAsync(Deno.readDir(dir))).map((e) => e.name).sort();
}

Deno.test("a block found while the node is down is kept on disk and delivered when it returns", () =>
  withHarness(async (h) => {
    const block = solve(h);
    await h.devnet.setUnreachable(true);
    const keeper = keeperFor(h, 60_000);
    const pending = keeper.submit(block.hex, block.hash, block.height);
    // Kept before any node answered: the file holds exactly the block.
    const pendingName = foundBlockFileName(block.height, block.hash, FoundBlockState.pending);
    for (let i = 0; i < 200 && !(await names(h.dir)).includes(pendingName); i++) {
      await new Promise((r) => setTimeout(r, 10));
    }
    assert.deepEqual(await names(h.dir), [pendingName]);
    assert.equal((await Deno.readTextFile(`${h.dir}/${pendingName}`)).trim(), block.hex);
    // Several attempts fail while the node refuses connections.
    await new Promise((r) => setTimeout(r, 700));
    assert.notEqual(h.devnet.chain.tipHash(), block.hash);
    await h.devnet.setUnreachable(false);

    const result = await pending;
    assert.equal(result.accepted, true);
    assert.equal(h.devnet.chain.tipHash(), block.hash);
    assert.deepEqual(await names(h.dir), [
      foundBlockFileName(block.height, block.hash, FoundBlockState.accepted),
    ]);
  }));

Deno.test("wake() submits a waiting block at once instead of after its backoff", () =>
  withHarness(async (h) => {
    const block = solve(h);
    await h.devnet.setUnreachable(true);
    let attempts = 0;
    const waiting = Promise.withResolvers<void>();
    // The next attempt is a minute away: only wake() can bring it within the test.
    const keeper = new BlockKeeper((hex) => {
      attempts++;
      return h.source.submitBlock(hex);
    }, {
      dir: h.dir,
      retryWindowMs: 600_000,
      initialRetryMs: 60_000,
      log: getLogger(["test", "blocks"]),
      onRetry: () => waiting.resolve(),
    });
    const pending = keeper.submit(block.hex, block.hash, block.height);
    await waiting.promise;
    assert.equal(attempts, 1, "the first attempt found no node");
    await h.devnet.setUnreachable(false);
    keeper.wake();
    const timeout = new Promise<null>((r) => setTimeout(() => r(null), 10_000));
    const result = await Promise.race([pending, timeout]);
    keeper.stop();
    assert.ok(result !== null, "delivered without waiting for the backoff");
    assert.equal(result.accepted, true);
    assert.equal(attempts, 2);
    assert.equal(h.devnet.chain.tipHash(), block.hash);
  }));

Deno.test("a verdict ends the submission at once: a refused block is not retried", () =>
  withHarness(async (h) => {
    const block = solve(h);
    // A wrong merkle root: the node answers with a reject reason, which asking again won't change.
    const broken = block.hex.slice(0, 72) + (block.hex[72] === "0" ? "1" : "0") +
      block.hex.slice(73);
    let attempts = 0;
    const keeper = new BlockKeeper((hex) => {
      attempts++;
      return h.source.submitBlock(hex);
    }, { dir: h.dir, retryWindowMs: 60_000, log: getLogger(["test", "blocks"]) });
    const result = await keeper.submit(broken, block.hash, block.height);
    assert.equal(result.accepted, false);
    assert.equal(attempts, 1);
    assert.ok(result.results.every((r) => r.error === undefined && r.result !== null));
    assert.deepEqual(await names(h.dir), [
      foundBlockFileName(block.height, block.hash, FoundBlockState.rejected),
    ]);
  }));

Deno.test("without a node for the whole window the block is marked undelivered and stays on disk", () =>
  withHarness(async (h) => {
    const block = solve(h);
    await h.devnet.setUnreachable(true);
    const result: BlockSubmitResult = await keeperFor(h, 500).submit(
      block.hex,
      block.hash,
      block.height,
    );
    assert.equal(result.accepted, false);
    assert.ok(result.results.every((r) => r.error !== undefined));
    const name = foundBlockFileName(block.height, block.hash, FoundBlockState.undelivered);
    assert.deepEqual(await names(h.dir), [name]);
    assert.equal((await Deno.readTextFile(`${h.dir}/${name}`)).trim(), block.hex);
  }));

Deno.test("the next process re-submits a block left pending, and marks one the chain moved past stale", () =>
  withHarness(async (h) => {
    const block = solve(h);
    // What a process killed mid-submit leaves behind.
    await saveFoundBlock(h.dir, block.height, block.hash, block.hex);
    const oldHash = "ab".repeat(32);
    await saveFoundBlock(h.dir, block.height - 1, oldHash, block.hex);

    const keeper = keeperFor(h, 10_000);
    assert.equal(await keeper.resubmitPending(block.height), 1);
    const accepted = foundBlockFileName(block.height, block.hash, FoundBlockState.accepted);
    // idle() waits for the background re-submission and its rename: no polling needed.
    await keeper.idle();
    assert.equal(h.devnet.chain.tipHash(), block.hash);
    assert.deepEqual(
      await names(h.dir),
      [
        foundBlockFileName(block.height - 1, oldHash, FoundBlockState.stale),
        accepted,
      ].sort(),
    );
  }));

Deno.test("stop() ends the retries and leaves the block pending for the next start", () =>
  withHarness(async (h) => {
    const block = solve(h);
    await h.devnet.setUnreachable(true);
    const keeper = keeperFor(h, 60_000);
    const pending = keeper.submit(block.hex, block.hash, block.height);
    await new Promise((r) => setTimeout(r, 300));
    keeper.stop();
    // After idle() the file is renamed for good: a pool stopping (or a test removing the
    // directory) does not race the rename.
    await keeper.idle();
    const result = await pending;
    assert.equal(result.accepted, false);
    assert.deepEqual(await names(h.dir), [
      foundBlockFileName(block.height, block.hash, FoundBlockState.pending),
    ]);
  }));

Deno.test("a miner's block found while the pool's node is down reaches the chain and the game as accepted", async () => {
  const devnet = await startDevnet();
  const dir = await Deno.makeTempDir({ prefix: "tbg-blocks-" });
  const found: EventPayloads["block_found"][] = [];
  const events: EventSink = {
    emit<T extends EventType>(type: T, data: EventPayloads[T]): void {
      if (type === "block_found") found.push(data as EventPayloads["block_found"]);
    },
  };
  const pool = await startInProcessPool(devnet, { blocks_dir: dir, block_retry_s: 60 }, events);
  const payout = regtestAddress("p2wpkh", 3);
  const client = await StratumClient.start({
    host: "127.0.0.1",
    port: pool.port,
    username: `${payout.address}.rig`,
  });
  const miner = new CpuMiner(client, { batchNonces: 1024 });
  try {
    // The pool holds its template; the node goes away before the miner's first share, which at
    // regtest difficulty is a block.
    await devnet.setUnreachable(true);
    miner.start();
    await waitUntil(
      "a block kept on disk",
      async () => (await names(dir)).some((n) => n.endsWith(".pending.hex")),
      90_000,
    );
    await miner.stop();
    await new Promise((r) => setTimeout(r, 1_500));
    assert.equal(found.length, 0, "no verdict while the node is down");
    await devnet.setUnreachable(false);

    // Bounded by the retry schedule (1, 3, 7, 15, 31, 61 s after the first attempt), not by speed.
    // The miner may have found more than one block before it stopped (at regtest difficulty
    // every share is one), all on the same parent: the node takes one and refuses the others,
    // each with its verdict.
    await waitUntil(
      "a verdict for every kept block",
      async () =>
        found.some((f) => f.accepted) &&
        !(await names(dir)).some((n) => n.endsWith(".pending.hex")),
      90_000,
    );
    const accepted = found.filter((f) => f.accepted);
    assert.equal(accepted.length, 1, JSON.stringify(found));
    const winner = accepted[0]!;
    assert.equal(devnet.chain.tipHash(), winner.hash);
    for (const other of found.filter((f) => !f.accepted)) {
      assert.equal(other.height, winner.height, "the others competed for the same height");
    }
    const winnerFile = foundBlockFileName(winner.height, winner.hash, FoundBlockState.accepted);
    const files = await names(dir);
    assert.ok(files.includes(winnerFile), files.join());
    for (const name of files.filter((n) => n !== winnerFile)) {
      assert.match(name, new RegExp(`^${winner.height}-[0-9a-f]{64}\\.(rejected|stale)\\.hex$`));
    }
  } finally {
    await miner.stop();
    client.close();
    await pool.stop();
    await devnet.setUnreachable(false).catch(() => {});
    await devnet.stop();
    await Deno.remove(dir, { recursive: true });
  }
});
