/**
 * Scenario share_validation: the pure share validator (validateShare) on a job built from a real
 * devnet getblocktemplate, once with an empty mempool and once with 2,000 transactions (a deeper
 * merkle branch). Each measurement is a 1-second timed loop in this process (one core); five
 * measurements per template, the median reported.
 */
import process from "node:process";
import { addressToScriptPubKey } from "@tbg/shared/bitcoin";
import { JobManager, templateFromGbt, validateShare } from "@tbg/shared/engine";
import { regtestAddress } from "../support/addresses.ts";
import { startDevnet } from "../support/devnet/mod.ts";
import { rpcCall } from "../support/miner/rpc_client.ts";
import { median } from "./bench_table.ts";
import { BENCH_DIFFICULTY } from "./bench_pool.ts";
import { DIFFICULTY_1_BITS, loadAverage1m } from "./bench_setup.ts";
import type { BenchContext, RunResult, Scenario } from "./scenario.ts";

const LOOP_MS = 1_000;
const REPEATS = 5;
/** Distinct extranonce2 values cycled through (precomputed so the loop measures validation). */
const EXTRANONCE2_RING = 4096;

async function devnetTemplate(mempoolTarget: number): Promise<unknown> {
  const devnet = await startDevnet({ bits: DIFFICULTY_1_BITS, mempoolTarget });
  try {
    return await rpcCall(
      { url: devnet.rpcUrl, user: devnet.user, password: devnet.password },
      "getblocktemplate",
      [{ rules: ["segwit"] }],
    );
  } finally {
    await devnet.stop();
  }
}

/**
 * Validations per wall second and per CPU second (this process's user + system time, which other
 * sessions on the machine do not inflate): medians of {@link REPEATS} timed loops.
 */
function measure(gbt: unknown): { perS: number; perCpuS: number; txs: number; branch: number } {
  const template = templateFromGbt(gbt, Date.now());
  const jobs = new JobManager({
    extranonce1Size: 4,
    extranonce2Size: 8,
    tag: new TextEncoder().encode("/TheBitcoinGame-bench/"),
    fee: null,
    jobsPerTip: 8,
    retiredJobs: 64,
  });
  const workbase = jobs.addTemplate(template, Date.now());
  const script = addressToScriptPubKey(regtestAddress("p2wpkh", 1).address, "regtest");
  const extranonce1 = Uint8Array.of(0, 0, 0, 1);
  const extranonce2s = Array.from(
    { length: EXTRANONCE2_RING },
    (_, i) => i.toString(16).padStart(16, "0"),
  );
  const nowSec = Math.floor(Date.now() / 1000);
  const rates: number[] = [];
  const cpuRates: number[] = [];
  let nonce = 0;
  for (let repeat = 0; repeat < REPEATS; repeat++) {
    let count = 0;
    const cpuStart = process.cpuUsage();
    const start = performance.now();
    let elapsed = 0;
    while (elapsed < LOOP_MS) {
      for (let k = 0; k < 256; k++) {
        const verdict = validateShare({
          workbase,
          stale: false,
          payoutScript: script,
          extranonce1,
          extranonce2Hex: extranonce2s[count % EXTRANONCE2_RING]!,
          ntime: workbase.ntime,
          nonce: nonce++ >>> 0,
          versionBits: null,
          versionMask: 0,
          difficulty: BENCH_DIFFICULTY,
          previousDifficulty: null,
          nowSec,
        });
        if (verdict.accepted || verdict.reason !== "low_difficulty") {
          throw new Error(
            `Cannot benchmark: expected low_difficulty, got ${JSON.stringify(verdict)}`,
          );
        }
        count++;
      }
      elapsed = performance.now() - start;
    }
    const cpu = process.cpuUsage(cpuStart);
    rates.push(count / (elapsed / 1000));
    cpuRates.push(count / ((cpu.user + cpu.system) / 1e6));
  }
  return {
    perS: median(rates),
    perCpuS: median(cpuRates),
    txs: template.transactions.length,
    branch: template.merkleBranch.length,
  };
}

/** The share_validation scenario. */
export const shareValidation: Scenario = {
  name: "share_validation",
  workload:
    "validateShare() on a devnet template (difficulty-1 bits, share difficulty 1e12, every share " +
    "rejected as low difficulty), 1 s timed loop ×5 per template in one thread, median",
  columns: [
    { key: "emptyPerS", label: "empty: validations/s", digits: 0 },
    { key: "emptyPerCpuS", label: "empty: per CPU-s", digits: 0 },
    { key: "fullPerS", label: "2,000 txs: validations/s", digits: 0 },
    { key: "fullPerCpuS", label: "2,000 txs: per CPU-s", digits: 0 },
    { key: "fullBranch", label: "merkle branch (2,000 txs)", digits: 0 },
    { key: "loadAvg", label: "load avg 1m", digits: 2 },
  ],
  async run(context: BenchContext): Promise<RunResult> {
    const loadAvg = await loadAverage1m();
    context.progress("share_validation: empty-mempool template");
    const empty = measure(await devnetTemplate(0));
    context.progress("share_validation: 2,000-transaction template (devnet fills its mempool)");
    const full = measure(await devnetTemplate(2_000));
    return {
      values: {
        emptyPerS: empty.perS,
        emptyPerCpuS: empty.perCpuS,
        fullPerS: full.perS,
        fullPerCpuS: full.perCpuS,
        fullBranch: full.branch,
        loadAvg,
      },
      commands: [],
      notes: full.txs === 2_000 ? [] : [`2,000-tx template had ${full.txs} transactions`],
    };
  },
};
