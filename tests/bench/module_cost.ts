/**
 * What each module and npm package costs a fresh process: for every probe a bare Deno process
 * (started from the repository root, so the workspace import map applies) imports that one
 * specifier and reports its VmRSS, RssAnon, USS (pages no other process maps: what one more
 * process costs a host, the deno binary's shared pages left out) and V8 heap; the table shows each
 * over a process that imports nothing. The `@io` probe imports nothing but opens two TCP listeners
 * and makes three `fetch` calls: the runtime's floor for what a service does. A second table imports the stratum service's start-up modules one after the
 * other in one process, so shared dependencies are counted once, where they are first loaded.
 *
 *   deno run -A tests/bench/module_cost.ts [--runs 3] [--only zod,nats]
 *
 * Each figure is the median of `--runs` processes. RSS is read 300 ms after the import, without
 * a forced GC (what a service's fresh RSS contains); "heap after GC" is read after two full
 * collections (what stays). Memory only: no timings are taken, so the machine's load does not
 * bias the figures beyond page-cache effects on RssFile.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const encoder = new TextEncoder();
const out = (text: string) => Deno.stdout.writeSync(encoder.encode(text + "\n"));
const err = (text: string) => Deno.stderr.writeSync(encoder.encode(text + "\n"));

/**
 * Not an import: the I/O a stratum process does at start with no module of ours (two loopback TCP
 * listeners and three HTTP POSTs through `fetch`, as to bitcoind), the runtime's own floor.
 */
export const IO_PROBE = "@io";

/** Specifiers probed alone: the npm packages the services import, then the workspace modules. */
export const ALONE_PROBES: readonly string[] = [
  IO_PROBE,
  "zod",
  "@logtape/logtape",
  "@scure/base",
  "hash-wasm",
  "uuid",
  "prom-client",
  "nats",
  "nats/jetstream",
  "ioredis",
  "zeromq",
  "node:crypto",
  "node:zlib",
  "node:process",
  "@tbg/shared/config",
  "@tbg/shared/log",
  "@tbg/shared/bitcoin",
  "@tbg/shared/stratum",
  "@tbg/shared/events",
  "@tbg/shared/engine",
  "@tbg/shared/metrics",
  "@tbg/shared/emitter",
  "@tbg/shared/templates",
  "@tbg/shared/bitcoind",
  "@tbg/shared/permissions",
  "@tbg/shared/service",
  "@tbg/stratum",
];

/** The stratum service's imports in the order `stratum/main.ts` first loads them. */
export const CUMULATIVE_PROBES: readonly string[] = [
  "@tbg/shared/bitcoind",
  "@tbg/shared/service",
  "@tbg/stratum",
  // Loaded on demand, with `zmqblock` (the benchmark config has it).
  "zeromq",
];

/** One process's memory after its imports. */
export interface MemoryReading {
  readonly rssKb: number;
  readonly anonKb: number;
  /** Pages only this process maps (Private_Clean + Private_Dirty of smaps_rollup). */
  readonly ussKb: number;
  readonly heapUsedKb: number;
  readonly heapAfterGcKb: number;
}

function probeCode(specifiers: readonly string[]): string {
  // Each step prints one JSON line, so the cumulative run reads every step from one process.
  return `
const read = () => {
  const s = Deno.readTextFileSync("/proc/self/status");
  const r = Deno.readTextFileSync("/proc/self/smaps_rollup");
  const kb = (k, t = s) => Number(new RegExp("^" + k + ":\\\\s+(\\\\d+)", "m").exec(t)[1]);
  return {
    rssKb: kb("VmRSS"),
    anonKb: kb("RssAnon"),
    ussKb: kb("Private_Clean", r) + kb("Private_Dirty", r),
  };
};
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const io = async () => {
  const idle = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const http = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const answer = new TextEncoder().encode(
    "HTTP/1.1 200 OK\\r\\ncontent-length: 2\\r\\nconnection: close\\r\\n\\r\\n{}",
  );
  (async () => {
    for await (const conn of http) {
      await conn.read(new Uint8Array(4096));
      await conn.write(answer);
      conn.close();
    }
  })();
  for (let i = 0; i < 3; i++) {
    await (await fetch("http://127.0.0.1:" + http.addr.port + "/", { method: "POST", body: "{}" })).text();
  }
  globalThis.keep = [idle, http];
};
for (const spec of ${JSON.stringify(["", ...specifiers])}) {
  if (spec === "${IO_PROBE}") await io();
  else if (spec !== "") await import(spec);
  await sleep(300);
  const r = read();
  const heapUsedKb = Math.round(Deno.memoryUsage().heapUsed / 1024);
  globalThis.gc(); globalThis.gc();
  const heapAfterGcKb = Math.round(Deno.memoryUsage().heapUsed / 1024);
  console.log(JSON.stringify({ spec, ...r, heapUsedKb, heapAfterGcKb }));
}
Deno.exit(0);`;
}

