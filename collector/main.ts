/**
 * Collector service entry: reads the config, checks permissions, starts the event pipeline
 * (JetStream → PostgreSQL + Redis), and drains on SIGTERM/SIGINT. No logic lives here.
 *
 *   deno task start:collector --config infra/config/collector.devnet.json
 */
import { configureLogging, getLogger, shutdownLogging } from "@tbg/shared/log";
import { bootstrap, SERVICE_RUNTIME_NEEDS } from "@tbg/shared/service";
import type { Collector, MigrateFn } from "./collector.ts";

const config = bootstrap("collector", Deno.args, SERVICE_RUNTIME_NEEDS.collector);
const logFile = config.logdir === undefined
  ? null
  : await Deno.open(`${config.logdir}/collector.log`, { create: true, append: true, write: true });
await configureLogging({
  service: "collector",
  level: "info",
  ...(logFile ? { sink: logFile.writable } : {}),
});
const log = getLogger(["collector"]);

let collector: Collector | undefined;
let stopping = false;
const stop = async (signal: string) => {
  if (stopping) return;
  stopping = true;
  log.info("signal received, draining", { signal });
  await collector?.stop();
  await shutdownLogging();
  Deno.exit(0);
};
Deno.addSignalListener("SIGTERM", () => void stop("SIGTERM"));
Deno.addSignalListener("SIGINT", () => void stop("SIGINT"));

let migrate: MigrateFn | undefined;
if (config.migrate_on_start) {
  const tool = await import("../tools/migrate.ts");
  migrate = (sql, migrationLog) => tool.migrate(sql, migrationLog);
}

// The npm clients (ioredis, postgres) read process.env while loading, so they are imported only
// after bootstrap() has replaced it with the granted variables.
const { startCollector } = await import("./collector.ts");
try {
  collector = await startCollector({ config, log, ...(migrate ? { migrate } : {}) });
} catch (error: unknown) {
  log.fatal("cannot start collector", { error: String(error) });
  await shutdownLogging();
  Deno.exit(1);
}
