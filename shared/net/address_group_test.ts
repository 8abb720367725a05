import assert from "node:assert/strict";
import { isIPv6 } from "node:net";
import fc from "fast-check";
import {
  addressGroupKey,
  DEFAULT_ADDRESS_GROUPING,
  parseIpv4,
  parseIpv6,
  validateAddressGrouping,
} from "./address_group.ts";

const groupsOf = (text: string): number[] | undefined => {
  const groups = parseIpv6(text);
  return groups === undefined ? undefined : [...groups];
};

Deno.test("parseIpv6() reads every textual form of RFC 4291", () => {
  const cases: [string, number[]][] = [
    ["::", [0, 0, 0, 0, 0, 0, 0, 0]],
    ["::1", [0, 0, 0, 0, 0, 0, 0, 1]],
    ["1::", [1, 0, 0, 0, 0, 0, 0, 0]],
    ["2001:db8::1", [0x2001, 0xdb8, 0, 0, 0, 0, 0, 1]],
    ["2001:0DB8:0000:0000:0000:ff00:0042:8329", [0x2001, 0xdb8, 0, 0, 0, 0xff00, 0x42, 0x8329]],
    ["2001:db8:0:0:1::1", [0x2001, 0xdb8, 0, 0, 1, 0, 0, 1]],
    ["1:2:3:4:5:6:7::", [1, 2, 3, 4, 5, 6, 7, 0]],
    ["::2:3:4:5:6:7:8", [0, 2, 3, 4, 5, 6, 7, 8]],
    ["::ffff:192.0.2.128", [0, 0, 0, 0, 0, 0xffff, 0xc000, 0x0280]],
    ["::ffff:c000:280", [0, 0, 0, 0, 0, 0xffff, 0xc000, 0x0280]],
    ["::192.0.2.1", [0, 0, 0, 0, 0, 0, 0xc000, 0x0201]],
    ["64:ff9b::198.51.100.7", [0x64, 0xff9b, 0, 0, 0, 0, 0xc633, 0x6407]],
    ["1:2:3:4:5:6:1.2.3.4", [1, 2, 3, 4, 5, 6, 0x0102, 0x0304]],
    ["fe80::1%eth0", [0xfe80, 0, 0, 0, 0, 0, 0, 1]],
    ["fe80::1%25", [0xfe80, 0, 0, 0, 0, 0, 0, 1]],
    ["[2001:db8::7]", [0x2001, 0xdb8, 0, 0, 0, 0, 0, 7]],
    ["[fe80::a%lo]", [0xfe80, 0, 0, 0, 0, 0, 0, 0xa]],
  ];
  for (const [text, groups] of cases) assert.deepEqual(groupsOf(text), groups, text);
});

Deno.test("parseIpv6() refuses what is not an IPv6 address", () => {
  for (
    const text of [
      "",
      ":",
      ":::",
      "1:::2",
      "1::2::3",
      ":1:2:3:4:5:6:7",
      "1:2:3:4:5:6:7:",
      "1:2:3:4:5:6:7",
      "1:2:3:4:5:6:7:8:9",
      "1:2:3:4:5:6:7:8::",
      "::1:2:3:4:5:6:7:8",
      "12345::",
      "g::1",
      "::ffff:1.2.3",
      "::ffff:1.2.3.256",
      "::ffff:01.2.3.4",
      "1.2.3.4::",
      "::1.2.3.4:5",
      "1:2:3:4:5:6:7:1.2.3.4",
      "fe80::1%",
      "192.0.2.1",
      "example.com",
      "[::1",
    ]
  ) {
    assert.equal(parseIpv6(text), undefined, text);
  }
});

Deno.test("parseIpv4() takes dotted quads only, without leading zeros", () => {
  assert.equal(parseIpv4("0.0.0.0"), 0);
  assert.equal(parseIpv4("255.255.255.255"), 0xffffffff);
  assert.equal(parseIpv4("198.51.100.7"), 0xc6336407);
  for (const text of ["1.2.3", "1.2.3.4.5", "256.1.1.1", "01.2.3.4", "1.2.3.-4", "a.b.c.d", ""]) {
    assert.equal(parseIpv4(text), undefined, text);
  }
});

Deno.test("parseIpv6() agrees with node:net and the URL parser on random addresses", () => {
  const group = fc.integer({ min: 0, max: 0xffff });
  fc.assert(
    fc.property(
      fc.array(group, { minLength: 8, maxLength: 8 }),
      fc.boolean(),
      fc.boolean(),
      (groups, upper, dottedTail) => {
        let text = groups.map((g) => g.toString(16)).join(":");
        if (dottedTail) {
          const [a, b] = [groups[6]!, groups[7]!];
          text = `${groups.slice(0, 6).map((g) => g.toString(16)).join(":")}:${a >>> 8}.${
            a & 0xff
          }.${b >>> 8}.${b & 0xff}`;
        }
        if (upper) text = text.toUpperCase();
        assert.deepEqual(groupsOf(text), groups, text);
        // The URL parser compresses to the canonical form; that form must read back the same.
        const canonical = new URL(`http://[${text}]/`).hostname.slice(1, -1);
        assert.deepEqual(groupsOf(canonical), groups, canonical);
      },
    ),
    { numRuns: 2_000 },
  );
});

