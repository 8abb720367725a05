/**
 * Calibration responder for the latency_floor scenario: a minimal Stratum responder on raw Deno
 * TCP that answers subscribe, authorize (then one fixed job) and rejects every submit as low
 * difficulty without validating anything. It is not a pool: it measures what the load
 * generator, Deno's socket I/O and this shared machine add to a submit's round trip by
 * themselves, so the pool's latency can be read against that floor.
 *
 *   deno run --allow-net=127.0.0.1 tests/bench/floor_responder.ts --port 0
 *
 * Prints `{"event":"listening","port":N}` on stdout once bound; runs until SIGTERM.
 *
 * @module
 */
import { parseArgs } from "node:util";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A fixed job; ntime and ids only need to be well-formed for the load generator. */
const NOTIFY = `{"id":null,"method":"mining.notify","params":["1","${"00".repeat(32)}","01",` +
  `"02",[],"20000000","1d00ffff","${
    Math.floor(Date.now() / 1000).toString(16).padStart(8, "0")
  }",true]}\n`;

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

async function serve(conn: Deno.TcpConn, extranonce1: string): Promise<void> {
  conn.setNoDelay(true);
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
      const bytes = encoder.encode(out);
      for (let offset = 0; offset < bytes.length;) {
        offset += await conn.write(bytes.subarray(offset));
      }
    }
  } catch {
    // Peer gone.
  } finally {
    try {
      conn.close();
    } catch {
      // Already closed.
    }
  }
}

if (import.meta.main) {
  const { values } = parseArgs({ args: Deno.args, options: { port: { type: "string" } } });
  const listener = Deno.listen({ hostname: "127.0.0.1", port: Number(values.port ?? 0) });
  Deno.stdout.writeSync(
    encoder.encode(JSON.stringify({ event: "listening", port: listener.addr.port }) + "\n"),
  );
  Deno.addSignalListener("SIGTERM", () => Deno.exit(0));
  let counter = 0;
  for await (const conn of listener) {
    void serve(conn, (++counter).toString(16).padStart(8, "0"));
  }
}
