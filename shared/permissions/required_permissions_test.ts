import assert from "node:assert/strict";
import { validateConfig } from "../config/mod.ts";
import { requiredPermissions } from "./required_permissions.ts";

const ZMQ = "/opt/nm/zeromq";
const zmqRead = Deno.build.os === "linux" ? [ZMQ, "/etc/alpine-release"] : [ZMQ];
const BASE = {
  btcd: [
    { url: "127.0.0.1:8332", auth: "u", pass: "p" },
    { url: "http://backup.internal:8332", auth: "u", pass: "p" },
  ],
  serverurl: ["0.0.0.0:3333"],
};

Deno.test("requiredPermissions() lists a stratum's listeners and peers exactly", () => {
  const config = validateConfig("stratum", {
    ...BASE,
    zmqblock: "tcp://127.0.0.1:28332",
    redis: { url: "redis://:pw@cache.internal/1" },
    events: { nats_url: "nats://leaf-1:4222,nats://leaf-2:4223" },
    logdir: "/var/log/tbg",
    metrics: { host: "127.0.0.1", port: 9100 },
  }, "s.json");
  assert.deepEqual(
    requiredPermissions("stratum", config, {
      configPath: "/etc/tbg/stratum.json",
      env: ["TZ"],
      sys: ["hostname"],
      zeromqDir: ZMQ,
    }),
    {
      net: [
        "0.0.0.0:3333",
        "127.0.0.1:9100",
        "127.0.0.1:8332",
        "backup.internal:8332",
        "127.0.0.1:28332",
        "leaf-1:4222",
        "leaf-2:4223",
        "cache.internal:6379",
      ],
      read: ["/etc/tbg/stratum.json", ...zmqRead, "/var/log/tbg"],
      write: ["/var/log/tbg"],
      env: ["TZ"],
      ffi: [`${ZMQ}/build`],
      sys: ["hostname"],
    },
  );
});

Deno.test("requiredPermissions() asks for no ffi and no addon reads without zmqblock", () => {
  const config = validateConfig("stratum", BASE, "s.json");
  const perms = requiredPermissions("stratum", config, { configPath: "s.json", zeromqDir: ZMQ });
  assert.deepEqual(perms.ffi, []);
  // Events are on by default and spool to ./.tbg/spool without a logdir.
  assert.deepEqual(perms.read, ["s.json", "./.tbg/spool", "./.tbg/blocks"]);
  assert.deepEqual(perms.write, ["./.tbg/spool", "./.tbg/blocks"]);
  assert.deepEqual(perms.env, []);
  assert.deepEqual(perms.sys, []);
});

Deno.test("requiredPermissions() adds a separate health listener and deduplicates", () => {
  const config = validateConfig("stratum", {
    ...BASE,
    serverurl: ["0.0.0.0:3333", "0.0.0.0:3333"],
    health: { host: "0.0.0.0", port: 8080 },
  }, "s.json");
  assert.deepEqual(
    requiredPermissions("stratum", config, { configPath: "s.json" }).net.slice(0, 3),
    ["0.0.0.0:3333", "127.0.0.1:9100", "0.0.0.0:8080"],
  );
});

Deno.test("requiredPermissions() gives the relay its primary's NATS server and its spool", () => {
  const config = validateConfig("relay", {
    ...BASE,
    region_index: 1,
    primary: { host: "primary.internal", port: 8880, auth_token: "t", template_push_port: 8881 },
    events: { spool_dir: "spool/events" },
  }, "r.json");
  const perms = requiredPermissions("relay", config, {
    configPath: "cfg/relay.json",
    cwd: "/srv/tbg/",
  });
  // ckpool's template push port is accepted in the config but never dialled: no grant.
  assert.deepEqual(perms.net.slice(-2), ["127.0.0.1:4222", "primary.internal:8880"]);
  assert.deepEqual(perms.read, [
    "/srv/tbg/cfg/relay.json",
    "/srv/tbg/spool/events",
    "/srv/tbg/.tbg/blocks",
  ]);
  assert.deepEqual(perms.write, ["/srv/tbg/spool/events", "/srv/tbg/.tbg/blocks"]);
});

Deno.test("requiredPermissions() resolves . and .. in relative paths", () => {
  const config = validateConfig("collector", {
    postgres: { url: "postgres://u:p@db:5432/x" },
    redis: { url: "redis://cache" },
    logdir: "./logs/../log",
  }, "c.json");
  const perms = requiredPermissions("collector", config, {
    configPath: "../etc/c.json",
    cwd: "/srv/tbg",
  });
  assert.deepEqual(perms.read, ["/srv/etc/c.json", "/srv/tbg/log"]);
});

