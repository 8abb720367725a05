import assert from "node:assert/strict";
import { readPreviousResult, RESULT_FORMAT, saveResult } from "./result_file.ts";
import type { LoadtestResult } from "./result_file.ts";

function result(commit: string): LoadtestResult {
  return { format: RESULT_FORMAT, commit, rows: [] } as unknown as LoadtestResult;
}

Deno.test("saveResult() keeps the replaced result as previous.json; readPreviousResult() reads it", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/nested/last.json`;
    assert.equal(
      await readPreviousResult(path, () => assert.fail("no file is not an error")),
      null,
    );
    await saveResult(path, result("a"));
    await saveResult(path, result("b"));
    assert.equal((await readPreviousResult(path, assert.fail))?.commit, "b");
    assert.equal(
      (await readPreviousResult(`${dir}/nested/previous.json`, assert.fail))?.commit,
      "a",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("readPreviousResult() ignores, and says why, a file that is not a result", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const reasons: string[] = [];
    await Deno.writeTextFile(`${dir}/a.json`, "{not json");
    await Deno.writeTextFile(`${dir}/b.json`, JSON.stringify({ format: "other", rows: [] }));
    assert.equal(await readPreviousResult(`${dir}/a.json`, (r) => reasons.push(r)), null);
    assert.equal(await readPreviousResult(`${dir}/b.json`, (r) => reasons.push(r)), null);
    assert.match(reasons[0]!, /is not JSON/);
    assert.match(reasons[1]!, /is not a tbg-loadtest\/1 result/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
