import assert from "node:assert/strict";
import { parsePromText, sampleValue, sumValues } from "./prom_text.ts";

const TEXT = `# HELP ckpool_shares_total Shares answered.
# TYPE ckpool_shares_total counter
ckpool_shares_total{valid="true",region="us-east",instance="relay-us-east-0"} 120
ckpool_shares_total{valid="false",reason="stale",region="us-east",instance="relay-us-east-0"} 2
ckpool_shares_total{valid="false",reason="duplicate",region="us-east",instance="relay-us-east-0"} 1
ckpool_relay_independent_mode{region="us-east"} 0
ckpool_relay_template_latency_ms 81.5
weird_label{path="a \\"quoted\\" value"} 3 1700000000000
not a sample line
histogram_bucket{le="+Inf"} 7
`;

Deno.test("parsePromText() reads names, labels and values, skipping comments", () => {
  const samples = parsePromText(TEXT);
  assert.equal(samples.length, 7);
  assert.deepEqual(samples[0], {
    name: "ckpool_shares_total",
    labels: { valid: "true", region: "us-east", instance: "relay-us-east-0" },
    value: 120,
  });
  assert.equal(sampleValue(samples, "weird_label"), 3);
  assert.equal(samples[5]?.labels.path, 'a "quoted" value');
  assert.equal(sampleValue(samples, "histogram_bucket", { le: "+Inf" }), 7);
});

Deno.test("sampleValue() picks the first series with every label; sumValues() adds them", () => {
  const samples = parsePromText(TEXT);
  assert.equal(sampleValue(samples, "ckpool_shares_total", { reason: "stale" }), 2);
  assert.equal(sampleValue(samples, "ckpool_relay_template_latency_ms"), 81.5);
  assert.equal(
    sampleValue(samples, "ckpool_relay_template_latency_ms", { region: "x" }),
    undefined,
  );
  assert.equal(sumValues(samples, "ckpool_shares_total", { valid: "false" }), 3);
  assert.equal(sumValues(samples, "ckpool_shares_total"), 123);
  assert.equal(sumValues(samples, "missing"), 0);
});
