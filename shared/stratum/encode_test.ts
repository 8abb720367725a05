import assert from "node:assert/strict";
import fc from "fast-check";
import { encodeError, encodeResult } from "./encode.ts";
import { stratumError, StratumErrorCode } from "./errors.ts";
import type { RequestId } from "./messages.ts";

const ids: fc.Arbitrary<RequestId> = fc.oneof(
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.string(),
  fc.constant(null),
);
const codes = fc.constantFrom(...Object.values(StratumErrorCode));

Deno.test("encodeResult() and encodeError() write exactly what JSON.stringify would", () => {
  fc.assert(fc.property(ids, fc.jsonValue(), codes, fc.string(), (id, result, code, message) => {
    const error = stratumError(code, message);
    assert.equal(
      encodeResult(id, result),
      `{"id":${JSON.stringify(id)},"result":${JSON.stringify(result)},"error":null}\n`,
    );
    assert.equal(
      encodeResult(id, true),
      `{"id":${JSON.stringify(id)},"result":true,"error":null}\n`,
    );
    assert.equal(
      encodeError(id, error),
      `{"id":${JSON.stringify(id)},"result":null,"error":${JSON.stringify(error)}}\n`,
    );
    assert.deepEqual(JSON.parse(encodeError(id, error)).error, [code, message, null]);
  }));
});
