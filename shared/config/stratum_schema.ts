import type { z } from "zod";
import type { Equals, StratumConfig } from "./config_types.ts";
import {
  arrayOf,
  boolean,
  defaultedSection,
  intInRange,
  nonEmptyString,
  optional,
  section,
  withDefault,
} from "./_fields.ts";
import { checkEngine, engineShape, issueAdder } from "./engine_schema.ts";

const templatesSection = () =>
  defaultedSection({
    publish: withDefault(
      boolean(),
      false,
      "Act as the primary for relays: publish every template and a heartbeat on NATS (events.nats_url), keep the current template in the MINING_TEMPLATES stream, and submit the blocks relays send on mining.blocks.submit. Enable in one process per network.",
    ),
    heartbeat_ms: withDefault(
      intInRange(10, 60_000),
      1000,
      "Milliseconds between heartbeats on mining.heartbeat.<region>, by which relays tell a lost primary from a quiet chain.",
    ),
    relay_auth_tokens: optional(
      arrayOf(nonEmptyString("a non-empty shared secret"), 1, "a list of shared secrets"),
      "Relays' primary.auth_token values; a block submission must carry one of them. When absent, submissions need no token (NATS authentication is then the only gate).",
      "none required",
    ),
  }, "Template distribution to relays (the primary region's pool).");

// Built on first use: a service builds only its own kind's schema (each costs memory).
function buildSchema() {
  return section({ ...engineShape, templates: templatesSection() }).superRefine((
    config,
    ctx,
  ) => checkEngine(config, issueAdder(ctx)));
}

/** Proof, checked by the compiler, that the schema's output is exactly {@link StratumConfig}. */
const _outputMatches: Equals<z.output<ReturnType<typeof buildSchema>>, StratumConfig> = true;

let built: z.ZodType<StratumConfig, unknown> | undefined;

/**
 * Configuration of `tbg-stratum`, the Stratum V1 server of the primary region: ckpool's JSON
 * keys (btcd, serverurl, mindiff, …) with ckpool's defaults, plus events, vardiff, metrics,
 * rate limits and region. Unknown keys are rejected.
 */
export function stratumConfigSchema(): z.ZodType<StratumConfig, unknown> {
  return built ??= buildSchema();
}
