import assert from "node:assert/strict";
import fc from "fast-check";
import { address as bjsAddress, networks as bjsNetworks, payments } from "bitcoinjs-lib";
import { bech32, bech32m } from "@scure/base";
import {
  addressBelongsTo,
  AddressError,
  type AddressErrorReason,
  addressToScriptPubKey,
  AddressType,
  decodeAddress,
  Network,
} from "./address.ts";
import { bytesToHex } from "./hex.ts";

const TB_NETWORKS = ["testnet", "testnet4", "signet"];
const BASE58_TEST_NETWORKS = ["testnet", "testnet4", "signet", "regtest"];

function assertReason(address: string, reason: AddressErrorReason, message?: RegExp): void {
  assert.throws(() => decodeAddress(address), (error: unknown) => {
    assert.ok(error instanceof AddressError, `${address}: ${error}`);
    assert.ok(error instanceof TypeError);
    assert.equal(error.name, "AddressError");
    assert.equal(error.reason, reason, `${address}: ${error.message}`);
    assert.match(error.message, /^Cannot decode address: /);
    if (message) assert.match(error.message, message);
    return true;
  }, address);
}

function assertScript(
  address: string,
  scriptHex: string,
  type: AddressType,
  networks: string[],
): void {
  const decoded = decodeAddress(address);
  assert.equal(decoded.address, address);
  assert.equal(bytesToHex(decoded.scriptPubKey), scriptHex, address);
  assert.equal(decoded.type, type, address);
  assert.deepEqual([...decoded.networks], networks, address);
}

// BIP173 "Test vectors", valid segwit addresses. BIP350 made v1+ with a bech32
// checksum invalid, so those now fail with wrong_bech32_variant.
Deno.test("decodeAddress() handles BIP173's valid address vectors under BIP350 rules", () => {
  assertScript(
    "BC1QW508D6QEJXTDG4Y5R3ZARVARY0C5XW7KV8F3T4",
    "0014751e76e8199196d454941c45d1b3a323f1433bd6",
    AddressType.p2wpkh,
    ["mainnet"],
  );
  assertScript(
    "tb1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3q0sl5k7",
    "00201863143c14c5166804bd19203356da136c985678cd4d27a1b8c6329604903262",
    AddressType.p2wsh,
    TB_NETWORKS,
  );
  assertScript(
    "tb1qqqqqp399et2xygdj5xreqhjjvcmzhxw4aywxecjdzew6hylgvsesrxh6hy",
    "0020000000c4a5cad46221b2a187905e5266362b99d5e91c6ce24d165dab93e86433",
    AddressType.p2wsh,
    TB_NETWORKS,
  );
  for (
    const address of [
      "bc1pw508d6qejxtdg4y5r3zarvary0c5xw7kw508d6qejxtdg4y5r3zarvary0c5xw7k7grplx",
      "BC1SW50QA3JX3S",
      "bc1zw508d6qejxtdg4y5r3zarvaryvg6kdaj",
    ]
  ) assertReason(address, "wrong_bech32_variant", /must use bech32m, not bech32$/);
});

Deno.test("decodeAddress() rejects BIP173's invalid address vectors for the right reason", () => {
  const cases: [string, AddressErrorReason][] = [
    ["tc1qw508d6qejxtdg4y5r3zarvary0c5xw7kg3g4ty", "unknown_prefix"],
    ["bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t5", "bad_checksum"],
    ["BC13W508D6QEJXTDG4Y5R3ZARVARY0C5XW7KN40WF2", "unsupported_witness_version"],
    ["bc1rw5uspcuh", "bad_program_length"],
    [
      "bc10w508d6qejxtdg4y5r3zarvary0c5xw7kw508d6qejxtdg4y5r3zarvary0c5xw7kw5rljs90",
      "bad_program_length",
    ],
    ["BC1QR508D6QEJXTDG4Y5R3ZARVARYV98GJ9P", "bad_program_length"],
    ["tb1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3q0sL5k7", "mixed_case"],
    ["bc1zw508d6qejxtdg4y5r3zarvaryvqyzf3du", "bad_encoding"],
    ["tb1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3pjxtptv", "bad_encoding"],
    ["bc1gmk9yu", "bad_encoding"],
  ];
  for (const [address, reason] of cases) assertReason(address, reason);
});

