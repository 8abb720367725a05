/**
 * Starts the multi-region NATS topology for tests and the simulation: a hub (JetStream domain
 * `hub`) and one leaf node per region (JetStream domain = region), all real nats-server processes
 * on free loopback ports in one temporary directory, with a fresh test CA. Each leaf's leafnode
 * connection to the hub goes through its own {@link LatencyBridge}, so a test can add delay or
 * cut the link. The configuration comes from `infra/nats/render.ts`, the same renderer as the
 * committed production files (TLS with client certificates, a password per region, the leaf's
 * deny of event subjects on the link); only ports, paths and secrets differ.
 *
 * ```ts
 * const topology = await startNatsTopology({
 *   leaves: [{ region: "us-east", link: { delayMs: 80 } }, { region: "asia", link: { delayMs: 180 } }],
 * });
 * try {
 *   const relay = await connect({ servers: topology.leaf("us-east").url });
 *   topology.leaf("us-east").bridge.partition({ mode: "reset" });
 * } finally {
 *   await topology.stop();
 * }
 * ```
 *
 * Streams provisioned (unless `provisionStreams: false`): `MINING_EVENTS_<REGION>` on each leaf,
 * and on the hub MINING_EVENTS sourcing every leaf stream through `$JS.<region>.API`.
 *
 * Needs `--allow-run` (nats-server, openssl), `--allow-net=127.0.0.1`, and read/write in the
 * system temporary directory.
 *
 * @module
 */
import { connect, type ConnectionOptions, type NatsConnection } from "nats";
import { jetstreamManager } from "nats/jetstream";
import {
  HUB_JETSTREAM_DOMAIN,
  hubMiningEventsStreamConfig,
  jetStreamApiPrefix,
  MINING_EVENTS_STREAM_NAME,
  regionEventsStreamConfig,
  regionEventsStreamName,
} from "@tbg/shared/nats";
import {
  CLIENT_PASSWORD_VARIABLE,
  CLIENT_USER,
  HUB_LEAF_URL_VARIABLE,
  leafPasswordVariable,
  leafUser,
  type PingSettings,
  renderHubLinkSections,
  renderLeafLinkSections,
  renderVariables,
  type TlsFiles,
} from "../../../infra/nats/render.ts";
import { generateTestCerts, type TestCerts } from "../../../tools/gen_test_certs.ts";
import { type LatencyBridge, type LinkShape, startLatencyBridge } from "../latency_bridge.ts";
import { type NatsServerHandle, pickFreePort, startNatsServer } from "./nats_server.ts";

/** One region's leaf node. */
export interface TopologyLeafOptions {
  /** Region slug; also the leaf's JetStream domain. */
  readonly region: string;
  /** Shape of both directions of the leaf↔hub link, e.g. `{ delayMs: 80 }`. */
  readonly link?: Partial<LinkShape>;
  /** Leaf → hub shape; overrides `link`. */
  readonly upstream?: Partial<LinkShape>;
  /** Hub → leaf shape; overrides `link`. */
  readonly downstream?: Partial<LinkShape>;
}

/** Options for {@link startNatsTopology}. */
export interface NatsTopologyOptions {
  /** The leaves, one per region. */
  readonly leaves: readonly TopologyLeafOptions[];
  /** Create the leaf streams and the hub's sourcing MINING_EVENTS. Default true. */
  readonly provisionStreams?: boolean;
  /** Require a password on the hub's client port, as in production. Default false. */
  readonly hubClientAuth?: boolean;
  /** Dead-peer detection on every server. Default 2 s × 2, so black-holes show in seconds. */
  readonly ping?: PingSettings;
  /** Seconds between a leaf's attempts to reach the hub. Default 1. */
  readonly reconnectS?: number;
  /** Leaves deny `mining.events.>` on the link. Default true; false only to show duplicates. */
  readonly denyEventSubjects?: boolean;
  /**
   * The hub gives each leaf user its subject permissions, as in production. Default true; false
   * only in tests that show what a leaf reaches without them.
   */
  readonly leafPermissions?: boolean;
  /** Bytes a bridge holds per direction per connection. Default the bridge's (1 MiB). */
  readonly bridgeMaxBufferedBytes?: number;
  /** Longest wait for each server to start and for every leaf to connect. Default 15 s. */
  readonly readyTimeoutMs?: number;
  /** Where the topology's temporary directory is made; default the system one. */
  readonly parentDir?: string;
}

