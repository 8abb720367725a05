/**
 * Starts `devnet_mesh_main.ts` as a child process and drives it through its control endpoint.
 *
 * @module
 */
import { fileURLToPath } from "node:url";
import type { DevnetEndpoint } from "../pool_process.ts";
import type { MeshLinkSpec, MeshLinkState } from "./devnet_mesh.ts";
import { stopChild } from "./child_stop.ts";

const ROOT = fileURLToPath(new URL("../../../", import.meta.url)).replace(/\/$/, "");
const READY_TIMEOUT_MS = 60_000;
const STOP_GRACE_MS = 10_000;

/** The `--link` argument of one link: `<region>:<region>=<ms>`. */
export function formatLinkArg(link: MeshLinkSpec): string {
  return `${link.a}:${link.b}=${link.delayMs}`;
}

/**
 * Parses a `--link` argument.
 *
 * @throws {RangeError} If it is not `<region>:<region>=<ms>`.
 */
export function parseLinkArg(value: string): MeshLinkSpec {
  const match = /^([a-z0-9-]+):([a-z0-9-]+)=(\d+(?:\.\d+)?)$/.exec(value);
  if (match === null) {
    throw new RangeError(`Cannot parse --link "${value}": expected <region>:<region>=<ms>`);
  }
  return { a: match[1] as string, b: match[2] as string, delayMs: Number(match[3]) };
}

/** One node as the mesh process reports it. */
export interface MeshNode extends DevnetEndpoint {
  /** `http://127.0.0.1:<port>`. */
  readonly rpcUrl: string;
  /** Height when the mesh started. */
  readonly height: number;
}

/** Tips and links now. */
export interface MeshStatus {
  readonly nodes: Readonly<Record<string, { readonly height: number; readonly tip: string }>>;
  readonly links: readonly MeshLinkState[];
}

/** A running mesh process. */
export interface DevnetMeshProcess {
  /** The node of each region. */
  readonly nodes: Readonly<Record<string, MeshNode>>;
  /** The node of one region. @throws {RangeError} for an unknown region. */
  node(region: string): MeshNode;
  /** Tips and links. */
  status(): Promise<MeshStatus>;
  /** Cuts block relay between two regions. */
  pause(a: string, b: string): Promise<void>;
  /** Restores block relay between two regions. */
  resume(a: string, b: string): Promise<void>;
  /** Closes (true) or reopens (false) a node's RPC listener (its bitcoind down or up). */
  setUnreachable(region: string, unreachable: boolean): Promise<void>;
  /** Mines a block from outside the pool on a region's node; returns its hash. */
  mineExternalBlock(region: string): Promise<string>;
  /** Stops the process. Idempotent. */
  stop(): Promise<void>;
}

/** Options of {@link startDevnetMeshProcess}. */
export interface DevnetMeshProcessOptions {
  readonly regions: readonly string[];
  readonly bits: number;
  readonly links: readonly MeshLinkSpec[];
  readonly mempoolTarget?: number;
}

/**
 * Starts the mesh process and waits for its ready line.
 *
 * @throws {Error} If it exits or stays silent (its stderr is in the message).
 */
export async function startDevnetMeshProcess(
  options: DevnetMeshProcessOptions,
): Promise<DevnetMeshProcess> {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-net=127.0.0.1",
      "--allow-ffi=node_modules",
      "--allow-read=node_modules,/etc/alpine-release",
      `${ROOT}/tests/support/sim/devnet_mesh_main.ts`,
      "--regions",
      options.regions.join(","),
      "--bits",
      options.bits.toString(16).padStart(8, "0"),
      ...options.links.flatMap((link) => ["--link", formatLinkArg(link)]),
      ...(options.mempoolTarget === undefined
        ? []
        : ["--mempool-txs", String(options.mempoolTarget)]),
    ],
    cwd: ROOT,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
  let stderr = "";
  const stderrDone = (async () => {
    const decoder = new TextDecoder();
    for await (const chunk of child.stderr) {
      if (stderr.length < 20_000) stderr += decoder.decode(chunk, { stream: true });
    }
  })();
  const status = child.status;

  const readyLine = await (async (): Promise<string> => {
    const reader = child.stdout.getReader();
    const decoder = new TextDecoder();
    let pending = "";
    const timer = setTimeout(() => {
      try {
        child.kill("SIGKILL");
      } catch {
        // Already exited.
      }
    }, READY_TIMEOUT_MS);
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        pending += decoder.decode(value, { stream: true });
        const nl = pending.indexOf("\n");
        if (nl !== -1) return pending.slice(0, nl);
      }
    } finally {
      clearTimeout(timer);
      reader.releaseLock();
    }
    await stderrDone;
    throw new Error(`Cannot start the devnet mesh: it exited; stderr: ${stderr.slice(-2_000)}`);
  })();
  // Keep draining stdout so the child never blocks on a full pipe.
  void (async () => {
    for await (const _ of child.stdout) { /* discarded */ }
  })().catch(() => {});
  const ready = JSON.parse(readyLine) as {
    controlUrl: string;
    nodes: Record<string, MeshNode>;
  };

  const control = async <T>(method: string, params: unknown[] = []): Promise<T> => {
    const response = await fetch(ready.controlUrl, {
      method: "POST",
      body: JSON.stringify({ method, params }),
    });
    const body = await response.json() as { result?: T; error?: string };
    if (body.error !== undefined) throw new Error(`Devnet mesh ${method}: ${body.error}`);
    return body.result as T;
  };

  let stopping: Promise<void> | null = null;
  return {
    nodes: ready.nodes,
    node(region: string): MeshNode {
      const node = ready.nodes[region];
      if (node === undefined) throw new RangeError(`Cannot find the devnet of "${region}"`);
      return node;
    },
    status: () => control<MeshStatus>("status"),
    pause: async (a, b) => void await control("pause", [a, b]),
    resume: async (a, b) => void await control("resume", [a, b]),
    setUnreachable: async (region, unreachable) =>
      void await control("setUnreachable", [region, unreachable]),
    mineExternalBlock: (region) => control<string>("mineExternalBlock", [region]),
    stop() {
      stopping ??= (async () => {
        await stopChild(child, status, STOP_GRACE_MS);
        await stderrDone;
      })();
      return stopping;
    },
  };
}
