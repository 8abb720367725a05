/**
 * What a miner's handshake allocates in the engine, without sockets: an in-process engine (the
 * test engine's settings, one template) opens `--miners` sessions with a transport that drops
 * what it is given, and each sends the load generator's subscribe and authorize lines with a
 * distinct regtest P2WPKH address. V8's `total_allocated_bytes` (node:v8) before and after each
 * phase, divided by the miners, is what the phase allocates per miner; the heap after two full
 * collections over the baseline is what stays per miner. The address decoder is also measured
 * alone. Bytes only, no timings, so the machine's load does not bias the figures.
 *
 *   deno run --v8-flags=--expose-gc -A tests/bench/handshake_garbage.ts [--miners 10000] [--runs 3]
 *
 * Socket reads and writes (Deno's read and write promises, the encoded output) are not included:
 * they are the same for every line and measured by idle_memory through the real server.
 *
 * @module
 */
import v8 from "node:v8";
import { parseArgs } from "node:util";
import { addressToScriptPubKey } from "@tbg/shared/bitcoin";
import type { Session } from "../../shared/engine/session.ts";
import { startTestEngine } from "../../shared/engine/_test_engine.ts";
import { regtestAddress } from "../support/addresses.ts";

const encoder = new TextEncoder();
const out = (text: string) => Deno.stdout.writeSync(encoder.encode(text + "\n"));

type Gc = (options?: Record<string, string>) => void;

function fullGc(): void {
  const gc = (globalThis as { gc?: Gc }).gc;
  if (gc === undefined) throw new Error("run with --v8-flags=--expose-gc");
  gc({ type: "major", execution: "sync", flavor: "last-resort" });
  gc({ type: "major", execution: "sync", flavor: "last-resort" });
}

/** Bytes V8 allocated since the process started (Deno reports it; @types/node does not list it). */
function allocated(): number {
  const total =
    (v8.getHeapStatistics() as { total_allocated_bytes?: number }).total_allocated_bytes;
  if (total === undefined) throw new Error("this runtime does not report total_allocated_bytes");
  return total;
}
const usedHeap = () => v8.getHeapStatistics().used_heap_size;

/** One run's figures, bytes per miner. */
interface Figures {
  decode: number;
  subscribe: number;
  authorize: number;
  retained: number;
}

function measure(miners: number): Figures {
  const usernames: string[] = [];
  const addresses: string[] = [];
  for (let i = 0; i < miners; i++) {
    const address = regtestAddress("p2wpkh", i + 1).address;
    addresses.push(address);
    usernames.push(`${address}.w${i}`);
  }
  // Requests built before measuring, as the server hands the session lines it already decoded.
  const subscribes = usernames.map(() =>
    `{"id":1,"method":"mining.subscribe","params":["tbg-load/0.1"]}`
  );
  const authorizes = usernames.map((u) =>
    `{"id":2,"method":"mining.authorize","params":[${JSON.stringify(u)},"x"]}`
  );
  const { engine } = startTestEngine({
    engine: { maxClients: miners + 1 },
    rateLimits: { max_connections_per_ip: 65_535, connections_per_ip_per_minute: 65_535 },
  });
  const discard = { send: (_line: string) => {}, close: (_reason: string) => {} };
  const sessions: Session[] = [];

  fullGc();
  let mark = allocated();
  for (const address of addresses) addressToScriptPubKey(address, "regtest");
  const decode = allocated() - mark;

  fullGc();
  const baseline = usedHeap();
  mark = allocated();
  for (let i = 0; i < miners; i++) {
    const session = engine.open(`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, discard);
    sessions.push(session);
    session.handleLine(subscribes[i]!);
  }
  const subscribe = allocated() - mark;
  mark = allocated();
  for (let i = 0; i < miners; i++) sessions[i]!.handleLine(authorizes[i]!);
  const authorize = allocated() - mark;
  fullGc();
  const retained = usedHeap() - baseline;
  if (engine.sessions.size !== miners || sessions.some((s) => !s.authorized)) {
    throw new Error(`only ${sessions.filter((s) => s.authorized).length} of ${miners} authorized`);
  }
  return {
    decode: decode / miners,
    subscribe: subscribe / miners,
    authorize: authorize / miners,
    retained: retained / miners,
  };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      miners: { type: "string", default: "10000" },
      runs: { type: "string", default: "3" },
    },
    strict: true,
  });
  const miners = Number(values.miners);
  const runs = Number(values.runs);
  if (!Number.isInteger(miners) || miners < 1 || miners > 100_000) {
    throw new RangeError(`--miners expects 1..100000, got "${values.miners}"`);
  }
  if (!Number.isInteger(runs) || runs < 1 || runs > 20) {
    throw new RangeError(`--runs expects 1..20, got "${values.runs}"`);
  }
  const rows: Figures[] = [];
  for (let run = 0; run < runs; run++) rows.push(measure(miners));
  const columns: (keyof Figures)[] = ["decode", "subscribe", "authorize", "retained"];
  out(`handshake_garbage: ${miners} miners, ${runs} runs, bytes per miner (median)`);
  out("| address decode alone | subscribe | authorize (with first job) | retained after GC |");
  out("| ---: | ---: | ---: | ---: |");
  out(`| ${columns.map((c) => median(rows.map((r) => r[c])).toFixed(0)).join(" | ")} |`);
}
