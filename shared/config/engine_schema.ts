/**
 * Keys shared by the Stratum services (stratum and relay): ckpool's JSON keys with ckpool's
 * defaults, plus the TheBitcoinGame sections (events, vardiff, metrics, rate limits, region).
 */
import type { z } from "zod";
import {
  anyString,
  arrayOf,
  boolean,
  defaultedSection,
  difficultyExpects,
  intInRange,
  nonEmptyString,
  nonNegativeNumber,
  numberInRange,
  oneOf,
  optional,
  port,
  positiveInt,
  positiveNumber,
  required,
  section,
  stringMatching,
  withDefault,
} from "./_fields.ts";
import {
  isValidHost,
  parseBtcdUrl,
  parseHostPort,
  parseNatsUrls,
  parseServiceUrl,
} from "./endpoint.ts";
import { checkAddressKeys } from "./address_check.ts";
import { MIN_NONCE1_LENGTH, PRIMARY_REGION_INDEX } from "./extranonce_space.ts";
import { Network } from "../bitcoin/address.ts";
import { ALL_EVENT_TYPES, type EventType } from "../events/event_type.ts";

/** Bitcoin networks a config may name: `shared/bitcoin`'s {@link Network} values. */
export const NETWORK_NAMES = Object.values(Network) as [Network, ...Network[]];

/** The event types `events.include` accepts: all nine kinds from `shared/events`. */
export const EVENT_TYPE_NAMES = ALL_EVENT_TYPES as readonly [EventType, ...EventType[]];

/**
 * Default `dropidle`: an hour. Vardiff halves an idle miner's difficulty after 2 minutes of
 * silence and faster after that, so within minutes a silent miner works at mindiff, and what
 * remains is its own share interval there. At mindiff 1 a 10 MH/s CPU miner (a share every
 * 430 s on average) stays silent for an hour about once in 600 hours, and then reconnects; ASIC
 * miners send shares every few seconds, and NerdMiner, the slowest common device, sends
 * suggest_difficulty every 30 s as a keepalive. What an hour of silence mostly finds is a
 * connection that is gone, or one held open on purpose.
 */
export const DEFAULT_DROPIDLE_SECONDS = 3600;

/** Default `block_retry_s`: a block stays worth submitting until another wins its height. */
export const DEFAULT_BLOCK_RETRY_SECONDS = 600;

/** Largest `block_retry_s`: a day, long after any rival block has won. */
const MAX_BLOCK_RETRY_SECONDS = 86_400;

/** Largest `drain_reconnect_window_ms`: five minutes. */
export const MAX_DRAIN_RECONNECT_WINDOW_MS = 300_000;

/** Largest `dropidle`: a week. */
export const MAX_DROPIDLE_SECONDS = 7 * 86_400;

/** The largest coinbase scriptSig consensus allows (bytes). */
export const COINBASE_SCRIPTSIG_MAX_BYTES = 100;

/** Longest `btcsig` coinbase tag (characters, printable ASCII, so also bytes). */
export const BTCSIG_MAX_CHARS = 73;

/**
 * Bytes the coinbase scriptSig takes at most for a tag and extranonce sizes, with the layout
 * the job builder uses: BIP34 height push (1 length byte + up to 4 bytes), tag push (1 + tag
 * bytes, none when the tag is empty), extranonce push (1 + nonce1length + nonce2length).
 */
export function coinbaseScriptSigBytes(
  btcsig: string,
  nonce1length: number,
  nonce2length: number,
): number {
  const heightPush = 5;
  const tagPush = btcsig.length === 0 ? 0 : 1 + btcsig.length;
  const extranoncePush = 1 + nonce1length + nonce2length;
  return heightPush + tagPush + extranoncePush;
}

/** True for a NATS subject made of literal tokens (no wildcards, no empty tokens). */
export function isLiteralNatsSubject(subject: string): boolean {
  return subject.split(".").every((token) => /^[A-Za-z0-9_-]+$/.test(token));
}

/** True for a region slug: safe as one NATS subject token. */
export function isRegionSlug(region: string): boolean {
  return /^[a-z0-9-]{1,32}$/.test(region);
}

