import assert from "node:assert/strict";
import { MetricRegistry } from "./registry.ts";
import { registerTlsMetrics } from "./tls_metrics.ts";

Deno.test("registerTlsMetrics() counts handshake outcomes and reloads by result", async () => {
  const registry = new MetricRegistry();
  const observer = registerTlsMetrics(registry);
  observer.handshakeCompleted();
  observer.handshakeCompleted();
  observer.handshakeTimedOut();
  observer.handshakeFailed();
  observer.handshakeRefused();
  observer.handshakesInFlight(3);
  observer.certificateReloaded(true);
  observer.certificateReloaded(false);
  observer.certificateReloaded(false);
  observer.backlogExceeded();
  const text = await registry.metrics();
  for (
    const line of [
      'ckpool_tls_handshakes_total{result="ok"} 2',
      'ckpool_tls_handshakes_total{result="timeout"} 1',
      'ckpool_tls_handshakes_total{result="failed"} 1',
      'ckpool_tls_handshakes_total{result="refused"} 1',
      "ckpool_tls_handshakes_in_flight 3",
      'ckpool_tls_certificate_reloads_total{result="ok"} 1',
      'ckpool_tls_certificate_reloads_total{result="error"} 2',
      "ckpool_tls_backlog_closes_total 1",
    ]
  ) {
    assert.ok(text.split("\n").includes(line), `${line} in\n${text}`);
  }
});
