// Starts a real bcoin full node (npm bcoin, run by Node) for the pool's tests: regtest, in
// memory, RPC on loopback (--http-port=0: a free port, printed when ready), no P2P connections.
//
// Usage: node bcoin_node.cjs <bcoin install prefix> --http-port=<port> --api-key=<key> [...]
//
// Two things differ from bcoin's own bin/node, both so it runs here without native builds:
// - leveldown 4.0.1 (bcoin's disk database) does not compile on Node >= 20. With --memory bcoin
//   never opens it, but bdb requires it at load time, so a stand-in that refuses to open is
//   put in its place.
// - The node is opened but never connected: regtest's only seed is 127.0.0.1:48444, which could
//   be another test's bcoin. Regtest templates do not need peers (bcoin's selfConnect).
"use strict";

const path = require("node:path");
const { createRequire } = require("node:module");

const prefix = process.argv[2];
if (!prefix) {
  process.stderr.write("usage: node bcoin_node.cjs <bcoin install prefix> [bcoin options]\n");
  process.exit(2);
}
const bcoinRequire = createRequire(path.join(prefix, "node_modules", "bcoin", "package.json"));
const bdbRequire = createRequire(bcoinRequire.resolve("bdb"));
const leveldown = bdbRequire.resolve("leveldown");
require.cache[leveldown] = {
  id: leveldown,
  filename: leveldown,
  loaded: true,
  exports: function leveldownNotBuilt() {
    throw new Error("leveldown is not built here: run bcoin with --memory");
  },
};

const FullNode = bcoinRequire("./lib/node/fullnode");
const version = bcoinRequire("./package.json").version;

// bcoin's config reads argv from index 2 on; drop the prefix argument.
const argv = [process.argv[0], process.argv[1], ...process.argv.slice(3)];
const node = new FullNode({
  config: false,
  argv,
  env: false,
  network: "regtest",
  memory: true,
  workers: false,
  listen: false,
  logFile: false,
  logConsole: true,
  logLevel: "warning",
});

process.on("unhandledRejection", (err) => {
  throw err;
});
// In memory there is nothing to save, and node.close() can wait seconds for HTTP keep-alive
// connections (a pool's long poll) to end: exit at once.
for (const signal of ["SIGTERM", "SIGINT"]) {
  process.on(signal, () => process.exit(0));
}

(async () => {
  await node.open();
  // The test waits for this line, which names the port bound (--http-port=0 picks a free one).
  process.stdout.write(`bcoin ${version} ready on port ${node.http.address().port}\n`);
})().catch((err) => {
  process.stderr.write(`${err.stack}\n`);
  process.exit(1);
});
