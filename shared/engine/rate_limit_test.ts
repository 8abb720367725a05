import assert from "node:assert/strict";
import fc from "fast-check";
import { ManualClock } from "./clock.ts";
import {
  ConnectionLimiter,
  type ConnectionLimitOptions,
  defaultRequestBudget,
  IpLimiter,
  RATE_WINDOW_MS,
  type RateLimitOptions,
} from "./rate_limit.ts";
import { DEFAULT_RATE_LIMITS } from "./_test_engine.ts";

/** The seed's table and issue 10's additions (the config defaults). */
const LIMITS: RateLimitOptions = DEFAULT_RATE_LIMITS;
const MAXCLIENTS = 100_000;

/** Events age out between 60 s and this long after they happened (5 s buckets). */
const AGE_OUT_MS = RATE_WINDOW_MS + 5_000;

function connectAndLeave(limiter: IpLimiter, ip: string): boolean {
  const verdict = limiter.onConnect(ip);
  if (verdict.allowed) limiter.onDisconnect(ip);
  return verdict.allowed;
}

Deno.test("IpLimiter refuses the 11th new connection from an IP within a minute", () => {
  const clock = new ManualClock(0);
  const limiter = new IpLimiter(LIMITS, MAXCLIENTS, clock);
  for (let i = 0; i < 10; i++) {
    clock.advanceTo(i * 1_000);
    assert.ok(connectAndLeave(limiter, "192.0.2.1"), `connection ${i + 1}`);
  }
  clock.advanceTo(10_000);
  assert.deepEqual(limiter.onConnect("192.0.2.1"), {
    allowed: false,
    rule: "connections_per_ip_per_minute",
  });
  // Another address has its own window.
  assert.ok(connectAndLeave(limiter, "192.0.2.2"));
  // Still refused just before the first connection is a minute old.
  clock.advanceTo(59_999);
  assert.equal(limiter.onConnect("192.0.2.1").allowed, false);
});

Deno.test("IpLimiter admits new connections again as the minute passes", () => {
  const clock = new ManualClock(0);
  const limiter = new IpLimiter(LIMITS, MAXCLIENTS, clock);
  // Five connections in the bucket [0, 5 s), five in [5 s, 10 s).
  for (let i = 0; i < 10; i++) {
    clock.advanceTo(i * 1_000);
    assert.ok(connectAndLeave(limiter, "192.0.2.1"));
  }
  clock.advanceTo(64_999);
  assert.equal(limiter.onConnect("192.0.2.1").allowed, false);
  // At 65 s the first bucket has left the window: exactly five more fit.
  clock.advanceTo(AGE_OUT_MS);
  for (let i = 0; i < 5; i++) assert.ok(connectAndLeave(limiter, "192.0.2.1"));
  assert.equal(limiter.onConnect("192.0.2.1").allowed, false);
  clock.advanceTo(AGE_OUT_MS + 5_000);
  for (let i = 0; i < 5; i++) assert.ok(connectAndLeave(limiter, "192.0.2.1"));
  assert.equal(limiter.onConnect("192.0.2.1").allowed, false);
});

Deno.test("IpLimiter refuses the 51st concurrent connection from an IP until one leaves", () => {
  const clock = new ManualClock(0);
  const limiter = new IpLimiter(
    { ...LIMITS, connections_per_ip_per_minute: 1000 },
    MAXCLIENTS,
    clock,
  );
  for (let i = 0; i < 50; i++) assert.ok(limiter.onConnect("198.51.100.7").allowed);
  assert.equal(limiter.activeFor("198.51.100.7"), 50);
  assert.deepEqual(limiter.onConnect("198.51.100.7"), {
    allowed: false,
    rule: "max_connections_per_ip",
  });
  // Time alone does not help: the limit is on concurrent connections.
  clock.advanceTo(10 * RATE_WINDOW_MS);
  assert.equal(limiter.onConnect("198.51.100.7").allowed, false);
  limiter.onDisconnect("198.51.100.7");
  assert.equal(limiter.activeFor("198.51.100.7"), 49);
  assert.ok(limiter.onConnect("198.51.100.7").allowed);
  assert.equal(limiter.onConnect("198.51.100.7").allowed, false);
});

