/**
 * Member-private: the identity of one series within a metric.
 *
 * @module
 */

/**
 * A stable key for a label set, checked against the metric's label names.
 *
 * @throws {TypeError} for a label name the metric does not declare.
 */
export function seriesKey(
  labelNames: readonly string[],
  labels: Readonly<Record<string, string | undefined>>,
  metricName: string,
): string {
  for (const name of Object.keys(labels)) {
    if (!labelNames.includes(name)) {
      throw new TypeError(`Cannot make series of ${metricName}: it has no label "${name}"`);
    }
  }
  return labelNames
    .map((name) => {
      const value = labels[name];
      return value === undefined ? "" : `${name}=${JSON.stringify(value)}`;
    })
    .filter((part) => part !== "")
    .join(",");
}
