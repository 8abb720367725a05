/**
 * Coverage feedback from V8's own block counters (the inspector's precise coverage, the data
 * behind `deno coverage`): every basic block of the modules under test is a feature, and an
 * input that executes a block no earlier input did joins the corpus. This is the signal
 * libFuzzer gets from SanitizerCoverage's edge counters, at block granularity.
 */
import { Session } from "node:inspector";

interface CoverageRange {
  readonly startOffset: number;
  readonly endOffset: number;
  readonly count: number;
}

interface ScriptCoverage {
  readonly url: string;
  readonly functions: ReadonlyArray<{ readonly ranges: readonly CoverageRange[] }>;
}

/** Block coverage of the modules whose URL contains one of the given fragments. */
export class BlockCoverage {
  readonly #session = new Session();
  /** Path fragments of the modules under test; set once the target is known. */
  fragments: readonly string[] = [];
  /** Block keys seen in compiled functions of the modules under test (covered or not). */
  readonly known = new Set<string>();
  /** Block keys executed by at least one input so far. */
  readonly covered = new Set<string>();

  constructor() {
    this.#session.connect();
  }

  /** Starts counting; call before the modules under test are imported so they get counters. */
  async start(): Promise<void> {
    await this.#post("Profiler.enable", {});
    await this.#post("Profiler.startPreciseCoverage", { callCount: true, detailed: true });
  }

  /**
   * Reads and resets the counters: the blocks executed since the last call that no input had
   * executed before (not yet added to {@link covered}).
   */
  async take(): Promise<string[]> {
    const { result } = await this.#post("Profiler.takePreciseCoverage", {}) as {
      result: ScriptCoverage[];
    };
    const fresh: string[] = [];
    for (const script of result) {
      if (!this.fragments.some((f) => script.url.includes(f))) continue;
      for (const fn of script.functions) {
        for (const range of fn.ranges) {
          const key = `${script.url}#${range.startOffset}-${range.endOffset}`;
          this.known.add(key);
          if (range.count > 0 && !this.covered.has(key)) fresh.push(key);
        }
      }
    }
    return fresh;
  }

  /** Covered blocks per module file (the part of the URL after the last "/shared/"). */
  perModule(): Record<string, { covered: number; known: number }> {
    const out: Record<string, { covered: number; known: number }> = {};
    for (const key of this.known) {
      const url = key.slice(0, key.lastIndexOf("#"));
      const name = url.includes("/shared/") ? url.slice(url.lastIndexOf("/shared/") + 1) : url;
      const entry = out[name] ??= { covered: 0, known: 0 };
      entry.known++;
      if (this.covered.has(key)) entry.covered++;
    }
    return out;
  }

  #post(method: string, params: Record<string, unknown>): Promise<unknown> {
    return new Promise((resolve, reject) => {
      this.#session.post(method, params, (error: Error | null, result: unknown) => {
        if (error) reject(error);
        else resolve(result);
      });
    });
  }
}
