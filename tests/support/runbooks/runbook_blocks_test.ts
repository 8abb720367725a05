import assert from "node:assert/strict";
import {
  alertRunbookFile,
  BlockKind,
  commandLines,
  parseRunbook,
  simpleCommands,
} from "./runbook_blocks.ts";

const SAMPLE = [
  "# HighThing",
  "",
  "## Confirm",
  "```sh runbook-check",
  "curl -s \"$POOL_METRICS\" | grep '^x'",
  "# expect: ^x\\{",
  "```",
  "```json",
  "{}",
  "```",
  "```sh runbook-static",
  "systemctl restart tbg-stratum@0",
  "```",
  "```sh",
  "echo untagged",
  "```",
].join("\n");

Deno.test("parseRunbook() finds tagged shell blocks with their expect patterns, and untagged ones", () => {
  const parsed = parseRunbook(SAMPLE, "a.md");
  assert.deepEqual(parsed.headings, ["HighThing", "Confirm"]);
  assert.deepEqual(parsed.untagged, ["a.md:14"]);
  assert.equal(parsed.blocks.length, 2);
  const [check, fixed] = parsed.blocks;
  assert.equal(check!.kind, BlockKind.Check);
  assert.equal(check!.line, 4);
  assert.deepEqual(check!.expects.map(String), [String(/^x\{/m)]);
  assert.equal(fixed!.kind, BlockKind.Static);
  assert.equal(fixed!.script, "systemctl restart tbg-stratum@0");
});

Deno.test("parseRunbook() refuses an unclosed fence, an unknown tag and a bad pattern", () => {
  assert.throws(() => parseRunbook("```sh runbook-check\nls\n", "b.md"), /never closed/);
  assert.throws(() => parseRunbook("```sh runbook-run\nls\n```", "b.md"), /unknown tag/);
  assert.throws(
    () => parseRunbook("```sh runbook-check\nls\n# expect: (\n```", "b.md"),
    /bad expect pattern on line 3/,
  );
});

Deno.test("commandLines() joins continuations and drops comments", () => {
  assert.deepEqual(
    commandLines("# intro\ncurl -s \\\n  --user x \\\n  http://h # trailing\n\necho '# kept'"),
    ["curl -s --user x http://h", "echo '# kept'"],
  );
});

Deno.test("simpleCommands() splits on && || | ; and removes quotes", () => {
  assert.deepEqual(
    simpleCommands(`a "b c" 'd|e' && f x\\ y | g; h || i`),
    [["a", "b c", "d|e"], ["f", "x y"], ["g"], ["h"], ["i"]],
  );
  assert.throws(() => simpleCommands(`echo "open`), /unclosed/);
});

Deno.test("alertRunbookFile() is the alert name in kebab case", () => {
  assert.equal(alertRunbookFile("PrimaryProcessDown"), "primary-process-down.md");
  assert.equal(alertRunbookFile("HighEventLatency"), "high-event-latency.md");
});
