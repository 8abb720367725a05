/**
 * The end of a load test as text: the seed table with verdicts, the figures reported apart
 * (generator CPU and memory, pool RSS beside PSS, CPU per 1,000 shares), and the comparison with
 * the previous run.
 */
import type { JudgedRow } from "./expected_results.ts";
import type { RowComparison } from "./regression.ts";

/** A value in a row's unit, as the table prints it. */
export function formatValue(unit: string, value: number | null): string {
  if (value === null) return "—";
  switch (unit) {
    case "bytes":
      return `${(value / 1e9).toFixed(3)} GB`;
    case "ms":
      return `${value < 1 ? value.toFixed(3) : value.toFixed(1)} ms`;
    case "%":
      return `${value < 0.1 ? value.toFixed(4) : value.toFixed(2)} %`;
    case "shares/s":
      return `${Math.round(value).toLocaleString("en-US")}/s`;
    default:
      return Math.round(value).toLocaleString("en-US");
  }
}

function table(header: readonly string[], rows: readonly (readonly string[])[]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: readonly string[]) =>
    `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(" | ")} |`;
  return [line(header), `|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`, ...rows.map(line)];
}

/** The seed's Expected Results table with this run's values and verdicts (Markdown). */
export function formatSeedTable(rows: readonly JudgedRow[]): string {
  return table(
    ["Metric", "Target", "Acceptable", "Measured", "Verdict"],
    rows.map((r) => [
      r.metric,
      r.targetText,
      r.acceptableText,
      formatValue(r.unit, r.value),
      r.verdict,
    ]),
  ).join("\n");
}

/** The comparison with the previous run (Markdown), flagged rows marked REGRESSED. */
export function formatComparison(rows: readonly RowComparison[], marginPct: number): string {
  const lines = table(
    ["Metric", "Previous", "This run", "Change", "Flag"],
    rows.map((r) => [
      r.metric,
      formatValue(r.unit, r.previous),
      formatValue(r.unit, r.current),
      r.changePct === null ? "—" : `${r.changePct >= 0 ? "+" : ""}${r.changePct.toFixed(1)} %`,
      r.regressed ? "REGRESSED" : r.improved ? "improved" : "",
    ]),
  );
  const regressed = rows.filter((r) => r.regressed).length;
  lines.push(
    regressed === 0
      ? `No row worse than the previous run by more than ${marginPct} % (and its noise floor).`
      : `${regressed} row(s) worse than the previous run by more than ${marginPct} %.`,
  );
  return lines.join("\n");
}
