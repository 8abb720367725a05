/**
 * The pool's RPC parsing against every recorded node answer (tests/fixtures/nodes/<dialect>/…):
 * each fixture is served byte for byte, with its HTTP status, by a loopback HTTP server and read
 * through the pool's own client. A last test checks the devnet still answers in each dialect with
 * the fixtures' shapes (same keys, same JSON types), so fixtures and devnet cannot drift apart.
 *
 * Re-record with tests/support/devnet/record_node_fixtures.ts.
 */
import assert from "node:assert/strict";
import {
  BitcoindRpc,
  isNodeUnavailable,
  isTemplateRefusal,
  parseMempoolInfo,
  RpcError,
  RpcTransportError,
  TransportFailure,
} from "@tbg/shared/bitcoind";
import { bytesToHex, witnessCommitmentScript } from "@tbg/shared/bitcoin";
import { templateFromGbt } from "@tbg/shared/engine";
import { DIALECTS } from "./support/devnet/dialect.ts";
import { startDevnet } from "./support/devnet/mod.ts";
import {
  NODE_FIXTURES_DIR,
  type NodeFixture,
  rawCall,
  SCENARIOS,
} from "./support/devnet/record_node_fixtures.ts";

async function fixture(dialect: string, name: string): Promise<NodeFixture> {
  const url = new URL(`${dialect}/${name}.json`, NODE_FIXTURES_DIR);
  return JSON.parse(await Deno.readTextFile(url)) as NodeFixture;
}

/** Serves one fixture's status and body to every request. */
async function withFixtureNode<T>(
  served: NodeFixture,
  fn: (rpc: BitcoindRpc) => Promise<T>,
): Promise<T> {
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    () =>
      new Response(JSON.stringify(served.body), {
        status: served.status,
        headers: { "content-type": "application/json" },
      }),
  );
  try {
    const rpc = new BitcoindRpc({
      url: `127.0.0.1:${server.addr.port}`,
      auth: "u",
      pass: "p",
      // Tip-age rules read the clock of the recording, not of this run.
      now: () => served.recordedAtMs,
    });
    return await fn(rpc);
  } finally {
    await server.shutdown();
  }
}

function resultOf(served: NodeFixture): Record<string, unknown> {
  return (served.body as { result: Record<string, unknown> }).result;
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return await promise.then(() => assert.fail("expected a rejection"), (error: unknown) => error);
}

