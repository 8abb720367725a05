/**
 * @noble/secp256k1 with its synchronous hashes wired to node:crypto, so `sign` and `verify`
 * work without the async API.
 *
 * @module
 */
import { createHash, createHmac } from "node:crypto";
import * as secp from "@noble/secp256k1";

secp.hashes.sha256 = (message: Uint8Array): Uint8Array<ArrayBuffer> =>
  new Uint8Array(createHash("sha256").update(message).digest());
secp.hashes.hmacSha256 = (key: Uint8Array, message: Uint8Array): Uint8Array<ArrayBuffer> =>
  new Uint8Array(createHmac("sha256", key).update(message).digest());

/** The configured library. */
export { secp };
