import type { z } from "zod";
import type { ConfigIssue } from "./config_error.ts";
import { objectSchemaAt } from "./_schema_walk.ts";
import { didYouMean } from "./_suggest.ts";

/** `rate_limits.max_shares_per_minute`, `btcd[0].url`; "" for the root. */
export function formatPath(path: readonly PropertyKey[]): string {
  let text = "";
  for (const segment of path) {
    if (typeof segment === "number") text += `[${segment}]`;
    else text += text === "" ? String(segment) : `.${String(segment)}`;
  }
  return text;
}

/**
 * Turns zod issues into config issues. Unknown keys become one issue each, with a suggestion
 * drawn from the keys the schema allows at that place that the file does not already use.
 */
export function toConfigIssues(
  root: z.ZodType,
  issues: readonly z.core.$ZodIssue[],
): ConfigIssue[] {
  const result: ConfigIssue[] = [];
  for (const issue of issues) {
    const path = formatPath(issue.path);
    if (issue.code !== "unrecognized_keys") {
      result.push({ path, message: issue.message });
      continue;
    }
    const allowed = Object.keys(objectSchemaAt(root, issue.path)?.shape ?? {});
    const present = new Set(Object.keys(issue.input ?? {}));
    const candidates = allowed.filter((key) => !present.has(key));
    const where = path === "" ? " at top level" : "";
    for (const key of issue.keys) {
      result.push({
        path,
        message: `unknown key ${JSON.stringify(key)}${where}${didYouMean(key, candidates)}`,
      });
    }
  }
  return result;
}
