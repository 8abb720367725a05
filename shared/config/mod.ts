/**
 * Service configuration: zod schemas for the stratum, relay and collector config files
 * (ckpool's JSON keys and defaults plus the TheBitcoinGame sections), the loader that turns
 * every problem into a one-line {@link ConfigError} (exit code 2), endpoint parsing shared with
 * the permission builder, and the data behind the README's configuration reference.
 *
 * @module
 */

export * from "./config_error.ts";
export * from "./endpoint.ts";
export * from "./json_syntax.ts";
export * from "./config_types.ts";
export {
  BTCSIG_MAX_CHARS,
  COINBASE_SCRIPTSIG_MAX_BYTES,
  coinbaseScriptSigBytes,
  EVENT_TYPE_NAMES,
  isLiteralNatsSubject,
  isRegionSlug,
  NETWORK_NAMES,
} from "./engine_schema.ts";
export * from "./stratum_schema.ts";
export * from "./relay_schema.ts";
export * from "./collector_schema.ts";
export * from "./address_check.ts";
export * from "./load_config.ts";
export * from "./reference.ts";
export * from "./listeners.ts";
export * from "./extranonce_space.ts";
