/**
 * Makes sure the events stream and the collector's durable pull consumer exist with the settings
 * the pipeline relies on. Safe to run from several collectors at once: adding an identical
 * stream or consumer is a no-op on the server.
 *
 * The code lives in `@tbg/shared/nats`, shared with the provisioning tool
 * (`tools/nats_provision.ts`); this module keeps the collector's names for it.
 *
 * @module
 */
export {
  ACK_WAIT_MS,
  consumerConfig,
  consumerFilter,
  ensureConsumer,
  ensureStream,
  MAX_ACK_PENDING,
  type StreamOutcome,
} from "@tbg/shared/nats";
