/**
 * Protocol-level Stratum client: subscribe, configure, authorize, follow notify and
 * set_difficulty, submit shares. Used by tests, the demo miners and the load tools.
 */
import { hexToBytes } from "@tbg/shared/bitcoin";
import { type ClientResponse, type ClientTlsOptions, StratumConnection } from "./connection.ts";
import { decodeNotify, type MinerJob } from "./job.ts";

/** Connection and identity settings. */
export interface StratumClientOptions {
  readonly host: string;
  readonly port: number;
  /** `address[.worker]`. */
  readonly username: string;
  readonly password?: string;
  readonly userAgent?: string;
  /** Ask for BIP310 version rolling with this mask. */
  readonly versionRollingMask?: number;
  /** Send mining.suggest_difficulty after subscribing. */
  readonly suggestDifficulty?: number;
  /** Resume a previous session id on subscribe. */
  readonly sessionId?: string;
  /** Connect over TLS (`stratum+tls://`), trusting these CAs. */
  readonly tls?: ClientTlsOptions;
}

/** Outcome of one submit. */
export interface SubmitOutcome {
  readonly accepted: boolean;
  /** `[code, message]` when rejected. */
  readonly error: readonly [number, string] | null;
  readonly latencyMs: number;
}

/** A Stratum V1 client session. */
export class StratumClient {
  readonly connection: StratumConnection;
  readonly options: StratumClientOptions;
  extranonce1: Uint8Array = new Uint8Array();
  extranonce2Size = 0;
  sessionId = "";
  difficulty = 1;
  /** Negotiated version-rolling mask, 0 when not negotiated. */
  versionMask = 0;
  /** The most recent job and the ones before it, by id. */
  readonly jobs: Map<string, MinerJob> = new Map();
  currentJob: MinerJob | null = null;
  readonly #jobWaiters: ((job: MinerJob) => void)[] = [];
  readonly #listeners: ((method: string, params: unknown[]) => void)[] = [];
  /** Notifications received, by method (for assertions). */
  readonly received: Map<string, number> = new Map();

