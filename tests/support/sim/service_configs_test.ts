import assert from "node:assert/strict";
import { validateConfig } from "@tbg/shared/config";
import {
  collectorConfig,
  primaryConfig,
  relayConfig,
  SIM_RELAY_AUTH_TOKEN,
} from "./service_configs.ts";
import { DEFAULT_RELAYS, planSimulation } from "./sim_options.ts";

const plan = planSimulation();
const node = {
  rpcPort: 18443,
  zmqUrl: "tcp://127.0.0.1:28332",
  user: "devnet",
  password: "devnet",
};
const placement = {
  stratumPort: 3333,
  metricsPort: 9100,
  spoolDir: "/tmp/sim-spool",
  blocksDir: "/tmp/sim-blocks",
};

Deno.test("the primary's config passes the stratum loader and publishes templates", () => {
  const config = validateConfig(
    "stratum",
    primaryConfig(plan, node, placement, "nats://127.0.0.1:4222"),
    "primary.json",
  );
  assert.equal(config.region, "eu");
  assert.equal(config.templates.publish, true);
  assert.deepEqual(config.templates.relay_auth_tokens, [SIM_RELAY_AUTH_TOKEN]);
  assert.equal(config.events.nats_url, "nats://127.0.0.1:4222");
  assert.equal(config.update_interval, plan.updateIntervalS);
});

Deno.test("a relay's config passes the relay loader and reaches the hub through its leaf", () => {
  const relay = DEFAULT_RELAYS[1]!;
  const config = validateConfig(
    "relay",
    relayConfig(plan, relay, node, placement, 4333),
    "relay.json",
  );
  assert.equal(config.region, "asia");
  assert.equal(config.region_index, relay.regionIndex);
  assert.equal(config.primary.port, 4333);
  assert.equal(config.primary.jetstream_domain, "hub");
  assert.equal(config.primary.auth_token, SIM_RELAY_AUTH_TOKEN);
  assert.equal(config.events.nats_url, "nats://127.0.0.1:4333");
  assert.equal(config.independent_after_ms, plan.independentAfterMs);
});

Deno.test("the collector's config passes the collector loader", () => {
  const config = validateConfig(
    "collector",
    collectorConfig(
      "nats://127.0.0.1:4222",
      "postgres://postgres@127.0.0.1:5432/tbg",
      "redis://127.0.0.1:6379",
      9101,
      "http://127.0.0.1:8222",
    ),
    "collector.json",
  );
  assert.equal(config.stream, "MINING_EVENTS");
  assert.equal(config.nats_monitor?.url, "http://127.0.0.1:8222");
  assert.equal(config.migrate_on_start, true);
});
