import assert from "node:assert/strict";
import { configReferenceMarkdown, markdownTable } from "./config_reference.ts";

Deno.test("markdownTable() escapes pipes and angle brackets and code-formats literal defaults", () => {
  assert.equal(
    markdownTable([
      { key: "a", type: "x | y", default: '"v"', doc: "goes to <prefix>" },
      { key: "b", type: "t", default: "from bitcoind", doc: "d" },
    ]),
    [
      "| key | type | default | description |",
      "|---|---|---|---|",
      '| `a` | x \\| y | `"v"` | goes to &lt;prefix&gt; |',
      "| `b` | t | from bitcoind | d |",
    ].join("\n"),
  );
});

Deno.test("configReferenceMarkdown() has a table per service, the relay's without shared keys", () => {
  const doc = configReferenceMarkdown();
  const relay = doc.slice(doc.indexOf("### relay"), doc.indexOf("### collector"));
  assert.match(doc, /### stratum .*\n\n\| key \| type/);
  assert.match(
    doc,
    /\| `rate_limits\.max_shares_per_minute` \| an integer from 1 to 65535 \| `1000` \|/,
  );
  assert.match(relay, /\| `primary\.auth_token` \|/);
  assert.doesNotMatch(relay, /\| `serverurl` \|/);
  // Shared, but required and 1-255 on a relay (0 is the primary's).
  assert.match(relay, /\| `region_index` \| an integer from 1 to 255 \| required \|/);
  assert.match(doc, /### stratum[^]*\| `region_index` \| an integer from 0 to 255 \| `0` \|/);
  assert.match(doc, /### collector[^]*\| `batch\.max_wait_ms` \| a positive integer \| `50` \|/);
});
