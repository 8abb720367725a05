/**
 * The devnet: a bitcoind-compatible regtest double for tests and the demo. It starts from the
 * real regtest genesis, mines an initial chain to its own wallet, keeps a mempool of signed
 * P2WPKH and P2PKH spends, validates submitted blocks with Core's reject reasons, answers Core's
 * JSON-RPC over HTTP and publishes Core's ZMQ hashblock messages.
 *
 * Test support only: never imported by service code, and independent of shared/bitcoin.
 *
 * Core behaviours it reproduces (and pools must cope with):
 * - submitblock checks in Core's order: decode (-22), CheckBlock (high-hash, bad-txnmrklroot,
 *   bad-txns-duplicate, bad-blk-length, bad-cb-missing, bad-cb-multiple, CheckTransaction,
 *   bad-blk-sigops), known block ("duplicate"), prev-blk-not-found, bad-prevblk, header context
 *   (bad-diffbits, time-too-old, time-too-new, bad-version), block context (bad-txns-nonfinal,
 *   bad-cb-height, bad-witness-nonce-size, bad-witness-merkle-match, unexpected-witness,
 *   bad-blk-weight), then connect (bad-txns-inputs-missingorspent, premature coinbase spend,
 *   bad-txns-in-belowout, bad-blk-sigops, bad-cb-amount, script failures). A valid block that
 *   does not beat the tip's work is stored and answers "inconclusive".
 * - A coinbase with a witness commitment but no witness gets the zero reserved value filled in
 *   (Core's UpdateUncommittedBlockStructures), as Stratum pools rely on.
 * - While initial block download is set, getblocktemplate fails with -10 and no hashblock is
 *   published (Core skips ZMQ block notifications during IBD); while "not connected" is set it
 *   fails with -9.
 * - `dialect` makes it answer as Core (default), Core 0.21, Knots or btcd (dialect.ts).
 *
 * @example
 * ```ts
 * const devnet = await startDevnet({ bits: 0x1f00ffff });
 * // point the pool at devnet.rpcUrl / devnet.zmqUrl with devnet.user / devnet.password
 * await devnet.mineExternalBlock();
 * await devnet.stop();
 * ```
 *
 * @module
 */
import { decodeAddress } from "./address.ts";
import { hashToDisplayHex, toHex } from "./bytes.ts";
import type { BlockEntry } from "./chain.ts";
import { REGTEST_POW_LIMIT_BITS, satsToBtc } from "./consensus.ts";
import { type ControlTarget, serveControl } from "./control_server.ts";
import { DevnetNode } from "./devnet_node.ts";
import { type Dialect, type DialectProfile, dialectProfile } from "./dialect.ts";
import { RpcServer } from "./rpc_server.ts";
import { scriptPubKeyJson } from "./tx_json.ts";
import { HashBlockPublisher } from "./zmq_publisher.ts";

/** Options of {@link startDevnet}; every field has a default. */
export interface DevnetOptions {
  /** RPC listen host (default 127.0.0.1). */
  readonly rpcHost?: string;
  /** RPC port; 0 (default) picks a free port. */
  readonly rpcPort?: number;
  /** RPC user (default "devnet"). */
  readonly user?: string;
  /** RPC password (default "devnet"). */
  readonly password?: string;
  /** ZMQ publisher port; 0 (default) picks a free port. Binds on the RPC host. */
  readonly zmqPort?: number;
  /** Control HTTP port; omitted (default) means no control listener, 0 picks a free port. */
  readonly controlPort?: number;
  /** nBits of blocks after the initial chain (default 0x207fffff, like regtest). */
  readonly bits?: number;
  /** Mempool size to keep (default 20). */
  readonly mempoolTarget?: number;
  /** Milliseconds since the epoch (default Date.now). */
  readonly clock?: () => number;
  /** Blocks mined at start with regtest bits (default 110, so coinbases are mature). */
  readonly initialChainLength?: number;
  /** Wallet key seed (default "tbg-devnet-wallet"). */
  readonly walletSeed?: string;
  /** Seed of fee rates and splits (default 1). */
  readonly randomSeed?: number;
  /** The node implementation to answer as (default "core"). */
  readonly dialect?: Dialect;
  /**
   * Leave `default_witness_commitment` out of templates, as a node that does not compute it
   * would: the pool must then compute it itself (default false).
   */
  readonly omitWitnessCommitment?: boolean;
}

/** A stored block as tests see it. */
export interface DevnetBlock {
  readonly hash: string;
  readonly height: number;
  readonly previousHash: string | null;
  readonly hex: string;
  readonly txids: readonly string[];
  readonly onActiveChain: boolean;
  readonly time: number;
  readonly bits: number;
}

