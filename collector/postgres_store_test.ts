import assert from "node:assert/strict";
import { isDataError, PostgresStore, RECONNECT_DELAY_S } from "./postgres_store.ts";

function postgresError(code: string): Error {
  const error = new Error("server said no");
  error.name = "PostgresError";
  Object.assign(error, { code });
  return error;
}

Deno.test("isDataError() is true for data exceptions and program limits only", () => {
  assert.equal(isDataError(postgresError("22P05")), true, "untranslatable character");
  assert.equal(isDataError(postgresError("22021")), true, "invalid byte sequence");
  assert.equal(isDataError(postgresError("54000")), true, "program limit exceeded");
  assert.equal(isDataError(postgresError("23502")), false, "not null: schema and code disagree");
  assert.equal(isDataError(postgresError("42P01")), false, "undefined table: not migrated");
  assert.equal(isDataError(postgresError("57P01")), false, "admin shutdown");
  assert.equal(isDataError(postgresError("40P01")), false, "deadlock");
});

Deno.test("isDataError() is false for connection failures and other errors", () => {
  const refused = Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" });
  assert.equal(isDataError(refused), false);
  assert.equal(isDataError(new TypeError("x")), false);
  assert.equal(isDataError("22000"), false);
});

Deno.test("PostgresStore's client reopens a failed connection after the same short delay, however many failed", async () => {
  // postgres.js's default grows to 10-20 s after a few failed connects, which kept batches
  // waiting long after PostgreSQL was back (tests/collector_test.ts measures the recovery).
  const store = new PostgresStore("postgres://tbg@127.0.0.1:9/tbg");
  try {
    const backoff = store.sql.options.backoff;
    assert.ok(typeof backoff === "function");
    for (const failures of [0, 1, 5, 10, 50]) {
      assert.equal(backoff(failures), RECONNECT_DELAY_S, `after ${failures} failures`);
    }
  } finally {
    await store.close();
  }
});
