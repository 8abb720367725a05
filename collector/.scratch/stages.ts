import {
  encodeEvent,
  EventType,
  makeEvent,
  type MiningEvent,
  parseEvent,
} from "@tbg/shared/events";
import process from "node:process";
import { PostgresStore } from "../postgres_store.ts";
import { RedisStore } from "../redis_store.ts";
const USER = "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq";
function batch(n: number) {
  return Array.from(
    { length: n },
    (_, i) =>
      encodeEvent(makeEvent(EventType.ShareSubmitted, "eu", "stratum-eu-1", {
        user: USER,
        worker: "rig" + (i % 50),
        session_id: "0a1b2c3d",
        job_id: "6a",
        share_diff: 4096 + i,
        pool_diff: 1024,
        accepted: true,
        block_candidate: false,
        ip: "10.0.0.1",
      })),
  );
}
const pg = new PostgresStore("postgres://tbg@127.0.0.1:55432/tbg");
const redis = new RedisStore("redis://127.0.0.1:56379/0");
await new Promise((r) => setTimeout(r, 300));
const t = { parse: 0, pg: 0, redis: 0, pgcpu: 0, rediscpu: 0 };
const B = 30;
for (let b = 0; b < B; b++) {
  const raw = batch(1000);
  let t0 = performance.now();
  const events: MiningEvent[] = raw.map((r) => parseEvent(r));
  t.parse += performance.now() - t0;
  t0 = performance.now();
  let c0 = process.cpuUsage();
  await pg.write(events);
  let c = process.cpuUsage(c0);
  t.pgcpu += (c.user + c.system) / 1000;
  t.pg += performance.now() - t0;
  t0 = performance.now();
  c0 = process.cpuUsage();
  const r = { applied: 1000 };
  c = process.cpuUsage(c0);
  t.rediscpu += (c.user + c.system) / 1000;
  if (r.applied !== 1000) console.log(r);
  t.redis += performance.now() - t0;
}
console.log(
  "per 1000-event batch ms:",
  Object.fromEntries(Object.entries(t).map(([k, v]) => [k, (v / B).toFixed(1)])),
);
await pg.close();
await redis.close();
