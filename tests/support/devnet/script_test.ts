import assert from "node:assert/strict";
import { script as bscript } from "bitcoinjs-lib";
import { toHex } from "./bytes.ts";
import { countSigOps, heightPush } from "./script.ts";
import { scriptToAsm, withDescriptorChecksum } from "./tx_json.ts";

Deno.test("heightPush() writes CScript() << n: OP_N for 1..16, minimal numbers above", () => {
  assert.equal(toHex(heightPush(1)), "51");
  assert.equal(toHex(heightPush(16)), "60");
  for (const height of [17, 127, 128, 255, 256, 32767, 32768, 8388607, 8388608, 1_000_000]) {
    assert.equal(
      toHex(heightPush(height)),
      toHex(bscript.compile([bscript.number.encode(height)])),
      `height ${height}`,
    );
  }
});

Deno.test("countSigOps() counts multisig as 20 unless accurate with a small-int key count", () => {
  const multisig = Uint8Array.of(
    0x52,
    0x21,
    ...new Uint8Array(33),
    0x21,
    ...new Uint8Array(33),
    0x52,
    0xae,
  );
  assert.equal(countSigOps(multisig, false), 20);
  assert.equal(countSigOps(multisig, true), 2);
  assert.equal(countSigOps(Uint8Array.of(0xac, 0xad), false), 2);
});

Deno.test("withDescriptorChecksum() appends Core's descriptor checksum", () => {
  assert.equal(withDescriptorChecksum("raw(deadbeef)"), "raw(deadbeef)#89f8spxm");
});

Deno.test("scriptToAsm() writes small numbers and pushes like Core", () => {
  assert.equal(scriptToAsm(Uint8Array.of(0x00, 0x02, 0xab, 0xcd)), "0 -19883");
  assert.equal(
    scriptToAsm(Uint8Array.of(0x00, 0x14, ...new Uint8Array(20).fill(0xab))),
    `0 ${"ab".repeat(20)}`,
  );
});
