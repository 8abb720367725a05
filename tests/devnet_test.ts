/**
 * Devnet behaviour tests: the regtest double must answer like Bitcoin Core.
 *
 * Run (from the repository root):
 *
 * ```sh
 * deno test --allow-net=127.0.0.1 --allow-ffi=node_modules \
 *   --allow-read=node_modules,/etc/alpine-release --allow-run=deno tests/devnet_test.ts
 * ```
 *
 * --allow-ffi and --allow-read are for the zeromq addon (it probes /etc/alpine-release when
 * choosing its prebuilt binary); --allow-run=deno is for the CLI test, which spawns the devnet
 * as a process. All listeners are on 127.0.0.1 with free ports.
 *
 * @module
 */
import assert from "node:assert/strict";
import { Block, Transaction } from "bitcoinjs-lib";
import { bech32m } from "@scure/base";
import * as zmq from "zeromq";
import { type Devnet, type DevnetOptions, startDevnet } from "./support/devnet/mod.ts";
import {
  BrokenKind,
  buildBrokenBlock,
  EXPECTED_REJECT_REASON,
} from "./support/miner/broken_blocks.ts";
import { bip34HeightPush } from "./support/miner/block_assembly.ts";
import { fetchTemplate, mineOnce, solveTemplate, submitBlock } from "./support/miner/gbt_miner.ts";
import { rpcCall, RpcCallError, type RpcEndpoint } from "./support/miner/rpc_client.ts";

/** Payout address of the test miner (a regtest P2WPKH address not owned by the devnet). */
const MINER_ADDRESS = "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080";
/** How long a test waits for one ZMQ message before failing. */
const ZMQ_RECEIVE_TIMEOUT_MS = 10_000;
/** ZMQ drops messages published before a subscription reaches the publisher ("slow joiner"). */
const ZMQ_SUBSCRIBE_SETTLE_MS = 300;

function endpointOf(devnet: Devnet): RpcEndpoint {
  return { url: devnet.rpcUrl, user: devnet.user, password: devnet.password };
}

async function withDevnet(
  options: DevnetOptions,
  body: (devnet: Devnet) => Promise<void>,
): Promise<void> {
  const devnet = await startDevnet(options);
  try {
    await body(devnet);
  } finally {
    await devnet.stop();
  }
}

async function subscribeHashblock(devnet: Devnet): Promise<zmq.Subscriber> {
  const subscriber = new zmq.Subscriber({ receiveTimeout: ZMQ_RECEIVE_TIMEOUT_MS });
  subscriber.connect(devnet.zmqUrl);
  subscriber.subscribe("hashblock");
  await new Promise((resolve) => setTimeout(resolve, ZMQ_SUBSCRIBE_SETTLE_MS));
  return subscriber;
}

async function nextHashblock(
  subscriber: zmq.Subscriber,
): Promise<{ hash: string; sequence: number }> {
  const frames = await subscriber.receive();
  assert.equal(frames.length, 3);
  const [topic, hash, sequence] = frames as unknown as [Uint8Array, Uint8Array, Uint8Array];
  assert.equal(new TextDecoder().decode(topic), "hashblock");
  assert.equal(hash.length, 32);
  assert.equal(sequence.length, 4);
  return {
    hash: Array.from(hash, (byte) => byte.toString(16).padStart(2, "0")).join(""),
    sequence: new DataView(sequence.buffer, sequence.byteOffset, 4).getUint32(0, true),
  };
}

async function rawPost(
  devnet: Devnet,
  body: string,
  headers: Record<string, string> = {},
): Promise<Response> {
  return await fetch(devnet.rpcUrl, {
    method: "POST",
    headers: {
      authorization: `Basic ${btoa(`${devnet.user}:${devnet.password}`)}`,
      ...headers,
    },
    body,
  });
}

