/**
 * The deployment files in infra/: systemd units (infra/systemd), their example configs
 * (infra/systemd/etc/tbg), kernel tuning (infra/sysctl) and bitcoin.conf (infra/bitcoin).
 *
 * - `systemd-analyze verify` accepts every unit. It insists that ExecStart's binary exists, so
 *   it checks copies with /usr/local/bin/deno, /opt/tbg and /etc/tbg rewritten to this
 *   checkout, this deno and a temp directory; it reports bad values only as warnings (exit 0),
 *   so any output fails the test (a negative control proves it catches one).
 * - Each unit starts its service through tools/launch.ts: the test runs the unit's own command
 *   line (paths rewritten the same way) with `flags` and with the config probe as entry, so the
 *   service gets exactly the grants `launch.ts flags` prints and passes its own start-up check.
 * - The sysctl file is parsed, not applied (`sysctl -p` needs root and changes the host): every
 *   key must exist under /proc/sys.
 *
 * Run with: deno task test tests/infra_units_test.ts
 *
 * @module
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { DEFAULT_DRAIN_TIMEOUT_MS } from "@tbg/collector";
import {
  type ConfigByKind,
  type EngineConfig,
  loadConfig,
  parseBtcdUrl,
  parseServiceUrl,
  type ServiceKind,
  withInstancePorts,
} from "@tbg/shared/config";
import { MINER_DRAIN_TIMEOUT_MS, SERVICE_RUNTIME_NEEDS } from "@tbg/shared/service";

const ROOT = fileURLToPath(new URL("../", import.meta.url)).replace(/\/$/, "");
const SYSTEMD_DIR = `${ROOT}/infra/systemd`;
const EXAMPLE_ETC = `${SYSTEMD_DIR}/etc/tbg`;
const SYSCTL_FILE = `${ROOT}/infra/sysctl/99-tbg-stratum.conf`;
const BITCOIN_DIR = `${ROOT}/infra/bitcoin`;
const PROBE = `${ROOT}/tests/support/config_probe.ts`;

/** Install paths the units name, and what they stand for in this checkout. */
const DENO_BIN = "/usr/local/bin/deno";
const APP_DIR = "/opt/tbg";
const ETC_DIR = "/etc/tbg";

/** One unit and the example instances that run from it. */
interface UnitCase {
  file: string;
  kind: ServiceKind;
  /** `%i` values with an example config; `[undefined]` for a plain (non-template) unit. */
  instances: (number | undefined)[];
}

const UNITS: readonly UnitCase[] = [
  { file: "tbg-stratum@.service", kind: "stratum", instances: [0, 1] },
  { file: "tbg-relay@.service", kind: "relay", instances: [0, 1] },
  { file: "tbg-collector.service", kind: "collector", instances: [undefined] },
];

/** A parsed unit file: section name to its `key=value` entries, in order. */
type Unit = Map<string, [string, string][]>;

/** Parses systemd unit syntax: sections, `#`/`;` comments, backslash line continuations. */
function parseUnit(text: string): Unit {
  const unit: Unit = new Map();
  let section = "";
  const lines = text.replace(/\\\n/g, " ").split("\n");
  for (const raw of lines) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#") || line.startsWith(";")) continue;
    const header = /^\[(.+)\]$/.exec(line);
    if (header) {
      section = header[1] ?? "";
      unit.set(section, unit.get(section) ?? []);
      continue;
    }
    const eq = line.indexOf("=");
    assert.ok(eq > 0 && section !== "", `unit line outside a section or without "=": ${line}`);
    unit.get(section)?.push([line.slice(0, eq), line.slice(eq + 1).replace(/\s+/g, " ")]);
  }
  return unit;
}

function values(unit: Unit, section: string, key: string): string[] {
  return (unit.get(section) ?? []).filter(([k]) => k === key).map(([, v]) => v);
}

