import assert from "node:assert/strict";
import { checkFitsHost, parseLoadtestArgs, sourceAddressList } from "./loadtest_options.ts";

const HOST = { nofile: 20_000 };

Deno.test("parseLoadtestArgs() reads the seed's knobs", () => {
  const o = parseLoadtestArgs([
    "--miners",
    "100000",
    "--ramp-up",
    "300",
    "--share-interval",
    "10",
    "--duration",
    "3600",
    "--report-interval",
    "10",
    "--processes",
    "6",
  ]);
  assert.equal(o.miners, 100_000);
  assert.equal(o.rampUpS, 300);
  assert.equal(o.shareIntervalS, 10);
  assert.equal(o.durationS, 3600);
  assert.equal(o.reportIntervalS, 10);
  assert.equal(o.processes, 6);
  // Sized from the miners when not given.
  assert.equal(o.generatorProcesses, 7);
  assert.equal(o.sourceAddresses, 5);
  assert.equal(o.out, ".tbg/loadtest/last.json");
});

Deno.test("parseLoadtestArgs() defaults fit a small run", () => {
  const o = parseLoadtestArgs([]);
  assert.equal(o.miners, 10_000);
  assert.equal(o.processes, 2);
  assert.equal(o.generatorProcesses, 1);
  assert.equal(o.sourceAddresses, 1);
  assert.equal(o.poolV8Flags, "");
  assert.equal(o.poolLogDir, null);
  checkFitsHost(o, HOST);
});

Deno.test("parseLoadtestArgs() takes V8 flags for the pools and refuses anything else", () => {
  const o = parseLoadtestArgs([
    "--pool-v8-flags= --max-semi-space-size=2  --optimize-for-size",
  ]);
  // DENO_V8_FLAGS takes a comma-separated list.
  assert.equal(o.poolV8Flags, "--max-semi-space-size=2,--optimize-for-size");
  // Not a shell: a flag list cannot smuggle another argument or a command.
  for (const bad of ["max-semi-space-size=2", "--a=1;rm", "--a $(x)", "--A=1"]) {
    assert.throws(() => parseLoadtestArgs([`--pool-v8-flags=${bad}`]), /--pool-v8-flags: expected/);
  }
});

Deno.test("parseLoadtestArgs() names the flag it cannot read", () => {
  const cases: [string[], RegExp][] = [
    [["--miners", "0"], /--miners: expected 1 to 200000, got 0/],
    [["--miners", "1.5"], /--miners: expected a whole number/],
    [["--miners", "lots"], /--miners: expected a number, got "lots"/],
    [["--miners", "500000"], /--miners/],
    [["--share-interval", "0"], /--share-interval/],
    [["--duration", "-1"], /--duration/],
    [["--ramp-up", ""], /--ramp-up/],
    [["--report-interval", "0.5"], /--report-interval/],
    [["--processes", "0"], /--processes/],
    [["--generator-processes", "100"], /--generator-processes/],
    [["--source-addresses", "251"], /--source-addresses/],
    [["--regression-margin", "-5"], /--regression-margin/],
    [["--miners", "3", "--generator-processes", "4"], /--generator-processes 4: more than/],
  ];
  for (const [args, error] of cases) assert.throws(() => parseLoadtestArgs(args), error);
  assert.throws(() => parseLoadtestArgs(["--bogus"]), TypeError);
  assert.throws(() => parseLoadtestArgs(["extra"]), TypeError);
});

Deno.test("checkFitsHost() names the flag to raise when a process or address would overflow", () => {
  const tooFewPools = parseLoadtestArgs(["--miners", "100000", "--processes", "5"]);
  assert.throws(() => checkFitsHost(tooFewPools, HOST), /raise --processes/);
  const tooFewGenerators = parseLoadtestArgs([
    "--miners",
    "100000",
    "--processes",
    "6",
    "--generator-processes",
    "5",
  ]);
  assert.throws(() => checkFitsHost(tooFewGenerators, HOST), /raise --generator-processes/);
  const tooFewAddresses = parseLoadtestArgs([
    "--miners",
    "100000",
    "--processes",
    "6",
    "--source-addresses",
    "4",
  ]);
  assert.throws(() => checkFitsHost(tooFewAddresses, HOST), /25000 per address exceeds its 22768/);
  checkFitsHost(parseLoadtestArgs(["--miners", "100000", "--processes", "6"]), HOST);
});

Deno.test("sourceAddressList() starts at 127.0.0.2", () => {
  assert.deepEqual(sourceAddressList(3), ["127.0.0.2", "127.0.0.3", "127.0.0.4"]);
});
