/**
 * The primary's template-distribution metrics: templates published to relays, failures and
 * templates cut to fit the NATS payload limit, heartbeats, and the block submissions relays
 * sent it. Added to the pool's registry so one endpoint serves everything.
 *
 * @module
 */
import type client from "prom-client";
import { CellCounter, CellGauge, type CounterCell, type GaugeCell } from "../metrics/mod.ts";

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
  /** `ckpool_template_message_bytes`: size of the last template message. */
  readonly templateMessageBytes: Pick<GaugeCell, "set">;
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
  readonly heartbeatsSent: CounterCell;
  readonly relayBlockSubmissions: Readonly<Record<RelayBlockOutcome, CounterCell>>;

  /**
   * Creates and registers the metrics.
   *
   * @param registry the registry to join (the pool's, which carries region and instance labels)
   * @throws {Error} from prom-client when one of these names is already registered
   */
  constructor(registry: client.Registry) {
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
      help: "Size in bytes of the last template message published for relays.",
    }).child();
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
