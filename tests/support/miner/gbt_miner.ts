/**
 * A getblocktemplate solo miner: fetches a template, builds its own coinbase with
 * bitcoinjs-lib (BIP34 height, extranonce, tag, payout, default_witness_commitment, witness
 * reserved value), grinds the nonce on the CPU and submits the block.
 *
 * @module
 */
import { address as baddress, networks } from "bitcoinjs-lib";
import { blockFromTemplate, type GbtTemplate, headerBytes } from "./block_assembly.ts";
import { grindNonce, MAX_NONCE } from "./grind.ts";
import { rpcCall, type RpcEndpoint } from "./rpc_client.ts";

/** Miner settings. */
export interface GbtMinerOptions {
  readonly endpoint: RpcEndpoint;
  /** Regtest address the coinbase pays. */
  readonly payoutAddress: string;
  /** Text in the coinbase scriptSig (default "/tbg-gbt-miner/"). */
  readonly coinbaseTag?: string;
  /** Extranonce value written as 8 little-endian bytes (default 0). */
  readonly extranonce?: number;
  /** Nonces to try before giving up (default the whole 32-bit range). */
  readonly maxTries?: number;
  /** Put the witness reserved value in the coinbase (default true; pools often leave it out). */
  readonly includeWitnessReservedValue?: boolean;
}

/** A solved block ready to submit. */
export interface SolvedGbtBlock {
  readonly hex: string;
  readonly hash: string;
  readonly nonce: number;
}

/** One mining round's outcome. */
export interface MineResult extends SolvedGbtBlock {
  readonly template: GbtTemplate;
  /** submitblock's answer: null when accepted, else the reject reason. */
  readonly result: string | null;
}

/** The output script of a regtest address. */
export function payoutScriptFor(address: string): Uint8Array {
  return baddress.toOutputScript(address, networks.regtest);
}

/** Eight little-endian bytes of an extranonce counter. */
export function extranonceBytes(value: number): Uint8Array {
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, BigInt(value), true);
  return out;
}

/** Calls getblocktemplate with the segwit rule. */
export function fetchTemplate(endpoint: RpcEndpoint): Promise<GbtTemplate> {
  return rpcCall<GbtTemplate>(endpoint, "getblocktemplate", [{ rules: ["segwit"] }]);
}

/** Calls submitblock. */
export function submitBlock(endpoint: RpcEndpoint, hex: string): Promise<string | null> {
  return rpcCall<string | null>(endpoint, "submitblock", [hex]);
}

/** Builds and grinds a block for a template; null when no nonce within maxTries meets the target. */
export function solveTemplate(
  template: GbtTemplate,
  options: Omit<GbtMinerOptions, "endpoint">,
): SolvedGbtBlock | null {
  const built = blockFromTemplate(template, {
    payoutScript: payoutScriptFor(options.payoutAddress),
    extranonce: extranonceBytes(options.extranonce ?? 0),
    tag: options.coinbaseTag ?? "/tbg-gbt-miner/",
    ...(options.includeWitnessReservedValue === undefined
      ? {}
      : { includeWitnessReservedValue: options.includeWitnessReservedValue }),
  });
  const nonce = grindNonce(
    headerBytes(built.block),
    built.target,
    0,
    options.maxTries ?? MAX_NONCE + 1,
  );
  if (nonce === null) return null;
  built.block.nonce = nonce;
  return { hex: built.block.toHex(), hash: built.block.getId(), nonce };
}

/**
 * Fetches a template, solves it and submits the block.
 *
 * @throws {Error} when no nonce was found within maxTries.
 */
export async function mineOnce(options: GbtMinerOptions): Promise<MineResult> {
  const template = await fetchTemplate(options.endpoint);
  const solved = solveTemplate(template, options);
  if (!solved) throw new Error(`Cannot mine height ${template.height}: no nonce within maxTries`);
  const result = await submitBlock(options.endpoint, solved.hex);
  return { ...solved, template, result };
}
