/**
 * End to end: devnet node + the real pool process + support CPU miners. Blocks found by the
 * miners are accepted by the devnet (which validates them independently of the pool), and each
 * block's coinbase pays the miner that found it, carries the pool tag, the BIP34 height and the
 * witness commitment. Run with `deno task test` (needs --allow-run, --allow-net=127.0.0.1, --allow-ffi).
 */
import assert from "node:assert/strict";
import * as bitcoin from "bitcoinjs-lib";
import { difficultyToTarget, targetToBits } from "@tbg/shared/bitcoin";
import { startDevnet } from "./support/devnet/mod.ts";
import { CpuMiner, StratumClient } from "./support/stratum_client/mod.ts";
import { regtestAddress, type TestAddressType } from "./support/addresses.ts";
import { startPoolProcess } from "./support/pool_process.ts";

/** Network difficulty low enough that three CPU miners each find a block within seconds. */
const NETWORK_DIFFICULTY = 0.00004;
const TAG = "/TheBitcoinGame-test/";
const TYPES: TestAddressType[] = ["p2wpkh", "p2tr", "p2pkh"];

async function mineUntilEachMinerHasABlock(versionRolling: boolean): Promise<void> {
  const devnet = await startDevnet({ bits: targetToBits(difficultyToTarget(NETWORK_DIFFICULTY)) });
  const pool = await startPoolProcess(devnet, { btcsig: TAG });
  const miners: {
    client: StratumClient;
    miner: CpuMiner;
    scriptHex: string;
    type: TestAddressType;
  }[] = [];
  try {
    for (const [i, type] of TYPES.entries()) {
      const { address, scriptHex } = regtestAddress(type, i + 1);
      const client = await StratumClient.start({
        host: "127.0.0.1",
        port: pool.stratumPort,
        username: `${address}.rig${i}`,
        ...(versionRolling ? { versionRollingMask: 0x1fffe000 } : {}),
      });
      if (versionRolling) assert.equal(client.versionMask, 0x1fffe000);
      const miner = new CpuMiner(client, { rollVersion: versionRolling, batchNonces: 1024 });
      miner.start();
      miners.push({ client, miner, scriptHex, type });
    }
    const startHeight = 110;
    const found = new Map<string, string[]>();
    const deadline = Date.now() + 150_000;
    while (Date.now() < deadline) {
      found.clear();
      for (let h = startHeight + 1; h <= devnet.chain.tipHeight(); h++) {
        const block = devnet.chain.blockAtHeight(h)!;
        const coinbase = devnet.chain.coinbase(block.hash)!;
        const payee = coinbase.outputs[0]!.scriptHex;
        found.set(payee, [...(found.get(payee) ?? []), block.hash]);
      }
      if (miners.every((m) => (found.get(m.scriptHex)?.length ?? 0) > 0)) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    for (const m of miners) {
      const hashes = found.get(m.scriptHex) ?? [];
      assert.ok(
        hashes.length > 0,
        `${m.type} miner found no block (accepted ${m.miner.stats.accepted} shares)`,
      );
      for (const hash of hashes) {
        const block = devnet.chain.block(hash)!;
        const parsed = bitcoin.Block.fromHex(block.hex);
        assert.equal(parsed.getId(), hash);
        assert.ok(parsed.checkTxRoots(), "merkle root and witness commitment");
        const cb = parsed.transactions![0]!;
        const scriptSig = cb.ins[0]!.script;
        assert.equal(
          bitcoin.script.number.decode(scriptSig.subarray(1, 1 + scriptSig[0]!)),
          block.height,
        );
        assert.ok(new TextDecoder().decode(scriptSig).includes(TAG), "coinbase carries btcsig");
        assert.equal(Buffer.from(cb.outs[0]!.script).toString("hex"), m.scriptHex);
        if (parsed.transactions!.some((tx, i) => i > 0 && tx.hasWitnesses())) {
          assert.ok(parsed.hasWitnessCommit(), "witness commitment present when witness txs are");
          assert.equal(cb.ins[0]!.witness.length, 1);
        }
        if (versionRolling) {
          assert.ok((parsed.version & 0x1fffe000) !== 0 || parsed.version === 0x20000000);
        }
      }
      assert.equal(m.miner.stats.rejectReasons.get("Low difficulty share") ?? 0, 0);
    }
    await pool.waitForLog((l) => l.msg === "block accepted");
  } finally {
    for (const m of miners) await m.miner.stop();
    for (const m of miners) m.client.close();
    assert.equal(await pool.stop(), 0, "pool drains and exits 0 on SIGTERM");
    await devnet.stop();
  }
}

Deno.test({
  name:
    "pool + CPU miners find blocks the devnet accepts, each paying its own P2WPKH, P2TR or P2PKH miner",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: () => mineUntilEachMinerHasABlock(false),
});

Deno.test({
  name: "the same with BIP310 version rolling negotiated and used",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: () => mineUntilEachMinerHasABlock(true),
});
