/**
 * The saved result of a load test (JSON), so the next run can compare with it: the new result
 * goes to the configured path and the one it replaces moves beside it as `previous.json`.
 */
import { dirname, join } from "node:path";
import type { JudgedRow } from "./expected_results.ts";
import type { LoadtestOptions } from "./loadtest_options.ts";

/** Format tag of the saved file; a file with another tag is not compared. */
export const RESULT_FORMAT = "tbg-loadtest/1";

/** CPU and memory of a process group over the hold. */
export interface GroupFigures {
  readonly processes: number;
  /** CPU over the hold, in cores (1.0 = one core busy); null when not measured (a process exited). */
  readonly cpuCores: number | null;
  /** Highest summed RSS and PSS seen during the hold. */
  readonly peakRssBytes: number;
  readonly peakPssBytes: number;
}

/** One run, as saved. */
export interface LoadtestResult {
  readonly format: typeof RESULT_FORMAT;
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly commit: string;
  /** True when SIGINT/SIGTERM or the time bound ended the run before the hold was complete. */
  readonly interrupted: boolean;
  readonly options: LoadtestOptions;
  readonly host: {
    readonly cores: number;
    readonly nofile: number;
    readonly loadAverage1mStart: number;
    readonly loadAverage1mEnd: number;
  };
  readonly rows: readonly JudgedRow[];
  readonly pools: GroupFigures & { readonly cpuSPer1kShares: number | null };
  readonly generator: GroupFigures;
  /** nats-server over the hold (its RSS and PSS at the hold's ends); absent in older files. */
  readonly natsServer?: GroupFigures;
  /** The pools' own count of the hold (metrics): shares answered, events published. */
  readonly poolWindow: {
    readonly seconds: number;
    readonly shares: number;
    readonly stale: number;
    readonly emissions: number;
    readonly submitP99Ms: number | null;
    readonly notifyP99Ms: number | null;
    readonly notifies: number;
    readonly eventsPublished: number;
    readonly eventsDropped: number;
  };
  /** The generator's merged summary, without its histogram. */
  readonly load: Readonly<Record<string, unknown>>;
}

/**
 * The saved result at `path`, or null when there is none. A file that is not a result of this
 * format is reported through `onUnreadable` and ignored (never compared).
 */
export async function readPreviousResult(
  path: string,
  onUnreadable: (reason: string) => void,
): Promise<LoadtestResult | null> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return null;
    onUnreadable(`cannot read ${path}: ${e instanceof Error ? e.message : String(e)}`);
    return null;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    onUnreadable(`${path} is not JSON`);
    return null;
  }
  if (
    typeof parsed !== "object" || parsed === null ||
    (parsed as { format?: unknown }).format !== RESULT_FORMAT ||
    !Array.isArray((parsed as { rows?: unknown }).rows)
  ) {
    onUnreadable(`${path} is not a ${RESULT_FORMAT} result`);
    return null;
  }
  return parsed as LoadtestResult;
}

/** Saves `result` at `path`, moving the file it replaces to `previous.json` beside it. */
export async function saveResult(path: string, result: LoadtestResult): Promise<void> {
  await Deno.mkdir(dirname(path), { recursive: true });
  try {
    await Deno.rename(path, join(dirname(path), "previous.json"));
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  await Deno.writeTextFile(path, JSON.stringify(result, null, 2) + "\n");
}
