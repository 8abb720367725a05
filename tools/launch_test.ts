/**
 * The launcher as operators run it: a real `deno run tools/launch.ts …` process.
 *
 * Run with:
 *   deno test --allow-read --allow-write --allow-run tools/launch_test.ts
 * (--allow-write for temporary config files, --allow-run to start the launcher; the children
 * open no sockets.)
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { zeromqPermissionPaths } from "@tbg/shared/permissions";

const ROOT = fileURLToPath(new URL("../", import.meta.url)).replace(/\/$/, "");
const LAUNCH = ["run", "--allow-read", "--allow-run", "--allow-env=INIT_CWD", "tools/launch.ts"];
const PROBE = "tests/support/config_probe.ts";

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

async function launch(args: string[], env: Record<string, string> = {}): Promise<Result> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: [...LAUNCH, ...args],
    cwd: ROOT,
    env,
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
function tempConfig(value: unknown): { path: string } & Disposable {
  const path = Deno.makeTempFileSync({ prefix: "tbg-launch-", suffix: ".json" });
  Deno.writeTextFileSync(path, JSON.stringify(value));
  return { path, [Symbol.dispose]: () => Deno.removeSync(path) };
}

Deno.test("launch flags prints the mainnet config's exact grants on one line", async () => {
  const result = await launch([
    "flags",
    "stratum",
    "--config",
    "infra/config/stratum.mainnet.json",
  ]);
  const zmq = zeromqPermissionPaths();
  assert.equal(result.stderr, "");
  assert.equal(result.code, 0);
  assert.equal(
    result.stdout,
    [
      "--allow-net=0.0.0.0:3333,0.0.0.0:4333,127.0.0.1:9100,127.0.0.1:8332,127.0.0.1:28332,127.0.0.1:4222,127.0.0.1",
      `--allow-read=${ROOT}/infra/config/stratum.mainnet.json,/etc/tbg/tls/stratum.crt,/etc/tbg/tls/stratum.key,${
        zmq.read.join(",")
      },/var/log/tbg-mining`,
      "--allow-write=/var/log/tbg-mining",
      `--allow-ffi=${zmq.ffi.join(",")}`,
      "--v8-flags=--expose-gc",
    ].join(" ") + "\n",
  );
});

Deno.test("launch flags resolves a relative --config against INIT_CWD", async () => {
  const result = await launch(
    ["flags", "collector", "--config", "config/collector.devnet.json"],
    { INIT_CWD: `${ROOT}/infra` },
  );
  assert.equal(result.code, 0, result.stderr);
  assert.match(
    result.stdout,
    new RegExp(`--allow-read=${ROOT}/infra/config/collector.devnet.json `),
  );
});

Deno.test("launch run gives each example config's service exactly enough to start", async () => {
  for (
    const [kind, file] of [
      ["stratum", "stratum.mainnet.json"],
      ["stratum", "stratum.devnet.json"],
      ["relay", "relay.us-east.json"],
      ["collector", "collector.devnet.json"],
    ] as const
  ) {
    const result = await launch([
      "run",
      kind,
      "--config",
      `infra/config/${file}`,
      "--entry",
      PROBE,
      "--",
      kind,
    ]);
    assert.equal(result.stderr, "", file);
    assert.equal(result.code, 0, file);
    assert.equal(typeof JSON.parse(result.stdout), "object");
  }
});

Deno.test("launch run exits 2 with the loader's message for an invalid config", async () => {
  using file = tempConfig({
    btcd: [{ url: "127.0.0.1:8332", auth: "u", pass: "p" }],
    serverurl: ["0.0.0.0:3333"],
    rate_limits: { max_shares_per_minute: -5 },
  });
  const result = await launch(["run", "stratum", "--config", file.path, "--entry", PROBE]);
  assert.equal(
    result.stderr,
    `tbg-stratum: Invalid config ${file.path}: rate_limits.max_shares_per_minute: expected an integer from 1 to 65535, got -5\n`,
  );
  assert.equal(result.code, 2);
  assert.equal(result.stdout, "");
});

Deno.test("launch exits 2 with usage for an unknown service or a missing --config", async () => {
  const unknown = await launch(["run", "miner", "--config", "x.json"]);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /^tbg-launch: unknown service "miner"\nusage: launch\.ts run /);
  const missing = await launch(["flags", "relay"]);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /^tbg-launch: missing --config <file>\n/);
});

Deno.test("launch run forwards SIGTERM to the service and exits with its code", async () => {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      ...LAUNCH,
      "run",
      "collector",
      "--config",
      "infra/config/collector.devnet.json",
      "--entry",
      "tools/testdata/signal_echo.ts",
    ],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const reader = child.stdout.getReader();
  const decoder = new TextDecoder();
  let stdout = "";
  // Bounded: the fixture prints "ready" at once and exits by itself after 10 s.
  while (!stdout.includes("ready\n")) {
    const { value, done } = await reader.read();
    if (done) break;
    stdout += decoder.decode(value);
  }
  assert.match(stdout, /ready\n/);
  child.kill("SIGTERM");
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    stdout += decoder.decode(value);
  }
  const status = await child.status;
  const stderr = new TextDecoder().decode(
    new Uint8Array(await new Response(child.stderr).arrayBuffer()),
  );
  assert.equal(stdout, "ready\ngot SIGTERM\n");
  assert.equal(status.code, 42, stderr);
});

Deno.test("launch compile runs deno compile with the flags and passes DENORT_BIN through", async () => {
  const outputDir = Deno.makeTempDirSync({ prefix: "tbg-compile-" });
  const result = await launch(
    [
      "compile",
      "collector",
      "--config",
      "infra/config/collector.devnet.json",
      "--entry",
      PROBE,
      "--output",
      `${outputDir}/tbg-collector`,
    ],
    { DENORT_BIN: "/nonexistent/denort-for-test" },
  ).finally(() => Deno.removeSync(outputDir, { recursive: true }));
  // No runtime base exists at that path, so deno compile stops right after embedding: the
  // message proves it ran and read DENORT_BIN from the launcher's environment.
  assert.equal(result.code, 1);
  assert.match(result.stderr, /Could not find denort at '\/nonexistent\/denort-for-test'/);
});
