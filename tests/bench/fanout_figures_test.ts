import assert from "node:assert/strict";
import type { NotifyArrival } from "../load/load_summary.ts";
import {
  broadcastCpuMs,
  cpuOfInstance,
  fanoutFigures,
  finiteMedian,
  instanceSource,
  perProcessNote,
} from "./fanout_figures.ts";

function arrival(source: string, jobId: string, first: number, last: number, count: number) {
  return {
    source,
    jobId,
    clean: true,
    count,
    firstEpochMs: first,
    lastEpochMs: last,
    spreadMs: last - first,
  } satisfies NotifyArrival;
}

Deno.test("fanoutFigures() measures each process from its own start and the total from the first", () => {
  const notify = [
    arrival("0000", "7", 1_010, 1_060, 5_000),
    arrival("0001", "7", 1_020, 1_090, 4_990),
    // An older job of the same process and a job id another process reuses must not be taken.
    arrival("0000", "6", 500, 560, 5_000),
    arrival("0001", "3", 1_015, 2_000, 10),
  ];
  const figures = fanoutFigures(notify, [
    { source: "0000", jobId: "7", startEpochMs: 1_000, loopMs: 2 },
    { source: "0001", jobId: "7", startEpochMs: 1_030, loopMs: 3 },
  ]);
  assert.deepEqual(
    figures.perProcess.map((p) => [p.source, p.miners, p.startToLastMs, p.spreadMs]),
    [
      ["0000", 5_000, 60, 50],
      ["0001", 4_990, 60, 70],
    ],
  );
  assert.equal(figures.miners, 9_990);
  assert.equal(figures.slowestStartToLastMs, 60);
  assert.equal(figures.firstStartToLastMs, 90);
  assert.equal(figures.lastStartEpochMs, 1_030);
  assert.equal(figures.lastArrivalEpochMs, 1_090);
  assert.equal(figures.spreadMs, 80);
  assert.deepEqual(figures.silent, []);
  assert.match(perProcessNote("block 1", figures), /^block 1: 0000 5000 miners, loop 2\.0 ms/);
});

Deno.test("fanoutFigures() names a process whose job reached nobody and keeps the others", () => {
  const figures = fanoutFigures([arrival("0000", "4", 10, 30, 3)], [
    { source: "0000", jobId: "4", startEpochMs: 0, loopMs: NaN },
    { source: "0001", jobId: "4", startEpochMs: 5, loopMs: NaN },
  ]);
  assert.deepEqual(figures.silent, ["0001"]);
  assert.equal(figures.miners, 3);
  assert.equal(figures.slowestStartToLastMs, 30);
  assert.ok(Number.isNaN(figures.perProcess[1]!.startToLastMs));
  const none = fanoutFigures([], [{ source: "0000", jobId: "4", startEpochMs: 0, loopMs: 1 }]);
  assert.ok(Number.isNaN(none.slowestStartToLastMs) && Number.isNaN(none.firstStartToLastMs));
});

Deno.test("finiteMedian(), instanceSource() and cpuOfInstance()", () => {
  assert.equal(finiteMedian([3, NaN, 1, 2]), 2);
  assert.ok(Number.isNaN(finiteMedian([NaN])));
  assert.equal(instanceSource(0), "0000");
  assert.equal(instanceSource(11), "000b");
  assert.deepEqual([0, 1, 2, 3].map((i) => cpuOfInstance(i, 2)), ["0", "1", "0", "1"]);
});

Deno.test("broadcastCpuMs() subtracts the idle window's CPU from the broadcast window's", async () => {
  // Two processes; each reading adds 0.01 s of idle time, the broadcast adds 0.05 s to one.
  const cpu = new Map([[1, 1], [2, 2]]);
  const read = (pid: number) => {
    cpu.set(pid, cpu.get(pid)! + 0.01);
    return Promise.resolve(cpu.get(pid)!);
  };
  const { value, cpuMs } = await broadcastCpuMs([[1, 2], [2]], 1, read, () => {
    cpu.set(1, cpu.get(1)! + 0.05);
    cpu.set(2, cpu.get(2)! + 0.02);
    return Promise.resolve("sent");
  });
  assert.equal(value, "sent");
  assert.deepEqual(cpuMs.map(Math.round), [70, 20]);
});
