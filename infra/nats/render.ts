/**
 * The nats-server configurations of the multi-region topology, rendered from one place so the
 * committed production files (`infra/nats/*.conf`) and the servers the tests start share every
 * security-relevant line: TLS with client certificates on the leafnode link, a password per
 * region with the subjects that region's leaf may send and receive, the JetStream domains, and the
 * leaf's deny of event subjects on the link.
 *
 * `deno run --allow-read=infra/nats --allow-write=infra/nats tools/nats_conf.ts` rewrites the
 * committed files; `infra/nats/render_test.ts` fails when they differ from this module.
 *
 * Secrets never appear in the output: passwords and the leaf's hub URL (which carries the leaf's
 * password) are nats-server variables, resolved from the environment at start unless the file
 * defines them first (the tests do, in their temporary copies).
 *
 * @module
 */
import {
  blockSubmitSubject,
  EVENTS_WILDCARD,
  HEARTBEATS_WILDCARD,
  HUB_JETSTREAM_DOMAIN,
  hubMiningEventsStreamConfig,
  hubToRegionInboxPrefix,
  jetStreamApiPrefix,
  MINING_EVENTS_STREAM_NAME,
  PRIMARY_PING_SUBJECT,
  regionEventsStreamConfig,
  regionEventsStreamName,
  regionInboxPrefix,
  sourceDeliverPrefix,
} from "@tbg/shared/nats";
import { MINING_TEMPLATES_STREAM_NAME } from "@tbg/shared/templates";

/** TLS files of one side of the leafnode link. */
export interface TlsFiles {
  /** PEM certificate. */
  readonly certFile: string;
  /** PEM private key. */
  readonly keyFile: string;
  /** PEM CA bundle the other side's certificate must chain to. */
  readonly caFile: string;
}

/** JetStream storage of a server. */
export interface JetStreamStore {
  /** Store directory. */
  readonly storeDir: string;
  /** Memory store limit, nats-server size syntax (e.g. `"2GB"`). */
  readonly maxMemoryStore: string;
  /** File store limit; at least the streams' `max_bytes`, which JetStream reserves. */
  readonly maxFileStore: string;
}

/** How fast a server notices a dead peer: it closes after `pingMax` unanswered pings. */
export interface PingSettings {
  /** Seconds between pings. */
  readonly pingIntervalS: number;
  /** Unanswered pings before the connection is closed. */
  readonly pingMax: number;
}

/** Parameters of the parts of the hub configuration that are not the process's own. */
export interface HubLinkParams {
  /** `host:port` of the leafnode listener. */
  readonly leafListen: string;
  /**
   * `host:port` the hub tells leaves to reconnect to: the name in their configured URL (a leaf
   * adds any other address it is told to its reconnect list and may dial it directly).
   */
  readonly leafAdvertise: string;
  /** `host:port` of the HTTP monitoring endpoint (`/varz`, `/leafz`, `/jsz`); none if unset. */
  readonly monitorListen?: string;
  /** The hub's TLS certificate and the CA the leaves' client certificates must chain to. */
  readonly tls: TlsFiles;
  /** Relay regions: one leafnode user `leaf-<region>` each. */
  readonly regions: readonly string[];
  /** Require a password on the client port too (user {@link CLIENT_USER}). */
  readonly clientAuth: boolean;
  /** Dead-peer detection. */
  readonly ping: PingSettings;
  /** Seconds the TLS handshake on the leafnode link may take (long-haul links need more). */
  readonly tlsTimeoutS: number;
  /**
   * Give each `leaf-<region>` user its {@link leafPermissions} (default true). Only `false` in the
   * tests that show what a leaf can reach without them.
   */
  readonly leafPermissions?: boolean;
}

/** A whole hub configuration file. */
export interface HubConfParams extends HubLinkParams {
  /** Server name. */
  readonly serverName: string;
  /** `host:port` of the client listener. */
  readonly clientListen: string;
  /** JetStream storage (the domain is always {@link HUB_JETSTREAM_DOMAIN}). */
  readonly jetstream: JetStreamStore;
}

