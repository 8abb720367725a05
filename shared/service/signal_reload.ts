import type { StructuredLogger } from "../log/mod.ts";

/** What {@link reloadOnSighup} needs. */
export interface ReloadOnSighupOptions {
  /** Where the signal is logged. */
  readonly log: StructuredLogger;
  /**
   * Re-reads what can change without a restart (the TLS certificate and key): true when reloaded,
   * false when it failed (the reload logs why), null when there is nothing to reload.
   */
  readonly reload: () => Promise<boolean | null>;
  /** Installs a signal handler. Default `Deno.addSignalListener`. */
  readonly listen?: (signal: Deno.Signal, handler: () => void) => void;
}

/**
 * Installs the SIGHUP handler of a Stratum service: reload, never exit. Installed even without
 * TLS listeners, since SIGHUP's default action would end the process and drop every miner.
 *
 * @param opts logger, reload, injectable signal registration
 * @returns the handler, for tests
 */
export function reloadOnSighup(opts: ReloadOnSighupOptions): () => Promise<void> {
  const listen = opts.listen ??
    ((signal: Deno.Signal, handler: () => void) => Deno.addSignalListener(signal, handler));
  const handler = async (): Promise<void> => {
    opts.log.info("signal received, reloading", { signal: "SIGHUP" });
    const result = await opts.reload();
    if (result === null) opts.log.info("nothing to reload (no TLS listener)");
  };
  listen("SIGHUP", () => void handler());
  return handler;
}
