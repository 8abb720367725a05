import * as zmq from "zeromq";
let pub = new zmq.Publisher({ linger: 0 });
await pub.bind("tcp://127.0.0.1:0");
const ep = pub.lastEndpoint!;
const got: number[] = [];
let sockets = 0;
let current: zmq.Subscriber | undefined;
const loops: Promise<void>[] = [];
function open() {
  const sub = new zmq.Subscriber({ linger: 0, reconnectInterval: 100 });
  sockets++; current = sub;
  sub.connect(ep); sub.subscribe("hashblock");
  loops.push((async () => { try { for await (const m of sub) got.push(m[2]![0]!); } catch (e) { console.log("recv err", String(e)); } })());
  loops.push((async () => { try { for await (const e of sub.events) { if (e.type === "disconnect" && current === sub) { console.log("disconnect -> reopen"); sub.close(); open(); } } } catch (e) { console.log("ev err", String(e)); } })());
}
open();
for (let i = 0; i < 10; i++) { await pub.send(["hashblock", "x", new Uint8Array([i])]); await new Promise(r => setTimeout(r, 25)); }
console.log("before", got.join(","));
pub.close();
await new Promise(r => setTimeout(r, Number(Deno.args[0] ?? 0)));
pub = new zmq.Publisher({ linger: 0 });
await pub.bind(ep);
for (let i = 100; i < 140; i++) { await pub.send(["hashblock", "x", new Uint8Array([i])]); await new Promise(r => setTimeout(r, 25)); }
console.log("after", got.join(","), "sockets", sockets);
current!.close(); pub.close(); await Promise.all(loops);
