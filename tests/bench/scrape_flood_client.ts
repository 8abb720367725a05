/**
 * `<n>` clients fetching http://127.0.0.1:`<port>`/metrics in a loop until SIGTERM, then one JSON
 * line: answers 200, other statuses (503 at the connection cap), and failed fetches (a refused
 * connection is often reset before its 503 is read). Started by scrape_flood.ts.
 *
 * @module
 */
const port = Number(Deno.args[0]);
const clients = Number(Deno.args[1]);
const counts = { ok: 0, refused: 0, failed: 0 };
let running = true;

async function scrapeLoop(): Promise<void> {
  while (running) {
    try {
      const response = await fetch(`http://127.0.0.1:${port}/metrics`);
      await response.text();
      if (response.status === 200) counts.ok += 1;
      else counts.refused += 1;
    } catch {
      counts.failed += 1;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }
}

for (let i = 0; i < clients; i++) void scrapeLoop();
Deno.addSignalListener("SIGTERM", () => {
  running = false;
  Deno.stdout.writeSync(new TextEncoder().encode(JSON.stringify(counts) + "\n"));
  Deno.exit(0);
});
