/**
 * Many idle authorized miners for the memory and fan-out scenarios: the load CLI in idle mode,
 * spread over two processes (at most 20,000 open files per process) pinned to the load core.
 */
import { LOAD_CPU } from "./submit_workload.ts";
import { type LoadProcess, startLoadProcess } from "./load_process.ts";
import type { BenchContext } from "./scenario.ts";

/** Connections the idle scenarios hold. */
export const IDLE_MINERS = 10_000;
/** Load processes they are spread over. */
export const IDLE_PROCESSES = 2;
/** Upper bound of an idle run; the scenario stops it much earlier. */
const IDLE_HOLD_S = 180;

/**
 * Starts the idle miners (`count`, or IDLE_MINERS) pinned to `cpus` (the load core unless told;
 * null: unpinned); the caller awaits `ready`, then calls `stop()` and awaits `summary`.
 */
export function startIdleMiners(
  context: BenchContext,
  port: number,
  count: number = IDLE_MINERS,
  cpus: string | null = LOAD_CPU,
): LoadProcess {
  const load = startLoadProcess(port, [
    "--connections",
    String(count),
    "--idle",
    "--processes",
    // At most 10,000 connections per load process (20,000 open files each).
    String(Math.max(IDLE_PROCESSES, Math.ceil(count / IDLE_MINERS))),
    "--ramp-s",
    // 1,000 new connections a second, as with the default count.
    String(Math.max(10, Math.round(count / 1_000))),
    "--warmup-s",
    "0",
    "--duration-s",
    String(IDLE_HOLD_S),
    "--handshake-timeout-s",
    "30",
  ], cpus ?? undefined);
  context.progress(`  load: ${load.commandLine}`);
  return load;
}
