import assert from "node:assert/strict";
import { getLogger } from "@tbg/shared/log";
import { PrimaryRttProbe } from "./primary_rtt.ts";

Deno.test("PrimaryRttProbe counts a probe without a connection as a failure", async () => {
  const failures: string[] = [];
  const probe = new PrimaryRttProbe({
    connection: () => null,
    onRtt: () => assert.fail("no round trip without a connection"),
    onFailure: (error) => failures.push(error),
    log: getLogger(["relay", "rtt", "test"]),
  });
  await probe.probe();
  await probe.probe();
  assert.deepEqual(failures, [
    "no connection to the primary's NATS server",
    "no connection to the primary's NATS server",
  ]);
});

Deno.test("PrimaryRttProbe refuses a timing that is not positive", () => {
  assert.throws(
    () =>
      new PrimaryRttProbe({
        connection: () => null,
        onRtt: () => {},
        onFailure: () => {},
        log: getLogger(["relay", "rtt", "test"]),
        intervalMs: 0,
      }),
    { name: "RangeError" },
  );
});
