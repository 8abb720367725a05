import assert from "node:assert/strict";
import { ConfigError } from "./config_error.ts";
import { validateConfig } from "./load_config.ts";
import { stratumTlsListeners } from "./listeners.ts";

const PATH = "/etc/tbg/stratum.json";
const MINIMAL = {
  btcd: [{ url: "127.0.0.1:8332", auth: "user", pass: "pass" }],
  serverurl: ["0.0.0.0:3333"],
};
const TLS = {
  serverurl_tls: ["0.0.0.0:4333", "127.0.0.1:4334"],
  tls: { cert_file: "/etc/tbg/tls/pool.crt", key_file: "/etc/tbg/tls/pool.key" },
};

function messageOf(kind: "stratum" | "relay", value: unknown): string {
  try {
    validateConfig(kind, value, PATH);
  } catch (error: unknown) {
    if (error instanceof ConfigError) return error.message;
    throw error;
  }
  return assert.fail("expected a ConfigError");
}

Deno.test("validateConfig() has no TLS listener unless serverurl_tls is given", () => {
  const config = validateConfig("stratum", MINIMAL, PATH);
  assert.deepEqual(config.serverurl_tls, []);
  assert.equal(config.tls, undefined);
  assert.deepEqual(stratumTlsListeners(config), []);
});

Deno.test("validateConfig() fills in the handshake limits of a tls section", () => {
  const config = validateConfig("stratum", { ...MINIMAL, ...TLS }, PATH);
  assert.deepEqual(config.tls, {
    cert_file: "/etc/tbg/tls/pool.crt",
    key_file: "/etc/tbg/tls/pool.key",
    handshake_timeout_ms: 10_000,
    max_handshakes: 256,
  });
  assert.deepEqual(stratumTlsListeners(config), [
    { host: "0.0.0.0", port: 4333 },
    { host: "127.0.0.1", port: 4334 },
  ]);
});

Deno.test("validateConfig() requires the tls section with serverurl_tls, and the other way round", () => {
  assert.equal(
    messageOf("stratum", { ...MINIMAL, serverurl_tls: ["0.0.0.0:4333"] }),
    `Invalid config ${PATH}: tls: is required when serverurl_tls lists a listener: {"cert_file": "<PEM path>", "key_file": "<PEM path>"}`,
  );
  assert.equal(
    messageOf("stratum", { ...MINIMAL, tls: TLS.tls }),
    `Invalid config ${PATH}: serverurl_tls: expected at least one "host:port" when the tls section is set, got none`,
  );
});

Deno.test("validateConfig() names a bad TLS key with its path and the expected form", () => {
  assert.match(
    messageOf("stratum", { ...MINIMAL, ...TLS, serverurl_tls: ["4333"] }),
    /serverurl_tls\[0\]: expected "host:port", got "4333"/,
  );
  assert.match(
    messageOf("stratum", { ...MINIMAL, ...TLS, tls: { cert_file: "/c.crt" } }),
    /tls\.key_file: .*required/,
  );
  assert.match(
    messageOf("stratum", { ...MINIMAL, ...TLS, tls: { ...TLS.tls, max_handshakes: 0 } }),
    /tls\.max_handshakes: expected an integer from 1 to 65535, got 0/,
  );
  assert.match(
    messageOf("stratum", { ...MINIMAL, ...TLS, tls: { ...TLS.tls, handshake_timeout_ms: 50 } }),
    /tls\.handshake_timeout_ms: expected an integer from 100 to 120000, got 50/,
  );
  assert.match(
    messageOf("stratum", { ...MINIMAL, ...TLS, tls: { ...TLS.tls, ca_file: "/ca.crt" } }),
    /tls: .*ca_file/,
  );
});

Deno.test("validateConfig() gives a relay the same TLS listeners", () => {
  const config = validateConfig("relay", {
    ...MINIMAL,
    ...TLS,
    region_index: 1,
    primary: { host: "primary.internal", port: 4222, auth_token: "secret" },
  }, "/etc/tbg/relay.json");
  assert.deepEqual(config.serverurl_tls, TLS.serverurl_tls);
  assert.equal(config.tls?.max_handshakes, 256);
});
