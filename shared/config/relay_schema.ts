import type { z } from "zod";
import type { Equals, RelayConfig } from "./config_types.ts";
import {
  intInRange,
  nonEmptyString,
  oneOf,
  optional,
  port,
  positiveInt,
  positiveNumber,
  required,
  section,
  stringMatching,
  withDefault,
} from "./_fields.ts";
import { checkEngine, engineShape, hostField, isRegionSlug, issueAdder } from "./engine_schema.ts";

// Built on first use: a service builds only its own kind's schema (each costs memory).
function buildSchema() {
  return section({
    ...engineShape,
    mode: withDefault(
      oneOf(["passthrough"]),
      "passthrough",
      "Relay mode; only passthrough exists.",
    ),
    region_index: required(
      intInRange(1, 255),
      "This relay region's extranonce1 space, different in every relay region (0 is the primary region's): the first byte of every extranonce1, so no two regions hand a miner identical work.",
    ),
    primary: required(
      section({
        host: required(
          hostField(),
          "Host of the NATS server linking this relay to the primary (templates, heartbeats, block submission, RTT probes); normally the region's leaf node, which forwards to the hub.",
        ),
        port: required(port(), "Client port of that NATS server."),
        auth_token: required(
          nonEmptyString("a non-empty shared secret"),
          "Shared secret sent with every block this relay submits to the primary over NATS; a primary with templates.relay_auth_tokens refuses submissions that lack one of its tokens.",
        ),
        template_push_port: optional(
          port(),
          "Accepted for ckpool compatibility; unused (templates arrive on NATS subject mining.templates.<network>.live, with full copies on mining.templates.<network>, through primary.host:primary.port).",
        ),
        reconnect_interval: withDefault(
          positiveNumber(),
          5,
          "Seconds between reconnect attempts to the primary's NATS server.",
        ),
        region: withDefault(
          stringMatching(isRegionSlug, "a slug of 1 to 32 characters from [a-z0-9-]"),
          "eu",
          "The primary's region, whose heartbeats (mining.heartbeat.<region>) tell the relay it is alive.",
        ),
        jetstream_domain: optional(
          stringMatching(isRegionSlug, "a JetStream domain of 1 to 32 characters from [a-z0-9-]"),
          'JetStream domain of the hub holding the templates stream, when primary.host:primary.port is a leaf node with a domain of its own ("hub" in infra/nats); also where the replication lag is read.',
          "unset (the server is the hub)",
        ),
      }),
      "How this relay reaches the primary region (ckpool passthrough shape, carried over NATS).",
    ),
    independent_after_ms: withDefault(
      positiveInt(),
      10000,
      "Milliseconds without a template from the primary, or a heartbeat confirming its templates reach this relay and its bitcoind is healthy, before the relay builds templates from its local bitcoind (independent mode); it returns once a heartbeat and a template arrive again.",
    ),
  }).superRefine((config, ctx) => checkEngine(config, issueAdder(ctx)));
}

/** Proof, checked by the compiler, that the schema's output is exactly {@link RelayConfig}. */
const _outputMatches: Equals<z.output<ReturnType<typeof buildSchema>>, RelayConfig> = true;

let built: z.ZodType<RelayConfig, unknown> | undefined;

/**
 * Configuration of `tbg-relay`, a regional Stratum instance fed with templates from the
 * primary: every stratum key plus `mode`, `region_index`, `primary` (ckpool passthrough shape)
 * and `independent_after_ms`. Unknown keys are rejected.
 */
export function relayConfigSchema(): z.ZodType<RelayConfig, unknown> {
  return built ??= buildSchema();
}
