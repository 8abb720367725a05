/**
 * The multi-region NATS topology on real nats-server processes: a hub and leaf nodes, each leaf
 * linked through a latency bridge, configured by `infra/nats/render.ts` (the same renderer as the
 * committed production files).
 *
 *   deno test --allow-run --allow-net=127.0.0.1 --allow-read --allow-write --allow-env \
 *     tests/nats_topology_test.ts
 *
 * Needs the Debian packages `nats-server` and `openssl`; fails, never skips, without them.
 * Partitions here last seconds; the chaos tests run {@link runPartitionScenario} for minutes.
 *
 * @module
 */
import assert from "node:assert/strict";
import { connect } from "nats";
import { jetstream, jetstreamManager } from "nats/jetstream";
import { encodeEvent, EventType, makeEvent } from "@tbg/shared/events";
import { eventSubject, MINING_EVENTS_STREAM_NAME } from "@tbg/shared/nats";
import { generateTestCerts } from "../tools/gen_test_certs.ts";
import {
  assertConverged,
  publishRegionEvents,
  readHubEvents,
  runPartitionScenario,
  sampleShareEvent,
  waitHubCount,
} from "./support/event_convergence.ts";
import { startNatsServer } from "./support/servers/nats_server.ts";
import {
  hubLeafUrl,
  type NatsTopology,
  startNatsTopology,
  testLeafConfig,
} from "./support/servers/nats_topology.ts";

const US_EAST_DELAY_MS = 80;
const ASIA_DELAY_MS = 150;
/** Upper bound of every wait for a log line or a connection state here. */
const WAIT_MS = 15_000;

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function withTopology(
  options: Parameters<typeof startNatsTopology>[0],
  body: (topology: NatsTopology) => Promise<void>,
): Promise<void> {
  const topology = await startNatsTopology(options);
  try {
    await body(topology);
  } finally {
    await topology.stop();
  }
  await assert.rejects(Deno.stat(topology.dir), Deno.errors.NotFound);
}

/** Waits until `read()` returns text matching `pattern`; returns the matching line. */
/**
 * Sends `CONNECT <options>` and `PING` on a plain TCP connection to a NATS port and collects what
 * the server says until it closes (bounded by {@link WAIT_MS}).
 */
async function rawConnect(
  port: number,
  options: Record<string, unknown>,
): Promise<{ info: string; reply: string }> {
  const raw = await Deno.connect({ hostname: "127.0.0.1", port });
  // Bounds the reads below if the server neither answers nor closes.
  const closer = setTimeout(() => raw.close(), WAIT_MS);
  const decoder = new TextDecoder();
  let info = "";
  let reply = "";
  try {
    const buffer = new Uint8Array(4096);
    const n = await raw.read(buffer);
    info = decoder.decode(buffer.subarray(0, n ?? 0));
    await raw.write(new TextEncoder().encode(`CONNECT ${JSON.stringify(options)}\r\nPING\r\n`));
    for (;;) {
      const got = await raw.read(buffer).catch(() => null);
      if (got === null) break;
      reply += decoder.decode(buffer.subarray(0, got));
    }
  } finally {
    clearTimeout(closer);
    try {
      raw.close();
    } catch {
      // Closed by the timer.
    }
  }
  return { info, reply };
}

async function waitForLine(
  read: () => Promise<string>,
  pattern: RegExp,
  what: string,
): Promise<string> {
  const deadline = Date.now() + WAIT_MS;
  let text = "";
  while (Date.now() < deadline) {
    text = await read();
    const line = text.split("\n").find((candidate) => pattern.test(candidate));
    if (line !== undefined) return line;
    await delay(50);
  }
  throw new Error(`No log line matching ${pattern} (${what}) within ${WAIT_MS} ms:\n${text}`);
}

