import assert from "node:assert/strict";
import {
  formatEndpoint,
  isValidHost,
  parseBtcdUrl,
  parseHostPort,
  parseNatsUrls,
  parseServiceUrl,
} from "./endpoint.ts";

Deno.test("parseHostPort() accepts names, IPv4 and bracketed IPv6", () => {
  assert.deepEqual(parseHostPort("127.0.0.1:8332"), { host: "127.0.0.1", port: 8332 });
  assert.deepEqual(parseHostPort("node-1.example.com:3333"), {
    host: "node-1.example.com",
    port: 3333,
  });
  assert.deepEqual(parseHostPort("[::1]:18443"), { host: "[::1]", port: 18443 });
});

Deno.test("parseHostPort() rejects missing ports, bad octets, spaces and out-of-range ports", () => {
  for (const text of ["127.0.0.1", "127.0.0.256:1", "foo bar:1", "host:65536", "::1:8332", ":80"]) {
    assert.equal(parseHostPort(text), undefined, text);
  }
});

Deno.test("parseHostPort() allows port 0 only for listeners", () => {
  assert.equal(parseHostPort("127.0.0.1:0"), undefined);
  assert.deepEqual(parseHostPort("127.0.0.1:0", true), { host: "127.0.0.1", port: 0 });
});

Deno.test("parseBtcdUrl() accepts ckpool's two forms and nothing else", () => {
  assert.deepEqual(parseBtcdUrl("127.0.0.1:8332"), { host: "127.0.0.1", port: 8332 });
  assert.deepEqual(parseBtcdUrl("http://localhost:18443"), { host: "localhost", port: 18443 });
  assert.equal(parseBtcdUrl("https://localhost:18443"), undefined);
  assert.equal(parseBtcdUrl("http://localhost:18443/wallet"), undefined);
});

Deno.test("parseServiceUrl() fills in the scheme's default port and keeps credentials out", () => {
  const redis = { redis: 6379, rediss: 6379 };
  assert.deepEqual(parseServiceUrl("redis://:secret@10.0.0.5/2", redis), {
    host: "10.0.0.5",
    port: 6379,
  });
  assert.deepEqual(parseServiceUrl("rediss://cache.internal:6380", redis), {
    host: "cache.internal",
    port: 6380,
  });
  assert.equal(parseServiceUrl("http://cache.internal:6380", redis), undefined);
});

Deno.test("parseServiceUrl() requires a port when the default is 0", () => {
  assert.equal(parseServiceUrl("tcp://127.0.0.1", { tcp: 0 }), undefined);
  assert.deepEqual(parseServiceUrl("tcp://127.0.0.1:28332", { tcp: 0 }), {
    host: "127.0.0.1",
    port: 28332,
  });
});

Deno.test("parseNatsUrls() splits server lists and accepts bare host:port", () => {
  assert.deepEqual(parseNatsUrls("nats://a:4222, tls://user:pw@b, c:5222"), [
    { host: "a", port: 4222 },
    { host: "b", port: 4222 },
    { host: "c", port: 5222 },
  ]);
  assert.equal(parseNatsUrls("nats://a:4222,"), undefined);
  assert.equal(parseNatsUrls("http://a:4222"), undefined);
});

Deno.test("isValidHost() rejects malformed names and IPv6 without brackets", () => {
  assert.equal(isValidHost("-bad.example"), false);
  assert.equal(isValidHost("::1"), false);
  assert.equal(isValidHost("[fe80::1]"), true);
  assert.equal(isValidHost("[not:hex:zz]"), false);
});

Deno.test("formatEndpoint() renders the --allow-net form", () => {
  assert.equal(formatEndpoint({ host: "0.0.0.0", port: 3333 }), "0.0.0.0:3333");
});
