/**
 * The runbooks in `docs/runbooks/` (issue 14): one per alert rule, each rule's `runbook_url`
 * naming it; and every command they give exists and works.
 *
 * - Every alert of `infra/prometheus/alerts/` has `docs/runbooks/alerts/<alert>.md`, titled with
 *   the alert's name, with the four parts (Meaning, Confirm, Fix, Escalate); no runbook is left
 *   without its alert; the index lists each; every relative link resolves.
 * - No shell block is untagged (`tests/support/runbooks/runbook_blocks.ts`).
 * - Every `runbook-static` command (restarts, installs, server settings) names only programs,
 *   tasks, scripts, flags, units and paths that exist (`static_commands.ts`).
 * - The simulation (`tests/support/sim/`: hub and leaves, a devnet node per region, the primary,
 *   two relays, the collector with PostgreSQL and Redis, CPU miners) is started, the runbooks'
 *   placeholders are set to its addresses, and every `runbook-check` block runs as it stands:
 *   exit 0 and the output shows what its `# expect:` lines ask for.
 *
 * Needs nats-server, redis-server, PostgreSQL, openssl, promtool, curl, jq, psql and redis-cli
 * (tools/ensure_tools.sh installs them); fails, never skips, without them.
 *
 * @module
 */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import {
  alertRunbookFile,
  BlockKind,
  commandLines,
  parseRunbook,
  type RunbookBlock,
  simpleCommands,
} from "./support/runbooks/runbook_blocks.ts";
import { repoContext, staticProblems } from "./support/runbooks/static_commands.ts";
import { parseAlertRules, PROMETHEUS_DIR, ROOT } from "./support/prometheus.ts";
import { type Simulation, startSimulation } from "./support/sim/simulation.ts";
import { waitUntil } from "./support/sim/sim_checks.ts";

const RUNBOOKS_DIR = `${ROOT}/docs/runbooks`;
const ALERTS_DIR = `${RUNBOOKS_DIR}/alerts`;
const PARTS = ["Meaning", "Confirm", "Fix", "Escalate"];
/** Longest run of one `runbook-check` block. */
const BLOCK_TIMEOUT_MS = 60_000;

async function markdownFiles(dir: string): Promise<string[]> {
  const files: string[] = [];
  for await (const entry of Deno.readDir(dir)) {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory) files.push(...await markdownFiles(path));
    else if (entry.name.endsWith(".md")) files.push(path);
  }
  return files.sort();
}

async function allBlocks(): Promise<{ blocks: RunbookBlock[]; untagged: string[] }> {
  const blocks: RunbookBlock[] = [];
  const untagged: string[] = [];
  for (const path of await markdownFiles(RUNBOOKS_DIR)) {
    const parsed = parseRunbook(await Deno.readTextFile(path), relative(ROOT, path));
    blocks.push(...parsed.blocks);
    untagged.push(...parsed.untagged);
  }
  return { blocks, untagged };
}

async function alertNames(): Promise<string[]> {
  const names: string[] = [];
  for await (const entry of Deno.readDir(`${PROMETHEUS_DIR}/alerts`)) {
    if (!entry.name.endsWith(".yml")) continue;
    const text = await Deno.readTextFile(`${PROMETHEUS_DIR}/alerts/${entry.name}`);
    for (const rule of parseAlertRules(text)) {
      assert.equal(
        rule.annotations.runbook_url,
        `docs/runbooks/alerts/${alertRunbookFile(rule.alert)}`,
        `${rule.alert} runbook_url`,
      );
      names.push(rule.alert);
    }
  }
  return names.sort();
}