/** A host name or IP address key. */
export function hostField(): z.ZodString {
  return stringMatching(isValidHost, "a host name or IP address");
}

/** A NATS server URL key. */
export function natsUrlField(): z.ZodString {
  return stringMatching(
    (value) => parseNatsUrls(value) !== undefined,
    `"nats://host:port" (several servers comma-separated)`,
    true,
  );
}

/** A Redis URL key. */
export function redisUrlField(): z.ZodString {
  return stringMatching(
    (value) => parseServiceUrl(value, { redis: 6379, rediss: 6379 }) !== undefined,
    `"redis://[user:password@]host[:port][/db]"`,
    true,
  );
}

function buildMetricsSection(defaultPort: number) {
  return defaultedSection({
    enabled: withDefault(boolean(), true, "Serve Prometheus metrics."),
    host: withDefault(
      hostField(),
      "127.0.0.1",
      "Address the metrics listener binds to; loopback unless set (give the address a remote Prometheus scrapes).",
    ),
    port: withDefault(
      port(true),
      defaultPort,
      "Port of the metrics listener (0 lets the kernel choose).",
    ),
    path: withDefault(
      stringMatching((value) => /^\/[\x21-\x7e]*$/.test(value), `a URL path starting with "/"`),
      "/metrics",
      "HTTP path of the Prometheus endpoint.",
    ),
    max_connections: withDefault(
      intInRange(1, 4096),
      64,
      "Most connections open at once on the metrics (and health) listener; the next is answered 503 and closed.",
    ),
    header_timeout_ms: withDefault(
      intInRange(100, 600_000),
      5_000,
      "Milliseconds a client has to send a request head, from connecting or from the request's first byte; then it is disconnected.",
    ),
    idle_timeout_ms: withDefault(
      intInRange(100, 3_600_000),
      15_000,
      "Milliseconds a kept-alive connection may wait for its next request before it is closed.",
    ),
  }, "Prometheus metrics endpoint (also serves /health unless a health listener is set).");
}

/** The `metrics` section schema; `defaultPort` differs per service. */
export function metricsSection(defaultPort: number): ReturnType<typeof buildMetricsSection> {
  return buildMetricsSection(defaultPort);
}

const btcdEntry = section({
  url: required(
    stringMatching(
      (value) => parseBtcdUrl(value) !== undefined,
      `"host:port" or "http://host:port"`,
    ),
    "bitcoind JSON-RPC address.",
  ),
  auth: required(anyString(), "bitcoind RPC user name."),
  pass: required(anyString(true), "bitcoind RPC password."),
  notify: withDefault(
    boolean(),
    false,
    "This node announces new blocks (ZMQ/blocknotify), so polling is only a fallback.",
  ),
});

