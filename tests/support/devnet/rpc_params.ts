/**
 * Argument handling like Core's RPCHelpMan: positional or named parameters, type errors with
 * code -3 and Core's wording, hash parsing with Core's -8 messages.
 *
 * @module
 */
import { RpcCode, RpcError } from "./rpc_error.ts";

/** Core's UniValue type names as used in type errors. */
function typeName(value: unknown): string {
  if (value === null || value === undefined) return "null";
  if (Array.isArray(value)) return "array";
  if (typeof value === "boolean") return "bool";
  return typeof value === "object" ? "object" : typeof value;
}

function typeError(value: unknown, expected: string): RpcError {
  return new RpcError(
    RpcCode.TYPE_ERROR,
    `JSON value of type ${typeName(value)} is not of expected type ${expected}`,
  );
}

/**
 * Turns request params into positional arguments using the method's parameter names.
 *
 * @throws {RpcError} -8 for an unknown named parameter.
 */
export function positional(params: unknown, names: readonly string[]): unknown[] {
  if (Array.isArray(params)) return params;
  if (params === null || params === undefined) return [];
  const named = params as Record<string, unknown>;
  for (const key of Object.keys(named)) {
    if (!names.includes(key)) {
      throw new RpcError(RpcCode.INVALID_PARAMETER, `Unknown named parameter ${key}`);
    }
  }
  const args = names.map((name) => named[name]);
  while (args.length > 0 && args[args.length - 1] === undefined) args.pop();
  return args;
}

/** Whether an argument was omitted (absent or null, as Core treats both). */
export function isAbsent(value: unknown): value is null | undefined {
  return value === undefined || value === null;
}

/** A required string argument. */
export function requireString(value: unknown, usage: string): string {
  if (isAbsent(value)) throw new RpcError(RpcCode.MISC_ERROR, usage);
  if (typeof value !== "string") throw typeError(value, "string");
  return value;
}

/** A required integer argument. */
export function requireInt(value: unknown, usage: string): number {
  if (isAbsent(value)) throw new RpcError(RpcCode.MISC_ERROR, usage);
  if (typeof value !== "number") throw typeError(value, "number");
  if (!Number.isInteger(value)) throw new RpcError(RpcCode.TYPE_ERROR, "JSON integer out of range");
  return value;
}

/** An optional integer argument. */
export function optionalInt(value: unknown, fallback: number): number {
  if (isAbsent(value)) return fallback;
  if (typeof value !== "number") throw typeError(value, "number");
  if (!Number.isInteger(value)) throw new RpcError(RpcCode.TYPE_ERROR, "JSON integer out of range");
  return value;
}

/** An optional boolean argument. */
export function optionalBool(value: unknown, fallback: boolean): boolean {
  if (isAbsent(value)) return fallback;
  if (typeof value !== "boolean") throw typeError(value, "bool");
  return value;
}

/** An optional object argument. */
export function optionalObject(value: unknown): Record<string, unknown> {
  if (isAbsent(value)) return {};
  if (typeof value !== "object" || Array.isArray(value)) throw typeError(value, "object");
  return value as Record<string, unknown>;
}

/**
 * Core's `ParseHashV`: 64 hex characters.
 *
 * @throws {RpcError} -8 with Core's message otherwise.
 */
export function parseHashArg(value: unknown, name: string, usage: string): string {
  const text = requireString(value, usage);
  if (text.length !== 64) {
    throw new RpcError(
      RpcCode.INVALID_PARAMETER,
      `${name} must be of length 64 (not ${text.length}, for '${text}')`,
    );
  }
  if (!/^[0-9a-fA-F]+$/.test(text)) {
    throw new RpcError(
      RpcCode.INVALID_PARAMETER,
      `${name} must be hexadecimal string (not '${text}')`,
    );
  }
  return text.toLowerCase();
}
