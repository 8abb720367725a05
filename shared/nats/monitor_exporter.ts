/**
 * Exports a nats-server's monitoring data as Prometheus metrics. The server's monitoring port
 * (`http:` in its config, 8222 by convention) answers JSON, not the Prometheus text format, so
 * this polls `/varz` and `/jsz?streams=true&consumers=true` and serves what it read on the
 * owning service's registry (the collector's): `nats_server_*` for the server,
 * `jetstream_*` for JetStream, its streams and its consumers.
 *
 * Invariants:
 * - One poll at a time; the next starts `pollMs` after the previous ended. Each request has a
 *   timeout and a body cap, and `stop()` aborts a poll in flight.
 * - A failed poll (refused, timeout, HTTP error, oversized or unreadable JSON) sets
 *   `nats_server_up` to 0 and drops the server's other series, so dashboards show a gap rather
 *   than stale figures; it never throws out of the timer.
 * - Series exist only for what the last good poll saw: a deleted stream disappears.
 *
 * @module
 */
import { PollLoop } from "../service/poll_loop.ts";
import type { ExportedMetric, ExportedSample, MetricRegistry } from "../metrics/registry.ts";
import { type JszSnapshot, parseJsz, parseVarz, type VarzSnapshot } from "./monitor_snapshot.ts";

/** Largest monitoring response read, bytes; a bigger one fails the poll. */
export const MAX_MONITOR_BODY_BYTES = 8 * 1024 * 1024;

/** What the last poll produced. */
interface Snapshot {
  readonly varz: VarzSnapshot;
  readonly jsz: JszSnapshot;
}

type Reader = (snapshot: Snapshot) => readonly ExportedSample[];

/** A metric rendered from the last good snapshot; no samples while there is none. */
class SnapshotMetric implements ExportedMetric {
  readonly name: string;
  readonly help: string;
  readonly type: "counter" | "gauge";
  readonly #current: () => Snapshot | null;
  readonly #read: Reader;

  constructor(
    name: string,
    type: "counter" | "gauge",
    help: string,
    current: () => Snapshot | null,
    read: Reader,
  ) {
    this.name = name;
    this.type = type;
    this.help = help;
    this.#current = current;
    this.#read = read;
  }

