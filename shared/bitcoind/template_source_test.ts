// deno test --allow-net=127.0.0.1 shared/bitcoind/template_source_test.ts
import assert from "node:assert/strict";
import { blockHashHex, hexToBytes } from "../bitcoin/mod.ts";
import { type CannedNode, type CannedReply, startCannedNode } from "./_canned_node.ts";
import { BitcoindTemplateSource, type TemplateUpdate } from "./template_source.ts";

const TIP_0 = "00".repeat(31) + "10";
const TIP_1 = "00".repeat(31) + "11";
const TIP_2 = "00".repeat(31) + "12";
const TIP_3 = "00".repeat(31) + "13";
/** An 80-byte header plus a one-byte transaction count (the source only hashes the header). */
const BLOCK_HEX = "20000000" + "11".repeat(32) + "22".repeat(32) + "5f5e1000" + "ffff7f20" +
  "01000000" + "00";
const BLOCK_HASH = blockHashHex(hexToBytes(BLOCK_HEX.slice(0, 160)));

interface FakeCore {
  node: CannedNode;
  state: {
    tip: string;
    warmup: boolean;
    gbtGate: Promise<void> | undefined;
    submit: string | null;
    acceptBlock: boolean;
    gbtError: { code: number; message: string } | undefined;
  };
  gbtInFlight: number;
  gbtMaxInFlight: number;
  count(method: string): number;
}

/** A canned node that answers like Core for the calls the source makes. */
function fakeCore(): FakeCore {
  const core: FakeCore = {
    node: undefined as unknown as CannedNode,
    state: {
      tip: TIP_0,
      warmup: false,
      gbtGate: undefined,
      submit: null,
      acceptBlock: false,
      gbtError: undefined,
    },
    gbtInFlight: 0,
    gbtMaxInFlight: 0,
    count: (method) => core.node.requests.filter((r) => r.method === method).length,
  };
  core.node = startCannedNode(async (method): Promise<CannedReply> => {
    const state = core.state;
    if (state.warmup) return { error: { code: -28, message: "Loading block index…" } };
    switch (method) {
      case "getblockchaininfo":
        return {
          result: {
            chain: "regtest",
            blocks: 1,
            headers: 1,
            bestblockhash: state.tip,
            initialblockdownload: false,
          },
        };
      case "getbestblockhash":
        return { result: state.tip };
      case "getblocktemplate": {
        if (state.gbtError !== undefined) return { error: state.gbtError };
        core.gbtInFlight++;
        core.gbtMaxInFlight = Math.max(core.gbtMaxInFlight, core.gbtInFlight);
        try {
          await state.gbtGate;
        } finally {
          core.gbtInFlight--;
        }
        // Read the tip after the gate, as Core builds on its tip when it answers.
        return { result: { previousblockhash: state.tip, height: 2, transactions: [] } };
      }
      case "submitblock":
        if (state.acceptBlock) state.tip = BLOCK_HASH;
        return { result: state.submit };
      default:
        return { error: { code: -32601, message: "Method not found" } };
    }
  });
  return core;
}

