/**
 * One pool process per event spool directory, with real processes started through the launcher:
 * a second process given a spool another one holds exits 2 with one line naming the directory
 * and `events.spool_dir`, before any listener opens, while the first keeps serving; and a
 * process killed with SIGKILL leaves no lock behind (the kernel drops its flock), so the next
 * one starts. Run with `deno task test tests/spool_lock_test.ts`.
 *
 * @module
 */
import assert from "node:assert/strict";
import { SPOOL_LOCK_FILE } from "@tbg/shared/emitter";
import { startDevnet } from "./support/devnet/mod.ts";
import { launcherCommand, startPoolProcess } from "./support/pool_process.ts";
import { pickFreePort, startNatsServer } from "./support/servers/nats_server.ts";

/** Fails when something accepts connections on `port`. */
function assertNothingListens(port: number): void {
  const probe = Deno.listen({ hostname: "127.0.0.1", port });
  probe.close();
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
}

Deno.test({
  name: "a second pool process on a held spool exits 2 naming events.spool_dir; the first runs on",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const devnet = await startDevnet();
    const nats = await startNatsServer({ jetstream: true });
    const dir = await Deno.makeTempDir({ prefix: "tbg-spool-lock-" });
    const spool = `${dir}/spool`;
    const events = { enabled: true, nats_url: nats.url, spool_dir: spool };
    try {
      const first = await startPoolProcess(devnet, { events });
      try {
        // Same config apart from its own ports: only the spool is shared.
        const config = JSON.parse(await Deno.readTextFile(first.configPath));
        const stratumPort = pickFreePort();
        const metricsPort = pickFreePort();
        config.serverurl = [`127.0.0.1:${stratumPort}`];
        config.metrics = { ...config.metrics, port: metricsPort };
        const configPath = `${dir}/second.json`;
        await Deno.writeTextFile(configPath, JSON.stringify(config, null, 2));

        const out = await launcherCommand(configPath).output();
        const stderr = new TextDecoder().decode(out.stderr);
        assert.equal(out.code, 2, stderr);
        const lastLine = stderr.trimEnd().split("\n").at(-1) ?? "";
        assert.match(
          lastLine,
          new RegExp(
            `^tbg-stratum: Invalid config ${escapeRegExp(configPath)}: events\\.spool_dir: ` +
              `${escapeRegExp(spool)} is in use by process \\d+ \\(it holds ` +
              `${escapeRegExp(`${spool}/${SPOOL_LOCK_FILE}`)}\\); ` +
              "give each process its own events\\.spool_dir$",
          ),
        );
        assertNothingListens(stratumPort);
        assertNothingListens(metricsPort);

        // The first process still serves miners and still holds the spool.
        (await Deno.connect({ hostname: "127.0.0.1", port: first.stratumPort })).close();
        const again = await launcherCommand(configPath).output();
        assert.equal(again.code, 2, new TextDecoder().decode(again.stderr));
      } finally {
        assert.equal(await first.stop(), 0);
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
      await nats.stop();
      await devnet.stop();
    }
  },
});

Deno.test({
  name: "a pool process killed with SIGKILL leaves its spool free for the next one",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const devnet = await startDevnet();
    const nats = await startNatsServer({ jetstream: true });
    const dir = await Deno.makeTempDir({ prefix: "tbg-spool-lock-" });
    const spool = `${dir}/spool`;
    const events = { enabled: true, nats_url: nats.url, spool_dir: spool };
    try {
      const crashed = await startPoolProcess(devnet, { events });
      // The service (not the launcher in front of it) holds the lock and wrote its pid there.
      const pid = Number((await Deno.readTextFile(`${spool}/${SPOOL_LOCK_FILE}`)).trim());
      assert.ok(Number.isInteger(pid) && pid > 0, `pid in the lock file: ${pid}`);
      Deno.kill(pid, "SIGKILL");
      assert.equal(await crashed.exited, 128 + 9, "the launcher passes the SIGKILL status on");

      const next = await startPoolProcess(devnet, { events });
      try {
        (await Deno.connect({ hostname: "127.0.0.1", port: next.stratumPort })).close();
        const holder = Number((await Deno.readTextFile(`${spool}/${SPOOL_LOCK_FILE}`)).trim());
        assert.notEqual(holder, pid, "the new process took the lock");
      } finally {
        assert.equal(await next.stop(), 0);
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
      await nats.stop();
      await devnet.stop();
    }
  },
});
