/**
 * Support Stratum V1 client: protocol client, CPU miner mode, job decoding.
 * @module
 */
export * from "./connection.ts";
export * from "./client.ts";
export * from "./cpu_miner.ts";
export * from "./job.ts";
