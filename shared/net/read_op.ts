/**
 * Reads a Deno connection through the runtime's read op itself rather than `Conn.read()`.
 *
 * `Conn.read()` is an async function around that op: while a read is pending (which, for an idle
 * miner, is always) it keeps a suspended function frame, its promise and an entry in the
 * connection's pending-read set. With 10,000 loopback connections each waiting on a 256-byte read
 * (tests/bench/pending_read_cost.ts): 2,245 B of V8 heap per connection through `Conn.read()`,
 * 748 B through the op; RssAnon 5.5–5.6 KB against 4.7 KB, and 3.8 KB when only the resource id
 * is kept (`OpConn`). The op is what `Conn.read()` calls: same buffer, same cancellation when the
 * connection is closed, its result is the byte count with 0 for end of stream.
 *
 * The ops are reached through `Deno[Deno.internal].core`, which is not a public API. When they are
 * not there (another Deno version) or the connection has no resource id, `readOpRid` and
 * `OpConn.of` return null and the caller uses the `Deno.Conn`.
 */

/** The runtime's read op: bytes read into `buffer`, 0 at end of stream. */
type CoreRead = (rid: number, buffer: Uint8Array) => Promise<number>;
/** The runtime's write op: bytes the kernel took. */
type CoreWrite = (rid: number, bytes: Uint8Array) => Promise<number>;
/** The runtime's close: releases the resource (throws if it is already closed). */
type CoreClose = (rid: number) => void;

interface Core {
  readonly read?: unknown;
  readonly write?: unknown;
  readonly close?: unknown;
  readonly internalRidSymbol?: unknown;
}

const core = (Deno as unknown as Record<symbol, { core?: Core } | undefined>)[
  (Deno as unknown as { internal: symbol }).internal
]?.core;

const coreRead: CoreRead | null = typeof core?.read === "function" ? core.read as CoreRead : null;
const coreWrite: CoreWrite | null = typeof core?.write === "function"
  ? core.write as CoreWrite
  : null;
const coreClose: CoreClose | null = typeof core?.close === "function"
  ? core.close as CoreClose
  : null;
const ridSymbol: symbol | null = typeof core?.internalRidSymbol === "symbol"
  ? core.internalRidSymbol
  : null;

/** The resource id to read `conn` with {@linkcode readInto}, or null to use `conn.read()`. */
export function readOpRid(conn: Deno.Conn): number | null {
  if (coreRead === null || ridSymbol === null) return null;
  const rid = (conn as unknown as Record<symbol, unknown>)[ridSymbol];
  return typeof rid === "number" ? rid : null;
}

/**
 * Starts a read of resource `rid` (from {@linkcode readOpRid}) into `buffer` (not empty): the
 * number of bytes read, 0 at end of stream. Rejects as `Conn.read()` does (the connection closed
 * meanwhile, reset by the peer).
 */
export function readInto(rid: number, buffer: Uint8Array): Promise<number> {
  return coreRead!(rid, buffer);
}

/** What a connection's writer needs of it. */
export type WritableConn = Pick<Deno.Conn, "write" | "close">;

/**
 * A connection kept by its resource id alone. A served miner keeps this instead of its
 * `Deno.TcpConn`, which holds its address objects (with their strings and their shapes) and its
 * pending-read set for as long as it lives. The resource stays open until `close()`: Deno closes
 * a connection when told to, not when its object is collected.
 */
export class OpConn implements WritableConn {
  /** The resource id, to read with {@linkcode readInto}. */
  readonly rid: number;

  private constructor(rid: number) {
    this.rid = rid;
  }

  /**
   * The id-only form of `conn`, or null when the ops are not reachable (then keep `conn`). The
   * caller must not use `conn` afterwards, except to read what it already has (its addresses).
   */
  static of(conn: Deno.Conn): OpConn | null {
    if (coreWrite === null || coreClose === null) return null;
    const rid = readOpRid(conn);
    return rid === null ? null : new OpConn(rid);
  }

  /** As `Conn.write()`: the bytes the kernel took. */
  write(bytes: Uint8Array): Promise<number> {
    return coreWrite!(this.rid, bytes);
  }

  /** As `Conn.close()`: throws when already closed. */
  close(): void {
    coreClose!(this.rid);
  }
}
