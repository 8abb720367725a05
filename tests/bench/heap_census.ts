/**
 * Heap census: a V8 heap snapshot (the JSON the inspector streams) reduced to count and self size
 * per kind of object, and the difference of two censuses per connection. idle_memory's --profile
 * runs print the largest differences, so what each idle miner holds in the JS heap is read from a
 * real pool rather than estimated.
 */

/** Objects of one kind: how many and their self size in bytes. */
export interface CensusEntry {
  count: number;
  bytes: number;
}

/** Kind (node type and, except for strings and numbers, constructor or name) to entry. */
export type Census = Map<string, CensusEntry>;

interface SnapshotJson {
  snapshot: { meta: { node_fields: string[]; node_types: unknown[] } };
  nodes: number[];
  strings: string[];
}

/** Node types whose name is their content (a string's text), not a kind. */
const CONTENT_NAMED = new Set(["string", "concatenated string", "sliced string", "number"]);

/** Longest name kept in a kind (closures' names, code names). */
const MAX_NAME = 60;

/** Reduces a heap snapshot's JSON text to a census. */
export function heapCensus(snapshotText: string): Census {
  const snapshot = JSON.parse(snapshotText) as SnapshotJson;
  const fields = snapshot.snapshot.meta.node_fields;
  const typeNames = snapshot.snapshot.meta.node_types[0] as string[];
  const width = fields.length;
  const typeAt = fields.indexOf("type");
  const nameAt = fields.indexOf("name");
  const sizeAt = fields.indexOf("self_size");
  const census: Census = new Map();
  const nodes = snapshot.nodes;
  for (let i = 0; i + width <= nodes.length; i += width) {
    const type = typeNames[nodes[i + typeAt]!] ?? "?";
    const name = CONTENT_NAMED.has(type)
      ? ""
      : (snapshot.strings[nodes[i + nameAt]!] ?? "").slice(0, MAX_NAME);
    const kind = name === "" ? type : `${type}: ${name}`;
    const entry = census.get(kind);
    if (entry === undefined) census.set(kind, { count: 1, bytes: nodes[i + sizeAt]! });
    else {
      entry.count++;
      entry.bytes += nodes[i + sizeAt]!;
    }
  }
  return census;
}

/** One kind's growth between two censuses, per unit (connection). */
export interface CensusGrowth {
  kind: string;
  countPerUnit: number;
  bytesPerUnit: number;
}

/** Growth per unit from `before` to `after`, largest byte growth first. */
export function censusGrowth(before: Census, after: Census, units: number): CensusGrowth[] {
  const kinds = new Set([...before.keys(), ...after.keys()]);
  const growth: CensusGrowth[] = [];
  for (const kind of kinds) {
    const b = before.get(kind) ?? { count: 0, bytes: 0 };
    const a = after.get(kind) ?? { count: 0, bytes: 0 };
    growth.push({
      kind,
      countPerUnit: (a.count - b.count) / units,
      bytesPerUnit: (a.bytes - b.bytes) / units,
    });
  }
  return growth.sort((x, y) => y.bytesPerUnit - x.bytesPerUnit);
}

/** Total self size of a census, bytes. */
export function censusBytes(census: Census): number {
  let total = 0;
  for (const entry of census.values()) total += entry.bytes;
  return total;
}