function value(unit: Unit, section: string, key: string): string {
  const all = values(unit, section, key);
  assert.ok(all.length > 0, `[${section}] ${key}= is missing`);
  return all[all.length - 1] ?? "";
}

function readUnit(file: string): Unit {
  return parseUnit(Deno.readTextFileSync(`${SYSTEMD_DIR}/${file}`));
}

/** `%i` replaced by the instance (a plain unit has none). */
function expand(text: string, instance: number | undefined): string {
  return instance === undefined ? text : text.replaceAll("%i", String(instance));
}

/** The config file name of an instance, as the unit names it under /etc/tbg. */
function configName(kind: ServiceKind, instance: number | undefined): string {
  return instance === undefined ? `${kind}.json` : `${kind}-${instance}.json`;
}

function loadExample<K extends ServiceKind>(
  kind: K,
  instance: number | undefined,
): ConfigByKind[K] {
  return loadConfig(kind, `${EXAMPLE_ETC}/${configName(kind, instance)}`);
}

/** Seconds of a systemd time span such as `30`, `30s`, `1min 30s`. */
function seconds(span: string): number {
  let total = 0;
  for (const part of span.trim().split(/\s+/)) {
    const match = /^(\d+)(s|sec|min|m)?$/.exec(part);
    assert.ok(match, `Cannot parse time span: ${span}`);
    total += Number(match[1]) * (match[2] === "min" || match[2] === "m" ? 60 : 1);
  }
  return total;
}

interface Output {
  code: number;
  stdout: string;
  stderr: string;
}

async function run(
  command: string,
  args: string[],
  options: { cwd?: string; env?: Record<string, string> } = {},
): Promise<Output> {
  let output: Deno.CommandOutput;
  try {
    output = await new Deno.Command(command, { args, stdout: "piped", stderr: "piped", ...options })
      .output();
  } catch (error: unknown) {
    if (error instanceof Deno.errors.NotFound && command === "systemd-analyze") {
      throw new Error(
        'Cannot verify units: systemd-analyze not found on PATH; install the Debian package "systemd"',
      );
    }
    throw error;
  }
  const decoder = new TextDecoder();
  return {
    code: output.code,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
  };
}

/** A temp directory with the example configs where a unit expects /etc/tbg. */
function tempInstall(): { dir: string; etc: string } & Disposable {
  const dir = Deno.makeTempDirSync({ prefix: "tbg-units-" });
  const etc = `${dir}/etc`;
  Deno.mkdirSync(etc);
  for (const entry of Deno.readDirSync(EXAMPLE_ETC)) {
    Deno.copyFileSync(`${EXAMPLE_ETC}/${entry.name}`, `${etc}/${entry.name}`);
  }
  return { dir, etc, [Symbol.dispose]: () => Deno.removeSync(dir, { recursive: true }) };
}

/** Unit text with the install paths pointed at this checkout, this deno and `etc`. */
function rewritePaths(text: string, etc: string): string {
  return text.replaceAll(DENO_BIN, Deno.execPath()).replaceAll(`${APP_DIR}/`, `${ROOT}/`)
    .replaceAll(`${ETC_DIR}/`, `${etc}/`);
}

