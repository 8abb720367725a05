/**
 * A strict JSON scanner that reports where a document first goes wrong, as line and column,
 * in words an operator can act on. `JSON.parse` messages only sometimes carry a position,
 * and never catch duplicate keys (the later one silently wins, a classic config trap).
 */

/** The first problem in a JSON document. */
export interface JsonProblem {
  /** 1-based line. */
  line: number;
  /** 1-based column, counted in UTF-16 code units like editors do for ASCII files. */
  column: number;
  /** What is wrong, e.g. `unexpected "}" after "," (trailing commas are not allowed in JSON)`. */
  reason: string;
}

/**
 * Thrown from deep inside the scan to the top with the first problem. Not an Error: capturing a
 * stack trace for every rejected document cost more than the scan of a short one.
 */
class Stop {
  constructor(readonly offset: number, readonly reason: string) {}
}

const WHITESPACE = new Set([" ", "\t", "\n", "\r"]);
const ESCAPES = new Set(['"', "\\", "/", "b", "f", "n", "r", "t"]);

function show(ch: string | undefined): string {
  if (ch === undefined) return "end of file";
  if (ch === "\n") return "line break";
  if (ch === '"') return `'"'`;
  return JSON.stringify(ch);
}

function hint(ch: string | undefined, expected: string): string {
  if (ch === "/") return "; comments are not allowed in JSON";
  if (ch === "'") return "; strings and keys need double quotes";
  if (ch === '"' && expected.startsWith('","')) return "; a comma is probably missing";
  return "";
}

/** A JSON number, matched where the scan stands. */
const NUMBER = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;

/** Deeper nesting than any config needs; stops a stack overflow on hostile input. */
const MAX_DEPTH = 512;

class Scanner {
  pos = 0;
  depth = 0;
  constructor(readonly text: string) {}

  fail(reason: string, at = this.pos): never {
    throw new Stop(at, reason);
  }

  unexpected(expected: string): never {
    const ch = this.text[this.pos];
    if (ch === undefined) this.fail(`unexpected end of file (expected ${expected})`);
    const word = /^[A-Za-z_][A-Za-z0-9_]*/.exec(this.text.slice(this.pos, this.pos + 40));
    if (word !== null) {
      this.fail(
        `unexpected word ${
          JSON.stringify(word[0])
        } (expected ${expected}; strings need double quotes)`,
      );
    }
    this.fail(`unexpected ${show(ch)} (expected ${expected}${hint(ch, expected)})`);
  }

  skipWhitespace(): void {
    while (WHITESPACE.has(this.text[this.pos] ?? "")) this.pos++;
  }

  document(): void {
    this.skipWhitespace();
    this.value();
    this.skipWhitespace();
    const ch = this.text[this.pos];
    if (ch !== undefined) this.fail(`unexpected ${show(ch)} after the end of the document`);
  }

  value(): void {
    const ch = this.text[this.pos];
    if (ch === "{" || ch === "[") {
      if (++this.depth > MAX_DEPTH) this.fail(`nesting deeper than ${MAX_DEPTH} levels`);
      if (ch === "{") this.object();
      else this.array();
      this.depth--;
    } else if (ch === '"') this.string();
    else if (ch === "-" || (ch !== undefined && ch >= "0" && ch <= "9")) this.number();
    else if (ch === "t") this.literal("true");
    else if (ch === "f") this.literal("false");
    else if (ch === "n") this.literal("null");
    else this.unexpected("a value");
  }

