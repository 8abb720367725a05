/**
 * The HTTP listener beside the Stratum port: Prometheus scrapes `path` (normally `/metrics`) and
 * GeoDNS health checks poll `/health`.
 *
 * @module
 */
import type client from "prom-client";
import { failingChecks, type HealthReport, type HealthSource } from "./health_checks.ts";

/** The fixed path of the health endpoint. */
export const HEALTH_PATH = "/health";

/** Settings of {@linkcode startMetricsServer}. */
export interface MetricsServerOptions {
  /** Address to bind exactly, e.g. `0.0.0.0` or `127.0.0.1`. */
  readonly hostname: string;
  /** Port to bind; 0 lets the kernel choose (tests). */
  readonly port: number;
  /** Path of the Prometheus endpoint, e.g. `/metrics`. */
  readonly path: string;
  /** The registry to render. */
  readonly registry: client.Registry;
  /** Computes the `/health` answer on each request. */
  readonly health: HealthSource;
  /** Told about a failed scrape or health computation (the client gets a 500 or 503). */
  readonly onError?: (error: unknown) => void;
}

/** A running metrics listener. */
export interface MetricsServer {
  /** The address bound. */
  readonly hostname: string;
  /** The port bound (the kernel's choice when 0 was asked). */
  readonly port: number;
  /** Settles when the listener has closed. */
  readonly finished: Promise<void>;
  /** Stops accepting, lets requests in flight finish, and closes. */
  shutdown(): Promise<void>;
}

/** The JSON body of `/health`. */
export interface HealthBody extends HealthReport {
  /** Names of the failing checks (empty when all pass). */
  readonly failing: string[];
}

/**
 * Starts the listener on exactly `hostname:port`.
 *
 * Answers: GET/HEAD `path` → 200 with the Prometheus text format; GET/HEAD `/health` → 200 with
 * a JSON {@linkcode HealthBody} when ok, else 503 with the same body; any other path → 404; other
 * methods on those two paths → 405.
 *
 * @throws {TypeError} when `path` does not start with `/` or is `/health`.
 * @throws {Deno.errors.AddrInUse} or a permission error when the address cannot be bound.
 */
export function startMetricsServer(options: MetricsServerOptions): MetricsServer {
  const { path, registry, health, onError } = options;
  if (!path.startsWith("/")) {
    throw new TypeError(`Cannot start metrics server: path "${path}" does not start with "/"`);
  }
  if (path === HEALTH_PATH) {
    throw new TypeError(`Cannot start metrics server: path "${path}" is reserved for health`);
  }

  const handler = async (request: Request): Promise<Response> => {
    const pathname = new URL(request.url).pathname;
    if (pathname !== path && pathname !== HEALTH_PATH) {
      return text(404, "not found\n");
    }
    const head = request.method === "HEAD";
    if (request.method !== "GET" && !head) {
      return text(405, "method not allowed\n", { allow: "GET, HEAD" });
    }
    if (pathname === HEALTH_PATH) return healthResponse(health, head, onError);
    let body: string;
    try {
      body = await registry.metrics();
    } catch (error: unknown) {
      onError?.(error);
      return text(500, "metrics collection failed\n");
    }
    return new Response(head ? null : body, {
      status: 200,
      headers: { "content-type": registry.contentType, "cache-control": "no-store" },
    });
  };

  const server = Deno.serve({
    hostname: options.hostname,
    port: options.port,
    // The default prints "Listening on ..." to stdout; services log through their own logger.
    onListen: () => {},
    onError: (error: unknown) => {
      onError?.(error);
      return text(500, "internal error\n");
    },
  }, handler);

  return {
    hostname: server.addr.hostname,
    port: server.addr.port,
    finished: server.finished,
    shutdown: () => server.shutdown(),
  };
}

function healthResponse(
  health: HealthSource,
  head: boolean,
  onError: ((error: unknown) => void) | undefined,
): Response {
  let report: HealthReport;
  try {
    report = health();
  } catch (error: unknown) {
    onError?.(error);
    const detail = error instanceof Error ? error.message : String(error);
    report = { ok: false, checks: { health: { ok: false, detail: `check failed: ${detail}` } } };
  }
  const body: HealthBody = { ok: report.ok, checks: report.checks, failing: failingChecks(report) };
  return new Response(head ? null : JSON.stringify(body), {
    status: report.ok ? 200 : 503,
    headers: { "content-type": "application/json", "cache-control": "no-store" },
  });
}

function text(status: number, body: string, extra: Record<string, string> = {}): Response {
  return new Response(body, {
    status,
    headers: { "content-type": "text/plain; charset=utf-8", ...extra },
  });
}
