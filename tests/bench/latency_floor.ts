/**
 * Scenario latency_floor (calibration, not a pool measurement): the latency_at_rate load against
 * floor_responder.ts, which rejects every submit without validating it. Same pinning (responder
 * on core 0, load on core 1), same load. Its percentiles are what the harness, Deno's socket I/O
 * and the shared machine add by themselves; the pool's latency_at_rate figures sit on top.
 */
import { fileURLToPath } from "node:url";
import { loadAverage1m } from "./bench_setup.ts";
import { startLoadProcess } from "./load_process.ts";
import type { BenchContext, RunResult, Scenario } from "./scenario.ts";
import { LOAD_CPU, POOL_CPU } from "./submit_workload.ts";

const RESPONDER = fileURLToPath(new URL("./floor_responder.ts", import.meta.url));
const START_TIMEOUT_MS = 30_000;

async function startResponder(): Promise<{ port: number; stop: () => Promise<void> }> {
  const child = new Deno.Command("taskset", {
    args: [
      "-c",
      POOL_CPU,
      Deno.execPath(),
      "run",
      "--allow-net=127.0.0.1",
      RESPONDER,
      "--port",
      "0",
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const stop = async () => {
    try {
      child.kill("SIGTERM");
    } catch {
      // Already exited.
    }
    await child.status;
  };
  const reader = child.stdout.getReader();
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    const first = await Promise.race([
      reader.read(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error("floor responder did not start")),
          START_TIMEOUT_MS,
        );
      }),
    ]);
    const line = new TextDecoder().decode(first.value ?? new Uint8Array()).split("\n")[0] ?? "";
    const port = Number((JSON.parse(line) as { port?: unknown }).port);
    reader.releaseLock();
    void child.stdout.cancel();
    return { port, stop };
  } catch (e) {
    await stop();
    throw e;
  } finally {
    clearTimeout(timer);
  }
}

/** The latency_floor scenario. */
export const latencyFloor: Scenario = {
  name: "latency_floor",
  workload: "calibration: the latency_at_rate load (1,000 connections, 5,000 submits/s open " +
    "loop) against floor_responder.ts (no validation) on core 0, load on core 1",
  columns: [
    { key: "responsesPerS", label: "responses/s", digits: 0 },
    { key: "p50Ms", label: "p50 ms", digits: 2 },
    { key: "p90Ms", label: "p90 ms", digits: 2 },
    { key: "p99Ms", label: "p99 ms", digits: 2 },
    { key: "p999Ms", label: "p99.9 ms", digits: 2 },
    { key: "maxMs", label: "max ms", digits: 1 },
    { key: "loadAvg", label: "load avg 1m", digits: 2 },
  ],
  async run(context: BenchContext): Promise<RunResult> {
    const loadAvg = await loadAverage1m();
    const responder = await startResponder();
    try {
      const load = startLoadProcess(responder.port, [
        "--connections",
        "1000",
        "--rate",
        "5000",
        "--ramp-s",
        "5",
        "--warmup-s",
        "3",
        "--duration-s",
        "25",
      ], LOAD_CPU);
      context.progress(`  load: ${load.commandLine}`);
      const summary = await load.summary;
      const l = summary.latency;
      return {
        values: {
          responsesPerS: summary.responsesPerS,
          p50Ms: l.p50Ms,
          p90Ms: l.p90Ms,
          p99Ms: l.p99Ms,
          p999Ms: l.p999Ms,
          maxMs: l.maxMs,
          loadAvg,
        },
        commands: [
          `taskset -c ${POOL_CPU} deno run --allow-net=127.0.0.1 tests/bench/floor_responder.ts --port 0`,
          load.commandLine,
        ],
        notes: summary.connectionsFailed > 0
          ? [`failed ${summary.connectionsFailed} ${JSON.stringify(summary.failures)}`]
          : [],
      };
    } finally {
      await responder.stop();
    }
  },
};
