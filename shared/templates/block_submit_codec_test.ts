import assert from "node:assert/strict";
import { sha256d } from "../bitcoin/hash.ts";
import { testBlock as block } from "./_test_block.ts";
import type { BlockSubmitResult } from "../bitcoind/template_source.ts";
import {
  type BlockSubmitReply,
  type BlockSubmitRequest,
  coinbaseHeight,
  decodeBlockSubmitReply,
  decodeBlockSubmitRequest,
  encodeBlockSubmitReply,
  encodeBlockSubmitRequest,
  MAX_BLOCK_SUBMIT_REQUEST_BYTES,
} from "./block_submit_codec.ts";

function request(bytes: Uint8Array, over: Partial<BlockSubmitRequest> = {}): BlockSubmitRequest {
  return {
    sentAtMs: 1_700_000_000_123.5,
    height: over.height ?? coinbaseHeight(bytes),
    blockHash: sha256d(bytes.subarray(0, 80)),
    region: "us-east",
    network: "regtest",
    authToken: "relay-secret",
    block: bytes,
    ...over,
  };
}

Deno.test("coinbaseHeight() reads BIP34 heights with and without segwit", () => {
  for (const height of [1, 16, 17, 127, 128, 255, 256, 32_767, 32_768, 840_000, 0x7fffffff]) {
    assert.equal(coinbaseHeight(block(height)), height, `${height}`);
    assert.equal(coinbaseHeight(block(height, false)), height, `${height} legacy`);
  }
});

Deno.test("coinbaseHeight() refuses what is not a BIP34 coinbase", () => {
  assert.throws(() => coinbaseHeight(new Uint8Array(80)), /Cannot read coinbase height/);
  const b = block(500);
  const notCoinbase = b.slice();
  // The coinbase prevout starts after the header, count, version, marker, flag and input count.
  notCoinbase[80 + 1 + 4 + 2 + 1] = 7;
  assert.throws(() => coinbaseHeight(notCoinbase), /not a coinbase/);
  assert.throws(() => coinbaseHeight(b.subarray(0, 100)), /Cannot read coinbase height/);
});

Deno.test("decodeBlockSubmitRequest() returns what encodeBlockSubmitRequest() was given", () => {
  const input = request(block(1234));
  assert.deepEqual(decodeBlockSubmitRequest(encodeBlockSubmitRequest(input)), input);
  const anonymous = request(block(20), { authToken: "" });
  assert.deepEqual(decodeBlockSubmitRequest(encodeBlockSubmitRequest(anonymous)), anonymous);
});

Deno.test("decodeBlockSubmitRequest() checks the header hash and the coinbase height", () => {
  const b = block(777);
  const otherHash = sha256d(Uint8Array.of(1));
  assert.throws(
    () => decodeBlockSubmitRequest(encodeBlockSubmitRequest(request(b, { blockHash: otherHash }))),
    /blockHash [0-9a-f]{64} is not the header's hash [0-9a-f]{64}/,
  );
  assert.throws(
    () => decodeBlockSubmitRequest(encodeBlockSubmitRequest(request(b, { height: 778 }))),
    /height 778 is not the coinbase's BIP34 height 777/,
  );
  // Header (and hash) intact, coinbase scriptSig no longer starting with a height push.
  const noHeight = b.slice();
  noHeight[80 + 1 + 4 + 2 + 1 + 36 + 1] = 0x6a;
  assert.throws(
    () => decodeBlockSubmitRequest(encodeBlockSubmitRequest(request(noHeight, { height: 777 }))),
    /block has no usable coinbase height \(.*opcode 0x6a is not a 1\.\.4 byte push\)/,
  );
});

