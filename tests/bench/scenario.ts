/**
 * What a benchmark scenario is: a name, the columns of its result table, and a run that starts
 * its own services (devnet and pool, or the event pipeline's servers and collectors), measures,
 * cleans up and returns one row of numbers.
 */

/** One column of a scenario's result table. */
export interface Column {
  readonly key: string;
  readonly label: string;
  /** Decimal places shown. */
  readonly digits: number;
}

/** The result of one run. */
export interface RunResult {
  readonly values: Readonly<Record<string, number>>;
  /** Exact commands of the processes the run started (load generator etc.). */
  readonly commands: readonly string[];
  /** Anything worth reading beside the numbers (failures, profile summary). */
  readonly notes: readonly string[];
}

/** Settings shared by all scenarios of one bench invocation. */
export interface BenchContext {
  /** When set (--profile), scenarios profile the pool over their window and write profiles here. */
  readonly profileDir: string | null;
  /** Progress output (stderr). */
  readonly progress: (line: string) => void;
  /** Idle miners of the idle_memory scenarios (`--idle-miners`); 10,000 when absent. */
  readonly idleMiners?: number;
  /**
   * Pool processes of the fan-out scenarios (`--processes`): `reuse_port` processes on one port,
   * one `--instance` each, spread over the CPUs; 1 (a single pinned pool) when absent.
   */
  readonly processes?: number;
}

/** A benchmark scenario. */
export interface Scenario {
  readonly name: string;
  /** One sentence: the workload. */
  readonly workload: string;
  readonly columns: readonly Column[];
  run(context: BenchContext): Promise<RunResult>;
}
