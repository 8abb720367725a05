/**
 * hashrate_update goes out once a minute per worker, spread over the minute's seconds rather than
 * for every worker in one tick (issue 11, item 3: that tick queued every share behind it).
 */
import assert from "node:assert/strict";
import type { EventPayloads, EventType } from "../events/mod.ts";
import type { EventSink } from "./engine.ts";
import { startTestEngine, TEST_ADDRESS } from "./_test_engine.ts";

const MINERS = 240;

class RecordingSink implements EventSink {
  readonly hashrate: string[] = [];
  emit<T extends EventType>(type: T, data: EventPayloads[T]): void {
    if (type === "hashrate_update") {
      this.hashrate.push((data as EventPayloads["hashrate_update"]).worker);
    }
  }
}

Deno.test("each worker's hashrate_update goes out once a minute, a sixtieth of them each second", () => {
  const sink = new RecordingSink();
  const pool = startTestEngine({ events: sink });
  for (let i = 0; i < MINERS; i++) {
    pool.connect(`203.0.113.${1 + (i % 200)}`).ready(`${TEST_ADDRESS}.rig${i}`);
  }
  const perTick: number[] = [];
  for (let s = 0; s < 180; s++) {
    pool.clock.advance(1000);
    const before = sink.hashrate.length;
    pool.engine.tick();
    perTick.push(sink.hashrate.length - before);
  }
  assert.equal(sink.hashrate.length, MINERS * 3, "three minutes, three reports per worker");
  const perWorker = new Map<string, number>();
  for (const worker of sink.hashrate) perWorker.set(worker, (perWorker.get(worker) ?? 0) + 1);
  assert.equal(perWorker.size, MINERS);
  assert.ok([...perWorker.values()].every((n) => n === 3), "every worker three times");
  assert.equal(Math.max(...perTick), MINERS / 60, `per tick: ${perTick.join(" ")}`);
});

Deno.test("a tick that comes late reports the workers of the seconds it missed, once each", () => {
  const sink = new RecordingSink();
  const pool = startTestEngine({ events: sink });
  for (let i = 0; i < MINERS; i++) {
    pool.connect(`198.51.100.${1 + (i % 200)}`).ready(`${TEST_ADDRESS}.rig${i}`);
  }
  pool.clock.advance(1000);
  pool.engine.tick();
  pool.clock.advance(10_000);
  const before = sink.hashrate.length;
  pool.engine.tick();
  assert.equal(sink.hashrate.length - before, (MINERS / 60) * 10);
  for (let s = 0; s < 49; s++) {
    pool.clock.advance(1000);
    pool.engine.tick();
  }
  assert.equal(sink.hashrate.length, MINERS, "one report per worker over the minute");
});
