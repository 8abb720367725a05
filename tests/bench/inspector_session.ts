/**
 * A minimal Chrome DevTools Protocol client for a Deno process started with `--inspect`: lets a
 * benchmark profile the pool's CPU over exactly its measured window, and read its JS heap size
 * after a full garbage collection.
 */
import type { CpuProfile } from "./cpu_profile.ts";

/** Longest wait for one protocol reply (a heap collection of a big heap takes a while). */
const CALL_TIMEOUT_MS = 60_000;

/** V8's heap usage as the inspector reports it. */
export interface HeapUsage {
  readonly usedSize: number;
  readonly totalSize: number;
}

/** One DevTools session over WebSocket. */
export class InspectorSession {
  readonly #socket: WebSocket;
  readonly #pending = new Map<number, (message: Record<string, unknown>) => void>();
  /** Chunks of the heap snapshot being taken, or null when none is. */
  #snapshotChunks: string[] | null = null;
  #nextId = 1;

  private constructor(socket: WebSocket) {
    this.#socket = socket;
    socket.onmessage = (event) => {
      const message = JSON.parse(String(event.data)) as Record<string, unknown>;
      if (message.method === "HeapProfiler.addHeapSnapshotChunk") {
        const params = message.params as { chunk: string };
        this.#snapshotChunks?.push(params.chunk);
        return;
      }
      if (typeof message.id !== "number") return;
      const resolve = this.#pending.get(message.id);
      this.#pending.delete(message.id);
      resolve?.(message);
    };
    socket.onclose = () => {
      for (const resolve of this.#pending.values()) {
        resolve({ error: { message: "inspector connection closed" } });
      }
      this.#pending.clear();
    };
  }

  /** Connects to the first target of the inspector listening on 127.0.0.1:`port`. */
  static async connect(port: number): Promise<InspectorSession> {
    const targets = await (await fetch(`http://127.0.0.1:${port}/json/list`)).json() as {
      webSocketDebuggerUrl?: string;
    }[];
    const url = targets[0]?.webSocketDebuggerUrl;
    if (url === undefined) throw new Error(`Cannot attach inspector: no target on port ${port}`);
    const socket = new WebSocket(url);
    await new Promise<void>((resolve, reject) => {
      socket.onopen = () => resolve();
      socket.onerror = () => reject(new Error(`Cannot attach inspector: ${url} refused`));
    });
    return new InspectorSession(socket);
  }

  /** Sends one protocol command and resolves with its result. */
  call<T>(method: string, params: Record<string, unknown> = {}): Promise<T> {
    const id = this.#nextId++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new Error(`Cannot complete ${method}: no reply within ${CALL_TIMEOUT_MS} ms`));
      }, CALL_TIMEOUT_MS);
      this.#pending.set(id, (message) => {
        clearTimeout(timer);
        const error = message.error as { message?: string } | undefined;
        if (error !== undefined) reject(new Error(`Cannot complete ${method}: ${error.message}`));
        else resolve(message.result as T);
      });
      this.#socket.send(JSON.stringify({ id, method, params }));
    });
  }

  /** Starts sampling the CPU every `intervalUs`. */
  async startProfiling(intervalUs = 200): Promise<void> {
    await this.call("Profiler.enable");
    await this.call("Profiler.setSamplingInterval", { interval: intervalUs });
    await this.call("Profiler.start");
  }

  /** Stops sampling and returns the profile. */
  async stopProfiling(): Promise<CpuProfile> {
    const { profile } = await this.call<{ profile: CpuProfile }>("Profiler.stop");
    await this.call("Profiler.disable");
    return profile;
  }

  /** Collects garbage fully, then reads the heap size. */
  async heapAfterGc(): Promise<HeapUsage> {
    await this.call("HeapProfiler.collectGarbage");
    return await this.call<HeapUsage>("Runtime.getHeapUsage");
  }

  /** Collects garbage fully, then takes a heap snapshot and returns its JSON text. */
  async heapSnapshot(): Promise<string> {
    await this.call("HeapProfiler.collectGarbage");
    this.#snapshotChunks = [];
    try {
      await this.call("HeapProfiler.takeHeapSnapshot", { reportProgress: false });
      return this.#snapshotChunks.join("");
    } finally {
      this.#snapshotChunks = null;
    }
  }

  /** Closes the session. */
  close(): void {
    this.#socket.close();
  }
}