Deno.test("IpLimiter reaches 50 concurrent connections at 10 per minute under the seed's table", () => {
  const clock = new ManualClock(0);
  const limiter = new IpLimiter(LIMITS, MAXCLIENTS, clock);
  let admitted = 0;
  for (let t = 0; t < 10 * RATE_WINDOW_MS; t += 1_000) {
    clock.advanceTo(t);
    if (limiter.onConnect("203.0.113.9").allowed) admitted += 1;
  }
  assert.equal(admitted, 50);
  assert.deepEqual(limiter.onConnect("203.0.113.9"), {
    allowed: false,
    rule: "max_connections_per_ip",
  });
});

Deno.test("IpLimiter refuses any connection at maxclients and reports isFull()", () => {
  const clock = new ManualClock(0);
  const limiter = new IpLimiter(LIMITS, 3, clock);
  assert.ok(limiter.onConnect("10.0.0.1").allowed);
  assert.ok(limiter.onConnect("10.0.0.2").allowed);
  assert.equal(limiter.isFull(), false);
  assert.ok(limiter.onConnect("10.0.0.3").allowed);
  assert.equal(limiter.isFull(), true);
  assert.equal(limiter.activeConnections, 3);
  assert.deepEqual(limiter.onConnect("10.0.0.4"), { allowed: false, rule: "maxclients" });
  // A refused address is not tracked.
  assert.equal(limiter.trackedIps, 3);
  // The caller evicts one connection; the slot is free again.
  limiter.onDisconnect("10.0.0.2");
  assert.equal(limiter.isFull(), false);
  assert.ok(limiter.onConnect("10.0.0.4").allowed);
});

Deno.test("IpLimiter with maxclients 0 has no total limit", () => {
  const limiter = new IpLimiter(LIMITS, 0, new ManualClock(0));
  for (let i = 0; i < 1_000; i++) assert.ok(limiter.onConnect(`10.1.${i >> 8}.${i & 255}`).allowed);
  assert.equal(limiter.isFull(), false);
});

Deno.test("IpLimiter.onDisconnect() refuses an IP without an active connection", () => {
  const limiter = new IpLimiter(LIMITS, MAXCLIENTS, new ManualClock(0));
  assert.throws(() => limiter.onDisconnect("10.0.0.1"), RangeError);
  assert.ok(limiter.onConnect("10.0.0.1").allowed);
  limiter.onDisconnect("10.0.0.1");
  assert.throws(() => limiter.onDisconnect("10.0.0.1"), RangeError);
  assert.equal(limiter.activeConnections, 0);
});

Deno.test("IpLimiter.purge() drops idle IPs once their window has expired, not before", () => {
  const clock = new ManualClock(0);
  const limiter = new IpLimiter(LIMITS, MAXCLIENTS, clock);
  for (let i = 0; i < 1_000; i++) assert.ok(connectAndLeave(limiter, `10.2.${i >> 8}.${i & 255}`));
  assert.ok(limiter.onConnect("10.9.9.9").allowed); // stays connected
  assert.equal(limiter.trackedIps, 1_001);
  clock.advanceTo(AGE_OUT_MS - 1);
  assert.equal(limiter.purge(), 0);
  clock.advanceTo(AGE_OUT_MS);
  assert.equal(limiter.purge(), 1_000);
  assert.equal(limiter.trackedIps, 1);
  // A connected IP is never dropped; after it leaves, it goes like the rest.
  clock.advanceTo(100 * RATE_WINDOW_MS);
  assert.equal(limiter.purge(), 0);
  limiter.onDisconnect("10.9.9.9");
  clock.advanceTo(100 * RATE_WINDOW_MS + AGE_OUT_MS);
  assert.equal(limiter.purge(), 1);
  assert.equal(limiter.trackedIps, 0);
});

