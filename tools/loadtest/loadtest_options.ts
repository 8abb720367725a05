/**
 * Command line of `deno task loadtest` (the seed's load test, Phase 5 §3.4): the seed's knobs
 * plus what this host needs to place 100,000 loopback connections (pool processes sharing the
 * port, generator processes, source addresses), and the checks that a configuration fits the
 * open-file limit and the ephemeral port range before anything starts.
 */
import { parseArgs } from "node:util";
import { PORTS_PER_SOURCE_ADDRESS } from "../../tests/load/load_socket.ts";

/** A parsed `loadtest` command line. */
export interface LoadtestOptions {
  /** Miners (connections) in total. */
  readonly miners: number;
  /** Seconds over which connections are started. */
  readonly rampUpS: number;
  /** Seconds between two shares of one miner (offered rate = miners / interval). */
  readonly shareIntervalS: number;
  /** Seconds of the measured hold, after the ramp and warm-up. */
  readonly durationS: number;
  /** Seconds between live lines. */
  readonly reportIntervalS: number;
  /** Seconds of load before the measured hold starts. */
  readonly warmupS: number;
  /** Pool processes sharing the Stratum port (`reuse_port`, `--instance 0…N−1`). */
  readonly processes: number;
  /** Load-generator processes. */
  readonly generatorProcesses: number;
  /** Loopback source addresses the miners leave from (127.0.0.2 …). */
  readonly sourceAddresses: number;
  /** A connection not ready this long after it started counts as failed. */
  readonly handshakeTimeoutS: number;
  /** A row worse than the previous run's by more than this percentage is flagged. */
  readonly regressionMarginPct: number;
  /** Where the result is saved (the previous one moves beside it as `previous.json`). */
  readonly out: string;
  /** V8 flags for the pool processes only, comma-separated as `DENO_V8_FLAGS` takes them; empty for none. */
  readonly poolV8Flags: string;
  /** Directory the pools' output lines are saved into at the end (`pool-<i>.log`), or null. */
  readonly poolLogDir: string | null;
}

/** The usage text. */
export const LOADTEST_USAGE = [
  "usage: deno task loadtest [options]",
  "  --miners N               connections in total (default 10000)",
  "  --ramp-up S              spread connection starts over S seconds (default 60)",
  "  --share-interval S       one share per S seconds per miner (default 10)",
  "  --duration S             measured hold after ramp and warm-up (default 60)",
  "  --report-interval S      a live line every S seconds (default 10)",
  "  --warmup S               load before the hold is measured (default 5)",
  "  --processes N            pool processes sharing the port (default: miners / 16,000, at least 2)",
  "  --generator-processes N  load-generator processes (default: miners / 16,000, at least 1)",
  "  --source-addresses N     leave from 127.0.0.2 … 127.0.0.(N+1) (default: miners / 20,000, at least 1)",
  "  --handshake-timeout S    a connection not ready by then failed (default 60)",
  "  --regression-margin PCT  flag rows worse than the previous run by more than PCT % (default 10)",
  "  --out PATH               result file (default .tbg/loadtest/last.json)",
  "  --pool-v8-flags=FLAGS    V8 flags for the pools only, e.g. --pool-v8-flags=--max-semi-space-size=2",
  "  --pool-log-dir DIR       save each pool's output lines (its log, --trace-gc lines) to DIR/pool-<i>.log",
].join("\n");

/** Upper bounds that keep a run finite on one host. */
export const LOADTEST_LIMITS = Object.freeze({
  miners: 200_000,
  processes: 64,
  generatorProcesses: 64,
  sourceAddresses: 250,
  seconds: 86_400,
});

/** Default connections per pool / generator process (under the 20,000 open files of this host). */
const PER_PROCESS_DEFAULT = 16_000;
/** Default connections per source address (under the 22,768 explicit source ports of one). */
const PER_ADDRESS_DEFAULT = 20_000;

function number(
  name: string,
  text: string | undefined,
  fallback: number,
  check: { min: number; max: number; integer: boolean },
): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (text.trim() === "" || !Number.isFinite(value)) {
    throw new RangeError(`Cannot parse --${name}: expected a number, got "${text}"`);
  }
  if (check.integer && !Number.isInteger(value)) {
    throw new RangeError(`Cannot parse --${name}: expected a whole number, got "${text}"`);
  }
  if (value < check.min || value > check.max) {
    throw new RangeError(
      `Cannot parse --${name}: expected ${check.min} to ${check.max}, got ${text}`,
    );
  }
  return value;
}

/** `--pool-v8-flags`: V8 flags separated by spaces or commas, each starting with `--`. */
function poolV8Flags(text: string | undefined): string {
  if (text === undefined) return "";
  const flags = text.trim().split(/[\s,]+/).filter((f) => f !== "");
  const bad = flags.find((f) => !/^--[a-z0-9][a-z0-9_-]*(=[A-Za-z0-9_.-]+)?$/.test(f));
  if (bad !== undefined) {
    throw new TypeError(
      `Cannot parse --pool-v8-flags: expected V8 flags such as --max-semi-space-size=2, got "${bad}"`,
    );
  }
  return flags.join(",");
}

