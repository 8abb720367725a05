/**
 * A support CPU miner that obeys `client.reconnect` the way a careful miner does: it stops
 * finding new shares, waits until every share it sent is answered (the draining process still
 * serves its session), closes, connects again to the same host and port (where the kernel now
 * hands it to a process still listening) and mines on. It records what the upgrade test asserts:
 * every submit answered exactly once, and each reconnect taking one connection attempt before
 * there is work again.
 *
 * @module
 */
import { CpuMiner, StratumClient, type SubmitOutcome } from "../stratum_client/mod.ts";

/** The client's answer to a submit whose connection closed before the pool answered it. */
const CONNECTION_CLOSED_CODE = -1;
/** Connection attempts per reconnect before the rig gives up (the test then fails). */
const MAX_ATTEMPTS = 20;
const ATTEMPT_PAUSE_MS = 100;
const JOB_WAIT_MS = 10_000;

/** One reconnect, from the pool's `client.reconnect` to work on the new connection. */
export interface ReconnectRecord {
  /** When `client.reconnect` arrived (ms, `performance.now()`). */
  readonly toldAtMs: number;
  /** Connection attempts it took (1: the first one was taken). */
  readonly attempts: number;
  /** When the new connection had its first job; null when none came. */
  readonly workAtMs: number | null;
  /** extranonce1 of the new connection (its second byte is the process's `--instance`). */
  readonly extranonce1: Uint8Array;
}

/** Options of {@link ReconnectingRig}. */
export interface RigOptions {
  readonly port: number;
  readonly user: string;
  readonly worker: string;
  readonly hashesPerSecond: number;
}

/** A miner that follows its pool through drains. */
export class ReconnectingRig {
  readonly options: RigOptions;
  accepted = 0;
  rejected = 0;
  /** Submits whose connection closed before an answer came: must stay 0. */
  lost = 0;
  /** Submits sent, over every connection. */
  submitted = 0;
  /** Answers to no request in flight, over every connection: must stay 0. */
  unmatched = 0;
  /** Connections the pool closed without telling the rig to reconnect first: must stay 0. */
  unexpectedCloses = 0;
  /** Connections made (each is one miner_connected event). */
  connections = 0;
  readonly reconnects: ReconnectRecord[] = [];
  client!: StratumClient;
  #miner: CpuMiner | null = null;
  #moving: Promise<void> = Promise.resolve();
  #stopped = false;

  /** @param options where to mine and as whom */
  constructor(options: RigOptions) {
    this.options = options;
  }

  /** `user.worker`, the rig's username. */
  get username(): string {
    return `${this.options.user}.${this.options.worker}`;
  }

  /** Connects (subscribe, authorize) and starts mining. */
  async start(): Promise<void> {
    await this.#connect();
  }

  /** Waits for a reconnect under way, stops mining (every submit answered) and disconnects. */
  async stop(): Promise<void> {
    this.#stopped = true;
    await this.#moving;
    await this.#retire();
  }

  async #connect(): Promise<number> {
    let attempts = 0;
    for (;;) {
      attempts++;
      try {
        this.client = await StratumClient.start({
          host: "127.0.0.1",
          port: this.options.port,
          username: this.username,
        });
        break;
      } catch (error) {
        if (attempts >= MAX_ATTEMPTS) throw error;
        await new Promise((resolve) => setTimeout(resolve, ATTEMPT_PAUSE_MS));
      }
    }
    this.connections++;
    const client = this.client;
    let told = false;
    client.onNotification((method) => {
      if (method !== "client.reconnect" || told || this.#stopped) return;
      told = true;
      const toldAtMs = performance.now();
      this.#moving = this.#moving.then(() => this.#reconnect(toldAtMs));
    });
    void client.connection.closed.then(() => {
      if (!told && !this.#stopped && this.client === client) this.unexpectedCloses++;
    });
    this.#miner = new CpuMiner(client, {
      batchNonces: 1024,
      maxHashesPerSecond: this.options.hashesPerSecond,
      onShare: (outcome) => this.#count(outcome),
    });
    this.#miner.start();
    return attempts;
  }

  #count(outcome: SubmitOutcome): void {
    if (outcome.accepted) this.accepted++;
    else if (outcome.error?.[0] === CONNECTION_CLOSED_CODE) this.lost++;
    else this.rejected++;
  }

  /** Stops the miner (waiting for every answer) and closes the connection. */
  async #retire(): Promise<void> {
    const miner = this.#miner;
    if (miner === null) return;
    this.#miner = null;
    await miner.stop();
    this.submitted += miner.stats.submitted;
    // A submit that timed out or failed to send counts as rejected in the miner's stats without
    // an outcome: count it lost.
    this.lost += miner.stats.rejected - this.#rejectedSeen(miner);
    this.unmatched += this.client.connection.unmatchedResponses;
    this.client.close();
  }

  /** Rejections the miner counted that came with an outcome (a pool's answer or a close). */
  #rejectedSeen(miner: CpuMiner): number {
    return [...miner.stats.rejectReasons.values()].reduce((sum, n) => sum + n, 0);
  }

  async #reconnect(toldAtMs: number): Promise<void> {
    await this.#retire();
    if (this.#stopped) return;
    const attempts = await this.#connect();
    let workAtMs: number | null = null;
    try {
      await this.client.waitForJob(JOB_WAIT_MS);
      workAtMs = performance.now();
    } catch {
      // No job: recorded as null, which the test reports as a miner left without work.
    }
    this.reconnects.push({ toldAtMs, attempts, workAtMs, extranonce1: this.client.extranonce1 });
  }
}
