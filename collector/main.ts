/**
 * Collector service entry: reads the config, checks permissions, starts the event pipeline
 * (JetStream → PostgreSQL + Redis), and drains on SIGTERM/SIGINT. No logic lives here.
 *
 *   deno task start:collector --config infra/config/collector.devnet.json
 */
import { shutdownLogging } from "@tbg/shared/log";
import { drainOnSignals, startService } from "@tbg/shared/service";
import type { Collector, MigrateFn } from "./collector.ts";

const { config, log } = await startService("collector", Deno.args);

let collector: Collector | undefined;
drainOnSignals({
  log,
  drain: async () => {
    await collector?.stop();
  },
});

let migrate: MigrateFn | undefined;
if (config.migrate_on_start) {
  const tool = await import("../tools/migrate.ts");
  migrate = (sql, migrationLog) => tool.migrate(sql, migrationLog);
}

// The npm clients (ioredis, postgres) read process.env while loading, so they are imported only
// after startService() (its bootstrap) has replaced it with the granted variables.
const { startCollector } = await import("./collector.ts");
try {
  collector = await startCollector({ config, log, ...(migrate ? { migrate } : {}) });
} catch (error: unknown) {
  log.fatal("cannot start collector", { error: String(error) });
  await shutdownLogging();
  Deno.exit(1);
}