/** Parameters of the parts of a leaf configuration that are not the process's own. */
export interface LeafLinkParams {
  /** The region this leaf serves (also its JetStream domain). */
  readonly region: string;
  /** `host:port` of the HTTP monitoring endpoint; none if unset. */
  readonly monitorListen?: string;
  /** The leaf's client certificate and the CA the hub's certificate must chain to. */
  readonly tls: TlsFiles;
  /** Seconds between attempts to reach the hub. */
  readonly reconnectS: number;
  /** Dead-peer detection. */
  readonly ping: PingSettings;
  /** Seconds the TLS handshake may take. */
  readonly tlsTimeoutS: number;
  /**
   * Deny `mining.events.>` across the link (default true). Only `false` in the test that shows
   * the duplicates this prevents.
   */
  readonly denyEventSubjects?: boolean;
}

/** A whole leaf configuration file. */
export interface LeafConfParams extends LeafLinkParams {
  /** Server name. */
  readonly serverName: string;
  /** `host:port` of the client listener (the region's relays connect here). */
  readonly clientListen: string;
  /** JetStream storage (the domain is always the region). */
  readonly jetstream: JetStreamStore;
}

/** User the services authenticate as on the hub's client port when `clientAuth` is on. */
export const CLIENT_USER = "tbg";
/** User a connection without credentials becomes on a hub with `clientAuth`: none can log in. */
export const NO_CREDENTIALS_USER = "no-credentials";
/** Variable holding the hub's client password. */
export const CLIENT_PASSWORD_VARIABLE = "TBG_NATS_CLIENT_PASSWORD";
/**
 * Variable holding a leaf's URL of the hub, with the region's user and password:
 * `tls://leaf-<region>:<password>@<hub's advertised name>:7422`.
 */
export const HUB_LEAF_URL_VARIABLE = "TBG_NATS_HUB_LEAF_URL";

const REGION_PATTERN = /^[a-z0-9-]{1,32}$/;

function assertRegion(region: string): void {
  if (!REGION_PATTERN.test(region)) {
    throw new RangeError(
      `Cannot render a NATS configuration for region ${JSON.stringify(region)}: ` +
        "use 1-32 of a-z 0-9 -",
    );
  }
}

/**
 * Leafnode user name of a region on the hub.
 *
 * @param region Region slug.
 * @returns `leaf-<region>`.
 * @throws {RangeError} If `region` is not a slug.
 */
export function leafUser(region: string): string {
  assertRegion(region);
  return `leaf-${region}`;
}

/**
 * Variable holding a region's leafnode password on the hub.
 *
 * @param region Region slug.
 * @returns e.g. `TBG_NATS_LEAF_US_EAST_PASSWORD`.
 * @throws {RangeError} If `region` is not a slug.
 */
export function leafPasswordVariable(region: string): string {
  assertRegion(region);
  return `TBG_NATS_LEAF_${region.toUpperCase().replaceAll("-", "_")}_PASSWORD`;
}

/** Subjects a leafnode user may send to the hub (`publish`) and receive from it (`subscribe`). */
export interface LeafSubjectPermissions {
  /** Allowed leaf → hub; everything else is not forwarded. */
  readonly publish: readonly string[];
  /** Allowed hub → leaf; everything else is not delivered. */
  readonly subscribe: readonly string[];
}

/**
 * What one region's leaf node may exchange with the hub: exactly the traffic of its relays and of
 * the hub's sourcing of its events, nothing that belongs to another region.
 *
 * Leaf → hub: block submissions and pings to the primary; the JetStream requests a relay makes in
 * the hub's domain (follow `MINING_TEMPLATES`: consumer create/next/info/delete, direct and stream
 * get, stream info; `MINING_EVENTS` stream info for the replication lag); the region's stream
 * deliveries to the hub's sourcing consumer (`$JS.S.<region>.>`), replies to the hub's internal
 * JetStream requests (`$JSC.R.>`) and to hub clients that address the region's domain with the
 * region's hub inbox prefix (`_INBOX.<region>.hub.>`, e.g. an operator's `nats --js-domain`). Not
 * templates, heartbeats, events, other streams' APIs, or any other `_INBOX` (replies to another
 * region's requests or to the hub's other clients).
 *
 * Hub → leaf: replies to the region's relays (`_INBOX.<region>.>`), the primary's heartbeats,
 * JetStream requests into the region's domain (the sourcing) and their flow control. Not block
 * submissions, pings or another region's replies or domain requests.
 *
 * nats-server (2.9) swaps a leafnode user's permissions on the hub: `publish` is what the leaf
 * may send, `subscribe` what it may receive. The hub filters what it delivers to the leaf itself;
 * what the leaf sends is filtered by the leaf server, which the hub tells these permissions, and by
 * the hub announcing interest only in allowed subjects. A hub before 2.12.10/2.14.0 does not check
 * messages a modified leaf server sends on its own (see SECURITY.md).
 *
 * @param region The leaf's region.
 * @returns Allow lists, in a stable order.
 * @throws {RangeError} If `region` is not a slug.
 */
