import assert from "node:assert/strict";
import fc from "fast-check";
import { bech32, bech32m } from "@scure/base";
import { BECH32_CHARSET, bech32ValueAt, bech32Variant, bech32WordsToBytes } from "./bech32.ts";

/** @scure/base's verdict on `s`, the independent reference. */
function referenceVariant(s: string): "bech32" | "bech32m" | null {
  if (bech32.decodeUnsafe(s, 90) !== undefined) return "bech32";
  if (bech32m.decodeUnsafe(s, 90) !== undefined) return "bech32m";
  return null;
}

const prefix = fc.string({
  unit: fc.constantFrom(..."abcdefghijklmnopqrstuvwxyz0123456789!?@[]_-".split("")),
  minLength: 1,
  maxLength: 10,
});
const words = fc.array(fc.integer({ min: 0, max: 31 }), { maxLength: 60 });

Deno.test("bech32Variant() recognises BIP173 and BIP350 vectors and refuses their invalid ones", () => {
  assert.equal(bech32Variant("A12UEL5L"), "bech32");
  assert.equal(bech32Variant("a12uel5l"), "bech32");
  assert.equal(bech32Variant("?1ezyfcl"), "bech32");
  assert.equal(bech32Variant("A1LQFN3A"), "bech32m");
  assert.equal(bech32Variant("?1v759aa"), "bech32m");
  assert.equal(
    bech32Variant("bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqzk5jj0"),
    "bech32m",
  );
  for (
    const s of [
      "A12UEl5L", // mixed case
      "1qzzfhee", // empty prefix
      "a12uel5", // shorter than 8
      "li1dgmt3", // 'b', 'i', 'o' are not in the alphabet
      "pzry9x0s0muk", // no separator
      "x1b4n0q5v", // invalid data character
      "a12uel5m", // checksum of neither
      "an84characterslonghumanreadablepartthatcontainsthenumber1andtheexcludedcharactersbio1569pvx",
    ]
  ) assert.equal(bech32Variant(s), null, s);
});

Deno.test("bech32Variant() agrees with @scure/base on encoded strings, in either case", () => {
  fc.assert(
    fc.property(prefix, words, fc.boolean(), fc.boolean(), (hrp, data, useM, upper) => {
      const coder = useM ? bech32m : bech32;
      let s: string;
      try {
        s = coder.encode(hrp, data, 90);
      } catch {
        return; // longer than 90 characters: nothing to compare
      }
      if (upper) s = s.toUpperCase();
      assert.equal(bech32Variant(s), useM ? "bech32m" : "bech32", s);
      assert.equal(bech32Variant(s), referenceVariant(s), s);
    }),
    { numRuns: 500 },
  );
});

Deno.test("bech32Variant() agrees with @scure/base on strings with one character changed", () => {
  fc.assert(
    fc.property(
      prefix,
      words,
      fc.boolean(),
      fc.nat(),
      fc.integer({ min: 0x21, max: 0x7e }),
      (hrp, data, useM, at, code) => {
        let s: string;
        try {
          s = (useM ? bech32m : bech32).encode(hrp, data, 90);
        } catch {
          return;
        }
        const i = at % s.length;
        const changed = s.slice(0, i) + String.fromCharCode(code) + s.slice(i + 1);
        assert.equal(bech32Variant(changed), referenceVariant(changed), changed);
      },
    ),
    { numRuns: 1000 },
  );
});

Deno.test("bech32WordsToBytes() matches @scure/base's fromWordsUnsafe, padding errors included", () => {
  const out = new Uint8Array(64);
  fc.assert(
    fc.property(words, (data) => {
      const s = "x1" + data.map((w) => BECH32_CHARSET[w]).join("");
      const length = bech32WordsToBytes(s, 2, s.length, out);
      const reference = bech32.fromWordsUnsafe(data);
      if (reference === undefined) {
        assert.equal(length, -1, s);
      } else {
        assert.deepEqual(out.subarray(0, length), reference, s);
      }
      for (let i = 0; i < data.length; i++) assert.equal(bech32ValueAt(s, 2 + i), data[i]);
    }),
    { numRuns: 500 },
  );
  assert.equal(bech32WordsToBytes("x1" + "q".repeat(16), 2, 18, new Uint8Array(4)), -2);
});
