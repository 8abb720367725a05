/**
 * What crosses the leafnode link, on real nats-server processes (a hub and two relay regions'
 * leaves, configured by `infra/nats/render.ts`): a client of one region's leaf (a compromised
 * relay) tries every subject it has no business on, and the hub and the other region see none of
 * it, while the traffic the system needs (block submission and ping request/reply, heartbeats,
 * templates through JetStream, the event sourcing, the replication-lag stream info) still flows.
 *
 * Each probe ends with a ping round trip through the same connections: the attacker's messages
 * travel the leaf link in order before its ping, and the hub's sniffers share the connection that
 * answers the ping, so by the time the reply arrives anything that crossed has been seen. No
 * timing thresholds.
 *
 * The same probes against a hub without the leaf permissions (`leafPermissions: false`) show that
 * they do cross there: the negative control.
 *
 *   deno test -A tests/nats_leaf_permissions_test.ts
 *
 * @module
 */
import assert from "node:assert/strict";
import {
  connect,
  type ConnectionOptions,
  type Msg,
  type NatsConnection,
  type Subscription,
} from "nats";
import { DeliverPolicy, jetstream, jetstreamManager } from "nats/jetstream";
import { encodeEvent } from "@tbg/shared/events";
import {
  blockSubmitSubject,
  eventSubject,
  heartbeatSubject,
  HUB_JETSTREAM_DOMAIN,
  hubToRegionInboxPrefix,
  MINING_EVENTS_STREAM_NAME,
  PRIMARY_PING_SUBJECT,
  regionEventsStreamName,
  regionInboxPrefix,
  sourceDeliverPrefix,
} from "@tbg/shared/nats";
import { MINING_TEMPLATES_STREAM_NAME, templatesStreamConfig } from "@tbg/shared/templates";
import { startStartTlsShim } from "../tools/pentest/nats_starttls.ts";
import { sampleShareEvent, waitHubCount } from "./support/event_convergence.ts";
import { type NatsTopology, startNatsTopology } from "./support/servers/nats_topology.ts";

const ATTACKER = "us-east";
const VICTIM = "asia";
const PRIMARY_REGION = "eu";
const NETWORK = "regtest";
const REQUEST_TIMEOUT_MS = 5_000;

/** Messages a connection's wildcard sniffer received, by subject. */
class Sniffer {
  readonly seen: Msg[] = [];
  readonly #sub: Subscription;

  constructor(nc: NatsConnection, subject: string) {
    this.#sub = nc.subscribe(subject, {
      callback: (_e, msg) => {
        this.seen.push(msg);
      },
    });
  }

  stop(): void {
    this.#sub.unsubscribe();
  }
}

/** What the attacker's probes got across the link. */
interface Crossed {
  /** Subjects the hub's sniffers received from the attacker. */
  readonly atHub: string[];
  /** Subjects the victim region's client received from the attacker. */
  readonly atVictim: string[];
  /** Messages the attacker's own sniffers received that belong to the primary or the victim. */
  readonly atAttacker: string[];
  /** Messages in MINING_TEMPLATES after the probes. */
  readonly templatesStored: number;
  /** Whether MINING_TEMPLATES still exists after the attacker asked the hub to delete it. */
  readonly templatesStreamExists: boolean;
}

async function relayClient(topology: NatsTopology, region: string): Promise<NatsConnection> {
  return await connect({
    servers: topology.leaf(region).url,
    name: `relay-${region}`,
    inboxPrefix: regionInboxPrefix(region),
    // Its sniffers must not count its own messages.
    noEcho: true,
  });
}

/** The primary's answers: block submissions and pings, on the hub. */
function servePrimary(hub: NatsConnection): Subscription[] {
  return [
    hub.subscribe(blockSubmitSubject, {
      callback: (_e, msg) => {
        msg.respond(new TextEncoder().encode(`accepted:${msg.string()}`));
      },
    }),
    hub.subscribe(PRIMARY_PING_SUBJECT, {
      callback: (_e, msg) => {
        msg.respond("pong");
      },
    }),
  ];
}

/** A round trip from `client` to the hub's ping responder; orders everything sent before it. */
async function barrier(client: NatsConnection): Promise<void> {
  const reply = await client.request(PRIMARY_PING_SUBJECT, "", { timeout: REQUEST_TIMEOUT_MS });
  assert.equal(reply.string(), "pong");
}

/**
 * The allowed traffic of both regions; throws when any of it does not flow.
 */
