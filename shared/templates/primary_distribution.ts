/**
 * The primary's whole NATS role for relays, behind one object the pool runtime starts and stops:
 * one background NATS connection shared by the template publisher, the heartbeat, the block
 * submission responder and the RTT ping answer (`mining.primary.ping`).
 *
 * Nothing here waits for NATS: {@link PrimaryTemplateDistribution.start} returns at once and the
 * pool starts whether NATS is up or not; templates published before the connection exists are
 * sent (the newest one) when it does.
 *
 * @module
 */
import type { Subscription } from "nats";
import type { BlockSubmitResult } from "../bitcoind/template_source.ts";
import type { StratumConfig } from "../config/mod.ts";
import type { Clock } from "../engine/clock.ts";
import type { BlockTemplate } from "../engine/template.ts";
import type { StructuredLogger } from "../log/mod.ts";
import { servePrimaryPing } from "../nats/primary_ping.ts";
import type { MetricRegistry } from "../metrics/registry.ts";
import { BlockSubmitResponder } from "./block_submit_responder.ts";
import { natsServers, PersistentNatsConnection } from "./nats_connection.ts";
import type { TemplateMessageMeta } from "./template_codec.ts";
import { TemplateDistributionMetrics } from "./template_metrics.ts";
import { type PublishInfo, TemplatePublisher } from "./template_publisher.ts";

/** Settings and dependencies of {@link PrimaryTemplateDistribution}. */
export interface PrimaryDistributionOptions {
  /** NATS servers (the hub, or the primary region's leaf). */
  readonly servers: readonly string[];
  /** Instance name (connection name, heartbeats, ping replies). */
  readonly instance: string;
  readonly network: string;
  readonly region: string;
  /** Heartbeat interval, ms. */
  readonly heartbeatIntervalMs: number;
  /** Relay auth tokens accepted on block submissions; none required when empty. */
  readonly authTokens?: readonly string[];
  /** Submits a block by every path the primary has (its template source). */
  readonly submitBlock: (hex: string) => Promise<BlockSubmitResult>;
  /** Whether the primary's template source is healthy (sent in heartbeats). */
  readonly templatesHealthy: () => boolean;
  /** Registry for the distribution metrics (the pool's). */
  readonly registry: MetricRegistry;
  readonly log: StructuredLogger;
  readonly clock?: Clock;
}

/** What a pool needs besides its config to build {@link PrimaryDistributionOptions}. */
export interface PrimaryDistributionDeps {
  readonly instance: string;
  readonly network: string;
  readonly submitBlock: (hex: string) => Promise<BlockSubmitResult>;
  readonly templatesHealthy: () => boolean;
  readonly registry: MetricRegistry;
  readonly log: StructuredLogger;
  readonly clock?: Clock;
}

/**
 * The distribution settings of a stratum config, or null when `templates.publish` is off.
 *
 * @param config the validated stratum config (`templates`, `events.nats_url`, `region`)
 * @param deps instance, network, the template source's submit and health, registry, logger
 */
export function primaryDistributionOptions(
  config: Pick<StratumConfig, "templates" | "events" | "region">,
  deps: PrimaryDistributionDeps,
): PrimaryDistributionOptions | null {
  if (!config.templates.publish) return null;
  return {
    ...deps,
    servers: natsServers(config.events.nats_url),
    region: config.region,
    heartbeatIntervalMs: config.templates.heartbeat_ms,
    authTokens: config.templates.relay_auth_tokens ?? [],
  };
}

/** The primary's template publisher, heartbeat, block responder and ping, on one connection. */
export class PrimaryTemplateDistribution {
  /** The shared connection. */
  readonly link: PersistentNatsConnection;
  readonly publisher: TemplatePublisher;
  readonly responder: BlockSubmitResponder;
  readonly metrics: TemplateDistributionMetrics;
  readonly #log: StructuredLogger;
  readonly #identity: { readonly region: string; readonly instance: string };
  #ping: Subscription | null = null;
  #unsubscribe: (() => void) | undefined;
  #started = false;

  /**
   * @param options servers, identity, network, heartbeat, submit function, registry, logger
   * @throws {RangeError} when a token or timing is invalid (see the parts)
   * @throws {Error} when the registry already has these metrics
   */
  constructor(options: PrimaryDistributionOptions) {
    this.#log = options.log;
    this.#identity = { region: options.region, instance: options.instance };
    this.metrics = new TemplateDistributionMetrics(options.registry);
    this.link = new PersistentNatsConnection({
      servers: options.servers,
      name: `${options.instance}-templates`,
      log: options.log.getChild("nats"),
    });
    const clock = options.clock === undefined ? {} : { clock: options.clock };
    this.publisher = new TemplatePublisher({
      link: this.link,
      network: options.network,
      region: options.region,
      instance: options.instance,
      heartbeatIntervalMs: options.heartbeatIntervalMs,
      templatesHealthy: options.templatesHealthy,
      metrics: this.metrics,
      log: options.log.getChild("publisher"),
      ...clock,
    });
    this.responder = new BlockSubmitResponder({
      link: this.link,
      network: options.network,
      region: options.region,
      submitBlock: options.submitBlock,
      authTokens: options.authTokens ?? [],
      metrics: this.metrics,
      log: options.log.getChild("blocks"),
      ...clock,
    });
  }

  /** Starts everything in the background; returns at once. Idempotent. */
  start(): void {
    if (this.#started) return;
    this.#started = true;
    this.publisher.start();
    this.responder.start();
    this.#unsubscribe = this.link.onConnected((connection, kind) => {
      if (kind !== "connect") return;
      this.#ping = servePrimaryPing(connection, this.#identity);
    });
    this.link.start();
    this.#log.info("publishing templates for relays", {
      heartbeatSubject: `mining.heartbeat.${this.#identity.region}`,
    });
  }

  /**
   * Publishes a template (never blocks, never throws); see {@link TemplatePublisher.publish}.
   *
   * @returns the message metadata, or null when it could not be encoded
   */
  publish(template: BlockTemplate, info: PublishInfo): TemplateMessageMeta | null {
    return this.publisher.publish(template, info);
  }

  /**
   * Stops taking block submissions (waiting for those in flight to reply), stops publishing,
   * then closes the connection (flushing what it holds).
   */
  async stop(): Promise<void> {
    this.#unsubscribe?.();
    await this.responder.stop();
    await this.publisher.stop();
    try {
      this.#ping?.unsubscribe();
    } catch {
      // Connection already closed.
    }
    await this.link.close();
  }
}
