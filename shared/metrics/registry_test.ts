import assert from "node:assert/strict";
// prom-client is the reference the exposition must match byte for byte; only tests import it.
import client from "prom-client";
import { CellCounter } from "./counter.ts";
import { CellGauge } from "./gauge.ts";
import { CellHistogram, MICROSECOND_BUCKETS } from "./histogram.ts";
import {
  type ExportedMetric,
  formatValue,
  MetricRegistry,
  PROMETHEUS_CONTENT_TYPE,
} from "./registry.ts";

const AWKWARD_VALUES = ["back\\slash", 'quo"te', "new\nline", "", "ünïcödé", "a,b=c}"];
const AWKWARD_NUMBERS = [NaN, Infinity, -Infinity, -3, 0.1 + 0.2, 1e21, 5e-7, -0, 2 ** 53 + 2];

/** Both registries, filled alike by `fill`, must print the same bytes. */
async function assertSameText(
  fill: (ours: MetricRegistry, theirs: client.Registry) => void,
): Promise<string> {
  const ours = new MetricRegistry();
  const theirs = new client.Registry();
  fill(ours, theirs);
  const text = await ours.metrics();
  assert.equal(text, await theirs.metrics());
  return text;
}

Deno.test("an empty registry prints what prom-client prints", async () => {
  assert.equal(await assertSameText(() => {}), "\n");
});

Deno.test("the content type is prom-client's text format type", () => {
  assert.equal(new MetricRegistry().contentType, client.Registry.PROMETHEUS_CONTENT_TYPE);
  assert.equal(PROMETHEUS_CONTENT_TYPE, client.Registry.PROMETHEUS_CONTENT_TYPE);
});

Deno.test("unlabelled counters and gauges print 0 before their cell exists, then its value", async () => {
  await assertSameText((ours, theirs) => {
    new CellCounter({ registry: ours, name: "t_idle_total", help: "Idle." });
    new client.Counter({ registers: [theirs], name: "t_idle_total", help: "Idle." });
    new CellGauge({ registry: ours, name: "t_idle", help: "Idle gauge." });
    new client.Gauge({ registers: [theirs], name: "t_idle", help: "Idle gauge." });
    new CellCounter({ registry: ours, name: "t_used_total", help: "Used." }).child().inc(41.5);
    new client.Counter({ registers: [theirs], name: "t_used_total", help: "Used." }).inc(41.5);
    new CellGauge({ registry: ours, name: "t_set", help: "Set." }).child().set(-2.25);
    new client.Gauge({ registers: [theirs], name: "t_set", help: "Set." }).set(-2.25);
  });
});

