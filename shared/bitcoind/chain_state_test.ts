// deno test shared/bitcoind/chain_state_test.ts
import assert from "node:assert/strict";
import { deriveInitialBlockDownload, normaliseChainName } from "./chain_state.ts";

const NOW_S = 1_800_000_000;
const synced = {
  blocks: 900_000,
  headers: 900_000,
  verificationprogress: 0.99999,
  tipTimeS: NOW_S - 600,
  nowS: NOW_S,
};

Deno.test("normaliseChainName() maps btcd's chain names to Core's", () => {
  assert.equal(normaliseChainName("mainnet"), "main");
  assert.equal(normaliseChainName("testnet3"), "test");
  for (const same of ["main", "test", "testnet4", "signet", "regtest", "simnet"]) {
    assert.equal(normaliseChainName(same), same);
  }
});

Deno.test("deriveInitialBlockDownload() says synced for a current node", () => {
  assert.deepEqual(deriveInitialBlockDownload(synced), { syncing: false, why: undefined });
  // One block being validated, or no progress figure and no tip time (nothing says syncing).
  assert.equal(
    deriveInitialBlockDownload({ ...synced, headers: synced.blocks + 2 }).syncing,
    false,
  );
  assert.equal(
    deriveInitialBlockDownload({ ...synced, verificationprogress: undefined, tipTimeS: undefined })
      .syncing,
    false,
  );
});

Deno.test("deriveInitialBlockDownload() says syncing by headers, progress or tip age", () => {
  assert.deepEqual(deriveInitialBlockDownload({ ...synced, headers: synced.blocks + 3 }), {
    syncing: true,
    why: "3 headers ahead of blocks",
  });
  assert.deepEqual(deriveInitialBlockDownload({ ...synced, verificationprogress: 0.42 }), {
    syncing: true,
    why: "verification progress 0.42",
  });
  assert.deepEqual(deriveInitialBlockDownload({ ...synced, tipTimeS: NOW_S - 25 * 3600 }), {
    syncing: true,
    why: "tip is 25 h old",
  });
});
