import {
  type ConfigByKind,
  ConfigError,
  loadConfig,
  parseInstanceArg,
  type RelayConfig,
  type ServiceKind,
  type StratumConfig,
  withInstancePorts,
} from "../config/mod.ts";
import { connectionCapForOpenFiles, parseNofileLimitArg } from "../engine/open_file_cap.ts";
import { sandboxProcessEnv } from "./env_sandbox.ts";
import { writeStderrLine } from "./_stderr.ts";
import {
  missingPermissions,
  type PermissionQuery,
  requiredPermissions,
} from "../permissions/mod.ts";

/** Exit code for usage, configuration and permission errors at start. */
export const STARTUP_EXIT_CODE = 2;

/** Command-line arguments a service understands. */
export interface ServiceArgs {
  /** The `--config` file. */
  configPath: string;
  /** Arguments other than `--config <file>`, in order, for the service to interpret. */
  rest: string[];
}

/** Thrown by {@link parseServiceArgs} when `--config` is missing or empty. */
export class UsageError extends Error {
  /** Same exit code as configuration errors. */
  readonly exitCode = STARTUP_EXIT_CODE;

  /** @param message what is wrong with the command line */
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/**
 * Extracts `--config <file>` (or `--config=<file>`) from a service's arguments.
 *
 * @throws {UsageError} when `--config` is absent, has no value, or is given twice
 */
export function parseServiceArgs(kind: ServiceKind, args: readonly string[]): ServiceArgs {
  const usage = `usage: deno task start:${kind} --config <file>`;
  let configPath: string | undefined;
  const rest: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] ?? "";
    let value: string | undefined;
    if (arg === "--config") {
      value = args[i + 1];
      i++;
      if (value === undefined || value === "" || value.startsWith("--")) {
        throw new UsageError(`--config needs a file path (${usage})`);
      }
    } else if (arg.startsWith("--config=")) {
      value = arg.slice("--config=".length);
      if (value === "") throw new UsageError(`--config needs a file path (${usage})`);
    } else {
      rest.push(arg);
      continue;
    }
    if (configPath !== undefined) throw new UsageError(`--config given twice (${usage})`);
    configPath = value;
  }
  if (configPath === undefined) throw new UsageError(`missing --config <file> (${usage})`);
  return { configPath, rest };
}

/** What {@link bootstrap} needs besides the arguments. */
export interface BootstrapOptions {
  /** Environment variables the service reads (checked like every other permission). */
  env: readonly string[];
  /** sys permission kinds the service needs. */
  sys: readonly string[];
  /** Ends the process; tests pass one that throws. Default `Deno.exit`. */
  exit?: (code: number) => never;
  /** Writes one line to stderr. Default writes to `Deno.stderr`. */
  writeError?: (line: string) => void;
  /** Permission query; default `Deno.permissions.querySync`. */
  query?: PermissionQuery;
}

/**
 * The first thing a service's main.ts calls: parses `--config`, loads and validates the
 * config, and checks the process holds every permission that config needs — all before any
 * socket opens. Any failure prints one line, `tbg-<kind>: <message>`, and exits with code 2;
 * a missing permission names the exact flag, e.g.
 * `tbg-stratum: missing permission --allow-net=127.0.0.1:8332 (run through "deno task start:stratum" or add the flag)`.
 *
 * @param kind the service
 * @param args the process arguments (`Deno.args`)
 * @param opts env and sys lists, injectable exit, stderr and permission query
 * @returns the validated config
 */
export function bootstrap<K extends ServiceKind>(
  kind: K,
  args: readonly string[],
  opts: BootstrapOptions,
): ConfigByKind[K] {
  const exit = opts.exit ?? ((code: number): never => Deno.exit(code));
  const writeError = opts.writeError ?? writeStderrLine;
  const query: PermissionQuery = opts.query ?? ((d) => Deno.permissions.querySync(d));
  const fail = (message: string): never => {
    writeError(`tbg-${kind}: ${message}`);
    return exit(STARTUP_EXIT_CODE);
  };
  const failMissing = (flags: string[]): never => {
    const plural = flags.length > 1;
    return fail(
      `missing permission${plural ? "s" : ""} ${
        flags.join(" ")
      } (run through "deno task start:${kind}" or add the flag${plural ? "s" : ""})`,
    );
  };

  let configPath: string;
  let instance = 0;
  let nofileLimit: number | null = null;
  try {
    const parsed = parseServiceArgs(kind, args);
    configPath = parsed.configPath;
    if (kind !== "collector") {
      instance = parseInstanceArg(parsed.rest);
      nofileLimit = parseNofileLimitArg(parsed.rest);
    }
  } catch (error: unknown) {
    if (error instanceof UsageError || error instanceof RangeError) return fail(error.message);
    throw error;
  }
  // Checked first so a missing grant reads as a permission problem, not an unreadable file.
  if (query({ name: "read", path: configPath }).state !== "granted") {
    return failMissing([`--allow-read=${configPath}`]);
  }
  let config: ConfigByKind[K];
  try {
    const loaded = loadConfig(kind, configPath);
    // A process sharing its Stratum port (`--instance N`) serves HTTP on ports shifted by N.
    config = (kind === "collector"
      ? loaded
      : withInstancePorts(loaded as StratumConfig | RelayConfig, instance)) as ConfigByKind[K];
  } catch (error: unknown) {
    if (error instanceof ConfigError) return fail(error.message);
    throw error;
  }
  if (kind !== "collector") {
    const engineConfig = config as StratumConfig | RelayConfig;
    try {
      connectionCapForOpenFiles({
        maxclients: engineConfig.maxclients,
        nofileLimit,
        reserve: engineConfig.open_files_reserve,
        tls: engineConfig.serverurl_tls.length > 0,
      });
    } catch (error: unknown) {
      if (error instanceof RangeError) {
        return fail(
          new ConfigError(configPath, [{ path: "open_files_reserve", message: error.message }])
            .message,
        );
      }
      throw error;
    }
  }
  const missing = missingPermissions(
    requiredPermissions(kind, config, { configPath, env: opts.env, sys: opts.sys }),
    query,
  );
  if (missing.length > 0) return failMissing(missing);
  if (opts.query === undefined) sandboxProcessEnv(opts.env);
  return config;
}
