/**
 * Target 6a: the config loader's syntax layer on any bytes: the BOM, the strict JSON scanner
 * (shared/config/json_syntax.ts) and the error parseConfig builds from what it finds. The
 * schemas behind it are target 6b (`config-schema`); this one stays cheap so it can run long.
 * Oracles: the scanner passes exactly the texts JSON.parse accepts, except that it refuses
 * duplicate keys and nesting beyond its limit (and JSON for no other reason), the position it reports lies inside the text,
 * and the ConfigError is one line naming that position.
 */
import { ConfigError } from "../../../shared/config/config_error.ts";
import { findJsonProblem } from "../../../shared/config/json_syntax.ts";
import { parseConfig } from "../../../shared/config/load_config.ts";
import { mutateJson } from "../json_mutate.ts";
import { check, type FuzzTarget } from "../target.ts";
import { configStrings, exampleConfigs } from "./_config_seeds.ts";

const decoder = new TextDecoder();
const encoder = new TextEncoder();

/** Texts that are almost JSON, as operators write them: each fails one scanner rule. */
const NEAR_JSON = [
  '\uFEFF{"mindiff": 1}',
  '{"mindiff": 1,}',
  '{"mindiff": 1 // one\n}',
  "{'mindiff': 1}",
  '{"mindiff": 1, "mindiff": 2}',
  '{"serverurl": ["0.0.0.0:3333",]}',
  '{"btcsig": "tab\tinside"}',
  '{"btcsig": "\\x41"}',
  '{"mindiff": 01}',
  '{"mindiff": 1.}',
  '{"mindiff": -}',
  '{"mindiff": tru}',
  '{"mindiff": 1}\n}',
  '{"mindiff": 1',
  '"\\ud800"',
  "[".repeat(600) + "]".repeat(600),
];

/** findJsonProblem against JSON.parse, then parseConfig's syntax error. */
export function configJsonTarget(): FuzzTarget {
  const configs = exampleConfigs();
  const strings = configStrings(configs);
  return {
    name: "config-json",
    description: "config syntax: BOM, strict JSON scanner (shared/config/json_syntax.ts)",
    modules: ["/shared/config/json_syntax.ts", "/shared/config/load_config.ts"],
    // The example configs are 0.4-1.4 KiB, and every limit of the scanner is reached well
    // inside 4 KiB (nesting depth 512, a 40-character word window); longer inputs only cost time.
    maxInputBytes: 4 * 1024,
    dictionary: strings.map((s) => JSON.stringify(s)).concat([
      "\uFEFF",
      "//",
      "/*",
      ",}",
      ",]",
      "\\u0000",
      "\\ud800",
      "'",
      "1e400",
      "-0",
      "\r\n",
    ]),
    seeds: () => [...configs, ...NEAR_JSON.map((t) => encoder.encode(t))],
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
      const problem = findJsonProblem(body);
      if (problem === undefined) {
        // parseConfig hands such text to JSON.parse and to the schemas (target config-schema).
        check(parses, "the JSON scanner passed text JSON.parse refuses");
        return;
      }
      check(
        !parses || /^duplicate key |^nesting deeper than /.test(problem.reason),
        `the scanner refuses JSON for ${JSON.stringify(problem.reason)}`,
      );
      const lines = body.split("\n");
      const line = lines[problem.line - 1];
      check(
        line !== undefined && problem.column >= 1 && problem.column <= line.length + 1,
        `problem at line ${problem.line}, column ${problem.column} is outside the text`,
      );
      check(
        problem.reason !== "" && !/[\r\n]/.test(problem.reason),
        `reason is not one line: ${JSON.stringify(problem.reason)}`,
      );
      // The scanner stops parseConfig before any schema runs, so one kind is enough here.
      try {
        parseConfig("collector", text, "fuzz.json");
      } catch (error) {
        if (!(error instanceof ConfigError && error.constructor === ConfigError)) throw error;
        check(
          error.message.includes(`at line ${problem.line}, column ${problem.column}: `) &&
            !/[\r\n]/.test(error.message),
          `ConfigError does not name the position in one line: ${error.message.slice(0, 300)}`,
        );
        return;
      }
      check(false, "parseConfig accepted text the scanner refuses");
    },
  };
}
