/**
 * Target 3: a hostile message on the template subject, as a relay receives it: the wire kind,
 * the full-template decoder or the delta decoder plus applying the delta to the template the
 * relay holds, then what the relay does with an accepted template (the engine's BlockTemplate,
 * the getblocktemplate view). Documented rejections: RangeError/SyntaxError "Cannot decode
 * template …" and TemplateBaseMismatchError. Anything else thrown is a crash, and so is an
 * accepted template the relay then fails to use.
 */
import {
  merkleBranchForCoinbase,
  witnessCommitmentScript,
} from "../../../shared/bitcoin/merkle.ts";
import { templateFromGbt, type TemplateTransaction } from "../../../shared/engine/template.ts";
import { testGbt } from "../../../shared/engine/_test_template.ts";
import {
  blockTemplateFromMessage,
  type DecodedTemplateMessage,
  decodeTemplateMessage,
  encodeTemplateMessage,
  type TemplateContent,
  type TemplateMessage,
  type TemplateMessageMeta,
  templateToGbt,
} from "../../../shared/templates/template_codec.ts";
import {
  applyTemplateDelta,
  decodeTemplateDelta,
  encodeTemplateDelta,
  type TemplateBase,
  TemplateBaseMismatchError,
  templateWireKind,
} from "../../../shared/templates/template_delta.ts";
import type { Rng } from "../rng.ts";
import { check, type FuzzTarget, isRejection } from "../target.ts";
import { REFRESH_META } from "../../../shared/templates/_test_template_meta.ts";

const META: TemplateMessageMeta = REFRESH_META;

/** 80 real transactions (half with witness) to draw templates from. */
const POOL: readonly TemplateTransaction[] =
  templateFromGbt(testGbt({ txCount: 80 }), 0).transactions;

/** A template with these transactions, branch and commitment computed as the primary does. */
function withTransactions(
  txs: readonly TemplateTransaction[],
  curtime = 1_700_000_600,
): TemplateContent {
  const head = templateFromGbt({ ...testGbt({ txCount: 0, curtime }), longpollid: "lp-1" }, 0);
  return {
    ...head,
    transactions: txs,
    coinbaseValueSats: 5_000_000_000n + txs.reduce((sum, tx) => sum + tx.feeSats, 0n),
    merkleBranch: merkleBranchForCoinbase(txs.map((tx) => tx.txid)),
    witnessCommitment: witnessCommitmentScript(txs.map((tx) => tx.wtxid)),
  };
}

/** The template the relay holds: the base of every delta. */
const BASE: TemplateBase = {
  epoch: META.epoch,
  sequence: 7,
  template: withTransactions(POOL.slice(0, 40)),
};

function message(
  template: TemplateContent,
  meta: Partial<TemplateMessageMeta> = {},
): TemplateMessage {
  return { ...META, ...meta, template };
}

const FULL_PREFIX = "Cannot decode template message";
const DELTA_PREFIX = "Cannot decode template delta";

/** Decodes as the relay does; null for a documented rejection. */
function receive(input: Uint8Array): DecodedTemplateMessage | null {
  if (templateWireKind(input) === "delta") {
    let delta;
    try {
      delta = decodeTemplateDelta(input);
    } catch (error) {
      if (isRejection(error, [RangeError, SyntaxError], DELTA_PREFIX)) return null;
      throw error;
    }
    try {
      return applyTemplateDelta(delta, BASE);
    } catch (error) {
      if (error instanceof TemplateBaseMismatchError) return null;
      if (isRejection(error, [SyntaxError], DELTA_PREFIX)) return null;
      throw error;
    }
  }
  try {
    return decodeTemplateMessage(input);
  } catch (error) {
    if (isRejection(error, [RangeError, SyntaxError], FULL_PREFIX)) return null;
    throw error;
  }
}

/** The template codec and the delta decoder against the relay's held template. */
export function templateTarget(): FuzzTarget {
  return {
    name: "template",
    description:
      "template codec + delta decoder (shared/templates/template_codec.ts, template_delta.ts)",
    modules: ["/shared/templates/", "/shared/bitcoin/merkle.ts", "/shared/bitcoin/target.ts"],
    maxInputBytes: 64 * 1024,
    dictionary: [
      "TBGT",
      "TBGD",
      "\x01",
      "\x00\x00\x00\x00",
      "\xff\xff\xff\xff",
      "regtest",
      "eu",
      "us-east",
    ],
    seeds: templateSeeds,
    mutate: mutateTemplate,
    run(input: Uint8Array): void {
      const decoded = receive(input);
      if (decoded === null) return;
      // What the relay does with an accepted template; none of it may throw.
      const block = blockTemplateFromMessage(decoded.template, 0);
      check(
        block.transactions.length === decoded.template.transactions.length,
        "transactions lost",
      );
      const gbt = templateToGbt(decoded.template);
      check(Array.isArray(gbt.transactions), "getblocktemplate view without transactions");
    },
  };
}