/** A leafnode connection as the hub's `/leafz` reports it. */
export interface LeafzEntry {
  /** Account the leaf is bound to. */
  readonly account: string;
  /** Remote address. */
  readonly ip: string;
  /** Remote port (for a bridged leaf: the bridge's port towards the hub). */
  readonly port: number;
  /** Messages received from the leaf. */
  readonly in_msgs: number;
  /** Messages sent to the leaf. */
  readonly out_msgs: number;
}

/** The hub. */
export interface TopologyHub {
  /** The process. */
  readonly server: NatsServerHandle;
  /** Client URL (no credentials; see {@link connectOptions}). */
  readonly url: string;
  /** JetStream domain, `hub`. */
  readonly domain: string;
  /** Port of the leafnode listener (TLS). */
  readonly leafPort: number;
  /** Base URL of the monitoring endpoint. */
  readonly monitorUrl: string;
  /** Client credentials when the hub requires them. */
  readonly clientCredentials: { readonly user: string; readonly pass: string } | undefined;
  /** Options for `connect()` to the hub's client port, with credentials when required. */
  connectOptions(extra?: Partial<ConnectionOptions>): ConnectionOptions;
  /**
   * The hub's open leafnode connections (`GET /leafz`).
   * @throws {Error} If the monitoring endpoint does not answer with JSON.
   */
  leafz(): Promise<LeafzEntry[]>;
  /** Stops the process if running and starts it again with the same ports, config and store. */
  restart(): Promise<void>;
  /**
   * Stops the process (SIGTERM, SIGKILL after 5 s) and waits until its client port is closed;
   * the store is kept, {@link restart} starts it again.
   */
  stop(): Promise<void>;
  /** Sends a signal (default SIGKILL); restart with {@link restart}. */
  kill(signal?: Deno.Signal): void;
}

/** One region's leaf node and its link to the hub. */
export interface TopologyLeaf {
  /** Region slug. */
  readonly region: string;
  /** JetStream domain (the region). */
  readonly domain: string;
  /** Name of the region's edge stream. */
  readonly streamName: string;
  /** The process. */
  readonly server: NatsServerHandle;
  /** Client URL of the leaf (where the region's relays connect; no auth on loopback). */
  readonly url: string;
  /** The bridge the leaf's connection to the hub goes through. */
  readonly bridge: LatencyBridge;
  /** The region's leafnode password on the hub. */
  readonly password: string;
  /** Whether the hub currently lists this leaf's connection (through its bridge). */
  isConnected(): Promise<boolean>;
  /**
   * Waits until the hub lists this leaf's connection.
   * @throws {Error} After `timeoutMs` (default 15 s), with the leaf's log.
   */
  waitConnected(timeoutMs?: number): Promise<void>;
  /**
   * Waits until the hub lists none of this leaf's current connections.
   * @throws {Error} After `timeoutMs` (default 15 s).
   */
  waitDisconnected(timeoutMs?: number): Promise<void>;
  /** Stops the process if running and starts it again with the same port, config and store. */
  restart(): Promise<void>;
  /**
   * Stops the process (SIGTERM, SIGKILL after 5 s) and waits until its client port is closed;
   * the store is kept, {@link restart} starts it again.
   */
  stop(): Promise<void>;
  /** Sends a signal (default SIGKILL); restart with {@link restart}. */
  kill(signal?: Deno.Signal): void;
}

