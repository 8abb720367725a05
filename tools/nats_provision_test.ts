import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import {
  EVENT_PIPELINE_DURABLE,
  GAME_ENGINE_DURABLE,
  MINING_EVENTS_STREAM,
  miningEventsConsumers,
  miningEventsStreamConfig,
  type ProvisionPlan,
} from "@tbg/shared/nats";
import {
  DEFAULT_NATS_URL,
  infraFiles,
  parseProvisionArgs,
  planLine,
  ProvisionUsageError,
  redactUrls,
} from "./nats_provision.ts";

const ROOT = fileURLToPath(new URL("../", import.meta.url));

Deno.test("infra/nats files hold exactly the stream and consumers the tool provisions", async () => {
  const files = infraFiles();
  assert.deepEqual(files.map((file) => file.path), [
    "infra/nats/streams/mining_events.json",
    "infra/nats/consumers/event_pipeline.json",
    "infra/nats/consumers/game_engine.json",
  ]);
  for (const file of files) {
    const text = await Deno.readTextFile(`${ROOT}${file.path}`);
    assert.deepEqual(
      JSON.parse(text),
      file.config,
      `${file.path} differs from the code; it should hold:\n${
        JSON.stringify(file.config, null, 2)
      }`,
    );
  }
  const consumerFiles = await Array.fromAsync(Deno.readDir(`${ROOT}infra/nats/consumers`));
  assert.deepEqual(
    consumerFiles.map((entry) => entry.name).sort(),
    ["event_pipeline.json", "game_engine.json"],
    "no consumer file without a definition in the code",
  );
});

Deno.test("infraFiles() mirrors MINING_EVENTS_STREAM and both durable consumers", () => {
  const [stream, pipeline, game] = infraFiles().map((file) => file.config);
  assert.deepEqual(stream, {
    ...MINING_EVENTS_STREAM,
    subjects: [...MINING_EVENTS_STREAM.subjects],
  });
  assert.deepEqual(stream, miningEventsStreamConfig());
  assert.deepEqual([pipeline, game], miningEventsConsumers());
  assert.equal((pipeline as { durable_name: string }).durable_name, EVENT_PIPELINE_DURABLE);
  assert.equal((game as { durable_name: string }).durable_name, GAME_ENGINE_DURABLE);
});

Deno.test("parseProvisionArgs() takes --nats-url in both forms and --dry-run", () => {
  assert.deepEqual(parseProvisionArgs([]), { natsUrl: DEFAULT_NATS_URL, dryRun: false });
  assert.deepEqual(parseProvisionArgs(["--nats-url", "nats://10.0.0.5:4333", "--dry-run"]), {
    natsUrl: "nats://10.0.0.5:4333",
    dryRun: true,
  });
  assert.deepEqual(parseProvisionArgs(["--nats-url=nats://a:1,nats://b:2"]), {
    natsUrl: "nats://a:1,nats://b:2",
    dryRun: false,
  });
});

Deno.test("parseProvisionArgs() refuses unknown arguments, a missing value and a bad URL", () => {
  assert.throws(() => parseProvisionArgs(["--force"]), ProvisionUsageError);
  assert.throws(
    () => parseProvisionArgs(["--nats-url"]),
    (error: unknown) => error instanceof ProvisionUsageError && /needs a value/.test(error.message),
  );
  assert.throws(
    () => parseProvisionArgs(["--nats-url", "http://user:secret@host:4222"]),
    (error: unknown) =>
      error instanceof ProvisionUsageError && /not a NATS server list/.test(error.message) &&
      !error.message.includes("secret"),
  );
});

Deno.test("redactUrls() hides passwords and tokens in every entry", () => {
  assert.equal(
    redactUrls("nats://u:pw@a:4222,nats://tok@b:4222,nats://c:4222"),
    "nats://u:***@a:4222,nats://***@b:4222,nats://c:4222",
  );
});

Deno.test("planLine() says what was done, or would be done in a dry run", () => {
  const plan = (action: ProvisionPlan["action"], changes: ProvisionPlan["changes"] = []) => ({
    kind: "consumer" as const,
    name: "game-engine",
    stream: "MINING_EVENTS",
    action,
    changes,
    wanted: miningEventsConsumers()[1]!,
  });
  const drift = [{ field: "ack_wait", current: 1, wanted: 2, immutable: false }];
  assert.equal(
    planLine(plan("create"), false),
    'consumer "game-engine" on stream "MINING_EVENTS": created',
  );
  assert.equal(
    planLine(plan("update", drift), true),
    'consumer "game-engine" on stream "MINING_EVENTS": would update (ack_wait: 1 → 2)',
  );
  assert.equal(
    planLine(plan("unchanged"), false),
    'consumer "game-engine" on stream "MINING_EVENTS": unchanged',
  );
  assert.equal(
    planLine(plan("conflict", [{ ...drift[0]!, field: "ack_policy", immutable: true }]), false),
    'consumer "game-engine" on stream "MINING_EVENTS": conflict (ack_policy: 1 → 2)',
  );
});
