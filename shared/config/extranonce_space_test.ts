import assert from "node:assert/strict";
import {
  EXTRANONCE1_PREFIX_BYTES,
  extranonce1Prefix,
  MIN_NONCE1_LENGTH,
  PRIMARY_REGION_INDEX,
} from "./extranonce_space.ts";
import { validateConfig } from "./load_config.ts";

const PATH = "/etc/tbg/relay.json";
const ENGINE = {
  btcd: [{ url: "127.0.0.1:8332", auth: "user", pass: "pass" }],
  serverurl: ["0.0.0.0:3333"],
};
const PRIMARY = { host: "127.0.0.1", port: 4222, auth_token: "secret" };

Deno.test("extranonce1Prefix() puts the region index before the instance index", () => {
  assert.deepEqual(extranonce1Prefix(PRIMARY_REGION_INDEX, 3), Uint8Array.of(0, 3));
  assert.deepEqual(extranonce1Prefix(2, 0), Uint8Array.of(2, 0));
  assert.equal(extranonce1Prefix(255, 255).length, EXTRANONCE1_PREFIX_BYTES);
});

Deno.test("extranonce1Prefix() gives every (region, instance) pair its own prefix", () => {
  const seen = new Set<string>();
  for (let region = 0; region < 256; region++) {
    for (const instance of [0, 1, 7, 255]) {
      seen.add(extranonce1Prefix(region, instance).join(","));
    }
  }
  assert.equal(seen.size, 256 * 4);
});

Deno.test("extranonce1Prefix() refuses indices outside one byte", () => {
  assert.throws(() => extranonce1Prefix(256, 0), {
    name: "RangeError",
    message: "Cannot build extranonce1 prefix: region index 256 is not 0-255",
  });
  assert.throws(() => extranonce1Prefix(0, -1), { name: "RangeError" });
  assert.throws(() => extranonce1Prefix(1.5, 0), { name: "RangeError" });
});

Deno.test("a relay config needs a region_index of its own, not the primary's 0", () => {
  assert.equal(
    validateConfig("relay", { ...ENGINE, primary: PRIMARY, region_index: 2 }, PATH).region_index,
    2,
  );
  assert.throws(() => validateConfig("relay", { ...ENGINE, primary: PRIMARY }, PATH), {
    message:
      `Invalid config ${PATH}: region_index: is required (expected an integer from 1 to 255)`,
  });
  // 0 is the primary region's: a relay using it could hand out the primary's extranonce1s.
  for (const index of [0, 256]) {
    assert.throws(
      () => validateConfig("relay", { ...ENGINE, primary: PRIMARY, region_index: index }, PATH),
      {
        message:
          `Invalid config ${PATH}: region_index: expected an integer from 1 to 255, got ${index}`,
      },
    );
  }
});

Deno.test("a stratum config is the primary region's extranonce1 space unless told otherwise", () => {
  assert.equal(validateConfig("stratum", ENGINE, PATH).region_index, PRIMARY_REGION_INDEX);
  assert.equal(validateConfig("stratum", { ...ENGINE, region_index: 9 }, PATH).region_index, 9);
  assert.throws(() => validateConfig("stratum", { ...ENGINE, region_index: -1 }, PATH), {
    message: `Invalid config ${PATH}: region_index: expected an integer from 0 to 255, got -1`,
  });
});

Deno.test("nonce1length leaves room for the region and instance bytes and a counter", () => {
  assert.equal(MIN_NONCE1_LENGTH, 4);
  assert.equal(validateConfig("stratum", { ...ENGINE, nonce1length: 4 }, PATH).nonce1length, 4);
  assert.throws(() => validateConfig("stratum", { ...ENGINE, nonce1length: 3 }, PATH), {
    message: `Invalid config ${PATH}: nonce1length: expected an integer from 4 to 8, got 3`,
  });
});
