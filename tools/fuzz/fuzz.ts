/**
 * `deno task fuzz --target <t> --execs <n>`: coverage-guided fuzzing of one parser of hostile
 * input (see `--help`). Seeds come from tests/fuzz/corpus/<target>/ and the target's own
 * encoder; inputs that reached new code go to .tbg/fuzz/<target>/corpus/, crashes (with the
 * input, the error and its stack) to .tbg/fuzz/<target>/crashes/. Exits 1 when anything crashed
 * or hung, so a short run is a test; `--replay` runs saved inputs (regressions) once.
 *
 * @module
 */
import { SHARED_HEADER_BYTES, SHARED_INPUT_BYTES, SHARED_STOP } from "./protocol.ts";
import type { CrashReport, EngineMessage, FuzzStats, StartMessage } from "./protocol.ts";
import { TARGET_NAMES } from "./target_names.ts";

const textEncoder = new TextEncoder();
/** A line on stdout (the summary). */
const out = (text: string) => Deno.stdout.writeSync(textEncoder.encode(`${text}\n`));
/** A line on stderr (progress, usage). */
const err = (text: string) => Deno.stderr.writeSync(textEncoder.encode(`${text}\n`));

const USAGE = `Usage: deno task fuzz --target <${TARGET_NAMES.join("|")}|all> [options]

  --execs N        executions per target (suffixes k, M), default 100k
  --max-seconds N  stop after N seconds even if --execs is not reached, 0 = no limit (default)
  --seed N         PRNG seed (same seed, corpus and build: same inputs), default 1
  --corpus DIR     seed corpus directory, default tests/fuzz/corpus/<target>
  --out DIR        new corpus entries and crashes go to DIR/<target>, default .tbg/fuzz
  --batch N        inputs per coverage read, default 500
  --timeout-ms N   an input that runs this long is a hang: the run stops, default 10000
  --slow-ms N      an input slower than this is reported as a crash, 0 = off, default 0
  --max-heap-mb N  heap above this is reported as a crash, 0 = off, default 1536
  --replay PATH    run each file under PATH (a file or a directory) once, no mutation
  --json           print the summary as JSON on stdout
`;

/** Parsed command line. */
interface Options {
  readonly targets: readonly string[];
  readonly execs: number;
  readonly maxSeconds: number;
  readonly seed: number;
  readonly corpus: string | null;
  readonly out: string | null;
  readonly batch: number;
  readonly timeoutMs: number;
  readonly slowMs: number;
  readonly maxHeapMb: number;
  readonly replay: string | null;
  readonly json: boolean;
}

/** The outcome of one target's run. */
export interface TargetResult {
  readonly stats: FuzzStats;
  readonly crashes: readonly CrashReport[];
  readonly hang: CrashReport | null;
  readonly perModule: Record<string, { covered: number; known: number }>;
  readonly initialCorpus: number;
}

function parseCount(text: string | undefined, flag: string): number {
  const m = /^(\d+(?:\.\d+)?)([kKmM]?)$/.exec(text ?? "");
  if (m === null) {
    throw new UsageError(
      `${flag} expects a number (suffix k or M allowed), got ${JSON.stringify(text)}`,
    );
  }
  const n = Number(m[1]) * (m[2] === "" ? 1 : m[2]!.toLowerCase() === "k" ? 1e3 : 1e6);
  if (!Number.isSafeInteger(Math.round(n)) || n < 0) {
    throw new UsageError(`${flag} is out of range`);
  }
  return Math.round(n);
}

class UsageError extends Error {}

