/**
 * Starts a real Prometheus server on a free loopback port with its own temporary storage, for
 * tests that check dashboard queries against what Prometheus really scrapes, and derives its
 * scrape config from `infra/prometheus/prometheus.yml` (same jobs, labels and `honor_labels`,
 * targets replaced by the test's loopback addresses).
 *
 * ```ts
 * const prometheus = await startPrometheus(testScrapeConfig(repoConfig, targets));
 * const series = await prometheus.query('up{job="ckpool"}');
 * await prometheus.stop();
 * ```
 *
 * The binary comes from the Debian package `prometheus` (which also has `promtool`); without it
 * the start fails with a message naming the package.
 *
 * @module
 */
import { parse, stringify } from "yaml";
import { pickFreePort } from "./nats_server.ts";

/** One series of an instant query's result. */
export interface PromSeries {
  readonly metric: Readonly<Record<string, string>>;
  /** The value as Prometheus writes it (`"NaN"`, `"+Inf"` or a number). */
  readonly value: string;
}

/** A running test Prometheus. */
export interface PrometheusServer {
  /** `http://127.0.0.1:<port>`. */
  readonly url: string;
  /**
   * Runs an instant query at the current time.
   *
   * @throws {Error} with Prometheus's message when the query is refused
   */
  query(expr: string): Promise<PromSeries[]>;
  /** Stops the server (SIGTERM, SIGKILL after 5 s) and deletes its directory. Idempotent. */
  stop(): Promise<void>;
  /** The server's stderr so far (its log), for failure messages. */
  log(): string;
}

interface StaticConfig {
  targets: string[];
  labels?: Record<string, string>;
}

interface ScrapeConfig {
  job_name: string;
  static_configs?: StaticConfig[];
  [key: string]: unknown;
}

/**
 * The repository's Prometheus config made runnable here: the same scrape jobs, each target
 * replaced by the loopback address given for its `instance` label (targets without one are
 * left out), a one-second scrape interval, and no rule files or Alertmanager.
 *
 * @param yamlText `infra/prometheus/prometheus.yml`
 * @param targets `instance` label → `127.0.0.1:port`
 * @throws {Error} when a given instance is not in the config (the test and the config disagree)
 */
export function testScrapeConfig(
  yamlText: string,
  targets: Readonly<Record<string, string>>,
): string {
  const config = parse(yamlText) as { scrape_configs: ScrapeConfig[] };
  const used = new Set<string>();
  const scrapeConfigs = config.scrape_configs.map((job) => ({
    ...job,
    static_configs: (job.static_configs ?? []).flatMap((entry) => {
      const instance = entry.labels?.instance;
      const address = instance === undefined ? undefined : targets[instance];
      if (address === undefined) return [];
      used.add(instance!);
      return [{ ...entry, targets: [address] }];
    }),
  }));
  const unknown = Object.keys(targets).filter((instance) => !used.has(instance));
  if (unknown.length > 0) {
    throw new Error(`Cannot place targets: no instance ${unknown.join(", ")} in prometheus.yml`);
  }
  return stringify({
    global: { scrape_interval: "1s", scrape_timeout: "1s", evaluation_interval: "1s" },
    scrape_configs: scrapeConfigs,
  });
}

const READY_TIMEOUT_MS = 15_000;
const STOP_GRACE_MS = 5_000;
const MAX_LOG_CHARS = 64 * 1024;

/**
 * Starts `prometheus` with `configYaml` on a free loopback port; resolves once `/-/ready`
 * answers 200.
 *
 * @throws {Error} naming the Debian package when the binary is missing, or with the server's
 *   log when it exits or is not ready within 15 s
 */
export async function startPrometheus(configYaml: string): Promise<PrometheusServer> {
  const dir = await Deno.makeTempDir({ prefix: "tbg-prometheus-" });
  const port = pickFreePort();
  await Deno.writeTextFile(`${dir}/prometheus.yml`, configYaml);
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command("prometheus", {
      args: [
        `--config.file=${dir}/prometheus.yml`,
        `--storage.tsdb.path=${dir}/data`,
        `--web.listen-address=127.0.0.1:${port}`,
        "--log.level=warn",
      ],
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
  } catch (error) {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
    if (error instanceof Deno.errors.NotFound) {
      throw new Error(
        'Cannot run prometheus: binary not found on PATH; install the Debian package "prometheus"',
        { cause: error },
      );
    }
    throw error;
  }
  let log = "";
  const drained = (async () => {
    const decoder = new TextDecoder();
    for await (const chunk of child.stderr) {
      if (log.length < MAX_LOG_CHARS) log += decoder.decode(chunk, { stream: true });
    }
  })();
  let exited = false;
  const status = child.status.then((s) => {
    exited = true;
    return s;
  });
  const url = `http://127.0.0.1:${port}`;
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    if (!exited) {
      child.kill("SIGTERM");
      const timer = setTimeout(() => {
        if (!exited) child.kill("SIGKILL");
      }, STOP_GRACE_MS);
      await status;
      clearTimeout(timer);
    }
    await drained.catch(() => {});
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  };

  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (true) {
    if (exited) {
      await stop();
      throw new Error(`Cannot start prometheus: it exited\n--- log ---\n${log}`);
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`Cannot start prometheus: not ready after ${READY_TIMEOUT_MS} ms\n${log}`);
    }
    const ready = await fetch(`${url}/-/ready`).catch(() => null);
    await ready?.body?.cancel();
    if (ready?.status === 200) break;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }

  return {
    url,
    log: () => log,
    stop,
    async query(expr: string): Promise<PromSeries[]> {
      const response = await fetch(`${url}/api/v1/query`, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({ query: expr }),
      });
      const body = await response.json() as {
        status?: string;
        error?: string;
        data?: {
          resultType?: string;
          result?: { metric: Record<string, string>; value: [number, string] }[];
        };
      };
      if (body.status !== "success") {
        throw new Error(`Cannot query ${JSON.stringify(expr)}: ${body.error ?? response.status}`);
      }
      if (body.data?.resultType !== "vector") {
        throw new Error(`Cannot query ${JSON.stringify(expr)}: result is ${body.data?.resultType}`);
      }
      return (body.data.result ?? []).map((r) => ({ metric: r.metric, value: r.value[1] }));
    },
  };
}
