import assert from "node:assert/strict";
import { MetricRegistry } from "./registry.ts";
import { PoolMetrics } from "./pool_metrics.ts";
import type { HealthReport } from "./health_checks.ts";
import {
  type HealthBody,
  type MetricsServer,
  type MetricsServerOptions,
  startMetricsServer,
} from "./http_server.ts";
import { parseExposition, sampleValue } from "./_exposition.ts";

interface Fixture {
  readonly server: MetricsServer;
  readonly metrics: PoolMetrics;
  readonly state: { ok: boolean };
  readonly errors: unknown[];
  url(path: string): string;
}

async function withServer(run: (fixture: Fixture) => Promise<void>): Promise<void> {
  const metrics = new PoolMetrics({ region: "eu", instance: "eu-1", rssBytes: () => 1 });
  const state = { ok: true };
  const errors: unknown[] = [];
  const health = (): HealthReport => ({
    ok: state.ok,
    checks: {
      stratum_listener: { ok: true, detail: "accepting connections" },
      template_fresh: { ok: state.ok, detail: state.ok ? "age 1.0 s" : "age 999.0 s" },
    },
  });
  const server = startMetricsServer({
    hostname: "127.0.0.1",
    port: 0,
    path: "/metrics",
    registry: metrics.registry,
    health,
    onError: (error) => errors.push(error),
  });
  try {
    await run({
      server,
      metrics,
      state,
      errors,
      url: (path) => `http://127.0.0.1:${server.port}${path}`,
    });
  } finally {
    await server.shutdown();
  }
}

Deno.test("startMetricsServer() binds the given address and reports the kernel's port", async () => {
  await withServer(({ server }) => {
    assert.equal(server.hostname, "127.0.0.1");
    assert.ok(server.port > 0);
    return Promise.resolve();
  });
});

Deno.test("GET /metrics returns the Prometheus text of the registry", async () => {
  await withServer(async ({ metrics, url }) => {
    metrics.sharesValid.inc(7);
    const response = await fetch(url("/metrics"));
    assert.equal(response.status, 200);
    assert.equal(
      response.headers.get("content-type"),
      "text/plain; version=0.0.4; charset=utf-8",
    );
    const parsed = parseExposition(await response.text());
    assert.equal(sampleValue(parsed, "ckpool_shares_total", { valid: "true" }), 7);
    assert.equal(parsed.type.get("ckpool_event_emit_latency_us"), "histogram");
  });
});

Deno.test("GET /metrics ignores the query string", async () => {
  await withServer(async ({ url }) => {
    const response = await fetch(url("/metrics?x=1"));
    assert.equal(response.status, 200);
    await response.body?.cancel();
  });
});

Deno.test("GET /health answers 200 while ok and 503 listing failing checks otherwise", async () => {
  await withServer(async ({ state, url }) => {
    let response = await fetch(url("/health"));
    assert.equal(response.status, 200);
    assert.equal(response.headers.get("content-type"), "application/json");
    let body = await response.json() as HealthBody;
    assert.equal(body.ok, true);
    assert.deepEqual(body.failing, []);

    state.ok = false;
    response = await fetch(url("/health"));
    assert.equal(response.status, 503);
    body = await response.json() as HealthBody;
    assert.equal(body.ok, false);
    assert.deepEqual(body.failing, ["template_fresh"]);
    assert.deepEqual(body.checks.template_fresh, { ok: false, detail: "age 999.0 s" });
    assert.deepEqual(body.checks.stratum_listener, { ok: true, detail: "accepting connections" });

    state.ok = true;
    response = await fetch(url("/health"));
    assert.equal(response.status, 200);
    await response.body?.cancel();
  });
});

Deno.test("GET /health answers 503 when the health function throws", async () => {
  const metrics = new PoolMetrics({ region: "eu", instance: "x", rssBytes: () => 1 });
  const errors: unknown[] = [];
  const server = startMetricsServer({
    hostname: "127.0.0.1",
    port: 0,
    path: "/metrics",
    registry: metrics.registry,
    health: () => {
      throw new TypeError("Cannot read listener: closed");
    },
    onError: (error) => errors.push(error),
  });
  try {
    const response = await fetch(`http://127.0.0.1:${server.port}/health`);
    assert.equal(response.status, 503);
    const body = await response.json() as HealthBody;
    assert.deepEqual(body.failing, ["health"]);
    assert.match(body.checks.health?.detail ?? "", /Cannot read listener: closed/);
    assert.equal(errors.length, 1);
  } finally {
    await server.shutdown();
  }
});

