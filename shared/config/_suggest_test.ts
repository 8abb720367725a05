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
