/**
 * SHA-256 cost per input size for the implementations the services could use: hash-wasm's
 * WebAssembly core (what hash.ts used), node:crypto's `createHash`, and the plain-integer
 * compressor of shared/bitcoin/sha256d_into.ts. Decides which one hash.ts uses for which sizes.
 *
 *   deno run -A tests/bench/hash_speed.ts [--repeats 5]
 *
 * Each figure is CPU time (this process's user + system, which other sessions' load does not
 * inflate) per hash, the median of `--repeats` loops of about 200 ms each; one core.
 *
 * @module
 */
import { createHash } from "node:crypto";
import process from "node:process";
import { parseArgs } from "node:util";
import { createSHA256 } from "hash-wasm";
import { sha256Into } from "@tbg/shared/bitcoin";
import { median } from "./module_cost.ts";

const encoder = new TextEncoder();
const out = (text: string) => Deno.stdout.writeSync(encoder.encode(text + "\n"));
const err = (text: string) => Deno.stderr.writeSync(encoder.encode(text + "\n"));

const SIZES = [32, 64, 80, 150, 256, 512, 1_024, 16_384, 65_536, 556_193];
const LOOP_CPU_MS = 200;

type Hash = (data: Uint8Array) => Uint8Array;

async function implementations(): Promise<[string, Hash][]> {
  const wasm = await createSHA256();
  return [
    ["hash-wasm", (data) => {
      wasm.init();
      wasm.update(data);
      return wasm.digest("binary");
    }],
    ["node:crypto", (data) => createHash("sha256").update(data).digest()],
    ["plain JS", (data) => {
      const digest = new Uint8Array(32);
      sha256Into(data, data.length, digest, 0);
      return digest;
    }],
  ];
}

function cpuMs(): number {
  const usage = process.cpuUsage();
  return (usage.user + usage.system) / 1000;
}

/** CPU nanoseconds per hash of `data`, one loop of about {@link LOOP_CPU_MS}. */
function measure(hash: Hash, data: Uint8Array): number {
  let count = 0;
  let sink = 0;
  const start = cpuMs();
  let elapsed = 0;
  // Bounded: at most 10 million calls even if the CPU clock stalled.
  while (elapsed < LOOP_CPU_MS && count < 10_000_000) {
    for (let i = 0; i < 16; i++) sink ^= hash(data)[0]!;
    count += 16;
    elapsed = cpuMs() - start;
  }
  if (sink === -1) throw new Error("unreachable");
  return elapsed * 1e6 / count;
}

async function main(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: { repeats: { type: "string", default: "5" } },
    strict: true,
  });
  const repeats = Number(values.repeats);
  if (!Number.isInteger(repeats) || repeats < 1 || repeats > 50) {
    err(`hash_speed: --repeats expects 1 to 50, got "${values.repeats}"`);
    return 2;
  }
  const impls = await implementations();
  const reference = impls[1]![1];
  const lines = [
    `| input bytes | ${impls.map(([name]) => `${name} ns`).join(" | ")} |`,
    `|---|${impls.map(() => "---").join("|")}|`,
  ];
  for (const size of SIZES) {
    const data = new Uint8Array(size).map((_, i) => (i * 131 + 7) & 0xff);
    const expected = reference(data);
    const cells: string[] = [];
    for (const [name, hash] of impls) {
      if (hash(data).some((byte, i) => byte !== expected[i])) {
        throw new Error(`${name} disagrees with node:crypto on ${size} bytes`);
      }
      measure(hash, data); // warm-up: lets the JIT optimise before the timed loops
      const runs = Array.from({ length: repeats }, () => measure(hash, data));
      cells.push(median(runs).toFixed(0));
    }
    lines.push(`| ${size} | ${cells.join(" | ")} |`);
  }
  out(lines.join("\n"));
  return 0;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
