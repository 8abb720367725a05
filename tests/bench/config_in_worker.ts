/**
 * Would validating the config in a throw-away Worker keep zod out of a service's memory? Each
 * probe is a fresh process that (none) validates nothing, (main) validates the benchmark's
 * stratum config in its own isolate, or (worker) validates it in a Worker it then terminates;
 * USS (smaps_rollup Private_*) after three full GCs, medians of `--runs` processes.
 *
 *   deno run -A tests/bench/config_in_worker.ts [--runs 3]
 *
 * @module
 */
import { parseArgs } from "node:util";
import { fileURLToPath } from "node:url";
import { median } from "./module_cost.ts";

const encoder = new TextEncoder();
const out = (text: string) => Deno.stdout.writeSync(encoder.encode(text + "\n"));
const err = (text: string) => Deno.stderr.writeSync(encoder.encode(text + "\n"));

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const MODES = ["none", "main", "worker"] as const;
type Mode = typeof MODES[number];

/** The devnet benchmark config's shape (bench_pool.ts), with fixed ports. */
const CONFIG = {
  network: "regtest",
  btcd: [{ url: "127.0.0.1:18443", auth: "user", pass: "pass", notify: true }],
  serverurl: ["127.0.0.1:3333"],
  zmqblock: "tcp://127.0.0.1:28332",
  metrics: { enabled: true, host: "127.0.0.1", port: 9100, path: "/metrics" },
  region: "eu",
  events: { enabled: false },
};

const WORKER_BODY = `import { validateConfig } from "@tbg/shared/config";
self.onmessage = (e) => self.postMessage(validateConfig("stratum", e.data, "bench.json"));`;

function probeCode(mode: Mode): string {
  return `
const config = ${JSON.stringify(CONFIG)};
let keys = 0;
if (${JSON.stringify(mode)} === "main") {
  const { validateConfig } = await import("@tbg/shared/config");
  keys = Object.keys(validateConfig("stratum", config, "bench.json")).length;
} else if (${JSON.stringify(mode)} === "worker") {
  const path = Deno.makeTempFileSync({ dir: ${JSON.stringify(ROOT)}, suffix: ".ts" });
  Deno.writeTextFileSync(path, ${JSON.stringify(WORKER_BODY)});
  try {
    const worker = new Worker(new URL("file://" + path), { type: "module" });
    const parsed = await new Promise((resolve) => {
      worker.onmessage = (e) => resolve(e.data);
      worker.postMessage(config);
    });
    worker.terminate();
    keys = Object.keys(parsed).length;
  } finally {
    Deno.removeSync(path);
  }
}
for (let i = 0; i < 3; i++) { globalThis.gc(); await new Promise((r) => setTimeout(r, 200)); }
const r = Deno.readTextFileSync("/proc/self/smaps_rollup");
const kb = (k) => Number(new RegExp("^" + k + ":\\\\s+(\\\\d+)", "m").exec(r)[1]);
console.log(JSON.stringify({ ussKb: kb("Private_Clean") + kb("Private_Dirty"), keys }));
Deno.exit(0);`;
}

async function probe(mode: Mode): Promise<{ ussKb: number; keys: number }> {
  const result = await new Deno.Command(Deno.execPath(), {
    args: ["eval", "--v8-flags=--expose-gc", probeCode(mode)],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
  if (!result.success) {
    throw new Error(
      `probe ${mode} failed: ${new TextDecoder().decode(result.stderr).slice(0, 500)}`,
    );
  }
  return JSON.parse(new TextDecoder().decode(result.stdout).trim());
}

async function main(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: { runs: { type: "string", default: "3" } },
    strict: true,
  });
  const runs = Number(values.runs);
  if (!Number.isInteger(runs) || runs < 1 || runs > 20) {
    err(`config_in_worker: --runs expects 1 to 20, got "${values.runs}"`);
    return 2;
  }
  const readings = new Map<Mode, number[]>(MODES.map((m) => [m, []]));
  for (let run = 0; run < runs; run++) {
    for (const mode of MODES) {
      const { ussKb, keys } = await probe(mode);
      if (mode !== "none" && keys === 0) throw new Error(`probe ${mode}: empty config`);
      readings.get(mode)!.push(ussKb);
    }
  }
  out("| config validated | USS MB (median) |\n|---|---|");
  for (const mode of MODES) {
    out(`| ${mode} | ${(median(readings.get(mode)!) / 1024).toFixed(1)} |`);
  }
  return 0;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
