import assert from "node:assert/strict";
import { checkCompatible, type Instance, parseUpgradeArgs } from "./upgrade.ts";

Deno.test("parseUpgradeArgs() takes instance lists and defaults to the systemd units", () => {
  const options = parseUpgradeArgs(["--old", "0,1", "--new", "2,3", "--soak-s", "60"]);
  assert.deepEqual([options.old, options.new], [[0, 1], [2, 3]]);
  assert.equal(options.start, "systemctl start tbg-stratum@{n}");
  assert.equal(options.stop, "systemctl stop tbg-stratum@{n}");
  assert.equal(options.configDir, "/etc/tbg");
  assert.equal(options.soakMs, 60_000);
  assert.deepEqual(options.limits, { minShares: 1, maxRejectRatio: 0.05, maxErrorRatio: 0.01 });
  assert.equal(options.rollback, false);
  assert.equal(parseUpgradeArgs(["--old", "0", "--new", "1", "--rollback"]).rollback, true);
  const relay = parseUpgradeArgs(["--old", "0", "--new", "1", "--kind", "relay"]);
  assert.equal(relay.stop, "systemctl stop tbg-relay@{n}");
});

Deno.test("parseUpgradeArgs() names the flag of each bad value", () => {
  const cases: [string[], RegExp][] = [
    [["--new", "1"], /--old is required/],
    [["--old", "0,x", "--new", "1"], /--old: "x" is not an instance number 0–255/],
    [["--old", "256", "--new", "1"], /--old: "256" is not an instance number/],
    [["--old", "0,0", "--new", "1"], /--old names an instance twice/],
    [["--old", "0,1", "--new", "1"], /instance 1 is in both --old and --new/],
    [["--old", "0", "--new", "1", "--soak-s=-5"], /--soak-s: "-5" is not a number from 0/],
    [["--old", "0", "--new", "1", "--max-reject-ratio", "2"], /--max-reject-ratio: "2"/],
    [
      ["--old", "0", "--new", "1", "--start", "systemctl start tbg-stratum@2"],
      /--start must contain \{n\}/,
    ],
    [["--old", "0", "--new", "1", "--bogus"], /Unknown option '--bogus'/],
    [["--old", "0", "--new", "1", "--kind", "collector"], /--kind: "collector" is not stratum/],
  ];
  for (const [args, message] of cases) {
    assert.throws(() => parseUpgradeArgs(args), message, args.join(" "));
  }
});

const instance = (n: number, over: Partial<Instance> = {}): Instance => ({
  n,
  configPath: `/etc/tbg/stratum-${n}.json`,
  metricsUrl: `http://127.0.0.1:${9100 + n}/metrics`,
  healthUrl: `http://127.0.0.1:${9100 + n}/health`,
  stratumPort: "0.0.0.0:3333",
  spoolDir: `/var/lib/tbg/stratum-${n}/spool`,
  ...over,
});

Deno.test("checkCompatible() refuses another port, a shared spool or a shared health endpoint", () => {
  checkCompatible([instance(0), instance(1), instance(2)]);
  assert.throws(
    () => checkCompatible([instance(0), instance(2, { stratumPort: "0.0.0.0:3334" })]),
    /instance 2 listens on 0.0.0.0:3334, instance 0 on 0.0.0.0:3333/,
  );
  assert.throws(
    () => checkCompatible([instance(0), instance(2, { spoolDir: "/var/lib/tbg/stratum-0/spool" })]),
    /instances 0 and 2 share the spool directory/,
  );
  assert.throws(
    () => checkCompatible([instance(0), instance(2, { healthUrl: instance(0).healthUrl })]),
    /instances 0 and 2 share http:\/\/127.0.0.1:9100\/health/,
  );
});
