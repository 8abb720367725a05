import type { Network } from "../bitcoin/mod.ts";
import { BitcoindPool } from "../bitcoind/mod.ts";
import {
  assertConfigAddressesOnNetwork,
  chainToNetwork,
  type ConfigByKind,
  ConfigError,
  type EngineConfig,
  parseInstanceArg,
  type ServiceKind,
} from "../config/mod.ts";
import { SpoolLockedError } from "../emitter/spool_lock.ts";
import {
  type SpoolDirConfig,
  spoolLockedConfigError,
} from "../emitter/spool_locked_config_error.ts";
import { parseNofileLimitArg } from "../engine/open_file_cap.ts";
import { TlsCertificateError } from "../engine/tls_terminator.ts";
import {
  configureLogging,
  getLogger,
  logFileStream,
  shutdownLogging,
  type StructuredLogger,
} from "../log/mod.ts";
import { bootstrap, parseServiceArgs } from "./bootstrap.ts";
import { SERVICE_RUNTIME_NEEDS } from "./runtime_needs.ts";
import { writeStderrLine } from "./_stderr.ts";

/** The services that mine against bitcoind (a `btcd[]` pool and a network). */
export type EngineServiceKind = Exclude<ServiceKind, "collector">;

/** A service whose config is validated and whose logging is set up. */
export interface StartedService<K extends ServiceKind> {
  /** The validated config. */
  readonly config: ConfigByKind[K];
  /** The `--config` file, for error messages. */
  readonly configPath: string;
  /** Index among processes sharing the Stratum port (`--instance N`); 0 for the collector. */
  readonly instanceIndex: number;
  /** RLIMIT_NOFILE soft limit from `--nofile-limit` (tools/launch.ts passes it); null: unknown. */
  readonly nofileLimit: number | null;
  /** The logger of category `[kind]`. */
  readonly log: StructuredLogger;
}

/**
 * The start of every service's main.ts: {@link bootstrap} (which exits 2 on a usage, config or
 * permission error), then JSON Lines logging at `info` as service `kind`, to
 * `<logdir>/<kind>.log` when the config names a `logdir`, else to stderr.
 *
 * @param kind the service
 * @param args the process arguments (`Deno.args`)
 * @returns the config, its path, the instance index and the service's logger
 */
export async function startService<K extends ServiceKind>(
  kind: K,
  args: readonly string[],
): Promise<StartedService<K>> {
  const config = bootstrap(kind, args, SERVICE_RUNTIME_NEEDS[kind]);
  const { configPath, rest } = parseServiceArgs(kind, args);
  // bootstrap() already validated --instance; the collector takes none.
  const instanceIndex = kind === "collector" ? 0 : parseInstanceArg(rest);
  const nofileLimit = kind === "collector" ? null : parseNofileLimitArg(rest);
  // Left open for the life of the process: the logging sink writes to it until exit.
  const logPath = `${config.logdir}/${kind}.log`;
  const logFile = config.logdir === undefined
    ? null
    : await Deno.open(logPath, { create: true, append: true, write: true });
  await configureLogging({
    service: kind,
    level: "info",
    // Not the file's own `writable`, which holds lines until it is closed (so the file stayed
    // empty) and refuses every line after one failed write (a full disk): this one writes each
    // line at once, drops and counts a line it cannot write, and goes on.
    ...(logFile ? { sink: logFileStream(logFile, { path: logPath, service: kind }) } : {}),
  });
  return { config, configPath, instanceIndex, nofileLimit, log: getLogger([kind]) };
}

/** A stratum or relay service after start-up: bitcoind pool running, network known. */
export interface StartedEngineService<K extends EngineServiceKind> extends StartedService<K> {
  /** The started `btcd[]` pool; the service stops it when it drains. */
  readonly pool: BitcoindPool;
  /** `network` from the config, else learned from bitcoind. */
  readonly network: Network;
}

/** What {@link startEngineService} needs besides the arguments. */
export interface EngineServiceOptions {
  /** Fatal log message when bitcoind cannot tell its chain (the process then exits 1). */
  readonly networkFailureMessage: string;
}

/**
 * {@link startService}, then starts the `btcd[]` pool and settles the network with
 * {@link learnNetwork}, exiting as it describes when that fails.
 *
 * @param kind `stratum` or `relay`
 * @param args the process arguments (`Deno.args`)
 * @param opts the service's message for an unreachable bitcoind
 * @returns the started service with its pool and network
 */
export async function startEngineService<K extends EngineServiceKind>(
  kind: K,
  args: readonly string[],
  opts: EngineServiceOptions,
): Promise<StartedEngineService<K>> {
  const started = await startService(kind, args);
  const { config, configPath, log } = started;
  const pool = new BitcoindPool({
    nodes: config.btcd,
    blockpollMs: config.blockpoll,
    logger: log.getChild("bitcoind"),
  });
  await pool.start();
  const network = await learnNetwork(kind, config, configPath, pool, {
    log,
    failureMessage: opts.networkFailureMessage,
  });
  return { ...started, pool, network };
}

