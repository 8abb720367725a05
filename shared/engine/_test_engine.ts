/**
 * Test helper: an Engine on a manual clock with miners that talk to it line by line, without a
 * network. Each miner's transport records what the engine sends and hands a close back to the
 * engine, as the TCP server does, so sessions run their whole request path.
 */
import assert from "node:assert/strict";
import { addressToScriptPubKey } from "../bitcoin/mod.ts";
import { getLogger, type StructuredLogger } from "../log/mod.ts";
import { ManualClock } from "./clock.ts";
import { InMemoryDifficultyMemory } from "./difficulty_memory.ts";
import { Engine, type EngineObserver, type EngineOptions, type EventSink } from "./engine.ts";
import type { RateLimitOptions } from "./rate_limit.ts";
import type { Session } from "./session.ts";
import { validateShare } from "./share.ts";
import { templateFromGbt } from "./template.ts";
import { testGbt } from "./_test_template.ts";

/** A regtest P2WPKH address (BIP173 test vector) miners authorize with. */
export const TEST_ADDRESS = "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080";

/** The rate limits of the config defaults (the seed's table and issue 10's additions). */
export const DEFAULT_RATE_LIMITS: RateLimitOptions = {
  connections_per_ip_per_minute: 10,
  max_connections_per_ip: 50,
  ipv4_prefix_length: 32,
  ipv6_prefix_length: 64,
  max_subscribes_per_minute: 3,
  max_authorizes_per_minute: 5,
  max_shares_per_minute: 1000,
  submit_ban_seconds: 300,
  max_invalid_shares_per_minute: 100,
  max_requests_per_minute: 2000,
  max_invalid_requests_per_minute: 100,
  max_configures_per_minute: 10,
  max_suggest_difficulty_per_minute: 10,
};

/** What the observer saw, by hook. */
export interface ObservedCounts {
  readonly rateLimited: string[];
  readonly protocolErrors: string[];
  readonly shares: { accepted: boolean; reason: string | null }[];
}

/** A running test engine. */
export interface TestEngine {
  readonly engine: Engine;
  readonly clock: ManualClock;
  readonly memory: InMemoryDifficultyMemory;
  readonly observed: ObservedCounts;
  /** Opens a connection from `ip`. */
  connect(ip: string): TestMiner;
}

/** Settings a test may change. */
export interface TestEngineSettings {
  readonly mindiff?: number;
  readonly maxdiff?: number;
  readonly startdiff?: number;
  /** Compact bits of the template, "1d00ffff" (network difficulty 1) unless given. */
  readonly bits?: string;
  readonly rateLimits?: Partial<RateLimitOptions>;
  readonly engine?: Partial<EngineOptions>;
  /** Where events go (none unless given). */
  readonly events?: EventSink;
  /** Where the engine logs (a recording logger in tests that check a log line). */
  readonly log?: StructuredLogger;
}

/** Starts an engine with one template installed. */
export function startTestEngine(settings: TestEngineSettings = {}): TestEngine {
  const clock = new ManualClock(1_700_000_600_000);
  const observed: ObservedCounts = { rateLimited: [], protocolErrors: [], shares: [] };
  const observer: EngineObserver = {
    connections: () => {},
    share: (accepted, reason) => observed.shares.push({ accepted, reason }),
    blockSubmitted: () => {},
    rateLimited: (rule) => observed.rateLimited.push(rule),
    protocolError: (kind) => observed.protocolErrors.push(kind),
    hashrate: () => {},
    notifyBroadcast: () => {},
  };
  const mindiff = settings.mindiff ?? 1e-7;
  const options: EngineOptions = {
    network: "regtest",
    extranonce1Size: 4,
    extranonce1Prefix: Uint8Array.of(0),
    extranonce2Size: 8,
    poolVersionMask: 0x1fffe000,
    startDifficulty: settings.startdiff ?? 1e-6,
    vardiff: {
      target_share_interval: 10,
      retarget_interval: 30,
      ema_alpha: 0.3,
      dampening: 0.5,
      dead_band_percent: 20,
      mindiff,
      maxdiff: settings.maxdiff ?? 0,
    },
    rateLimits: { ...DEFAULT_RATE_LIMITS, ...settings.rateLimits },
    difficultyGraceMs: 15_000,
    maxLineBytes: 16 * 1024,
    maxClients: 1000,
    jobs: {
      tag: new TextEncoder().encode("/test/"),
      fee: null,
      jobsPerTip: 8,
      retiredJobs: 64,
    },
    authorizeTimeoutMs: 60_000,
    idleTimeoutMs: 3_600_000,
    hashrateUpdateIntervalMs: 60_000,
    region: "eu",
    ...settings.engine,
  };
  const memory = new InMemoryDifficultyMemory({ reconnect_memory_ttl: 86_400 }, clock);
  const engine = new Engine(options, {
    clock,
    submitter: { submitBlock: () => Promise.resolve({ accepted: true, results: [] }) },
    events: settings.events ?? null,
    observer,
    difficultyMemory: memory,
    log: settings.log ?? getLogger(["test-engine"]),
  });
  engine.onTemplate(
    templateFromGbt(testGbt({ bits: settings.bits ?? "1d00ffff" }), clock.nowMs()),
  );
  return {
    engine,
    clock,
    memory,
    observed,
    connect(ip: string): TestMiner {
      const admission = engine.admit(ip);
      assert.ok(admission.ok, `connection from ${ip} refused`);
      return new TestMiner(engine, ip);
    },
  };
}

