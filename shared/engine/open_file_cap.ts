/**
 * The connection cap a process's open-file limit allows, like ckpool's `maxclients` fitted under
 * `ulimit -n`: a process that accepted miners until accept() failed with EMFILE would then fail
 * every other open too (bitcoind RPC, NATS reconnects, spool segments, the /health listener's
 * connections). The cap keeps `reserve` descriptors for those and counts what one miner holds: its
 * socket, plus both ends of the loopback pair its TLS termination relays through.
 *
 * Deno has no getrlimit and reads /proc/self/limits only with --allow-all, so the limit is an
 * argument: tools/launch.ts reads `ulimit -Sn` (the soft limit the service inherits) and passes
 * `--nofile-limit <n>`; a compiled service is given it in its unit (e.g. systemd LimitNOFILE).
 *
 * @module
 */

/** Descriptors one plain miner connection holds. */
export const FDS_PER_PLAIN_CONNECTION = 1;
/** Descriptors one TLS miner connection holds: its socket and both ends of the loopback pair. */
export const FDS_PER_TLS_CONNECTION = 3;

/** What the cap is computed from. */
export interface OpenFileCapInput {
  /** The configured `maxclients`. */
  readonly maxclients: number;
  /** RLIMIT_NOFILE soft limit; null when unknown (the cap is then `maxclients`). */
  readonly nofileLimit: number | null;
  /** `open_files_reserve`: descriptors kept for everything but miners. */
  readonly reserve: number;
  /** Whether any TLS listener is configured (every connection is then counted as TLS). */
  readonly tls: boolean;
}

/**
 * The most concurrent miner connections: `maxclients`, lowered to what fits in the open-file
 * limit after the reserve.
 *
 * @throws {RangeError} when the limit leaves no room for a single connection after the reserve
 *   (the message names `open_files_reserve` and the limit).
 */
export function connectionCapForOpenFiles(input: OpenFileCapInput): number {
  if (input.nofileLimit === null) return input.maxclients;
  const perConnection = input.tls ? FDS_PER_TLS_CONNECTION : FDS_PER_PLAIN_CONNECTION;
  const fit = Math.floor((input.nofileLimit - input.reserve) / perConnection);
  if (fit < 1) {
    throw new RangeError(
      `open_files_reserve ${input.reserve} leaves no descriptor for miners under the open-file ` +
        `limit ${input.nofileLimit} (ulimit -n): raise the limit or lower open_files_reserve`,
    );
  }
  return Math.min(input.maxclients, fit);
}

/**
 * The `--nofile-limit <n>` service argument: the RLIMIT_NOFILE soft limit, or null when absent
 * or "unlimited" (no cap from it).
 *
 * @throws {RangeError} when the value is not a positive integer or "unlimited".
 */
export function parseNofileLimitArg(args: readonly string[]): number | null {
  const i = args.indexOf("--nofile-limit");
  if (i === -1) return null;
  const text = args[i + 1];
  if (text === "unlimited") return null;
  const value = Number(text);
  if (text === undefined || !Number.isSafeInteger(value) || value < 1) {
    throw new RangeError(
      `--nofile-limit expects a positive integer or "unlimited", got ${text ?? "nothing"}`,
    );
  }
  return value;
}
