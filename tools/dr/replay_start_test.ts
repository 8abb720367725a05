import assert from "node:assert/strict";
import { replayStartSequence, replayWindowStart } from "./replay_start.ts";

Deno.test("an empty restored database replays the whole stream", () => {
  assert.equal(replayStartSequence(null, [], 20_000), 1);
});

Deno.test("a database holding every sequence of the window resumes after the highest", () => {
  const held = Array.from({ length: 10 }, (_, i) => 91 + i);
  assert.equal(replayStartSequence(100, held, 10), 101);
});

Deno.test("the first hole inside the window is where the replay starts", () => {
  // 95 missing (an invalid message, or a commit the restore did not reach).
  const held = [91, 92, 93, 94, 96, 97, 98, 99, 100];
  assert.equal(replayStartSequence(100, held, 10), 95);
});

Deno.test("holes below the window are not looked at: they were acknowledged before", () => {
  assert.equal(replayWindowStart(100, 10), 91);
  assert.equal(replayStartSequence(100, Array.from({ length: 10 }, (_, i) => 91 + i), 10), 101);
  assert.equal(replayWindowStart(5, 10), 1);
  assert.equal(replayStartSequence(5, [1, 2, 4, 5], 10), 3);
});

Deno.test("bad input is refused with the reason", () => {
  assert.throws(() => replayStartSequence(10, [], 0), /window must be an integer ≥ 1, got 0/);
  assert.throws(() => replayStartSequence(0, [], 10), /highest stream_seq must be an integer/);
  assert.throws(
    () => replayStartSequence(100, [50], 10),
    /stream_seq 50 is outside the window 91–100/,
  );
});
