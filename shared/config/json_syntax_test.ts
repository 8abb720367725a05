import assert from "node:assert/strict";
import { findJsonProblem } from "./json_syntax.ts";

Deno.test("findJsonProblem() accepts what JSON.parse accepts", () => {
  for (
    const text of [
      "{}",
      '{"a": [1, -2.5e3, true, false, null, "x\\u00e9\\n"], "b": {"c": {}}}',
      " \n[ ]\n",
      '"just a string"',
      // Longer than the 400-character window the number scan once had.
      "1".repeat(401),
      `{"mindiff": 0.${"5".repeat(500)}e-3}`,
    ]
  ) {
    JSON.parse(text);
    assert.equal(findJsonProblem(text), undefined, text);
  }
});

Deno.test("findJsonProblem() reports a missing value with line and column", () => {
  assert.deepEqual(findJsonProblem('{\n  "a": 1,\n  "b": }'), {
    line: 3,
    column: 8,
    reason: 'unexpected "}" (expected a value)',
  });
});

Deno.test("findJsonProblem() points at the key after a missing comma", () => {
  assert.deepEqual(findJsonProblem('{"a": 1\n "b": 2}'), {
    line: 2,
    column: 2,
    reason: `unexpected '"' (expected "," or "}"; a comma is probably missing)`,
  });
});

Deno.test("findJsonProblem() names trailing commas, comments and single quotes", () => {
  assert.equal(
    findJsonProblem('{"a": 1,}')?.reason,
    'unexpected "}" after "," (trailing commas are not allowed in JSON)',
  );
  assert.equal(
    findJsonProblem("[1,]")?.reason,
    'unexpected "]" after "," (trailing commas are not allowed in JSON)',
  );
  assert.equal(
    findJsonProblem("// note\n{}")?.reason,
    'unexpected "/" (expected a value; comments are not allowed in JSON)',
  );
  assert.equal(
    findJsonProblem("{'a': 1}")?.reason,
    `unexpected "'" (expected a double-quoted key; strings and keys need double quotes)`,
  );
});

Deno.test("findJsonProblem() names an unquoted word", () => {
  assert.deepEqual(findJsonProblem('{"network": regtest}'), {
    line: 1,
    column: 13,
    reason: 'unexpected word "regtest" (expected a value; strings need double quotes)',
  });
});

Deno.test("findJsonProblem() rejects duplicate keys that JSON.parse would silently merge", () => {
  const text = '{\n  "mindiff": 1,\n  "mindiff": 2\n}';
  assert.equal(JSON.parse(text).mindiff, 2);
  assert.deepEqual(findJsonProblem(text), {
    line: 3,
    column: 3,
    reason: 'duplicate key "mindiff" (first at line 2, column 3)',
  });
});

Deno.test("findJsonProblem() allows the same key in different objects", () => {
  assert.equal(findJsonProblem('{"a": {"x": 1}, "b": {"x": 2}}'), undefined);
});

Deno.test("findJsonProblem() reports end of file, trailing text, bad escapes and control characters", () => {
  assert.equal(findJsonProblem('{"a": ')?.reason, "unexpected end of file (expected a value)");
  assert.equal(findJsonProblem('{"a": "x')?.reason, "unterminated string");
  assert.equal(findJsonProblem("{} x")?.reason, 'unexpected "x" after the end of the document');
  assert.equal(findJsonProblem('"\\q"')?.reason, 'invalid escape "\\q" in a string');
  // Found by the config-json fuzz target: the raw line break after the backslash was copied into
  // the reason, so the one-line ConfigError a service prints became two lines.
  assert.equal(
    findJsonProblem('"\\\n"')?.reason,
    'invalid escape "\\" followed by line break in a string',
  );
  assert.equal(
    findJsonProblem('"\\\r"')?.reason,
    'invalid escape "\\" followed by "\\r" in a string',
  );
  assert.equal(
    findJsonProblem('"\\')?.reason,
    'invalid escape "\\" followed by end of file in a string',
  );
  assert.equal(
    findJsonProblem('"a\nb"')?.reason,
    "line break inside a string (escape control characters)",
  );
  assert.equal(findJsonProblem("01")?.reason, "invalid number");
});

Deno.test("findJsonProblem() stops hostile nesting without overflowing the stack", () => {
  assert.equal(findJsonProblem("[".repeat(100_000))?.reason, "nesting deeper than 512 levels");
});
