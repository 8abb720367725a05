import assert from "node:assert/strict";
import { EventType, makeEvent, type MiningEvent } from "@tbg/shared/events";
import { batchEntries } from "./redis_entries.ts";

function share(n: number): MiningEvent {
  return makeEvent(EventType.ShareSubmitted, "eu", "stratum-eu-1", {
    user: "bcrt1qexampleuser0",
    worker: "w",
    session_id: "0a",
    job_id: "1",
    share_diff: n,
    pool_diff: 1,
    accepted: true,
    block_candidate: false,
  });
}

Deno.test("batchEntries() applies what PostgreSQL inserted now or holds from the same sequence", () => {
  const [fresh, redelivered, legacy, copy, gone, refused] = [1, 2, 3, 4, 5, 6].map(share);
  const { entries, copies } = batchEntries(
    [10, 11, 12, 13, 14, 15, 16],
    [fresh, redelivered, legacy, copy, gone, refused, undefined],
    new Map([[fresh!.event_id, 10]]),
    {
      insertedIds: new Set([fresh!.event_id]),
      storedSeqs: new Map<string, number | null>([
        [redelivered!.event_id, 11],
        [legacy!.event_id, null],
        [copy!.event_id, 3],
      ]),
      rejected: [{ event: refused!, error: new Error("bad text") }],
    },
  );
  assert.deepEqual(entries.map((e) => [e.seq, e.mode]), [
    [10, "a"],
    [11, "a"],
    [12, "l"],
    [13, "m"],
    [14, "m"],
    [15, "m"],
    [16, "m"],
  ]);
  assert.equal(copies, 2, "the copy and the row no longer stored");
  const first = entries[0]!;
  assert.ok(first.mode === "a" && first.event === fresh);
});

Deno.test("batchEntries() applies an event twice in a batch from the message PostgreSQL holds", () => {
  const [inserted, storedFromLater] = [1, 2].map(share);
  // `inserted`: written now from seq 20, copied at 21. `storedFromLater`: a collector stored it
  // from seq 23 and died before Redis; now its copy (22) and 23 come back in one batch.
  const { entries, copies } = batchEntries(
    [20, 21, 22, 23, 24],
    [inserted, inserted, storedFromLater, storedFromLater, inserted],
    new Map([[inserted!.event_id, 20], [storedFromLater!.event_id, 22]]),
    {
      insertedIds: new Set([inserted!.event_id]),
      storedSeqs: new Map([[storedFromLater!.event_id, 23]]),
      rejected: [],
    },
  );
  assert.deepEqual(entries.map((e) => [e.seq, e.mode]), [
    [20, "a"],
    [21, "m"],
    [22, "m"],
    [23, "a"],
    [24, "m"],
  ]);
  assert.equal(copies, 3);
});

Deno.test("batchEntries() applies the same message delivered twice in a batch (the bit decides)", () => {
  const event = share(1);
  const { entries } = batchEntries([30, 30], [event, event], new Map([[event.event_id, 30]]), {
    insertedIds: new Set([event.event_id]),
    storedSeqs: new Map(),
    rejected: [],
  });
  assert.deepEqual(entries.map((e) => [e.seq, e.mode]), [[30, "a"], [30, "a"]]);
});
