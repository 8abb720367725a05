// deno test shared/bitcoind/rpc_fields_test.ts
import assert from "node:assert/strict";
import { RpcFieldError, RpcFields } from "./rpc_fields.ts";

Deno.test("RpcFields names the method, the field and what the node sent", () => {
  const f = new RpcFields("getblockheader", { height: -1, hash: "xyz", time: 1.5 });
  assert.throws(() => f.integer("height"), {
    name: "RpcFieldError",
    message: "getblockheader.height must be a non-negative integer, got -1",
  });
  assert.throws(
    () => f.hash("hash"),
    /getblockheader\.hash must be a 64-digit hex hash, got "xyz"/,
  );
  assert.throws(() => f.integer("time"), /getblockheader\.time must be .* got 1\.5/);
  assert.throws(() => f.string("bits"), /getblockheader\.bits must be a string, got nothing/);
  assert.throws(() => new RpcFields("getblockheader", [1]), RpcFieldError);
});

Deno.test("RpcFields treats absent and null optional fields alike, and checks present ones", () => {
  const f = new RpcFields("getblockchaininfo", {
    verificationprogress: null,
    initialblockdownload: 0,
    headers: 5,
  });
  assert.equal(f.optionalNumber("verificationprogress"), undefined);
  assert.equal(f.optionalInteger("missing"), undefined);
  assert.equal(f.optionalInteger("headers"), 5);
  assert.throws(
    () => f.optionalBoolean("initialblockdownload"),
    /getblockchaininfo\.initialblockdownload must be a boolean, got 0/,
  );
});

Deno.test("RpcFields lower-cases hashes and clips long values in messages", () => {
  const f = new RpcFields("getbestblockhash", { hash: "AB".repeat(32), junk: "z".repeat(500) });
  assert.equal(f.hash("hash"), "ab".repeat(32));
  const error = assert.throws(
    () => f.integer("junk"),
    (e: unknown) => e instanceof RpcFieldError && e.message.length < 200,
  );
  void error;
});

Deno.test("RpcFields reads fields whose type differs between node implementations", () => {
  const f = new RpcFields("getblockheader", {
    core: "207fffff",
    btcd: "1d00ffff",
    bcoin: 545259519,
    small: 0x1d00ff,
    vcore: 290000,
    vbcoin: "v1.0.2",
  });
  assert.equal(f.compactBits("core"), "207fffff");
  assert.equal(f.compactBits("bcoin"), "207fffff");
  assert.equal(f.compactBits("small"), "001d00ff");
  assert.equal(f.integerOrString("vcore"), 290000);
  assert.equal(f.integerOrString("vbcoin"), "v1.0.2");
  const bad = new RpcFields("getblockheader", { a: "xyz", b: 2 ** 32, c: -1, d: "", e: 1.5 });
  for (const key of ["a", "b", "c", "missing"]) {
    assert.throws(() => bad.compactBits(key), /getblockheader\.\w+ must be compact bits/);
  }
  for (const key of ["c", "d", "e", "missing"]) {
    assert.throws(
      () => bad.integerOrString(key),
      /getblockheader\.\w+ must be a non-negative integer or a non-empty string/,
    );
  }
});
