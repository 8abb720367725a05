// deno test --allow-net=127.0.0.1 shared/bitcoind/template_long_poll_test.ts
import assert from "node:assert/strict";
import { type CannedReply, startCannedNode } from "./_canned_node.ts";
import { BitcoindTemplateSource, type TemplateUpdate } from "./template_source.ts";

const TIP_0 = "00".repeat(31) + "20";
const TIP_1 = "00".repeat(31) + "21";

async function waitFor(what: string, predicate: () => boolean, deadlineMs = 5_000): Promise<void> {
  const until = Date.now() + deadlineMs;
  while (!predicate()) {
    if (Date.now() > until) throw new Error(`Cannot observe ${what}: deadline passed`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

/** A node with BIP22 long polls: a long poll waits until the test moves the tip. */
function longPollNode(options: { holdsLongPolls: boolean }) {
  const state = { tip: TIP_0, tipMoved: Promise.withResolvers<void>() };
  const template = (): CannedReply => ({
    result: {
      previousblockhash: state.tip,
      height: 2,
      transactions: [],
      longpollid: `${state.tip}1`,
    },
  });
  const node = startCannedNode(async (method, params): Promise<CannedReply> => {
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
        const request = (params as [{ longpollid?: string }])[0];
        if (request.longpollid !== undefined && options.holdsLongPolls) {
          if (request.longpollid === `${state.tip}1`) await state.tipMoved.promise;
        }
        return template();
      }
      default:
        return { error: { code: -32601, message: "Method not found" } };
    }
  });
  const longPolls = () =>
    node.requests.filter((r) =>
      r.method === "getblocktemplate" &&
      (r.params as [{ longpollid?: string }])[0].longpollid !== undefined
    ).length;
  const moveTip = (tip: string) => {
    state.tip = tip;
    const moved = state.tipMoved;
    state.tipMoved = Promise.withResolvers<void>();
    moved.resolve();
  };
  /** Ends held long polls (the server waits for its handlers when it closes), then closes. */
  const close = async () => {
    state.tipMoved.resolve();
    await node.close();
  };
  return { node, longPolls, moveTip, close };
}

function source(url: string, updateIntervalS = 30, blockpoll = 600_000): BitcoindTemplateSource {
  // By default a tip poll far slower than the test: only the long poll can bring the new tip.
  return new BitcoindTemplateSource(
    { btcd: [{ url, auth: "u", pass: "p" }], blockpoll, update_interval: updateIntervalS },
    { healthCheckIntervalMs: 3_600_000, retryDelayMs: 10 },
  );
}

Deno.test("a long poll's answer is the next template, new_block when the tip moved", async () => {
  const core = longPollNode({ holdsLongPolls: true });
  const templates = source(core.node.url);
  const updates: TemplateUpdate[] = [];
  try {
    await templates.start((update) => updates.push(update));
    await waitFor("a long poll in flight", () => core.longPolls() === 1);
    const sent = core.node.requests.filter((r) => r.method === "getblocktemplate")
      .map((r) => (r.params as unknown[])[0]);
    assert.deepEqual(sent, [{ rules: ["segwit"] }, { rules: ["segwit"], longpollid: `${TIP_0}1` }]);
    core.moveTip(TIP_1);
    await waitFor("the long poll's template", () => updates.length === 2);
    assert.equal(updates[1]!.reason, "new_block");
    assert.equal((updates[1]!.gbt as { previousblockhash: string }).previousblockhash, TIP_1);
    assert.equal(templates.longPollsAnswered, 1);
    // The next long poll watches the new template's id.
    await waitFor("the next long poll", () => core.longPolls() === 2);
    assert.equal(updates.length, 2, "one template per tip");
  } finally {
    await templates.stop();
    await core.close();
  }
});

Deno.test("a node answering long polls at once is long-polled again only after update_interval", async () => {
  const core = longPollNode({ holdsLongPolls: false });
  const templates = source(core.node.url, 3_600, 5);
  const polls = () => core.node.requests.filter((r) => r.method === "getbestblockhash").length;
  try {
    await templates.start(() => {});
    await waitFor("one long poll answered", () => templates.longPollsAnswered === 1);
    // Twenty tip polls later (5 ms apart) a spinning loop would have sent many more long polls.
    const pollsThen = polls();
    await waitFor("twenty more tip polls", () => polls() >= pollsThen + 20);
    assert.equal(core.longPolls(), 1);
  } finally {
    await templates.stop();
    await core.close();
  }
});

Deno.test("longpoll: false sends no long poll", async () => {
  const core = longPollNode({ holdsLongPolls: true });
  const templates = new BitcoindTemplateSource(
    { btcd: [{ url: core.node.url, auth: "u", pass: "p" }], blockpoll: 5, longpoll: false },
    { healthCheckIntervalMs: 3_600_000, retryDelayMs: 10 },
  );
  const updates: TemplateUpdate[] = [];
  try {
    await templates.start((update) => updates.push(update));
    core.moveTip(TIP_1);
    await waitFor("the polled new tip", () => updates.length === 2);
    assert.equal(core.longPolls(), 0);
  } finally {
    await templates.stop();
    await core.close();
  }
});