Deno.test("every alert has its runbook, titled with its name, with the four parts, listed in the index", async () => {
  const alerts = await alertNames();
  assert.ok(alerts.length >= 19, `${alerts.length} alerts`);
  const index = await Deno.readTextFile(`${RUNBOOKS_DIR}/README.md`);
  for (const alert of alerts) {
    const file = alertRunbookFile(alert);
    const path = `${ALERTS_DIR}/${file}`;
    assert.ok(existsSync(path), `docs/runbooks/alerts/${file} exists`);
    const { headings, blocks } = parseRunbook(await Deno.readTextFile(path), file);
    assert.equal(headings[0], alert, `${file} is titled ${alert}`);
    assert.deepEqual(PARTS.filter((part) => !headings.includes(part)), [], `${file} parts`);
    assert.ok(blocks.some((b) => b.kind === BlockKind.Check), `${file} has a command to run`);
    assert.ok(index.includes(`(alerts/${file})`), `README.md links ${file}`);
  }
  const orphans = (await markdownFiles(ALERTS_DIR))
    .map((path) => path.slice(ALERTS_DIR.length + 1))
    .filter((file) => !alerts.some((alert) => alertRunbookFile(alert) === file));
  assert.deepEqual(orphans, [], "runbooks without an alert");
});

Deno.test("every relative link of the runbooks resolves", async () => {
  const broken: string[] = [];
  for (const path of await markdownFiles(RUNBOOKS_DIR)) {
    const text = await Deno.readTextFile(path);
    for (const [, target] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
      if (/^[a-z]+:/.test(target!)) continue;
      const file = target!.replace(/#.*$/, "");
      if (file !== "" && !existsSync(join(dirname(path), file))) {
        broken.push(`${relative(ROOT, path)}: ${target}`);
      }
    }
  }
  assert.deepEqual(broken, []);
});

Deno.test("every shell block is tagged, and every runbook-check block says what to expect", async () => {
  const { blocks, untagged } = await allBlocks();
  assert.deepEqual(untagged, [], "shell blocks without runbook-check or runbook-static");
  const silent = blocks.filter((b) => b.kind === BlockKind.Check && b.expects.length === 0);
  assert.deepEqual(silent.map((b) => `${b.file}:${b.line}`), []);
});

Deno.test("every placeholder a command uses is documented in the index", async () => {
  const { blocks } = await allBlocks();
  const index = await Deno.readTextFile(`${RUNBOOKS_DIR}/README.md`);
  const documented = new Set([...index.matchAll(/^\| `([A-Z_]+)`/gm)].map((m) => m[1]!));
  const undocumented = new Set<string>();
  for (const block of blocks) {
    const assigned = new Set([...block.script.matchAll(/\b([A-Za-z_]+)=/g)].map((m) => m[1]!));
    for (const [, name] of block.script.matchAll(/\$\{?([A-Z][A-Z_]*)/g)) {
      if (!assigned.has(name!) && !documented.has(name!)) undocumented.add(name!);
    }
  }
  assert.deepEqual([...undocumented], []);
});

Deno.test("every runbook-static command names programs, tasks, flags, units and paths that exist", async () => {
  const { blocks } = await allBlocks();
  const context = repoContext(ROOT);
  const problems: string[] = [];
  let commands = 0;
  for (const block of blocks.filter((b) => b.kind === BlockKind.Static)) {
    for (const line of commandLines(block.script)) {
      for (const words of simpleCommands(line)) {
        commands++;
        for (const problem of await staticProblems(words, context)) {
          problems.push(`${block.file}:${block.line}: ${problem}`);
        }
      }
    }
  }
  assert.ok(commands > 0);
  assert.deepEqual(problems, []);
});

/** Config copies in a directory laid out as /etc/tbg, for the commands that read or add configs. */
async function etcDir(sim: Simulation, dir: string): Promise<void> {
  const read = async (path: string) =>
    JSON.parse(await Deno.readTextFile(path)) as Record<string, unknown>;
  const primary = await read(sim.service("eu").service.configPath);
  await Deno.writeTextFile(`${dir}/stratum-0.json`, JSON.stringify(primary, null, 2));
  // A second process of the primary region, as infra/systemd/etc/tbg/stratum-1.json is to -0.
  const events = primary.events as Record<string, unknown>;
  const second = {
    ...primary,
    reuse_port: true,
    templates: { publish: false },
    events: { ...events, spool_dir: `${events.spool_dir}-1` },
  };
  await Deno.writeTextFile(`${dir}/stratum-1.json`, JSON.stringify(second, null, 2));
  await Deno.copyFile(sim.service("us-east").service.configPath, `${dir}/relay-0.json`);
  await Deno.copyFile(sim.collector.configPath, `${dir}/collector.json`);
}

async function placeholders(sim: Simulation, etc: string, backups: string) {
  const primary = sim.service("eu");
  const relay = sim.service("us-east");
  const collector = JSON.parse(await Deno.readTextFile(sim.collector.configPath)) as {
    metrics: { port: number };
  };
  const collectorBase = `http://127.0.0.1:${collector.metrics.port}`;
  return {
    POOL_METRICS: primary.metricsUrl,
    POOL_HEALTH: primary.healthUrl,
    POOL_STRATUM: `127.0.0.1:${primary.stratumPort}`,
    POOL_CONFIG: `${etc}/stratum-0.json`,
    RELAY_METRICS: relay.metricsUrl,
    RELAY_HEALTH: relay.healthUrl,
    RELAY_STRATUM: `127.0.0.1:${relay.stratumPort}`,
    RELAY_REGION: relay.region,
    RELAY_CONFIG: `${etc}/relay-0.json`,
    COLLECTOR_METRICS: `${collectorBase}/metrics`,
    COLLECTOR_HEALTH: `${collectorBase}/health`,
    COLLECTOR_CONFIG: `${etc}/collector.json`,
    NATS_URL: sim.topology.hub.url,
    NATS_MONITOR: sim.topology.hub.monitorUrl,
    LEAF_URL: sim.topology.leaf(relay.region).url,
    PG_URL: sim.postgresUrl,
    REDIS_URL: sim.redisUrl,
    BITCOIND_RPC: `http://127.0.0.1:${primary.node.rpcPort}/`,
    BITCOIND_AUTH: `${primary.node.user}:${primary.node.password}`,
    TBG_ETC: etc,
    BACKUP_DIR: backups,
    NO_COLOR: "1",
  };
}

/** Runs one block; returns why it failed, or null. */
async function runBlock(block: RunbookBlock, env: Record<string, string>): Promise<string | null> {
  const result = await new Deno.Command("bash", {
    args: ["-euo", "pipefail", "-c", block.script],
    cwd: ROOT,
    env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(BLOCK_TIMEOUT_MS),
  }).output();
  const text = new TextDecoder();
  const stdout = text.decode(result.stdout);
  const where = `${block.file}:${block.line}`;
  if (result.code !== 0) {
    return `${where}: exit ${result.code}\n${text.decode(result.stderr).slice(-800)}`;
  }
  const missing = block.expects.filter((pattern) => !pattern.test(stdout));
  return missing.length === 0
    ? null
    : `${where}: output lacks ${missing.join(", ")}\n${stdout.slice(0, 800)}`;
}

Deno.test({
  name:
    "every runbook-check command runs against the simulation and shows what it says to look for",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const { blocks } = await allBlocks();
    const checks = blocks.filter((b) => b.kind === BlockKind.Check);
    assert.ok(checks.length > 0);
    const etc = await Deno.makeTempDir({ prefix: "tbg-runbooks-etc-" });
    const backups = await Deno.makeTempDir({ prefix: "tbg-runbooks-backup-" });
    const sim = await startSimulation({ minersPerRegion: 1 });
    try {
      // Commands read stored shares and blocks and relay metrics that exist once mining ran.
      await waitUntil("a block and shares in PostgreSQL", async () => {
        const [row] = await sim.sql<{ blocks: number; shares: number }[]>`
          SELECT (SELECT count(*)::int FROM blocks) AS blocks,
                 (SELECT count(*)::int FROM shares) AS shares`;
        return (row?.blocks ?? 0) > 0 && (row?.shares ?? 0) > 0;
      }, 90_000);
      await etcDir(sim, etc);
      const env = { ...Deno.env.toObject(), ...await placeholders(sim, etc, backups) };
      const failures: string[] = [];
      for (const block of checks) {
        const failure = await runBlock(block, env);
        if (failure !== null) failures.push(failure);
      }
      assert.deepEqual(failures, [], `${failures.length} of ${checks.length} blocks failed`);
    } finally {
      await sim.stop();
      await Deno.remove(etc, { recursive: true });
      await Deno.remove(backups, { recursive: true });
    }
  },
});
