/**
 * The primary-region Stratum pool: the runtime that `main.ts` starts, exported for in-process
 * tests and for the relay, which runs the same engine with another template source.
 * @module
 */
export * from "./pool_runtime.ts";
