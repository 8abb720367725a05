/**
 * The local demo of the whole system on its embedded defaults (`deno task demo`):
 * nats-server, redis-server and PostgreSQL (throwaway ones, or running ones given by URL), the
 * collector, a devnet node (bitcoind-compatible regtest double), the real Stratum pool emitting
 * events, both started through the launcher with their narrow permissions, and three support CPU
 * miners paying to P2WPKH, P2TR and P2PKH addresses (one with version rolling). Prints a live
 * summary, then the blocks found and whom each coinbase paid, the events persisted per type, and
 * stops everything cleanly.
 *
 *   deno task demo [--duration-s 180] [--blocks-per-miner 1]
 *                  [--nats-url nats://…] [--redis-url redis://…] [--postgres-url postgres://…]
 */
import { parseArgs } from "node:util";
import { fileURLToPath } from "node:url";
import { difficultyToTarget, targetToBits } from "@tbg/shared/bitcoin";
import { regtestAddress, type TestAddressType } from "../tests/support/addresses.ts";
import { startPoolProcess } from "../tests/support/pool_process.ts";
import { startDemoPipeline } from "./demo_pipeline.ts";

const ROOT = fileURLToPath(new URL("../", import.meta.url));
const { values } = parseArgs({
  args: Deno.args,
  options: {
    "duration-s": { type: "string", default: "180" },
    "blocks-per-miner": { type: "string", default: "1" },
    "nats-url": { type: "string" },
    "redis-url": { type: "string" },
    "postgres-url": { type: "string" },
  },
});
const durationMs = Number(values["duration-s"]) * 1000;
const blocksWanted = Number(values["blocks-per-miner"]);
/** Network difficulty tuned so JavaScript CPU miners on two cores find a block every few seconds. */
const NETWORK_DIFFICULTY = 0.00006;

const encoder = new TextEncoder();
const say = (text: string) => Deno.stdout.writeSync(encoder.encode(text + "\n"));

interface Child {
  readonly name: string;
  readonly process: Deno.ChildProcess;
  readonly lines: string[];
}

