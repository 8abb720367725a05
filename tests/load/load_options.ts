/**
 * Command-line options of the Stratum load generator, and how a driver splits them over child
 * processes (each process may hold at most 20,000 open files here).
 */
import { parseArgs } from "node:util";

/** What each connection does once authorized. */
export const LoadMode = {
  /** Closed loop: each connection keeps K submits in flight (throughput). */
  outstanding: "outstanding",
  /** Open loop: R submits/s in total, spread evenly over connections (latency). */
  rate: "rate",
  /** Connect, subscribe, authorize, then stay idle (memory per connection, notify fan-out). */
  idle: "idle",
} as const;

/** One of {@link LoadMode}. */
export type LoadMode = typeof LoadMode[keyof typeof LoadMode];

/** A parsed load-generator command line. */
export interface LoadOptions {
  readonly host: string;
  readonly port: number;
  readonly connections: number;
  /** Length of the measured window. */
  readonly durationS: number;
  /** Connection starts are spread evenly over this time. */
  readonly rampS: number;
  /** Load applied but not measured between the ramp and the window. */
  readonly warmupS: number;
  /** A connection not ready (subscribed, authorized, first job) this long after it started fails. */
  readonly handshakeTimeoutS: number;
  readonly mode: LoadMode;
  /** Submits in flight per connection (mode outstanding). */
  readonly outstanding: number;
  /** Submits per second offered in total (mode rate). */
  readonly ratePerS: number;
  /** Child processes to spread the connections over; 1 runs in this process. */
  readonly processes: number;
  /** Print one JSON summary line instead of text. */
  readonly json: boolean;
  /** Added to connection numbers for worker names and payout addresses (set by the driver). */
  readonly indexOffset: number;
  /** Include the encoded latency histogram in the summary (so a driver can merge it). */
  readonly emitHistogram: boolean;
  /**
   * Loopback source addresses the connections leave from, round-robin (empty: the kernel's
   * choice, 127.0.0.1). Each address has its own ephemeral ports, about 28,000 here.
   */
  readonly sourceAddresses: readonly string[];
  /** Seconds between progress events on stderr; 0 for none. */
  readonly progressIntervalS: number;
}

/** The usage text. */
export const LOAD_USAGE = [
  "usage: stratum_load.ts --port P (--outstanding K | --rate R | --idle) [options]",
  "  --host H               pool host (default 127.0.0.1)",
  "  --connections N        connections in total (default 100)",
  "  --duration-s S         measured window after ramp and warm-up (default 20)",
  "  --ramp-s S             spread connection starts over S seconds (default 5)",
  "  --warmup-s S           load before the window starts (default 2)",
  "  --handshake-timeout-s S  a connection not ready by then counts as failed (default 30)",
  "  --processes N          spread connections over N child processes (default 1)",
  "  --source-addresses A,B connect from these loopback addresses in turn (127.x.x.x)",
  "  --progress-interval-s S  a progress event on stderr every S seconds (default none)",
  "  --json                 print one JSON summary line on stdout",
].join("\n");

function positiveNumber(name: string, text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!Number.isFinite(value) || value <= 0) {
    throw new RangeError(`Cannot parse --${name}: expected a positive number, got "${text}"`);
  }
  return value;
}

function nonNegativeNumber(name: string, text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!Number.isFinite(value) || value < 0) {
    throw new RangeError(`Cannot parse --${name}: expected a number of at least 0, got "${text}"`);
  }
  return value;
}

function positiveInt(name: string, text: string | undefined, fallback: number): number {
  const value = positiveNumber(name, text, fallback);
  if (!Number.isInteger(value)) {
    throw new RangeError(`Cannot parse --${name}: expected a whole number, got "${text}"`);
  }
  return value;
}