Deno.test("an event published on a leaf reaches the hub's MINING_EVENTS once, sourced across the 80 ms link", async () => {
  await withTopology({
    leaves: [
      { region: "us-east", link: { delayMs: US_EAST_DELAY_MS } },
      { region: "asia", link: { delayMs: ASIA_DELAY_MS, jitterMs: 20 } },
    ],
  }, async (topology) => {
    const hubNc = await connect(topology.hub.connectOptions());
    try {
      for (
        const [region, delayMs] of [["us-east", US_EAST_DELAY_MS], ["asia", ASIA_DELAY_MS]] as const
      ) {
        const leaf = topology.leaf(region);
        const leafNc = await connect({ servers: leaf.url });
        try {
          const published = performance.now();
          const ids = await publishRegionEvents(leafNc, region, 1, {
            expectStream: leaf.streamName,
          });
          await waitHubCount(hubNc, region, 1);
          // Sourcing pushes the event across the bridge: at least one one-way delay.
          const tookMs = performance.now() - published;
          assert.ok(tookMs >= delayMs, `${region}: on the hub after ${tookMs.toFixed(0)} ms`);
          await delay(1_000); // A second copy, if any, would arrive within this.
          assertConverged(await readHubEvents(hubNc, region), ids, leaf.streamName);
          // The edge keeps its own copy (it is a limits stream).
          const leafJsm = await jetstreamManager(leafNc);
          assert.equal((await leafJsm.streams.info(leaf.streamName)).state.messages, 1);
        } finally {
          await leafNc.close();
        }
      }
      // The primary region publishes to the hub directly; its events stay on the hub.
      const js = jetstream(hubNc);
      const eu = makeEvent(EventType.DiffUpdated, "eu", "stratum-eu-1", {
        user: "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq",
        worker: "rig1",
        session_id: "0a1b2c3d",
        old_diff: 512,
        new_diff: 1024,
        reason: "vardiff",
      });
      const ack = await js.publish(eventSubject("eu", eu.event), encodeEvent(eu), {
        msgID: eu.event_id,
      });
      assert.equal(ack.stream, MINING_EVENTS_STREAM_NAME);
      assert.equal(ack.domain, "hub");
      const all = await readHubEvents(hubNc);
      assert.equal(all.length, 3);
      assert.equal(new Set(all.map((event) => event.eventId)).size, 3);
      for (const leaf of topology.leaves) {
        const leafNc = await connect({ servers: leaf.url });
        try {
          const info = await (await jetstreamManager(leafNc)).streams.info(leaf.streamName);
          assert.equal(
            info.state.messages,
            1,
            `the eu event must not reach ${leaf.region}'s stream`,
          );
        } finally {
          await leafNc.close();
        }
      }
    } finally {
      await hubNc.close();
    }
  });
});

Deno.test("events published on a leaf during a reset partition arrive once and in order after the heal", async () => {
  await withTopology(
    { leaves: [{ region: "us-east", link: { delayMs: US_EAST_DELAY_MS } }] },
    async (topology) => {
      const leaf = topology.leaf("us-east");
      const outcome = await runPartitionScenario({
        topology,
        region: "us-east",
        partition: { mode: "reset" },
        partitionMs: 3_000,
        eventsBefore: 5,
        eventsDuring: 60,
        eventsAfter: 5,
      });
      assert.equal(outcome.arrivedDuringPartition, 0, "events crossed a cut link");
      assert.ok(outcome.hubDroppedLeaf, "the hub still listed the leaf during the partition");
      assert.equal(outcome.hubEvents.length, 70);
      assert.ok(await leaf.isConnected(), "the leaf reconnected after the heal");
    },
  );
});

Deno.test("events published on a leaf during a black-hole partition arrive once and in order after the heal", async () => {
  const ping = { pingIntervalS: 1, pingMax: 2 };
  await withTopology(
    { leaves: [{ region: "asia", link: { delayMs: ASIA_DELAY_MS } }], ping },
    async (topology) => {
      const outcome = await runPartitionScenario({
        topology,
        region: "asia",
        partition: { mode: "blackhole" },
        // Longer than the 1 s × 2 ping detection: the hub drops the silent leaf during the cut.
        partitionMs: 5_000,
        eventsBefore: 3,
        eventsDuring: 40,
        eventsAfter: 3,
      });
      assert.equal(outcome.arrivedDuringPartition, 0, "events crossed a black-holed link");
      assert.ok(outcome.hubDroppedLeaf, "the hub did not notice the silent leaf by its pings");
      assert.equal(outcome.hubEvents.length, 46);
    },
  );
});

