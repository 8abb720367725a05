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

/** Established client sockets to 127.0.0.1:`port`, counted by source address (`ss`). */
async function establishedSources(port: number): Promise<Map<string, number>> {
  const out = await new Deno.Command("ss", {
    args: ["-Htn", "state", "established", "dst", `127.0.0.1:${port}`],
    stdout: "piped",
  }).output();
  const counts = new Map<string, number>();
  for (const line of new TextDecoder().decode(out.stdout).split("\n")) {
    // Recv-Q Send-Q Local:Port Peer:Port
    const local = line.trim().split(/\s+/)[2];
    if (local === undefined) continue;
    const address = local.slice(0, local.lastIndexOf(":"));
    counts.set(address, (counts.get(address) ?? 0) + 1);
  }
  return counts;
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
    // While miners are held: the pools' established connections by source address.
    let sources: Promise<Map<string, number>> | null = null;
    const result = await startLoadtest(options, {
      host: HOST,
      commit: "test",
      print: (l) => {
        lines.push(l);
        const port = /^pools ready on 127\.0\.0\.1:(\d+)/.exec(lines[1] ?? "")?.[1];
        if (sources === null && port !== undefined && l.includes(" hold ")) {
          sources = establishedSources(Number(port));
        }
      },
    }).result;
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
    // nats-server stored every event of the hold, so it used some CPU and memory.
    assert.equal(result.natsServer?.processes, 1);
    assert.ok((result.natsServer?.cpuCores ?? 0) > 0, "nats-server's CPU over the hold");
    assert.ok((result.natsServer?.peakRssBytes ?? 0) > 0);
    assert.ok(lines.some((l) => l.includes("| conns ")), "live lines printed");
    assert.notEqual(sources, null, "a live line during the hold");
    const bySource = await sources!;
    assert.deepEqual([...bySource.keys()].sort(), ["127.0.0.2", "127.0.0.3"]);
    assert.equal([...bySource.values()].reduce((a, n) => a + n, 0), 200);
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
