/**
 * Network helpers shared by the listeners: the accept loop with backoff, and grouping peer
 * addresses for per-IP limits.
 * @module
 */
export * from "./accept_loop.ts";
export * from "./address_group.ts";