for (const dialect of DIALECTS) {
  Deno.test(`${dialect}: getblockchaininfo is read, synced and syncing`, async () => {
    const synced = await fixture(dialect, "getblockchaininfo");
    const info = await withFixtureNode(synced, (rpc) => rpc.getBlockchainInfo());
    assert.equal(info.chain, "regtest");
    assert.equal(info.blocks, resultOf(synced).blocks);
    assert.equal(info.bestblockhash, resultOf(synced).bestblockhash);
    assert.equal(info.initialblockdownload, false);
    assert.equal(info.initialBlockDownloadDerived, dialect === "btcd");

    const syncing = await fixture(dialect, "getblockchaininfo_ibd");
    const ibd = await withFixtureNode(syncing, (rpc) => rpc.getBlockchainInfo());
    assert.equal(ibd.initialblockdownload, true);
    if (dialect === "btcd") assert.match(ibd.syncReason ?? "", /tip is \d+ h old/);
  });

  Deno.test(`${dialect}: getblocktemplate parses and its commitment is the pool's own`, async () => {
    const served = await fixture(dialect, "getblocktemplate");
    const gbt = await withFixtureNode(served, (rpc) => rpc.getBlockTemplate());
    const template = templateFromGbt(gbt, 0);
    const result = resultOf(served);
    assert.equal(template.height, result.height);
    assert.equal(template.prevHashHex, result.previousblockhash);
    assert.equal(template.transactions.length, (result.transactions as unknown[]).length);
    assert.ok(template.transactions.length > 0, "the fixture has transactions");
    // What the pool computes from the transactions equals what the node sent.
    const computed = bytesToHex(witnessCommitmentScript(template.transactions.map((t) => t.wtxid)));
    assert.equal(computed, result.default_witness_commitment);
    const { default_witness_commitment: _dropped, ...bare } = result;
    const derived = templateFromGbt(bare, 0);
    assert.equal(bytesToHex(derived.witnessCommitment!), computed);
    assert.equal(derived.witnessCommitmentDerived, true);
    assert.equal(typeof template.longPollId, "string");
  });

  Deno.test(`${dialect}: template refusals (-10, -9) make the node ineligible`, async () => {
    for (
      const [name, code] of [["getblocktemplate_ibd", -10], [
        "getblocktemplate_not_connected",
        -9,
      ]] as const
    ) {
      const served = await fixture(dialect, name);
      const error = await withFixtureNode(served, (rpc) => rejection(rpc.getBlockTemplate()));
      assert.ok(error instanceof RpcError, `${name}: ${String(error)}`);
      assert.equal(error.code, code);
      assert.ok(isTemplateRefusal(error));
      assert.ok(isNodeUnavailable(error));
    }
  });

  Deno.test(`${dialect}: tip, header, address, network info and submitblock answers`, async () => {
    const tip = await fixture(dialect, "getbestblockhash");
    assert.equal(
      await withFixtureNode(tip, (rpc) => rpc.getBestBlockHash()),
      (tip.body as { result: string }).result,
    );
    const header = await fixture(dialect, "getblockheader");
    const parsedHeader = await withFixtureNode(header, (rpc) => rpc.getBlockHeader("00"));
    assert.equal(parsedHeader.hash, resultOf(header).hash);
    assert.equal(parsedHeader.confirmations, 1);
    const address = await fixture(dialect, "validateaddress");
    const validated = await withFixtureNode(address, (rpc) => rpc.validateAddress("x"));
    assert.equal(validated.isvalid, true);
    assert.equal(validated.scriptPubKey === undefined, dialect === "btcd");
    const network = await fixture(dialect, "getnetworkinfo");
    if (dialect === "btcd") {
      const error = await withFixtureNode(network, (rpc) => rejection(rpc.getNetworkInfo()));
      assert.ok(error instanceof RpcError && error.code === -1, String(error));
      assert.ok(!isNodeUnavailable(error), "an unimplemented call is not an outage");
    } else {
      const info = await withFixtureNode(network, (rpc) => rpc.getNetworkInfo());
      assert.match(info.subversion, dialect === "knots" ? /Knots/ : /^\/Satoshi:/);
    }
    const duplicate = await fixture(dialect, "submitblock_duplicate");
    assert.equal(
      await withFixtureNode(duplicate, (rpc) => rpc.submitBlock("00")),
      dialect === "btcd"
        ? `rejected: already have block ${(tip.body as { result: string }).result}`
        : "duplicate",
    );
  });
}

// bcoin 1.0.2: recorded from the real node (tests/support/bcoin/record_bcoin_fixtures.ts), not the
// devnet, so it is not in DIALECTS; no -10/-9 fixtures (bcoin skips both checks on regtest).
Deno.test("bcoin: getblockchaininfo without initialblockdownload, synced and syncing", async () => {
  const synced = await fixture("bcoin", "getblockchaininfo");
  const info = await withFixtureNode(synced, (rpc) => rpc.getBlockchainInfo());
  assert.equal(info.chain, "regtest");
  assert.equal(info.blocks, resultOf(synced).blocks);
  assert.equal(info.initialblockdownload, false);
  assert.equal(info.initialBlockDownloadDerived, true);
  const syncing = await fixture("bcoin", "getblockchaininfo_ibd");
  const ibd = await withFixtureNode(syncing, (rpc) => rpc.getBlockchainInfo());
  assert.equal(ibd.initialblockdownload, true);
  // bcoin reports verificationprogress 0 at genesis: the first rule that says syncing.
  assert.equal(ibd.syncReason, "verification progress 0");
});

Deno.test("bcoin: getblocktemplate parses and its commitment is the pool's own", async () => {
  const served = await fixture("bcoin", "getblocktemplate");
  const gbt = await withFixtureNode(served, (rpc) => rpc.getBlockTemplate());
  const template = templateFromGbt(gbt, 0);
  const result = resultOf(served);
  assert.equal(template.height, result.height);
  assert.equal(template.prevHashHex, result.previousblockhash);
  assert.equal(template.transactions.length, 1, "the recorded witness transaction");
  const computed = bytesToHex(witnessCommitmentScript(template.transactions.map((t) => t.wtxid)));
  assert.equal(computed, result.default_witness_commitment);
  const { default_witness_commitment: _dropped, ...bare } = result;
  assert.equal(bytesToHex(templateFromGbt(bare, 0).witnessCommitment!), computed);
  assert.equal(template.longPollId, result.longpollid);
});

