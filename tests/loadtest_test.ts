/**
 * `deno task loadtest` end to end, small: nats-server, a devnet, 2 pool processes sharing one
 * port with events on, 200 miners from 2 generator processes over 2 loopback source addresses.
 * Asserts what the run produced (every row of the seed table, shares answered and published, the
 * pools' and generator's figures), never how fast. Needs nats-server (Debian package
 * "nats-server").
 */
import assert from "node:assert/strict";
import { parseLoadtestArgs } from "../tools/loadtest/loadtest_options.ts";
import { startLoadtest } from "../tools/loadtest/loadtest_run.ts";
import { expectedRows } from "../tools/loadtest/expected_results.ts";

const HOST = { cores: navigator.hardwareConcurrency, nofile: 20_000 };

/** Commands of this process's children (ps itself filtered out). */
async function childCommands(): Promise<string[]> {
  const out = await new Deno.Command("ps", {
    args: ["-o", "comm=", "--ppid", String(Deno.pid)],
    stdout: "piped",
  }).output();
  return new TextDecoder().decode(out.stdout).split("\n").map((l) => l.trim())
    .filter((c) => c !== "" && c !== "ps");
}

Deno.test({
  name: "loadtest runs the seed's table end to end: every row, shares answered and published",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const options = parseLoadtestArgs([
      "--miners",
      "200",
      "--processes",
      "2",
      "--generator-processes",
      "2",
      "--source-addresses",
      "2",
      "--ramp-up",
      "1",
      "--warmup",
      "1",
      "--duration",
      "4",
      "--share-interval",
      "1",
      "--report-interval",
      "1",
    ]);
    const lines: string[] = [];
    const result = await startLoadtest(options, {
      host: HOST,
      commit: "test",
      print: (l) => lines.push(l),
    })
      .result;
    assert.deepEqual(
      result.rows.map((r) => r.key),
      expectedRows({ miners: 200, offeredPerS: 200 }).map((r) => r.key),
    );
    const row = Object.fromEntries(result.rows.map((r) => [r.key, r]));
    assert.equal(row.connections!.value, 200);
    assert.ok(row.shareRate!.value! > 0, "shares answered");
    for (const key of ["p99ShareRtt", "cpu", "memory", "emissionP99", "staleRate"] as const) {
      assert.notEqual(row[key]!.value, null, `${key} measured`);
      assert.notEqual(row[key]!.verdict, "n/a", `${key} judged`);
    }
    assert.equal(row.connectionErrorRate!.value, 0);
    assert.ok(result.poolWindow.shares > 0, "the pools counted shares in the hold");
    assert.ok(result.poolWindow.eventsPublished > 0, "events reached JetStream");
    assert.equal(result.pools.processes, 2);
    assert.ok(
      result.pools.peakPssBytes > 0 && result.pools.peakPssBytes < result.pools.peakRssBytes,
    );
    assert.ok(result.generator.peakRssBytes > 0);
    assert.ok(lines.some((l) => l.includes("| conns ")), "live lines printed");
    assert.equal(result.interrupted, false);
    assert.deepEqual(await childCommands(), [], "nothing left running");
  },
});

Deno.test({
  name: "loadtest stop() during the hold judges what was measured and stops everything it started",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const options = parseLoadtestArgs([
      "--miners",
      "100",
      "--processes",
      "2",
      "--ramp-up",
      "0",
      "--warmup",
      "0",
      "--duration",
      "600",
      "--share-interval",
      "1",
      "--report-interval",
      "1",
    ]);
    const lines: string[] = [];
    const run = startLoadtest(options, {
      host: HOST,
      commit: "test",
      print: (l) => {
        lines.push(l);
        // Stop at the second live line of the hold, as SIGINT would.
        if (lines.filter((x) => x.includes(" hold ")).length === 2) run.stop();
      },
    });
    const result = await run.result;
    assert.equal(result.interrupted, true);
    assert.equal(result.rows.length, 8);
    assert.equal(result.rows[0]!.value, 100);
    assert.ok(result.poolWindow.seconds > 0 && result.poolWindow.seconds < 600);
    assert.deepEqual(await childCommands(), [], "nothing left running");
  },
});