Deno.test("events stored at the edge survive a leaf crash during a partition", async () => {
  await withTopology(
    { leaves: [{ region: "us-east", link: { delayMs: 20 } }] },
    async (topology) => {
      const leaf = topology.leaf("us-east");
      const hubNc = await connect(topology.hub.connectOptions());
      try {
        leaf.bridge.partition({ mode: "reset" });
        const leafNc = await connect({ servers: leaf.url, reconnect: false });
        const ids = await publishRegionEvents(leafNc, "us-east", 25, {
          expectStream: leaf.streamName,
        });
        await leafNc.close();
        leaf.kill("SIGKILL");
        await leaf.restart();
        leaf.bridge.heal();
        await leaf.waitConnected(WAIT_MS);
        await waitHubCount(hubNc, "us-east", ids.length);
        await delay(1_000);
        assertConverged(await readHubEvents(hubNc, "us-east"), ids, leaf.streamName);
      } finally {
        await hubNc.close();
      }
    },
  );
});

Deno.test("events published on a leaf while the hub is down arrive once after it restarts", async () => {
  await withTopology(
    { leaves: [{ region: "us-east", link: { delayMs: 20 } }] },
    async (topology) => {
      const leaf = topology.leaf("us-east");
      const leafNc = await connect({ servers: leaf.url });
      try {
        const before = await publishRegionEvents(leafNc, "us-east", 5, {
          expectStream: leaf.streamName,
        });
        const hubNc = await connect(topology.hub.connectOptions());
        await waitHubCount(hubNc, "us-east", before.length);
        await hubNc.close();
        await topology.hub.stop();
        const during = await publishRegionEvents(leafNc, "us-east", 20, {
          expectStream: leaf.streamName,
        });
        await topology.hub.restart();
        await leaf.waitConnected(WAIT_MS);
        const restartedNc = await connect(topology.hub.connectOptions());
        try {
          const ids = [...before, ...during];
          await waitHubCount(restartedNc, "us-east", ids.length);
          await delay(1_000);
          assertConverged(await readHubEvents(restartedNc, "us-east"), ids, leaf.streamName);
        } finally {
          await restartedNc.close();
        }
      } finally {
        await leafNc.close();
      }
    },
  );
});

