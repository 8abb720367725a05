/**
 * RedisDifficultyMemory against a real redis-server: remembers, expires with the TTL, and answers
 * "nothing remembered" promptly while Redis is down. Run with `deno task test`.
 */
import assert from "node:assert/strict";
import { RedisDifficultyMemory } from "@tbg/shared/redis-memory";
import { getLogger } from "@tbg/shared/log";
import { startRedisServer } from "./support/servers/redis_server.ts";

Deno.test({
  name: "RedisDifficultyMemory remembers a worker's difficulty with the configured TTL",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const redis = await startRedisServer();
    const memory = new RedisDifficultyMemory(
      redis.url,
      { reconnect_memory_ttl: 1 },
      getLogger(["test"]),
    );
    try {
      assert.equal(await memory.get("bcrt1qabc.rig1"), undefined);
      memory.set("bcrt1qabc.rig1", 0.000123);
      let got: number | undefined;
      for (let i = 0; i < 50 && got === undefined; i++) {
        got = await memory.get("bcrt1qabc.rig1");
        if (got === undefined) await new Promise((r) => setTimeout(r, 20));
      }
      assert.equal(got, 0.000123);
      await new Promise((r) => setTimeout(r, 2_100));
      assert.equal(
        await memory.get("bcrt1qabc.rig1"),
        undefined,
        "expired after reconnect_memory_ttl",
      );
    } finally {
      await memory.close();
      await redis.stop();
    }
  },
});

Deno.test({
  name: "RedisDifficultyMemory answers promptly with nothing while Redis is down",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const redis = await startRedisServer();
    const url = redis.url;
    await redis.stop();
    const memory = new RedisDifficultyMemory(
      url,
      { reconnect_memory_ttl: 60 },
      getLogger(["test"]),
    );
    try {
      assert.equal(await memory.get("x"), undefined);
      memory.set("x", 1);
    } finally {
      await memory.close();
    }
  },
});
