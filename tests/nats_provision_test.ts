/**
 * `tools/nats_provision.ts` against a real nats-server: it creates MINING_EVENTS and the two
 * durable consumers exactly as `infra/nats/` declares them, a second run changes nothing, drift
 * in changeable settings is repaired while unmanaged settings stay, and a difference in an
 * unchangeable setting stops the run naming the field, with nothing changed.
 *
 * The tool runs as its own process with only `--allow-net=127.0.0.1:<port>`, as an operator
 * would run it. Run with:
 *
 *   deno test --allow-run --allow-net=127.0.0.1 --allow-read --allow-write tests/nats_provision_test.ts
 *
 * Needs the `nats-server` binary (Debian package "nats-server"); fails, never skips, without it.
 *
 * @module
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { connect, type NatsConnection } from "nats";
import {
  AckPolicy,
  type ConsumerConfig,
  DeliverPolicy,
  type JetStreamManager,
  jetstreamManager,
  StorageType,
} from "nats/jetstream";
import {
  consumerFilter,
  ensureConsumer,
  ensureStream,
  EVENT_PIPELINE_DURABLE,
  GAME_ENGINE_DESCRIPTION,
  GAME_ENGINE_DURABLE,
  MINING_EVENTS_STREAM_NAME,
  miningEventsStreamConfig,
} from "@tbg/shared/nats";
import { infraFiles } from "../tools/nats_provision.ts";
import {
  type NatsServerHandle,
  pickFreePort,
  startNatsServer,
} from "./support/servers/nats_server.ts";

const ROOT = fileURLToPath(new URL("../", import.meta.url));
const STREAM = MINING_EVENTS_STREAM_NAME;
const LINES = {
  stream: `stream "${STREAM}"`,
  pipeline: `consumer "${EVENT_PIPELINE_DURABLE}" on stream "${STREAM}"`,
  game: `consumer "${GAME_ENGINE_DURABLE}" on stream "${STREAM}"`,
};

interface ToolRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs the tool as `deno task nats:provision` would, allowed to reach only `port`. */
async function provision(port: number, ...args: string[]): Promise<ToolRun> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--no-prompt",
      `--allow-net=127.0.0.1:${port}`,
      "tools/nats_provision.ts",
      "--nats-url",
      `nats://127.0.0.1:${port}`,
      ...args,
    ],
    cwd: ROOT,
    stdin: "null",
    env: { NO_COLOR: "1" },
  }).output();
  const decoder = new TextDecoder();
  return {
    code: output.code,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
  };
}

function lines(text: string): string[] {
  return text.split("\n").filter((line) => line !== "");
}

async function withServer(
  body: (server: NatsServerHandle, nc: NatsConnection, jsm: JetStreamManager) => Promise<void>,
): Promise<void> {
  const server = await startNatsServer({ jetstream: true });
  let nc: NatsConnection | undefined;
  try {
    nc = await connect({ servers: server.url, reconnect: false, timeout: 5_000 });
    await body(server, nc, await jetstreamManager(nc));
  } finally {
    await nc?.close();
    await server.stop();
  }
}

/** The server's value of every field a declarative file sets. */
function pick(config: object, like: object): Record<string, unknown> {
  const all = config as Record<string, unknown>;
  return Object.fromEntries(Object.keys(like).map((key) => [key, all[key]]));
}

async function assertMatchesInfra(jsm: JetStreamManager): Promise<void> {
  const [streamFile, ...consumerFiles] = infraFiles();
  const stream = (await jsm.streams.info(STREAM)).config;
  assert.deepEqual(pick(stream, streamFile!.config), streamFile!.config, streamFile!.path);
  for (const file of consumerFiles) {
    const declared = file.config as ConsumerConfig;
    const info = await jsm.consumers.info(STREAM, declared.durable_name!);
    assert.deepEqual(pick(info.config, declared), declared, file.path);
  }
}

Deno.test("nats_provision creates the stream and both consumers as infra/nats declares them, then reports unchanged", async () => {
  await withServer(async (server, _nc, jsm) => {
    const dry = await provision(server.port, "--dry-run");
    assert.equal(dry.code, 0, dry.stderr);
    assert.deepEqual(lines(dry.stdout), [
      `${LINES.stream}: would create`,
      `${LINES.pipeline}: would create`,
      `${LINES.game}: would create`,
    ]);
    assert.deepEqual(await jsm.streams.names().next(), [], "a dry run creates nothing");

    const first = await provision(server.port);
    assert.equal(first.code, 0, first.stderr);
    assert.deepEqual(lines(first.stdout), [
      `${LINES.stream}: created`,
      `${LINES.pipeline}: created`,
      `${LINES.game}: created`,
    ]);
    await assertMatchesInfra(jsm);
    const created = (await jsm.consumers.info(STREAM, GAME_ENGINE_DURABLE)).created;

    const second = await provision(server.port);
    assert.equal(second.code, 0, second.stderr);
    assert.deepEqual(lines(second.stdout), [
      `${LINES.stream}: unchanged`,
      `${LINES.pipeline}: unchanged`,
      `${LINES.game}: unchanged`,
    ]);
    assert.equal((await jsm.consumers.info(STREAM, GAME_ENGINE_DURABLE)).created, created);

    // A collector starting on the provisioned hub uses what it finds as it is.
    assert.equal(await ensureStream(jsm, STREAM), "unchanged");
    const pipeline = await ensureConsumer(
      jsm,
      STREAM,
      EVENT_PIPELINE_DURABLE,
      consumerFilter(undefined),
    );
    assert.equal(
      pipeline.config.description,
      (infraFiles()[1]!.config as ConsumerConfig).description,
    );
    assert.equal((await provision(server.port)).stdout.includes("updated"), false);
  });
});

