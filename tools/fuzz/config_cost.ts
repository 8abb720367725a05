/**
 * What hostile config text costs the loader: parseConfig("stratum", …) on configs built to
 * stress the "did you mean" suggestions (huge unknown keys, many long unknown keys, many
 * objects with unknown keys), median of 5 runs each:
 * `deno run --allow-read tools/fuzz/config_cost.ts`. The figures are in SECURITY.md.
 *
 * @module
 */
import { ConfigError } from "../../shared/config/config_error.ts";
import { parseConfig } from "../../shared/config/load_config.ts";

const RUNS = 5;
const encoder = new TextEncoder();
const out = (text: string) => Deno.stdout.writeSync(encoder.encode(`${text}\n`));
const base = JSON.parse(
  Deno.readTextFileSync(new URL("../../infra/config/stratum.devnet.json", import.meta.url)),
) as Record<string, unknown>;

/** Name, text: about 15 KiB each, and one of 1 MiB (a key no suggestion can be for). */
const CASES: Array<[string, string]> = [
  ["one unknown key of 1,000,000 chars", JSON.stringify({ ...base, ["k".repeat(1e6)]: 1 })],
  ["one unknown key of 15,000 chars", JSON.stringify({ ...base, ["k".repeat(15_000)]: 1 })],
  [
    "60 unknown keys of 250 chars",
    JSON.stringify({
      ...base,
      ...Object.fromEntries(Array.from({ length: 60 }, (_, i) => [String(i).padEnd(250, "x"), 1])),
    }),
  ],
  [
    "1,600 unknown keys of 5-6 chars",
    JSON.stringify({
      ...base,
      ...Object.fromEntries(Array.from({ length: 1_600 }, (_, i) => [`k${i}`, 1])),
    }),
  ],
  [
    "700 btcd entries with an unknown key",
    JSON.stringify({
      ...base,
      btcd: Array.from({ length: 700 }, (_, i) => ({ [`unknownkey${i}`]: 1 })),
    }),
  ],
];

for (const [name, text] of CASES) {
  const times: number[] = [];
  let issues = 0;
  for (let r = 0; r < RUNS; r++) {
    const started = performance.now();
    try {
      parseConfig("stratum", text, "cost.json");
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      issues = error.issues.length;
    }
    times.push(performance.now() - started);
  }
  times.sort((a, b) => a - b);
  out(
    `${name}: ${text.length} bytes, ${issues} issues, median ${
      times[RUNS >> 1]!.toFixed(1)
    } ms (min ${times[0]!.toFixed(1)})`,
  );
}