async function waitFor(what: string, predicate: () => boolean, deadlineMs = 5_000): Promise<void> {
  const until = Date.now() + deadlineMs;
  while (!predicate()) {
    if (Date.now() > until) throw new Error(`Cannot observe ${what}: deadline passed`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

function prevOf(update: TemplateUpdate): string {
  return (update.gbt as { previousblockhash: string }).previousblockhash;
}

function source(
  core: FakeCore,
  extra: { update_interval?: number; retryDelayMs?: number } = {},
): BitcoindTemplateSource {
  return new BitcoindTemplateSource(
    {
      btcd: [{ url: core.node.url, auth: "u", pass: "p" }],
      blockpoll: 5,
      ...(extra.update_interval === undefined ? {} : { update_interval: extra.update_interval }),
    },
    { healthCheckIntervalMs: 3_600_000, retryDelayMs: extra.retryDelayMs ?? 10, now: () => 1_234 },
  );
}

Deno.test("start() delivers a startup template, then one new_block template per new tip", async () => {
  const core = fakeCore();
  const templates = source(core);
  const updates: TemplateUpdate[] = [];
  try {
    await templates.start((update) => updates.push(update));
    assert.equal(updates.length, 1);
    assert.deepEqual(
      { reason: updates[0]!.reason, source: updates[0]!.source, at: updates[0]!.receivedAtMs },
      { reason: "startup", source: "startup", at: 1_234 },
    );
    assert.equal(templates.lastTemplateAtMs, 1_234);
    assert.ok(templates.healthy);
    core.state.tip = TIP_1;
    await waitFor("a new_block template", () => updates.length === 2);
    assert.deepEqual([updates[1]!.reason, updates[1]!.source, prevOf(updates[1]!)], [
      "new_block",
      "poll",
      TIP_1,
    ]);
    // Further polls of the same tip fetch nothing more.
    const polls = core.count("getbestblockhash");
    await waitFor("more polls", () => core.count("getbestblockhash") >= polls + 5);
    assert.equal(updates.length, 2);
    assert.equal(core.count("getblocktemplate"), 2);
  } finally {
    await templates.stop();
    await core.node.close();
  }
});

Deno.test("every update_interval without a template brings a refresh template", async () => {
  const core = fakeCore();
  const templates = source(core, { update_interval: 0.02 });
  const updates: TemplateUpdate[] = [];
  try {
    await templates.start((update) => updates.push(update));
    await waitFor("two refresh templates", () => updates.length >= 3);
    assert.deepEqual(updates.slice(1, 3).map((u) => [u.reason, u.source]), [
      ["refresh", "timer"],
      ["refresh", "timer"],
    ]);
  } finally {
    await templates.stop();
    await core.node.close();
  }
});

Deno.test("fetches coalesce: one getblocktemplate in flight and one pending", async () => {
  const core = fakeCore();
  const templates = source(core);
  const updates: TemplateUpdate[] = [];
  try {
    await templates.start((update) => updates.push(update));
    const gate = Promise.withResolvers<void>();
    core.state.gbtGate = gate.promise;
    for (const tip of [TIP_1, TIP_2, TIP_3]) {
      core.state.tip = tip;
      // Two more answered polls: the first one's tip has been seen by the source.
      const polls = core.count("getbestblockhash");
      await waitFor("polls of the tip", () => core.count("getbestblockhash") >= polls + 2);
    }
    assert.equal(core.gbtInFlight, 1);
    core.state.gbtGate = undefined;
    gate.resolve();
    await waitFor("the in-flight and the pending template", () => updates.length === 3);
    assert.equal(core.gbtMaxInFlight, 1);
    assert.equal(core.count("getblocktemplate"), 3);
    // Both answers build on TIP_3; only the first of them is a new block.
    assert.deepEqual(updates.map((u) => [u.reason, prevOf(u)]), [
      ["startup", TIP_0],
      ["new_block", TIP_3],
      ["refresh", TIP_3],
    ]);
  } finally {
    await templates.stop();
    await core.node.close();
  }
});

Deno.test("start() retries until the node serves a template", async () => {
  const core = fakeCore();
  core.state.warmup = true;
  const templates = source(core);
  const updates: TemplateUpdate[] = [];
  try {
    const started = templates.start((update) => updates.push(update));
    await waitFor("a refused probe", () => core.node.requests.length >= 1);
    assert.equal(templates.healthy, false);
    core.state.warmup = false;
    await started;
    assert.equal(updates[0]?.reason, "startup");
    assert.ok(templates.healthy);
  } finally {
    await templates.stop();
    await core.node.close();
  }
});

Deno.test("stop() before the first template makes start() reject", async () => {
  const core = fakeCore();
  core.state.warmup = true;
  const templates = source(core);
  try {
    const outcome = templates.start(() => {}).then(() => undefined, (error: unknown) => error);
    await waitFor("a refused probe", () => core.node.requests.length >= 1);
    await templates.stop();
    assert.match(String(await outcome), /stopped before the first template/);
  } finally {
    await core.node.close();
  }
});

Deno.test("submitBlock() reports acceptance, tipMoved, and fetches a template on the block", async () => {
  const core = fakeCore();
  const templates = source(core);
  const updates: TemplateUpdate[] = [];
  try {
    await templates.start((update) => updates.push(update));
    core.state.submit = "high-hash";
    const rejected = await templates.submitBlock(BLOCK_HEX);
    assert.deepEqual(rejected, {
      accepted: false,
      tipMoved: false,
      blockHash: BLOCK_HASH,
      results: [{ url: core.node.url, result: "high-hash", tipMoved: false }],
    });
    core.state.submit = null;
    core.state.acceptBlock = true;
    const accepted = await templates.submitBlock(BLOCK_HEX);
    assert.equal(accepted.accepted, true);
    assert.equal(accepted.tipMoved, true);
    await waitFor("a template on the found block", () => updates.length === 2);
    assert.deepEqual([updates[1]!.reason, prevOf(updates[1]!)], ["new_block", BLOCK_HASH]);
    await assert.rejects(templates.submitBlock("00"), TypeError);
  } finally {
    await templates.stop();
    await core.node.close();
  }
});

Deno.test("submitBlock(): each node's answer for a block it already has counts as accepted", async () => {
  const core = fakeCore();
  const templates = source(core);
  try {
    await templates.start(() => {});
    const answers: [string, boolean][] = [
      ["duplicate", true], // Core, Knots
      ["rejected: duplicate", true], // bcoin
      [`rejected: already have block ${BLOCK_HASH}`, true], // btcd
      ["rejected: bad-prevblk", false], // bcoin, a block on an unknown parent
      ["rejected: high-hash", false],
      ["inconclusive", false],
    ];
    for (const [answer, accepted] of answers) {
      core.state.submit = answer;
      assert.equal((await templates.submitBlock(BLOCK_HEX)).accepted, accepted, answer);
    }
  } finally {
    await templates.stop();
    await core.node.close();
  }
});

Deno.test("a failing getblocktemplate is retried after retryDelayMs, not on every poll", async () => {
  const core = fakeCore();
  const templates = source(core, { retryDelayMs: 3_600_000 });
  try {
    await templates.start(() => {});
    core.state.gbtError = { code: -9, message: "Bitcoin Core is not connected!" };
    core.state.tip = TIP_1;
    await waitFor("the failed fetch", () => core.count("getblocktemplate") === 2);
    await waitFor("an unhealthy source", () => !templates.healthy);
    const polls = core.count("getbestblockhash");
    await waitFor("ten more polls", () => core.count("getbestblockhash") >= polls + 10);
    assert.equal(core.count("getblocktemplate"), 2);
  } finally {
    await templates.stop();
    await core.node.close();
  }
});
