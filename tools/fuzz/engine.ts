/**
 * The fuzz loop, run in a worker so the CLI can watch it for hangs: mutate corpus entries, run
 * them in batches, read block coverage after each batch, and when a batch reached new blocks
 * bisect it to the inputs that did and add those to the corpus.
 */
import { BlockCoverage } from "./coverage.ts";
import { mutateBytes, type MutationContext } from "./mutate.ts";
import type { CrashReport, EngineMessage, FuzzStats, StartMessage } from "./protocol.ts";
import { SHARED_HEADER_BYTES, SHARED_INPUT_BYTES, SHARED_STOP } from "./protocol.ts";
import { Rng } from "./rng.ts";

const STATUS_EVERY_MS = 2_000;
const MAX_REPORTED_CRASHES = 50;
const encoder = new TextEncoder();

declare const self: {
  onmessage: ((event: MessageEvent<StartMessage>) => void) | null;
  postMessage(message: EngineMessage): void;
};

self.onmessage = (event) => {
  run(event.data).catch((error: unknown) => {
    self.postMessage({
      kind: "fatal",
      message: error instanceof Error ? error.stack ?? error.message : String(error),
    });
  });
};

async function run(start: StartMessage): Promise<void> {
  // Counting starts before the target modules are compiled, so all their functions get counters.
  // Only this target's modules are loaded: every coverage read serialises every loaded script.
  const coverage = new BlockCoverage();
  await coverage.start();
  const { TARGETS } = await import("./targets/mod.ts");
  const make = TARGETS[start.target];
  if (make === undefined) throw new Error(`unknown target ${start.target}`);
  const target = await make();
  coverage.fragments = target.modules;
  const shared = new Int32Array(start.shared, 0, SHARED_HEADER_BYTES / 4);
  const sharedInput = new Uint8Array(start.shared, SHARED_HEADER_BYTES, SHARED_INPUT_BYTES);
  // The loop never yields to the worker's event loop (coverage reads complete synchronously),
  // so a stop request (the CLI got SIGINT or SIGTERM) comes through shared memory.
  const stopRequested = () => Atomics.load(shared, SHARED_STOP) !== 0;
  const rng = new Rng(start.seed);
  const startedAt = performance.now();
  const signatures = new Set<string>();
  let execs = 0;
  let crashes = 0;

  const exec = (input: Uint8Array): void => {
    const length = Math.min(input.length, SHARED_INPUT_BYTES);
    sharedInput.set(input.subarray(0, length));
    Atomics.store(shared, 1, length);
    const before = start.slowMs > 0 ? performance.now() : 0;
    try {
      target.run(input);
    } catch (error: unknown) {
      report(errorCrash(error, input));
    }
    const tookMs = start.slowMs > 0 ? performance.now() - before : 0;
    if (tookMs > start.slowMs && start.slowMs > 0) {
      report({
        signature: `slow:${target.name}`,
        kind: "slow",
        name: "Slow",
        message: `one input took ${tookMs.toFixed(0)} ms (limit ${start.slowMs} ms)`,
        stack: "",
        input,
      });
    }
    execs++;
    Atomics.add(shared, 0, 1);
  };

  const report = (crash: CrashReport): void => {
    crashes++;
    if (signatures.has(crash.signature) || signatures.size >= MAX_REPORTED_CRASHES) return;
    signatures.add(crash.signature);
    self.postMessage({ kind: "crash", crash });
  };

  const stats = (): FuzzStats => {
    let heapMb = 0;
    try {
      heapMb = Deno.memoryUsage().heapUsed / 2 ** 20;
    } catch {
      // memoryUsage is unavailable in some worker configurations; the limit is then not checked.
    }
    return {
      target: target.name,
      execs,
      elapsedMs: performance.now() - startedAt,
      corpusSize: corpus.length,
      blocksCovered: coverage.covered.size,
      blocksKnown: coverage.known.size,
      crashes,
      heapMb,
    };
  };

  // The initial corpus: committed entries and the target's built-in seeds, shortest first (as
  // libFuzzer reads seeds); each one that reaches a block no shorter one did is kept (all are
  // kept in replay mode).
  const corpus: Uint8Array[] = [];
  const initial = [...start.corpus, ...(start.replay ? [] : target.seeds())].map((s) =>
    s.subarray(0, target.maxInputBytes)
  ).sort((a, b) => a.length - b.length);
  await coverage.take();
  for (const input of initial) {
    exec(input);
    const fresh = await coverage.take();
    if (fresh.length > 0 || start.replay || corpus.length === 0) corpus.push(input);
    for (const key of fresh) coverage.covered.add(key);
  }
  if (corpus.length === 0) corpus.push(new Uint8Array(0));
  if (start.replay) {
    self.postMessage({ kind: "done", stats: stats(), perModule: coverage.perModule() });
    return;
  }

  const dictionary = target.dictionary.map((t) => encoder.encode(t));
  const context: MutationContext = {
    rng,
    other: () => pickParent(),
    dictionary,
    maxBytes: target.maxInputBytes,
  };
  // Of two random entries the shorter, most of the time: a few inputs at a length cap would
  // otherwise take most of the time (libFuzzer favours small inputs for the same reason).
  const pickParent = (): Uint8Array => {
    const a = rng.pick(corpus);
    if (!rng.chance(0.8)) return a;
    const b = rng.pick(corpus);
    return b.length < a.length ? b : a;
  };
  const child = (): Uint8Array => {
    // Recent additions are the frontier: give them a third of the picks.
    const parent = rng.chance(0.33)
      ? corpus[corpus.length - 1 - rng.below(Math.min(16, corpus.length))]!
      : pickParent();
    if (target.mutate !== undefined && rng.chance(target.structuredShare ?? 0.4)) {
      const structured = target.mutate(parent, rng);
      if (structured !== null) {
        const out = rng.chance(0.5) ? structured : mutateBytes(structured, context, 3);
        return out.subarray(0, target.maxInputBytes);
      }
    }
    return mutateBytes(parent, context);
  };

  // Finds the inputs of `batch` that reach new blocks, halving the batch while it does.
  const bisect = async (batch: Uint8Array[]): Promise<void> => {
    if (batch.length === 1) {
      exec(batch[0]!);
      const fresh = await coverage.take();
      if (fresh.length > 0) {
        for (const key of fresh) coverage.covered.add(key);
        corpus.push(batch[0]!);
        self.postMessage({ kind: "corpus", input: batch[0]! });
      }
      return;
    }
    const half = batch.length >> 1;
    for (const part of [batch.slice(0, half), batch.slice(half)]) {
      for (const input of part) exec(input);
      if ((await coverage.take()).length > 0) await bisect(part);
    }
  };

  let lastStatus = performance.now();
  const deadline = start.maxSeconds > 0 ? startedAt + start.maxSeconds * 1000 : Infinity;
  while (execs < start.execs && performance.now() < deadline && !stopRequested()) {
    const batch: Uint8Array[] = new Array(Math.min(start.batch, start.execs - execs));
    for (let i = 0; i < batch.length; i++) {
      batch[i] = child();
      exec(batch[i]!);
    }
    const fresh = await coverage.take();
    if (fresh.length > 0) {
      await bisect(batch);
      // Blocks only the whole batch reached (a lazily built cache, say) count as covered too.
      for (const key of fresh) coverage.covered.add(key);
    }
    if (performance.now() - lastStatus > STATUS_EVERY_MS) {
      lastStatus = performance.now();
      const s = stats();
      self.postMessage({ kind: "status", stats: s });
      if (start.maxHeapMb > 0 && s.heapMb > start.maxHeapMb) {
        report({
          signature: `memory:${target.name}`,
          kind: "memory",
          name: "Memory",
          message: `heap ${s.heapMb.toFixed(0)} MB is above ${start.maxHeapMb} MB`,
          stack: "",
          input: batch[batch.length - 1] ?? new Uint8Array(0),
        });
        break;
      }
    }
  }
  self.postMessage({ kind: "done", stats: stats(), perModule: coverage.perModule() });
}

/** A crash report for an exception, signed by its type and the top frames of its stack. */
function errorCrash(error: unknown, input: Uint8Array): CrashReport {
  const err = error instanceof Error ? error : new Error(`non-Error thrown: ${String(error)}`);
  const frames = (err.stack ?? "").split("\n").filter((l) => l.trim().startsWith("at ")).slice(0, 3)
    .map((l) => l.trim().replace(/:\d+\)?$/, ""));
  return {
    signature: `${err.name}|${frames.join("|")}`,
    kind: "exception",
    name: err.name,
    message: err.message.slice(0, 2000),
    stack: (err.stack ?? "").slice(0, 4000),
    input,
  };
}
