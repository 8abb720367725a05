/**
 * Node dialects: the devnet answers as Bitcoin Core (current), Bitcoin Core 0.21, Bitcoin Knots
 * or btcd, each with its own result shapes, error texts and HTTP statuses, so the pool is proven
 * against what those nodes really send. The devnet builds Core-shaped results; a dialect
 * reshapes them after the method ran.
 *
 * Sources read (shapes only, no code taken):
 * - Core: bitcoin/bitcoin src/rpc/mining.cpp (getblocktemplate: "Bitcoin Core is not connected!",
 *   "… is in initial sync and waiting for blocks...", skipped on test chains), blockchain.cpp.
 * - Core 0.21: PACKAGE_NAME in the same messages; getblockchaininfo with `softforks` and a string
 *   `warnings`, no `time`/`bits`/`target`.
 * - Knots: bitcoinknots/bitcoin src/rpc/mining.cpp (CLIENT_NAME "Bitcoin Knots", a `priority` per
 *   template transaction, the extra `reduced_data` rule, -9 "node software has expired").
 * - btcd: btcsuite/btcd rpcserver.go and btcjson/chainsvrresults.go (HTTP 200 for every JSON-RPC
 *   error, `getnetworkinfo` answered -1 "Command unimplemented", getblockchaininfo without
 *   `initialblockdownload`/`verificationprogress` (omitempty, never set) and with `headers` =
 *   `blocks`, chain "regtest"/"mainnet"/"testnet3", bits formatted without zero padding, template
 *   without `rules`/`vbavailable`, `longpollid` "<hash>-<n>", `default_witness_commitment` only
 *   when a transaction has a witness, validateaddress without `scriptPubKey`, submitblock
 *   rejections as "rejected: <reason>", GBT errors -9 "Bitcoin is not connected", -10 "Bitcoin is
 *   downloading blocks...").
 *
 * Where the devnet cannot be the node it imitates it says so: a syncing btcd is recognised by its
 * old tip (btcd's own IsCurrent rule), so while "initial block download" is set the btcd dialect
 * reports a `mediantime` 30 days old, the devnet's chain itself being current.
 *
 * @module
 */

import { fromHex, hashToDisplayHex, sha256d } from "./bytes.ts";

/** The dialects `--dialect` accepts. */
export const Dialect = {
  core: "core",
  core021: "core-0.21",
  knots: "knots",
  btcd: "btcd",
} as const;
/** One of {@link Dialect}. */
export type Dialect = typeof Dialect[keyof typeof Dialect];

/** Every dialect, for tests that run against each. */
export const DIALECTS: readonly Dialect[] = Object.values(Dialect);

/** Where each dialect's shapes come from (written into every recorded fixture). */
export const DIALECT_SOURCES: Readonly<Record<Dialect, string>> = {
  core:
    "Bitcoin Core 29.x: bitcoin/bitcoin src/rpc/mining.cpp (getblocktemplate, submitblock), src/rpc/blockchain.cpp (getblockchaininfo, getblockheader), src/rpc/net.cpp (getnetworkinfo), src/httprpc.cpp (HTTP 500/404 for JSON-RPC 1.0 errors)",
  "core-0.21":
    "Bitcoin Core 0.21: same files at v0.21.0: getblockchaininfo with softforks and a string warnings, no time/bits/target; getnetworkinfo version 210000",
  knots:
    "Bitcoin Knots 29.2.knots20251010: bitcoinknots/bitcoin src/rpc/mining.cpp (CLIENT_NAME Bitcoin Knots, transaction priority, reduced_data rule), otherwise Core's shapes",
  btcd:
    "btcd 0.24 (master 2c67bc2): btcsuite/btcd rpcserver.go (handleGetBlockTemplate, handleGetBlockChainInfo, handleSubmitBlock, handleValidateAddress, rpcUnimplemented, HTTP 200 for errors), btcjson/chainsvrresults.go (omitempty fields)",
};

/** State a reshaping reads besides the Core-shaped result. */
export interface ShapeState {
  readonly initialBlockDownload: boolean;
  readonly nowS: number;
  /** The call's positional parameters. */
  readonly params: readonly unknown[];
}

/** A JSON-RPC error a dialect answers. */
export interface DialectError {
  readonly code: number;
  readonly message: string;
}

