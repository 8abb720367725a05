/**
 * Health reports served on `/health`, which GeoDNS health checks poll: an instance that cannot
 * take miners answers 503 and DNS steers miners to the next region.
 *
 * @module
 */

/** One named condition and a human-readable detail for the operator. */
export interface HealthCheck {
  /** Whether the condition holds. */
  readonly ok: boolean;
  /** What was seen, e.g. `age 12.0 s (limit 120 s)`. */
  readonly detail: string;
}

/** The whole answer: overall `ok` plus each check. */
export interface HealthReport {
  /** Whether the instance should receive miners. */
  readonly ok: boolean;
  /** Every check by name, passing or not. */
  readonly checks: Readonly<Record<string, HealthCheck>>;
}

/** Computes a report on demand (on each `/health` request); must be cheap and synchronous. */
export type HealthSource = () => HealthReport;

/** Inputs of {@linkcode stratumHealth}, all read on each request. */
export interface StratumHealthOptions {
  /** Whether the Stratum listener is open and accepting connections. */
  readonly listening: () => boolean;
  /** Milliseconds since the current template arrived; `Infinity` before the first. */
  readonly templateAgeMs: () => number;
  /** Oldest template age that still counts as fresh. */
  readonly maxTemplateAgeMs: number;
  /** Whether bitcoind (or, on a relay, the template feed) answers. */
  readonly bitcoindConnected: () => boolean;
  /** Detail of the bitcoind check when not connected (e.g. which node refuses templates and why). */
  readonly bitcoindDetail?: () => string;
  /**
   * Whether the template source can still produce new templates (the pool's bitcoind; on a
   * relay the primary's feed, or its local node in independent mode). Decides `ok` when given:
   * miners sent to an instance that cannot follow the next block would only make stale work.
   */
  readonly templateSourceHealthy?: () => boolean;
}

/** Check names {@linkcode stratumHealth} reports. */
export const StratumCheck = {
  listener: "stratum_listener",
  template: "template_fresh",
  bitcoind: "bitcoind_connected",
  source: "template_source",
} as const;

/** Union of the Stratum check names. */
export type StratumCheck = typeof StratumCheck[keyof typeof StratumCheck];

/**
 * Health of a Stratum instance: ok only while the Stratum port accepts connections and the
 * current template is fresh, since miners on a stale template waste their work.
 *
 * The bitcoind check is reported but does not decide `ok`: a relay fed by the primary works
 * without its local node. The template-source check (when given) does: an instance whose source
 * cannot deliver the next template fails at once rather than when its template has aged out.
 *
 * @throws {RangeError} when `maxTemplateAgeMs` is not a positive finite number.
 */
export function stratumHealth(options: StratumHealthOptions): HealthSource {
  const maxAgeMs = options.maxTemplateAgeMs;
  if (!(maxAgeMs > 0 && maxAgeMs !== Infinity)) {
    throw new RangeError(`Cannot build health check: maxTemplateAgeMs ${maxAgeMs} is not > 0`);
  }
  return (): HealthReport => {
    const listening = options.listening();
    const ageMs = options.templateAgeMs();
    const fresh = ageMs <= maxAgeMs;
    const connected = options.bitcoindConnected();
    const sourceHealthy = options.templateSourceHealthy?.();
    const limit = `(limit ${formatSeconds(maxAgeMs)})`;
    return {
      ok: listening && fresh && sourceHealthy !== false,
      checks: {
        [StratumCheck.listener]: {
          ok: listening,
          detail: listening ? "accepting connections" : "not accepting connections",
        },
        [StratumCheck.template]: {
          ok: fresh,
          detail: Number.isFinite(ageMs)
            ? `age ${formatSeconds(ageMs)} ${limit}`
            : `no template yet ${limit}`,
        },
        [StratumCheck.bitcoind]: {
          ok: connected,
          detail: connected ? "connected" : options.bitcoindDetail?.() ?? "unreachable",
        },
        ...(sourceHealthy === undefined ? {} : {
          [StratumCheck.source]: {
            ok: sourceHealthy,
            detail: sourceHealthy ? "delivering templates" : "cannot deliver new templates",
          },
        }),
      },
    };
  };
}

/**
 * Joins several sources (e.g. Stratum plus a relay's link to the primary): ok when all are ok.
 * Checks with the same name are merged: ok only if every one is, details joined with `; `.
 */
export function combineHealth(...sources: readonly HealthSource[]): HealthSource {
  return (): HealthReport => {
    let ok = true;
    const checks: Record<string, HealthCheck> = {};
    for (const source of sources) {
      const report = source();
      ok &&= report.ok;
      for (const [name, check] of Object.entries(report.checks)) {
        const earlier = checks[name];
        checks[name] = earlier === undefined ? check : {
          ok: earlier.ok && check.ok,
          detail: `${earlier.detail}; ${check.detail}`,
        };
      }
    }
    return { ok, checks };
  };
}

/** Names of the checks that fail, sorted. */
export function failingChecks(report: HealthReport): string[] {
  return Object.entries(report.checks)
    .filter(([, check]) => !check.ok)
    .map(([name]) => name)
    .sort();
}

function formatSeconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}
