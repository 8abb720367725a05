import assert from "node:assert/strict";
import { HashrateSchedule } from "./hashrate_schedule.ts";

const T0 = 1_700_000_600_000;

/** The slots due in one tick at `nowMs`. */
function due(schedule: HashrateSchedule, nowMs: number): number[] {
  schedule.beginTick(nowMs);
  const slots: number[] = [];
  for (let slot = 0; slot < schedule.slots; slot++) if (schedule.isDue(slot)) slots.push(slot);
  return slots;
}

Deno.test("HashrateSchedule: one slot a second, each slot once per interval", () => {
  const schedule = new HashrateSchedule(60_000);
  assert.equal(schedule.slots, 60);
  const counts = new Array<number>(60).fill(0);
  for (let s = 0; s < 600; s++) {
    const slots = due(schedule, T0 + s * 1000);
    assert.equal(slots.length, 1, `second ${s}`);
    counts[slots[0]!]!++;
  }
  assert.deepEqual(counts, new Array<number>(60).fill(10));
});

Deno.test("HashrateSchedule: a late tick reports the seconds it missed, a whole interval at most", () => {
  const schedule = new HashrateSchedule(60_000);
  const first = due(schedule, T0);
  const late = due(schedule, T0 + 3_500);
  assert.equal(late.length, 3);
  assert.ok(!late.includes(first[0]!), "the first tick's slot is not due again");
  assert.equal(due(schedule, T0 + 3_900).length, 0, "same second: nothing new");
  assert.equal(due(schedule, T0 + 600_000).length, 60, "after a long stall every slot, once");
  assert.equal(due(schedule, T0 + 500_000).length, 0, "a clock that went back reports nothing");
});

Deno.test("HashrateSchedule: slots are handed out round robin", () => {
  const schedule = new HashrateSchedule(5_000);
  assert.deepEqual(Array.from({ length: 7 }, () => schedule.assign()), [0, 1, 2, 3, 4, 0, 1]);
});

Deno.test("HashrateSchedule: refuses an interval under one second, naming it", () => {
  assert.throws(() => new HashrateSchedule(999), /interval 999 ms/);
  assert.throws(() => new HashrateSchedule(Number.NaN), /interval NaN ms/);
});
