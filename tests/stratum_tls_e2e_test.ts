/**
 * Stratum over TLS end to end: devnet node + the real pool process (through the launcher, with
 * the permissions its config implies) + the support CPU miner connecting with
 * `stratum+tls://`. The TLS miner finds a block the devnet accepts and that pays its address;
 * SIGHUP swaps the certificate while it keeps mining; a broken renewal keeps the old
 * certificate; a certificate that cannot be used at start is a config error naming its key.
 */
import { waitUntil } from "./support/sim/sim_checks.ts";
import assert from "node:assert/strict";
import { difficultyToTarget, targetToBits } from "@tbg/shared/bitcoin";
import { certificateFingerprint } from "@tbg/shared/engine";
import { startDevnet } from "./support/devnet/mod.ts";
import { CpuMiner, StratumClient } from "./support/stratum_client/mod.ts";
import { regtestAddress } from "./support/addresses.ts";
import { launcherCommand, startPoolProcess } from "./support/pool_process.ts";
import { pickFreePort } from "./support/servers/nats_server.ts";
import { serverCertificateFingerprint, withCerts } from "./support/tls_probe.ts";

/** Network difficulty low enough that one CPU miner finds a block within seconds. */
const NETWORK_DIFFICULTY = 0.00004;

async function metricValue(port: number, series: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const line = text.split("\n").find((l) => l.startsWith(series + " ") || l.startsWith(series));
  const match = line === undefined ? null : /\s([0-9.e+-]+)$/.exec(line);
  return match === null ? 0 : Number(match[1]);
}

Deno.test({
  name:
    "a TLS miner finds a block through the TLS listener that pays its address; SIGHUP swaps the certificate while it mines",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: () =>
    withCerts(async (a, b, dir) => {
      const certFile = `${dir}/live.crt`;
      const keyFile = `${dir}/live.key`;
      await Deno.copyFile(a.hub.certFile, certFile);
      await Deno.copyFile(a.hub.keyFile, keyFile);
      const devnet = await startDevnet({
        bits: targetToBits(difficultyToTarget(NETWORK_DIFFICULTY)),
      });
      const tlsPort = pickFreePort();
      const pool = await startPoolProcess(devnet, {
        serverurl_tls: [`127.0.0.1:${tlsPort}`],
        tls: { cert_file: certFile, key_file: keyFile, handshake_timeout_ms: 5000 },
      });
      const clients: StratumClient[] = [];
      let miner: CpuMiner | null = null;
      try {
        const ready = pool.logs.find((l) => l.msg === "pool ready")!;
        assert.deepEqual(ready.listen_tls, [{ hostname: "127.0.0.1", port: tlsPort }]);
        const fingerprintA = await certificateFingerprint(await Deno.readTextFile(a.hub.certFile));
        assert.equal(ready.tls_fingerprint_sha256, fingerprintA);
        assert.equal(await serverCertificateFingerprint(tlsPort), fingerprintA);

        const { address, scriptHex } = regtestAddress("p2wpkh", 7);
        const client = await StratumClient.start({
          host: "127.0.0.1",
          port: tlsPort,
          username: `${address}.tls`,
          tls: { caCerts: [await Deno.readTextFile(a.caFile)] },
        });
        clients.push(client);
        miner = new CpuMiner(client, { batchNonces: 1024 });
        miner.start();

        const startHeight = devnet.chain.tipHeight();
        const paidBlocks = (): string[] => {
          const hashes: string[] = [];
          for (let h = startHeight + 1; h <= devnet.chain.tipHeight(); h++) {
            const block = devnet.chain.blockAtHeight(h)!;
            const coinbase = devnet.chain.coinbase(block.hash)!;
            if (coinbase.outputs[0]!.scriptHex === scriptHex) hashes.push(block.hash);
          }
          return hashes;
        };
        await waitUntil("a block paying the TLS miner", () => paidBlocks().length > 0, 150_000);
        await pool.waitForLog((l) => l.msg === "block accepted");

        // Renewal: new certificate and key in place, SIGHUP through the launcher.
        await Deno.copyFile(b.hub.certFile, certFile);
        await Deno.copyFile(b.hub.keyFile, keyFile);
        const acceptedBefore = miner.stats.accepted;
        pool.signal("SIGHUP");
        const reloaded = await pool.waitForLog((l) => l.msg === "TLS certificate reloaded");
        const fingerprintB = await certificateFingerprint(await Deno.readTextFile(b.hub.certFile));
        assert.equal(reloaded.fingerprint, fingerprintB);
        assert.equal(await serverCertificateFingerprint(tlsPort), fingerprintB);
        // The miner connected before the reload keeps mining on its connection.
        await waitUntil(
          "shares accepted after the reload",
          () => miner!.stats.accepted > acceptedBefore + 2,
          60_000,
        );
        assert.equal(client.connection.isClosed, false);
        // A new miner trusting only the new CA gets in.
        const second = await StratumClient.start({
          host: "127.0.0.1",
          port: tlsPort,
          username: `${address}.tls2`,
          tls: { caCerts: [await Deno.readTextFile(b.caFile)] },
        });
        clients.push(second);

        // A broken renewal (key of another certificate): logged, counted, old pair kept.
        await Deno.copyFile(a.hub.keyFile, keyFile);
        pool.signal("SIGHUP");
        const failed = await pool.waitForLog((l) =>
          l.msg === "TLS certificate reload failed; keeping the current certificate"
        );
        assert.equal(failed.key, "tls.key_file");
        assert.equal(await serverCertificateFingerprint(tlsPort), fingerprintB);
        assert.equal(
          await metricValue(
            pool.metricsPort,
            'ckpool_tls_certificate_reloads_total{result="error"',
          ),
          1,
        );
        assert.equal(
          await metricValue(pool.metricsPort, 'ckpool_tls_certificate_reloads_total{result="ok"'),
          1,
        );
        assert.equal(client.connection.isClosed, false, "no miner dropped by the reloads");

        // The plain listener serves the same engine beside the TLS one.
        const plain = await StratumClient.start({
          host: "127.0.0.1",
          port: pool.stratumPort,
          username: `${address}.plain`,
        });
        clients.push(plain);
        assert.notEqual(plain.sessionId, client.sessionId);
      } finally {
        await miner?.stop();
        for (const c of clients) c.close();
        assert.equal(await pool.stop(), 0, "pool drains and exits 0 on SIGTERM");
        await devnet.stop();
      }
    }),
});

