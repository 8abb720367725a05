// deno test --allow-net=127.0.0.1 shared/bitcoind/rpc_client_test.ts
import assert from "node:assert/strict";
import { closedPort, startCannedNode } from "./_canned_node.ts";
import {
  BitcoindRpc,
  isNodeUnavailable,
  normaliseBtcdUrl,
  RpcError,
  RpcTransportError,
  TransportFailure,
} from "./rpc_client.ts";

const HASH = "0f9188f13cb7b2c71f2a335e3a4fc328bf5beb436012afca590b1a11466e2206";

Deno.test("BitcoindRpc sends JSON-RPC 1.0 with basic auth and the segwit rule", async () => {
  const node = startCannedNode(() => ({ result: { height: 1 } }), { user: "pool", pass: "s3cret" });
  try {
    const rpc = new BitcoindRpc({ url: node.url, auth: "pool", pass: "s3cret" });
    assert.deepEqual(await rpc.getBlockTemplate(), { height: 1 });
    const request = node.requests[0]!;
    assert.equal(request.method, "getblocktemplate");
    assert.deepEqual(request.params, [{ rules: ["segwit"] }]);
    assert.equal(request.authorization, `Basic ${btoa("pool:s3cret")}`);
    assert.equal((request.body as { jsonrpc: string }).jsonrpc, "1.0");
  } finally {
    await node.close();
  }
});

Deno.test("BitcoindRpc accepts host:port and http://host:port urls", () => {
  assert.equal(normaliseBtcdUrl("127.0.0.1:8332"), "http://127.0.0.1:8332");
  assert.equal(normaliseBtcdUrl("http://node.example:18443"), "http://node.example:18443");
  assert.throws(() => normaliseBtcdUrl("https://node:8332"), TypeError);
  assert.throws(() => new BitcoindRpc({ url: "node", auth: "a", pass: "b" }), TypeError);
});

Deno.test("submitBlock() returns null on acceptance and the reject string otherwise", async () => {
  let reply: string | null = null;
  const node = startCannedNode(() => ({ result: reply }));
  try {
    const rpc = new BitcoindRpc({ url: node.url, auth: "u", pass: "p" });
    assert.equal(await rpc.submitBlock("00"), null);
    reply = "high-hash";
    assert.equal(await rpc.submitBlock("00"), "high-hash");
    assert.deepEqual(node.requests[1]!.params, ["00"]);
  } finally {
    await node.close();
  }
});

Deno.test("an HTTP 500 error body becomes RpcError with code, message and method", async () => {
  const node = startCannedNode(() => ({ error: { code: -28, message: "Loading block index…" } }));
  try {
    const rpc = new BitcoindRpc({ url: node.url, auth: "u", pass: "p" });
    const error = await rpc.getBestBlockHash().then(() => undefined, (e: unknown) => e);
    assert.ok(error instanceof RpcError);
    assert.equal(error.code, -28);
    assert.equal(error.rpcMessage, "Loading block index…");
    assert.equal(error.method, "getbestblockhash");
    assert.ok(error.isWarmingUp);
    assert.ok(isNodeUnavailable(error));
    assert.match(error.message, /^Cannot call getbestblockhash on http:\/\/127\.0\.0\.1:\d+: /);
  } finally {
    await node.close();
  }
});

Deno.test("an unknown method (HTTP 404 with error body) is an RpcError, not a node outage", async () => {
  const node = startCannedNode(() => ({ error: { code: -32601, message: "Method not found" } }));
  try {
    const rpc = new BitcoindRpc({ url: node.url, auth: "u", pass: "p" });
    const error = await rpc.call("nosuch").then(() => undefined, (e: unknown) => e);
    assert.ok(error instanceof RpcError);
    assert.equal(error.code, -32601);
    assert.ok(!isNodeUnavailable(error));
  } finally {
    await node.close();
  }
});

Deno.test("HTTP 401 is a transport error whose message never contains the password", async () => {
  const node = startCannedNode(() => ({ result: null }), { user: "pool", pass: "right" });
  try {
    const rpc = new BitcoindRpc({ url: node.url, auth: "pool", pass: "hunter2-wrong" });
    const error = await rpc.getBlockCount().then(() => undefined, (e: unknown) => e);
    assert.ok(error instanceof RpcTransportError);
    assert.equal(error.failure, TransportFailure.unauthorized);
    assert.equal(error.status, 401);
    assert.ok(error.message.includes(node.url));
    assert.ok(error.message.includes("getblockcount"));
    assert.ok(!error.message.includes("hunter2"));
    assert.ok(isNodeUnavailable(error));
  } finally {
    await node.close();
  }
});

