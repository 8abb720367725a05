/**
 * A real bcoin full node (npm `bcoin`, an independent JavaScript implementation of Bitcoin) for
 * tests: installed once into ~/.cache/tbg/bcoin-<version> by tools/ensure_bcoin.sh, started by
 * Node on regtest, in memory, RPC on a free loopback port, without P2P (bcoin_node.cjs).
 */
import * as bitcoin from "bitcoinjs-lib";
import { bech32 } from "@scure/base";
import { createHash } from "node:crypto";

/** The bcoin release the tests run (npm), and the one the fixtures were recorded from. */
export const BCOIN_VERSION = "1.0.2";

const SCRIPT = new URL("../../../tools/ensure_bcoin.sh", import.meta.url).pathname;
const LAUNCHER = new URL("./bcoin_node.cjs", import.meta.url).pathname;
const READY_TIMEOUT_MS = 20_000;
const MAX_OUTPUT_BYTES = 64 * 1024;

/** A running bcoin node. */
export interface BcoinNode {
  readonly rpcPort: number;
  /** bcoin's HTTP basic auth takes any user name; the password is the API key. */
  readonly user: string;
  readonly password: string;
  /** The `version` of bcoin's package.json. */
  readonly version: string;
  /** A JSON-RPC call; resolves to bcoin's whole answer (result, error, id) and HTTP status. */
  rawCall(method: string, params: unknown[]): Promise<{ status: number; body: unknown }>;
  /** A JSON-RPC call's result; an RPC error is thrown with bcoin's code and message. */
  call<T>(method: string, params?: unknown[]): Promise<T>;
  /** What bcoin printed (stdout and stderr), for failure messages. */
  output(): string;
  stop(): Promise<void>;
}

/**
 * Installs bcoin with tools/ensure_bcoin.sh when missing (the script returns at once when it is
 * there) and returns its install prefix. Throws with the script's output when it fails.
 */
