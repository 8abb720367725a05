/**
 * Network namespaces for tests that need what the host's loopback cannot give: several IPv6
 * source addresses in one /64, or TCP sysctls (per namespace) set without touching the host.
 * Creating one needs root (`ip netns add`, Debian package iproute2); a test run without it fails
 * with a message that says so.
 *
 * @module
 */

/** Runs a program to completion; throws with its stderr when it fails. */
export async function runChecked(cmd: string, args: readonly string[]): Promise<string> {
  const out = await new Deno.Command(cmd, { args: [...args], stdout: "piped", stderr: "piped" })
    .output();
  const decoder = new TextDecoder();
  if (!out.success) {
    throw new Error(
      `Cannot run ${cmd} ${args.join(" ")}: exit ${out.code}: ${decoder.decode(out.stderr).trim()}`,
    );
  }
  return decoder.decode(out.stdout);
}

/** What the namespace gets besides a loopback interface that is up. */
export interface NamespaceOptions {
  /** Addresses with prefix length added to its `lo`, e.g. `fd00:64::a/64`. */
  readonly addresses?: readonly string[];
  /** `key=value` sysctls applied inside it (`sysctl -w`, package procps). */
  readonly sysctls?: readonly string[];
}

let counter = 0;

/**
 * Creates a network namespace, runs `fn` with its name, and deletes it afterwards (also when
 * `fn` throws).
 *
 * @throws {Error} naming root and iproute2 when the namespace cannot be created.
 */
export async function withNetworkNamespace(
  options: NamespaceOptions,
  fn: (ns: string) => Promise<void>,
): Promise<void> {
  const ns = `tbg-test-${Deno.pid}-${counter++}`;
  try {
    await runChecked("ip", ["netns", "add", ns]);
  } catch (error) {
    throw new Error(
      `This test creates a network namespace and needs root (ip netns add, package iproute2): ${
        error instanceof Error ? error.message : String(error)
      }`,
    );
  }
  try {
    await runChecked("ip", ["-n", ns, "link", "set", "lo", "up"]);
    for (const address of options.addresses ?? []) {
      // nodad: usable at once, without duplicate address detection's wait.
      await runChecked("ip", ["-n", ns, "addr", "add", address, "dev", "lo", "nodad"]);
    }
    if ((options.sysctls ?? []).length > 0) {
      await runChecked("ip", ["netns", "exec", ns, "sysctl", "-q", "-w", ...options.sysctls!]);
    }
    await fn(ns);
  } finally {
    await runChecked("ip", ["netns", "del", ns]);
  }
}

/** Runs a Deno script inside the namespace and returns its last stdout line parsed as JSON. */
export async function runDenoInNamespace<T>(
  ns: string,
  permissions: readonly string[],
  script: string,
  args: readonly string[],
): Promise<T> {
  const text = await runChecked("ip", [
    "netns",
    "exec",
    ns,
    Deno.execPath(),
    "run",
    ...permissions,
    script,
    ...args,
  ]);
  return JSON.parse(text.trim().split("\n").pop()!) as T;
}
