import { connect, createInbox, headers } from "nats";
import { jetstream, jetstreamManager } from "nats/jetstream";
import { miningEventsStreamConfig } from "@tbg/shared/nats";
import { startNatsServer } from "./support/servers/nats_server.ts";

const server = await startNatsServer({ jetstream: true });
const nc = await connect({ servers: server.url });
await (await jetstreamManager(nc)).streams.add(miningEventsStreamConfig());
const js = jetstream(nc);
const payload = new TextEncoder().encode(JSON.stringify({
  v: 1,
  event_id: "0190a3b4-7c8d-7000-b123-456789abcdef",
  event: "share_submitted",
  region: "eu",
  timestamp: 1716556800000000,
  source: "stratum-eu-1",
  data: {
    user: "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq",
    worker: "rig1",
    session_id: "0a1b2c3d",
    job_id: "6a",
    share_diff: 4096,
    pool_diff: 1024,
    accepted: true,
    block_candidate: false,
  },
}));
const N = 30000;
// 1: js.publish window 512
{
  const t0 = performance.now();
  let inflight = 0;
  let done = 0;
  let i = 0;
  await new Promise<void>((resolve) => {
    const pump = () => {
      while (inflight < 512 && i < N) {
        inflight++;
        js.publish("mining.events.eu.share_submitted", payload, {
          msgID: `a-${i++}`,
          timeout: 2000,
        }).then(() => {
          inflight--;
          done++;
          if (done === N) resolve();
          else pump();
        });
      }
    };
    pump();
  });
  const ms = performance.now() - t0;
  console.log(`js.publish: ${(N / ms * 1000).toFixed(0)}/s`);
}
// 2: core publish with reply inbox + one wildcard sub
{
  const prefix = createInbox();
  let done = 0;
  let inflight = 0;
  let i = 0;
  const t0 = performance.now();
  await new Promise<void>((resolve) => {
    const sub = nc.subscribe(`${prefix}.*`, {
      callback: (_err, msg) => {
        inflight--;
        done++;
        if (done === N) {
          sub.unsubscribe();
          resolve();
        } else pump();
      },
    });
    const pump = () => {
      while (inflight < 512 && i < N) {
        inflight++;
        const h = headers();
        h.set("Nats-Msg-Id", `b-${i}`);
        nc.publish("mining.events.eu.share_submitted", payload, {
          headers: h,
          reply: `${prefix}.${i}`,
        });
        i++;
      }
    };
    pump();
  });
  const ms = performance.now() - t0;
  console.log(`core publish + inbox sub: ${(N / ms * 1000).toFixed(0)}/s`);
}
await nc.close();
await server.stop();
