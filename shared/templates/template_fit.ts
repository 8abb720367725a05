/**
 * Fitting a template message under the NATS payload limit.
 *
 * A NATS server refuses messages above its `max_payload` (1 MB unless configured), and a full
 * mainnet template is larger. Relays that got no template for a new block would keep their
 * miners on stale work, so a template that does not fit is cut to its longest prefix of
 * transactions that does: getblocktemplate lists parents before children, so a prefix never
 * drops a parent of a kept transaction. The coinbase value loses the dropped fees and the
 * merkle branch and witness commitment are recomputed, so the cut template is valid; it just
 * collects fewer fees. Hub and leaf servers should have `max_payload` of at least 8 MB
 * so this never happens; the publisher counts and logs it when it does.
 *
 * @module
 */
import { merkleBranchForCoinbase, witnessCommitmentScript } from "../bitcoin/merkle.ts";
import {
  merkleBranchLength,
  type TemplateContent,
  type TemplateMessage,
  templateMessageSize,
  transactionWireSize,
} from "./template_codec.ts";

/**
 * The template with only its first `count` transactions, fees, merkle branch and witness
 * commitment adjusted.
 *
 * @param template the full template
 * @param count transactions to keep, from the start
 * @returns a new template (the original is unchanged)
 * @throws {RangeError} when `count` is not an integer in [0, transactions.length]
 */
export function truncateTemplate(template: TemplateContent, count: number): TemplateContent {
  if (!Number.isInteger(count) || count < 0 || count > template.transactions.length) {
    throw new RangeError(
      `Cannot truncate template: ${count} is not in [0, ${template.transactions.length}]`,
    );
  }
  if (count === template.transactions.length) return template;
  const kept = template.transactions.slice(0, count);
  let droppedFees = 0n;
  for (let i = count; i < template.transactions.length; i++) {
    droppedFees += template.transactions[i]!.feeSats;
  }
  return {
    ...template,
    transactions: kept,
    coinbaseValueSats: template.coinbaseValueSats - droppedFees,
    merkleBranch: merkleBranchForCoinbase(kept.map((tx) => tx.txid)),
    witnessCommitment: template.witnessCommitment === null
      ? null
      : witnessCommitmentScript(kept.map((tx) => tx.wtxid)),
  };
}

/** The outcome of {@link fitTemplateMessage}. */
export interface FittedTemplateMessage {
  /** The message to send (the input itself when it fits). */
  readonly message: TemplateMessage;
  /** Its encoded size, bytes. */
  readonly sizeBytes: number;
  /** Transactions dropped from the end of the template; 0 when it fits. */
  readonly droppedTransactions: number;
}

/**
 * Cuts a message's template to the longest transaction prefix whose encoding fits `maxBytes`.
 *
 * @param message the message to send
 * @param maxBytes the largest payload the server takes (less headers)
 * @returns the message to send, its size and how many transactions were dropped
 * @throws {RangeError} when even the template without transactions does not fit, or from
 *   encoding checks (see `encodeTemplateMessage`)
 */
export function fitTemplateMessage(
  message: TemplateMessage,
  maxBytes: number,
): FittedTemplateMessage {
  const fullSize = templateMessageSize(message);
  if (fullSize <= maxBytes) return { message, sizeBytes: fullSize, droppedTransactions: 0 };
  const txs = message.template.transactions;
  const txSizes = txs.map(transactionWireSize);
  const overhead = fullSize - txSizes.reduce((a, b) => a + b, 0) -
    32 * merkleBranchLength(txs.length);
  let size = overhead;
  let count = 0;
  while (
    count < txs.length &&
    size + txSizes[count]! + 32 * merkleBranchLength(count + 1) <= maxBytes
  ) {
    size += txSizes[count]!;
    count++;
  }
  if (overhead + 32 * merkleBranchLength(count) > maxBytes) {
    throw new RangeError(
      `Cannot fit template message: ${overhead} bytes without transactions exceed ${maxBytes}`,
    );
  }
  const fitted = { ...message, template: truncateTemplate(message.template, count) };
  return {
    message: fitted,
    sizeBytes: templateMessageSize(fitted),
    droppedTransactions: txs.length - count,
  };
}
