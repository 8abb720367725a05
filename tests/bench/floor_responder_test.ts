import assert from "node:assert/strict";
import { floorExtranonce1, floorReply } from "./floor_responder.ts";
import { notifySource } from "../load/load_connection.ts";

Deno.test("floorReply() rejects every submit as low difficulty under the request's id", () => {
  assert.equal(
    floorReply('{"id":42,"method":"mining.submit","params":["a.w","1","00","00","00"]}', "01"),
    '{"id":42,"result":null,"error":[23,"Low difficulty share",null]}\n',
  );
});

Deno.test("floorReply() answers authorize with true, a difficulty and one clean job", () => {
  const lines = floorReply('{"id":2,"method":"mining.authorize","params":["a.w","x"]}', "01")
    .trim().split("\n").map((l) => JSON.parse(l));
  assert.deepEqual(lines[0], { id: 2, result: true, error: null });
  assert.equal(lines[1].method, "mining.set_difficulty");
  assert.equal(lines[2].method, "mining.notify");
  assert.equal(lines[2].params[8], true);
});

Deno.test("floorReply() gives subscribe the extranonce1 and an 8-byte extranonce2", () => {
  const reply = JSON.parse(
    floorReply('{"id":1,"method":"mining.subscribe","params":[]}', "0000000a"),
  );
  assert.deepEqual(reply.result, [[["mining.notify", "0000000a"]], "0000000a", 8]);
});

Deno.test("floorReply() ignores lines that are not JSON", () => {
  assert.equal(floorReply("not json", "01"), "");
});

Deno.test("floorExtranonce1() starts with region 0 and the instance, as the pool's do", () => {
  assert.equal(floorExtranonce1(0, 10), "0000000a");
  assert.equal(floorExtranonce1(3, 0x1_0001), "00030001");
  assert.equal(notifySource(floorExtranonce1(17, 1)), "0011");
});
