/**
 * The `d=<difficulty>` / `diff=<difficulty>` convention in the mining.authorize password: a miner
 * that cannot send mining.suggest_difficulty (or whose firmware sends the wrong value) asks for
 * a fixed difficulty in the one free-text field every miner lets its user fill. litecoinpool.org
 * documents it as `foo,d=64` ("the server may round and/or cap the difficulty"); many pools
 * honour `d=` alone or after other comma-separated settings.
 *
 * The value is read as strictly as suggest_difficulty's string form: digits with an optional
 * fraction, nothing that `Number()` would also accept (hex, exponents, signs, blanks, Infinity).
 *
 * @module
 */

/** What the password asked for. */
export interface PasswordDifficulty {
  /** The difficulty asked for, when a `d=`/`diff=` setting carried a usable value. */
  readonly difficulty: number | null;
  /**
   * The text of a `d=`/`diff=` setting that was not a usable difficulty (at most 32 printable
   * chars), so the pool can log what it ignored; null when there was none.
   */
  readonly ignored: string | null;
}

const NONE: PasswordDifficulty = { difficulty: null, ignored: null };
/** Digits with an optional fraction: no sign, exponent, hex prefix or whitespace; bounded. */
const PLAIN_DECIMAL = /^[0-9]{1,20}(?:\.[0-9]{1,20})?$/;
const SETTING = /^(?:d|diff)=/i;

/**
 * Reads a `d=`/`diff=` setting from a password of comma-separated settings (`x,d=5000`,
 * `d=5000`, `diff=0.001`). Settings are trimmed; the key is case-insensitive. When several
 * settings name a difficulty, the last one decides.
 *
 * @param password the authorize password as sent.
 * @param maxDifficulty the largest value that is a difficulty at all; above it the setting is
 *   ignored rather than clamped, as suggest_difficulty's parser does.
 * @returns the difficulty asked for, or what was ignored.
 */
export function parsePasswordDifficulty(
  password: string,
  maxDifficulty: number,
): PasswordDifficulty {
  // Almost every password is "x" or empty: keep that case free of splitting and regexes.
  if (password.indexOf("=") === -1) return NONE;
  let result = NONE;
  for (const part of password.split(",")) {
    const setting = part.trim();
    const key = SETTING.exec(setting);
    if (key === null) continue;
    const text = setting.slice(key[0].length);
    const value = PLAIN_DECIMAL.test(text) ? Number(text) : Number.NaN;
    result = Number.isFinite(value) && value > 0 && value <= maxDifficulty
      ? { difficulty: value, ignored: null }
      : { difficulty: null, ignored: printable(setting) };
  }
  return result;
}

function printable(text: string): string {
  return text.slice(0, 32).replace(/[^\x20-\x7e]/g, "?");
}
