/**
 * Chaos CE5 (seed Phase 5 §7.2, "OOM condition → process killed, restarted by systemd"): the
 * pool's memory limit reached, under the restart policy of `infra/systemd/tbg-stratum@.service`
 * (`tests/support/supervised_pool.ts`, as in CE1).
 *
 * The limit is V8's heap limit (`DENO_V8_FLAGS=--max-old-space-size=32`, which the service inherits
 * through the launcher, as `Environment=` in the unit would give it). `prlimit --as` / `LimitAS=`
 * cannot be used with Deno: V8 reserves its pointer cage up front and aborts at start below
 * 64 GiB of address space. A cgroup (`MemoryMax=`) is the other faithful limit, but this
 * container's memory cgroup belongs to the session machinery. At the heap limit V8 aborts the
 * process ("Fatal JavaScript out of memory: Reached heap limit", exit 133), which
 * `Restart=on-failure` restarts, as it would restart a process the kernel's OOM killer ended
 * (137).
 *
 * What fills the heap is what fills a real pool's: connections. A flood of subscribe-only
 * connections (no authorize, so no events) comes from 127.0.0.1, so the per-IP limits are raised
 * for the test (from many addresses they would not apply anyway). The events of the miners wait
 * in the spool (NATS cut, as in CE1) when the flood starts, so what dies with the process is
 * nothing but the flood's sessions. Asserted:
 * - the process dies of the heap limit (exit 133, V8's out-of-memory report) while the flood
 *   connects, and the supervisor starts it again (`RestartSec`);
 * - the new process replays the spool the dead one left, once NATS is back;
 * - the miners reconnect and mine; nothing lost or counted twice: the full check of
 *   `tests/support/pipeline/exact_check.ts` (the pool's own counters from its restart on).
 *
 * Needs nats-server, redis-server and PostgreSQL; fails, never skips, without them.
 *
 * @module
 */
import assert from "node:assert/strict";
import { assertPipelineExact } from "./support/pipeline/exact_check.ts";
import {
  mine,
  poolMetric,
  reconnectRigs,
  startMining,
  startStack,
  stopMining,
  waitFor,
} from "./support/pipeline/stack.ts";
import { shouldRestart } from "./support/restart_policy.ts";
import type { SupervisedPool } from "./support/supervised_pool.ts";
import { reporter } from "./support/sim/scenario_layout.ts";

const report = reporter("ce5");
/**
 * V8 old-space limit of the pool, MiB: above what it needs to mine with events, NATS and Redis
 * (about 20 MiB), below what a few thousand more connections take.
 */
const HEAP_LIMIT_MIB = 32;
/** Most flood connections opened before the test gives up (the limit was never reached). */
const MAX_FLOOD = 12_000;
const FLOOD_BATCH = 250;
const SUBSCRIBE = new TextEncoder().encode(
  '{"id":1,"method":"mining.subscribe","params":["flood/1.0"]}\n',
);

/** Closes connections, some of which the pool's death already closed. */
function closeAll(conns: readonly Deno.Conn[]): void {
  for (const conn of conns) {
    try {
      conn.close();
    } catch {
      // Closed when the peer reset it (its readable ended).
    }
  }
}

/**
 * Opens subscribe-only connections to the pool, a batch at a time, until its first run exits;
 * bounded by {@link MAX_FLOOD} connections and `timeoutMs`.
 *
 * @returns the connections opened (the caller closes them)
 */
