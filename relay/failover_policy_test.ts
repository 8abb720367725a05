import assert from "node:assert/strict";
import { type Candidate, FailoverPolicy, RelayMode, TemplateOrigin } from "./failover_policy.ts";

const THRESHOLD = 10_000;
const T0 = 1_000_000;

function tip(height: number, tag = "a"): { prevHash: string; height: number } {
  return { prevHash: `${tag}${height - 1}`.padStart(64, "0"), height };
}

function candidate(name: string, height: number, atMs: number, tag = "a"): Candidate<string> {
  return { update: name, tip: tip(height, tag), atMs };
}

function policy(): FailoverPolicy<string> {
  return new FailoverPolicy<string>({ independentAfterMs: THRESHOLD, startedAtMs: T0 });
}

Deno.test("FailoverPolicy delivers the primary's templates and ignores local ones in passthrough", () => {
  const p = policy();
  assert.equal(p.onLocalTemplate(candidate("L1", 101, T0 + 1)).deliver, null, "before primary");
  const first = p.onPrimaryTemplate(candidate("P1", 101, T0 + 2), T0 + 2);
  assert.equal(first.deliver?.candidate.update, "P1");
  assert.equal(first.deliver?.origin, TemplateOrigin.primary);
  const refresh = p.onLocalTemplate(candidate("L2", 101, T0 + 3));
  assert.equal(refresh.deliver, null);
  assert.match(refresh.skipped!, /primary's work is current/);
  assert.equal(
    p.onPrimaryTemplate(candidate("P2", 101, T0 + 4), T0 + 4).deliver?.candidate.update,
    "P2",
  );
  assert.equal(p.mode, RelayMode.passthrough);
});

Deno.test("FailoverPolicy sends a local template at once when the local node sees a block first", () => {
  const p = policy();
  p.onPrimaryTemplate(candidate("P101", 101, T0 + 1), T0 + 1);
  const preempt = p.onLocalTemplate(candidate("L102", 102, T0 + 2));
  assert.equal(preempt.deliver?.candidate.update, "L102");
  assert.equal(preempt.deliver?.origin, TemplateOrigin.local);
  assert.equal(preempt.preemptive, true);
  // Late primary work for the old tip is not sent: miners would go back to a stale tip.
  assert.equal(p.onPrimaryTemplate(candidate("P101b", 101, T0 + 3), T0 + 3).deliver, null);
  // A local refresh of the same tip is delivered while the primary has not caught up...
  const localRefresh = p.onLocalTemplate(candidate("L102b", 102, T0 + 4));
  assert.equal(localRefresh.deliver?.candidate.update, "L102b");
  assert.equal(localRefresh.preemptive, false);
  // ...and the primary's template for that tip takes over (same previous block: no clean_jobs).
  const caughtUp = p.onPrimaryTemplate(candidate("P102", 102, T0 + 5), T0 + 5);
  assert.equal(caughtUp.deliver?.candidate.update, "P102");
  assert.equal(caughtUp.preemptive, false);
  assert.equal(p.current?.tip.prevHash, tip(102).prevHash);
  assert.equal(p.onLocalTemplate(candidate("L102c", 102, T0 + 6)).deliver, null);
});

Deno.test("FailoverPolicy lets the primary win a same-height race against a local block", () => {
  const p = policy();
  p.onPrimaryTemplate(candidate("P101", 101, T0 + 1), T0 + 1);
  p.onLocalTemplate(candidate("L102", 102, T0 + 2, "x"));
  const step = p.onPrimaryTemplate(candidate("P102", 102, T0 + 3, "y"), T0 + 3);
  assert.equal(step.deliver?.candidate.update, "P102");
  assert.equal(p.current?.origin, TemplateOrigin.primary);
});

Deno.test("FailoverPolicy goes independent after the threshold of silence, not before", () => {
  const p = policy();
  p.onPrimaryTemplate(candidate("P101", 101, T0 + 100), T0 + 100);
  p.onLocalTemplate(candidate("L101", 101, T0 + 200));
  const contact = T0 + 500;
  assert.equal(p.check(contact + THRESHOLD - 1, contact, contact).modeChange, null);
  assert.equal(p.mode, RelayMode.passthrough);
  const step = p.check(contact + THRESHOLD, contact, contact);
  assert.equal(step.modeChange, RelayMode.independent);
  assert.equal(step.deliver?.candidate.update, "L101", "the local template is sent at once");
  assert.equal(step.deliver?.origin, TemplateOrigin.local);
  assert.equal(p.mode, RelayMode.independent);
  assert.equal(p.independentSinceMs, contact + THRESHOLD);
  // Local refreshes and new blocks are delivered in independent mode.
  assert.equal(
    p.onLocalTemplate(candidate("L101b", 101, T0 + 20_000)).deliver?.candidate.update,
    "L101b",
  );
  const next = p.onLocalTemplate(candidate("L102", 102, T0 + 21_000));
  assert.equal(next.deliver?.candidate.update, "L102");
  assert.equal(next.preemptive, false, "independent work is not counted as preemptive");
});

Deno.test("FailoverPolicy counts silence from start when the primary never answered", () => {
  const p = policy();
  p.onLocalTemplate(candidate("L101", 101, T0 + 10));
  assert.equal(p.check(T0 + THRESHOLD - 1, 0, 0).deliver, null);
  const step = p.check(T0 + THRESHOLD, 0, 0);
  assert.equal(step.modeChange, RelayMode.independent);
  assert.equal(step.deliver?.candidate.update, "L101");
});

Deno.test("FailoverPolicy goes independent without a local template and delivers the first one", () => {
  const p = policy();
  p.onPrimaryTemplate(candidate("P101", 101, T0), T0);
  const step = p.check(T0 + THRESHOLD, T0, T0);
  assert.equal(step.modeChange, RelayMode.independent);
  assert.equal(step.deliver, null);
  assert.equal(
    p.onLocalTemplate(candidate("L101", 101, T0 + THRESHOLD + 5)).deliver?.candidate.update,
    "L101",
  );
});

Deno.test("FailoverPolicy never moves miners back to a lower tip from a lagging local node", () => {
  const p = policy();
  p.onPrimaryTemplate(candidate("P102", 102, T0), T0);
  p.onLocalTemplate(candidate("L101", 101, T0 + 1));
  const step = p.check(T0 + THRESHOLD, T0, T0);
  assert.equal(step.modeChange, RelayMode.independent);
  assert.equal(step.deliver, null, "keeps the primary's last work");
  assert.equal(p.onLocalTemplate(candidate("L101b", 101, T0 + THRESHOLD + 1)).deliver, null);
  assert.equal(
    p.onLocalTemplate(candidate("L102", 102, T0 + THRESHOLD + 2)).deliver?.candidate.update,
    "L102",
  );
  // Once following the local node, its reorganisations are followed too.
  assert.equal(
    p.onLocalTemplate(candidate("L101x", 101, T0 + THRESHOLD + 3, "x")).deliver?.candidate.update,
    "L101x",
  );
});

Deno.test("FailoverPolicy returns to the primary only with a fresh heartbeat and a fresh template", () => {
  const p = policy();
  p.onPrimaryTemplate(candidate("P101", 101, T0), T0);
  p.onLocalTemplate(candidate("L101", 101, T0 + 1));
  const since = T0 + THRESHOLD;
  p.check(since, T0, T0);
  assert.equal(p.mode, RelayMode.independent);
  // A template replayed on reconnect without any heartbeat: the primary may still be down.
  assert.equal(p.onPrimaryTemplate(candidate("P101r", 101, since + 100), T0).deliver, null);
  assert.equal(p.check(since + 200, since + 100, T0).deliver, null);
  assert.equal(p.mode, RelayMode.independent);
  // The heartbeat arrives: back to passthrough with the primary's template.
  const back = p.check(since + 300, since + 250, since + 250);
  assert.equal(back.modeChange, RelayMode.passthrough);
  assert.equal(back.deliver?.candidate.update, "P101r");
  assert.equal(back.deliver?.origin, TemplateOrigin.primary);
  assert.equal(p.mode, RelayMode.passthrough);
  assert.equal(p.independentSinceMs, 0);
});

Deno.test("FailoverPolicy returns at once when the template follows the heartbeat", () => {
  const p = policy();
  p.onPrimaryTemplate(candidate("P101", 101, T0), T0);
  const since = T0 + THRESHOLD;
  p.check(since, T0, T0);
  const heartbeat = since + 1_000;
  assert.equal(p.check(heartbeat + 10, heartbeat, heartbeat).modeChange, null, "no template yet");
  const step = p.onPrimaryTemplate(candidate("P102", 102, heartbeat + 20), heartbeat);
  assert.equal(step.modeChange, RelayMode.passthrough);
  assert.equal(step.deliver?.candidate.update, "P102");
});

Deno.test("FailoverPolicy stays independent while the returning primary is behind the local tip", () => {
  const p = policy();
  p.onPrimaryTemplate(candidate("P101", 101, T0), T0);
  const since = T0 + THRESHOLD;
  p.check(since, T0, T0);
  p.onLocalTemplate(candidate("L102", 102, since + 10));
  const hb = since + 100;
  assert.equal(p.onPrimaryTemplate(candidate("P101r", 101, hb + 1), hb).deliver, null);
  assert.equal(p.check(hb + 2, hb + 1, hb).deliver, null);
  assert.equal(p.mode, RelayMode.independent);
  const step = p.onPrimaryTemplate(candidate("P102", 102, hb + 3), hb);
  assert.equal(step.modeChange, RelayMode.passthrough);
  assert.equal(step.deliver?.candidate.update, "P102");
});

Deno.test("FailoverPolicy ignores a heartbeat older than the threshold when returning", () => {
  const p = policy();
  p.onPrimaryTemplate(candidate("P101", 101, T0), T0);
  const since = T0 + THRESHOLD;
  p.check(since, T0, T0);
  const hb = since + 10;
  p.onPrimaryTemplate(candidate("P101r", 101, hb + THRESHOLD + 1), hb);
  assert.equal(p.mode, RelayMode.independent, "the heartbeat is too old by then");
});

Deno.test("FailoverPolicy refuses a non-positive threshold", () => {
  assert.throws(
    () => new FailoverPolicy({ independentAfterMs: 0, startedAtMs: 0 }),
    { name: "RangeError" },
  );
});