Deno.test("decodeAddress() maps BIP350's valid address vectors to their scriptPubKeys", () => {
  assertScript(
    "BC1QW508D6QEJXTDG4Y5R3ZARVARY0C5XW7KV8F3T4",
    "0014751e76e8199196d454941c45d1b3a323f1433bd6",
    AddressType.p2wpkh,
    ["mainnet"],
  );
  assertScript(
    "tb1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3q0sl5k7",
    "00201863143c14c5166804bd19203356da136c985678cd4d27a1b8c6329604903262",
    AddressType.p2wsh,
    TB_NETWORKS,
  );
  assertScript(
    "tb1qqqqqp399et2xygdj5xreqhjjvcmzhxw4aywxecjdzew6hylgvsesrxh6hy",
    "0020000000c4a5cad46221b2a187905e5266362b99d5e91c6ce24d165dab93e86433",
    AddressType.p2wsh,
    TB_NETWORKS,
  );
  assertScript(
    "tb1pqqqqp399et2xygdj5xreqhjjvcmzhxw4aywxecjdzew6hylgvsesf3hn0c",
    "5120000000c4a5cad46221b2a187905e5266362b99d5e91c6ce24d165dab93e86433",
    AddressType.p2tr,
    TB_NETWORKS,
  );
  assertScript(
    "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqzk5jj0",
    "512079be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798",
    AddressType.p2tr,
    ["mainnet"],
  );
  assert.equal(
    decodeAddress("bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqzk5jj0").witnessVersion,
    1,
  );
  assert.equal(decodeAddress("BC1QW508D6QEJXTDG4Y5R3ZARVARY0C5XW7KV8F3T4").witnessVersion, 0);
});

Deno.test("decodeAddress() refuses BIP350's valid addresses of types the pool does not pay", () => {
  for (
    const address of [
      "bc1pw508d6qejxtdg4y5r3zarvary0c5xw7kw508d6qejxtdg4y5r3zarvary0c5xw7kt5nd6y",
      "BC1SW50QGDZ25J",
      "bc1zw508d6qejxtdg4y5r3zarvaryvaxxpcs",
    ]
  ) assertReason(address, "unsupported_witness_version", /is not a type the pool pays to$/);
});

Deno.test("decodeAddress() rejects BIP350's invalid address vectors for the right reason", () => {
  const cases: [string, AddressErrorReason, RegExp][] = [
    [
      "tc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vq5zuyut",
      "unknown_prefix",
      /prefix "tc"/,
    ],
    [
      "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqh2y7hd",
      "wrong_bech32_variant",
      /v1 address must use bech32m/,
    ],
    [
      "tb1z0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqglt7rf",
      "wrong_bech32_variant",
      /v2 address must use bech32m/,
    ],
    [
      "BC1S0XLXVLHEMJA6C4DQV22UAPCTQUPFHLXM9H8Z3K2E72Q4K9HCZ7VQ54WELL",
      "wrong_bech32_variant",
      /v16 address must use bech32m/,
    ],
    [
      "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kemeawh",
      "wrong_bech32_variant",
      /v0 address must use bech32, not bech32m/,
    ],
    [
      "tb1q0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vq24jc47",
      "wrong_bech32_variant",
      /v0 address must use bech32, not bech32m/,
    ],
    [
      "bc1p38j9r5y49hruaue7wxjce0updqjuyyx0kh56v8s25huc6995vvpql3jow4",
      "bad_encoding",
      /outside the bech32 alphabet/,
    ],
    [
      "BC130XLXVLHEMJA6C4DQV22UAPCTQUPFHLXM9H8Z3K2E72Q4K9HCZ7VQ7ZWS8R",
      "unsupported_witness_version",
      /witness version 17/,
    ],
    ["bc1pw5dgrnzv", "bad_program_length", /1 byte,/],
    [
      "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7v8n0nx0muaewav253zgeav",
      "bad_program_length",
      /41 bytes/,
    ],
    ["BC1QR508D6QEJXTDG4Y5R3ZARVARYV98GJ9P", "bad_program_length", /v0 program is 16 bytes/],
    [
      "tb1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vq47Zagq",
      "mixed_case",
      /mixes upper and lower case/,
    ],
    [
      "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7v07qwwzcrf",
      "bad_encoding",
      /padding/,
    ],
    [
      "tb1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vpggkg4j",
      "bad_encoding",
      /padding/,
    ],
    ["bc1gmk9yu", "bad_encoding", /data section is empty/],
  ];
  for (const [address, reason, message] of cases) assertReason(address, reason, message);
});

