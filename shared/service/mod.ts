/**
 * Service start-up shared by stratum, relay and collector: `--config` parsing, config
 * validation and the permission check, each failing with one line on stderr and exit code 2
 * before any socket opens; then logging, the bitcoind pool and network of stratum and relay, and
 * the drain on SIGTERM/SIGINT, so each main.ts only wires its runtime.
 *
 * @module
 */

export * from "./bootstrap.ts";
export * from "./runtime_needs.ts";
export * from "./env_sandbox.ts";
export * from "./service_start.ts";
export * from "./signal_drain.ts";
export * from "./signal_reload.ts";
