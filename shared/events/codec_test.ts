import assert from "node:assert/strict";
import fc from "fast-check";
import { encodeEvent, makeEvent, parseEvent } from "./codec.ts";
import {
  EVENT_ID_PATTERN,
  EVENT_SCHEMA_VERSION,
  type EventOf,
  eventSchema,
  type MiningEvent,
} from "./envelope.ts";
import { ALL_EVENT_TYPES, EventType } from "./event_type.ts";
import {
  BestDiffScope,
  DiffUpdateReason,
  EVENT_LIMITS,
  type EventPayloads,
  MAX_MONEY_SATS,
  NetworkBlockSource,
  ShareRejectReason,
} from "./payloads.ts";
import { SAMPLE_PAYLOADS } from "./_sample_payloads.ts";

function sample<T extends EventType>(type: T): EventOf<T> {
  return makeEvent(type, "eu", "stratum-eu-1", SAMPLE_PAYLOADS[type]);
}

function bytesOf(value: unknown): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(value));
}

for (const type of ALL_EVENT_TYPES) {
  Deno.test(`parseEvent() round-trips a ${type} event from encodeEvent()`, () => {
    const event = sample(type);
    assert.deepEqual(parseEvent(encodeEvent(event)), event);
  });
}

Deno.test("makeEvent() stamps version, a v7 id and an integer microsecond timestamp", () => {
  const before = Date.now();
  const event = makeEvent(
    EventType.DiffUpdated,
    "us-east",
    "relay-us-1",
    SAMPLE_PAYLOADS.diff_updated,
  );
  const after = Date.now();
  assert.equal(event.v, EVENT_SCHEMA_VERSION);
  assert.equal(event.event, "diff_updated");
  assert.equal(event.region, "us-east");
  assert.equal(event.source, "relay-us-1");
  assert.match(event.event_id, EVENT_ID_PATTERN);
  assert.ok(Number.isSafeInteger(event.timestamp));
  // The monotonic clock may lag the wall clock by what NTP slewed; a minute bounds any sane host.
  assert.ok(
    event.timestamp > (before - 60_000) * 1000 && event.timestamp < (after + 60_000) * 1000,
  );
});

Deno.test("encodeEvent() writes exactly the JSON text of the event as UTF-8", () => {
  const event = sample(EventType.MinerConnected);
  const bytes = encodeEvent(event);
  assert.equal(new TextDecoder().decode(bytes), JSON.stringify(event));
});

Deno.test("parseEvent() refuses a wrong payload field and names it", () => {
  const event = sample(EventType.ShareSubmitted);
  const wrong = { ...event, data: { ...event.data, share_diff: "2048" } };
  assert.throws(
    () => parseEvent(bytesOf(wrong)),
    (error: unknown) =>
      error instanceof TypeError &&
      /^Cannot parse event: data\.share_diff: .*expected number/.test(error.message),
  );
});

Deno.test("parseEvent() refuses another type's payload, naming the missing fields", () => {
  const event = sample(EventType.ShareSubmitted);
  const wrong = { ...event, data: SAMPLE_PAYLOADS.diff_updated };
  assert.throws(() => parseEvent(bytesOf(wrong)), /data\.job_id/);
});

Deno.test("parseEvent() refuses an unknown event type, naming the event field", () => {
  const wrong = { ...sample(EventType.BlockFound), event: "block_lost" };
  assert.throws(() => parseEvent(bytesOf(wrong)), /Cannot parse event: event: /);
});

Deno.test("parseEvent() refuses a rejected share without a reason and an accepted one with one", () => {
  const event = sample(EventType.ShareSubmitted);
  const { reject_reason: _omit, ...withoutReason } = event.data;
  assert.throws(
    () => parseEvent(bytesOf({ ...event, data: withoutReason })),
    /data\.reject_reason: required when accepted is false/,
  );
  assert.throws(
    () => parseEvent(bytesOf({ ...event, data: { ...event.data, accepted: true } })),
    /data\.reject_reason: must be absent when accepted is true/,
  );
});

