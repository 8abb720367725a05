/**
 * The parts of nats-server's monitoring endpoints (`/varz`, `/jsz?streams=true&consumers=true`,
 * JSON on the `http:` port) that the `nats_server_*` and `jetstream_*` metrics export, read from
 * untrusted JSON into typed snapshots. Field names are the server's (2.9 and later).
 *
 * Bounds: at most {@link MAX_STREAMS} streams and {@link MAX_CONSUMERS} consumers are kept (the
 * rest are counted in `truncated`), so a server with thousands of streams cannot blow up the
 * scrape; names longer than {@link MAX_NAME_CHARS} are refused.
 *
 * @module
 */

/** Most streams one snapshot keeps. */
export const MAX_STREAMS = 256;
/** Most consumers one snapshot keeps (over all streams). */
export const MAX_CONSUMERS = 1024;
/** Longest stream, consumer, account or server name accepted (JetStream allows 255). */
export const MAX_NAME_CHARS = 255;

/** What `/varz` says about the server. */
export interface VarzSnapshot {
  /** `server_name`. */
  readonly serverName: string;
  /** `version`, e.g. `2.9.10`. */
  readonly version: string;
  /** Seconds between `start` and `now`. */
  readonly uptimeSeconds: number;
  /** Open client connections. */
  readonly connections: number;
  /** Client connections accepted since start. */
  readonly totalConnections: number;
  readonly subscriptions: number;
  /** Slow consumers since start. */
  readonly slowConsumers: number;
  readonly inMsgs: number;
  readonly outMsgs: number;
  readonly inBytes: number;
  readonly outBytes: number;
  /** Resident memory of the server process, bytes. */
  readonly memBytes: number;
  /** CPU use of the server process, percent of one core. */
  readonly cpuPercent: number;
  /** Leaf node connections. */
  readonly leafnodes: number;
  /** Cluster routes. */
  readonly routes: number;
}

/** One stream of `/jsz`. */
export interface StreamSnapshot {
  readonly account: string;
  readonly name: string;
  readonly messages: number;
  readonly bytes: number;
  readonly firstSeq: number;
  readonly lastSeq: number;
  readonly consumerCount: number;
}

/** One consumer of `/jsz`. */
export interface ConsumerSnapshot {
  readonly account: string;
  readonly stream: string;
  readonly name: string;
  /** Messages in the stream not yet delivered to the consumer. */
  readonly numPending: number;
  /** Delivered, not yet acknowledged. */
  readonly numAckPending: number;
  readonly numRedelivered: number;
  /** Pull requests waiting. */
  readonly numWaiting: number;
  /** Stream sequence of the last delivered message. */
  readonly deliveredStreamSeq: number;
  /** Stream sequence below which everything is acknowledged. */
  readonly ackFloorStreamSeq: number;
}

/** What `/jsz?streams=true&consumers=true` says. */
export interface JszSnapshot {
  /** Bytes held in memory storage. */
  readonly memoryBytes: number;
  /** Bytes held in file storage. */
  readonly storageBytes: number;
  /** Configured limit of memory storage, bytes. */
  readonly maxMemoryBytes: number;
  /** Configured limit of file storage, bytes. */
  readonly maxStorageBytes: number;
  /** JetStream API requests since start. */
  readonly apiTotal: number;
  /** JetStream API requests that failed since start. */
  readonly apiErrors: number;
  readonly streams: readonly StreamSnapshot[];
  readonly consumers: readonly ConsumerSnapshot[];
  /** Streams and consumers left out past the bounds. */
  readonly truncated: number;
}

type Json = Record<string, unknown>;

function record(value: unknown, where: string): Json {
  if (typeof value === "object" && value !== null && !Array.isArray(value)) return value as Json;
  throw new SyntaxError(`Cannot read NATS monitoring JSON: ${where} is not an object`);
}

function count(object: Json, key: string, where: string): number {
  const value = object[key];
  if (typeof value === "number" && Number.isFinite(value) && value >= 0) return value;
  throw new SyntaxError(
    `Cannot read NATS monitoring JSON: ${where}.${key} is not a non-negative number`,
  );
}

function optionalCount(object: Json, key: string, where: string): number {
  return object[key] === undefined ? 0 : count(object, key, where);
}

function name(object: Json, key: string, where: string): string {
  const value = object[key];
  if (typeof value === "string" && value.length > 0 && value.length <= MAX_NAME_CHARS) {
    return value;
  }
  throw new SyntaxError(
    `Cannot read NATS monitoring JSON: ${where}.${key} is not a name of 1 to ${MAX_NAME_CHARS} characters`,
  );
}

function array(object: Json, key: string, where: string): unknown[] {
  const value = object[key];
  if (value === undefined || value === null) return [];
  if (Array.isArray(value)) return value;
  throw new SyntaxError(`Cannot read NATS monitoring JSON: ${where}.${key} is not an array`);
}

