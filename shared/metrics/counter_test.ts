import assert from "node:assert/strict";
import { MetricRegistry } from "./registry.ts";
import { CellCounter, CounterCell } from "./counter.ts";
import { parseExposition, sampleValue } from "./_exposition.ts";

async function scrape(registry: MetricRegistry) {
  return parseExposition(await registry.metrics());
}

Deno.test("CounterCell.inc() adds 1 by default and the given step otherwise", () => {
  const cell = new CounterCell();
  cell.inc();
  cell.inc(2.5);
  cell.inc(0);
  assert.equal(cell.value, 3.5);
});

Deno.test("CounterCell.inc() refuses negative, NaN and infinite steps", () => {
  const cell = new CounterCell();
  for (const step of [-1, NaN, Infinity, -Infinity]) {
    assert.throws(() => cell.inc(step), RangeError);
  }
  assert.equal(cell.value, 0);
});

Deno.test("CellCounter exports each child at 0 before any increment", async () => {
  const registry = new MetricRegistry();
  const counter = new CellCounter<"kind">({
    registry,
    name: "t_events_total",
    help: "Events.",
    labelNames: ["kind"],
  });
  counter.child({ kind: "a" });
  counter.child({ kind: "b" });
  const parsed = await scrape(registry);
  assert.equal(parsed.type.get("t_events_total"), "counter");
  assert.equal(parsed.help.get("t_events_total"), "Events.");
  assert.equal(sampleValue(parsed, "t_events_total", { kind: "a" }), 0);
  assert.equal(sampleValue(parsed, "t_events_total", { kind: "b" }), 0);
});

Deno.test("CellCounter scrapes show the cells' current counts, repeatedly", async () => {
  const registry = new MetricRegistry();
  const counter = new CellCounter<"kind">({
    registry,
    name: "t_events_total",
    help: "Events.",
    labelNames: ["kind"],
  });
  const a = counter.child({ kind: "a" });
  const b = counter.child({ kind: "b" });
  a.inc();
  a.inc();
  b.inc(5);
  let parsed = await scrape(registry);
  assert.equal(sampleValue(parsed, "t_events_total", { kind: "a" }), 2);
  assert.equal(sampleValue(parsed, "t_events_total", { kind: "b" }), 5);
  a.inc();
  parsed = await scrape(registry);
  assert.equal(sampleValue(parsed, "t_events_total", { kind: "a" }), 3);
  assert.equal(sampleValue(parsed, "t_events_total", { kind: "b" }), 5);
});

Deno.test("CellCounter.child() returns the same cell for the same label set", () => {
  const registry = new MetricRegistry();
  const counter = new CellCounter<"x" | "y">({
    registry,
    name: "t_total",
    help: "h",
    labelNames: ["x", "y"],
  });
  assert.equal(counter.child({ x: "1", y: "2" }), counter.child({ y: "2", x: "1" }));
  assert.notEqual(counter.child({ x: "1" }), counter.child({ x: "1", y: "2" }));
});

Deno.test("CellCounter.child() leaves an omitted label off the series", async () => {
  const registry = new MetricRegistry();
  const counter = new CellCounter<"valid" | "reason">({
    registry,
    name: "t_shares_total",
    help: "h",
    labelNames: ["valid", "reason"],
  });
  counter.child({ valid: "true" }).inc();
  const parsed = await scrape(registry);
  assert.deepEqual(parsed.samples, [{
    name: "t_shares_total",
    labels: { valid: "true" },
    value: 1,
  }]);
});

Deno.test("CellCounter.child() rejects a label name the counter does not declare", () => {
  const registry = new MetricRegistry();
  const counter = new CellCounter<"kind">({
    registry,
    name: "t_total",
    help: "h",
    labelNames: ["kind"],
  });
  assert.throws(
    () => counter.child({ other: "x" } as unknown as { kind: string }),
    TypeError,
  );
});

Deno.test("CellCounter.child(labels, cell) exports one cell under a second name", async () => {
  const registry = new MetricRegistry();
  const first = new CellCounter({ registry, name: "t_first_total", help: "h" });
  const second = new CellCounter({ registry, name: "t_second_total", help: "h" });
  const cell = first.child();
  second.child({}, cell);
  cell.inc(4);
  const parsed = await scrape(registry);
  assert.equal(sampleValue(parsed, "t_first_total"), 4);
  assert.equal(sampleValue(parsed, "t_second_total"), 4);
  assert.throws(() => second.child({}, new CounterCell()), TypeError);
});

Deno.test("CellCounter refuses a name already registered", () => {
  const registry = new MetricRegistry();
  new CellCounter({ registry, name: "t_total", help: "h" });
  assert.throws(() => new CellCounter({ registry, name: "t_total", help: "h" }));
});
