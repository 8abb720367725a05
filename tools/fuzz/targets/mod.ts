/** The fuzz targets by name. Imported by the engine after coverage counting has started. */
import type { FuzzTarget } from "../target.ts";
import { blockSubmitTarget } from "./block_submit.ts";
import { configTarget } from "./config.ts";
import { eventsTarget } from "./events.ts";
import { shareTarget } from "./share.ts";
import { stratumTarget } from "./stratum.ts";
import { templateTarget } from "./template.ts";

/** Every target, in the order the campaign runs them. */
export const TARGETS: Readonly<Record<string, () => FuzzTarget>> = {
  stratum: () => stratumTarget(),
  share: () => shareTarget(),
  template: () => templateTarget(),
  "block-submit": () => blockSubmitTarget(),
  events: () => eventsTarget(),
  config: () => configTarget(),
};
