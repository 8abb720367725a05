import assert from "node:assert/strict";
import {
  checkEngine,
  coinbaseScriptSigBytes,
  type EngineCrossFields,
  isLiteralNatsSubject,
  isRegionSlug,
} from "./engine_schema.ts";

const VALID: EngineCrossFields = {
  serverurl_tls: [],
  btcsig: "/TheBitcoinGame/",
  donation: 0,
  mindiff: 1,
  startdiff: 42,
  maxdiff: 0,
  nonce1length: 4,
  nonce2length: 8,
};

function issuesOf(config: EngineCrossFields): string[] {
  const issues: string[] = [];
  checkEngine(config, (path, message) => issues.push(`${path.join(".")}: ${message}`));
  return issues;
}

Deno.test("coinbaseScriptSigBytes() counts height, tag and extranonce pushes", () => {
  assert.equal(coinbaseScriptSigBytes("/TheBitcoinGame/", 4, 8), 5 + 17 + 13);
  assert.equal(coinbaseScriptSigBytes("", 4, 8), 5 + 13);
  assert.equal(coinbaseScriptSigBytes("x".repeat(73), 8, 8), 96);
});

Deno.test("checkEngine() wants max_requests_per_minute at least max_shares_per_minute", () => {
  const limits = { max_requests_per_minute: 2000, max_shares_per_minute: 1000 };
  assert.deepEqual(issuesOf({ ...VALID, rate_limits: limits }), []);
  assert.deepEqual(
    issuesOf({ ...VALID, rate_limits: { ...limits, max_requests_per_minute: 999 } }),
    [
      "rate_limits.max_requests_per_minute: expected at least max_shares_per_minute (1000), or the connection is closed before the submit soft-ban can act; got 999",
    ],
  );
});

Deno.test("checkEngine() accepts the defaults", () => {
  assert.deepEqual(issuesOf(VALID), []);
});

Deno.test("checkEngine() rejects a scriptSig over consensus' 100 bytes, not one at it", () => {
  assert.deepEqual(
    issuesOf({ ...VALID, btcsig: "x".repeat(73), nonce1length: 8, nonce2length: 12 }),
    [],
  );
  assert.deepEqual(
    issuesOf({ ...VALID, btcsig: "x".repeat(73), nonce1length: 8, nonce2length: 13 }),
    [
      "btcsig: coinbase scriptSig would need 101 bytes (height 5 + tag 74 + extranonces 22), more than the 100 consensus allows; shorten btcsig or the nonce lengths",
    ],
  );
});

Deno.test("checkEngine() reports each broken rule once", () => {
  assert.deepEqual(issuesOf({ ...VALID, mindiff: 50, maxdiff: 10, donation: 2 }), [
    "startdiff: expected at least mindiff (50), got 42",
    "maxdiff: expected 0 (no maximum) or at least startdiff (42), got 10",
    "btcaddress: is required when donation is above 0 (donation is 2)",
  ]);
});

Deno.test("isLiteralNatsSubject() refuses wildcards and empty tokens", () => {
  assert.equal(isLiteralNatsSubject("mining.events.us-east"), true);
  assert.equal(isLiteralNatsSubject("mining.events.*"), false);
  assert.equal(isLiteralNatsSubject("mining..events"), false);
  assert.equal(isLiteralNatsSubject("mining.events.>"), false);
});

Deno.test("isRegionSlug() keeps regions safe as one NATS token", () => {
  assert.equal(isRegionSlug("ap-southeast-1"), true);
  assert.equal(isRegionSlug("EU"), false);
  assert.equal(isRegionSlug("eu.west"), false);
  assert.equal(isRegionSlug("x".repeat(33)), false);
});