Deno.test("nats_provision repairs drifted settings, keeps unmanaged ones, and a dry run only shows it", async () => {
  await withServer(async (server, _nc, jsm) => {
    // As a collector leaves the hub: the stream, and event-pipeline only. Then drift.
    assert.equal(await ensureStream(jsm, STREAM), "created");
    await ensureConsumer(jsm, STREAM, EVENT_PIPELINE_DURABLE, consumerFilter(undefined));
    await jsm.streams.update(STREAM, {
      max_age: 12 * 3600 * 1e9,
      description: "hand-made",
      max_msgs_per_subject: 1_000_000,
    });
    await jsm.consumers.update(STREAM, EVENT_PIPELINE_DURABLE, { max_deliver: 50 });

    const dry = await provision(server.port, "--dry-run");
    assert.equal(dry.code, 0, dry.stderr);
    assert.deepEqual(lines(dry.stdout), [
      `${LINES.stream}: would update (description: "hand-made" → ` +
      `"TheBitcoinGame mining events from every region", max_age: 43200000000000 → 86400000000000)`,
      `${LINES.pipeline}: would update (max_deliver: 50 → -1)`,
      `${LINES.game}: would create`,
    ]);
    assert.equal((await jsm.streams.info(STREAM)).config.max_age, 12 * 3600 * 1e9);

    const run = await provision(server.port);
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(lines(run.stdout).map((line) => line.replace(/ \(.*\)$/, "")), [
      `${LINES.stream}: updated`,
      `${LINES.pipeline}: updated`,
      `${LINES.game}: created`,
    ]);
    await assertMatchesInfra(jsm);
    const stream = (await jsm.streams.info(STREAM)).config;
    assert.equal(
      stream.max_msgs_per_subject,
      1_000_000,
      "a setting the project does not manage stays",
    );
  });
});

Deno.test("nats_provision refuses an immutable difference naming the field and changes nothing", async () => {
  await withServer(async (server, _nc, jsm) => {
    const memory = {
      ...miningEventsStreamConfig(),
      storage: StorageType.Memory,
      max_bytes: 64 * 1024 * 1024,
    };
    await jsm.streams.add(memory);
    await jsm.consumers.add(STREAM, {
      durable_name: GAME_ENGINE_DURABLE,
      ack_policy: AckPolicy.None,
      deliver_policy: DeliverPolicy.New,
    });

    for (const args of [[], ["--dry-run"]]) {
      const run = await provision(server.port, ...args);
      assert.equal(run.code, 1, `exit code with ${JSON.stringify(args)}: ${run.stderr}`);
      assert.deepEqual(lines(run.stdout), [
        `${LINES.stream}: conflict (storage: "memory" → "file", max_bytes: 67108864 → 10737418240)`,
        `${LINES.pipeline}: would create`,
        `${LINES.game}: conflict (description: unset → "${GAME_ENGINE_DESCRIPTION}", ` +
        `ack_policy: "none" → "explicit", deliver_policy: "new" → "all", ` +
        `ack_wait: unset → 30000000000, max_ack_pending: unset → 20000)`,
      ]);
      const errors = lines(run.stderr);
      assert.match(
        errors[0] ?? "",
        /^Cannot update stream "MINING_EVENTS": storage cannot be changed on an existing stream \(storage: "memory" → "file"\)/,
      );
      assert.match(
        errors[1] ?? "",
        /^Cannot update consumer "game-engine" on stream "MINING_EVENTS": ack_policy, deliver_policy cannot be changed/,
      );
      assert.equal(errors[2], "nothing was changed");
    }
    const stream = (await jsm.streams.info(STREAM)).config;
    assert.equal(stream.storage, StorageType.Memory);
    assert.equal(stream.max_bytes, 64 * 1024 * 1024, "the changeable field was not touched either");
    await assert.rejects(jsm.consumers.info(STREAM, EVENT_PIPELINE_DURABLE), /consumer not found/);
  });
});

Deno.test("nats_provision reports an unreachable server and a server without JetStream", async () => {
  const port = pickFreePort();
  const unreachable = await provision(port);
  assert.equal(unreachable.code, 1);
  assert.match(
    unreachable.stderr,
    new RegExp(`^Cannot provision: cannot connect to NATS at nats://127\\.0\\.0\\.1:${port}: `),
  );

  const plain = await startNatsServer({ jetstream: false });
  try {
    const run = await provision(plain.port);
    assert.equal(run.code, 1);
    assert.match(
      run.stderr,
      /^Cannot provision JetStream at nats:\/\/127\.0\.0\.1:\d+: .*jetstream/i,
    );
    assert.equal(run.stdout, "");
  } finally {
    await plain.stop();
  }
});

Deno.test("nats_provision reports a change the server refuses with the field and its reason", async () => {
  await withServer(async (server, _nc, jsm) => {
    // One region's events only, and another stream on a sibling subject: widening MINING_EVENTS
    // to mining.events.> would overlap it, which JetStream refuses.
    await jsm.streams.add({ ...miningEventsStreamConfig(), subjects: ["mining.events.eu.>"] });
    await jsm.streams.add({ name: "US_EVENTS", subjects: ["mining.events.us.>"] });
    const run = await provision(server.port);
    assert.equal(run.code, 1, run.stderr);
    assert.equal(run.stdout, "");
    assert.match(
      run.stderr,
      /^Cannot provision JetStream at nats:\/\/127\.0\.0\.1:\d+: Cannot update stream "MINING_EVENTS": the server refused subjects: \["mining\.events\.eu\.>"\] → \["mining\.events\.>"\]: .*overlap/,
    );
    assert.deepEqual((await jsm.streams.info(STREAM)).config.subjects, ["mining.events.eu.>"]);
  });
});
