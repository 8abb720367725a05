import assert from "node:assert/strict";
import fc from "fast-check";
import { LineDecoder } from "./line_decoder.ts";

const enc = new TextEncoder();

function collect(
  decoder: LineDecoder,
  chunks: Uint8Array[],
): { lines: string[]; overflow: boolean } {
  const lines: string[] = [];
  for (const chunk of chunks) {
    if (decoder.feed(chunk, (l) => lines.push(l)) === "overflow") return { lines, overflow: true };
  }
  return { lines, overflow: false };
}

Deno.test("LineDecoder yields pipelined lines from one chunk in order", () => {
  const { lines } = collect(new LineDecoder(1024), [enc.encode('{"a":1}\n{"b":2}\r\n\n{"c":3}\n')]);
  assert.deepEqual(lines, ['{"a":1}', '{"b":2}', '{"c":3}']);
});

Deno.test("LineDecoder joins a line split across many chunks, one byte at a time", () => {
  const text = '{"id":1,"method":"mining.subscribe","params":["x/1"]}\n{"id":2}\n';
  const bytes = enc.encode(text);
  const chunks = Array.from(bytes, (b) => Uint8Array.of(b));
  const { lines } = collect(new LineDecoder(1024), chunks);
  assert.deepEqual(lines, ['{"id":1,"method":"mining.subscribe","params":["x/1"]}', '{"id":2}']);
});

Deno.test("LineDecoder keeps a partial line pending until its newline arrives", () => {
  const decoder = new LineDecoder(1024);
  const first = collect(decoder, [enc.encode('{"id":1')]);
  assert.deepEqual(first.lines, []);
  assert.equal(decoder.pendingBytes, 7);
  const second = collect(decoder, [enc.encode("}\n")]);
  assert.deepEqual(second.lines, ['{"id":1}']);
  assert.equal(decoder.pendingBytes, 0);
});

Deno.test("LineDecoder reports overflow for a complete line over the cap", () => {
  const { overflow } = collect(new LineDecoder(16), [enc.encode("x".repeat(17) + "\n")]);
  assert.equal(overflow, true);
});

Deno.test("LineDecoder reports overflow for an unterminated line growing past the cap", () => {
  const decoder = new LineDecoder(16);
  assert.equal(decoder.feed(enc.encode("x".repeat(10)), () => {}), "ok");
  assert.equal(decoder.feed(enc.encode("x".repeat(7)), () => {}), "overflow");
});

Deno.test("LineDecoder accepts a line of exactly the cap", () => {
  const { lines, overflow } = collect(new LineDecoder(16), [enc.encode("y".repeat(16) + "\r\n")]);
  assert.equal(overflow, false);
  assert.deepEqual(lines, ["y".repeat(16)]);
});

Deno.test("LineDecoder gives the same lines for any chunking of the input", () => {
  fc.assert(
    fc.property(
      fc.array(
        fc.string({ unit: "grapheme-ascii", maxLength: 40 }).map((s) => s.replace(/[\r\n]/g, "")),
        {
          maxLength: 20,
        },
      ),
      fc.array(fc.nat(50), { maxLength: 30 }),
      (lines, cuts) => {
        const bytes = enc.encode(lines.map((l) => l + "\n").join(""));
        const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
        const chunks: Uint8Array[] = [];
        let prev = 0;
        for (const p of points) {
          chunks.push(bytes.subarray(prev, p));
          prev = p;
        }
        chunks.push(bytes.subarray(prev));
        const got = collect(new LineDecoder(64), chunks);
        assert.equal(got.overflow, false);
        assert.deepEqual(got.lines, lines.filter((l) => l.length > 0));
      },
    ),
  );
});

Deno.test("LineDecoder reads only the first `length` bytes of a reused buffer", () => {
  fc.assert(fc.property(
    fc.array(fc.stringMatching(/^[a-z{}":,\r\n]{0,40}$/), { maxLength: 12 }),
    (pieces) => {
      const expected = collect(new LineDecoder(64), pieces.map((p) => enc.encode(p)));
      const decoder = new LineDecoder(64);
      const buffer = new Uint8Array(64);
      const lines: string[] = [];
      let overflow = false;
      for (const piece of pieces) {
        // Stale bytes after the piece, newlines included, must be ignored.
        buffer.fill(0x0a);
        const bytes = enc.encode(piece);
        buffer.set(bytes);
        if (decoder.feed(buffer, (l) => lines.push(l), bytes.length) === "overflow") {
          overflow = true;
          break;
        }
      }
      assert.deepEqual({ lines, overflow }, expected);
    },
  ));
});

Deno.test("LineDecoder copies a line fed one byte per read a bounded number of times (no quadratic regrowth)", () => {
  // Found by the fuzzing campaign (tools/fuzz, stratum target): a 16 KiB line arriving one byte
  // per read was re-copied whole on every read, ~134 MB of copying (0.1–0.4 s of CPU) per line.
  // Counted, not timed: every copy the decoder makes goes through Uint8Array.prototype.set.
  const max = 16 * 1024;
  const line = new Uint8Array(max).fill(0x61);
  const set = Uint8Array.prototype.set;
  let copied = 0;
  Uint8Array.prototype.set = function (
    this: Uint8Array,
    source: ArrayLike<number>,
    offset?: number,
  ): void {
    copied += source.length;
    set.call(this, source, offset);
  };
  const lines: string[] = [];
  try {
    const decoder = new LineDecoder(max);
    for (let i = 0; i < line.length; i++) {
      assert.equal(decoder.feed(line.subarray(i, i + 1), (l) => lines.push(l)), "ok");
    }
    assert.equal(decoder.feed(Uint8Array.of(0x0a), (l) => lines.push(l)), "ok");
  } finally {
    Uint8Array.prototype.set = set;
  }
  assert.deepEqual(lines, ["a".repeat(max)]);
  assert.ok(copied <= 4 * max, `${copied} bytes copied for one ${max}-byte line`);
});