Deno.test("IpLimiter drops stale IPs a few at a time on each connect", () => {
  const clock = new ManualClock(0);
  const limiter = new IpLimiter(LIMITS, MAXCLIENTS, clock);
  for (let i = 0; i < 100; i++) assert.ok(connectAndLeave(limiter, `10.3.0.${i}`));
  assert.ok(limiter.onConnect("10.9.9.9").allowed); // a long-lived connection among them
  clock.advanceTo(AGE_OUT_MS);
  // Each connect examines four entries; refused connects count too.
  for (let i = 0; i < 26; i++) limiter.onConnect("10.4.0.1");
  assert.equal(limiter.trackedIps, 2);
  assert.equal(limiter.activeFor("10.9.9.9"), 1);
});

Deno.test("IpLimiter forgets an expired IP completely", () => {
  const clock = new ManualClock(0);
  const limiter = new IpLimiter(LIMITS, MAXCLIENTS, clock);
  for (let i = 0; i < 10; i++) assert.ok(connectAndLeave(limiter, "10.5.0.1"));
  assert.equal(limiter.onConnect("10.5.0.1").allowed, false);
  clock.advanceTo(AGE_OUT_MS);
  limiter.purge();
  assert.equal(limiter.trackedIps, 0);
  for (let i = 0; i < 10; i++) assert.ok(connectAndLeave(limiter, "10.5.0.1"));
  assert.equal(limiter.onConnect("10.5.0.1").allowed, false);
});

Deno.test("IpLimiter counts every IPv6 address of one /64 as one IP", () => {
  const clock = new ManualClock(0);
  const limiter = new IpLimiter(LIMITS, MAXCLIENTS, clock);
  // Ten new connections, each from a fresh address of the same /64, fill its minute.
  for (let i = 0; i < 10; i++) {
    assert.ok(connectAndLeave(limiter, `2001:db8:aa:bb:${i.toString(16)}::${i + 1}`), `conn ${i}`);
  }
  assert.deepEqual(limiter.onConnect("2001:db8:aa:bb:ffff:ffff:ffff:fffe"), {
    allowed: false,
    rule: "connections_per_ip_per_minute",
  });
  // The next /64 is another subscriber.
  assert.ok(connectAndLeave(limiter, "2001:db8:aa:bc::1"));
  assert.equal(limiter.trackedIps, 2);
});

Deno.test("IpLimiter caps concurrent connections per IPv6 /64, not per address", () => {
  const limiter = new IpLimiter(
    { ...LIMITS, connections_per_ip_per_minute: 1000 },
    MAXCLIENTS,
    new ManualClock(0),
  );
  const peers = Array.from({ length: 50 }, (_, i) => `2001:db8:1:2::${(i + 1).toString(16)}`);
  for (const peer of peers) assert.ok(limiter.onConnect(peer).allowed, peer);
  assert.equal(limiter.activeFor("2001:db8:1:2::ffff"), 50);
  assert.deepEqual(limiter.onConnect("2001:0db8:0001:0002:dead:beef:0:1"), {
    allowed: false,
    rule: "max_connections_per_ip",
  });
  // A disconnect under any address of the group frees the group's slot.
  limiter.onDisconnect(peers[0]!);
  assert.ok(limiter.onConnect("2001:db8:1:2:dead:beef:0:1").allowed);
});

Deno.test("IpLimiter counts an IPv4-mapped IPv6 peer as its IPv4 address", () => {
  const limiter = new IpLimiter(
    { ...LIMITS, connections_per_ip_per_minute: 1000, max_connections_per_ip: 2 },
    MAXCLIENTS,
    new ManualClock(0),
  );
  assert.ok(limiter.onConnect("192.0.2.44").allowed);
  assert.ok(limiter.onConnect("::ffff:192.0.2.44").allowed);
  assert.equal(limiter.onConnect("::ffff:c000:22c").allowed, false);
  assert.equal(limiter.activeFor("192.0.2.44"), 2);
  limiter.onDisconnect("::ffff:192.0.2.44");
  assert.equal(limiter.activeFor("192.0.2.44"), 1);
});

