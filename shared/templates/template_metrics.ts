/**
 * Template-distribution metrics. The primary's: templates published to relays (and the bytes
 * of each kind, full or delta, that relays are sent), failures and templates cut to fit the
 * NATS payload limit, heartbeats, and the block submissions relays sent it. A relay's: full
 * templates it had to fetch ({@link registerRelayTemplateMetrics}). Both join the pool's
 * registry so one endpoint serves everything.
 *
 * @module
 */
import type { MetricRegistry } from "../metrics/registry.ts";
import { CellCounter, CellGauge, CounterCell, type GaugeCell } from "../metrics/mod.ts";
import { TemplateWireKind } from "./template_delta.ts";

/** How a relay's block submission ended at the primary. */
export const RelayBlockOutcome = {
  /** Some node of the primary accepted the block. */
  accepted: "accepted",
  /** Submitted, but no node accepted it. */
  rejected: "rejected",
  /** Refused before submitting: malformed, wrong network, or too many in flight. */
  refused: "refused",
  /** The primary's submission threw (no node could be asked). */
  failed: "failed",
} as const;

/** One of {@link RelayBlockOutcome}. */
export type RelayBlockOutcome = typeof RelayBlockOutcome[keyof typeof RelayBlockOutcome];

/** Cells the {@link TemplatePublisher} writes. */
export interface TemplatePublisherMetrics {
  /** `ckpool_templates_published_total`: templates stored by JetStream. */
  readonly templatesPublished: Pick<CounterCell, "inc">;
  /** `ckpool_template_publish_failures_total`: encode or publish attempts that failed. */
  readonly templatePublishFailures: Pick<CounterCell, "inc">;
  /** `ckpool_templates_trimmed_total`: templates cut to fit the NATS payload limit. */
  readonly templatesTrimmed: Pick<CounterCell, "inc">;
  /** `ckpool_template_message_bytes`: size of the last template in full. */
  readonly templateMessageBytes: Pick<GaugeCell, "set">;
  /**
   * `ckpool_template_bytes_sent_total{kind}`: bytes of the live messages (what relays follow)
   * stored by JetStream, by kind (full or delta).
   */
  readonly templateBytesSent: Readonly<Record<TemplateWireKind, Pick<CounterCell, "inc">>>;
  /** `ckpool_template_messages_sent_total{kind}`: live messages stored, by kind. */
  readonly templateMessagesSent: Readonly<Record<TemplateWireKind, Pick<CounterCell, "inc">>>;
  /** `ckpool_primary_heartbeats_total`: heartbeats sent. */
  readonly heartbeatsSent: Pick<CounterCell, "inc">;
}

/** Cells the {@link BlockSubmitResponder} writes. */
export interface BlockSubmitResponderMetrics {
  /** `ckpool_relay_block_submissions_total{outcome}`. */
  readonly relayBlockSubmissions: Readonly<Record<RelayBlockOutcome, Pick<CounterCell, "inc">>>;
}

