/**
 * Stratum pool service entry: reads the config, checks permissions, learns the network from
 * bitcoind when the config does not name it, starts the pool, reloads its TLS certificate on SIGHUP, and drains on SIGTERM/SIGINT.
 * No logic lives here.
 */
import { BitcoindTemplateSource } from "@tbg/shared/bitcoind";
import {
  drainOnSignals,
  MINER_DRAIN_TIMEOUT_MS,
  reloadOnSighup,
  startEngineService,
  startRuntimeOrExit,
} from "@tbg/shared/service";
import { startPoolRuntime } from "./pool_runtime.ts";

const service = await startEngineService(
  "stratum",
  Deno.args,
  { networkFailureMessage: "cannot learn the network from bitcoind" },
);
const { config, network, log, pool, instanceIndex, nofileLimit } = service;

const source = new BitcoindTemplateSource(config, { pool });
const runtime = await startRuntimeOrExit("stratum", service, () =>
  startPoolRuntime({
    config,
    network,
    source,
    log,
    instance: `stratum-${config.region}-${instanceIndex}`,
    instanceIndex,
    nofileLimit,
    nodePool: pool,
    bitcoindConnected: () => pool.connected,
    bitcoindDetail: () => pool.eligibilityDetail(),
  }));

reloadOnSighup({ log, reload: () => runtime.reloadTls() });

drainOnSignals({
  log,
  drain: async () => {
    await runtime.drainAndStop(MINER_DRAIN_TIMEOUT_MS);
    await pool.stop();
  },
});
