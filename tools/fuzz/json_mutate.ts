/**
 * Structure-aware mutation of JSON inputs: parse, change one node of the tree (its type, its
 * value, a key, the array around it), serialise. Byte mutations rarely keep JSON valid, so
 * without this the fuzzer would mostly test JSON.parse rather than the validation behind it.
 */
import type { Rng } from "./rng.ts";

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

const decoder = new TextDecoder();
const encoder = new TextEncoder();

/** Values that have broken JSON consumers: wrong types, boundaries, huge and odd strings. */
function randomValue(rng: Rng, strings: readonly string[], depth = 0): Json {
  switch (rng.below(depth > 2 ? 6 : 9)) {
    case 0:
      return null;
    case 1:
      return rng.chance(0.5);
    case 2:
      return rng.pick([
        0,
        -0,
        1,
        -1,
        0.5,
        1e308,
        -1e308,
        5e-324,
        2 ** 31,
        2 ** 32,
        2 ** 53,
        2 ** 53 + 2,
        -(2 ** 53),
        4294967295,
        rng.u32(),
      ]);
    case 3:
      return rng.pick(strings);
    case 4:
      return hexString(rng, rng.pick([0, 1, 2, 7, 8, 9, 15, 16, 17, 63, 64, 65, 200]));
    case 5:
      return rng.pick([
        "",
        " ",
        "\u0000",
        "\u202e",
        "\ud800",
        "x".repeat(1 + rng.below(300)),
        "0x10",
        "1e308",
        "NaN",
        "-1",
        "__proto__",
        "constructor",
        "toString",
      ]);
    case 6:
      return Array.from({ length: rng.below(8) }, () => randomValue(rng, strings, depth + 1));
    case 7: {
      const o: { [key: string]: Json } = {};
      for (let i = rng.below(5); i > 0; i--) {
        o[rng.pick(strings)] = randomValue(rng, strings, depth + 1);
      }
      return o;
    }
    default: {
      if (rng.chance(0.75)) return rng.pick(strings);
      // Deep nesting: the parser's and the validator's recursion.
      let v: Json = rng.pick(strings);
      for (let i = rng.below(2000); i > 0; i--) v = rng.chance(0.5) ? [v] : { a: v };
      return v;
    }
  }
}

function hexString(rng: Rng, chars: number): string {
  let s = "";
  for (let i = 0; i < chars; i++) {
    s += "0123456789abcdefABCDEFg"[rng.below(rng.chance(0.9) ? 16 : 23)];
  }
  return s;
}

/** Every node of the tree, as [container, key] pairs (the root is [null, null]). */
function nodes(
  root: Json,
): Array<[Json[] | { [key: string]: Json } | null, string | number | null]> {
  const out: Array<[Json[] | { [key: string]: Json } | null, string | number | null]> = [[
    null,
    null,
  ]];
  const stack: Json[] = [root];
  while (stack.length > 0 && out.length < 4096) {
    const node = stack.pop()!;
    if (Array.isArray(node)) {
      node.forEach((child, i) => {
        out.push([node, i]);
        stack.push(child);
      });
    } else if (node !== null && typeof node === "object") {
      for (const key of Object.keys(node)) {
        out.push([node, key]);
        stack.push(node[key]!);
      }
    }
  }
  return out;
}

/**
 * Mutates one node of a JSON document; null when `input` is not JSON.
 *
 * @param strings keys and string values worth trying (method names, option keys, hex fields)
 */
export function mutateJson(
  input: Uint8Array,
  rng: Rng,
  strings: readonly string[],
): Uint8Array | null {
  let root: Json;
  try {
    root = JSON.parse(decoder.decode(input)) as Json;
  } catch {
    return null;
  }
  const rounds = 1 + rng.below(3);
  for (let r = 0; r < rounds; r++) {
    const all = nodes(root);
    const [parent, key] = rng.pick(all);
    const replacement = randomValue(rng, strings);
    if (parent === null) {
      root = rng.chance(0.5) ? replacement : [root];
      continue;
    }
    if (Array.isArray(parent)) {
      const i = key as number;
      switch (rng.below(5)) {
        case 0:
          parent.splice(i, 1);
          break;
        case 1:
          parent.splice(i, 0, replacement);
          break;
        case 2:
          parent.push(parent[i]!);
          break;
        default:
          parent[i] = replacement;
      }
    } else {
      const k = key as string;
      switch (rng.below(5)) {
        case 0:
          delete parent[k];
          break;
        case 1: {
          const value = parent[k]!;
          delete parent[k];
          parent[rng.pick(strings)] = value;
          break;
        }
        case 2:
          parent[rng.pick(strings)] = replacement;
          break;
        default:
          parent[k] = replacement;
      }
    }
  }
  let text = JSON.stringify(root);
  // Shapes JSON.stringify never writes but a miner may: duplicate keys, odd whitespace.
  if (rng.chance(0.05) && text.startsWith("{") && text.length > 2) {
    text = `{"${rng.pick(strings)}":${JSON.stringify(randomValue(rng, strings))},${text.slice(1)}`;
  }
  if (rng.chance(0.05)) text = text.replaceAll(",", rng.pick([", ", ",\t", " ,\r"]));
  return encoder.encode(text);
}
