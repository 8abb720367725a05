/**
 * Prometheus cells of the Stratum-over-TLS listeners, registered only by a pool that has them:
 * handshake outcomes (a timeout or refusal is a slowloris attempt or an overloaded listener) and
 * certificate reloads (an error means SIGHUP left the old certificate in place).
 */
import type { MetricRegistry } from "./registry.ts";
import type { TlsObserver } from "../engine/tls_terminator.ts";
import { CellCounter } from "./counter.ts";
import { CellGauge } from "./gauge.ts";

/** Outcomes of a TLS handshake, the `result` label of `ckpool_tls_handshakes_total`. */
export const TlsHandshakeResult = {
  Ok: "ok",
  Timeout: "timeout",
  Failed: "failed",
  Refused: "refused",
} as const;

/** One of {@link TlsHandshakeResult}. */
export type TlsHandshakeResult = typeof TlsHandshakeResult[keyof typeof TlsHandshakeResult];

/**
 * Registers `ckpool_tls_handshakes_total{result}`, `ckpool_tls_handshakes_in_flight`,
 * `ckpool_tls_certificate_reloads_total{result="ok"|"error"}` and
 * `ckpool_tls_backlog_closes_total` on `registry`.
 *
 * @returns the observer a {@link TlsObserver} consumer (the TLS terminator) reports to
 * @throws {Error} when the registry already holds one of these names
 */
export function registerTlsMetrics(registry: MetricRegistry): TlsObserver {
  const handshakes = new CellCounter<"result">({
    registry,
    name: "ckpool_tls_handshakes_total",
    help:
      "TLS handshakes on the serverurl_tls listeners by outcome: ok, timeout (closed after tls.handshake_timeout_ms), failed (version, cipher, not TLS, peer gone), refused (tls.max_handshakes in progress).",
    labelNames: ["result"],
  });
  const ok = handshakes.child({ result: TlsHandshakeResult.Ok });
  const timeout = handshakes.child({ result: TlsHandshakeResult.Timeout });
  const failed = handshakes.child({ result: TlsHandshakeResult.Failed });
  const refused = handshakes.child({ result: TlsHandshakeResult.Refused });
  const inFlight = new CellGauge({
    registry,
    name: "ckpool_tls_handshakes_in_flight",
    help: "TLS handshakes in progress.",
  }).child();
  const reloads = new CellCounter<"result">({
    registry,
    name: "ckpool_tls_certificate_reloads_total",
    help:
      'TLS certificate reloads on SIGHUP; result="error" kept the previous certificate (see the log).',
    labelNames: ["result"],
  });
  const backlog = new CellCounter({
    registry,
    name: "ckpool_tls_backlog_closes_total",
    help:
      "TLS connections closed because the miner left more than the output cap unread (the TLS relay's queue; plain connections count under their close reason).",
  }).child();
  const reloaded = reloads.child({ result: "ok" });
  const reloadFailed = reloads.child({ result: "error" });
  return {
    handshakeCompleted: () => ok.inc(),
    handshakeTimedOut: () => timeout.inc(),
    handshakeFailed: () => failed.inc(),
    handshakeRefused: () => refused.inc(),
    handshakesInFlight: (count) => inFlight.set(count),
    certificateReloaded: (success) => (success ? reloaded : reloadFailed).inc(),
    backlogExceeded: () => backlog.inc(),
  };
}
