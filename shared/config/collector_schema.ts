import type { z } from "zod";
import type { CollectorConfig, Equals } from "./config_types.ts";
import {
  boolean,
  defaultedSection,
  intInRange,
  nonEmptyString,
  optional,
  positiveInt,
  required,
  section,
  stringMatching,
  withDefault,
} from "./_fields.ts";
import { isRegionSlug, metricsSection, natsUrlField, redisUrlField } from "./engine_schema.ts";
import { parseBtcdUrl, parseServiceUrl } from "./endpoint.ts";

/** True for a JetStream stream or consumer name (one NATS token, no wildcards or separators). */
export function isJetStreamName(name: string): boolean {
  return /^[A-Za-z0-9_-]{1,255}$/.test(name);
}

const jetStreamName = (): z.ZodString =>
  stringMatching(isJetStreamName, "a JetStream name of letters, digits, '_' and '-'");

// Built on first use: a service builds only its own kind's schema (each costs memory).
function buildSchema() {
  return section({
    nats_url: withDefault(
      natsUrlField(),
      "nats://127.0.0.1:4222",
      "NATS server(s) of the hub holding the events stream.",
    ),
    region_filter: optional(
      stringMatching(isRegionSlug, "a slug of 1 to 32 characters from [a-z0-9-]"),
      "Consume only this region's events; all regions when absent.",
    ),
    postgres: required(
      section({
        url: required(
          stringMatching(
            (value) => parseServiceUrl(value, { postgres: 5432, postgresql: 5432 }) !== undefined,
            `"postgres://user:password@host[:port]/database"`,
            true,
          ),
          "PostgreSQL connection URL.",
        ),
      }),
      "PostgreSQL (TimescaleDB when available) for event storage.",
    ),
    redis: required(
      section({ url: required(redisUrlField(), "Redis server URL.") }),
      "Redis for real-time state and streams.",
    ),
    batch: defaultedSection({
      max_events: withDefault(positiveInt(), 1000, "Most events written per database batch."),
      max_wait_ms: withDefault(
        positiveInt(),
        50,
        "Milliseconds a partial batch waits before it is written.",
      ),
      summary_fold_ms: withDefault(
        positiveInt(),
        10000,
        "Most milliseconds between folds of the batches' summary deltas into miners and " +
          "worker_hourly while batches queue (the last batch of a queue always folds).",
      ),
    }, "Batching of database writes."),
    stream: withDefault(jetStreamName(), "MINING_EVENTS", "JetStream stream holding the events."),
    durable: withDefault(
      jetStreamName(),
      "event-pipeline",
      "Durable consumer name; collectors with the same name share the load.",
    ),
    metrics: metricsSection(9101),
    nats_monitor: optional(
      section({
        url: required(
          stringMatching((value) => parseBtcdUrl(value) !== undefined, `"http://host:port"`),
          "Monitoring address of the hub's nats-server (its `http` port, 8222 by convention).",
        ),
        poll_ms: withDefault(
          intInRange(1_000, 3_600_000),
          15_000,
          "Milliseconds between polls of /varz and /jsz (one at a time).",
        ),
        timeout_ms: withDefault(
          intInRange(100, 60_000),
          2_000,
          "Milliseconds each monitoring request may take before the poll counts as failed.",
        ),
      }),
      "Poll the hub nats-server's monitoring port and export it as nats_server_* and jetstream_* metrics (streams, consumers) on this collector's /metrics.",
      "none (no NATS server metrics)",
    ),
    migrate_on_start: withDefault(
      boolean(),
      false,
      "Apply pending SQL migrations before consuming.",
    ),
    retention_days: withDefault(
      intInRange(2, 36_500),
      7,
      "Days of raw events (mining_events) kept; older daily partitions are dropped every 6 h. " +
        "worker_hourly, miners and blocks are kept. At least 2: an event can arrive 48 h after " +
        "its timestamp (24 h in an edge stream, 24 h in the hub's) and must find its stored row.",
    ),
    logdir: optional(
      nonEmptyString("a directory path"),
      "Directory for log files; stderr only when absent.",
    ),
  });
}

/** Proof, checked by the compiler, that the schema's output is exactly {@link CollectorConfig}. */
const _outputMatches: Equals<z.output<ReturnType<typeof buildSchema>>, CollectorConfig> = true;

let built: z.ZodType<CollectorConfig, unknown> | undefined;

/**
 * Configuration of `tbg-collector`, the event pipeline from JetStream into PostgreSQL and
 * Redis. Unknown keys are rejected.
 */
export function collectorConfigSchema(): z.ZodType<CollectorConfig, unknown> {
  return built ??= buildSchema();
}
