/**
 * Target 6: the config loader's text path (BOM, the strict JSON scanner, JSON.parse, the zod
 * schemas of all three services). Documented rejection: ConfigError. Oracle: the scanner never
 * passes text JSON.parse refuses (load_config relies on it to report line and column).
 */
import { ConfigError } from "../../../shared/config/config_error.ts";
import { findJsonProblem } from "../../../shared/config/json_syntax.ts";
import { parseConfig, SERVICE_KINDS } from "../../../shared/config/load_config.ts";
import { mutateJson } from "../json_mutate.ts";
import { check, type FuzzTarget } from "../target.ts";

const decoder = new TextDecoder();
const CONFIG_FILES = [
  "stratum.devnet.json",
  "stratum.mainnet.json",
  "relay.us-east.json",
  "collector.devnet.json",
];

/** parseConfig for every service kind on each input. */
export function configTarget(): FuzzTarget {
  const seeds = CONFIG_FILES.map((f) =>
    Deno.readFileSync(new URL(`../../../infra/config/${f}`, import.meta.url))
  );
  const keys = new Set<string>();
  for (const seed of seeds) collectKeys(JSON.parse(decoder.decode(seed)), keys);
  const strings = [...keys, "127.0.0.1", "0.0.0.0", "::", "regtest", "mainnet", "info", "x"];
  return {
    name: "config",
    description: "config loader (shared/config/load_config.ts, json_syntax.ts, the zod schemas)",
    modules: ["/shared/config/", "/zod/"],
    maxInputBytes: 16 * 1024,
    dictionary: strings.map((s) => JSON.stringify(s)).concat([
      "\uFEFF",
      "//",
      "/*",
      ",}",
      "\\u0000",
    ]),
    seeds: () => seeds,
    mutate: (input, rng) => mutateJson(input, rng, strings),
    run(input: Uint8Array): void {
      const text = decoder.decode(input);
      const body = text.startsWith("\uFEFF") ? text.slice(1) : text;
      let parses = true;
      try {
        JSON.parse(body);
      } catch {
        parses = false;
      }
      if (!parses) {
        check(
          findJsonProblem(body) !== undefined,
          "the JSON scanner passed text JSON.parse refuses",
        );
      }
      for (const kind of SERVICE_KINDS) {
        try {
          parseConfig(kind, text, "fuzz.json");
        } catch (error) {
          if (error instanceof ConfigError && error.constructor === ConfigError) continue;
          throw error;
        }
      }
    },
  };
}

function collectKeys(value: unknown, keys: Set<string>): void {
  if (Array.isArray(value)) { for (const v of value) collectKeys(v, keys); }
  else if (value !== null && typeof value === "object") {
    for (const [k, v] of Object.entries(value)) {
      keys.add(k);
      collectKeys(v, keys);
    }
  }
}