Deno.test("GBT miner mines a block the devnet accepts, announces on ZMQ and bitcoinjs-lib parses", async () => {
  await withDevnet({}, async (devnet) => {
    const endpoint = endpointOf(devnet);
    const subscriber = await subscribeHashblock(devnet);
    try {
      const template = await fetchTemplate(endpoint);
      const txs = template.transactions.map((tx) => Transaction.fromHex(tx.data));
      assert.ok(txs.some((tx) => tx.hasWitnesses()), "template has segwit transactions");
      assert.ok(txs.some((tx) => !tx.hasWitnesses()), "template has legacy transactions");
      assert.ok(template.transactions.every((tx) => tx.fee > 0), "every transaction pays a fee");
      assert.ok(template.coinbasevalue > 5_000_000_000, "coinbase value includes fees");
      assert.ok(template.default_witness_commitment?.startsWith("6a24aa21a9ed"));

      const solved = solveTemplate(template, {
        payoutAddress: MINER_ADDRESS,
        coinbaseTag: "/test/",
      });
      assert.ok(solved);
      assert.equal(await submitBlock(endpoint, solved.hex), null);

      assert.equal(await rpcCall(endpoint, "getbestblockhash"), solved.hash);
      assert.equal(await rpcCall(endpoint, "getblockcount"), template.height);
      const message = await nextHashblock(subscriber);
      assert.deepEqual(message, { hash: solved.hash, sequence: 0 });

      const stored = await rpcCall<string>(endpoint, "getblock", [solved.hash, 0]);
      const parsed = Block.fromHex(stored);
      assert.equal(parsed.getId(), solved.hash);
      assert.ok(parsed.checkTxRoots(), "merkle root and witness commitment check out");
      const blockTxids = (parsed.transactions ?? []).slice(1).map((tx) => tx.getId());
      assert.deepEqual(blockTxids, template.transactions.map((tx) => tx.txid));

      const coinbase = devnet.chain.coinbase(solved.hash);
      assert.equal(coinbase?.outputs[0]?.address, MINER_ADDRESS);
      assert.equal(coinbase?.outputs[0]?.valueSats, BigInt(template.coinbasevalue));
      assert.equal(devnet.chain.block(solved.hash)?.onActiveChain, true);

      const mempool = await rpcCall<string[]>(endpoint, "getrawmempool");
      assert.equal(mempool.length, 20, "mempool refilled after the block");
      assert.ok(mempool.every((txid) => !blockTxids.includes(txid)), "confirmed txs evicted");
    } finally {
      subscriber.close();
    }
  });
});

Deno.test("submitblock answers Core's reject reason for each broken block", async (t) => {
  await withDevnet({}, async (devnet) => {
    const endpoint = endpointOf(devnet);
    let extranonce = 100;
    for (const kind of Object.values(BrokenKind)) {
      const reason = EXPECTED_REJECT_REASON[kind];
      await t.step(`${kind} is refused with "${reason}"`, async () => {
        const tipBefore = devnet.chain.tipHash();
        const template = await fetchTemplate(endpoint);
        const hex = buildBrokenBlock(kind, template, {
          payoutAddress: MINER_ADDRESS,
          extranonce: extranonce++,
        });
        assert.equal(await submitBlock(endpoint, hex), reason);
        assert.equal(devnet.chain.tipHash(), tipBefore, "tip unchanged");
      });
    }
  });
});