Deno.test("decodeAddress() calls valid bech32/bech32m strings with foreign prefixes unknown_prefix", () => {
  const bech32Strings = [
    "A12UEL5L",
    "a12uel5l",
    "an83characterlonghumanreadablepartthatcontainsthenumber1andtheexcludedcharactersbio1tt5tgs",
    "abcdef1qpzry9x8gf2tvdw0s3jn54khce6mua7lmqqqxw",
    "11" + "q".repeat(82) + "c8247j",
    "split1checkupstagehandshakeupstreamerranterredcaperred2y9e3w",
    "?1ezyfcl",
  ];
  const bech32mStrings = [
    "A1LQFN3A",
    "a1lqfn3a",
    "an83characterlonghumanreadablepartthatcontainsthetheexcludedcharactersbioandnumber11sg7hg6",
    "abcdef1l7aum6echk45nj3s0wdvt2fg8x9yrzpqzd3ryx",
    "11" + "l".repeat(83) + "udsr8",
    "split1checkupstagehandshakeupstreamerranterredcaperredlc445v",
    "?1v759aa",
  ];
  for (const s of bech32Strings) {
    assert.ok(bech32.decodeUnsafe(s, 90), `vector ${s} is valid bech32`);
    assertReason(s, "unknown_prefix");
  }
  for (const s of bech32mStrings) {
    assert.ok(bech32m.decodeUnsafe(s, 90), `vector ${s} is valid bech32m`);
    assertReason(s, "unknown_prefix");
  }
});

Deno.test("decodeAddress() rejects BIP173 and BIP350's invalid bech32 strings", () => {
  const tooLong = [
    "an84characterslonghumanreadablepartthatcontainsthenumber1andtheexcludedcharactersbio1569pvx",
    "an84characterslonghumanreadablepartthatcontainsthetheexcludedcharactersbioandnumber11d6pts4",
  ];
  for (const s of tooLong) {
    assert.equal(s.length, 91);
    assertReason(s, "too_long", /91 characters is more than 90/);
  }
  const malformed = [
    "\x201nwldj5",
    "\x7f1axkwrx",
    "\x801eym55h",
    "pzry9x0s0muk",
    "1pzry9x0s0muk",
    "x1b4n0q5v",
    "li1dgmt3",
    "de1lg7wt\xff",
    "A1G7SGD8",
    "10a06t8",
    "1qzzfhee",
    "\x201xj0phk",
    "\x7f1g6xzxy",
    "\x801vctc34",
    "qyrz8wqd2c9m",
    "1qyrz8wqd2c9m",
    "y1b0jsk6g",
    "lt1igcx5c0",
    "in1muywd",
    "mm1crxm3i",
    "au1s5cgom",
    "M1VUXWEZ",
    "16plkw9",
    "1p2gdwpf",
  ];
  for (const s of malformed) assertReason(s, "bad_encoding");
});

Deno.test("decodeAddress() decodes P2PKH and P2SH on mainnet and testnet", () => {
  // hash160 of the generator point's public key (BIP173's example program).
  assertScript(
    "1BgGZ9tcN4rm9KBzDn7KprQz87SZ26SAMH",
    "76a914751e76e8199196d454941c45d1b3a323f1433bd688ac",
    AddressType.p2pkh,
    ["mainnet"],
  );
  assertScript(
    "mrCDrCybB6J1vRfbwM5hemdJz73FwDBC8r",
    "76a914751e76e8199196d454941c45d1b3a323f1433bd688ac",
    AddressType.p2pkh,
    BASE58_TEST_NETWORKS,
  );
  for (
    const [address, network, type, networks] of [
      ["3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy", bjsNetworks.bitcoin, AddressType.p2sh, ["mainnet"]],
      [
        "2MzQwSSnBHWHqSAqtTVQ6v47XtaisrJa1Vc",
        bjsNetworks.testnet,
        AddressType.p2sh,
        BASE58_TEST_NETWORKS,
      ],
    ] as const
  ) {
    const expected = bytesToHex(bjsAddress.toOutputScript(address, network));
    assert.match(expected, /^a914[0-9a-f]{40}87$/);
    assertScript(address, expected, type, [...networks]);
  }
});

Deno.test("decodeAddress() rejects base58 addresses with a bad checksum", () => {
  for (
    const address of [
      "1BgGZ9tcN4rm9KBzDn7KprQz87SZ26SAMJ",
      "mrCDrCybB6J1vRfbwM5hemdJz73FwDBC8s",
      "3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLz",
      "2MzQwSSnBHWHqSAqtTVQ6v47XtaisrJa1Vd",
    ]
  ) assertReason(address, "bad_checksum", /base58 checksum is invalid/);
});

Deno.test("decodeAddress() rejects base58 payloads of the wrong size or version", () => {
  const hash = new Uint8Array(20).fill(7);
  // Litecoin's P2PKH version byte, with a valid checksum.
  assertReason(bjsAddress.toBase58Check(hash, 0x30), "unknown_prefix", /version byte 0x30/);
  assertReason(
    "1BgGZ9tcN4rm9KBzDn7KprQz87SZ2",
    "bad_encoding",
    /payload is \d+ bytes, expected 25/,
  );
});

