/**
 * Stratum over TLS on a relay: the real relay process (through the launcher, so with the grants
 * its TLS config implies: the TLS listener, the loopback relay host, reads of the certificate and
 * key) with no primary publishing, so it mines on its local devnet node (independent mode). A TLS
 * miner finds a block there that pays its address, and SIGHUP swaps the relay's certificate while
 * that miner stays connected.
 */
import { waitUntil } from "./support/sim/sim_checks.ts";
import assert from "node:assert/strict";
import { difficultyToTarget, targetToBits } from "@tbg/shared/bitcoin";
import { certificateFingerprint } from "@tbg/shared/engine";
import { generateTestCerts } from "../tools/gen_test_certs.ts";
import { startDevnet } from "./support/devnet/mod.ts";
import { startRelayProcess } from "./support/relay_process.ts";
import { pickFreePort, startNatsServer } from "./support/servers/nats_server.ts";
import { regtestAddress } from "./support/addresses.ts";
import { CpuMiner, StratumClient } from "./support/stratum_client/mod.ts";
import { serverCertificateFingerprint } from "./support/tls_probe.ts";

const NETWORK_DIFFICULTY = 0.00004;

Deno.test({
  name:
    "relay: a TLS miner finds a block through the relay's TLS listener; SIGHUP swaps its certificate",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "tbg-relay-tls-" });
    const nats = await startNatsServer({ jetstream: true });
    const devnet = await startDevnet({
      bits: targetToBits(difficultyToTarget(NETWORK_DIFFICULTY)),
    });
    const cleanups: (() => Promise<unknown>)[] = [];
    try {
      const a = await generateTestCerts({ dir: `${dir}/a`, regions: [], caName: "TBG relay CA a" });
      const b = await generateTestCerts({ dir: `${dir}/b`, regions: [], caName: "TBG relay CA b" });
      const certFile = `${dir}/relay.crt`;
      const keyFile = `${dir}/relay.key`;
      await Deno.copyFile(a.hub.certFile, certFile);
      await Deno.copyFile(a.hub.keyFile, keyFile);
      const tlsPort = pickFreePort();
      const relay = await startRelayProcess(
        devnet,
        { primaryNatsUrl: nats.url, eventsNatsUrl: null },
        {
          independent_after_ms: 1_000,
          serverurl_tls: [`127.0.0.1:${tlsPort}`],
          tls: { cert_file: certFile, key_file: keyFile },
        },
      );
      cleanups.push(() => relay.stop());
      const ready = relay.logs.find((l) => l.msg === "pool ready")!;
      assert.deepEqual(ready.listen_tls, [{ hostname: "127.0.0.1", port: tlsPort }]);

      const { address, scriptHex } = regtestAddress("p2tr", 11);
      const client = await StratumClient.start({
        host: "127.0.0.1",
        port: tlsPort,
        username: `${address}.relay-tls`,
        tls: { caCerts: [await Deno.readTextFile(a.caFile)] },
      });
      cleanups.push(() => Promise.resolve(client.close()));
      const miner = new CpuMiner(client, { batchNonces: 1024 });
      cleanups.push(() => miner.stop());
      miner.start();
      const startHeight = devnet.chain.tipHeight();
      const paid = (): boolean => {
        for (let h = startHeight + 1; h <= devnet.chain.tipHeight(); h++) {
          const block = devnet.chain.blockAtHeight(h)!;
          if (devnet.chain.coinbase(block.hash)!.outputs[0]!.scriptHex === scriptHex) return true;
        }
        return false;
      };
      await waitUntil("a block paying the relay's TLS miner", paid, 150_000);

      await Deno.copyFile(b.hub.certFile, certFile);
      await Deno.copyFile(b.hub.keyFile, keyFile);
      relay.signal("SIGHUP");
      await relay.waitForLog((l) => l.msg === "TLS certificate reloaded");
      assert.equal(
        await serverCertificateFingerprint(tlsPort),
        await certificateFingerprint(await Deno.readTextFile(b.hub.certFile)),
      );
      const accepted = miner.stats.accepted;
      await waitUntil(
        "a share accepted after the reload",
        () => miner.stats.accepted > accepted,
        60_000,
      );
      assert.equal(client.connection.isClosed, false);
    } finally {
      for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {});
      await devnet.stop();
      await nats.stop();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
