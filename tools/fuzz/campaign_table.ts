/**
 * Prints the Markdown table of a fuzzing campaign from the `--json` summaries of its runs:
 * `deno run --allow-read tools/fuzz/campaign_table.ts .tbg/campaign/*.json`. Runs of one target
 * (parallel jobs with different seeds) are added up: executions summed, the longest duration,
 * the best job's coverage.
 *
 * @module
 */

interface RunSummary {
  target: string;
  execs: number;
  elapsedMs: number;
  corpusSize: number;
  initialCorpus: number;
  blocksCovered: number;
  blocksKnown: number;
  crashes: { kind: string; name: string; message: string }[];
}

const encoder = new TextEncoder();
const out = (text: string) => Deno.stdout.writeSync(encoder.encode(`${text}\n`));

const byTarget = new Map<string, RunSummary[]>();
for (const path of Deno.args) {
  const runs = JSON.parse(Deno.readTextFileSync(path)) as RunSummary[];
  for (const run of runs) byTarget.set(run.target, [...(byTarget.get(run.target) ?? []), run]);
}
out(
  "| target | jobs | executions | duration | exec/s | blocks covered (best job) | corpus | crashes |",
);
out("| --- | --- | --- | --- | --- | --- | --- | --- |");
for (const [target, runs] of byTarget) {
  const execs = runs.reduce((s, r) => s + r.execs, 0);
  const seconds = Math.max(...runs.map((r) => r.elapsedMs / 1000));
  const rate = runs.reduce((s, r) => s + r.execs / (r.elapsedMs / 1000), 0);
  const best = runs.reduce((a, b) => (b.blocksCovered > a.blocksCovered ? b : a));
  const pct = (100 * best.blocksCovered / best.blocksKnown).toFixed(1);
  const crashes = runs.flatMap((r) => r.crashes);
  out(
    `| ${target} | ${runs.length} | ${execs.toLocaleString("en-US")} | ${
      (seconds / 60).toFixed(0)
    } min | ` +
      `${
        Math.round(rate).toLocaleString("en-US")
      } | ${best.blocksCovered}/${best.blocksKnown} (${pct}%) | ` +
      `${best.initialCorpus} → ${best.corpusSize} | ${
        crashes.length === 0 ? "0" : crashes.map((c) => `${c.name}: ${c.message}`).join("; ")
      } |`,
  );
}