async function assertAllowedTrafficFlows(
  hubOptions: ConnectionOptions,
  hub: NatsConnection,
  relays: Map<string, NatsConnection>,
): Promise<void> {
  const js = jetstream(hub);
  const templateSubject = `mining.templates.${NETWORK}`;
  await js.publish(templateSubject, "full-template-1");
  await js.publish(`${templateSubject}.live`, "live-template-1");
  for (const [region, relay] of relays) {
    // Block submission and ping: request through the leaf, reply back on the region's inbox.
    const submit = await relay.request(blockSubmitSubject, `block-of-${region}`, {
      timeout: REQUEST_TIMEOUT_MS,
    });
    assert.equal(submit.string(), `accepted:block-of-${region}`);
    await barrier(relay);

    // Heartbeats from the primary reach the relay.
    const heartbeats = new Sniffer(relay, heartbeatSubject(PRIMARY_REGION));
    await relay.flush();
    await waitFor(async () => {
      hub.publish(heartbeatSubject(PRIMARY_REGION), `beat-for-${region}`);
      await hub.flush();
      return heartbeats.seen.length > 0;
    }, `${region}: a primary heartbeat`);
    heartbeats.stop();

    // Templates through the hub's JetStream domain: an ordered consumer, a direct get, and the
    // stream infos the relay reads (the replication lag reads MINING_EVENTS').
    const hubJs = jetstream(relay, { domain: HUB_JETSTREAM_DOMAIN });
    const consumer = await hubJs.consumers.get(MINING_TEMPLATES_STREAM_NAME, {
      filter_subjects: `${templateSubject}.live`,
      deliver_policy: DeliverPolicy.LastPerSubject,
    });
    const next = await consumer.next({ expires: REQUEST_TIMEOUT_MS });
    assert.equal(next?.string(), "live-template-1", `${region}: the live template`);
    const hubJsm = await jetstreamManager(relay, { domain: HUB_JETSTREAM_DOMAIN });
    const full = await hubJsm.direct.getMessage(MINING_TEMPLATES_STREAM_NAME, {
      last_by_subj: templateSubject,
    });
    assert.equal(full?.string(), "full-template-1", `${region}: the full template`);
    const info = await hubJsm.streams.info(MINING_EVENTS_STREAM_NAME);
    assert.equal(info.config.name, MINING_EVENTS_STREAM_NAME);

    // Events: published at the edge, sourced by the hub.
    const event = sampleShareEvent(region, 1);
    await jetstream(relay).publish(eventSubject(region, event.event), encodeEvent(event), {
      msgID: event.event_id,
    });
    await waitHubCount(hub, region, 1);
  }
  // An operator on the hub reads a region's edge stream through its domain, with the region's
  // hub inbox prefix (the leaf answers no other hub inbox).
  const operator = await connect({
    ...hubOptions,
    name: "operator",
    inboxPrefix: hubToRegionInboxPrefix(VICTIM),
  });
  try {
    const jsm = await jetstreamManager(operator, { domain: VICTIM });
    const edge = await jsm.streams.info(regionEventsStreamName(VICTIM));
    assert.equal(edge.state.messages, 1);
  } finally {
    await operator.close();
  }
}

async function waitFor(check: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + REQUEST_TIMEOUT_MS * 2;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`Cannot see ${what} within ${REQUEST_TIMEOUT_MS * 2} ms`);
}

/** The compromised relay's probes; returns what crossed. */
/**
 * The subject the hub's sourcing consumer of `region`'s stream delivers on right now, as a
 * compromised host can read it from its leaf's monitoring (the hub announces its interest).
 */
async function sourceDeliverSubject(topology: NatsTopology, region: string): Promise<string> {
  const response = await fetch(`${topology.hub.monitorUrl}/subsz?subs=1&limit=1024`);
  const body = await response.json() as { subscriptions_list?: { subject: string }[] };
  const prefix = `${sourceDeliverPrefix(region)}.`;
  const found = (body.subscriptions_list ?? []).find((sub) => sub.subject.startsWith(prefix));
  assert.ok(found !== undefined, `no subscription under ${prefix} on the hub`);
  return found.subject;
}

