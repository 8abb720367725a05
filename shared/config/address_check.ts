import {
  addressBelongsTo,
  AddressError,
  decodeAddress,
  type DecodedAddress,
  Network,
} from "../bitcoin/address.ts";
import { ConfigError } from "./config_error.ts";

/** Config keys that hold a Bitcoin address, checked at load and again at start. */
export const ADDRESS_KEYS = ["btcaddress"] as const;

/** Where {@link checkAddressKeys} reports a problem. */
export type AddressIssueSink = (path: (string | number)[], message: string, input: unknown) => void;

/** The address-bearing part of an engine config. */
export interface AddressKeys {
  /** Pool operator address (donation output). */
  btcaddress?: string | undefined;
  /** Configured network, if any. */
  network?: Network | undefined;
}

/** `bc1q… is a mainnet address, but network is "regtest"`. */
export function wrongNetworkMessage(decoded: DecodedAddress, network: Network): string {
  return `${decoded.address} is a ${
    decoded.networks.join("/")
  } address, but network is "${network}"`;
}

function checkOne(
  address: string,
  network: Network | undefined,
  report: (message: string) => void,
): void {
  let decoded: DecodedAddress;
  try {
    decoded = decodeAddress(address);
  } catch (error: unknown) {
    if (error instanceof AddressError) {
      report(error.message);
      return;
    }
    throw error;
  }
  if (network !== undefined && !addressBelongsTo(decoded, network)) {
    report(wrongNetworkMessage(decoded, network));
  }
}

/**
 * Decodes every address key (checksums included) and, when the config names its network,
 * checks each address belongs to it.
 */
export function checkAddressKeys(config: AddressKeys, report: AddressIssueSink): void {
  for (const key of ADDRESS_KEYS) {
    const address = config[key];
    if (address === undefined) continue;
    checkOne(address, config.network, (message) => report([key], message, address));
  }
}

/**
 * The start-time check once bitcoind has told the service its chain: every address in the
 * config must belong to that network (a config without `network` was only checksum-checked).
 *
 * @param config a validated stratum or relay config
 * @param network the network bitcoind runs (see {@link chainToNetwork})
 * @param configPath the config file, for the message
 * @throws {ConfigError} (exit code 2) naming the address, its network and the chain's
 */
export function assertConfigAddressesOnNetwork(
  config: AddressKeys,
  network: Network,
  configPath = "file",
): void {
  const issues: { path: string; message: string }[] = [];
  checkAddressKeys(
    { btcaddress: config.btcaddress, network },
    (path, message) => issues.push({ path: path.join("."), message }),
  );
  if (issues.length > 0) throw new ConfigError(configPath, issues);
}

const CHAIN_NETWORKS: Readonly<Record<string, Network>> = {
  main: Network.mainnet,
  test: Network.testnet,
  testnet4: Network.testnet4,
  signet: Network.signet,
  regtest: Network.regtest,
};

/**
 * Maps bitcoind's `getblockchaininfo.chain` ("main", "test", "testnet4", "signet", "regtest")
 * to a {@link Network}.
 *
 * @throws {RangeError} for a chain name bitcoind does not use
 */
export function chainToNetwork(chain: string): Network {
  const network = CHAIN_NETWORKS[chain];
  if (network === undefined) {
    throw new RangeError(
      `Cannot map chain to a network: "${chain}" is not one of main, test, testnet4, signet, regtest`,
    );
  }
  return network;
}
