/**
 * Starts, compiles or describes a service with exactly the Deno permissions its config needs.
 *
 *   deno run --allow-read --allow-run --allow-env=INIT_CWD tools/launch.ts \
 *     run <stratum|relay|collector> --config <file> [--] [service args]
 *   … compile <kind> --config <file> [--output dist/tbg-<kind>]
 *   … flags <kind> --config <file>
 *
 * `run` validates the config (same loader, same one-line errors, exit 2), derives the
 * `--allow-*` flags from it, and runs `deno run --no-prompt <flags> <kind>/main.ts --config
 * <file>` with inherited stdio, forwarding SIGINT, SIGTERM and SIGHUP (TLS certificate reload)
 * and exiting with the child's code. The launcher needs read and run; the service gets only its own narrow grants.
 *
 * `compile` runs `deno compile <flags> --output <file> <kind>/main.ts`; the flags are baked
 * into the executable, so run it with the same `--config` path. `deno compile` downloads a
 * runtime base (denort) unless `DENORT_BIN` names a local one; the environment passes through
 * unchanged, so `DENORT_BIN=/path/to/denort deno task compile:stratum --config …` works offline.
 *
 * `run` also passes the service `--nofile-limit <n>`, the open-file soft limit (`ulimit -Sn`)
 * it inherits, so its connection cap stays `open_files_reserve` under it; give a compiled service
 * the same argument (its unit's LimitNOFILE).
 *
 * `flags` prints the flags on one line, e.g. for a systemd unit's ExecStart.
 *
 * `--entry <file>` (run, compile) uses another entry point with the service's grants instead
 * of `<kind>/main.ts`; the tests run tests/support/config_probe.ts this way, proving the
 * derived flags satisfy the service's own start-up check.
 *
 * Relative paths: `--config` is resolved against the directory `deno task` was started from
 * (INIT_CWD) or else the working directory; paths inside the config (logdir, spool_dir) are
 * resolved against the working directory, which the service inherits.
 *
 * @module
 */
import { fileURLToPath } from "node:url";
import {
  ConfigError,
  isServiceKind,
  loadConfig,
  parseInstanceArg,
  type RelayConfig,
  type ServiceKind,
  type StratumConfig,
  withInstancePorts,
} from "@tbg/shared/config";
import { permissionFlags, requiredPermissions } from "@tbg/shared/permissions";
import { SERVICE_RUNTIME_NEEDS } from "@tbg/shared/service";

const USAGE = [
  "usage: launch.ts run <stratum|relay|collector> --config <file> [--entry <file>] [--] [args]",
  "       launch.ts compile <stratum|relay|collector> --config <file> [--output <file>] [--entry <file>]",
  "       launch.ts flags <stratum|relay|collector> --config <file>",
].join("\n");

/** V8 flags of the stratum and relay services (see {@linkcode serviceFlags}). */
export const SERVICE_V8_FLAGS = "--v8-flags=--expose-gc";

/** Exit code for usage and configuration errors. */
const EXIT_USAGE = 2;

/** A parsed launcher command line. */
interface LaunchArgs {
  command: "run" | "compile" | "flags";
  kind: ServiceKind;
  configPath: string;
  output: string | undefined;
  entry: string | undefined;
  extra: string[];
}

class LaunchUsageError extends Error {
  override name = "LaunchUsageError";
}

function parseLaunchArgs(args: readonly string[]): LaunchArgs {
  const [command, kind, ...rest] = args;
  if (command !== "run" && command !== "compile" && command !== "flags") {
    throw new LaunchUsageError(
      command === undefined ? "missing command" : `unknown command "${command}"`,
    );
  }
  if (kind === undefined || !isServiceKind(kind)) {
    throw new LaunchUsageError(
      kind === undefined ? "missing service kind" : `unknown service "${kind}"`,
    );
  }
  let configPath: string | undefined;
  let output: string | undefined;
  let entry: string | undefined;
  const extra: string[] = [];
  for (let i = 0; i < rest.length; i++) {
    const arg = rest[i] ?? "";
    if (arg === "--") {
      extra.push(...rest.slice(i + 1));
      break;
    }
    const [name, inline] = arg.startsWith("--") && arg.includes("=")
      ? [arg.slice(0, arg.indexOf("=")), arg.slice(arg.indexOf("=") + 1)]
      : [arg, undefined];
    if (
      name === "--config" || (name === "--output" && command === "compile") ||
      (name === "--entry" && command !== "flags")
    ) {
      const value = inline ?? rest[++i];
      if (value === undefined || value === "") throw new LaunchUsageError(`${name} needs a value`);
      if (name === "--config") configPath = value;
      else if (name === "--output") output = value;
      else entry = value;
    } else {
      extra.push(arg);
    }
  }
  if (configPath === undefined) throw new LaunchUsageError("missing --config <file>");
  return { command, kind, configPath, output, entry, extra };
}

function absolute(path: string, base: string): string {
  return path.startsWith("/") ? path : `${base.replace(/\/$/, "")}/${path}`;
}