export function leafPermissions(region: string): LeafSubjectPermissions {
  assertRegion(region);
  const hub = jetStreamApiPrefix(HUB_JETSTREAM_DOMAIN);
  const templates = MINING_TEMPLATES_STREAM_NAME;
  return {
    publish: [
      blockSubmitSubject,
      PRIMARY_PING_SUBJECT,
      `${hub}.INFO`,
      `${hub}.STREAM.INFO.${templates}`,
      `${hub}.STREAM.INFO.${MINING_EVENTS_STREAM_NAME}`,
      `${hub}.STREAM.MSG.GET.${templates}`,
      `${hub}.DIRECT.GET.${templates}`,
      `${hub}.DIRECT.GET.${templates}.>`,
      `${hub}.CONSUMER.CREATE.${templates}`,
      `${hub}.CONSUMER.CREATE.${templates}.>`,
      `${hub}.CONSUMER.MSG.NEXT.${templates}.*`,
      `${hub}.CONSUMER.INFO.${templates}.*`,
      `${hub}.CONSUMER.DELETE.${templates}.*`,
      `${sourceDeliverPrefix(region)}.>`,
      "$JSC.R.>",
      `${hubToRegionInboxPrefix(region)}.>`,
    ],
    subscribe: [
      `${regionInboxPrefix(region)}.>`,
      HEARTBEATS_WILDCARD,
      `${jetStreamApiPrefix(region)}.>`,
      `$JS.FC.${regionEventsStreamName(region)}.>`,
    ],
  };
}

/** A quoted nats-server string (its escapes are JSON's). */
function q(text: string): string {
  return JSON.stringify(text);
}

/**
 * Variable definitions to put before a rendered section, for a copy of the configuration that
 * carries its own secrets (tests, simulation); production leaves them to the environment.
 *
 * @param variables Name to value.
 * @returns One `NAME: "value"` line each.
 * @throws {RangeError} If a name is not `[A-Z][A-Z0-9_]*`.
 */
export function renderVariables(variables: Readonly<Record<string, string>>): string {
  return Object.entries(variables).map(([name, value]) => {
    if (!/^[A-Z][A-Z0-9_]*$/.test(name)) {
      throw new RangeError(`Cannot define nats-server variable ${JSON.stringify(name)}`);
    }
    return `${name}: ${q(value)}\n`;
  }).join("");
}

function renderPing(ping: PingSettings): string {
  if (!Number.isInteger(ping.pingIntervalS) || ping.pingIntervalS <= 0) {
    throw new RangeError("Cannot render ping settings: pingIntervalS must be a positive integer");
  }
  if (!Number.isInteger(ping.pingMax) || ping.pingMax <= 0) {
    throw new RangeError("Cannot render ping settings: pingMax must be a positive integer");
  }
  return [
    "# A dead peer (link cut without a reset) is noticed after about interval × max seconds.",
    `ping_interval: "${ping.pingIntervalS}s"`,
    `ping_max: ${ping.pingMax}`,
    "",
  ].join("\n");
}

function renderJetStream(store: JetStreamStore, domain: string): string {
  return [
    "jetstream {",
    `  store_dir: ${q(store.storeDir)}`,
    `  max_memory_store: ${store.maxMemoryStore}`,
    `  max_file_store: ${store.maxFileStore}`,
    `  domain: ${q(domain)}`,
    "}",
    "",
  ].join("\n");
}