/** A coinbase as tests see it. */
export interface DevnetCoinbase {
  readonly txid: string;
  readonly scriptSigHex: string;
  readonly witness: readonly string[];
  readonly outputs: readonly {
    readonly valueSats: bigint;
    readonly scriptHex: string;
    readonly address: string | null;
  }[];
}

/** Chain inspection for tests. */
export interface DevnetChainView {
  tipHeight(): number;
  tipHash(): string;
  /** A stored block (any branch) by display hash. */
  block(hash: string): DevnetBlock | undefined;
  /** The active-chain block at a height. */
  blockAtHeight(height: number): DevnetBlock | undefined;
  /** The coinbase of a stored block. */
  coinbase(hash: string): DevnetCoinbase | undefined;
  /** Txids in the mempool, parents first. */
  mempoolTxids(): string[];
}

/** A running devnet. */
export interface Devnet {
  readonly rpcUrl: string;
  readonly zmqUrl: string;
  /** Control endpoint URL, or null when started without one. */
  readonly controlUrl: string | null;
  readonly rpcPort: number;
  readonly user: string;
  readonly password: string;
  /** The devnet wallet's addresses. */
  readonly wallet: { readonly p2wpkhAddress: string; readonly p2pkhAddress: string };
  readonly chain: DevnetChainView;
  /** Number of hashblock messages published so far. */
  readonly zmqSequence: number;
  /** A competing block from "the network": new tip with mempool txs paying the devnet; returns its hash. */
  mineExternalBlock(): Promise<string>;
  /** Closes (true) or reopens on the same port (false) the RPC listener. */
  setUnreachable(unreachable: boolean): Promise<void>;
  /** What getblockchaininfo reports; while true getblocktemplate fails with -10 and ZMQ is quiet. */
  setInitialBlockDownload(value: boolean): void;
  /** While true getblocktemplate fails with -9 ("not connected"); everything else answers. */
  setNotConnected(value: boolean): void;
  /** The dialect the devnet answers as. */
  readonly dialect: Dialect;
  /** Mines blocks to an address (default: the devnet wallet); returns their hashes. */
  generate(count: number, address?: string): Promise<string[]>;
  /** Stops all listeners. Idempotent. */
  stop(): Promise<void>;
  /** Resolves after {@link Devnet.stop} finished (also when stopped over the control port). */
  readonly stopped: Promise<void>;
}

function blockView(node: DevnetNode, entry: BlockEntry): DevnetBlock {
  return {
    hash: entry.hashHex,
    height: entry.height,
    previousHash: entry.parent?.hashHex ?? null,
    hex: toHex(entry.bytes),
    txids: entry.block.txs.map((tx) => tx.txid),
    onActiveChain: node.chain.isActive(entry),
    time: entry.block.header.time,
    bits: entry.block.header.bits,
  };
}

function chainView(node: DevnetNode): DevnetChainView {
  return {
    tipHeight: () => node.chain.height,
    tipHash: () => node.chain.tip.hashHex,
    block: (hash) => {
      const entry = node.chain.get(hash);
      return entry ? blockView(node, entry) : undefined;
    },
    blockAtHeight: (height) => {
      const entry = node.chain.atHeight(height);
      return entry ? blockView(node, entry) : undefined;
    },
    coinbase: (hash) => {
      const tx = node.chain.get(hash)?.block.txs[0];
      if (!tx) return undefined;
      return {
        txid: tx.txid,
        scriptSigHex: toHex(tx.inputs[0]?.scriptSig ?? new Uint8Array(0)),
        witness: (tx.inputs[0]?.witness ?? []).map(toHex),
        outputs: tx.outputs.map((output) => {
          const json = scriptPubKeyJson(output.script);
          return {
            valueSats: output.valueSats,
            scriptHex: toHex(output.script),
            address: typeof json.address === "string" ? json.address : null,
          };
        }),
      };
    },
    mempoolTxids: () => node.mempool.entries().map((entry) => entry.tx.txid),
  };
}

/**
 * Starts a devnet in this process: mines the initial chain, fills the mempool, binds RPC, ZMQ
 * and (when `controlPort` is given) the control listener.
 *
 * @throws {Error} when a port cannot be bound.
 */
