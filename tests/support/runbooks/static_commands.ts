/**
 * Checks a command of a `runbook-static` block (one that changes production state, so the test
 * does not run it) for existence: the program is installed, `deno task <name>` is a task of
 * deno.json, a script or tool it runs is in the repository and lists every `--flag` given to it
 * in its usage (`--help`), a systemd unit it names has its unit file (ours under
 * `infra/systemd/`, a Debian package's under `/lib/systemd/system/`), and every repository path
 * it names exists.
 *
 * @module
 */
import { existsSync, readdirSync } from "node:fs";

/** Where the checks look; {@link repoContext} gives the real one. */
export interface StaticContext {
  /** Repository root, no trailing slash. */
  readonly root: string;
  /** Task names of the root deno.json. */
  readonly tasks: ReadonlySet<string>;
  /** The usage text a command prints for `--help` (stdout and stderr, any exit code). */
  usage(command: readonly string[]): Promise<string>;
  /** Whether a program is installed (on PATH or in a Debian sbin or PostgreSQL bin directory). */
  programExists(name: string): boolean;
  /** Whether the unit file of a systemd unit outside this repository exists on this machine. */
  systemUnitExists(unit: string): boolean;
}

/** First words of the repository's own paths. */
const REPO_DIRS = /^(infra|tools|tests|docs|shared|stratum|relay|collector)\//;
const SYSTEMCTL_VERBS = new Set([
  "start",
  "stop",
  "restart",
  "reload",
  "enable",
  "disable",
  "status",
  "reset-failed",
  "daemon-reload",
  "is-active",
  "is-failed",
  "cat",
  "list-units",
  "show",
]);
/** systemctl options whose value is the next word. */
const OPTIONS_WITH_VALUE = new Set(["-p", "--property", "-n", "--lines", "-t", "--type"]);
const ENV_ASSIGNMENT = /^[A-Za-z_][A-Za-z0-9_]*=/;

/**
 * The problems of one simple command (empty when it checks out).
 *
 * @param words The command's words (from `simpleCommands`).
 * @param context Where to look.
 * @returns One message per problem.
 */
export async function staticProblems(
  words: readonly string[],
  context: StaticContext,
): Promise<string[]> {
  let rest = [...words];
  while (rest.length > 0 && (ENV_ASSIGNMENT.test(rest[0]!) || rest[0] === "sudo")) {
    rest = rest.slice(1);
  }
  const problems = rest.flatMap((word) => repoPathProblem(word, context.root));
  const [program, ...args] = rest;
  if (program === undefined) return problems;
  if (program === "deno") problems.push(...await denoProblems(args, context));
  else if (program === "bash" || program === "sh") {
    problems.push(...await scriptProblems(args[0], args.slice(1), context));
  } else if (program.includes("/") && program.endsWith(".sh")) {
    problems.push(...await scriptProblems(program, args, context));
  } else if (!context.programExists(program)) {
    problems.push(`${program} is not installed here (add its package to tools/ensure_tools.sh)`);
  } else if (program === "systemctl") problems.push(...systemctlProblems(args, context));
  else if (program === "journalctl") {
    args.forEach((arg, i) => {
      if (arg === "-u" && args[i + 1] !== undefined) {
        problems.push(...unitProblems(args[i + 1]!, context));
      }
    });
  }
  return problems;
}

