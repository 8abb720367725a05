/**
 * Reads the commands out of the runbooks in `docs/runbooks/`. A runbook marks every shell block
 * it gives with one of two tags after the fence's language:
 *
 * - ```` ```sh runbook-check ````: run as it stands against the simulation by
 *   `tests/runbooks_test.ts` (one `bash -euo pipefail` script per block, with the placeholders
 *   such as `$POOL_METRICS` set to the simulation's addresses); `# expect: <regex>` lines say
 *   what its output must show.
 * - ```` ```sh runbook-static ````: changes production state (restarts a unit, installs a file),
 *   so it is not run; the test checks that every program, task, script, flag, unit and
 *   repository path it names exists.
 *
 * A shell block with neither tag is an error: no command escapes the test.
 *
 * Pure: text in, blocks and words out.
 *
 * @module
 */

/** How the test treats a block. */
export const BlockKind = {
  /** Run against the simulation. */
  Check: "runbook-check",
  /** Checked for existence only (changes production state). */
  Static: "runbook-static",
} as const;
/** A {@link BlockKind} value. */
export type BlockKind = typeof BlockKind[keyof typeof BlockKind];

/** One tagged shell block of a runbook. */
export interface RunbookBlock {
  /** The runbook's path as given to {@link parseRunbook}. */
  readonly file: string;
  /** 1-based line of the opening fence. */
  readonly line: number;
  readonly kind: BlockKind;
  /** The block's text, lines joined with `\n` (comments included). */
  readonly script: string;
  /** Patterns from `# expect: <regex>` lines; the output must match each. */
  readonly expects: readonly RegExp[];
}

/** What {@link parseRunbook} found in one file. */
export interface ParsedRunbook {
  readonly blocks: readonly RunbookBlock[];
  /** Shell blocks without a tag, as `file:line`. */
  readonly untagged: readonly string[];
  /** Level-1 to level-3 headings, in order. */
  readonly headings: readonly string[];
}

const SHELL_LANGUAGES = new Set(["sh", "bash", "shell", "console"]);
const EXPECT_PREFIX = /^\s*#\s*expect:\s?(.*)$/;

/**
 * Finds the tagged shell blocks and the headings of a Markdown runbook.
 *
 * @param markdown The file's text.
 * @param file Its path, for messages.
 * @returns Blocks, untagged shell blocks and headings.
 * @throws {SyntaxError} For an unclosed fence, an unknown `runbook-*` tag or a bad `expect`
 *   pattern, naming the line.
 */
