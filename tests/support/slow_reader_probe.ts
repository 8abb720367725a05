/**
 * Measures how many bytes a miner that stops reading can make the pool hold before the pool
 * disconnects it. Run inside a network namespace (tests/slow_reader_memory_test.ts makes one, so
 * the namespace's own TCP sysctls apply):
 *
 *   deno run --allow-net=127.0.0.1 --allow-run=ss tests/support/slow_reader_probe.ts <preReadBytes>
 *
 * A client connects to a listener whose side is a real ConnectionTransport with the pool's cap. It
 * reads the first `preReadBytes` as fast as it can (an attacker growing the congestion window and
 * the pool's send buffer first, as autotuning allows) and then never reads again, while the
 * server keeps sending notify-sized lines as the engine does. Bytes the server side holds =
 * bytes given to the transport − bytes the client read − bytes waiting in the client's receive
 * queue (those are the attacker's memory, not the pool's). Sampled every few milliseconds with
 * `ss`; prints one JSON line with the largest sample and the transport's close reason.
 *
 * @module
 */
import { ConnectionTransport } from "@tbg/shared/engine";
import { MAX_QUEUED_BYTES } from "@tbg/stratum";

/** What the probe prints. */
export interface SlowReaderReport {
  /** The cap the transport ran with. */
  readonly maxQueuedBytes: number;
  /** Bytes the client read before it stopped. */
  readonly clientRead: number;
  /** Largest number of bytes the server side held (application plus kernel). */
  readonly pinnedMaxBytes: number;
  /** Largest send queue of the server's socket (bytes the kernel held, unacknowledged). */
  readonly kernelSendQueueMaxBytes: number;
  /** Why the transport closed (null if it never did within the probe's time bound). */
  readonly closeReason: string | null;
}

/** Send-Q and Recv-Q of the established TCP sockets, by local port. */
async function socketQueues(): Promise<Map<number, { recvQ: number; sendQ: number }>> {
  const out = await new Deno.Command("ss", { args: ["-tnH", "state", "established"] }).output();
  const queues = new Map<number, { recvQ: number; sendQ: number }>();
  for (const line of new TextDecoder().decode(out.stdout).split("\n")) {
    const fields = line.trim().split(/\s+/);
    if (fields.length < 4) continue;
    const local = fields[2]!;
    const port = Number(local.slice(local.lastIndexOf(":") + 1));
    queues.set(port, { recvQ: Number(fields[0]), sendQ: Number(fields[1]) });
  }
  return queues;
}

/** Runs the measurement (bounded: gives up after `timeLimitMs`). */
export async function measureSlowReader(
  preReadBytes: number,
  timeLimitMs = 60_000,
): Promise<SlowReaderReport> {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const client = await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
  const serverConn = await listener.accept();
  listener.close();
  const serverPort = (serverConn.localAddr as Deno.NetAddr).port;
  const clientPort = (client.localAddr as Deno.NetAddr).port;
  const transport = new ConnectionTransport(serverConn, MAX_QUEUED_BYTES);

  // A mining.notify-sized line (about 1 KB).
  const line = JSON.stringify({
    id: null,
    method: "mining.notify",
    params: ["1", "00".repeat(32), "ab".repeat(100), "cd".repeat(60), [], "20000000", "1d00ffff"],
  }) + "\n";
  let pushed = 0;
  let clientRead = 0;
  let reading = true;
  const readLoop = (async () => {
    const buffer = new Uint8Array(256 * 1024);
    while (clientRead < preReadBytes) {
      const n = await client.read(buffer);
      if (n === null) break;
      clientRead += n;
    }
    reading = false;
  })();

  let pinnedMax = 0;
  let sendQMax = 0;
  const deadline = Date.now() + timeLimitMs;
  while (!transport.closed && Date.now() < deadline) {
    // While the client reads, keep its pipe full; afterwards go in small steps and measure.
    const batch = reading ? 32 : 8;
    for (let i = 0; i < batch && !transport.closed; i++) {
      transport.send(line);
      if (!transport.closed) pushed += line.length;
    }
    await new Promise((resolve) => setTimeout(resolve, reading ? 0 : 2));
    if (reading) continue;
    const queues = await socketQueues();
    const server = queues.get(serverPort);
    const clientSide = queues.get(clientPort);
    if (server === undefined || clientSide === undefined) continue;
    sendQMax = Math.max(sendQMax, server.sendQ);
    pinnedMax = Math.max(pinnedMax, pushed - clientRead - clientSide.recvQ);
  }
  const report: SlowReaderReport = {
    maxQueuedBytes: MAX_QUEUED_BYTES,
    clientRead,
    pinnedMaxBytes: pinnedMax,
    kernelSendQueueMaxBytes: sendQMax,
    closeReason: transport.closed ? transport.closeReason : null,
  };
  transport.dispose();
  client.close();
  await readLoop.catch(() => {});
  return report;
}

if (import.meta.main) {
  const report = await measureSlowReader(Number(Deno.args[0] ?? "0"));
  await Deno.stdout.write(new TextEncoder().encode(JSON.stringify(report) + "\n"));
}
