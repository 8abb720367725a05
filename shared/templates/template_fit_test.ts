import assert from "node:assert/strict";
import { templateFromGbt } from "../engine/template.ts";
import { testGbt } from "../engine/_test_template.ts";
import {
  blockTemplateFromMessage,
  decodeTemplateMessage,
  encodeTemplateMessage,
  type TemplateMessage,
  templateToGbt,
} from "./template_codec.ts";
import { fitTemplateMessage, truncateTemplate } from "./template_fit.ts";

function message(txCount: number): TemplateMessage {
  return {
    epoch: 1,
    sequence: 1,
    sentAtMs: 2,
    templateAtMs: 1,
    reason: "refresh",
    source: "timer",
    cleanJobs: false,
    originRegion: "eu",
    network: "regtest",
    template: templateFromGbt(testGbt({ txCount }), 0),
  };
}

Deno.test("fitTemplateMessage() leaves a message that fits alone", () => {
  const input = message(10);
  const size = encodeTemplateMessage(input).length;
  const fitted = fitTemplateMessage(input, size);
  assert.equal(fitted.message, input);
  assert.equal(fitted.sizeBytes, size);
  assert.equal(fitted.droppedTransactions, 0);
});

Deno.test("fitTemplateMessage() keeps the longest transaction prefix that fits", () => {
  const input = message(40);
  const full = encodeTemplateMessage(input).length;
  for (const maxBytes of [full - 1, Math.floor(full / 2), Math.floor(full / 5)]) {
    const fitted = fitTemplateMessage(input, maxBytes);
    const bytes = encodeTemplateMessage(fitted.message);
    assert.ok(bytes.length <= maxBytes, `${bytes.length} > ${maxBytes}`);
    assert.equal(bytes.length, fitted.sizeBytes);
    const kept = 40 - fitted.droppedTransactions;
    assert.ok(fitted.droppedTransactions > 0 && kept > 0);
    // One more transaction would not have fitted.
    const oneMore = { ...input, template: truncateTemplate(input.template, kept + 1) };
    assert.ok(encodeTemplateMessage(oneMore).length > maxBytes);
  }
});

Deno.test("truncateTemplate() gives the template a node would build from the kept transactions", () => {
  const input = message(9);
  const gbt = testGbt({ txCount: 9 }) as Record<string, unknown> & {
    transactions: { fee: number }[];
    coinbasevalue: number;
  };
  for (const keep of [0, 1, 4, 8]) {
    const cut = truncateTemplate(input.template, keep);
    const dropped = gbt.transactions.slice(keep).reduce((sum, tx) => sum + tx.fee, 0);
    assert.equal(cut.coinbaseValueSats, BigInt(gbt.coinbasevalue - dropped));
    // The relay recomputes branch and commitment from what it got: they must agree.
    const relay = templateFromGbt(templateToGbt(cut), 0);
    assert.deepEqual(relay.merkleBranch, cut.merkleBranch);
    assert.deepEqual(relay.witnessCommitment, cut.witnessCommitment);
    const decoded = decodeTemplateMessage(encodeTemplateMessage({ ...input, template: cut }));
    assert.equal(blockTemplateFromMessage(decoded.template, 0).transactions.length, keep);
  }
  assert.throws(() => truncateTemplate(input.template, 10), RangeError);
  assert.throws(() => truncateTemplate(input.template, -1), RangeError);
});

Deno.test("fitTemplateMessage() refuses a limit below the template without transactions", () => {
  const empty = encodeTemplateMessage(message(0)).length;
  assert.throws(
    () => fitTemplateMessage(message(5), empty - 1),
    /bytes without transactions exceed/,
  );
});