Deno.test("submitblock answers duplicate, inconclusive for a same-height rival, and reorgs to more work", async () => {
  await withDevnet({}, async (devnet) => {
    const endpoint = endpointOf(devnet);
    const subscriber = await subscribeHashblock(devnet);
    try {
      const template = await fetchTemplate(endpoint);
      const first = solveTemplate(template, { payoutAddress: MINER_ADDRESS, extranonce: 1 });
      const rival = solveTemplate(template, { payoutAddress: MINER_ADDRESS, extranonce: 2 });
      assert.ok(first && rival);
      assert.equal(await submitBlock(endpoint, first.hex), null);
      assert.equal((await nextHashblock(subscriber)).hash, first.hash);
      assert.equal(await submitBlock(endpoint, first.hex), "duplicate");

      assert.equal(await submitBlock(endpoint, rival.hex), "inconclusive");
      assert.equal(devnet.chain.tipHash(), first.hash, "first seen stays tip");
      assert.equal(devnet.chain.block(rival.hash)?.onActiveChain, false);
      assert.equal(await submitBlock(endpoint, rival.hex), "duplicate");
      const header = await rpcCall<{ confirmations: number }>(endpoint, "getblockheader", [
        rival.hash,
      ]);
      assert.equal(header.confirmations, -1);

      // A child of the rival gives its branch more work: the devnet reorganises onto it.
      const childTemplate = {
        ...template,
        previousblockhash: rival.hash,
        height: template.height + 1,
        transactions: [],
        coinbasevalue: 5_000_000_000,
        default_witness_commitment:
          "6a24aa21a9ede2f61c3f71d1defd3fa999dfa36953755c690689799962b48bebd836974e8cf9",
        curtime: template.curtime + 1,
      };
      const child = solveTemplate(childTemplate, { payoutAddress: MINER_ADDRESS, extranonce: 3 });
      assert.ok(child);
      assert.equal(await submitBlock(endpoint, child.hex), null);
      assert.equal(devnet.chain.tipHash(), child.hash);
      assert.equal(devnet.chain.block(rival.hash)?.onActiveChain, true);
      assert.equal(devnet.chain.block(first.hash)?.onActiveChain, false);
      assert.deepEqual(await nextHashblock(subscriber), { hash: child.hash, sequence: 1 });
      const mempool = await rpcCall<string[]>(endpoint, "getrawmempool");
      assert.equal(mempool.length, 20);
    } finally {
      subscriber.close();
    }
  });
});

Deno.test("submitblock refuses undecodable hex with -22 Block decode failed", async () => {
  await withDevnet({}, async (devnet) => {
    const error = await rpcCall(endpointOf(devnet), "submitblock", ["00ff"]).catch((e) => e);
    assert.ok(error instanceof RpcCallError);
    assert.equal(error.code, -22);
    assert.equal(error.message, "Block decode failed");
    assert.equal(error.httpStatus, 500);
  });
});

Deno.test("BIP34 heights 1..16 are OP_1..OP_16; a number push for them is bad-cb-height", async () => {
  await withDevnet({ initialChainLength: 3, mempoolTarget: 0 }, async (devnet) => {
    const endpoint = endpointOf(devnet);
    const template = await fetchTemplate(endpoint);
    assert.equal(template.height, 4);
    assert.deepEqual(bip34HeightPush(4), Uint8Array.of(0x54));
    const pushed = buildBrokenBlock(BrokenKind.BAD_HEIGHT, template, {
      payoutAddress: MINER_ADDRESS,
      heightPush: Uint8Array.of(0x01, 0x04),
    });
    assert.equal(await submitBlock(endpoint, pushed), "bad-cb-height");
    const mined = await mineOnce({ endpoint, payoutAddress: MINER_ADDRESS });
    assert.equal(mined.result, null);
    assert.ok(devnet.chain.coinbase(mined.hash)?.scriptSigHex.startsWith("54"));
  });
});

Deno.test("submitblock fills a missing coinbase witness reserved value like Core", async () => {
  await withDevnet({}, async (devnet) => {
    const endpoint = endpointOf(devnet);
    const template = await fetchTemplate(endpoint);
    const solved = solveTemplate(template, {
      payoutAddress: MINER_ADDRESS,
      includeWitnessReservedValue: false,
    });
    assert.ok(solved);
    assert.equal(await submitBlock(endpoint, solved.hex), null);
    assert.deepEqual(devnet.chain.coinbase(solved.hash)?.witness, ["00".repeat(32)]);
  });
});

