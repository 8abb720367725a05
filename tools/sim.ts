/**
 * The multi-region simulation (`deno task sim`): the NATS hub and a leaf per relay region behind
 * latency bridges (US-East 80 ms, Asia 150–180 ms with jitter), a devnet node per region on one
 * chain, the primary pool (EU) publishing templates, a relay in US-East and in Asia, the collector
 * with PostgreSQL and Redis on the hub, and support CPU miners in every region. Prints a live
 * summary every few seconds and stops everything cleanly after the duration or on Ctrl-C.
 *
 *   deno task sim [--duration-s 120] [--block-interval-s 10] [--miners-per-region 2]
 *                 [--hashrate 8000] [--summary-every-s 5]
 *
 * The orchestration lives in `tests/support/sim/`, shared with `tests/multi_region_test.ts`.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { type Simulation, startSimulation } from "../tests/support/sim/simulation.ts";
import { formatSnapshot, type SimSnapshot } from "../tests/support/sim/summary.ts";
import { Redis } from "ioredis";

const USAGE = "usage: deno task sim [--duration-s 120] [--block-interval-s 10] " +
  "[--miners-per-region 2] [--hashrate 8000] [--summary-every-s 5]";

const encoder = new TextEncoder();
const say = (text: string) => Deno.stdout.writeSync(encoder.encode(`${text}\n`));

function numberOption(values: Record<string, unknown>, name: string, fallback: number): number {
  const raw = values[name];
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0) {
    throw new RangeError(`Cannot run the simulation: --${name} must be a number > 0, got ${raw}`);
  }
  return value;
}

async function main(): Promise<number> {
  let exitCodes: Readonly<Record<string, number | null>> = {};
  let options;
  try {
    const { values } = parseArgs({
      args: Deno.args,
      options: {
        "duration-s": { type: "string" },
        "block-interval-s": { type: "string" },
        "miners-per-region": { type: "string" },
        hashrate: { type: "string" },
        "summary-every-s": { type: "string" },
        help: { type: "boolean" },
      },
      strict: true,
    });
    if (values.help) {
      say(USAGE);
      return 0;
    }
    options = {
      durationMs: numberOption(values, "duration-s", 120) * 1000,
      blockIntervalS: numberOption(values, "block-interval-s", 10),
      minersPerRegion: Math.round(numberOption(values, "miners-per-region", 2)),
      minerHashrate: numberOption(values, "hashrate", 8_000),
      summaryEveryMs: numberOption(values, "summary-every-s", 5) * 1000,
    };
  } catch (error) {
    say(`${error instanceof Error ? error.message : String(error)}\n${USAGE}`);
    return 2;
  }

  // Installed before anything starts: a Ctrl-C during start-up still stops every process.
  const interrupted = Promise.withResolvers<string>();
  let signalled: string | null = null;
  const handlers = (["SIGINT", "SIGTERM"] as const).map((signal) => {
    const handler = () => {
      signalled ??= signal;
      interrupted.resolve(signal);
    };
    Deno.addSignalListener(signal, handler);
    return [signal, handler] as const;
  });

  say("== TheBitcoinGame multi-region simulation: EU primary, US-East and Asia relays ==");
  let sim: Simulation;
  try {
    sim = await startSimulation({
      blockIntervalS: options.blockIntervalS,
      minersPerRegion: options.minersPerRegion,
      minerHashrate: options.minerHashrate,
      onProgress: say,
    });
  } catch (error) {
    for (const [signal, handler] of handlers) Deno.removeSignalListener(signal, handler);
    say(`cannot start the simulation: ${error instanceof Error ? error.message : String(error)}`);
    return 1;
  }

  let final: SimSnapshot | undefined;
  let reason = signalled === null ? "duration reached" : `${signalled} received`;
  try {
    if (signalled === null) {
      say(`running for ${options.durationMs / 1000} s (Ctrl-C stops earlier)\n`);
    }
    const deadline = Date.now() + options.durationMs;
    let previous: SimSnapshot | undefined;
    while (signalled === null && Date.now() < deadline) {
      const wait = Math.min(options.summaryEveryMs, deadline - Date.now());
      let timer: ReturnType<typeof setTimeout> | undefined;
      const tick = new Promise<null>((resolve) => (timer = setTimeout(() => resolve(null), wait)));
      const signal = await Promise.race([tick, interrupted.promise]);
      clearTimeout(timer);
      if (signal !== null) {
        reason = `${signal} received`;
        break;
      }
      const snapshot = await sim.snapshot();
      for (const line of formatSnapshot(snapshot, previous)) say(line);
      previous = snapshot;
    }
    say(`\n== stopping (${reason}) ==`);
    for (const region of sim.plan.regions) await sim.stopMiners(region);
    say("miners stopped; waiting for the pipeline to drain");
    await sim.settle(2_000, 20_000);
    final = await sim.snapshot();
    for (const line of formatSnapshot(final, previous)) say(line);
    for (const line of await persistedPerType(sim)) say(line);
  } finally {
    const report = await sim.stop();
    for (const [signal, handler] of handlers) Deno.removeSignalListener(signal, handler);
    for (const [name, code] of Object.entries(report.exitCodes)) {
      say(`${name.padEnd(16)} exited with code ${code ?? "- (was not running)"}`);
    }
    exitCodes = report.exitCodes;
  }
  say(
    `\nblocks found: ${
      final.regions.map((r) => `${r.region} ${r.blocks}`).join(", ")
    }; events persisted: ${final.eventsPersisted} (${
      final.regions.map((r) => `${r.region} ${r.eventsPersisted}`).join(", ")
    })`,
  );
  const clean = Object.values(exitCodes).every((code) => code === 0 || code === null);
  return clean ? 0 : 1;
}

/**
 * Events persisted per type and region in PostgreSQL, next to the length of each type's Redis
 * Stream (the collector writes both; equal counts show nothing was lost or doubled on either side).
 */
async function persistedPerType(sim: Simulation): Promise<string[]> {
  const rows = await sim.sql<{ event_type: string; region: string; n: string }[]>`
    SELECT event_type, region, count(*)::int8 AS n FROM mining_events GROUP BY 1, 2 ORDER BY 1, 2`;
  const regions = sim.plan.regions;
  const types = [...new Set(rows.map((r) => r.event_type))];
  const redis = new Redis(sim.redisUrl, { lazyConnect: true, maxRetriesPerRequest: 2 });
  const lines = [
    "\n== events persisted per type (PostgreSQL mining_events by region; Redis Stream length) ==",
    `${"type".padEnd(20)}${regions.map((r) => r.padStart(9)).join("")}${"total".padStart(9)}${
      "redis".padStart(9)
    }`,
  ];
  try {
    await redis.connect();
    for (const type of types) {
      const counts = regions.map((region) =>
        Number(rows.find((r) => r.event_type === type && r.region === region)?.n ?? 0)
      );
      const total = counts.reduce((a, b) => a + b, 0);
      const streamLength = await redis.xlen(`tbg:stream:${type}`);
      lines.push(
        `${type.padEnd(20)}${counts.map((n) => String(n).padStart(9)).join("")}${
          String(total).padStart(9)
        }${String(streamLength).padStart(9)}`,
      );
    }
  } finally {
    redis.disconnect();
  }
  return lines;
}

if (import.meta.main) {
  Deno.exit(await main());
}