Deno.test("IpLimiter groups by the configured prefix lengths", () => {
  const limiter = new IpLimiter(
    {
      ...LIMITS,
      connections_per_ip_per_minute: 1000,
      max_connections_per_ip: 1,
      ipv4_prefix_length: 24,
      ipv6_prefix_length: 128,
    },
    MAXCLIENTS,
    new ManualClock(0),
  );
  assert.ok(limiter.onConnect("198.51.100.1").allowed);
  assert.equal(limiter.onConnect("198.51.100.200").allowed, false);
  assert.ok(limiter.onConnect("198.51.101.1").allowed);
  // At /128 each IPv6 address is its own group again.
  assert.ok(limiter.onConnect("2001:db8::1").allowed);
  assert.ok(limiter.onConnect("2001:db8::2").allowed);
  assert.equal(limiter.onConnect("2001:db8:0:0::2").allowed, false);
});

Deno.test("IpLimiter refuses prefix lengths beyond the address family", () => {
  for (const bad of [{ ipv4_prefix_length: 33 }, { ipv6_prefix_length: 129 }]) {
    assert.throws(
      () => new IpLimiter({ ...LIMITS, ...bad }, MAXCLIENTS, new ManualClock(0)),
      RangeError,
    );
  }
});

Deno.test("ConnectionLimiter disconnects on the 4th subscribe within a minute", () => {
  const clock = new ManualClock(0);
  const limiter = new ConnectionLimiter(LIMITS, clock);
  for (let i = 0; i < 3; i++) assert.equal(limiter.onSubscribe(), "ok");
  assert.equal(limiter.onSubscribe(), "disconnect");
  clock.advanceTo(59_999);
  assert.equal(limiter.onSubscribe(), "disconnect");
  clock.advanceTo(AGE_OUT_MS);
  assert.equal(limiter.onSubscribe(), "ok");
});

Deno.test("ConnectionLimiter: a limiter made after another was released starts from zero", () => {
  const clock = new ManualClock(0);
  // Enough limiters to use every block of a slab chunk at least once, so reuse is certain.
  const released: ConnectionLimiter[] = [];
  for (let i = 0; i < 400; i++) {
    const limiter = new ConnectionLimiter(LIMITS, clock);
    for (let j = 0; j < 3; j++) assert.equal(limiter.onSubscribe(), "ok");
    limiter.release();
    limiter.release(); // idempotent
    released.push(limiter);
  }
  for (let i = 0; i < 400; i++) {
    const fresh = new ConnectionLimiter(LIMITS, clock);
    for (let j = 0; j < 2; j++) assert.equal(fresh.onSubscribe(), "ok", `limiter ${i}`);
    // A released limiter is never consulted again; touching it must not reach a live one.
    for (let j = 0; j < 3; j++) released[i]!.onSubscribe();
    assert.equal(fresh.onSubscribe(), "ok", `limiter ${i}: its third subscribe`);
    assert.equal(fresh.onSubscribe(), "disconnect");
    fresh.release();
  }
});

Deno.test("ConnectionLimiter disconnects on the 6th authorize within a minute", () => {
  const clock = new ManualClock(0);
  const limiter = new ConnectionLimiter(LIMITS, clock);
  for (let i = 0; i < 5; i++) {
    clock.advanceTo(i * 10_000);
    assert.equal(limiter.onAuthorize(), "ok");
  }
  assert.equal(limiter.onAuthorize(), "disconnect");
  // The first authorize (bucket [0, 5 s)) leaves the window at 65 s: one more fits.
  clock.advanceTo(AGE_OUT_MS);
  assert.equal(limiter.onAuthorize(), "ok");
  assert.equal(limiter.onAuthorize(), "disconnect");
  // Subscribes have their own count.
  assert.equal(limiter.onSubscribe(), "ok");
});

