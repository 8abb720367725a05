import type { CollectorConfig, RelayConfig, StratumConfig } from "./config_types.ts";
import { type Endpoint, parseHostPort } from "./endpoint.ts";

/** What an HTTP listener serves. */
export const HttpRoute = { Metrics: "metrics", Health: "health" } as const;

/** `metrics` (Prometheus, at `metrics.path`) or `health` (GET /health). */
export type HttpRoute = typeof HttpRoute[keyof typeof HttpRoute];

/** One HTTP listener a service opens. */
export interface HttpListener extends Endpoint {
  /** Routes served on it, never empty. */
  routes: HttpRoute[];
}

/**
 * The HTTP listeners a service opens. /health is always served (GeoDNS health checks need
 * it): on its own listener when `health` is set, otherwise on the metrics listener, which then
 * opens even when `metrics.enabled` is false. A `health` listener on the metrics address is
 * folded into it.
 */
export function httpListeners(
  config: StratumConfig | RelayConfig | CollectorConfig,
): HttpListener[] {
  const metrics: HttpListener = {
    host: config.metrics.host,
    port: config.metrics.port,
    routes: [],
  };
  if (config.metrics.enabled) metrics.routes.push(HttpRoute.Metrics);
  const health = "health" in config ? config.health : undefined;
  if (health === undefined) {
    metrics.routes.push(HttpRoute.Health);
    return [metrics];
  }
  if (health.host === metrics.host && health.port === metrics.port) {
    metrics.routes.push(HttpRoute.Health);
    return [metrics];
  }
  const listeners: HttpListener[] = metrics.routes.length > 0 ? [metrics] : [];
  listeners.push({ host: health.host, port: health.port, routes: [HttpRoute.Health] });
  return listeners;
}

/** The Stratum listen addresses (`serverurl`), parsed. */
export function stratumListeners(config: StratumConfig | RelayConfig): Endpoint[] {
  return config.serverurl.map((text) => {
    const endpoint = parseHostPort(text, true);
    // The schema accepted exactly these strings, so this only fires on an unvalidated object.
    if (endpoint === undefined) throw new TypeError(`Cannot parse serverurl: "${text}"`);
    return endpoint;
  });
}

/** The Stratum-over-TLS listen addresses (`serverurl_tls`), parsed; empty when there are none. */
export function stratumTlsListeners(config: StratumConfig | RelayConfig): Endpoint[] {
  return config.serverurl_tls.map((text) => {
    const endpoint = parseHostPort(text, true);
    if (endpoint === undefined) throw new TypeError(`Cannot parse serverurl_tls: "${text}"`);
    return endpoint;
  });
}

/**
 * Where a TLS listener's connections are decrypted: each TLS connection is relayed through a
 * loopback socket to a TLS server on this host, port chosen by the kernel (see
 * `shared/engine/tls_terminator.ts` for why), so a service with TLS listeners also needs to
 * listen on and connect to this address.
 */
export const TLS_LOOPBACK_HOST = "127.0.0.1";

/**
 * The NATS subject prefix events are published under: `events.nats_subject`, or
 * `mining.events.<region>` when unset. Events go to `<prefix>.<event_type>`.
 */
export function eventsSubjectPrefix(config: StratumConfig | RelayConfig): string {
  return config.events.nats_subject ?? `mining.events.${config.region}`;
}

/**
 * The config a process with index `instance` (0–255, `--instance`) uses: its metrics and health
 * ports are shifted by the index, so processes sharing a Stratum port through `reuse_port` each
 * keep their own scrape and health endpoint. Port 0 (kernel's choice) is left alone.
 *
 * @throws {RangeError} when a shifted port would exceed 65535
 */
export function withInstancePorts<C extends StratumConfig | RelayConfig>(
  config: C,
  instance: number,
): C {
  if (instance === 0) return config;
  const shift = (port: number): number => {
    if (port === 0) return 0;
    const shifted = port + instance;
    if (shifted > 65535) {
      throw new RangeError(
        `Cannot use --instance ${instance}: port ${port} + ${instance} exceeds 65535`,
      );
    }
    return shifted;
  };
  return {
    ...config,
    metrics: { ...config.metrics, port: shift(config.metrics.port) },
    ...(config.health === undefined
      ? {}
      : { health: { ...config.health, port: shift(config.health.port) } }),
  };
}

/**
 * Reads `--instance <0-255>` from a service's extra arguments (0 when absent).
 *
 * @throws {RangeError} naming the flag and the expected form
 */
export function parseInstanceArg(args: readonly string[]): number {
  const i = args.indexOf("--instance");
  if (i === -1) return 0;
  const text = args[i + 1];
  const value = Number(text);
  if (text === undefined || !Number.isInteger(value) || value < 0 || value > 255) {
    throw new RangeError(`--instance expects an integer from 0 to 255, got ${text ?? "nothing"}`);
  }
  return value;
}

/**
 * Where the event emitter spools while NATS is unreachable: `events.spool_dir`, else
 * `<logdir>/spool`, else `./.tbg/spool` (relative to the working directory). One rule for the
 * emitter and for the permissions the launcher grants.
 */
export function eventsSpoolDir(spoolDir: string | undefined, logdir: string | undefined): string {
  return spoolDir ?? `${logdir ?? "./.tbg"}/spool`;
}

/**
 * Where found blocks are kept: `blocks_dir`, else `<logdir>/blocks`, else `./.tbg/blocks`
 * (relative to the working directory). One rule for the pool and the permission set.
 */
export function foundBlocksDir(blocksDir: string | undefined, logdir: string | undefined): string {
  return blocksDir ?? `${logdir ?? "./.tbg"}/blocks`;
}
