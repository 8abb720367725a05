import assert from "node:assert/strict";
import { clampRequestedDifficulty, requestedDifficultyCeiling } from "./requested_difficulty.ts";

const NO_MAX = { vardiff: { mindiff: 1, maxdiff: 0 }, startDifficulty: 42 };
const MAINNET_DIFFICULTY = 1.5e14;

Deno.test("clampRequestedDifficulty() keeps the network difficulty as ceiling when maxdiff is 0", () => {
  assert.equal(clampRequestedDifficulty(1e308, NO_MAX, MAINNET_DIFFICULTY), MAINNET_DIFFICULTY);
  assert.equal(clampRequestedDifficulty(1e60, NO_MAX, MAINNET_DIFFICULTY), MAINNET_DIFFICULTY);
  assert.equal(clampRequestedDifficulty(65536, NO_MAX, MAINNET_DIFFICULTY), 65536);
});

Deno.test("clampRequestedDifficulty() raises a request below mindiff to mindiff", () => {
  assert.equal(clampRequestedDifficulty(0.0001, NO_MAX, MAINNET_DIFFICULTY), 1);
});

Deno.test("clampRequestedDifficulty() applies maxdiff when it lies below the network difficulty", () => {
  const bounds = { vardiff: { mindiff: 1, maxdiff: 1e6 }, startDifficulty: 42 };
  assert.equal(clampRequestedDifficulty(1e300, bounds, MAINNET_DIFFICULTY), 1e6);
  assert.equal(clampRequestedDifficulty(1e300, bounds, 1000), 1000);
});

Deno.test("requestedDifficultyCeiling() is startdiff while no template is known", () => {
  assert.equal(requestedDifficultyCeiling(NO_MAX, null), 42);
  assert.equal(clampRequestedDifficulty(1e308, NO_MAX, null), 42);
});

Deno.test("requestedDifficultyCeiling() never lies below mindiff (a network easier than mindiff)", () => {
  const regtest = { vardiff: { mindiff: 0.000001, maxdiff: 0 }, startDifficulty: 0.00001 };
  assert.equal(requestedDifficultyCeiling(regtest, 4.66e-10), 0.000001);
  assert.equal(clampRequestedDifficulty(0.5, regtest, 4.66e-10), 0.000001);
});
