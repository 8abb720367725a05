import assert from "node:assert/strict";
import { configureLogging, flushLogging, shutdownLogging } from "./configure.ts";
import { getLogger } from "./logger.ts";
import { MAX_LOG_STRING_LENGTH } from "./json_line.ts";

/** Finds a code unit that must never appear raw in a written line, or returns -1. */
function rawUnsafeIndex(line: string): number {
  for (let i = 0; i < line.length; i++) {
    const c = line.charCodeAt(i);
    if (c < 0x20 || (c >= 0x7f && c <= 0x9f) || c === 0x2028 || c === 0x2029) return i;
    if (c >= 0xd800 && c <= 0xdbff) {
      const next = line.charCodeAt(i + 1);
      if (!(next >= 0xdc00 && next <= 0xdfff)) return i;
      i++;
    } else if (c >= 0xdc00 && c <= 0xdfff) {
      return i;
    }
  }
  return -1;
}

async function captureLines(
  level: "debug" | "info",
  body: () => void,
): Promise<string[]> {
  const lines: string[] = [];
  await configureLogging({ service: "stratum-test", level, sink: (line) => lines.push(line) });
  try {
    body();
  } finally {
    await shutdownLogging();
  }
  return lines;
}

function parseLine(line: string): Record<string, unknown> {
  const parsed: unknown = JSON.parse(line);
  assert.ok(typeof parsed === "object" && parsed !== null && !Array.isArray(parsed));
  return parsed as Record<string, unknown>;
}

const HOSTILE_USER_AGENTS: ReadonlyArray<readonly [string, string]> = [
  ["forged JSON line after LF", 'cgminer/4.11\n{"level":"fatal","msg":"forged"}'],
  ["forged JSON line after CRLF", 'bmminer\r\n{"level":"fatal","msg":"forged"}'],
  ["bare CR", "bitaxe\rOVERWRITE"],
  ["U+2028 and U+2029", 'a\u2028{"level":"fatal"}\u2029b'],
  ["ANSI clear screen and colour", "\x1b[2J\x1b[31mred\x1b[0m"],
  ["8-bit CSI and other C1 controls", "\u009b31m\u0085\u0080\u009f"],
  ["DEL and NUL", "x\u007fy\u0000z"],
  ["lone high surrogate", "miner\ud800tail"],
  ["lone low surrogate", "\udfffminer"],
  ["quotes and backslashes", '"},"level":"fatal","x":"\\'],
];

for (const [name, userAgent] of HOSTILE_USER_AGENTS) {
  Deno.test(`configureLogging() writes a user agent with ${name} as data on exactly one line`, async () => {
    const lines = await captureLines("info", () => {
      getLogger(["stratum", "session"]).info("miner connected", { userAgent, worker: userAgent });
    });
    assert.equal(lines.length, 1);
    const line = lines[0] ?? "";
    assert.equal(rawUnsafeIndex(line), -1);
    const record = parseLine(line);
    assert.equal(record.level, "info");
    assert.equal(record.msg, "miner connected");
    assert.equal(record.service, "stratum-test");
    assert.equal(record.category, "stratum.session");
    assert.equal(record.userAgent, userAgent);
    assert.equal(record.worker, userAgent);
  });
}

Deno.test("configureLogging() truncates a 100 kB user agent and marks it truncated", async () => {
  const userAgent = "A".repeat(50_000) + '\n{"level":"fatal"}' + "B".repeat(50_000);
  const lines = await captureLines("info", () => {
    getLogger(["stratum"]).warn("oversized user agent", { userAgent });
  });
  assert.equal(lines.length, 1);
  const line = lines[0] ?? "";
  assert.equal(rawUnsafeIndex(line), -1);
  assert.ok(line.length < 2_000, `line is ${line.length} chars`);
  const record = parseLine(line);
  assert.equal(record.level, "warning");
  const written = record.userAgent;
  assert.equal(typeof written, "string");
  assert.ok(String(written).startsWith("A".repeat(MAX_LOG_STRING_LENGTH)));
  assert.match(String(written), /…\[truncated 99\d{3} of 100\d{3} chars\]$/);
});

Deno.test("configureLogging() writes the template as msg, never values substituted into it", async () => {
  const lines = await captureLines("info", () => {
    getLogger(["stratum"]).info("authorized {user}", { user: '\n{"msg":"forged"}' });
  });
  const record = parseLine(lines[0] ?? "");
  assert.equal(record.msg, "authorized {user}");
  assert.equal(record.user, '\n{"msg":"forged"}');
});

Deno.test("configureLogging() keeps reserved fields when properties reuse their names", async () => {
  const lines = await captureLines("info", () => {
    getLogger(["stratum"]).info("login", {
      level: "fatal",
      msg: "forged",
      ts: "1970",
      service: "x",
      category: "y",
      prop_level: "taken",
    });
  });
  assert.equal(lines.length, 1);
  const record = parseLine(lines[0] ?? "");
  assert.equal(record.level, "info");
  assert.equal(record.msg, "login");
  assert.equal(record.service, "stratum-test");
  assert.equal(record.category, "stratum");
  assert.equal(record.prop_level, "taken");
  assert.equal(record._prop_level, "fatal");
  assert.equal(record.prop_msg, "forged");
  assert.equal(record.prop_ts, "1970");
});

