/**
 * Helpers for the tests of `infra/prometheus/` and `infra/grafana/`: running `promtool`, reading
 * rules files, test files and Grafana dashboards, and finding the metric names a PromQL
 * expression reads.
 *
 * `promtool` comes from the Debian package `prometheus`; without it {@link runPromtool} throws
 * an error that names the package, so the tests fail rather than skip.
 *
 * @module
 */
import { fileURLToPath } from "node:url";
import { parse } from "yaml";
import { z } from "zod";

/** The repository root, without a trailing slash. */
export const ROOT: string = fileURLToPath(new URL("../../", import.meta.url)).replace(/\/$/, "");
/** `infra/prometheus` in this repository. */
export const PROMETHEUS_DIR: string = `${ROOT}/infra/prometheus`;
/** The Grafana dashboards' folder. */
export const DASHBOARDS_DIR: string = `${ROOT}/infra/grafana/dashboards`;
/** The multi-region Grafana dashboard. */
export const DASHBOARD_FILE: string = `${DASHBOARDS_DIR}/multi-region.json`;
/** The alert expressions kept beside the metrics they read. */
export const RECOMMENDED_FILE: string =
  `${ROOT}/shared/metrics/testdata/recommended_alert_expressions.txt`;

/** What one promtool run printed. */
export interface PromtoolResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Runs promtool.
 *
 * @param args its arguments
 * @param options `cwd` for relative paths; `binary` to run instead of `promtool` (tests)
 * @throws {Error} naming the Debian package "prometheus" when the binary is not on PATH
 */
export async function runPromtool(
  args: readonly string[],
  options: { readonly cwd?: string; readonly binary?: string } = {},
): Promise<PromtoolResult> {
  const binary = options.binary ?? "promtool";
  let output: Deno.CommandOutput;
  try {
    output = await new Deno.Command(binary, {
      args: [...args],
      cwd: options.cwd ?? ROOT,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new Error(
        `Cannot run ${binary}: binary not found on PATH; install the Debian package "prometheus" ` +
          "(apt-get install --no-install-recommends prometheus)",
        { cause: error },
      );
    }
    throw error;
  }
  const text = new TextDecoder();
  return {
    code: output.code,
    stdout: text.decode(output.stdout),
    stderr: text.decode(output.stderr),
  };
}

/** Runs promtool and throws with its output unless it exits 0. */
export async function promtoolOk(
  args: readonly string[],
  options: { readonly cwd?: string } = {},
): Promise<string> {
  const result = await runPromtool(args, options);
  if (result.code !== 0) {
    throw new Error(
      `promtool ${args.join(" ")} exited ${result.code}:\n${result.stdout}${result.stderr}`,
    );
  }
  return result.stdout + result.stderr;
}

const AlertRule = z.object({
  alert: z.string(),
  expr: z.string(),
  for: z.string().optional(),
  labels: z.record(z.string(), z.string()),
  annotations: z.record(z.string(), z.string()),
}).strict();

const RulesFile = z.object({
  groups: z.array(
    z.object({
      name: z.string(),
      rules: z.array(AlertRule),
    }).strict(),
  ),
}).strict();

/** One alerting rule of a rules file. */
export type AlertRule = z.infer<typeof AlertRule>;

/** The alerting rules of a Prometheus rules file (only alerting rules are expected). */
export function parseAlertRules(yaml: string): AlertRule[] {
  return RulesFile.parse(parse(yaml)).groups.flatMap((group) => group.rules);
}

const UnitTestFile = z.object({
  rule_files: z.array(z.string()),
  evaluation_interval: z.string().optional(),
  tests: z.array(z.object({
    name: z.string().optional(),
    interval: z.string().optional(),
    input_series: z.array(z.object({ series: z.string(), values: z.string() })),
    alert_rule_test: z.array(z.object({
      eval_time: z.string(),
      alertname: z.string(),
      exp_alerts: z.array(z.unknown()),
    })),
  })),
});

/** One `alert_rule_test` entry of a promtool unit test file. */
export interface AlertCheck {
  readonly alertname: string;
  /** How many alerts it expects to fire (0: silent). */
  readonly expected: number;
}

/** The alert checks of a promtool unit test file, and the rules files it loads. */
export function parseUnitTests(yaml: string): { ruleFiles: string[]; checks: AlertCheck[] } {
  const file = UnitTestFile.parse(parse(yaml));
  return {
    ruleFiles: file.rule_files,
    checks: file.tests.flatMap((test) =>
      test.alert_rule_test.map((check) => ({
        alertname: check.alertname,
        expected: check.exp_alerts.length,
      }))
    ),
  };
}

/**
 * The entries of recommended_alert_expressions.txt: each expression line, named by the first
 * word of the comment block right above it. Blank lines end a comment block.
 *
 * @throws {SyntaxError} for an expression without a `# Name` line above it
 */
export function parseRecommended(text: string): Map<string, string> {
  const entries = new Map<string, string>();
  let block: string[] = [];
  for (const line of text.split("\n")) {
    if (line.trim() === "") {
      block = [];
    } else if (line.startsWith("#")) {
      block.push(line);
    } else {
      const name = /^#\s*([A-Za-z][A-Za-z0-9]*)/.exec(block[0] ?? "")?.[1];
      if (name === undefined) {
        throw new SyntaxError(`Cannot name the expression "${line}": no "# Name" line above it`);
      }
      if (entries.has(name)) throw new SyntaxError(`Cannot list ${name} twice`);
      entries.set(name, line.trim());
      block = [];
    }
  }
  return entries;
}

/** Collapses runs of white space, so folded YAML and one-line expressions compare equal. */
export function normalizeExpression(expression: string): string {
  return expression.replace(/\s+/g, " ").trim();
}

const PROMQL_KEYWORDS = new Set([
  "and",
  "or",
  "unless",
  "by",
  "without",
  "on",
  "ignoring",
  "group_left",
  "group_right",
  "bool",
  "offset",
  "atan2",
  "inf",
  "nan",
]);

/**
 * The metric names a PromQL expression selects (sorted, without repeats). Function and
 * aggregation names, keywords, label names and values, ranges and numbers are not metric names.
 *
 * @throws {SyntaxError} for a `{__name__=...}` selector, which this does not follow
 */
export function metricNames(expression: string): string[] {
  if (/__name__/.test(expression)) {
    throw new SyntaxError(`Cannot read metric names selected by __name__: ${expression}`);
  }
  const stripped = expression
    // Strings first: they may hold braces, brackets and parentheses.
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, '""')
    .replace(/\{[^}]*\}/g, " ")
    .replace(/\[[^\]]*\]/g, " ")
    .replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, " ");
  const names = new Set<string>();
  // Numbers and durations (1e3, 0x1f, 5m) are consumed whole so their letters are not names.
  const token = /[0-9][0-9a-zA-Z.]*|([a-zA-Z_:][a-zA-Z0-9_:]*)(\s*\()?|./g;
  for (const match of stripped.matchAll(token)) {
    const [, identifier, call] = match;
    if (identifier === undefined || call !== undefined) continue;
    if (PROMQL_KEYWORDS.has(identifier.toLowerCase())) continue;
    names.add(identifier);
  }
  return [...names].sort();
}

