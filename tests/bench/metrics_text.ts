/**
 * Reads values out of the pool's Prometheus text exposition (/metrics).
 */

/** Sum and count of a Prometheus histogram, added over all its label sets. */
export function histogramTotals(metricsText: string, name: string): { sum: number; count: number } {
  let sum = 0;
  let count = 0;
  for (const line of metricsText.split("\n")) {
    const value = () => Number(line.slice(line.lastIndexOf(" ") + 1));
    if (line.startsWith(`${name}_sum{`) || line.startsWith(`${name}_sum `)) sum += value();
    if (line.startsWith(`${name}_count{`) || line.startsWith(`${name}_count `)) count += value();
  }
  return { sum, count };
}