Deno.test("configureLogging() writes ts as an ISO timestamp", async () => {
  const lines = await captureLines("info", () => getLogger(["collector"]).info("started"));
  const record = parseLine(lines[0] ?? "");
  assert.equal(typeof record.ts, "string");
  assert.equal(new Date(String(record.ts)).toISOString(), record.ts);
});

Deno.test("configureLogging() drops records below the configured level", async () => {
  const lines = await captureLines("info", () => {
    const log = getLogger(["stratum"]);
    log.debug("noisy");
    log.trace("noisier");
    log.error("kept");
    assert.equal(log.isEnabledFor("debug"), false);
    assert.equal(log.isEnabledFor("info"), true);
  });
  assert.deepEqual(lines.map((line) => parseLine(line).msg), ["kept"]);
});

Deno.test("getLogger().with() adds context properties and getChild() extends the category", async () => {
  const lines = await captureLines("debug", () => {
    const session = getLogger(["stratum"]).getChild("session").with({ sessionId: "0a1b2c3d" });
    session.debug("share accepted", { shareDiff: 1024 });
  });
  const record = parseLine(lines[0] ?? "");
  assert.equal(record.category, "stratum.session");
  assert.equal(record.sessionId, "0a1b2c3d");
  assert.equal(record.shareDiff, 1024);
  assert.equal(record.level, "debug");
});

Deno.test("configureLogging() serializes bigints, bytes, errors and cycles without throwing", async () => {
  const cyclic: Record<string, unknown> = { name: "loop" };
  cyclic.self = cyclic;
  const lines = await captureLines("info", () => {
    getLogger(["stratum"]).error("submitblock failed", {
      valueSats: 312_500_000n,
      header: new Uint8Array([0, 1, 0xab, 0xff]),
      error: new RangeError("Cannot submit: rejected", { cause: new Error("high-hash") }),
      cyclic,
      nan: Number.NaN,
      missing: undefined,
    });
  });
  assert.equal(lines.length, 1);
  const record = parseLine(lines[0] ?? "");
  assert.equal(record.valueSats, "312500000");
  assert.equal(record.header, "0001abff");
  const error = record.error as Record<string, unknown>;
  assert.equal(error.name, "RangeError");
  assert.equal(error.message, "Cannot submit: rejected");
  assert.equal((error.cause as Record<string, unknown>).message, "high-hash");
  assert.deepEqual(record.cyclic, { name: "loop", self: "[Circular]" });
  assert.equal(record.nan, "NaN");
  assert.equal("missing" in record, false);
});

Deno.test("configureLogging() writes newline-terminated UTF-8 lines to a WritableStream", async () => {
  const chunks: Uint8Array[] = [];
  const stream = new WritableStream<Uint8Array>({
    write(chunk) {
      chunks.push(chunk);
    },
  });
  await configureLogging({ service: "relay", level: "info", sink: stream });
  try {
    const log = getLogger(["relay"]);
    log.info("one", { worker: "rig\n1" });
    log.info("two", { worker: "ünïcødé ✓" });
    await flushLogging();
  } finally {
    await shutdownLogging();
  }
  const text = new TextDecoder().decode(
    chunks.reduce((all, chunk) => new Uint8Array([...all, ...chunk]), new Uint8Array()),
  );
  const lines = text.split("\n");
  assert.equal(lines.pop(), "");
  assert.deepEqual(lines.map((line) => parseLine(line).worker), ["rig\n1", "ünïcødé ✓"]);
  assert.equal(stream.locked, false);
});

Deno.test("configureLogging() rejects an empty service name and an unknown level", async () => {
  await assert.rejects(
    configureLogging({ service: "", level: "info", sink: () => {} }),
    TypeError,
  );
  await assert.rejects(
    // @ts-expect-error: "verbose" is not a log level; config loaded from files can carry this.
    configureLogging({ service: "stratum", level: "verbose", sink: () => {} }),
    /Cannot configure logging: "verbose" is not a log level/,
  );
});

Deno.test("getLogger() rejects an empty category", () => {
  assert.throws(() => getLogger([]), TypeError);
});

Deno.test("configureLogging() drops lines a failing stream refuses and keeps the process alive", async () => {
  let accepted = 0;
  const stream = new WritableStream<Uint8Array>({
    write() {
      accepted++;
      if (accepted === 1) throw new Error("EPIPE");
    },
  });
  await configureLogging({ service: "relay", level: "info", sink: stream });
  try {
    const log = getLogger(["relay"]);
    log.info("lost");
    log.info("after failure");
    await flushLogging();
  } finally {
    await shutdownLogging();
  }
  assert.equal(stream.locked, false);
});
