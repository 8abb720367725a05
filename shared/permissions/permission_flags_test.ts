import assert from "node:assert/strict";
import { permissionFlag, permissionFlags } from "./permission_flags.ts";

Deno.test("permissionFlags() renders one flag per non-empty kind in a fixed order", () => {
  assert.deepEqual(
    permissionFlags({
      sys: ["hostname"],
      net: ["0.0.0.0:3333", "127.0.0.1:8332"],
      read: ["/etc/s.json"],
      write: [],
      env: [],
      ffi: ["/nm/zeromq/build"],
    }),
    [
      "--allow-net=0.0.0.0:3333,127.0.0.1:8332",
      "--allow-read=/etc/s.json",
      "--allow-ffi=/nm/zeromq/build",
      "--allow-sys=hostname",
    ],
  );
});

Deno.test("permissionFlags() renders nothing for no permissions, never a bare flag", () => {
  assert.deepEqual(
    permissionFlags({ net: [], read: [], write: [], env: [], ffi: [], sys: [] }),
    [],
  );
  assert.throws(() => permissionFlag("net", []), { name: "RangeError" });
});

Deno.test("permissionFlag() refuses values Deno's flag syntax cannot express", () => {
  assert.throws(() => permissionFlag("read", ["/srv/a,b/config.json"]), {
    name: "TypeError",
    message: 'Cannot render --allow-read: "/srv/a,b/config.json" is empty or contains a comma',
  });
  assert.throws(() => permissionFlag("env", [""]), { name: "TypeError" });
});
