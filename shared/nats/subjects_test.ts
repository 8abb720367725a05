import assert from "node:assert/strict";
import { ALL_EVENT_TYPES, type EventType } from "../events/event_type.ts";
import {
  assertSubjectToken,
  blockSubmitSubject,
  EVENTS_WILDCARD,
  eventSubject,
  eventSubjects,
  eventTypeWildcard,
  HEARTBEATS_WILDCARD,
  heartbeatSubject,
  hubToRegionInboxPrefix,
  regionEventsWildcard,
  regionInboxPrefix,
  templateLiveSubject,
  templateSubject,
} from "./subjects.ts";

Deno.test("eventSubject() builds mining.events.{region}.{type}", () => {
  assert.equal(eventSubject("eu", "share_submitted"), "mining.events.eu.share_submitted");
  assert.equal(eventSubject("us-east", "block_found"), "mining.events.us-east.block_found");
  assert.equal(eventSubject("asia_1", "miner_connected"), "mining.events.asia_1.miner_connected");
});

Deno.test("eventSubjects() matches eventSubject() for every type and is frozen", () => {
  const table = eventSubjects("eu");
  for (const type of ALL_EVENT_TYPES) assert.equal(table[type], eventSubject("eu", type));
  assert.ok(Object.isFrozen(table));
});

Deno.test("every event subject falls under EVENTS_WILDCARD and the narrower wildcards", () => {
  assert.equal(EVENTS_WILDCARD, "mining.events.>");
  assert.equal(regionEventsWildcard("eu"), "mining.events.eu.>");
  assert.equal(eventTypeWildcard("share_submitted"), "mining.events.*.share_submitted");
  for (const type of ALL_EVENT_TYPES) {
    assert.ok(eventSubject("eu", type).startsWith("mining.events."));
  }
});

Deno.test("templateSubject(), heartbeatSubject() and blockSubmitSubject name their subjects", () => {
  assert.equal(templateSubject("mainnet"), "mining.templates.mainnet");
  assert.equal(templateSubject("testnet4"), "mining.templates.testnet4");
  assert.equal(templateLiveSubject("mainnet"), "mining.templates.mainnet.live");
  assert.throws(() => templateLiveSubject("main.net"), RangeError);
  assert.equal(heartbeatSubject("eu"), "mining.heartbeat.eu");
  assert.equal(blockSubmitSubject, "mining.blocks.submit");
});

const BAD_TOKENS = [
  "",
  ".",
  "eu.west",
  "*",
  ">",
  "eu*",
  "e>",
  " eu",
  "eu ",
  "e u",
  "eu\t",
  "eu\n",
  "ü",
  "eu/1",
];

for (const token of BAD_TOKENS) {
  Deno.test(`assertSubjectToken() rejects ${JSON.stringify(token)} with a RangeError naming it`, () => {
    assert.throws(
      () => assertSubjectToken(token, "region"),
      (error: unknown) =>
        error instanceof RangeError &&
        error.message.startsWith(`Cannot use ${JSON.stringify(token)} as region: `),
    );
  });
}

Deno.test("subject builders reject bad region and network tokens", () => {
  assert.throws(() => eventSubject("eu.*", "share_submitted"), RangeError);
  assert.throws(() => eventSubjects(">"), RangeError);
  assert.throws(() => templateSubject("main net"), RangeError);
  assert.throws(() => heartbeatSubject(""), RangeError);
  assert.throws(() => regionEventsWildcard("*"), RangeError);
  assert.throws(() => regionInboxPrefix("us-east.>"), RangeError);
});

Deno.test("regionInboxPrefix() puts a relay region's inboxes under _INBOX.{region}", () => {
  assert.equal(regionInboxPrefix("us-east"), "_INBOX.us-east");
  assert.equal(regionInboxPrefix("asia"), "_INBOX.asia");
  assert.equal(hubToRegionInboxPrefix("asia"), "_INBOX.asia.hub");
  assert.throws(() => hubToRegionInboxPrefix("*"), RangeError);
  assert.equal(HEARTBEATS_WILDCARD, heartbeatSubject("eu").replace(/eu$/, "*"));
});

Deno.test("eventSubject() rejects a type that is not an event type", () => {
  assert.throws(() => eventSubject("eu", "shares.>" as EventType), /is not an event type/);
  assert.throws(() => eventTypeWildcard("*" as EventType), RangeError);
});

Deno.test("assertSubjectToken() accepts letters, digits, dash and underscore", () => {
  for (const token of ["eu", "US-East", "asia_2", "0", "a-b_c-9"]) assertSubjectToken(token);
});
