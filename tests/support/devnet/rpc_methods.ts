/**
 * The RPC methods the devnet answers, with Core's parameters, result shapes, error codes and
 * messages.
 *
 * @module
 */
import { decodeAddress, validateAddress } from "./address.ts";
import { blockHeaderHex, blockHeaderJson, blockJson } from "./block_json.ts";
import { toHex } from "./bytes.ts";
import { bitsToDifficulty, bitsToHex, bitsToTarget, satsToBtc, targetToHex } from "./consensus.ts";
import type { DevnetNode } from "./devnet_node.ts";
import type { DialectProfile } from "./dialect.ts";
import { DEFAULT_MAX_TRIES } from "./devnet_node.ts";
import { RpcCode, RpcError } from "./rpc_error.ts";
import {
  isAbsent,
  optionalBool,
  optionalInt,
  optionalObject,
  parseHashArg,
  positional,
  requireInt,
  requireString,
} from "./rpc_params.ts";

/** Version the devnet reports (Core 29.0 behaviour: JSON-RPC 2.0, warnings as arrays). */
export const CORE_VERSION = 290000;
const SUBVERSION = "/Satoshi:29.0.0/";

/** What method handlers may use besides the node. */
export interface RpcContext {
  readonly node: DevnetNode;
  readonly startedAtMs: number;
  /** Resolves when the RPC listener closes (ends long polls so shutdown does not hang). */
  readonly interrupted: () => Promise<void>;
  /** Which node implementation the devnet answers as. */
  readonly dialect: DialectProfile;
}

interface MethodSpec {
  readonly params: readonly string[];
  readonly run: (args: unknown[], context: RpcContext) => unknown;
}

function usage(method: string, params: readonly string[]): string {
  return `${method} ${params.map((name) => `"${name}"`).join(" ")}`.trim();
}

function findBlock(context: RpcContext, hash: string) {
  const entry = context.node.chain.get(hash);
  if (!entry) throw new RpcError(RpcCode.INVALID_ADDRESS_OR_KEY, "Block not found");
  return entry;
}

async function waitForLongPoll(context: RpcContext, longpollid: string): Promise<void> {
  // Core: an id that does not name a block answers at once.
  const parsed = context.dialect.parseLongPollId(longpollid);
  if (parsed === undefined) return;
  const { tipHash: watched, updates } = parsed;
  const { node } = context;
  const Wake = { TIP: "tip", TIMER: "timer", INTERRUPT: "interrupt" } as const;
  // Core re-checks the mempool every minute while waiting for a new tip.
  while (node.chain.tip.hashHex === watched && !node.isStopped) {
    let unsubscribe = (): void => {};
    let timer: ReturnType<typeof setTimeout> | undefined;
    const wake = await Promise.race([
      new Promise<string>((resolve) => {
        const off = node.onTipChanged(() => resolve(Wake.TIP));
        unsubscribe = () => void off();
      }),
      new Promise<string>((resolve) => {
        timer = setTimeout(() => resolve(Wake.TIMER), 60_000);
      }),
      context.interrupted().then(() => Wake.INTERRUPT),
    ]);
    unsubscribe();
    clearTimeout(timer);
    // Core answers a long poll cut short by shutdown with -9 "Shutting down", not a template.
    if (wake === Wake.INTERRUPT) {
      throw new RpcError(RpcCode.CLIENT_NOT_CONNECTED, "Shutting down");
    }
    if (wake === Wake.TIMER && node.mempool.transactionsUpdated !== updates) return;
  }
}

