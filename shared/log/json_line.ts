/**
 * Renders a logtape record as one JSON Lines record that a hostile miner cannot forge or break.
 *
 * Miner-supplied strings (user agents, worker names, usernames, raw request fragments) reach the
 * logs only as JSON string values. `JSON.stringify` already escapes quotes, backslashes, every C0
 * control character (so `\n` and `\r` cannot end the line) and lone surrogates; this module adds
 * escapes for DEL, the C1 range (U+0080–U+009F, which includes 8-bit CSI) and U+2028/U+2029 (line
 * separators to some JavaScript and log tooling), and bounds the size of every string, array and
 * object so a client cannot bloat a line.
 *
 * @module
 */
import type { LogRecord } from "@logtape/logtape";

/** Longest string (in UTF-16 code units) written for any property value or key before truncation. */
export const MAX_LOG_STRING_LENGTH = 512;

/** Most elements of an array, or keys of an object, written for one property value. */
export const MAX_LOG_COLLECTION_ENTRIES = 64;

/** Deepest nesting of objects and arrays written for one property value. */
export const MAX_LOG_DEPTH = 6;

/**
 * Top-level fields every line carries. A property with one of these names is written under
 * `prop_<name>` (prefixed with `_` until no other property uses it), so none can overwrite them.
 */
export const RESERVED_LOG_FIELDS: ReadonlySet<string> = new Set([
  "ts",
  "level",
  "service",
  "category",
  "msg",
]);

/**
 * Code points that `JSON.stringify` leaves raw but that terminals or line splitters treat
 * specially. Every structural character of JSON is ASCII, so these can only occur inside string
 * literals and escaping them on the finished line changes no value.
 */
const UNESCAPED_UNSAFE = /[\u007f-\u009f\u2028\u2029]/g;

function escapeUnsafe(char: string): string {
  return `\\u${char.charCodeAt(0).toString(16).padStart(4, "0")}`;
}

/**
 * Shortens `text` to {@link MAX_LOG_STRING_LENGTH} code units, never splitting a surrogate pair,
 * and marks the cut with the number of code units dropped.
 *
 * @param text Any string.
 * @returns `text` itself when short enough, otherwise a prefix plus `…[truncated N of M chars]`.
 */
export function truncateLogString(text: string): string {
  if (text.length <= MAX_LOG_STRING_LENGTH) return text;
  let cut = MAX_LOG_STRING_LENGTH;
  const last = text.charCodeAt(cut - 1);
  if (last >= 0xd800 && last <= 0xdbff) cut--;
  return `${text.slice(0, cut)}…[truncated ${text.length - cut} of ${text.length} chars]`;
}

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));

function bytesToHex(bytes: Uint8Array): string {
  // Only as many bytes as fit in one bounded string are converted, however large the input.
  const limit = Math.min(bytes.length, MAX_LOG_STRING_LENGTH >> 1);
  let hex = "";
  for (let i = 0; i < limit; i++) hex += HEX[bytes[i] ?? 0];
  if (bytes.length > limit) hex += `…[truncated ${bytes.length - limit} of ${bytes.length} bytes]`;
  return hex;
}

/** A JSON-ready value with every string bounded and no cycles, bigints or functions left. */
export type SafeLogValue =
  | string
  | number
  | boolean
  | null
  | SafeLogValue[]
  | { [key: string]: SafeLogValue };

/**
 * Converts an arbitrary property value into a bounded, JSON-ready value.
 *
 * Strings are truncated; bigints become decimal strings; `Uint8Array`s become hex; `Date`s
 * become ISO strings; errors keep name, message, stack and cause; non-finite numbers become
 * strings; cycles, excess depth and excess entries are replaced by markers. Throwing getters
 * or `toJSON` methods are caught and recorded, so logging never throws.
 *
 * @param value Any value passed as a log property.
 * @returns The bounded value, or `undefined` when JSON would omit it.
 */
export function toSafeLogValue(value: unknown): SafeLogValue | undefined {
  return convert(value, 0, new Set<object>());
}

function convert(value: unknown, depth: number, ancestors: Set<object>): SafeLogValue | undefined {
  switch (typeof value) {
    case "string":
      return truncateLogString(value);
    case "number":
      return Number.isFinite(value) ? value : String(value);
    case "boolean":
      return value;
    case "bigint":
      return truncateLogString(value.toString());
    case "undefined":
      return undefined;
    case "symbol":
      return truncateLogString(value.toString());
    case "function":
      return truncateLogString(`[Function ${value.name || "anonymous"}]`);
  }
  if (value === null) return null;
  const object = value as object;
  if (ancestors.has(object)) return "[Circular]";
  if (depth >= MAX_LOG_DEPTH) return "[Depth limit]";
  if (object instanceof Uint8Array) return bytesToHex(object);
  if (object instanceof Date) {
    return Number.isNaN(object.getTime()) ? "Invalid Date" : object.toISOString();
  }
  ancestors.add(object);
  try {
    if (object instanceof Error) return convertError(object, depth, ancestors);
    if (Array.isArray(object)) return convertArray(object, depth, ancestors);
    const toJSON = (object as { toJSON?: unknown }).toJSON;
    if (typeof toJSON === "function") {
      return convert(toJSON.call(object), depth + 1, ancestors) ?? null;
    }
    if (object instanceof Map) return convertEntries([...object.entries()], depth, ancestors);
    if (object instanceof Set) return convertArray([...object.values()], depth, ancestors);
    return convertEntries(Object.entries(object), depth, ancestors);
  } catch (error) {
    return truncateLogString(`[Unserializable: ${describeError(error)}]`);
  } finally {
    ancestors.delete(object);
  }
}