Deno.test("ConnectionLimiter soft-bans submits beyond 1000 a minute for exactly 300 s", () => {
  const clock = new ManualClock(0);
  const limiter = new ConnectionLimiter(LIMITS, clock);
  for (let i = 0; i < 1_000; i++) {
    clock.advanceTo(i * 50);
    assert.equal(limiter.onSubmit(), "ok", `submit ${i + 1}`);
  }
  const banAtMs = 50_000;
  clock.advanceTo(banAtMs);
  assert.equal(limiter.isBanned(), false);
  assert.equal(limiter.onSubmit(), "banned");
  assert.equal(limiter.bannedUntilMs, banAtMs + 300_000);
  assert.equal(limiter.isBanned(), true);
  clock.advanceTo(banAtMs + 1);
  assert.equal(limiter.onSubmit(), "banned");
  // Refused submits do not extend the ban.
  assert.equal(limiter.bannedUntilMs, banAtMs + 300_000);
  // The ban outlasts the window; it alone keeps submits out.
  clock.advanceTo(banAtMs + 299_999);
  assert.equal(limiter.onSubmit(), "banned");
  clock.advanceTo(banAtMs + 300_000);
  assert.equal(limiter.onSubmit(), "ok");
  assert.equal(limiter.isBanned(), false);
  // Other rules were untouched by the ban.
  assert.equal(limiter.onSubscribe(), "ok");
});

Deno.test("ConnectionLimiter never bans a steady 900 submits a minute", () => {
  const clock = new ManualClock(0);
  const limiter = new ConnectionLimiter(LIMITS, clock);
  const stepMs = RATE_WINDOW_MS / 900;
  for (let i = 0; i < 9_000; i++) {
    clock.advanceTo(i * stepMs);
    assert.equal(limiter.onSubmit(), "ok", `submit ${i + 1}`);
  }
});

Deno.test("ConnectionLimiter disconnects on the 101st invalid share within a minute", () => {
  const clock = new ManualClock(0);
  const limiter = new ConnectionLimiter(LIMITS, clock);
  for (let i = 0; i < 100; i++) {
    clock.advanceTo(i * 500);
    assert.equal(limiter.onInvalidShare(), "ok");
  }
  assert.equal(limiter.onInvalidShare(), "disconnect");
  clock.advanceTo(59_999);
  assert.equal(limiter.onInvalidShare(), "disconnect");
  // Ten invalid shares per 5 s bucket: the first bucket leaves at 65 s.
  clock.advanceTo(AGE_OUT_MS);
  for (let i = 0; i < 10; i++) assert.equal(limiter.onInvalidShare(), "ok");
  assert.equal(limiter.onInvalidShare(), "disconnect");
});

for (
  const [rule, limit, hit] of [
    ["max_requests_per_minute", 2000, (l: ConnectionLimiter) => l.onRequest()],
    ["max_invalid_requests_per_minute", 100, (l: ConnectionLimiter) => l.onInvalidRequest()],
    ["max_configures_per_minute", 10, (l: ConnectionLimiter) => l.onConfigure()],
    ["max_suggest_difficulty_per_minute", 10, (l: ConnectionLimiter) => l.onSuggestDifficulty()],
  ] as const
) {
  Deno.test(`ConnectionLimiter disconnects beyond ${rule} (${limit}) and admits again as the minute passes`, () => {
    const clock = new ManualClock(0);
    const limiter = new ConnectionLimiter(LIMITS, clock);
    for (let i = 0; i < limit; i++) assert.equal(hit(limiter), "ok", `${rule} #${i + 1}`);
    assert.equal(hit(limiter), "disconnect");
    clock.advanceTo(59_999);
    assert.equal(hit(limiter), "disconnect");
    // The other request classes keep their own counts.
    assert.equal(limiter.onSubscribe(), "ok");
    assert.equal(limiter.onInvalidShare(), "ok");
    clock.advanceTo(AGE_OUT_MS);
    assert.equal(hit(limiter), "ok");
  });
}