export function parseRunbook(markdown: string, file: string): ParsedRunbook {
  const lines = markdown.split("\n");
  const blocks: RunbookBlock[] = [];
  const untagged: string[] = [];
  const headings: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    const heading = /^#{1,3} +(.+?)\s*$/.exec(line);
    if (heading) {
      headings.push(heading[1]!);
      continue;
    }
    const fence = /^(\s*)(`{3,}|~{3,})\s*(\S*)\s*(.*)$/.exec(line);
    if (!fence) continue;
    const [, , marker, language, info] = fence as unknown as [
      string,
      string,
      string,
      string,
      string,
    ];
    const start = i;
    const body: string[] = [];
    for (i++; i < lines.length && !lines[i]!.trimStart().startsWith(marker); i++) {
      body.push(lines[i]!);
    }
    if (i >= lines.length) {
      throw new SyntaxError(`Cannot read ${file}: the fence on line ${start + 1} is never closed`);
    }
    if (!SHELL_LANGUAGES.has(language)) continue;
    const tag = info.split(/\s+/).find((word) => word.startsWith("runbook-"));
    if (tag === undefined) {
      untagged.push(`${file}:${start + 1}`);
      continue;
    }
    if (tag !== BlockKind.Check && tag !== BlockKind.Static) {
      throw new SyntaxError(`Cannot read ${file}: unknown tag "${tag}" on line ${start + 1}`);
    }
    const expects = body.flatMap((text, offset) => {
      const match = EXPECT_PREFIX.exec(text);
      if (!match) return [];
      try {
        return [new RegExp(match[1]!, "m")];
      } catch (error) {
        throw new SyntaxError(
          `Cannot read ${file}: bad expect pattern on line ${start + 2 + offset}`,
          { cause: error },
        );
      }
    });
    blocks.push({ file, line: start + 1, kind: tag, script: body.join("\n"), expects });
  }
  return { blocks, untagged, headings };
}

/**
 * The command lines of a script: backslash continuations joined, comments and blank lines
 * dropped.
 *
 * @param script A block's text.
 * @returns One string per command line.
 */
export function commandLines(script: string): string[] {
  const out: string[] = [];
  let pending = "";
  for (const raw of script.split("\n")) {
    const line = raw.trim();
    if (pending === "" && (line === "" || line.startsWith("#"))) continue;
    if (line.endsWith("\\")) {
      pending += `${line.slice(0, -1).trimEnd()} `;
      continue;
    }
    out.push(stripComment(pending + line).trim());
    pending = "";
  }
  if (pending !== "") out.push(stripComment(pending).trim());
  return out.filter((line) => line !== "");
}

/** Removes a trailing ` # comment` outside quotes. */
function stripComment(line: string): string {
  let quote: string | null = null;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (quote !== null) {
      if (c === "\\" && quote === '"') i++;
      else if (c === quote) quote = null;
    } else if (c === "\\") {
      i++;
    } else if (c === "'" || c === '"') {
      quote = c;
    } else if (c === "#" && (i === 0 || /\s/.test(line[i - 1]!))) {
      return line.slice(0, i);
    }
  }
  return line;
}

/** Shell words that separate one simple command from the next. */
const OPERATORS = ["&&", "||", "|", ";"] as const;

/**
 * Splits a command line into simple commands and each into words, the way a POSIX shell
 * would for the subset runbooks use: single and double quotes (removed), backslash escapes,
 * `&&`, `||`, `|` and `;` between commands. `$VAR`, globs and `$(…)` stay as written.
 *
 * @param line One command line from {@link commandLines}.
 * @returns The simple commands' words, empty commands dropped.
 * @throws {SyntaxError} For an unclosed quote.
 */
export function simpleCommands(line: string): string[][] {
  const commands: string[][] = [];
  let words: string[] = [];
  let word = "";
  let inWord = false;
  let quote: string | null = null;
  const endWord = () => {
    if (inWord) words.push(word);
    word = "";
    inWord = false;
  };
  const endCommand = () => {
    endWord();
    if (words.length > 0) commands.push(words);
    words = [];
  };
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (quote !== null) {
      if (c === quote) quote = null;
      else if (c === "\\" && quote === '"' && i + 1 < line.length) word += line[++i];
      else word += c;
      continue;
    }
    if (c === "'" || c === '"') {
      quote = c;
      inWord = true;
      continue;
    }
    if (c === "\\" && i + 1 < line.length) {
      word += line[++i];
      inWord = true;
      continue;
    }
    if (/\s/.test(c)) {
      endWord();
      continue;
    }
    const operator = OPERATORS.find((op) => line.startsWith(op, i));
    if (operator !== undefined) {
      endCommand();
      i += operator.length - 1;
      continue;
    }
    word += c;
    inWord = true;
  }
  if (quote !== null) throw new SyntaxError(`Cannot split "${line}": unclosed ${quote}`);
  endCommand();
  return commands;
}

/**
 * The runbook file name of an alert: its name in kebab case, e.g. `PrimaryProcessDown` →
 * `primary-process-down.md`.
 *
 * @param alert An alert name (letters and digits).
 * @returns The file name.
 */
export function alertRunbookFile(alert: string): string {
  return `${alert.replace(/(?<=[a-z0-9])(?=[A-Z])/g, "-").toLowerCase()}.md`;
}
