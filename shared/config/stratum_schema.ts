import type { z } from "zod";
import { section } from "./_fields.ts";
import { checkEngine, engineShape, issueAdder } from "./engine_schema.ts";

/**
 * Configuration of `tbg-stratum`, the Stratum V1 server of the primary region: ckpool's JSON
 * keys (btcd, serverurl, mindiff, …) with ckpool's defaults, plus events, vardiff, metrics,
 * rate limits and region. Unknown keys are rejected.
 */
export const stratumConfigSchema = section(engineShape).superRefine((config, ctx) =>
  checkEngine(config, issueAdder(ctx))
);

/** A validated stratum configuration, defaults filled in. */
export type StratumConfig = z.infer<typeof stratumConfigSchema>;
