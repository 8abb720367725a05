/**
 * Profiles a service's CPU (the pool, or a collector) over one benchmark window when the bench
 * runs with --profile: the profile is written to the bench's temp directory (never the
 * repository) and summarised by self time for the report.
 */
import { selfTimeByFunction } from "./cpu_profile.ts";
import type { InspectorSession } from "./inspector_session.ts";
import type { BenchContext } from "./scenario.ts";

/** Rows of the self-time summary. */
const TOP_FUNCTIONS = 30;

let sequence = 0;

/** Runs `fn`; when the service has an inspector, samples the CPU meanwhile and summarises it. */
export async function profileWindow<T>(
  context: BenchContext,
  pool: { readonly inspector: InspectorSession | null },
  label: string,
  fn: () => Promise<T>,
): Promise<{ value: T; notes: string[] }> {
  const inspector = pool.inspector;
  if (inspector === null || context.profileDir === null) return { value: await fn(), notes: [] };
  await inspector.startProfiling();
  let value: T;
  try {
    value = await fn();
  } catch (e) {
    // Leave the session clean; the partial profile is of no use.
    await inspector.stopProfiling().catch(() => {});
    throw e;
  }
  const profile = await inspector.stopProfiling();
  const path = `${context.profileDir}/${label}-${++sequence}.cpuprofile`;
  await Deno.writeTextFile(path, JSON.stringify(profile));
  return {
    value,
    notes: [
      `CPU profile of the window: ${path}; top self time:`,
      ...selfTimeByFunction(profile, TOP_FUNCTIONS).map((r) =>
        `  ${r.percent.toFixed(1).padStart(5)}%  ${
          r.selfMs.toFixed(0).padStart(7)
        } ms  ${r.function}`
      ),
    ],
  };
}
