import {
  type CollectorConfig,
  type ConfigByKind,
  type Endpoint,
  eventsSpoolDir,
  formatEndpoint,
  foundBlocksDir,
  httpListeners,
  parseBtcdUrl,
  parseNatsUrls,
  parseServiceUrl,
  type RelayConfig,
  type ServiceKind,
  type StratumConfig,
  stratumListeners,
  stratumTlsListeners,
  TLS_LOOPBACK_HOST,
} from "../config/mod.ts";
import { zeromqPermissionPaths } from "./zeromq_paths.ts";

/** The exact grants a service needs; each list renders as one `--allow-*=` flag. */
export interface Permissions {
  /** `host:port` pairs to listen on or connect to. */
  net: string[];
  /** Files and directories to read. */
  read: string[];
  /** Files and directories to write. */
  write: string[];
  /** Environment variable names. */
  env: string[];
  /** Native libraries (directories) to load. */
  ffi: string[];
  /** `Deno.permissions` sys kinds, e.g. "hostname", "osRelease". */
  sys: string[];
}

/** Inputs besides the config that decide a service's grants. */
export interface PermissionOptions {
  /** The config file, as passed with `--config`. */
  configPath: string;
  /** Environment variables the service reads (it knows; the config does not). */
  env?: readonly string[];
  /** sys kinds the service needs. */
  sys?: readonly string[];
  /** Directory relative paths are resolved against; when absent paths stay as written. */
  cwd?: string;
  /** zeromq package directory; default resolved from the import map. */
  zeromqDir?: string;
}

function unique(values: Iterable<string>): string[] {
  return [...new Set(values)];
}

function resolvePath(path: string, cwd: string | undefined): string {
  if (cwd === undefined || path.startsWith("/")) return path;
  const base = cwd.endsWith("/") ? cwd : `${cwd}/`;
  const joined = `${base}${path}`;
  // Normalise "." and ".." so the flag names the same path Deno's checks compare.
  const parts: string[] = [];
  for (const part of joined.split("/")) {
    if (part === "" || part === ".") continue;
    if (part === "..") parts.pop();
    else parts.push(part);
  }
  return `/${parts.join("/")}`;
}

function endpoint(text: string, parsed: Endpoint | undefined): Endpoint {
  // Config schemas accept only parsable values; an unvalidated object is a caller bug.
  if (parsed === undefined) {
    throw new TypeError(`Cannot derive permissions: "${text}" is not an endpoint`);
  }
  return parsed;
}

function engineNet(config: StratumConfig | RelayConfig): Endpoint[] {
  const net: Endpoint[] = [
    ...stratumListeners(config),
    ...stratumTlsListeners(config),
    ...httpListeners(config),
  ];
  for (const btcd of config.btcd) net.push(endpoint(btcd.url, parseBtcdUrl(btcd.url)));
  if (config.zmqblock !== undefined) {
    net.push(endpoint(config.zmqblock, parseServiceUrl(config.zmqblock, { tcp: 0 })));
  }
  net.push(...(parseNatsUrls(config.events.nats_url) ?? []));
  if (config.redis !== undefined) {
    net.push(
      endpoint("redis.url", parseServiceUrl(config.redis.url, { redis: 6379, rediss: 6379 })),
    );
  }
  return net;
}

function collectorNet(config: CollectorConfig): Endpoint[] {
  return [
    ...httpListeners(config),
    ...(parseNatsUrls(config.nats_url) ?? []),
    endpoint(
      "postgres.url",
      parseServiceUrl(config.postgres.url, { postgres: 5432, postgresql: 5432 }),
    ),
    endpoint("redis.url", parseServiceUrl(config.redis.url, { redis: 6379, rediss: 6379 })),
    ...(config.nats_monitor === undefined
      ? []
      : [endpoint(config.nats_monitor.url, parseBtcdUrl(config.nats_monitor.url))]),
  ];
}

/**
 * The narrowest Deno permissions a service needs for a config:
 * - net: Stratum listen addresses (plain and TLS, plus the TLS relay's loopback host), the
 *   metrics/health listeners, every bitcoind, the ZMQ
 *   publisher, NATS servers (listed even with events disabled: NATS also carries templates and
 *   block submissions), Redis and PostgreSQL, the collector's `nats_monitor.url`, and for a relay the NATS server linking it to the
 *   primary (`primary.host:primary.port`); a listen on 0.0.0.0:3333 needs exactly `0.0.0.0:3333`;
 * - read: the config file, the TLS certificate and key, logdir, events spool, found blocks, and the zeromq addon when zmqblock is set;
 * - write: logdir, events spool and found blocks;
 * - ffi: the zeromq addon directory, only when zmqblock is set;
 * - env and sys: as given by the service.
 *
 * @param kind the service
 * @param config its validated config
 * @param opts config path, env and sys lists, optional base directory for relative paths
 */
export function requiredPermissions<K extends ServiceKind>(
  kind: K,
  config: ConfigByKind[K],
  opts: PermissionOptions,
): Permissions {
  const path = (p: string): string => resolvePath(p, opts.cwd);
  const read = [path(opts.configPath)];
  const write: string[] = [];
  const ffi: string[] = [];
  let net: Endpoint[];
  let logdir: string | undefined;
  if (kind === "collector") {
    const collector = config as CollectorConfig;
    net = collectorNet(collector);
    logdir = collector.logdir;
  } else {
    const engine = config as StratumConfig | RelayConfig;
    net = engineNet(engine);
    logdir = engine.logdir;
    if (kind === "relay") {
      // The primary is reached over NATS only; ckpool's template_push_port is never dialled.
      const { primary } = engine as RelayConfig;
      net.push({ host: primary.host, port: primary.port });
    }
    // The default spool sits inside logdir, which is granted below; only a separate one needs more.
    if (
      engine.events.enabled &&
      (engine.events.spool_dir !== undefined || engine.logdir === undefined)
    ) {
      const spool = eventsSpoolDir(engine.events.spool_dir, engine.logdir);
      read.push(path(spool));
      write.push(path(spool));
    }
    // Found blocks are kept on disk; the default directory sits inside logdir too.
    if (engine.blocks_dir !== undefined || engine.logdir === undefined) {
      const blocks = foundBlocksDir(engine.blocks_dir, engine.logdir);
      read.push(path(blocks));
      write.push(path(blocks));
    }
    if (engine.tls !== undefined) {
      read.push(path(engine.tls.cert_file), path(engine.tls.key_file));
    }
    if (engine.zmqblock !== undefined) {
      const zmq = zeromqPermissionPaths(opts.zeromqDir);
      read.push(...zmq.read);
      ffi.push(...zmq.ffi);
    }
  }
  if (logdir !== undefined) {
    read.push(path(logdir));
    write.push(path(logdir));
  }
  const netGrants = net.map(formatEndpoint);
  // The TLS relay's loopback server has a kernel-chosen port: a host-wide grant is the narrowest.
  if (kind !== "collector" && (config as StratumConfig | RelayConfig).tls !== undefined) {
    netGrants.push(TLS_LOOPBACK_HOST);
  }
  return {
    net: unique(netGrants),
    read: unique(read),
    write: unique(write),
    env: unique(opts.env ?? []),
    ffi: unique(ffi),
    sys: unique(opts.sys ?? []),
  };
}
