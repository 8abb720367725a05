import { startDevnet } from "../support/devnet/mod.ts";
const t0 = performance.now();
const d = await startDevnet({ mempoolTarget: 2000, bits: 0x1d00ffff });
console.log("start ms", performance.now() - t0, "mempool", d.chain.mempoolTxids().length);
const r = await fetch(d.rpcUrl, {
  method: "POST",
  headers: { authorization: "Basic " + btoa("devnet:devnet") },
  body: JSON.stringify({
    jsonrpc: "1.0",
    id: 1,
    method: "getblocktemplate",
    params: [{ rules: ["segwit"] }],
  }),
});
const j = await r.json();
console.log(Object.keys(j.result), j.result.transactions.length, j.result.bits);
await d.stop();
