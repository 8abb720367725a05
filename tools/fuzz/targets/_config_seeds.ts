/** The committed example configs, the seeds of both config targets. */

const decoder = new TextDecoder();

/** Example config files of infra/config/, one per deployment shape. */
const CONFIG_FILES = [
  "stratum.devnet.json",
  "stratum.mainnet.json",
  "relay.us-east.json",
  "collector.devnet.json",
];

/** The example config files' bytes. */
export function exampleConfigs(): Uint8Array[] {
  return CONFIG_FILES.map((f) =>
    Deno.readFileSync(new URL(`../../../infra/config/${f}`, import.meta.url))
  );
}

/**
 * Every key and string value of the example configs, plus values the schemas treat specially:
 * what the JSON mutator renames keys to and sets values to.
 */
export function configStrings(seeds: readonly Uint8Array[]): string[] {
  const found = new Set<string>();
  for (const seed of seeds) collectStrings(JSON.parse(decoder.decode(seed)), found);
  return [...found, "127.0.0.1", "0.0.0.0", "::", "regtest", "mainnet", "info", "x"];
}

function collectStrings(value: unknown, found: Set<string>): void {
  if (typeof value === "string") found.add(value);
  else if (Array.isArray(value)) { for (const v of value) collectStrings(v, found); }
  else if (value !== null && typeof value === "object") {
    for (const [k, v] of Object.entries(value)) {
      found.add(k);
      collectStrings(v, found);
    }
  }
}