Deno.test("parseEvent() refuses envelope faults: version, id case and version, timestamp", () => {
  const event = sample(EventType.HashrateUpdate);
  const cases: ReadonlyArray<readonly [Record<string, unknown>, RegExp]> = [
    [{ ...event, v: 2 }, /^Cannot parse event: v: /],
    [{ ...event, event_id: event.event_id.toUpperCase() }, /event_id: expected a lower-case/],
    [{ ...event, event_id: "9b2f8e2c-5d0c-4b7e-8f3a-2c1d0e9f8a7b" }, /event_id: /],
    [{ ...event, timestamp: 1.5 }, /timestamp: /],
    [{ ...event, timestamp: 2 ** 53 }, /timestamp: /],
    [{ ...event, region: "eu.west" }, /region: /],
    [{ ...event, region: "" }, /region: /],
    [{ ...event, source: "a b" }, /source: /],
  ];
  for (const [value, pattern] of cases) {
    assert.throws(() => parseEvent(bytesOf(value)), (error: unknown) => {
      assert.ok(error instanceof TypeError);
      assert.match(error.message, pattern);
      return true;
    });
  }
});

Deno.test("parseEvent() refuses payload strings beyond EVENT_LIMITS", () => {
  const event = sample(EventType.MinerConnected);
  const long = {
    ...event,
    data: { ...event.data, user_agent: "x".repeat(EVENT_LIMITS.maxUserAgentLength + 1) },
  };
  assert.throws(() => parseEvent(bytesOf(long)), /data\.user_agent: /);
  const atLimit = {
    ...event,
    data: { ...event.data, user_agent: "x".repeat(EVENT_LIMITS.maxUserAgentLength) },
  };
  assert.equal(parseEvent(bytesOf(atLimit)).event, "miner_connected");
});

Deno.test("parseEvent() refuses a reward above the money supply and a fractional one", () => {
  const event = sample(EventType.BlockFound);
  for (const reward_sats of [MAX_MONEY_SATS + 1, 1.5, -1, "312500000"]) {
    assert.throws(
      () => parseEvent(bytesOf({ ...event, data: { ...event.data, reward_sats } })),
      /data\.reward_sats/,
    );
  }
});

Deno.test("parseEvent() drops unknown keys instead of refusing them", () => {
  const event = sample(EventType.NewBlockNetwork);
  const extended = { ...event, trace_id: "abc", data: { ...event.data, extra: [1, 2] } };
  assert.deepEqual(parseEvent(bytesOf(extended)), event);
});

Deno.test("parseEvent() throws SyntaxError for invalid UTF-8 and for non-JSON", () => {
  assert.throws(() => parseEvent(new Uint8Array([0x7b, 0xff, 0x7d])), SyntaxError);
  assert.throws(() => parseEvent(new TextEncoder().encode('{"v":1,')), SyntaxError);
  assert.throws(() => parseEvent(new Uint8Array()), SyntaxError);
});

Deno.test("parseEvent() throws TypeError for JSON that is not an object", () => {
  for (const text of ["null", "[]", "42", '"share"']) {
    assert.throws(
      () => parseEvent(new TextEncoder().encode(text)),
      /Cannot parse event: \(root\): /,
    );
  }
});

// ---- property tests -------------------------------------------------------------------------

const anyUtf16 = (maxLength: number) =>
  fc.string({
    unit: fc.integer({ min: 0, max: 0xffff }).map((code) => String.fromCharCode(code)),
    maxLength,
  });
const user = fc.stringMatching(/^[A-Za-z0-9]{1,128}$/);
const worker = anyUtf16(EVENT_LIMITS.maxWorkerLength);
const sessionId = fc.stringMatching(/^[0-9a-f]{1,32}$/);
const hash = fc.stringMatching(/^[0-9a-f]{64}$/);
const hex8 = fc.stringMatching(/^[0-9a-f]{8}$/);
const ip = fc.oneof(fc.ipV4(), fc.ipV6());
const nonNegative = fc.double({ min: 0, max: 1e18, noNaN: true, noDefaultInfinity: true })
  .map(Math.abs);
