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
