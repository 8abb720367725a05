import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import fc from "fast-check";
import { bytesToHex } from "../bitcoin/hex.ts";
import { type BlockTemplate, templateFromGbt } from "../engine/template.ts";
import { testGbt } from "../engine/_test_template.ts";
import {
  blockTemplateFromMessage,
  decodeTemplateMessage,
  encodeTemplateMessage,
  merkleBranchLength,
  type TemplateMessage,
  type TemplateMessageMeta,
  templateMessageSize,
  templateToGbt,
} from "./template_codec.ts";

const META: TemplateMessageMeta = {
  epoch: 1_716_364_800_000,
  sequence: 7,
  sentAtMs: 1_716_364_812_345.678,
  templateAtMs: 1_716_364_812_340.5,
  reason: "new_block",
  source: "zmq",
  cleanJobs: true,
  originRegion: "eu",
  network: "regtest",
};

function template(txCount: number, extra: Record<string, unknown> = {}): BlockTemplate {
  return templateFromGbt({ ...testGbt({ txCount }), ...extra }, 1_000);
}

function message(t: BlockTemplate, meta: Partial<TemplateMessageMeta> = {}): TemplateMessage {
  return { ...META, ...meta, template: t };
}

/** The BlockTemplate fields that must survive the trip (receivedAtMs is the receiver's). */
function comparable(t: BlockTemplate): unknown {
  return { ...t, receivedAtMs: 0 };
}

Deno.test("decodeTemplateMessage() returns what encodeTemplateMessage() was given", () => {
  for (const txCount of [0, 1, 2, 3, 7, 64]) {
    const t = template(txCount, { longpollid: "abc123" });
    const bytes = encodeTemplateMessage(message(t));
    assert.equal(bytes.length, templateMessageSize(message(t)));
    const decoded = decodeTemplateMessage(bytes);
    const { template: content, sizeBytes, ...meta } = decoded;
    assert.deepEqual(meta, META);
    assert.equal(sizeBytes, bytes.length);
    assert.equal(content.transactions.length, txCount);
    assert.equal(content.merkleBranch.length, merkleBranchLength(txCount));
    assert.deepEqual(comparable(blockTemplateFromMessage(content, 0)), comparable(t));
  }
});

Deno.test("the relay's templateFromGbt(templateToGbt(decoded)) equals the primary's template", () => {
  for (const txCount of [0, 1, 5, 200]) {
    const primary = template(txCount);
    const decoded = decodeTemplateMessage(encodeTemplateMessage(message(primary)));
    const relay = templateFromGbt(templateToGbt(decoded.template), 0);
    // Merkle branch and witness commitment recomputed by the relay match the primary's.
    assert.deepEqual(relay.merkleBranch, primary.merkleBranch);
    assert.deepEqual(relay.witnessCommitment, primary.witnessCommitment);
    assert.deepEqual(comparable(relay), comparable(primary));
  }
});

Deno.test("templateToGbt() gives Core's field shapes (display hex, bits, target)", () => {
  const gbt = testGbt({ txCount: 3 }) as Record<string, unknown> & {
    transactions: { data: string; txid: string; hash: string; fee: number; weight: number }[];
  };
  const view = templateToGbt(templateFromGbt(gbt, 0));
  assert.equal(view.previousblockhash, gbt.previousblockhash);
  assert.equal(view.bits, gbt.bits);
  assert.equal(view.target, gbt.target);
  assert.equal(view.default_witness_commitment, gbt.default_witness_commitment);
  assert.deepEqual(
    view.transactions,
    gbt.transactions.map(({ data, txid, hash, fee, weight }) => ({
      data,
      txid,
      hash,
      fee,
      weight,
    })),
  );
});

Deno.test("a template without witness commitment or longpollid round-trips", () => {
  const gbt = testGbt({ txCount: 2 });
  delete gbt.default_witness_commitment;
  // Only the transaction without witness data: with one, templateFromGbt computes the commitment
  // the node left out (BIP141), and the template has one.
  gbt.transactions = (gbt.transactions as { txid: string; hash: string }[])
    .filter((tx) => tx.txid === tx.hash);
  assert.equal((gbt.transactions as unknown[]).length, 1);
  const t = templateFromGbt(gbt, 0);
  assert.equal(t.witnessCommitment, null);
  assert.equal(t.longPollId, null);
  const decoded = decodeTemplateMessage(encodeTemplateMessage(message(t)));
  assert.equal(decoded.template.witnessCommitment, null);
  assert.equal(decoded.template.longPollId, null);
  assert.equal("default_witness_commitment" in templateToGbt(decoded.template), false);
});

