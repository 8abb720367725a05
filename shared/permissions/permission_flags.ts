import type { Permissions } from "./required_permissions.ts";

/** Permission kinds in the order flags are rendered. */
export const PERMISSION_KINDS = ["net", "read", "write", "env", "ffi", "sys"] as const;

/** One of {@link PERMISSION_KINDS}. */
export type PermissionKind = (typeof PERMISSION_KINDS)[number];

/**
 * Renders one flag, e.g. `--allow-net=0.0.0.0:3333,127.0.0.1:8332`.
 *
 * @throws {RangeError} for an empty list (a bare `--allow-net` would grant everything)
 * @throws {TypeError} for a value containing a comma, which Deno's flag syntax cannot express
 */
export function permissionFlag(kind: PermissionKind, values: readonly string[]): string {
  if (values.length === 0) {
    throw new RangeError(`Cannot render --allow-${kind}: an empty list would grant everything`);
  }
  for (const value of values) {
    if (value.includes(",") || value === "") {
      throw new TypeError(
        `Cannot render --allow-${kind}: ${JSON.stringify(value)} is empty or contains a comma`,
      );
    }
  }
  return `--allow-${kind}=${values.join(",")}`;
}

/**
 * The `--allow-*` flags for a set of permissions, one per non-empty kind; never `-A` and never
 * a bare flag.
 */
export function permissionFlags(perms: Permissions): string[] {
  return PERMISSION_KINDS.filter((kind) => perms[kind].length > 0).map((kind) =>
    permissionFlag(kind, perms[kind])
  );
}
