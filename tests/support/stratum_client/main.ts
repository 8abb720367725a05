/**
 * Support miner CLI: connects to a Stratum pool, authorizes, and (with --mine) mines real shares
 * on the CPU. Prints one JSON line per accepted/rejected share and a summary at exit.
 *
 *   deno run --allow-net=127.0.0.1 tests/support/stratum_client/main.ts \
 *     --url 127.0.0.1:3333 --user bcrt1q...x.rig1 --mine [--version-rolling] \
 *     [--max-hashrate 200000] [--batch-nonces 2048] [--discard-stale] [--duration-s 60]
 *
 * `--url stratum+tls://localhost:4333 --tls-ca ca.crt` mines over TLS, trusting that CA (and
 * needs --allow-read for it); `stratum+tcp://` and a bare `host:port` are plain TCP.
 */
import { parseArgs } from "node:util";
import { CpuMiner } from "./cpu_miner.ts";
import { StratumClient } from "./client.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    url: { type: "string" },
    user: { type: "string" },
    password: { type: "string", default: "x" },
    mine: { type: "boolean", default: false },
    "version-rolling": { type: "boolean", default: false },
    "max-hashrate": { type: "string" },
    "batch-nonces": { type: "string" },
    "discard-stale": { type: "boolean", default: false },
    "duration-s": { type: "string" },
    "suggest-difficulty": { type: "string" },
    "tls-ca": { type: "string" },
  },
});

const out = (record: Record<string, unknown>) =>
  Deno.stdout.writeSync(new TextEncoder().encode(JSON.stringify(record) + "\n"));

if (!values.url || !values.user) {
  out({ error: "usage: --url host:port --user address[.worker] [--mine]" });
  Deno.exit(2);
}
const batchNonces = values["batch-nonces"] === undefined
  ? undefined
  : Number(values["batch-nonces"]);
if (batchNonces !== undefined && !(Number.isInteger(batchNonces) && batchNonces >= 1)) {
  out({ error: `--batch-nonces must be a positive integer, got ${values["batch-nonces"]}` });
  Deno.exit(2);
}
const scheme = /^(stratum\+(?:tcp|tls)):\/\//.exec(values.url)?.[1] ?? null;
const hostPort = scheme === null ? values.url : values.url.slice(scheme.length + 3);
const colon = hostPort.lastIndexOf(":");
const host = hostPort.slice(0, colon);
const port = Number(hostPort.slice(colon + 1));
const useTls = scheme === "stratum+tls";
if (useTls !== (values["tls-ca"] !== undefined)) {
  out({ error: "stratum+tls:// needs --tls-ca <PEM file>, and --tls-ca needs stratum+tls://" });
  Deno.exit(2);
}

const client = await StratumClient.start({
  host,
  port,
  username: values.user,
  password: values.password,
  ...(useTls ? { tls: { caCerts: [await Deno.readTextFile(values["tls-ca"]!)] } } : {}),
  ...(values["version-rolling"] ? { versionRollingMask: 0x1fffe000 } : {}),
  ...(values["suggest-difficulty"]
    ? { suggestDifficulty: Number(values["suggest-difficulty"]) }
    : {}),
});
out({
  event: "authorized",
  user: values.user,
  extranonce1: client.sessionId,
  versionMask: client.versionMask,
});

const miner = values.mine
  ? new CpuMiner(client, {
    rollVersion: values["version-rolling"],
    ...(values["max-hashrate"] ? { maxHashesPerSecond: Number(values["max-hashrate"]) } : {}),
    // Smaller batches switch to a new job sooner (fewer stale shares), at more event-loop turns.
    ...(batchNonces === undefined ? {} : { batchNonces }),
    discardStale: values["discard-stale"],
    onShare: (outcome, job) =>
      out({
        event: "share",
        job: job.jobId,
        accepted: outcome.accepted,
        error: outcome.error,
        difficulty: client.difficulty,
      }),
  })
  : null;
miner?.start();

const stop = async () => {
  await miner?.stop();
  client.close();
  out({
    event: "summary",
    ...(miner
      ? { ...miner.stats, rejectReasons: Object.fromEntries(miner.stats.rejectReasons) }
      : {}),
  });
  Deno.exit(0);
};
Deno.addSignalListener("SIGTERM", stop);
Deno.addSignalListener("SIGINT", stop);
if (values["duration-s"]) setTimeout(stop, Number(values["duration-s"]) * 1000);
await client.connection.closed;
out({ event: "disconnected" });
await stop();