/** Grafana's built-in interval variables, as values promtool accepts in their place. */
const GRAFANA_INTERVALS: Readonly<Record<string, string>> = {
  __rate_interval: "5m",
  __interval: "1m",
  __range: "6h",
};

/**
 * A Grafana target expression with its variables replaced by values that keep it valid PromQL:
 * intervals by durations, anything else (template variables used in label matchers) by `.*`.
 */
export function expandGrafanaVariables(expression: string): string {
  return expression.replace(
    /\$\{([A-Za-z0-9_]+)(?::[^}]*)?\}|\[\[([A-Za-z0-9_]+)\]\]|\$([A-Za-z0-9_]+)/g,
    (_match, braced?: string, bracketed?: string, plain?: string) => {
      const name = braced ?? bracketed ?? plain ?? "";
      return GRAFANA_INTERVALS[name] ?? ".*";
    },
  );
}

/** One PromQL query of a dashboard: a panel target or a template variable's query. */
export interface DashboardQuery {
  /** Where it is, e.g. `panel 7 "Primary RTT" target B`. */
  readonly where: string;
  /** The PromQL, Grafana variables still in it. */
  readonly expr: string;
}

interface PanelLike {
  readonly id?: number;
  readonly title?: string;
  readonly type?: string;
  readonly targets?: readonly { readonly refId?: string; readonly expr?: string }[];
  readonly panels?: readonly PanelLike[];
}

/** Every panel of a dashboard, rows' nested panels included. */
export function dashboardPanels(
  dashboard: { readonly panels?: readonly PanelLike[] },
): PanelLike[] {
  const out: PanelLike[] = [];
  const visit = (panels: readonly PanelLike[]) => {
    for (const panel of panels) {
      out.push(panel);
      visit(panel.panels ?? []);
    }
  };
  visit(dashboard.panels ?? []);
  return out;
}

/**
 * Every PromQL query of a dashboard. A variable's `label_values(metric, label)` yields the
 * selector `metric` (the label it reads is Grafana's business, not PromQL).
 */
export function dashboardQueries(dashboard: {
  readonly panels?: readonly PanelLike[];
  readonly templating?: {
    readonly list?: readonly { readonly name?: string; readonly type?: string; query?: unknown }[];
  };
}): DashboardQuery[] {
  const out: DashboardQuery[] = [];
  for (const panel of dashboardPanels(dashboard)) {
    for (const target of panel.targets ?? []) {
      if (typeof target.expr !== "string") continue;
      out.push({
        where: `panel ${panel.id} "${panel.title}" target ${target.refId}`,
        expr: target.expr,
      });
    }
  }
  for (const variable of dashboard.templating?.list ?? []) {
    if (variable.type !== "query") continue;
    const query = typeof variable.query === "string"
      ? variable.query
      : (variable.query as { query?: unknown } | undefined)?.query;
    if (typeof query !== "string") continue;
    const labelValues = /^label_values\((.*),\s*[a-zA-Z_][a-zA-Z0-9_]*\s*\)$/.exec(query.trim());
    out.push({ where: `variable $${variable.name}`, expr: labelValues?.[1] ?? query });
  }
  return out;
}

/**
 * A rules file with one recording rule per expression, for `promtool check rules` to parse
 * expressions that are not alert rules (dashboard queries).
 */
export function recordingRulesFile(expressions: readonly string[]): string {
  const rules = expressions.map((expr, index) =>
    `      - record: dashboard:query_${index}\n        expr: ${JSON.stringify(expr)}\n`
  );
  return `groups:\n  - name: dashboard_queries\n    rules:\n${rules.join("")}`;
}
