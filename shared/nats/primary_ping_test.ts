import assert from "node:assert/strict";
import { decodePingReply } from "./primary_ping.ts";

const encode = (value: unknown) => new TextEncoder().encode(JSON.stringify(value));

Deno.test("decodePingReply() reads who answered and when", () => {
  assert.deepEqual(
    decodePingReply(encode({ v: 1, region: "eu", instance: "stratum-eu-0", atMs: 12.5 })),
    { region: "eu", instance: "stratum-eu-0", atMs: 12.5 },
  );
});

Deno.test("decodePingReply() refuses what is not a version 1 reply, naming the problem", () => {
  assert.throws(() => decodePingReply(new TextEncoder().encode("{")), {
    name: "SyntaxError",
    message: "Cannot read ping reply: not JSON",
  });
  assert.throws(() => decodePingReply(encode({ v: 2, region: "eu", instance: "x", atMs: 1 })), {
    message: "Cannot read ping reply: not a version 1 reply",
  });
  assert.throws(() => decodePingReply(encode({ v: 1, region: 5, instance: "x", atMs: 1 })), {
    message: "Cannot read ping reply: region and instance must be strings",
  });
  assert.throws(() => decodePingReply(encode({ v: 1, region: "eu", instance: "x", atMs: "1" })), {
    message: "Cannot read ping reply: atMs must be a finite number",
  });
  assert.throws(() => decodePingReply(new Uint8Array(2048)), { name: "SyntaxError" });
});
