import assert from "node:assert/strict";
import { ConfigError } from "./config_error.ts";
import {
  configSchema,
  loadConfig,
  parseConfig,
  SERVICE_KINDS,
  validateConfig,
} from "./load_config.ts";
import { EVENT_TYPE_NAMES } from "./engine_schema.ts";

const PATH = "/etc/tbg/stratum.json";
const MINIMAL = {
  btcd: [{ url: "127.0.0.1:8332", auth: "user", pass: "pass" }],
  serverurl: ["0.0.0.0:3333"],
};
const RELAY = {
  ...MINIMAL,
  region_index: 1,
  primary: {
    host: "primary.internal",
    port: 8880,
    auth_token: "secret",
    template_push_port: 8881,
  },
};
const COLLECTOR = {
  postgres: { url: "postgres://tbg:tbg@127.0.0.1:5432/tbg" },
  redis: { url: "redis://127.0.0.1:6379" },
};
const MAINNET_ADDRESS = "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4";
const infraConfig = (name: string): string =>
  new URL(`../../infra/config/${name}`, import.meta.url).pathname;

function stratumError(value: unknown): ConfigError {
  try {
    validateConfig("stratum", value, PATH);
  } catch (error: unknown) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  assert.fail("expected a ConfigError");
}

Deno.test("validateConfig() fills in ckpool's and the seed's defaults", () => {
  const config = validateConfig("stratum", MINIMAL, PATH);
  assert.equal(config.network, undefined);
  assert.equal(config.btcsig, "/TheBitcoinGame/");
  assert.equal(config.blockpoll, 100);
  assert.equal(config.donation, 0);
  assert.equal(config.update_interval, 30);
  assert.equal(config.mindiff, 1);
  assert.equal(config.startdiff, 42);
  assert.equal(config.maxdiff, 0);
  assert.equal(config.version_mask, "1fffe000");
  assert.equal(config.nonce1length, 4);
  assert.equal(config.nonce2length, 8);
  assert.equal(config.maxclients, 100000);
  assert.equal(config.reuse_port, false);
  assert.equal(config.region, "eu");
  assert.equal(config.btcd[0]?.notify, false);
  assert.deepEqual(config.events, {
    enabled: true,
    nats_url: "nats://127.0.0.1:4222",
    include: [...EVENT_TYPE_NAMES],
    buffer_size: 65536,
  });
  assert.deepEqual(config.vardiff, {
    target_share_interval: 10,
    retarget_interval: 30,
    ema_alpha: 0.3,
    dampening: 0.5,
    dead_band_percent: 20,
    reconnect_memory_ttl: 86400,
  });
  assert.deepEqual(config.metrics, {
    enabled: true,
    host: "127.0.0.1",
    port: 9100,
    path: "/metrics",
    max_connections: 64,
    header_timeout_ms: 5_000,
    idle_timeout_ms: 15_000,
  });
  assert.equal(config.dropidle, 3600);
  assert.deepEqual(config.rate_limits, {
    connections_per_ip_per_minute: 10,
    max_connections_per_ip: 50,
    ipv4_prefix_length: 32,
    ipv6_prefix_length: 64,
    max_subscribes_per_minute: 3,
    max_authorizes_per_minute: 5,
    max_shares_per_minute: 1000,
    submit_ban_seconds: 300,
    max_invalid_shares_per_minute: 100,
    max_invalid_requests_per_minute: 100,
    max_configures_per_minute: 10,
    max_suggest_difficulty_per_minute: 10,
  });
});

Deno.test("validateConfig() fills in a partly given section's other keys", () => {
  const config = validateConfig("stratum", {
    ...MINIMAL,
    rate_limits: { max_shares_per_minute: 600 },
  }, PATH);
  assert.equal(config.rate_limits.max_shares_per_minute, 600);
  assert.equal(config.rate_limits.submit_ban_seconds, 300);
});

Deno.test("validateConfig() names an IPv6 prefix length outside 48-128 with its key", () => {
  const error = stratumError({ ...MINIMAL, rate_limits: { ipv6_prefix_length: 32 } });
  assert.equal(
    error.message,
    `Invalid config ${PATH}: rate_limits.ipv6_prefix_length: expected an integer from 48 to 128, got 32`,
  );
});

Deno.test("validateConfig() accepts fractional difficulties such as 0.0001", () => {
  const config = validateConfig(
    "stratum",
    { ...MINIMAL, mindiff: 0.0001, startdiff: 0.0001 },
    PATH,
  );
  assert.equal(config.mindiff, 0.0001);
  assert.equal(config.startdiff, 0.0001);
});

