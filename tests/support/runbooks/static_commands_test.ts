import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { simpleCommands } from "./runbook_blocks.ts";
import { repoContext, staticProblems } from "./static_commands.ts";

const ROOT = fileURLToPath(new URL("../../../", import.meta.url)).replace(/\/$/, "");
const context = repoContext(ROOT);

async function problems(line: string): Promise<string[]> {
  const out: string[] = [];
  for (const words of simpleCommands(line)) out.push(...await staticProblems(words, context));
  return out;
}

Deno.test("staticProblems() accepts real units, tasks, scripts with their flags, and paths", async () => {
  for (
    const line of [
      "systemctl restart tbg-stratum@2",
      "systemctl enable --now tbg-relay@0 tbg-collector",
      "systemctl status 'tbg-*'",
      "systemctl show -p Result -p NRestarts tbg-stratum@0",
      "journalctl -u tbg-collector -n 20 --no-pager",
      "systemctl restart nats-server",
      "deno task nats:conf",
      'bash infra/backup/pg_backup.sh --url "$PG_URL" --out /var/backups/tbg/pg_dump --keep 14',
      "install -m 0644 infra/systemd/*.service /etc/systemd/system/",
      "sudo PGPASSWORD=x psql -c 'SELECT 1'",
    ]
  ) {
    assert.deepEqual(await problems(line), [], line);
  }
});

Deno.test("staticProblems() names what does not exist", async () => {
  const cases: [string, RegExp][] = [
    ["systemctl restart tbg-miner@1", /infra\/systemd\/tbg-miner@\.service does not exist/],
    ["systemctl bounce tbg-collector", /systemctl bounce is not a verb/],
    ["systemctl restart no-such-daemon-tbg", /unit no-such-daemon-tbg is not installed/],
    ["deno task db:vacuum", /deno task db:vacuum is not a task/],
    ["bash infra/backup/pg_backup.sh --url x --compress 9", /does not take --compress/],
    ["nats stream ls", /nats is not installed here/],
    ["install -m 0644 infra/systemd/tbg-nothing.service /etc/", /tbg-nothing\.service does not/],
    ["deno run --allow-net tools/no_such_tool.ts", /tools\/no_such_tool\.ts does not exist/],
  ];
  for (const [line, message] of cases) {
    const found = await problems(line);
    assert.ok(found.some((problem) => message.test(problem)), `${line}: ${found.join("; ")}`);
  }
});

Deno.test("staticProblems() checks a tool's flags against its usage", async () => {
  assert.deepEqual(
    await problems("deno task nats:provision --nats-url nats://h:4222 --dry-run"),
    [],
  );
  assert.match(
    (await problems("deno task nats:provision --nats-url nats://h:4222 --force")).join(),
    /does not take --force/,
  );
});
