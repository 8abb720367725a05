/**
 * Template distribution from the primary to the relays, and block submission back, over NATS.
 *
 * Primary (the stratum service with `templates.publish`):
 * ```ts
 * const link = new PersistentNatsConnection({ servers, name: "stratum-eu-0-templates", log });
 * const publisher = new TemplatePublisher({ link, network, region: "eu", instance, log, metrics });
 * const responder = new BlockSubmitResponder({
 *   link, network, region: "eu", log, metrics, submitBlock: (hex) => source.submitBlock(hex),
 * });
 * publisher.start(); responder.start(); link.start();        // none of these waits for NATS
 * publisher.publish(blockTemplate, { reason, source, receivedAtMs }); // per template, never blocks
 * await responder.stop(); await publisher.stop(); await link.close();
 * ```
 *
 * Relay: {@link NatsTemplateSource} is a `TemplateSource` (see its module for an example); use
 * {@link blockTemplateOf} to get the engine's template from any update without re-parsing.
 *
 * On the wire: `mining.templates.{network}.live` carries each template as a binary delta against
 * the previous one ({@link encodeTemplateDelta}) or as the binary template message
 * ({@link encodeTemplateMessage}), whichever is smaller; `mining.templates.{network}` carries
 * every template in full, for relays that start or miss a delta's base. Both are kept per
 * network in the last-value stream MINING_TEMPLATES;
 * `mining.heartbeat.{region}` carries the primary's JSON heartbeat ({@link encodeHeartbeat});
 * `mining.blocks.submit` carries a binary request ({@link encodeBlockSubmitRequest}) and a JSON
 * reply ({@link encodeBlockSubmitReply}).
 *
 * NATS servers (hub and leaves) should allow `max_payload` of at least 8 MB: a full block's
 * template or block is larger than the 1 MB default. Templates that do not fit are cut to fewer
 * transactions (counted in `ckpool_templates_trimmed_total`); blocks cannot be cut.
 *
 * @module
 */
export {
  BLOCK_SUBMIT_FORMAT,
  BLOCK_SUBMIT_MAGIC,
  BlockSubmitErrorCode,
  type BlockSubmitReply,
  type BlockSubmitRequest,
  coinbaseHeight,
  decodeBlockSubmitReply,
  decodeBlockSubmitRequest,
  encodeBlockSubmitReply,
  encodeBlockSubmitRequest,
  MAX_AUTH_TOKEN_BYTES,
  MAX_BLOCK_BYTES,
  MAX_BLOCK_SUBMIT_REPLY_BYTES,
  MAX_BLOCK_SUBMIT_REQUEST_BYTES,
} from "./block_submit_codec.ts";
export {
  BLOCK_SUBMIT_QUEUE,
  BlockSubmitResponder,
  type BlockSubmitResponderOptions,
  DEFAULT_MAX_SUBMITS_IN_FLIGHT,
} from "./block_submit_responder.ts";
export {
  decodeHeartbeat,
  encodeHeartbeat,
  HEARTBEAT_FORMAT,
  MAX_HEARTBEAT_BYTES,
  type PrimaryHeartbeat,
} from "./heartbeat.ts";
export {
  type ConnectedListener,
  type ConnectKind,
  DEFAULT_CONNECT_TIMEOUT_MS,
  DEFAULT_PING_INTERVAL_MS,
  DEFAULT_RETRY_DELAY_MS,
  natsServers,
  PersistentNatsConnection,
  type PersistentNatsConnectionOptions,
} from "./nats_connection.ts";
export {
  blockTemplateOf,
  DEFAULT_PRIMARY_TIMEOUT_MS,
  DEFAULT_SUBMIT_TIMEOUT_MS,
  isPrimaryTemplateUpdate,
  NatsTemplateSource,
  type NatsTemplateSourceOptions,
  type PrimarySubmitOutcome,
  type PrimaryTemplateUpdate,
} from "./nats_template_source.ts";
export {
  type PrimaryDistributionDeps,
  type PrimaryDistributionOptions,
  primaryDistributionOptions,
  PrimaryTemplateDistribution,
} from "./primary_distribution.ts";
export {
  blockTemplateFromMessage,
  type DecodedTemplateMessage,
  decodeTemplateMessage,
  type DecodeTemplateOptions,
  DEFAULT_MAX_TEMPLATE_MESSAGE_BYTES,
  encodeTemplateMessage,
  MAX_TRANSACTION_BYTES,
  merkleBranchLength,
  TEMPLATE_MESSAGE_FORMAT,
  TEMPLATE_MESSAGE_MAGIC,
  type TemplateContent,
  type TemplateGbt,
  type TemplateHead,
  type TemplateMessage,
  type TemplateMessageMeta,
  templateMessageSize,
  templateToGbt,
  transactionWireSize,
} from "./template_codec.ts";
export {
  applyTemplateDelta,
  compareTemplateIds,
  type DecodedTemplateDelta,
  decodeTemplateDelta,
  DeltaSegmentKind,
  encodeTemplateDelta,
  TEMPLATE_DELTA_FORMAT,
  TEMPLATE_DELTA_MAGIC,
  type TemplateBase,
  TemplateBaseMismatchError,
  type TemplateBaseRef,
  type TemplateDeltaSegment,
  templateDigest,
  type TemplateId,
  TemplateWireKind,
  templateWireKind,
} from "./template_delta.ts";
export {
  type FittedTemplateMessage,
  fitTemplateMessage,
  truncateTemplate,
} from "./template_fit.ts";
export {
  type BlockSubmitResponderMetrics,
  FullFetchReason,
  registerRelayTemplateMetrics,
  RelayBlockOutcome,
  type RelayTemplateCounters,
  relayTemplateCounters,
  TemplateDistributionMetrics,
  type TemplatePublisherMetrics,
} from "./template_metrics.ts";
export {
  DEFAULT_HEARTBEAT_INTERVAL_MS,
  DEFAULT_PUBLISH_ATTEMPTS,
  DEFAULT_PUBLISH_TIMEOUT_MS,
  type PublishInfo,
  TemplatePublisher,
  type TemplatePublisherOptions,
} from "./template_publisher.ts";
export {
  MINING_TEMPLATES_STREAM_NAME,
  TEMPLATE_MAX_AGE_MS,
  TEMPLATES_LIVE_WILDCARD,
  TEMPLATES_WILDCARD,
  type TemplatesStreamConfig,
  templatesStreamConfig,
} from "./template_stream.ts";
