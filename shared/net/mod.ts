/**
 * Network helpers shared by the listeners: grouping peer addresses for per-IP limits.
 * @module
 */
export * from "./address_group.ts";
