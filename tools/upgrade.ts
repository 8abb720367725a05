/**
 * Zero-downtime upgrade and rollback of the pool processes of one host (seed Phase 5 §4.3–§4.4):
 *
 *   deno task upgrade --old 0,1 --new 2,3 [--config-dir /etc/tbg] [--soak-s 300] …
 *   deno task upgrade --old 0,1 --new 2,3 --rollback
 *
 * `--kind relay` moves relay processes (`relay-<n>.json`, `tbg-relay@<n>`) the same way.
 *
 * Upgrade: checks that every instance's config (`<config-dir>/<kind>-<n>.json`) shares one
 * Stratum port with `reuse_port` on and has a spool directory of its own; starts the new
 * version's instances (`--start`, by default `systemctl start tbg-<kind>@{n}`) on that same
 * port and waits for each one's /health; then stops the old ones (`--stop`, by default
 * `systemctl stop tbg-<kind>@{n}`: SIGTERM, so each closes its listener, sends its miners
 * `client.reconnect` spread over its `drain_reconnect_window_ms`, hands its events to NATS or
 * its spool and exits 0) and waits until they are gone; then soaks for `--soak-s` and checks the
 * gates on the new instances (/health every poll, shares answered, reject ratio, error ratio,
 * no event dropped: tools/upgrade_gates.ts). A gate that fails rolls back at once: the old
 * instances are started again and the new ones drained, the same steps the other way round.
 *
 * `--rollback` runs those reverse steps on request (old started, new drained, gates on the old).
 * `--check` only reads the configs, reports which instances answer, and prints the plan.
 *
 * Exit codes: 0 done; 2 usage or config error (nothing changed); 3 the upgrade failed and was
 * rolled back (or a requested rollback's gates failed); 4 the rollback itself failed (an
 * operator must act: see docs/runbooks/operations/upgrade.md).
 *
 * @module
 */
import { parseArgs } from "node:util";
import {
  ConfigError,
  eventsSpoolDir,
  httpListeners,
  HttpRoute,
  loadConfig,
  type RelayConfig,
  type StratumConfig,
  withInstancePorts,
} from "@tbg/shared/config";
import { listSegments } from "@tbg/shared/emitter";
import {
  countersFromMetrics,
  evaluateGates,
  type GateLimits,
  type PoolCounters,
} from "./upgrade_gates.ts";

const USAGE = [
  "usage: deno task upgrade --old <n,…> --new <n,…> [--rollback] [--check] [--config-dir /etc/tbg]",
  "         [--kind stratum|relay] [--start 'systemctl start tbg-<kind>@{n}']",
  "         [--stop 'systemctl stop tbg-<kind>@{n}']",
  "         [--soak-s 300] [--health-timeout-s 120] [--stop-timeout-s 90] [--poll-ms 1000]",
  "         [--min-shares 1] [--max-reject-ratio 0.05] [--max-error-ratio 0.01]",
].join("\n");

/** Exit codes. */
export const UpgradeExit = {
  Done: 0,
  Usage: 2,
  RolledBack: 3,
  RollbackFailed: 4,
} as const;

/** A parsed command line. */
export interface UpgradeOptions {
  readonly old: readonly number[];
  readonly new: readonly number[];
  readonly rollback: boolean;
  /** Only check the configs and print the plan; start and stop nothing. */
  readonly check: boolean;
  readonly configDir: string;
  /** Which service's processes move: `<kind>-<n>.json`, `tbg-<kind>@<n>`. */
  readonly kind: "stratum" | "relay";
  /** Shell command starting instance `{n}`; returns once it was started. */
  readonly start: string;
  /** Shell command stopping (draining) instance `{n}`. */
  readonly stop: string;
  readonly soakMs: number;
  readonly healthTimeoutMs: number;
  readonly stopTimeoutMs: number;
  readonly pollMs: number;
  readonly limits: GateLimits;
}

/** A usage error: the message says what is wrong. */
export class UpgradeUsageError extends Error {
  override name = "UpgradeUsageError";
}

function instanceList(flag: string, text: string | undefined): number[] {
  if (text === undefined || text === "") throw new UpgradeUsageError(`${flag} is required`);
  const list = text.split(",").map((part) => {
    if (!/^\d{1,3}$/.test(part) || Number(part) > 255) {
      throw new UpgradeUsageError(`${flag}: "${part}" is not an instance number 0–255`);
    }
    return Number(part);
  });
  if (new Set(list).size !== list.length) {
    throw new UpgradeUsageError(`${flag} names an instance twice`);
  }
  return list;
}

