/**
 * The validated configuration types. Written out (rather than `z.infer`) so the public API has
 * explicit types; each schema file proves at compile time that its schema's output is
 * identical to the type here, so the two cannot drift.
 */
import type { Network } from "../bitcoin/address.ts";
import type { EventType } from "../events/event_type.ts";

/** One bitcoind node (`btcd[]`). */
export interface BtcdConfig {
  /** JSON-RPC address, "host:port" or "http://host:port". */
  url: string;
  /** RPC user name. */
  auth: string;
  /** RPC password. */
  pass: string;
  /** The node announces new blocks (ZMQ/blocknotify), so polling is only a fallback. */
  notify: boolean;
}

/** `redis` / `redis` sections: a Redis server. */
export interface RedisConfig {
  /** `redis://[user:password@]host[:port][/db]` or `rediss://…`. */
  url: string;
}

/** `health`: a separate listener for GET /health. */
export interface HealthConfig {
  /** Bind address. */
  host: string;
  /** Port (0: the kernel chooses). */
  port: number;
}

/** `events`: emission to NATS JetStream. */
export interface EventsConfig {
  /** Emit events. */
  enabled: boolean;
  /** ckpool's event socket; accepted and unused (events go to NATS). */
  socket_path?: string | undefined;
  /** NATS server(s), comma-separated. */
  nats_url: string;
  /** Subject prefix; `mining.events.<region>` when unset (see `eventsSubjectPrefix`). */
  nats_subject?: string | undefined;
  /** Event types to emit. */
  include: EventType[];
  /** Spool directory while NATS is unreachable (one process each); `<logdir>/spool` when unset. */
  spool_dir?: string | undefined;
  /** Events held in memory while NATS is unreachable. */
  buffer_size: number;
}

/** `vardiff`: variable difficulty. */
export interface VardiffConfig {
  /** Seconds between shares aimed for. */
  target_share_interval: number;
  /** Seconds between re-evaluations. */
  retarget_interval: number;
  /** EMA weight in (0, 1]. */
  ema_alpha: number;
  /** Fraction of the change applied, in (0, 1]. */
  dampening: number;
  /** Percent deviation tolerated, in [0, 100). */
  dead_band_percent: number;
  /** Seconds a worker's difficulty is remembered for its reconnect. */
  reconnect_memory_ttl: number;
}

/** `metrics`: the Prometheus listener. */
export interface MetricsConfig {
  /** Serve /metrics. */
  enabled: boolean;
  /** Bind address. */
  host: string;
  /** Port (0: the kernel chooses). */
  port: number;
  /** HTTP path. */
  path: string;
  /** Most open connections (metrics and health listeners each). */
  max_connections: number;
  /** Milliseconds to receive a request head. */
  header_timeout_ms: number;
  /** Milliseconds a kept-alive connection may wait for its next request. */
  idle_timeout_ms: number;
}

/** `rate_limits`: per-IP and per-connection limits. */
export interface RateLimitsConfig {
  /** New connections per IP per minute. */
  connections_per_ip_per_minute: number;
  /** Concurrent connections per IP. */
  max_connections_per_ip: number;
  /** Bits of an IPv4 address that make one "IP" for the per-IP limits. */
  ipv4_prefix_length: number;
  /** Bits of an IPv6 address that make one "IP" for the per-IP limits. */
  ipv6_prefix_length: number;
  /** mining.subscribe per connection per minute. */
  max_subscribes_per_minute: number;
  /** mining.authorize per connection per minute. */
  max_authorizes_per_minute: number;
  /** mining.submit per connection per minute before a soft-ban. */
  max_shares_per_minute: number;
  /** Soft-ban length in seconds. */
  submit_ban_seconds: number;
  /** Invalid shares per connection per minute before disconnect. */
  max_invalid_shares_per_minute: number;
  /** Lines of any kind per connection per minute before disconnect; unset: 2 × max_shares_per_minute. */
  max_requests_per_minute?: number | undefined;
  /** Requests answered with a protocol error per connection per minute before disconnect. */
  max_invalid_requests_per_minute: number;
  /** mining.configure per connection per minute before disconnect. */
  max_configures_per_minute: number;
  /** mining.suggest_difficulty per connection per minute before disconnect. */
  max_suggest_difficulty_per_minute: number;
}

