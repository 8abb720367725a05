import assert from "node:assert/strict";
import { Transaction } from "bitcoinjs-lib";
import { fromHex, toHex } from "./bytes.ts";
import { ByteReader, parseTx, serializeTx } from "./codec.ts";
import { REGTEST_GENESIS_HASH, regtestGenesis } from "./genesis.ts";
import { Wallet } from "./wallet.ts";

Deno.test("regtestGenesis() rebuilds Core's regtest genesis block", () => {
  const { block } = regtestGenesis();
  assert.equal(block.header.hashHex, REGTEST_GENESIS_HASH);
  assert.equal(
    block.txs[0]?.txid,
    "4a5e1e4baab89f3a32518a88c31bc87f618f76673e2cc77ab2127b7afdeda33b",
  );
});

Deno.test("parseTx() computes txid and wtxid like bitcoinjs-lib for segwit and legacy spends", () => {
  const wallet = new Wallet("codec-test");
  const outputs = [{ script: wallet.p2pkhScript, valueSats: 90_000n }];
  for (const script of [wallet.p2wpkhScript, wallet.p2pkhScript]) {
    const tx = wallet.spend(
      [{ txid: "11".repeat(32), vout: 1, valueSats: 100_000n, script }],
      outputs,
      0,
    );
    const reference = Transaction.fromBuffer(tx.fullBytes);
    assert.equal(tx.txid, reference.getId());
    assert.equal(toHex(tx.wtxidBytes), toHex(reference.getHash(true)));
    assert.equal(tx.weight, reference.weight());
    assert.equal(tx.hasWitness, reference.hasWitnesses());
    assert.deepEqual(serializeTx(tx), tx.fullBytes);
  }
});

Deno.test("parseTx() rejects a witness flag with no witness data (superfluous witness record)", () => {
  const tx = "02000000000101" + "11".repeat(32) + "00000000" + "00" + "ffffffff" +
    "01" + "0000000000000000" + "00" + "00" + "00000000";
  assert.throws(() => parseTx(fromHex(tx)), RangeError);
});

Deno.test("ByteReader.compactSize() rejects non-canonical encodings like Core", () => {
  assert.throws(() => new ByteReader(fromHex("fd1000")).compactSize(), RangeError);
  assert.throws(() => new ByteReader(fromHex("fe00010000")).compactSize(), RangeError);
  assert.equal(new ByteReader(fromHex("fdfd00")).compactSize(), 0xfd);
});
