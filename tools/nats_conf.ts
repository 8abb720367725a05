/**
 * Writes the multi-region NATS files rendered by `infra/nats/render.ts`: `infra/nats/hub.conf`,
 * `infra/nats/leaf-<region>.conf`, each region's edge stream and the hub's sourcing stream under
 * `infra/nats/streams/`. With `--check` it writes nothing and exits 1 when a file differs.
 *
 *   deno run --allow-read=infra/nats --allow-write=infra/nats tools/nats_conf.ts [--check]
 *
 * Run from the repository root. Exit codes: 0 written (or up to date), 1 a file differs
 * (`--check`), 2 usage.
 *
 * @module
 */
import { renderedFiles } from "../infra/nats/render.ts";

async function readOrEmpty(path: string): Promise<string | undefined> {
  try {
    return await Deno.readTextFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
}

async function main(args: readonly string[]): Promise<number> {
  const check = args.includes("--check");
  const unknown = args.filter((arg) => arg !== "--check");
  const say = (text: string) => Deno.stdout.writeSync(new TextEncoder().encode(`${text}\n`));
  if (unknown.length > 0) {
    Deno.stderr.writeSync(
      new TextEncoder().encode(`unknown argument ${unknown[0]}\nusage: nats_conf.ts [--check]\n`),
    );
    return 2;
  }
  let differs = 0;
  for (const file of renderedFiles()) {
    const current = await readOrEmpty(file.path);
    if (current === file.text) {
      say(`unchanged ${file.path}`);
      continue;
    }
    if (check) {
      differs++;
      say(`differs   ${file.path}`);
      continue;
    }
    await Deno.writeTextFile(file.path, file.text);
    say(`${current === undefined ? "written  " : "updated  "} ${file.path}`);
  }
  return differs > 0 ? 1 : 0;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
