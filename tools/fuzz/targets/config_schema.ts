/**
 * Target 6b: the config schemas of all three services (shared/config/*_schema.ts, _fields.ts,
 * the zod behind them, the issue formatting and its "did you mean" suggestions) through
 * parseConfig, on JSON documents made by mutating the example configs' keys and values. Text
 * that is not JSON is target 6a's (`config-json`). Documented rejection: ConfigError, with at
 * least one issue and a one-line message (services print it as one line).
 */
import { ConfigError } from "../../../shared/config/config_error.ts";
import { findJsonProblem } from "../../../shared/config/json_syntax.ts";
import { parseConfig, SERVICE_KINDS, validateConfig } from "../../../shared/config/load_config.ts";
import { mutateJson } from "../json_mutate.ts";
import { check, type FuzzTarget } from "../target.ts";
import { configStrings, exampleConfigs } from "./_config_seeds.ts";

const decoder = new TextDecoder();

/**
 * Runs `load`; true when it returned, false when it threw the documented ConfigError (checked
 * for at least one issue and a one-line message). Anything else propagates: a crash.
 */
function accepts(load: () => unknown): boolean {
  try {
    load();
    return true;
  } catch (error) {
    if (!(error instanceof ConfigError && error.constructor === ConfigError)) throw error;
    check(error.issues.length > 0, "ConfigError without an issue");
    check(
      !/[\r\n]/.test(error.message),
      `ConfigError message is not one line: ${JSON.stringify(error.message.slice(0, 300))}`,
    );
    return false;
  }
}

/** Every service kind's schema on each input: parseConfig for one, validateConfig for the rest. */
export function configSchemaTarget(): FuzzTarget {
  const configs = exampleConfigs();
  const strings = configStrings(configs);
  return {
    name: "config-schema",
    description: "config schemas of stratum, relay and collector (shared/config/, zod)",
    modules: ["/shared/config/", "/zod/"],
    // The example configs are 0.4-1.4 KiB; 4 KiB leaves room for every section filled in.
    maxInputBytes: 4 * 1024,
    dictionary: strings.map((s) => JSON.stringify(s)),
    seeds: () => configs,
    mutate: (input, rng) => mutateJson(input, rng, strings),
    // Byte mutations mostly break the JSON, which config-json covers at a fraction of the cost.
    structuredShare: 0.9,
    run(input: Uint8Array): void {
      const text = decoder.decode(input);
      // The text path once (BOM, scanner, JSON.parse, stratum's schema); the other kinds' schemas
      // on the same value, since parseConfig would only repeat the scan and parse for them.
      const [first, ...others] = SERVICE_KINDS;
      if (!accepts(() => parseConfig(first!, text, "fuzz.json"))) {
        const body = text.startsWith("\uFEFF") ? text.slice(1) : text;
        if (findJsonProblem(body) !== undefined) return;
      }
      const value: unknown = JSON.parse(text.startsWith("\uFEFF") ? text.slice(1) : text);
      for (const kind of others) accepts(() => validateConfig(kind, value, "fuzz.json"));
    },
  };
}
