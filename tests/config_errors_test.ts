/**
 * Process-level start-up errors: each test writes a config file, starts
 * tests/support/config_probe.ts (which calls `bootstrap()` exactly as the services do) in a
 * real `deno run` with narrow permissions, and checks the exact stderr line and exit code 2.
 *
 * Run with:
 *   deno test --allow-read --allow-write --allow-run tests/config_errors_test.ts
 * (--allow-write for temporary config files, --allow-run to start `deno run` subprocesses;
 * nothing listens or connects: the probe stops before any socket opens.)
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { bech32 } from "@scure/base";
import { type ServiceKind, validateConfig } from "@tbg/shared/config";
import { permissionFlags, requiredPermissions } from "@tbg/shared/permissions";
import { SERVICE_RUNTIME_NEEDS } from "@tbg/shared/service";

const ROOT = fileURLToPath(new URL("../", import.meta.url)).replace(/\/$/, "");
const PROBE = `${ROOT}/tests/support/config_probe.ts`;
const MAINNET_ADDRESS = "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4";
const BASE = {
  network: "regtest",
  btcd: [{ url: "127.0.0.1:18443", auth: "devnet", pass: "devnet" }],
  serverurl: ["127.0.0.1:3333"],
  metrics: { host: "127.0.0.1", port: 9100 },
};

interface ProbeResult {
  code: number;
  stdout: string;
  stderr: string;
}

async function probe(flags: string[], args: string[]): Promise<ProbeResult> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--no-prompt", ...flags, PROBE, ...args],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decoder = new TextDecoder();
  return {
    code: output.code,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
  };
}

/** A config file in the temp directory, removed when the test's `using` scope ends. */
function tempConfig(text: string): { path: string } & Disposable {
  const path = Deno.makeTempFileSync({ prefix: "tbg-config-", suffix: ".json" });
  Deno.writeTextFileSync(path, text);
  return { path, [Symbol.dispose]: () => Deno.removeSync(path) };
}

/** Runs the probe with only --allow-read on a config and expects exit 2 with `message`. */
async function expectStartupError(text: string, message: (path: string) => string): Promise<void> {
  using file = tempConfig(text);
  const result = await probe(["--allow-read"], ["--config", file.path]);
  assert.equal(result.stderr, `${message(file.path)}\n`);
  assert.equal(result.code, 2);
  assert.equal(result.stdout, "");
}

/** The flags the launcher would grant for a config file. */
function flagsFor(kind: ServiceKind, path: string): string[] {
  const config = validateConfig(kind, JSON.parse(Deno.readTextFileSync(path)), path);
  const needs = SERVICE_RUNTIME_NEEDS[kind];
  return permissionFlags(
    requiredPermissions(kind, config, { configPath: path, env: needs.env, sys: needs.sys }),
  );
}

Deno.test("an unknown key exits 2 naming the key and the likely intended one", async () => {
  await expectStartupError(
    JSON.stringify({ ...BASE, mindif: 0.0001 }),
    (path) =>
      `tbg-stratum: Invalid config ${path}: unknown key "mindif" at top level (did you mean "mindiff"?)`,
  );
});

Deno.test("a value of the wrong JSON type exits 2 naming the type found", async () => {
  await expectStartupError(
    JSON.stringify({ ...BASE, mindiff: "abc" }),
    (path) => `tbg-stratum: Invalid config ${path}: mindiff: expected a number, got string "abc"`,
  );
});

Deno.test("an out-of-range value exits 2 naming the key path and the range", async () => {
  await expectStartupError(
    JSON.stringify({ ...BASE, rate_limits: { max_shares_per_minute: -5 } }),
    (path) =>
      `tbg-stratum: Invalid config ${path}: rate_limits.max_shares_per_minute: expected an integer from 1 to 65535, got -5`,
  );
});

Deno.test("an address with a bad checksum exits 2 with the decoder's reason", async () => {
  await expectStartupError(
    JSON.stringify({ ...BASE, network: "mainnet", btcaddress: MAINNET_ADDRESS.slice(0, -1) + "5" }),
    (path) =>
      `tbg-stratum: Invalid config ${path}: btcaddress: Cannot decode address: bech32 checksum is invalid`,
  );
});

