/**
 * Two devnet nodes on one chain, the way two Bitcoin Core nodes in different regions share the
 * network: {@link startTwinDevnets} starts them with the identical initial chain and mempool (same
 * seeds, a clock held still while they mine it), and a {@link DevnetLink} relays every new block
 * from one to the other by `submitblock`, like block relay over P2P, after an optional delay.
 * Pausing the link lets a test make a block appear on one node first.
 *
 * Test support only.
 *
 * @module
 */
import { type Devnet, type DevnetOptions, startDevnet } from "./devnet/mod.ts";
import { blockFromTemplate, headerBytes } from "./miner/block_assembly.ts";
import { extranonceBytes, fetchTemplate, payoutScriptFor } from "./miner/gbt_miner.ts";
import { grindNonce, MAX_NONCE } from "./miner/grind.ts";
import { rpcCall, type RpcEndpoint } from "./miner/rpc_client.ts";

/** How often the link looks for new tips, ms. */
const POLL_MS = 20;
/** Most blocks relayed in one catch-up (bounds the walk back to a common ancestor). */
const MAX_CATCH_UP_BLOCKS = 500;
/** Nonces ground between yields to the event loop (a few milliseconds of hashing). */
const GRIND_BATCH = 20_000;

function endpoint(devnet: Devnet): RpcEndpoint {
  return { url: devnet.rpcUrl, user: devnet.user, password: devnet.password };
}

/** Relays blocks between two devnets in both directions until stopped. */
export class DevnetLink {
  readonly #a: Devnet;
  readonly #b: Devnet;
  #delayMs: number;
  #paused = false;
  #running = true;
  readonly #loop: Promise<void>;
  /** When a tip was first seen on its node, by hash, for the relay delay. */
  readonly #seenAt = new Map<string, number>();
  /** Blocks relayed so far (both directions). */
  relayed = 0;

  /**
   * @param a one node
   * @param b the other node
   * @param delayMs how long a new tip waits before it is relayed (one-way latency)
   */
  constructor(a: Devnet, b: Devnet, delayMs = 0) {
    this.#a = a;
    this.#b = b;
    this.#delayMs = delayMs;
    this.#loop = this.#run();
  }

  /** Changes the relay delay. */
  set delayMs(ms: number) {
    this.#delayMs = ms;
  }

  /** Stops relaying (a partition) until {@link resume}. */
  pause(): void {
    this.#paused = true;
  }

  /** Relays again, catching up on what was missed. */
  resume(): void {
    this.#paused = false;
  }

  /** Resolves once both nodes have the same tip (bounded). */
  async waitInSync(timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.#a.chain.tipHash() !== this.#b.chain.tipHash()) {
      if (Date.now() > deadline) {
        throw new Error(
          `Cannot sync devnets: tips ${this.#a.chain.tipHeight()} and ${this.#b.chain.tipHeight()} after ${timeoutMs} ms`,
        );
      }
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
  }

  /** Stops the link. */
  async stop(): Promise<void> {
    this.#running = false;
    await this.#loop;
  }

  async #run(): Promise<void> {
    while (this.#running) {
      if (!this.#paused) {
        await this.#relay(this.#a, this.#b).catch(() => undefined);
        await this.#relay(this.#b, this.#a).catch(() => undefined);
      }
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
  }

  /** Submits to `to` every block of `from`'s active chain that `to` lacks, oldest first. */
  async #relay(from: Devnet, to: Devnet): Promise<void> {
    const tip = from.chain.tipHash();
    if (to.chain.block(tip) !== undefined) return;
    const seen = this.#seenAt.get(tip) ?? Date.now();
    this.#seenAt.set(tip, seen);
    if (Date.now() - seen < this.#delayMs) return;
    const missing: string[] = [];
    let height = from.chain.tipHeight();
    while (missing.length < MAX_CATCH_UP_BLOCKS && height > 0) {
      const block = from.chain.blockAtHeight(height);
      if (block === undefined || to.chain.block(block.hash) !== undefined) break;
      missing.unshift(block.hex);
      height--;
    }
    for (const hex of missing) {
      if (!this.#running) return;
      await rpcCall(endpoint(to), "submitblock", [hex]);
      this.relayed++;
    }
  }
}

/** Two devnets with the identical chain and mempool, and the link between them. */
export interface TwinDevnets {
  readonly a: Devnet;
  readonly b: Devnet;
  readonly link: DevnetLink;
  /** Stops the link and both nodes. */
  stop(): Promise<void>;
}

/**
 * Starts two devnets that share their initial chain (same seeds, mined under a clock held at
 * one instant) and links them.
 *
 * @param options devnet options for both (clock, ports and seeds are set here)
 * @param delayMs the link's one-way delay
 */
export async function startTwinDevnets(
  options: Omit<DevnetOptions, "clock" | "rpcPort" | "zmqPort" | "controlPort"> = {},
  delayMs = 0,
): Promise<TwinDevnets> {
  const heldAt = Date.now();
  let held = true;
  const clock = () => held ? heldAt : Date.now();
  const a = await startDevnet({ ...options, clock });
  let b: Devnet;
  try {
    b = await startDevnet({ ...options, clock });
  } catch (error) {
    await a.stop();
    throw error;
  } finally {
    held = false;
  }
  if (a.chain.tipHash() !== b.chain.tipHash()) {
    await Promise.all([a.stop(), b.stop()]);
    throw new Error("Cannot start twin devnets: their initial chains differ");
  }
  const link = new DevnetLink(a, b, delayMs);
  return {
    a,
    b,
    link,
    async stop() {
      await link.stop();
      await Promise.all([a.stop(), b.stop()]);
    },
  };
}

/**
 * Mines a block "found by the network" on `devnet`: its template, a coinbase paying `address`,
 * a nonce ground in small batches that yield to the event loop (unlike the devnet's own
 * generate, which holds the process while it hashes), and submitblock.
 *
 * @returns the block's hash
 * @throws {Error} when the node refuses the block or no nonce fits (after the whole range)
 */
export async function mineBlockOn(devnet: Devnet, address: string): Promise<string> {
  const endpoint = { url: devnet.rpcUrl, user: devnet.user, password: devnet.password };
  const template = await fetchTemplate(endpoint);
  const built = blockFromTemplate(template, {
    payoutScript: payoutScriptFor(address),
    extranonce: extranonceBytes(Date.now()),
    tag: "/tbg-network/",
  });
  const header = headerBytes(built.block);
  for (let start = 0; start <= MAX_NONCE; start += GRIND_BATCH) {
    const nonce = grindNonce(header, built.target, start, GRIND_BATCH);
    if (nonce !== null) {
      built.block.nonce = nonce;
      const result = await rpcCall<string | null>(endpoint, "submitblock", [built.block.toHex()]);
      if (result !== null) throw new Error(`Cannot mine a network block: ${result}`);
      return built.block.getId();
    }
    await new Promise((r) => setTimeout(r, 0));
  }
  throw new Error("Cannot mine a network block: no nonce in range");
}
