/**
 * Records what the devnet answers in each dialect as fixtures, one file per exchange:
 * `tests/fixtures/nodes/<dialect>/<name>.json` with the request, the HTTP status, the raw body,
 * the dialect's sources and the recording time. The RPC parsing tests replay them.
 *
 * ```sh
 * deno run --allow-net=127.0.0.1 --allow-read --allow-write=tests/fixtures/nodes \
 *   --allow-ffi=node_modules tests/support/devnet/record_node_fixtures.ts
 * ```
 *
 * @module
 */
import { DIALECT_SOURCES, DIALECTS } from "./dialect.ts";
import { type Devnet, startDevnet } from "./mod.ts";

/** One recorded request and answer. */
export interface NodeFixture {
  readonly dialect: string;
  readonly source: string;
  /** When it was recorded, ms since the epoch (the clock for tip-age rules). */
  readonly recordedAtMs: number;
  readonly request: { readonly method: string; readonly params: unknown[] };
  readonly status: number;
  readonly body: unknown;
}

/** The fixtures folder. */
export const NODE_FIXTURES_DIR = new URL("../../fixtures/nodes/", import.meta.url);

/** Sends one JSON-RPC 1.0 request and returns the HTTP status and parsed body. */
export async function rawCall(
  devnet: Devnet,
  method: string,
  params: unknown[],
): Promise<{ status: number; body: unknown }> {
  const response = await fetch(devnet.rpcUrl, {
    method: "POST",
    headers: {
      authorization: `Basic ${btoa(`${devnet.user}:${devnet.password}`)}`,
      "content-type": "application/json",
    },
    body: JSON.stringify({ jsonrpc: "1.0", id: 1, method, params }),
  });
  return { status: response.status, body: JSON.parse(await response.text()) };
}

/** The exchanges recorded per dialect: name, then how to produce it. */
export const SCENARIOS: readonly {
  readonly name: string;
  readonly method: string;
  readonly params: (devnet: Devnet) => Promise<unknown[]> | unknown[];
  readonly setup?: (devnet: Devnet) => void;
}[] = [
  { name: "getblockchaininfo", method: "getblockchaininfo", params: () => [] },
  {
    name: "getblockchaininfo_ibd",
    method: "getblockchaininfo",
    params: () => [],
    setup: (d) => d.setInitialBlockDownload(true),
  },
  { name: "getblocktemplate", method: "getblocktemplate", params: () => [{ rules: ["segwit"] }] },
  {
    name: "getblocktemplate_ibd",
    method: "getblocktemplate",
    params: () => [{ rules: ["segwit"] }],
    setup: (d) => d.setInitialBlockDownload(true),
  },
  {
    name: "getblocktemplate_not_connected",
    method: "getblocktemplate",
    params: () => [{ rules: ["segwit"] }],
    setup: (d) => d.setNotConnected(true),
  },
  { name: "getbestblockhash", method: "getbestblockhash", params: () => [] },
  {
    name: "getblockheader",
    method: "getblockheader",
    params: (d) => [d.chain.tipHash(), true],
  },
  {
    name: "validateaddress",
    method: "validateaddress",
    params: (d) => [d.wallet.p2wpkhAddress],
  },
  { name: "getnetworkinfo", method: "getnetworkinfo", params: () => [] },
  {
    name: "submitblock_duplicate",
    method: "submitblock",
    params: (d) => [d.chain.blockAtHeight(d.chain.tipHeight())!.hex],
  },
];

async function record(): Promise<void> {
  for (const dialect of DIALECTS) {
    const devnet = await startDevnet({ dialect, initialChainLength: 101, mempoolTarget: 3 });
    try {
      const dir = new URL(`${dialect}/`, NODE_FIXTURES_DIR);
      await Deno.mkdir(dir, { recursive: true });
      for (const scenario of SCENARIOS) {
        devnet.setInitialBlockDownload(false);
        devnet.setNotConnected(false);
        scenario.setup?.(devnet);
        const params = await scenario.params(devnet);
        const recordedAtMs = Date.now();
        const { status, body } = await rawCall(devnet, scenario.method, params);
        const fixture: NodeFixture = {
          dialect,
          source: DIALECT_SOURCES[dialect],
          recordedAtMs,
          request: { method: scenario.method, params },
          status,
          body,
        };
        await Deno.writeTextFile(
          new URL(`${scenario.name}.json`, dir),
          `${JSON.stringify(fixture, null, 2)}\n`,
        );
      }
    } finally {
      await devnet.stop();
    }
  }
}

if (import.meta.main) await record();
