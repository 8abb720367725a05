/**
 * Adds a relay region to the event streams: the two JetStream steps of "Adding a region" in
 * `infra/nats/README.md`, which that README does with the `nats` CLI (not packaged by Debian).
 *
 *   deno run --allow-net tools/nats_region.ts edge --region sa --nats-url nats://127.0.0.1:4222
 *   deno run --allow-net tools/nats_region.ts source --region sa --nats-url nats://tbg:…@hub:4222
 *   … --dry-run                                   # print what would change, change nothing
 *
 * `edge`, run against the region's leaf node: creates the region's edge stream
 * `MINING_EVENTS_<REGION>` (`regionEventsStreamConfig`), or reports it unchanged; a stream of that
 * name with other unchangeable settings stops the run with the field named.
 * `source`, run against the hub: adds the region's edge stream, read through the region's
 * JetStream domain, to the sources of `MINING_EVENTS`, keeping every other setting and source.
 * Never removes a source (a re-added one may import the region's events again).
 *
 * Both are idempotent. Exit codes: 0 done (or planned), 1 NATS unreachable, JetStream refused, a
 * conflict, or no `MINING_EVENTS` on the hub, 2 usage.
 *
 * @module
 */
import type { NatsConnection } from "nats";
import { type JetStreamManager, jetstreamManager } from "nats/jetstream";
import { parseNatsUrls } from "@tbg/shared/config";
import {
  applyPlan,
  conflictError,
  HUB_JETSTREAM_DOMAIN,
  MINING_EVENTS_STREAM_NAME,
  planStream,
  regionEventsSource,
  regionEventsStreamConfig,
} from "@tbg/shared/nats";
import {
  connectOnce,
  DEFAULT_NATS_URL,
  NATS_TIMEOUT_MS,
  planLine,
  redactUrls,
} from "./nats_provision.ts";

const USAGE = "usage: nats_region.ts <edge|source> --region <slug> " +
  "[--nats-url nats://host[:port][,…]] [--dry-run]";

/** A parsed command line. */
export interface RegionArgs {
  /** `edge`: the region's stream on its leaf; `source`: the hub's source of it. */
  readonly command: "edge" | "source";
  readonly region: string;
  readonly natsUrl: string;
  readonly dryRun: boolean;
}

/** Bad command-line arguments (exit code 2). */
export class RegionUsageError extends Error {
  override name = "RegionUsageError";
}

/**
 * Parses the command line.
 *
 * @param args Arguments without the program name.
 * @returns The command, region, server list and `--dry-run`.
 * @throws {RegionUsageError} For an unknown command or argument, a missing value, a region that
 *   is not a slug or is the hub's domain, or a value that is not a NATS server list.
 */
export function parseRegionArgs(args: readonly string[]): RegionArgs {
  const [command, ...rest] = args;
  if (command !== "edge" && command !== "source") {
    throw new RegionUsageError(
      command === undefined
        ? "Cannot add the region: missing command"
        : `Cannot add the region: unknown command "${command}"`,
    );
  }
  let region: string | undefined;
  let natsUrl = DEFAULT_NATS_URL;
  let dryRun = false;
  for (let i = 0; i < rest.length; i++) {
    const arg = rest[i]!;
    const [name, inline] = arg.includes("=")
      ? [arg.slice(0, arg.indexOf("=")), arg.slice(arg.indexOf("=") + 1)]
      : [arg, undefined];
    if (arg === "--dry-run") {
      dryRun = true;
    } else if (name === "--region" || name === "--nats-url") {
      const value = inline ?? rest[++i];
      if (value === undefined || value === "") {
        throw new RegionUsageError(`Cannot add the region: ${name} needs a value`);
      }
      if (name === "--region") region = value;
      else natsUrl = value;
    } else {
      throw new RegionUsageError(`Cannot add the region: unknown argument "${arg}"`);
    }
  }
  if (region === undefined) throw new RegionUsageError("Cannot add the region: missing --region");
  if (region === HUB_JETSTREAM_DOMAIN) {
    throw new RegionUsageError(`Cannot add the region: "${region}" is the hub's own domain`);
  }
  try {
    regionEventsSource(region);
  } catch (error) {
    throw new RegionUsageError(`Cannot add the region: ${(error as Error).message}`);
  }
  if (parseNatsUrls(natsUrl) === undefined) {
    throw new RegionUsageError(
      `Cannot add the region: --nats-url is not a NATS server list (got ${redactUrls(natsUrl)})`,
    );
  }
  return { command, region, natsUrl, dryRun };
}