Deno.test("the injected clock drives curtime and the two-hour time-too-new limit", async () => {
  const nowMs = 2_000_000_000_000;
  await withDevnet({ clock: () => nowMs, mempoolTarget: 0 }, async (devnet) => {
    const endpoint = endpointOf(devnet);
    const template = await fetchTemplate(endpoint);
    assert.equal(template.curtime, nowMs / 1000);
    const limit = nowMs / 1000 + 2 * 60 * 60;
    const tooNew = solveTemplate({ ...template, curtime: limit + 1 }, {
      payoutAddress: MINER_ADDRESS,
    });
    assert.ok(tooNew);
    assert.equal(await submitBlock(endpoint, tooNew.hex), "time-too-new");
    const atLimit = solveTemplate({ ...template, curtime: limit }, {
      payoutAddress: MINER_ADDRESS,
    });
    assert.ok(atLimit);
    assert.equal(await submitBlock(endpoint, atLimit.hex), null);
  });
});

Deno.test("RPC refuses requests without or with wrong basic auth with HTTP 401", async () => {
  await withDevnet({}, async (devnet) => {
    const body = JSON.stringify({ method: "getblockcount", params: [], id: 1 });
    const missing = await fetch(devnet.rpcUrl, { method: "POST", body });
    assert.equal(missing.status, 401);
    assert.equal(missing.headers.get("www-authenticate"), 'Basic realm="jsonrpc"');
    await missing.body?.cancel();
    const wrong = await fetch(devnet.rpcUrl, {
      method: "POST",
      body,
      headers: { authorization: `Basic ${btoa("devnet:nope")}` },
    });
    assert.equal(wrong.status, 401);
    await wrong.body?.cancel();
    const get = await fetch(devnet.rpcUrl);
    assert.equal(get.status, 405);
    await get.body?.cancel();
  });
});

Deno.test("RPC speaks JSON-RPC 1.0 and 2.0 shapes, batches and Core's error codes", async () => {
  await withDevnet({ mempoolTarget: 0 }, async (devnet) => {
    const v1 = await rawPost(devnet, JSON.stringify({ id: "a", method: "getblockcount" }));
    assert.equal(v1.status, 200);
    assert.deepEqual(await v1.json(), { result: 110, error: null, id: "a" });

    const v1Missing = await rawPost(
      devnet,
      JSON.stringify({ jsonrpc: "1.0", id: 2, method: "nope" }),
    );
    assert.equal(v1Missing.status, 404);
    assert.deepEqual(await v1Missing.json(), {
      result: null,
      error: { code: -32601, message: "Method not found" },
      id: 2,
    });

    const v2 = await rawPost(
      devnet,
      JSON.stringify({ jsonrpc: "2.0", id: 7, method: "getblockcount" }),
    );
    assert.equal(v2.status, 200);
    assert.deepEqual(await v2.json(), { jsonrpc: "2.0", result: 110, id: 7 });

    const v2Error = await rawPost(
      devnet,
      JSON.stringify({ jsonrpc: "2.0", id: 8, method: "getblock", params: ["00"] }),
    );
    assert.equal(v2Error.status, 200);
    assert.deepEqual(await v2Error.json(), {
      jsonrpc: "2.0",
      error: { code: -8, message: "blockhash must be of length 64 (not 2, for '00')" },
      id: 8,
    });

    const notification = await rawPost(
      devnet,
      JSON.stringify({ jsonrpc: "2.0", method: "getblockcount" }),
    );
    assert.equal(notification.status, 204);
    await notification.body?.cancel();

    const batch = await rawPost(
      devnet,
      JSON.stringify([
        { jsonrpc: "2.0", id: 1, method: "getblockcount" },
        { id: 2, method: "getblockhash", params: [0] },
        { jsonrpc: "2.0", id: 3, method: "nope" },
      ]),
    );
    assert.equal(batch.status, 200);
    assert.deepEqual(await batch.json(), [
      { jsonrpc: "2.0", result: 110, id: 1 },
      {
        result: "0f9188f13cb7b2c71f2a335e3a4fc328bf5beb436012afca590b1a11466e2206",
        error: null,
        id: 2,
      },
      { jsonrpc: "2.0", error: { code: -32601, message: "Method not found" }, id: 3 },
    ]);

    const parseError = await rawPost(devnet, "{not json");
    assert.equal(parseError.status, 500);
    assert.deepEqual(await parseError.json(), {
      result: null,
      error: { code: -32700, message: "Parse error" },
    });

    const named = await rawPost(
      devnet,
      JSON.stringify({ id: 3, method: "getblockhash", params: { height: 0 } }),
    );
    assert.equal(
      (await named.json()).result,
      "0f9188f13cb7b2c71f2a335e3a4fc328bf5beb436012afca590b1a11466e2206",
    );

    const unknownBlock = await rpcCall(endpointOf(devnet), "getblockheader", ["11".repeat(32)])
      .catch((e) => e);
    assert.ok(unknownBlock instanceof RpcCallError);
    assert.equal(unknownBlock.code, -5);
    assert.equal(unknownBlock.message, "Block not found");
  });
});

