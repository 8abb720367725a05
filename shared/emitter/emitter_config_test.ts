import assert from "node:assert/strict";
import { ConfigError, validateConfig } from "../config/mod.ts";
import { PoolMetrics } from "../metrics/mod.ts";
import {
  emitterOptionsFromConfig,
  resolveSpoolDir,
  spoolLockedConfigError,
} from "./emitter_config.ts";
import { SpoolLockedError } from "./spool_lock.ts";
import { RecordingLogger } from "./_test_logger.ts";

const BASE = {
  btcd: [{ url: "127.0.0.1:8332", auth: "u", pass: "p" }],
  serverurl: ["0.0.0.0:3333"],
};

Deno.test("resolveSpoolDir() prefers events.spool_dir, then <logdir>/spool, then ./.tbg/spool", () => {
  assert.equal(resolveSpoolDir("/var/spool/tbg", "/var/log/tbg"), "/var/spool/tbg");
  assert.equal(resolveSpoolDir(undefined, "/var/log/tbg"), "/var/log/tbg/spool");
  assert.equal(resolveSpoolDir(undefined, undefined), "./.tbg/spool");
});

Deno.test("emitterOptionsFromConfig() takes region, include, buffer size and spool from events", () => {
  const config = validateConfig("stratum", {
    ...BASE,
    region: "us-east",
    logdir: "/var/log/tbg",
    events: {
      nats_url: "nats://leaf-1:4222, nats://leaf-2:4223",
      include: ["share_submitted", "block_found"],
      buffer_size: 1024,
    },
  }, "s.json");
  const metrics = new PoolMetrics({ region: "us-east", instance: "stratum-us-east-0" });
  const options = emitterOptionsFromConfig(config, {
    source: "stratum-us-east-0",
    metrics,
    log: new RecordingLogger(),
  });
  assert.equal(options.region, "us-east");
  assert.equal(options.source, "stratum-us-east-0");
  assert.deepEqual(options.include, ["share_submitted", "block_found"]);
  assert.equal(options.subjectPrefix, "mining.events.us-east");
  assert.equal(options.bufferSize, 1024);
  assert.equal(options.spoolDir, "/var/log/tbg/spool");
  assert.equal(options.metrics, metrics);
});

Deno.test("emitterOptionsFromConfig() uses events.nats_subject as the subject prefix when set", () => {
  const config = validateConfig("stratum", {
    ...BASE,
    events: { nats_subject: "test.events.eu", spool_dir: "/srv/spool" },
  }, "s.json");
  const options = emitterOptionsFromConfig(config, {
    source: "s",
    metrics: new PoolMetrics({ region: "eu", instance: "s" }),
    log: new RecordingLogger(),
  });
  assert.equal(options.subjectPrefix, "test.events.eu");
  assert.equal(options.spoolDir, "/srv/spool");
  assert.equal(options.bufferSize, 65_536);
});

Deno.test("spoolLockedConfigError() names events.spool_dir, the directory and the holder", () => {
  const locked = new SpoolLockedError("/srv/spool", "/srv/spool/spool.lock", 4242);
  const error = spoolLockedConfigError(locked, { events: { spool_dir: "/srv/spool" } }, "s.json");
  assert.ok(error instanceof ConfigError);
  assert.equal(error.exitCode, 2);
  assert.equal(error.cause, locked);
  assert.equal(
    error.message,
    "Invalid config s.json: events.spool_dir: /srv/spool is in use by process 4242 " +
      "(it holds /srv/spool/spool.lock); give each process its own events.spool_dir",
  );
});

Deno.test("spoolLockedConfigError() says where an unset events.spool_dir put the spool", () => {
  const underLogdir = spoolLockedConfigError(
    new SpoolLockedError("/var/log/tbg/spool", "/var/log/tbg/spool/spool.lock", null),
    { events: {}, logdir: "/var/log/tbg" },
    "s.json",
  );
  assert.equal(
    underLogdir.message,
    "Invalid config s.json: events.spool_dir: not set, so events spool to /var/log/tbg/spool " +
      "(under logdir), which is in use by another process (it holds " +
      "/var/log/tbg/spool/spool.lock); give each process its own events.spool_dir",
  );
  const fallback = spoolLockedConfigError(
    new SpoolLockedError("./.tbg/spool", "./.tbg/spool/spool.lock", 7),
    { events: {} },
    "s.json",
  );
  assert.match(
    fallback.message,
    /events\.spool_dir: not set and no logdir, so events spool to \.\/\.tbg\/spool, which is in use by process 7/,
  );
});
