/**
 * Reads samples out of a Prometheus text exposition (a service's `/metrics`), enough for the
 * simulation's summary and assertions: the value of one series, or the sum of every series of a
 * name that carries some labels.
 *
 * @module
 */

/** One sample line: metric name, labels, value. */
export interface PromSample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

const SAMPLE_LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+\d+)?$/;
const LABEL_PAIR = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

/**
 * Parses every sample line; comments and blank lines are skipped, lines that are not samples
 * are ignored.
 *
 * @param text The exposition.
 * @returns Samples in order.
 */
export function parsePromText(text: string): PromSample[] {
  const out: PromSample[] = [];
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    const match = SAMPLE_LINE.exec(line);
    if (match === null) continue;
    const labels: Record<string, string> = {};
    for (const pair of (match[2] ?? "").matchAll(LABEL_PAIR)) {
      labels[pair[1] as string] = (pair[2] as string).replace(
        /\\(.)/g,
        (_, c) => c === "n" ? "\n" : c,
      );
    }
    const text = match[3] as string;
    const value = text === "+Inf" ? Infinity : text === "-Inf" ? -Infinity : Number(text);
    out.push({ name: match[1] as string, labels, value });
  }
  return out;
}

function matches(sample: PromSample, name: string, labels: Record<string, string>): boolean {
  return sample.name === name &&
    Object.entries(labels).every(([key, value]) => sample.labels[key] === value);
}

/**
 * The value of the first series of `name` having every pair of `labels`.
 *
 * @returns The value, or `undefined` when no series matches.
 */
export function sampleValue(
  samples: readonly PromSample[],
  name: string,
  labels: Record<string, string> = {},
): number | undefined {
  return samples.find((sample) => matches(sample, name, labels))?.value;
}

/** The sum over every series of `name` having every pair of `labels` (0 when none). */
export function sumValues(
  samples: readonly PromSample[],
  name: string,
  labels: Record<string, string> = {},
): number {
  return samples.filter((sample) => matches(sample, name, labels))
    .reduce((sum, sample) => sum + sample.value, 0);
}

/**
 * Fetches and parses a `/metrics` page.
 *
 * @throws {Error} On a connection failure or a non-200 answer.
 */
export async function scrape(url: string, timeoutMs = 5_000): Promise<PromSample[]> {
  const response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  const text = await response.text();
  if (!response.ok) throw new Error(`Cannot scrape ${url}: HTTP ${response.status}`);
  return parsePromText(text);
}
