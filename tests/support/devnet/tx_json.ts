/**
 * Transaction JSON as Core's `TxToUniv` writes it (getblock verbosity 2): ids, sizes, inputs
 * with asm, outputs with value in BTC, asm, descriptor, address and type.
 *
 * @module
 */
import { address as baddress, networks, script as bscript } from "bitcoinjs-lib";
import { hashToDisplayHex, toHex } from "./bytes.ts";
import { isCoinbaseTx, type ParsedTx } from "./codec.ts";
import { satsToBtc } from "./consensus.ts";
import { classifyOutput, OutputKind, parseScript } from "./script.ts";

const SIGHASH_NAMES: Record<number, string> = {
  0x01: "ALL",
  0x02: "NONE",
  0x03: "SINGLE",
  0x81: "ALL|ANYONECANPAY",
  0x82: "NONE|ANYONECANPAY",
  0x83: "SINGLE|ANYONECANPAY",
};

const OPCODE_NAMES: Record<number, string> = {
  0x00: "0",
  0x4f: "-1",
  0x61: "OP_NOP",
  0x63: "OP_IF",
  0x64: "OP_NOTIF",
  0x67: "OP_ELSE",
  0x68: "OP_ENDIF",
  0x69: "OP_VERIFY",
  0x6a: "OP_RETURN",
  0x75: "OP_DROP",
  0x76: "OP_DUP",
  0x87: "OP_EQUAL",
  0x88: "OP_EQUALVERIFY",
  0xa9: "OP_HASH160",
  0xaa: "OP_HASH256",
  0xac: "OP_CHECKSIG",
  0xad: "OP_CHECKSIGVERIFY",
  0xae: "OP_CHECKMULTISIG",
  0xaf: "OP_CHECKMULTISIGVERIFY",
  0xb1: "OP_CHECKLOCKTIMEVERIFY",
  0xb2: "OP_CHECKSEQUENCEVERIFY",
};

function decodeScriptNum(data: Uint8Array): number {
  let value = 0;
  for (let i = 0; i < data.length; i++) value += (data[i] ?? 0) * 2 ** (8 * i);
  const last = data[data.length - 1] ?? 0;
  if (last & 0x80) return -(value - 0x80 * 2 ** (8 * (data.length - 1)));
  return value;
}

/** Core's `ScriptToAsmStr`; with `sighashDecode`, signatures show their sighash type as `[ALL]`. */
export function scriptToAsm(script: Uint8Array, sighashDecode = false): string {
  const ops = parseScript(script);
  if (!ops) return "[error]";
  return ops.map((op) => {
    if (op.opcode >= 0x51 && op.opcode <= 0x60) return String(op.opcode - 0x50);
    if (op.data === null) return OPCODE_NAMES[op.opcode] ?? `OP_UNKNOWN`;
    if (op.opcode === 0) return "0";
    if (op.data.length <= 4) return String(decodeScriptNum(op.data));
    if (sighashDecode && bscript.isCanonicalScriptSignature(op.data)) {
      const hashType = op.data[op.data.length - 1] ?? 0;
      const name = SIGHASH_NAMES[hashType];
      if (name) return `${toHex(op.data.subarray(0, -1))}[${name}]`;
    }
    return toHex(op.data);
  }).join(" ");
}

const INPUT_CHARSET = "0123456789()[],'/*abcdefgh@:$%{}" +
  "IJKLMNOPQRSTUVWXYZ&+-.;<=>?!^_|~" + 'ijklmnopqrstuvwxyzABCDEFGH`#"\\ ';
const CHECKSUM_CHARSET = "qpzry9x8gf2tvdw0s3jn54khce6mua7l";

function polyMod(c: bigint, value: number): bigint {
  const c0 = c >> 35n;
  c = ((c & 0x7ffffffffn) << 5n) ^ BigInt(value);
  if (c0 & 1n) c ^= 0xf5dee51989n;
  if (c0 & 2n) c ^= 0xa9fdca3312n;
  if (c0 & 4n) c ^= 0x1bab10e32dn;
  if (c0 & 8n) c ^= 0x3706b1677an;
  if (c0 & 16n) c ^= 0x644d626ffdn;
  return c;
}

/** Appends Core's descriptor checksum (`#xxxxxxxx`). */
export function withDescriptorChecksum(descriptor: string): string {
  let c = 1n;
  let cls = 0;
  let clsCount = 0;
  for (const ch of descriptor) {
    const pos = INPUT_CHARSET.indexOf(ch);
    if (pos < 0) return descriptor;
    c = polyMod(c, pos & 31);
    cls = cls * 3 + (pos >> 5);
    if (++clsCount === 3) {
      c = polyMod(c, cls);
      cls = 0;
      clsCount = 0;
    }
  }
  if (clsCount > 0) c = polyMod(c, cls);
  for (let j = 0; j < 8; j++) c = polyMod(c, 0);
  c ^= 1n;
  let checksum = "";
  for (let j = 0; j < 8; j++) {
    checksum += CHECKSUM_CHARSET[Number((c >> (5n * BigInt(7 - j))) & 31n)];
  }
  return `${descriptor}#${checksum}`;
}

/** Core's `ScriptToUniv` for an output script. */
export function scriptPubKeyJson(script: Uint8Array): Record<string, unknown> {
  const type = classifyOutput(script);
  let address: string | undefined;
  if (type !== OutputKind.NULL_DATA && type !== OutputKind.NONSTANDARD) {
    try {
      address = baddress.fromOutputScript(script, networks.regtest);
    } catch {
      address = undefined;
    }
  }
  const json: Record<string, unknown> = {
    asm: scriptToAsm(script),
    desc: withDescriptorChecksum(address ? `addr(${address})` : `raw(${toHex(script)})`),
    hex: toHex(script),
  };
  if (address) json.address = address;
  json.type = type;
  return json;
}

/** Core's `TxToUniv`; `feeSats` is shown for non-coinbase transactions when known. */
export function txToJson(tx: ParsedTx, feeSats: bigint | undefined): Record<string, unknown> {
  const coinbase = isCoinbaseTx(tx);
  const json: Record<string, unknown> = {
    txid: tx.txid,
    hash: tx.wtxid,
    version: tx.version,
    size: tx.fullBytes.length,
    vsize: Math.ceil(tx.weight / 4),
    weight: tx.weight,
    locktime: tx.locktime,
    vin: tx.inputs.map((input) => {
      const vin: Record<string, unknown> = {};
      if (coinbase) vin.coinbase = toHex(input.scriptSig);
      else {
        vin.txid = hashToDisplayHex(input.prevTxid);
        vin.vout = input.prevVout;
        vin.scriptSig = { asm: scriptToAsm(input.scriptSig, true), hex: toHex(input.scriptSig) };
      }
      if (input.witness.length > 0) vin.txinwitness = input.witness.map(toHex);
      vin.sequence = input.sequence;
      return vin;
    }),
    vout: tx.outputs.map((output, n) => ({
      value: satsToBtc(output.valueSats),
      n,
      scriptPubKey: scriptPubKeyJson(output.script),
    })),
  };
  if (!coinbase && feeSats !== undefined) json.fee = satsToBtc(feeSats);
  json.hex = toHex(tx.fullBytes);
  return json;
}