Deno.test("the hub refuses leaves with a wrong password, no user, the client user, no client certificate, a foreign CA or plaintext", async () => {
  await withTopology({ leaves: [{ region: "us-east" }], hubClientAuth: true }, async (topology) => {
    const leaf = topology.leaf("us-east");
    const cert = topology.certs.leaves.get("us-east");
    assert.ok(cert !== undefined);
    const goodTls = {
      certFile: cert.certFile,
      keyFile: cert.keyFile,
      caFile: topology.certs.caFile,
    };
    const direct = (password: string) => hubLeafUrl("us-east", password, topology.hub.leafPort);
    const foreignDir = `${topology.dir}/foreign-ca`;
    const foreign = await generateTestCerts({
      dir: foreignDir,
      regions: ["us-east"],
      validDays: 1,
      caName: "Foreign CA",
    });
    const foreignCert = foreign.leaves.get("us-east");
    assert.ok(foreignCert !== undefined);
    const hubLog = () => topology.hub.server.readLog();
    const leafCount = async () => (await topology.hub.leafz()).length;
    assert.equal(await leafCount(), 1);

    const cases = [
      {
        what: "wrong password",
        extraConfig: testLeafConfig({
          region: "us-east",
          hubLeafUrl: direct("tbg_wrong"),
          tls: goodTls,
        }),
        hub: /authentication error - User "leaf-us-east"/,
        leaf: /Authorization Violation/,
      },
      {
        what: "no user (the certificate only)",
        extraConfig: testLeafConfig({
          region: "us-east",
          hubLeafUrl: `tls://127.0.0.1:${topology.hub.leafPort}`,
          tls: goodTls,
        }),
        hub: /authentication error - User "no-credentials"/,
        leaf: /Authorization Violation/,
      },
      {
        what: "the services' client user",
        extraConfig: testLeafConfig({
          region: "us-east",
          hubLeafUrl: `tls://tbg:${
            encodeURIComponent(topology.hub.clientCredentials?.pass ?? "")
          }@127.0.0.1:${topology.hub.leafPort}`,
          tls: goodTls,
        }),
        hub: /authentication error - User "tbg"/,
        leaf: /Authorization Violation/,
      },
      {
        what: "no client certificate",
        extraConfig:
          `leafnodes { reconnect: 1, remotes: [ { url: ${JSON.stringify(direct(leaf.password))}, ` +
          `tls { ca_file: ${JSON.stringify(topology.certs.caFile)} } } ] }`,
        hub: /client didn't provide a certificate/,
        leaf: /Leafnode connection closed|handshake error|Read Error/,
      },
      {
        what: "certificate from another CA",
        extraConfig: testLeafConfig({
          region: "us-east",
          hubLeafUrl: direct(leaf.password),
          tls: {
            certFile: foreignCert.certFile,
            keyFile: foreignCert.keyFile,
            caFile: topology.certs.caFile,
          },
        }),
        hub: /TLS leafnode handshake error/,
        leaf: /Leafnode connection closed|handshake error|Read Error/,
      },
    ];
    for (const c of cases) {
      const rogue = await startNatsServer({
        jetstream: false,
        extraConfig: c.extraConfig,
        parentDir: topology.dir,
      });
      try {
        await waitForLine(() => rogue.readLog(), c.leaf, `${c.what}: leaf side`);
        await waitForLine(hubLog, c.hub, `${c.what}: hub side`);
        assert.equal(await leafCount(), 1, `${c.what}: the hub lists the rogue leaf`);
      } finally {
        await rogue.stop();
      }
    }

    // Plaintext: the right user and password in a CONNECT sent without TLS.
    const plain = await rawConnect(topology.hub.leafPort, {
      user: "leaf-us-east",
      pass: leaf.password,
      tls_required: false,
    });
    assert.match(plain.info, /"tls_required":true/);
    const reply = plain.reply;
    assert.doesNotMatch(reply, /PONG|\+OK/, "the hub answered a plaintext leaf");
    await waitForLine(hubLog, /first record does not look like a TLS handshake/, "plaintext");

    // Positive control: the same builder with the right password and certificate is accepted.
    const control = await startNatsServer({
      jetstream: false,
      extraConfig: testLeafConfig({
        region: "us-east",
        hubLeafUrl: direct(leaf.password),
        tls: goodTls,
      }),
      parentDir: topology.dir,
    });
    try {
      const deadline = Date.now() + WAIT_MS;
      while (await leafCount() < 2 && Date.now() < deadline) await delay(50);
      assert.equal(await leafCount(), 2, "a correctly configured leaf was not accepted");
    } finally {
      await control.stop();
    }

    // The client port requires the password too. Spoken raw: the NATS client library can leave
    // the server's reset of a refused connection unhandled (an uncaught ECONNRESET seen once).
    const anonymous = await rawConnect(Number(new URL(topology.hub.url).port), {
      verbose: false,
      pedantic: false,
    });
    assert.match(anonymous.reply, /-ERR 'Authorization Violation'/);
    assert.doesNotMatch(anonymous.reply, /PONG/);
    // A region's leaf password is for its leaf node only, not the client port.
    const leafUserOnClientPort = await rawConnect(Number(new URL(topology.hub.url).port), {
      verbose: false,
      pedantic: false,
      user: "leaf-us-east",
      pass: leaf.password,
    });
    assert.match(leafUserOnClientPort.reply, /-ERR 'Authorization Violation'/);
    assert.doesNotMatch(leafUserOnClientPort.reply, /PONG/);
    const authed = await connect(topology.hub.connectOptions({ reconnect: false }));
    await authed.close();
  });
});

Deno.test("negative control: without the deny on the link, leaf events reach the hub twice", async () => {
  // The hub's leaf permissions refuse mining.events.> from the leaf too (defence in depth);
  // without both, the events cross directly.
  await withTopology(
    { leaves: [{ region: "us-east" }], denyEventSubjects: false, leafPermissions: false },
    async (topology) => {
      const leaf = topology.leaf("us-east");
      const leafNc = await connect({ servers: leaf.url });
      const hubNc = await connect(topology.hub.connectOptions());
      try {
        // Give the hub stream's interest time to cross the link, as it would in production.
        await delay(1_000);
        // Without a Nats-Msg-Id nothing can hide the second copy (with one, the hub's duplicate
        // window hides it for 2 minutes only).
        const js = jetstream(leafNc);
        const ids: string[] = [];
        for (let i = 0; i < 3; i++) {
          const event = sampleShareEvent("us-east", i);
          await js.publish(eventSubject("us-east", event.event), encodeEvent(event));
          ids.push(event.event_id);
        }
        await waitHubCount(hubNc, "us-east", ids.length + 1);
        await delay(1_000);
        const events = await readHubEvents(hubNc, "us-east");
        assert.ok(
          events.some((event) => event.sourceStream === undefined),
          "expected a copy delivered directly across the link",
        );
        assert.throws(() => assertConverged(events, ids, leaf.streamName), /more than once/);
      } finally {
        await leafNc.close();
        await hubNc.close();
      }
    },
  );
});
