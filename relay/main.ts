/**
 * Relay service entry: reads the config, checks permissions, learns the network from the local
 * bitcoind when the config does not name it, starts the relay, and drains on SIGTERM/SIGINT.
 * No logic lives here.
 *
 * @module
 */
import type { Network } from "@tbg/shared/bitcoin";
import { BitcoindPool } from "@tbg/shared/bitcoind";
import {
  assertConfigAddressesOnNetwork,
  chainToNetwork,
  ConfigError,
  parseInstanceArg,
} from "@tbg/shared/config";
import { configureLogging, getLogger, shutdownLogging } from "@tbg/shared/log";
import { bootstrap, parseServiceArgs, SERVICE_RUNTIME_NEEDS } from "@tbg/shared/service";
import { startRelayRuntime } from "./relay_runtime.ts";

/** How long a drain waits for miners to leave before closing the rest. */
const DRAIN_TIMEOUT_MS = 10_000;

const config = bootstrap("relay", Deno.args, SERVICE_RUNTIME_NEEDS.relay);
const { configPath, rest } = parseServiceArgs("relay", Deno.args);
/** Index among processes sharing the Stratum port; bootstrap already validated it. */
const instanceIndex = parseInstanceArg(rest);
const logFile = config.logdir === undefined
  ? null
  : await Deno.open(`${config.logdir}/relay.log`, { create: true, append: true, write: true });
await configureLogging({
  service: "relay",
  level: "info",
  ...(logFile ? { sink: logFile.writable } : {}),
});
const log = getLogger(["relay"]);

const localPool = new BitcoindPool({
  nodes: config.btcd,
  blockpollMs: config.blockpoll,
  logger: log.getChild("bitcoind"),
});
await localPool.start();

let network: Network;
try {
  network = config.network ?? chainToNetwork(await localPool.chain());
  assertConfigAddressesOnNetwork(config, network, configPath);
} catch (e) {
  await localPool.stop();
  if (e instanceof ConfigError) {
    Deno.stderr.writeSync(new TextEncoder().encode(`tbg-relay: ${e.message}\n`));
    Deno.exit(e.exitCode);
  }
  log.fatal('cannot learn the network from the local bitcoind; set "network" in the config', {
    error: String(e),
  });
  await shutdownLogging();
  Deno.exit(1);
}

const runtime = await startRelayRuntime({
  config,
  network,
  log,
  localPool,
  instance: `relay-${config.region}-${instanceIndex}`,
  instanceIndex,
});

let stopping = false;
const stop = async (signal: string) => {
  if (stopping) return;
  stopping = true;
  log.info("signal received, draining", { signal });
  await runtime.drainAndStop(DRAIN_TIMEOUT_MS);
  await localPool.stop();
  await shutdownLogging();
  Deno.exit(0);
};
Deno.addSignalListener("SIGTERM", () => void stop("SIGTERM"));
Deno.addSignalListener("SIGINT", () => void stop("SIGINT"));
