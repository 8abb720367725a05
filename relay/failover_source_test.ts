import assert from "node:assert/strict";
import type { BlockSubmitResult, TemplateSource, TemplateUpdate } from "@tbg/shared/bitcoind";
import { ManualClock } from "@tbg/shared/engine";
import { getLogger } from "@tbg/shared/log";
import { RelayMode, TemplateOrigin } from "./failover_policy.ts";
import {
  defaultCheckIntervalMs,
  type FailoverObserver,
  FailoverTemplateSource,
  heartbeatConfirms,
  type HeartbeatView,
  type PrimaryTemplateFeed,
  templatePosition,
  templateTip,
} from "./failover_source.ts";
import { SubmitOutcome, SubmitPath } from "./dual_submit.ts";

const THRESHOLD = 10_000;
/** Long enough that the timer never fires during a test: checks are driven by hand. */
const NEVER_MS = 3_600_000;
const HEADER_HEX = "00".repeat(80);

const EPOCH = 1_700_000_000_000;

function gbtUpdate(
  height: number,
  tag: string,
  source: TemplateUpdate["source"] = "poll",
  sequence?: number,
): TemplateUpdate {
  const prev = (tag + height.toString(16)).padStart(64, "0");
  return {
    gbt: { previousblockhash: prev, height },
    reason: "new_block",
    source,
    receivedAtMs: 0,
    ...(sequence === undefined ? {} : { message: { epoch: EPOCH, sequence } }),
  } as TemplateUpdate;
}

/** A template source driven by the test: push() hands a template to whoever started it. */
class ScriptedSource implements TemplateSource {
  healthy = true;
  lastTemplateAtMs = 0;
  started = false;
  stopped = false;
  submitted: string[] = [];
  submitAnswer: () => Promise<BlockSubmitResult>;
  #onTemplate: ((update: TemplateUpdate) => void) | null = null;
  readonly #startGate = Promise.withResolvers<void>();

  constructor(answer: () => Promise<BlockSubmitResult>) {
    this.submitAnswer = answer;
  }

  start(onTemplate: (update: TemplateUpdate) => void): Promise<void> {
    this.started = true;
    this.#onTemplate = onTemplate;
    return this.#startGate.promise;
  }

  stop(): Promise<void> {
    this.stopped = true;
    this.#startGate.reject(new Error("stopped"));
    return Promise.resolve();
  }

  push(update: TemplateUpdate): void {
    this.#onTemplate?.(update);
    this.#startGate.resolve();
  }

  submitBlock(hex: string): Promise<BlockSubmitResult> {
    this.submitted.push(hex);
    return this.submitAnswer();
  }
}

class ScriptedPrimary extends ScriptedSource implements PrimaryTemplateFeed {
  lastHeartbeat: HeartbeatView | null = null;
  lastHeartbeatAtMs = 0;
  sent = 0;

  /** The primary publishes its next template (sequence + 1). */
  publish(height: number, tag: string): void {
    this.push(gbtUpdate(height, tag, "poll", ++this.sent));
  }

  /** A heartbeat arrives now, announcing the templates sent so far. */
  beat(atMs: number, templatesHealthy = true): void {
    this.lastHeartbeat = { epoch: EPOCH, templateSequence: this.sent, templatesHealthy };
    this.lastHeartbeatAtMs = atMs;
  }
}

function answer(url: string, result: string | null, error?: string): BlockSubmitResult {
  return {
    accepted: error === undefined && (result === null || result === "duplicate"),
    results: [{ url, result, tipMoved: false, ...(error === undefined ? {} : { error }) }],
    tipMoved: false,
    blockHash: "ab".repeat(32),
  };
}

class RecordingObserver implements FailoverObserver {
  modes: RelayMode[] = [];
  preemptive = 0;
  primaryTemplates = 0;
  paths: [SubmitPath, string][] = [];
  modeChanged(mode: RelayMode): void {
    this.modes.push(mode);
  }
  preemptiveCleanJobs(): void {
    this.preemptive++;
  }
  primaryTemplate(): void {
    this.primaryTemplates++;
  }
  blockSubmitPath(path: SubmitPath, outcome: string): void {
    this.paths.push([path, outcome]);
  }
}

function setup() {
  const clock = new ManualClock(1_000_000);
  const primary = new ScriptedPrimary(() => Promise.resolve(answer("primary", null)));
  const local = new ScriptedSource(() => Promise.resolve(answer("http://127.0.0.1:8332", null)));
  const source = new FailoverTemplateSource({
    primary,
    local,
    independentAfterMs: THRESHOLD,
    log: getLogger(["relay", "test"]),
    clock,
    checkIntervalMs: NEVER_MS,
  });
  const observer = new RecordingObserver();
  source.observe(observer);
  const delivered: TemplateUpdate[] = [];
  return { clock, primary, local, source, observer, delivered };
}

