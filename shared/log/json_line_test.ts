import assert from "node:assert/strict";
import type { LogRecord } from "@logtape/logtape";
import {
  formatLogLine,
  MAX_LOG_COLLECTION_ENTRIES,
  MAX_LOG_DEPTH,
  MAX_LOG_STRING_LENGTH,
  toSafeLogValue,
  truncateLogString,
} from "./json_line.ts";

function record(overrides: Partial<LogRecord>): LogRecord {
  return {
    category: ["test"],
    level: "info",
    message: ["hello"],
    rawMessage: "hello",
    timestamp: Date.UTC(2024, 4, 24, 12, 0, 0),
    properties: {},
    ...overrides,
  };
}

Deno.test("truncateLogString() never leaves half of a surrogate pair at the cut", () => {
  const text = "a".repeat(MAX_LOG_STRING_LENGTH - 1) + "😀" + "tail";
  const truncated = truncateLogString(text);
  assert.ok(truncated.startsWith("a".repeat(MAX_LOG_STRING_LENGTH - 1) + "…"));
  assert.match(truncated, /\[truncated 6 of 517 chars\]$/);
});

Deno.test("truncateLogString() returns short strings unchanged", () => {
  const text = "x".repeat(MAX_LOG_STRING_LENGTH);
  assert.equal(truncateLogString(text), text);
});

Deno.test("toSafeLogValue() bounds depth, entries and byte arrays", () => {
  let nested: unknown = "bottom";
  for (let i = 0; i < MAX_LOG_DEPTH + 3; i++) nested = [nested];
  let probe = toSafeLogValue(nested);
  let depth = 0;
  while (Array.isArray(probe)) {
    probe = probe[0];
    depth++;
  }
  assert.equal(depth, MAX_LOG_DEPTH);
  assert.equal(probe, "[Depth limit]");

  const wide = toSafeLogValue(Array.from({ length: 1_000 }, (_, i) => i));
  assert.ok(Array.isArray(wide));
  assert.equal(wide.length, MAX_LOG_COLLECTION_ENTRIES + 1);
  assert.equal(wide.at(-1), `…[${1_000 - MAX_LOG_COLLECTION_ENTRIES} more items]`);

  const manyKeys = toSafeLogValue(Object.fromEntries(
    Array.from({ length: 200 }, (_, i) => [`k${i}`, i]),
  ));
  assert.equal(Object.keys(manyKeys as object).length, MAX_LOG_COLLECTION_ENTRIES + 1);

  const bytes = toSafeLogValue(new Uint8Array(100_000));
  assert.equal(typeof bytes, "string");
  assert.match(String(bytes), /^(00){256}…\[truncated 99744 of 100000 bytes\]$/);
});

Deno.test("toSafeLogValue() keeps a hostile __proto__ key as plain data", () => {
  const hostile = JSON.parse('{"__proto__":{"polluted":true},"ok":1}');
  const safe = toSafeLogValue(hostile);
  assert.equal(JSON.stringify(safe), '{"__proto__":{"polluted":true},"ok":1}');
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
});

Deno.test("toSafeLogValue() records a throwing getter instead of throwing", () => {
  const value = {
    get boom(): string {
      throw new Error("getter exploded");
    },
  };
  assert.equal(
    JSON.stringify(toSafeLogValue({ value })),
    '{"value":"[Unserializable: Error: getter exploded]"}',
  );
});

Deno.test("toSafeLogValue() marks repeated references that are not cycles as data", () => {
  const shared = { a: 1 };
  assert.deepEqual(JSON.parse(JSON.stringify(toSafeLogValue({ x: shared, y: shared }))), {
    x: { a: 1 },
    y: { a: 1 },
  });
});

Deno.test("formatLogLine() keeps values of a tagged template in args, out of msg", () => {
  const template = Object.assign(["ua ", " seen"], { raw: ["ua ", " seen"] });
  const line = formatLogLine(
    record({ rawMessage: template, message: ["ua ", "\u001b[2Jevil\n", " seen"] }),
    "stratum",
  );
  assert.ok(!line.includes("\n") && !line.includes("\u001b"), line);
  const parsed = JSON.parse(line);
  assert.equal(parsed.msg, "ua {} seen");
  assert.deepEqual(parsed.args, ["\u001b[2Jevil\n"]);
});

Deno.test("formatLogLine() writes the fixed fields first and in a fixed order", () => {
  const line = formatLogLine(record({ properties: { "0": "first?", user: "bc1q" } }), "svc");
  assert.equal(
    line,
    '{"ts":"2024-05-24T12:00:00.000Z","level":"info","service":"svc","category":"test",' +
      '"msg":"hello","0":"first?","user":"bc1q"}',
  );
});

Deno.test("formatLogLine() escapes U+2028, U+2029 and C1 controls in property keys", () => {
  const line = formatLogLine(record({ properties: { "k\u2028\u0085": "v" } }), "svc");
  assert.ok(line.includes('"k\\u2028\\u0085":"v"'));
  assert.equal(JSON.parse(line)["k\u2028\u0085"], "v");
});