/** The ExecStart command line of an instance, split into words. */
function execStart(unitCase: UnitCase, instance: number | undefined): string[] {
  const line = expand(value(readUnit(unitCase.file), "Service", "ExecStart"), instance);
  assert.doesNotMatch(
    line,
    /["'$]/,
    "ExecStart uses no quoting or variables, so it splits on spaces",
  );
  return line.split(" ");
}

Deno.test("systemd-analyze verify accepts every unit", async () => {
  using install = tempInstall();
  const unitDir = `${install.dir}/units`;
  Deno.mkdirSync(unitDir);
  const names: string[] = [];
  for (const { file, instances } of UNITS) {
    const text = rewritePaths(Deno.readTextFileSync(`${SYSTEMD_DIR}/${file}`), install.etc);
    Deno.writeTextFileSync(`${unitDir}/${file}`, text);
    for (const instance of instances) {
      names.push(`${unitDir}/${instance === undefined ? file : file.replace("@", `@${instance}`)}`);
    }
  }
  const result = await run("systemd-analyze", ["verify", "--man=no", ...names]);
  assert.equal(result.code, 0, result.stderr);
  assert.equal(result.stderr + result.stdout, "", "systemd-analyze warned about a unit");

  // Negative control: a bad value is only a warning, which the check above must catch.
  const bad = `${unitDir}/tbg-negative-control.service`;
  Deno.writeTextFileSync(
    bad,
    Deno.readTextFileSync(`${unitDir}/tbg-collector.service`).replace(
      "KillMode=mixed",
      "KillMode=mixd",
    ),
  );
  const control = await run("systemd-analyze", ["verify", "--man=no", bad]);
  assert.equal(control.code, 0);
  assert.match(control.stderr, /kill mode/i);
});

Deno.test("systemd-analyze security rates every unit's sandbox below exposure 2.0", async () => {
  using install = tempInstall();
  for (const { file, instances } of UNITS) {
    Deno.writeTextFileSync(
      `${install.dir}/${file}`,
      rewritePaths(Deno.readTextFileSync(`${SYSTEMD_DIR}/${file}`), install.etc),
    );
    // A template is analysed as one of its instances, which systemd loads from the template.
    const name = instances[0] === undefined ? file : file.replace("@", `@${instances[0]}`);
    const result = await run("systemd-analyze", [
      "security",
      "--offline=yes",
      "--no-pager",
      `${install.dir}/${name}`,
    ]);
    assert.equal(result.code, 0, result.stderr);
    const match = /Overall exposure level for \S+: (\d+\.\d+)/.exec(result.stdout);
    assert.ok(match, `no exposure level in: ${result.stdout.slice(-300)}`);
    assert.ok(Number(match[1]) < 2, `${file}: exposure ${match[1]}`);
  }
});

Deno.test("every unit runs its service through tools/launch.ts with only the launcher's grants", () => {
  for (const unitCase of UNITS) {
    for (const instance of unitCase.instances) {
      const config = `${ETC_DIR}/${configName(unitCase.kind, instance)}`;
      const expected = [
        DENO_BIN,
        "run",
        "--no-prompt",
        `--allow-read=${config}`,
        `--allow-run=${DENO_BIN}`,
        `${APP_DIR}/tools/launch.ts`,
        "run",
        unitCase.kind,
        "--config",
        config,
        // The launcher may not run `ulimit`: the unit passes its own LimitNOFILE.
        ...(instance === undefined ? [] : [
          "--",
          "--instance",
          String(instance),
          "--nofile-limit",
          value(readUnit(unitCase.file), "Service", "LimitNOFILE"),
        ]),
      ];
      assert.deepEqual(execStart(unitCase, instance), expected, unitCase.file);
    }
  }
});

Deno.test("the unit's command line gives the service exactly what `launch.ts flags` prints", async () => {
  using install = tempInstall();
  for (const unitCase of UNITS) {
    for (const instance of unitCase.instances) {
      const words = execStart(unitCase, instance).map((word) => rewritePaths(word, install.etc));
      const [deno, ...args] = words;
      assert.equal(deno, Deno.execPath());
      const launchAt = args.indexOf(`${ROOT}/tools/launch.ts`);
      const serviceArgs = args.slice(launchAt + 3); // after `run <kind>`
      const cwd = `${install.dir}/cwd-${unitCase.kind}-${instance ?? "x"}`;
      Deno.mkdirSync(cwd);

      // The same command with `flags`: what the launcher derives under its narrow grants…
      const viaUnit = await run(
        Deno.execPath(),
        [...args.slice(0, launchAt + 1), "flags", unitCase.kind, ...serviceArgs],
        { cwd },
      );
      assert.equal(viaUnit.code, 0, viaUnit.stderr);
      // …equals what an operator's `deno task flags` prints for that config.
      const viaTask = await run(
        Deno.execPath(),
        [
          "run",
          "--allow-read",
          "--allow-env=INIT_CWD",
          "tools/launch.ts",
          "flags",
          unitCase.kind,
          ...serviceArgs,
        ],
        { cwd: ROOT },
      );
      assert.equal(viaTask.code, 0, viaTask.stderr);
      assert.equal(viaUnit.stdout, viaTask.stdout);
      assert.doesNotMatch(viaUnit.stdout, /(^|\s)(-A|--allow-all|--allow-run)/);

      // The same command with `run`, the config probe as entry: the service's own start-up
      // permission check passes with those grants (the probe reads its kind from a trailing
      // argument).
      const probeArgs = [
        ...args.slice(0, launchAt + 3),
        "--entry",
        PROBE,
        ...serviceArgs,
        ...(serviceArgs.includes("--") ? [] : ["--"]),
        unitCase.kind,
      ];
      const probed = await run(Deno.execPath(), probeArgs, { cwd });
      assert.equal(probed.code, 0, probed.stderr);
      const example = loadExample(unitCase.kind, instance);
      const expected = instance === undefined
        ? example
        : withInstancePorts(example as ConfigByKind["stratum" | "relay"], instance);
      assert.deepEqual(JSON.parse(probed.stdout), JSON.parse(JSON.stringify(expected)));
    }
  }
});

/** The `--allow-<name>=` list in a flags line, empty when absent. */
function flagList(flags: string, name: string): string[] {
  const match = new RegExp(`(?:^|\\s)--allow-${name}=(\\S+)`).exec(flags);
  return match?.[1]?.split(",") ?? [];
}

/** What `launch.ts flags` prints for an instance's example config and service arguments. */
async function unitFlags(unitCase: UnitCase, instance: number | undefined): Promise<string> {
  const args = execStart(unitCase, instance);
  const launchAt = args.indexOf(`${APP_DIR}/tools/launch.ts`);
  const config = `${EXAMPLE_ETC}/${configName(unitCase.kind, instance)}`;
  const service = args.slice(launchAt + 5); // after `run <kind> --config <file>`
  const result = await run(
    Deno.execPath(),
    [
      "run",
      "--allow-read",
      "tools/launch.ts",
      "flags",
      unitCase.kind,
      "--config",
      config,
      ...service,
    ],
    { cwd: ROOT },
  );
  assert.equal(result.code, 0, result.stderr);
  return result.stdout.trim();
}

Deno.test("every path a service may write is writable inside the unit's sandbox", async () => {
  for (const unitCase of UNITS) {
    const unit = readUnit(unitCase.file);
    for (const instance of unitCase.instances) {
      const writable = [
        ...values(unit, "Service", "StateDirectory").map((d) => `/var/lib/${d}`),
        ...values(unit, "Service", "LogsDirectory").map((d) => `/var/log/${d}`),
        ...values(unit, "Service", "CacheDirectory").map((d) => `/var/cache/${d}`),
        ...values(unit, "Service", "RuntimeDirectory").map((d) => `/run/${d}`),
        ...values(unit, "Service", "ReadWritePaths").flatMap((d) => d.split(" ")),
      ].map((dir) => expand(dir, instance).replace(/^-/, ""));
      // The flags name the example config and the app where this checkout sits; the unit reads
      // them from /etc/tbg and /opt/tbg.
      const flags = (await unitFlags(unitCase, instance)).replaceAll(EXAMPLE_ETC, ETC_DIR)
        .replaceAll(ROOT, APP_DIR);
      for (const path of flagList(flags, "write")) {
        assert.ok(
          writable.some((dir) => path === dir || path.startsWith(`${dir}/`)),
          `${unitCase.file} (instance ${instance}): ${path} is read-only under ProtectSystem=strict`,
        );
      }
      // ProtectHome hides /home and /root; PrivateTmp gives /tmp a fresh, per-unit directory.
      for (const path of [...flagList(flags, "read"), ...flagList(flags, "write")]) {
        assert.doesNotMatch(path, /^\/(home|root|tmp|var\/tmp)(\/|$)/, path);
      }
      const isTemplate = instance !== undefined;
      if (isTemplate) assert.match(flags, /--unstable-net/, "reuse_port needs --unstable-net");
    }
    for (
      const [key, expected] of [
        ["User", "tbg"],
        ["NoNewPrivileges", "yes"],
        ["ProtectSystem", "strict"],
        ["ProtectHome", "yes"],
        ["PrivateTmp", "yes"],
        ["CapabilityBoundingSet", ""],
      ] as const
    ) {
      assert.equal(value(unit, "Service", key), expected, `${unitCase.file}: ${key}`);
    }
    assert.deepEqual(values(unit, "Service", "MemoryDenyWriteExecute"), [], "V8's JIT needs W+X");
  }
});

Deno.test("reuse_port instances share the Stratum port and nothing they write", async () => {
  for (const unitCase of UNITS.filter((u) => u.kind !== "collector")) {
    const unit = readUnit(unitCase.file);
    const configs = unitCase.instances.map((instance) => ({
      instance: instance ?? 0,
      config: loadExample(unitCase.kind, instance) as EngineConfig,
    }));
    const spoolDirs = new Set<string>();
    const metricsPorts = new Set<number>();
    for (const { instance, config } of configs) {
      assert.equal(config.reuse_port, true, `${unitCase.kind}-${instance}: reuse_port`);
      assert.deepEqual(config.serverurl, configs[0]?.config.serverurl);
      assert.equal(config.region_index, configs[0]?.config.region_index);
      assert.equal(config.logdir, undefined, "logs go to journald");
      const state = `/var/lib/${expand(value(unit, "Service", "StateDirectory"), instance)}`;
      assert.equal(config.events.spool_dir, `${state}/spool`);
      assert.equal(
        config.blocks_dir,
        `${state}/blocks`,
        "found blocks kept in the state directory",
      );
      spoolDirs.add(config.events.spool_dir ?? "");
      const flags = await unitFlags(unitCase, instance);
      const metrics = flagList(flags, "net").find((e) => e.endsWith(`:${9100 + instance}`));
      assert.ok(metrics, `${unitCase.kind}-${instance}: metrics on 9100 + instance in ${flags}`);
      metricsPorts.add(9100 + instance);
    }
    assert.equal(spoolDirs.size, configs.length, "each process spools in its own directory");
    assert.equal(metricsPorts.size, configs.length);
  }
  const publishers = [0, 1].filter((i) => loadExample("stratum", i).templates.publish);
  assert.deepEqual(publishers, [0], "exactly one pool process publishes templates to relays");
  assert.notEqual(loadExample("collector", undefined).metrics.port, 9100);
});

Deno.test("stop, restart and descriptor limits fit the services", () => {
  const sysctl = parseSysctl(Deno.readTextFileSync(SYSCTL_FILE));
  const nrOpen = Number(sysctl.get("fs.nr_open"));
  for (const unitCase of UNITS) {
    const unit = readUnit(unitCase.file);
    assert.equal(value(unit, "Service", "KillSignal"), "SIGTERM");
    // The launcher forwards SIGTERM; the final SIGKILL still reaches the service.
    assert.equal(value(unit, "Service", "KillMode"), "mixed");
    assert.equal(value(unit, "Service", "Restart"), "on-failure");
    assert.ok(value(unit, "Service", "RestartPreventExitStatus").split(" ").includes("2"));
    assert.ok(value(unit, "Service", "SuccessExitStatus").split(" ").includes("143"));
    const stopS = seconds(value(unit, "Service", "TimeoutStopSec"));
    // Collector: drain, 5 s hard-stop grace, 3 s for the last acks (collector/collector.ts).
    // Stratum and relay: the miners' drain, then 5 s for NATS to take unsent events
    // (stratum/pool_runtime.ts).
    const drainMs = unitCase.kind === "collector"
      ? DEFAULT_DRAIN_TIMEOUT_MS + 5_000 + 3_000
      : MINER_DRAIN_TIMEOUT_MS + 5_000;
    assert.ok(stopS * 1000 > drainMs, `${unitCase.file}: TimeoutStopSec ${stopS}s ≤ drain`);
    const nofile = Number(value(unit, "Service", "LimitNOFILE"));
    assert.ok(nofile <= nrOpen, `${unitCase.file}: LimitNOFILE above fs.nr_open`);
    for (const instance of unitCase.instances) {
      if (unitCase.kind === "collector") continue;
      const config = loadExample(unitCase.kind, instance) as EngineConfig;
      assert.ok(nofile >= config.maxclients + 1024, `${unitCase.file}: LimitNOFILE < maxclients`);
      // The drain first spreads client.reconnect over the window, then waits as above.
      assert.ok(
        stopS * 1000 > config.drain_reconnect_window_ms + drainMs,
        `${unitCase.file}: TimeoutStopSec ${stopS}s ≤ drain_reconnect_window_ms + drain`,
      );
    }
  }
});

Deno.test("units pass secrets only to services that read them from the environment", () => {
  for (const unitCase of UNITS) {
    const unit = readUnit(unitCase.file);
    const envFiles = values(unit, "Service", "EnvironmentFile");
    const granted = SERVICE_RUNTIME_NEEDS[unitCase.kind].env;
    if (granted.length === 0) {
      assert.deepEqual(envFiles, [], `${unitCase.file}: the service reads no variables`);
    }
    for (const file of envFiles) {
      assert.ok(!file.startsWith("-"), "a missing secrets file must fail the start");
      const name = file.replace(`${ETC_DIR}/`, "");
      const text = Deno.readTextFileSync(`${EXAMPLE_ETC}/${name}`);
      const keys = text.split("\n").filter((l) => /^[A-Z_]+=/.test(l)).map((l) => l.split("=")[0]);
      assert.ok(keys.length > 0);
      for (const key of keys) assert.ok(granted.includes(key ?? ""), `${key} is never read`);
    }
    const environment = values(unit, "Service", "Environment").join(" ").split(" ");
    for (const assignment of environment) {
      assert.match(assignment, /^(DENO_DIR|DENO_NO_UPDATE_CHECK|NO_COLOR)=/, "no secrets inline");
    }
  }
  // The collector's password comes from PGPASSWORD, not from its config.
  const url = new URL(loadExample("collector", undefined).postgres.url);
  assert.equal(url.password, "");
});

/** sysctl.d syntax: `key = value` lines, `#`/`;` comments. */
function parseSysctl(text: string): Map<string, string> {
  const settings = new Map<string, string>();
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#") || line.startsWith(";")) continue;
    const match = /^([a-z0-9_.-]+)\s*=\s*(.+)$/.exec(line);
    assert.ok(match, `Cannot parse sysctl line: ${line}`);
    const [, key = "", val = ""] = match;
    assert.ok(!settings.has(key), `${key} set twice`);
    settings.set(key, val.trim());
  }
  return settings;
}

