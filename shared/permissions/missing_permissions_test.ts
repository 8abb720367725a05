import assert from "node:assert/strict";
import { missingPermissions, type PermissionQuery } from "./missing_permissions.ts";
import type { Permissions } from "./required_permissions.ts";

const PERMS: Permissions = {
  net: ["0.0.0.0:3333", "127.0.0.1:8332"],
  read: ["/etc/s.json"],
  write: ["/var/log/tbg"],
  env: ["TZ"],
  ffi: ["/nm/zeromq/build"],
  sys: ["hostname"],
};

function grantOnly(granted: string[]): { query: PermissionQuery; asked: string[] } {
  const asked: string[] = [];
  const query: PermissionQuery = (descriptor) => {
    const value = "host" in descriptor
      ? descriptor.host
      : "path" in descriptor
      ? descriptor.path
      : "variable" in descriptor
      ? descriptor.variable
      : "kind" in descriptor
      ? descriptor.kind
      : undefined;
    const key = `${descriptor.name}:${String(value)}`;
    asked.push(key);
    const state: Deno.PermissionState = granted.includes(key) ? "granted" : "prompt";
    return { state, partial: false, onchange: null } as unknown as Deno.PermissionStatus;
  };
  return { query, asked };
}

Deno.test("missingPermissions() names only the values not granted", () => {
  const { query } = grantOnly([
    "net:0.0.0.0:3333",
    "read:/etc/s.json",
    "write:/var/log/tbg",
    "env:TZ",
    "sys:hostname",
  ]);
  assert.deepEqual(missingPermissions(PERMS, query), [
    "--allow-net=127.0.0.1:8332",
    "--allow-ffi=/nm/zeromq/build",
  ]);
});

Deno.test("missingPermissions() asks about every value with the right descriptor", () => {
  const { query, asked } = grantOnly([]);
  assert.equal(missingPermissions(PERMS, query).length, 6);
  assert.deepEqual(asked, [
    "net:0.0.0.0:3333",
    "net:127.0.0.1:8332",
    "read:/etc/s.json",
    "write:/var/log/tbg",
    "env:TZ",
    "ffi:/nm/zeromq/build",
    "sys:hostname",
  ]);
});

Deno.test("missingPermissions() is empty for an empty permission set", () => {
  assert.deepEqual(
    missingPermissions({ net: [], read: [], write: [], env: [], ffi: [], sys: [] }),
    [],
  );
  const { query } = grantOnly([]);
  assert.deepEqual(
    missingPermissions({ net: [], read: [], write: [], env: [], ffi: [], sys: [] }, query),
    [],
  );
});
