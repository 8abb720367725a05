/**
 * After PostgreSQL was restored from a backup: re-creates the collectors' durable consumer so it
 * delivers again from the first hub stream sequence the restored database may lack (see
 * `tools/dr/replay.ts`). Stop every collector first; start them after.
 *
 *   deno task dr:replay --nats-url nats://tbg@127.0.0.1:4222 --postgres-url postgres://tbg@127.0.0.1:5432/tbg
 *   deno task dr:replay … --dry-run            # print the plan, change nothing
 *
 * Exit codes: 0 done (or planned), 1 NATS, PostgreSQL or JetStream failed (or a collector is
 * still pulling), 2 usage.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { jetstreamManager } from "nats/jetstream";
import {
  consumerFilter,
  EVENT_PIPELINE_DURABLE,
  MINING_EVENTS_STREAM_NAME,
} from "@tbg/shared/nats";
import { POSTGRES_CLIENT_ENV, sandboxProcessEnv } from "@tbg/shared/service";
import { connectOnce } from "./nats_provision.ts";
import { redactUrl } from "./migrate.ts";
import { applyReplay, describeReplay, planReplay, waitingMessage } from "./dr/replay.ts";

const USAGE = "usage: dr_replay.ts --nats-url URL --postgres-url URL [--stream MINING_EVENTS] " +
  "[--durable event-pipeline] [--region-filter REGION] [--dry-run]";

function say(stream: { writeSync(p: Uint8Array): number }, text: string): void {
  const bytes = new TextEncoder().encode(`${text}\n`);
  let written = 0;
  while (written < bytes.length) written += stream.writeSync(bytes.subarray(written));
}

/**
 * Runs the command line.
 *
 * @param args Arguments without the program name.
 * @returns The exit code.
 */
export async function main(args: readonly string[]): Promise<number> {
  let values;
  try {
    values = parseArgs({
      args: [...args],
      options: {
        "nats-url": { type: "string" },
        "postgres-url": { type: "string" },
        stream: { type: "string", default: MINING_EVENTS_STREAM_NAME },
        durable: { type: "string", default: EVENT_PIPELINE_DURABLE },
        "region-filter": { type: "string" },
        "dry-run": { type: "boolean", default: false },
        help: { type: "boolean", default: false },
      },
      strict: true,
      allowPositionals: false,
    }).values;
    if (values.help) {
      say(Deno.stdout, USAGE);
      return 0;
    }
    if (values["nats-url"] === undefined || !/^(nats|tls):\/\//.test(values["nats-url"])) {
      throw new TypeError("Cannot replay: --nats-url nats://host:port is required");
    }
    if (
      values["postgres-url"] === undefined || !/^postgres(ql)?:\/\//.test(values["postgres-url"])
    ) {
      throw new TypeError("Cannot replay: --postgres-url postgres://… is required");
    }
  } catch (error) {
    say(Deno.stderr, `${error instanceof Error ? error.message : String(error)}\n${USAGE}`);
    return 2;
  }
  let filter: string;
  try {
    filter = consumerFilter(values["region-filter"]);
  } catch (error) {
    say(Deno.stderr, `Cannot replay: ${(error as Error).message}\n${USAGE}`);
    return 2;
  }
  // postgres.js reads PG* variables; give it only those granted.
  sandboxProcessEnv(POSTGRES_CLIENT_ENV);
  const { default: connectPostgres } = await import("postgres");
  const sql = connectPostgres(values["postgres-url"], {
    max: 1,
    connect_timeout: 10,
    onnotice: () => {},
  });
  let nc;
  try {
    nc = await connectOnce(values["nats-url"], "tbg-dr-replay");
    const jsm = await jetstreamManager(nc);
    const plan = await planReplay(sql, jsm, {
      stream: values.stream,
      durable: values.durable,
      filter,
      ...(values["region-filter"] === undefined ? {} : { region: values["region-filter"] }),
    });
    say(Deno.stdout, describeReplay(plan));
    if (values["dry-run"]) {
      if (plan.waiting > 0) say(Deno.stdout, `warning: ${waitingMessage(plan)}`);
      say(Deno.stdout, "dry run: nothing changed");
    } else {
      await applyReplay(jsm, plan);
      say(Deno.stdout, `consumer "${plan.durable}" re-created; start the collectors`);
    }
    return 0;
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    say(Deno.stderr, `Cannot replay (${redactUrl(values["postgres-url"])}): ${message}`);
    return 1;
  } finally {
    await nc?.close();
    await sql.end({ timeout: 5 });
  }
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
