import assert from "node:assert/strict";
import client from "prom-client";
import { MetricRegistry } from "./registry.ts";
import { CellHistogram, MICROSECOND_BUCKETS, MILLISECOND_BUCKETS } from "./histogram.ts";
import { type Exposition, parseExposition, type Sample, sampleValue } from "./_exposition.ts";

function canonical(samples: readonly Sample[]): string[] {
  return samples
    .map((sample) => {
      const labels = Object.entries(sample.labels).sort(([a], [b]) => a.localeCompare(b));
      return `${sample.name}${JSON.stringify(labels)} ${sample.value}`;
    })
    .sort();
}

async function scrape(registry: { metrics(): Promise<string> }): Promise<Exposition> {
  return parseExposition(await registry.metrics());
}

Deno.test("HistogramCell.observe() counts a value in the first bucket whose bound is >= it", async () => {
  const registry = new MetricRegistry();
  const cell = new CellHistogram({ registry, name: "t_us", help: "h", buckets: [1, 5, 10] })
    .child();
  for (const value of [0.2, 1, 1.01, 5, 9, 10, 10.5, 1e9]) cell.observe(value);
  const parsed = await scrape(registry);
  assert.equal(parsed.type.get("t_us"), "histogram");
  assert.equal(sampleValue(parsed, "t_us_bucket", { le: "1" }), 2);
  assert.equal(sampleValue(parsed, "t_us_bucket", { le: "5" }), 4);
  assert.equal(sampleValue(parsed, "t_us_bucket", { le: "10" }), 6);
  assert.equal(sampleValue(parsed, "t_us_bucket", { le: "+Inf" }), 8);
  assert.equal(sampleValue(parsed, "t_us_count"), 8);
  assert.equal(sampleValue(parsed, "t_us_sum"), 0.2 + 1 + 1.01 + 5 + 9 + 10 + 10.5 + 1e9);
});

Deno.test("CellHistogram exports exactly what prom-client's Histogram exports for the same values", async () => {
  const ours = new MetricRegistry();
  const theirs = new client.Registry();
  for (const registry of [ours, theirs]) {
    registry.setDefaultLabels({ region: "eu", instance: "eu-1" });
  }
  const cell = new CellHistogram({
    registry: ours,
    name: "t_latency_us",
    help: "Latency.",
    buckets: MICROSECOND_BUCKETS,
  }).child();
  const reference = new client.Histogram({
    registers: [theirs],
    name: "t_latency_us",
    help: "Latency.",
    buckets: [...MICROSECOND_BUCKETS],
  });
  // A fixed pseudo-random spread over 0..20 ms, including exact bucket bounds.
  let seed = 7;
  const values = [...MICROSECOND_BUCKETS, 0, 0.5];
  for (let i = 0; i < 500; i++) {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    values.push((seed % 2_000_000) / 100);
  }
  for (const value of values) {
    cell.observe(value);
    reference.observe(value);
  }
  const a = await scrape(ours);
  const b = await scrape(theirs);
  assert.deepEqual(canonical(a.samples), canonical(b.samples));
  assert.deepEqual([...a.type], [...b.type]);
  assert.deepEqual([...a.help], [...b.help]);
});

Deno.test("CellHistogram exports empty series with zero counts before any observation", async () => {
  const registry = new MetricRegistry();
  new CellHistogram({ registry, name: "t_ms", help: "h", buckets: MILLISECOND_BUCKETS }).child();
  const parsed = await scrape(registry);
  const buckets = parsed.samples.filter((sample) => sample.name === "t_ms_bucket");
  assert.equal(buckets.length, MILLISECOND_BUCKETS.length + 1);
  assert.ok(buckets.every((sample) => sample.value === 0));
  assert.equal(sampleValue(parsed, "t_ms_count"), 0);
  assert.equal(sampleValue(parsed, "t_ms_sum"), 0);
});

Deno.test("CellHistogram keeps one set of buckets per label set", async () => {
  const registry = new MetricRegistry();
  const histogram = new CellHistogram<"path">({
    registry,
    name: "t_us",
    help: "h",
    buckets: [10],
    labelNames: ["path"],
  });
  histogram.child({ path: "a" }).observe(1);
  histogram.child({ path: "b" }).observe(100);
  assert.equal(histogram.child({ path: "a" }).count, 1);
  const parsed = await scrape(registry);
  assert.equal(sampleValue(parsed, "t_us_bucket", { path: "a", le: "10" }), 1);
  assert.equal(sampleValue(parsed, "t_us_bucket", { path: "b", le: "10" }), 0);
  assert.equal(sampleValue(parsed, "t_us_bucket", { path: "b", le: "+Inf" }), 1);
});

Deno.test("registry.resetMetrics() empties a CellHistogram", async () => {
  const registry = new MetricRegistry();
  const cell = new CellHistogram({ registry, name: "t_us", help: "h", buckets: [1] }).child();
  cell.observe(0.5);
  registry.resetMetrics();
  const parsed = await scrape(registry);
  assert.equal(sampleValue(parsed, "t_us_count"), 0);
  assert.equal(sampleValue(parsed, "t_us_bucket", { le: "1" }), 0);
});

Deno.test("HistogramCell.observe() refuses NaN and infinite values", () => {
  const registry = new MetricRegistry();
  const cell = new CellHistogram({ registry, name: "t_us", help: "h", buckets: [1] }).child();
  assert.throws(() => cell.observe(NaN), RangeError);
  assert.throws(() => cell.observe(Infinity), RangeError);
  assert.equal(cell.count, 0);
});

Deno.test("CellHistogram refuses empty, unsorted or infinite buckets and an le label", () => {
  const registry = new MetricRegistry();
  for (const buckets of [[], [1, 1], [5, 2], [1, Infinity], [NaN]]) {
    assert.throws(
      () => new CellHistogram({ registry, name: "t_us", help: "h", buckets }),
      RangeError,
    );
  }
  assert.throws(
    () =>
      new CellHistogram<"le">({
        registry,
        name: "t_us",
        help: "h",
        buckets: [1],
        labelNames: ["le"],
      }),
    TypeError,
  );
  new CellHistogram({ registry, name: "t_us", help: "h", buckets: [1] });
  assert.throws(() => new CellHistogram({ registry, name: "t_us", help: "h", buckets: [1] }));
});
