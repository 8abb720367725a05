/**
 * Target 2: a miner's submits through the parser and share validation, on real jobs (the
 * regtest templates of shared/engine/_test_template.ts, real segwit and legacy transactions),
 * with the session state a transcript can change (version mask from mining.configure,
 * difficulty from mining.suggest_difficulty). Oracles: validateShare never throws on a parsed
 * submit; an accepted share meets its difficulty or is a block; a block candidate assembles
 * into a block whose header hashes to the reported hash.
 */
import {
  addressToScriptPubKey,
  bytesToHex,
  hexToBytes,
  reverseBytes,
  sha256d,
} from "../../../shared/bitcoin/mod.ts";
import { assembleBlockHex } from "../../../shared/engine/block.ts";
import { JobManager, type Workbase } from "../../../shared/engine/jobs.ts";
import { type ShareInput, validateShare } from "../../../shared/engine/share.ts";
import { templateFromGbt } from "../../../shared/engine/template.ts";
import { testGbt } from "../../../shared/engine/_test_template.ts";
import { parseLine } from "../../../shared/stratum/parse.ts";
import { check, type FuzzTarget } from "../target.ts";
import { decodeLines, mutateLines, STRATUM_STRINGS } from "./stratum.ts";

const EXTRANONCE2_SIZE = 8;
/** The stratum listener's default version_mask (BIP310). */
const POOL_VERSION_MASK = 0x1fffe000;
const START_DIFFICULTY = 1;
const PAYOUT = "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080";
const WORKER = `${PAYOUT}.rig1`;

/** Three jobs: "1" on an old tip (stale, still held), "2" and "3" current. */
function makeJobs(): { jobs: JobManager; current: Workbase[] } {
  const jobs = new JobManager({
    extranonce1Size: 4,
    extranonce2Size: EXTRANONCE2_SIZE,
    tag: new TextEncoder().encode("/TheBitcoinGame/"),
    fee: null,
    jobsPerTip: 4,
    retiredJobs: 16,
  });
  const old = jobs.addTemplate(templateFromGbt(testGbt({ height: 839_999, txCount: 2 }), 0), 0);
  const tip = "3a1f6b2c0c8e9d7f5b4a39281706f5e4d3c2b1a09f8e7d6c5b4a392817060504";
  const a = jobs.addTemplate(templateFromGbt(testGbt({ height: 840_000, prevHash: tip }), 0), 0);
  const b = jobs.addTemplate(
    templateFromGbt(
      testGbt({ height: 840_000, prevHash: tip, txCount: 6, curtime: 1_700_000_630 }),
      0,
    ),
    0,
  );
  return { jobs, current: [old, a, b] };
}

/** The share path of one session, replayed for each input from the same starting state. */
export function shareTarget(): FuzzTarget {
  const { jobs, current } = makeJobs();
  const payoutScript = addressToScriptPubKey(PAYOUT, "regtest");
  const extranonce1 = hexToBytes("deadbeef");
  const nowSec = current[2]!.ntime;
  const ntimeHex = current[2]!.ntimeHex;
  const strings = [
    ...STRATUM_STRINGS,
    "1",
    "2",
    "3",
    "4",
    ntimeHex,
    current[1]!.ntimeHex,
    "ffffffff",
    "00000000",
  ];
  return {
    name: "share",
    description:
      "submit parsing + share validation on real jobs (shared/engine/share.ts, block.ts)",
    modules: [
      "/shared/engine/share.ts",
      "/shared/engine/block.ts",
      "/shared/engine/jobs.ts",
      "/shared/engine/coinbase.ts",
      "/shared/bitcoin/",
      "/shared/stratum/parse.ts",
    ],
    maxInputBytes: 4096,
    dictionary: strings.map((s) => JSON.stringify(s)).concat(["\n"]),
    seeds: () => shareSeeds(ntimeHex),
    mutate: (input, rng) => mutateLines(input, rng),
    run(input: Uint8Array): void {
      for (const wb of current) wb.acceptedHashes.clear();
      let versionMask = 0;
      let difficulty = START_DIFFICULTY;
      for (const line of decodeLines(input)) {
        const parsed = parseLine(line, { extranonce2Size: EXTRANONCE2_SIZE });
        if (parsed.kind !== "request") continue;
        const request = parsed.request;
        if (request.method === "mining.configure") {
          if (request.extensions.includes("version-rolling")) {
            versionMask = (POOL_VERSION_MASK & (request.versionRollingMask ?? 0xffffffff)) >>> 0;
          }
          continue;
        }
        if (request.method === "mining.suggest_difficulty") {
          difficulty = request.difficulty;
          continue;
        }
        if (request.method !== "mining.submit") continue;
        const lookup = jobs.lookup(request.jobId);
        if (lookup.state === "unknown" || lookup.workbase === null) continue;
        const share: ShareInput = {
          workbase: lookup.workbase,
          stale: lookup.state === "stale",
          payoutScript,
          extranonce1,
          extranonce2Hex: request.extranonce2,
          ntime: request.ntime,
          nonce: request.nonce,
          versionBits: request.versionBits,
          versionMask,
          difficulty,
          previousDifficulty: null,
          nowSec,
        };
        checkVerdict(share, validateShare(share));
      }
    },
  };
}