/** `tls`: certificate and handshake limits of the Stratum-over-TLS listeners. */
export interface TlsConfig {
  /** PEM certificate chain, leaf first; re-read on SIGHUP. */
  cert_file: string;
  /** PEM private key of `cert_file`; re-read on SIGHUP. */
  key_file: string;
  /** Milliseconds a connection has to finish its TLS handshake. */
  handshake_timeout_ms: number;
  /** TLS handshakes in progress at once, over all TLS listeners. */
  max_handshakes: number;
}

/** Keys shared by the stratum and relay configs (ckpool's keys plus TheBitcoinGame's). */
export interface EngineConfig {
  /** bitcoind nodes, first preferred; at least one. */
  btcd: BtcdConfig[];
  /** Network; learned from bitcoind at start when unset. */
  network?: Network | undefined;
  /** Operator address for the donation output. */
  btcaddress?: string | undefined;
  /** Coinbase tag, printable ASCII, ≤ 73 characters. */
  btcsig: string;
  /** Milliseconds between tip polls. */
  blockpoll: number;
  /** Milliseconds between bitcoind mempool/peer polls for the node metrics; 0: off. */
  node_stats_poll_ms: number;
  /** Operator fee in percent (0–100). */
  donation: number;
  /** Seconds between template refreshes. */
  update_interval: number;
  /** Stratum listen addresses ("host:port"). */
  serverurl: string[];
  /** Stratum-over-TLS listen addresses ("host:port"); empty when there are none. */
  serverurl_tls: string[];
  /** TLS certificate and limits; set exactly when `serverurl_tls` is not empty. */
  tls?: TlsConfig | undefined;
  /** Lowest share difficulty (may be fractional). */
  mindiff: number;
  /** Starting share difficulty. */
  startdiff: number;
  /** Highest share difficulty; 0 = none. */
  maxdiff: number;
  /** Version-rolling mask, 8 hex digits. */
  version_mask: string;
  /** extranonce1 bytes (2–8). */
  nonce1length: number;
  /** extranonce2 bytes (2–8). */
  nonce2length: number;
  /** bitcoind ZMQ hashblock endpoint "tcp://host:port". */
  zmqblock?: string | undefined;
  /** BIP22 long polling when the node offers it. */
  longpoll: boolean;
  /** Most concurrent connections. */
  maxclients: number;
  /** Descriptors kept free under RLIMIT_NOFILE for everything but miner connections. */
  open_files_reserve: number;
  /** Seconds an authorized connection may stay silent before it is closed; 0: never. */
  dropidle: number;
  /** One memory-reducing GC once a burst of new connections is over (at most once a minute). */
  gc_after_connection_burst: boolean;
  /** Bind serverurl with SO_REUSEPORT (several processes on one port, Linux). */
  reuse_port: boolean;
  /** Milliseconds a drain spreads client.reconnect over; 0: every miner at once. */
  drain_reconnect_window_ms: number;
  /** Log directory; stderr only when unset. */
  logdir?: string | undefined;
  /** Where found blocks are kept; `<logdir>/blocks` (or `./.tbg/blocks`) when unset. */
  blocks_dir?: string | undefined;
  /** Seconds an undelivered found block is re-submitted; 0: once. */
  block_retry_s: number;
  /** Redis for vardiff reconnect memory; in memory when unset. */
  redis?: RedisConfig | undefined;
  /** Separate health listener; on the metrics listener when unset. */
  health?: HealthConfig | undefined;
  /** Event emission. */
  events: EventsConfig;
  /** Variable difficulty. */
  vardiff: VardiffConfig;
  /** Prometheus endpoint. */
  metrics: MetricsConfig;
  /** Rate limits. */
  rate_limits: RateLimitsConfig;
  /** Region slug ([a-z0-9-], 1–32). */
  region: string;
  /** First byte of every extranonce1: 0 for the primary region, 1–255 for relay regions. */
  region_index: number;
}

