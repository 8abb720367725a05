import assert from "node:assert/strict";
import { decodeHeartbeat, encodeHeartbeat, type PrimaryHeartbeat } from "./heartbeat.ts";

const HEARTBEAT: PrimaryHeartbeat = {
  region: "eu",
  network: "mainnet",
  instance: "stratum-eu-0",
  epoch: 1_716_364_800_000,
  sequence: 42,
  sentAtMs: 1_716_364_842_000.25,
  templateSequence: 7,
  templatesHealthy: true,
};

const json = (value: unknown) => new TextEncoder().encode(JSON.stringify(value));

Deno.test("decodeHeartbeat() returns what encodeHeartbeat() was given", () => {
  assert.deepEqual(decodeHeartbeat(encodeHeartbeat(HEARTBEAT)), HEARTBEAT);
  const unhealthy = { ...HEARTBEAT, templatesHealthy: false, templateSequence: 0 };
  assert.deepEqual(decodeHeartbeat(encodeHeartbeat(unhealthy)), unhealthy);
});

Deno.test("decodeHeartbeat() names what is wrong", () => {
  const base = JSON.parse(new TextDecoder().decode(encodeHeartbeat(HEARTBEAT)));
  const cases: [unknown, RegExp][] = [
    [{ ...base, v: 2 }, /version 2 is not 1/],
    [{ ...base, role: "relay" }, /role "relay" is not "primary"/],
    [{ ...base, region: "eu.*" }, /region must be a subject token/],
    [{ ...base, network: 5 }, /network must be a subject token/],
    [{ ...base, sequence: -1 }, /sequence must be an integer ≥ 0/],
    [{ ...base, epoch: 1.5 }, /epoch must be an integer ≥ 0/],
    [{ ...base, sentAtMs: "now" }, /sentAtMs must be a finite number/],
    [{ ...base, templatesHealthy: 1 }, /templatesHealthy must be a boolean/],
    [{ ...base, instance: "x".repeat(65) }, /instance must be printable ASCII/],
    [[1, 2], /not a JSON object/],
  ];
  for (const [value, pattern] of cases) {
    assert.throws(() => decodeHeartbeat(json(value)), pattern);
  }
  assert.throws(() => decodeHeartbeat(new TextEncoder().encode("{")), /not UTF-8 JSON/);
  assert.throws(() => decodeHeartbeat(Uint8Array.of(0xff, 0xfe)), /not UTF-8 JSON/);
  assert.throws(() => decodeHeartbeat(new Uint8Array(2_000)), /above the 1024-byte cap/);
});
