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
  HEARTBEATS_WILDCARD,
  heartbeatSubject,
  hubToRegionInboxPrefix,
  regionEventsWildcard,
  regionInboxPrefix,
  SUBJECT_TOKEN_PATTERN,
  templateLiveSubject,
  templateSubject,
} from "./subjects.ts";
export {
  MINING_EVENTS_STREAM,
  MINING_EVENTS_STREAM_NAME,
  type MiningEventsStreamConfig,
  miningEventsStreamConfig,
} from "./stream.ts";
export {
  ACK_WAIT_MS,
  consumerConfig,
  consumerFilter,
  type DurableConsumerConfig,
  EVENT_PIPELINE_DESCRIPTION,
  EVENT_PIPELINE_DURABLE,
  GAME_ENGINE_DESCRIPTION,
  GAME_ENGINE_DURABLE,
  MAX_ACK_PENDING,
  miningEventsConsumers,
} from "./consumers.ts";
export {
  applyPlan,
  conflictError,
  describeChanges,
  diffConsumer,
  diffStream,
  ensureConsumer,
  ensureStream,
  type FieldChange,
  IMMUTABLE_CONSUMER_FIELDS,
  IMMUTABLE_STREAM_FIELDS,
  MANAGED_CONSUMER_FIELDS,
  MANAGED_STREAM_FIELDS,
  planConsumer,
  planStream,
  planTarget,
  type ProvisionPlan,
  type StreamOutcome,
} from "./provision.ts";
export {
  HUB_JETSTREAM_DOMAIN,
  type HubMiningEventsStreamConfig,
  hubMiningEventsStreamConfig,
  jetStreamApiPrefix,
  regionEventsSource,
  regionEventsStreamConfig,
  regionEventsStreamName,
  sourceDeliverPrefix,
} from "./region_streams.ts";
export {
  decodePingReply,
  pingPrimary,
  PRIMARY_PING_SUBJECT,
  type PrimaryPingReply,
  type PrimaryPingResult,
  servePrimaryPing,
} from "./primary_ping.ts";
export {
  MAX_MONITOR_BODY_BYTES,
  NatsMonitorExporter,
  type NatsMonitorExporterOptions,
} from "./monitor_exporter.ts";
export {
  type ConsumerSnapshot,
  type JszSnapshot,
  MAX_CONSUMERS,
  MAX_STREAMS,
  parseJsz,
  parseVarz,
  type StreamSnapshot,
  type VarzSnapshot,
} from "./monitor_snapshot.ts";
