/**
 * Calibration responder for the latency_floor scenario: a minimal Stratum responder on raw Deno
 * TCP that answers subscribe, authorize (then one fixed job) and rejects every submit as low
 * difficulty without validating anything. It is not a pool: it measures what the load
 * generator, Deno's socket I/O and this shared machine add to a submit's round trip by
 * themselves, so the pool's latency can be read against that floor.
 *
 *   deno run --allow-net=127.0.0.1 tests/bench/floor_responder.ts --port 0
 *   deno run --allow-net=127.0.0.1 --unstable-net tests/bench/floor_responder.ts --port P \
 *     --instance 1 --reuse-port
 *
 * Several responders can share one port (`--reuse-port`, SO_REUSEPORT) like the pool's
 * processes; each hands out extranonce1 values whose first two bytes are region 0 and its
 * `--instance` (0–255), as the pool does, so the load generator tells their miners apart.
 *
 * Prints `{"event":"listening","port":N}` on stdout once bound; runs until SIGTERM. On SIGUSR1
 * it sends one new clean job (id "2", then "3", …) to every authorized connection, the way the pool fans out
 * a new block, and prints `{"event":"broadcast","jobId":…,"epochMs":…,"loopMs":…}` (the notify_floor
 * calibration).
 *
 * @module
 */
import { parseArgs } from "node:util";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A fixed job; ntime and ids only need to be well-formed for the load generator. */
function notifyLine(jobId: string): string {
  return `{"id":null,"method":"mining.notify","params":["${jobId}","${"00".repeat(32)}","01",` +
    `"02",[],"20000000","1d00ffff","${
      Math.floor(Date.now() / 1000).toString(16).padStart(8, "0")
    }",true]}\n`;
}
const NOTIFY = notifyLine("1");

/** The reply to one request line, or "" for lines that get none. */
export function floorReply(line: string, extranonce1: string): string {
  let request: { id?: unknown; method?: unknown };
  try {
    request = JSON.parse(line);
  } catch {
    return "";
  }
  const id = JSON.stringify(request.id ?? null);
  switch (request.method) {
    case "mining.submit":
      return `{"id":${id},"result":null,"error":[23,"Low difficulty share",null]}\n`;
    case "mining.subscribe":
      return `{"id":${id},"result":[[["mining.notify","${extranonce1}"]],"${extranonce1}",8],` +
        `"error":null}\n`;
    case "mining.authorize":
      return `{"id":${id},"result":true,"error":null}\n` +
        `{"id":null,"method":"mining.set_difficulty","params":[1000000000000]}\n` + NOTIFY;
    default:
      return `{"id":${id},"result":null,"error":[20,"Unsupported",null]}\n`;
  }
}

/** Writes of one connection, serialised so a broadcast never interleaves with a reply. */
class Writer {
  #chain: Promise<void> = Promise.resolve();
  readonly #conn: Deno.TcpConn;
  constructor(conn: Deno.TcpConn) {
    this.#conn = conn;
  }
  /** Queues `data`; a broadcast passes the same bytes to every writer (encoded once). */
  write(data: string | Uint8Array): Promise<void> {
    const bytes = typeof data === "string" ? encoder.encode(data) : data;
    this.#chain = this.#chain.then(async () => {
      for (let offset = 0; offset < bytes.length;) {
        offset += await this.#conn.write(bytes.subarray(offset));
      }
    });
    return this.#chain;
  }
}

const authorized = new Set<Writer>();

let broadcasts = 0;

/**
 * Sends a new clean job to every authorized connection (ids "2", "3", … in turn); returns its id
 * and the queueing loop's time.
 */
function broadcast(): { jobId: string; epochMs: number; loopMs: number } {
  const epochMs = performance.timeOrigin + performance.now();
  const start = performance.now();
  const jobId = String(2 + broadcasts++);
  // Bare writes: one buffer for every socket, as nothing differs between them.
  const line = encoder.encode(notifyLine(jobId));
  for (const writer of authorized) writer.write(line).catch(() => authorized.delete(writer));
  return { jobId, epochMs, loopMs: performance.now() - start };
}

async function serve(conn: Deno.TcpConn, extranonce1: string): Promise<void> {
  conn.setNoDelay(true);
  const writer = new Writer(conn);
  const buffer = new Uint8Array(2048);
  let pending = "";
  try {
    while (true) {
      const n = await conn.read(buffer);
      if (n === null) break;
      pending += decoder.decode(buffer.subarray(0, n), { stream: true });
      let out = "";
      let nl;
      while ((nl = pending.indexOf("\n")) !== -1) {
        out += floorReply(pending.slice(0, nl), extranonce1);
        pending = pending.slice(nl + 1);
      }
      if (out.includes('"mining.notify"')) authorized.add(writer);
      await writer.write(out);
    }
  } catch {
    // Peer gone.
  } finally {
    authorized.delete(writer);
    try {
      conn.close();
    } catch {
      // Already closed.
    }
  }
}

/** The extranonce1 of the `counter`th connection of responder `instance`: 00, instance, counter. */
export function floorExtranonce1(instance: number, counter: number): string {
  return "00" + instance.toString(16).padStart(2, "0") +
    (counter & 0xffff).toString(16).padStart(4, "0");
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      port: { type: "string" },
      instance: { type: "string", default: "0" },
      "reuse-port": { type: "boolean", default: false },
    },
  });
  const instance = Number(values.instance);
  if (!Number.isInteger(instance) || instance < 0 || instance > 255) {
    throw new RangeError(
      `--instance expects a whole number from 0 to 255, got "${values.instance}"`,
    );
  }
  const listener = Deno.listen({
    hostname: "127.0.0.1",
    port: Number(values.port ?? 0),
    ...(values["reuse-port"] ? { reusePort: true } : {}),
  });
  Deno.stdout.writeSync(
    encoder.encode(JSON.stringify({ event: "listening", port: listener.addr.port }) + "\n"),
  );
  Deno.addSignalListener("SIGTERM", () => Deno.exit(0));
  Deno.addSignalListener("SIGUSR1", () => {
    const result = broadcast();
    Deno.stdout.writeSync(encoder.encode(JSON.stringify({ event: "broadcast", ...result }) + "\n"));
  });
  let counter = 0;
  for await (const conn of listener) {
    void serve(conn, floorExtranonce1(instance, ++counter));
  }
}
