/**
 * Spreads a load run over child processes of the load CLI (one process can hold at most 20,000
 * open files here) and merges their JSON summaries. Children print progress events on stderr;
 * the driver reports ready once every child is ready.
 */
import { fileURLToPath } from "node:url";
import { childArgs, type LoadOptions } from "./load_options.ts";
import type { LoadRun, LoadRunHooks } from "./load_run.ts";
import type { LoadProgress } from "./load_stats.ts";
import { type LoadSummary, mergeSummaries } from "./load_summary.ts";

/**
 * Extra time a child gets beyond its own bounds before it is killed: 30 s, or a quarter of the
 * bounds on long runs (readiness can come late when the host is starved, and closing and
 * summarising 15,000 sockets then takes tens of seconds).
 */
export function childSlackMs(boundsMs: number): number {
  return Math.max(30_000, boundsMs / 4);
}

/** Driver callbacks: readiness (merged) and child stderr lines that are not events. */
export interface DriverHooks extends LoadRunHooks {
  readonly onChildLine?: (childIndex: number, line: string) => void;
  /** A child's progress event (each child counts from its own start). */
  readonly onChildProgress?: (childIndex: number, progress: LoadProgress) => void;
}

/** A driven run: the child process ids too (for /proc readings of the generator). */
export interface DrivenLoadRun extends LoadRun {
  readonly pids: readonly number[];
}

/**
 * `--allow-net` for the target and for binding each source address (node:net checks the
 * address and port it binds; a port Deno's permission list cannot give as a range, so the
 * address is granted whole, still loopback only).
 */
export function childNetPermission(options: LoadOptions): string {
  return [`${options.host}:${options.port}`, ...options.sourceAddresses].join(",");
}

async function readLines(
  stream: ReadableStream<Uint8Array>,
  onLine: (line: string) => void,
): Promise<void> {
  const decoder = new TextDecoder();
  let pending = "";
  for await (const chunk of stream) {
    pending += decoder.decode(chunk, { stream: true });
    let nl;
    while ((nl = pending.indexOf("\n")) !== -1) {
      onLine(pending.slice(0, nl));
      pending = pending.slice(nl + 1);
    }
  }
  if (pending.length > 0) onLine(pending);
}

/** Starts `options.processes` children, each with its share of connections and rate. */
export function startDriver(options: LoadOptions, hooks: DriverHooks = {}): DrivenLoadRun {
  const script = fileURLToPath(new URL("./stratum_load.ts", import.meta.url));
  const readyInfos: { established: number; failed: number; epochMs: number }[] = [];
  const boundsMs = (options.rampS + options.handshakeTimeoutS + options.warmupS +
    options.durationS) * 1000;
  const boundMs = boundsMs + childSlackMs(boundsMs);
  const children = Array.from({ length: options.processes }, (_, index) => {
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        `--allow-net=${childNetPermission(options)}`,
        script,
        ...childArgs(options, index),
      ],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const stdoutLines: string[] = [];
    const stderrTail: string[] = [];
    const reading = Promise.all([
      readLines(child.stdout, (line) => {
        if (line.trim() !== "") stdoutLines.push(line);
      }),
      readLines(child.stderr, (line) => {
        let event: Record<string, unknown> | null = null;
        try {
          const parsed: unknown = JSON.parse(line);
          if (typeof parsed === "object" && parsed !== null) {
            event = parsed as Record<string, unknown>;
          }
        } catch {
          // Not an event line.
        }
        if (event?.event === "ready") {
          readyInfos.push({
            established: Number(event.established),
            failed: Number(event.failed),
            epochMs: Number(event.epochMs),
          });
          if (readyInfos.length === options.processes) {
            hooks.onReady?.({
              established: readyInfos.reduce((a, r) => a + r.established, 0),
              failed: readyInfos.reduce((a, r) => a + r.failed, 0),
              epochMs: Math.max(...readyInfos.map((r) => r.epochMs)),
              firstEpochMs: Math.min(...readyInfos.map((r) => r.epochMs)),
            });
          }
          return;
        }
        if (event?.event === "progress") {
          hooks.onChildProgress?.(index, event as unknown as LoadProgress);
          return;
        }
        stderrTail.push(line);
        if (stderrTail.length > 20) stderrTail.shift();
        hooks.onChildLine?.(index, line);
      }),
    ]);
    const killer = setTimeout(() => {
      try {
        child.kill("SIGKILL");
      } catch {
        // Already gone.
      }
    }, boundMs);
    const result = (async (): Promise<LoadSummary> => {
      const status = await child.status;
      clearTimeout(killer);
      await reading;
      const last = stdoutLines.at(-1);
      if (last === undefined) {
        throw new Error(
          `Cannot read load child ${index} summary: exit ${status.code}; stderr: ${
            stderrTail.join(" | ")
          }`,
        );
      }
      return JSON.parse(last) as LoadSummary;
    })();
    return { child, result };
  });
  let stopped = false;
  return {
    pids: children.map((c) => c.child.pid),
    done: Promise.all(children.map((c) => c.result)).then(mergeSummaries),
    stop() {
      if (stopped) return;
      stopped = true;
      for (const { child } of children) {
        try {
          child.kill("SIGTERM");
        } catch {
          // Already exited.
        }
      }
    },
  };
}
