import assert from "node:assert/strict";
import {
  eventsSubjectPrefix,
  httpListeners,
  parseInstanceArg,
  stratumListeners,
  withInstancePorts,
} from "./listeners.ts";
import { validateConfig } from "./load_config.ts";

const BASE = {
  btcd: [{ url: "127.0.0.1:8332", auth: "u", pass: "p" }],
  serverurl: ["0.0.0.0:3333", "[::1]:3334"],
};
const stratum = (extra: Record<string, unknown>) =>
  validateConfig("stratum", { ...BASE, ...extra }, "t");

Deno.test("httpListeners() serves /health on the metrics listener, on loopback, by default", () => {
  assert.deepEqual(httpListeners(stratum({})), [
    { host: "127.0.0.1", port: 9100, routes: ["metrics", "health"] },
  ]);
});

Deno.test("metrics and health listeners bind 127.0.0.1 unless the config names an address", () => {
  const relay = { ...BASE, region_index: 1, primary: { host: "p", port: 8880, auth_token: "t" } };
  const collector = { postgres: { url: "postgres://u:p@db/x" }, redis: { url: "redis://cache" } };
  assert.equal(stratum({}).metrics.host, "127.0.0.1");
  assert.equal(validateConfig("relay", relay, "t").metrics.host, "127.0.0.1");
  assert.equal(validateConfig("collector", collector, "t").metrics.host, "127.0.0.1");
  assert.equal(stratum({ health: { port: 8080 } }).health?.host, "127.0.0.1");
  const remote = stratum({ metrics: { host: "10.1.2.3" }, health: { host: "0.0.0.0", port: 80 } });
  assert.deepEqual(httpListeners(remote), [
    { host: "10.1.2.3", port: 9100, routes: ["metrics"] },
    { host: "0.0.0.0", port: 80, routes: ["health"] },
  ]);
});

Deno.test("httpListeners() keeps the listener for /health when metrics are disabled", () => {
  assert.deepEqual(httpListeners(stratum({ metrics: { enabled: false } })), [
    { host: "127.0.0.1", port: 9100, routes: ["health"] },
  ]);
});

Deno.test("httpListeners() opens a separate health listener when configured", () => {
  assert.deepEqual(httpListeners(stratum({ health: { host: "0.0.0.0", port: 8080 } })), [
    { host: "127.0.0.1", port: 9100, routes: ["metrics"] },
    { host: "0.0.0.0", port: 8080, routes: ["health"] },
  ]);
  assert.deepEqual(
    httpListeners(stratum({ metrics: { enabled: false }, health: { port: 8080 } })),
    [{ host: "127.0.0.1", port: 8080, routes: ["health"] }],
  );
});

Deno.test("httpListeners() folds a health listener on the metrics address into it", () => {
  assert.deepEqual(httpListeners(stratum({ health: { host: "127.0.0.1", port: 9100 } })), [
    { host: "127.0.0.1", port: 9100, routes: ["metrics", "health"] },
  ]);
});

Deno.test("stratumListeners() parses every serverurl", () => {
  assert.deepEqual(stratumListeners(stratum({})), [
    { host: "0.0.0.0", port: 3333 },
    { host: "[::1]", port: 3334 },
  ]);
});

Deno.test("eventsSubjectPrefix() derives the prefix from the region unless set", () => {
  assert.equal(eventsSubjectPrefix(stratum({ region: "ap-south" })), "mining.events.ap-south");
  assert.equal(
    eventsSubjectPrefix(stratum({ events: { nats_subject: "test.events.x" } })),
    "test.events.x",
  );
});

Deno.test("withInstancePorts() shifts metrics and health ports by the instance index", () => {
  const config = validateConfig("stratum", {
    btcd: [{ url: "127.0.0.1:8332", auth: "a", pass: "b" }],
    serverurl: ["0.0.0.0:3333"],
    health: { host: "0.0.0.0", port: 8080 },
  }, "t");
  const shifted = withInstancePorts(config, 2);
  assert.equal(shifted.metrics.port, 9102);
  assert.equal(shifted.health?.port, 8082);
  assert.equal(withInstancePorts(config, 0), config);
  assert.equal(parseInstanceArg(["--instance", "3"]), 3);
  assert.equal(parseInstanceArg([]), 0);
  assert.throws(
    () => parseInstanceArg(["--instance", "256"]),
    /--instance expects an integer from 0 to 255, got 256/,
  );
});