Deno.test("decodeAddress() agrees with bitcoinjs-lib on every supported type and network", () => {
  const cases = [
    { network: bjsNetworks.bitcoin, ours: "mainnet" },
    { network: bjsNetworks.testnet, ours: "testnet" },
    { network: bjsNetworks.regtest, ours: "regtest" },
  ] as const;
  fc.assert(
    fc.property(
      fc.constantFrom(...cases),
      fc.uint8Array({ minLength: 32, maxLength: 32 }),
      ({ network, ours }, hash32) => {
        const hash20 = hash32.subarray(0, 20);
        const taproot = bjsAddress.toBech32(hash32, 1, network.bech32);
        const taprootDecoded = bjsAddress.fromBech32(taproot);
        assert.equal(taprootDecoded.version, 1);
        // bitcoinjs-lib's toOutputScript needs an ECC library for P2TR, so build
        // that script from its bech32m decoding instead.
        const cases: [string, Uint8Array][] = [
          ...[
            payments.p2pkh({ hash: hash20, network }).address!,
            payments.p2sh({ hash: hash20, network }).address!,
            payments.p2wpkh({ hash: hash20, network }).address!,
            payments.p2wsh({ hash: hash32, network }).address!,
          ].map((
            a,
          ): [string, Uint8Array] => [a, new Uint8Array(bjsAddress.toOutputScript(a, network))]),
          [taproot, Uint8Array.of(0x51, 0x20, ...taprootDecoded.data)],
        ];
        for (const [address, expectedScript] of cases) {
          const decoded = decodeAddress(address);
          assert.deepEqual(decoded.scriptPubKey, expectedScript);
          assert.ok(addressBelongsTo(decoded, ours), `${address} on ${ours}`);
          assert.deepEqual(addressToScriptPubKey(address, ours), decoded.scriptPubKey);
          if (decoded.witnessVersion !== undefined) {
            assert.deepEqual(
              decodeAddress(address.toUpperCase()).scriptPubKey,
              decoded.scriptPubKey,
            );
          }
        }
      },
    ),
    { numRuns: 50 },
  );
});

Deno.test("decodeAddress() gives bcrt addresses to regtest only", () => {
  const hash = new Uint8Array(20).fill(9);
  const address = payments.p2wpkh({ hash, network: bjsNetworks.regtest }).address!;
  assert.match(address, /^bcrt1q/);
  const decoded = decodeAddress(address);
  assert.deepEqual([...decoded.networks], ["regtest"]);
  assert.equal(addressBelongsTo(decoded, Network.testnet), false);
});

Deno.test("addressToScriptPubKey() refuses addresses of another network with wrong_network", () => {
  const mainnet = "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqzk5jj0";
  assert.throws(() => addressToScriptPubKey(mainnet, Network.regtest), {
    name: "AddressError",
    reason: "wrong_network",
    message: `Cannot use address ${mainnet}: it is a mainnet address, not regtest`,
  });
  const testnet = "tb1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3q0sl5k7";
  for (const network of [Network.testnet, Network.testnet4, Network.signet]) {
    assert.equal(
      bytesToHex(addressToScriptPubKey(testnet, network)),
      "00201863143c14c5166804bd19203356da136c985678cd4d27a1b8c6329604903262",
    );
  }
  assert.throws(() => addressToScriptPubKey(testnet, Network.regtest), {
    reason: "wrong_network",
    message: `Cannot use address ${testnet}: it is a testnet/testnet4/signet address, not regtest`,
  });
  assert.throws(() => addressToScriptPubKey(testnet, Network.mainnet), { reason: "wrong_network" });
  // Regtest shares testnet's base58 versions.
  assert.equal(
    bytesToHex(addressToScriptPubKey("mrCDrCybB6J1vRfbwM5hemdJz73FwDBC8r", Network.regtest)),
    "76a914751e76e8199196d454941c45d1b3a323f1433bd688ac",
  );
  assert.throws(() => addressToScriptPubKey("1BgGZ9tcN4rm9KBzDn7KprQz87SZ26SAMH", Network.signet), {
    reason: "wrong_network",
  });
  assert.throws(
    () => addressToScriptPubKey("bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t5", Network.mainnet),
    {
      reason: "bad_checksum",
    },
  );
});

Deno.test("decodeAddress() rejects empty, padded and over-long input", () => {
  assertReason("", "bad_encoding", /empty/);
  assertReason(" 1BgGZ9tcN4rm9KBzDn7KprQz87SZ26SAMH", "bad_encoding", /not printable ASCII/);
  assertReason("1BgGZ9tcN4rm9KBzDn7KprQz87SZ26SAMH\n", "bad_encoding", /not printable ASCII/);
  assertReason("bc1q" + "q".repeat(87), "too_long");
});
