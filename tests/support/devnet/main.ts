/**
 * Devnet as a process, for the demo and for tests that need it outside their own process.
 *
 * ```sh
 * deno run --allow-net=127.0.0.1 --allow-ffi=node_modules \
 *   --allow-read=node_modules,/etc/alpine-release tests/support/devnet/main.ts \
 *   --rpc-port 18443 --zmq-port 28332 --control-port 18500 --user u --pass p \
 *   --bits 207fffff --mempool-txs 20 --dialect btcd
 * ```
 *
 * `--dialect core|core-0.21|knots|btcd` picks the node implementation it answers as (default
 * core); `--no-witness-commitment` leaves `default_witness_commitment` out of templates.
 *
 * Prints one JSON line `{"ready":true,"rpcUrl":...,"zmqUrl":...,"controlUrl":...}` when ready
 * and exits 0 on SIGTERM, SIGINT or the control method "stop". Ports default to 0 (free port).
 *
 * @module
 */
import { parseArgs } from "node:util";
import { dialectProfile } from "./dialect.ts";
import { startDevnet } from "./mod.ts";

function parsePort(value: string | undefined, name: string): number {
  const port = Number(value ?? "0");
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new RangeError(`Cannot start devnet: --${name} must be a port number, got ${value}`);
  }
  return port;
}

function parseCount(value: string | undefined, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  const count = Number(value);
  if (!Number.isInteger(count) || count < 0) {
    throw new RangeError(`Cannot start devnet: --${name} must be a count, got ${value}`);
  }
  return count;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      host: { type: "string" },
      "rpc-port": { type: "string" },
      "zmq-port": { type: "string" },
      "control-port": { type: "string" },
      user: { type: "string" },
      pass: { type: "string" },
      bits: { type: "string" },
      "mempool-txs": { type: "string" },
      "initial-blocks": { type: "string" },
      dialect: { type: "string" },
      "no-witness-commitment": { type: "boolean" },
    },
    strict: true,
  });
  const bits = parseInt(values.bits ?? "207fffff", 16);
  if (!Number.isInteger(bits) || bits <= 0 || bits > 0xffffffff) {
    throw new RangeError(`Cannot start devnet: --bits must be 8 hex digits, got ${values.bits}`);
  }
  const dialect = dialectProfile(values.dialect ?? "core").name;
  const devnet = await startDevnet({
    dialect,
    omitWitnessCommitment: values["no-witness-commitment"] === true,
    rpcHost: values.host ?? "127.0.0.1",
    rpcPort: parsePort(values["rpc-port"], "rpc-port"),
    zmqPort: parsePort(values["zmq-port"], "zmq-port"),
    controlPort: parsePort(values["control-port"], "control-port"),
    user: values.user ?? "devnet",
    password: values.pass ?? "devnet",
    bits,
    mempoolTarget: parseCount(values["mempool-txs"], "mempool-txs", 20),
    initialChainLength: parseCount(values["initial-blocks"], "initial-blocks", 110),
  });
  const stop = () => void devnet.stop();
  Deno.addSignalListener("SIGTERM", stop);
  Deno.addSignalListener("SIGINT", stop);
  const ready = {
    ready: true,
    rpcUrl: devnet.rpcUrl,
    zmqUrl: devnet.zmqUrl,
    controlUrl: devnet.controlUrl,
    user: devnet.user,
    dialect: devnet.dialect,
    height: devnet.chain.tipHeight(),
  };
  await Deno.stdout.write(new TextEncoder().encode(`${JSON.stringify(ready)}\n`));
  await devnet.stopped;
  Deno.removeSignalListener("SIGTERM", stop);
  Deno.removeSignalListener("SIGINT", stop);
  Deno.exit(0);
}

if (import.meta.main) {
  try {
    await main();
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    await Deno.stderr.write(new TextEncoder().encode(`${message}\n`));
    Deno.exit(1);
  }
}
