/**
 * The unit the emitter moves around: an event already encoded for NATS, with the subject and
 * the JetStream message id it is published under. Encoded once on the share path; the buffer,
 * the spool and the publisher only carry the bytes.
 *
 * @module
 */

/** One encoded event on its way to JetStream. */
export interface OutboundEvent {
  /** NATS subject, e.g. `mining.events.eu.share_submitted`. */
  readonly subject: string;
  /** JetStream `Nats-Msg-Id`: the event's `event_id`, so a re-send is de-duplicated. */
  readonly msgId: string;
  /** The encoded envelope (UTF-8 JSON). */
  readonly payload: Uint8Array;
}