  private constructor(connection: StratumConnection, options: StratumClientOptions) {
    this.connection = connection;
    this.options = options;
    connection.onNotification((method, params) => this.#onNotification(method, params));
  }

  /** Opens a connection without sending anything. */
  static async connect(options: StratumClientOptions): Promise<StratumClient> {
    return new StratumClient(
      await StratumConnection.open(options.host, options.port, undefined, options.tls),
      options,
    );
  }

  /** Connects, configures (if asked), subscribes and authorizes; throws if any step fails. */
  static async start(options: StratumClientOptions): Promise<StratumClient> {
    const client = await StratumClient.connect(options);
    try {
      if (options.versionRollingMask !== undefined) {
        await client.configure(options.versionRollingMask);
      }
      await client.subscribe();
      if (options.suggestDifficulty !== undefined) {
        await client.suggestDifficulty(options.suggestDifficulty);
      }
      const auth = await client.authorize();
      if (auth.error !== null || auth.result !== true) {
        throw new Error(`Cannot authorize ${options.username}: ${JSON.stringify(auth.error)}`);
      }
    } catch (e) {
      client.close();
      throw e;
    }
    return client;
  }

  /** Registers a raw notification listener. */
  onNotification(listener: (method: string, params: unknown[]) => void): void {
    this.#listeners.push(listener);
  }

  /** BIP310 configure with version rolling. */
  async configure(mask: number): Promise<ClientResponse> {
    const r = await this.connection.request("mining.configure", [
      ["version-rolling"],
      {
        "version-rolling.mask": mask.toString(16).padStart(8, "0"),
        "version-rolling.min-bit-count": 2,
      },
    ]);
    const result = r.result as Record<string, unknown> | null;
    if (
      result && result["version-rolling"] === true &&
      typeof result["version-rolling.mask"] === "string"
    ) {
      this.versionMask = parseInt(result["version-rolling.mask"], 16) >>> 0;
    }
    return r;
  }

  /** mining.subscribe; stores extranonce1, extranonce2 size and the session id. */
  async subscribe(): Promise<ClientResponse> {
    const params: unknown[] = [this.options.userAgent ?? "tbg-support-miner/0.1"];
    if (this.options.sessionId !== undefined) params.push(this.options.sessionId);
    const r = await this.connection.request("mining.subscribe", params);
    if (r.error !== null) throw new Error(`Cannot subscribe: ${JSON.stringify(r.error)}`);
    const [subscriptions, en1, en2Size] = r.result as [unknown[], string, number];
    this.extranonce1 = hexToBytes(en1);
    this.extranonce2Size = en2Size;
    const notifySub = (subscriptions as [string, string][]).find((s) => s[0] === "mining.notify");
    this.sessionId = notifySub?.[1] ?? en1;
    return r;
  }

  /** mining.authorize with the configured username. */
  authorize(username = this.options.username): Promise<ClientResponse> {
    return this.connection.request("mining.authorize", [username, this.options.password ?? "x"]);
  }

  /** mining.suggest_difficulty. */
  suggestDifficulty(difficulty: number): Promise<ClientResponse> {
    return this.connection.request("mining.suggest_difficulty", [difficulty]);
  }

  /** mining.submit; resolves with the verdict and the round-trip time. */
  async submit(
    jobId: string,
    extranonce2: string,
    ntime: number,
    nonce: number,
    versionBits?: number,
  ): Promise<SubmitOutcome> {
    const params: unknown[] = [
      this.options.username,
      jobId,
      extranonce2,
      hex32(ntime),
      hex32(nonce),
    ];
    if (versionBits !== undefined) params.push(hex32(versionBits));
    const start = performance.now();
    const r = await this.connection.request("mining.submit", params);
    const latencyMs = performance.now() - start;
    if (r.error !== null) {
      const [code, message] = r.error as [number, string];
      return { accepted: false, error: [code, message], latencyMs };
    }
    return { accepted: r.result === true, error: null, latencyMs };
  }

  /** Waits for the next job (or returns the current one when `acceptCurrent`). */
  waitForJob(timeoutMs = 10_000, acceptCurrent = true): Promise<MinerJob> {
    if (acceptCurrent && this.currentJob) return Promise.resolve(this.currentJob);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`Cannot get a job: none within ${timeoutMs} ms`)),
        timeoutMs,
      );
      this.#jobWaiters.push((job) => {
        clearTimeout(timer);
        resolve(job);
      });
    });
  }

  /** Closes the connection. */
  close(): void {
    this.connection.close();
  }

  #onNotification(method: string, params: unknown[]): void {
    this.received.set(method, (this.received.get(method) ?? 0) + 1);
    switch (method) {
      case "mining.notify": {
        const job = decodeNotify(params);
        if (job.cleanJobs) this.jobs.clear();
        this.jobs.set(job.jobId, job);
        // Bound memory on long runs: keep the newest few jobs only.
        if (this.jobs.size > 16) this.jobs.delete(this.jobs.keys().next().value!);
        this.currentJob = job;
        for (const waiter of this.#jobWaiters.splice(0)) waiter(job);
        break;
      }
      case "mining.set_difficulty":
        if (typeof params[0] === "number" && params[0] > 0) this.difficulty = params[0];
        break;
      case "mining.set_version_mask":
        if (typeof params[0] === "string") this.versionMask = parseInt(params[0], 16) >>> 0;
        break;
      case "mining.set_extranonce":
        if (typeof params[0] === "string") this.extranonce1 = hexToBytes(params[0]);
        if (typeof params[1] === "number") this.extranonce2Size = params[1];
        break;
    }
    for (const listener of this.#listeners) listener(method, params);
  }
}

function hex32(value: number): string {
  return (value >>> 0).toString(16).padStart(8, "0");
}
