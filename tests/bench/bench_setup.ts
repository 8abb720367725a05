/**
 * Start-up and clean-up shared by the scenarios: a devnet in this process and a pool process
 * pointed at it, always stopped afterwards; plus small helpers for waiting and machine load.
 */
import { type Devnet, type DevnetOptions, startDevnet } from "../support/devnet/mod.ts";
import { type BenchPool, type BenchPoolOptions, startBenchPool } from "./bench_pool.ts";

/** Difficulty-1 bits: a random nonce essentially never makes a block. */
export const DIFFICULTY_1_BITS = 0x1d00ffff;

/** Runs `fn` with a fresh devnet and pool; both are stopped however `fn` ends. */
export async function withDevnetPool<T>(
  devnetOptions: DevnetOptions,
  poolOptions: BenchPoolOptions,
  fn: (devnet: Devnet, pool: BenchPool) => Promise<T>,
): Promise<T> {
  const devnet = await startDevnet(devnetOptions);
  try {
    const pool = await startBenchPool(devnet, poolOptions);
    try {
      return await fn(devnet, pool);
    } finally {
      await pool.stop();
    }
  } finally {
    await devnet.stop();
  }
}

/** Resolves after `ms`. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** The one-minute load average (other sessions share this machine). */
export function loadAverage1m(): Promise<number> {
  return Promise.resolve(Deno.loadavg()[0] ?? NaN);
}