/** A running topology. */
export interface NatsTopology {
  /** The hub. */
  readonly hub: TopologyHub;
  /** The leaves, in the order given. */
  readonly leaves: readonly TopologyLeaf[];
  /**
   * The leaf of one region.
   * @throws {RangeError} If there is none.
   */
  leaf(region: string): TopologyLeaf;
  /** The test CA and certificates (in {@link dir}). */
  readonly certs: TestCerts;
  /** The topology's temporary directory (servers, certificates). */
  readonly dir: string;
  /** Stops every server and bridge and deletes {@link dir}. Idempotent. */
  stop(): Promise<void>;
}

const LOOPBACK = "127.0.0.1";
const DEFAULT_READY_TIMEOUT_MS = 15_000;
const DEFAULT_PING: PingSettings = { pingIntervalS: 2, pingMax: 2 };
const TLS_TIMEOUT_S = 5;
const POLL_MS = 50;
const MAX_PORT_ATTEMPTS = 3;

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A password nats-server reads as a string whatever its characters (never all digits). */
function randomPassword(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(18));
  return `tbg_${Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("")}`;
}

/**
 * The leaf link sections of a test leaf, with its hub URL defined in the file: what
 * {@link startNatsTopology} gives each leaf. Exported so a test can start a leaf with one thing
 * changed (a wrong password, a certificate from another CA) and see the hub refuse it.
 *
 * @param options Region, hub leafnode URL (with user and password), TLS files, link settings.
 * @returns `extraConfig` for `startNatsServer`.
 */
export function testLeafConfig(options: {
  readonly region: string;
  readonly hubLeafUrl: string;
  readonly tls: TlsFiles;
  readonly ping?: PingSettings;
  readonly reconnectS?: number;
  readonly denyEventSubjects?: boolean;
}): string {
  return renderVariables({ [HUB_LEAF_URL_VARIABLE]: options.hubLeafUrl }) +
    renderLeafLinkSections({
      region: options.region,
      tls: options.tls,
      reconnectS: options.reconnectS ?? 1,
      ping: options.ping ?? DEFAULT_PING,
      tlsTimeoutS: TLS_TIMEOUT_S,
      ...(options.denyEventSubjects === undefined
        ? {}
        : { denyEventSubjects: options.denyEventSubjects }),
    });
}

/**
 * The hub's leafnode URL for a region, with its credentials.
 *
 * @param region Region slug.
 * @param password The region's password.
 * @param port Port to reach the hub's leafnode listener at (a bridge's, or the hub's own).
 * @returns `tls://leaf-<region>:<password>@127.0.0.1:<port>`.
 */
export function hubLeafUrl(region: string, password: string, port: number): string {
  return `tls://${leafUser(region)}:${encodeURIComponent(password)}@${LOOPBACK}:${port}`;
}

async function fetchLeafz(monitorUrl: string): Promise<LeafzEntry[]> {
  const response = await fetch(`${monitorUrl}/leafz`);
  const text = await response.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (error) {
    throw new Error(`Cannot read the hub's /leafz: not JSON: ${text.slice(0, 200)}`, {
      cause: error,
    });
  }
  const leafs = (body as { leafs?: unknown }).leafs;
  return Array.isArray(leafs) ? leafs as LeafzEntry[] : [];
}

/** Subjects the hub's leafnode connections through the given bridge ports are interested in. */
async function fetchLeafInterest(monitorUrl: string, ports: readonly number[]): Promise<string[]> {
  const response = await fetch(`${monitorUrl}/leafz?subs=1`);
  const body = await response.json() as {
    leafs?: { port?: number; subscriptions_list?: string[] }[];
  };
  const wanted = new Set(ports);
  return (body.leafs ?? [])
    .filter((entry) => entry.port !== undefined && wanted.has(entry.port))
    .flatMap((entry) => entry.subscriptions_list ?? []);
}

/** Calls `action` until it resolves, every {@link POLL_MS}, at most `timeoutMs`. */
async function retryUntil<T>(
  action: () => Promise<T>,
  timeoutMs: number,
  what: string,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await action();
    } catch (error) {
      if (Date.now() >= deadline) {
        throw new Error(`Cannot ${what} within ${timeoutMs} ms`, { cause: error });
      }
    }
    await delay(POLL_MS);
  }
}

