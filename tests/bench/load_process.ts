/**
 * Runs the load generator CLI (tests/load/stratum_load.ts) as its own process, optionally pinned
 * with `taskset`, and hands back its ready event and JSON summary.
 */
import { fileURLToPath } from "node:url";
import type { ReadyInfo } from "../load/load_run.ts";
import type { LoadSummary } from "../load/load_summary.ts";

const SCRIPT = fileURLToPath(new URL("../load/stratum_load.ts", import.meta.url));

/** A running load process. */
export interface LoadProcess {
  /** Process id (the load CLI itself; its children when it drives several). */
  readonly pid: number;
  /** The command line, for reports (relative script path). */
  readonly commandLine: string;
  /** Resolves when every connection is ready or failed. */
  readonly ready: Promise<ReadyInfo>;
  /** Resolves with the summary after the process exits. */
  readonly summary: Promise<LoadSummary>;
  /** Ends the run early (SIGTERM); the summary still arrives. */
  stop(): void;
}

/** Starts `stratum_load.ts --port <port> <args> --json` (pinned to `cpus` when given). */
export function startLoadProcess(
  port: number,
  args: readonly string[],
  cpus?: string,
): LoadProcess {
  const permissions = [`--allow-net=127.0.0.1:${port}`, `--allow-run=${Deno.execPath()}`];
  const loadArgs = ["--port", String(port), ...args, "--json"];
  const denoArgs = ["run", ...permissions, SCRIPT, ...loadArgs];
  const [command, fullArgs] = cpus === undefined
    ? [Deno.execPath(), denoArgs]
    : ["taskset", ["-c", cpus, Deno.execPath(), ...denoArgs]];
  const child = new Deno.Command(command, {
    args: fullArgs,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const ready = Promise.withResolvers<ReadyInfo>();
  const stderrTail: string[] = [];
  const readStderr = (async () => {
    const decoder = new TextDecoder();
    let pending = "";
    for await (const chunk of child.stderr) {
      pending += decoder.decode(chunk, { stream: true });
      let nl;
      while ((nl = pending.indexOf("\n")) !== -1) {
        const line = pending.slice(0, nl);
        pending = pending.slice(nl + 1);
        if (line.startsWith('{"event":"ready"')) {
          ready.resolve(JSON.parse(line) as ReadyInfo);
        } else {
          stderrTail.push(line);
          if (stderrTail.length > 20) stderrTail.shift();
        }
      }
    }
  })();
  const stdout = new Response(child.stdout).text();
  const summary = (async (): Promise<LoadSummary> => {
    const status = await child.status;
    await readStderr;
    const lines = (await stdout).trim().split("\n");
    const last = lines.at(-1) ?? "";
    if (!last.startsWith("{")) {
      const error = new Error(
        `Cannot run load generator: exit ${status.code}; stderr: ${stderrTail.join(" | ")}`,
      );
      ready.reject(error);
      throw error;
    }
    ready.reject(new Error("load generator exited before ready"));
    return JSON.parse(last) as LoadSummary;
  })();
  // A rejection nobody awaits (ready after the summary) must not crash the bench.
  ready.promise.catch(() => {});
  const relative = "tests/load/stratum_load.ts";
  return {
    pid: child.pid,
    commandLine: [
      ...(cpus === undefined ? [] : ["taskset", "-c", cpus]),
      "deno run",
      ...permissions.map((p) => p.replace(Deno.execPath(), "deno")),
      relative,
      ...loadArgs,
    ].join(" "),
    ready: ready.promise,
    summary,
    stop() {
      try {
        child.kill("SIGTERM");
      } catch {
        // Already exited.
      }
    },
  };
}
