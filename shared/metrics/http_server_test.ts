import assert from "node:assert/strict";
import client from "prom-client";
import { PoolMetrics } from "./pool_metrics.ts";
import type { HealthReport } from "./health_checks.ts";
import { type HealthBody, type MetricsServer, startMetricsServer } from "./http_server.ts";
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
    assert.equal(response.headers.get("content-type"), client.Registry.PROMETHEUS_CONTENT_TYPE);
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
    new client.Gauge({
      name: "t_broken",
      help: "h",
      registers: [metrics.registry],
      collect() {
        throw new RangeError("Cannot read gauge: broken");
      },
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
  const registry = new client.Registry();
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
        registry: new client.Registry(),
        health: () => ({ ok: true, checks: {} }),
      }), Deno.errors.AddrInUse);
    return Promise.resolve();
  });
});
