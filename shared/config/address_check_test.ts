import assert from "node:assert/strict";
import { bech32 } from "@scure/base";
import { Network } from "../bitcoin/address.ts";
import { assertConfigAddressesOnNetwork, chainToNetwork } from "./address_check.ts";

const MAINNET_ADDRESS = "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4";
const TESTNET_ADDRESS = "tb1qw508d6qejxtdg4y5r3zarvary0c5xw7kxpjzsx";
const REGTEST_ADDRESS = bech32.encode("bcrt", [0, ...bech32.toWords(new Uint8Array(20).fill(7))]);

Deno.test("chainToNetwork() maps every getblockchaininfo chain name", () => {
  assert.equal(chainToNetwork("main"), Network.mainnet);
  assert.equal(chainToNetwork("test"), Network.testnet);
  assert.equal(chainToNetwork("testnet4"), Network.testnet4);
  assert.equal(chainToNetwork("signet"), Network.signet);
  assert.equal(chainToNetwork("regtest"), Network.regtest);
});

Deno.test("chainToNetwork() rejects a chain name bitcoind does not use", () => {
  assert.throws(() => chainToNetwork("mainnet"), {
    name: "RangeError",
    message:
      'Cannot map chain to a network: "mainnet" is not one of main, test, testnet4, signet, regtest',
  });
});

Deno.test("assertConfigAddressesOnNetwork() accepts addresses of bitcoind's network", () => {
  assertConfigAddressesOnNetwork({ btcaddress: REGTEST_ADDRESS }, Network.regtest);
  assertConfigAddressesOnNetwork({ btcaddress: TESTNET_ADDRESS }, Network.signet);
  assertConfigAddressesOnNetwork({}, Network.mainnet);
});

Deno.test("assertConfigAddressesOnNetwork() names the address, its network and the chain's", () => {
  assert.throws(
    () =>
      assertConfigAddressesOnNetwork(
        { btcaddress: MAINNET_ADDRESS },
        Network.regtest,
        "/etc/s.json",
      ),
    (error: unknown) => {
      assert.ok(error instanceof Error);
      assert.equal(error.name, "ConfigError");
      assert.equal(
        error.message,
        `Invalid config /etc/s.json: btcaddress: ${MAINNET_ADDRESS} is a mainnet address, but network is "regtest"`,
      );
      assert.equal((error as Error & { exitCode: number }).exitCode, 2);
      return true;
    },
  );
});

Deno.test("assertConfigAddressesOnNetwork() lists every network an encoding is shared by", () => {
  assert.throws(
    () => assertConfigAddressesOnNetwork({ btcaddress: TESTNET_ADDRESS }, Network.mainnet),
    {
      message:
        `Invalid config file: btcaddress: ${TESTNET_ADDRESS} is a testnet/testnet4/signet address, but network is "mainnet"`,
    },
  );
});