async function floodUntilExit(
  pool: SupervisedPool,
  port: number,
  timeoutMs: number,
): Promise<Deno.Conn[]> {
  const conns: Deno.Conn[] = [];
  const deadline = Date.now() + timeoutMs;
  while (pool.runs[0]!.exit === undefined) {
    if (conns.length >= MAX_FLOOD || Date.now() > deadline) {
      closeAll(conns);
      throw new Error(
        `The pool survived ${conns.length} flood connections in ${timeoutMs} ms under a ` +
          `${HEAP_LIMIT_MIB} MiB heap: nothing reached the memory limit`,
      );
    }
    for (let i = 0; i < FLOOD_BATCH; i++) {
      let conn: Deno.Conn;
      try {
        conn = await Deno.connect({ hostname: "127.0.0.1", port });
      } catch {
        break; // The process is going down: its listener is gone.
      }
      conns.push(conn);
      // Replies are read and thrown away, so the pool never waits on a full socket.
      conn.write(SUBSCRIBE).catch(() => {});
      conn.readable.pipeTo(new WritableStream()).catch(() => {});
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return conns;
}

Deno.test({
  name: "chaos CE5: pool at its memory limit — dies, restarted by the supervisor, spool replays",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const stack = await startStack({
      natsBridge: true,
      supervised: true,
      poolV8Flags: `--max-old-space-size=${HEAP_LIMIT_MIB}`,
      poolOverrides: {
        rate_limits: {
          max_shares_per_minute: 10_000,
          max_connections_per_ip: 65_535,
          connections_per_ip_per_minute: 65_535,
        },
      },
    });
    const supervised = stack.supervisedPool!;
    const bridge = stack.natsBridge!;
    let flood: Deno.Conn[] = [];
    try {
      startMining(stack);
      await mine(stack, "shares published directly", 60);
      bridge.partition({ mode: "reset" });
      await mine(stack, "shares while NATS is cut", 60);
      await stopMining(stack.rigs);
      let spoolBytes = 0;
      await waitFor("the pool's buffer written to the spool", async (note) => {
        const buffered = await poolMetric(stack, "ckpool_event_buffer_depth");
        spoolBytes = await poolMetric(stack, "ckpool_event_spool_bytes");
        note(`buffer ${buffered}, spool ${spoolBytes} bytes`);
        return buffered === 0 && spoolBytes > 0;
      });
      const baseline = {
        accepted: stack.rigs.reduce((sum, rig) => sum + rig.accepted, 0),
        rejected: stack.rigs.reduce((sum, rig) => sum + rig.rejected, 0),
        height: stack.devnet.chain.tipHeight(),
      };

      const floodAt = Date.now();
      flood = await floodUntilExit(supervised, stack.pool.stratumPort, 45_000);
      const first = supervised.runs[0]!;
      const diedMs = first.exit!.atMs - floodAt;
      const floodCount = flood.length;
      closeAll(flood);
      flood = [];
      assert.equal(first.exit!.code, 133, "V8 aborts at its heap limit (128 + SIGTRAP)");
      assert.ok(
        first.logs.some((l) => /out of memory/i.test(String(l.raw ?? ""))),
        "V8's out-of-memory report on stderr",
      );
      assert.ok(shouldRestart(supervised.policy, 133), "Restart=on-failure covers exit 133");
      await waitFor("the supervisor to start the pool again", () => supervised.runs.length >= 2);
      const second = supervised.runs[1]!;
      const respawnMs = second.spawnedAtMs - first.exit!.atMs;
      await supervised.waitReady(1);
      await supervised.waitForLog((l) =>
        l.msg === "spooled events from an earlier run; replaying them first"
      );
      bridge.heal();

      await reconnectRigs(stack);
      startMining(stack);
      await mine(stack, "shares after the restart", 60);
      await stopMining(stack.rigs);
      const events = await assertPipelineExact(stack, baseline);
      report(
        `heap limit ${HEAP_LIMIT_MIB} MiB reached ${diedMs} ms into the flood, at ` +
          `${floodCount} connections (exit ${
            first.exit!.code
          }); new process spawned ${respawnMs} ms after the ` +
          `exit (RestartSec ${supervised.policy.restartSecMs} ms), ready after ` +
          `${second.readyAtMs! - first.exit!.atMs} ms; spool of ${spoolBytes} bytes replayed; ` +
          `${events.size} events once each`,
      );
    } catch (error) {
      await Deno.stderr.write(new TextEncoder().encode(`${stack.logTail()}\n`));
      throw error;
    } finally {
      closeAll(flood);
      await stack.close();
    }
  },
});
