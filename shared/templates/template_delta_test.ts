import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import fc from "fast-check";
import { merkleBranchForCoinbase, witnessCommitmentScript } from "../bitcoin/merkle.ts";
import { templateFromGbt, type TemplateTransaction } from "../engine/template.ts";
import { testGbt } from "../engine/_test_template.ts";
import {
  blockTemplateFromMessage,
  decodeTemplateMessage,
  encodeTemplateMessage,
  type TemplateContent,
  type TemplateMessageMeta,
} from "./template_codec.ts";
import {
  applyTemplateDelta,
  compareTemplateIds,
  decodeTemplateDelta,
  DeltaSegmentKind,
  encodeTemplateDelta,
  type TemplateBase,
  TemplateBaseMismatchError,
  templateDigest,
  templateWireKind,
} from "./template_delta.ts";
import { REFRESH_META } from "./_test_template_meta.ts";

const META: TemplateMessageMeta = REFRESH_META;

/** 400 distinct transactions (half with witness) to draw templates from. */
const POOL: readonly TemplateTransaction[] = templateFromGbt(testGbt({ txCount: 400 }), 0)
  .transactions;

/** A template with these transactions (branch and commitment computed, as the primary has). */
function withTransactions(txs: readonly TemplateTransaction[], curtime = 1_700_000_600) {
  const head = templateFromGbt({ ...testGbt({ txCount: 0, curtime }), longpollid: "lp-1" }, 0);
  return {
    ...head,
    transactions: txs,
    coinbaseValueSats: 5_000_000_000n + txs.reduce((sum, tx) => sum + tx.feeSats, 0n),
    merkleBranch: merkleBranchForCoinbase(txs.map((tx) => tx.txid)),
    witnessCommitment: witnessCommitmentScript(txs.map((tx) => tx.wtxid)),
  };
}

function base(txs: readonly TemplateTransaction[], sequence = META.sequence - 1): TemplateBase {
  return { epoch: META.epoch, sequence, template: withTransactions(txs) };
}

/** The base's transactions with a few dropped and a few new ones in between (a refresh). */
function refreshOf(txs: readonly TemplateTransaction[]): TemplateTransaction[] {
  const kept = txs.filter((_, i) => i !== 10 && i !== 150 && i !== 151);
  return [POOL[300]!, ...kept.slice(0, 50), POOL[301]!, ...kept.slice(50), POOL[302]!];
}

/** The fields a relay's engine reads (receivedAtMs is the receiver's). */
function comparable(template: TemplateContent): unknown {
  return { ...blockTemplateFromMessage(template, 0), receivedAtMs: 0 };
}

function roundTrip(txs: readonly TemplateTransaction[], from: TemplateBase) {
  const target = withTransactions(txs, 1_700_000_630);
  const bytes = encodeTemplateDelta({ ...META, template: target }, from);
  const decoded = decodeTemplateDelta(bytes);
  const applied = applyTemplateDelta(decoded, from);
  assert.deepEqual(comparable(applied.template), comparable(target));
  const { template: _t, sizeBytes, ...meta } = applied;
  assert.deepEqual(meta, META);
  assert.equal(sizeBytes, bytes.length);
  return { bytes, decoded, full: encodeTemplateMessage({ ...META, template: target }) };
}

Deno.test("applyTemplateDelta(decodeTemplateDelta()) rebuilds a refreshed template", () => {
  const from = base(POOL.slice(0, 300));
  const { bytes, decoded, full } = roundTrip(refreshOf(POOL.slice(0, 300)), from);
  assert.deepEqual(
    decoded.segments.map((s) => s.kind === DeltaSegmentKind.copy ? [s.start, s.count] : "new"),
    ["new", [0, 10], [11, 40], "new", [51, 99], [152, 148], "new"],
  );
  assert.equal(decoded.txCount, 300);
  // Three new transactions and six runs instead of 300 transactions.
  assert.ok(bytes.length * 20 < full.length, `delta ${bytes.length} B, full ${full.length} B`);
});

Deno.test("a delta rebuilds a template after a new block, and is larger than it when all is new", () => {
  // Part of the base was mined; the rest stays and new transactions follow.
  roundTrip([...POOL.slice(250, 300), ...POOL.slice(300, 380)], base(POOL.slice(0, 300)));
  const allNew = roundTrip(POOL.slice(300, 400), base(POOL.slice(0, 300)));
  // The publisher compares and sends the full template in this case.
  assert.ok(allNew.bytes.length > allNew.full.length);
});

Deno.test("deltas handle empty templates, empty bases, reordering and identical templates", () => {
  roundTrip([], base(POOL.slice(0, 5)));
  roundTrip(POOL.slice(0, 5), base([]));
  roundTrip([], base([]));
  roundTrip([...POOL.slice(0, 20)].reverse(), base(POOL.slice(0, 20)));
  const same = roundTrip(POOL.slice(0, 20), base(POOL.slice(0, 20)));
  assert.deepEqual(same.decoded.segments, [{ kind: DeltaSegmentKind.copy, start: 0, count: 20 }]);
});

