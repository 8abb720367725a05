import assert from "node:assert/strict";
import fc from "fast-check";
import { ripemd160 } from "@noble/hashes/legacy.js";
import { sha256 as nobleSha256 } from "@noble/hashes/sha2.js";
import { hash160, sha256, sha256d } from "./hash.ts";
import { bytesToHex, hexToBytes } from "./hex.ts";

const abc = new TextEncoder().encode("abc");

Deno.test("sha256() matches the FIPS 180-2 test vectors", () => {
  assert.equal(
    bytesToHex(sha256(new Uint8Array(0))),
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
  );
  assert.equal(
    bytesToHex(sha256(abc)),
    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
  );
});

Deno.test("sha256d() hashes twice", () => {
  assert.equal(
    bytesToHex(sha256d(abc)),
    "4f8b42c22dd3729b519ba6f68d2da7cc5b2d606d05daed5ad5128cc03e6c6358",
  );
});

Deno.test("hash160() of the generator point's public key is BIP173's example program", () => {
  const pubkey = hexToBytes("0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798");
  assert.equal(bytesToHex(hash160(pubkey)), "751e76e8199196d454941c45d1b3a323f1433bd6");
});

Deno.test("hash functions agree with @noble/hashes and return plain Uint8Arrays", () => {
  fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), (data) => {
    const once = sha256(data);
    assert.equal(Object.getPrototypeOf(once), Uint8Array.prototype);
    assert.deepEqual(once, nobleSha256(data));
    assert.deepEqual(sha256d(data), nobleSha256(nobleSha256(data)));
    assert.deepEqual(hash160(data), ripemd160(nobleSha256(data)));
  }));
});