Deno.test("GET /metrics answers 500 and reports the error when collection fails", async () => {
  await withServer(async ({ metrics, errors, url }) => {
    metrics.registry.registerMetric({
      name: "t_broken",
      help: "h",
      type: "gauge",
      get() {
        throw new RangeError("Cannot read gauge: broken");
      },
      reset() {},
    });
    const response = await fetch(url("/metrics"));
    assert.equal(response.status, 500);
    await response.body?.cancel();
    assert.equal(errors.length, 1);
    assert.ok(errors[0] instanceof RangeError);
  });
});

Deno.test("unknown paths answer 404", async () => {
  await withServer(async ({ url }) => {
    for (const path of ["/", "/metric", "/metrics/", "/healthz", "/favicon.ico"]) {
      const response = await fetch(url(path));
      assert.equal(response.status, 404, path);
      await response.body?.cancel();
    }
  });
});

Deno.test("methods other than GET and HEAD answer 405 with Allow", async () => {
  await withServer(async ({ url }) => {
    for (const method of ["POST", "PUT", "DELETE"]) {
      for (const path of ["/metrics", "/health"]) {
        const response = await fetch(url(path), { method });
        assert.equal(response.status, 405, `${method} ${path}`);
        assert.equal(response.headers.get("allow"), "GET, HEAD");
        await response.body?.cancel();
      }
    }
  });
});

Deno.test("HEAD answers with the status of GET and no body", async () => {
  await withServer(async ({ state, url }) => {
    let response = await fetch(url("/metrics"), { method: "HEAD" });
    assert.equal(response.status, 200);
    assert.equal(await response.text(), "");
    state.ok = false;
    response = await fetch(url("/health"), { method: "HEAD" });
    assert.equal(response.status, 503);
    assert.equal(await response.text(), "");
  });
});

Deno.test("shutdown() closes the listener so new connections are refused", async () => {
  const metrics = new PoolMetrics({ region: "eu", instance: "x", rssBytes: () => 1 });
  const server = startMetricsServer({
    hostname: "127.0.0.1",
    port: 0,
    path: "/metrics",
    registry: metrics.registry,
    health: () => ({ ok: true, checks: {} }),
  });
  const response = await fetch(`http://127.0.0.1:${server.port}/health`);
  await response.body?.cancel();
  await server.shutdown();
  await server.finished;
  await assert.rejects(Deno.connect({ hostname: "127.0.0.1", port: server.port }));
});

Deno.test("startMetricsServer() refuses a path that is relative or collides with /health", () => {
  const registry = new MetricRegistry();
  const health = () => ({ ok: true, checks: {} });
  for (const path of ["metrics", "/health"]) {
    assert.throws(
      () => startMetricsServer({ hostname: "127.0.0.1", port: 0, path, registry, health }),
      TypeError,
    );
  }
});

Deno.test("startMetricsServer() fails when the port is taken", async () => {
  await withServer(({ server }) => {
    assert.throws(() =>
      startMetricsServer({
        hostname: "127.0.0.1",
        port: server.port,
        path: "/metrics",
        registry: new MetricRegistry(),
        health: () => ({ ok: true, checks: {} }),
      }), Deno.errors.AddrInUse);
    return Promise.resolve();
  });
});

// ---- Limits: what one client can hold ------------------------------------------------------

const decoder = new TextDecoder();

/** A raw TCP client: sends bytes as given and collects what the server answers until it closes. */
class RawClient {
  readonly #conn: Deno.TcpConn;
  #received = "";
  /** Settles when the server closes the connection (or resets it). */
  readonly closed: Promise<void>;

  private constructor(conn: Deno.TcpConn) {
    this.#conn = conn;
    this.closed = this.#read();
  }

  static async open(port: number): Promise<RawClient> {
    return new RawClient(await Deno.connect({ hostname: "127.0.0.1", port }));
  }

  get received(): string {
    return this.#received;
  }

  async send(text: string): Promise<void> {
    const bytes = new TextEncoder().encode(text);
    let offset = 0;
    while (offset < bytes.length) offset += await this.#conn.write(bytes.subarray(offset));
  }