Deno.test("labelled series print in creation order with escaped label values", async () => {
  const text = await assertSameText((ours, theirs) => {
    const counter = new CellCounter({
      registry: ours,
      name: "t_events_total",
      help: "Events.",
      labelNames: ["kind", "region"],
    });
    const reference = new client.Counter({
      registers: [theirs],
      name: "t_events_total",
      help: "Events.",
      labelNames: ["kind", "region"],
    });
    AWKWARD_VALUES.forEach((kind, index) => {
      counter.child({ kind, region: "eu" }).inc(index);
      reference.inc({ kind, region: "eu" }, index);
    });
    // A series with only some of the labels, and one with none, print only what they carry.
    counter.child({ region: "us" }).inc(7);
    reference.inc({ region: "us" }, 7);
    counter.child({}).inc(1);
    reference.inc({}, 1);
    // A labelled metric with no series prints its HELP and TYPE lines only.
    new CellCounter({ registry: ours, name: "t_none_total", help: "None.", labelNames: ["a"] });
    new client.Counter({
      registers: [theirs],
      name: "t_none_total",
      help: "None.",
      labelNames: ["a"],
    });
  });
  assert.match(text, /t_events_total\{kind="quo\\"te",region="eu"\} 1\n/);
  assert.match(text, /t_events_total\{kind="new\\nline",region="eu"\} 2\n/);
});

Deno.test("gauge values NaN, ±Inf, -0, large and tiny numbers print as prom-client prints them", async () => {
  const text = await assertSameText((ours, theirs) => {
    const gauge = new CellGauge({ registry: ours, name: "t_v", help: "V.", labelNames: ["i"] });
    const reference = new client.Gauge({
      registers: [theirs],
      name: "t_v",
      help: "V.",
      labelNames: ["i"],
    });
    AWKWARD_NUMBERS.forEach((value, index) => {
      gauge.sample(() => value, { i: String(index) });
      reference.set({ i: String(index) }, value);
    });
  });
  assert.match(text, /t_v\{i="0"\} Nan\n/);
  assert.match(text, /t_v\{i="1"\} \+Inf\n/);
  assert.match(text, /t_v\{i="2"\} -Inf\n/);
  assert.deepEqual(AWKWARD_NUMBERS.map(formatValue).slice(0, 3), ["Nan", "+Inf", "-Inf"]);
});

Deno.test("HELP text escapes backslashes and newlines as prom-client does", async () => {
  await assertSameText((ours, theirs) => {
    const help = 'Counts a\\b and\nnext "line".';
    new CellCounter({ registry: ours, name: "t_help_total", help });
    new client.Counter({ registers: [theirs], name: "t_help_total", help });
  });
});

Deno.test("default labels follow a sample's own labels, which win on a shared name", async () => {
  const text = await assertSameText((ours, theirs) => {
    for (const registry of [ours, theirs]) {
      registry.setDefaultLabels({ region: "eu", instance: "eu-1" });
    }
    const gauge = new CellGauge({
      registry: ours,
      name: "t_miners",
      help: "Miners.",
      labelNames: ["region", "port"],
    });
    const reference = new client.Gauge({
      registers: [theirs],
      name: "t_miners",
      help: "Miners.",
      labelNames: ["region", "port"],
    });
    gauge.child({ port: "3333" }).set(4);
    reference.set({ port: "3333" }, 4);
    gauge.child({ region: "us", port: "3334" }).set(5);
    reference.set({ region: "us", port: "3334" }, 5);
    new CellCounter({ registry: ours, name: "t_plain_total", help: "Plain." });
    new client.Counter({ registers: [theirs], name: "t_plain_total", help: "Plain." });
  });
  assert.match(text, /t_miners\{port="3333",region="eu",instance="eu-1"\} 4\n/);
  assert.match(text, /t_miners\{region="us",port="3334",instance="eu-1"\} 5\n/);
  assert.match(text, /t_plain_total\{region="eu",instance="eu-1"\} 0\n/);
});

/**
 * What the CellHistogram gave prom-client's registry before this registry existed: its own
 * `get()` with name, help, type and the cluster aggregator, rendered by prom-client.
 */
function asPromClientMetric(metric: ExportedMetric): client.Metric {
  return {
    name: metric.name,
    get: async () => ({
      name: metric.name,
      help: metric.help,
      type: metric.type,
      aggregator: "sum",
      values: (await metric.get()).values,
    }),
    reset: () => metric.reset(),
  } as unknown as client.Metric;
}

Deno.test("a CellHistogram prints what prom-client's registry printed for it, default labels and all", async () => {
  await assertSameText((ours, theirs) => {
    for (const registry of [ours, theirs]) {
      registry.setDefaultLabels({ region: "eu", instance: "eu-1" });
    }
    const histogram = new CellHistogram({
      registry: ours,
      name: "t_latency_us",
      help: "Latency.",
      labelNames: ["method"],
      buckets: MICROSECOND_BUCKETS,
    });
    theirs.registerMetric(asPromClientMetric(histogram));
    for (const method of ["mining.submit", "mining.authorize"]) {
      const cell = histogram.child({ method });
      for (const value of [0, 0.5, 1, 3, 7.25, 1e6, ...MICROSECOND_BUCKETS]) cell.observe(value);
    }
    histogram.child({ method: "idle" });
  });
});

Deno.test("metrics print in registration order, one blank line apart", async () => {
  const text = await assertSameText((ours, theirs) => {
    new CellGauge({ registry: ours, name: "t_b", help: "B." });
    new client.Gauge({ registers: [theirs], name: "t_b", help: "B." });
    new CellCounter({ registry: ours, name: "t_a_total", help: "A." });
    new client.Counter({ registers: [theirs], name: "t_a_total", help: "A." });
  });
  assert.equal(
    text,
    "# HELP t_b B.\n# TYPE t_b gauge\nt_b 0\n\n# HELP t_a_total A.\n# TYPE t_a_total counter\nt_a_total 0\n",
  );
});

Deno.test("a second metric of the same name and invalid names fail with prom-client's messages", () => {
  const ours = new MetricRegistry();
  const theirs = new client.Registry();
  new CellCounter({ registry: ours, name: "t_x_total", help: "X." });
  new client.Counter({ registers: [theirs], name: "t_x_total", help: "X." });
  const messageOf = (make: () => unknown) => {
    try {
      make();
    } catch (error: unknown) {
      return error instanceof Error ? error.message : String(error);
    }
    assert.fail("expected an error");
  };
  assert.equal(
    messageOf(() => new CellGauge({ registry: ours, name: "t_x_total", help: "X." })),
    messageOf(() => new client.Gauge({ registers: [theirs], name: "t_x_total", help: "X." })),
  );
  assert.equal(
    messageOf(() => new CellCounter({ registry: ours, name: "t-bad", help: "X." })),
    messageOf(() => new client.Counter({ registers: [theirs], name: "t-bad", help: "X." })),
  );
  assert.equal(
    messageOf(() =>
      new CellGauge({ registry: ours, name: "t_ok", help: "X.", labelNames: ["0bad"] })
    ),
    messageOf(() =>
      new client.Gauge({ registers: [theirs], name: "t_ok", help: "X.", labelNames: ["0bad"] })
    ),
  );
});

Deno.test("a metric whose get() throws fails the whole scrape", async () => {
  const registry = new MetricRegistry();
  new CellCounter({ registry, name: "t_fine_total", help: "Fine." });
  registry.registerMetric({
    name: "t_broken",
    help: "Broken.",
    type: "gauge",
    get() {
      throw new RangeError("Cannot read gauge: broken");
    },
    reset() {},
  });
  await assert.rejects(registry.metrics(), RangeError);
});

Deno.test("resetMetrics() empties histograms and leaves cell-backed counters to their cells", async () => {
  const registry = new MetricRegistry();
  const cell = new CellHistogram({ registry, name: "t_h", help: "H.", buckets: [1] }).child();
  cell.observe(0.5);
  new CellCounter({ registry, name: "t_c_total", help: "C." }).child().inc(3);
  registry.resetMetrics();
  const text = await registry.metrics();
  assert.match(text, /t_h_count 0\n/);
  assert.match(text, /t_c_total 3\n/);
});
