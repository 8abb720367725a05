import { PERMISSION_KINDS, permissionFlag } from "./permission_flags.ts";
import type { Permissions } from "./required_permissions.ts";

/** `Deno.permissions.querySync`, injectable for tests. */
export type PermissionQuery = (descriptor: Deno.PermissionDescriptor) => Deno.PermissionStatus;

function descriptor(
  kind: (typeof PERMISSION_KINDS)[number],
  value: string,
): Deno.PermissionDescriptor {
  switch (kind) {
    case "net":
      return { name: "net", host: value };
    case "read":
      return { name: "read", path: value };
    case "write":
      return { name: "write", path: value };
    case "env":
      return { name: "env", variable: value };
    case "ffi":
      return { name: "ffi", path: value };
    case "sys":
      return { name: "sys", kind: value as NonNullable<Deno.SysPermissionDescriptor["kind"]> };
  }
}

/**
 * The flags that would grant what the running process lacks, e.g.
 * `["--allow-net=127.0.0.1:8332"]`; empty when everything is granted. Only the missing values
 * appear, so the message names exactly what to add.
 */
export function missingPermissions(
  perms: Permissions,
  query: PermissionQuery = (d) => Deno.permissions.querySync(d),
): string[] {
  const flags: string[] = [];
  for (const kind of PERMISSION_KINDS) {
    const missing = perms[kind].filter((value) =>
      query(descriptor(kind, value)).state !== "granted"
    );
    if (missing.length > 0) flags.push(permissionFlag(kind, missing));
  }
  return flags;
}