function invocationDir(): string {
  const granted = Deno.permissions.querySync({ name: "env", variable: "INIT_CWD" }).state ===
    "granted";
  return (granted ? Deno.env.get("INIT_CWD") : undefined) ?? Deno.cwd();
}

function writeLine(stream: typeof Deno.stdout | typeof Deno.stderr, line: string): void {
  stream.writeSync(new TextEncoder().encode(`${line}\n`));
}

/** The flags a service needs for a config file; exported for the launcher's tests. */
export function serviceFlags(
  kind: ServiceKind,
  configPath: string,
  serviceArgs: readonly string[] = [],
): string[] {
  const loaded = loadConfig(kind, configPath);
  // `--instance N` shifts the HTTP ports of a process that shares its Stratum port (reuse_port).
  const config = kind === "collector"
    ? loaded
    : withInstancePorts(loaded as StratumConfig | RelayConfig, parseInstanceArg(serviceArgs));
  const needs = SERVICE_RUNTIME_NEEDS[kind];
  const flags = permissionFlags(
    requiredPermissions(kind, config, {
      configPath,
      env: needs.env,
      sys: needs.sys,
      cwd: Deno.cwd(),
    }),
  );
  // SO_REUSEPORT listeners are behind Deno's unstable-net feature flag (not a permission).
  if ("reuse_port" in config && config.reuse_port) flags.push("--unstable-net");
  // The pool runtime runs one full collection before its first miner (start-up garbage, about
  // 7 MB of a fresh process's RSS: BENCHMARKS.md, issue 11); V8 exposes `gc` only with this flag.
  if (kind !== "collector") flags.push(SERVICE_V8_FLAGS);
  return flags;
}

/**
 * The RLIMIT_NOFILE soft limit the service will inherit (`ulimit -Sn` of a shell started the same
 * way), as the `--nofile-limit` argument value; null when it cannot be read. The service cannot
 * read it itself: Deno has no getrlimit and opens /proc/self/limits only with --allow-all.
 */
export async function softNofileLimit(): Promise<string | null> {
  // A launcher allowed to run deno only (the systemd units) gets no prompt: the unit passes it.
  if (Deno.permissions.querySync({ name: "run", command: "sh" }).state !== "granted") return null;
  try {
    const out = await new Deno.Command("sh", {
      args: ["-c", "ulimit -Sn"],
      stdout: "piped",
      stderr: "null",
    }).output();
    const text = new TextDecoder().decode(out.stdout).trim();
    return out.success && /^(\d+|unlimited)$/.test(text) ? text : null;
  } catch {
    return null;
  }
}

async function runChild(command: Deno.Command): Promise<number> {
  const child = command.spawn();
  const forwarded: [Deno.Signal, () => void][] = (["SIGINT", "SIGTERM", "SIGHUP"] as const).map(
    (signal) => {
      const handler = (): void => {
        try {
          child.kill(signal);
        } catch {
          // The child already exited; its status is about to resolve.
        }
      };
      Deno.addSignalListener(signal, handler);
      return [signal, handler];
    },
  );
  const status = await child.status;
  for (const [signal, handler] of forwarded) Deno.removeSignalListener(signal, handler);
  return status.code;
}

async function main(args: readonly string[]): Promise<number> {
  let parsed: LaunchArgs;
  try {
    parsed = parseLaunchArgs(args);
  } catch (error: unknown) {
    if (!(error instanceof LaunchUsageError)) throw error;
    writeLine(Deno.stderr, `tbg-launch: ${error.message}\n${USAGE}`);
    return EXIT_USAGE;
  }
  const { command, kind, extra } = parsed;
  const configPath = absolute(parsed.configPath, invocationDir());
  const root = fileURLToPath(new URL("../", import.meta.url)).replace(/\/$/, "");
  const entry = parsed.entry === undefined
    ? `${root}/${kind}/main.ts`
    : absolute(parsed.entry, invocationDir());
  let flags: string[];
  try {
    flags = serviceFlags(kind, configPath, extra);
  } catch (error: unknown) {
    if (!(error instanceof ConfigError)) throw error;
    writeLine(Deno.stderr, `tbg-${kind}: ${error.message}`);
    return error.exitCode;
  }

  if (command === "flags") {
    writeLine(Deno.stdout, flags.join(" "));
    return 0;
  }
  if (command === "compile") {
    const output = absolute(parsed.output ?? `dist/tbg-${kind}`, Deno.cwd());
    return await runChild(
      new Deno.Command(Deno.execPath(), {
        args: ["compile", "--no-prompt", ...flags, "--output", output, entry],
        stdin: "inherit",
        stdout: "inherit",
        stderr: "inherit",
      }),
    );
  }
  // The service fits its connection cap under the open-file limit (open_files_reserve).
  const nofile = kind === "collector" || extra.includes("--nofile-limit")
    ? null
    : await softNofileLimit();
  const serviceArgs = nofile === null ? extra : [...extra, "--nofile-limit", nofile];
  return await runChild(
    new Deno.Command(Deno.execPath(), {
      args: ["run", "--no-prompt", ...flags, entry, "--config", configPath, ...serviceArgs],
      stdin: "inherit",
      stdout: "inherit",
      stderr: "inherit",
    }),
  );
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