/** The part of a bitcoind pool {@link learnNetwork} uses. */
export interface ChainSource {
  /** bitcoind's `getblockchaininfo.chain`, e.g. `"regtest"`. */
  chain(): Promise<string>;
  /** Stops the pool (called before exiting on failure). */
  stop(): Promise<void>;
}

/** What {@link learnNetwork} needs besides the config and the pool. */
export interface LearnNetworkOptions {
  /** Where the fatal line goes when bitcoind cannot tell its chain. */
  readonly log: StructuredLogger;
  /** That fatal line's message. */
  readonly failureMessage: string;
  /** Ends the process; tests pass one that throws. Default `Deno.exit`. */
  readonly exit?: (code: number) => never;
  /** Writes one line to stderr. Default writes to `Deno.stderr`. */
  readonly writeError?: (line: string) => void;
  /** Flushes and closes logging before exit 1. Default `shutdownLogging`. */
  readonly shutdown?: () => Promise<void>;
}

/**
 * Settles the network: the config's `network`, else bitcoind's chain, and checks the config's
 * addresses belong to it. On failure it stops `pool` and ends the process: a {@link ConfigError}
 * (address of another network) prints `tbg-<kind>: <message>` and exits with its code (2); any
 * other error (bitcoind unreachable, unknown chain) logs `failureMessage` at fatal and exits 1.
 *
 * @param kind the service, for the stderr prefix
 * @param config the address-bearing part of the config
 * @param configPath the `--config` file, for error messages
 * @param pool the started bitcoind pool
 * @param opts logger, message, and injectable exit, stderr and logging shutdown
 * @returns the network
 */
export async function learnNetwork(
  kind: EngineServiceKind,
  config: Pick<EngineConfig, "network" | "btcaddress">,
  configPath: string,
  pool: ChainSource,
  opts: LearnNetworkOptions,
): Promise<Network> {
  const exit = opts.exit ?? ((code: number): never => Deno.exit(code));
  try {
    const network = config.network ?? chainToNetwork(await pool.chain());
    assertConfigAddressesOnNetwork(config, network, configPath);
    return network;
  } catch (error: unknown) {
    await pool.stop();
    if (error instanceof ConfigError) {
      (opts.writeError ?? writeStderrLine)(`tbg-${kind}: ${error.message}`);
      return exit(error.exitCode);
    }
    opts.log.fatal(opts.failureMessage, { error: String(error) });
    await (opts.shutdown ?? shutdownLogging)();
    return exit(1);
  }
}

/** Injectable side effects of {@link startRuntimeOrExit}. */
export interface StartRuntimeOptions {
  /** Ends the process; tests pass one that throws. Default `Deno.exit`. */
  readonly exit?: (code: number) => never;
  /** Writes one line to stderr. Default writes to `Deno.stderr`. */
  readonly writeError?: (line: string) => void;
  /** Flushes and closes logging before the exit. Default `shutdownLogging`. */
  readonly shutdown?: () => Promise<void>;
}

/**
 * Runs a stratum or relay runtime's start-up (`startPoolRuntime`, `startRelayRuntime`), which
 * opens the event spool before any listener. When that fails on the configuration — a
 * {@link ConfigError}, the spool directory locked by another process (reported as one on
 * `events.spool_dir`), or a TLS certificate or key that cannot be used (reported on
 * `tls.cert_file` or `tls.key_file`) — it stops the bitcoind pool, prints `tbg-<kind>: <message>` and exits 2,
 * as {@link bootstrap} does; the runtime has closed what it opened. Other errors propagate.
 *
 * @param kind the service, for the stderr prefix
 * @param service the started service (config, `--config` path, bitcoind pool)
 * @param start the runtime's start-up
 * @param opts injectable exit, stderr and logging shutdown
 * @returns what `start` resolves to
 */
export async function startRuntimeOrExit<K extends EngineServiceKind, R>(
  kind: K,
  service: {
    readonly config: SpoolDirConfig;
    readonly configPath: string;
    readonly pool: Pick<ChainSource, "stop">;
  },
  start: () => Promise<R>,
  opts: StartRuntimeOptions = {},
): Promise<R> {
  try {
    return await start();
  } catch (error: unknown) {
    const configError = error instanceof SpoolLockedError
      ? spoolLockedConfigError(error, service.config, service.configPath)
      : error instanceof TlsCertificateError
      ? new ConfigError(service.configPath, [{ path: error.key, message: error.message }], {
        cause: error,
      })
      : error;
    if (!(configError instanceof ConfigError)) throw error;
    await service.pool.stop();
    // Before the stderr line, so that line stays the last thing the process prints.
    await (opts.shutdown ?? shutdownLogging)();
    (opts.writeError ?? writeStderrLine)(`tbg-${kind}: ${configError.message}`);
    return (opts.exit ?? ((code: number): never => Deno.exit(code)))(configError.exitCode);
  }
}
