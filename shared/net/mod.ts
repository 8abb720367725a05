/**
 * Network helpers shared by the listeners: the accept loop with backoff, grouping peer
 * addresses for per-IP limits, and reading a connection through the runtime's read op.
 * @module
 */
export * from "./accept_loop.ts";
export * from "./address_group.ts";
export * from "./read_op.ts";
