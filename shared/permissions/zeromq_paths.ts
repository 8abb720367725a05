import { fileURLToPath } from "node:url";

/** Paths the zeromq native addon needs, found by probing how zeromq.js 6 loads (see below). */
export interface ZeromqPaths {
  /** Read: the package directory (cmake-ts reads `build/manifest.json` there). */
  read: string[];
  /** FFI: the directory holding the prebuilt `addon.node` files. */
  ffi: string[];
}

/**
 * Where the zeromq package lives, as the module resolver sees it (the real path under
 * `node_modules/.deno/…`, which is also what Deno's permission checks compare against).
 *
 * @returns the package directory without a trailing slash, or undefined when zeromq does not
 *   resolve to a local file (not installed)
 */
export function zeromqPackageDir(): string | undefined {
  let entry: string;
  try {
    entry = import.meta.resolve("zeromq");
  } catch {
    return undefined;
  }
  if (!entry.startsWith("file:")) return undefined;
  // The entry point is <package>/lib/index.js.
  return fileURLToPath(new URL("../", entry)).replace(/\/$/, "");
}

/**
 * The narrowest grants under which `import * as zmq from "zeromq"` loads and a Subscriber
 * connects, measured with Deno 2.9 and zeromq 6.8 on Linux:
 * - read of the package directory: the cmake-ts loader reads `build/manifest.json`;
 * - read of `/etc/alpine-release` (Linux): the loader checks it to choose musl or glibc builds;
 * - ffi of `<package>/build`: `process.dlopen` of the prebuilt `addon.node`.
 * No env, sys or run permission is needed. The addon's own sockets bypass Deno's net checks,
 * so `--allow-net` for the ZMQ endpoint documents intent rather than enforcing it.
 *
 * Inside a `deno compile` executable the addon comes from the embedded file system, whose
 * paths exist only at run time and are not checked like disk paths, so nothing is listed.
 *
 * @param packageDir the zeromq package directory (default: resolved from the import map)
 * @returns the paths, or empty lists when zeromq is not installed (loading would fail anyway)
 *   or the process is a compiled executable
 */
export function zeromqPermissionPaths(packageDir?: string): ZeromqPaths {
  if (packageDir === undefined) {
    if (Deno.build.standalone) return { read: [], ffi: [] };
    packageDir = zeromqPackageDir();
  }
  if (packageDir === undefined) return { read: [], ffi: [] };
  const read = [packageDir];
  if (Deno.build.os === "linux") read.push("/etc/alpine-release");
  return { read, ffi: [`${packageDir}/build`] };
}
