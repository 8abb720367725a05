/**
 * Stratum load generator: many raw TCP connections that subscribe, authorize, wait for
 * mining.notify and submit shares the pool rejects as low difficulty (run the pool with a huge
 * startdiff and mindiff, and a devnet with difficulty-1 bits, so no submit is ever a block).
 *
 *   deno run --allow-net=127.0.0.1:3333 tests/load/stratum_load.ts --port 3333 \
 *     --connections 1000 --outstanding 4 --duration-s 20 --json
 *   … --rate 5000            open loop, latency percentiles
 *   … --idle                 hold authorized connections (memory per connection, notify fan-out)
 *   … --processes 2          spread over child processes (needs --allow-run too)
 *   … --source-addresses 127.0.0.2,127.0.0.3   leave from these addresses (needs
 *                            --allow-net for 127.0.0.2:0 and 127.0.0.3:0 too)
 *
 * stdout: the summary (one JSON line with --json); stderr: `{"event":"ready",…}` once every
 * connection is ready or failed, and children's diagnostics. SIGTERM/SIGINT end the run early
 * and still print the summary.
 *
 * @module
 */
import { startDriver } from "./load_driver.ts";
import { LOAD_USAGE, type LoadOptions, parseLoadArgs } from "./load_options.ts";
import { type LoadRun, type LoadRunHooks, startLoad } from "./load_run.ts";
import { summaryText } from "./summary_text.ts";

export type { LoadOptions, LoadRun };
export { parseLoadArgs };

/** Starts a run: in this process, or over child processes when `options.processes` > 1. */
export function startLoadTool(
  options: LoadOptions,
  hooks: LoadRunHooks & { onChildLine?: (index: number, line: string) => void } = {},
): LoadRun {
  return options.processes > 1 ? startDriver(options, hooks) : startLoad(options, hooks);
}

if (import.meta.main) {
  const encoder = new TextEncoder();
  const err = (text: string) => Deno.stderr.writeSync(encoder.encode(text + "\n"));
  let options: LoadOptions;
  try {
    options = parseLoadArgs(Deno.args);
  } catch (e) {
    err(`stratum_load: ${e instanceof Error ? e.message : String(e)}\n${LOAD_USAGE}`);
    Deno.exit(2);
  }
  const run = startLoadTool(options, {
    onReady: (info) => err(JSON.stringify({ event: "ready", ...info })),
    onProgress: (progress) => err(JSON.stringify({ event: "progress", ...progress })),
    onChildLine: (index, line) => err(`[load ${index}] ${line}`),
  });
  Deno.addSignalListener("SIGTERM", () => run.stop());
  Deno.addSignalListener("SIGINT", () => run.stop());
  const summary = await run.done;
  Deno.stdout.writeSync(
    encoder.encode((options.json ? JSON.stringify(summary) : summaryText(summary)) + "\n"),
  );
  Deno.exit(0);
}