/** Parses the command line; throws RangeError or TypeError naming the bad option. */
export function parseLoadArgs(args: readonly string[]): LoadOptions {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...args],
      options: {
        host: { type: "string" },
        port: { type: "string" },
        connections: { type: "string" },
        "duration-s": { type: "string" },
        "ramp-s": { type: "string" },
        "warmup-s": { type: "string" },
        "handshake-timeout-s": { type: "string" },
        outstanding: { type: "string" },
        rate: { type: "string" },
        idle: { type: "boolean", default: false },
        processes: { type: "string" },
        json: { type: "boolean", default: false },
        "index-offset": { type: "string" },
        "emit-histogram": { type: "boolean", default: false },
        "source-addresses": { type: "string" },
        "progress-interval-s": { type: "string" },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (e) {
    throw new TypeError(`Cannot parse arguments: ${e instanceof Error ? e.message : String(e)}`);
  }
  const modes = [
    values.outstanding !== undefined,
    values.rate !== undefined,
    values.idle,
  ].filter(Boolean).length;
  if (modes !== 1) {
    throw new TypeError(
      "Cannot parse arguments: give exactly one of --outstanding K, --rate R or --idle",
    );
  }
  if (values.port === undefined) throw new TypeError("Cannot parse arguments: --port is required");
  const port = positiveInt("port", values.port, 0);
  if (port > 65535) throw new RangeError(`Cannot parse --port: expected 1-65535, got ${port}`);
  const mode = values.idle
    ? LoadMode.idle
    : values.rate !== undefined
    ? LoadMode.rate
    : LoadMode.outstanding;
  const indexOffsetText = values["index-offset"];
  const indexOffset = indexOffsetText === undefined ? 0 : Number(indexOffsetText);
  if (!Number.isInteger(indexOffset) || indexOffset < 0) {
    throw new RangeError(
      `Cannot parse --index-offset: expected a whole number, got "${indexOffsetText}"`,
    );
  }
  return {
    host: values.host ?? "127.0.0.1",
    port,
    connections: positiveInt("connections", values.connections, 100),
    durationS: positiveNumber("duration-s", values["duration-s"], 20),
    rampS: nonNegativeNumber("ramp-s", values["ramp-s"], 5),
    warmupS: nonNegativeNumber("warmup-s", values["warmup-s"], 2),
    handshakeTimeoutS: positiveNumber("handshake-timeout-s", values["handshake-timeout-s"], 30),
    mode,
    outstanding: mode === LoadMode.outstanding
      ? positiveInt("outstanding", values.outstanding, 1)
      : 0,
    ratePerS: mode === LoadMode.rate ? positiveNumber("rate", values.rate, 1) : 0,
    processes: positiveInt("processes", values.processes, 1),
    json: values.json,
    indexOffset,
    emitHistogram: values["emit-histogram"],
    sourceAddresses: parseSourceAddresses(values["source-addresses"]),
    progressIntervalS: nonNegativeNumber("progress-interval-s", values["progress-interval-s"], 0),
  };
}

/**
 * Parses `--source-addresses`: comma-separated IPv4 loopback addresses (127.0.0.0/8), no
 * duplicates; the load tool never leaves the machine.
 *
 * @throws {RangeError} naming the flag and the bad entry
 */
export function parseSourceAddresses(text: string | undefined): string[] {
  if (text === undefined) return [];
  const addresses = text.split(",").map((a) => a.trim());
  for (const address of addresses) {
    const octets = address.split(".");
    const valid = octets.length === 4 && octets[0] === "127" &&
      octets.every((o) => /^\d{1,3}$/.test(o) && Number(o) <= 255);
    if (!valid) {
      throw new RangeError(
        `Cannot parse --source-addresses: "${address}" is not a loopback IPv4 address (127.x.x.x)`,
      );
    }
  }
  if (new Set(addresses).size !== addresses.length) {
    throw new RangeError(`Cannot parse --source-addresses: "${text}" lists an address twice`);
  }
  return addresses;
}

/** The share of `total` that part `index` of `parts` gets (earlier parts take the remainder). */
export function splitEvenly(total: number, parts: number, index: number): number {
  const base = Math.floor(total / parts);
  return base + (index < total % parts ? 1 : 0);
}

/** Arguments for child `index` of `options.processes`: its share of connections and rate. */
export function childArgs(options: LoadOptions, index: number): string[] {
  const connections = splitEvenly(options.connections, options.processes, index);
  let offset = options.indexOffset;
  for (let i = 0; i < index; i++) offset += splitEvenly(options.connections, options.processes, i);
  const args = [
    "--host",
    options.host,
    "--port",
    String(options.port),
    "--connections",
    String(connections),
    "--duration-s",
    String(options.durationS),
    "--ramp-s",
    String(options.rampS),
    "--warmup-s",
    String(options.warmupS),
    "--handshake-timeout-s",
    String(options.handshakeTimeoutS),
    "--index-offset",
    String(offset),
    "--processes",
    "1",
    "--json",
    "--emit-histogram",
    ...(options.sourceAddresses.length > 0
      ? ["--source-addresses", options.sourceAddresses.join(",")]
      : []),
    ...(options.progressIntervalS > 0
      ? ["--progress-interval-s", String(options.progressIntervalS)]
      : []),
  ];
  switch (options.mode) {
    case LoadMode.outstanding:
      args.push("--outstanding", String(options.outstanding));
      break;
    case LoadMode.rate:
      args.push("--rate", String(options.ratePerS * connections / options.connections));
      break;
    case LoadMode.idle:
      args.push("--idle");
      break;
  }
  return args;
}
