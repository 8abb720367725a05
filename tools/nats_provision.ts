/**
 * Provisions the hub's JetStream pieces: the MINING_EVENTS stream and its two durable consumers,
 * `event-pipeline` (the collectors) and `game-engine`. Idempotent: a second run reports every
 * piece "unchanged".
 *
 *   deno run --allow-net tools/nats_provision.ts --nats-url nats://127.0.0.1:4222
 *   deno run --allow-net tools/nats_provision.ts --nats-url … --dry-run   # print the plan only
 *
 * Everything is planned before anything is changed: a piece that is missing is created, one
 * whose changeable settings drifted is updated (settings this project does not manage, such as
 * a stream's `sources`, are kept), and one whose unchangeable settings differ (a stream's
 * storage or retention, a consumer's ack, deliver or replay policy) stops the run with an error
 * naming the field, before any change is made.
 *
 * The same definitions are in `infra/nats/` for the `nats` CLI (`nats stream add --config
 * infra/nats/streams/mining_events.json`, then `nats consumer add MINING_EVENTS --config
 * infra/nats/consumers/<name>.json`); a unit test keeps those files identical to the code.
 *
 * Exit codes: 0 done (or planned), 1 NATS unreachable, JetStream refused, or a conflict,
 * 2 usage.
 *
 * @module
 */
import { connect, type NatsConnection } from "nats";
import { jetstreamManager } from "nats/jetstream";
import { NATS_URL_SCHEMES, parseNatsUrls } from "@tbg/shared/config";
import {
  applyPlan,
  conflictError,
  describeChanges,
  MINING_EVENTS_STREAM_NAME,
  miningEventsConsumers,
  miningEventsStreamConfig,
  planConsumer,
  planStream,
  planTarget,
  type ProvisionPlan,
} from "@tbg/shared/nats";

/** NATS server used when `--nats-url` is not given. */
export const DEFAULT_NATS_URL = "nats://127.0.0.1:4222";
/** Longest wait for the connection and for each JetStream request. */
export const NATS_TIMEOUT_MS = 5_000;

/**
 * One connection for a command-line tool: the comma-separated `natsUrl` list, no reconnects (a
 * tool reports a lost server and exits rather than waiting), {@link NATS_TIMEOUT_MS} to connect.
 */
export function connectOnce(natsUrl: string, name: string): Promise<NatsConnection> {
  return connect({
    servers: natsUrl.split(",").map((url) => url.trim()),
    name,
    timeout: NATS_TIMEOUT_MS,
    reconnect: false,
  });
}

/** One declarative file under `infra/nats/` and the configuration it must hold. */
export interface InfraFile {
  /** Path from the repository root. */
  readonly path: string;
  /** The JSON the file holds (the JetStream API's shape, which `nats … add --config` reads). */
  readonly config: object;
}

/**
 * The files in `infra/nats/` that mirror what this tool provisions.
 *
 * @returns The stream file, then one file per consumer.
 */
export function infraFiles(): InfraFile[] {
  return [
    { path: "infra/nats/streams/mining_events.json", config: miningEventsStreamConfig() },
    ...miningEventsConsumers().map((config) => ({
      path: `infra/nats/consumers/${config.durable_name.replaceAll("-", "_")}.json`,
      config,
    })),
  ];
}

/** A parsed command line. */
export interface ProvisionArgs {
  /** NATS server list, as nats.js takes it. */
  readonly natsUrl: string;
  /** Print the plan and change nothing. */
  readonly dryRun: boolean;
}

/** Bad command-line arguments (exit code 2). */
export class ProvisionUsageError extends Error {
  override name = "ProvisionUsageError";
}

const USAGE = "usage: nats_provision.ts [--nats-url nats://host[:port][,…]] [--dry-run]";

/**
 * Parses `--nats-url <url>` (or `--nats-url=<url>`) and `--dry-run`.
 *
 * @param args Command-line arguments without the program name.
 * @returns The server list and whether to only print the plan.
 * @throws {ProvisionUsageError} When an argument is unknown, `--nats-url` has no value, or the
 *   value is not a NATS server list.
 */
