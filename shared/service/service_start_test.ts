import assert from "node:assert/strict";
import { configureLogging, getLogger, shutdownLogging } from "../log/mod.ts";
import { type ChainSource, learnNetwork, type LearnNetworkOptions } from "./service_start.ts";

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
