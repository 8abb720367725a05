/**
 * `deno task dr:replay` (tools/dr_replay.ts, tools/dr/replay.ts) against real nats-server and
 * PostgreSQL: after a restore that lost the tail of what the collector had stored, the durable
 * consumer is re-created delivering from the first hub stream sequence the database lacks (not
 * from its old acknowledged floor, not from the start); the tool refuses while a collector is
 * pulling, and a dry run changes nothing. Needs the Debian packages "nats-server" and
 * "postgresql"; fails, never skips, without them.
 *
 * @module
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { connect } from "nats";
import { jetstream, jetstreamManager } from "nats/jetstream";
import postgres from "postgres";
import { v7 as uuidv7 } from "uuid";
import {
  consumerConfig,
  ensureStream,
  EVENT_PIPELINE_DURABLE,
  EVENTS_WILDCARD,
  MINING_EVENTS_STREAM_NAME,
} from "@tbg/shared/nats";
import { applyReplay, planReplay } from "../tools/dr/replay.ts";
import { migrate, type MigrationLogger } from "../tools/migrate.ts";
import { startNatsServer } from "./support/servers/nats_server.ts";
import { startPostgres } from "./support/servers/postgres_server.ts";

const ROOT = fileURLToPath(new URL("../", import.meta.url));
const STREAM = MINING_EVENTS_STREAM_NAME;
const DURABLE = EVENT_PIPELINE_DURABLE;
const silent: MigrationLogger = { info() {}, warn() {} };

async function runCli(args: readonly string[]): Promise<{ code: number; out: string }> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-net", "--allow-env=PGPASSWORD", `${ROOT}tools/dr_replay.ts`, ...args],
    cwd: ROOT,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
  const text = new TextDecoder();
  return { code: output.code, out: text.decode(output.stdout) + text.decode(output.stderr) };
}

Deno.test({
  name: "dr:replay restarts the durable at the first sequence the restored database lacks",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const [nats, pg] = await Promise.all([startNatsServer({ jetstream: true }), startPostgres()]);
    const nc = await connect({ servers: nats.url, reconnect: false });
    const sql = postgres(pg.url, { max: 1, onnotice: () => {} });
    try {
      await migrate(sql, silent);
      const jsm = await jetstreamManager(nc);
      await ensureStream(jsm, STREAM);
      const js = jetstream(nc);
      for (let i = 1; i <= 6; i++) {
        await js.publish("mining.events.eu.share_submitted", `event ${i}`, { msgID: uuidv7() });
      }
      // The collector read and acknowledged all six before the loss.
      await jsm.consumers.add(STREAM, consumerConfig(DURABLE, EVENTS_WILDCARD));
      const before = await js.consumers.get(STREAM, DURABLE);
      for await (const message of await before.fetch({ max_messages: 6, expires: 5_000 })) {
        message.ack();
        if (message.seq === 6) break;
      }
      // The restored database: sequences 1, 2 and 4 (3 was an event it refused; 5 and 6 were
      // committed after the last archived WAL segment).
      for (const seq of [1, 2, 4]) {
        await sql`
          INSERT INTO mining_events (event_id, event_type, region, source, ts, payload, stream_seq)
          VALUES (${uuidv7()}, 'share_submitted', 'eu', 'stratum-eu-1', now(), '{}'::jsonb, ${seq})`;
      }

      const dry = await runCli(["--nats-url", nats.url, "--postgres-url", pg.url, "--dry-run"]);
      assert.equal(dry.code, 0, dry.out);
      assert.match(
        dry.out,
        /holds stream sequences up to 4; re-creating consumer "event-pipeline"/,
      );
      assert.match(dry.out, /acknowledged up to 6\) from sequence 3: up to 4 message/);
      assert.match(dry.out, /dry run: nothing changed/);
      assert.equal((await jsm.consumers.info(STREAM, DURABLE)).ack_floor.stream_seq, 6);

      const plan = await planReplay(sql, jsm, {
        stream: STREAM,
        durable: DURABLE,
        filter: EVENTS_WILDCARD,
      });
      assert.deepEqual(
        { maxHeld: plan.maxHeld, start: plan.start, ackFloor: plan.ackFloor, toReplay: 4 },
        { maxHeld: 4, start: 3, ackFloor: 6, toReplay: plan.toReplay },
      );
      await applyReplay(jsm, plan);
      const info = await jsm.consumers.info(STREAM, DURABLE);
      assert.equal(info.config.opt_start_seq, 3);
      assert.equal(info.config.ack_wait, consumerConfig(DURABLE, EVENTS_WILDCARD).ack_wait);
      const after = await js.consumers.get(STREAM, DURABLE);
      const seqs: number[] = [];
      for await (const message of await after.fetch({ max_messages: 4, expires: 5_000 })) {
        seqs.push(message.seq);
        message.ack();
        if (seqs.length === 4) break;
      }
      assert.deepEqual(seqs, [3, 4, 5, 6]);

      // A collector still pulling (its own connection): the tool refuses.
      const collector = await connect({ servers: nats.url, reconnect: false });
      let reading: Promise<void> = Promise.resolve();
      try {
        const pulling = await jetstream(collector).consumers.get(STREAM, DURABLE);
        const pull = await pulling.fetch({ max_messages: 1, expires: 30_000 });
        // The request goes out once the messages are iterated.
        reading = (async () => {
          for await (const _ of pull) break;
        })().catch(() => {});
        let waiting = 0;
        for (let i = 0; i < 100 && waiting === 0; i++) {
          waiting = (await jsm.consumers.info(STREAM, DURABLE)).num_waiting;
          if (waiting === 0) await new Promise((resolve) => setTimeout(resolve, 50));
        }
        assert.ok(waiting > 0, "the pull request is registered");
        const refused = await runCli(["--nats-url", nats.url, "--postgres-url", pg.url]);
        assert.equal(refused.code, 1, refused.out);
        assert.match(refused.out, /pull request\(s\) are waiting on it; stop every collector/);
        assert.equal((await jsm.consumers.info(STREAM, DURABLE)).config.opt_start_seq, 3);
      } finally {
        await collector.close();
        await reading;
      }

      const usage = await runCli(["--postgres-url", pg.url]);
      assert.equal(usage.code, 2);
      assert.match(usage.out, /--nats-url nats:\/\/host:port is required\nusage: dr_replay\.ts/);
    } finally {
      await sql.end({ timeout: 5 });
      await nc.close();
      await Promise.all([nats.stop(), pg.stop()]);
    }
  },
});
