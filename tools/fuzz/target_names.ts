/** Target names, without importing the targets (the CLI must not compile what it fuzzes). */
export const TARGET_NAMES: readonly string[] = [
  "stratum",
  "share",
  "template",
  "block-submit",
  "events",
  "config-json",
  "config-schema",
];
