/**
 * The simulation layout the scenario tests (MR-01..MR-10 and chaos) share: the three regions, the
 * relays' links to the primary, the independent-mode threshold they run with and the seed's
 * activation budget, and how they print figures for the record.
 *
 * @module
 */
import { PRIMARY_REGION, type RelayRegionSpec } from "./sim_options.ts";

/** The primary region. */
export const EU = PRIMARY_REGION;
/** The relay 80 ms from the primary. */
export const US = "us-east";
/** The relay 150–170 ms from the primary, with jitter. */
export const ASIA = "asia";

/** Both relays; Asia's jitter is kept at 20 ms so its latency checks stay well inside 200 ms. */
export const SCENARIO_RELAYS: readonly RelayRegionSpec[] = [
  { region: US, regionIndex: 1, link: { delayMs: 80, jitterMs: 0 } },
  { region: ASIA, regionIndex: 2, link: { delayMs: 150, jitterMs: 20 } },
];

/** Relays go independent after 3 s of silence (production default 10 s) to keep the runs short. */
export const INDEPENDENT_AFTER_MS = 3_000;
/** Seed §9.3: independent mode within 15 s of losing the primary. */
export const INDEPENDENT_BUDGET_MS = 15_000;

const encoder = new TextEncoder();

/** A line printer tagged `[tag]`: figures for the record (the lint forbids console). */
export function reporter(tag: string): (line: string) => void {
  return (line) => Deno.stdout.writeSync(encoder.encode(`  [${tag}] ${line}\n`));
}
