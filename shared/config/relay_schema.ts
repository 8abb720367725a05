import type { z } from "zod";
import type { Equals, RelayConfig } from "./config_types.ts";
import {
  nonEmptyString,
  oneOf,
  port,
  positiveInt,
  positiveNumber,
  required,
  section,
  withDefault,
} from "./_fields.ts";
import { checkEngine, engineShape, hostField, issueAdder } from "./engine_schema.ts";

const schema = section({
  ...engineShape,
  mode: withDefault(oneOf(["passthrough"]), "passthrough", "Relay mode; only passthrough exists."),
  primary: required(
    section({
      host: required(hostField(), "Primary region host."),
      port: required(port(), "Primary's port for the relay link."),
      auth_token: required(
        nonEmptyString("a non-empty shared secret"),
        "Shared secret the relay presents to the primary.",
      ),
      template_push_port: required(port(), "Primary's template push port."),
      reconnect_interval: withDefault(
        positiveNumber(),
        5,
        "Seconds between reconnect attempts to the primary.",
      ),
    }),
    "The primary region this relay follows.",
  ),
  independent_after_ms: withDefault(
    positiveInt(),
    10000,
    "Milliseconds without the primary before building templates from the local bitcoind.",
  ),
}).superRefine((config, ctx) => checkEngine(config, issueAdder(ctx)));

/** Proof, checked by the compiler, that the schema's output is exactly {@link RelayConfig}. */
const _outputMatches: Equals<z.output<typeof schema>, RelayConfig> = true;

/**
 * Configuration of `tbg-relay`, a regional Stratum instance fed with templates from the
 * primary: every stratum key plus `mode`, `primary` (ckpool passthrough shape) and
 * `independent_after_ms`. Unknown keys are rejected.
 */
export const relayConfigSchema: z.ZodType<RelayConfig, unknown> = schema;
