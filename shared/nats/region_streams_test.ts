import assert from "node:assert/strict";
import type { StreamAPI } from "nats/jetstream";
import {
  HUB_JETSTREAM_DOMAIN,
  hubMiningEventsStreamConfig,
  jetStreamApiPrefix,
  regionEventsSource,
  regionEventsStreamConfig,
  regionEventsStreamName,
  sourceDeliverPrefix,
} from "./region_streams.ts";
import { miningEventsStreamConfig } from "./stream.ts";

/** What `jsm.streams.add()` accepts. */
type StreamAddConfig = Parameters<StreamAPI["add"]>[0];

// Type-level check: both configurations must be accepted by the client as they are.
const _edge: StreamAddConfig = regionEventsStreamConfig("us-east");
const _hub: StreamAddConfig = hubMiningEventsStreamConfig(["us-east"]);
void _edge;
void _hub;

Deno.test("regionEventsStreamName() maps a region slug to one stream-name token", () => {
  assert.equal(regionEventsStreamName("us-east"), "MINING_EVENTS_US_EAST");
  assert.equal(regionEventsStreamName("asia"), "MINING_EVENTS_ASIA");
});

Deno.test("regionEventsStreamName() refuses what is not a region slug", () => {
  for (const bad of ["", "US", "us_east", "us.east", "*", ">", "a b", "x".repeat(33)]) {
    assert.throws(() => regionEventsStreamName(bad), RangeError, bad);
  }
});

Deno.test("regionEventsStreamConfig() binds only its own region's subjects", () => {
  const config = regionEventsStreamConfig("us-east");
  assert.deepEqual(config.subjects, ["mining.events.us-east.>"]);
  assert.equal(config.name, "MINING_EVENTS_US_EAST");
  assert.equal(config.storage, "file");
  assert.equal(config.retention, "limits");
  assert.equal(config.discard, "old");
  // Same de-duplication window as the hub, so an emitter's retried publish is dropped at the edge.
  assert.equal(config.duplicate_window, miningEventsStreamConfig().duplicate_window);
  assert.equal(config.max_age, 24 * 3600 * 1_000_000_000);
  assert.equal(config.max_bytes, 8 * 1024 ** 3);
});

Deno.test("regionEventsStreamConfig() returns a fresh copy each call", () => {
  const first = regionEventsStreamConfig("asia");
  first.subjects.push("mining.events.eu.>");
  assert.deepEqual(regionEventsStreamConfig("asia").subjects, ["mining.events.asia.>"]);
});

Deno.test("regionEventsSource() reads the leaf stream through the region's domain", () => {
  assert.deepEqual(regionEventsSource("asia"), {
    name: "MINING_EVENTS_ASIA",
    external: { api: "$JS.asia.API", deliver: "$JS.S.asia" },
  });
  assert.equal(sourceDeliverPrefix("us-east"), "$JS.S.us-east");
  assert.throws(() => sourceDeliverPrefix("us.east"), RangeError);
  assert.equal(jetStreamApiPrefix(HUB_JETSTREAM_DOMAIN), "$JS.hub.API");
});

Deno.test("hubMiningEventsStreamConfig() is MINING_EVENTS plus one source per region", () => {
  const config = hubMiningEventsStreamConfig(["us-east", "asia"]);
  const { sources, ...rest } = config;
  assert.deepEqual(rest, miningEventsStreamConfig());
  assert.deepEqual(sources.map((source) => source.name), [
    "MINING_EVENTS_US_EAST",
    "MINING_EVENTS_ASIA",
  ]);
  assert.deepEqual(hubMiningEventsStreamConfig([]).sources, []);
});

Deno.test("hubMiningEventsStreamConfig() refuses the hub's domain and repeated regions", () => {
  assert.throws(() => hubMiningEventsStreamConfig(["hub"]), /hub's own JetStream domain/);
  assert.throws(() => hubMiningEventsStreamConfig(["asia", "asia"]), /twice/);
  assert.throws(() => hubMiningEventsStreamConfig(["Asia"]), RangeError);
});
