/**
 * Summarises a V8 .cpuprofile (as written by `deno run --cpu-prof`) by self time per function,
 * which is what tells where a saturated pool spends its core.
 */

/** The parts of a V8 CPU profile this reads. */
export interface CpuProfile {
  readonly nodes: readonly {
    readonly id: number;
    readonly callFrame: {
      readonly functionName: string;
      readonly url: string;
      readonly lineNumber: number;
    };
  }[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

/** Self time of one function (all its nodes together). */
export interface SelfTimeRow {
  /**
   * `name (file)`; V8's own entries keep their names, e.g. `(garbage collector)`. No line: the
   * profile's positions are in Deno's transpiled JavaScript, not the TypeScript source.
   */
  readonly function: string;
  readonly selfMs: number;
  readonly percent: number;
}

function label(frame: CpuProfile["nodes"][number]["callFrame"]): string {
  const name = frame.functionName === "" ? "(anonymous)" : frame.functionName;
  if (frame.url === "") return name;
  const file = frame.url.replace(/^file:\/\/.*?\/(shared|stratum|collector|tests|tools)\//, "$1/")
    .replace(/^.*\/node_modules\/\.deno\//, "npm:")
    .replace(/^ext:/, "ext:");
  return `${name} (${file})`;
}

/** The `top` functions by self time; each sample is charged the time delta that follows it. */
export function selfTimeByFunction(profile: CpuProfile, top: number): SelfTimeRow[] {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<string, number>();
  let totalUs = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    const node = byId.get(profile.samples[i]!);
    if (node === undefined) continue;
    const dt = Math.max(0, profile.timeDeltas[i + 1] ?? 0);
    const key = label(node.callFrame);
    selfUs.set(key, (selfUs.get(key) ?? 0) + dt);
    totalUs += dt;
  }
  return [...selfUs]
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([fn, us]) => ({
      function: fn,
      selfMs: us / 1000,
      percent: totalUs > 0 ? (100 * us) / totalUs : 0,
    }));
}