Deno.test("decodeBlockSubmitRequest() refuses malformed requests with the field named", () => {
  const good = encodeBlockSubmitRequest(request(block(99)));
  const patched = (offset: number, value: number) => {
    const copy = good.slice();
    copy[offset] = value;
    return copy;
  };
  assert.throws(() => decodeBlockSubmitRequest(patched(0, 0)), /magic is not "TBGB"/);
  assert.throws(() => decodeBlockSubmitRequest(patched(4, 9)), /format 9 is not supported/);
  assert.throws(() => decodeBlockSubmitRequest(patched(5, 4)), /flags 0x4 has unknown bits/);
  // region "us-east" starts after the 50 fixed bytes; make it "us east".
  assert.throws(
    () => decodeBlockSubmitRequest(patched(53, 0x20)),
    /region "us east" is not a subject token/,
  );
  assert.throws(
    () => decodeBlockSubmitRequest(good.subarray(0, 60)),
    /truncated|shorter than any block/,
  );
  assert.throws(() => decodeBlockSubmitRequest(new TextEncoder().encode("deadbeef")), SyntaxError);
  assert.throws(
    () => decodeBlockSubmitRequest(new Uint8Array(MAX_BLOCK_SUBMIT_REQUEST_BYTES + 1)),
    (e: unknown) => e instanceof RangeError && /above the \d+-byte cap/.test(e.message),
  );
  for (let length = 0; length < 200; length++) {
    assert.throws(() => decodeBlockSubmitRequest(good.subarray(0, length)), SyntaxError);
  }
});

Deno.test("encodeBlockSubmitRequest() refuses fields it cannot carry", () => {
  const b = block(5);
  assert.throws(() => encodeBlockSubmitRequest(request(b, { region: "us.east" })), /region/);
  assert.throws(
    () => encodeBlockSubmitRequest(request(b, { blockHash: new Uint8Array(31) })),
    /32/,
  );
  assert.throws(() => encodeBlockSubmitRequest(request(b, { authToken: "x".repeat(256) })), /255/);
  assert.throws(
    () => encodeBlockSubmitRequest(request(b, { block: b.subarray(0, 100) })),
    /block of 100 bytes is outside/,
  );
});

const RESULT: BlockSubmitResult = {
  accepted: true,
  tipMoved: true,
  blockHash: "00".repeat(32),
  results: [
    { url: "http://10.0.0.1:8332", result: null, tipMoved: true },
    { url: "http://10.0.0.2:8332", result: null, error: "timeout", tipMoved: false },
  ],
};

Deno.test("decodeBlockSubmitReply() returns what encodeBlockSubmitReply() was given", () => {
  const replies: BlockSubmitReply[] = [
    { ok: true, region: "eu", submitMs: 12.5, result: RESULT },
    { ok: false, region: "eu", error: { code: "bad_request", message: "Cannot decode: x" } },
    { ok: false, region: "eu", error: { code: "unauthorized", message: "no token" } },
  ];
  for (const reply of replies) {
    assert.deepEqual(decodeBlockSubmitReply(encodeBlockSubmitReply(reply)), reply);
  }
});

Deno.test("decodeBlockSubmitReply() names what is wrong", () => {
  const json = (value: unknown) => new TextEncoder().encode(JSON.stringify(value));
  const ok = { v: 1, ok: true, region: "eu", submitMs: 1, result: RESULT };
  const cases: [unknown, RegExp][] = [
    [{ ...ok, v: 3 }, /version 3 is not 1/],
    [{ ...ok, region: "e u" }, /region must be a subject token/],
    [{ ...ok, ok: "yes" }, /ok must be true or false/],
    [{ ...ok, submitMs: null }, /submitMs/],
    [{ ...ok, result: { ...RESULT, accepted: "no" } }, /result.accepted/],
    [{ ...ok, result: { ...RESULT, blockHash: "xyz" } }, /result.blockHash/],
    [{ ...ok, result: { ...RESULT, results: [{ url: 1 }] } }, /results\[0\].url/],
    [{ v: 1, ok: false, region: "eu", error: { code: "nope", message: "m" } }, /error.code "nope"/],
    [{ v: 1, ok: false, region: "eu", error: "x" }, /error must be an object/],
  ];
  for (const [value, pattern] of cases) {
    assert.throws(() => decodeBlockSubmitReply(json(value)), pattern);
  }
  assert.throws(() => decodeBlockSubmitReply(new Uint8Array(70_000)), /cap/);
  assert.throws(() => decodeBlockSubmitReply(new TextEncoder().encode("[")), /not UTF-8 JSON/);
});
