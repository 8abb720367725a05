/**
 * Stratum reply latency while clients flood the metrics listener (issue 10, finding 2). Starts a
 * devnet node and a pool in this process, then `scrape_flood_client.ts` in another process with
 * `<scrapers>` clients each fetching /metrics in a loop; meanwhile one authorized miner sends
 * `mining.extranonce.subscribe` every 10 ms (400 times, at most 60 s) and the reply latencies are
 * printed as one JSON line, followed by the scrapers' counts. Standalone (not a `deno task bench`
 * scenario):
 *
 *   deno run --allow-net=127.0.0.1 --allow-read --allow-write --allow-env --allow-ffi --allow-sys \
 *     --allow-run tests/bench/scrape_flood.ts 1000
 *
 * @module
 */
import { startDevnet } from "../support/devnet/mod.ts";
import { startInProcessPool } from "../support/pool_in_process.ts";
import { RawStratum } from "../support/raw_stratum.ts";
import { regtestAddress } from "../support/addresses.ts";

const scrapers = Number(Deno.args[0] ?? "0");
const devnet = await startDevnet({ bits: 0x1d00ffff });
const pool = await startInProcessPool(devnet, {});
const metricsPort = pool.runtime.metricsServer!.port;
let child: Deno.ChildProcess | null = null;
if (scrapers > 0) {
  child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-net=127.0.0.1",
      new URL("./scrape_flood_client.ts", import.meta.url).pathname,
      String(metricsPort),
      String(scrapers),
    ],
    stdout: "inherit",
    stderr: "inherit",
  }).spawn();
  // Let the flood reach its steady state first.
  await new Promise((resolve) => setTimeout(resolve, 2_000));
}
const raw = await RawStratum.open(pool.port);
await raw.request(1, "mining.subscribe", [], 60_000);
await raw.request(2, "mining.authorize", [`${regtestAddress("p2wpkh", 7).address}.x`, "x"], 60_000);
const started = performance.now();
const rtts: number[] = [];
for (let i = 0; i < 400 && performance.now() - started < 60_000; i++) {
  const t0 = performance.now();
  await raw.request(1_000 + i, "mining.extranonce.subscribe", [], 60_000);
  rtts.push(performance.now() - t0);
  await new Promise((resolve) => setTimeout(resolve, 10));
}
rtts.sort((a, b) => a - b);
const quantile = (p: number) =>
  rtts[Math.min(rtts.length - 1, Math.floor(p * rtts.length))]!.toFixed(2);
const line = {
  scrapers,
  samples: rtts.length,
  p50: quantile(0.5),
  p99: quantile(0.99),
  max: quantile(1),
};
await Deno.stdout.write(new TextEncoder().encode(JSON.stringify(line) + "\n"));
raw.close();
child?.kill("SIGTERM");
await child?.status;
await pool.stop();
await devnet.stop();