Deno.test("parseIpv6() accepts exactly what node:net isIPv6 accepts on colon-hex strings", () => {
  const text = fc.string({
    unit: fc.constantFrom("0", "1", "a", "F", ":", ":", ":", ".", "9", "2", "5"),
    maxLength: 24,
  });
  fc.assert(
    fc.property(text, (candidate) => {
      assert.equal(parseIpv6(candidate) !== undefined, isIPv6(candidate), candidate);
    }),
    { numRuns: 20_000 },
  );
});

Deno.test("addressGroupKey() groups IPv6 by /64 and keeps each IPv4 address by default", () => {
  const key = (address: string) => addressGroupKey(address, DEFAULT_ADDRESS_GROUPING);
  assert.equal(key("2001:db8:1:2:aaaa::1"), key("2001:db8:1:2:ffff:ffff:ffff:ffff"));
  assert.equal(key("2001:db8:1:2::1"), "2001:db8:1:2:0:0:0:0/64");
  assert.notEqual(key("2001:db8:1:2::1"), key("2001:db8:1:3::1"));
  assert.equal(key("[2001:DB8:1:2::9%eth0]"), key("2001:db8:1:2::1"));
  assert.equal(key("198.51.100.7"), "198.51.100.7");
  assert.notEqual(key("198.51.100.7"), key("198.51.100.8"));
});

Deno.test("addressGroupKey() counts an IPv4-mapped IPv6 address as the IPv4 address", () => {
  const key = (address: string) => addressGroupKey(address, DEFAULT_ADDRESS_GROUPING);
  assert.equal(key("::ffff:127.0.0.1"), "127.0.0.1");
  assert.equal(key("::FFFF:7f00:1"), "127.0.0.1");
  assert.equal(key("[::ffff:198.51.100.7]"), key("198.51.100.7"));
  // Only ::ffff:0:0/96 maps; the deprecated IPv4-compatible form and NAT64 stay IPv6.
  assert.equal(key("::198.51.100.7"), "0:0:0:0:0:0:0:0/64");
  assert.equal(key("64:ff9b::198.51.100.7"), "64:ff9b:0:0:0:0:0:0/64");
});

Deno.test("addressGroupKey() applies the configured prefix lengths", () => {
  const grouping = { ipv4PrefixLength: 24, ipv6PrefixLength: 48 };
  assert.equal(addressGroupKey("198.51.100.7", grouping), "198.51.100.0/24");
  assert.equal(addressGroupKey("::ffff:198.51.100.250", grouping), "198.51.100.0/24");
  assert.equal(addressGroupKey("2001:db8:1:ffff::1", grouping), "2001:db8:1:0:0:0:0:0/48");
  const exact = { ipv4PrefixLength: 32, ipv6PrefixLength: 128 };
  assert.equal(addressGroupKey("2001:db8::1", exact), "2001:db8:0:0:0:0:0:1/128");
  assert.notEqual(addressGroupKey("2001:db8::1", exact), addressGroupKey("2001:db8::2", exact));
  const odd = { ipv4PrefixLength: 20, ipv6PrefixLength: 57 };
  assert.equal(addressGroupKey("10.1.255.255", odd), "10.1.240.0/20");
  assert.equal(addressGroupKey("2001:db8:1:ff:ffff::", odd), "2001:db8:1:80:0:0:0:0/57");
  assert.equal(addressGroupKey("10.1.2.3", { ...odd, ipv4PrefixLength: 0 }), "0.0.0.0/0");
});

Deno.test("addressGroupKey() keeps text that is no IP address as its own key", () => {
  assert.equal(addressGroupKey("example.invalid", DEFAULT_ADDRESS_GROUPING), "example.invalid");
});

Deno.test("validateAddressGrouping() refuses lengths beyond the family's bits", () => {
  validateAddressGrouping({ ipv4PrefixLength: 32, ipv6PrefixLength: 128 });
  for (
    const bad of [
      { ipv4PrefixLength: 33, ipv6PrefixLength: 64 },
      { ipv4PrefixLength: 32, ipv6PrefixLength: 129 },
      { ipv4PrefixLength: 32, ipv6PrefixLength: 64.5 },
      { ipv4PrefixLength: -1, ipv6PrefixLength: 64 },
    ]
  ) {
    assert.throws(() => validateAddressGrouping(bad), RangeError);
  }
});
