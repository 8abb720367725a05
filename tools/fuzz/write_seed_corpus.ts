/**
 * Writes each target's built-in seeds (the messages its encoders produce) into
 * tests/fuzz/corpus/<target>/, so the committed corpus holds every seed a campaign starts from:
 * `deno run --allow-read --allow-write=tests/fuzz/corpus tools/fuzz/write_seed_corpus.ts`.
 *
 * @module
 */
import { TARGETS } from "./targets/mod.ts";

for (const [name, make] of Object.entries(TARGETS)) {
  const seeds = (await make()).seeds();
  if (seeds.length === 0) continue;
  const dir = new URL(`../../tests/fuzz/corpus/${name}/`, import.meta.url);
  Deno.mkdirSync(dir, { recursive: true });
  seeds.forEach((seed, i) => {
    Deno.writeFileSync(new URL(`seed-${String(i).padStart(2, "0")}.bin`, dir), seed);
  });
}