function parseArgs(args: readonly string[]): Options {
  const values = new Map<string, string>();
  let json = false;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === "--json") json = true;
    else if (a === "--help" || a === "-h") throw new UsageError("");
    else if (a.startsWith("--")) {
      const [k, inline] = a.split("=", 2) as [string, string | undefined];
      const v = inline ?? args[++i];
      if (v === undefined) throw new UsageError(`${k} needs a value`);
      values.set(k, v);
    } else throw new UsageError(`unexpected argument ${JSON.stringify(a)}`);
  }
  const known = [
    "--target",
    "--execs",
    "--max-seconds",
    "--seed",
    "--corpus",
    "--out",
    "--batch",
    "--timeout-ms",
    "--slow-ms",
    "--max-heap-mb",
    "--replay",
  ];
  for (const k of values.keys()) {
    if (!known.includes(k)) throw new UsageError(`unknown option ${k}`);
  }
  const target = values.get("--target");
  if (target === undefined) throw new UsageError("--target is required");
  const targets = target === "all" ? TARGET_NAMES : target.split(",");
  for (const t of targets) {
    if (!TARGET_NAMES.includes(t)) {
      throw new UsageError(
        `unknown target ${JSON.stringify(t)}; targets: ${TARGET_NAMES.join(", ")}`,
      );
    }
  }
  return {
    targets,
    execs: parseCount(values.get("--execs") ?? "100k", "--execs"),
    maxSeconds: parseCount(values.get("--max-seconds") ?? "0", "--max-seconds"),
    seed: parseCount(values.get("--seed") ?? "1", "--seed"),
    corpus: values.get("--corpus") ?? null,
    out: values.get("--out") ?? null,
    batch: Math.max(1, parseCount(values.get("--batch") ?? "500", "--batch")),
    timeoutMs: parseCount(values.get("--timeout-ms") ?? "10000", "--timeout-ms"),
    slowMs: parseCount(values.get("--slow-ms") ?? "0", "--slow-ms"),
    maxHeapMb: parseCount(values.get("--max-heap-mb") ?? "1536", "--max-heap-mb"),
    replay: values.get("--replay") ?? null,
    json,
  };
}

function readInputs(path: string): Uint8Array[] {
  let info: Deno.FileInfo;
  try {
    info = Deno.statSync(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return [];
    throw error;
  }
  if (info.isFile) return [Deno.readFileSync(path)];
  const names = [...Deno.readDirSync(path)].filter((e) =>
    e.isFile && !e.name.endsWith(".txt") && !e.name.startsWith(".")
  ).map((e) => e.name).sort();
  return names.map((n) => Deno.readFileSync(`${path}/${n}`));
}

async function hashName(bytes: Uint8Array): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", Uint8Array.from(bytes)));
  return Array.from(digest.subarray(0, 8), (b) => b.toString(16).padStart(2, "0")).join("");
}

async function saveCrash(dir: string, crash: CrashReport): Promise<string> {
  Deno.mkdirSync(dir, { recursive: true });
  const name = `${crash.kind}-${await hashName(crash.input)}`;
  Deno.writeFileSync(`${dir}/${name}.bin`, crash.input);
  Deno.writeTextFileSync(
    `${dir}/${name}.txt`,
    `${crash.name}: ${crash.message}\n\n${crash.stack}\n`,
  );
  return `${dir}/${name}.bin`;
}

