/**
 * Every block candidate the pool finds is written to disk before anything can lose it: a block is
 * worth more than everything else the pool does in a week, and if no node can take it (all down,
 * a crash mid-submit) it must still reach the network while it can win the race, by the pool on
 * its next start or by the operator by hand. One file per block holding the serialized block as
 * hex (what `submitblock` takes), written to a temporary name, fsync'd and renamed, so a file
 * under a final name is always whole. The name says how far the block got:
 *
 * | file | meaning |
 * |---|---|
 * | `<height>-<hash>.pending.hex` | found, no node has given a verdict yet |
 * | `<height>-<hash>.accepted.hex` | a node accepted it |
 * | `<height>-<hash>.rejected.hex` | every node that answered refused it |
 * | `<height>-<hash>.undelivered.hex` | no node could be asked within the retry window |
 * | `<height>-<hash>.stale.hex` | still pending at a start, but the chain had moved past its height |
 *
 * @module
 */

/** How far a kept block got. */
export const FoundBlockState = {
  pending: "pending",
  accepted: "accepted",
  rejected: "rejected",
  undelivered: "undelivered",
  stale: "stale",
} as const;

/** One of {@link FoundBlockState}. */
export type FoundBlockState = typeof FoundBlockState[keyof typeof FoundBlockState];

const STATES = new Set<string>(Object.values(FoundBlockState));
const FILE_NAME = /^(\d{1,10})-([0-9a-f]{64})\.([a-z]+)\.hex$/;

/** A kept block as named on disk. */
export interface FoundBlockFile {
  readonly height: number;
  readonly hashHex: string;
  readonly state: FoundBlockState;
  readonly path: string;
}

/** The file name a block in `state` is kept under. */
export function foundBlockFileName(
  height: number,
  hashHex: string,
  state: FoundBlockState,
): string {
  return `${height}-${hashHex}.${state}.hex`;
}

/** Reads a kept block's name; null for any other file (temporary files, an operator's notes). */
export function parseFoundBlockFileName(name: string): Omit<FoundBlockFile, "path"> | null {
  const m = FILE_NAME.exec(name);
  if (m === null || !STATES.has(m[3]!)) return null;
  return { height: Number(m[1]), hashHex: m[2]!, state: m[3] as FoundBlockState };
}

/**
 * Writes the block's hex to `<dir>/<height>-<hash>.pending.hex` durably (creating `dir`),
 * replacing a file of the same name (the same block found twice is the same bytes).
 *
 * @returns the path written
 */
export async function saveFoundBlock(
  dir: string,
  height: number,
  hashHex: string,
  blockHex: string,
): Promise<string> {
  if (!/^[0-9a-f]{64}$/.test(hashHex)) {
    throw new TypeError(`Cannot keep block: hash ${JSON.stringify(hashHex)} is not 64 hex digits`);
  }
  if (!Number.isSafeInteger(height) || height < 0 || height > 9_999_999_999) {
    throw new TypeError(`Cannot keep block: ${height} is not a block height`);
  }
  await Deno.mkdir(dir, { recursive: true });
  const path = `${dir}/${foundBlockFileName(height, hashHex, FoundBlockState.pending)}`;
  const tmp = `${path}.${Deno.pid}.tmp`;
  const file = await Deno.open(tmp, { write: true, create: true, truncate: true, mode: 0o640 });
  try {
    const bytes = new TextEncoder().encode(`${blockHex}\n`);
    let written = 0;
    while (written < bytes.length) written += await file.write(bytes.subarray(written));
    await file.syncData();
  } catch (error) {
    file.close();
    // A disk that filled mid-write must not keep the partial copy: it holds space the next
    // attempt needs and is never renamed into a kept block.
    await Deno.remove(tmp).catch(() => {});
    throw error;
  }
  file.close();
  await Deno.rename(tmp, path);
  return path;
}

/**
 * Renames a kept block to say how far it got.
 *
 * @returns the new path
 */
export async function markFoundBlock(path: string, state: FoundBlockState): Promise<string> {
  const slash = path.lastIndexOf("/");
  const parsed = parseFoundBlockFileName(path.slice(slash + 1));
  if (parsed === null) throw new TypeError(`Cannot mark ${path}: not a kept block's file name`);
  const next = `${path.slice(0, slash)}/${
    foundBlockFileName(parsed.height, parsed.hashHex, state)
  }`;
  if (next !== path) await Deno.rename(path, next);
  return next;
}

/** The kept blocks still pending in `dir` (none when it does not exist), lowest height first. */
export async function pendingFoundBlocks(dir: string): Promise<FoundBlockFile[]> {
  const found: FoundBlockFile[] = [];
  try {
    for await (const entry of Deno.readDir(dir)) {
      if (!entry.isFile) continue;
      const parsed = parseFoundBlockFileName(entry.name);
      if (parsed?.state === FoundBlockState.pending) {
        found.push({ ...parsed, path: `${dir}/${entry.name}` });
      }
    }
  } catch (error: unknown) {
    if (error instanceof Deno.errors.NotFound) return [];
    throw error;
  }
  return found.sort((a, b) => a.height - b.height);
}

/** Reads a kept block's hex (the file's one line). */
export async function readFoundBlock(path: string): Promise<string> {
  const hex = (await Deno.readTextFile(path)).trim();
  if (hex.length < 160 || hex.length % 2 !== 0 || !/^[0-9a-f]+$/i.test(hex)) {
    throw new TypeError(`Cannot read kept block ${path}: not the hex of a serialized block`);
  }
  return hex;
}
