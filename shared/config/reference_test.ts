import assert from "node:assert/strict";
import { configReference } from "./reference.ts";
import { SERVICE_KINDS } from "./load_config.ts";

Deno.test("configReference() documents every key of every service", () => {
  for (const kind of SERVICE_KINDS) {
    const rows = configReference(kind);
    assert.ok(rows.length > 5, kind);
    for (const row of rows) {
      assert.ok(row.doc.length > 10, `${kind} ${row.key} has a one-line doc`);
      assert.doesNotMatch(row.doc, /\n/);
      assert.ok(row.type.length > 0, `${kind} ${row.key} has a type`);
    }
  }
});

Deno.test("configReference() shows defaults, required keys and nested keys", () => {
  const rows = new Map(configReference("stratum").map((row) => [row.key, row]));
  assert.deepEqual(rows.get("rate_limits.max_shares_per_minute"), {
    key: "rate_limits.max_shares_per_minute",
    type: "an integer from 1 to 65535",
    default: "1000",
    doc: "mining.submit per connection per minute; more soft-ban the connection.",
  });
  assert.equal(rows.get("btcd")?.default, "required");
  assert.equal(rows.get("btcd[].url")?.type, '"host:port" or "http://host:port"');
  assert.equal(rows.get("startdiff")?.default, "42");
  assert.equal(rows.get("btcaddress")?.default, "unset");
  assert.equal(rows.get("events.nats_subject")?.default, "mining.events.<region>");
  assert.equal(rows.get("btcsig")?.default, '"/TheBitcoinGame/"');
});

Deno.test("configReference() lists the relay's own keys after the shared ones", () => {
  const keys = configReference("relay").map((row) => row.key);
  assert.ok(keys.includes("primary.template_push_port"));
  assert.ok(keys.includes("independent_after_ms"));
  assert.ok(keys.includes("serverurl"));
  assert.ok(!configReference("stratum").some((row) => row.key === "primary"));
});
