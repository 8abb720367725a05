/**
 * Schema building blocks that carry operator-facing error messages and reference docs.
 *
 * Every leaf states what it expects in words ("a positive integer"), so a zod issue becomes
 * `expected a positive integer, got -5` without a generic translation table, and the same words
 * fill the "type" column of the configuration reference.
 */
import { z } from "zod";
import { didYouMean } from "./_suggest.ts";

/** Reference documentation attached to each configuration key. */
export interface FieldDoc {
  /** One-line description. */
  doc: string;
  /** Expected form in words, e.g. "positive integer". */
  type: string;
  /** Default as shown in the reference when it is not a literal (e.g. derived from another key). */
  defaultText?: string;
}

/** Registry the configuration reference is generated from. */
export const fieldDocs: z.core.$ZodRegistry<FieldDoc> = z.registry<FieldDoc>();

/** What each leaf expects, keyed by the leaf schema instance. */
const leafExpects = new WeakMap<z.ZodType, string>();

type IssueLike = { readonly input?: unknown; readonly code?: string };

const MAX_SHOWN_CHARS = 60;

/** A value as shown after "got": `-5`, `"abc"`, `null`, `an array`. */
export function describeValue(value: unknown, secret = false): string {
  if (secret && value !== undefined && value !== null) return "a value (hidden: secret key)";
  if (typeof value === "string") {
    const shown = value.length > MAX_SHOWN_CHARS ? `${value.slice(0, MAX_SHOWN_CHARS)}…` : value;
    return JSON.stringify(shown);
  }
  if (value === null) return "null";
  if (Array.isArray(value)) {
    return value.length === 0 ? "an empty array" : `an array of ${value.length}`;
  }
  if (typeof value === "object") return "an object";
  if (value === undefined) return "nothing";
  return String(value);
}

/** A value with its JSON type, for type mismatches: `string "abc"`, `boolean true`. */
export function describeTypedValue(value: unknown, secret = false): string {
  if (value === null || Array.isArray(value) || typeof value === "object") {
    return describeValue(value);
  }
  if (secret) return `a ${typeof value} (value hidden: secret key)`;
  return `${typeof value} ${describeValue(value)}`;
}

function onType(jsonType: string, expects: string, secret = false): {
  error: (issue: IssueLike) => string;
} {
  return {
    error: (issue) =>
      issue.input === undefined
        ? `is required (expected ${expects})`
        : `expected ${jsonType}, got ${describeTypedValue(issue.input, secret)}`,
  };
}

function onValue(expects: string, secret = false): { error: (issue: IssueLike) => string } {
  return { error: (issue) => `expected ${expects}, got ${describeValue(issue.input, secret)}` };
}

function leaf<T extends z.ZodType>(schema: T, expects: string): T {
  leafExpects.set(schema, expects);
  return schema;
}

/** The expectation text recorded for a leaf schema, if it is one. */
export function expectsOf(schema: z.ZodType): string | undefined {
  return leafExpects.get(schema);
}

/** An integer ≥ 1. */
export function positiveInt(): z.ZodNumber {
  const expects = "a positive integer";
  return leaf(
    z.number(onType("a number", expects)).int(onValue(expects)).positive(onValue(expects)),
    expects,
  );
}

/** An integer in `[min, max]`. */
export function intInRange(min: number, max: number): z.ZodNumber {
  const expects = `an integer from ${min} to ${max}`;
  return leaf(
    z.number(onType("a number", expects)).int(onValue(expects)).min(min, onValue(expects))
      .max(max, onValue(expects)),
    expects,
  );
}

/** A TCP port; 0 only when `allowZero` (listeners: the kernel picks a free port). */
export function port(allowZero = false): z.ZodNumber {
  return intInRange(allowZero ? 0 : 1, 65535);
}

/** A number > 0; `expects` words the rule for the key (e.g. fractions allowed). */
export function positiveNumber(expects = "a positive number"): z.ZodNumber {
  return leaf(z.number(onType("a number", expects)).positive(onValue(expects)), expects);
}

/** A number ≥ 0. */
export function nonNegativeNumber(expects = "a number of at least 0"): z.ZodNumber {
  return leaf(z.number(onType("a number", expects)).nonnegative(onValue(expects)), expects);
}

/** Which ends of a {@link numberInRange} are excluded. */
export interface RangeEnds {
  /** Exclude `min` itself. */
  minExclusive?: boolean;
  /** Exclude `max` itself. */
  maxExclusive?: boolean;
}