/** `templates`: the primary's template distribution to relays. */
export interface TemplatesConfig {
  /** Publish templates and heartbeats for relays and submit the blocks they send. */
  publish: boolean;
  /** Milliseconds between heartbeats. */
  heartbeat_ms: number;
  /** Relay auth tokens a block submission must carry one of; none required when unset. */
  relay_auth_tokens?: string[] | undefined;
}

/** A validated `tbg-stratum` config, defaults filled in. */
export interface StratumConfig extends EngineConfig {
  /** Template distribution to relays (the primary region's role). */
  templates: TemplatesConfig;
}

/** `primary`: how a relay reaches the primary region (over NATS). */
export interface PrimaryConfig {
  /** Host of the NATS server carrying templates, heartbeats and block submissions. */
  host: string;
  /** That NATS server's client port. */
  port: number;
  /** Shared secret sent with every block submission request. */
  auth_token: string;
  /** ckpool's template push port; accepted and unused (templates arrive over NATS). */
  template_push_port?: number | undefined;
  /** Seconds between reconnect attempts. */
  reconnect_interval: number;
  /** The primary's region (its heartbeat subject). */
  region: string;
  /** JetStream domain of the hub when the NATS server is a leaf with its own domain. */
  jetstream_domain?: string | undefined;
}

/** A validated `tbg-relay` config, defaults filled in. */
export interface RelayConfig extends EngineConfig {
  /** Only "passthrough". */
  mode: "passthrough";
  /** The primary region. */
  primary: PrimaryConfig;
  /** Milliseconds without the primary before independent mode. */
  independent_after_ms: number;
}

/** `postgres`: the event store. */
export interface PostgresConfig {
  /** `postgres://user:password@host[:port]/database`. */
  url: string;
}

/** `batch`: database write batching. */
export interface BatchConfig {
  /** Most events per batch. */
  max_events: number;
  /** Milliseconds a partial batch waits. */
  max_wait_ms: number;
  /** Most milliseconds between summary folds while batches queue. */
  summary_fold_ms: number;
}

/** `nats_monitor`: the hub nats-server's monitoring port, exported by the collector. */
export interface NatsMonitorConfig {
  /** `http://host:port` (or `host:port`) of the server's monitoring listener. */
  url: string;
  /** Milliseconds between polls. */
  poll_ms: number;
  /** Milliseconds each request may take. */
  timeout_ms: number;
}

/** A validated `tbg-collector` config, defaults filled in. */
export interface CollectorConfig {
  /** NATS server(s) of the hub. */
  nats_url: string;
  /** Only this region's events; all when unset. */
  region_filter?: string | undefined;
  /** PostgreSQL. */
  postgres: PostgresConfig;
  /** Redis. */
  redis: RedisConfig;
  /** Write batching. */
  batch: BatchConfig;
  /** JetStream stream name. */
  stream: string;
  /** Durable consumer name. */
  durable: string;
  /** Prometheus endpoint (also /health). */
  metrics: MetricsConfig;
  /** NATS server monitoring exported as metrics; off when unset. */
  nats_monitor?: NatsMonitorConfig | undefined;
  /** Apply migrations at start. */
  migrate_on_start: boolean;
  /** Days of raw events kept in PostgreSQL (older daily partitions are dropped). */
  retention_days: number;
  /** Log directory; stderr only when unset. */
  logdir?: string | undefined;
}

/** True when A and B are the same type, not merely assignable to each other. */
export type Equals<A, B> = (<T>() => T extends A ? 1 : 2) extends (<T>() => T extends B ? 1 : 2)
  ? true
  : false;
