/**
 * Test helper: a getblocktemplate result with real (unsigned, parseable) segwit and legacy
 * transactions built by bitcoinjs-lib, so block assembly can be checked by an independent parser.
 */
import * as bitcoin from "bitcoinjs-lib";
import { bytesToHex, reverseBytes, witnessCommitmentScript } from "../bitcoin/mod.ts";

/** Options for the synthetic template. */
export interface TestGbtOptions {
  readonly bits?: string;
  readonly height?: number;
  readonly txCount?: number;
  readonly curtime?: number;
  readonly prevHash?: string;
}

/** A Core-shaped getblocktemplate result. */
export function testGbt(options: TestGbtOptions = {}): Record<string, unknown> {
  const txs = [];
  for (let i = 0; i < (options.txCount ?? 3); i++) {
    const tx = new bitcoin.Transaction();
    tx.version = 2;
    tx.addInput(new Uint8Array(32).fill(i + 1), i);
    tx.addOutput(Uint8Array.of(0x00, 0x14, ...new Uint8Array(20).fill(i + 7)), 10_000n + BigInt(i));
    // Every other transaction carries witness data, like a P2WPKH spend.
    if (i % 2 === 0) tx.setWitness(0, [new Uint8Array(71).fill(1), new Uint8Array(33).fill(2)]);
    txs.push({
      data: tx.toHex(),
      txid: tx.getId(),
      hash: bytesToHex(reverseBytes(tx.getHash(true))),
      fee: 1000 + i,
      weight: tx.weight(),
      depends: [],
      sigops: 1,
    });
  }
  const wtxids = txs.map((t) =>
    reverseBytes(Uint8Array.from(t.hash.match(/../g)!.map((h) => parseInt(h, 16))))
  );
  return {
    version: 0x20000000,
    rules: ["csv", "!segwit", "taproot"],
    previousblockhash: options.prevHash ??
      "0f9188f13cb7b2c71f2a335e3a4fc328bf5beb436012afca590b1a11466e2206",
    transactions: txs,
    coinbasevalue: 5_000_000_000 + txs.reduce((s, t) => s + t.fee, 0),
    target: "7fffff0000000000000000000000000000000000000000000000000000000000",
    mintime: 1_700_000_000,
    curtime: options.curtime ?? 1_700_000_600,
    bits: options.bits ?? "207fffff",
    height: options.height ?? 1,
    default_witness_commitment: bytesToHex(witnessCommitmentScript(wtxids)),
  };
}
