import assert from "node:assert/strict";
import { isConnectionLoss } from "./transaction.ts";

function withCode(code: string, name = "Error"): Error {
  const error = new Error("failed");
  error.name = name;
  (error as Error & { code: string }).code = code;
  return error;
}

Deno.test("isConnectionLoss() knows postgres.js connection errors and socket errors", () => {
  for (const code of ["CONNECTION_CLOSED", "CONNECTION_DESTROYED", "ECONNRESET", "EPIPE"]) {
    assert.equal(isConnectionLoss(withCode(code)), true, code);
  }
});

Deno.test("isConnectionLoss() counts server shutdown and connection exceptions, not statement errors", () => {
  assert.equal(isConnectionLoss(withCode("57P01", "PostgresError")), true, "admin_shutdown");
  assert.equal(isConnectionLoss(withCode("08006", "PostgresError")), true, "connection_failure");
  assert.equal(isConnectionLoss(withCode("22P02", "PostgresError")), false, "bad text");
  assert.equal(isConnectionLoss(withCode("40P01", "PostgresError")), false, "deadlock");
  assert.equal(isConnectionLoss(withCode("57P01")), false, "only the server's own errors");
  assert.equal(isConnectionLoss(new Error("no code")), false);
  assert.equal(isConnectionLoss("CONNECTION_CLOSED"), false);
});