Deno.test("getblocktemplate without the segwit rule fails with -8 and Core's message", async () => {
  await withDevnet({ mempoolTarget: 0 }, async (devnet) => {
    for (const params of [[], [{}], [{ rules: [] }]]) {
      const error = await rpcCall(endpointOf(devnet), "getblocktemplate", params).catch((e) => e);
      assert.ok(error instanceof RpcCallError);
      assert.equal(error.code, -8);
      assert.equal(
        error.message,
        'getblocktemplate must be called with the segwit rule set (call with {"rules": ["segwit"]})',
      );
    }
  });
});

Deno.test("getblocktemplate matches Core's fields and values", async () => {
  await withDevnet({ bits: 0x1f00ffff }, async (devnet) => {
    const endpoint = endpointOf(devnet);
    const template = await rpcCall<Record<string, unknown>>(endpoint, "getblocktemplate", [
      { rules: ["segwit"] },
    ]);
    const info = await rpcCall<{ mediantime: number }>(endpoint, "getblockchaininfo");
    assert.equal(template.version, 0x20000000);
    assert.deepEqual(template.rules, ["csv", "!segwit", "taproot"]);
    assert.equal(template.vbrequired, 0);
    assert.equal(template.bits, "1f00ffff");
    assert.equal(template.target, "0000ffff" + "0".repeat(56));
    assert.equal(template.height, 111);
    assert.equal(template.mintime, info.mediantime + 1);
    assert.equal(template.noncerange, "00000000ffffffff");
    assert.equal(template.weightlimit, 4_000_000);
    assert.equal(template.sigoplimit, 80_000);
    assert.deepEqual(template.coinbaseaux, {});
    const txs = template.transactions as { depends: number[]; sigops: number; weight: number }[];
    assert.ok(txs.some((tx) => tx.depends.length > 0), "some transactions depend on others");
    for (const [index, tx] of txs.entries()) {
      assert.ok(tx.depends.every((d) => d >= 1 && d <= index), "depends point at earlier entries");
      assert.ok(tx.sigops > 0 && tx.weight > 0);
    }
  });
});

Deno.test("getblocktemplate long poll returns once the tip changes", async () => {
  await withDevnet({ mempoolTarget: 2 }, async (devnet) => {
    const endpoint = endpointOf(devnet);
    const first = await rpcCall<{ longpollid: string }>(endpoint, "getblocktemplate", [
      { rules: ["segwit"] },
    ]);
    const pending = rpcCall<{ previousblockhash: string; height: number }>(
      endpoint,
      "getblocktemplate",
      [{ rules: ["segwit"], longpollid: first.longpollid }],
    );
    const hash = await devnet.mineExternalBlock();
    const next = await pending;
    assert.equal(next.previousblockhash, hash);
    assert.equal(next.height, 112);
  });
});