/** How one node implementation answers. */
export interface DialectProfile {
  readonly name: Dialect;
  /** getblocktemplate with no peers (-9). */
  readonly notConnected: DialectError;
  /** getblocktemplate during initial block download (-10). */
  readonly initialDownload: DialectError;
  /** Methods the node knows but answers with an error. */
  readonly unimplemented: ReadonlyMap<string, DialectError>;
  /** HTTP status of a failed JSON-RPC 1.0 request (Core: 500/404/400, btcd: always 200). */
  legacyErrorStatus(code: number): number;
  /** The template's `longpollid` for a tip and mempool update count. */
  longPollId(tipHash: string, updates: number): string;
  /** The tip and count a `longpollid` names, or undefined when it is not this node's format. */
  parseLongPollId(id: string): { readonly tipHash: string; readonly updates: number } | undefined;
  /** Rewrites a Core-shaped result of `method` into this node's shape. */
  shape(method: string, result: unknown, state: ShapeState): unknown;
}

type Json = Record<string, unknown>;

function coreLegacyStatus(code: number): number {
  if (code === -32600) return 400;
  if (code === -32601) return 404;
  return 500;
}

function coreLongPollId(tipHash: string, updates: number): string {
  return `${tipHash}${updates}`;
}

function parseCoreLongPollId(id: string): { tipHash: string; updates: number } | undefined {
  if (!/^[0-9a-f]{64}\d*$/.test(id)) return undefined;
  return { tipHash: id.slice(0, 64), updates: Number(id.slice(64) || "0") };
}

