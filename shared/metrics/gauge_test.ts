import assert from "node:assert/strict";
import { MetricRegistry } from "./registry.ts";
import { CellGauge, GaugeCell } from "./gauge.ts";
import { parseExposition, sampleValue } from "./_exposition.ts";

Deno.test("GaugeCell.set(), inc() and dec() move the value both ways", () => {
  const cell = new GaugeCell();
  cell.set(10);
  cell.inc();
  cell.dec(3);
  cell.inc(-0.5);
  assert.equal(cell.value, 7.5);
  cell.setBoolean(true);
  assert.equal(cell.value, 1);
  cell.setBoolean(false);
  assert.equal(cell.value, 0);
});

Deno.test("GaugeCell refuses NaN and non-finite steps", () => {
  const cell = new GaugeCell();
  assert.throws(() => cell.set(NaN), RangeError);
  assert.throws(() => cell.inc(Infinity), RangeError);
  assert.throws(() => cell.dec(NaN), RangeError);
  assert.equal(cell.value, 0);
});

Deno.test("CellGauge exports cells as set and samples as computed at scrape time", async () => {
  const registry = new MetricRegistry();
  const gauge = new CellGauge<"side">({
    registry,
    name: "t_level",
    help: "Level.",
    labelNames: ["side"],
  });
  const left = gauge.child({ side: "left" });
  let reading = 1;
  gauge.sample(() => reading, { side: "right" });
  left.set(-3);
  let parsed = parseExposition(await registry.metrics());
  assert.equal(parsed.type.get("t_level"), "gauge");
  assert.equal(sampleValue(parsed, "t_level", { side: "left" }), -3);
  assert.equal(sampleValue(parsed, "t_level", { side: "right" }), 1);
  reading = 42;
  parsed = parseExposition(await registry.metrics());
  assert.equal(sampleValue(parsed, "t_level", { side: "right" }), 42);
});

Deno.test("CellGauge refuses a second source for one label set", () => {
  const registry = new MetricRegistry();
  const gauge = new CellGauge({ registry, name: "t_level", help: "h" });
  gauge.sample(() => 1);
  assert.throws(() => gauge.child(), TypeError);
  assert.throws(() => gauge.sample(() => 2), TypeError);
});