/**
 * The hub's leafnode listener, client authorization, monitoring and ping settings: everything
 * except `server_name`, `listen` and `jetstream`, which the process owner sets.
 *
 * @param p Listener, TLS files, regions, client auth, ping settings.
 * @returns Configuration text.
 * @throws {RangeError} If a region is not a slug or appears twice, or a setting is out of range.
 */
export function renderHubLinkSections(p: HubLinkParams): string {
  if (new Set(p.regions).size !== p.regions.length) {
    throw new RangeError("Cannot render the hub configuration: a region is listed twice");
  }
  const withPermissions = p.leafPermissions ?? true;
  const list = (indent: string, subjects: readonly string[]) =>
    subjects.map((subject) => `${indent}${q(subject)}`);
  const leafUsers = p.regions.map((region) => {
    const login = `user: ${q(leafUser(region))}, password: $${leafPasswordVariable(region)}`;
    const only = `allowed_connection_types: [ "LEAFNODE" ]`;
    if (!withPermissions) return `    { ${login}, ${only} }`;
    const { publish, subscribe } = leafPermissions(region);
    return [
      "    {",
      `      ${login}`,
      `      ${only}`,
      "      permissions: {",
      "        # What this region's leaf may send to the hub ...",
      "        publish: {",
      "          allow: [",
      ...list("            ", publish),
      "          ]",
      "        }",
      "        # ... and what the hub delivers to it.",
      "        subscribe: {",
      "          allow: [",
      ...list("            ", subscribe),
      "          ]",
      "        }",
      "      }",
      "    }",
    ].join("\n");
  });
  const lines: string[] = [renderPing(p.ping)];
  if (p.monitorListen !== undefined) {
    lines.push("# Monitoring (/varz, /leafz, /jsz) for the Prometheus exporter; keep it local.");
    lines.push(`http: ${q(p.monitorListen)}`, "");
  }
  lines.push(
    "# Who may connect. nats-server 2.9 applies permissions to a leafnode connection only when",
    "# its user is one of these (not one of a leafnodes { authorization { users } } list), so",
    "# the relay regions' leaf users are here too, each limited to leafnode connections.",
    "# Services on the client port: user tbg, password (or its bcrypt hash) from the environment",
    `# variable ${CLIENT_PASSWORD_VARIABLE}${
      p.clientAuth ? "" : " (optional here: no_auth_user)"
    }.`,
    "# Relay regions' leaf nodes: TLS with a client certificate from the CA (leafnodes below),",
    "# then a password per region (TBG_NATS_LEAF_<REGION>_PASSWORD; a bcrypt hash also works).",
    ...(withPermissions
      ? [
        "# Each region's leaf may only exchange its relays' and its event sourcing's subjects",
        "# (infra/nats/render.ts leafPermissions(); nats-server reads them from the leaf's side:",
        "# publish = leaf to hub, subscribe = hub to leaf).",
      ]
      : []),
    "authorization {",
    "  users: [",
    `    { user: ${q(CLIENT_USER)}, password: $${CLIENT_PASSWORD_VARIABLE}, ` +
      `allowed_connection_types: [ "STANDARD" ] }`,
    ...(p.clientAuth
      ? [
        "    # A connection without credentials becomes this user, which no connection can be:",
        "    # the hub has no MQTT listener. Without it, nats-server 2.9 would accept a leafnode",
        "    # connection that sends no user at all (with its certificate only), unrestricted.",
        `    { user: ${q(NO_CREDENTIALS_USER)}, allowed_connection_types: [ "MQTT" ], ` +
        `permissions: { publish: { deny: ">" }, subscribe: { deny: ">" } } }`,
      ]
      : []),
    ...leafUsers,
    "  ]",
    "}",
    p.clientAuth
      ? `no_auth_user: ${q(NO_CREDENTIALS_USER)}`
      : `# Clients without credentials are ${CLIENT_USER}, on the client port only (a leaf never).
` +
        `no_auth_user: ${q(CLIENT_USER)}`,
    "",
    "leafnodes {",
    `  listen: ${q(p.leafListen)}`,
    "  # Leaves add the address in the hub's INFO to their reconnect list. Advertise the name",
    "  # they are configured with, so none redials a raw address that bypasses it (or a proxy).",
    `  advertise: ${q(p.leafAdvertise)}`,
    "  tls {",
    `    cert_file: ${q(p.tls.certFile)}`,
    `    key_file: ${q(p.tls.keyFile)}`,
    `    ca_file: ${q(p.tls.caFile)}`,
    "    verify: true",
    `    timeout: ${p.tlsTimeoutS}`,
    "  }",
    "  # Users: the leaf-<region> entries of authorization above.",
    "  authorization {",
    `    timeout: ${p.tlsTimeoutS}`,
    "  }",
    "}",
    "",
  );
  return lines.join("\n");
}