export function parseProvisionArgs(args: readonly string[]): ProvisionArgs {
  let natsUrl = DEFAULT_NATS_URL;
  let dryRun = false;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] ?? "";
    if (arg === "--dry-run") {
      dryRun = true;
    } else if (arg === "--nats-url") {
      const value = args[++i];
      if (value === undefined) {
        throw new ProvisionUsageError("Cannot provision: --nats-url needs a value");
      }
      natsUrl = value;
    } else if (arg.startsWith("--nats-url=")) {
      natsUrl = arg.slice("--nats-url=".length);
    } else {
      throw new ProvisionUsageError(`Cannot provision: unknown argument "${arg}"`);
    }
  }
  if (parseNatsUrls(natsUrl) === undefined) {
    throw new ProvisionUsageError(
      `Cannot provision: --nats-url is not a NATS server list such as ${DEFAULT_NATS_URL} ` +
        `(schemes ${Object.keys(NATS_URL_SCHEMES).join(", ")}; got ${redactUrls(natsUrl)})`,
    );
  }
  return { natsUrl, dryRun };
}

/** The server list with any password or token replaced by `***`, for messages. */
export function redactUrls(urls: string): string {
  return urls.replace(
    /\/\/([^:@/,]*)(:[^@/,]*)?@/g,
    (_match, user: string, secret?: string) => secret === undefined ? "//***@" : `//${user}:***@`,
  );
}

/**
 * Reads the server's state and plans the stream and both consumers. Changes nothing.
 *
 * @param nc An open connection to the hub.
 * @returns The stream's plan, then one per consumer.
 * @throws When JetStream is not enabled or a request fails.
 */
export async function planAll(nc: NatsConnection): Promise<ProvisionPlan[]> {
  const jsm = await jetstreamManager(nc, { timeout: NATS_TIMEOUT_MS });
  const plans = [await planStream(jsm, miningEventsStreamConfig())];
  for (const consumer of miningEventsConsumers()) {
    plans.push(await planConsumer(jsm, MINING_EVENTS_STREAM_NAME, consumer));
  }
  return plans;
}

/**
 * One line per plan: `stream "MINING_EVENTS": created`, `… : would update (max_age: … → …)`.
 *
 * @param plan The plan.
 * @param dryRun Whether it was only planned.
 * @returns The line.
 */
export function planLine(plan: ProvisionPlan, dryRun: boolean): string {
  const changes = plan.changes.length === 0 ? "" : ` (${describeChanges(plan.changes)})`;
  const done = { create: "created", update: "updated", unchanged: "unchanged", conflict: "" };
  const would = {
    create: "would create",
    update: "would update",
    unchanged: "unchanged",
    conflict: "conflict",
  };
  const verb = dryRun || plan.action === "conflict" ? would[plan.action] : done[plan.action];
  return `${planTarget(plan)}: ${verb}${changes}`;
}

function writeLine(stream: { writeSync(p: Uint8Array): number }, text: string): void {
  const bytes = new TextEncoder().encode(`${text}\n`);
  let written = 0;
  while (written < bytes.length) written += stream.writeSync(bytes.subarray(written));
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * Runs the command line: parses arguments, connects, plans, and applies unless `--dry-run`.
 *
 * @param args Command-line arguments without the program name.
 * @returns The process exit code (0, 1 or 2).
 */
export async function main(args: readonly string[]): Promise<number> {
  let parsed: ProvisionArgs;
  try {
    parsed = parseProvisionArgs(args);
  } catch (error) {
    if (!(error instanceof ProvisionUsageError)) throw error;
    writeLine(Deno.stderr, `${error.message}\n${USAGE}`);
    return 2;
  }
  const where = redactUrls(parsed.natsUrl);
  let nc: NatsConnection;
  try {
    nc = await connectOnce(parsed.natsUrl, "tbg-nats-provision");
  } catch (error) {
    writeLine(
      Deno.stderr,
      `Cannot provision: cannot connect to NATS at ${where}: ${messageOf(error)}`,
    );
    return 1;
  }
  try {
    const plans = await planAll(nc);
    const conflicts = plans.filter((plan) => plan.action === "conflict");
    if (parsed.dryRun || conflicts.length > 0) {
      for (const plan of plans) writeLine(Deno.stdout, planLine(plan, true));
    }
    if (conflicts.length > 0) {
      for (const plan of conflicts) writeLine(Deno.stderr, conflictError(plan).message);
      writeLine(Deno.stderr, "nothing was changed");
      return 1;
    }
    if (parsed.dryRun) return 0;
    const jsm = await jetstreamManager(nc, { timeout: NATS_TIMEOUT_MS });
    // Stream first: the consumers need it. Each line is printed once its change is made.
    for (const plan of plans) {
      await applyPlan(jsm, plan);
      writeLine(Deno.stdout, planLine(plan, false));
    }
    return 0;
  } catch (error) {
    writeLine(Deno.stderr, `Cannot provision JetStream at ${where}: ${messageOf(error)}`);
    return 1;
  } finally {
    await nc.close().catch(() => {});
  }
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
