/**
 * The configuration error for a spool directory another process holds, apart from the emitter
 * so a service's start-up can report it without loading the NATS client.
 *
 * @module
 */
import { ConfigError } from "../config/mod.ts";
import type { SpoolLockedError } from "./spool_lock.ts";

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