Deno.test("a transaction whose fee or weight changed under the same wtxid travels in full", () => {
  const txs = POOL.slice(0, 4);
  const changed = txs.map((tx, i) => i === 2 ? { ...tx, feeSats: tx.feeSats + 1n } : tx);
  const { decoded } = roundTrip(changed, base(txs));
  assert.deepEqual(decoded.segments.map((s) => s.kind), ["copy", "new", "copy"]);
});

Deno.test("a transaction whose wtxid starts like a base transaction's is not taken for it", () => {
  const txs = POOL.slice(0, 4);
  // Same first bytes (the lookup key), another transaction.
  const wtxid = txs[2]!.wtxid.slice();
  wtxid[31]! ^= 1;
  const impostor = { ...POOL[9]!, wtxid };
  const { decoded } = roundTrip([txs[0]!, txs[1]!, impostor, txs[3]!], base(txs));
  assert.deepEqual(decoded.segments.map((s) => s.kind), ["copy", "new", "copy"]);
});

Deno.test("applyTemplateDelta() refuses any base but the delta's with TemplateBaseMismatchError", () => {
  const from = base(POOL.slice(0, 50));
  const delta = decodeTemplateDelta(
    encodeTemplateDelta(
      { ...META, template: withTransactions(refreshOf(POOL.slice(0, 50))) },
      from,
    ),
  );
  const refused = (offered: TemplateBase | null, pattern: RegExp) =>
    assert.throws(
      () => applyTemplateDelta(delta, offered),
      (error: unknown) =>
        error instanceof TemplateBaseMismatchError && error.name === "TemplateBaseMismatchError" &&
        compareTemplateIds(error.base, from) === 0 && error.base.txCount === 50 &&
        pattern.test(error.message),
    );
  refused(null, /needs template 1716364800000-7 \(50 transactions\) as base, no template is held/);
  refused({ ...from, sequence: 6 }, /the template held is 1716364800000-6/);
  refused({ ...from, epoch: from.epoch + 1 }, /the template held is 1716364800001-7/);
  refused(base(POOL.slice(0, 49)), /under that id has 49 transactions/);
  // Same id and count, other transactions: only the digest tells, and it does.
  refused(base(POOL.slice(1, 51)), /other transactions \(digest differs\)/);
  const swapped = [POOL[1]!, POOL[0]!, ...POOL.slice(2, 50)];
  refused(base(swapped), /digest differs/);
  assert.equal(applyTemplateDelta(delta, from).template.transactions.length, 52);
});

Deno.test("templateDigest() depends on the wtxids in order and is cached per list", () => {
  const txs = POOL.slice(0, 10);
  const digest = templateDigest({ transactions: txs });
  assert.equal(templateDigest({ transactions: txs }), digest, "the same list: the cached digest");
  assert.deepEqual(templateDigest({ transactions: [...txs] }), digest);
  assert.notDeepEqual(templateDigest({ transactions: [...txs].reverse() }), digest);
  assert.equal(templateDigest({ transactions: [] }).length, 32);
});

/** A delta that is base's transactions plus one new one at the end (a copy run, then a new run). */
function copyThenNew() {
  const from = base(POOL.slice(0, 3));
  const bytes = encodeTemplateDelta(
    { ...META, template: withTransactions([...POOL.slice(0, 3), POOL[3]!]) },
    from,
  );
  return { from, bytes, tx: POOL[3]! };
}

Deno.test("decodeTemplateDelta() refuses every truncation with a SyntaxError", () => {
  const { bytes } = copyThenNew();
  for (let length = 0; length < bytes.length; length++) {
    assert.throws(
      () => decodeTemplateDelta(bytes.subarray(0, length)),
      (error: unknown) =>
        error instanceof SyntaxError && error.message.startsWith("Cannot decode template delta"),
      `length ${length}`,
    );
  }
  const longer = new Uint8Array(bytes.length + 1);
  longer.set(bytes);
  assert.throws(() => decodeTemplateDelta(longer), /1 unexpected bytes after the end/);
});