  get(): { values: readonly ExportedSample[] } {
    const snapshot = this.#current();
    return { values: snapshot === null ? [] : this.#read(snapshot) };
  }

  reset(): void {}
}

type VarzField = {
  [K in keyof VarzSnapshot]: VarzSnapshot[K] extends number ? K : never;
}[keyof VarzSnapshot];
type JszField = {
  [K in keyof JszSnapshot]: JszSnapshot[K] extends number ? K : never;
}[keyof JszSnapshot];

const SERVER_METRICS: readonly [string, "counter" | "gauge", VarzField, string][] = [
  ["nats_server_uptime_seconds", "gauge", "uptimeSeconds", "Seconds since the server started."],
  ["nats_server_connections", "gauge", "connections", "Open client connections."],
  [
    "nats_server_connections_total",
    "counter",
    "totalConnections",
    "Client connections accepted since the server started.",
  ],
  ["nats_server_subscriptions", "gauge", "subscriptions", "Active subscriptions."],
  [
    "nats_server_slow_consumers_total",
    "counter",
    "slowConsumers",
    "Clients disconnected or flagged as slow consumers since start.",
  ],
  ["nats_server_in_msgs_total", "counter", "inMsgs", "Messages received by the server."],
  ["nats_server_out_msgs_total", "counter", "outMsgs", "Messages sent by the server."],
  ["nats_server_in_bytes_total", "counter", "inBytes", "Bytes received by the server."],
  ["nats_server_out_bytes_total", "counter", "outBytes", "Bytes sent by the server."],
  ["nats_server_mem_bytes", "gauge", "memBytes", "Resident memory of the server process."],
  ["nats_server_cpu_percent", "gauge", "cpuPercent", "CPU use of the server, percent of a core."],
  ["nats_server_leafnodes", "gauge", "leafnodes", "Leaf node connections."],
  ["nats_server_routes", "gauge", "routes", "Cluster routes."],
];

const JETSTREAM_METRICS: readonly [string, "counter" | "gauge", JszField, string][] = [
  ["jetstream_memory_bytes", "gauge", "memoryBytes", "Bytes JetStream holds in memory storage."],
  ["jetstream_storage_bytes", "gauge", "storageBytes", "Bytes JetStream holds in file storage."],
  [
    "jetstream_max_memory_bytes",
    "gauge",
    "maxMemoryBytes",
    "JetStream memory storage limit.",
  ],
  [
    "jetstream_max_storage_bytes",
    "gauge",
    "maxStorageBytes",
    "JetStream file storage limit.",
  ],
  ["jetstream_api_requests_total", "counter", "apiTotal", "JetStream API requests since start."],
  ["jetstream_api_errors_total", "counter", "apiErrors", "JetStream API requests that failed."],
  [
    "jetstream_monitor_truncated",
    "gauge",
    "truncated",
    "Streams and consumers left out of these metrics past the exporter's bounds.",
  ],
];

const STREAM_METRICS: readonly [
  string,
  keyof Omit<JszSnapshot["streams"][number], "account" | "name">,
  string,
][] = [
  ["jetstream_stream_messages", "messages", "Messages stored in the stream."],
  ["jetstream_stream_bytes", "bytes", "Bytes stored in the stream."],
  ["jetstream_stream_first_seq", "firstSeq", "Sequence of the stream's oldest message."],
  ["jetstream_stream_last_seq", "lastSeq", "Sequence of the stream's newest message."],
  ["jetstream_stream_consumer_count", "consumerCount", "Consumers of the stream."],
];

const CONSUMER_METRICS: readonly [
  string,
  keyof Omit<JszSnapshot["consumers"][number], "account" | "stream" | "name">,
  string,
][] = [
  [
    "jetstream_consumer_num_pending",
    "numPending",
    "Messages in the stream not yet delivered to the consumer (its backlog).",
  ],
  [
    "jetstream_consumer_num_ack_pending",
    "numAckPending",
    "Messages delivered to the consumer and not yet acknowledged.",
  ],
  [
    "jetstream_consumer_num_redelivered",
    "numRedelivered",
    "Messages delivered to the consumer more than once.",
  ],
  ["jetstream_consumer_num_waiting", "numWaiting", "Pull requests waiting at the consumer."],
  [
    "jetstream_consumer_delivered_stream_seq",
    "deliveredStreamSeq",
    "Stream sequence of the last message delivered to the consumer.",
  ],
  [
    "jetstream_consumer_ack_floor_stream_seq",
    "ackFloorStreamSeq",
    "Stream sequence up to which the consumer acknowledged everything.",
  ],
];

/** Options of {@link NatsMonitorExporter}. */
export interface NatsMonitorExporterOptions {
  /** Monitoring base URL, `http://host:port` (no path). */
  readonly url: string;
  /** Milliseconds between the end of one poll and the start of the next. */
  readonly pollMs: number;
  /** Timeout of each HTTP request, ms. */
  readonly timeoutMs: number;
  /** The registry the metrics join. */
  readonly registry: MetricRegistry;
  /** Told of the first failed poll after a good one (or at start), for logging. */
  readonly onFailure?: (error: unknown) => void;
  /** Told of each good poll after a failed one. */
  readonly onRecovery?: () => void;
}

/** Polls a nats-server's monitoring port and exports what it read. */
export class NatsMonitorExporter {
  readonly #base: string;
  readonly #timeoutMs: number;
  readonly #onFailure: (error: unknown) => void;
  readonly #onRecovery: () => void;
  #snapshot: Snapshot | null = null;
  #failing = false;
  readonly #loop: PollLoop;

  /**
   * Registers the metrics (`nats_server_up` at 0 until the first good poll).
   *
   * @throws {RangeError} when `pollMs` or `timeoutMs` is not positive
   * @throws {TypeError} when `url` is not an http URL without a path
   * @throws {Error} when the registry already holds one of the names
   */
  constructor(options: NatsMonitorExporterOptions) {
    if (!(options.pollMs > 0) || !(options.timeoutMs > 0)) {
      throw new RangeError("Cannot create NATS monitor exporter: pollMs and timeoutMs must be > 0");
    }
    const url = URL.parse(options.url);
    if (url === null || url.protocol !== "http:" || (url.pathname !== "/" && url.pathname !== "")) {
      throw new TypeError(
        `Cannot create NATS monitor exporter: ${
          JSON.stringify(options.url)
        } is not "http://host:port"`,
      );
    }
    this.#base = url.origin;
    this.#timeoutMs = options.timeoutMs;
    this.#onFailure = options.onFailure ?? (() => {});
    this.#onRecovery = options.onRecovery ?? (() => {});
    this.#loop = new PollLoop(options.pollMs, () => this.pollOnce());
    this.#register(options.registry);
  }

  /** Whether the last poll succeeded. */
  get up(): boolean {
    return this.#snapshot !== null;
  }

  /** Polls at once, then every `pollMs` after the previous poll ends, until {@link stop}. */
  start(): void {
    this.#loop.start();
  }

  /** Stops the timer and aborts a poll in flight; resolves once it has ended. */
  async stop(): Promise<void> {
    await this.#loop.stop();
  }

