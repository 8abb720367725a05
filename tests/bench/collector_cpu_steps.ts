/**
 * CPU per event of each step the collector runs on a batch in its own process, without the
 * servers: parsing the message, the COPY rows, the per-batch sums, the summary delta's array
 * literals (and, for comparison, the JSON texts migration 006 stored instead), the Redis entries
 * and the Redis script arguments. Batches of 1,000 from the collector benchmarks' event mix.
 * Process CPU time (`process.cpuUsage()`), so a busy machine slows it less than it does a clock;
 * the second and third of three passes are reported (the first warms up the JIT).
 *
 * `deno run --allow-all tests/bench/collector_cpu_steps.ts [--events 200000]`
 *
 * @module
 */
import process from "node:process";
import { parseArgs } from "node:util";
import { parseEvent } from "@tbg/shared/events";
import { aggregateBatch } from "../../collector/aggregates.ts";
import { eventRowsCopy } from "../../collector/event_rows.ts";
import { batchScriptArgs } from "../../collector/redis_batch_script.ts";
import { batchEntries } from "../../collector/redis_entries.ts";
import { summaryDeltaArrays } from "../../collector/summary_delta.ts";
import { BENCH_MIX } from "./collector_drain.ts";
import { encodedEvents } from "./event_mix.ts";

const BATCH = 1_000;
const PASSES = 3;

const { values } = parseArgs({
  args: Deno.args,
  options: { events: { type: "string", default: "200000" } },
});
const count = Number(values.events);
if (!Number.isInteger(count) || count < BATCH) {
  throw new Error(`Cannot run: --events must be an integer of at least ${BATCH}`);
}

const payloads: Uint8Array[] = [];
for (const encoded of encodedEvents(count, { ...BENCH_MIX, seed: 3 })) {
  payloads.push(encoded.payload);
}
const cpuMs = () => {
  const usage = process.cpuUsage();
  return (usage.user + usage.system) / 1000;
};
const spent = new Map<string, number>();
function step<T>(name: string, fn: () => T): T {
  const start = cpuMs();
  const result = fn();
  spent.set(name, (spent.get(name) ?? 0) + cpuMs() - start);
  return result;
}

for (let pass = 0; pass < PASSES; pass++) {
  if (pass === 1) spent.clear();
  for (let first = 0; first + BATCH <= payloads.length; first += BATCH) {
    const batch = payloads.slice(first, first + BATCH);
    const events = step("parseEvent", () => batch.map((p) => parseEvent(p)));
    const seqs = new Map(events.map((e, i) => [e.event_id, first + i + 1]));
    step("eventRowsCopy", () => eventRowsCopy(events, seqs));
    const sums = step("aggregateBatch", () => aggregateBatch(events));
    step("summaryDeltaArrays", () => summaryDeltaArrays(sums));
    step("(006's JSON deltas, for comparison)", () => {
      JSON.stringify(sums.miners.map((r) => ({
        u: r.user,
        w: r.worker,
        f: r.firstSeenUs,
        l: r.lastSeenUs,
        s: r.lastShareUs,
        a: r.sharesAccepted,
        r: r.sharesRejected,
        b: r.bestDiff ?? 0,
        g: r.userAgent,
        ut: r.userAgent === null ? null : r.userAgentUs,
        n: r.region,
      })));
      JSON.stringify(sums.workerHours.map((r) => ({
        u: r.user,
        w: r.worker,
        h: r.hourUs,
        a: r.sharesAccepted,
        r: r.sharesRejected,
        d: r.diffAccepted,
        b: r.bestDiff ?? 0,
      })));
    });
    const written = {
      insertedIds: new Set(events.map((e) => e.event_id)),
      storedSeqs: new Map<string, number | null>(),
      rejected: [],
    };
    const { entries } = step(
      "batchEntries",
      () => batchEntries(events.map((_, i) => first + i + 1), events, seqs, written),
    );
    step("batchScriptArgs", () => batchScriptArgs("tbg:settled:bench", entries));
  }
}
const measured = (PASSES - 1) * Math.floor(payloads.length / BATCH) * BATCH;
const load = Deno.loadavg()[0];
const lines = [`CPU µs per event over ${measured} events; load average ${load?.toFixed(2)}`];
for (const [name, ms] of spent) {
  lines.push(`  ${name.padEnd(38)} ${(ms / measured * 1000).toFixed(2)}`);
}
await Deno.stdout.write(new TextEncoder().encode(lines.join("\n") + "\n"));
