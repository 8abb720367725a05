import {
  encodeEvent,
  EventType,
  makeEvent,
  type MiningEvent,
  parseEvent,
} from "@tbg/shared/events";
import { eventRowsJson } from "../event_rows.ts";
import { aggregateBatch } from "../aggregates.ts";
import { batchScriptArgs } from "../redis_batch_script.ts";
const USER = "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq";
const ev: MiningEvent[] = Array.from(
  { length: 1000 },
  (_, i) =>
    parseEvent(encodeEvent(makeEvent(EventType.ShareSubmitted, "eu", "stratum-eu-1", {
      user: USER,
      worker: "rig" + (i % 50),
      session_id: "0a1b2c3d",
      job_id: "6a",
      share_diff: 4096 + i,
      pool_diff: 1024,
      accepted: true,
      block_candidate: false,
      ip: "10.0.0.1",
    }))),
);
const raw = ev.map((e) => encodeEvent(e));
for (
  const [name, f] of [
    ["rowsJson", () => eventRowsJson(ev)],
    ["aggregate", () => aggregateBatch(ev)],
    ["scriptArgs", () => batchScriptArgs(ev)],
    ["parse", () => raw.map((r) => parseEvent(r))],
    ["sort", () => [...ev].sort((a, b) => a.event_id < b.event_id ? -1 : 1)],
  ] as const
) {
  for (let i = 0; i < 20; i++) f();
  const t0 = performance.now();
  for (let i = 0; i < 50; i++) f();
  console.log(name, ((performance.now() - t0) / 50).toFixed(2), "ms/1000");
}
