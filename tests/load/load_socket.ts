/**
 * The two ways a load connection reaches the pool. `Deno.connect` has no source-address option
 * (Deno 2.9), so a connection that must leave from a given loopback address (127.0.0.2, …: each
 * source address has its own 28,000 ephemeral ports, which 100,000 connections to one port need)
 * goes through node:net's `localAddress`, which binds before connecting. Without a source address
 * the raw Deno socket is used, as before: it costs less per read.
 *
 * Bind-before-connect with port 0 makes the kernel search its ephemeral range for a port free on
 * that address, a search that grows with the ports in use: at 6,000 sockets on one address each
 * bind took milliseconds, on the event loop's thread, and a generator stalled for 10 s and more.
 * So each connection gets its own port, from a window below Linux's default ephemeral range
 * (32768–60999) that the kernel never hands out by itself; a port found taken falls back once to
 * the kernel's choice.
 */
import net from "node:net";

/** A connected socket, as the load connection uses it. */
export interface LoadSocket {
  /** Hands every received chunk to `onBytes` until the peer closes or an error; never rejects. */
  pump(onBytes: (buffer: Uint8Array, n: number) => void): Promise<void>;
  /** Writes all of `bytes`; rejects when the socket is gone. */
  write(bytes: Uint8Array): Promise<void>;
  /** Closes the socket (idempotent). */
  close(): void;
}

/** First and last source port given out explicitly (below the default ephemeral range). */
export const SOURCE_PORT_FIRST = 10_000;
export const SOURCE_PORT_LAST = 32_767;

/** Connections one source address can take with explicit ports. */
export const PORTS_PER_SOURCE_ADDRESS = SOURCE_PORT_LAST - SOURCE_PORT_FIRST + 1;

/**
 * Source address and port of connection `index` (numbered over all generator processes):
 * addresses in turn, ports counting up per address; port 0 (the kernel's choice) past the window.
 */
export function sourceEndpoint(
  addresses: readonly string[],
  index: number,
): { address: string; port: number } {
  const address = addresses[index % addresses.length]!;
  const port = SOURCE_PORT_FIRST + Math.floor(index / addresses.length);
  return { address, port: port <= SOURCE_PORT_LAST ? port : 0 };
}

/** Bytes per read of the Deno socket; submit responses are about 80 bytes, a notify < 2 KB. */
export const READ_BUFFER_BYTES = 2048;

class DenoLoadSocket implements LoadSocket {
  readonly #conn: Deno.TcpConn;
  #closed = false;

  constructor(conn: Deno.TcpConn) {
    this.#conn = conn;
    try {
      conn.setNoDelay(true);
    } catch {
      // Latency only.
    }
  }

  async pump(onBytes: (buffer: Uint8Array, n: number) => void): Promise<void> {
    const buffer = new Uint8Array(READ_BUFFER_BYTES);
    try {
      while (!this.#closed) {
        const n = await this.#conn.read(buffer);
        if (n === null) break;
        onBytes(buffer, n);
      }
    } catch {
      // A reset or our own close ends the loop like EOF.
    }
  }

  async write(bytes: Uint8Array): Promise<void> {
    let offset = 0;
    while (offset < bytes.length) offset += await this.#conn.write(bytes.subarray(offset));
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.#conn.close();
    } catch {
      // Already closed by the peer.
    }
  }
}

class NodeLoadSocket implements LoadSocket {
  readonly #socket: net.Socket;

  constructor(socket: net.Socket) {
    this.#socket = socket;
    socket.setNoDelay(true);
  }

  pump(onBytes: (buffer: Uint8Array, n: number) => void): Promise<void> {
    const socket = this.#socket;
    if (socket.destroyed) return Promise.resolve();
    return new Promise<void>((resolve) => {
      socket.on("data", (chunk: Uint8Array) => onBytes(chunk, chunk.length));
      socket.once("close", () => resolve());
      // "close" follows "error"; the listener keeps an error from being thrown.
      socket.on("error", () => {});
    });
  }

  write(bytes: Uint8Array): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.#socket.write(bytes, (error) => error ? reject(error) : resolve());
    });
  }

  close(): void {
    this.#socket.destroy();
  }
}

/** Connects with `Deno.connect` (the kernel picks the source address, 127.0.0.1 on loopback). */
export async function connectDenoSocket(hostname: string, port: number): Promise<LoadSocket> {
  return new DenoLoadSocket(await Deno.connect({ hostname, port, transport: "tcp" }));
}

function connectFrom(
  hostname: string,
  port: number,
  localAddress: string,
  localPort: number,
): Promise<LoadSocket> {
  return new Promise<LoadSocket>((resolve, reject) => {
    const socket = net.connect({
      host: hostname,
      port,
      localAddress,
      ...(localPort > 0 ? { localPort } : {}),
    });
    const onError = (error: Error) => {
      socket.destroy();
      reject(error);
    };
    socket.once("error", onError);
    socket.once("connect", () => {
      socket.off("error", onError);
      resolve(new NodeLoadSocket(socket));
    });
  });
}

/**
 * Connects from `localAddress`, bound to `localPort` first (0: the kernel's choice), with
 * node:net; a `localPort` found in use is retried once with the kernel's choice. Needs net
 * permission for `<localAddress>:0` and `<localAddress>:<localPort>` besides the target (the
 * driver grants the address's whole port range).
 */
export async function connectNodeSocket(
  hostname: string,
  port: number,
  localAddress: string,
  localPort = 0,
): Promise<LoadSocket> {
  try {
    return await connectFrom(hostname, port, localAddress, localPort);
  } catch (e) {
    if (localPort === 0 || (e as { code?: unknown }).code !== "EADDRINUSE") throw e;
    return await connectFrom(hostname, port, localAddress, 0);
  }
}