function number(flag: string, text: string | undefined, fallback: number, max: number): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (text.trim() === "" || !Number.isFinite(value) || value < 0 || value > max) {
    throw new UpgradeUsageError(`${flag}: "${text}" is not a number from 0 to ${max}`);
  }
  return value;
}

function commandTemplate(flag: string, text: string | undefined, fallback: string): string {
  const template = text ?? fallback;
  if (!template.includes("{n}")) {
    throw new UpgradeUsageError(`${flag} must contain {n} (the instance number)`);
  }
  return template;
}

/**
 * Parses the command line.
 *
 * @throws {UpgradeUsageError} naming the flag and what it needs
 */
export function parseUpgradeArgs(args: readonly string[]): UpgradeOptions {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...args],
      options: {
        old: { type: "string" },
        new: { type: "string" },
        rollback: { type: "boolean", default: false },
        check: { type: "boolean", default: false },
        "config-dir": { type: "string", default: "/etc/tbg" },
        kind: { type: "string", default: "stratum" },
        start: { type: "string" },
        stop: { type: "string" },
        "soak-s": { type: "string" },
        "health-timeout-s": { type: "string" },
        "stop-timeout-s": { type: "string" },
        "poll-ms": { type: "string" },
        "min-shares": { type: "string" },
        "max-reject-ratio": { type: "string" },
        "max-error-ratio": { type: "string" },
        help: { type: "boolean", default: false },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error: unknown) {
    throw new UpgradeUsageError(error instanceof Error ? error.message : String(error));
  }
  if (values.help) throw new UpgradeUsageError("");
  const old = instanceList("--old", values.old);
  const fresh = instanceList("--new", values.new);
  const both = old.filter((n) => fresh.includes(n));
  if (both.length > 0) {
    throw new UpgradeUsageError(`instance ${both[0]} is in both --old and --new`);
  }
  const kind = values.kind;
  if (kind !== "stratum" && kind !== "relay") {
    throw new UpgradeUsageError(`--kind: "${kind}" is not stratum or relay`);
  }
  return {
    old,
    new: fresh,
    kind,
    rollback: values.rollback,
    check: values.check,
    configDir: values["config-dir"].replace(/\/$/, ""),
    start: commandTemplate("--start", values.start, `systemctl start tbg-${kind}@{n}`),
    stop: commandTemplate("--stop", values.stop, `systemctl stop tbg-${kind}@{n}`),
    soakMs: number("--soak-s", values["soak-s"], 300, 86_400) * 1000,
    healthTimeoutMs: number("--health-timeout-s", values["health-timeout-s"], 120, 3_600) * 1000,
    stopTimeoutMs: number("--stop-timeout-s", values["stop-timeout-s"], 90, 3_600) * 1000,
    pollMs: Math.max(100, number("--poll-ms", values["poll-ms"], 1_000, 60_000)),
    limits: {
      minShares: number("--min-shares", values["min-shares"], 1, Number.MAX_SAFE_INTEGER),
      maxRejectRatio: number("--max-reject-ratio", values["max-reject-ratio"], 0.05, 1),
      maxErrorRatio: number("--max-error-ratio", values["max-error-ratio"], 0.01, 1),
    },
  };
}

/** One pool process as the tool sees it. */
export interface Instance {
  readonly n: number;
  readonly configPath: string;
  readonly metricsUrl: string;
  readonly healthUrl: string;
  readonly stratumPort: string;
  readonly spoolDir: string | undefined;
}

/** Loopback for a wildcard listen address (the tool runs on the pool's host). */
function reachable(host: string): string {
  if (host === "0.0.0.0" || host === "::" || host === "") return "127.0.0.1";
  return host.includes(":") ? `[${host}]` : host;
}

/**
 * Reads an instance's config (with its `--instance` port shift) into what the tool needs.
 *
 * @throws {ConfigError} when the config is unreadable or invalid
 */
