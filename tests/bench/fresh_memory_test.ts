import assert from "node:assert/strict";
import { rollupMb, statusMb } from "./fresh_memory.ts";

const ROLLUP = `55d0c0a00000-7ffd6c5f1000 ---p 00000000 00:00 0                          [rollup]
Rss:               86016 kB
Pss:               41234 kB
Pss_Dirty:         30000 kB
Shared_Clean:      40000 kB
Shared_Dirty:          0 kB
Private_Clean:      2048 kB
Private_Dirty:     33792 kB
Referenced:        86016 kB
`;

Deno.test("rollupMb reads PSS and USS (private clean + dirty) from smaps_rollup", () => {
  assert.deepEqual(rollupMb(ROLLUP), {
    pssMb: 41234 * 1024 / 1e6,
    ussMb: (2048 + 33792) * 1024 / 1e6,
  });
});

Deno.test("rollupMb names the missing line", () => {
  assert.throws(() => rollupMb("Rss: 1 kB\n"), /no Pss line/);
});

Deno.test("statusMb reads a kB line of /proc status", () => {
  assert.equal(statusMb("VmRSS:\t   1000 kB\nRssAnon:\t  400 kB\n", "RssAnon"), 400 * 1024 / 1e6);
});
