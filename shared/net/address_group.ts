/**
 * Groups peer addresses for per-IP limits. An IPv4 address is one subscriber; an IPv6
 * subscriber usually holds a whole /64 (often a /56 or /48), 2^64 addresses or more, so
 * counting each IPv6 address separately lets one host open unlimited "per-IP" connections.
 * {@linkcode addressGroupKey} maps an address to the prefix it is counted under.
 *
 * @module
 */

/** Prefix lengths addresses are grouped by. */
export interface AddressGrouping {
  /** IPv4 addresses sharing this many leading bits count as one (32: each address alone). */
  readonly ipv4PrefixLength: number;
  /** IPv6 addresses sharing this many leading bits count as one (64: one subscriber's LAN). */
  readonly ipv6PrefixLength: number;
}

/** The grouping used when the config says nothing: each IPv4 address, each IPv6 /64. */
export const DEFAULT_ADDRESS_GROUPING: AddressGrouping = Object.freeze({
  ipv4PrefixLength: 32,
  ipv6PrefixLength: 64,
});

/**
 * Parses a dotted-quad IPv4 address (four decimal parts 0–255, no leading zeros, as inet_pton).
 *
 * @returns the address as an unsigned 32-bit number, or undefined when `text` is not one.
 */
export function parseIpv4(text: string): number | undefined {
  const parts = text.split(".");
  if (parts.length !== 4) return undefined;
  let value = 0;
  for (const part of parts) {
    if (!/^(0|[1-9][0-9]{0,2})$/.test(part)) return undefined;
    const octet = Number(part);
    if (octet > 255) return undefined;
    value = value * 256 + octet;
  }
  return value;
}

/**
 * Parses an IPv6 address in any RFC 4291 textual form: full, `::`-compressed, with an embedded
 * dotted-quad tail (`::ffff:192.0.2.1`), in brackets (`[::1]`), with a zone id (`fe80::1%eth0`,
 * dropped: the zone names a local interface, not part of the address).
 *
 * @returns the eight 16-bit groups, or undefined when `text` is not an IPv6 address.
 */
export function parseIpv6(text: string): Uint16Array | undefined {
  let body = text;
  if (body.startsWith("[") && body.endsWith("]")) body = body.slice(1, -1);
  const zone = body.indexOf("%");
  if (zone !== -1) {
    if (zone === body.length - 1) return undefined;
    body = body.slice(0, zone);
  }
  if (body.length === 0 || body.length > 45) return undefined;

  // A dotted-quad tail (the last 32 bits) becomes two hex groups, leaving one grammar to parse.
  const lastColon = body.lastIndexOf(":");
  if (lastColon === -1) return undefined;
  const last = body.slice(lastColon + 1);
  if (last.includes(".")) {
    const v4 = parseIpv4(last);
    if (v4 === undefined) return undefined;
    body = `${body.slice(0, lastColon + 1)}${(v4 >>> 16).toString(16)}:${
      (v4 & 0xffff).toString(16)
    }`;
  }

  const halves = body.split("::");
  if (halves.length > 2) return undefined;
  const head = hexGroups(halves[0]!);
  const rest = halves.length === 2 ? hexGroups(halves[1]!) : [];
  if (head === undefined || rest === undefined) return undefined;
  const explicit = head.length + rest.length;
  // Without "::" all eight groups are written; "::" stands for one or more zero groups.
  if (halves.length === 1 ? explicit !== 8 : explicit > 7) return undefined;
  const groups = new Uint16Array(8);
  groups.set(head, 0);
  groups.set(rest, 8 - rest.length);
  return groups;
}

/** Colon-separated groups of 1–4 hex digits ("" is none), or undefined when malformed. */
function hexGroups(part: string): number[] | undefined {
  if (part === "") return [];
  const out: number[] = [];
  for (const group of part.split(":")) {
    if (!/^[0-9a-fA-F]{1,4}$/.test(group)) return undefined;
    out.push(parseInt(group, 16));
  }
  return out;
}

/** The IPv4 address inside an IPv4-mapped IPv6 address (`::ffff:a.b.c.d`), else undefined. */
function mappedIpv4(groups: Uint16Array): number | undefined {
  for (let i = 0; i < 5; i++) if (groups[i] !== 0) return undefined;
  if (groups[5] !== 0xffff) return undefined;
  return groups[6]! * 0x10000 + groups[7]!;
}

function ipv4Key(value: number, prefixLength: number): string {
  const masked = prefixLength === 0 ? 0 : (value & (0xffffffff << (32 - prefixLength))) >>> 0;
  const text = `${masked >>> 24}.${(masked >>> 16) & 0xff}.${(masked >>> 8) & 0xff}.${
    masked & 0xff
  }`;
  return prefixLength === 32 ? text : `${text}/${prefixLength}`;
}

function ipv6Key(groups: Uint16Array, prefixLength: number): string {
  const parts: string[] = [];
  for (let i = 0; i < 8; i++) {
    const bitsLeft = prefixLength - i * 16;
    const mask = bitsLeft >= 16 ? 0xffff : bitsLeft <= 0 ? 0 : (0xffff << (16 - bitsLeft)) & 0xffff;
    parts.push((groups[i]! & mask).toString(16));
  }
  return `${parts.join(":")}/${prefixLength}`;
}

/**
 * Checks a grouping's prefix lengths.
 *
 * @throws {RangeError} when a length is not an integer within its address family's bits.
 */
export function validateAddressGrouping(grouping: AddressGrouping): void {
  const { ipv4PrefixLength: v4, ipv6PrefixLength: v6 } = grouping;
  if (!Number.isInteger(v4) || v4 < 0 || v4 > 32) {
    throw new RangeError(`Cannot group addresses: IPv4 prefix length ${v4} is not in [0, 32]`);
  }
  if (!Number.isInteger(v6) || v6 < 0 || v6 > 128) {
    throw new RangeError(`Cannot group addresses: IPv6 prefix length ${v6} is not in [0, 128]`);
  }
}

/**
 * The key a peer address is counted under: its IPv4 prefix (`198.51.100.7` at /32,
 * `198.51.100.0/24` at /24) or its IPv6 prefix with host bits cleared (`2001:db8:0:1:0:0:0:0/64`).
 * An IPv4-mapped IPv6 address (a dual-stack listener's view of an IPv4 peer) counts as the IPv4
 * address, so the same host is one entry whichever listener it reached.
 *
 * @param address a peer address as a socket reports it.
 * @param grouping prefix lengths (lengths are trusted: see {@linkcode validateAddressGrouping}).
 * @returns the group key; text that is no IP address is returned as it is (its own group).
 */
export function addressGroupKey(address: string, grouping: AddressGrouping): string {
  const v4 = parseIpv4(address);
  if (v4 !== undefined) return ipv4Key(v4, grouping.ipv4PrefixLength);
  const v6 = parseIpv6(address);
  if (v6 === undefined) return address;
  const mapped = mappedIpv4(v6);
  if (mapped !== undefined) return ipv4Key(mapped, grouping.ipv4PrefixLength);
  return ipv6Key(v6, grouping.ipv6PrefixLength);
}
