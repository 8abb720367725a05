/**
 * The metadata of a refresh template message, shared by the delta tests and the template fuzz
 * target so both build messages the same way.
 *
 * @module
 */
import type { TemplateMessageMeta } from "./_template_wire.ts";

/** A timer refresh on the EU primary (sequence 8, no clean_jobs). */
export const REFRESH_META: TemplateMessageMeta = Object.freeze({
  epoch: 1_716_364_800_000,
  sequence: 8,
  sentAtMs: 1_716_364_812_345.678,
  templateAtMs: 1_716_364_812_340.5,
  reason: "refresh",
  source: "timer",
  cleanJobs: false,
  originRegion: "eu",
  network: "regtest",
});
