import type { z } from "zod";
import type { Equals, StratumConfig } from "./config_types.ts";
import { section } from "./_fields.ts";
import { checkEngine, engineShape, issueAdder } from "./engine_schema.ts";

const schema = section(engineShape).superRefine((config, ctx) =>
  checkEngine(config, issueAdder(ctx))
);

/** Proof, checked by the compiler, that the schema's output is exactly {@link StratumConfig}. */
const _outputMatches: Equals<z.output<typeof schema>, StratumConfig> = true;

/**
 * Configuration of `tbg-stratum`, the Stratum V1 server of the primary region: ckpool's JSON
 * keys (btcd, serverurl, mindiff, …) with ckpool's defaults, plus events, vardiff, metrics,
 * rate limits and region. Unknown keys are rejected.
 */
export const stratumConfigSchema: z.ZodType<StratumConfig, unknown> = schema;
