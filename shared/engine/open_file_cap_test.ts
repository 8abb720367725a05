import assert from "node:assert/strict";
import {
  connectionCapForOpenFiles,
  FDS_PER_TLS_CONNECTION,
  parseNofileLimitArg,
} from "./open_file_cap.ts";

Deno.test("connectionCapForOpenFiles() keeps the reserve free under the open-file limit", () => {
  const base = { maxclients: 100_000, reserve: 200, tls: false };
  assert.equal(connectionCapForOpenFiles({ ...base, nofileLimit: 1024 }), 824);
  assert.equal(connectionCapForOpenFiles({ ...base, nofileLimit: 1_048_576 }), 100_000);
  assert.equal(connectionCapForOpenFiles({ ...base, maxclients: 500, nofileLimit: 1024 }), 500);
});

Deno.test("connectionCapForOpenFiles() counts a TLS miner's loopback pair", () => {
  const cap = connectionCapForOpenFiles({
    maxclients: 100_000,
    reserve: 200,
    tls: true,
    nofileLimit: 1024,
  });
  assert.equal(cap, Math.floor(824 / FDS_PER_TLS_CONNECTION));
});

Deno.test("connectionCapForOpenFiles() is maxclients when the limit is unknown", () => {
  assert.equal(
    connectionCapForOpenFiles({ maxclients: 7, reserve: 200, tls: true, nofileLimit: null }),
    7,
  );
});

Deno.test("connectionCapForOpenFiles() refuses a reserve that leaves no miner", () => {
  assertThrowsRange(() =>
    connectionCapForOpenFiles({ maxclients: 10, reserve: 256, tls: false, nofileLimit: 256 })
  );
  assertThrowsRange(() =>
    connectionCapForOpenFiles({ maxclients: 10, reserve: 254, tls: true, nofileLimit: 256 })
  );
  assert.equal(
    connectionCapForOpenFiles({ maxclients: 10, reserve: 253, tls: true, nofileLimit: 256 }),
    1,
  );
});

function assertThrowsRange(fn: () => unknown): void {
  assert.throws(
    fn,
    (e: unknown) => e instanceof RangeError && /open_files_reserve/.test(e.message),
  );
}

Deno.test("parseNofileLimitArg() reads --nofile-limit", () => {
  assert.equal(parseNofileLimitArg(["--instance", "1"]), null);
  assert.equal(parseNofileLimitArg(["--nofile-limit", "4096"]), 4096);
  assert.equal(parseNofileLimitArg(["--nofile-limit", "unlimited"]), null);
  for (const bad of [[], ["0"], ["-5"], ["1.5"], ["many"]]) {
    assert.throws(
      () => parseNofileLimitArg(["--nofile-limit", ...bad]),
      /--nofile-limit expects a positive integer/,
    );
  }
});