/** Creates (or checks) the region's edge stream; returns the lines to print and the exit code. */
async function edge(jsm: JetStreamManager, args: RegionArgs): Promise<[string[], number]> {
  const plan = await planStream(jsm, regionEventsStreamConfig(args.region));
  if (plan.action === "conflict") {
    return [[planLine(plan, true), conflictError(plan).message, "nothing was changed"], 1];
  }
  if (!args.dryRun) await applyPlan(jsm, plan);
  return [[planLine(plan, args.dryRun)], 0];
}

/** Adds the region's source to the hub's MINING_EVENTS unless it is there. */
async function source(jsm: JetStreamManager, args: RegionArgs): Promise<[string[], number]> {
  const wanted = regionEventsSource(args.region);
  const target = `stream "${MINING_EVENTS_STREAM_NAME}": source ${wanted.name}`;
  let config;
  try {
    config = (await jsm.streams.info(MINING_EVENTS_STREAM_NAME)).config;
  } catch (error) {
    if (!/stream not found/i.test(String(error))) throw error;
    return [[
      `Cannot add ${wanted.name}: no stream ${MINING_EVENTS_STREAM_NAME} here; ` +
      "create it first with tools/nats_provision.ts",
    ], 1];
  }
  const sources = config.sources ?? [];
  if (sources.some((s) => s.name === wanted.name)) return [[`${target}: unchanged`], 0];
  if (args.dryRun) return [[`${target}: would add`], 0];
  await jsm.streams.update(MINING_EVENTS_STREAM_NAME, { ...config, sources: [...sources, wanted] });
  return [[`${target}: added`], 0];
}

function writeLine(stream: { writeSync(p: Uint8Array): number }, text: string): void {
  const bytes = new TextEncoder().encode(`${text}\n`);
  let written = 0;
  while (written < bytes.length) written += stream.writeSync(bytes.subarray(written));
}

/**
 * Runs the command line.
 *
 * @param args Arguments without the program name.
 * @returns The exit code (0, 1 or 2).
 */
export async function main(args: readonly string[]): Promise<number> {
  let parsed: RegionArgs;
  try {
    parsed = parseRegionArgs(args);
  } catch (error) {
    if (!(error instanceof RegionUsageError)) throw error;
    writeLine(Deno.stderr, `${error.message}\n${USAGE}`);
    return 2;
  }
  const where = redactUrls(parsed.natsUrl);
  let nc: NatsConnection;
  try {
    nc = await connectOnce(parsed.natsUrl, "tbg-nats-region");
  } catch (error) {
    writeLine(Deno.stderr, `Cannot add the region: cannot connect to NATS at ${where}: ${error}`);
    return 1;
  }
  try {
    const jsm = await jetstreamManager(nc, { timeout: NATS_TIMEOUT_MS });
    const [lines, code] = parsed.command === "edge"
      ? await edge(jsm, parsed)
      : await source(jsm, parsed);
    for (const line of lines) writeLine(code === 0 ? Deno.stdout : Deno.stderr, line);
    return code;
  } catch (error) {
    writeLine(Deno.stderr, `Cannot add the region at ${where}: ${error}`);
    return 1;
  } finally {
    await nc.close().catch(() => {});
  }
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
