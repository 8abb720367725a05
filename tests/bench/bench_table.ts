/**
 * Medians and Markdown table rows for benchmark results.
 */
import type { Column } from "./scenario.ts";

/**
 * The median (mean of the middle two for an even count).
 *
 * @throws {RangeError} on an empty list.
 */
export function median(values: readonly number[]): number {
  if (values.length === 0) throw new RangeError("Cannot take a median: no values");
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Per column, the median over runs (columns a run lacks are skipped for that run). */
export function medianRow(
  columns: readonly Column[],
  runs: readonly Readonly<Record<string, number>>[],
): Record<string, number> {
  const out: Record<string, number> = {};
  for (const column of columns) {
    const values = runs.map((r) => r[column.key]).filter((v): v is number =>
      v !== undefined && Number.isFinite(v)
    );
    if (values.length > 0) out[column.key] = median(values);
  }
  return out;
}

function formatNumber(value: number | undefined, digits: number): string {
  if (value === undefined || !Number.isFinite(value)) return "–";
  return value.toLocaleString("en-US", {
    minimumFractionDigits: digits,
    maximumFractionDigits: digits,
  });
}

/** The header and separator lines of a table whose first column is `first`. */
export function tableHeader(first: string, columns: readonly Column[]): string {
  const labels = [first, ...columns.map((c) => c.label)];
  return `| ${labels.join(" | ")} |\n|${labels.map(() => "---").join("|")}|`;
}

/** One Markdown table row: `first`, then each column's value with its digits. */
export function tableRow(
  first: string,
  columns: readonly Column[],
  values: Readonly<Record<string, number>>,
): string {
  return `| ${[first, ...columns.map((c) => formatNumber(values[c.key], c.digits))].join(" | ")} |`;
}
