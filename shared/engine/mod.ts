/**
 * The Stratum engine shared by the primary pool and the regional relays: sessions, jobs,
 * share validation, vardiff, rate limits, block assembly and the TCP server.
 * @module
 */
export * from "./block.ts";
export * from "./clock.ts";
export * from "./coinbase.ts";
export * from "./connection_transport.ts";
export * from "./difficulty_memory.ts";
export * from "./engine.ts";
export * from "./hashrate.ts";
export * from "./jobs.ts";
export * from "./open_file_cap.ts";
export * from "./rate_limit.ts";
export * from "./reconnect_spread.ts";
export * from "./session.ts";
export * from "./share.ts";
export * from "./stratum_server.ts";
export * from "./template.ts";
export * from "./tls_terminator.ts";
export * from "./vardiff.ts";