const methods: Record<string, MethodSpec> = {
  getblocktemplate: {
    params: ["template_request"],
    run: async ([request], context) => {
      const req = optionalObject(request);
      const mode = isAbsent(req.mode) ? "template" : req.mode;
      if (mode === "proposal") return proposal(req, context);
      if (mode !== "template") throw new RpcError(RpcCode.INVALID_PARAMETER, "Invalid mode");
      const { dialect } = context;
      // Core checks peers before initial download; btcd the same order.
      if (context.node.notConnected) {
        throw new RpcError(dialect.notConnected.code, dialect.notConnected.message);
      }
      if (context.node.initialBlockDownload) {
        throw new RpcError(dialect.initialDownload.code, dialect.initialDownload.message);
      }
      if (typeof req.longpollid === "string") await waitForLongPoll(context, req.longpollid);
      const rules = Array.isArray(req.rules) ? req.rules : [];
      if (!rules.includes("segwit")) {
        throw new RpcError(
          RpcCode.INVALID_PARAMETER,
          'getblocktemplate must be called with the segwit rule set (call with {"rules": ["segwit"]})',
        );
      }
      const template = context.node.template();
      return {
        ...template,
        longpollid: dialect.longPollId(
          context.node.chain.tip.hashHex,
          context.node.mempool.transactionsUpdated,
        ),
      };
    },
  },
  submitblock: {
    params: ["hexdata", "dummy"],
    run: ([hexdata], context) => {
      const hex = requireString(hexdata, usage("submitblock", ["hexdata"]));
      return context.node.submitBlock(hex).result;
    },
  },
  getbestblockhash: { params: [], run: (_, context) => context.node.chain.tip.hashHex },
  getblockcount: { params: [], run: (_, context) => context.node.chain.height },
  getblockhash: {
    params: ["height"],
    run: ([height], context) => {
      const h = requireInt(height, usage("getblockhash", ["height"]));
      const entry = context.node.chain.atHeight(h);
      if (h < 0 || !entry) {
        throw new RpcError(RpcCode.INVALID_PARAMETER, "Block height out of range");
      }
      return entry.hashHex;
    },
  },
  getdifficulty: {
    params: [],
    run: (_, context) => bitsToDifficulty(context.node.chain.tip.block.header.bits),
  },
  getblockchaininfo: {
    params: [],
    run: (_, context) => {
      const { chain } = context.node;
      const tip = chain.tip;
      let sizeOnDisk = 0;
      for (const entry of chain.all()) sizeOnDisk += entry.bytes.length;
      return {
        chain: "regtest",
        blocks: chain.height,
        headers: chain.bestHeader().height,
        bestblockhash: tip.hashHex,
        bits: bitsToHex(tip.block.header.bits),
        target: targetToHex(bitsToTarget(tip.block.header.bits)),
        difficulty: bitsToDifficulty(tip.block.header.bits),
        time: tip.block.header.time,
        mediantime: chain.medianTimePast(tip),
        verificationprogress: context.node.initialBlockDownload ? 0.5 : 1,
        initialblockdownload: context.node.initialBlockDownload,
        chainwork: tip.chainWork.toString(16).padStart(64, "0"),
        size_on_disk: sizeOnDisk,
        pruned: false,
        warnings: [],
      };
    },
  },
  getblockheader: {
    params: ["blockhash", "verbose"],
    run: ([blockhash, verbose], context) => {
      const hash = parseHashArg(blockhash, "hash", usage("getblockheader", ["blockhash"]));
      const entry = findBlock(context, hash);
      return optionalBool(verbose, true)
        ? blockHeaderJson(context.node.chain, entry)
        : blockHeaderHex(entry);
    },
  },
  getblock: {
    params: ["blockhash", "verbosity"],
    run: ([blockhash, verbosity], context) => {
      const hash = parseHashArg(blockhash, "blockhash", usage("getblock", ["blockhash"]));
      const level = typeof verbosity === "boolean"
        ? (verbosity ? 1 : 0)
        : optionalInt(verbosity, 1);
      const entry = findBlock(context, hash);
      if (level <= 0) return toHex(entry.bytes);
      return blockJson(context.node.chain, entry, level === 1 ? 1 : 2);
    },
  },
  validateaddress: {
    params: ["address"],
    run: ([address]) =>
      validateAddress(requireString(address, usage("validateaddress", ["address"]))),
  },
  getmininginfo: {
    params: [],
    run: (_, context) => {
      const { node } = context;
      const tip = node.chain.tip;
      const nextBits = node.chain.expectedBits(tip);
      const info: Record<string, unknown> = { blocks: node.chain.height };
      if (node.lastTemplate) {
        info.currentblockweight = node.lastTemplate.weight;
        info.currentblocktx = node.lastTemplate.txCount;
      }
      Object.assign(info, {
        bits: bitsToHex(tip.block.header.bits),
        difficulty: bitsToDifficulty(tip.block.header.bits),
        target: targetToHex(bitsToTarget(tip.block.header.bits)),
        networkhashps: 0,
        pooledtx: node.mempool.size,
        chain: "regtest",
        next: {
          height: tip.height + 1,
          bits: bitsToHex(nextBits),
          difficulty: bitsToDifficulty(nextBits),
          target: targetToHex(bitsToTarget(nextBits)),
        },
        warnings: [],
      });
      return info;
    },
  },
  generatetoaddress: {
    params: ["nblocks", "address", "maxtries"],
    run: async ([nblocks, address, maxtries], context) => {
      const names = ["nblocks", "address"];
      const count = requireInt(nblocks, usage("generatetoaddress", names));
      const text = requireString(address, usage("generatetoaddress", names));
      const tries = optionalInt(maxtries, DEFAULT_MAX_TRIES);
      const decoded = decodeAddress(text);
      if (!decoded.ok) throw new RpcError(RpcCode.INVALID_ADDRESS_OR_KEY, "Error: Invalid address");
      return await context.node.mineBlocks(count, decoded.destination.script, tries);
    },
  },
  getnetworkinfo: {
    params: [],
    run: () => ({
      version: CORE_VERSION,
      subversion: SUBVERSION,
      protocolversion: 70016,
      localservices: "0000000000000c09",
      localservicesnames: ["NETWORK", "WITNESS", "NETWORK_LIMITED", "P2P_V2"],
      localrelay: true,
      timeoffset: 0,
      networkactive: true,
      connections: 0,
      connections_in: 0,
      connections_out: 0,
      networks: [],
      relayfee: 0.00001,
      incrementalfee: 0.00001,
      localaddresses: [],
      warnings: [],
    }),
  },
  getrawmempool: {
    params: ["verbose", "mempool_sequence"],
    run: ([verbose], context) => {
      const { mempool } = context.node;
      if (!optionalBool(verbose, false)) return mempool.entries().map((entry) => entry.tx.txid);
      const result: Record<string, unknown> = {};
      for (const entry of mempool.entries()) {
        const fee = satsToBtc(entry.feeSats);
        result[entry.tx.txid] = {
          vsize: Math.ceil(entry.tx.weight / 4),
          weight: entry.tx.weight,
          time: entry.timeSec,
          height: entry.height,
          fees: { base: fee, modified: fee },
          depends: [...entry.parents],
          spentby: mempool.childrenOf(entry.tx.txid),
          "bip125-replaceable": entry.tx.inputs.some((input) => input.sequence < 0xfffffffe),
          unbroadcast: false,
          wtxid: entry.tx.wtxid,
        };
      }
      return result;
    },
  },
  getmempoolinfo: {
    params: [],
    run: (_, context) => {
      const entries = context.node.mempool.entries();
      const bytes = entries.reduce((sum, entry) => sum + Math.ceil(entry.tx.weight / 4), 0);
      const fees = entries.reduce((sum, entry) => sum + entry.feeSats, 0n);
      return {
        loaded: true,
        size: entries.length,
        bytes,
        usage: bytes * 4,
        total_fee: satsToBtc(fees),
        maxmempool: 300_000_000,
        mempoolminfee: 0.00001,
        minrelaytxfee: 0.00001,
        incrementalrelayfee: 0.00001,
        unbroadcastcount: 0,
        fullrbf: true,
      };
    },
  },
  getconnectioncount: { params: [], run: () => 0 },
  ping: { params: [], run: () => null },
  uptime: {
    params: [],
    run: (_, context) => Math.floor((Date.now() - context.startedAtMs) / 1000),
  },
};

function proposal(request: Record<string, unknown>, context: RpcContext): string | null {
  if (typeof request.data !== "string") {
    throw new RpcError(RpcCode.TYPE_ERROR, "Missing data String key for proposal");
  }
  return context.node.proposeBlock(request.data);
}

/**
 * Runs one method.
 *
 * @throws {RpcError} -32601 "Method not found" for unknown methods, or the method's error.
 */
export async function callMethod(
  method: string,
  params: unknown,
  context: RpcContext,
): Promise<unknown> {
  const spec = Object.hasOwn(methods, method) ? methods[method] : undefined;
  if (!spec) throw new RpcError(RpcCode.METHOD_NOT_FOUND, "Method not found");
  const unimplemented = context.dialect.unimplemented.get(method);
  if (unimplemented !== undefined) throw new RpcError(unimplemented.code, unimplemented.message);
  const args = positional(params, spec.params);
  const result = await spec.run(args, context);
  const shaped = context.dialect.shape(method, result === undefined ? null : result, {
    initialBlockDownload: context.node.initialBlockDownload,
    nowS: context.node.nowSeconds(),
    params: args,
  });
  return shaped === undefined ? null : shaped;
}
