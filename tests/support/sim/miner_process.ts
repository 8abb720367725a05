/**
 * A support CPU miner (`tests/support/stratum_client/main.ts --mine`) as a child process, with
 * what it saw counted from its JSON lines: the session id (extranonce1) it was given, every share
 * answer (accepted, or the reject reason), and whether the pool ever dropped it. Miners are
 * processes, not tasks of the simulation's own process, so the scheduler spreads their hashing
 * over the cores and a busy test process cannot slow them down.
 *
 * @module
 */
import { fileURLToPath } from "node:url";
import { stopChild } from "./child_stop.ts";

const ROOT = fileURLToPath(new URL("../../../", import.meta.url)).replace(/\/$/, "");
const AUTHORIZE_TIMEOUT_MS = 30_000;
const STOP_GRACE_MS = 10_000;
const POLL_MS = 25;
/** `nice` increment of miner processes. */
const MINER_NICENESS = 10;

/** What one miner process has seen so far. */
export interface MinerCounts {
  /** Share answers received. */
  readonly answered: number;
  /** Shares the pool accepted. */
  readonly accepted: number;
  /** Shares the pool refused, by reason text (e.g. `"Stale job"`). */
  readonly rejected: ReadonlyMap<string, number>;
  /** The last refusals (at most 50): when the answer arrived, the job, the reason. */
  readonly recentRejects: readonly ShareReject[];
}

/** One refused share as the miner saw it. */
export interface ShareReject {
  /** When its answer reached this process, ms since the epoch. */
  readonly atMs: number;
  /** Job id the share was for. */
  readonly job: string;
  /** The pool's reason text. */
  readonly reason: string;
}

const MAX_RECENT_REJECTS = 50;

/** Options of {@link startMinerProcess}. */
export interface MinerProcessOptions {
  /** Label in messages, e.g. `us-east-1`. */
  readonly name: string;
  /** Region the miner mines in (for summaries). */
  readonly region: string;
  /** Stratum host:port. */
  readonly url: string;
  /** `address.worker`. */
  readonly username: string;
  /** Hash rate cap, hashes per second. */
  readonly maxHashrate: number;
  /** Ask for BIP310 version rolling. */
  readonly versionRolling?: boolean;
  /**
   * Nonces per batch between checks for new work (default 64). A CPU miner notices a new job
   * only between batches, so this bounds how long it keeps hashing stale work after a
   * clean_jobs: 64 nonces take about a millisecond here, as quick as an ASIC reacts.
   */
  readonly batchNonces?: number;
  /**
   * Drop shares whose job a clean_jobs retired instead of submitting them (default true), as
   * cgminer and ASIC firmware do: what the pool still counts as stale is then the work in flight
   * when the new block's notify went out, the latency the relays are meant to keep small.
   */
  readonly discardStale?: boolean;
}

