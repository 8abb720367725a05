/**
 * Start-up rules of the real stratum service: the network is learned from bitcoind when the
 * config omits it, and configured addresses of another network stop the service with exit 2
 * before any Stratum socket opens. Run with `deno task test`.
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { startDevnet } from "./support/devnet/mod.ts";
import { startPoolProcess } from "./support/pool_process.ts";
import { pickFreePort } from "./support/servers/nats_server.ts";

const ROOT = fileURLToPath(new URL("../", import.meta.url));

Deno.test({
  name: "stratum learns the network from getblockchaininfo when the config has none",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const devnet = await startDevnet();
    const pool = await startPoolProcess(devnet, { network: undefined });
    try {
      const ready = await pool.waitForLog((l) => l.msg === "pool ready");
      assert.equal(ready.network, "regtest");
    } finally {
      assert.equal(await pool.stop(), 0);
      await devnet.stop();
    }
  },
});

Deno.test({
  name:
    "stratum refuses to run with exit 2 when btcaddress belongs to another network than bitcoind's",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const devnet = await startDevnet();
    const dir = await Deno.makeTempDir({ prefix: "tbg-startup-" });
    const stratumPort = pickFreePort();
    try {
      const configPath = `${dir}/stratum.json`;
      await Deno.writeTextFile(
        configPath,
        JSON.stringify({
          btcd: [{ url: `127.0.0.1:${devnet.rpcPort}`, auth: devnet.user, pass: devnet.password }],
          btcaddress: "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4",
          donation: 1,
          serverurl: [`127.0.0.1:${stratumPort}`],
          metrics: { enabled: false },
        }),
      );
      const out = await new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "--allow-read",
          "--allow-run",
          "--allow-env=INIT_CWD",
          "tools/launch.ts",
          "run",
          "stratum",
          "--config",
          configPath,
        ],
        cwd: ROOT,
        stdout: "piped",
        stderr: "piped",
        env: { NO_COLOR: "1" },
      }).output();
      const stderr = new TextDecoder().decode(out.stderr);
      assert.equal(out.code, 2, stderr);
      assert.match(
        stderr,
        /btcaddress: bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4 is a mainnet address, but network is "regtest"/,
      );
      // Nothing listened on the Stratum port.
      const probe = Deno.listen({ hostname: "127.0.0.1", port: stratumPort });
      probe.close();
    } finally {
      await Deno.remove(dir, { recursive: true });
      await devnet.stop();
    }
  },
});
