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

/**
 * The NATS subject prefix events are published under: `events.nats_subject`, or
 * `mining.events.<region>` when unset. Events go to `<prefix>.<event_type>`.
 */
export function eventsSubjectPrefix(config: StratumConfig | RelayConfig): string {
  return config.events.nats_subject ?? `mining.events.${config.region}`;
}