async function probeFromAttacker(
  topology: NatsTopology,
  hub: NatsConnection,
  attacker: NatsConnection,
  victim: NatsConnection,
): Promise<Crossed> {
  // The hub's sniffers share the connection that answers the barrier's ping.
  const hubSniffers = [
    new Sniffer(hub, "mining.templates.>"),
    new Sniffer(hub, "mining.heartbeat.>"),
    new Sniffer(hub, "mining.events.>"),
    new Sniffer(hub, "mining.attack.>"),
    new Sniffer(hub, "_INBOX.hub-client.>"),
    // The hub's sourcing of the victim's stream (genuine deliveries arrive here too).
    new Sniffer(hub, `${sourceDeliverPrefix(VICTIM)}.>`),
  ];
  const victimInbox = `${regionInboxPrefix(VICTIM)}.probe`;
  const victimSniffers = [
    new Sniffer(victim, victimInbox),
    new Sniffer(victim, heartbeatSubject(PRIMARY_REGION)),
  ];
  // What the attacker would like to receive: the primary's and the victim's traffic.
  const attackerSniffers = [
    new Sniffer(attacker, blockSubmitSubject),
    new Sniffer(attacker, PRIMARY_PING_SUBJECT),
    new Sniffer(attacker, `${regionInboxPrefix(VICTIM)}.>`),
    new Sniffer(attacker, "_INBOX.>"),
    new Sniffer(attacker, `$JS.${VICTIM}.API.>`),
    new Sniffer(attacker, "mining.templates.>"),
  ];
  await Promise.all([hub.flush(), victim.flush(), attacker.flush()]);
  // Give the attacker's interest time to cross the link, as it would in production.
  await barrier(attacker);
  await barrier(victim);

  const forgedTemplate = "forged-template";
  const sends: [string, string][] = [
    [`mining.templates.${NETWORK}.live`, forgedTemplate],
    [`mining.templates.${NETWORK}`, forgedTemplate],
    [heartbeatSubject(PRIMARY_REGION), "forged-heartbeat"],
    [eventSubject(VICTIM, "share_submitted"), "forged-event"],
    ["mining.attack.anything", "anything"],
    [victimInbox, "forged-reply"],
    [await sourceDeliverSubject(topology, VICTIM), "forged-sourced-event"],
    ["_INBOX.hub-client.probe", "forged-reply-to-hub"],
  ];
  for (const [subject, payload] of sends) attacker.publish(subject, payload);
  // The JetStream API beyond reading templates: delete the templates stream, purge events.
  const denied = [
    `$JS.${HUB_JETSTREAM_DOMAIN}.API.STREAM.DELETE.${MINING_TEMPLATES_STREAM_NAME}`,
    `$JS.${HUB_JETSTREAM_DOMAIN}.API.STREAM.PURGE.${MINING_EVENTS_STREAM_NAME}`,
  ];
  for (const subject of denied) {
    await attacker.request(subject, "", { timeout: 1_000 }).catch(() => undefined);
  }
  await barrier(attacker);

  // The victim's own traffic, which the attacker must not see: a block submission and a ping.
  await victim.request(blockSubmitSubject, "victim-block", { timeout: REQUEST_TIMEOUT_MS });
  await barrier(victim);
  // The hub asks the victim's domain something; the attacker must not see the request.
  hub.publish(`$JS.${VICTIM}.API.INFO`, "");
  await barrier(victim);
  // Anything delivered to the attacker travels the link after the victim's barrier completes;
  // its own barrier follows on the same link.
  await barrier(attacker);

  const templatesJsm = await jetstreamManager(hub);
  const templates = await templatesJsm.streams.info(MINING_TEMPLATES_STREAM_NAME).catch(() => null);
  // Only the attacker's payloads count at the hub and the victim: the sniffers also see the
  // system's own traffic (the sourcing's deliveries).
  const forged = new Set(sends.map(([, payload]) => payload));
  const fromAttacker = (sniffers: Sniffer[]) =>
    sniffers.flatMap((s) => s.seen).filter((msg) => forged.has(msg.string())).map((msg) =>
      msg.subject
    );
  const crossed: Crossed = {
    atHub: fromAttacker(hubSniffers),
    atVictim: fromAttacker(victimSniffers),
    atAttacker: attackerSniffers.flatMap((s) =>
      s.seen.filter((msg) => !msg.subject.startsWith(`${regionInboxPrefix(ATTACKER)}.`))
        .map((msg) => msg.subject)
    ),
    templatesStored: templates?.state.messages ?? 0,
    templatesStreamExists: templates !== null,
  };
  for (const sniffer of [...hubSniffers, ...victimSniffers, ...attackerSniffers]) sniffer.stop();
  return crossed;
}

