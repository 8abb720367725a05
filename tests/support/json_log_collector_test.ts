import assert from "node:assert/strict";
import { JsonLogCollector } from "./json_log_collector.ts";

function streamOf(chunks: string[]): ReadableStream<Uint8Array> {
  const enc = new TextEncoder();
  return new ReadableStream({
    start(c) {
      for (const chunk of chunks) c.enqueue(enc.encode(chunk));
      c.close();
    },
  });
}

Deno.test("JsonLogCollector parses lines split across chunks and finds earlier lines", async () => {
  const logs = new JsonLogCollector([streamOf(['{"msg":"a"}\n{"ms', 'g":"ready"}\nplain text\n'])]);
  await logs.done;
  assert.deepEqual(logs.logs, [{ msg: "a" }, { msg: "ready" }, { raw: "plain text" }]);
  assert.deepEqual(await logs.waitFor((l) => l.msg === "ready", 1_000), { msg: "ready" });
});

Deno.test("JsonLogCollector rejects a wait once the process's streams have ended", async () => {
  const logs = new JsonLogCollector([streamOf(['{"msg":"a"}\n'])]);
  await logs.done;
  await assert.rejects(logs.waitFor((l) => l.msg === "never", 1_000, "pool"), /pool exited/);
});