/** The ports a comma list of ports and ranges (`3333,9100-9131`) covers. */
function portSet(list: string): Set<number> {
  const ports = new Set<number>();
  for (const part of list.split(",")) {
    const [from = "", to = from] = part.split("-");
    for (let port = Number(from); port <= Number(to); port++) ports.add(port);
  }
  return ports;
}

Deno.test("the sysctl file sets only keys this kernel has, each with a why-comment", async () => {
  const text = Deno.readTextFileSync(SYSCTL_FILE);
  const settings = parseSysctl(text);
  assert.ok(settings.size > 0);
  for (const [key, val] of settings) {
    // Deno refuses to read /proc/sys without --allow-all, so a child process reads it.
    const path = `/proc/sys/${key.replaceAll(".", "/")}`;
    const read = await run("cat", [path]);
    assert.equal(read.code, 0, `${key}: no ${path} on this kernel (${read.stderr.trim()})`);
    const current = read.stdout.trim();
    if (key !== "net.ipv4.ip_local_reserved_ports") {
      // Same shape as the kernel's own value: one number, or "min default max" and the like.
      assert.equal(val.split(/\s+/).length, current.split(/\s+/).length, key);
      assert.ok(val.split(/\s+/).every((n) => /^\d+$/.test(n)), key);
    }
  }
  // Every paragraph that sets something opens with a comment saying why.
  for (const paragraph of text.split(/\n\s*\n/)) {
    const lines = paragraph.trim().split("\n");
    if (lines.some((l) => /^[a-z]/.test(l))) assert.match(lines[0] ?? "", /^#/, paragraph);
  }
  // Seed Phase 5 §3.4.
  assert.equal(settings.get("net.core.somaxconn"), "65535");
  assert.equal(settings.get("net.ipv4.tcp_max_syn_backlog"), "65535");
  assert.equal(settings.get("net.core.netdev_max_backlog"), "65535");
  assert.equal(settings.get("net.ipv4.tcp_tw_reuse"), "1");
  assert.equal(settings.get("net.ipv4.ip_local_port_range"), "1024 65535");
  // The widened port range must not hand out a port our services listen on.
  const reserved = portSet(settings.get("net.ipv4.ip_local_reserved_ports") ?? "");
  for (const unitCase of UNITS) {
    for (const instance of unitCase.instances) {
      const config = loadExample(unitCase.kind, instance);
      const listen = [config.metrics.port + (instance ?? 0)];
      if ("serverurl" in config) {
        listen.push(...config.serverurl.map((s) => Number(s.split(":").pop())));
      }
      for (const port of listen) assert.ok(reserved.has(port), `port ${port} not reserved`);
    }
  }
});

/** bitcoin.conf syntax: `key=value`, `#` comments, `[chain]` sections. */
function parseBitcoinConf(text: string): { key: string; value: string; section: string }[] {
  const entries: { key: string; value: string; section: string }[] = [];
  let section = "";
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    const header = /^\[(main|test|testnet4|signet|regtest)\]$/.exec(line);
    if (header) {
      section = header[1] ?? "";
      continue;
    }
    const match = /^([a-z]+)=(\S+)$/.exec(line);
    assert.ok(match, `Cannot parse bitcoin.conf line: ${line}`);
    entries.push({ key: match[1] ?? "", value: match[2] ?? "", section });
  }
  return entries;
}

