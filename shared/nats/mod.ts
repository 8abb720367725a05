/**
 * NATS subjects and JetStream stream definitions shared by every service.
 *
 * @module
 */
export {
  assertSubjectToken,
  blockSubmitSubject,
  EVENTS_WILDCARD,
  eventSubject,
  eventSubjects,
  eventTypeWildcard,
  heartbeatSubject,
  regionEventsWildcard,
  SUBJECT_TOKEN_PATTERN,
  templateSubject,
} from "./subjects.ts";
export {
  MINING_EVENTS_STREAM,
  MINING_EVENTS_STREAM_NAME,
  type MiningEventsStreamConfig,
  miningEventsStreamConfig,
} from "./stream.ts";
export {
  HUB_JETSTREAM_DOMAIN,
  type HubMiningEventsStreamConfig,
  hubMiningEventsStreamConfig,
  jetStreamApiPrefix,
  regionEventsSource,
  regionEventsStreamConfig,
  regionEventsStreamName,
} from "./region_streams.ts";
