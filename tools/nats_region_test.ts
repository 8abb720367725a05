import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { connect } from "nats";
import { jetstream, jetstreamManager } from "nats/jetstream";
import { MINING_EVENTS_STREAM_NAME, miningEventsStreamConfig } from "@tbg/shared/nats";
import { startNatsTopology } from "../tests/support/servers/nats_topology.ts";
import { parseRegionArgs, RegionUsageError } from "./nats_region.ts";

const TOOL = fileURLToPath(new URL("./nats_region.ts", import.meta.url));

async function runTool(...args: string[]): Promise<{ code: number; output: string }> {
  const result = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-net", TOOL, ...args],
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
  const text = new TextDecoder();
  return { code: result.code, output: text.decode(result.stdout) + text.decode(result.stderr) };
}

Deno.test("parseRegionArgs() takes a command, a region slug and a NATS URL", () => {
  assert.deepEqual(parseRegionArgs(["edge", "--region", "sa", "--dry-run"]), {
    command: "edge",
    region: "sa",
    natsUrl: "nats://127.0.0.1:4222",
    dryRun: true,
  });
  assert.equal(
    parseRegionArgs(["source", "--region=sa", "--nats-url=nats://hub:4222"]).natsUrl,
    "nats://hub:4222",
  );
});

Deno.test("parseRegionArgs() refuses a bad command, region or URL, naming it", () => {
  const cases: [string[], RegExp][] = [
    [[], /missing command/],
    [["stream", "--region", "sa"], /unknown command "stream"/],
    [["edge"], /missing --region/],
    [["edge", "--region"], /--region needs a value/],
    [["edge", "--region", "hub"], /the hub's own domain/],
    [["edge", "--region", "South America"], /South America/],
    [["edge", "--region", "sa", "--nats-url", "http://x"], /not a NATS server list/],
    [["edge", "--region", "sa", "--force"], /unknown argument "--force"/],
  ];
  for (const [args, message] of cases) {
    assert.throws(() => parseRegionArgs(args), (error: unknown) => {
      assert.ok(error instanceof RegionUsageError, String(error));
      assert.match(error.message, message);
      return true;
    });
  }
});

Deno.test({
  name: "nats_region.ts adds a region: its edge stream on the leaf, then the hub sources it",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const topology = await startNatsTopology({
      leaves: [{ region: "sa" }],
      provisionStreams: false,
    });
    try {
      const hub = topology.hub.url;
      const leaf = topology.leaf("sa").url;

      const early = await runTool("source", "--region", "sa", "--nats-url", hub);
      assert.equal(early.code, 1, early.output);
      assert.match(early.output, /no stream MINING_EVENTS here/);

      const planned = await runTool("edge", "--region", "sa", "--nats-url", leaf, "--dry-run");
      assert.equal(planned.code, 0, planned.output);
      assert.match(planned.output, /stream "MINING_EVENTS_SA": would create/);
      const created = await runTool("edge", "--region", "sa", "--nats-url", leaf);
      assert.match(created.output, /stream "MINING_EVENTS_SA": created/);
      const again = await runTool("edge", "--region", "sa", "--nats-url", leaf);
      assert.match(again.output, /stream "MINING_EVENTS_SA": unchanged/);

      const nc = await connect({ servers: hub });
      const leafNc = await connect({ servers: leaf });
      try {
        const jsm = await jetstreamManager(nc);
        await jsm.streams.add(miningEventsStreamConfig());
        const wouldAdd = await runTool("source", "--region", "sa", "--nats-url", hub, "--dry-run");
        assert.match(wouldAdd.output, /source MINING_EVENTS_SA: would add/);
        assert.equal((await jsm.streams.info(MINING_EVENTS_STREAM_NAME)).config.sources, undefined);
        const added = await runTool("source", "--region", "sa", "--nats-url", hub);
        assert.equal(added.code, 0, added.output);
        assert.match(added.output, /source MINING_EVENTS_SA: added/);
        const unchanged = await runTool("source", "--region", "sa", "--nats-url", hub);
        assert.match(unchanged.output, /source MINING_EVENTS_SA: unchanged/);
        const info = await jsm.streams.info(MINING_EVENTS_STREAM_NAME);
        assert.deepEqual(info.config.sources?.map((s) => s.name), ["MINING_EVENTS_SA"]);
        assert.equal(info.config.max_age, miningEventsStreamConfig().max_age, "settings kept");

        // An event published at the edge reaches the hub through the new source.
        await jetstream(leafNc).publish("mining.events.sa.share_submitted", "{}", {
          msgID: "nats-region-test-1",
        });
        const deadline = Date.now() + 20_000;
        let messages = 0;
        while (Date.now() < deadline) {
          messages = (await jsm.streams.info(MINING_EVENTS_STREAM_NAME)).state.messages;
          if (messages > 0) break;
          await new Promise((resolve) => setTimeout(resolve, 200));
        }
        assert.equal(messages, 1, "the hub sourced the edge stream's event");
      } finally {
        await leafNc.close();
        await nc.close();
      }
    } finally {
      await topology.stop();
    }
  },
});
