-- 003: blocks and miners, the small tables dashboards read.
--
-- blocks: one row per block_found event (ON CONFLICT DO NOTHING on hash or event_id).
-- miners: one row per (user, worker), upserted by the collector from events newly inserted into
-- mining_events in the same transaction, so a redelivered event never counts twice.
-- "user" is a reserved word in SQL and is always quoted.

CREATE TABLE blocks (
  hash          text        PRIMARY KEY,
  height        int         NOT NULL,
  "user"        text        NOT NULL,
  worker        text        NOT NULL,
  reward_sats   bigint      NOT NULL,
  region        text        NOT NULL,
  accepted      boolean     NOT NULL,
  reject_reason text,
  found_at      timestamptz NOT NULL,
  event_id      uuid        UNIQUE
);

CREATE INDEX blocks_found_at_idx ON blocks (found_at DESC);

COMMENT ON TABLE blocks IS 'Blocks found by miners, from block_found events; accepted = a node took it.';

CREATE TABLE miners (
  "user"          text             NOT NULL,
  worker          text             NOT NULL,
  first_seen      timestamptz      NOT NULL,
  last_seen       timestamptz      NOT NULL,
  last_share_at   timestamptz,
  shares_accepted bigint           NOT NULL DEFAULT 0,
  shares_rejected bigint           NOT NULL DEFAULT 0,
  best_diff       double precision NOT NULL DEFAULT 0,
  user_agent      text,
  region          text,
  PRIMARY KEY ("user", worker)
);

CREATE INDEX miners_last_seen_idx ON miners (last_seen DESC);

COMMENT ON TABLE miners IS 'Per user/worker totals; worker is '''' for a bare address login.';
