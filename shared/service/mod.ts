/**
 * Service start-up shared by stratum, relay and collector: `--config` parsing, config
 * validation and the permission check, each failing with one line on stderr and exit code 2
 * before any socket opens.
 *
 * @module
 */

export * from "./bootstrap.ts";
export * from "./runtime_needs.ts";
export * from "./env_sandbox.ts";
