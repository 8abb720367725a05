/**
 * The pool runtime started inside the test process, against a devnet node: the same code path
 * as `stratum/main.ts` minus process start-up, for fast protocol tests.
 */
import { BitcoindPool, BitcoindTemplateSource } from "@tbg/shared/bitcoind";
import { validateConfig } from "@tbg/shared/config";
import { getLogger } from "@tbg/shared/log";
import type { EventSink } from "@tbg/shared/engine";
import { type PoolRuntime, startPoolRuntime } from "@tbg/stratum";
import type { Devnet } from "./devnet/mod.ts";

/** A pool running in this process. */
export interface InProcessPool {
  readonly runtime: PoolRuntime;
  readonly port: number;
  /** The template source (long polls, templates delivered). */
  readonly source: BitcoindTemplateSource;
  /** The node pool (eligibility, statuses). */
  readonly pool: BitcoindPool;
  stop(): Promise<void>;
}

/**
 * Starts a pool on a free loopback port against a node on loopback (the devnet, or a real node
 * such as bcoin); `overrides` are merged over a regtest config. Events go
 * to `events` when given (a recording sink), nowhere otherwise; `poolOptions` tune the node pool
 * (e.g. a faster health check).
 */
export async function startInProcessPool(
  devnet: Pick<Devnet, "rpcPort" | "user" | "password">,
  overrides: Record<string, unknown> = {},
  events: EventSink | null = null,
  poolOptions: { readonly healthCheckIntervalMs?: number } = {},
): Promise<InProcessPool> {
  // Found blocks go to a directory of this pool's own, not the working directory's ./.tbg/blocks.
  const blocksDir = await Deno.makeTempDir({ prefix: "tbg-in-process-blocks-" });
  const config = validateConfig("stratum", {
    network: "regtest",
    blocks_dir: blocksDir,
    btcd: [{ url: `127.0.0.1:${devnet.rpcPort}`, auth: devnet.user, pass: devnet.password }],
    serverurl: ["127.0.0.1:0"],
    mindiff: 0.000001,
    startdiff: 0.00001,
    metrics: { enabled: true, host: "127.0.0.1", port: 0, path: "/metrics" },
    ...overrides,
  }, "in-process");
  const log = getLogger(["test-pool"]);
  const pool = new BitcoindPool({
    nodes: config.btcd,
    blockpollMs: config.blockpoll,
    logger: log,
    ...poolOptions,
  });
  await pool.start();
  const source = new BitcoindTemplateSource(config, { pool, logger: log });
  const runtime = await startPoolRuntime({
    config,
    network: "regtest",
    source,
    log,
    events,
    instance: "test",
    nodePool: pool,
    bitcoindConnected: () => pool.connected,
    bitcoindDetail: () => pool.eligibilityDetail(),
  });
  return {
    runtime,
    source,
    pool,
    port: runtime.server.addresses[0]!.port,
    async stop() {
      await runtime.drainAndStop(2_000);
      await pool.stop();
      await Deno.remove(blocksDir, { recursive: true });
    },
  };
}
