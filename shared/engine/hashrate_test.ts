import assert from "node:assert/strict";
import { HashrateMeter } from "./hashrate.ts";

Deno.test("HashrateMeter converges to the credited rate of a steady miner", () => {
  // A 1 TH/s miner at difficulty 1000 finds a share every 4.295 s on average.
  const hashrate = 1e12;
  const diff = 1000;
  const intervalMs = (diff * 2 ** 32 / hashrate) * 1000;
  const meter = new HashrateMeter(0);
  let now = 0;
  for (let i = 0; i < 2000; i++) {
    now += intervalMs;
    meter.add(diff, now);
  }
  const { h1m, h5m, h1h } = meter.hashrates(now);
  for (const h of [h1m, h5m, h1h]) assert.ok(Math.abs(h / hashrate - 1) < 0.1, `${h}`);
});

Deno.test("HashrateMeter decays to near zero after the miner stops", () => {
  const meter = new HashrateMeter(0);
  for (let i = 1; i <= 100; i++) meter.add(1, i * 1000);
  const before = meter.hashrates(100_000).h1m;
  const { h1m } = meter.hashrates(100_000 + 20 * 60_000);
  assert.ok(h1m < before * 1e-8, `${h1m} vs ${before}`);
});

Deno.test("HashrateMeter.hashrate5m() is the h5m of hashrates()", () => {
  const a = new HashrateMeter(0);
  const b = new HashrateMeter(0);
  for (let i = 1; i <= 50; i++) {
    a.add(10, i * 3_000);
    b.add(10, i * 3_000);
  }
  assert.equal(a.hashrate5m(200_000), b.hashrates(200_000).h5m);
});
