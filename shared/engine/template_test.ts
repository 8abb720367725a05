// deno test shared/engine/template_test.ts
import assert from "node:assert/strict";
import { bytesToHex, reverseBytes } from "../bitcoin/mod.ts";
import { templateFromGbt } from "./template.ts";

/** Three signed regtest spends (P2WPKH and P2PKH inputs) and the commitment the node sent. */
const TXS = [
  {
    "data":
      "0200000000010174d21b5d253c1c4afd50e39f0f53d0e8ee3486b2b03321cd241d68927d30e9fd0000000000fdffffff021ca9bb5900000000160014412b67e365d5c9185c765633f8bc3e7b451db600e43f4ad0000000001976a914412b67e365d5c9185c765633f8bc3e7b451db60088ac02483045022100baffc59af741f18a7128f1b946f27230ed1287a6bc453485f01c0268a80f3eea02201c7c8b641e51a5c1f42f28c5d661254cdaf48f5dcb6a5885ac72725564a773c00121020e295d97705d9159fa670e7fbbfb9dc1c899c19f4bff8cbaaeae2014c6f12b6965000000",
    "txid": "66d2813d1f8dc161522135548951720c309df8eb31b8b00774bdb982f39ab35a",
    "hash": "56f083c9dab34095d60217d969514a22c94d7cba36918a7b0dcaf9e628ff72ca",
  },
  {
    "data":
      "02000000018f88932c4208376af6197a6067ca2749e34094e59c9cfc811acbed3d4dccc463000000006a47304402206facbd6e671cf240d7186c596a6d977c2ec6f6bf09af6ac33ad3f49f2c3e295502201a917c9e3dff16ff400f4583d676e35a4dc627d495c0aca902eff442bad2c6080121020e295d97705d9159fa670e7fbbfb9dc1c899c19f4bff8cbaaeae2014c6f12b69fdffffff023d735bce00000000160014412b67e365d5c9185c765633f8bc3e7b451db6009172aa5b000000001976a914412b67e365d5c9185c765633f8bc3e7b451db60088ac65000000",
    "txid": "d1367b913b3ba2c3e77f483818025781cfaeedaaf20612b559105e1e83377287",
    "hash": "d1367b913b3ba2c3e77f483818025781cfaeedaaf20612b559105e1e83377287",
  },
  {
    "data":
      "020000000001015ab39af382b9bd7407b0b831ebf89d300c7251895435215261c18d1f3d81d2660000000000fdffffff02f370022500000000160014412b67e365d5c9185c765633f8bc3e7b451db600192ab934000000001976a914412b67e365d5c9185c765633f8bc3e7b451db60088ac02483045022100a5452af82c10aa4780453e2db4e1743d93e827e679c8ad5a0395e730a4c9804f02204bbc06d9a789ad3a88ab11c2b2e7fc552a2dd4e4fabab1fbd508bcb807cacb190121020e295d97705d9159fa670e7fbbfb9dc1c899c19f4bff8cbaaeae2014c6f12b6965000000",
    "txid": "83fd69cdd5d72ba857a9f8e0269c3d30caaa0181e9dcadbbe0774ddd575fc92f",
    "hash": "93f6b7e8a4467ee30e706382e751716cce266e2499560f0af2bea27c7763bdee",
  },
];
const NODE_COMMITMENT =
  "6a24aa21a9edec164dcad1e2614ddb877cf6b3259bde6822d146ebe0193d80b05b1e6c5ceff8";

function gbt(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    version: 0x20000000,
    previousblockhash: "5fea71540bcd9f01fe2e95d3d72fa00c4dd5348e4e78f5fd145d9bfa711ee9fb",
    transactions: TXS,
    coinbasevalue: 5_000_000_000,
    curtime: 1_800_000_000,
    bits: "207fffff",
    height: 102,
    ...extra,
  };
}

Deno.test("templateFromGbt() computes the node's witness commitment when the node sends none", () => {
  const given = templateFromGbt(gbt({ default_witness_commitment: NODE_COMMITMENT }), 0);
  assert.equal(bytesToHex(given.witnessCommitment!), NODE_COMMITMENT);
  assert.equal(given.witnessCommitmentDerived, undefined);
  const derived = templateFromGbt(gbt(), 0);
  assert.equal(bytesToHex(derived.witnessCommitment!), NODE_COMMITMENT);
  assert.equal(derived.witnessCommitmentDerived, true);
});

Deno.test("templateFromGbt() computes wtxids from the data when transactions have no hash", () => {
  const bare = TXS.map(({ data, txid }) => ({ data, txid }));
  const template = templateFromGbt(gbt({ transactions: bare }), 0);
  template.transactions.forEach((tx, i) => {
    assert.equal(bytesToHex(reverseBytes(tx.wtxid)), TXS[i]!.hash);
  });
  assert.equal(bytesToHex(template.witnessCommitment!), NODE_COMMITMENT);
});

Deno.test("templateFromGbt() has no commitment for a template without witness data", () => {
  assert.equal(templateFromGbt(gbt({ transactions: [] }), 0).witnessCommitment, null);
});

Deno.test("templateFromGbt() reads btcd's unpadded bits and names a bad bits field", () => {
  assert.equal(templateFromGbt(gbt({ bits: "3ffff" }), 0).bits, 0x0003ffff);
  assert.equal(templateFromGbt(gbt({ bits: "1d00ffff" }), 0).bits, 0x1d00ffff);
  for (const bad of ["", "123456789", "zz", 0x207fffff]) {
    assert.throws(() => templateFromGbt(gbt({ bits: bad }), 0), /bits must be 1 to 8 hex chars/);
  }
});

Deno.test("templateFromGbt() takes a template without rules (btcd) and names bad fields", () => {
  assert.deepEqual(templateFromGbt(gbt(), 0).rules, []);
  assert.throws(
    () => templateFromGbt(gbt({ transactions: [{ ...TXS[0], hash: "00" }] }), 0),
    /transactions\[0\]\.hash must be 64 hex chars/,
  );
});