/** A word naming a repository path that does not exist (a `*` in its last part may match). */
function repoPathProblem(word: string, root: string): string[] {
  if (!REPO_DIRS.test(word) || word.includes("$")) return [];
  const path = word.replace(/[#:].*$/, "").replace(/\/$/, "");
  if (!path.includes("*")) return existsSync(`${root}/${path}`) ? [] : [`${path} does not exist`];
  const slash = path.lastIndexOf("/");
  const dir = `${root}/${path.slice(0, slash)}`;
  const pattern = new RegExp(
    `^${path.slice(slash + 1).replace(/[.+?^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*")}$`,
  );
  const found = existsSync(dir) && readdirSync(dir).some((name) => pattern.test(name));
  return found ? [] : [`${path} matches nothing`];
}

/** `--flag` words before a bare `--` (the rest goes to another program). */
function flagsOf(args: readonly string[]): string[] {
  const end = args.indexOf("--");
  return (end < 0 ? args : args.slice(0, end))
    .filter((arg) => /^--[a-z]/.test(arg))
    .map((arg) => arg.replace(/=.*$/, ""));
}

/** Flags the usage text does not mention as a whole word. */
function unknownFlags(flags: readonly string[], usage: string): string[] {
  return flags.filter((flag) => !new RegExp(`${flag}(?![a-z0-9-])`).test(usage));
}

async function denoProblems(args: readonly string[], context: StaticContext): Promise<string[]> {
  const [sub, ...rest] = args;
  if (sub === "task") {
    const quiet = rest.filter((arg) => arg !== "-q" && arg !== "--quiet");
    const [task, ...taskArgs] = quiet;
    if (task === undefined || !context.tasks.has(task)) {
      return [`deno task ${task ?? ""} is not a task of deno.json`];
    }
    const flags = flagsOf(taskArgs);
    if (flags.length === 0) return [];
    const usage = await context.usage(["deno", "task", "-q", task, "--help"]);
    return unknownFlags(flags, usage).map((flag) => `deno task ${task} does not take ${flag}`);
  }
  if (sub === "run") {
    const fileAt = rest.findIndex((arg) => !arg.startsWith("-"));
    const file = rest[fileAt];
    if (file === undefined) return ["deno run names no script"];
    if (!existsSync(`${context.root}/${file}`)) return [`${file} does not exist`];
    const flags = flagsOf(rest.slice(fileAt + 1));
    if (flags.length === 0) return [];
    const usage = await context.usage(["deno", "run", ...rest.slice(0, fileAt + 1), "--help"]);
    return unknownFlags(flags, usage).map((flag) => `${file} does not take ${flag}`);
  }
  return [];
}

async function scriptProblems(
  file: string | undefined,
  args: readonly string[],
  context: StaticContext,
): Promise<string[]> {
  if (file === undefined) return ["bash names no script"];
  if (!existsSync(`${context.root}/${file}`)) return [`${file} does not exist`];
  const flags = flagsOf(args);
  if (flags.length === 0) return [];
  const usage = await context.usage(["bash", file, "--help"]);
  return unknownFlags(flags, usage).map((flag) => `${file} does not take ${flag}`);
}

function systemctlProblems(args: readonly string[], context: StaticContext): string[] {
  // Options with a separate value (`-p Result`) take the next word with them.
  const words = args.filter((arg, i) =>
    !arg.startsWith("-") && !OPTIONS_WITH_VALUE.has(args[i - 1] ?? "")
  );
  const [verb, ...units] = words;
  if (verb === undefined || !SYSTEMCTL_VERBS.has(verb)) {
    return [`systemctl ${verb ?? ""} is not a verb the runbooks use`];
  }
  return units.flatMap((unit) => unitProblems(unit, context));
}

/**
 * A unit named in a command: `tbg-stratum@2` needs `infra/systemd/tbg-stratum@.service`,
 * `tbg-*` a match there, anything else a unit file of an installed package.
 */
function unitProblems(unit: string, context: StaticContext): string[] {
  const name = unit.replace(/\.service$/, "");
  if (name.includes("$")) return [];
  const dir = `${context.root}/infra/systemd`;
  if (name.startsWith("tbg-")) {
    const file = name.replace(/@.*$/, "@") + ".service";
    if (name.includes("*")) {
      const pattern = new RegExp(`^${name.replace(/\*/g, ".*")}\\.service$`);
      return readdirSync(dir).some((f) => pattern.test(f)) ? [] : [`no unit matches ${unit}`];
    }
    return existsSync(`${dir}/${file}`) ? [] : [`infra/systemd/${file} does not exist`];
  }
  return context.systemUnitExists(name) ? [] : [`unit ${unit} is not installed here`];
}

/**
 * The real context: the repository's deno.json, programs on this machine, usage texts from
 * running the command with a bounded wait (cached per command).
 *
 * @param root Repository root.
 * @param timeoutMs Longest wait for one `--help`.
 */
export function repoContext(root: string, timeoutMs = 30_000): StaticContext {
  const config = JSON.parse(Deno.readTextFileSync(`${root}/deno.json`)) as {
    tasks: Record<string, string>;
  };
  const cache = new Map<string, Promise<string>>();
  const path = (Deno.env.get("PATH") ?? "").split(":").concat(["/usr/sbin", "/sbin"]);
  const pgBins = existsSync("/usr/lib/postgresql")
    ? readdirSync("/usr/lib/postgresql").map((v) => `/usr/lib/postgresql/${v}/bin`)
    : [];
  return {
    root,
    tasks: new Set(Object.keys(config.tasks)),
    usage(command) {
      const key = JSON.stringify(command);
      let text = cache.get(key);
      if (text === undefined) {
        text = (async () => {
          const [program, ...args] = command;
          const output = await new Deno.Command(program!, {
            args,
            cwd: root,
            stdin: "null",
            stdout: "piped",
            stderr: "piped",
            env: { NO_COLOR: "1" },
            signal: AbortSignal.timeout(timeoutMs),
          }).output();
          const decoder = new TextDecoder();
          return decoder.decode(output.stdout) + decoder.decode(output.stderr);
        })();
        cache.set(key, text);
      }
      return text;
    },
    programExists: (name) =>
      [...path, ...pgBins].some((dir) => dir !== "" && existsSync(`${dir}/${name}`)),
    systemUnitExists: (unit) =>
      ["/lib/systemd/system", "/usr/lib/systemd/system", "/etc/systemd/system"].some((dir) =>
        existsSync(`${dir}/${unit}.service`) ||
        existsSync(`${dir}/${unit.replace(/@.*$/, "@")}.service`)
      ),
  };
}
