/**
 * The SQL migrations in `migrations/`, in the order they apply.
 *
 * The files are imported as text modules, so they are part of the module graph: a service that
 * migrates on start needs no read permission for them, and `deno compile` embeds them. Adding a
 * migration means adding its file and one line here; `migrations_test.ts` fails when the two
 * disagree.
 *
 * @module
 */
import miningEvents from "./migrations/001_mining_events.sql" with { type: "text" };
import sharesView from "./migrations/002_shares_view.sql" with { type: "text" };
import blocksAndMiners from "./migrations/003_blocks_and_miners.sql" with { type: "text" };
import workerHourly from "./migrations/004_worker_hourly.sql" with { type: "text" };
import streamSeq from "./migrations/005_mining_events_stream_seq.sql" with { type: "text" };
import summaryDeltas from "./migrations/006_summary_deltas.sql" with { type: "text" };
import summaryDeltaArrays from "./migrations/007_summary_delta_arrays.sql" with { type: "text" };
import summaryHotUpdates from "./migrations/008_summary_hot_updates.sql" with { type: "text" };
import rareTypeIndex from "./migrations/009_rare_type_index.sql" with { type: "text" };

/** One migration: its version (the file name without `.sql`) and its SQL text. */
export interface Migration {
  /** `NNN_name`, recorded in `schema_migrations.version`; migrations apply in this order. */
  readonly version: string;
  /** Statements run in one transaction; must not contain transaction control. */
  readonly sql: string;
}

/** Every migration, sorted by version. */
export const MIGRATIONS: readonly Migration[] = Object.freeze([
  { version: "001_mining_events", sql: miningEvents },
  { version: "002_shares_view", sql: sharesView },
  { version: "003_blocks_and_miners", sql: blocksAndMiners },
  { version: "004_worker_hourly", sql: workerHourly },
  { version: "005_mining_events_stream_seq", sql: streamSeq },
  { version: "006_summary_deltas", sql: summaryDeltas },
  { version: "007_summary_delta_arrays", sql: summaryDeltaArrays },
  { version: "008_summary_hot_updates", sql: summaryHotUpdates },
  { version: "009_rare_type_index", sql: rareTypeIndex },
]);