/**
 * Reads `/varz`.
 *
 * @throws {SyntaxError} naming the field, when the JSON lacks a field or has the wrong type
 */
export function parseVarz(json: unknown): VarzSnapshot {
  const varz = record(json, "varz");
  const startMs = Date.parse(String(varz.start));
  const nowMs = Date.parse(String(varz.now));
  if (!Number.isFinite(startMs) || !Number.isFinite(nowMs)) {
    throw new SyntaxError("Cannot read NATS monitoring JSON: varz.start or varz.now is not a time");
  }
  return {
    serverName: name(varz, "server_name", "varz"),
    version: name(varz, "version", "varz"),
    uptimeSeconds: Math.max(0, (nowMs - startMs) / 1000),
    connections: count(varz, "connections", "varz"),
    totalConnections: count(varz, "total_connections", "varz"),
    subscriptions: count(varz, "subscriptions", "varz"),
    slowConsumers: count(varz, "slow_consumers", "varz"),
    inMsgs: count(varz, "in_msgs", "varz"),
    outMsgs: count(varz, "out_msgs", "varz"),
    inBytes: count(varz, "in_bytes", "varz"),
    outBytes: count(varz, "out_bytes", "varz"),
    memBytes: count(varz, "mem", "varz"),
    cpuPercent: count(varz, "cpu", "varz"),
    leafnodes: optionalCount(varz, "leafnodes", "varz"),
    routes: optionalCount(varz, "routes", "varz"),
  };
}

/**
 * Reads `/jsz?streams=true&consumers=true`, keeping at most {@link MAX_STREAMS} streams and
 * {@link MAX_CONSUMERS} consumers.
 *
 * @throws {SyntaxError} naming the field, when the JSON lacks a field or has the wrong type
 */
export function parseJsz(json: unknown): JszSnapshot {
  const jsz = record(json, "jsz");
  const config = record(jsz.config ?? {}, "jsz.config");
  const api = record(jsz.api ?? {}, "jsz.api");
  const streams: StreamSnapshot[] = [];
  const consumers: ConsumerSnapshot[] = [];
  let truncated = 0;
  for (const [a, accountValue] of array(jsz, "account_details", "jsz").entries()) {
    const where = `jsz.account_details[${a}]`;
    const accountDetail = record(accountValue, where);
    const account = name(accountDetail, "name", where);
    for (const [s, streamValue] of array(accountDetail, "stream_detail", where).entries()) {
      const streamWhere = `${where}.stream_detail[${s}]`;
      const detail = record(streamValue, streamWhere);
      const stream = name(detail, "name", streamWhere);
      const state = record(detail.state, `${streamWhere}.state`);
      const consumerValues = array(detail, "consumer_detail", streamWhere);
      if (streams.length >= MAX_STREAMS) {
        truncated += 1 + consumerValues.length;
        continue;
      }
      streams.push({
        account,
        name: stream,
        messages: count(state, "messages", `${streamWhere}.state`),
        bytes: count(state, "bytes", `${streamWhere}.state`),
        firstSeq: count(state, "first_seq", `${streamWhere}.state`),
        lastSeq: count(state, "last_seq", `${streamWhere}.state`),
        consumerCount: optionalCount(state, "consumer_count", `${streamWhere}.state`),
      });
      for (const [c, consumerValue] of consumerValues.entries()) {
        if (consumers.length >= MAX_CONSUMERS) {
          truncated++;
          continue;
        }
        const consumerWhere = `${streamWhere}.consumer_detail[${c}]`;
        const consumer = record(consumerValue, consumerWhere);
        const delivered = record(consumer.delivered ?? {}, `${consumerWhere}.delivered`);
        const ackFloor = record(consumer.ack_floor ?? {}, `${consumerWhere}.ack_floor`);
        consumers.push({
          account,
          stream,
          name: name(consumer, "name", consumerWhere),
          numPending: count(consumer, "num_pending", consumerWhere),
          numAckPending: optionalCount(consumer, "num_ack_pending", consumerWhere),
          numRedelivered: optionalCount(consumer, "num_redelivered", consumerWhere),
          numWaiting: optionalCount(consumer, "num_waiting", consumerWhere),
          deliveredStreamSeq: optionalCount(delivered, "stream_seq", `${consumerWhere}.delivered`),
          ackFloorStreamSeq: optionalCount(ackFloor, "stream_seq", `${consumerWhere}.ack_floor`),
        });
      }
    }
  }
  return {
    memoryBytes: count(jsz, "memory", "jsz"),
    storageBytes: count(jsz, "storage", "jsz"),
    maxMemoryBytes: optionalCount(config, "max_memory", "jsz.config"),
    maxStorageBytes: optionalCount(config, "max_storage", "jsz.config"),
    apiTotal: optionalCount(api, "total", "jsz.api"),
    apiErrors: optionalCount(api, "errors", "jsz.api"),
    streams,
    consumers,
    truncated,
  };
}