/** Shape shared by the stratum and relay configs. */
export const engineShape = {
  btcd: required(
    arrayOf(btcdEntry, 1, `at least one bitcoind entry {"url", "auth", "pass", "notify"}`),
    "bitcoind nodes for templates and block submission, first is preferred.",
  ),
  network: optional(
    oneOf(NETWORK_NAMES),
    "Bitcoin network; when absent it is learned from bitcoind getblockchaininfo at start.",
    "from bitcoind",
  ),
  btcaddress: optional(
    nonEmptyString("a Bitcoin address"),
    "Pool operator address receiving the optional donation (operator fee) output.",
  ),
  btcsig: withDefault(
    stringMatching(
      (value) => value.length <= BTCSIG_MAX_CHARS && /^[\x20-\x7e]*$/.test(value),
      `printable ASCII of at most ${BTCSIG_MAX_CHARS} characters`,
    ),
    "/TheBitcoinGame/",
    "Coinbase tag written into every block's coinbase scriptSig.",
  ),
  blockpoll: withDefault(
    positiveInt(),
    100,
    "Milliseconds between getbestblockhash polls for a new tip (a fallback that runs even with ZMQ).",
  ),
  node_stats_poll_ms: withDefault(
    intInRange(0, 3_600_000),
    15_000,
    "Milliseconds between getmempoolinfo and getnetworkinfo polls of the active bitcoind (bitcoin_mempool_size, bitcoin_peer_count metrics); 0 turns them off.",
  ),
  donation: withDefault(
    numberInRange(0, 100),
    0,
    "Operator fee in percent of the block reward, paid to btcaddress (requires btcaddress).",
  ),
  update_interval: withDefault(
    positiveInt(),
    30,
    "Seconds between template refreshes (new transactions) when no block arrives.",
  ),
  serverurl: required(
    arrayOf(
      stringMatching((value) => parseHostPort(value, true) !== undefined, `"host:port"`),
      1,
      `at least one "host:port" listen address`,
    ),
    "Stratum listen addresses (port 0 lets the kernel choose).",
  ),
  serverurl_tls: withDefault(
    arrayOf(
      stringMatching((value) => parseHostPort(value, true) !== undefined, `"host:port"`),
      0,
      `a list of "host:port" listen addresses`,
    ),
    [],
    "Stratum-over-TLS listen addresses (stratum+tls://; port 0 lets the kernel choose), served by the same engine as serverurl; needs the tls section.",
    "none",
  ),
  tls: optional(
    section({
      cert_file: required(
        nonEmptyString("a file path"),
        "PEM certificate chain of the TLS listeners (leaf first); re-read on SIGHUP.",
      ),
      key_file: required(
        nonEmptyString("a file path"),
        "PEM private key (PKCS#8, RSA or EC) of cert_file; re-read on SIGHUP.",
      ),
      handshake_timeout_ms: withDefault(
        intInRange(100, 120_000),
        10_000,
        "Milliseconds a new TLS connection has to finish its handshake before it is closed.",
      ),
      max_handshakes: withDefault(
        intInRange(1, 65535),
        256,
        "TLS handshakes in progress at once (all TLS listeners); a connection beyond it is closed at once.",
      ),
    }),
    "Certificate and handshake limits of the serverurl_tls listeners (TLS 1.2/1.3, ECDHE with AEAD suites only). SIGHUP re-reads cert_file and key_file; connected miners stay; a pair that fails to load is logged and the old one kept.",
    "none (no TLS listener)",
  ),
  mindiff: withDefault(
    positiveNumber(difficultyExpects),
    1,
    "Lowest share difficulty vardiff may assign.",
  ),
  startdiff: withDefault(
    positiveNumber(difficultyExpects),
    42,
    "Share difficulty of a new connection.",
  ),
  maxdiff: withDefault(
    nonNegativeNumber("a number of at least 0 (0 means no maximum; fractions allowed)"),
    0,
    "Highest share difficulty vardiff may assign; 0 means no maximum.",
  ),
  version_mask: withDefault(
    stringMatching((value) => /^[0-9a-fA-F]{8}$/.test(value), `8 hex digits such as "1fffe000"`),
    "1fffe000",
    "Version bits miners may roll (BIP310 version-rolling mask).",
  ),
  nonce1length: withDefault(
    intInRange(MIN_NONCE1_LENGTH, 8),
    4,
    "Bytes of the per-connection extranonce1: the region index, the --instance index, then a per-connection counter.",
  ),
  nonce2length: withDefault(intInRange(2, 8), 8, "Bytes of the miner-rolled extranonce2."),
  zmqblock: optional(
    stringMatching(
      (value) => parseServiceUrl(value, { tcp: 0 }) !== undefined,
      `"tcp://host:port"`,
    ),
    "bitcoind ZMQ hashblock publisher for instant new-block notice (polling still runs as a fallback).",
  ),
  longpoll: withDefault(
    boolean(),
    true,
    "Use BIP22 long polling (getblocktemplate with the template's longpollid) when the node offers it, alongside ZMQ and polling: new work as soon as the node has it, also without ZMQ.",
  ),
  maxclients: withDefault(positiveInt(), 100000, "Most concurrent miner connections."),
  open_files_reserve: withDefault(
    intInRange(16, 1_000_000),
    200,
    "File descriptors kept free under the process's open-file limit (RLIMIT_NOFILE soft, passed by tools/launch.ts as --nofile-limit) for everything but miner connections: maxclients is lowered so miners never take the rest (a TLS miner counts 3).",
  ),
  dropidle: withDefault(
    intInRange(0, MAX_DROPIDLE_SECONDS),
    DEFAULT_DROPIDLE_SECONDS,
    "Seconds an authorized connection may send nothing (no share, no request; keepalives such as NerdMiner's suggest_difficulty count) before it is closed; 0 never closes (ckpool's key, whose default is 0).",
  ),
  gc_after_connection_burst: withDefault(
    boolean(),
    true,
    'After a burst of new connections (100 or more a second, 5,000 in all) is over, run one full memory-reducing garbage collection (at most once a minute) so the memory their handshakes grew is returned at once: a pause of a few hundred ms with 10,000 miners, logged as "memory reduced after a connection burst". Needs --expose-gc, which tools/launch.ts passes.',
  ),
  reuse_port: withDefault(
    boolean(),
    false,
    "Bind serverurl with SO_REUSEPORT so several processes share a port (Linux).",
  ),
  drain_reconnect_window_ms: withDefault(
    intInRange(0, MAX_DRAIN_RECONNECT_WINDOW_MS),
    0,
    "Milliseconds over which a draining process (SIGTERM: a stop, a rolling restart, tools/upgrade.ts) spreads client.reconnect across its miners, so the processes still on the port take them over as a ramp instead of one burst; 0 tells every miner at once. The drain then waits up to 10 s more for miners to leave: keep the unit's TimeoutStopSec above this plus 20 s.",
  ),
  logdir: optional(
    nonEmptyString("a directory path"),
    "Directory for log files; stderr only when absent.",
  ),
  blocks_dir: optional(
    nonEmptyString("a directory path"),
    "Directory where every found block is kept as hex (fsync'd before the submission can be lost), renamed .accepted/.rejected/.undelivered/.stale once its fate is known; a block still .pending at start is re-submitted if the chain has not moved past it.",
    "<logdir>/blocks, else ./.tbg/blocks",
  ),
  block_retry_s: withDefault(
    intInRange(0, MAX_BLOCK_RETRY_SECONDS),
    DEFAULT_BLOCK_RETRY_SECONDS,
    "Seconds a found block that no node could take (every node unreachable or timing out) keeps being re-submitted, with backoff from 1 s to 30 s; a verdict from any node ends it; 0 submits once.",
  ),
  redis: optional(
    section({ url: required(redisUrlField(), "Redis server URL.") }),
    "Redis for vardiff reconnect memory; kept in process memory when absent.",
  ),
  health: optional(
    section({
      host: withDefault(
        hostField(),
        "127.0.0.1",
        "Address the health listener binds to; loopback unless set (give the address GeoDNS checks reach). Uses the metrics section's connection cap and timeouts.",
      ),
      port: required(port(true), "Port of the health listener (0 lets the kernel choose)."),
    }),
    "Separate listener for GET /health; when absent /health is served on the metrics listener.",
    "on the metrics listener",
  ),
  events: defaultedSection({
    enabled: withDefault(boolean(), true, "Emit mining events to NATS."),
    socket_path: optional(
      nonEmptyString("a file path"),
      "Accepted for ckpool compatibility; unused (events go to NATS, not a Unix socket).",
    ),
    nats_url: withDefault(
      natsUrlField(),
      "nats://127.0.0.1:4222",
      "NATS server(s) events and templates are published to (the local leaf node in a region).",
    ),
    nats_subject: optional(
      stringMatching(
        isLiteralNatsSubject,
        'a NATS subject of literal tokens such as "mining.events.eu"',
      ),
      "Subject prefix; events go to <prefix>.<event_type>.",
      "mining.events.<region>",
    ),
    include: withDefault(
      arrayOf(oneOf(EVENT_TYPE_NAMES, "an event type:"), 0, "a list of event types"),
      [...EVENT_TYPE_NAMES],
      "Event types to emit.",
      "all nine",
    ),
    spool_dir: optional(
      nonEmptyString("a directory path"),
      "Directory where events are spooled (append-only, fsync'd) while NATS is unreachable; <logdir>/spool or ./.tbg/spool when absent. One process per directory (locked): give each reuse_port instance its own.",
    ),
    buffer_size: withDefault(
      positiveInt(),
      65536,
      "Events held in memory between the share path and the NATS publisher; when full, new events go to the spool.",
    ),
  }, "Event emission to NATS JetStream."),
  vardiff: defaultedSection({
    target_share_interval: withDefault(
      positiveNumber(),
      10,
      "Seconds between shares vardiff aims for.",
    ),
    retarget_interval: withDefault(
      positiveNumber(),
      30,
      "Seconds between difficulty re-evaluations.",
    ),
    ema_alpha: withDefault(
      numberInRange(0, 1, { minExclusive: true }),
      0.3,
      "Smoothing factor of the share-rate moving average.",
    ),
    dampening: withDefault(
      numberInRange(0, 1, { minExclusive: true }),
      0.5,
      "Fraction of the computed difficulty change applied per retarget.",
    ),
    dead_band_percent: withDefault(
      numberInRange(0, 100, { maxExclusive: true }),
      20,
      "Rate deviation (percent) inside which difficulty is left alone.",
    ),
    reconnect_memory_ttl: withDefault(
      positiveInt(),
      86400,
      "Seconds a worker's last difficulty is remembered for its reconnect.",
    ),
  }, "Variable difficulty."),
  metrics: metricsSection(9100),
  rate_limits: defaultedSection({
    connections_per_ip_per_minute: withDefault(
      intInRange(1, 65535),
      10,
      "New connections per IP per minute; more are refused.",
    ),
    max_connections_per_ip: withDefault(
      intInRange(1, 65535),
      50,
      "Concurrent connections per IP; more are refused.",
    ),
    ipv4_prefix_length: withDefault(
      intInRange(16, 32),
      32,
      "IPv4 peers sharing this many leading bits count as one IP for the per-IP limits (32: each address; IPv4-mapped IPv6 peers count as IPv4).",
    ),
    ipv6_prefix_length: withDefault(
      intInRange(48, 128),
      64,
      "IPv6 peers sharing this many leading bits count as one IP for the per-IP limits (a subscriber usually holds a /64 or /56, 2^64+ addresses).",
    ),
    max_subscribes_per_minute: withDefault(
      intInRange(1, 65535),
      3,
      "mining.subscribe per connection per minute; more disconnect.",
    ),
    max_authorizes_per_minute: withDefault(
      intInRange(1, 65535),
      5,
      "mining.authorize per connection per minute; more disconnect.",
    ),
    max_shares_per_minute: withDefault(
      intInRange(1, 65535),
      1000,
      "mining.submit per connection per minute; more soft-ban the connection.",
    ),
    submit_ban_seconds: withDefault(
      positiveInt(),
      300,
      "Length of the submit soft-ban in seconds.",
    ),
    max_invalid_shares_per_minute: withDefault(
      intInRange(1, 65535),
      100,
      "Invalid shares per connection per minute; more disconnect.",
    ),
    max_requests_per_minute: optional(
      intInRange(1, 65535),
      "Lines of any kind (every request, submits refused by the soft-ban included) per connection per minute; more disconnect. At least max_shares_per_minute.",
      "2 × max_shares_per_minute (at most 65535)",
    ),
    max_invalid_requests_per_minute: withDefault(
      intInRange(1, 65535),
      100,
      "Requests answered with a protocol error (malformed, unknown method, submit for a worker not authorized on the connection) per connection per minute; more disconnect.",
    ),
    max_configures_per_minute: withDefault(
      intInRange(1, 65535),
      10,
      "mining.configure per connection per minute; more disconnect (miners send one per connection).",
    ),
    max_suggest_difficulty_per_minute: withDefault(
      intInRange(1, 65535),
      10,
      "mining.suggest_difficulty per connection per minute; more disconnect (NerdMiner sends one every 30 s).",
    ),
  }, "Per-IP and per-connection rate limits."),
  region: withDefault(
    stringMatching(isRegionSlug, "a slug of 1 to 32 characters from [a-z0-9-]"),
    "eu",
    "Region name, used in NATS subjects and metrics labels.",
  ),
  region_index: withDefault(
    intInRange(0, 255),
    PRIMARY_REGION_INDEX,
    "This region's extranonce1 space: the first byte of every extranonce1 (before the --instance byte). 0 is the primary region's; each relay region has its own from 1 to 255.",
  ),
};

