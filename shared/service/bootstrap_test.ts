/**
 * Run with: deno test --allow-read --allow-write shared/service/bootstrap_test.ts
 * (writes config files to a temporary directory; permission checks use an injected query).
 */
import assert from "node:assert/strict";
import type { PermissionQuery } from "../permissions/mod.ts";
import { bootstrap, type BootstrapOptions, parseServiceArgs, UsageError } from "./bootstrap.ts";

class Exited extends Error {
  constructor(readonly code: number) {
    super(`exit ${code}`);
  }
}

/** The event spool every grant set below includes (write access is checked like the rest). */
const SPOOL = "/var/spool/tbg";
/** Where found blocks are kept, granted like the spool. */
const BLOCKS = "/var/lib/tbg/blocks";

const GOOD = {
  btcd: [{ url: "127.0.0.1:8332", auth: "u", pass: "p" }],
  serverurl: ["0.0.0.0:3333"],
  blocks_dir: BLOCKS,
  events: { nats_url: "nats://127.0.0.1:4222", spool_dir: SPOOL },
  metrics: { host: "127.0.0.1", port: 9100 },
};

/** A config file in the temp directory, removed when the test's `using` scope ends. */
function tempConfig(value: unknown): { path: string } & Disposable {
  const path = Deno.makeTempFileSync({ prefix: "tbg-bootstrap-", suffix: ".json" });
  Deno.writeTextFileSync(path, JSON.stringify(value));
  return { path, [Symbol.dispose]: () => Deno.removeSync(path) };
}

/** Grants read of everything and net only for the listed hosts. */
function netGranted(hosts: string[]): PermissionQuery {
  return (descriptor) => {
    const granted = descriptor.name === "read" ||
      (descriptor.name === "write" && (descriptor.path === SPOOL || descriptor.path === BLOCKS)) ||
      (descriptor.name === "net" && hosts.includes(descriptor.host ?? ""));
    return { state: granted ? "granted" : "prompt" } as Deno.PermissionStatus;
  };
}

function run(
  args: string[],
  query: PermissionQuery,
  extra: Partial<BootstrapOptions> = {},
): { lines: string[]; code: number | undefined; result: unknown } {
  const lines: string[] = [];
  try {
    const result = bootstrap("stratum", args, {
      env: [],
      sys: [],
      exit: (code) => {
        throw new Exited(code);
      },
      writeError: (line) => lines.push(line),
      query,
      ...extra,
    });
    return { lines, code: undefined, result };
  } catch (error: unknown) {
    if (error instanceof Exited) return { lines, code: error.code, result: undefined };
    throw error;
  }
}

const ALL_NET = ["0.0.0.0:3333", "127.0.0.1:9100", "127.0.0.1:8332", "127.0.0.1:4222"];

Deno.test("bootstrap() returns the validated config when every grant is held", () => {
  using file = tempConfig(GOOD);
  const { path } = file;
  const { lines, code, result } = run(["--config", path], netGranted(ALL_NET));
  assert.deepEqual(lines, []);
  assert.equal(code, undefined);
  assert.equal((result as { startdiff: number }).startdiff, 42);
});

Deno.test("bootstrap() exits 2 with usage when --config is missing", () => {
  const { lines, code } = run([], netGranted(ALL_NET));
  assert.equal(code, 2);
  assert.deepEqual(lines, [
    "tbg-stratum: missing --config <file> (usage: deno task start:stratum --config <file>)",
  ]);
});

Deno.test("bootstrap() exits 2 with the config error on one line", () => {
  using file = tempConfig({ ...GOOD, mindif: 1 });
  const { path } = file;
  const { lines, code } = run(["--config", path], netGranted(ALL_NET));
  assert.equal(code, 2);
  assert.deepEqual(lines, [
    `tbg-stratum: Invalid config ${path}: unknown key "mindif" at top level (did you mean "mindiff"?)`,
  ]);
});

Deno.test("bootstrap() names the one missing net grant", () => {
  using file = tempConfig(GOOD);
  const { path } = file;
  const { lines, code } = run(
    ["--config", path],
    netGranted(ALL_NET.filter((host) => host !== "127.0.0.1:8332")),
  );
  assert.equal(code, 2);
  assert.deepEqual(lines, [
    'tbg-stratum: missing permission --allow-net=127.0.0.1:8332 (run through "deno task start:stratum" or add the flag)',
  ]);
});

Deno.test("bootstrap() names every missing flag at once", () => {
  using file = tempConfig({ ...GOOD, logdir: "/var/log/tbg" });
  const { path } = file;
  const { lines, code } = run(["--config", path], netGranted(["0.0.0.0:3333"]), { env: ["TZ"] });
  assert.equal(code, 2);
  assert.deepEqual(lines, [
    'tbg-stratum: missing permissions --allow-net=127.0.0.1:9100,127.0.0.1:8332,127.0.0.1:4222 --allow-write=/var/log/tbg --allow-env=TZ (run through "deno task start:stratum" or add the flags)',
  ]);
});

Deno.test("bootstrap() reports an unreadable config as a missing read grant", () => {
  const { lines, code } = run(
    ["--config", "/etc/tbg/stratum.json"],
    () => ({ state: "prompt" }) as Deno.PermissionStatus,
  );
  assert.equal(code, 2);
  assert.deepEqual(lines, [
    'tbg-stratum: missing permission --allow-read=/etc/tbg/stratum.json (run through "deno task start:stratum" or add the flag)',
  ]);
});

Deno.test("parseServiceArgs() accepts both --config forms and keeps other arguments", () => {
  assert.deepEqual(parseServiceArgs("relay", ["-v", "--config=/a.json", "x"]), {
    configPath: "/a.json",
    rest: ["-v", "x"],
  });
  assert.deepEqual(parseServiceArgs("relay", ["--config", "/a.json"]), {
    configPath: "/a.json",
    rest: [],
  });
});

Deno.test("parseServiceArgs() rejects an empty, dangling or repeated --config", () => {
  const usage = "usage: deno task start:collector --config <file>";
  assert.throws(() => parseServiceArgs("collector", ["--config"]), {
    name: "UsageError",
    message: `--config needs a file path (${usage})`,
  });
  assert.throws(() => parseServiceArgs("collector", ["--config", "--verbose"]), UsageError);
  assert.throws(() => parseServiceArgs("collector", ["--config="]), UsageError);
  assert.throws(() => parseServiceArgs("collector", ["--config", "a", "--config", "b"]), {
    message: `--config given twice (${usage})`,
  });
});
