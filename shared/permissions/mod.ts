/**
 * Deno permissions derived from a service's config: the exact `--allow-*` lists a service
 * needs, the flags that render them, and the check a service runs at start to name any flag
 * it was started without.
 *
 * @module
 */

export * from "./required_permissions.ts";
export * from "./permission_flags.ts";
export * from "./missing_permissions.ts";
export * from "./zeromq_paths.ts";
