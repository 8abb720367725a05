import assert from "node:assert/strict";
import { AckPolicy, DeliverPolicy } from "nats/jetstream";
import { ACK_WAIT_MS, consumerConfig, consumerFilter, MAX_ACK_PENDING } from "./jetstream_setup.ts";

Deno.test("consumerFilter() takes every region or one region's events", () => {
  assert.equal(consumerFilter(undefined), "mining.events.>");
  assert.equal(consumerFilter("us-east"), "mining.events.us-east.>");
  assert.throws(() => consumerFilter("eu.*"), RangeError);
});

Deno.test("consumerConfig() is a durable explicit-ack pull consumer from the stream's start", () => {
  const config = consumerConfig("event-pipeline", "mining.events.>");
  assert.equal(config.durable_name, "event-pipeline");
  assert.equal(config.ack_policy, AckPolicy.Explicit);
  assert.equal(config.deliver_policy, DeliverPolicy.All);
  assert.equal(config.ack_wait, ACK_WAIT_MS * 1_000_000);
  assert.equal(config.max_ack_pending, MAX_ACK_PENDING);
  assert.equal(config.max_deliver, -1);
  assert.equal(config.filter_subject, "mining.events.>");
  assert.equal(config.deliver_subject, undefined, "pull consumers have no deliver subject");
});