Deno.test("validateConfig() names an out-of-range value with its key path", () => {
  const error = stratumError({ ...MINIMAL, rate_limits: { max_shares_per_minute: -5 } });
  assert.equal(
    error.message,
    `Invalid config ${PATH}: rate_limits.max_shares_per_minute: expected an integer from 1 to 65535, got -5`,
  );
  assert.equal(error.exitCode, 2);
  assert.equal(error.name, "ConfigError");
  assert.deepEqual(error.issues, [{
    path: "rate_limits.max_shares_per_minute",
    message: "expected an integer from 1 to 65535, got -5",
  }]);
});

Deno.test("validateConfig() takes dropidle 0 (never) and refuses a negative or fractional one", () => {
  assert.equal(validateConfig("stratum", { ...MINIMAL, dropidle: 0 }, PATH).dropidle, 0);
  for (const value of [-1, 1.5, "600"]) {
    const error = stratumError({ ...MINIMAL, dropidle: value });
    assert.equal(error.issues[0]?.path, "dropidle", JSON.stringify(error.issues));
  }
});

Deno.test("validateConfig() keeps a config that raised only max_shares_per_minute valid", () => {
  const config = validateConfig("stratum", {
    ...MINIMAL,
    rate_limits: { max_shares_per_minute: 10_000 },
  }, PATH);
  assert.equal(config.rate_limits.max_requests_per_minute, undefined);
});

Deno.test("validateConfig() refuses a line budget below the submit limit, naming the key", () => {
  const error = stratumError({
    ...MINIMAL,
    rate_limits: { max_requests_per_minute: 500 },
  });
  assert.deepEqual(error.issues, [{
    path: "rate_limits.max_requests_per_minute",
    message:
      "expected at least max_shares_per_minute (1000), or the connection is closed before the submit soft-ban can act; got 500",
  }]);
});

Deno.test("validateConfig() suggests the key an unknown top-level key was meant to be", () => {
  assert.equal(
    stratumError({ ...MINIMAL, mindif: 1 }).message,
    `Invalid config ${PATH}: unknown key "mindif" at top level (did you mean "mindiff"?)`,
  );
});

Deno.test("validateConfig() suggests only keys the section does not already have", () => {
  assert.equal(
    stratumError({ ...MINIMAL, mindiff: 1, mindif: 1 }).message,
    `Invalid config ${PATH}: unknown key "mindif" at top level`,
  );
  assert.equal(
    stratumError({ ...MINIMAL, rate_limits: { max_share_per_minute: 5 } }).message,
    `Invalid config ${PATH}: rate_limits: unknown key "max_share_per_minute" (did you mean "max_shares_per_minute"?)`,
  );
});

Deno.test("validateConfig() rejects unknown keys inside array elements", () => {
  assert.equal(
    stratumError({
      btcd: [{ url: "127.0.0.1:8332", auth: "u", pass: "p", pasword: "x" }],
      serverurl: ["0.0.0.0:1"],
    })
      .message,
    `Invalid config ${PATH}: btcd[0]: unknown key "pasword"`,
  );
});

Deno.test("validateConfig() words a wrong JSON type with the type and value found", () => {
  assert.equal(
    stratumError({ ...MINIMAL, mindiff: "abc" }).message,
    `Invalid config ${PATH}: mindiff: expected a number, got string "abc"`,
  );
  assert.equal(
    stratumError({ ...MINIMAL, metrics: { enabled: "yes" } }).message,
    `Invalid config ${PATH}: metrics.enabled: expected a boolean, got string "yes"`,
  );
  assert.equal(
    stratumError({ ...MINIMAL, events: [] }).message,
    `Invalid config ${PATH}: events: expected an object, got an empty array`,
  );
});

Deno.test("validateConfig() explains difficulty keys accept fractions", () => {
  assert.equal(
    stratumError({ ...MINIMAL, mindiff: 0 }).message,
    `Invalid config ${PATH}: mindiff: expected a positive number (fractions such as 0.0001 allowed), got 0`,
  );
});

Deno.test("validateConfig() requires btcd urls in ckpool's form", () => {
  assert.equal(
    stratumError({ ...MINIMAL, btcd: [{ url: "localhost", auth: "u", pass: "p" }] }).message,
    `Invalid config ${PATH}: btcd[0].url: expected "host:port" or "http://host:port", got "localhost"`,
  );
});