  /** True when the server closed within `timeoutMs` (a generous bound, not a measurement). */
  async closedWithin(timeoutMs: number): Promise<boolean> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<boolean>((resolve) =>
      timer = setTimeout(resolve, timeoutMs, false)
    );
    const result = await Promise.race([this.closed.then(() => true), timeout]);
    clearTimeout(timer);
    return result;
  }

  /** Waits until `predicate` holds for what was received, up to `timeoutMs`. */
  async waitFor(predicate: (received: string) => boolean, timeoutMs = 5_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!predicate(this.#received)) {
      if (Date.now() > deadline) throw new Error(`timed out; received ${this.#received}`);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  }

  close(): void {
    try {
      this.#conn.close();
    } catch {
      // Closed by the server first.
    }
  }

  async #read(): Promise<void> {
    const buffer = new Uint8Array(64 * 1024);
    try {
      while (true) {
        const n = await this.#conn.read(buffer);
        if (n === null) return;
        this.#received += decoder.decode(buffer.subarray(0, n));
      }
    } catch {
      // Reset: closed all the same.
    }
  }
}

async function withLimitedServer(
  limits: Pick<MetricsServerOptions, "maxConnections" | "headerTimeoutMs" | "idleTimeoutMs">,
  run: (server: MetricsServer) => Promise<void>,
): Promise<void> {
  const metrics = new PoolMetrics({ region: "eu", instance: "x", rssBytes: () => 1 });
  const server = startMetricsServer({
    hostname: "127.0.0.1",
    port: 0,
    path: "/metrics",
    registry: metrics.registry,
    health: () => ({ ok: true, checks: {} }),
    ...limits,
  });
  try {
    await run(server);
  } finally {
    await server.shutdown();
  }
}

Deno.test("silent connections are closed after the header timeout", async () => {
  await withLimitedServer({ headerTimeoutMs: 200, idleTimeoutMs: 600_000 }, async (server) => {
    const silent = await Promise.all(Array.from({ length: 5 }, () => RawClient.open(server.port)));
    // A slowloris client: part of a head, then nothing.
    const trickle = await RawClient.open(server.port);
    await trickle.send("GET /metrics HTTP/1.1\r\nHost: x\r\nX-Slow: a");
    for (const client of [...silent, trickle]) {
      assert.equal(await client.closedWithin(10_000), true, "connection left open");
      assert.equal(client.received, "", "nothing is answered to an incomplete head");
    }
    assert.equal(server.openConnections, 0);
  });
});

Deno.test("a kept-alive connection is closed after the idle timeout", async () => {
  await withLimitedServer({ headerTimeoutMs: 600_000, idleTimeoutMs: 200 }, async (server) => {
    const client = await RawClient.open(server.port);
    await client.send("GET /health HTTP/1.1\r\nHost: x\r\n\r\n");
    await client.waitFor((r) => r.includes('"ok":true'));
    assert.match(client.received, /^HTTP\/1\.1 200 OK\r\n/);
    assert.doesNotMatch(client.received, /connection: close/);
    assert.equal(await client.closedWithin(10_000), true, "idle connection left open");
  });
});

Deno.test("the connection beyond maxConnections is answered 503 and closed", async () => {
  await withLimitedServer({ maxConnections: 3, headerTimeoutMs: 600_000 }, async (server) => {
    const held = await Promise.all(Array.from({ length: 3 }, () => RawClient.open(server.port)));
    // The server counts a connection once it has accepted it; wait for all three.
    for (let i = 0; i < 500 && server.openConnections < 3; i++) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    assert.equal(server.openConnections, 3);
    const refused = await RawClient.open(server.port);
    assert.equal(await refused.closedWithin(10_000), true);
    assert.match(refused.received, /^HTTP\/1\.1 503 Service Unavailable\r\n/);
    assert.match(refused.received, /too many connections/);
    assert.equal(server.refusedConnections, 1);
    assert.equal(server.openConnections, 3);
    // A slot frees when a holder leaves.
    held.pop()!.close();
    let status = 0;
    for (let i = 0; i < 500 && status !== 200; i++) {
      await new Promise((resolve) => setTimeout(resolve, 10));
      const response = await fetch(`http://127.0.0.1:${server.port}/health`);
      status = response.status;
      await response.body?.cancel();
    }
    assert.equal(status, 200);
    for (const client of held) client.close();
  });
});

Deno.test("a request head over 8 KiB is answered 431 and the connection closed", async () => {
  await withLimitedServer({}, async (server) => {
    const client = await RawClient.open(server.port);
    await client.send(`GET /metrics HTTP/1.1\r\nX-Big: ${"a".repeat(9_000)}\r\n\r\n`).catch(
      () => {},
    );
    assert.equal(await client.closedWithin(10_000), true);
    assert.match(client.received, /^HTTP\/1\.1 431 /);
  });
});

