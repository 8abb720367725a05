import assert from "node:assert/strict";
import { closestMatch, didYouMean, editDistance } from "./_suggest.ts";

Deno.test("editDistance() counts a transposition as one edit", () => {
  assert.equal(editDistance("prot", "port"), 1);
  assert.equal(editDistance("mindif", "mindiff"), 1);
  assert.equal(editDistance("", "abc"), 3);
});

Deno.test("closestMatch() ignores case and dashes but not distant words", () => {
  assert.equal(closestMatch("Max-Clients", ["maxclients", "mindiff"]), "maxclients");
  assert.equal(closestMatch("max-clients", ["max_clients", "mindiff"]), "max_clients");
  assert.equal(closestMatch("batch", ["btcd"]), undefined);
  assert.equal(closestMatch("serverurls", ["serverurl", "btcsig"]), "serverurl");
});

Deno.test("didYouMean() is empty when nothing is close", () => {
  assert.equal(didYouMean("zzz", ["btcd"]), "");
  assert.equal(didYouMean("btdc", ["btcd"]), ' (did you mean "btcd"?)');
});

Deno.test("editDistance() with a bound agrees with the full distance up to the bound", () => {
  const words = [
    "",
    "a",
    "ab",
    "ba",
    "abc",
    "acb",
    "cab",
    "port",
    "prot",
    "mindiff",
    "mindif",
    "minfdif",
    "btcd",
    "serverurl",
    "server_url",
  ];
  for (const a of words) {
    for (const b of words) {
      const full = editDistance(a, b);
      for (let max = 0; max <= 11; max++) {
        assert.equal(editDistance(a, b, max), full <= max ? full : max + 1, `${a} ${b} ${max}`);
      }
    }
  }
});

Deno.test("closestMatch() on a huge unknown key stays within the bound", () => {
  // A 15,000-character key: against config keys the length gap alone rules every candidate out
  // (no 15,000 × |candidate| matrix is filled, which took tens of milliseconds per unknown key).
  const huge = "k".repeat(15_000);
  assert.equal(editDistance(huge, "mindiff", 5), 6);
  assert.equal(closestMatch(huge, ["mindiff", "btcd", "serverurl"]), undefined);
  const long = "k".repeat(300);
  assert.equal(closestMatch(`${long}x`, ["mindiff", long]), long);
});
