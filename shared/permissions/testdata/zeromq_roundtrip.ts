/**
 * Loads the zeromq addon, binds a Publisher on an ephemeral loopback port, connects a
 * Subscriber and waits for one "hashblock" message, as the stratum's ZMQ block listener does.
 * Exit 0 on success; any failure (e.g. a missing permission while loading the addon) exits
 * non-zero with the error on stderr. Bounded: at most 100 sends 20 ms apart.
 */
import * as zmq from "zeromq";

async function roundtrip(): Promise<void> {
  const publisher = new zmq.Publisher();
  const subscriber = new zmq.Subscriber();
  try {
    await publisher.bind("tcp://127.0.0.1:*");
    const endpoint = publisher.lastEndpoint;
    if (endpoint === null) throw new Error("Cannot bind publisher: no endpoint");
    subscriber.connect(endpoint);
    subscriber.subscribe("hashblock");
    let received = false;
    const receive = (async () => {
      const [topic] = await subscriber.receive();
      received = new TextDecoder().decode(topic) === "hashblock";
    })();
    for (let i = 0; i < 100 && !received; i++) {
      await publisher.send(["hashblock", new Uint8Array(32)]);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    if (!received) throw new Error("Cannot receive from publisher: nothing arrived in 2 s");
    await receive;
  } finally {
    subscriber.close();
    publisher.close();
  }
}

if (import.meta.main) await roundtrip();
