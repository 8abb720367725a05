/**
 * Member-private, for tests: a strict parser of the Prometheus text exposition format (0.0.4),
 * so tests assert on parsed series rather than on string fragments.
 *
 * @module
 */

/** One sample line. */
export interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

/** A parsed scrape. */
export interface Exposition {
  /** HELP text by metric family name. */
  readonly help: ReadonlyMap<string, string>;
  /** TYPE by metric family name. */
  readonly type: ReadonlyMap<string, string>;
  readonly samples: readonly Sample[];
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*/;

/**
 * Parses exposition text.
 *
 * @throws {SyntaxError} on any line that is not valid exposition format.
 */
export function parseExposition(text: string): Exposition {
  const help = new Map<string, string>();
  const type = new Map<string, string>();
  const samples: Sample[] = [];
  const lines = text.split("\n");
  for (let index = 0; index < lines.length; index++) {
    const line = lines[index]!;
    const fail = (why: string): never => {
      throw new SyntaxError(`Cannot parse exposition line ${index + 1} (${why}): ${line}`);
    };
    if (line === "") continue;
    if (line.startsWith("# HELP ")) {
      const match = /^# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)$/.exec(line) ?? fail("bad HELP");
      help.set(match[1]!, match[2]!);
      continue;
    }
    if (line.startsWith("# TYPE ")) {
      const match = /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$/
        .exec(line) ?? fail("bad TYPE");
      type.set(match[1]!, match[2]!);
      continue;
    }
    if (line.startsWith("#")) continue;
    const name = NAME.exec(line)?.[0] ?? fail("no metric name");
    let rest = line.slice(name.length);
    const labels: Record<string, string> = {};
    if (rest.startsWith("{")) {
      rest = rest.slice(1);
      while (!rest.startsWith("}")) {
        const label = LABEL_NAME.exec(rest)?.[0] ?? fail("bad label name");
        rest = rest.slice(label.length);
        if (!rest.startsWith('="')) fail('expected ="');
        rest = rest.slice(2);
        let value = "";
        for (;;) {
          const char = rest[0] ?? fail("unterminated label value");
          rest = rest.slice(1);
          if (char === '"') break;
          if (char === "\\") {
            const escaped = rest[0] ?? fail("dangling escape");
            rest = rest.slice(1);
            if (escaped === "n") value += "\n";
            else if (escaped === "\\" || escaped === '"') value += escaped;
            else fail("bad escape");
          } else {
            value += char;
          }
        }
        if (label in labels) fail(`duplicate label ${label}`);
        labels[label] = value;
        if (rest.startsWith(",")) rest = rest.slice(1);
        else if (!rest.startsWith("}")) fail("expected , or }");
      }
      rest = rest.slice(1);
    }
    const valueText = /^ (\S+)$/.exec(rest)?.[1] ?? fail("bad value");
    const value = valueText === "+Inf"
      ? Infinity
      : valueText === "-Inf"
      ? -Infinity
      : valueText === "NaN"
      ? NaN
      : Number(valueText);
    if (Number.isNaN(value) && valueText !== "NaN") fail("value is not a number");
    samples.push({ name, labels, value });
  }
  return { help, type, samples };
}

/** The one sample of `name` whose labels include all of `labels`, or undefined if none. */
export function findSample(
  exposition: Exposition,
  name: string,
  labels: Readonly<Record<string, string>> = {},
): Sample | undefined {
  const matches = exposition.samples.filter((sample) =>
    sample.name === name &&
    Object.entries(labels).every(([key, value]) => sample.labels[key] === value)
  );
  if (matches.length > 1) {
    throw new TypeError(`Cannot pick one sample of ${name}: ${matches.length} match`);
  }
  return matches[0];
}

/** The value of the one matching sample. */
export function sampleValue(
  exposition: Exposition,
  name: string,
  labels: Readonly<Record<string, string>> = {},
): number {
  const sample = findSample(exposition, name, labels);
  if (sample === undefined) {
    throw new TypeError(`Cannot read ${name}${JSON.stringify(labels)}: no such sample`);
  }
  return sample.value;
}