function describeError(error: unknown): string {
  try {
    return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  } catch {
    return "unknown error";
  }
}

function convertArray(
  items: readonly unknown[],
  depth: number,
  ancestors: Set<object>,
): SafeLogValue[] {
  const limit = Math.min(items.length, MAX_LOG_COLLECTION_ENTRIES);
  const out: SafeLogValue[] = [];
  for (let i = 0; i < limit; i++) out.push(convert(items[i], depth + 1, ancestors) ?? null);
  if (items.length > limit) out.push(`…[${items.length - limit} more items]`);
  return out;
}

function convertEntries(
  entries: readonly (readonly [unknown, unknown])[],
  depth: number,
  ancestors: Set<object>,
): { [key: string]: SafeLogValue } {
  // A null prototype makes a hostile "__proto__" key an ordinary property, not a prototype swap.
  const out: { [key: string]: SafeLogValue } = Object.create(null);
  let written = 0;
  for (const [rawKey, rawValue] of entries) {
    if (written === MAX_LOG_COLLECTION_ENTRIES) {
      out["…"] = `[${entries.length - written} more keys]`;
      break;
    }
    const converted = convert(rawValue, depth + 1, ancestors);
    if (converted === undefined) continue;
    out[truncateLogString(String(rawKey))] = converted;
    written++;
  }
  return out;
}

function convertError(
  error: Error,
  depth: number,
  ancestors: Set<object>,
): { [key: string]: SafeLogValue } {
  const out: { [key: string]: SafeLogValue } = Object.create(null);
  out.name = truncateLogString(String(error.name));
  out.message = truncateLogString(String(error.message));
  if (typeof error.stack === "string") out.stack = truncateLogString(error.stack);
  if (error.cause !== undefined) {
    const cause = convert(error.cause, depth + 1, ancestors);
    if (cause !== undefined) out.cause = cause;
  }
  return out;
}

function safeStringify(value: SafeLogValue): string {
  return JSON.stringify(value).replace(UNESCAPED_UNSAFE, escapeUnsafe);
}

function renderTemplate(record: LogRecord): string {
  const raw = record.rawMessage;
  return typeof raw === "string" ? raw : raw.join("{}");
}

/**
 * Formats one record as a single JSON object with no line terminator.
 *
 * Fields, in order: `ts` (ISO 8601), `level` (logtape's name: trace, debug, info, warning, error,
 * fatal), `service`, `category` (joined with `.`), `msg`, then the record's properties.
 *
 * `msg` is the message *template* as written at the call site, never a rendering with values
 * substituted: values stay in their own properties, so no miner-supplied text can become part of
 * `msg`. Values passed through a tagged template literal are kept, in order, in `args`.
 *
 * @param record The logtape record.
 * @param service The service name written on every line.
 * @returns One line of JSON that contains no raw line terminator or control character.
 */
export function formatLogLine(record: LogRecord, service: string): string {
  let line = `{"ts":${JSON.stringify(new Date(record.timestamp).toISOString())}` +
    `,"level":${JSON.stringify(record.level)}` +
    `,"service":${safeStringify(truncateLogString(service))}` +
    `,"category":${safeStringify(truncateLogString(record.category.join(".")))}` +
    `,"msg":${safeStringify(truncateLogString(renderTemplate(record)))}`;
  let keys: string[] = [];
  let readError: string | undefined;
  try {
    keys = Object.keys(record.properties);
  } catch (error) {
    readError = `Cannot read log properties: ${describeError(error)}`;
  }
  // Property keys are written as given unless they name a reserved field; those move to a name
  // that neither a reserved field nor another property uses, so nothing is overwritten.
  const taken = new Set<string>(keys);
  const append = (key: string, value: unknown, rename: boolean): void => {
    const converted = convert(value, 0, new Set<object>());
    if (converted === undefined) return;
    let name = key;
    if (rename) {
      name = `prop_${key}`;
      while (taken.has(name) || RESERVED_LOG_FIELDS.has(name)) name = `_${name}`;
      taken.add(name);
    }
    line += `,${safeStringify(truncateLogString(name))}:${safeStringify(converted)}`;
  };
  if (readError !== undefined) append("log_error", readError, taken.has("log_error"));
  for (const key of keys) {
    let value: unknown;
    try {
      value = record.properties[key];
    } catch (error) {
      value = `[Unserializable: ${describeError(error)}]`;
    }
    append(key, value, RESERVED_LOG_FIELDS.has(key));
  }
  if (typeof record.rawMessage !== "string") {
    const args: unknown[] = [];
    for (let i = 1; i < record.message.length; i += 2) args.push(record.message[i]);
    append("args", args, taken.has("args"));
  }
  return `${line}}`;
}