Deno.test("an address of another network than the configured one exits 2", async () => {
  await expectStartupError(
    JSON.stringify({ ...BASE, btcaddress: MAINNET_ADDRESS }),
    (path) =>
      `tbg-stratum: Invalid config ${path}: btcaddress: ${MAINNET_ADDRESS} is a mainnet address, but network is "regtest"`,
  );
});

Deno.test("invalid JSON exits 2 with line and column", async () => {
  await expectStartupError(
    '{\n  "network": "regtest",\n  "mindiff": 0.0001\n  "startdiff": 1\n}',
    (path) =>
      `tbg-stratum: Invalid config ${path}: invalid JSON at line 4, column 3: unexpected '"' (expected "," or "}"; a comma is probably missing)`,
  );
});

Deno.test("a missing --config exits 2 with usage", async () => {
  const result = await probe(["--allow-read"], []);
  assert.equal(
    result.stderr,
    "tbg-stratum: missing --config <file> (usage: deno task start:stratum --config <file>)\n",
  );
  assert.equal(result.code, 2);
});

Deno.test("a config needing the network exits 2 naming the exact --allow-net flag", async () => {
  using file = tempConfig(JSON.stringify(BASE));
  // The event spool (on by default) and the found-blocks directory are granted so that only the
  // network is missing.
  const result = await probe(["--allow-read", "--allow-write=./.tbg/spool,./.tbg/blocks"], [
    "--config",
    file.path,
  ]);
  assert.equal(
    result.stderr,
    'tbg-stratum: missing permission --allow-net=127.0.0.1:3333,127.0.0.1:9100,127.0.0.1:18443,127.0.0.1:4222 (run through "deno task start:stratum" or add the flag)\n',
  );
  assert.equal(result.code, 2);
});

Deno.test("a grant for only some peers names just the missing ones", async () => {
  using file = tempConfig(JSON.stringify(BASE));
  const result = await probe(
    [
      "--allow-read",
      "--allow-write=./.tbg/spool,./.tbg/blocks",
      "--allow-net=127.0.0.1:3333,127.0.0.1:9100,127.0.0.1:4222",
    ],
    ["--config", file.path],
  );
  assert.equal(
    result.stderr,
    'tbg-stratum: missing permission --allow-net=127.0.0.1:18443 (run through "deno task start:stratum" or add the flag)\n',
  );
  assert.equal(result.code, 2);
});

Deno.test("the seed's mainnet config starts with exactly its derived flags", async () => {
  const path = `${ROOT}/infra/config/stratum.mainnet.json`;
  const result = await probe(flagsFor("stratum", path), ["--config", path]);
  assert.equal(result.stderr, "");
  assert.equal(result.code, 0);
  const config = JSON.parse(result.stdout);
  assert.equal(config.mindiff, 512);
  assert.equal(config.startdiff, 10000);
});

Deno.test("the devnet config starts with its derived flags and keeps fractional mindiff", async () => {
  const path = `${ROOT}/infra/config/stratum.devnet.json`;
  const result = await probe(flagsFor("stratum", path), ["--config", path]);
  assert.equal(result.stderr, "");
  assert.equal(result.code, 0);
  assert.equal(JSON.parse(result.stdout).mindiff, 0.0001);
});

Deno.test("the relay and collector example configs start with their derived flags", async () => {
  for (
    const [kind, file] of [
      ["relay", "relay.us-east.json"],
      ["collector", "collector.devnet.json"],
    ] as const
  ) {
    const path = `${ROOT}/infra/config/${file}`;
    const result = await probe(flagsFor(kind, path), [kind, "--config", path]);
    assert.equal(result.stderr, "", kind);
    assert.equal(result.code, 0, kind);
  }
});

Deno.test("a regtest address passes when the network is regtest", async () => {
  const regtest = bech32.encode("bcrt", [0, ...bech32.toWords(new Uint8Array(20).fill(1))]);
  using file = tempConfig(JSON.stringify({ ...BASE, btcaddress: regtest, donation: 1 }));
  const result = await probe([...flagsFor("stratum", file.path)], ["--config", file.path]);
  assert.equal(result.stderr, "");
  assert.equal(result.code, 0);
  assert.equal(JSON.parse(result.stdout).btcaddress, regtest);
});
