import assert from "node:assert/strict";
import { configureLogging, getLogger, shutdownLogging } from "../log/mod.ts";
import { ConfigError } from "../config/mod.ts";
import { SpoolLockedError } from "../emitter/mod.ts";
import {
  type ChainSource,
  learnNetwork,
  type LearnNetworkOptions,
  startRuntimeOrExit,
} from "./service_start.ts";

class Exited extends Error {
  constructor(readonly code: number) {
    super(`exit ${code}`);
  }
}

/** BIP173's mainnet P2WPKH test vector. */
const MAINNET_ADDRESS = "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4";

/** A bitcoind pool stand-in that reports `chain` (or fails) and records how often it stopped. */
function chainSource(chain: string | Error): ChainSource & { chainCalls: number; stops: number } {
  return {
    chainCalls: 0,
    stops: 0,
    chain() {
      this.chainCalls++;
      return chain instanceof Error ? Promise.reject(chain) : Promise.resolve(chain);
    },
    stop() {
      this.stops++;
      return Promise.resolve();
    },
  };
}

interface Outcome {
  network: string | undefined;
  code: number | undefined;
  stderr: string[];
  logs: Record<string, unknown>[];
  shutdowns: number;
}

/** Runs learnNetwork() with logging captured and exit turned into a thrown {@link Exited}. */
async function run(
  config: { network?: "mainnet" | "regtest"; btcaddress?: string },
  pool: ChainSource,
): Promise<Outcome> {
  const lines: string[] = [];
  const stderr: string[] = [];
  let shutdowns = 0;
  await configureLogging({ service: "stratum", level: "info", sink: (line) => lines.push(line) });
  const opts: LearnNetworkOptions = {
    log: getLogger(["stratum"]),
    failureMessage: "cannot learn the network from bitcoind",
    exit: (code) => {
      throw new Exited(code);
    },
    writeError: (line) => stderr.push(line),
    shutdown: () => {
      shutdowns++;
      return Promise.resolve();
    },
  };
  let network: string | undefined;
  let code: number | undefined;
  try {
    network = await learnNetwork("stratum", config, "/etc/tbg/stratum.json", pool, opts);
  } catch (error: unknown) {
    if (!(error instanceof Exited)) throw error;
    code = error.code;
  } finally {
    await shutdownLogging();
  }
  const logs = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
  return { network, code, stderr, logs, shutdowns };
}

Deno.test("learnNetwork() takes the configured network without asking bitcoind", async () => {
  const pool = chainSource(new Error("must not be called"));
  const outcome = await run({ network: "regtest" }, pool);
  assert.equal(outcome.network, "regtest");
  assert.equal(outcome.code, undefined);
  assert.equal(pool.chainCalls, 0);
  assert.equal(pool.stops, 0);
});

Deno.test("learnNetwork() maps bitcoind's chain when the config names no network", async () => {
  const pool = chainSource("main");
  const outcome = await run({ btcaddress: MAINNET_ADDRESS }, pool);
  assert.equal(outcome.network, "mainnet");
  assert.equal(pool.stops, 0);
  assert.deepEqual(outcome.stderr, []);
});

Deno.test("learnNetwork() exits 2 with one stderr line when an address is of another network", async () => {
  const pool = chainSource("regtest");
  const outcome = await run({ btcaddress: MAINNET_ADDRESS }, pool);
  assert.equal(outcome.code, 2);
  assert.equal(pool.stops, 1);
  assert.deepEqual(outcome.stderr, [
    `tbg-stratum: Invalid config /etc/tbg/stratum.json: btcaddress: ${MAINNET_ADDRESS} is a mainnet address, but network is "regtest"`,
  ]);
  assert.deepEqual(outcome.logs, []);
});