Deno.test("transactions without witness carry one hash, with witness two", () => {
  const t = template(4);
  const legacy = t.transactions.filter((tx) => bytesToHex(tx.txid) === bytesToHex(tx.wtxid));
  assert.ok(legacy.length > 0 && legacy.length < 4, "the fixture mixes both kinds");
  const size = encodeTemplateMessage(message(t)).length;
  const allDistinct = {
    ...t,
    transactions: t.transactions.map((tx) => ({ ...tx, wtxid: tx.wtxid.slice().reverse() })),
  };
  assert.equal(encodeTemplateMessage(message(allDistinct)).length, size + 32 * legacy.length);
});

Deno.test("decodeTemplateMessage() refuses every truncation with a SyntaxError", () => {
  const bytes = encodeTemplateMessage(message(template(3, { longpollid: "lp" })));
  for (let length = 0; length < bytes.length; length++) {
    assert.throws(
      () => decodeTemplateMessage(bytes.subarray(0, length)),
      (error: unknown) =>
        error instanceof SyntaxError && error.message.startsWith("Cannot decode template message"),
      `length ${length}`,
    );
  }
});

Deno.test("decodeTemplateMessage() refuses trailing bytes", () => {
  const bytes = encodeTemplateMessage(message(template(1)));
  const longer = new Uint8Array(bytes.length + 1);
  longer.set(bytes);
  assert.throws(() => decodeTemplateMessage(longer), /1 unexpected bytes after the end/);
});

Deno.test("decodeTemplateMessage() names the field that is wrong", () => {
  const good = encodeTemplateMessage(message(template(2)));
  const patched = (offset: number, value: number) => {
    const copy = good.slice();
    copy[offset] = value;
    return copy;
  };
  assert.throws(() => decodeTemplateMessage(patched(0, 0x58)), /magic is not "TBGT"/);
  assert.throws(() => decodeTemplateMessage(patched(4, 2)), /format 2 is not supported/);
  assert.throws(() => decodeTemplateMessage(patched(5, 1)), /flags 0x1 has unknown bits/);
  // reason, source and cleanJobs follow magic, format, flags, epoch, sequence and two stamps.
  const reasonAt = 4 + 1 + 1 + 8 + 4 + 8 + 8;
  assert.throws(() => decodeTemplateMessage(patched(reasonAt, 9)), /reason code 9 is unknown/);
  assert.throws(() => decodeTemplateMessage(patched(reasonAt + 1, 0)), /source code 0 is unknown/);
  assert.throws(() => decodeTemplateMessage(patched(reasonAt + 2, 2)), /cleanJobs is 2/);
  // originRegion "eu": length byte then text.
  assert.throws(
    () => decodeTemplateMessage(patched(reasonAt + 4, 0x2e)),
    /originRegion "\.u" is not a subject token/,
  );
  const sequenceAt = 4 + 1 + 1 + 8;
  const zeroSequence = good.slice();
  new DataView(zeroSequence.buffer).setUint32(sequenceAt, 0, true);
  assert.throws(() => decodeTemplateMessage(zeroSequence), /sequence is 0/);
  const fractionalEpoch = good.slice();
  new DataView(fractionalEpoch.buffer).setFloat64(6, 1.5, true);
  assert.throws(() => decodeTemplateMessage(fractionalEpoch), /epoch is not an integer/);
  const nanStamp = good.slice();
  new DataView(nanStamp.buffer).setFloat64(sequenceAt + 4, NaN, true);
  assert.throws(() => decodeTemplateMessage(nanStamp), /sentAtMs is not a finite number/);
});

Deno.test("decodeTemplateMessage() enforces the size cap before reading", () => {
  const bytes = encodeTemplateMessage(message(template(5)));
  assert.throws(
    () => decodeTemplateMessage(bytes, { maxBytes: bytes.length - 1 }),
    (error: unknown) => error instanceof RangeError && /above the \d+-byte cap/.test(error.message),
  );
  assert.equal(decodeTemplateMessage(bytes, { maxBytes: bytes.length }).sizeBytes, bytes.length);
});

