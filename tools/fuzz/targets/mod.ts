/**
 * The fuzz targets by name. Imported by the engine after coverage counting has started; each
 * target's modules are imported only when it is made, so a run compiles (and every coverage read
 * walks) the modules of one target, not of all of them.
 */
import type { FuzzTarget } from "../target.ts";

/** Every target, in the order the campaign runs them. */
export const TARGETS: Readonly<Record<string, () => Promise<FuzzTarget>>> = {
  stratum: async () => (await import("./stratum.ts")).stratumTarget(),
  share: async () => (await import("./share.ts")).shareTarget(),
  template: async () => (await import("./template.ts")).templateTarget(),
  "block-submit": async () => (await import("./block_submit.ts")).blockSubmitTarget(),
  events: async () => (await import("./events.ts")).eventsTarget(),
  "config-json": async () => (await import("./config_json.ts")).configJsonTarget(),
  "config-schema": async () => (await import("./config_schema.ts")).configSchemaTarget(),
};