Deno.test({
  name: "a TLS key that does not match its certificate stops the start: exit 2 naming tls.key_file",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: () =>
    withCerts(async (a, b, dir) => {
      const devnet = await startDevnet({});
      try {
        const configPath = `${dir}/stratum.json`;
        await Deno.writeTextFile(
          configPath,
          JSON.stringify({
            network: "regtest",
            btcd: [{
              url: `127.0.0.1:${devnet.rpcPort}`,
              auth: devnet.user,
              pass: devnet.password,
            }],
            serverurl: [`127.0.0.1:${pickFreePort()}`],
            serverurl_tls: [`127.0.0.1:${pickFreePort()}`],
            tls: { cert_file: a.hub.certFile, key_file: b.hub.keyFile },
            metrics: { host: "127.0.0.1", port: pickFreePort() },
            events: { enabled: false },
          }),
        );
        const out = await launcherCommand(configPath).output();
        const stderr = new TextDecoder().decode(out.stderr);
        assert.equal(out.code, 2, stderr);
        const last = stderr.trim().split("\n").at(-1)!;
        assert.match(
          last,
          /^tbg-stratum: Invalid config .*stratum\.json: tls\.key_file: Cannot use TLS certificate: .* is not the private key of /,
        );
      } finally {
        await devnet.stop();
      }
    }),
});

Deno.test({
  name:
    "failed TLS handshakes give their per-IP slot back: a real miner gets in after more failures than max_connections_per_ip",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: () =>
    withCerts(async (a) => {
      const devnet = await startDevnet({});
      const tlsPort = pickFreePort();
      const pool = await startPoolProcess(devnet, {
        serverurl_tls: [`127.0.0.1:${tlsPort}`],
        tls: { cert_file: a.hub.certFile, key_file: a.hub.keyFile, handshake_timeout_ms: 200 },
        rate_limits: { max_connections_per_ip: 2, connections_per_ip_per_minute: 100 },
      });
      try {
        // Three silent connections one after the other, each closed by the handshake deadline.
        for (let i = 0; i < 3; i++) {
          const silent = await Deno.connect({ hostname: "127.0.0.1", port: tlsPort });
          const buffer = new Uint8Array(16);
          while ((await silent.read(buffer).catch(() => null)) !== null) { /* until closed */ }
          silent.close();
        }
        const timeouts = await metricValue(
          pool.metricsPort,
          'ckpool_tls_handshakes_total{result="timeout"',
        );
        assert.equal(timeouts, 3);
        const { address } = regtestAddress("p2wpkh", 8);
        const miner = await StratumClient.start({
          host: "127.0.0.1",
          port: tlsPort,
          username: `${address}.after`,
          tls: { caCerts: [await Deno.readTextFile(a.caFile)] },
        });
        miner.close();
      } finally {
        assert.equal(await pool.stop(), 0);
        await devnet.stop();
      }
    }),
});