export function loadInstance(
  configDir: string,
  n: number,
  kind: "stratum" | "relay" = "stratum",
): Instance {
  const configPath = `${configDir}/${kind}-${n}.json`;
  const config = withInstancePorts(loadConfig(kind, configPath) as StratumConfig | RelayConfig, n);
  const listeners = httpListeners(config);
  const metrics = listeners.find((l) => l.routes.includes(HttpRoute.Metrics));
  const health = listeners.find((l) => l.routes.includes(HttpRoute.Health))!;
  if (metrics === undefined) {
    throw new UpgradeUsageError(
      `${configPath}: metrics.enabled is false; the gates read each process's /metrics`,
    );
  }
  if (!config.reuse_port) {
    throw new UpgradeUsageError(
      `${configPath}: reuse_port is false; old and new processes cannot share the port`,
    );
  }
  return {
    n,
    configPath,
    metricsUrl: `http://${reachable(metrics.host)}:${metrics.port}${config.metrics.path}`,
    healthUrl: `http://${reachable(health.host)}:${health.port}/health`,
    stratumPort: [...config.serverurl].sort().join(","),
    spoolDir: config.events.enabled
      ? eventsSpoolDir(config.events.spool_dir, config.logdir)
      : undefined,
  };
}

/**
 * Checks that the instances can take each other's miners: one Stratum address set, distinct
 * spool directories and metrics endpoints.
 *
 * @throws {UpgradeUsageError} naming the two instances that conflict
 */
export function checkCompatible(instances: readonly Instance[]): void {
  const [first, ...rest] = instances;
  if (first === undefined) return;
  for (const other of rest) {
    if (other.stratumPort !== first.stratumPort) {
      throw new UpgradeUsageError(
        `instance ${other.n} listens on ${other.stratumPort}, instance ${first.n} on ` +
          `${first.stratumPort}: the new processes must take the old ones' port`,
      );
    }
  }
  for (const [i, a] of instances.entries()) {
    for (const b of instances.slice(i + 1)) {
      if (a.spoolDir !== undefined && a.spoolDir === b.spoolDir) {
        throw new UpgradeUsageError(
          `instances ${a.n} and ${b.n} share the spool directory ${a.spoolDir}`,
        );
      }
      if (a.healthUrl === b.healthUrl) {
        throw new UpgradeUsageError(`instances ${a.n} and ${b.n} share ${a.healthUrl}`);
      }
    }
  }
}

// --- talking to the processes ------------------------------------------------------------------

const encoder = new TextEncoder();

const startedAt = Date.now();

/** One line of progress, with the seconds since the tool started. */
function say(line: string): void {
  const elapsed = ((Date.now() - startedAt) / 1000).toFixed(1);
  Deno.stdout.writeSync(encoder.encode(`upgrade: [${elapsed} s] ${line}\n`));
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** /health of an instance: null when nothing answers, else ok and the failing checks. */
async function health(instance: Instance): Promise<{ ok: boolean; failing: string } | null> {
  try {
    const response = await fetch(instance.healthUrl, { signal: AbortSignal.timeout(2_000) });
    const body = await response.json() as { ok?: unknown; failing?: unknown };
    return { ok: body.ok === true, failing: JSON.stringify(body.failing ?? []) };
  } catch {
    return null;
  }
}

async function counters(instance: Instance): Promise<PoolCounters> {
  const response = await fetch(instance.metricsUrl, { signal: AbortSignal.timeout(5_000) })
    .catch((error: unknown) => {
      throw new Error(`Cannot scrape instance ${instance.n}: ${error}`, { cause: error });
    });
  if (!response.ok) {
    await response.body?.cancel();
    throw new Error(`Cannot scrape instance ${instance.n}: HTTP ${response.status}`);
  }
  return countersFromMetrics(await response.text());
}

/** Runs a start or stop command for instance `n` through `sh -c`; throws when it fails. */
async function runHook(template: string, n: number, what: string): Promise<void> {
  const command = template.replaceAll("{n}", String(n));
  const result = await new Deno.Command("sh", {
    args: ["-c", command],
    stdin: "null",
    stdout: "inherit",
    stderr: "inherit",
  }).output();
  if (!result.success) {
    throw new Error(`Cannot ${what} instance ${n}: \`${command}\` exited ${result.code}`);
  }
}

/** Polls until every instance's /health says ok. */
async function waitHealthy(instances: readonly Instance[], timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const pending = new Set(instances);
  let last = "";
  while (pending.size > 0) {
    for (const instance of [...pending]) {
      const report = await health(instance);
      if (report?.ok) pending.delete(instance);
      else last = `instance ${instance.n}: ${report === null ? "not answering" : report.failing}`;
    }
    if (pending.size === 0) break;
    if (Date.now() > deadline) {
      throw new Error(`Cannot see /health ok within ${timeoutMs / 1000} s (${last})`);
    }
    await sleep(200);
  }
}

/** Polls until nothing answers on any instance's /health (the process has exited). */
async function waitGone(instances: readonly Instance[], timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const alive = (await Promise.all(instances.map(health))).flatMap((report, i) =>
      report === null ? [] : [instances[i]!.n]
    );
    if (alive.length === 0) return;
    if (Date.now() > deadline) {
      throw new Error(`Cannot see instances ${alive.join(", ")} exit within ${timeoutMs / 1000} s`);
    }
    await sleep(200);
  }
}

