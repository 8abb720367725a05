/**
 * Deterministic regtest payout addresses of each type for tests and the demo, encoded with
 * @scure/base (independently of the pool's decoder, which must accept them).
 */
import { bech32, bech32m, createBase58check } from "@scure/base";
import { createHash } from "node:crypto";

const base58check = createBase58check((data: Uint8Array) =>
  new Uint8Array(createHash("sha256").update(data).digest())
);

/** The kinds of payout address the pool supports. */
export type TestAddressType = "p2wpkh" | "p2wsh" | "p2tr" | "p2pkh" | "p2sh";

/** Secp256k1 generator x coordinate: a valid x-only key for P2TR outputs. */
const G_X = "79be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798";

function program(seed: number, length: number): Uint8Array {
  return new Uint8Array(createHash("sha256").update(`tbg-test-${seed}`).digest()).slice(0, length);
}

/** A regtest address of `type`, different for each seed; its scriptPubKey in hex. */
export function regtestAddress(
  type: TestAddressType,
  seed = 1,
): { address: string; scriptHex: string } {
  switch (type) {
    case "p2wpkh": {
      const p = program(seed, 20);
      return {
        address: bech32.encode("bcrt", [0, ...bech32.toWords(p)]),
        scriptHex: "0014" + hex(p),
      };
    }
    case "p2wsh": {
      const p = program(seed, 32);
      return {
        address: bech32.encode("bcrt", [0, ...bech32.toWords(p)]),
        scriptHex: "0020" + hex(p),
      };
    }
    case "p2tr": {
      // The generator's x is a valid point; P2TR miners in tests share it (seed is unused).
      const p = Uint8Array.from(G_X.match(/../g)!.map((b) => parseInt(b, 16)));
      return {
        address: bech32m.encode("bcrt", [1, ...bech32m.toWords(p)]),
        scriptHex: "5120" + hex(p),
      };
    }
    case "p2pkh": {
      const p = program(seed, 20);
      return {
        address: base58check.encode(Uint8Array.of(0x6f, ...p)),
        scriptHex: "76a914" + hex(p) + "88ac",
      };
    }
    case "p2sh": {
      const p = program(seed, 20);
      return {
        address: base58check.encode(Uint8Array.of(0xc4, ...p)),
        scriptHex: "a914" + hex(p) + "87",
      };
    }
  }
}

function hex(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}