Deno.test("getblocktemplate proposal mode checks a block on the tip without storing it", async () => {
  await withDevnet({ mempoolTarget: 3 }, async (devnet) => {
    const endpoint = endpointOf(devnet);
    const template = await fetchTemplate(endpoint);
    const solved = solveTemplate(template, { payoutAddress: MINER_ADDRESS });
    assert.ok(solved);
    const propose = (data: string) =>
      rpcCall<string | null>(endpoint, "getblocktemplate", [{ mode: "proposal", data }]);
    assert.equal(await propose(solved.hex), null);
    assert.equal(devnet.chain.block(solved.hash), undefined, "not stored");
    const tooMuch = buildBrokenBlock(BrokenKind.TOO_MUCH_COINBASE_VALUE, template, {
      payoutAddress: MINER_ADDRESS,
    });
    assert.equal(await propose(tooMuch), "bad-cb-amount");
    assert.equal(await submitBlock(endpoint, solved.hex), null);
    assert.equal(await propose(solved.hex), "duplicate");
    const stale = solveTemplate(template, { payoutAddress: MINER_ADDRESS, extranonce: 9 });
    assert.ok(stale);
    assert.equal(await propose(stale.hex), "inconclusive-not-best-prevblk");
  });
});

Deno.test("devnet with harder bits accepts a GBT-mined block and reports the difficulty", async () => {
  await withDevnet({ bits: 0x1f00ffff, mempoolTarget: 5 }, async (devnet) => {
    const endpoint = endpointOf(devnet);
    const mined = await mineOnce({ endpoint, payoutAddress: MINER_ADDRESS });
    assert.equal(mined.result, null);
    const header = await rpcCall<Record<string, unknown>>(endpoint, "getblockheader", [mined.hash]);
    assert.equal(header.bits, "1f00ffff");
    assert.equal(header.height, 111);
    assert.equal(header.confirmations, 1);
    const info = await rpcCall<Record<string, unknown>>(endpoint, "getmininginfo");
    assert.equal(info.blocks, 111);
    assert.equal(info.pooledtx, 5);
    assert.equal(info.chain, "regtest");
  });
});

Deno.test("setUnreachable closes the RPC port (connection refused) and reopens it on the same port", async () => {
  await withDevnet({ mempoolTarget: 0 }, async (devnet) => {
    const endpoint = endpointOf(devnet);
    assert.equal(await rpcCall(endpoint, "getblockcount"), 110);
    await devnet.setUnreachable(true);
    const client = Deno.createHttpClient({});
    try {
      const error = await fetch(devnet.rpcUrl, { method: "POST", body: "{}", client }).catch((e) =>
        e
      );
      assert.ok(error instanceof TypeError);
      assert.match(String(error.cause), /Connection refused/);
    } finally {
      client.close();
    }
    const refused = await Deno.connect({ hostname: "127.0.0.1", port: devnet.rpcPort })
      .catch((e) => e);
    assert.ok(refused instanceof Deno.errors.ConnectionRefused);
    await devnet.setUnreachable(false);
    assert.equal(await rpcCall(endpoint, "getblockcount"), 110);
  });
});

Deno.test("a competing block from the network moves the tip and is announced on ZMQ", async () => {
  await withDevnet({}, async (devnet) => {
    const endpoint = endpointOf(devnet);
    const subscriber = await subscribeHashblock(devnet);
    try {
      const before = await rpcCall<string[]>(endpoint, "getrawmempool");
      const hash = await devnet.mineExternalBlock();
      assert.equal(devnet.chain.tipHash(), hash);
      assert.equal(devnet.chain.tipHeight(), 111);
      assert.deepEqual(await nextHashblock(subscriber), { hash, sequence: 0 });
      const block = devnet.chain.block(hash);
      assert.ok(block);
      assert.deepEqual(block.txids.slice(1), before, "it confirms the mempool");
      assert.equal(devnet.chain.coinbase(hash)?.outputs[0]?.address, devnet.wallet.p2wpkhAddress);
      const template = await fetchTemplate(endpoint);
      assert.equal(template.previousblockhash, hash);
    } finally {
      subscriber.close();
    }
  });
});

