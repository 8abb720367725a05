import { EventEmitter, natsConnector } from "@tbg/shared/emitter";
import { EventType } from "@tbg/shared/events";
import { getLogger } from "@tbg/shared/log";
import { PoolMetrics } from "@tbg/shared/metrics";
import { connect } from "nats";
import { jetstreamManager } from "nats/jetstream";
import { miningEventsStreamConfig } from "@tbg/shared/nats";
import { startNatsServer } from "./support/servers/nats_server.ts";

const server = await startNatsServer({ jetstream: true });
const nc = await connect({ servers: server.url });
await (await jetstreamManager(nc)).streams.add(miningEventsStreamConfig());
await nc.close();
const dir = await Deno.makeTempDir();
const metrics = new PoolMetrics({ region: "eu", instance: "x" });
const emitter = new EventEmitter({
  region: "eu",
  source: "s",
  include: [EventType.ShareSubmitted],
  bufferSize: 65536,
  spoolDir: dir,
  connector: natsConnector({ servers: [server.url], name: "b", connectTimeoutMs: 1000 }),
  metrics,
  log: getLogger(["b"]),
});
await emitter.start();
const data = {
  user: "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq",
  worker: "rig1",
  session_id: "0a1b2c3d",
  job_id: "6a",
  share_diff: 4096,
  pool_diff: 1024,
  accepted: true,
  block_candidate: false,
};
const samples: number[] = [];
const rate = Number(Deno.args[0] ?? 15000); // events/s
const seconds = 4;
const t0 = performance.now();
let sent = 0;
while (performance.now() - t0 < seconds * 1000) {
  const due = Math.floor((performance.now() - t0) / 1000 * rate);
  while (sent < due) {
    const a = performance.now();
    emitter.emit(EventType.ShareSubmitted, data);
    samples.push((performance.now() - a) * 1000);
    sent++;
  }
  await new Promise((r) => setTimeout(r, 1));
}
const cpu0 = performance.now();
while (metrics.eventsPublished.value < sent && performance.now() - cpu0 < 30000) {
  await new Promise((r) => setTimeout(r, 10));
}
samples.sort((a, b) => a - b);
const q = (p: number) =>
  samples[Math.min(samples.length - 1, Math.floor(p * samples.length))]!.toFixed(1);
console.log(
  `rate ${rate}/s sent ${sent} published ${metrics.eventsPublished.value} spooled ${metrics.eventsSpooled.value} catch-up ${
    (performance.now() - cpu0).toFixed(0)
  }ms`,
);
console.log(
  `emit latency us p50 ${q(0.5)} p99 ${q(0.99)} p999 ${q(0.999)} max ${samples.at(-1)!.toFixed(1)}`,
);
await emitter.drain(5000);
await server.stop();
await Deno.remove(dir, { recursive: true });
