import assert from "node:assert/strict";
import {
  childArgs,
  LoadMode,
  parseLoadArgs,
  parseSourceAddresses,
  splitEvenly,
} from "./load_options.ts";

Deno.test("parseLoadArgs() applies defaults around the mode and port", () => {
  const options = parseLoadArgs(["--port", "3333", "--outstanding", "4"]);
  assert.equal(options.host, "127.0.0.1");
  assert.equal(options.port, 3333);
  assert.equal(options.mode, LoadMode.outstanding);
  assert.equal(options.outstanding, 4);
  assert.equal(options.ratePerS, 0);
  assert.equal(options.connections, 100);
  assert.equal(options.processes, 1);
  assert.equal(options.json, false);
});

Deno.test("parseLoadArgs() reads rate and idle modes", () => {
  const rate = parseLoadArgs(["--port", "1", "--rate", "5000", "--connections", "1000"]);
  assert.equal(rate.mode, LoadMode.rate);
  assert.equal(rate.ratePerS, 5000);
  assert.equal(parseLoadArgs(["--port", "1", "--idle"]).mode, LoadMode.idle);
});

Deno.test("parseLoadArgs() wants exactly one mode", () => {
  assert.throws(() => parseLoadArgs(["--port", "1"]), /exactly one of/);
  assert.throws(() => parseLoadArgs(["--port", "1", "--idle", "--rate", "5"]), /exactly one of/);
});

Deno.test("parseLoadArgs() names the option it cannot read", () => {
  assert.throws(() => parseLoadArgs(["--idle"]), /--port is required/);
  assert.throws(() => parseLoadArgs(["--port", "70000", "--idle"]), /--port/);
  assert.throws(() => parseLoadArgs(["--port", "1", "--outstanding", "2.5"]), /--outstanding/);
  assert.throws(() => parseLoadArgs(["--port", "1", "--idle", "--connections", "0"]), RangeError);
  assert.throws(() => parseLoadArgs(["--port", "1", "--idle", "--ramp-s", "-1"]), /--ramp-s/);
  assert.throws(() => parseLoadArgs(["--port", "1", "--idle", "--bogus"]), TypeError);
});

Deno.test("splitEvenly() gives the remainder to the first parts and adds up to the total", () => {
  assert.deepEqual([0, 1, 2].map((i) => splitEvenly(10, 3, i)), [4, 3, 3]);
  assert.deepEqual([0, 1].map((i) => splitEvenly(1, 2, i)), [1, 0]);
});

Deno.test("childArgs() splits connections, rate and worker numbering over children", () => {
  const options = parseLoadArgs([
    "--port",
    "3333",
    "--rate",
    "5000",
    "--connections",
    "1001",
    "--processes",
    "2",
    "--index-offset",
    "10",
  ]);
  const parsed = [0, 1].map((i) => parseLoadArgs(childArgs(options, i)));
  assert.deepEqual(parsed.map((p) => p.connections), [501, 500]);
  assert.deepEqual(parsed.map((p) => p.indexOffset), [10, 511]);
  assert.equal(parsed[0]!.ratePerS + parsed[1]!.ratePerS, 5000);
  for (const p of parsed) {
    assert.equal(p.processes, 1);
    assert.equal(p.json, true);
    assert.equal(p.emitHistogram, true);
    assert.equal(p.mode, LoadMode.rate);
  }
});

Deno.test("parseLoadArgs() reads loopback source addresses and the progress interval", () => {
  const options = parseLoadArgs([
    "--port",
    "1",
    "--idle",
    "--source-addresses",
    "127.0.0.2, 127.0.0.3",
    "--progress-interval-s",
    "5",
  ]);
  assert.deepEqual(options.sourceAddresses, ["127.0.0.2", "127.0.0.3"]);
  assert.equal(options.progressIntervalS, 5);
  const plain = parseLoadArgs(["--port", "1", "--idle"]);
  assert.deepEqual(plain.sourceAddresses, []);
  assert.equal(plain.progressIntervalS, 0);
});

Deno.test("parseSourceAddresses() refuses what is not a distinct 127.x.x.x address", () => {
  for (const bad of ["10.0.0.1", "127.0.0", "127.0.0.256", "localhost", "127.0.0.2,,127.0.0.3"]) {
    assert.throws(() => parseSourceAddresses(bad), /--source-addresses/, bad);
  }
  assert.throws(() => parseSourceAddresses("127.0.0.2,127.0.0.2"), /twice/);
});

Deno.test("childArgs() passes source addresses and progress interval to every child", () => {
  const options = parseLoadArgs([
    "--port",
    "1",
    "--rate",
    "100",
    "--connections",
    "10",
    "--processes",
    "2",
    "--source-addresses",
    "127.0.0.2,127.0.0.3",
    "--progress-interval-s",
    "10",
  ]);
  const args = childArgs(options, 1);
  assert.equal(args[args.indexOf("--source-addresses") + 1], "127.0.0.2,127.0.0.3");
  assert.equal(args[args.indexOf("--progress-interval-s") + 1], "10");
  assert.equal(args[args.indexOf("--index-offset") + 1], "5");
});
