/**
 * Runs the real relay service as a child process through the launcher (`deno task start:relay`
 * does the same), against a devnet node as its local bitcoind and a NATS server as its link to
 * the primary. Tests read its JSON log lines and its metrics.
 *
 * @module
 */
import { JsonLogCollector } from "./json_log_collector.ts";
import { type DevnetEndpoint, launcherCommand, type PoolProcess } from "./pool_process.ts";
import { pickFreePort } from "./servers/nats_server.ts";

/** Where the relay reaches the primary and publishes events. */
export interface RelayLinks {
  /** NATS URL of the primary link (`primary.host:port`), e.g. `nats://127.0.0.1:4222`. */
  readonly primaryNatsUrl: string;
  /** NATS URL events go to; null turns events off. */
  readonly eventsNatsUrl: string | null;
}

/** A running relay process (same handle as a pool process). */
export type RelayProcess = PoolProcess;

/**
 * Writes a relay config (local node `devnet`, links, plus overrides) and starts the relay.
 *
 * @param devnet the relay's local bitcoind
 * @param links NATS URLs of the primary link and of events
 * @param overrides config keys replacing the defaults here
 */
export async function startRelayProcess(
  devnet: DevnetEndpoint,
  links: RelayLinks,
  overrides: Record<string, unknown> = {},
): Promise<RelayProcess> {
  const stratumPort = pickFreePort();
  const metricsPort = pickFreePort();
  const dir = await Deno.makeTempDir({ prefix: "tbg-relay-" });
  const configPath = `${dir}/relay.json`;
  const primary = new URL(links.primaryNatsUrl.replace(/^nats:/, "http:"));
  const config = {
    mode: "passthrough",
    region: "us-east",
    region_index: 1,
    primary: {
      host: primary.hostname,
      port: Number(primary.port),
      auth_token: "test-relay-token",
      reconnect_interval: 0.2,
    },
    independent_after_ms: 3_000,
    network: "regtest",
    btcd: [{
      url: `127.0.0.1:${devnet.rpcPort}`,
      auth: devnet.user,
      pass: devnet.password,
      notify: true,
    }],
    btcsig: "/TheBitcoinGame-relay-test/",
    blockpoll: 100,
    serverurl: [`127.0.0.1:${stratumPort}`],
    mindiff: 0.000001,
    startdiff: 0.00001,
    zmqblock: devnet.zmqUrl,
    metrics: { enabled: true, host: "127.0.0.1", port: metricsPort, path: "/metrics" },
    blocks_dir: `${dir}/blocks`,
    events: links.eventsNatsUrl === null
      ? { enabled: false }
      : { enabled: true, nats_url: links.eventsNatsUrl, spool_dir: `${dir}/spool` },
    ...overrides,
  };
  await Deno.writeTextFile(configPath, JSON.stringify(config, null, 2));
  const child = launcherCommand(configPath, [], "relay").spawn();
  const collector = new JsonLogCollector([child.stdout, child.stderr]);
  const exited = child.status.then(async (s) => {
    await collector.done;
    await Deno.remove(dir, { recursive: true }).catch(() => {});
    return s.code;
  });
  const waitForLog = (predicate: (l: Record<string, unknown>) => boolean, timeoutMs = 20_000) =>
    collector.waitFor(predicate, timeoutMs, "relay");
  try {
    await waitForLog((l) => l.msg === "pool ready", 30_000);
  } catch (error) {
    // SIGTERM: the launcher forwards it to the service (SIGKILL would orphan the service).
    try {
      child.kill("SIGTERM");
    } catch {
      // Already exited.
    }
    await exited;
    const tail = collector.logs.slice(-15).map((l) => JSON.stringify(l)).join("\n");
    throw new Error(`${(error as Error).message}; relay's last log lines:\n${tail}`, {
      cause: error,
    });
  }
  return {
    stratumPort,
    metricsPort,
    configPath,
    logs: collector.logs,
    waitForLog,
    exited,
    pid: child.pid,
    signal(signal: Deno.Signal) {
      child.kill(signal);
    },
    async stop() {
      try {
        child.kill("SIGTERM");
      } catch {
        // Already exited.
      }
      return await exited;
    },
  };
}