/** Keys of the seeds' bitcoin.conf examples (Phase 4 §4.1, §4.2; Phase 5 §4.1). */
const SEED_KEYS = new Set([
  "chain",
  "server",
  "prune",
  "txindex",
  "rpcuser",
  "rpcpassword",
  "rpcallowip",
  "rpcport",
  "rpcbind",
  "zmqpubhashblock",
  "zmqpubrawtx",
  "dbcache",
  "maxconnections",
  "blocksonly",
  "par",
  "rpcthreads",
  "listen",
  "maxuploadtarget",
  "disablewallet",
]);

/** Options Bitcoin Core applies to a test chain only inside that chain's section. */
const NETWORK_ONLY = new Set(["rpcbind", "rpcport", "bind", "port", "connect", "addnode"]);

Deno.test("bitcoin.conf examples match their pool configs and the seeds", () => {
  const cases = [
    {
      file: "primary.bitcoin.conf",
      config: loadExample("stratum", 0) as EngineConfig,
      relay: false,
    },
    { file: "relay.bitcoin.conf", config: loadExample("relay", 0) as EngineConfig, relay: true },
  ];
  for (const { file, config, relay } of cases) {
    const entries = parseBitcoinConf(Deno.readTextFileSync(`${BITCOIN_DIR}/${file}`));
    const get = (key: string): string | undefined => entries.find((e) => e.key === key)?.value;
    for (const { key, section } of entries) {
      // rpcauth replaces the seeds' clear-text rpcuser/rpcpassword.
      assert.ok(SEED_KEYS.has(key) || key === "rpcauth", `${file}: ${key} is not a seed key`);
      assert.ok(key !== "rpcuser" && key !== "rpcpassword", `${file}: clear-text credentials`);
      if (NETWORK_ONLY.has(key)) assert.equal(section, "main", `${file}: ${key} outside [main]`);
    }
    assert.equal(get("chain"), "main");
    assert.equal(get("server"), "1");
    // The pool reaches RPC and ZMQ where the node serves them, as the user rpcauth names.
    const btcd = config.btcd[0];
    assert.ok(btcd);
    const rpc = parseBtcdUrl(btcd.url);
    assert.equal(`${get("rpcbind")}:${get("rpcport")}`, `${rpc?.host}:${rpc?.port}`);
    assert.equal(get("zmqpubhashblock"), config.zmqblock);
    assert.ok(parseServiceUrl(get("zmqpubhashblock") ?? "", { tcp: 0 }));
    const rpcauth = /^([^:]+):([^$]+)\$(.+)$/.exec(get("rpcauth") ?? "");
    assert.ok(rpcauth, `${file}: rpcauth=<user>:<salt>$<hmac>`);
    assert.equal(rpcauth[1], btcd.auth);
    assert.doesNotMatch(rpcauth[3] ?? "", /^[0-9a-f]{64}$/, `${file}: ships a real credential`);
    if (relay) {
      const prune = Number(get("prune"));
      assert.ok(prune >= 550, `${file}: pruned (Bitcoin Core's minimum is 550 MiB)`);
      assert.equal(get("txindex"), "0", "a pruned node cannot keep a transaction index");
    } else {
      assert.equal(get("prune"), "0", "the primary is archival");
      assert.equal(get("txindex"), "1");
    }
  }
});

