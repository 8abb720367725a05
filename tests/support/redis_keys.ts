/**
 * Lists Redis keys for tests that check what the collector left in Redis.
 *
 * @module
 */
import type { Redis } from "ioredis";

/** Every key matching `pattern`, sorted (SCAN in pages of 1,000, at most 10,000 pages). */
export async function keysMatching(rc: Redis, pattern: string): Promise<string[]> {
  const keys: string[] = [];
  let cursor = "0";
  for (let rounds = 0; rounds < 10_000; rounds++) {
    const [next, batch] = await rc.scan(cursor, "MATCH", pattern, "COUNT", 1000);
    keys.push(...batch);
    cursor = next;
    if (cursor === "0") return keys.sort();
  }
  throw new Error(`Cannot list ${pattern}: SCAN did not finish`);
}
