/**
 * Byte-level mutations in the manner of libFuzzer's MutationDispatcher: bit flips, interesting
 * integers, inserts, erases, copies, crossover with another corpus entry, dictionary tokens and
 * numbers rewritten inside text. Several are stacked per child, as libFuzzer does.
 */
import type { Rng } from "./rng.ts";

const encoder = new TextEncoder();

/** Integers that sit on boundaries parsers get wrong (lengths, signs, widths). */
const INTERESTING_U32: readonly number[] = [
  0,
  1,
  2,
  0x7f,
  0x80,
  0xfc,
  0xfd,
  0xfe,
  0xff,
  0x100,
  0x7fff,
  0x8000,
  0xffff,
  0x10000,
  0x7fffffff,
  0x80000000,
  0xfffffffe,
  0xffffffff,
];

/** Text numbers that JSON and Number() parse in surprising ways. */
const INTERESTING_NUMBERS: readonly string[] = [
  "0",
  "-0",
  "-1",
  "1e308",
  "1e309",
  "-1e309",
  "5e-324",
  "1e-400",
  "9007199254740993",
  "4294967296",
  "4294967295",
  "2147483648",
  "0.1",
  "1E+2",
  "0x10",
  "NaN",
  "Infinity",
  "00",
  "1.",
  ".5",
  "123456789012345678901234567890",
];

/** Everything a mutator may consult besides its input. */
export interface MutationContext {
  readonly rng: Rng;
  /** Another corpus entry, for crossover. */
  readonly other: () => Uint8Array;
  readonly dictionary: readonly Uint8Array[];
  readonly maxBytes: number;
}

type Mutator = (data: Uint8Array, ctx: MutationContext) => Uint8Array;

const MUTATORS: readonly Mutator[] = [
  flipBit,
  setByte,
  addToByte,
  setInterestingInteger,
  insertBytes,
  insertRepeatedByte,
  eraseBytes,
  copyPart,
  shuffleBytes,
  crossOver,
  insertDictionaryToken,
  overwriteDictionaryToken,
  rewriteTextNumber,
  truncate,
];

/** Applies 1–`depth` randomly chosen mutations to a copy of `data`, capped at `maxBytes`. */
export function mutateBytes(data: Uint8Array, ctx: MutationContext, depth = 6): Uint8Array {
  let out = data;
  const rounds = 1 + ctx.rng.below(depth);
  for (let i = 0; i < rounds; i++) {
    out = ctx.rng.pick(MUTATORS)(out, ctx);
    if (out.length > ctx.maxBytes) out = out.subarray(0, ctx.maxBytes);
  }
  return out === data ? data.slice() : out;
}

function flipBit(data: Uint8Array, { rng }: MutationContext): Uint8Array {
  if (data.length === 0) return Uint8Array.of(rng.below(256));
  const out = data.slice();
  out[rng.below(out.length)]! ^= 1 << rng.below(8);
  return out;
}

function setByte(data: Uint8Array, { rng }: MutationContext): Uint8Array {
  if (data.length === 0) return Uint8Array.of(rng.below(256));
  const out = data.slice();
  out[rng.below(out.length)] = rng.below(256);
  return out;
}

function addToByte(data: Uint8Array, { rng }: MutationContext): Uint8Array {
  if (data.length === 0) return data;
  const out = data.slice();
  const at = rng.below(out.length);
  out[at] = (out[at]! + rng.below(71) - 35) & 0xff;
  return out;
}

function setInterestingInteger(data: Uint8Array, { rng }: MutationContext): Uint8Array {
  const width = rng.pick([1, 2, 4, 8]);
  if (data.length < width) return data;
  const out = data.slice();
  const at = rng.below(out.length - width + 1);
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  const little = rng.chance(0.5);
  const value = rng.pick(INTERESTING_U32);
  if (width === 1) view.setUint8(at, value & 0xff);
  else if (width === 2) view.setUint16(at, value & 0xffff, little);
  else if (width === 4) view.setUint32(at, value >>> 0, little);
  else {
    view.setFloat64(
      at,
      rng.pick([0, -0, 1, -1, NaN, Infinity, 2 ** 53, 2 ** 53 + 2, 1e308, 5e-324, value]),
      little,
    );
  }
  return out;
}