const STOP_GRACE_MS = 5_000;

async function portOpen(port: number): Promise<boolean> {
  try {
    const conn = await Deno.connect({ hostname: LOOPBACK, port });
    conn.close();
    return true;
  } catch {
    return false;
  }
}

/** SIGTERM, then SIGKILL after {@link STOP_GRACE_MS}; resolves once the client port is closed. */
async function stopProcess(server: NatsServerHandle): Promise<void> {
  server.kill("SIGTERM");
  const deadline = Date.now() + 2 * STOP_GRACE_MS;
  let killed = false;
  while (await portOpen(server.port)) {
    if (!killed && Date.now() > deadline - STOP_GRACE_MS) {
      server.kill("SIGKILL");
      killed = true;
    }
    if (Date.now() > deadline) {
      throw new Error(`Cannot stop nats-server on port ${server.port}: still accepting`);
    }
    await delay(POLL_MS);
  }
}

function isPortClash(error: unknown): boolean {
  return error instanceof Error && /address already in use/i.test(error.message);
}

async function withConnection<T>(
  options: ConnectionOptions,
  body: (nc: NatsConnection) => Promise<T>,
): Promise<T> {
  const nc = await connect({ ...options, reconnect: false, timeout: 5_000 });
  try {
    return await body(nc);
  } finally {
    await nc.close();
  }
}

/**
 * Starts a hub and one leaf per region, each leaf linked through its own latency bridge, and
 * waits until every leaf is connected (and, by default, the streams exist).
 *
 * @param options Leaves and their links, stream provisioning, client auth, timing.
 * @returns The running topology.
 * @throws {RangeError} If no leaf is given or a region repeats or is not a slug.
 * @throws {Error} If a binary is missing (naming its Debian package), a server does not start,
 *   or a leaf does not connect in time; whatever was started is stopped first.
 */
