import assert from "node:assert/strict";
import { ALL_EVENT_TYPES } from "../events/mod.ts";
import { RecordingLogger } from "./_test_logger.ts";
import type { EmitterMetrics } from "./emitter_metrics.ts";
import { EventEmitter } from "./event_emitter.ts";

const SHARE = {
  user: "bcrt1qexampleuser0",
  worker: "rig1",
  session_id: "0a",
  job_id: "1",
  share_diff: 1,
  pool_diff: 1024,
  accepted: false,
  reject_reason: "low_difficulty",
  block_candidate: false,
} as const;

/** An emitter that is never started: `emit()` only fills its buffer, which is all these need. */
function emitterObserving(observed: number[]): EventEmitter {
  const ignore = { inc: () => {}, set: () => {} };
  const metrics: EmitterMetrics = {
    eventEmitLatencyUs: { observe: (us: number) => observed.push(us) },
    eventBufferDepth: ignore,
    eventSpoolBytes: ignore,
    eventPublishErrors: ignore,
    eventsPublished: ignore,
    eventsSpooled: ignore,
    eventsDropped: ignore,
    spoolWriteFailures: ignore,
  };
  return new EventEmitter({
    region: "eu",
    source: "stratum-eu-1",
    include: ALL_EVENT_TYPES,
    bufferSize: 16,
    spoolDir: "/nonexistent/never-opened",
    connector: () => Promise.reject(new Error("never connected in this test")),
    metrics,
    log: new RecordingLogger(),
  });
}

Deno.test("EventEmitter.emit() times the hand-off from the share verdict it is given", () => {
  const observed: number[] = [];
  const emitter = emitterObserving(observed);
  // A verdict 5 ms in the past: the observation includes those 5 ms, whatever the machine.
  emitter.emit("share_submitted", SHARE, performance.now() - 5);
  assert.equal(observed.length, 1);
  assert.ok(observed[0]! >= 5_000, `observed ${observed[0]} µs`);
  assert.equal(emitter.status().buffered, 1);
});

Deno.test("EventEmitter.emit() without a verdict time measures from the call", () => {
  const observed: number[] = [];
  const emitter = emitterObserving(observed);
  const before = performance.now();
  emitter.emit("share_submitted", SHARE);
  const elapsedUs = (performance.now() - before) * 1000;
  assert.equal(observed.length, 1);
  assert.ok(observed[0]! >= 0 && observed[0]! <= elapsedUs, `observed ${observed[0]} µs`);
});