Deno.test("validateConfig() reports missing required keys", () => {
  assert.equal(
    stratumError({ serverurl: ["0.0.0.0:3333"] }).message,
    `Invalid config ${PATH}: btcd: is required (expected at least one bitcoind entry {"url", "auth", "pass", "notify"})`,
  );
  assert.equal(
    stratumError({ ...MINIMAL, btcd: [] }).message,
    `Invalid config ${PATH}: btcd: expected at least one bitcoind entry {"url", "auth", "pass", "notify"}, got an empty array`,
  );
});

Deno.test("validateConfig() lists every problem in one message", () => {
  const error = stratumError({ ...MINIMAL, nonce1length: 9, region: "US East" });
  assert.deepEqual(error.issues, [
    { path: "nonce1length", message: "expected an integer from 4 to 8, got 9" },
    {
      path: "region",
      message: 'expected a slug of 1 to 32 characters from [a-z0-9-], got "US East"',
    },
  ]);
  assert.equal(
    error.message,
    `Invalid config ${PATH}: nonce1length: expected an integer from 4 to 8, got 9; region: expected a slug of 1 to 32 characters from [a-z0-9-], got "US East"`,
  );
});

Deno.test("validateConfig() keeps secret values out of messages", () => {
  const error = stratumError({
    ...MINIMAL,
    btcd: [{ url: "127.0.0.1:8332", auth: "u", pass: 12345 }],
  });
  assert.equal(
    error.message,
    `Invalid config ${PATH}: btcd[0].pass: expected a string, got a number (value hidden: secret key)`,
  );
  const collector = (() => {
    try {
      validateConfig(
        "collector",
        { ...COLLECTOR, postgres: { url: "mysql://root:hunter2@db/x" } },
        PATH,
      );
    } catch (error: unknown) {
      return error instanceof Error ? error.message : "";
    }
    return "";
  })();
  assert.match(
    collector,
    /postgres\.url: expected "postgres:\/\/user:password@host\[:port\]\/database"/,
  );
  assert.doesNotMatch(collector, /hunter2/);
});

Deno.test("validateConfig() suggests a near-miss enum value", () => {
  assert.match(
    stratumError({ ...MINIMAL, events: { include: ["share_submited"] } }).message,
    /events\.include\[0\]: expected an event type: "share_submitted", .*, got "share_submited" \(did you mean "share_submitted"\?\)$/,
  );
});

Deno.test("validateConfig() enforces mindiff ≤ startdiff ≤ maxdiff when maxdiff is set", () => {
  assert.equal(
    stratumError({ ...MINIMAL, mindiff: 512 }).message,
    `Invalid config ${PATH}: startdiff: expected at least mindiff (512), got 42`,
  );
  assert.equal(
    stratumError({ ...MINIMAL, maxdiff: 10 }).message,
    `Invalid config ${PATH}: maxdiff: expected 0 (no maximum) or at least startdiff (42), got 10`,
  );
  assert.equal(validateConfig("stratum", { ...MINIMAL, maxdiff: 42 }, PATH).maxdiff, 42);
});

Deno.test("validateConfig() requires btcaddress when a donation is configured", () => {
  assert.equal(
    stratumError({ ...MINIMAL, donation: 1.5 }).message,
    `Invalid config ${PATH}: btcaddress: is required when donation is above 0 (donation is 1.5)`,
  );
  const config = validateConfig("stratum", {
    ...MINIMAL,
    donation: 1.5,
    btcaddress: MAINNET_ADDRESS,
  }, PATH);
  assert.equal(config.btcaddress, MAINNET_ADDRESS);
});

Deno.test("validateConfig() rejects a btcaddress with a bad checksum", () => {
  assert.equal(
    stratumError({ ...MINIMAL, btcaddress: MAINNET_ADDRESS.slice(0, -1) + "5" }).message,
    `Invalid config ${PATH}: btcaddress: Cannot decode address: bech32 checksum is invalid`,
  );
});

Deno.test("validateConfig() rejects a btcaddress of another network than the configured one", () => {
  assert.equal(
    stratumError({ ...MINIMAL, network: "regtest", btcaddress: MAINNET_ADDRESS }).message,
    `Invalid config ${PATH}: btcaddress: ${MAINNET_ADDRESS} is a mainnet address, but network is "regtest"`,
  );
});