Deno.test("learnNetwork() logs the service's fatal message and exits 1 when bitcoind cannot answer", async () => {
  const pool = chainSource(new Error("connection refused"));
  const outcome = await run({}, pool);
  assert.equal(outcome.code, 1);
  assert.equal(pool.stops, 1);
  assert.deepEqual(outcome.stderr, []);
  assert.equal(outcome.shutdowns, 1);
  assert.equal(outcome.logs.length, 1);
  assert.equal(outcome.logs[0]?.level, "fatal");
  assert.equal(outcome.logs[0]?.msg, "cannot learn the network from bitcoind");
  assert.equal(outcome.logs[0]?.error, "Error: connection refused");
});

Deno.test("learnNetwork() exits 1 on a chain it cannot map", async () => {
  const pool = chainSource("liquidv1");
  const outcome = await run({}, pool);
  assert.equal(outcome.code, 1);
  assert.equal(pool.stops, 1);
  assert.match(String(outcome.logs[0]?.error), /"liquidv1" is not one of/);
});

interface RuntimeOutcome {
  value: string | undefined;
  code: number | undefined;
  stderr: string[];
  stops: number;
  shutdowns: number;
}

/** Runs startRuntimeOrExit() around `start` with exit turned into a thrown {@link Exited}. */
async function runRuntime(
  start: () => Promise<string>,
  config: { events: { spool_dir?: string }; logdir?: string } = { events: {} },
): Promise<RuntimeOutcome> {
  const outcome: RuntimeOutcome = {
    value: undefined,
    code: undefined,
    stderr: [],
    stops: 0,
    shutdowns: 0,
  };
  const pool = {
    stop() {
      outcome.stops++;
      return Promise.resolve();
    },
  };
  try {
    outcome.value = await startRuntimeOrExit(
      "stratum",
      { config, configPath: "/etc/tbg/stratum-1.json", pool },
      start,
      {
        exit: (code) => {
          throw new Exited(code);
        },
        writeError: (line) => outcome.stderr.push(line),
        shutdown: () => {
          outcome.shutdowns++;
          return Promise.resolve();
        },
      },
    );
  } catch (error: unknown) {
    if (!(error instanceof Exited)) throw error;
    outcome.code = error.code;
  }
  return outcome;
}

Deno.test("startRuntimeOrExit() returns what the runtime start resolves to", async () => {
  const outcome = await runRuntime(() => Promise.resolve("running"));
  assert.equal(outcome.value, "running");
  assert.equal(outcome.code, undefined);
  assert.equal(outcome.stops, 0);
});

Deno.test("startRuntimeOrExit() exits 2 with one line naming events.spool_dir when the spool is locked", async () => {
  const locked = new SpoolLockedError("/var/lib/tbg/spool", "/var/lib/tbg/spool/spool.lock", 99);
  const outcome = await runRuntime(
    () => Promise.reject(locked),
    { events: { spool_dir: "/var/lib/tbg/spool" } },
  );
  assert.equal(outcome.code, 2);
  assert.equal(outcome.stops, 1, "the bitcoind pool is stopped first");
  assert.equal(outcome.shutdowns, 1);
  assert.deepEqual(outcome.stderr, [
    "tbg-stratum: Invalid config /etc/tbg/stratum-1.json: events.spool_dir: /var/lib/tbg/spool " +
    "is in use by process 99 (it holds /var/lib/tbg/spool/spool.lock); " +
    "give each process its own events.spool_dir",
  ]);
});

Deno.test("startRuntimeOrExit() exits with a ConfigError's code and message", async () => {
  const outcome = await runRuntime(() =>
    Promise.reject(new ConfigError("/etc/tbg/stratum-1.json", [{ path: "x", message: "bad" }]))
  );
  assert.equal(outcome.code, 2);
  assert.deepEqual(outcome.stderr, [
    "tbg-stratum: Invalid config /etc/tbg/stratum-1.json: x: bad",
  ]);
});

Deno.test("startRuntimeOrExit() lets any other start-up error through", async () => {
  await assert.rejects(runRuntime(() => Promise.reject(new Error("bind failed"))), /bind failed/);
});
