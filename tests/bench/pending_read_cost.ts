/**
 * What a TCP connection waiting on a read costs a Deno process, by the way it reads: the probe
 * behind shared/net/read_op.ts. One process accepts `--connections` loopback connections from a
 * child (which holds them open) and starts one 256-byte read on each:
 *
 *   conn_read   `conn.read(buffer)` (an async function around the read op), TcpConn kept
 *   op          the read op itself (`readInto`), TcpConn kept
 *   op_dropped  the read op, only the resource id kept (what the pool does, `OpConn`)
 *
 * and prints per connection: growth of malloc's `[heap]` RSS, of RssAnon, and of the V8 heap used
 * after a full collection.
 *
 *   deno run -A --v8-flags=--expose-gc tests/bench/pending_read_cost.ts --mode op --connections 10000
 *
 * @module
 */
import { parseArgs } from "node:util";
import { OpConn, readInto } from "../../shared/net/read_op.ts";

const encoder = new TextEncoder();
const out = (text: string) => Deno.stdout.writeSync(encoder.encode(text + "\n"));

const MODES = ["conn_read", "op", "op_dropped"] as const;
type Mode = typeof MODES[number];

const { values } = parseArgs({
  args: Deno.args,
  options: {
    mode: { type: "string", default: "op" },
    connections: { type: "string", default: "10000" },
    "hold-child": { type: "string" },
  },
});

/** Child: opens `n` connections to the port and holds them (bounded by a timeout). */
async function holdConnections(port: number, n: number): Promise<void> {
  const held: Deno.TcpConn[] = [];
  for (let i = 0; i < n; i++) held.push(await Deno.connect({ hostname: "127.0.0.1", port }));
  await new Promise((resolve) => setTimeout(resolve, 120_000));
  Deno.exit(0);
}

function heapRssBytes(): number {
  const smaps = Deno.readTextFileSync(`/proc/${Deno.pid}/smaps`);
  const at = smaps.indexOf("[heap]");
  if (at < 0) return 0;
  return Number(/\nRss:\s+(\d+)/.exec(smaps.slice(at))![1]) * 1024;
}

function rssAnonBytes(): number {
  const status = Deno.readTextFileSync(`/proc/${Deno.pid}/status`);
  return Number(/RssAnon:\s+(\d+)/.exec(status)![1]) * 1024;
}

async function collected(): Promise<number> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) throw new Error("run with --v8-flags=--expose-gc");
  for (let i = 0; i < 3; i++) {
    gc();
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return Deno.memoryUsage().heapUsed;
}

async function probe(mode: Mode, n: number): Promise<void> {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const kept: unknown[] = [];
  const heap0 = await collected();
  const malloc0 = heapRssBytes();
  const anon0 = rssAnonBytes();
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      import.meta.filename!,
      "--hold-child",
      String(listener.addr.port),
      "--connections",
      String(n),
    ],
  }).spawn();
  try {
    for (let accepted = 0; accepted < n; accepted++) {
      const conn = await listener.accept();
      const buffer = new Uint8Array(256);
      if (mode === "conn_read") {
        kept.push(conn, buffer);
        conn.read(buffer).catch(() => {});
      } else {
        const byId = OpConn.of(conn);
        if (byId === null) throw new Error("the read op is not reachable in this Deno");
        kept.push(mode === "op" ? conn : byId, buffer);
        readInto(byId.rid, buffer).catch(() => {});
      }
    }
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    const heap1 = await collected();
    const perConn = (bytes: number) => (bytes / n).toFixed(0);
    out(
      `${mode}: ${n} connections, per connection: [heap] RSS ${
        perConn(heapRssBytes() - malloc0)
      } B, RssAnon ${perConn(rssAnonBytes() - anon0)} B, V8 heap used ${perConn(heap1 - heap0)} B`,
    );
  } finally {
    child.kill();
    await child.status;
    listener.close();
  }
}

const connections = Number(values.connections);
if (!Number.isInteger(connections) || connections < 1 || connections > 19_000) {
  throw new RangeError(`--connections expects 1 to 19000, got ${values.connections}`);
}
if (values["hold-child"] !== undefined) {
  await holdConnections(Number(values["hold-child"]), connections);
} else {
  if (!MODES.includes(values.mode as Mode)) {
    throw new RangeError(`--mode expects one of ${MODES.join(", ")}, got ${values.mode}`);
  }
  await probe(values.mode as Mode, connections);
  Deno.exit(0);
}