export async function ensureBcoin(): Promise<string> {
  const result = await new Deno.Command("bash", {
    args: [SCRIPT],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stdout = new TextDecoder().decode(result.stdout).trim();
  if (!result.success) {
    const stderr = new TextDecoder().decode(result.stderr);
    throw new Error(`Cannot install bcoin ${BCOIN_VERSION} (tools/ensure_bcoin.sh): ${stderr}`);
  }
  // The script's last line is the prefix.
  return stdout.split("\n").at(-1)!;
}

/** Starts bcoin (installing it first when missing); resolves once its RPC answers. */
export async function startBcoin(): Promise<BcoinNode> {
  const prefix = await ensureBcoin();
  const password = crypto.randomUUID().replaceAll("-", "");
  const child = new Deno.Command("node", {
    args: [
      LAUNCHER,
      prefix,
      "--http-host=127.0.0.1",
      "--http-port=0",
      `--api-key=${password}`,
    ],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let output = "";
  let exited = false;
  const status = child.status.then((s) => {
    exited = true;
    return s;
  });
  let onReady: (line: string) => void = () => {};
  const ready = new Promise<string>((resolve) => onReady = resolve);
  const collect = async (stream: ReadableStream<Uint8Array>) => {
    for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
      if (output.length < MAX_OUTPUT_BYTES) output += chunk;
      const line = output.match(/^bcoin (\S+) ready on port (\d+)$/m);
      if (line) onReady(line[0]);
    }
  };
  const drained = Promise.all([collect(child.stdout), collect(child.stderr)]).catch(() => {});
  const stop = async () => {
    if (!exited) {
      try {
        child.kill("SIGTERM");
      } catch {
        // Already gone.
      }
    }
    const timer = setTimeout(() => {
      if (!exited) child.kill("SIGKILL");
    }, 5_000);
    await status;
    clearTimeout(timer);
    await drained;
  };

  let timer: ReturnType<typeof setTimeout> | undefined;
  const line = await Promise.race([
    ready,
    status.then((s) => `exited with code ${s.code}`),
    new Promise<string>((resolve) =>
      timer = setTimeout(() => resolve("timeout"), READY_TIMEOUT_MS)
    ),
  ]);
  clearTimeout(timer);
  const match = line.match(/^bcoin (\S+) ready on port (\d+)$/);
  if (!match) {
    await stop();
    throw new Error(
      `Cannot start bcoin ${BCOIN_VERSION} from ${prefix}: ${
        line === "timeout" ? `not ready within ${READY_TIMEOUT_MS / 1000} s` : line
      }; output:\n${output}`,
    );
  }
  const rpcPort = Number(match[2]);
  const user = "tbg";
  const authorization = `Basic ${btoa(`${user}:${password}`)}`;
  const rawCall = async (method: string, params: unknown[]) => {
    const response = await fetch(`http://127.0.0.1:${rpcPort}/`, {
      method: "POST",
      headers: { authorization, "content-type": "application/json" },
      body: JSON.stringify({ jsonrpc: "1.0", id: 1, method, params }),
      signal: AbortSignal.timeout(30_000),
    });
    return { status: response.status, body: await response.json() as unknown };
  };
  return {
    rpcPort,
    user,
    password,
    version: match[1]!,
    rawCall,
    async call<T>(method: string, params: unknown[] = []): Promise<T> {
      const { body } = await rawCall(method, params);
      const { result, error } = body as {
        result: T;
        error: { code: number; message: string } | null;
      };
      if (error) throw new Error(`bcoin ${method}: ${error.code} ${error.message}`);
      return result;
    },
    output: () => output,
    stop,
  };
}

/** Blocks mined by bcoin itself first: regtest segwit (BIP9, 144-block windows) is active at 432. */
export const BCOIN_SEGWIT_HEIGHT = 432;

/** The witness script `OP_TRUE`: its P2WSH outputs are spent with that script alone, no key. */
const OP_TRUE = Uint8Array.of(0x51);
const OP_TRUE_PROGRAM = new Uint8Array(createHash("sha256").update(OP_TRUE).digest());

/**
 * P2WSH(OP_TRUE) as a bcoin 1.0.2 regtest address: bcoin's regtest has its own prefixes (bech32
 * "rb", not Core's "bcrt"), so the pool's test addresses are refused by its generatetoaddress.
 */
export const BCOIN_OP_TRUE_ADDRESS = bech32.encode("rb", [0, ...bech32.toWords(OP_TRUE_PROGRAM)]);

/**
 * Mines {@link BCOIN_SEGWIT_HEIGHT} blocks with bcoin's own miner, paying P2WSH(OP_TRUE), then
 * puts one witness transaction (spending block 1's coinbase, mature) into bcoin's mempool, so
 * templates carry a transaction with witness data and a witness commitment.
 *
 * @returns the mempool transaction's txid
 */
export async function mineToSegwitWithWitnessTx(node: BcoinNode): Promise<string> {
  const mined = await node.call<string[]>("generatetoaddress", [
    BCOIN_SEGWIT_HEIGHT,
    BCOIN_OP_TRUE_ADDRESS,
  ]);
  if (mined.length !== BCOIN_SEGWIT_HEIGHT) {
    throw new Error(`bcoin mined ${mined.length} blocks, expected ${BCOIN_SEGWIT_HEIGHT}`);
  }
  const first = bitcoin.Block.fromHex(await node.call<string>("getblock", [mined[0], false]));
  const coinbase = first.transactions![0]!;
  const spend = new bitcoin.Transaction();
  spend.version = 2;
  spend.addInput(coinbase.getHash(), 0);
  const fee = 10_000n;
  spend.addOutput(
    Uint8Array.of(0x00, 0x20, ...OP_TRUE_PROGRAM),
    coinbase.outs[0]!.value - fee,
  );
  spend.setWitness(0, [OP_TRUE]);
  return await node.call<string>("sendrawtransaction", [spend.toHex()]);
}
