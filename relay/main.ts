/**
 * Relay service entry: reads the config, checks permissions, learns the network from the local
 * bitcoind when the config does not name it, starts the relay, reloads its TLS certificate on SIGHUP, and drains on SIGTERM/SIGINT.
 * No logic lives here.
 *
 * @module
 */
import {
  drainOnSignals,
  MINER_DRAIN_TIMEOUT_MS,
  reloadOnSighup,
  startEngineService,
  startRuntimeOrExit,
} from "@tbg/shared/service";
import { startRelayRuntime } from "./relay_runtime.ts";

const service = await startEngineService(
  "relay",
  Deno.args,
  {
    networkFailureMessage:
      'cannot learn the network from the local bitcoind; set "network" in the config',
  },
);
const { config, network, log, pool: localPool, instanceIndex, nofileLimit } = service;

const runtime = await startRuntimeOrExit("relay", service, () =>
  startRelayRuntime({
    config,
    network,
    log,
    localPool,
    instance: `relay-${config.region}-${instanceIndex}`,
    instanceIndex,
    nofileLimit,
  }));

reloadOnSighup({ log, reload: () => runtime.pool.reloadTls() });

drainOnSignals({
  log,
  drain: async () => {
    await runtime.drainAndStop(MINER_DRAIN_TIMEOUT_MS);
    await localPool.stop();
  },
});