function checkVerdict(share: ShareInput, verdict: ReturnType<typeof validateShare>): void {
  check(
    Number.isFinite(verdict.shareDiff) && verdict.shareDiff >= 0,
    "shareDiff is not a finite number ≥ 0",
  );
  if (verdict.accepted) {
    check(!share.stale, "a stale share was accepted");
    check(/^[0-9a-f]{64}$/.test(verdict.hashHex), "hashHex is not 64 hex digits");
  } else {
    check(
      Number.isInteger(verdict.code) && verdict.message.length > 0,
      "a rejection without code or message",
    );
  }
  if (verdict.block !== null) {
    const template = share.workbase.template;
    const blockHex = assembleBlockHex(verdict.block, template);
    const header = hexToBytes(blockHex.slice(0, 160));
    check(
      bytesToHex(reverseBytes(sha256d(header))) === verdict.block.hashHex,
      "assembled block's header does not hash to the candidate's hash",
    );
    check(
      blockHex.length % 2 === 0 && blockHex.length > 160,
      "assembled block is not whole bytes after the header",
    );
  }
}

/**
 * Session transcripts in the shapes real miners write (the formats of ESP-Miner, cgminer and
 * NerdMiner's request builders), on the jobs above.
 */
export function shareSeeds(ntimeHex: string): Uint8Array[] {
  const e = new TextEncoder();
  return [
    // ESP-Miner (Bitaxe): configure first, version bits as the 6th submit param.
    `{"id":1,"method":"mining.configure","params":[["version-rolling"],{"version-rolling.mask":"ffffffff"}]}\n` +
    `{"id":2,"method":"mining.subscribe","params":["bitaxe/BM1370/v2.9.0"]}\n` +
    `{"id":3,"method":"mining.suggest_difficulty","params":[1000]}\n` +
    `{"id":4,"method":"mining.authorize","params":["${WORKER}","x"]}\n` +
    `{"id":5,"method":"mining.submit","params":["${WORKER}","3","0000000000000001","${ntimeHex}","1a2b3c4d","00002000"]}\n`,
    // cgminer / bmminer: spaces after separators, version-rolling with min-bit-count.
    `{"id": 1, "method": "mining.subscribe", "params": ["cgminer/4.12.1"]}\n` +
    `{"id": 2, "method": "mining.configure", "params": [["version-rolling"], {"version-rolling.mask": "1fffe000", "version-rolling.min-bit-count": 2}]}\n` +
    `{"id": 3, "method": "mining.authorize", "params": ["${WORKER}", "x"]}\n` +
    `{"method": "mining.submit", "params": ["${WORKER}", "2", "00000000000000a1", "${ntimeHex}", "00c0ffee"], "id":4}\n`,
    // NerdMiner: params before id in authorize, nonce as printed by String(nonce, HEX).
    `{"id": 1, "method": "mining.subscribe", "params": ["NerdMinerV2"]}\n` +
    `{"params": ["${WORKER}", "x"], "id": 2, "method": "mining.authorize"}\n` +
    `{"id": 3, "method": "mining.suggest_difficulty", "params": [0.0001]}\n` +
    `{"id": 4, "method": "mining.submit", "params": ["${WORKER}","3","0000000000000002","${ntimeHex}","00000001"]}\n`,
    // The lines that change what a submit is judged against, then the submit, in each miner's
    // format (the shortest inputs, so the campaign's time goes to share validation).
    `{"id":1,"method":"mining.configure","params":[["version-rolling"],{"version-rolling.mask":"ffffffff"}]}\n` +
    `{"id":5,"method":"mining.submit","params":["${WORKER}","3","0000000000000001","${ntimeHex}","1a2b3c4d","00002000"]}\n`,
    `{"method": "mining.submit", "params": ["${WORKER}", "2", "00000000000000a1", "${ntimeHex}", "00c0ffee"], "id":4}\n`,
    `{"id": 3, "method": "mining.suggest_difficulty", "params": [0.0001]}\n` +
    `{"id": 4, "method": "mining.submit", "params": ["${WORKER}","3","0000000000000002","${ntimeHex}","00000001"]}\n`,
    // A share on the job of the previous tip (stale) and one on an unknown job.
    `{"id":7,"method":"mining.submit","params":["${WORKER}","1","0000000000000003","${ntimeHex}","00000000"]}\n` +
    `{"id":8,"method":"mining.submit","params":["${WORKER}","7f","0000000000000003","${ntimeHex}","00000000"]}\n`,
  ].map((s) => e.encode(s));
}
