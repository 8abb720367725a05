/** One problem found in a configuration file. */
export interface ConfigIssue {
  /** Key path such as `rate_limits.max_shares_per_minute` or `btcd[0].url`; "" for the whole file. */
  path: string;
  /** What is wrong, without the path, e.g. `expected a positive integer, got -5`. */
  message: string;
}

/** Renders one issue as it appears in a {@link ConfigError} message: `path: message`. */
export function formatConfigIssue(issue: ConfigIssue): string {
  return issue.path === "" ? issue.message : `${issue.path}: ${issue.message}`;
}

/**
 * A configuration file that cannot be used. Services print its message as one line and exit
 * with {@link ConfigError.exitCode} before opening any socket.
 */
export class ConfigError extends Error {
  /** Process exit code for configuration errors (usage errors use the same code). */
  readonly exitCode = 2;
  /** Every problem found, in file order where known. */
  readonly issues: ConfigIssue[];
  /** The file the configuration came from. */
  readonly configPath: string;

  /**
   * @param configPath the file the configuration came from
   * @param issues at least one problem
   * @param options standard error options (`cause`)
   */
  constructor(configPath: string, issues: ConfigIssue[], options?: ErrorOptions) {
    super(`Invalid config ${configPath}: ${issues.map(formatConfigIssue).join("; ")}`, options);
    this.name = "ConfigError";
    this.issues = issues;
    this.configPath = configPath;
  }
}
