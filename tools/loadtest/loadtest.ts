/**
 * `deno task loadtest`: the seed's load test (Phase 5 §3.4) on this host. Starts nats-server, a
 * devnet and N stratum pools sharing one port, ramps the miners up from the load generator's
 * processes over several loopback source addresses, holds, prints a live line every report
 * interval, then the seed's "Expected Results" table with verdicts, the pools' and the
 * generator's CPU and memory apart, and the comparison with the previous run (§7.3), and saves
 * the result (`--out`, default .tbg/loadtest/last.json).
 *
 *   deno task loadtest --miners 10000 --ramp-up 30 --duration 60
 *   deno task loadtest --miners 100000 --processes 6 --ramp-up 120 --share-interval 10 \
 *     --duration 120 --report-interval 10
 *
 * SIGINT/SIGTERM end the hold early, judge what was measured and stop everything started.
 *
 * @module
 */
import { compareRuns } from "./regression.ts";
import {
  checkFitsHost,
  type HostLimits,
  LOADTEST_USAGE,
  type LoadtestOptions,
  parseLoadtestArgs,
} from "./loadtest_options.ts";
import { formatComparison, formatSeedTable, formatValue } from "./loadtest_report.ts";
import { startLoadtest } from "./loadtest_run.ts";
import { type LoadtestResult, readPreviousResult, saveResult } from "./result_file.ts";

const encoder = new TextEncoder();

function print(line: string): void {
  Deno.stdout.writeSync(encoder.encode(line + "\n"));
}

async function commandText(program: string, args: string[]): Promise<string | null> {
  try {
    const out = await new Deno.Command(program, { args, stdout: "piped", stderr: "null" })
      .output();
    return out.success ? new TextDecoder().decode(out.stdout).trim() : null;
  } catch {
    return null;
  }
}

/** The open-file soft limit children inherit. */
async function hostLimits(): Promise<HostLimits> {
  const nofile = Number(await commandText("bash", ["-c", "ulimit -Sn"]));
  if (!Number.isInteger(nofile) || nofile <= 0) {
    throw new Error("Cannot read the open-file limit (`ulimit -Sn`)");
  }
  return { nofile };
}

function cores(n: number | null): string {
  return n === null ? "— (a process exited)" : `${n.toFixed(2)} cores`;
}

function mb(bytes: number): string {
  return `${(bytes / 1e6).toFixed(1)} MB`;
}

/** The figures reported apart from the table. */
function apartLines(result: LoadtestResult): string[] {
  const p = result.pools;
  const g = result.generator;
  const w = result.poolWindow;
  const load = result.load as { latency?: { p50Ms: number; p999Ms: number; maxMs: number } };
  return [
    `pools, ${p.processes} processes: CPU ${cores(p.cpuCores)} over the hold (${
      formatValue("%", p.cpuCores === null ? null : (p.cpuCores / result.host.cores) * 100)
    } of ${result.host.cores} cores), ` +
    `${p.cpuSPer1kShares === null ? "—" : p.cpuSPer1kShares.toFixed(4)} CPU-s per 1,000 shares; ` +
    `peak RSS ${mb(p.peakRssBytes)} summed (counts the shared deno binary once per process), ` +
    `peak PSS ${mb(p.peakPssBytes)}`,
    `generator, ${g.processes} process(es), reported apart: CPU ${cores(g.cpuCores)}, ` +
    `peak RSS ${mb(g.peakRssBytes)}, peak PSS ${mb(g.peakPssBytes)}`,
    ...(result.natsServer === undefined ? [] : [
      `nats-server, reported apart: CPU ${cores(result.natsServer.cpuCores)} over the hold, ` +
      `RSS ${mb(result.natsServer.peakRssBytes)}`,
    ]),
    `pools' hold ${w.seconds.toFixed(1)} s: ${w.shares} shares answered, ${w.stale} stale, ` +
    `${w.emissions} events emitted, ${w.eventsPublished} published to JetStream, ` +
    `${w.eventsDropped} dropped; in-engine submit handling p99 ${
      w.submitP99Ms === null ? "—" : `${w.submitP99Ms.toFixed(3)} ms`
    }, ${w.notifies} notify broadcasts (p99 ${
      w.notifyP99Ms === null ? "—" : `${w.notifyP99Ms.toFixed(0)} ms`
    })`,
    load.latency === undefined
      ? "share RTT: no responses"
      : `share RTT: p50 ${load.latency.p50Ms} ms, p99.9 ${load.latency.p999Ms} ms, max ${load.latency.maxMs} ms`,
    `load average (1 min): ${result.host.loadAverage1mStart.toFixed(2)} at start, ` +
    `${result.host.loadAverage1mEnd.toFixed(2)} at end; commit ${result.commit}` +
    (result.interrupted ? "; INTERRUPTED before the hold completed" : ""),
  ];
}

if (import.meta.main) {
  let options: LoadtestOptions;
  try {
    options = parseLoadtestArgs(Deno.args);
  } catch (e) {
    Deno.stderr.writeSync(
      encoder.encode(
        `loadtest: ${e instanceof Error ? e.message : String(e)}\n${LOADTEST_USAGE}\n`,
      ),
    );
    Deno.exit(2);
  }
  let host: HostLimits;
  try {
    host = await hostLimits();
    checkFitsHost(options, host);
  } catch (e) {
    Deno.stderr.writeSync(encoder.encode(`loadtest: ${e instanceof Error ? e.message : e}\n`));
    Deno.exit(2);
  }
  const commit = (await commandText("git", ["rev-parse", "--short", "HEAD"])) ?? "unknown";
  const dirty = (await commandText("git", ["status", "--porcelain", "--untracked-files=no"])) ?? "";
  const run = startLoadtest(options, {
    host: { ...host, cores: navigator.hardwareConcurrency },
    commit: dirty === "" ? commit : `${commit}+dirty`,
    print,
  });
  const onSignal = () => run.stop();
  // Whatever goes wrong, what the run started is stopped by the run itself: an error nobody
  // awaited must not end this process first and orphan the pools.
  globalThis.addEventListener("unhandledrejection", (event) => {
    event.preventDefault();
    print(`loadtest: unexpected error, stopping: ${String(event.reason)}`);
    run.stop();
  });
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);
  let result: LoadtestResult;
  try {
    result = await run.result;
  } catch (e) {
    Deno.stderr.writeSync(
      encoder.encode(`loadtest: ${e instanceof Error ? e.stack ?? e.message : String(e)}\n`),
    );
    Deno.exit(1);
  }
  print("");
  print("Expected Results (seed Phase 5 §3.4)");
  print(formatSeedTable(result.rows));
  print("");
  for (const line of apartLines(result)) print(line);
  const previous = await readPreviousResult(
    options.out,
    (reason) => print(`previous result ignored: ${reason}`),
  );
  print("");
  if (previous === null) {
    print("No previous run to compare with.");
  } else {
    const sameShape = previous.options.miners === options.miners &&
      previous.options.shareIntervalS === options.shareIntervalS &&
      previous.options.processes === options.processes;
    print(
      `Compared with the previous run (${previous.startedAt}, commit ${previous.commit}, ` +
        `${previous.options.miners} miners, ${previous.options.processes} pools` +
        `${sameShape ? "" : "; a different configuration, so the comparison is indicative"}):`,
    );
    print(
      formatComparison(
        compareRuns(previous.rows, result.rows, options.regressionMarginPct),
        options.regressionMarginPct,
      ),
    );
  }
  await saveResult(options.out, result);
  print(`saved ${options.out}`);
  Deno.exit(0);
}
