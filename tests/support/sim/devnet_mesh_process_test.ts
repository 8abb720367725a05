import assert from "node:assert/strict";
import { formatLinkArg, parseLinkArg } from "./devnet_mesh_process.ts";

Deno.test("parseLinkArg() reads <region>:<region>=<ms>", () => {
  assert.deepEqual(parseLinkArg("eu:us-east=80"), { a: "eu", b: "us-east", delayMs: 80 });
  assert.deepEqual(parseLinkArg("us-east:asia=165.5"), { a: "us-east", b: "asia", delayMs: 165.5 });
  for (const bad of ["eu-us=80", "eu:asia", "eu:asia=-1", "EU:asia=1", "eu:asia=fast"]) {
    assert.throws(() => parseLinkArg(bad), /Cannot parse --link/, bad);
  }
});

Deno.test("formatLinkArg() writes what parseLinkArg() reads", () => {
  const link = { a: "eu", b: "asia", delayMs: 160 };
  assert.deepEqual(parseLinkArg(formatLinkArg(link)), link);
});
