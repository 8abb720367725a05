import assert from "node:assert/strict";
import { startTestEngine } from "./_test_engine.ts";

Deno.test("Engine.abandon() frees the per-IP slot of a connection that never got a session", () => {
  const { engine } = startTestEngine({
    rateLimits: { max_connections_per_ip: 2, connections_per_ip_per_minute: 100 },
  });
  const ip = "203.0.113.7";
  assert.equal(engine.admit(ip).ok, true);
  assert.equal(engine.admit(ip).ok, true);
  // Both are in a TLS handshake: the IP is at its limit.
  assert.deepEqual(engine.admit(ip), { ok: false, rule: "max_connections_per_ip" });
  // One handshake times out: its slot is free again, the other still counts.
  engine.abandon(ip);
  assert.equal(engine.admit(ip).ok, true);
  assert.deepEqual(engine.admit(ip), { ok: false, rule: "max_connections_per_ip" });
});

Deno.test("Engine.abandon() keeps the attempt in the per-minute count", () => {
  const { engine } = startTestEngine({
    rateLimits: { max_connections_per_ip: 50, connections_per_ip_per_minute: 2 },
  });
  const ip = "198.51.100.9";
  assert.equal(engine.admit(ip).ok, true);
  engine.abandon(ip);
  assert.equal(engine.admit(ip).ok, true);
  engine.abandon(ip);
  assert.deepEqual(engine.admit(ip), { ok: false, rule: "connections_per_ip_per_minute" });
});