Deno.test("a corrupted byte anywhere gives a typed error, never a template from the wrong base", () => {
  const { from, bytes } = copyThenNew();
  const expected = comparable(applyTemplateDelta(decodeTemplateDelta(bytes), from).template);
  // Base reference: epoch f64, sequence u32, transaction count u32, digest 32, after the
  // preamble (6) and the metadata (8 + 4 + 8 + 8 + 3 + "eu" + "regtest" with their lengths).
  const baseAt = 6 + 31 + 3 + 8;
  const baseEnd = baseAt + 8 + 4 + 4 + 32;
  for (let at = 0; at < bytes.length; at++) {
    for (const flip of [0x01, 0x80, 0xff]) {
      const copy = bytes.slice();
      copy[at]! ^= flip;
      let rebuilt: unknown;
      try {
        rebuilt = comparable(applyTemplateDelta(decodeTemplateDelta(copy), from).template);
      } catch (error) {
        assert.ok(
          error instanceof SyntaxError || error instanceof RangeError ||
            error instanceof TemplateBaseMismatchError,
          `offset ${at}: unexpected ${String(error)}`,
        );
        continue;
      }
      // Metadata, stamps and a new transaction's bytes carry no checksum (as in the full
      // message); the base reference always does.
      assert.ok(at < baseAt || at >= baseEnd, `offset ${at} changed the base yet applied`);
      if (at >= baseEnd && at < bytes.length - 200) {
        assert.notDeepEqual(rebuilt, expected, `offset ${at}`);
      }
    }
  }
});

Deno.test("decodeTemplateDelta() names the field that is wrong", () => {
  const { bytes } = copyThenNew();
  const patched = (offset: number, value: number) => {
    const copy = bytes.slice();
    copy[offset] = value;
    return copy;
  };
  assert.throws(
    () => decodeTemplateDelta(patched(3, 0x54)),
    /magic is not "TBGD" \(not a template delta\)/,
  );
  assert.throws(() => decodeTemplateDelta(patched(4, 2)), /format 2 is not supported/);
  assert.throws(() => decodeTemplateDelta(patched(5, 4)), /flags 0x4 has unknown bits/);
  const baseAt = 6 + 31 + 3 + 8;
  const view = (copy: Uint8Array) => new DataView(copy.buffer);
  const fractional = bytes.slice();
  view(fractional).setFloat64(baseAt, 1.5, true);
  assert.throws(() => decodeTemplateDelta(fractional), /base epoch is not an integer/);
  const zero = bytes.slice();
  view(zero).setUint32(baseAt + 8, 0, true);
  assert.throws(() => decodeTemplateDelta(zero), /base sequence is 0/);
  const notOlder = bytes.slice();
  view(notOlder).setUint32(baseAt + 8, META.sequence, true);
  assert.throws(
    () => decodeTemplateDelta(notOlder),
    /base 1716364800000-8 is not older than the delta \(1716364800000-8\)/,
  );
  const newerRun = bytes.slice();
  view(newerRun).setFloat64(baseAt, META.epoch + 1, true);
  assert.throws(() => decodeTemplateDelta(newerRun), /is not older than the delta/);
  const hugeBase = bytes.slice();
  view(hugeBase).setUint32(baseAt + 12, 20_001, true);
  assert.throws(() => decodeTemplateDelta(hugeBase), /base transaction count 20001 is above/);
});

Deno.test("decodeTemplateDelta() keeps every run inside the base and the transaction count", () => {
  // Base and template are the same 5 transactions: one run, the last three bytes [1, 0, 5].
  const from = base(POOL.slice(0, 5));
  const bytes = encodeTemplateDelta(
    { ...META, template: withTransactions(POOL.slice(0, 5)) },
    from,
  );
  assert.deepEqual([...bytes.subarray(-3)], [1, 0, 5]);
  const tail = (...last: number[]) => {
    const copy = new Uint8Array(bytes.length - 3 + last.length);
    copy.set(bytes.subarray(0, bytes.length - 3));
    copy.set(last, bytes.length - 3);
    return copy;
  };
  assert.throws(() => decodeTemplateDelta(tail(9, 0, 5)), /segments\[0\]\.op code 9 is unknown/);
  assert.throws(
    () => decodeTemplateDelta(tail(1, 1, 5)),
    /segments\[0\] copies base transactions 1…5, the base has 5/,
  );
  assert.throws(() => decodeTemplateDelta(tail(1, 6, 1)), /segments\[0\]\.start is 6, above/);
  assert.throws(() => decodeTemplateDelta(tail(1, 0, 0)), /segments\[0\]\.count is 0/);
  assert.throws(() => decodeTemplateDelta(tail(1, 0, 6)), /segments\[0\]\.count is 6, above/);
  // Two runs that together list the five transactions are fine; a third is trailing bytes.
  assert.equal(decodeTemplateDelta(tail(1, 0, 2, 1, 2, 3)).segments.length, 2);
  assert.throws(() => decodeTemplateDelta(tail(1, 0, 2, 1, 2, 3, 1)), /unexpected bytes/);
  assert.throws(() => decodeTemplateDelta(tail(2, 0)), /segments\[0\]\.count is 0/);
  assert.throws(() => decodeTemplateDelta(tail(2, 5)), /segments\[0\]\.count 5 cannot fit/);
  assert.throws(
    () => decodeTemplateDelta(tail(1, 0, 2)),
    /segments\[1\]\.op needs 1 bytes .* \(truncated\)/,
  );
});