Deno.test("FailoverTemplateSource starts on the primary's first template and forwards it", async () => {
  const { clock, primary, local, source, observer, delivered } = setup();
  const started = source.start((u) => delivered.push(u));
  assert.ok(primary.started && local.started, "both feeds run from the start");
  local.push(gbtUpdate(101, "a"));
  assert.equal(delivered.length, 0, "local work waits for the primary in passthrough");
  clock.advance(5);
  primary.publish(101, "a");
  await started;
  assert.equal(delivered.length, 1);
  assert.equal(source.currentOrigin, TemplateOrigin.primary);
  assert.equal(source.mode, RelayMode.passthrough);
  assert.equal(observer.primaryTemplates, 1);
  assert.deepEqual(observer.modes, [RelayMode.passthrough]);
  await source.stop();
  assert.ok(primary.stopped && local.stopped);
});

Deno.test("FailoverTemplateSource stays on the primary while its heartbeats confirm the feed", async () => {
  const { clock, primary, local, source, delivered } = setup();
  const started = source.start((u) => delivered.push(u));
  primary.publish(101, "a");
  await started;
  local.push(gbtUpdate(101, "a"));
  // A quiet chain: no new template for a long time, but a heartbeat every second.
  for (let second = 1; second <= 3 * THRESHOLD / 1000; second++) {
    clock.advance(1_000);
    primary.beat(clock.nowMs());
    source.checkNow();
  }
  assert.equal(source.mode, RelayMode.passthrough);
  assert.equal(delivered.length, 1);
  await source.stop();
});

Deno.test("FailoverTemplateSource switches to local work after the threshold and back", async () => {
  const { clock, primary, local, source, observer, delivered } = setup();
  const started = source.start((u) => delivered.push(u));
  primary.publish(101, "a");
  primary.beat(clock.nowMs());
  await started;
  local.push(gbtUpdate(101, "a"));
  const silentFrom = clock.nowMs();
  clock.advance(THRESHOLD - 1);
  source.checkNow();
  assert.equal(source.mode, RelayMode.passthrough);
  clock.advance(1);
  source.checkNow();
  assert.equal(source.mode, RelayMode.independent);
  assert.equal(clock.nowMs() - silentFrom, THRESHOLD);
  assert.equal(delivered.length, 2, "the local template goes out at once");
  assert.equal(delivered[1]!.reason, "failover");
  assert.equal(source.currentOrigin, TemplateOrigin.local);
  assert.equal(source.healthy, true, "independent health follows the local node");
  local.push(gbtUpdate(102, "a"));
  assert.equal(delivered.length, 3, "new local blocks are followed");
  assert.equal(observer.preemptive, 0);

  clock.advance(2_000);
  primary.beat(clock.nowMs());
  source.checkNow();
  assert.equal(source.mode, RelayMode.independent, "a heartbeat alone is not enough");
  clock.advance(10);
  primary.publish(102, "a");
  assert.equal(source.mode, RelayMode.passthrough);
  assert.equal(delivered.length, 4);
  assert.equal(source.currentOrigin, TemplateOrigin.primary);
  assert.deepEqual(observer.modes, [
    RelayMode.passthrough,
    RelayMode.independent,
    RelayMode.passthrough,
  ]);
  await source.stop();
});

Deno.test("FailoverTemplateSource goes independent when heartbeats announce templates that never arrive", async () => {
  const { clock, primary, local, source, delivered } = setup();
  const started = source.start((u) => delivered.push(u));
  primary.publish(101, "a");
  await started;
  local.push(gbtUpdate(101, "a"));
  // The primary sends template 2, which is lost on the way; its heartbeats say so.
  primary.sent++;
  for (let second = 1; second <= THRESHOLD / 1000; second++) {
    clock.advance(1_000);
    primary.beat(clock.nowMs());
    source.checkNow();
  }
  assert.equal(source.mode, RelayMode.independent);
  assert.equal(delivered.at(-1)?.reason, "failover");
  await source.stop();
});

Deno.test("FailoverTemplateSource goes independent when the primary's own bitcoind is down", async () => {
  const { clock, primary, local, source } = setup();
  const started = source.start(() => {});
  primary.publish(101, "a");
  await started;
  local.push(gbtUpdate(101, "a"));
  for (let second = 1; second <= THRESHOLD / 1000; second++) {
    clock.advance(1_000);
    primary.beat(clock.nowMs(), false);
    source.checkNow();
  }
  assert.equal(source.mode, RelayMode.independent);
  await source.stop();
});

Deno.test("FailoverTemplateSource counts a preemptive clean_jobs when the local node leads", async () => {
  const { primary, local, source, observer, delivered } = setup();
  const started = source.start((u) => delivered.push(u));
  primary.publish(101, "a");
  await started;
  local.push(gbtUpdate(102, "a", "zmq"));
  assert.equal(delivered.length, 2);
  assert.equal(observer.preemptive, 1);
  assert.equal(source.preemptiveCount, 1);
  assert.equal(source.currentOrigin, TemplateOrigin.local);
  primary.publish(102, "a");
  assert.equal(delivered.length, 3);
  assert.equal(source.currentOrigin, TemplateOrigin.primary);
  assert.equal(templateTip(delivered[2]!).prevHash, templateTip(delivered[1]!).prevHash);
  await source.stop();
});

