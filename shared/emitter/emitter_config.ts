/**
 * Builds the emitter's settings from a validated stratum or relay config.
 *
 * @module
 */
import {
  ConfigError,
  eventsSpoolDir,
  eventsSubjectPrefix,
  type RelayConfig,
  type StratumConfig,
} from "../config/mod.ts";
import type { StructuredLogger } from "../log/mod.ts";
import type { EmitterMetrics } from "./emitter_metrics.ts";
import type { EventEmitterOptions } from "./event_emitter.ts";
import { natsConnector } from "./nats_link.ts";
import type { SpoolLockedError } from "./spool_lock.ts";

/** Longest wait for one NATS connection attempt. */
export const EMITTER_CONNECT_TIMEOUT_MS = 2_000;

/**
 * The spool directory: `events.spool_dir`, else `<logdir>/spool`, else `./.tbg/spool`.
 *
 * @param spoolDir `events.spool_dir`.
 * @param logdir `logdir`.
 */
export function resolveSpoolDir(spoolDir: string | undefined, logdir: string | undefined): string {
  return eventsSpoolDir(spoolDir, logdir);
}

/** What {@linkcode emitterOptionsFromConfig} needs besides the config. */
export interface EmitterDeps {
  /** Instance id, e.g. `stratum-eu-0`; the envelope's `source` and the NATS connection name. */
  readonly source: string;
  /** Metric cells (a `PoolMetrics`). */
  readonly metrics: EmitterMetrics;
  /** Logger for the emitter. */
  readonly log: StructuredLogger;
}

/**
 * Emitter settings from the `events` section (servers from `nats_url`, subjects from
 * `nats_subject` or the region, `include`, `buffer_size`, the resolved spool directory).
 */
export function emitterOptionsFromConfig(
  config: StratumConfig | RelayConfig,
  deps: EmitterDeps,
): EventEmitterOptions {
  const servers = config.events.nats_url.split(",").map((entry) => entry.trim())
    .filter((entry) => entry.length > 0);
  return {
    region: config.region,
    source: deps.source,
    include: config.events.include,
    subjectPrefix: eventsSubjectPrefix(config),
    bufferSize: config.events.buffer_size,
    spoolDir: resolveSpoolDir(config.events.spool_dir, config.logdir),
    connector: natsConnector({
      servers,
      name: deps.source,
      connectTimeoutMs: EMITTER_CONNECT_TIMEOUT_MS,
    }),
    metrics: deps.metrics,
    log: deps.log,
  };
}

/** The config keys the spool directory is resolved from. */
export interface SpoolDirConfig {
  /** `events.spool_dir`. */
  readonly events: { readonly spool_dir?: string | undefined };
  /** `logdir`. */
  readonly logdir?: string | undefined;
}

/**
 * The configuration error a service reports when its spool is locked by another process: the
 * fix is always a directory of its own in `events.spool_dir`, which overrides the default under
 * `logdir` that several processes sharing one config would otherwise share.
 *
 * @param error what opening the spool threw
 * @param config the `events.spool_dir` and `logdir` the spool directory was resolved from
 * @param configPath the `--config` file
 * @returns a {@linkcode ConfigError} on `events.spool_dir` naming the directory and the holder
 */
export function spoolLockedConfigError(
  error: SpoolLockedError,
  config: SpoolDirConfig,
  configPath: string,
): ConfigError {
  const holder = error.holderPid === null ? "another process" : `process ${error.holderPid}`;
  const where = config.events.spool_dir !== undefined
    ? error.dir
    : config.logdir !== undefined
    ? `not set, so events spool to ${error.dir} (under logdir), which`
    : `not set and no logdir, so events spool to ${error.dir}, which`;
  const message = `${where} is in use by ${holder} (it holds ${error.lockPath}); ` +
    "give each process its own events.spool_dir";
  return new ConfigError(configPath, [{ path: "events.spool_dir", message }], { cause: error });
}
