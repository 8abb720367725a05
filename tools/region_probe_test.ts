import assert from "node:assert/strict";
import { parseRegionArg, probeRegion, RegionSelector } from "./region_probe.ts";

Deno.test("parseRegionArg() reads region, Stratum address and health URL", () => {
  assert.deepEqual(parseRegionArg("us-east=127.0.0.1:3333,http://127.0.0.1:9100/health", 1), {
    region: "us-east",
    stratumHost: "127.0.0.1",
    stratumPort: 3333,
    healthUrl: "http://127.0.0.1:9100/health",
    priority: 1,
  });
  assert.equal(parseRegionArg("eu=[::1]:3333,http://[::1]:9100/health").stratumHost, "::1");
  assert.throws(() => parseRegionArg("EU=host:1,http://x/health"), /expected <region>=/);
  assert.throws(() => parseRegionArg("eu=host:3333"), /expected <region>=/);
  assert.throws(() => parseRegionArg("eu=host:70000,http://x/health"), /out of range/);
});

/** A region on loopback: a TCP listener as its Stratum port and an HTTP /health. */
function fakeRegion(): {
  stratumPort: number;
  healthUrl: string;
  setHealthy(ok: boolean): void;
  closeStratum(): void;
  close(): Promise<void>;
} {
  let healthy = true;
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  // Answers one line to whatever arrives, as a pool answers mining.subscribe.
  const accepting = (async () => {
    for await (const conn of listener) {
      (async () => {
        const buffer = new Uint8Array(1024);
        if (await conn.read(buffer) !== null) {
          await conn.write(new TextEncoder().encode('{"id":1,"result":[],"error":null}\n'));
        }
        conn.close();
      })().catch(() => {});
    }
  })().catch(() => {});
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    () => new Response(JSON.stringify({ ok: healthy }), { status: healthy ? 200 : 503 }),
  );
  let stratumOpen = true;
  return {
    stratumPort: listener.addr.port,
    healthUrl: `http://127.0.0.1:${server.addr.port}/health`,
    setHealthy: (ok) => (healthy = ok),
    closeStratum: () => {
      if (stratumOpen) listener.close();
      stratumOpen = false;
    },
    async close() {
      if (stratumOpen) listener.close();
      await accepting;
      await server.shutdown();
    },
  };
}

Deno.test("probeRegion() reports health by status code and an RTT while the Stratum port answers", async () => {
  const region = fakeRegion();
  try {
    const endpoint = {
      region: "eu",
      stratumHost: "127.0.0.1",
      stratumPort: region.stratumPort,
      healthUrl: region.healthUrl,
    };
    const up = await probeRegion(endpoint);
    assert.equal(up.healthOk, true);
    assert.ok(up.rttMs !== undefined && up.rttMs >= 0);
    region.setHealthy(false);
    const sick = await probeRegion(endpoint);
    assert.equal(sick.healthOk, false);
    assert.match(sick.detail, /HTTP 503/);
    region.closeStratum();
    assert.equal((await probeRegion(endpoint)).rttMs, undefined);
  } finally {
    await region.close();
  }
});

Deno.test("RegionSelector moves clients only after the threshold of failed checks", async () => {
  const eu = fakeRegion();
  const us = fakeRegion();
  try {
    const selector = new RegionSelector([
      {
        region: "eu",
        stratumHost: "127.0.0.1",
        stratumPort: eu.stratumPort,
        healthUrl: eu.healthUrl,
        priority: 0,
      },
      {
        region: "us-east",
        stratumHost: "127.0.0.1",
        stratumPort: us.stratumPort,
        healthUrl: us.healthUrl,
        priority: 1,
      },
    ], 2);
    await selector.probe();
    assert.equal(selector.healthy("us-east"), true);
    us.setHealthy(false);
    await selector.probe();
    assert.equal(selector.healthy("us-east"), true, "one failed check is not enough");
    await selector.probe();
    assert.equal(selector.healthy("us-east"), false);
    const choice = selector.select();
    assert.equal(choice.region, "eu");
    assert.deepEqual(choice.ranked, ["eu"]);
    us.setHealthy(true);
    await selector.probe();
    await selector.probe();
    assert.equal(selector.healthy("us-east"), true);
  } finally {
    await eu.close();
    await us.close();
  }
});
