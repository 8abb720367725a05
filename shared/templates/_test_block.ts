/**
 * A small valid block for the block-submit codec's tests and its fuzz target
 * (tools/fuzz/targets/block_submit.ts).
 *
 * @module
 */
import * as bitcoin from "bitcoinjs-lib";
import { encodeBip34Height } from "../bitcoin/script_num.ts";

/** A block with a BIP34 coinbase (and a witness when `segwit`) and one more transaction. */
export function testBlock(height: number, segwit = true): Uint8Array {
  const coinbase = new bitcoin.Transaction();
  coinbase.version = 2;
  coinbase.addInput(
    new Uint8Array(32),
    0xffffffff,
    0xffffffff,
    Uint8Array.of(...encodeBip34Height(height), 0x04, 0x74, 0x62, 0x67, 0x21),
  );
  coinbase.addOutput(Uint8Array.of(0x00, 0x14, ...new Uint8Array(20).fill(3)), 5_000_000_000n);
  if (segwit) coinbase.setWitness(0, [new Uint8Array(32)]);
  const spend = new bitcoin.Transaction();
  spend.addInput(new Uint8Array(32).fill(9), 1);
  spend.addOutput(Uint8Array.of(0x51), 1_000n);
  const b = new bitcoin.Block();
  b.version = 0x20000000;
  b.prevHash = new Uint8Array(32).fill(1);
  b.timestamp = 1_700_000_000;
  b.bits = 0x207fffff;
  b.nonce = 0;
  b.transactions = [coinbase, spend];
  b.merkleRoot = bitcoin.Block.calculateMerkleRoot(b.transactions);
  return new Uint8Array(b.toBuffer());
}
