import assert from "node:assert/strict";
import type { OutboundEvent } from "./outbound_event.ts";
import {
  type AckedPublisher,
  type AckMessage,
  pubAckError,
  PublishWindow,
} from "./publish_window.ts";

const utf8 = new TextEncoder();

interface Published {
  readonly subject: string;
  readonly msgId: string | undefined;
  readonly reply: string;
}

/** A connection whose replies the test delivers by hand. */
class ScriptedConnection implements AckedPublisher {
  readonly published: Published[] = [];
  unsubscribed = false;
  refusePublish = false;
  #callback: ((error: Error | null, message: AckMessage) => void) | null = null;
  #close: () => void = () => {};

  publish(
    subject: string,
    _payload: Uint8Array,
    options: { readonly headers: { get(key: string): string }; readonly reply: string },
  ): void {
    if (this.refusePublish) throw new Error("closed connection");
    this.published.push({
      subject,
      msgId: options.headers.get("Nats-Msg-Id"),
      reply: options.reply,
    });
  }

  subscribe(
    _subject: string,
    options: { readonly callback: (error: Error | null, message: AckMessage) => void },
  ) {
    this.#callback = options.callback;
    return {
      closed: new Promise<void>((resolve) => {
        this.#close = resolve;
      }),
      unsubscribe: () => {
        this.unsubscribed = true;
        this.#close();
      },
    };
  }

  reply(index: number, body: unknown, status?: { code: number; description: string }): void {
    this.#callback!(null, {
      subject: this.published[index]!.reply,
      data: utf8.encode(body === undefined ? "" : JSON.stringify(body)),
      headers: status,
    });
  }

  ack(index: number): void {
    this.reply(index, { stream: "MINING_EVENTS", seq: index + 1 });
  }

  closeConnection(): void {
    this.#close();
  }
}

function event(n: number): OutboundEvent {
  return { subject: `s.${n}`, msgId: `id-${n}`, payload: new Uint8Array([n]) };
}

function counters() {
  const seen = { acked: 0, failed: 0 };
  return {
    seen,
    hooks: { acked: () => void seen.acked++, failed: () => void seen.failed++ },
  };
}

Deno.test("PublishWindow sends Nats-Msg-Id = event id with a reply subject per publish", async () => {
  const nc = new ScriptedConnection();
  const window = new PublishWindow(nc, 4, 60_000, counters().hooks);
  window.send(event(1));
  window.send(event(2));
  assert.deepEqual(nc.published.map((p) => [p.subject, p.msgId]), [["s.1", "id-1"], [
    "s.2",
    "id-2",
  ]]);
  assert.notEqual(nc.published[0]!.reply, nc.published[1]!.reply);
  nc.ack(1);
  nc.ack(0);
  assert.deepEqual(await window.close(), { acked: 2, unacked: [], error: null });
  assert.equal(nc.unsubscribed, true);
});

Deno.test("PublishWindow holds at most maxInFlight publishes outstanding", async () => {
  const nc = new ScriptedConnection();
  const { hooks, seen } = counters();
  const window = new PublishWindow(nc, 3, 60_000, hooks);
  for (let n = 0; n < 3; n++) window.send(event(n));
  assert.equal(window.hasRoom, false);
  assert.throws(() => window.send(event(3)), RangeError);
  nc.ack(1);
  assert.equal(window.inFlight, 2);
  window.send(event(3));
  for (const index of [0, 2, 3]) nc.ack(index);
  assert.equal((await window.close()).acked, 4);
  assert.equal(seen.acked, 4);
});

Deno.test("PublishWindow returns only the unacknowledged events, in send order", async () => {
  const nc = new ScriptedConnection();
  const { hooks, seen } = counters();
  const window = new PublishWindow(nc, 10, 60_000, hooks);
  for (let n = 0; n < 5; n++) window.send(event(n));
  // Outcomes arrive out of order: 3 is refused by JetStream, then 1 finds no responders.
  nc.reply(3, { error: { code: 500, description: "storage failure" } });
  nc.ack(0);
  nc.reply(1, undefined, { code: 503, description: "No Responders" });
  nc.ack(2);
  nc.ack(4);
  const result = await window.close();
  assert.deepEqual(result.unacked.map((e) => e.msgId), ["id-1", "id-3"]);
  assert.equal(result.acked, 3);
  assert.match(String(result.error), /storage failure/, "the first failure to arrive");
  assert.deepEqual(seen, { acked: 3, failed: 2 });
});

Deno.test("PublishWindow stops taking sends after a failure until settled", async () => {
  const nc = new ScriptedConnection();
  const window = new PublishWindow(nc, 10, 60_000, counters().hooks);
  window.send(event(0));
  nc.reply(0, undefined, { code: 503, description: "No Responders" });
  assert.equal(window.failed, true);
  assert.equal(window.hasRoom, false);
  assert.throws(() => window.send(event(1)), RangeError);
  await window.settle();
  assert.equal(window.failed, false);
  window.send(event(1));
  nc.ack(1);
  assert.deepEqual((await window.close()).unacked, []);
});

Deno.test("PublishWindow fails a publish whose ack misses its deadline, and ignores a late ack", async () => {
  const nc = new ScriptedConnection();
  const { hooks, seen } = counters();
  let nowMs = 0;
  const window = new PublishWindow(nc, 10, 1, hooks, () => nowMs);
  window.send(event(0));
  nowMs = 5; // past the deadline when the timer fires
  await window.nextOutcome();
  assert.equal(window.failed, true);
  nc.ack(0);
  const result = await window.close();
  assert.deepEqual(result.unacked.map((e) => e.msgId), ["id-0"]);
  assert.match(String(result.error), /no ack within 1 ms/);
  assert.deepEqual(seen, { acked: 0, failed: 1 });
});

Deno.test("PublishWindow fails everything in flight at once when the connection closes", async () => {
  const nc = new ScriptedConnection();
  const window = new PublishWindow(nc, 10, 60_000, counters().hooks);
  for (let n = 0; n < 3; n++) window.send(event(n));
  nc.ack(1);
  nc.closeConnection();
  const result = await window.close();
  assert.deepEqual(result.unacked.map((e) => e.msgId), ["id-0", "id-2"]);
  assert.match(String(result.error), /connection closed/);
});

Deno.test("PublishWindow counts a publish the client refuses at once as failed", async () => {
  const nc = new ScriptedConnection();
  nc.refusePublish = true;
  const { hooks, seen } = counters();
  const window = new PublishWindow(nc, 2, 60_000, hooks);
  window.send(event(0));
  const result = await window.close();
  assert.deepEqual(result.unacked.map((e) => e.msgId), ["id-0"]);
  assert.equal(seen.failed, 1);
});

Deno.test("pubAckError() accepts a PubAck and names every kind of refusal", () => {
  const reply = (body: string, headers?: { code: number; description: string }) => ({
    subject: "x",
    data: utf8.encode(body),
    headers,
  });
  assert.equal(pubAckError(reply('{"stream":"MINING_EVENTS","seq":7}')), null);
  assert.equal(pubAckError(reply('{"stream":"MINING_EVENTS","seq":7,"duplicate":true}')), null);
  assert.match(String(pubAckError(reply("", { code: 503, description: "" }))), /no responders/);
  assert.match(
    String(pubAckError(reply('{"error":{"code":503,"description":"JetStream unavailable"}}'))),
    /JetStream error 503 JetStream unavailable/,
  );
  assert.match(String(pubAckError(reply("{nope"))), /not JSON/);
  assert.match(String(pubAckError(reply('{"seq":1}'))), /names no stream/);
});