const positive = fc.double({
  min: Number.MIN_VALUE,
  max: 1e18,
  noNaN: true,
  noDefaultInfinity: true,
});
const count = fc.maxSafeNat();
const region = fc.stringMatching(/^[A-Za-z0-9_-]{1,64}$/);

const shareSubmitted = fc.record({
  user,
  worker,
  session_id: sessionId,
  job_id: anyUtf16(EVENT_LIMITS.maxJobIdLength),
  share_diff: nonNegative,
  pool_diff: positive,
  block_candidate: fc.boolean(),
  ip,
}, {
  requiredKeys: [
    "user",
    "worker",
    "session_id",
    "job_id",
    "share_diff",
    "pool_diff",
    "block_candidate",
  ],
  noNullPrototype: true,
})
  .chain((base) =>
    fc.option(fc.constantFrom(...Object.values(ShareRejectReason)), { nil: undefined }).map((
      reason,
    ) =>
      reason === undefined
        ? { ...base, accepted: true }
        : { ...base, accepted: false, reject_reason: reason }
    )
  );

const PAYLOAD_ARBITRARIES: { readonly [T in EventType]: fc.Arbitrary<EventPayloads[T]> } = {
  share_submitted: shareSubmitted,
  block_found: fc.record({
    user,
    worker,
    height: count,
    hash,
    reward_sats: fc.bigInt({ min: 0n, max: BigInt(MAX_MONEY_SATS) }).map(Number),
    region,
    accepted: fc.boolean(),
    reject_reason: anyUtf16(EVENT_LIMITS.maxReasonLength),
    submitted_to: fc.array(fc.string({ minLength: 1, maxLength: 64 }), { maxLength: 8 }),
  }, {
    requiredKeys: [
      "user",
      "worker",
      "height",
      "hash",
      "reward_sats",
      "region",
      "accepted",
      "submitted_to",
    ],
    noNullPrototype: true,
  }),
  miner_connected: fc.record({
    user,
    worker,
    session_id: sessionId,
    ip,
    user_agent: anyUtf16(EVENT_LIMITS.maxUserAgentLength),
    resumed: fc.boolean(),
  }, { noNullPrototype: true }),
  miner_disconnected: fc.record({
    user,
    worker,
    session_id: sessionId,
    ip,
    reason: anyUtf16(EVENT_LIMITS.maxReasonLength),
    duration_s: nonNegative,
    shares_accepted: count,
    shares_rejected: count,
  }, { noNullPrototype: true }),
  diff_updated: fc.record({
    user,
    worker,
    session_id: sessionId,
    old_diff: positive,
    new_diff: positive,
    reason: fc.constantFrom(...Object.values(DiffUpdateReason)),
  }, { noNullPrototype: true }),
  hashrate_update: fc.record({
    user,
    worker,
    hashrate_1m: nonNegative,
    hashrate_5m: nonNegative,
    hashrate_1h: nonNegative,
    shares_1m: count,
  }, { noNullPrototype: true }),
  new_block_network: fc.record({
    height: count,
    hash,
    prev_hash: hash,
    source: fc.constantFrom(...Object.values(NetworkBlockSource)),
  }, { noNullPrototype: true }),
  share_best_diff: fc.record({
    user,
    worker,
    best_diff: nonNegative,
    previous_best: nonNegative,
    scope: fc.constantFrom(...Object.values(BestDiffScope)),
  }, { noNullPrototype: true }),
  asicboost_detected: fc.record({
    user,
    worker,
    session_id: sessionId,
    version_mask: hex8,
    version_bits: hex8,
  }, { noNullPrototype: true }),
};

function eventArbitrary<T extends EventType>(type: T): fc.Arbitrary<MiningEvent> {
  return fc.record({
    event_id: fc.uuid({ version: 7 }),
    region,
    timestamp: count,
    source: fc.stringMatching(/^[A-Za-z0-9_.:-]{1,128}$/),
    data: PAYLOAD_ARBITRARIES[type],
  }, { noNullPrototype: true }).map((fields) =>
    ({ v: EVENT_SCHEMA_VERSION, event: type, ...fields }) as MiningEvent
  );
}

