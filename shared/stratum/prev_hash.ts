/**
 * Stratum's peculiar previous-hash encoding: the header's 32 bytes (internal order) with the bytes
 * of each 32-bit word reversed. Miners undo the swap word by word before hashing.
 */
import { bytesToHex, hexToBytes } from "../bitcoin/hex.ts";

/** Stratum mining.notify prevhash hex from the header's prev-hash bytes (internal order). */
export function prevHashToStratum(prevHashInternal: Uint8Array): string {
  return bytesToHex(swapWords(prevHashInternal));
}

/** Header prev-hash bytes (internal order) from Stratum's prevhash hex. */
export function stratumToPrevHash(stratumHex: string): Uint8Array {
  const bytes = hexToBytes(stratumHex);
  if (bytes.length !== 32) throw new RangeError("Cannot decode prevhash: expected 32 bytes");
  return swapWords(bytes);
}

function swapWords(input: Uint8Array): Uint8Array {
  const out = new Uint8Array(32);
  for (let i = 0; i < 32; i += 4) {
    out[i] = input[i + 3]!;
    out[i + 1] = input[i + 2]!;
    out[i + 2] = input[i + 1]!;
    out[i + 3] = input[i]!;
  }
  return out;
}
