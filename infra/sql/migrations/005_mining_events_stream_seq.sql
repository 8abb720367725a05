-- 005: mining_events.stream_seq, the hub stream sequence the collector stored each event from.
--
-- Redis side effects are settled once per hub stream sequence (collector/settled_record.ts), and
-- PostgreSQL decides which sequence an event's effects belong to: when the collector meets an
-- event id PostgreSQL already holds, it applies the Redis side effects only if the stored
-- stream_seq is the message's own (the same message redelivered, e.g. after a crash between the
-- PostgreSQL commit and Redis); a copy published again under a new sequence only settles its
-- sequence. Rows from before this migration have NULL: for those the collector falls back to the
-- per-event Redis dedup keys of the collectors that wrote them (tbg:dedup:{event_id}, 24 h).
--
-- Nullable with no default, so adding it rewrites nothing (on a partitioned table and on a
-- compressed hypertable alike); it is read only by primary key, so it needs no index.

ALTER TABLE mining_events ADD COLUMN stream_seq bigint;

COMMENT ON COLUMN mining_events.stream_seq IS
  'Hub stream (MINING_EVENTS) sequence of the message the collector stored the event from; NULL before migration 005.';
