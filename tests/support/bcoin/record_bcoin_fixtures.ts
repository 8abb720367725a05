/**
 * Records what a real bcoin node answers (npm bcoin, regtest, in memory) as fixtures in the same
 * format as the devnet dialects': `tests/fixtures/nodes/bcoin/<name>.json`. Replayed by
 * tests/node_fixtures_test.ts.
 *
 * ```sh
 * deno run --allow-net=127.0.0.1 --allow-read --allow-write=tests/fixtures/nodes --allow-run \
 *   --allow-env --allow-ffi --allow-sys tests/support/bcoin/record_bcoin_fixtures.ts
 * ```
 *
 * Not recorded: getblocktemplate's -10 ("Bitcoin is downloading blocks...") and -9 ("Bitcoin is
 * not connected!"): bcoin skips both checks on regtest (selfConnect), as Core does.
 *
 * @module
 */
import { regtestAddress } from "../addresses.ts";
import { NODE_FIXTURES_DIR, type NodeFixture } from "../devnet/record_node_fixtures.ts";
import type { GbtTemplate } from "../miner/block_assembly.ts";
import { BrokenKind, buildBrokenBlock } from "../miner/broken_blocks.ts";
import { solveTemplate } from "../miner/gbt_miner.ts";
import {
  BCOIN_OP_TRUE_ADDRESS,
  BCOIN_VERSION,
  mineToSegwitWithWitnessTx,
  startBcoin,
} from "./mod.ts";

const SOURCE = `bcoin ${BCOIN_VERSION} (npm bcoin@${BCOIN_VERSION}), recorded from the real node ` +
  "(regtest, in memory, no peers) by tests/support/bcoin/record_bcoin_fixtures.ts";

async function record(): Promise<void> {
  const node = await startBcoin();
  const dir = new URL("bcoin/", NODE_FIXTURES_DIR);
  await Deno.mkdir(dir, { recursive: true });
  const save = async (name: string, method: string, params: unknown[]) => {
    const recordedAtMs = Date.now();
    const { status, body } = await node.rawCall(method, params);
    const fixture: NodeFixture = {
      dialect: "bcoin",
      source: SOURCE,
      recordedAtMs,
      request: { method, params },
      status,
      body,
    };
    await Deno.writeTextFile(
      new URL(`${name}.json`, dir),
      `${JSON.stringify(fixture, null, 2)}\n`,
    );
    return body as { result: unknown };
  };
  try {
    // At genesis (2011) the tip is years old: syncing by the pool's derived rule.
    await save("getblockchaininfo_ibd", "getblockchaininfo", []);
    await mineToSegwitWithWitnessTx(node);
    await save("getblockchaininfo", "getblockchaininfo", []);
    const template = (await save("getblocktemplate", "getblocktemplate", [{ rules: ["segwit"] }]))
      .result as GbtTemplate;
    await save("getnetworkinfo", "getnetworkinfo", []);
    await save("getmempoolinfo", "getmempoolinfo", []);
    await save("validateaddress", "validateaddress", [BCOIN_OP_TRUE_ADDRESS]);
    await save("validateaddress_core_regtest", "validateaddress", [
      regtestAddress("p2wpkh", 1).address,
    ]);
    const { address } = regtestAddress("p2wpkh", 2);
    const broken = buildBrokenBlock(BrokenKind.BAD_MERKLE_ROOT, template, {
      payoutAddress: address,
    });
    await save("submitblock_rejected", "submitblock", [broken]);
    const solved = solveTemplate(template, { payoutAddress: address, maxTries: 1_000_000 });
    if (!solved) throw new Error("no nonce found for bcoin's template");
    await save("submitblock_accepted", "submitblock", [solved.hex]);
    await save("submitblock_duplicate", "submitblock", [solved.hex]);
    const tip = (await save("getbestblockhash", "getbestblockhash", [])).result as string;
    if (tip !== solved.hash) throw new Error(`bcoin's tip is ${tip}, not ${solved.hash}`);
    await save("getblockheader", "getblockheader", [tip, true]);
  } catch (error) {
    throw new Error(`${error}\nbcoin output:\n${node.output()}`, { cause: error });
  } finally {
    await node.stop();
  }
}

if (import.meta.main) await record();