/** Parses the command line; throws RangeError or TypeError naming the bad flag. */
export function parseLoadtestArgs(args: readonly string[]): LoadtestOptions {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...args],
      options: {
        miners: { type: "string" },
        "ramp-up": { type: "string" },
        "share-interval": { type: "string" },
        duration: { type: "string" },
        "report-interval": { type: "string" },
        warmup: { type: "string" },
        processes: { type: "string" },
        "generator-processes": { type: "string" },
        "source-addresses": { type: "string" },
        "handshake-timeout": { type: "string" },
        "regression-margin": { type: "string" },
        out: { type: "string" },
        "pool-v8-flags": { type: "string" },
        "pool-log-dir": { type: "string" },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (e) {
    throw new TypeError(`Cannot parse arguments: ${e instanceof Error ? e.message : String(e)}`);
  }
  const L = LOADTEST_LIMITS;
  const seconds = { min: 0, max: L.seconds, integer: false };
  const positiveSeconds = { min: 0.001, max: L.seconds, integer: false };
  const miners = number("miners", values.miners, 10_000, {
    min: 1,
    max: L.miners,
    integer: true,
  });
  const byMiners = (per: number, min: number) => Math.max(min, Math.ceil(miners / per));
  const options: LoadtestOptions = {
    miners,
    rampUpS: number("ramp-up", values["ramp-up"], 60, seconds),
    shareIntervalS: number("share-interval", values["share-interval"], 10, positiveSeconds),
    durationS: number("duration", values.duration, 60, positiveSeconds),
    reportIntervalS: number("report-interval", values["report-interval"], 10, {
      min: 1,
      max: L.seconds,
      integer: false,
    }),
    warmupS: number("warmup", values.warmup, 5, seconds),
    processes: number("processes", values.processes, byMiners(PER_PROCESS_DEFAULT, 2), {
      min: 1,
      max: L.processes,
      integer: true,
    }),
    generatorProcesses: number(
      "generator-processes",
      values["generator-processes"],
      byMiners(PER_PROCESS_DEFAULT, 1),
      { min: 1, max: L.generatorProcesses, integer: true },
    ),
    sourceAddresses: number(
      "source-addresses",
      values["source-addresses"],
      byMiners(PER_ADDRESS_DEFAULT, 1),
      { min: 1, max: L.sourceAddresses, integer: true },
    ),
    handshakeTimeoutS: number("handshake-timeout", values["handshake-timeout"], 60, {
      min: 1,
      max: L.seconds,
      integer: false,
    }),
    regressionMarginPct: number("regression-margin", values["regression-margin"], 10, {
      min: 0,
      max: 1000,
      integer: false,
    }),
    out: values.out ?? ".tbg/loadtest/last.json",
    poolV8Flags: poolV8Flags(values["pool-v8-flags"]),
    poolLogDir: values["pool-log-dir"] ?? null,
  };
  if (options.generatorProcesses > options.miners) {
    throw new RangeError(
      `Cannot use --generator-processes ${options.generatorProcesses}: more than --miners ${options.miners}`,
    );
  }
  return options;
}

/** What the host allows, read before a run. */
export interface HostLimits {
  /** Open files one process may hold (soft RLIMIT_NOFILE). */
  readonly nofile: number;
}

/** Descriptors a pool process keeps for itself (the stratum `open_files_reserve` default). */
export const POOL_FILE_RESERVE = 200;
/** Descriptors a generator process needs besides its sockets (runtime, pipes, npm). */
export const GENERATOR_FILE_RESERVE = 500;

/**
 * Checks that the miners fit: per pool process under its `maxclients` (limit − reserve, with a
 * 5 % margin for the kernel's uneven reuse_port spread), per generator process under its limit,
 * per source address under the source ports the generator gives out (tests/load/load_socket.ts).
 *
 * @throws {RangeError} naming the flag to raise
 */
export function checkFitsHost(options: LoadtestOptions, host: HostLimits): void {
  const perPool = Math.ceil(options.miners / options.processes * 1.05);
  const poolCap = host.nofile - POOL_FILE_RESERVE;
  if (perPool > poolCap) {
    throw new RangeError(
      `Cannot place ${options.miners} miners on --processes ${options.processes}: about ${perPool} ` +
        `per process (with a 5 % margin for the kernel's spread) exceeds ${poolCap} ` +
        `(open-file limit ${host.nofile} − ${POOL_FILE_RESERVE}); raise --processes`,
    );
  }
  const perGenerator = Math.ceil(options.miners / options.generatorProcesses);
  const generatorCap = host.nofile - GENERATOR_FILE_RESERVE;
  if (perGenerator > generatorCap) {
    throw new RangeError(
      `Cannot drive ${options.miners} miners from --generator-processes ` +
        `${options.generatorProcesses}: ${perGenerator} per process exceeds ${generatorCap} ` +
        `(open-file limit ${host.nofile} − ${GENERATOR_FILE_RESERVE}); raise --generator-processes`,
    );
  }
  const perAddress = Math.ceil(options.miners / options.sourceAddresses);
  if (perAddress > PORTS_PER_SOURCE_ADDRESS) {
    throw new RangeError(
      `Cannot connect ${options.miners} miners from --source-addresses ${options.sourceAddresses}: ` +
        `${perAddress} per address exceeds its ${PORTS_PER_SOURCE_ADDRESS} source ports; raise ` +
        "--source-addresses",
    );
  }
}

/** The source addresses: 127.0.0.2, 127.0.0.3, … (127.0.0.1 stays the pool's). */
export function sourceAddressList(count: number): string[] {
  return Array.from({ length: count }, (_, i) => `127.0.0.${i + 2}`);
}
