import assert from "node:assert/strict";
import process from "node:process";
import { sandboxProcessEnv } from "./env_sandbox.ts";

Deno.test("sandboxProcessEnv() leaves only granted, listed variables enumerable in process.env", () => {
  const original = Object.getOwnPropertyDescriptor(process, "env");
  try {
    Deno.env.set("TBG_SANDBOX_TEST", "yes");
    sandboxProcessEnv(["TBG_SANDBOX_TEST", "TBG_SANDBOX_ABSENT"]);
    assert.deepEqual(Object.keys(process.env), ["TBG_SANDBOX_TEST"]);
    assert.equal(process.env.TBG_SANDBOX_TEST, "yes");
  } finally {
    Deno.env.delete("TBG_SANDBOX_TEST");
    if (original) Object.defineProperty(process, "env", original);
  }
});
