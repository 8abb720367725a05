/**
 * Builds the emitter's settings from a validated stratum or relay config.
 *
 * @module
 */
import {
  eventsSpoolDir,
  eventsSubjectPrefix,
  type RelayConfig,
  type StratumConfig,
} from "../config/mod.ts";
import type { StructuredLogger } from "../log/mod.ts";
import type { EmitterMetrics } from "./emitter_metrics.ts";
import type { EventEmitterOptions } from "./event_emitter.ts";
import { natsConnector } from "./nats_link.ts";
export { type SpoolDirConfig, spoolLockedConfigError } from "./spool_locked_config_error.ts";

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
