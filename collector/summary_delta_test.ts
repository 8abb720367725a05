import assert from "node:assert/strict";
import { EventType, makeEvent, type MiningEvent } from "@tbg/shared/events";
import { connectEventAt, shareEventAt } from "./_test_events.ts";
import { aggregateBatch, MICROS_PER_HOUR } from "./aggregates.ts";
import { numberArrayLiteral, summaryDeltaArrays, textArrayLiteral } from "./summary_delta.ts";

const USER = "bcrt1qexampleuser0";
const HOUR = 1_716_555_600_000_000; // 2024-05-24T13:00:00Z

function share(worker: string, timestampUs: number, accepted: boolean, diff: number): MiningEvent {
  return shareEventAt(USER, worker, timestampUs, accepted, diff);
}

function connect(worker: string, timestampUs: number, agent: string): MiningEvent {
  return connectEventAt(USER, worker, timestampUs, agent, "us");
}

Deno.test("summaryDeltaArrays() writes one entry per worker-hour with the worker's fields", () => {
  const delta = summaryDeltaArrays(aggregateBatch([
    share("rig1", HOUR + 10, true, 1000.5),
    share("rig1", HOUR + MICROS_PER_HOUR + 1, false, 3),
    connect("idle", HOUR + 40, 'say "hi" \\o/'),
  ]));
  assert.deepEqual(delta, {
    u: `{"${USER}","${USER}","${USER}"}`,
    w: '{"idle","rig1","rig1"}',
    h: `{${HOUR},${HOUR},${HOUR + MICROS_PER_HOUR}}`,
    a: "{0,1,0}",
    r: "{0,0,1}",
    d: "{0,256,0}",
    hb: "{0,1000.5,0}",
    f: `{${HOUR + 40},${HOUR + 10},${HOUR + 10}}`,
    ln: `{"${HOUR + 40}us","${HOUR + MICROS_PER_HOUR + 1}eu","${HOUR + MICROS_PER_HOUR + 1}eu"}`,
    s: `{null,${HOUR + MICROS_PER_HOUR + 1},${HOUR + MICROS_PER_HOUR + 1}}`,
    mb: "{0,1000.5,1000.5}",
    g: `{"${HOUR + 40}say \\"hi\\" \\\\o/",NULL,NULL}`,
  });
});

Deno.test("summaryDeltaArrays() pads times to 16 digits so the text keys sort by time", () => {
  const delta = summaryDeltaArrays(aggregateBatch([connect("w", 42, "a")]));
  assert.equal(delta?.ln, '{"0000000000000042us"}');
  assert.equal(delta?.g, '{"0000000000000042a"}');
});

Deno.test("summaryDeltaArrays() is null for a batch without worker events", () => {
  const network = makeEvent(EventType.NewBlockNetwork, "eu", "relay-eu-1", {
    height: 1,
    hash: "00".repeat(32),
    prev_hash: "11".repeat(32),
    source: "zmq",
  });
  assert.equal(summaryDeltaArrays(aggregateBatch([network])), null);
});

Deno.test("textArrayLiteral() quotes every element and escapes only quote and backslash", () => {
  assert.equal(
    textArrayLiteral(["a", "NULL", "{b,c}", " ", null]),
    '{"a","NULL","{b,c}"," ",null}',
  );
  // A control character makes JSON escape it, which an array literal would misread: built here.
  assert.equal(textArrayLiteral(["tab\there", 'q"', "b\\s"]), '{"tab\there","q\\"","b\\\\s"}');
  assert.equal(textArrayLiteral([]), "{}");
});

Deno.test("numberArrayLiteral() writes numbers as JSON does, null as NULL", () => {
  assert.equal(numberArrayLiteral([1, 0.5, 1e21, null, -0]), "{1,0.5,1e+21,null,0}");
});
