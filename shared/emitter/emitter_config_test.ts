import assert from "node:assert/strict";
import { resolveSpoolDir } from "./emitter_config.ts";

Deno.test("resolveSpoolDir() prefers events.spool_dir, then <logdir>/spool, then ./.tbg/spool", () => {
  assert.equal(resolveSpoolDir("/var/spool/tbg", "/var/log/tbg"), "/var/spool/tbg");
  assert.equal(resolveSpoolDir(undefined, "/var/log/tbg"), "/var/log/tbg/spool");
  assert.equal(resolveSpoolDir(undefined, undefined), "./.tbg/spool");
});