/** Runs one target in a worker, watching it for hangs. */
export function fuzzTarget(
  target: string,
  options: Omit<Options, "targets" | "json">,
  log: (line: string) => void,
): Promise<TargetResult> {
  const corpusDir = options.corpus ?? `tests/fuzz/corpus/${target}`;
  const outDir = `${options.out ?? ".tbg/fuzz"}/${target}`;
  const corpus = options.replay !== null ? readInputs(options.replay) : readInputs(corpusDir);
  const shared = new SharedArrayBuffer(SHARED_HEADER_BYTES + SHARED_INPUT_BYTES);
  const counters = new Int32Array(shared, 0, SHARED_HEADER_BYTES / 4);
  const worker = new Worker(new URL("./engine.ts", import.meta.url), { type: "module" });
  const crashes: CrashReport[] = [];
  const pending: Promise<unknown>[] = [];
  let stopListeners = () => {};
  const running = new Promise<TargetResult>((resolve, reject) => {
    let lastCount = -1;
    let lastChange = performance.now();
    const watchdog = setInterval(() => {
      const count = Atomics.load(counters, 0);
      if (count !== lastCount) {
        lastCount = count;
        lastChange = performance.now();
        return;
      }
      if (performance.now() - lastChange < options.timeoutMs) return;
      clearInterval(watchdog);
      worker.terminate();
      const length = Atomics.load(counters, 1);
      const input = new Uint8Array(shared, SHARED_HEADER_BYTES, length).slice();
      const hang: CrashReport = {
        signature: `hang:${target}`,
        kind: "slow",
        name: "Hang",
        message: `no execution finished for ${options.timeoutMs} ms`,
        stack: "",
        input,
      };
      pending.push(
        saveCrash(`${outDir}/crashes`, hang).then((p) =>
          log(`[${target}] HANG, input saved to ${p}`)
        ),
      );
      Promise.all(pending).then(() =>
        resolve({
          stats: {
            target,
            execs: count,
            elapsedMs: 0,
            corpusSize: 0,
            blocksCovered: 0,
            blocksKnown: 0,
            crashes: 1,
            heapMb: 0,
          },
          crashes,
          hang,
          perModule: {},
          initialCorpus: corpus.length,
        })
      );
    }, 250);
    worker.onerror = (event) => {
      event.preventDefault();
      clearInterval(watchdog);
      worker.terminate();
      reject(new Error(`[${target}] engine failed: ${event.message}`));
    };
    worker.onmessage = (event: MessageEvent<EngineMessage>) => {
      const message = event.data;
      switch (message.kind) {
        case "status": {
          const s = message.stats;
          log(
            `[${target}] ${s.execs} execs, ${
              (s.execs / (s.elapsedMs / 1000)).toFixed(0)
            }/s, corpus ${s.corpusSize}, blocks ${s.blocksCovered}/${s.blocksKnown}, crashes ${s.crashes}, heap ${
              s.heapMb.toFixed(0)
            } MB`,
          );
          break;
        }
        case "corpus":
          if (options.replay === null) {
            pending.push(
              hashName(message.input).then((name) => {
                Deno.mkdirSync(`${outDir}/corpus`, { recursive: true });
                Deno.writeFileSync(`${outDir}/corpus/${name}`, message.input);
              }),
            );
          }
          break;
        case "crash":
          crashes.push(message.crash);
          pending.push(
            saveCrash(`${outDir}/crashes`, message.crash).then((p) =>
              log(
                `[${target}] CRASH ${message.crash.name}: ${
                  message.crash.message.slice(0, 200)
                } (input: ${p})`,
              )
            ),
          );
          break;
        case "fatal":
          clearInterval(watchdog);
          worker.terminate();
          reject(new Error(`[${target}] engine failed: ${message.message}`));
          break;
        case "done":
          clearInterval(watchdog);
          worker.terminate();
          Promise.all(pending).then(() =>
            resolve({
              stats: message.stats,
              crashes,
              hang: null,
              perModule: message.perModule,
              initialCorpus: corpus.length,
            })
          ).catch(reject);
          break;
      }
    };
    const start: StartMessage = {
      kind: "start",
      target,
      execs: options.execs,
      maxSeconds: options.maxSeconds,
      seed: options.seed,
      batch: options.batch,
      slowMs: options.slowMs,
      maxHeapMb: options.maxHeapMb,
      replay: options.replay !== null,
      corpus,
      shared,
    };
    worker.postMessage(start);
    // Ctrl-C (or a TERM) ends the run after the current batch, with its summary.
    const stop = () => Atomics.store(counters, SHARED_STOP, 1);
    for (const signal of ["SIGINT", "SIGTERM"] as const) Deno.addSignalListener(signal, stop);
    stopListeners = () => {
      for (const signal of ["SIGINT", "SIGTERM"] as const) Deno.removeSignalListener(signal, stop);
    };
  });
  return running.finally(() => stopListeners());
}

function summaryLine(r: TargetResult): string {
  const s = r.stats;
  const rate = s.elapsedMs > 0 ? s.execs / (s.elapsedMs / 1000) : 0;
  const pct = s.blocksKnown > 0 ? (100 * s.blocksCovered / s.blocksKnown).toFixed(1) : "0";
  return `${s.target}: ${s.execs} execs in ${(s.elapsedMs / 1000).toFixed(1)} s (${
    rate.toFixed(0)
  }/s), ` +
    `corpus ${r.initialCorpus} → ${s.corpusSize}, blocks covered ${s.blocksCovered}/${s.blocksKnown} (${pct}%), ` +
    `crashes ${r.crashes.length + (r.hang ? 1 : 0)}`;
}

async function main(args: readonly string[]): Promise<number> {
  let options: Options;
  try {
    options = parseArgs(args);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    if (error.message !== "") err(`fuzz: ${error.message}\n`);
    err(USAGE);
    return error.message === "" ? 0 : 2;
  }
  const log = (line: string) => err(line);
  const results: TargetResult[] = [];
  for (const target of options.targets) {
    const result = await fuzzTarget(target, options, log);
    results.push(result);
    log(summaryLine(result));
  }
  if (options.json) {
    out(JSON.stringify(
      results.map((r) => ({
        ...r.stats,
        initialCorpus: r.initialCorpus,
        execsPerSecond: r.stats.elapsedMs > 0
          ? Math.round(r.stats.execs / (r.stats.elapsedMs / 1000))
          : 0,
        crashes: [...r.crashes, ...(r.hang ? [r.hang] : [])].map((c) => ({
          kind: c.kind,
          name: c.name,
          message: c.message,
          signature: c.signature,
        })),
        perModule: r.perModule,
      })),
      null,
      2,
    ));
  } else {
    for (const r of results) out(summaryLine(r));
  }
  return results.some((r) => r.crashes.length > 0 || r.hang !== null) ? 1 : 0;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
