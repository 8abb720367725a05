/**
 * The real regtest genesis block, rebuilt from its parts.
 *
 * @module
 */
import { fromHex } from "./bytes.ts";
import {
  parseBlock,
  type ParsedBlock,
  parseTx,
  serializeBlock,
  serializeHeader,
  serializeTx,
} from "./codec.ts";
import { merkleRoot } from "./merkle.ts";
import { REGTEST_POW_LIMIT_BITS } from "./consensus.ts";

/** Display-order hash of Bitcoin Core's regtest genesis block. */
export const REGTEST_GENESIS_HASH =
  "0f9188f13cb7b2c71f2a335e3a4fc328bf5beb436012afca590b1a11466e2206";

const GENESIS_SCRIPT_SIG = "04ffff001d0104455468652054696d65732030332f4a616e2f32303039204368" +
  "616e63656c6c6f72206f6e206272696e6b206f66207365636f6e64206261696c6f757420666f722062616e6b73";
const GENESIS_OUTPUT_SCRIPT = "4104678afdb0fe5548271967f1a67130b7105cd6a828e03909a67962e0ea1f61de" +
  "b649f6bc3f4cef38c4f35504e51ec112de5c384df7ba0b8d578a4c702b6bf11d5fac";

/**
 * Builds the regtest genesis block (time 1296688602, nonce 2, bits 0x207fffff).
 *
 * @throws {Error} if the rebuilt block does not hash to {@link REGTEST_GENESIS_HASH}.
 */
export function regtestGenesis(): { block: ParsedBlock; bytes: Uint8Array } {
  const coinbase = serializeTx({
    version: 1,
    inputs: [{
      prevTxid: new Uint8Array(32),
      prevVout: 0xffffffff,
      scriptSig: fromHex(GENESIS_SCRIPT_SIG),
      sequence: 0xffffffff,
      witness: [],
    }],
    outputs: [{ valueSats: 5_000_000_000n, script: fromHex(GENESIS_OUTPUT_SCRIPT) }],
    locktime: 0,
  });
  const { root } = merkleRoot([parseTx(coinbase).txidBytes]);
  const header = serializeHeader({
    version: 1,
    prevHash: new Uint8Array(32),
    merkleRoot: root,
    time: 1296688602,
    bits: REGTEST_POW_LIMIT_BITS,
    nonce: 2,
  });
  const bytes = serializeBlock(header, [coinbase]);
  const block = parseBlock(bytes);
  if (block.header.hashHex !== REGTEST_GENESIS_HASH) {
    throw new Error(`Cannot build regtest genesis: got ${block.header.hashHex}`);
  }
  return { block, bytes };
}