Deno.test("a non-JSON body (HTTP 503 work queue full) is a transport error", async () => {
  const node = startCannedNode(() => ({ status: 503, body: "Work queue depth exceeded" }));
  try {
    const rpc = new BitcoindRpc({ url: node.url, auth: "u", pass: "p" });
    const error = await rpc.getBlockCount().then(() => undefined, (e: unknown) => e);
    assert.ok(error instanceof RpcTransportError);
    assert.equal(error.failure, TransportFailure.http);
    assert.match(error.message, /HTTP 503 .*Work queue depth exceeded/);
  } finally {
    await node.close();
  }
});

Deno.test("a result of the wrong shape is a malformed transport error", async () => {
  const node = startCannedNode((method) =>
    method === "getbestblockhash" ? { result: 42 } : { result: { chain: "main" } }
  );
  try {
    const rpc = new BitcoindRpc({ url: node.url, auth: "u", pass: "p" });
    for (const call of [() => rpc.getBestBlockHash(), () => rpc.getBlockchainInfo()]) {
      const error = await call().then(() => undefined, (e: unknown) => e);
      assert.ok(error instanceof RpcTransportError);
      assert.equal(error.failure, TransportFailure.malformed);
    }
  } finally {
    await node.close();
  }
});

Deno.test("a refused connection is an unreachable transport error naming url and method", async () => {
  const url = `http://127.0.0.1:${closedPort()}`;
  const rpc = new BitcoindRpc({ url, auth: "u", pass: "p" });
  const error = await rpc.getBlockchainInfo().then(() => undefined, (e: unknown) => e);
  assert.ok(error instanceof RpcTransportError);
  assert.equal(error.failure, TransportFailure.unreachable);
  assert.equal(
    error.message,
    `Cannot call getblockchaininfo on ${url}: connection failed: Connection refused`,
  );
});

Deno.test("a call with no answer within timeoutMs is a timeout transport error", async () => {
  const node = startCannedNode(() => ({ hang: true }));
  try {
    const rpc = new BitcoindRpc({ url: node.url, auth: "u", pass: "p", timeoutMs: 50 });
    const error = await rpc.getBlockTemplate().then(() => undefined, (e: unknown) => e);
    assert.ok(error instanceof RpcTransportError);
    assert.equal(error.failure, TransportFailure.timeout);
    assert.ok(isNodeUnavailable(error));
  } finally {
    await node.close();
  }
});

Deno.test("a call aborted by the caller is an aborted error, not a node outage", async () => {
  const node = startCannedNode(() => ({ hang: true }));
  try {
    const rpc = new BitcoindRpc({ url: node.url, auth: "u", pass: "p" });
    const controller = new AbortController();
    const pending = rpc.getBlockTemplate({ signal: controller.signal });
    controller.abort();
    const error = await pending.then(() => undefined, (e: unknown) => e);
    assert.ok(error instanceof RpcTransportError);
    assert.equal(error.failure, TransportFailure.aborted);
    assert.ok(!isNodeUnavailable(error));
  } finally {
    await node.close();
  }
});

Deno.test("getBlockchainInfo() and getBlockHeader() read Core's fields", async () => {
  const node = startCannedNode((method) => {
    if (method === "getblockchaininfo") {
      return {
        result: {
          chain: "regtest",
          blocks: 5,
          headers: 5,
          bestblockhash: HASH,
          initialblockdownload: false,
          verificationprogress: 1,
          warnings: [],
        },
      };
    }
    return {
      result: { hash: HASH, height: 5, confirmations: 1, time: 1, bits: "207fffff", nonce: 0 },
    };
  });
  try {
    const rpc = new BitcoindRpc({ url: node.url, auth: "u", pass: "p" });
    const info = await rpc.getBlockchainInfo();
    assert.equal(info.chain, "regtest");
    assert.equal(info.initialblockdownload, false);
    const header = await rpc.getBlockHeader(HASH);
    assert.equal(header.height, 5);
    assert.equal(header.previousblockhash, undefined);
    assert.deepEqual(node.requests[1]!.params, [HASH, true]);
  } finally {
    await node.close();
  }
});