/** Every template-distribution metric of a primary, on one registry. */
export class TemplateDistributionMetrics
  implements TemplatePublisherMetrics, BlockSubmitResponderMetrics {
  readonly templatesPublished: CounterCell;
  readonly templatePublishFailures: CounterCell;
  readonly templatesTrimmed: CounterCell;
  readonly templateMessageBytes: GaugeCell;
  readonly templateBytesSent: Readonly<Record<TemplateWireKind, CounterCell>>;
  readonly templateMessagesSent: Readonly<Record<TemplateWireKind, CounterCell>>;
  readonly heartbeatsSent: CounterCell;
  readonly relayBlockSubmissions: Readonly<Record<RelayBlockOutcome, CounterCell>>;

  /**
   * Creates and registers the metrics.
   *
   * @param registry the registry to join (the pool's, which carries region and instance labels)
   * @throws {Error} when one of these names is already registered
   */
  constructor(registry: MetricRegistry) {
    this.templatesPublished = new CellCounter({
      registry,
      name: "ckpool_templates_published_total",
      help: "Block templates published for relays and stored by JetStream.",
    }).child();
    this.templatePublishFailures = new CellCounter({
      registry,
      name: "ckpool_template_publish_failures_total",
      help: "Template encodes or publishes to NATS that failed (each retry counts).",
    }).child();
    this.templatesTrimmed = new CellCounter({
      registry,
      name: "ckpool_templates_trimmed_total",
      help: "Templates cut to fewer transactions to fit the NATS server's max_payload.",
    }).child();
    this.templateMessageBytes = new CellGauge({
      registry,
      name: "ckpool_template_message_bytes",
      help: "Size in bytes of the last template published for relays, in full.",
    }).child();
    this.templateBytesSent = byKind(
      new CellCounter<"kind">({
        registry,
        name: "ckpool_template_bytes_sent_total",
        help: "Bytes of the template messages relays follow (full or delta) stored by JetStream.",
        labelNames: ["kind"],
      }),
    );
    this.templateMessagesSent = byKind(
      new CellCounter<"kind">({
        registry,
        name: "ckpool_template_messages_sent_total",
        help: "Template messages relays follow stored by JetStream, by kind (full or delta).",
        labelNames: ["kind"],
      }),
    );
    this.heartbeatsSent = new CellCounter({
      registry,
      name: "ckpool_primary_heartbeats_total",
      help: "Heartbeats the primary sent for relays.",
    }).child();
    const submissions = new CellCounter<"outcome">({
      registry,
      name: "ckpool_relay_block_submissions_total",
      help: "Blocks relays asked the primary to submit, by outcome.",
      labelNames: ["outcome"],
    });
    this.relayBlockSubmissions = Object.freeze({
      accepted: submissions.child({ outcome: RelayBlockOutcome.accepted }),
      rejected: submissions.child({ outcome: RelayBlockOutcome.rejected }),
      refused: submissions.child({ outcome: RelayBlockOutcome.refused }),
      failed: submissions.child({ outcome: RelayBlockOutcome.failed }),
    });
  }
}

function byKind(counter: CellCounter<"kind">): Readonly<Record<TemplateWireKind, CounterCell>> {
  return Object.freeze({
    full: counter.child({ kind: TemplateWireKind.full }),
    delta: counter.child({ kind: TemplateWireKind.delta }),
  });
}

/** Why a relay fetched the current template in full. */
export const FullFetchReason = {
  /** The relay held no template yet and the live message was a delta (it just started). */
  start: "start",
  /** A delta arrived whose base the relay did not hold (it missed a message). */
  base_missing: "base_missing",
  /** Heartbeats announced a template that did not arrive. */
  behind: "behind",
} as const;

/** One of {@link FullFetchReason}. */
export type FullFetchReason = typeof FullFetchReason[keyof typeof FullFetchReason];

/** Counts a relay's template source keeps (`NatsTemplateSource`). */
export interface RelayTemplateCounters {
  /** Full templates fetched from the stream, by reason. */
  readonly fullFetches: Readonly<Record<FullFetchReason, CounterCell>>;
}

/**
 * Publishes a relay's template counters on a registry (the relay's pool registry):
 * `ckpool_relay_template_full_fetches_total{reason}`. The source owns the cells and counts
 * from its start; the registry reads them at scrape.
 *
 * @param registry the registry to join
 * @param counters the template source's cells
 * @throws {Error} when the registry already has this name
 */
export function registerRelayTemplateMetrics(
  registry: MetricRegistry,
  counters: RelayTemplateCounters,
): void {
  const fetches = new CellCounter<"reason">({
    registry,
    name: "ckpool_relay_template_full_fetches_total",
    help: "Full templates this relay fetched from the stream: at start when the live message " +
      "was a delta, when a delta's base was missing, or when heartbeats showed it behind.",
    labelNames: ["reason"],
  });
  for (const reason of Object.values(FullFetchReason)) {
    fetches.child({ reason }, counters.fullFetches[reason]);
  }
}

/** Fresh cells for a template source's {@link RelayTemplateCounters}. */
export function relayTemplateCounters(): RelayTemplateCounters {
  return {
    fullFetches: Object.freeze(
      Object.fromEntries(
        Object.values(FullFetchReason).map((reason) => [reason, new CounterCell()]),
      ) as Record<FullFetchReason, CounterCell>,
    ),
  };
}
