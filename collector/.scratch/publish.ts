import { connect } from "nats";
import { jetstream } from "nats/jetstream";
import { encodeEvent, EventType, makeEvent } from "@tbg/shared/events";
import { eventSubject } from "@tbg/shared/nats";
const N = Number(Deno.args[0] ?? 10000);
const nc = await connect({ servers: "nats://127.0.0.1:54222" });
const js = jetstream(nc);
const USER = "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq";
const t0 = performance.now();
const pending: Promise<unknown>[] = [];
for (let i = 0; i < N; i++) {
  const e = makeEvent(EventType.ShareSubmitted, "eu", "stratum-eu-1", {
    user: USER,
    worker: "rig" + (i % 50),
    session_id: "0a1b2c3d",
    job_id: "6a",
    share_diff: 4096 + i,
    pool_diff: 1024,
    accepted: i % 10 !== 0,
    ...(i % 10 === 0 ? { reject_reason: "low_difficulty" as const } : {}),
    block_candidate: false,
  });
  pending.push(js.publish(eventSubject("eu", e.event), encodeEvent(e), { msgID: e.event_id }));
  if (pending.length >= 2000) {
    await Promise.all(pending);
    pending.length = 0;
  }
}
await Promise.all(pending);
console.log("published", N, "in", (performance.now() - t0).toFixed(0), "ms");
await nc.close();
