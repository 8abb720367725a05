/**
 * Target 6b: the config schemas of all three services (shared/config/*_schema.ts, _fields.ts,
 * the zod behind them, the issue formatting and its "did you mean" suggestions) through
 * parseConfig, on JSON documents made by mutating the example configs' keys and values. Text
 * that is not JSON is target 6a's (`config-json`). Documented rejection: ConfigError, with at
 * least one issue and a one-line message (services print it as one line).
 */
import { ConfigError } from "../../../shared/config/config_error.ts";
import { parseConfig, SERVICE_KINDS } from "../../../shared/config/load_config.ts";
import { mutateJson } from "../json_mutate.ts";
import { check, type FuzzTarget } from "../target.ts";
import { configStrings, exampleConfigs } from "./_config_seeds.ts";

const decoder = new TextDecoder();

/** parseConfig for every service kind on each input. */
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
      for (const kind of SERVICE_KINDS) {
        try {
          parseConfig(kind, text, "fuzz.json");
        } catch (error) {
          if (!(error instanceof ConfigError && error.constructor === ConfigError)) throw error;
          check(error.issues.length > 0, "ConfigError without an issue");
          check(
            !/[\r\n]/.test(error.message),
            `ConfigError message is not one line: ${JSON.stringify(error.message.slice(0, 300))}`,
          );
        }
      }
    },
  };
}
