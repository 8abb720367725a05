/**
 * The metrics registry and the Prometheus text exposition format (version 0.0.4).
 *
 * Why not prom-client's `Registry`: the services keep every value in cells of their own
 * (counter.ts, gauge.ts, histogram.ts) and used prom-client only to print them, yet importing it
 * costs a fresh process about 5 MB RSS, 3 MB of it its own (it loads node:cluster, node:http,
 * node:zlib … for features unused here); see BENCHMARKS.md "fresh_memory". The text is
 * byte-for-byte what prom-client 15 prints for the same metrics — the order of registration,
 * a blank line between metrics, HELP and label escaping, `+Inf`/`-Inf`/`Nan`, default labels —
 * which registry_test.ts checks against prom-client itself.
 *
 * @module
 */

/** The Content-Type of the text format this registry renders. */
export const PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** One exported sample: a series name (the metric's when absent), its labels and its value. */
export interface ExportedSample {
  /** The series name, e.g. `<name>_bucket`; the metric's name when absent. */
  readonly metricName?: string;
  /** Label values; numbers print as JavaScript prints them (histogram `le`). */
  readonly labels: Readonly<Record<string, string | number | undefined>>;
  /** The sample value. */
  readonly value: number;
}

/** What a metric renders at scrape time. */
export interface ExportedValues {
  /** The metric's samples, in the order they are printed. */
  readonly values: readonly ExportedSample[];
}

/** A metric the registry can print. */
export interface ExportedMetric {
  /** The metric name. */
  readonly name: string;
  /** The HELP line. */
  readonly help: string;
  /** What the TYPE line says. */
  readonly type: "counter" | "gauge" | "histogram";
  /** The samples, read at every scrape. */
  get(): ExportedValues | Promise<ExportedValues>;
  /** Forgets every value (tests and {@linkcode MetricRegistry.resetMetrics}). */
  reset(): void;
}

/**
 * Checks a metric's name and label names as Prometheus (and prom-client) define them.
 *
 * @throws {Error} "Invalid metric name" or "Invalid label name", prom-client's messages.
 */
export function checkMetricNames(name: string, labelNames: readonly string[]): void {
  if (!METRIC_NAME.test(name)) throw new Error("Invalid metric name");
  if (!labelNames.every((label) => LABEL_NAME.test(label))) {
    throw new Error("Invalid label name");
  }
}

/** A set of metrics rendered together on one scrape endpoint. */
export class MetricRegistry {
  readonly #metrics = new Map<string, ExportedMetric>();
  #defaultLabels: Readonly<Record<string, string>> = {};

  /** The Content-Type of {@linkcode metrics}'s text. */
  get contentType(): string {
    return PROMETHEUS_CONTENT_TYPE;
  }

  /**
   * Adds a metric; registering the same object twice is a no-op.
   *
   * @throws {Error} when another metric of that name is registered.
   */
  registerMetric(metric: ExportedMetric): void {
    const existing = this.#metrics.get(metric.name);
    if (existing !== undefined && existing !== metric) {
      throw new Error(`A metric with the name ${metric.name} has already been registered.`);
    }
    this.#metrics.set(metric.name, metric);
  }

  /** Labels added to every sample that does not carry a label of the same name. */
  setDefaultLabels(labels: Readonly<Record<string, string>>): void {
    this.#defaultLabels = { ...labels };
  }

  /** Forgets every value of every metric. */
  resetMetrics(): void {
    for (const metric of this.#metrics.values()) metric.reset();
  }

  /**
   * The exposition text of every metric, in registration order.
   *
   * @throws whatever a metric's `get()` throws (the scrape fails as a whole).
   */
  async metrics(): Promise<string> {
    const rendered = await Promise.all(
      [...this.#metrics.values()].map((metric) => this.#render(metric)),
    );
    return `${rendered.join("\n\n")}\n`;
  }

  async #render(metric: ExportedMetric): Promise<string> {
    const { values } = await metric.get();
    const name = escapeText(metric.name);
    const lines = [`# HELP ${name} ${escapeText(metric.help)}`, `# TYPE ${name} ${metric.type}`];
    const defaults = Object.keys(this.#defaultLabels).length > 0 ? this.#defaultLabels : null;
    for (const sample of values) {
      // Key order as prom-client's `{ ...labels, ...defaults, ...labels }`: the sample's own
      // labels first and winning, then the defaults it lacks.
      const labels = defaults === null ? sample.labels : { ...defaults, ...sample.labels };
      const keys = defaults === null ? Object.keys(labels) : [
        ...Object.keys(sample.labels),
        ...Object.keys(defaults).filter((k) => !(k in sample.labels)),
      ];
      let labelText = "";
      for (const key of keys) {
        labelText += `${labelText === "" ? "" : ","}${key}="${escapeLabelValue(labels[key])}"`;
      }
      lines.push(
        `${sample.metricName ?? name}${labelText === "" ? "" : `{${labelText}}`} ${
          formatValue(sample.value)
        }`,
      );
    }
    return lines.join("\n");
  }
}

/** A sample value as the text format writes it. */
export function formatValue(value: number): string {
  if (Number.isNaN(value)) return "Nan";
  if (!Number.isFinite(value)) return value < 0 ? "-Inf" : "+Inf";
  return `${value}`;
}

function escapeText(text: string): string {
  return text.replace(/\\/g, "\\\\").replace(/\n/g, "\\n");
}

function escapeLabelValue(value: string | number | undefined): string {
  return typeof value === "string" ? escapeText(value).replace(/"/g, '\\"') : `${value}`;
}