async function withLinkSetup(
  leafPermissions: boolean,
  body: (
    topology: NatsTopology,
    hub: NatsConnection,
    relays: Map<string, NatsConnection>,
  ) => Promise<void>,
): Promise<void> {
  const topology = await startNatsTopology({
    leaves: [{ region: ATTACKER }, { region: VICTIM }],
    hubClientAuth: true,
    leafPermissions,
  });
  const connections: NatsConnection[] = [];
  try {
    const hub = await connect(topology.hub.connectOptions({ name: "primary" }));
    connections.push(hub);
    await (await jetstreamManager(hub)).streams.add(templatesStreamConfig());
    const subs = servePrimary(hub);
    const relays = new Map<string, NatsConnection>();
    await hub.flush();
    for (const region of [ATTACKER, VICTIM]) {
      const relay = await relayClient(topology, region);
      connections.push(relay);
      relays.set(region, relay);
      // The primary's interest has to cross the link first (its subscriptions are new; in
      // production they are long established). Its ping answers after its submit subscription's.
      await waitFor(
        () => barrier(relay).then(() => true, () => false),
        `${region}: the primary's answers through the leaf`,
      );
    }
    try {
      await body(topology, hub, relays);
    } finally {
      for (const sub of subs) sub.unsubscribe();
    }
  } finally {
    for (const nc of connections) await nc.close().catch(() => {});
    await topology.stop();
  }
}

Deno.test({
  name: "a compromised relay's leaf cannot publish templates, heartbeats, events or replies " +
    "across the link, nor receive the primary's or another region's traffic",
  async fn() {
    await withLinkSetup(true, async (topology, hub, relays) => {
      await assertAllowedTrafficFlows(topology.hub.connectOptions(), hub, relays);
      const before = (await (await jetstreamManager(hub)).streams.info(
        MINING_TEMPLATES_STREAM_NAME,
      )).state.messages;
      const crossed = await probeFromAttacker(
        topology,
        hub,
        relays.get(ATTACKER) as NatsConnection,
        relays.get(VICTIM) as NatsConnection,
      );
      assert.deepEqual(crossed.atHub, [], "reached the hub");
      assert.deepEqual(crossed.atVictim, [], "reached the other region");
      assert.deepEqual(crossed.atAttacker, [], "the attacker received");
      assert.equal(crossed.templatesStreamExists, true, "the templates stream was deleted");
      assert.equal(crossed.templatesStored, before, "a forged template was stored");
      // And the allowed traffic still flows after the attempts (the link was not cut).
      await barrier(relays.get(ATTACKER) as NatsConnection);
      await barrier(relays.get(VICTIM) as NatsConnection);
    });
  },
});

Deno.test({
  name: "negative control: without the leaf permissions the same probes cross the link",
  async fn() {
    await withLinkSetup(false, async (topology, hub, relays) => {
      const crossed = await probeFromAttacker(
        topology,
        hub,
        relays.get(ATTACKER) as NatsConnection,
        relays.get(VICTIM) as NatsConnection,
      );
      // Every probe but the event (the leaf's own deny_exports stops that one) crosses: each
      // assertion of the test above is one that fails without the permissions.
      const includes = (list: string[], subject: string | RegExp, where: string) =>
        assert.ok(
          list.some((x) => typeof subject === "string" ? x === subject : subject.test(x)),
          `${String(subject)} not ${where}: ${list.join(", ")}`,
        );
      for (
        const subject of [
          `mining.templates.${NETWORK}.live`,
          `mining.templates.${NETWORK}`,
          heartbeatSubject(PRIMARY_REGION),
          "mining.attack.anything",
          "_INBOX.hub-client.probe",
          new RegExp(`^\\$JS\\.S\\.${VICTIM}\\.S\\.`),
        ]
      ) includes(crossed.atHub, subject, "at the hub");
      includes(crossed.atVictim, `${regionInboxPrefix(VICTIM)}.probe`, "at the victim");
      includes(crossed.atVictim, heartbeatSubject(PRIMARY_REGION), "at the victim");
      for (
        const subject of [
          blockSubmitSubject,
          PRIMARY_PING_SUBJECT,
          new RegExp(`^_INBOX\\.${VICTIM}\\.`),
          `$JS.${VICTIM}.API.INFO`,
        ]
      ) includes(crossed.atAttacker, subject, "at the attacker");
      assert.equal(crossed.templatesStreamExists, false, "the attacker could not delete it");
    });
  },
});