function insertBytes(data: Uint8Array, { rng }: MutationContext): Uint8Array {
  const count = 1 + rng.below(8);
  const insert = new Uint8Array(count);
  for (let i = 0; i < count; i++) insert[i] = rng.below(256);
  return splice(data, rng.below(data.length + 1), 0, insert);
}

function insertRepeatedByte(data: Uint8Array, { rng, maxBytes }: MutationContext): Uint8Array {
  // Long runs reach the length caps (line cap, string caps) that single inserts never do.
  const count = 1 + rng.below(Math.max(1, Math.min(maxBytes, rng.chance(0.02) ? maxBytes : 256)));
  const byte = rng.pick([0x20, 0x30, 0x41, 0x61, 0x66, 0x5b, 0x7b, 0x22, 0x00, 0xff, 0x0a]);
  return splice(data, rng.below(data.length + 1), 0, new Uint8Array(count).fill(byte));
}

function eraseBytes(data: Uint8Array, { rng }: MutationContext): Uint8Array {
  if (data.length === 0) return data;
  const at = rng.below(data.length);
  const count = 1 + rng.below(Math.min(data.length - at, rng.chance(0.8) ? 8 : data.length));
  return splice(data, at, count, new Uint8Array(0));
}

function copyPart(data: Uint8Array, { rng }: MutationContext): Uint8Array {
  if (data.length === 0) return data;
  const from = rng.below(data.length);
  const count = 1 + rng.below(Math.min(data.length - from, 64));
  const part = data.slice(from, from + count);
  if (rng.chance(0.5)) return splice(data, rng.below(data.length + 1), 0, part);
  const to = rng.below(data.length);
  return splice(data, to, Math.min(count, data.length - to), part);
}

function shuffleBytes(data: Uint8Array, { rng }: MutationContext): Uint8Array {
  if (data.length < 2) return data;
  const out = data.slice();
  const at = rng.below(out.length - 1);
  const count = 2 + rng.below(Math.min(8, out.length - at) - 1);
  for (let i = count - 1; i > 0; i--) {
    const j = rng.below(i + 1);
    const t = out[at + i]!;
    out[at + i] = out[at + j]!;
    out[at + j] = t;
  }
  return out;
}

function crossOver(data: Uint8Array, { rng, other }: MutationContext): Uint8Array {
  const donor = other();
  if (donor.length === 0) return data;
  const from = rng.below(donor.length);
  const part = donor.subarray(from, from + 1 + rng.below(donor.length - from));
  const at = rng.below(data.length + 1);
  return rng.chance(0.5)
    ? splice(data, at, 0, part)
    : splice(data.subarray(0, at), at, 0, donor.subarray(from));
}

function insertDictionaryToken(data: Uint8Array, { rng, dictionary }: MutationContext): Uint8Array {
  if (dictionary.length === 0) return data;
  return splice(data, rng.below(data.length + 1), 0, rng.pick(dictionary));
}

function overwriteDictionaryToken(
  data: Uint8Array,
  { rng, dictionary }: MutationContext,
): Uint8Array {
  if (dictionary.length === 0) return data;
  const token = rng.pick(dictionary);
  const at = rng.below(data.length + 1);
  return splice(data, at, Math.min(token.length, data.length - at), token);
}

function rewriteTextNumber(data: Uint8Array, { rng }: MutationContext): Uint8Array {
  // Finds a run of digits near a random point and replaces it with a boundary number.
  const start = rng.below(data.length + 1);
  let at = -1;
  for (let i = start; i < data.length; i++) {
    if (data[i]! >= 0x30 && data[i]! <= 0x39) {
      at = i;
      break;
    }
  }
  if (at === -1) return data;
  let end = at;
  while (end < data.length && ((data[end]! >= 0x30 && data[end]! <= 0x39) || data[end] === 0x2e)) {
    end++;
  }
  return splice(data, at, end - at, encoder.encode(rng.pick(INTERESTING_NUMBERS)));
}

function truncate(data: Uint8Array, { rng }: MutationContext): Uint8Array {
  return data.length === 0 ? data : data.slice(0, rng.below(data.length));
}

function splice(
  data: Uint8Array,
  at: number,
  remove: number,
  insert: Uint8Array,
): Uint8Array {
  const out = new Uint8Array(data.length - remove + insert.length);
  out.set(data.subarray(0, at), 0);
  out.set(insert, at);
  out.set(data.subarray(at + remove), at + insert.length);
  return out;
}