Deno.test("generatetoaddress mines blocks to the address; invalid addresses are -5", async () => {
  await withDevnet({ mempoolTarget: 4 }, async (devnet) => {
    const endpoint = endpointOf(devnet);
    const hashes = await rpcCall<string[]>(endpoint, "generatetoaddress", [2, MINER_ADDRESS]);
    assert.equal(hashes.length, 2);
    assert.equal(devnet.chain.tipHash(), hashes[1]);
    assert.equal(devnet.chain.tipHeight(), 112);
    for (const hash of hashes) {
      assert.equal(devnet.chain.coinbase(hash)?.outputs[0]?.address, MINER_ADDRESS);
      assert.equal(devnet.chain.block(hash)?.txids.length, 5, "coinbase and 4 mempool txs");
    }
    const block = await rpcCall<{ tx: { fee?: number }[] }>(endpoint, "getblock", [hashes[0], 2]);
    assert.ok(block.tx.slice(1).every((tx) => typeof tx.fee === "number" && tx.fee > 0));
    const error = await rpcCall(endpoint, "generatetoaddress", [
      1,
      "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4",
    ])
      .catch((e) => e);
    assert.ok(error instanceof RpcCallError);
    assert.equal(error.code, -5);
    assert.equal(error.message, "Error: Invalid address");
  });
});

Deno.test("validateaddress describes regtest addresses like Core", async () => {
  await withDevnet({ mempoolTarget: 0 }, async (devnet) => {
    const endpoint = endpointOf(devnet);
    const check = (address: string) =>
      rpcCall<Record<string, unknown>>(endpoint, "validateaddress", [address]);
    assert.deepEqual(await check(MINER_ADDRESS), {
      isvalid: true,
      address: MINER_ADDRESS,
      scriptPubKey: "0014751e76e8199196d454941c45d1b3a323f1433bd6",
      isscript: false,
      iswitness: true,
      witness_version: 0,
      witness_program: "751e76e8199196d454941c45d1b3a323f1433bd6",
    });
    const program = new Uint8Array(32).fill(1);
    const taproot = bech32m.encode("bcrt", [1, ...bech32m.toWords(program)]);
    const tr = await check(taproot);
    assert.equal(tr.isvalid, true);
    assert.equal(tr.isscript, true);
    assert.equal(tr.witness_version, 1);
    assert.equal(tr.scriptPubKey, `5120${"01".repeat(32)}`);
    const p2pkh = await check(devnet.wallet.p2pkhAddress);
    assert.equal(p2pkh.isvalid, true);
    assert.equal(p2pkh.isscript, false);
    assert.equal(p2pkh.iswitness, false);
    assert.match(String(p2pkh.scriptPubKey), /^76a914[0-9a-f]{40}88ac$/);
    const p2sh = await check("2MzQwSSnBHWHqSAqtTVQ6v47XtaisrJa1Vc");
    assert.equal(p2sh.isvalid, true);
    assert.equal(p2sh.isscript, true);
    assert.match(String(p2sh.scriptPubKey), /^a914[0-9a-f]{40}87$/);
    assert.deepEqual(await check("bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4"), {
      isvalid: false,
      error_locations: [],
      error: "Invalid or unsupported Segwit (Bech32) or Base58 encoding.",
    });
    const mainnetBase58 = await check("1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2");
    assert.equal(mainnetBase58.isvalid, false);
    assert.equal(mainnetBase58.error, "Invalid or unsupported Base58-encoded address.");
  });
});

Deno.test("initial block download flag shows in getblockchaininfo and blocks getblocktemplate", async () => {
  await withDevnet({ mempoolTarget: 0 }, async (devnet) => {
    const endpoint = endpointOf(devnet);
    devnet.setInitialBlockDownload(true);
    const info = await rpcCall<Record<string, unknown>>(endpoint, "getblockchaininfo");
    assert.equal(info.initialblockdownload, true);
    assert.equal(info.chain, "regtest");
    const error = await fetchTemplate(endpoint).catch((e) => e);
    assert.ok(error instanceof RpcCallError);
    assert.equal(error.code, -10);
    devnet.setInitialBlockDownload(false);
    const template = await fetchTemplate(endpoint);
    assert.equal(template.height, 111);
  });
});