/** Soaks and decides the gates on `instances`; returns the failed gates (empty: passed). */
async function soakAndGate(
  instances: readonly Instance[],
  options: UpgradeOptions,
): Promise<string[]> {
  say(`soak ${options.soakMs / 1000} s on instances ${instances.map((i) => i.n).join(", ")}`);
  let before: PoolCounters[];
  try {
    before = await Promise.all(instances.map(counters));
  } catch (error) {
    say(`gate metrics: FAIL (${error instanceof Error ? error.message : error})`);
    return ["metrics"];
  }
  const unhealthy: string[] = [];
  const deadline = Date.now() + options.soakMs;
  do {
    await sleep(Math.min(options.pollMs, Math.max(0, deadline - Date.now())));
    for (const instance of instances) {
      const report = await health(instance);
      if (!report?.ok) {
        unhealthy.push(
          `instance ${instance.n}: ${report === null ? "not answering" : report.failing}`,
        );
      }
    }
  } while (Date.now() < deadline);
  let after: PoolCounters[];
  try {
    after = await Promise.all(instances.map(counters));
  } catch (error) {
    // A process that cannot be scraped cannot pass a gate: the same as a failed one.
    say(`gate metrics: FAIL (${error instanceof Error ? error.message : error})`);
    return ["metrics"];
  }
  const results = evaluateGates(before, after, unhealthy, options.limits);
  for (const result of results) {
    say(`gate ${result.gate}: ${result.ok ? "pass" : "FAIL"} (${result.detail})`);
  }
  say(
    `miners on instances ${instances.map((i) => i.n).join(", ")}: ${
      after.reduce((sum, c) => sum + c.miners, 0)
    }`,
  );
  return results.filter((r) => !r.ok).map((r) => r.gate);
}

/** Which step of a move failed: before the old instances were touched, or after. */
export class MoveError extends Error {
  override name = "MoveError";
  /** "start": the new instances did not come up and were stopped again (nothing changed). */
  readonly step: "start" | "drain";

  /** @param step the failed step; @param cause why */
  constructor(step: "start" | "drain", cause: unknown) {
    super(cause instanceof Error ? cause.message : String(cause), { cause });
    this.step = step;
  }
}

/**
 * Moves the miners from `from` to `to`: starts `to`, waits for their health, stops (drains)
 * `from`, waits for them to exit. A failure before `from` is stopped stops `to` again.
 *
 * @throws {MoveError} naming the step that failed
 */
async function move(
  from: readonly Instance[],
  to: readonly Instance[],
  options: UpgradeOptions,
): Promise<void> {
  const ns = (list: readonly Instance[]) => list.map((i) => i.n).join(", ");
  say(`starting instances ${ns(to)}`);
  try {
    for (const instance of to) await runHook(options.start, instance.n, "start");
    await waitHealthy(to, options.healthTimeoutMs);
  } catch (error) {
    say(`${error instanceof Error ? error.message : error}; stopping instances ${ns(to)} again`);
    await Promise.allSettled(to.map((i) => runHook(options.stop, i.n, "stop")));
    throw new MoveError("start", error);
  }
  say(`instances ${ns(to)} healthy; draining instances ${ns(from)}`);
  const startedAt = Date.now();
  try {
    // All at once, so every old listener closes before the first reconnect lands: a miner moves
    // once, never onto another process about to drain.
    await Promise.all(from.map((i) => runHook(options.stop, i.n, "stop")));
    await waitGone(from, options.stopTimeoutMs);
  } catch (error) {
    throw new MoveError("drain", error);
  }
  say(`instances ${ns(from)} drained and exited after ${Date.now() - startedAt} ms`);
  for (const instance of from) await warnIfSpooled(instance);
}