/** Full messages of several sizes and deltas against the held template (a refresh, a new block). */
export function templateSeeds(): Uint8Array[] {
  const base = BASE.template.transactions;
  const refresh = [
    POOL[60]!,
    ...base.filter((_, i) => i !== 3 && i !== 17).slice(0, 20),
    POOL[61]!,
    ...base.slice(22),
    POOL[62]!,
  ];
  return [
    encodeTemplateMessage(message(withTransactions([]))),
    encodeTemplateMessage(
      message(withTransactions(POOL.slice(0, 1)), {
        reason: "new_block",
        source: "zmq",
        cleanJobs: true,
      }),
    ),
    encodeTemplateMessage(message(withTransactions(POOL.slice(0, 7)))),
    encodeTemplateMessage(message(BASE.template, { sequence: 7 })),
    encodeTemplateDelta(message(withTransactions(refresh, 1_700_000_630)), BASE),
    encodeTemplateDelta(
      message(withTransactions(base.slice(5), 1_700_000_660), { sequence: 9 }),
      BASE,
    ),
    encodeTemplateDelta(message(withTransactions(POOL.slice(40, 45))), BASE),
  ];
}

/**
 * Decodes a valid corpus entry, changes one field or the transaction list, and encodes it again
 * (deltas against the held template, so the digest check passes and the merkle and transaction
 * checks behind it are reached).
 */
function mutateTemplate(input: Uint8Array, rng: Rng): Uint8Array | null {
  const decoded = receive(input);
  if (decoded === null) return null;
  const { template: t, sizeBytes: _size, ...meta } = decoded;
  let template: TemplateContent = t;
  const txs = [...t.transactions];
  let m: TemplateMessageMeta = meta;
  switch (rng.below(9)) {
    case 0:
      txs.splice(rng.below(txs.length + 1), rng.below(3));
      template = rng.chance(0.5) ? { ...t, transactions: txs } : withTransactions(txs, t.curtime);
      break;
    case 1:
      txs.splice(rng.below(txs.length + 1), 0, rng.pick(POOL));
      template = rng.chance(0.5) ? { ...t, transactions: txs } : withTransactions(txs, t.curtime);
      break;
    case 2:
      template = {
        ...t,
        merkleBranch: rng.chance(0.5)
          ? t.merkleBranch.slice(1)
          : [...t.merkleBranch, rng.pick(POOL).txid],
      };
      break;
    case 3:
      template = { ...t, height: rng.pick([0, 1, 16, 17, 0x7fffffff, 0xffffffff, 2 ** 32, -1]) };
      break;
    case 4:
      template = {
        ...t,
        bits: rng.pick([0, 0x1d00ffff, 0x207fffff, 0x04800000, 0x23000001, 0xffffffff, 0x01003456]),
      };
      break;
    case 5:
      template = {
        ...t,
        witnessCommitment: null,
        coinbaseValueSats: rng.pick([0n, 21_000_000n * 100_000_000n, 2n ** 63n, -1n]),
      };
      break;
    case 6:
      template = {
        ...t,
        curtime: rng.pick([0, 0xffffffff, t.mintime - 1]),
        mintime: rng.pick([0, 0xffffffff, t.curtime + 1]),
      };
      break;
    case 7:
      m = {
        ...meta,
        sequence: rng.pick([1, 2, 7, 8, 0xffffffff]),
        epoch: rng.pick([0, meta.epoch - 1, meta.epoch + 1, 2 ** 53 - 1]),
      };
      break;
    default:
      template = {
        ...t,
        rules: rng.chance(0.5) ? [] : [...t.rules, "x".repeat(rng.below(80))],
        longPollId: rng.chance(0.5) ? null : "y".repeat(rng.below(300)),
      };
  }
  try {
    const next = { ...m, template };
    return rng.chance(0.5) ? encodeTemplateDelta(next, BASE) : encodeTemplateMessage(next);
  } catch {
    // The encoder refuses what it would never send; the byte mutators cover the rest.
    return null;
  }
}