  object(): void {
    this.pos++;
    const seen = new Map<string, number>();
    this.skipWhitespace();
    if (this.text[this.pos] === "}") {
      this.pos++;
      return;
    }
    for (;;) {
      if (this.text[this.pos] !== '"') this.unexpected("a double-quoted key");
      const keyStart = this.pos;
      const key = this.string();
      const first = seen.get(key);
      if (first !== undefined) {
        const at = position(this.text, first);
        this.fail(
          `duplicate key ${JSON.stringify(key)} (first at line ${at.line}, column ${at.column})`,
          keyStart,
        );
      }
      seen.set(key, keyStart);
      this.skipWhitespace();
      if (this.text[this.pos] !== ":") this.unexpected(`":" after the key`);
      this.pos++;
      this.skipWhitespace();
      this.value();
      this.skipWhitespace();
      const ch = this.text[this.pos];
      if (ch === "}") {
        this.pos++;
        return;
      }
      if (ch !== ",") this.unexpected(`"," or "}"`);
      this.pos++;
      this.skipWhitespace();
      if (this.text[this.pos] === "}") {
        this.fail(`unexpected "}" after "," (trailing commas are not allowed in JSON)`);
      }
    }
  }

  array(): void {
    this.pos++;
    this.skipWhitespace();
    if (this.text[this.pos] === "]") {
      this.pos++;
      return;
    }
    for (;;) {
      this.value();
      this.skipWhitespace();
      const ch = this.text[this.pos];
      if (ch === "]") {
        this.pos++;
        return;
      }
      if (ch !== ",") this.unexpected(`"," or "]"`);
      this.pos++;
      this.skipWhitespace();
      if (this.text[this.pos] === "]") {
        this.fail(`unexpected "]" after "," (trailing commas are not allowed in JSON)`);
      }
    }
  }

  /** Scans a string and returns its raw text between the quotes (enough to compare keys). */
  string(): string {
    const start = ++this.pos;
    for (;;) {
      const ch = this.text[this.pos];
      if (ch === undefined) this.fail("unterminated string", start - 1);
      if (ch === '"') {
        this.pos++;
        return this.text.slice(start, this.pos - 1);
      }
      if (ch < " ") this.fail(`${show(ch)} inside a string (escape control characters)`);
      if (ch === "\\") {
        const next = this.text[this.pos + 1];
        if (next === "u") {
          if (!/^[0-9a-fA-F]{4}$/.test(this.text.slice(this.pos + 2, this.pos + 6))) {
            this.fail("invalid \\u escape (expected 4 hex digits)");
          }
          this.pos += 6;
          continue;
        }
        if (next === undefined || !ESCAPES.has(next)) {
          // A printable character is shown as typed; anything else by name, since the reason
          // ends up in a one-line error and a raw line break would split it.
          const shown = next !== undefined && next >= " " && next <= "~"
            ? `"\\${next}"`
            : `"\\" followed by ${show(next)}`;
          this.fail(`invalid escape ${shown} in a string`);
        }
        this.pos += 2;
        continue;
      }
      this.pos++;
    }
  }

  number(): void {
    // Matched in place (sticky) rather than on a slice: a slice of 400 characters refused a
    // longer number that JSON.parse accepts ("invalid number" at column 401).
    NUMBER.lastIndex = this.pos;
    const match = NUMBER.exec(this.text);
    if (match === null) this.fail("invalid number");
    this.pos += match[0].length;
    const next = this.text[this.pos];
    if (next !== undefined && /[0-9A-Za-z.]/.test(next)) this.fail("invalid number");
  }

  literal(word: string): void {
    if (this.text.startsWith(word, this.pos)) {
      this.pos += word.length;
      return;
    }
    this.unexpected("a value");
  }
}

function position(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < offset && i < text.length; i++) {
    if (text[i] === "\n") {
      line++;
      lineStart = i + 1;
    }
  }
  return { line, column: offset - lineStart + 1 };
}

/**
 * Finds the first syntax problem in a JSON document, including duplicate keys.
 *
 * @returns the problem, or undefined when the document is valid JSON without duplicate keys
 */
export function findJsonProblem(text: string): JsonProblem | undefined {
  try {
    new Scanner(text).document();
    return undefined;
  } catch (error: unknown) {
    if (!(error instanceof Stop)) throw error;
    return { ...position(text, error.offset), reason: error.reason };
  }
}
