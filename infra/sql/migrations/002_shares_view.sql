-- 002: shares, a typed view of share_submitted events, and the index behind "shares of a user
-- over time" (dashboards, per-miner history).
--
-- The index expression and predicate match the view's definition exactly, so a query on the view
-- such as `WHERE "user" = $1 AND ts >= $2 ORDER BY ts DESC` can use it after view expansion.

CREATE INDEX mining_events_share_user_ts_idx
  ON mining_events ((payload->>'user'), ts DESC)
  WHERE event_type = 'share_submitted';

CREATE VIEW shares AS
SELECT
  payload->>'user'                         AS "user",
  payload->>'worker'                       AS worker,
  payload->>'session_id'                   AS session_id,
  payload->>'job_id'                       AS job_id,
  (payload->>'share_diff')::double precision AS share_diff,
  (payload->>'pool_diff')::double precision  AS pool_diff,
  (payload->>'accepted')::boolean          AS accepted,
  payload->>'reject_reason'                AS reject_reason,
  (payload->>'block_candidate')::boolean   AS block_candidate,
  region,
  ts,
  event_id
FROM mining_events
WHERE event_type = 'share_submitted';

COMMENT ON VIEW shares IS 'share_submitted events with typed columns; reject_reason is NULL when accepted.';
