/**
 * The simulation's Bitcoin network: one devnet node per region, all on the same chain, and a
 * {@link DevnetLink} between every pair (block relay over P2P, with that pair's one-way delay).
 * A full mesh, so cutting one pair (a partition between two regions) still lets blocks reach
 * every node through the third, as the real Bitcoin network routes around one lost route.
 *
 * The nodes share their initial chain the way `startTwinDevnets` does it: the same seeds mined
 * under a clock held still until the last node has its chain.
 *
 * @module
 */
import { type Devnet, startDevnet } from "../devnet/mod.ts";
import { DevnetLink } from "../devnet_link.ts";

/** One link of the mesh and its one-way delay. */
export interface MeshLinkSpec {
  /** One region. */
  readonly a: string;
  /** The other region. */
  readonly b: string;
  /** One-way block relay delay, ms. */
  readonly delayMs: number;
}

/** Options of {@link startDevnetMesh}. */
export interface DevnetMeshOptions {
  /** Region slugs, one node each (at least one). */
  readonly regions: readonly string[];
  /** nBits of blocks after the initial chain. */
  readonly bits: number;
  /** Delay of each pair; a pair not listed is linked without delay. */
  readonly links?: readonly MeshLinkSpec[];
  /** Mempool size each node keeps (default 10: fewer signatures per block on two cores). */
  readonly mempoolTarget?: number;
  /** RPC user and password of every node (default `devnet`/`devnet`). */
  readonly user?: string;
  /** RPC password. */
  readonly password?: string;
}

/** State of one link. */
export interface MeshLinkState {
  readonly a: string;
  readonly b: string;
  readonly delayMs: number;
  readonly paused: boolean;
  /** Blocks relayed over it so far (both directions). */
  readonly relayed: number;
}

/** A running mesh. */
export interface DevnetMesh {
  /** The node of a region. @throws {RangeError} for an unknown region. */
  node(region: string): Devnet;
  /** Regions in the order given. */
  readonly regions: readonly string[];
  /** Stops relaying between two regions (both directions) until {@link resume}. */
  pause(a: string, b: string): void;
  /** Relays again between two regions, catching up on what was missed. */
  resume(a: string, b: string): void;
  /** Every link's state. */
  links(): MeshLinkState[];
  /** Stops every link and node. Idempotent. */
  stop(): Promise<void>;
}

function pairKey(a: string, b: string): string {
  return [a, b].sort().join("|");
}

/**
 * Starts one devnet per region on a shared initial chain and links every pair.
 *
 * @param options Regions, difficulty bits, link delays.
 * @returns The mesh.
 * @throws {RangeError} If no region is given, one repeats, or a link names an unknown region.
 * @throws {Error} If a node cannot start or the initial chains differ (everything is stopped).
 */
export async function startDevnetMesh(options: DevnetMeshOptions): Promise<DevnetMesh> {
  const regions = [...options.regions];
  if (regions.length === 0) throw new RangeError("Cannot start a devnet mesh without a region");
  if (new Set(regions).size !== regions.length) {
    throw new RangeError(`Cannot start a devnet mesh: a region repeats in ${regions.join(", ")}`);
  }
  const delays = new Map<string, number>();
  for (const link of options.links ?? []) {
    for (const region of [link.a, link.b]) {
      if (!regions.includes(region)) {
        throw new RangeError(`Cannot link devnet of unknown region "${region}"`);
      }
    }
    if (!(link.delayMs >= 0 && Number.isFinite(link.delayMs))) {
      throw new RangeError(`Cannot link ${link.a} and ${link.b}: delay ${link.delayMs} ms`);
    }
    delays.set(pairKey(link.a, link.b), link.delayMs);
  }

  const heldAt = Date.now();
  let held = true;
  const clock = () => held ? heldAt : Date.now();
  const nodes = new Map<string, Devnet>();
  try {
    for (const region of regions) {
      nodes.set(
        region,
        await startDevnet({
          bits: options.bits,
          clock,
          mempoolTarget: options.mempoolTarget ?? 10,
          user: options.user ?? "devnet",
          password: options.password ?? "devnet",
        }),
      );
    }
  } catch (error) {
    await Promise.all([...nodes.values()].map((node) => node.stop()));
    throw error;
  } finally {
    held = false;
  }
  const tips = new Set([...nodes.values()].map((node) => node.chain.tipHash()));
  if (tips.size !== 1) {
    await Promise.all([...nodes.values()].map((node) => node.stop()));
    throw new Error("Cannot start the devnet mesh: the initial chains differ");
  }

  const links = new Map<string, { a: string; b: string; link: DevnetLink; paused: boolean }>();
  for (let i = 0; i < regions.length; i++) {
    for (let j = i + 1; j < regions.length; j++) {
      const a = regions[i] as string;
      const b = regions[j] as string;
      const delayMs = delays.get(pairKey(a, b)) ?? 0;
      links.set(pairKey(a, b), {
        a,
        b,
        link: new DevnetLink(nodes.get(a) as Devnet, nodes.get(b) as Devnet, delayMs),
        paused: false,
      });
    }
  }

  const linkOf = (a: string, b: string) => {
    const entry = links.get(pairKey(a, b));
    if (entry === undefined) throw new RangeError(`Cannot find the devnet link ${a}–${b}`);
    return entry;
  };
  let stopping: Promise<void> | null = null;
  return {
    regions,
    node(region: string): Devnet {
      const node = nodes.get(region);
      if (node === undefined) {
        throw new RangeError(`Cannot find the devnet of "${region}": have ${regions.join(", ")}`);
      }
      return node;
    },
    pause(a, b) {
      const entry = linkOf(a, b);
      entry.link.pause();
      entry.paused = true;
    },
    resume(a, b) {
      const entry = linkOf(a, b);
      entry.link.resume();
      entry.paused = false;
    },
    links: () =>
      [...links.values()].map((entry) => ({
        a: entry.a,
        b: entry.b,
        delayMs: delays.get(pairKey(entry.a, entry.b)) ?? 0,
        paused: entry.paused,
        relayed: entry.link.relayed,
      })),
    stop() {
      stopping ??= (async () => {
        await Promise.all([...links.values()].map((entry) => entry.link.stop()));
        await Promise.all([...nodes.values()].map((node) => node.stop()));
      })();
      return stopping;
    },
  };
}