Deno.test("malformed heads are answered 400 or 505 and the connection closed", async () => {
  await withLimitedServer({}, async (server) => {
    const cases: [string, RegExp][] = [
      ["GARBAGE\r\n\r\n", /^HTTP\/1\.1 400 /],
      ["GET /metrics HTTP/1.1\r\n bad folding\r\n\r\n", /^HTTP\/1\.1 400 /],
      ["GET /metrics HTTP/1.1\r\nContent-Length: -1\r\n\r\n", /^HTTP\/1\.1 400 /],
      ["GET * HTTP/1.1\r\n\r\n", /^HTTP\/1\.1 400 /],
      ["GET /metrics HTTP/2.0\r\n\r\n", /^HTTP\/1\.1 505 /],
    ];
    for (const [request, expected] of cases) {
      const client = await RawClient.open(server.port);
      await client.send(request);
      assert.equal(await client.closedWithin(10_000), true, JSON.stringify(request));
      assert.match(client.received, expected, JSON.stringify(request));
      assert.match(client.received, /connection: close/);
    }
  });
});

Deno.test("a request announcing a body is answered, then its connection closed unread", async () => {
  await withLimitedServer({}, async (server) => {
    const client = await RawClient.open(server.port);
    await client.send("POST /metrics HTTP/1.1\r\nContent-Length: 100000\r\n\r\npartial");
    assert.equal(await client.closedWithin(10_000), true);
    assert.match(client.received, /^HTTP\/1\.1 405 /);
    assert.match(client.received, /connection: close/);
  });
});

Deno.test("pipelined requests on one connection are answered in order", async () => {
  await withLimitedServer({}, async (server) => {
    const client = await RawClient.open(server.port);
    await client.send(
      "GET /health HTTP/1.1\r\n\r\nGET /nope HTTP/1.1\r\n\r\nHEAD /metrics HTTP/1.1\r\nConnection: close\r\n\r\n",
    );
    assert.equal(await client.closedWithin(10_000), true);
    const statuses = [...client.received.matchAll(/HTTP\/1\.1 (\d{3})/g)].map((m) => m[1]);
    assert.deepEqual(statuses, ["200", "404", "200"]);
  });
});

Deno.test("HTTP/1.0 requests are answered and closed unless they ask for keep-alive", async () => {
  await withLimitedServer({ idleTimeoutMs: 600_000 }, async (server) => {
    const client = await RawClient.open(server.port);
    await client.send("GET /health HTTP/1.0\r\n\r\n");
    assert.equal(await client.closedWithin(10_000), true);
    assert.match(client.received, /^HTTP\/1\.1 200 OK\r\n/);
  });
});

Deno.test("failed accepts (EMFILE) pause with growing backoff, reported once per burst", async () => {
  const metrics = new PoolMetrics({ region: "eu", instance: "x", rssBytes: () => 1 });
  // The first six accepts fail as when the process is out of descriptors.
  let failuresLeft = 6;
  const sleeps: number[] = [];
  const reports: unknown[] = [];
  const server = startMetricsServer({
    hostname: "127.0.0.1",
    port: 0,
    path: "/metrics",
    registry: metrics.registry,
    health: () => ({ ok: true, checks: {} }),
    listen: (options) => {
      const inner = Deno.listen(options);
      return {
        addr: inner.addr,
        close: () => inner.close(),
        accept: () => {
          if (failuresLeft === 0) return inner.accept();
          failuresLeft -= 1;
          return Promise.reject(new Error("Too many open files (os error 24)"));
        },
      };
    },
    sleep: (ms) => {
      sleeps.push(ms);
      return Promise.resolve();
    },
    onAcceptFailure: (failure) => reports.push(failure),
  });
  const request = async () => {
    const client = await RawClient.open(server.port);
    await client.send("GET /health HTTP/1.1\r\nConnection: close\r\n\r\n");
    assert.equal(await client.closedWithin(10_000), true);
    assert.match(client.received, /^HTTP\/1\.1 200 OK/);
  };
  try {
    await request();
    // Every failure was followed by a pause (no retry at once), doubling each time.
    assert.deepEqual(sleeps, [10, 20, 40, 80, 160, 320]);
    assert.equal(reports.length, 1, "one report per burst");
    assert.match(String((reports[0] as { error: unknown }).error), /os error 24/);
    // After a success the next burst starts again at the shortest pause and is reported again.
    failuresLeft = 2;
    await request();
    await request();
    assert.deepEqual(sleeps.slice(6), [10, 20]);
    assert.equal(reports.length, 2);
  } finally {
    await server.shutdown();
  }
});
