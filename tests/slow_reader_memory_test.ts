/**
 * A miner that stops reading can make the pool hold at most a few hundred KiB before it is
 * disconnected: the transport's cap (queued output plus a write the kernel has not taken) and
 * the kernel's send queue, which `net.ipv4.tcp_notsent_lowat` in infra/sysctl bounds (Deno
 * cannot set SO_SNDBUF, and the file's 16 MiB tcp_wmem maximum lets autotuning grow a socket's
 * buffer that far).
 *
 * The measurement runs in a network namespace this test creates (`ip netns add`, as root), with
 * the TCP buffer sysctls of infra/sysctl/99-tbg-stratum.conf applied there (they are per
 * namespace), so the host's own settings neither help nor matter. Run with `deno task test`.
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { MAX_QUEUED_BYTES } from "@tbg/stratum";
import { runDenoInNamespace, withNetworkNamespace } from "./support/netns.ts";
import type { SlowReaderReport } from "./support/slow_reader_probe.ts";

const ROOT = fileURLToPath(new URL("../", import.meta.url));
const SYSCTL_FILE = `${ROOT}infra/sysctl/99-tbg-stratum.conf`;
const PROBE = `${ROOT}tests/support/slow_reader_probe.ts`;

/** Per-namespace TCP settings of the sysctl file that shape what a socket may buffer. */
const BUFFER_KEYS = ["net.ipv4.tcp_rmem", "net.ipv4.tcp_wmem", "net.ipv4.tcp_notsent_lowat"];

/**
 * Most bytes one non-reading miner may pin: the transport's cap, the kernel's unsent bytes
 * (tcp_notsent_lowat, 128 KiB in the file) and up to 256 KiB more for the segments the kernel
 * queues past the low-water mark and the sampling step. Without the low-water mark the kernel
 * alone held 3.4–3.9 MB here; before the transport counted its pending write, it held up to
 * 2 MiB on top.
 */
const PINNED_LIMIT_BYTES = MAX_QUEUED_BYTES + 128 * 1024 + 256 * 1024;

/** The BUFFER_KEYS lines of the sysctl file, as `key=value` for `sysctl -w`. */
function bufferSettings(): string[] {
  const settings: string[] = [];
  for (const line of Deno.readTextFileSync(SYSCTL_FILE).split("\n")) {
    const match = /^\s*([a-z0-9_.]+)\s*=\s*(.+?)\s*$/.exec(line);
    if (match !== null && BUFFER_KEYS.includes(match[1]!)) {
      settings.push(`${match[1]}=${match[2]}`);
    }
  }
  return settings;
}

function probe(ns: string, preReadBytes: number): Promise<SlowReaderReport> {
  return runDenoInNamespace<SlowReaderReport>(
    ns,
    [
      "--allow-net=127.0.0.1",
      "--allow-run=ss",
      "--allow-read",
      "--allow-env",
      "--allow-ffi",
      "--allow-sys",
    ],
    PROBE,
    [String(preReadBytes)],
  );
}

Deno.test({
  name: "a miner that stops reading pins at most the cap plus the kernel's low-water mark",
  sanitizeResources: false,
  async fn() {
    const settings = bufferSettings();
    assert.ok(
      settings.some((s) => s.startsWith("net.ipv4.tcp_notsent_lowat=")),
      `${SYSCTL_FILE} sets no net.ipv4.tcp_notsent_lowat: the kernel may hold a slow reader's output up to tcp_wmem's maximum`,
    );
    await withNetworkNamespace({ sysctls: settings }, async (ns) => {
      // At once, and after reading 16 MiB first (growing the window and the send buffer).
      for (const preReadBytes of [0, 16 * 1024 * 1024]) {
        const report = await probe(ns, preReadBytes);
        const what = `${JSON.stringify(report)} (limit ${PINNED_LIMIT_BYTES})`;
        assert.equal(report.closeReason, "output backlog over limit (client not reading)", what);
        assert.ok(report.pinnedMaxBytes > MAX_QUEUED_BYTES / 2, `measured nothing: ${what}`);
        assert.ok(report.pinnedMaxBytes <= PINNED_LIMIT_BYTES, what);
      }
    });
  },
});