/** A number between `min` and `max`, inclusive unless {@link RangeEnds} says otherwise. */
export function numberInRange(min: number, max: number, ends: RangeEnds = {}): z.ZodNumber {
  const low = ends.minExclusive === true ? `greater than ${min}` : `at least ${min}`;
  const high = ends.maxExclusive === true ? `less than ${max}` : `at most ${max}`;
  const expects = ends.minExclusive === true || ends.maxExclusive === true
    ? `a number ${low} and ${high}`
    : `a number from ${min} to ${max}`;
  const base = z.number(onType("a number", expects));
  const lowBounded = ends.minExclusive === true
    ? base.gt(min, onValue(expects))
    : base.gte(min, onValue(expects));
  const bounded = ends.maxExclusive === true
    ? lowBounded.lt(max, onValue(expects))
    : lowBounded.lte(max, onValue(expects));
  return leaf(bounded, expects);
}

/** How difficulty keys are described: fractional difficulties are normal on test networks. */
export const difficultyExpects = "a positive number (fractions such as 0.0001 allowed)";

/** true or false. */
export function boolean(): z.ZodBoolean {
  return leaf(z.boolean(onType("a boolean", "true or false")), "true or false");
}

/**
 * A string accepted by `accept`. `expects` describes the form, e.g. `"host:port"`. `secret`
 * keeps the value out of error messages (passwords, tokens, URLs with credentials).
 */
export function stringMatching(
  accept: (value: string) => boolean,
  expects: string,
  secret = false,
): z.ZodString {
  return leaf(
    z.string(onType("a string", expects, secret)).refine(accept, onValue(expects, secret)),
    expects,
  );
}

/** Any string, possibly empty (credentials). */
export function anyString(secret = false): z.ZodString {
  return leaf(z.string(onType("a string", "a string", secret)), "string");
}

/** A non-empty string (paths, names). */
export function nonEmptyString(expects = "a non-empty string"): z.ZodString {
  return stringMatching((value) => value.length > 0, expects);
}

/** One of a fixed set of strings; a near miss gets a suggestion. */
export function oneOf<const T extends readonly [string, ...string[]]>(
  values: T,
  what = "one of",
): z.ZodEnum<{ [K in T[number]]: K }> {
  const list = values.map((value) => JSON.stringify(value)).join(", ");
  const expects = `${what} ${list}`;
  return leaf(
    z.enum(values, {
      error: (issue: IssueLike) => {
        if (issue.input === undefined) return `is required (expected ${expects})`;
        if (typeof issue.input !== "string") {
          return `expected a string, got ${describeTypedValue(issue.input)}`;
        }
        return `expected ${expects}, got ${describeValue(issue.input)}${
          didYouMean(issue.input, values)
        }`;
      },
    }),
    expects,
  );
}

/** An array with at least `min` elements; `expects` words the whole value. */
export function arrayOf<T extends z.ZodType>(
  element: T,
  min: number,
  expects: string,
): z.ZodArray<T> {
  return leaf(z.array(element, onType("an array", expects)).min(min, onValue(expects)), expects);
}

/** A strict object (unknown keys rejected; the loader words those issues with suggestions). */
export function section<T extends z.ZodRawShape>(shape: T): z.ZodObject<T, z.core.$strict> {
  return leaf(
    z.strictObject(shape, {
      error: (issue: IssueLike) =>
        issue.code === "invalid_type"
          ? issue.input === undefined
            ? "is required (expected an object)"
            : `expected an object, got ${describeTypedValue(issue.input)}`
          : undefined,
    }),
    "object",
  );
}

/** Attaches reference docs to a key's schema (its outermost wrapper) and returns it. */
export function documented<T extends z.ZodType>(schema: T, doc: FieldDoc): T {
  const described = schema.describe(doc.doc) as T;
  fieldDocs.add(described, doc);
  return described;
}

/** A key with a default value; `defaultText` replaces a long literal in the reference. */
export function withDefault<T extends z.ZodType>(
  schema: T,
  defaultValue: z.util.NoUndefined<z.output<T>>,
  doc: string,
  defaultText?: string,
): z.ZodDefault<T> {
  const fieldDoc: FieldDoc = { doc, type: expectsOf(schema) ?? "value" };
  if (defaultText !== undefined) fieldDoc.defaultText = defaultText;
  return documented(schema.default(defaultValue), fieldDoc);
}

/** An optional key without a default (absent means "feature off" or "learned at start"). */
export function optional<T extends z.ZodType>(
  schema: T,
  doc: string,
  defaultText?: string,
): z.ZodOptional<T> {
  const fieldDoc: FieldDoc = { doc, type: expectsOf(schema) ?? "value" };
  if (defaultText !== undefined) fieldDoc.defaultText = defaultText;
  return documented(schema.optional(), fieldDoc);
}

/** A required key. */
export function required<T extends z.ZodType>(schema: T, doc: string): T {
  return documented(schema, { doc, type: expectsOf(schema) ?? "value" });
}

/** A nested section whose keys all have defaults, so the whole section may be omitted. */
export function defaultedSection<T extends z.ZodRawShape>(
  shape: T,
  doc: string,
): z.ZodPrefault<z.ZodObject<T, z.core.$strict>> {
  const inner = section(shape);
  return documented(inner.prefault({} as z.input<typeof inner>), { doc, type: "object" });
}