/**
 * A whole hub configuration file.
 *
 * @param p Everything {@link renderHubLinkSections} takes, plus name, client listener and store.
 * @returns Configuration text.
 * @throws {RangeError} As {@link renderHubLinkSections}.
 */
export function renderHubConf(p: HubConfParams): string {
  return [
    "# nats-server configuration of the hub (primary region). Generated by tools/nats_conf.ts",
    "# from infra/nats/render.ts; edit those, not this file.",
    "#",
    "# Environment: " +
    [CLIENT_PASSWORD_VARIABLE, ...p.regions.map(leafPasswordVariable)].join(", "),
    "",
    `server_name: ${q(p.serverName)}`,
    `listen: ${q(p.clientListen)}`,
    "",
    "# Own JetStream domain: leaves reach it as $JS.hub.API, and it sources their streams.",
    renderJetStream(p.jetstream, HUB_JETSTREAM_DOMAIN),
    renderHubLinkSections(p),
  ].join("\n");
}

/**
 * A leaf's connection to the hub, monitoring and ping settings: everything except `server_name`,
 * `listen` and `jetstream` (whose domain must be the region).
 *
 * @param p Region, TLS files, reconnect and ping settings.
 * @returns Configuration text.
 * @throws {RangeError} If the region is not a slug or a setting is out of range.
 */
export function renderLeafLinkSections(p: LeafLinkParams): string {
  assertRegion(p.region);
  if (!Number.isInteger(p.reconnectS) || p.reconnectS <= 0) {
    throw new RangeError("Cannot render the leaf configuration: reconnectS must be positive");
  }
  const deny = p.denyEventSubjects ?? true;
  const lines: string[] = [renderPing(p.ping)];
  if (p.monitorListen !== undefined) {
    lines.push(`http: ${q(p.monitorListen)}`, "");
  }
  lines.push(
    "leafnodes {",
    `  reconnect: ${p.reconnectS}`,
    "  remotes: [",
    "    {",
    `      # tls://${leafUser(p.region)}:<password>@<hub host>:7422 from the environment.`,
    `      url: $${HUB_LEAF_URL_VARIABLE}`,
    "      tls {",
    `        cert_file: ${q(p.tls.certFile)}`,
    `        key_file: ${q(p.tls.keyFile)}`,
    `        ca_file: ${q(p.tls.caFile)}`,
    `        timeout: ${p.tlsTimeoutS}`,
    "      }",
  );
  if (deny) {
    lines.push(
      "      # Events reach the hub only through its MINING_EVENTS sourcing this leaf's stream.",
      "      # Without this deny the hub stream (bound to mining.events.>) would also receive",
      "      # them directly through subject interest: each event stored twice.",
      `      deny_exports: [ ${q(EVENTS_WILDCARD)} ]`,
      `      deny_imports: [ ${q(EVENTS_WILDCARD)} ]`,
    );
  }
  lines.push("    }", "  ]", "}", "");
  return lines.join("\n");
}

/**
 * A whole leaf configuration file.
 *
 * @param p Everything {@link renderLeafLinkSections} takes, plus name, client listener, store.
 * @returns Configuration text.
 * @throws {RangeError} As {@link renderLeafLinkSections}.
 */
