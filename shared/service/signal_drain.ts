import { shutdownLogging, type StructuredLogger } from "../log/mod.ts";

/** How long a stratum or relay drain waits for miners to leave before closing the rest. */
export const MINER_DRAIN_TIMEOUT_MS = 10_000;

/** What {@link drainOnSignals} needs. */
export interface DrainOnSignalsOptions {
  /** Where "signal received, draining" is logged. */
  readonly log: StructuredLogger;
  /** Stops the service's work; runs once, whichever signal comes first. */
  readonly drain: () => Promise<void>;
  /** Ends the process; tests pass one that throws. Default `Deno.exit`. */
  readonly exit?: (code: number) => never;
  /** Flushes and closes logging after the drain. Default `shutdownLogging`. */
  readonly shutdown?: () => Promise<void>;
  /** Installs a signal handler. Default `Deno.addSignalListener`. */
  readonly listen?: (signal: Deno.Signal, handler: () => void) => void;
}

/**
 * Installs the SIGTERM and SIGINT handlers of a service: the first signal logs
 * "signal received, draining", runs `drain`, shuts logging down and exits 0; later signals do
 * nothing, so a second Ctrl-C cannot cut a drain short.
 *
 * @param opts logger, drain, and injectable exit, logging shutdown and signal registration
 * @returns the handler, called with the signal's name
 */
export function drainOnSignals(
  opts: DrainOnSignalsOptions,
): (signal: Deno.Signal) => Promise<void> {
  const exit = opts.exit ?? ((code: number): never => Deno.exit(code));
  const listen = opts.listen ??
    ((signal: Deno.Signal, handler: () => void) => Deno.addSignalListener(signal, handler));
  let stopping = false;
  const stop = async (signal: Deno.Signal): Promise<void> => {
    if (stopping) return;
    stopping = true;
    opts.log.info("signal received, draining", { signal });
    await opts.drain();
    await (opts.shutdown ?? shutdownLogging)();
    exit(0);
  };
  listen("SIGTERM", () => void stop("SIGTERM"));
  listen("SIGINT", () => void stop("SIGINT"));
  return stop;
}
