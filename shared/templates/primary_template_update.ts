/**
 * What marks a template update as the primary's (over NATS), and the engine template of any
 * update; apart from the NATS template source so a primary pool, which never subscribes to
 * templates, does not load the NATS client to install its own.
 *
 * @module
 */
import type { TemplateUpdate } from "../bitcoind/template_source.ts";
import { type BlockTemplate, templateFromGbt } from "../engine/template.ts";
import type { TemplateGbt, TemplateMessageMeta } from "./template_codec.ts";
import type { TemplateWireKind } from "./template_delta.ts";

/** Marks updates the NATS template source made; a symbol key survives `{ ...update, reason }` copies. */
export const PRIMARY_TEMPLATE = Symbol("tbg.primaryTemplateUpdate");

/**
 * A template from the primary, as {@link NatsTemplateSource} hands it on. A plain object (every
 * field its own), so a copy such as `{ ...update, reason: "failover" }` keeps all of it.
 */
export interface PrimaryTemplateUpdate extends TemplateUpdate {
  /**
   * The getblocktemplate view. Its `transactions` are hex-encoded on first access (about 10 ms
   * for 2,000 transactions); the other fields are ready.
   */
  readonly gbt: TemplateGbt;
  /** The engine's template, built from the message (see {@link blockTemplateOf}). */
  readonly template: BlockTemplate;
  /** Sequence, epoch, clean_jobs decision, origin region, the primary's stamps. */
  readonly message: TemplateMessageMeta;
  /** The primary's clean_jobs decision. */
  readonly cleanJobs: boolean;
  /** The primary's clock when it sent the template, ms since the epoch. */
  readonly sentAtMs: number;
  /**
   * receivedAtMs − sentAtMs, ms: encode, NATS, decode. Clock skew between the regions adds to it
   * (and can make it negative).
   */
  readonly latencyMs: number;
  /**
   * The message was stored before this consumer (re)started: the current template handed over
   * on connect, not a live one. Its latency says how old it is, not how fast templates travel.
   */
  readonly replayed: boolean;
  /** Encoded size, bytes (of the delta when it came as one). */
  readonly sizeBytes: number;
  /** How it came: a full template (live or fetched) or a delta applied to the one held. */
  readonly kind: TemplateWireKind;
  readonly [PRIMARY_TEMPLATE]: true;
}

/**
 * Whether an update came from the primary over NATS (also after being copied with a spread).
 *
 * @param update any template update
 * @returns true for a {@link PrimaryTemplateUpdate}
 */
export function isPrimaryTemplateUpdate(update: TemplateUpdate): update is PrimaryTemplateUpdate {
  return (update as Partial<PrimaryTemplateUpdate>)[PRIMARY_TEMPLATE] === true;
}

/**
 * The engine's BlockTemplate for any update: the one a {@link PrimaryTemplateUpdate} carries
 * (no hex, no hashing), else `templateFromGbt` of the raw result (a bitcoind source).
 *
 * @param update a template update from any source
 * @returns the template
 * @throws {TypeError} from `templateFromGbt` when a raw result is malformed
 */
export function blockTemplateOf(update: TemplateUpdate): BlockTemplate {
  return isPrimaryTemplateUpdate(update)
    ? update.template
    : templateFromGbt(update.gbt, update.receivedAtMs);
}