Deno.test("getblockchaininfo, getblockheader, getblock and getnetworkinfo report Core's fields", async () => {
  await withDevnet({}, async (devnet) => {
    const endpoint = endpointOf(devnet);
    const info = await rpcCall<Record<string, unknown>>(endpoint, "getblockchaininfo");
    assert.equal(info.blocks, 110);
    assert.equal(info.headers, 110);
    assert.equal(info.bestblockhash, devnet.chain.tipHash());
    assert.equal(info.difficulty, 4.656542373906925e-10);
    assert.equal(info.verificationprogress, 1);
    assert.match(String(info.chainwork), /^[0-9a-f]{64}$/);
    assert.equal(BigInt(`0x${info.chainwork}`), 111n * 2n);

    const genesis = await rpcCall<Record<string, unknown>>(endpoint, "getblock", [
      "0f9188f13cb7b2c71f2a335e3a4fc328bf5beb436012afca590b1a11466e2206",
    ]);
    assert.equal(genesis.height, 0);
    assert.equal(genesis.confirmations, 111);
    assert.equal(
      genesis.merkleroot,
      "4a5e1e4baab89f3a32518a88c31bc87f618f76673e2cc77ab2127b7afdeda33b",
    );
    assert.equal(genesis.time, 1296688602);
    assert.equal(genesis.nonce, 2);
    assert.equal(genesis.bits, "207fffff");
    assert.equal(genesis.previousblockhash, undefined);
    assert.equal(typeof genesis.nextblockhash, "string");

    const headerHex = await rpcCall<string>(endpoint, "getblockheader", [
      devnet.chain.tipHash(),
      false,
    ]);
    assert.equal(headerHex.length, 160);

    const network = await rpcCall<Record<string, unknown>>(endpoint, "getnetworkinfo");
    assert.equal(typeof network.version, "number");
    assert.ok((network.version as number) >= 270000);

    const verbose = await rpcCall<Record<string, { fees: { base: number } }>>(
      endpoint,
      "getrawmempool",
      [true],
    );
    assert.equal(Object.keys(verbose).length, 20);
    assert.ok(Object.values(verbose).every((entry) => entry.fees.base > 0));
  });
});

Deno.test("the devnet CLI prints a ready line, serves RPC and exits 0 on SIGTERM", async () => {
  const command = new Deno.Command("deno", {
    args: [
      "run",
      "--allow-net=127.0.0.1",
      "--allow-ffi=node_modules",
      "--allow-read=node_modules,/etc/alpine-release",
      "tests/support/devnet/main.ts",
      "--user",
      "u",
      "--pass",
      "p",
      "--bits",
      "1f00ffff",
      "--mempool-txs",
      "3",
    ],
    cwd: new URL("..", import.meta.url).pathname,
    stdout: "piped",
    stderr: "piped",
  });
  const child = command.spawn();
  const stderr = new Response(child.stderr).text();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  try {
    let buffered = "";
    while (!buffered.includes("\n")) {
      const { value, done } = await reader.read();
      if (done) break;
      buffered += value;
    }
    const ready = JSON.parse(buffered.split("\n")[0] ?? "");
    assert.equal(ready.ready, true);
    assert.match(ready.rpcUrl, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.match(ready.zmqUrl, /^tcp:\/\/127\.0\.0\.1:\d+$/);
    assert.match(ready.controlUrl, /^http:\/\/127\.0\.0\.1:\d+$/);
    const endpoint = { url: ready.rpcUrl, user: "u", password: "p" };
    assert.equal(await rpcCall(endpoint, "getblockcount"), 110);
    const control = await fetch(ready.controlUrl, {
      method: "POST",
      body: JSON.stringify({ method: "setInitialBlockDownload", params: [true] }),
    });
    assert.deepEqual(await control.json(), { result: true });
    const info = await rpcCall<{ initialblockdownload: boolean }>(endpoint, "getblockchaininfo");
    assert.equal(info.initialblockdownload, true);
  } finally {
    child.kill("SIGTERM");
    await reader.cancel();
  }
  const status = await child.status;
  assert.equal(status.code, 0, await stderr);
});
