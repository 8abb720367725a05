/**
 * The restart policy of a systemd service unit, read from the unit file itself, so a test that
 * supervises a process the way systemd would follows the units in `infra/systemd/` as they are.
 *
 * Only what decides a restart after the main process exits is modelled: `Restart=` (`no`,
 * `always`, `on-failure`), `RestartSec=` (seconds, or with an `ms`/`s` suffix),
 * `RestartPreventExitStatus=` and `SuccessExitStatus=` (exit codes). `on-failure` restarts after
 * an exit code that is not clean (0 or a `SuccessExitStatus=` code); a process killed by a
 * signal is seen here through the launcher, which exits with 128 + the signal number.
 *
 * @module
 */

/** Values of `Restart=` modelled here. */
export const RestartMode = { No: "no", Always: "always", OnFailure: "on-failure" } as const;
/** Values of `Restart=` modelled here. */
export type RestartMode = typeof RestartMode[keyof typeof RestartMode];

/** What decides whether, and when, the unit's main process is started again. */
export interface RestartPolicy {
  readonly restart: RestartMode;
  /** `RestartSec=`, milliseconds. systemd's default is 100 ms. */
  readonly restartSecMs: number;
  /** Exit codes after which it is never restarted. */
  readonly preventExitStatus: readonly number[];
  /** Exit codes that count as clean besides 0. */
  readonly successExitStatus: readonly number[];
}

const DEFAULT_RESTART_SEC_MS = 100;

function directive(text: string, name: string): string | undefined {
  let value: string | undefined;
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line.startsWith(`${name}=`)) value = line.slice(name.length + 1).trim();
  }
  return value;
}

function exitCodes(value: string | undefined, name: string): number[] {
  if (value === undefined || value === "") return [];
  return value.split(/\s+/).map((word) => {
    const code = Number(word);
    if (!Number.isInteger(code) || code < 0 || code > 255) {
      throw new SyntaxError(`Cannot read ${name}=${value}: ${word} is not an exit code`);
    }
    return code;
  });
}

/**
 * Parses the restart directives of a unit file's text (the last of each wins, as in systemd).
 *
 * @throws {SyntaxError} For a `Restart=` mode not modelled here or an unreadable value.
 */
export function parseRestartPolicy(unitText: string): RestartPolicy {
  const restart = directive(unitText, "Restart") ?? RestartMode.No;
  if (restart !== "no" && restart !== "always" && restart !== "on-failure") {
    throw new SyntaxError(`Cannot model Restart=${restart}: only no, always and on-failure`);
  }
  const sec = directive(unitText, "RestartSec");
  let restartSecMs = DEFAULT_RESTART_SEC_MS;
  if (sec !== undefined) {
    const match = /^(\d+(?:\.\d+)?)\s*(ms|s)?$/.exec(sec);
    if (match === null) throw new SyntaxError(`Cannot read RestartSec=${sec}`);
    restartSecMs = Number(match[1]) * (match[2] === "ms" ? 1 : 1000);
  }
  return {
    restart,
    restartSecMs,
    preventExitStatus: exitCodes(
      directive(unitText, "RestartPreventExitStatus"),
      "RestartPreventExitStatus",
    ),
    successExitStatus: exitCodes(directive(unitText, "SuccessExitStatus"), "SuccessExitStatus"),
  };
}

/** Whether systemd would start the main process again after it exited with `code`. */
export function shouldRestart(policy: RestartPolicy, code: number): boolean {
  if (policy.preventExitStatus.includes(code)) return false;
  if (policy.restart === RestartMode.Always) return true;
  if (policy.restart === RestartMode.No) return false;
  return code !== 0 && !policy.successExitStatus.includes(code);
}