function isJson(value: unknown): value is Json {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function without(object: Json, keys: readonly string[]): Json {
  const copy: Json = { ...object };
  for (const key of keys) delete copy[key];
  return copy;
}

/** Core's regtest buried deployments as 0.21's getblockchaininfo lists them. */
const CORE_021_SOFTFORKS = {
  bip34: { type: "buried", active: true, height: 1 },
  bip66: { type: "buried", active: true, height: 1 },
  bip65: { type: "buried", active: true, height: 1 },
  csv: { type: "buried", active: true, height: 1 },
  segwit: { type: "buried", active: true, height: 0 },
  testdummy: {
    type: "bip9",
    bip9: { status: "defined", start_time: 0, timeout: 9223372036854776000, since: 0 },
    active: false,
  },
};

const core: DialectProfile = {
  name: Dialect.core,
  notConnected: { code: -9, message: "Bitcoin Core is not connected!" },
  initialDownload: {
    code: -10,
    message: "Bitcoin Core is in initial sync and waiting for blocks...",
  },
  unimplemented: new Map(),
  legacyErrorStatus: coreLegacyStatus,
  longPollId: coreLongPollId,
  parseLongPollId: parseCoreLongPollId,
  shape: (_method, result) => result,
};

const core021: DialectProfile = {
  ...core,
  name: Dialect.core021,
  shape(method, result) {
    if (!isJson(result)) return result;
    switch (method) {
      case "getblockchaininfo":
        return {
          ...without(result, ["bits", "target", "time", "warnings"]),
          softforks: CORE_021_SOFTFORKS,
          warnings: "",
        };
      case "getnetworkinfo":
        return {
          ...without(result, ["localservicesnames", "warnings"]),
          version: 210000,
          subversion: "/Satoshi:0.21.0/",
          localservicesnames: ["NETWORK", "WITNESS", "NETWORK_LIMITED"],
          warnings: "",
        };
      case "getmininginfo":
        return { ...without(result, ["bits", "target", "next", "warnings"]), warnings: "" };
      case "getblockheader":
        return without(result, ["target"]);
      default:
        return result;
    }
  },
};

const knots: DialectProfile = {
  ...core,
  name: Dialect.knots,
  notConnected: { code: -9, message: "Bitcoin Knots is not connected!" },
  initialDownload: {
    code: -10,
    message: "Bitcoin Knots is in initial sync and waiting for blocks...",
  },
  shape(method, result) {
    if (!isJson(result)) return result;
    switch (method) {
      case "getnetworkinfo":
        return { ...result, version: 290200, subversion: "/Satoshi:29.2.0/Knots:20251010/" };
      case "getblocktemplate": {
        // Knots adds each transaction's coin-age priority and its own buried rule.
        const transactions = Array.isArray(result.transactions) ? result.transactions : [];
        return {
          ...result,
          rules: [...(Array.isArray(result.rules) ? result.rules : []), "reduced_data"],
          transactions: transactions.map((tx: unknown) => isJson(tx) ? { ...tx, priority: 0 } : tx),
        };
      }
      default:
        return result;
    }
  },
};

/** btcd's `gbtCoinbaseAux`: a push of mining.CoinbaseFlags "/P2SH/btcd/". */
const BTCD_COINBASE_FLAGS = "0b2f503253482f627463642f";
/** How old a syncing btcd's tip looks (btcd and the pool count > 24 h as not current). */
const BTCD_SYNCING_TIP_AGE_S = 30 * 24 * 60 * 60;

const btcd: DialectProfile = {
  name: Dialect.btcd,
  notConnected: { code: -9, message: "Bitcoin is not connected" },
  initialDownload: { code: -10, message: "Bitcoin is downloading blocks..." },
  unimplemented: new Map([["getnetworkinfo", { code: -1, message: "Command unimplemented" }]]),
  legacyErrorStatus: () => 200,
  longPollId: (tipHash, updates) => `${tipHash}-${updates}`,
  parseLongPollId(id) {
    const match = /^([0-9a-f]{64})-(\d+)$/.exec(id);
    return match === null ? undefined : { tipHash: match[1]!, updates: Number(match[2]) };
  },
  shape(method, result, state) {
    if (method === "submitblock") {
      // btcd: "rejected: " + the rule error; a known block is ErrDuplicateBlock's text.
      if (result === "duplicate") {
        return `rejected: already have block ${blockHashOf(state.params[0])}`;
      }
      return typeof result === "string" ? `rejected: ${result}` : result;
    }
    if (!isJson(result)) return result;
    switch (method) {
      case "getblockchaininfo":
        return {
          chain: result.chain,
          blocks: result.blocks,
          headers: result.blocks,
          bestblockhash: result.bestblockhash,
          difficulty: result.difficulty,
          mediantime: state.initialBlockDownload
            ? state.nowS - BTCD_SYNCING_TIP_AGE_S
            : result.mediantime,
          pruned: false,
          chainwork: result.chainwork,
          size_on_disk: result.size_on_disk,
          bip9_softforks: {},
        };
      case "getblocktemplate": {
        const transactions = Array.isArray(result.transactions) ? result.transactions : [];
        const hasWitness = transactions.some((tx: unknown) => isJson(tx) && tx.hash !== tx.txid);
        const shaped: Json = {
          bits: typeof result.bits === "string" ? result.bits.replace(/^0+(?=.)/, "") : result.bits,
          curtime: result.curtime,
          height: result.height,
          previousblockhash: result.previousblockhash,
          sigoplimit: result.sigoplimit,
          sizelimit: 4_000_000,
          weightlimit: result.weightlimit,
          transactions,
          version: result.version,
          coinbaseaux: { flags: BTCD_COINBASE_FLAGS },
          coinbasevalue: result.coinbasevalue,
          longpollid: result.longpollid,
          target: result.target,
          maxtime: (typeof result.curtime === "number" ? result.curtime : 0) + 7200,
          mintime: result.mintime,
          mutable: ["time", "transactions/add", "prevblock", "coinbase/append"],
          noncerange: "00000000ffffffff",
          capabilities: ["proposal"],
        };
        if (hasWitness) shaped.default_witness_commitment = result.default_witness_commitment;
        return shaped;
      }
      case "validateaddress":
        return without(result, ["scriptPubKey", "error_locations", "error"]);
      case "getblockheader":
        return {
          ...without(result, ["target", "mediantime", "chainwork", "nTx"]),
          bits: typeof result.bits === "string" ? result.bits.replace(/^0+(?=.)/, "") : result.bits,
        };
      default:
        return result;
    }
  },
};

function blockHashOf(hex: unknown): string {
  if (typeof hex !== "string" || hex.length < 160) return "(unknown)";
  return hashToDisplayHex(sha256d(fromHex(hex.slice(0, 160))));
}

const PROFILES: Readonly<Record<Dialect, DialectProfile>> = {
  core,
  "core-0.21": core021,
  knots,
  btcd,
};

/**
 * The profile of a dialect name.
 *
 * @throws {RangeError} naming the dialects there are, for an unknown name
 */
export function dialectProfile(name: string): DialectProfile {
  const profile = (PROFILES as Record<string, DialectProfile | undefined>)[name];
  if (profile === undefined) {
    throw new RangeError(
      `Cannot use dialect ${JSON.stringify(name)}: expected one of ${DIALECTS.join(", ")}`,
    );
  }
  return profile;
}