Deno.test("FailoverTemplateSource starts independent when the primary never answers", async () => {
  const { clock, local, source, delivered } = setup();
  const started = source.start((u) => delivered.push(u));
  local.push(gbtUpdate(101, "a"));
  clock.advance(THRESHOLD);
  source.checkNow();
  await started;
  assert.equal(source.mode, RelayMode.independent);
  assert.equal(delivered.length, 1);
  await source.stop();
});

Deno.test("FailoverTemplateSource refuses a template without a usable tip", async () => {
  const { primary, source, delivered } = setup();
  const started = source.start((u) => delivered.push(u));
  primary.push({ gbt: { height: 5 }, reason: "startup", source: "startup", receivedAtMs: 0 });
  assert.equal(delivered.length, 0);
  primary.publish(101, "a");
  await started;
  assert.equal(delivered.length, 1);
  await source.stop();
});

Deno.test("FailoverTemplateSource.submitBlock() submits by both paths; either accepting suffices", async () => {
  const { primary, local, source, observer } = setup();
  const started = source.start(() => {});
  primary.publish(101, "a");
  await started;

  local.submitAnswer = () => Promise.resolve(answer("http://127.0.0.1:8332", "high-hash"));
  primary.submitAnswer = () => Promise.resolve(answer("primary", null));
  const viaPrimary = await source.submitBlock(HEADER_HEX);
  assert.equal(viaPrimary.accepted, true);
  assert.deepEqual(viaPrimary.results.map((r) => r.url), ["http://127.0.0.1:8332", "primary"]);
  assert.deepEqual(local.submitted, [HEADER_HEX]);
  assert.deepEqual(primary.submitted, [HEADER_HEX]);

  local.submitAnswer = () => Promise.resolve(answer("http://127.0.0.1:8332", null));
  primary.submitAnswer = () => Promise.reject(new Error("no responders"));
  const viaLocal = await source.submitBlock(HEADER_HEX);
  assert.equal(viaLocal.accepted, true);
  assert.equal(viaLocal.results[1]?.url, "primary");
  assert.equal(viaLocal.results[1]?.error, "no responders");

  local.submitAnswer = () => Promise.resolve(answer("http://127.0.0.1:8332", "bad-txnmrklroot"));
  primary.submitAnswer = () => Promise.resolve(answer("primary", "bad-txnmrklroot"));
  assert.equal((await source.submitBlock(HEADER_HEX)).accepted, false);

  assert.deepEqual(observer.paths, [
    [SubmitPath.local, SubmitOutcome.rejected],
    [SubmitPath.primary, SubmitOutcome.accepted],
    [SubmitPath.local, SubmitOutcome.accepted],
    [SubmitPath.primary, SubmitOutcome.error],
    [SubmitPath.local, SubmitOutcome.rejected],
    [SubmitPath.primary, SubmitOutcome.rejected],
  ]);
  await assert.rejects(() => source.submitBlock("zz"), { name: "TypeError" });
  await source.stop();
});

Deno.test("defaultCheckIntervalMs() checks twenty times per threshold, within 50 ms and 1 s", () => {
  assert.equal(defaultCheckIntervalMs(10_000), 500);
  assert.equal(defaultCheckIntervalMs(100), 50);
  assert.equal(defaultCheckIntervalMs(600_000), 1_000);
});

Deno.test("heartbeatConfirms() needs a healthy primary and every template it announced", () => {
  const at = (epoch: number, sequence: number) => ({ epoch, sequence });
  const beat = (templateSequence: number, templatesHealthy = true) => ({
    epoch: 5,
    templateSequence,
    templatesHealthy,
  });
  assert.equal(heartbeatConfirms(beat(0), null), true, "nothing sent yet: nothing missing");
  assert.equal(heartbeatConfirms(beat(3), null), false);
  assert.equal(heartbeatConfirms(beat(3), at(5, 3)), true);
  assert.equal(heartbeatConfirms(beat(4), at(5, 3)), false, "template 4 is missing");
  assert.equal(heartbeatConfirms(beat(1), at(4, 90)), false, "a restarted primary's template");
  assert.equal(heartbeatConfirms(beat(9), at(6, 1)), true, "an old run's heartbeat");
  assert.equal(heartbeatConfirms(beat(3, false), at(5, 3)), false, "its bitcoind is down");
});

Deno.test("templatePosition() reads the epoch and sequence NATS updates carry", () => {
  assert.deepEqual(templatePosition(gbtUpdate(101, "a", "poll", 7)), { epoch: EPOCH, sequence: 7 });
  assert.equal(templatePosition(gbtUpdate(101, "a")), undefined);
});

Deno.test("FailoverTemplateSource.observe() tells a late observer what it missed", async () => {
  const { primary, local, source, delivered } = setup();
  const started = source.start((u) => delivered.push(u));
  primary.publish(101, "a");
  await started;
  local.push(gbtUpdate(102, "a", "zmq"));
  const late = new RecordingObserver();
  source.observe(late);
  assert.deepEqual(late.modes, [RelayMode.passthrough]);
  assert.equal(late.preemptive, 1);
  assert.equal(late.primaryTemplates, 1, "the primary's last template, for its latency");
  await source.stop();
});
