/**
 * Chaos CE4 (seed Phase 5 §7.2, "disk full → logging stops, mining continues"): the pool's log
 * directory (`logdir`: `stratum.log`), its event spool and its found blocks on a small tmpfs the
 * test mounts (root may mount here; without it the test fails naming the cause, never skips), the
 * file system filled to the last byte while NATS is cut, so the emitter must spool and cannot.
 * Asserted:
 * - mining continues: the miners get every submit answered, shares accepted, while the disk is
 *   full; the process never exits;
 * - logging and spooling stop without a crash or a busy loop: `ckpool_disk_write_failures_total`
 *   counts the failed log lines (`kind="log"`) and spool appends (`kind="spool"`), the appends
 *   back off (at most a few per second, counted), nothing is spooled, nothing dropped: the events
 *   wait in memory;
 * - NATS back while the disk is still full: the events held in memory go to JetStream directly
 *   (published, none spooled), instead of waiting for the disk;
 * - both recover when space returns: the spool takes the events ("spool writable again"), the
 *   log file gets lines again ("log file writable again" on stderr), and it holds only whole
 *   JSON lines (a line the disk cut short was cut off);
 * - nothing lost or counted twice once NATS is back: the full check of
 *   `tests/support/pipeline/exact_check.ts`.
 *
 * Needs root (mount), nats-server, redis-server and PostgreSQL; fails, never skips, without them.
 *
 * @module
 */
import assert from "node:assert/strict";
import { assertPipelineExact } from "./support/pipeline/exact_check.ts";
import {
  answered,
  mine,
  poolMetric,
  type Stack,
  startMining,
  startStack,
  stopMining,
  waitFor,
} from "./support/pipeline/stack.ts";
import { reporter } from "./support/sim/scenario_layout.ts";

const report = reporter("ce4");
/** Room for the log, the spool and the blocks of a short run; filled up by the test. */
const DISK_BYTES = 4 * 1024 * 1024;
const FILL_CHUNK = new Uint8Array(64 * 1024);

async function run(program: string, args: string[]): Promise<{ ok: boolean; text: string }> {
  const out = await new Deno.Command(program, { args, stdout: "piped", stderr: "piped" }).output();
  const decoder = new TextDecoder();
  return { ok: out.success, text: `${decoder.decode(out.stdout)}${decoder.decode(out.stderr)}` };
}

/**
 * Mounts a tmpfs of `bytes` on `dir`.
 *
 * @throws {Error} naming what is missing when the mount is refused (not root, no mount(8)).
 */
async function mountTmpfs(dir: string, bytes: number): Promise<void> {
  let result;
  try {
    result = await run("mount", ["-t", "tmpfs", "-o", `size=${bytes},mode=0700`, "tmpfs", dir]);
  } catch (error) {
    throw new Error(`chaos CE4 needs mount(8) (util-linux) to make a small disk: ${error}`);
  }
  if (!result.ok) {
    throw new Error(
      `chaos CE4 needs to mount a ${bytes}-byte tmpfs on ${dir} (run as root, with mount ` +
        `permitted): ${result.text.trim()}`,
    );
  }
}

async function unmount(dir: string): Promise<void> {
  if ((await run("umount", [dir])).ok) return;
  // Something still holds a file there: detach now, the kernel frees it when they close.
  await run("umount", ["-l", dir]);
}

/** Writes `path` until the file system refuses (ENOSPC); bounded by the disk's size. */
async function fillDisk(path: string): Promise<number> {
  const file = await Deno.open(path, { write: true, create: true, truncate: true });
  let written = 0;
  try {
    for (let i = 0; i <= DISK_BYTES / FILL_CHUNK.length + 1; i++) {
      try {
        written += await file.write(FILL_CHUNK);
      } catch (error) {
        assert.match(String(error), /No space left|os error 28/, "the disk filled up");
        return written;
      }
    }
  } finally {
    file.close();
  }
  throw new Error(`Cannot fill ${path}: ${written} bytes written and no ENOSPC`);
}

function diskFailures(stack: Stack, kind: "spool" | "log" | "blocks"): Promise<number> {
  return poolMetric(stack, "ckpool_disk_write_failures_total", { kind });
}

