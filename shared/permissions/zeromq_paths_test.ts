/**
 * Run with: deno test --allow-read --allow-run shared/permissions/zeromq_paths_test.ts
 * (spawns deno subprocesses with narrow grants and binds loopback only).
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { zeromqPackageDir, zeromqPermissionPaths } from "./zeromq_paths.ts";

const FIXTURE = fileURLToPath(new URL("./testdata/zeromq_roundtrip.ts", import.meta.url));

async function runFixture(flags: string[]): Promise<{ code: number; stderr: string }> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--no-prompt", ...flags, FIXTURE],
    stdout: "null",
    stderr: "piped",
  }).output();
  return { code: output.code, stderr: new TextDecoder().decode(output.stderr) };
}

Deno.test("zeromqPackageDir() finds the installed package", () => {
  const dir = zeromqPackageDir();
  assert.ok(dir !== undefined);
  assert.ok(Deno.statSync(`${dir}/build/manifest.json`).isFile);
});

Deno.test("zeromqPermissionPaths() lists the package for read and its build dir for ffi", () => {
  const paths = zeromqPermissionPaths("/opt/nm/zeromq");
  assert.deepEqual(paths.ffi, ["/opt/nm/zeromq/build"]);
  assert.equal(paths.read[0], "/opt/nm/zeromq");
  if (Deno.build.os === "linux") {
    assert.deepEqual(paths.read, ["/opt/nm/zeromq", "/etc/alpine-release"]);
  }
});

Deno.test("zeromqPermissionPaths() grants are enough to load zeromq and receive a message", async () => {
  const paths = zeromqPermissionPaths();
  const result = await runFixture([
    `--allow-read=${paths.read.join(",")}`,
    `--allow-ffi=${paths.ffi.join(",")}`,
  ]);
  assert.equal(result.code, 0, result.stderr);
});

Deno.test("zeromq cannot load without the ffi grant", async () => {
  const paths = zeromqPermissionPaths();
  const result = await runFixture([`--allow-read=${paths.read.join(",")}`]);
  assert.notEqual(result.code, 0);
  assert.match(result.stderr, /Requires ffi access/);
});

Deno.test("zeromq cannot load without read of the package", async () => {
  const paths = zeromqPermissionPaths();
  const result = await runFixture([`--allow-ffi=${paths.ffi.join(",")}`]);
  assert.notEqual(result.code, 0);
  assert.match(result.stderr, /Requires read access/);
});