  /**
   * One poll of `/varz` and `/jsz`.
   *
   * @returns true when both were read (the metrics now show them)
   */
  async pollOnce(): Promise<boolean> {
    try {
      const [varz, jsz] = await Promise.all([
        this.#fetchJson("/varz"),
        this.#fetchJson("/jsz?streams=true&consumers=true"),
      ]);
      this.#snapshot = { varz: parseVarz(varz), jsz: parseJsz(jsz) };
      if (this.#failing) this.#onRecovery();
      this.#failing = false;
      return true;
    } catch (error) {
      this.#snapshot = null;
      if (this.#loop.signal.aborted) return false;
      // Only the first failure of a run is reported: a server down for hours logs once.
      if (!this.#failing) this.#onFailure(error);
      this.#failing = true;
      return false;
    }
  }

  async #fetchJson(path: string): Promise<unknown> {
    const url = `${this.#base}${path}`;
    const signal = AbortSignal.any([this.#loop.signal, AbortSignal.timeout(this.#timeoutMs)]);
    let response: Response;
    try {
      response = await fetch(url, { signal });
    } catch (error) {
      throw new Error(`Cannot poll ${url}: ${describeFetchError(error)}`, { cause: error });
    }
    if (!response.ok) {
      await response.body?.cancel();
      throw new Error(`Cannot poll ${url}: HTTP ${response.status}`);
    }
    const text = await readCapped(response, url);
    try {
      return JSON.parse(text);
    } catch (error) {
      throw new SyntaxError(`Cannot poll ${url}: the body is not JSON`, { cause: error });
    }
  }

  #register(registry: MetricRegistry): void {
    const current = () => this.#snapshot;
    registry.registerMetric({
      name: "nats_server_up",
      help: "1 when the last poll of the NATS server's monitoring port succeeded, else 0.",
      type: "gauge",
      get: () => ({ values: [{ labels: {}, value: this.#snapshot === null ? 0 : 1 }] }),
      reset: () => {},
    });
    registry.registerMetric(
      new SnapshotMetric(
        "nats_server_info",
        "gauge",
        "Always 1; the server's name and version as labels.",
        current,
        ({ varz }) => [{ labels: { server: varz.serverName, version: varz.version }, value: 1 }],
      ),
    );
    for (const [name, type, field, help] of SERVER_METRICS) {
      registry.registerMetric(
        new SnapshotMetric(name, type, help, current, ({ varz }) => [
          { labels: { server: varz.serverName }, value: varz[field] },
        ]),
      );
    }
    for (const [name, type, field, help] of JETSTREAM_METRICS) {
      registry.registerMetric(
        new SnapshotMetric(name, type, help, current, ({ varz, jsz }) => [
          { labels: { server: varz.serverName }, value: jsz[field] },
        ]),
      );
    }
    for (const [name, field, help] of STREAM_METRICS) {
      registry.registerMetric(
        new SnapshotMetric(
          name,
          "gauge",
          help,
          current,
          ({ varz, jsz }) =>
            jsz.streams.map((stream) => ({
              labels: { server: varz.serverName, account: stream.account, stream: stream.name },
              value: stream[field],
            })),
        ),
      );
    }
    for (const [name, field, help] of CONSUMER_METRICS) {
      registry.registerMetric(
        new SnapshotMetric(
          name,
          "gauge",
          help,
          current,
          ({ varz, jsz }) =>
            jsz.consumers.map((consumer) => ({
              labels: {
                server: varz.serverName,
                account: consumer.account,
                stream: consumer.stream,
                consumer: consumer.name,
              },
              value: consumer[field],
            })),
        ),
      );
    }
  }
}

/** Reads a body up to {@link MAX_MONITOR_BODY_BYTES}, refusing a larger one. */
async function readCapped(response: Response, url: string): Promise<string> {
  const declared = Number(response.headers.get("content-length") ?? NaN);
  if (declared > MAX_MONITOR_BODY_BYTES) {
    await response.body?.cancel();
    throw new RangeError(`Cannot poll ${url}: body of ${declared} bytes exceeds the cap`);
  }
  const reader = response.body?.getReader();
  if (reader === undefined) return "";
  const chunks: Uint8Array[] = [];
  let total = 0;
  while (true) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > MAX_MONITOR_BODY_BYTES) {
      await reader.cancel();
      throw new RangeError(
        `Cannot poll ${url}: body exceeds the cap of ${MAX_MONITOR_BODY_BYTES} bytes`,
      );
    }
    chunks.push(value);
  }
  const body = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    body.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return new TextDecoder().decode(body);
}

function describeFetchError(error: unknown): string {
  if (error instanceof DOMException && error.name === "TimeoutError") return "timed out";
  if (error instanceof DOMException && error.name === "AbortError") return "aborted";
  if (error instanceof Deno.errors.NotCapable) return "network access denied (--allow-net)";
  const cause = error instanceof Error && error.cause instanceof Error ? error.cause : error;
  return cause instanceof Error ? cause.message : String(cause);
}