Deno.test("decodeTemplateMessage() refuses a merkle branch that does not fit the transactions", () => {
  const t = template(2);
  const bytes = encodeTemplateMessage(message(t));
  const first = t.merkleBranch[0]!;
  let at = -1;
  for (let i = 0; i + 32 <= bytes.length && at < 0; i++) {
    if (first.every((b, j) => bytes[i + j] === b)) at = i;
  }
  assert.equal(bytes[at - 1], 2, "the branch count precedes the first branch hash");
  // Declare one hash and drop the second: the rest still parses, the count does not fit.
  const oneHash = new Uint8Array(bytes.length - 32);
  oneHash.set(bytes.subarray(0, at + 32));
  oneHash.set(bytes.subarray(at + 64), at + 32);
  oneHash[at - 1] = 1;
  assert.throws(
    () => decodeTemplateMessage(oneHash),
    /merkle branch length 1 does not fit 2 transactions \(expected 2\)/,
  );
  const wrongFirst = { ...t, merkleBranch: [t.merkleBranch[1]!, ...t.merkleBranch.slice(1)] };
  assert.throws(
    () => decodeTemplateMessage(encodeTemplateMessage(message(wrongFirst))),
    /merkleBranch\[0\] is not the first transaction's txid/,
  );
  assert.throws(
    () => encodeTemplateMessage(message({ ...t, merkleBranch: t.merkleBranch.slice(1) })),
    /merkle branch must be 2 hashes/,
  );
});

Deno.test("decodeTemplateMessage() refuses a transaction count the bytes cannot hold", () => {
  const bytes = encodeTemplateMessage(message(template(0)));
  // The count is the last field of a template without transactions.
  const copy = bytes.slice();
  new DataView(copy.buffer).setUint32(copy.length - 4, 19_999, true);
  assert.throws(() => decodeTemplateMessage(copy), /19999 cannot fit in the 0 bytes left/);
  new DataView(copy.buffer).setUint32(copy.length - 4, 20_001, true);
  assert.throws(() => decodeTemplateMessage(copy), /20001 is above 20000/);
});

Deno.test("encodeTemplateMessage() refuses values it cannot represent", () => {
  const t = template(1);
  assert.throws(() => encodeTemplateMessage(message(t, { originRegion: "eu.x" })), RangeError);
  assert.throws(() => encodeTemplateMessage(message(t, { sequence: 0 })), /sequence/);
  assert.throws(() => encodeTemplateMessage(message(t, { sentAtMs: NaN })), /sentAtMs/);
  assert.throws(
    () => encodeTemplateMessage(message({ ...t, witnessCommitment: new Uint8Array(38) })),
    /witness commitment is not 6a24aa21a9ed/,
  );
  assert.throws(
    () => encodeTemplateMessage(message({ ...t, longPollId: "é" })),
    /longpollid must be printable ASCII/,
  );
});

Deno.test("decodeTemplateMessage() never fails with anything but SyntaxError or RangeError", () => {
  const base = encodeTemplateMessage(message(template(3, { longpollid: "lp" })));
  fc.assert(
    fc.property(
      fc.array(fc.tuple(fc.nat(base.length - 1), fc.integer({ min: 0, max: 255 })), {
        minLength: 1,
        maxLength: 8,
      }),
      (edits) => {
        const copy = base.slice();
        for (const [at, value] of edits) copy[at] = value;
        try {
          const decoded = decodeTemplateMessage(copy);
          // Whatever decodes is well formed enough to build a template from.
          blockTemplateFromMessage(decoded.template, 0);
        } catch (error) {
          assert.ok(
            error instanceof SyntaxError || error instanceof RangeError,
            `unexpected ${String(error)}`,
          );
        }
      },
    ),
    { numRuns: 2_000 },
  );
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 512 }), (bytes) => {
      assert.throws(() => decodeTemplateMessage(bytes), SyntaxError);
    }),
    { numRuns: 500 },
  );
});

Deno.test("merkleBranchLength() matches the branch templateFromGbt computes", () => {
  for (const txCount of [0, 1, 2, 3, 4, 5, 8, 9, 100]) {
    assert.equal(merkleBranchLength(txCount), template(txCount).merkleBranch.length, `${txCount}`);
  }
});

Deno.test("a message in a Node Buffer (as the NATS client hands it) decodes without aliasing", () => {
  const t = template(3);
  const bytes = Buffer.from(encodeTemplateMessage(message(t)));
  const decoded = decodeTemplateMessage(bytes);
  // Buffer.prototype.slice() is a view: reversing a "copy" of prevHash must not touch the message.
  const first = templateToGbt(decoded.template);
  const second = templateToGbt(decoded.template);
  assert.deepEqual(second, first);
  assert.equal(first.previousblockhash, t.prevHashHex);
  assert.equal(blockTemplateFromMessage(decoded.template, 0).prevHashHex, t.prevHashHex);
});
