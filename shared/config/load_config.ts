import type { z } from "zod";
import { ConfigError } from "./config_error.ts";
import { findJsonProblem } from "./json_syntax.ts";
import { toConfigIssues } from "./_zod_issues.ts";
import { collectorConfigSchema } from "./collector_schema.ts";
import type { CollectorConfig, RelayConfig, StratumConfig } from "./config_types.ts";
import { relayConfigSchema } from "./relay_schema.ts";
import { stratumConfigSchema } from "./stratum_schema.ts";

/** The services that read a config file. */
export const ServiceKind = {
  Stratum: "stratum",
  Relay: "relay",
  Collector: "collector",
} as const;

/** Name of a service: "stratum", "relay" or "collector". */
export type ServiceKind = typeof ServiceKind[keyof typeof ServiceKind];

/** Every service kind, for usage messages and argument checks. */
export const SERVICE_KINDS: readonly ServiceKind[] = Object.values(ServiceKind);

/** Tells whether a string names a service. */
export function isServiceKind(value: string): value is ServiceKind {
  return (SERVICE_KINDS as readonly string[]).includes(value);
}

/** The validated configuration type of each service. */
export interface ConfigByKind {
  /** `tbg-stratum` */
  stratum: StratumConfig;
  /** `tbg-relay` */
  relay: RelayConfig;
  /** `tbg-collector` */
  collector: CollectorConfig;
}

/** Any service's validated configuration. */
export type Config = ConfigByKind[ServiceKind];

const SCHEMA_BUILDERS: {
  readonly [K in ServiceKind]: () => z.ZodType<ConfigByKind[K], unknown>;
} = {
  stratum: stratumConfigSchema,
  relay: relayConfigSchema,
  collector: collectorConfigSchema,
};

/** The schema of a service's config file, built on first request (only that kind's). */
export function configSchema<K extends ServiceKind>(kind: K): z.ZodType<ConfigByKind[K], unknown> {
  return SCHEMA_BUILDERS[kind]() as z.ZodType<ConfigByKind[K], unknown>;
}

/**
 * Validates an already parsed JSON value as a service's config, filling in defaults.
 *
 * @param kind which service's schema applies
 * @param value the parsed JSON
 * @param configPath where it came from, for the error message
 * @throws {ConfigError} naming every invalid key with the expected form
 */
export function validateConfig<K extends ServiceKind>(
  kind: K,
  value: unknown,
  configPath: string,
): ConfigByKind[K] {
  const schema = configSchema(kind);
  const result = schema.safeParse(value, { reportInput: true });
  if (result.success) return result.data;
  throw new ConfigError(configPath, toConfigIssues(schema, result.error.issues), {
    cause: result.error,
  });
}

/**
 * Parses and validates config file text.
 *
 * @throws {ConfigError} for invalid JSON (with line and column) or invalid keys
 */
export function parseConfig<K extends ServiceKind>(
  kind: K,
  text: string,
  configPath: string,
): ConfigByKind[K] {
  const body = text.startsWith("\uFEFF") ? text.slice(1) : text;
  const problem = findJsonProblem(body);
  if (problem !== undefined) {
    throw new ConfigError(configPath, [{
      path: "",
      message: `invalid JSON at line ${problem.line}, column ${problem.column}: ${problem.reason}`,
    }]);
  }
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch (error: unknown) {
    // The scanner accepts exactly JSON, so this only fires if it and V8 ever disagree.
    const reason = error instanceof Error ? error.message : String(error);
    throw new ConfigError(configPath, [{ path: "", message: `invalid JSON: ${reason}` }], {
      cause: error,
    });
  }
  return validateConfig(kind, value, configPath);
}

/**
 * Reads, parses and validates a service's config file.
 *
 * @param kind which service's schema applies
 * @param path the JSON file
 * @returns the configuration with defaults filled in
 * @throws {ConfigError} when the file cannot be read, is not JSON, or does not validate
 */
export function loadConfig<K extends ServiceKind>(kind: K, path: string): ConfigByKind[K] {
  let text: string;
  try {
    text = Deno.readTextFileSync(path);
  } catch (error: unknown) {
    const reason = error instanceof Deno.errors.NotFound
      ? "no such file"
      : error instanceof Deno.errors.IsADirectory
      ? "it is a directory"
      : error instanceof Error
      ? error.message
      : String(error);
    throw new ConfigError(path, [{ path: "", message: `cannot read file: ${reason}` }], {
      cause: error,
    });
  }
  return parseConfig(kind, text, path);
}
