/**
 * Stratum pool service entry: reads the config, checks permissions, learns the network from
 * bitcoind when the config does not name it, starts the pool, and drains on SIGTERM/SIGINT.
 * No logic lives here.
 */
import type { Network } from "@tbg/shared/bitcoin";
import { BitcoindPool, BitcoindTemplateSource } from "@tbg/shared/bitcoind";
import {
  assertConfigAddressesOnNetwork,
  chainToNetwork,
  ConfigError,
  parseInstanceArg,
} from "@tbg/shared/config";
import { configureLogging, getLogger, shutdownLogging } from "@tbg/shared/log";
import { bootstrap, parseServiceArgs, SERVICE_RUNTIME_NEEDS } from "@tbg/shared/service";
import { startPoolRuntime } from "./pool_runtime.ts";

/** How long a drain waits for miners to leave before closing the rest. */
const DRAIN_TIMEOUT_MS = 10_000;

const config = bootstrap("stratum", Deno.args, SERVICE_RUNTIME_NEEDS.stratum);
const { configPath, rest } = parseServiceArgs("stratum", Deno.args);
/** Index among processes sharing the Stratum port; bootstrap already validated it. */
const instanceIndex = parseInstanceArg(rest);
const logFile = config.logdir === undefined
  ? null
  : await Deno.open(`${config.logdir}/stratum.log`, { create: true, append: true, write: true });
await configureLogging({
  service: "stratum",
  level: "info",
  ...(logFile ? { sink: logFile.writable } : {}),
});
const log = getLogger(["stratum"]);

const pool = new BitcoindPool({
  nodes: config.btcd,
  blockpollMs: config.blockpoll,
  logger: log.getChild("bitcoind"),
});
await pool.start();

let network: Network;
try {
  network = config.network ?? chainToNetwork(await pool.chain());
  assertConfigAddressesOnNetwork(config, network, configPath);
} catch (e) {
  await pool.stop();
  if (e instanceof ConfigError) {
    Deno.stderr.writeSync(new TextEncoder().encode(`tbg-stratum: ${e.message}\n`));
    Deno.exit(e.exitCode);
  }
  log.fatal("cannot learn the network from bitcoind", { error: String(e) });
  await shutdownLogging();
  Deno.exit(1);
}

const source = new BitcoindTemplateSource(config, { pool });
const runtime = await startPoolRuntime({
  config,
  network,
  source,
  log,
  instance: `stratum-${config.region}-${instanceIndex}`,
  instanceIndex,
  bitcoindConnected: () => pool.connected,
});

let stopping = false;
const stop = async (signal: string) => {
  if (stopping) return;
  stopping = true;
  log.info("signal received, draining", { signal });
  await runtime.drainAndStop(DRAIN_TIMEOUT_MS);
  await pool.stop();
  await shutdownLogging();
  Deno.exit(0);
};
Deno.addSignalListener("SIGTERM", () => void stop("SIGTERM"));
Deno.addSignalListener("SIGINT", () => void stop("SIGINT"));