function spawn(name: string, args: string[]): Child {
  const process = new Deno.Command(Deno.execPath(), {
    args,
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
  const lines: string[] = [];
  for (const stream of [process.stdout, process.stderr]) {
    (async () => {
      const decoder = new TextDecoder();
      let pending = "";
      for await (const chunk of stream) {
        pending += decoder.decode(chunk, { stream: true });
        let nl;
        while ((nl = pending.indexOf("\n")) !== -1) {
          lines.push(pending.slice(0, nl));
          if (lines.length > 5000) lines.splice(0, 1000);
          pending = pending.slice(nl + 1);
        }
      }
    })();
  }
  return { name, process, lines };
}

async function waitForLine(
  child: Child,
  predicate: (line: string) => boolean,
  timeoutMs: number,
): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const found = child.lines.find(predicate);
    if (found !== undefined) return found;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(
    `${child.name} did not become ready within ${timeoutMs} ms:\n${
      child.lines.slice(-10).join("\n")
    }`,
  );
}

async function rpc(url: string, method: string, params: unknown[] = []): Promise<unknown> {
  const response = await fetch(url, {
    method: "POST",
    headers: {
      authorization: "Basic " + btoa("devnet:devnet"),
      "content-type": "application/json",
    },
    body: JSON.stringify({ jsonrpc: "1.0", id: 1, method, params }),
  });
  const body = await response.json() as { result: unknown; error: unknown };
  if (body.error) throw new Error(`${method}: ${JSON.stringify(body.error)}`);
  return body.result;
}

say(
  "== TheBitcoinGame demo: NATS + Redis + PostgreSQL + collector, devnet node + Stratum pool + 3 CPU miners ==",
);
const pipeline = await startDemoPipeline({
  nats: values["nats-url"],
  redis: values["redis-url"],
  postgres: values["postgres-url"],
});
say(`nats          ${pipeline.natsUrl}  (stream MINING_EVENTS)`);
say(`redis         ${pipeline.redisUrl}`);
say(`postgresql    ${pipeline.postgresUrl.replace(/\/\/[^@/]*@/, "//")}`);
say(`collector     metrics ${pipeline.collectorMetricsUrl}`);
const bits = targetToBits(difficultyToTarget(NETWORK_DIFFICULTY)).toString(16);
const devnet = spawn("devnet", [
  "run",
  "--allow-net=127.0.0.1",
  "--allow-ffi=node_modules",
  "--allow-read=node_modules,/etc/alpine-release",
  "tests/support/devnet/main.ts",
  "--user",
  "devnet",
  "--pass",
  "devnet",
  "--bits",
  bits,
]);
const ready = JSON.parse(await waitForLine(devnet, (l) => l.includes('"ready":true'), 30_000)) as {
  rpcUrl: string;
  zmqUrl: string;
  height: number;
};
const rpcPort = Number(new URL(ready.rpcUrl).port);
say(
  `devnet node   ${ready.rpcUrl}  zmq ${ready.zmqUrl}  height ${ready.height}  network difficulty ${NETWORK_DIFFICULTY}`,
);

const pool = await startPoolProcess(
  { rpcPort, zmqUrl: ready.zmqUrl, user: "devnet", password: "devnet" },
  {
    btcsig: "/TheBitcoinGame-demo/",
    mindiff: 0.000001,
    startdiff: 0.00001,
    events: { enabled: true, nats_url: pipeline.natsUrl, spool_dir: pipeline.spoolDir },
  },
);
say(
  `stratum pool  stratum+tcp://127.0.0.1:${pool.stratumPort}  metrics http://127.0.0.1:${pool.metricsPort}/metrics`,
);

const minerSpecs: { type: TestAddressType; rolling: boolean }[] = [
  { type: "p2wpkh", rolling: false },
  { type: "p2tr", rolling: true },
  { type: "p2pkh", rolling: false },
];
const miners = minerSpecs.map((spec, i) => {
  const { address, scriptHex } = regtestAddress(spec.type, i + 1);
  const child = spawn(`miner-${spec.type}`, [
    "run",
    "--allow-net=127.0.0.1",
    "tests/support/stratum_client/main.ts",
    "--url",
    `127.0.0.1:${pool.stratumPort}`,
    "--user",
    `${address}.demo${i + 1}`,
    "--mine",
    ...(spec.rolling ? ["--version-rolling"] : []),
  ]);
  say(
    `miner ${i + 1}       ${spec.type.padEnd(6)} ${address}${
      spec.rolling ? "  (version rolling)" : ""
    }`,
  );
  return { ...spec, address, scriptHex, child };
});

interface FoundBlock {
  height: number;
  hash: string;
  payee: string;
  valueBtc: number;
  tag: string;
}

async function foundBlocks(): Promise<FoundBlock[]> {
  const tip = await rpc(ready.rpcUrl, "getblockcount") as number;
  const out: FoundBlock[] = [];
  for (let h = ready.height + 1; h <= tip; h++) {
    const hash = await rpc(ready.rpcUrl, "getblockhash", [h]) as string;
    const block = await rpc(ready.rpcUrl, "getblock", [hash, 2]) as {
      tx: {
        vin: { coinbase?: string }[];
        vout: { value: number; scriptPubKey: { hex: string } }[];
      }[];
    };
    const coinbase = block.tx[0]!;
    const tagHex = coinbase.vin[0]!.coinbase ?? "";
    out.push({
      height: h,
      hash,
      payee: coinbase.vout[0]!.scriptPubKey.hex,
      valueBtc: coinbase.vout[0]!.value,
      tag: new TextDecoder().decode(
        Uint8Array.from(tagHex.match(/../g) ?? [], (b) => parseInt(b, 16)),
      ).match(/\/[\x20-\x7e]*\//)?.[0] ?? "", // the printable /…/ pool tag inside the scriptSig
    });
  }
  return out;
}

const started = Date.now();
let blocks: FoundBlock[] = [];
while (Date.now() - started < durationMs) {
  await new Promise((r) => setTimeout(r, 5000));
  blocks = await foundBlocks();
  const shares = miners.map((m) =>
    m.child.lines.filter((l) => l.includes('"accepted":true')).length
  );
  const perMiner = miners.map((m) => blocks.filter((b) => b.payee === m.scriptHex).length);
  say(
    `[${String(Math.round((Date.now() - started) / 1000)).padStart(3)}s] height ${
      ready.height + blocks.length
    }  ` +
      miners.map((m, i) => `${m.type}: ${shares[i]} shares, ${perMiner[i]} blocks`).join("  |  ") +
      `  |  events persisted ${await pipeline.persistedCount()}`,
  );
  if (perMiner.every((n) => n >= blocksWanted)) break;
}

say("\n== blocks found (verified from the devnet node's getblock) ==");
for (const b of blocks) {
  const miner = miners.find((m) => m.scriptHex === b.payee);
  say(
    `height ${b.height}  ${b.hash.slice(0, 16)}…  paid ${b.valueBtc.toFixed(8)} BTC to ${
      miner ? `${miner.type} ${miner.address}` : `script ${b.payee}`
    }  tag "${b.tag.slice(0, 40)}"`,
  );
}

say("\n== stopping ==");
for (const m of miners) m.child.process.kill("SIGTERM");
for (const m of miners) await m.child.process.status;
const poolExit = await pool.stop();
say(`pool drained and exited with code ${poolExit}`);
devnet.process.kill("SIGTERM");
const devnetExit = (await devnet.process.status).code;
say(`devnet node exited with code ${devnetExit}`);

say("\n== events persisted (PostgreSQL mining_events; Redis Streams tbg:stream:<type>) ==");
const persisted = await pipeline.settle(30_000);
for (const row of await pipeline.perType()) {
  say(
    `${row.type.padEnd(20)} postgres ${String(row.postgres).padStart(6)}   redis stream ${
      String(row.redisStream).padStart(6)
    }`,
  );
}
say(`${"total".padEnd(20)} postgres ${String(persisted).padStart(6)}`);
const collectorExit = await pipeline.stop();
say(`collector drained and exited with code ${collectorExit}`);
const everyMinerPaid = miners.every((m) => blocks.some((b) => b.payee === m.scriptHex));
say(
  everyMinerPaid
    ? "every miner found a block paid to its own address"
    : "not every miner found a block in time",
);
Deno.exit(poolExit === 0 && devnetExit === 0 && collectorExit === 0 ? 0 : 1);