/** Events an exited process left in its spool wait for that instance's next start. */
async function warnIfSpooled(instance: Instance): Promise<void> {
  if (instance.spoolDir === undefined) return;
  let bytes = 0;
  try {
    for (const segment of await listSegments(instance.spoolDir)) {
      bytes += (await Deno.stat(segment.path)).size;
    }
  } catch {
    // Not readable by this user: the runbook's check of ckpool_event_spool_bytes covers it.
    return;
  }
  if (bytes > 0) {
    say(
      `instance ${instance.n} left ${bytes} bytes of events in ${instance.spoolDir} (NATS did ` +
        `not take them in time): they are sent when instance ${instance.n} next starts`,
    );
  }
}

/**
 * Runs an upgrade (or, with `rollback`, the reverse) and returns the exit code.
 *
 * @param options parsed command line
 * @returns an {@link UpgradeExit} code
 */
export async function runUpgrade(options: UpgradeOptions): Promise<number> {
  const old = options.old.map((n) => loadInstance(options.configDir, n, options.kind));
  const fresh = options.new.map((n) => loadInstance(options.configDir, n, options.kind));
  checkCompatible([...old, ...fresh]);
  const [from, to] = options.rollback ? [fresh, old] : [old, fresh];
  const what = options.rollback ? "rollback" : "upgrade";
  for (const instance of to) {
    if (await health(instance) !== null) {
      throw new UpgradeUsageError(
        `instance ${instance.n} is already running (${instance.healthUrl} answers)`,
      );
    }
  }
  if (options.check) {
    for (const instance of from) {
      const report = await health(instance);
      say(
        `instance ${instance.n} (${instance.configPath}): ${
          report === null ? "not running" : report.ok ? "healthy" : `unhealthy ${report.failing}`
        }`,
      );
    }
    say(
      `plan: start instances ${to.map((i) => i.n).join(", ")} on ${to[0]?.stratumPort}, ` +
        `drain instances ${from.map((i) => i.n).join(", ")}, soak ${options.soakMs / 1000} s, ` +
        `gates: at least ${options.limits.minShares} shares, rejects at most ${
          options.limits.maxRejectRatio * 100
        } %, errors at most ${options.limits.maxErrorRatio * 100} %, no event dropped` +
        (options.rollback ? "" : "; rollback when a gate fails"),
    );
    return UpgradeExit.Done;
  }
  try {
    await move(from, to, options);
  } catch (error) {
    if (!(error instanceof MoveError)) throw error;
    say(
      `${what} failed while ${error.step === "start" ? "starting" : "draining"}: ${error.message}`,
    );
    // A failed start changed nothing; a drain that did not finish leaves both versions up.
    return error.step === "start" && !options.rollback
      ? UpgradeExit.RolledBack
      : UpgradeExit.RollbackFailed;
  }
  const failed = await soakAndGate(to, options);
  if (failed.length === 0) {
    say(`${what} done: instances ${to.map((i) => i.n).join(", ")} serve the port`);
    return UpgradeExit.Done;
  }
  if (options.rollback) {
    say(`rollback gates failed (${failed.join(", ")}): the old version misbehaves too`);
    return UpgradeExit.RolledBack;
  }
  say(`gates failed (${failed.join(", ")}): rolling back`);
  try {
    await move(to, from, options);
  } catch (error) {
    if (!(error instanceof MoveError)) throw error;
    say(
      `ROLLBACK FAILED while ${error.step === "start" ? "starting" : "draining"}: ${error.message}`,
    );
    return UpgradeExit.RollbackFailed;
  }
  say(`rolled back: instances ${from.map((i) => i.n).join(", ")} serve the port`);
  return UpgradeExit.RolledBack;
}

async function main(args: readonly string[]): Promise<number> {
  try {
    return await runUpgrade(parseUpgradeArgs(args));
  } catch (error: unknown) {
    if (error instanceof UpgradeUsageError || error instanceof ConfigError) {
      const message = error.message === "" ? USAGE : `${error.message}\n${USAGE}`;
      Deno.stderr.writeSync(encoder.encode(`upgrade: ${message}\n`));
      return UpgradeExit.Usage;
    }
    throw error;
  }
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