/** A running miner process. */
export interface MinerProcess {
  /** Label. */
  readonly name: string;
  /** Region. */
  readonly region: string;
  /** `address.worker`. */
  readonly username: string;
  /** The worker name (after the first dot): the `worker` of this miner's events. */
  readonly worker: string;
  /** extranonce1 in hex: the `session_id` of this miner's events. */
  readonly sessionId: string;
  /** Counts so far. */
  counts(): MinerCounts;
  /** Whether the pool closed the connection (the process then exits). */
  readonly disconnected: boolean;
  /** Whether the process has exited. */
  readonly exited: boolean;
  /** Waits until `accepted` reaches `count` (bounded). */
  waitAccepted(count: number, timeoutMs: number): Promise<void>;
  /**
   * SIGTERM: the miner stops hashing, waits for its outstanding submits' answers and exits.
   * Resolves with the final counts.
   */
  stop(): Promise<MinerCounts>;
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Starts a CPU miner and waits until it is authorized.
 *
 * @param options Where and as whom to mine, and how fast.
 * @returns The running miner.
 * @throws {Error} If it is not authorized in time (the process is killed first).
 */
export async function startMinerProcess(options: MinerProcessOptions): Promise<MinerProcess> {
  // Miners run at a lower CPU priority: in the field they are other machines, and here they
  // must not delay the pool, NATS and the latency bridges, whose timing the scenarios measure.
  const child = new Deno.Command("nice", {
    args: [
      "-n",
      String(MINER_NICENESS),
      Deno.execPath(),
      "run",
      "--allow-net=127.0.0.1",
      `${ROOT}/tests/support/stratum_client/main.ts`,
      "--url",
      options.url,
      "--user",
      options.username,
      "--mine",
      "--max-hashrate",
      String(options.maxHashrate),
      "--batch-nonces",
      String(options.batchNonces ?? 64),
      ...(options.discardStale ?? true ? ["--discard-stale"] : []),
      ...(options.versionRolling ? ["--version-rolling"] : []),
    ],
    cwd: ROOT,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();

  let sessionId: string | undefined;
  let answered = 0;
  let accepted = 0;
  const rejected = new Map<string, number>();
  const recentRejects: ShareReject[] = [];
  let disconnected = false;
  let exited = false;
  const errors: string[] = [];

  const onLine = (line: string): void => {
    let record: Record<string, unknown>;
    try {
      record = JSON.parse(line);
    } catch {
      errors.push(line);
      return;
    }
    if (record.event === "authorized") sessionId = String(record.extranonce1);
    else if (record.event === "share") {
      answered++;
      if (record.accepted === true) accepted++;
      else {
        const error = record.error as unknown[] | null;
        const reason = Array.isArray(error) ? String(error[1]) : "rejected";
        rejected.set(reason, (rejected.get(reason) ?? 0) + 1);
        recentRejects.push({ atMs: Date.now(), job: String(record.job), reason });
        if (recentRejects.length > MAX_RECENT_REJECTS) recentRejects.shift();
      }
    } else if (record.event === "disconnected") disconnected = true;
    else if (record.error !== undefined) errors.push(line);
  };
  const pump = async (stream: ReadableStream<Uint8Array>, lines: boolean) => {
    const decoder = new TextDecoder();
    let pending = "";
    for await (const chunk of stream) {
      pending += decoder.decode(chunk, { stream: true });
      let nl;
      while ((nl = pending.indexOf("\n")) !== -1) {
        const line = pending.slice(0, nl);
        pending = pending.slice(nl + 1);
        if (lines) onLine(line);
        else if (errors.length < 50) errors.push(line);
      }
    }
  };
  const done = Promise.all([pump(child.stdout, true), pump(child.stderr, false)]);
  const status = child.status.then(async (s) => {
    await done;
    exited = true;
    return s.code;
  });

  const deadline = Date.now() + AUTHORIZE_TIMEOUT_MS;
  while (sessionId === undefined) {
    if (exited || Date.now() > deadline) {
      try {
        child.kill("SIGKILL");
      } catch {
        // Already exited.
      }
      await status;
      throw new Error(
        `Cannot start miner ${options.name} on ${options.url}: ${
          exited ? "it exited" : "not authorized in time"
        }; output: ${errors.slice(-5).join(" | ")}`,
      );
    }
    await delay(POLL_MS);
  }
  const session = sessionId;
  const counts = (): MinerCounts => ({
    answered,
    accepted,
    rejected: new Map(rejected),
    recentRejects: [...recentRejects],
  });

  return {
    name: options.name,
    region: options.region,
    username: options.username,
    worker: options.username.slice(options.username.indexOf(".") + 1),
    sessionId: session,
    counts,
    get disconnected() {
      return disconnected;
    },
    get exited() {
      return exited;
    },
    async waitAccepted(count: number, timeoutMs: number): Promise<void> {
      const until = Date.now() + timeoutMs;
      while (accepted < count) {
        if (exited) throw new Error(`Miner ${options.name} exited with ${accepted} accepted`);
        if (Date.now() > until) {
          throw new Error(
            `Miner ${options.name}: ${accepted} of ${count} shares accepted after ${timeoutMs} ms`,
          );
        }
        await delay(POLL_MS);
      }
    },
    async stop(): Promise<MinerCounts> {
      if (!exited) await stopChild(child, status, STOP_GRACE_MS);
      return counts();
    },
  };
}
