/**
 * Stopping a support child process the way the simulation does: SIGTERM so it can finish, SIGKILL
 * if it has not exited after a grace period.
 *
 * @module
 */

/** Sends `signal` unless the process has already exited. */
export function signalChild(child: Deno.ChildProcess, signal: Deno.Signal): void {
  try {
    child.kill(signal);
  } catch {
    // Already exited.
  }
}

/**
 * SIGTERM, then SIGKILL after `graceMs`; resolves once `exited` (the caller's view of the
 * child's end, e.g. `child.status` with its output drained) has settled.
 */
export async function stopChild(
  child: Deno.ChildProcess,
  exited: Promise<unknown>,
  graceMs: number,
): Promise<void> {
  signalChild(child, "SIGTERM");
  const timer = setTimeout(() => signalChild(child, "SIGKILL"), graceMs);
  try {
    await exited;
  } finally {
    clearTimeout(timer);
  }
}
