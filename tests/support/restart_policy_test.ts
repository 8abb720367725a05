import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { parseRestartPolicy, shouldRestart } from "./restart_policy.ts";

const UNIT = fileURLToPath(new URL("../../infra/systemd/tbg-stratum@.service", import.meta.url));

Deno.test("parseRestartPolicy() reads the stratum unit's policy", async () => {
  const policy = parseRestartPolicy(await Deno.readTextFile(UNIT));
  assert.deepEqual(policy, {
    restart: "on-failure",
    restartSecMs: 3_000,
    preventExitStatus: [2],
    successExitStatus: [143],
  });
  // SIGKILL seen through the launcher (128 + 9) restarts; a config error or a clean stop does not.
  assert.deepEqual([137, 1, 2, 0, 143].map((code) => shouldRestart(policy, code)), [
    true,
    true,
    false,
    false,
    false,
  ]);
});

Deno.test("parseRestartPolicy() applies systemd's defaults and the last directive", () => {
  assert.deepEqual(parseRestartPolicy("[Service]\nExecStart=/bin/true\n"), {
    restart: "no",
    restartSecMs: 100,
    preventExitStatus: [],
    successExitStatus: [],
  });
  const policy = parseRestartPolicy("Restart=no\nRestart=always\nRestartSec=250ms\n");
  assert.equal(policy.restart, "always");
  assert.equal(policy.restartSecMs, 250);
  assert.equal(shouldRestart(policy, 0), true);
});

Deno.test("parseRestartPolicy() refuses what it cannot model", () => {
  assert.throws(() => parseRestartPolicy("Restart=on-abnormal"), /Cannot model Restart=/);
  assert.throws(() => parseRestartPolicy("RestartSec=3min"), /RestartSec=3min/);
  assert.throws(() => parseRestartPolicy("SuccessExitStatus=SIGTERM"), /not an exit code/);
});
