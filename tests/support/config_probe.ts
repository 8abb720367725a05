/**
 * A stand-in service entry point for process-level tests of start-up: calls `bootstrap()`
 * exactly as each service's main.ts does, then prints the validated config as one JSON line
 * and exits 0. Any usage, config or permission error exits 2 with bootstrap's one-line message.
 *
 *   deno run --allow-read tests/support/config_probe.ts [stratum|relay|collector] --config <file>
 *
 * The service kind is the first argument naming one (anywhere, so the launcher's trailing
 * service arguments can carry it) and defaults to stratum. Other arguments reach bootstrap,
 * which ignores all but `--config`, as a service would.
 *
 * @module
 */
import { isServiceKind, type ServiceKind } from "@tbg/shared/config";
import { bootstrap, SERVICE_RUNTIME_NEEDS } from "@tbg/shared/service";

function kindFrom(args: readonly string[]): ServiceKind {
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] ?? "";
    if (arg === "--config") i++;
    else if (isServiceKind(arg)) return arg;
  }
  return "stratum";
}

if (import.meta.main) {
  const kind = kindFrom(Deno.args);
  const config = bootstrap(kind, Deno.args, SERVICE_RUNTIME_NEEDS[kind]);
  Deno.stdout.writeSync(new TextEncoder().encode(`${JSON.stringify(config)}\n`));
}