/** Lets promise callbacks run (difficulty memory lookups resolve on a later turn). */
export function settle(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

/** One miner connection, driven line by line. */
export class TestMiner {
  readonly session: Session;
  /** Every line the engine sent, parsed. */
  readonly lines: Record<string, unknown>[] = [];
  /** Bytes the engine sent. */
  sentBytes = 0;
  /** Why the engine closed the connection, or null while open. */
  closedReason: string | null = null;
  readonly #engine: Engine;
  #nextId = 1000;
  #extranonce2 = 0;

  constructor(engine: Engine, ip: string) {
    this.#engine = engine;
    this.session = engine.open(ip, {
      send: (line) => {
        this.sentBytes += line.length + 1;
        this.lines.push(JSON.parse(line));
      },
      close: (reason) => {
        this.closedReason = reason;
        engine.close(this.session, reason);
      },
    });
  }

  /** Sends one raw line. */
  send(line: string): void {
    this.session.handleLine(line);
  }

  /** Sends a request and returns the engine's answer to it. */
  request(method: string, params: unknown[]): Record<string, unknown> {
    const id = this.#nextId++;
    this.send(JSON.stringify({ id, method, params }));
    const answer = this.lines.find((l) => l.id === id && !("method" in l));
    assert.ok(answer !== undefined, `no answer to ${method}: ${JSON.stringify(this.lines)}`);
    return answer;
  }

  /** Subscribes and authorizes as `username`. */
  ready(username: string): void {
    assert.ok(Array.isArray(this.request("mining.subscribe", ["test/1.0"]).result));
    assert.equal(this.request("mining.authorize", [username, "x"]).result, true);
  }

  /** The connection ends from the miner's side. */
  disconnect(): void {
    this.session.close("client closed");
  }

  /** The latest `mining.set_difficulty` value sent. */
  get announcedDifficulty(): number | undefined {
    const last = this.lines.findLast((l) => l.method === "mining.set_difficulty");
    return last === undefined ? undefined : (last.params as number[])[0];
  }

  /**
   * Mines and submits a share at the session's difficulty on the current job (the validator
   * decides which nonce qualifies, as a real miner's hash comparison would) and returns the
   * engine's answer.
   */
  submitShare(): Record<string, unknown> {
    const workbase = this.#engine.jobs.current!;
    const session = this.session;
    const extranonce2Hex = (++this.#extranonce2).toString(16).padStart(16, "0");
    const input = {
      workbase: { ...workbase, acceptedHashes: new Set<string>() },
      stale: false,
      payoutScript: addressToScriptPubKey(session.payout!.address, "regtest"),
      extranonce1: session.extranonce1!,
      extranonce2Hex,
      ntime: workbase.ntime,
      nonce: 0,
      versionBits: null,
      versionMask: 0,
      difficulty: session.difficulty,
      previousDifficulty: null,
      nowSec: Math.floor(this.#engine.clock.nowMs() / 1000),
    };
    for (let nonce = 0; nonce < 5_000_000; nonce++) {
      input.nonce = nonce;
      if (!validateShare(input).accepted) continue;
      return this.request("mining.submit", [
        session.payout!.username,
        workbase.id,
        extranonce2Hex,
        workbase.ntimeHex,
        nonce.toString(16).padStart(8, "0"),
      ]);
    }
    throw new Error(`no share at difficulty ${session.difficulty} within 5M nonces`);
  }
}
