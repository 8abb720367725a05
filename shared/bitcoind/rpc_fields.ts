/**
 * Typed reads of one RPC result object: strict about the type of every field that is present (a
 * hostile or broken node gets an error naming the field and what it sent), lenient about fields
 * that real nodes omit (the caller gives the default or derives the value).
 *
 * @module
 */

/** A field had the wrong type or range; `field` names it as `method.field`. */
export class RpcFieldError extends TypeError {
  override readonly name = "RpcFieldError";
  /** `method.field`, e.g. `getblockchaininfo.blocks`. */
  readonly field: string;

  /**
   * @param field `method.field`
   * @param expected what the field must be, e.g. `a non-negative integer`
   * @param got the value the node sent
   */
  constructor(field: string, expected: string, got: unknown) {
    super(`${field} must be ${expected}, got ${describe(got)}`);
    this.field = field;
  }
}

const HASH_HEX = /^[0-9a-fA-F]{64}$/;

/** Reads the fields of one result object of `method`. */
export class RpcFields {
  readonly #method: string;
  readonly #record: Readonly<Record<string, unknown>>;

  /**
   * @param method the RPC method, for error messages
   * @param result the raw `result`
   * @throws {RpcFieldError} when the result is not a JSON object
   */
  constructor(method: string, result: unknown) {
    if (typeof result !== "object" || result === null || Array.isArray(result)) {
      throw new RpcFieldError(method, "an object", result);
    }
    this.#method = method;
    this.#record = result as Record<string, unknown>;
  }

  /** Whether the node sent the field (null counts as absent, as Go's omitempty peers send it). */
  has(key: string): boolean {
    const value = this.#record[key];
    return value !== undefined && value !== null;
  }

  /** A required string. */
  string(key: string): string {
    const value = this.#record[key];
    if (typeof value !== "string") throw this.#error(key, "a string", value);
    return value;
  }

  /** A string, or undefined when absent. */
  optionalString(key: string): string | undefined {
    return this.has(key) ? this.string(key) : undefined;
  }

  /** A required 64-digit hex hash, lower-cased. */
  hash(key: string): string {
    const value = this.#record[key];
    if (typeof value !== "string" || !HASH_HEX.test(value)) {
      throw this.#error(key, "a 64-digit hex hash", value);
    }
    return value.toLowerCase();
  }

  /** A hash, or undefined when absent. */
  optionalHash(key: string): string | undefined {
    return this.has(key) ? this.hash(key) : undefined;
  }

  /** A required boolean. */
  boolean(key: string): boolean {
    const value = this.#record[key];
    if (typeof value !== "boolean") throw this.#error(key, "a boolean", value);
    return value;
  }

  /** A boolean, or undefined when absent. */
  optionalBoolean(key: string): boolean | undefined {
    return this.has(key) ? this.boolean(key) : undefined;
  }

  /** A required safe integer in [min, max]. */
  integer(key: string, min = 0, max = Number.MAX_SAFE_INTEGER): number {
    const value = this.#record[key];
    if (typeof value !== "number" || !Number.isSafeInteger(value) || value < min || value > max) {
      const range = min === 0 && max === Number.MAX_SAFE_INTEGER
        ? "a non-negative integer"
        : `an integer in [${min}, ${max}]`;
      throw this.#error(key, range, value);
    }
    return value;
  }

  /** An integer, or undefined when absent. */
  optionalInteger(key: string, min?: number, max?: number): number | undefined {
    return this.has(key) ? this.integer(key, min, max) : undefined;
  }

  /**
   * A required non-negative integer or non-empty string, for fields whose JSON type differs
   * between implementations (getnetworkinfo `version`: Core 290000, bcoin "v1.0.2").
   */
  integerOrString(key: string): number | string {
    const value = this.#record[key];
    if (typeof value === "string" && value.length > 0) return value;
    if (typeof value === "number" && Number.isSafeInteger(value) && value >= 0) return value;
    throw this.#error(key, "a non-negative integer or a non-empty string", value);
  }

  /**
   * Compact target bits as hex: Core's and btcd's string as sent, or bcoin's integer
   * (getblockheader `bits` 545259519) as 8 hex digits ("207fffff").
   */
  compactBits(key: string): string {
    const value = this.#record[key];
    if (typeof value === "string" && /^[0-9a-fA-F]{1,8}$/.test(value)) return value;
    if (
      typeof value === "number" && Number.isSafeInteger(value) && value >= 0 && value <= 0xffffffff
    ) {
      return value.toString(16).padStart(8, "0");
    }
    throw this.#error(key, "compact bits (up to 8 hex digits, or a 32-bit integer)", value);
  }

  /** A required finite number in [min, max]. */
  number(key: string, min = -Infinity, max = Infinity): number {
    const value = this.#record[key];
    if (typeof value !== "number" || !Number.isFinite(value) || value < min || value > max) {
      throw this.#error(key, `a number in [${min}, ${max}]`, value);
    }
    return value;
  }

  /** A number, or undefined when absent. */
  optionalNumber(key: string, min?: number, max?: number): number | undefined {
    return this.has(key) ? this.number(key, min, max) : undefined;
  }

  #error(key: string, expected: string, got: unknown): RpcFieldError {
    return new RpcFieldError(`${this.#method}.${key}`, expected, got);
  }
}

function describe(value: unknown): string {
  if (value === undefined) return "nothing (field missing)";
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 80 ? `${text.slice(0, 80)}…` : text;
}