/**
 * Whether a hub of `version` checks the messages a leaf sends against its permissions: nats-server
 * 2.12.10 and later 2.12 releases, and 2.14.0 on ("Enforce subject permissions on inbound leaf
 * messages"); not 2.9, 2.10, 2.11 (fixed in 2.11.16, then reverted) or 2.13.
 */
function hubChecksLeafMessages(version: string): boolean {
  const [major = 0, minor = 0, patch = 0] = version.split(".").map((part) =>
    Number.parseInt(part, 10)
  );
  if (major !== 2) return major > 2;
  return minor >= 14 || (minor === 12 && patch >= 10);
}

Deno.test("hubChecksLeafMessages() knows the releases with the inbound leaf check", () => {
  assert.equal(hubChecksLeafMessages("2.9.10"), false);
  assert.equal(hubChecksLeafMessages("2.10.29"), false);
  assert.equal(hubChecksLeafMessages("2.12.9"), false);
  assert.equal(hubChecksLeafMessages("2.12.10"), true);
  assert.equal(hubChecksLeafMessages("2.13.1"), false);
  assert.equal(hubChecksLeafMessages("2.14.0"), true);
  assert.equal(hubChecksLeafMessages("3.0.0"), true);
});

Deno.test({
  name: "known gap, pinned: a hub before nats-server 2.12.10 lets a leaf that speaks the " +
    "protocol itself (the region's certificate and password) publish past its permissions",
  async fn() {
    const topology = await startNatsTopology({
      leaves: [{ region: ATTACKER }],
      hubClientAuth: true,
    });
    const shim = startStartTlsShim("127.0.0.1", topology.hub.leafPort);
    const hub = await connect(topology.hub.connectOptions());
    let tls: Deno.TlsConn | undefined;
    try {
      const seen: string[] = [];
      hub.subscribe("mining.templates.>", {
        callback: (_e, msg) => {
          seen.push(msg.string());
        },
      });
      hub.subscribe(PRIMARY_PING_SUBJECT, {
        callback: (_e, msg) => {
          msg.respond("pong");
        },
      });
      await hub.flush();
      const cert = topology.certs.leaves.get(ATTACKER);
      assert.ok(cert !== undefined);
      // A rogue "leaf server": TLS with the region's client certificate (through the shim, as
      // NATS sends INFO before TLS), CONNECT as leaf-<region>, then a message the permissions
      // do not allow, then an allowed request as the barrier.
      tls = await Deno.connectTls({
        hostname: "127.0.0.1",
        port: shim.port,
        caCerts: [await Deno.readTextFile(topology.certs.caFile)],
        cert: await Deno.readTextFile(cert.certFile),
        key: await Deno.readTextFile(cert.keyFile),
      });
      const connectLine = JSON.stringify({
        user: `leaf-${ATTACKER}`,
        pass: topology.leaf(ATTACKER).password,
        tls_required: true,
        name: "rogue-leaf",
        headers: true,
      });
      const inbox = `${regionInboxPrefix(ATTACKER)}.rogue`;
      const forged = "forged-template";
      await tls.write(new TextEncoder().encode(
        `CONNECT ${connectLine}\r\nLS+ ${inbox}\r\n` +
          `LMSG mining.templates.${NETWORK}.live ${forged.length}\r\n${forged}\r\n` +
          `LMSG ${PRIMARY_PING_SUBJECT} ${inbox} 0\r\n\r\n`,
      ));
      // Read until the ping's answer comes back on the rogue inbox (bounded).
      const buffer = new Uint8Array(64 * 1024);
      let said = "";
      const deadline = Date.now() + REQUEST_TIMEOUT_MS;
      while (!said.includes(`LMSG ${inbox}`) && Date.now() < deadline) {
        const n = await tls.read(buffer);
        if (n === null) break;
        said += new TextDecoder().decode(buffer.subarray(0, n));
      }
      assert.match(said, new RegExp(`LMSG ${inbox.replaceAll(".", "\\.")}`), said.slice(0, 500));
      const version = /"version":"([0-9.]+)"/.exec(shim.infos.at(-1) ?? "")?.[1];
      assert.ok(version !== undefined, "no INFO from the hub");
      await hub.flush();
      // The ping's answer left the hub after it delivered everything the rogue sent before.
      assert.equal(
        seen.includes(forged),
        !hubChecksLeafMessages(version),
        `nats-server ${version}: the hub ${
          seen.includes(forged) ? "delivered" : "dropped"
        } the forged template (SECURITY.md, threat 3)`,
      );
    } finally {
      tls?.close();
      await shim.close();
      await hub.close();
      await topology.stop();
    }
  },
});