export function renderLeafConf(p: LeafConfParams): string {
  return [
    `# nats-server configuration of the ${p.region} leaf node. Generated by tools/nats_conf.ts`,
    "# from infra/nats/render.ts; edit those, not this file.",
    "#",
    `# Environment: ${HUB_LEAF_URL_VARIABLE}`,
    "",
    `server_name: ${q(p.serverName)}`,
    `listen: ${q(p.clientListen)}`,
    "",
    `# Own JetStream domain (the region): stream ${regionEventsStreamConfig(p.region).name}`,
    "# stores the region's events here, so publishes succeed while the hub is unreachable.",
    renderJetStream(p.jetstream, p.region),
    renderLeafLinkSections(p),
  ].join("\n");
}

/** Relay regions of the production deployment. */
export const PRODUCTION_REGIONS: readonly string[] = ["us-east", "asia"];

const PRODUCTION_PING: PingSettings = { pingIntervalS: 5, pingMax: 2 };
const PRODUCTION_TLS_TIMEOUT_S = 5;

/** The production hub (EU): paths of the Debian package layout, certificates in /etc/nats. */
export function productionHubParams(): HubConfParams {
  return {
    serverName: "tbg-nats-eu",
    clientListen: "0.0.0.0:4222",
    monitorListen: "127.0.0.1:8222",
    jetstream: { storeDir: "/var/lib/nats/jetstream", maxMemoryStore: "2GB", maxFileStore: "50GB" },
    leafListen: "0.0.0.0:7422",
    leafAdvertise: "nats-hub.internal.thebitcoingame.com:7422",
    tls: {
      certFile: "/etc/nats/certs/hub.crt",
      keyFile: "/etc/nats/certs/hub.key",
      caFile: "/etc/nats/certs/ca.crt",
    },
    regions: PRODUCTION_REGIONS,
    clientAuth: true,
    ping: PRODUCTION_PING,
    tlsTimeoutS: PRODUCTION_TLS_TIMEOUT_S,
  };
}

/**
 * A production leaf: clients on loopback only (the relay runs on the same host).
 *
 * @param region Region slug.
 * @returns Its parameters.
 */
export function productionLeafParams(region: string): LeafConfParams {
  return {
    region,
    serverName: `tbg-nats-${region}`,
    clientListen: "127.0.0.1:4222",
    monitorListen: "127.0.0.1:8222",
    // 16 GB covers the edge stream's 8 GiB reservation and the relay's other streams.
    jetstream: {
      storeDir: "/var/lib/nats/jetstream",
      maxMemoryStore: "512MB",
      maxFileStore: "16GB",
    },
    tls: {
      certFile: "/etc/nats/certs/leaf.crt",
      keyFile: "/etc/nats/certs/leaf.key",
      caFile: "/etc/nats/certs/ca.crt",
    },
    reconnectS: 1,
    ping: PRODUCTION_PING,
    tlsTimeoutS: PRODUCTION_TLS_TIMEOUT_S,
  };
}

/** One committed file under `infra/nats/` and the text it must hold. */
export interface RenderedFile {
  /** Path from the repository root. */
  readonly path: string;
  /** Exact content. */
  readonly text: string;
}

function json(value: unknown): string {
  return `${JSON.stringify(value, null, 2)}\n`;
}

/**
 * Every file this module owns under `infra/nats/`: the hub and leaf configurations, each
 * region's edge stream, and the hub's MINING_EVENTS with its sources. (`streams/mining_events.json`
 * and `consumers/` belong to `tools/nats_provision.ts`.)
 *
 * @returns The files, in a stable order.
 */
export function renderedFiles(): RenderedFile[] {
  return [
    { path: "infra/nats/hub.conf", text: renderHubConf(productionHubParams()) },
    ...PRODUCTION_REGIONS.map((region) => ({
      path: `infra/nats/leaf-${region}.conf`,
      text: renderLeafConf(productionLeafParams(region)),
    })),
    ...PRODUCTION_REGIONS.map((region) => ({
      path: `infra/nats/streams/mining_events_${region.replaceAll("-", "_")}.json`,
      text: json(regionEventsStreamConfig(region)),
    })),
    {
      path: "infra/nats/streams/mining_events.hub_sources.json",
      text: json(hubMiningEventsStreamConfig(PRODUCTION_REGIONS)),
    },
  ];
}