Deno.test({
  name: "chaos CE4: disk full under logdir and spool — mining continues, both recover, events once",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "tbg-ce4-disk-" });
    await mountTmpfs(dir, DISK_BYTES).catch(async (error) => {
      await Deno.remove(dir);
      throw error;
    });
    let stack: Stack | undefined;
    try {
      // A template refresh every second logs a "new job" line: the last page of the log file
      // (a tmpfs page is 4 KiB) fills, and a line fails, within seconds of the disk filling.
      stack = await startStack({
        natsBridge: true,
        poolDiskDir: dir,
        poolOverrides: { update_interval: 1 },
      });
      const bridge = stack.natsBridge!;
      startMining(stack);
      await mine(stack, "shares with room on the disk", 40);

      const filler = `${dir}/filler`;
      const filled = await fillDisk(filler);
      const fullAt = Date.now();
      bridge.partition({ mode: "reset" });
      const acceptedBefore = stack.rigs.reduce((sum, rig) => sum + rig.accepted, 0);
      const answeredBefore = answered(stack.rigs);
      await waitFor("the pool to fail writing both its spool and its log", async (note) => {
        const [spool, log] = [
          await diskFailures(stack!, "spool"),
          await diskFailures(stack!, "log"),
        ];
        note(`spool failures ${spool}, log failures ${log}, answered ${answered(stack!.rigs)}`);
        return spool > 0 && log > 0;
      });
      await mine(stack, "shares while the disk is full", 60);
      const fullMs = Date.now() - fullAt;
      const [spoolFailures, logFailures, blockFailures] = [
        await diskFailures(stack, "spool"),
        await diskFailures(stack, "log"),
        await diskFailures(stack, "blocks"),
      ];
      // The appends back off from 100 ms to 1 s: a spinning spooler would fail thousands of times.
      assert.ok(
        spoolFailures <= 10 + fullMs / 500,
        `${spoolFailures} failed spool appends in ${fullMs} ms: the spooler must back off`,
      );
      assert.equal(await poolMetric(stack, "ckpool_events_spooled_total"), 0, "nothing spooled");
      assert.equal(await poolMetric(stack, "ckpool_events_dropped_total"), 0, "nothing dropped");
      assert.ok(
        stack.rigs.reduce((sum, rig) => sum + rig.accepted, 0) > acceptedBefore,
        "shares accepted while the disk is full",
      );
      for (const rig of stack.rigs) {
        assert.ok(!rig.client.connection.isClosed, `${rig.worker} stays connected`);
      }
      const exitedEarly = await Promise.race([stack.pool.exited, Promise.resolve(null)]);
      assert.equal(exitedEarly, null, "the pool is still running");

      // NATS back while the disk is still full: the events held in memory go to JetStream
      // directly, behind nothing (the spool is empty), instead of waiting for the disk.
      const publishedBefore = await poolMetric(stack, "ckpool_events_published_total");
      bridge.heal();
      // (The log line saying so may not fit on the disk: the metrics tell.)
      await waitFor("the events held in memory to reach JetStream", async (note) => {
        const published = await poolMetric(stack!, "ckpool_events_published_total");
        note(`published ${published - publishedBefore} since NATS came back`);
        return published > publishedBefore;
      });
      await mine(stack, "shares with NATS back and the disk still full", 30);
      assert.equal(await poolMetric(stack, "ckpool_events_spooled_total"), 0, "none spooled");
      const directFailures = await diskFailures(stack, "spool");
      bridge.partition({ mode: "reset" });
      await waitFor(
        "the spool to fail again with NATS cut again",
        async () => await diskFailures(stack!, "spool") > directFailures,
      );
      await mine(stack, "shares with NATS cut again, disk full", 30);

      await Deno.remove(filler);
      const freedAt = Date.now();
      await waitFor("the spool to take the events again", async (note) => {
        const spooled = await poolMetric(stack!, "ckpool_events_spooled_total");
        note(`spooled ${spooled}`);
        return spooled > 0;
      });
      await stack.pool.waitForLog((l) => l.msg === "spool writable again");
      const logBack = await stack.pool.waitForLog((l) => l.msg === "log file writable again");
      const spoolBackMs = Date.now() - freedAt;
      const logText = await Deno.readTextFile(`${dir}/stratum.log`);
      const lines = logText.split("\n").filter((line) => line !== "");
      for (const [i, line] of lines.entries()) {
        assert.doesNotThrow(() => JSON.parse(line), `stratum.log line ${i + 1} is whole JSON`);
      }
      assert.ok(
        lines.some((line) => line.includes('"spool writable again"')),
        "the log file has lines written after space returned",
      );

      bridge.heal();
      await mine(stack, "shares after the disk and NATS are back", 40);
      await stopMining(stack.rigs);
      const events = await assertPipelineExact(stack);
      report(
        `filled ${filled} bytes; ${fullMs} ms full with NATS cut: ` +
          `${answered(stack.rigs) - answeredBefore}+ shares answered, ${spoolFailures} failed ` +
          `spool appends, ${logFailures} log lines dropped (notice: ${logBack.dropped_lines}), ` +
          `${blockFailures} blocks not kept; spool and log back ${spoolBackMs} ms after space ` +
          `returned; ${lines.length} whole log lines; ${events.size} events once each`,
      );
    } catch (error) {
      if (stack !== undefined) {
        await Deno.stderr.write(new TextEncoder().encode(`${stack.logTail()}\n`));
      }
      throw error;
    } finally {
      await stack?.close();
      await unmount(dir);
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
});