const anyEvent = fc.oneof(...ALL_EVENT_TYPES.map((type) => eventArbitrary(type)));

Deno.test("parseEvent() round-trips any valid event (property)", () => {
  fc.assert(
    fc.property(anyEvent, (event) => {
      assert.deepEqual(parseEvent(encodeEvent(event)), event);
    }),
    { numRuns: 2_000 },
  );
});

function onlySyntaxOrTypeError(bytes: Uint8Array): void {
  try {
    parseEvent(bytes);
  } catch (error) {
    if (!(error instanceof SyntaxError || error instanceof TypeError)) throw error;
    assert.match(error.message, /^Cannot parse event: /);
  }
}

Deno.test("parseEvent() throws only SyntaxError or TypeError for random bytes (property)", () => {
  fc.assert(fc.property(fc.uint8Array({ maxLength: 512 }), onlySyntaxOrTypeError), {
    numRuns: 5_000,
  });
});

Deno.test("parseEvent() throws only SyntaxError or TypeError for random JSON (property)", () => {
  fc.assert(
    fc.property(fc.jsonValue(), (value) => onlySyntaxOrTypeError(bytesOf(value))),
    { numRuns: 2_000 },
  );
});

Deno.test("parseEvent() throws only TypeError when one field of a valid event is replaced (property)", () => {
  fc.assert(
    fc.property(anyEvent, fc.jsonValue(), fc.boolean(), fc.nat(), (event, junk, inData, pick) => {
      const target: Record<string, unknown> = inData ? { ...event.data } : { ...event };
      const keys = Object.keys(target);
      const key = keys[pick % keys.length] ?? "v";
      target[key] = junk;
      const mutated = inData ? { ...event, data: target } : target;
      try {
        parseEvent(bytesOf(mutated));
      } catch (error) {
        assert.ok(error instanceof TypeError, `unexpected ${String(error)}`);
      }
    }),
    { numRuns: 2_000 },
  );
});

/** What the runtime schema alone says about `value`, in parseEvent's words. */
function runtimeVerdict(value: unknown): string {
  const result = eventSchema.safeParse(value);
  if (result.success) return `ok ${JSON.stringify(result.data)}`;
  const issues = result.error.issues;
  const described = issues.slice(0, 3).map((issue) =>
    `${issue.path.length === 0 ? "(root)" : issue.path.map(String).join(".")}: ${issue.message}`
  );
  if (issues.length > 3) described.push(`and ${issues.length - 3} more`);
  return `TypeError Cannot parse event: ${described.join("; ")}`;
}

function parseVerdict(value: unknown): string {
  try {
    return `ok ${JSON.stringify(parseEvent(bytesOf(value)))}`;
  } catch (error) {
    return error instanceof Error ? `${error.name} ${error.message}` : String(error);
  }
}

// parseEvent runs zod's compiled fast path first: it must agree with the runtime schema on the
// output (values and key order) and, through the fallback, on every error message.
Deno.test("parseEvent() gives exactly the runtime schema's result and errors (property)", () => {
  fc.assert(
    fc.property(
      anyEvent,
      fc.jsonValue(),
      fc.constantFrom("replace", "delete", "add"),
      fc.boolean(),
      fc.nat(),
      (event, junk, change, inData, pick) => {
        const target: Record<string, unknown> = inData ? { ...event.data } : { ...event };
        const keys = Object.keys(target);
        const key = keys[pick % keys.length] ?? "v";
        if (change === "replace") target[key] = junk;
        else if (change === "delete") delete target[key];
        else target[`extra_${key}`] = junk;
        const mutated = inData ? { ...event, data: target } : target;
        const roundTripped = JSON.parse(JSON.stringify(mutated));
        assert.equal(parseVerdict(roundTripped), runtimeVerdict(roundTripped));
        assert.equal(parseVerdict(event), runtimeVerdict(event));
      },
    ),
    { numRuns: 3_000 },
  );
});