Deno.test("validateConfig() rejects a btcsig that is not printable ASCII or too long", () => {
  assert.equal(
    stratumError({ ...MINIMAL, btcsig: "tag\n" }).message,
    `Invalid config ${PATH}: btcsig: expected printable ASCII of at most 73 characters, got "tag\\n"`,
  );
  assert.match(
    stratumError({ ...MINIMAL, btcsig: "x".repeat(74) }).message,
    /^Invalid config .*: btcsig: expected printable ASCII of at most 73 characters/,
  );
  assert.equal(
    validateConfig("stratum", { ...MINIMAL, btcsig: "x".repeat(73) }, PATH).btcsig.length,
    73,
  );
});

Deno.test("validateConfig() checks the relay's primary section and defaults", () => {
  const relay = validateConfig("relay", RELAY, PATH);
  assert.equal(relay.mode, "passthrough");
  assert.equal(relay.primary.reconnect_interval, 5);
  assert.equal(relay.independent_after_ms, 10000);
  assert.throws(
    () => validateConfig("relay", { ...MINIMAL, region_index: 1 }, PATH),
    { message: `Invalid config ${PATH}: primary: is required (expected an object)` },
  );
  assert.throws(
    () => validateConfig("relay", { ...RELAY, mode: "proxy" }, PATH),
    { message: `Invalid config ${PATH}: mode: expected one of "passthrough", got "proxy"` },
  );
});

Deno.test("validateConfig() rejects relay keys in a stratum config", () => {
  assert.equal(
    stratumError({ ...MINIMAL, primary: RELAY.primary }).message,
    `Invalid config ${PATH}: unknown key "primary" at top level`,
  );
});

Deno.test("validateConfig() fills in the collector's defaults", () => {
  const config = validateConfig("collector", COLLECTOR, PATH);
  assert.equal(config.nats_url, "nats://127.0.0.1:4222");
  assert.deepEqual(config.batch, { max_events: 1000, max_wait_ms: 50, summary_fold_ms: 10000 });
  assert.equal(config.stream, "MINING_EVENTS");
  assert.equal(config.durable, "event-pipeline");
  assert.equal(config.migrate_on_start, false);
  assert.equal(config.metrics.port, 9101);
  assert.throws(
    () => validateConfig("collector", { ...COLLECTOR, stream: "MINING.EVENTS" }, PATH),
    {
      message:
        `Invalid config ${PATH}: stream: expected a JetStream name of letters, digits, '_' and '-', got "MINING.EVENTS"`,
    },
  );
});

Deno.test("parseConfig() reports invalid JSON with line and column", () => {
  assert.throws(() => parseConfig("stratum", '{\n  "mindiff": 1,\n}', PATH), {
    name: "ConfigError",
    message:
      `Invalid config ${PATH}: invalid JSON at line 3, column 1: unexpected "}" after "," (trailing commas are not allowed in JSON)`,
  });
});

Deno.test("parseConfig() ignores a UTF-8 byte order mark", () => {
  assert.equal(parseConfig("stratum", `\uFEFF${JSON.stringify(MINIMAL)}`, PATH).region, "eu");
});

Deno.test("loadConfig() reports a missing file as a ConfigError", () => {
  assert.throws(() => loadConfig("stratum", "/nonexistent/tbg.json"), {
    name: "ConfigError",
    message: "Invalid config /nonexistent/tbg.json: cannot read file: no such file",
  });
});

Deno.test("loadConfig() loads the seed's mainnet config unchanged", () => {
  const config = loadConfig("stratum", infraConfig("stratum.mainnet.json"));
  assert.equal(config.mindiff, 512);
  assert.equal(config.startdiff, 10000);
  assert.equal(config.btcd[0]?.auth, "ckpool_primary");
  assert.equal(config.events.socket_path, "/var/run/ckpool/events.sock");
  assert.equal(config.zmqblock, "tcp://127.0.0.1:28332");
  assert.equal(config.rate_limits.max_subscribes_per_minute, 3);
});

Deno.test("loadConfig() loads every example config in infra/config", () => {
  const devnet = loadConfig("stratum", infraConfig("stratum.devnet.json"));
  assert.equal(devnet.network, "regtest");
  assert.equal(devnet.mindiff, 0.0001);
  assert.equal(loadConfig("relay", infraConfig("relay.us-east.json")).region, "us-east");
  assert.equal(
    loadConfig("collector", infraConfig("collector.devnet.json")).migrate_on_start,
    true,
  );
});

Deno.test("configSchema() builds each kind's schema once and hands out that one", () => {
  for (const kind of SERVICE_KINDS) {
    assert.equal(configSchema(kind), configSchema(kind), kind);
  }
  assert.notEqual(configSchema("stratum"), configSchema("relay"));
});