export async function startDevnet(options: DevnetOptions = {}): Promise<Devnet> {
  const host = options.rpcHost ?? "127.0.0.1";
  const user = options.user ?? "devnet";
  const password = options.password ?? "devnet";
  const node = await DevnetNode.create({
    bits: options.bits ?? REGTEST_POW_LIMIT_BITS,
    mempoolTarget: options.mempoolTarget ?? 20,
    clock: options.clock ?? Date.now,
    initialChainLength: options.initialChainLength ?? 110,
    walletSeed: options.walletSeed ?? "tbg-devnet-wallet",
    randomSeed: options.randomSeed ?? 1,
  });
  const publisher = await HashBlockPublisher.bind(host, options.zmqPort ?? 0);
  node.onTipChanged((tip) => {
    if (!node.initialBlockDownload) void publisher.publish(tip.hashHex);
  });
  const profile = dialectProfile(options.dialect ?? "core");
  const dialect: DialectProfile = options.omitWitnessCommitment === true
    ? {
      ...profile,
      shape(method, result, state) {
        const shaped = profile.shape(method, result, state);
        if (method !== "getblocktemplate" || typeof shaped !== "object" || shaped === null) {
          return shaped;
        }
        const { default_witness_commitment: _omitted, ...rest } = shaped as Record<
          string,
          unknown
        >;
        return rest;
      },
    }
    : profile;
  const rpcServer: RpcServer = new RpcServer({
    hostname: host,
    port: options.rpcPort ?? 0,
    user,
    password,
    context: { node, startedAtMs: Date.now(), interrupted: () => rpcServer.closing(), dialect },
  });
  try {
    await rpcServer.open();
  } catch (error) {
    node.markStopped();
    await publisher.close();
    throw error;
  }

  const stopped = Promise.withResolvers<void>();
  let stopping: Promise<void> | null = null;
  let control: { server: Deno.HttpServer<Deno.NetAddr>; port: number } | null = null;
  // The control target calls into `devnet`, which is assigned below before any request can arrive.
  let devnet: Devnet | null = null;
  const self = (): Devnet => {
    if (!devnet) throw new Error("Cannot use devnet: still starting");
    return devnet;
  };
  if (options.controlPort !== undefined) {
    const target: ControlTarget = {
      mineExternalBlock: () => self().mineExternalBlock(),
      setUnreachable: (value) => self().setUnreachable(value),
      setInitialBlockDownload: (value) => self().setInitialBlockDownload(value),
      setNotConnected: (value) => self().setNotConnected(value),
      status: () => ({
        dialect: profile.name,
        notConnected: node.notConnected,
        height: node.chain.height,
        bestblockhash: node.chain.tip.hashHex,
        mempool: node.mempool.size,
        rpcOpen: rpcServer.isOpen,
        initialblockdownload: node.initialBlockDownload,
        zmqSequence: publisher.sequence,
        tipCoinbaseBtc: satsToBtc(
          node.chain.tip.block.txs[0]?.outputs.reduce((sum, o) => sum + o.valueSats, 0n) ?? 0n,
        ),
        tipPrevHash: hashToDisplayHex(node.chain.tip.block.header.prevHash),
      }),
      requestStop: () => void self().stop(),
    };
    try {
      control = serveControl(host, options.controlPort, target);
    } catch (error) {
      node.markStopped();
      await rpcServer.close();
      await publisher.close();
      throw error;
    }
  }
  const controlServer = control;

  devnet = {
    rpcUrl: `http://${host}:${rpcServer.port}`,
    zmqUrl: publisher.endpoint,
    controlUrl: controlServer ? `http://${host}:${controlServer.port}` : null,
    rpcPort: rpcServer.port,
    user,
    password,
    wallet: { p2wpkhAddress: node.wallet.p2wpkhAddress, p2pkhAddress: node.wallet.p2pkhAddress },
    chain: chainView(node),
    get zmqSequence() {
      return publisher.sequence;
    },
    async mineExternalBlock() {
      const [hash] = await node.mineBlocks(1, node.wallet.p2wpkhScript, Number.MAX_SAFE_INTEGER);
      if (!hash) throw new Error("Cannot mine external block: devnet stopped");
      return hash;
    },
    async setUnreachable(unreachable) {
      if (unreachable) await rpcServer.close();
      else await rpcServer.open();
    },
    setInitialBlockDownload(value) {
      node.initialBlockDownload = value;
    },
    setNotConnected(value) {
      node.notConnected = value;
    },
    dialect: profile.name,
    async generate(count, address) {
      if (address === undefined) {
        return await node.mineBlocks(count, node.wallet.p2wpkhScript, Number.MAX_SAFE_INTEGER);
      }
      const decoded = decodeAddress(address);
      if (!decoded.ok) throw new TypeError(`Cannot generate to ${address}: ${decoded.error}`);
      return await node.mineBlocks(count, decoded.destination.script, Number.MAX_SAFE_INTEGER);
    },
    stop() {
      stopping ??= (async () => {
        node.markStopped();
        await rpcServer.close();
        if (controlServer) await controlServer.server.shutdown();
        await publisher.close();
        stopped.resolve();
      })();
      return stopping;
    },
    stopped: stopped.promise,
  };

  return devnet;
}