export async function startNatsTopology(options: NatsTopologyOptions): Promise<NatsTopology> {
  const regions = options.leaves.map((leaf) => leaf.region);
  if (regions.length === 0) {
    throw new RangeError("Cannot start a NATS topology without a leaf");
  }
  if (new Set(regions).size !== regions.length) {
    throw new RangeError(`Cannot start a NATS topology: a region repeats in ${regions.join(", ")}`);
  }
  // Refuse a bad slug (RangeError) before starting any process.
  for (const region of regions) regionEventsStreamName(region);
  const readyTimeoutMs = options.readyTimeoutMs ?? DEFAULT_READY_TIMEOUT_MS;
  const ping = options.ping ?? DEFAULT_PING;

  const dir = await Deno.makeTempDir({
    prefix: "tbg-nats-topology-",
    ...(options.parentDir === undefined ? {} : { dir: options.parentDir }),
  });
  const started: { stop(): Promise<void> }[] = [];
  const stopAll = async () => {
    for (const item of started.reverse()) await item.stop().catch(() => {});
    started.length = 0;
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  };

  try {
    const certs = await generateTestCerts({
      dir: `${dir}/certs`,
      regions,
      validDays: 2,
      caName: "TBG topology test CA",
    });
    const passwords = new Map(regions.map((region) => [region, randomPassword()]));
    const clientCredentials = options.hubClientAuth
      ? { user: CLIENT_USER, pass: randomPassword() }
      : undefined;

    // A leaf adds the address in the hub's INFO to its reconnect list and, after the link
    // through its bridge drops, would redial the hub directly, around the bridge. Production
    // advertises the name the leaves are configured with; here that name differs per leaf (each
    // has its own bridge), so the hub advertises this sink, which closes every connection.
    const sink = await startLatencyBridge({ target: { hostname: LOOPBACK, port: 1 } });
    sink.partition({ mode: "reset" });
    started.push({ stop: () => sink.close() });

    // Hub: its leafnode and monitoring ports are picked here, so retry if one was taken meanwhile.
    let hubServer: NatsServerHandle | undefined;
    let leafPort = 0;
    let monitorPort = 0;
    for (let attempt = 1; hubServer === undefined; attempt++) {
      leafPort = pickFreePort();
      monitorPort = pickFreePort();
      const variables: Record<string, string> = {};
      for (const region of regions) {
        variables[leafPasswordVariable(region)] = passwords.get(region) as string;
      }
      // Defined either way: without client auth the hub maps clients without credentials to
      // this user, whose password then nobody needs.
      variables[CLIENT_PASSWORD_VARIABLE] = clientCredentials?.pass ?? randomPassword();
      const extraConfig = renderVariables(variables) + renderHubLinkSections({
        leafListen: `${LOOPBACK}:${leafPort}`,
        leafAdvertise: `${LOOPBACK}:${sink.port}`,
        monitorListen: `${LOOPBACK}:${monitorPort}`,
        tls: { certFile: certs.hub.certFile, keyFile: certs.hub.keyFile, caFile: certs.caFile },
        regions,
        clientAuth: clientCredentials !== undefined,
        ping,
        tlsTimeoutS: TLS_TIMEOUT_S,
        ...(options.leafPermissions === undefined
          ? {}
          : { leafPermissions: options.leafPermissions }),
      });
      try {
        hubServer = await startNatsServer({
          jetstream: true,
          jetstreamDomain: HUB_JETSTREAM_DOMAIN,
          serverName: "hub",
          extraConfig,
          parentDir: dir,
          readyTimeoutMs,
        });
      } catch (error) {
        if (isPortClash(error) && attempt < MAX_PORT_ATTEMPTS) continue;
        throw error;
      }
    }
    const hubProcess = hubServer;
    started.push(hubProcess);
    const monitorUrl = `http://${LOOPBACK}:${monitorPort}`;
    const hubConnectOptions = (extra: Partial<ConnectionOptions> = {}): ConnectionOptions => ({
      servers: hubProcess.url,
      ...(clientCredentials === undefined ? {} : clientCredentials),
      ...extra,
    });
    const hub: TopologyHub = {
      server: hubProcess,
      url: hubProcess.url,
      domain: HUB_JETSTREAM_DOMAIN,
      leafPort,
      monitorUrl,
      clientCredentials,
      connectOptions: hubConnectOptions,
      leafz: () => fetchLeafz(monitorUrl),
      restart: () => hubProcess.restart(),
      stop: () => stopProcess(hubProcess),
      kill: (signal) => hubProcess.kill(signal),
    };

    const leaves: TopologyLeaf[] = [];
    for (const spec of options.leaves) {
      const region = spec.region;
      const bridge = await startLatencyBridge({
        target: { hostname: LOOPBACK, port: leafPort },
        upstream: { ...spec.link, ...spec.upstream },
        downstream: { ...spec.link, ...spec.downstream },
        ...(options.bridgeMaxBufferedBytes === undefined
          ? {}
          : { maxBufferedBytes: options.bridgeMaxBufferedBytes }),
      });
      started.push({ stop: () => bridge.close() });
      const leafCert = certs.leaves.get(region);
      if (leafCert === undefined) throw new Error(`Cannot find the certificate of ${region}`);
      const password = passwords.get(region) as string;
      const server = await startNatsServer({
        jetstream: true,
        jetstreamDomain: region,
        serverName: `leaf-${region}`,
        extraConfig: testLeafConfig({
          region,
          hubLeafUrl: hubLeafUrl(region, password, bridge.port),
          tls: { certFile: leafCert.certFile, keyFile: leafCert.keyFile, caFile: certs.caFile },
          ping,
          reconnectS: options.reconnectS ?? 1,
          ...(options.denyEventSubjects === undefined
            ? {}
            : { denyEventSubjects: options.denyEventSubjects }),
        }),
        parentDir: dir,
        readyTimeoutMs,
      });
      started.push(server);
      leaves.push(makeLeaf(region, server, bridge, password, hub));
    }

    await Promise.all(leaves.map((leaf) => leaf.waitConnected(readyTimeoutMs)));

    if (options.provisionStreams ?? true) {
      // Each leaf stream is created on its leaf, as in production (the leaf may not answer the
      // hub's clients). The hub's sourcing reaches the leaf's domain once the hub has the leaf's
      // interest in its API; waiting for that makes its first attempt succeed (a failed one is
      // retried by nats-server 2.9 only after about 5 s).
      for (const leaf of leaves) {
        await withConnection({ servers: leaf.url }, async (nc) => {
          await (await jetstreamManager(nc)).streams.add(regionEventsStreamConfig(leaf.region));
        });
        await retryUntil(
          async () => {
            const interest = await fetchLeafInterest(monitorUrl, leaf.bridge.targetSidePorts());
            const wanted = `${jetStreamApiPrefix(leaf.domain)}.CONSUMER.>`;
            if (!interest.includes(wanted)) throw new Error(`no interest in ${wanted} yet`);
          },
          readyTimeoutMs,
          `see the hub learn leaf ${leaf.region}'s JetStream API`,
        );
      }
      await withConnection(hub.connectOptions(), async (nc) => {
        const jsm = await jetstreamManager(nc);
        await jsm.streams.add(hubMiningEventsStreamConfig(regions));
        // Return once every source has made contact (`active` is -1 until then).
        await retryUntil(
          async () => {
            const info = await jsm.streams.info(MINING_EVENTS_STREAM_NAME);
            const idle = (info.sources ?? []).filter((source) => source.active < 0);
            if (idle.length > 0) {
              throw new Error(`sources not active yet: ${idle.map((i) => i.name).join(", ")}`);
            }
          },
          readyTimeoutMs,
          "see every region's source become active on the hub",
        );
      });
    }

    let stopped = false;
    return {
      hub,
      leaves,
      leaf(region: string): TopologyLeaf {
        const leaf = leaves.find((candidate) => candidate.region === region);
        if (leaf === undefined) {
          throw new RangeError(
            `Cannot find leaf "${region}": the topology has ${regions.join(", ")}`,
          );
        }
        return leaf;
      },
      certs,
      dir,
      async stop(): Promise<void> {
        if (stopped) return;
        stopped = true;
        await stopAll();
      },
    };
  } catch (error) {
    await stopAll();
    throw error;
  }
}

