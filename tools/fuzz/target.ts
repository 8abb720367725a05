/** What the fuzz engine needs from one target. */
import type { Rng } from "./rng.ts";

/** A failed invariant inside a target: the API returned something it promises never to. */
export class InvariantError extends Error {
  override name = "InvariantError";
}

/** Throws an {@link InvariantError} unless `condition` holds. */
export function check(condition: unknown, message: string): asserts condition {
  if (!condition) throw new InvariantError(message);
}

/** One fuzz target: an API that takes hostile bytes, with the rejections it documents. */
export interface FuzzTarget {
  readonly name: string;
  /** One line for the CLI's help and the report. */
  readonly description: string;
  /** Path fragments of the modules under test; coverage is counted in these only. */
  readonly modules: readonly string[];
  /** Longest input generated (bytes). */
  readonly maxInputBytes: number;
  /** Tokens worth inserting (field names, magic numbers, method names). */
  readonly dictionary: readonly string[];
  /** Inputs built in code (encoded messages, for instance), added to the committed corpus. */
  seeds(): Uint8Array[];
  /** A structure-aware mutation of a corpus entry, or null when it does not apply. */
  mutate?(input: Uint8Array, rng: Rng): Uint8Array | null;
  /** Share of new inputs made by {@link mutate} rather than byte mutations; default 0.4. */
  readonly structuredShare?: number;
  /**
   * Feeds one input to the API. Returns when the API answered as documented (a value, or one of
   * its documented typed rejections); throws anything else, which is a crash.
   */
  run(input: Uint8Array): void;
}

/**
 * True for an error of one of `types` whose message starts with `prefix`: the shape of a typed
 * rejection a decoder documents ("Cannot decode …"), as opposed to a TypeError from inside.
 */
export function isRejection(
  error: unknown,
  types: ReadonlyArray<abstract new (...args: never[]) => Error>,
  prefix: string,
): boolean {
  return types.some((t) => error instanceof t && error.constructor === t) &&
    (error as Error).message.startsWith(prefix);
}