/** The keys {@link checkEngine} reads; both engine configs have them. */
export interface EngineCrossFields {
  serverurl_tls: string[];
  tls?: unknown;
  btcaddress?: string | undefined;
  network?: Network | undefined;
  btcsig: string;
  donation: number;
  mindiff: number;
  startdiff: number;
  maxdiff: number;
  nonce1length: number;
  nonce2length: number;
  /** The limits whose order matters; absent in fixtures that test other rules. */
  rate_limits?:
    | { max_requests_per_minute?: number | undefined; max_shares_per_minute: number }
    | undefined;
}

/** Adds one issue to a zod refinement context. */
export type AddIssue = (path: (string | number)[], message: string, input: unknown) => void;

/** Wraps a zod refinement context as an {@link AddIssue}. */
export function issueAdder(ctx: z.RefinementCtx): AddIssue {
  return (path, message, input) => ctx.addIssue({ code: "custom", path, message, input });
}

/**
 * Rules spanning several keys: TLS listeners and the tls section come together, difficulty
 * order, donation needs an address, the coinbase scriptSig fits consensus' 100 bytes, the
 * operator address decodes and is on the network, and the per-connection line budget leaves room
 * for the submit limit.
 */
export function checkEngine(config: EngineCrossFields, addIssue: AddIssue): void {
  if (config.startdiff < config.mindiff) {
    addIssue(
      ["startdiff"],
      `expected at least mindiff (${config.mindiff}), got ${config.startdiff}`,
      config.startdiff,
    );
  }
  if (config.maxdiff > 0 && config.maxdiff < config.startdiff) {
    addIssue(
      ["maxdiff"],
      `expected 0 (no maximum) or at least startdiff (${config.startdiff}), got ${config.maxdiff}`,
      config.maxdiff,
    );
  }
  if (config.donation > 0 && config.btcaddress === undefined) {
    addIssue(
      ["btcaddress"],
      `is required when donation is above 0 (donation is ${config.donation})`,
      undefined,
    );
  }
  const scriptSigBytes = coinbaseScriptSigBytes(
    config.btcsig,
    config.nonce1length,
    config.nonce2length,
  );
  if (scriptSigBytes > COINBASE_SCRIPTSIG_MAX_BYTES) {
    addIssue(
      ["btcsig"],
      `coinbase scriptSig would need ${scriptSigBytes} bytes (height 5 + tag ${
        config.btcsig.length + 1
      } + extranonces ${
        1 + config.nonce1length + config.nonce2length
      }), more than the ${COINBASE_SCRIPTSIG_MAX_BYTES} consensus allows; shorten btcsig or the nonce lengths`,
      config.btcsig,
    );
  }
  if (config.serverurl_tls.length > 0 && config.tls === undefined) {
    addIssue(
      ["tls"],
      `is required when serverurl_tls lists a listener: {"cert_file": "<PEM path>", "key_file": "<PEM path>"}`,
      undefined,
    );
  }
  if (config.serverurl_tls.length === 0 && config.tls !== undefined) {
    addIssue(
      ["serverurl_tls"],
      `expected at least one "host:port" when the tls section is set, got none`,
      config.serverurl_tls,
    );
  }
  const limits = config.rate_limits;
  if (
    limits?.max_requests_per_minute !== undefined &&
    limits.max_requests_per_minute < limits.max_shares_per_minute
  ) {
    addIssue(
      ["rate_limits", "max_requests_per_minute"],
      `expected at least max_shares_per_minute (${limits.max_shares_per_minute}), or the connection is closed before the submit soft-ban can act; got ${limits.max_requests_per_minute}`,
      limits.max_requests_per_minute,
    );
  }
  checkAddressKeys(config, addIssue);
}