Deno.test("bcoin: header, network, mempool, address and submitblock answers", async () => {
  const tip = await fixture("bcoin", "getbestblockhash");
  const tipHash = (tip.body as { result: string }).result;
  assert.equal(await withFixtureNode(tip, (rpc) => rpc.getBestBlockHash()), tipHash);
  // bcoin sends getblockheader's bits as an integer (545259519), Core as hex.
  const header = await fixture("bcoin", "getblockheader");
  const parsedHeader = await withFixtureNode(header, (rpc) => rpc.getBlockHeader(tipHash));
  assert.equal(parsedHeader.hash, tipHash);
  assert.equal(parsedHeader.bits, "207fffff");
  assert.equal(parsedHeader.confirmations, 1);
  // bcoin's version is a string ("v1.0.2"), Core's an integer.
  const network = await fixture("bcoin", "getnetworkinfo");
  const info = await withFixtureNode(network, (rpc) => rpc.getNetworkInfo());
  assert.equal(info.version, "v1.0.2");
  assert.match(info.subversion, /^\/bcoin:v1\.0\.2\/$/);
  assert.equal(info.connections, 0);
  const mempool = await fixture("bcoin", "getmempoolinfo");
  assert.deepEqual(
    { ...parseMempoolInfo(resultOf(mempool), "bcoin") },
    { size: 1, bytes: resultOf(mempool).bytes },
  );
  // bcoin 1.0.2's regtest has its own address prefixes: Core's bcrt1… is not valid there.
  const own = await fixture("bcoin", "validateaddress");
  assert.equal((await withFixtureNode(own, (rpc) => rpc.validateAddress("x"))).isvalid, true);
  const core = await fixture("bcoin", "validateaddress_core_regtest");
  assert.equal((await withFixtureNode(core, (rpc) => rpc.validateAddress("x"))).isvalid, false);
  const answers: [string, string | null][] = [
    ["submitblock_accepted", null],
    ["submitblock_duplicate", "rejected: duplicate"],
    ["submitblock_rejected", "rejected: bad-txnmrklroot"],
  ];
  for (const [name, answer] of answers) {
    const served = await fixture("bcoin", name);
    assert.equal(await withFixtureNode(served, (rpc) => rpc.submitBlock("00")), answer, name);
  }
});

Deno.test("a hostile getblockchaininfo gets an error naming the field and what was sent", async () => {
  const base = await fixture("core", "getblockchaininfo");
  const cases: [string, unknown, RegExp][] = [
    ["blocks", "101", /getblockchaininfo\.blocks must be a non-negative integer, got "101"/],
    ["initialblockdownload", "false", /getblockchaininfo\.initialblockdownload must be a boolean/],
    ["bestblockhash", "zz", /getblockchaininfo\.bestblockhash must be a 64-digit hex hash/],
    ["chain", undefined, /getblockchaininfo\.chain must be a string, got nothing/],
    ["verificationprogress", "1", /getblockchaininfo\.verificationprogress must be a number/],
  ];
  for (const [field, value, message] of cases) {
    const result = { ...resultOf(base), [field]: value };
    if (value === undefined) delete result[field];
    const served = { ...base, body: { result, error: null, id: 1 } };
    const error = await withFixtureNode(served, (rpc) => rejection(rpc.getBlockchainInfo()));
    assert.ok(error instanceof RpcTransportError, String(error));
    assert.equal(error.failure, TransportFailure.malformed);
    assert.match(error.message, message);
  }
});

Deno.test("the devnet answers in every dialect with the recorded fixtures' shapes", async () => {
  for (const dialect of DIALECTS) {
    const devnet = await startDevnet({ dialect, initialChainLength: 101, mempoolTarget: 3 });
    try {
      for (const scenario of SCENARIOS) {
        devnet.setInitialBlockDownload(false);
        devnet.setNotConnected(false);
        scenario.setup?.(devnet);
        const live = await rawCall(devnet, scenario.method, await scenario.params(devnet));
        const recorded = await fixture(dialect, scenario.name);
        const where = `${dialect}/${scenario.name}`;
        assert.equal(live.status, recorded.status, `${where}: HTTP status`);
        assert.deepEqual(shapeOf(live.body), shapeOf(recorded.body), `${where}: shape`);
      }
    } finally {
      await devnet.stop();
    }
  }
});

/** Keys and JSON types, recursively; arrays by their first element (templates vary in length). */
function shapeOf(value: unknown): unknown {
  if (value === null) return "null";
  if (Array.isArray(value)) return value.length === 0 ? [] : [shapeOf(value[0])];
  if (typeof value === "object") {
    return Object.fromEntries(
      Object.entries(value as Record<string, unknown>).sort(([a], [b]) => a.localeCompare(b))
        .map(([k, v]) => [k, shapeOf(v)]),
    );
  }
  return typeof value;
}