Deno.test("requiredPermissions() lists the collector's NATS, PostgreSQL and Redis", () => {
  const config = validateConfig("collector", {
    nats_url: "nats://hub:4222",
    postgres: { url: "postgresql://u:p@db.internal/tbg" },
    redis: { url: "rediss://cache:6380/0" },
  }, "c.json");
  assert.deepEqual(
    requiredPermissions("collector", config, { configPath: "/etc/c.json", env: ["PGHOST"] }),
    {
      net: ["127.0.0.1:9101", "hub:4222", "db.internal:5432", "cache:6380"],
      read: ["/etc/c.json"],
      write: [],
      env: ["PGHOST"],
      ffi: [],
      sys: [],
    },
  );
});

Deno.test("requiredPermissions() adds the collector's nats_monitor address, defaults filled in", () => {
  const config = validateConfig("collector", {
    nats_url: "nats://hub:4222",
    postgres: { url: "postgres://u:p@db:5432/tbg" },
    redis: { url: "redis://cache:6379" },
    nats_monitor: { url: "http://hub:8222" },
  }, "c.json");
  assert.deepEqual(config.nats_monitor, {
    url: "http://hub:8222",
    poll_ms: 15_000,
    timeout_ms: 2_000,
  });
  assert.deepEqual(
    requiredPermissions("collector", config, { configPath: "/etc/c.json" }).net,
    ["127.0.0.1:9101", "hub:4222", "db:5432", "cache:6379", "hub:8222"],
  );
  for (const url of ["nats://hub:8222", "http://hub", "http://hub:8222/varz", ""]) {
    assert.throws(
      () =>
        validateConfig("collector", {
          postgres: { url: "postgres://u:p@db:5432/tbg" },
          redis: { url: "redis://cache:6379" },
          nats_monitor: { url },
        }, "c.json"),
      /nats_monitor\.url/,
      url,
    );
  }
});

Deno.test("requiredPermissions() grants no event spool when events are off", () => {
  const config = validateConfig("stratum", { ...BASE, events: { enabled: false } }, "s.json");
  const perms = requiredPermissions("stratum", config, { configPath: "s.json", zeromqDir: ZMQ });
  // Found blocks are kept whatever the events setting.
  assert.deepEqual(perms.read, ["s.json", "./.tbg/blocks"]);
  assert.deepEqual(perms.write, ["./.tbg/blocks"]);
});

Deno.test("requiredPermissions() grants TLS listeners, the loopback relay and reads of the cert and key", () => {
  const config = validateConfig("stratum", {
    ...BASE,
    serverurl_tls: ["0.0.0.0:4333", "0.0.0.0:4333"],
    tls: { cert_file: "tls/pool.crt", key_file: "/etc/tbg/tls/pool.key" },
    events: { enabled: false },
  }, "s.json");
  const perms = requiredPermissions("stratum", config, { configPath: "s.json", cwd: "/srv/tbg" });
  // The loopback TLS server's port is the kernel's choice: the host is granted, any port.
  assert.deepEqual(perms.net, [
    "0.0.0.0:3333",
    "0.0.0.0:4333",
    "127.0.0.1:9100",
    "127.0.0.1:8332",
    "backup.internal:8332",
    "127.0.0.1:4222",
    "127.0.0.1",
  ]);
  assert.deepEqual(perms.read, [
    "/srv/tbg/s.json",
    "/srv/tbg/.tbg/blocks",
    "/srv/tbg/tls/pool.crt",
    "/etc/tbg/tls/pool.key",
  ]);
  assert.deepEqual(perms.write, ["/srv/tbg/.tbg/blocks"]);
});

Deno.test("requiredPermissions() gives a relay's TLS listeners the same grants", () => {
  const config = validateConfig("relay", {
    ...BASE,
    serverurl_tls: ["0.0.0.0:4333"],
    tls: { cert_file: "/etc/tbg/tls/relay.crt", key_file: "/etc/tbg/tls/relay.key" },
    region_index: 1,
    primary: { host: "primary.internal", port: 4222, auth_token: "t" },
    events: { enabled: false },
  }, "r.json");
  const perms = requiredPermissions("relay", config, { configPath: "/etc/tbg/relay.json" });
  assert.ok(perms.net.includes("0.0.0.0:4333"));
  assert.ok(perms.net.includes("127.0.0.1"));
  assert.deepEqual(perms.read, [
    "/etc/tbg/relay.json",
    "./.tbg/blocks",
    "/etc/tbg/tls/relay.crt",
    "/etc/tbg/tls/relay.key",
  ]);
});