Deno.test("ConnectionLimiter lets NerdMiner's suggest_difficulty every 30 s through for an hour", () => {
  const clock = new ManualClock(0);
  const limiter = new ConnectionLimiter(LIMITS, clock);
  for (let i = 0; i < 120; i++) {
    clock.advanceTo(i * 30_000);
    assert.equal(limiter.onRequest(), "ok");
    assert.equal(limiter.onSuggestDifficulty(), "ok");
  }
});

Deno.test("IpLimiter returns shared verdicts, allocating nothing per connect", () => {
  const limiter = new IpLimiter(LIMITS, MAXCLIENTS, new ManualClock(0));
  const first = limiter.onConnect("10.6.0.1");
  assert.equal(limiter.onConnect("10.6.0.2"), first);
  assert.ok(Object.isFrozen(first));
});

Deno.test("per-minute windows never admit more than the limit in any 60 s span", () => {
  // Property: for random event times and limits, (1) no half-open 60 s span holds more than
  // `limit` admitted events, and (2) an event is refused only when `limit` admitted events lie
  // within the 65 s before it (the bucket granularity).
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 12 }),
      fc.array(fc.integer({ min: 0, max: 400_000 }), { minLength: 1, maxLength: 200 }),
      (limit, rawTimes) => {
        const times = [...rawTimes].sort((a, b) => a - b);
        const clock = new ManualClock(0);
        const limiter = new ConnectionLimiter(
          { ...LIMITS, max_authorizes_per_minute: limit },
          clock,
        );
        const admitted: number[] = [];
        for (const t of times) {
          clock.advanceTo(t);
          const ok = limiter.onAuthorize() === "ok";
          const recent = admitted.filter((a) => a > t - AGE_OUT_MS).length;
          if (ok) {
            const inMinute = admitted.filter((a) => a > t - RATE_WINDOW_MS).length;
            assert.ok(inMinute + 1 <= limit, `admitted ${inMinute + 1} within 60 s at ${t}`);
            admitted.push(t);
          } else {
            assert.ok(recent >= limit, `refused at ${t} with only ${recent} recent`);
          }
        }
      },
    ),
    { seed: 20_240_601, numRuns: 300 },
  );
});

Deno.test("limiters reject out-of-range settings", () => {
  const clock = new ManualClock(0);
  assert.throws(
    () => new IpLimiter({ ...LIMITS, connections_per_ip_per_minute: 0 }, 1, clock),
    RangeError,
  );
  assert.throws(
    () => new IpLimiter({ ...LIMITS, max_connections_per_ip: 1.5 }, 1, clock),
    RangeError,
  );
  assert.throws(() => new IpLimiter(LIMITS, -1, clock), RangeError);
  const bad: Partial<ConnectionLimitOptions>[] = [
    { max_subscribes_per_minute: 0 },
    { max_authorizes_per_minute: Number.NaN },
    { max_shares_per_minute: 70_000 },
    { max_invalid_shares_per_minute: -5 },
    { submit_ban_seconds: -1 },
    { max_requests_per_minute: 0 },
    { max_invalid_requests_per_minute: 65_536 },
    { max_configures_per_minute: 2.5 },
    { max_suggest_difficulty_per_minute: Number.POSITIVE_INFINITY },
  ];
  for (const b of bad) {
    assert.throws(() => new ConnectionLimiter({ ...LIMITS, ...b }, clock), RangeError);
  }
});

Deno.test("defaultRequestBudget() is twice the submit limit, within a 16-bit counter", () => {
  assert.equal(defaultRequestBudget(1000), 2000);
  assert.equal(defaultRequestBudget(6000), 12_000);
  assert.equal(defaultRequestBudget(65_535), 65_535);
});