/** Runs one probe process; returns one reading per step (the first is before any import). */
export async function probe(specifiers: readonly string[]): Promise<MemoryReading[]> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["eval", "--v8-flags=--expose-gc", probeCode(specifiers)],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
  const text = new TextDecoder().decode(out.stdout);
  if (!out.success) {
    throw new Error(
      `probe ${specifiers.join(",")} failed: ${new TextDecoder().decode(out.stderr).slice(0, 500)}`,
    );
  }
  return text.trim().split("\n").map((line) => JSON.parse(line) as MemoryReading);
}

/** The median of a non-empty list. */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

function medianReading(readings: readonly MemoryReading[]): MemoryReading {
  return {
    rssKb: median(readings.map((r) => r.rssKb)),
    anonKb: median(readings.map((r) => r.anonKb)),
    ussKb: median(readings.map((r) => r.ussKb)),
    heapUsedKb: median(readings.map((r) => r.heapUsedKb)),
    heapAfterGcKb: median(readings.map((r) => r.heapAfterGcKb)),
  };
}

const mb = (kb: number) => (kb / 1024).toFixed(1);

function row(label: string, reading: MemoryReading, base: MemoryReading): string {
  return `| ${label} | ${mb(reading.rssKb)} | +${mb(reading.rssKb - base.rssKb)} | +${
    mb(reading.anonKb - base.anonKb)
  } | +${mb(reading.ussKb - base.ussKb)} | +${mb(reading.heapUsedKb - base.heapUsedKb)} | +${
    mb(reading.heapAfterGcKb - base.heapAfterGcKb)
  } |`;
}

function header(over: string): string[] {
  return [
    `| import | RSS MB | RSS over ${over} MB | RssAnon over ${over} MB | USS over ${over} MB | V8 heap used over ${over} MB | heap after GC over ${over} MB |`,
    "|---|---|---|---|---|---|---|",
  ];
}

async function main(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: { runs: { type: "string", default: "3" }, only: { type: "string" } },
    strict: true,
  });
  const runs = Number(values.runs);
  if (!Number.isInteger(runs) || runs < 1 || runs > 20) {
    err(`module_cost: --runs expects a whole number from 1 to 20, got "${values.runs}"`);
    return 2;
  }
  const alone = values.only === undefined ? ALONE_PROBES : values.only.split(",");
  const lines: string[] = [];
  const bare: MemoryReading[] = [];
  const perProbe = new Map<string, MemoryReading[]>();
  for (let run = 0; run < runs; run++) {
    for (const spec of alone) {
      err(`run ${run + 1}/${runs}: ${spec}`);
      const [before, after] = await probe([spec]);
      bare.push(before!);
      perProbe.set(spec, [...perProbe.get(spec) ?? [], after!]);
    }
  }
  const base = medianReading(bare);
  lines.push(
    `Bare process (deno eval, nothing imported): RSS ${mb(base.rssKb)} MB, RssAnon ${
      mb(base.anonKb)
    } MB, USS ${mb(base.ussKb)} MB, V8 heap used ${
      mb(base.heapUsedKb)
    } MB; median of ${bare.length} processes.`,
    "",
    ...header("bare"),
  );
  for (const spec of alone) {
    lines.push(row(`\`${spec}\` alone`, medianReading(perProbe.get(spec)!), base));
  }

  if (values.only === undefined) {
    const steps: MemoryReading[][] = [];
    for (let run = 0; run < runs; run++) {
      err(`run ${run + 1}/${runs}: cumulative`);
      const readings = await probe(CUMULATIVE_PROBES);
      readings.forEach((r, i) => (steps[i] ??= []).push(r));
    }
    lines.push(
      "",
      "Cumulative, in stratum/main.ts's import order (each row over the one above):",
      "",
    );
    lines.push(...header("the row above"));
    let previous = medianReading(steps[0]!);
    CUMULATIVE_PROBES.forEach((spec, i) => {
      const reading = medianReading(steps[i + 1]!);
      lines.push(row(`+ \`${spec}\``, reading, previous));
      previous = reading;
    });
  }
  out(lines.join("\n"));
  return 0;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