function makeLeaf(
  region: string,
  server: NatsServerHandle,
  bridge: LatencyBridge,
  password: string,
  hub: TopologyHub,
): TopologyLeaf {
  const isConnected = async (): Promise<boolean> => {
    const ports = new Set(bridge.targetSidePorts());
    if (ports.size === 0) return false;
    return (await hub.leafz()).some((entry) => ports.has(entry.port));
  };
  return {
    region,
    domain: region,
    streamName: regionEventsStreamName(region),
    server,
    url: server.url,
    bridge,
    password,
    isConnected,
    async waitConnected(timeoutMs = DEFAULT_READY_TIMEOUT_MS): Promise<void> {
      const deadline = Date.now() + timeoutMs;
      while (Date.now() < deadline) {
        if (await isConnected().catch(() => false)) return;
        await delay(POLL_MS);
      }
      throw new Error(
        `Leaf ${region} did not connect to the hub within ${timeoutMs} ms` +
          `\n--- leaf log ---\n${(await server.readLog()).slice(-4_000)}`,
      );
    },
    async waitDisconnected(timeoutMs = DEFAULT_READY_TIMEOUT_MS): Promise<void> {
      const ports = new Set(bridge.targetSidePorts());
      const deadline = Date.now() + timeoutMs;
      while (Date.now() < deadline) {
        const entries = await hub.leafz().catch(() => undefined);
        if (entries !== undefined && !entries.some((entry) => ports.has(entry.port))) return;
        await delay(POLL_MS);
      }
      throw new Error(`Leaf ${region} still connected to the hub after ${timeoutMs} ms`);
    },
    restart: () => server.restart(),
    stop: () => stopProcess(server),
    kill: (signal) => server.kill(signal),
  };
}