Deno.test("decodeTemplateDelta() enforces the size cap and the transaction limit", () => {
  const { bytes } = copyThenNew();
  assert.throws(
    () => decodeTemplateDelta(bytes, { maxBytes: bytes.length - 1 }),
    (error: unknown) => error instanceof RangeError && /above the \d+-byte cap/.test(error.message),
  );
  assert.equal(decodeTemplateDelta(bytes, { maxBytes: bytes.length }).sizeBytes, bytes.length);
  assert.throws(() => decodeTemplateDelta("TBGD" as unknown as Uint8Array), TypeError);
  // An empty template: the count is right before a single (empty) segment list.
  const empty = encodeTemplateDelta({ ...META, template: withTransactions([]) }, base([]));
  const over = empty.slice();
  new DataView(over.buffer).setUint32(over.length - 4, 20_001, true);
  assert.throws(() => decodeTemplateDelta(over), /transaction count 20001 is above 20000/);
  const branch = empty.slice();
  new DataView(branch.buffer).setUint32(branch.length - 4, 3, true);
  assert.throws(
    () => decodeTemplateDelta(branch),
    /merkle branch length 0 does not fit 3 transactions \(expected 2\)/,
  );
});

Deno.test("applyTemplateDelta() refuses a result that does not start the merkle branch", () => {
  const from = base(POOL.slice(0, 4));
  const target = withTransactions(POOL.slice(0, 4));
  const wrong = {
    ...target,
    merkleBranch: [target.merkleBranch[1]!, ...target.merkleBranch.slice(1)],
  };
  const delta = decodeTemplateDelta(encodeTemplateDelta({ ...META, template: wrong }, from));
  assert.throws(
    () => applyTemplateDelta(delta, from),
    (error: unknown) =>
      error instanceof SyntaxError &&
      /template delta: merkleBranch\[0\] is not the first transaction's txid/.test(error.message),
  );
});

Deno.test("encodeTemplateDelta() refuses a base that is not older and values it cannot carry", () => {
  const from = base(POOL.slice(0, 3));
  const template = withTransactions(POOL.slice(0, 3));
  assert.throws(
    () => encodeTemplateDelta({ ...META, template }, { ...from, sequence: META.sequence }),
    /Cannot encode template delta: base 1716364800000-8 is not older than 1716364800000-8/,
  );
  assert.throws(
    () => encodeTemplateDelta({ ...META, template }, { ...from, sequence: 0 }),
    /base epoch must be an integer/,
  );
  assert.throws(
    () => encodeTemplateDelta({ ...META, originRegion: "eu.x", template }, from),
    /Cannot encode template delta: originRegion must be a subject token/,
  );
  const badTx = { ...POOL[5]!, weight: 4_000_001 };
  assert.throws(
    () => encodeTemplateDelta({ ...META, template: withTransactions([POOL[0]!, badTx]) }, from),
    /transaction 1 weight out of range/,
  );
});

Deno.test("templateWireKind() tells full templates from deltas; each decoder refuses the other", () => {
  const { bytes } = copyThenNew();
  const full = encodeTemplateMessage({ ...META, template: withTransactions(POOL.slice(0, 2)) });
  assert.equal(templateWireKind(bytes), "delta");
  assert.equal(templateWireKind(full), "full");
  assert.equal(templateWireKind(new Uint8Array(3)), null);
  assert.equal(templateWireKind(new TextEncoder().encode("TBGX....")), null);
  assert.throws(() => decodeTemplateMessage(bytes), /magic is not "TBGT" \(not a template message/);
  assert.throws(() => decodeTemplateDelta(full), /magic is not "TBGD" \(not a template delta/);
});

Deno.test("a delta in a Node Buffer (as the NATS client hands it) decodes and applies", () => {
  const { from, bytes, tx } = copyThenNew();
  const applied = applyTemplateDelta(decodeTemplateDelta(Buffer.from(bytes)), from);
  assert.deepEqual(Uint8Array.from(applied.template.transactions.at(-1)!.data), tx.data);
  assert.equal(templateWireKind(Buffer.from(bytes)), "delta");
});

Deno.test("any edit of any base round-trips through a delta", () => {
  fc.assert(
    fc.property(
      fc.uniqueArray(fc.nat(POOL.length - 1), { maxLength: 60 }),
      fc.uniqueArray(fc.nat(POOL.length - 1), { maxLength: 60 }),
      (baseIds, targetIds) => {
        roundTrip(targetIds.map((i) => POOL[i]!), base(baseIds.map((i) => POOL[i]!)));
      },
    ),
    { numRuns: 200 },
  );
});