/** Bitcoin Core's rpcauth: HMAC-SHA256 keyed with the salt (as text) over the password, hex. */
async function rpcauthHmac(salt: string, password: string): Promise<string> {
  const encoder = new TextEncoder();
  const key = await crypto.subtle.importKey(
    "raw",
    encoder.encode(salt),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  const mac = new Uint8Array(await crypto.subtle.sign("HMAC", key, encoder.encode(password)));
  return Array.from(mac, (b) => b.toString(16).padStart(2, "0")).join("");
}

Deno.test("rpcauthHmac() reproduces Bitcoin Core's own rpcauth test vector", async () => {
  // test/functional/rpc_users.py: user "rt" with this salt, hmac and password.
  assert.equal(
    await rpcauthHmac(
      "93648e835a54c573682c2eb19f882535",
      "cA773lm788buwYe4g4WT+05pKyNruVKjQ25x3n0DQcM=",
    ),
    "7681e9c5b74bdd85e78166031d2058e1069b3ed7ed967c93fc63abba06f31144",
  );
});

Deno.test("rpcauth.sh prints an rpcauth line that its password opens", async () => {
  const result = await run("bash", [`${BITCOIN_DIR}/rpcauth.sh`, "ckpool_primary"]);
  assert.equal(result.code, 0, result.stderr);
  const match = /^rpcauth=ckpool_primary:([0-9a-f]{32})\$([0-9a-f]{64})\npassword=([0-9a-f]{64})\n$/
    .exec(result.stdout);
  assert.ok(match, result.stdout);
  const [, salt = "", hmac = "", password = ""] = match;
  assert.equal(await rpcauthHmac(salt, password), hmac);

  const refused = await run("bash", [`${BITCOIN_DIR}/rpcauth.sh`, "a:b"]);
  assert.equal(refused.code, 2);
  assert.match(refused.stderr, /usage/);
});
