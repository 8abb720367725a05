/**
 * The append side of the spool: a directory of segment files, written one at a time.
 *
 * Events are appended to the active segment in batches and fsync'd in batches (after
 * `fsyncRecords` records, or `fsyncIntervalMs` after the first unsynced write, whichever comes
 * first). A segment is sealed when it reaches `segmentMaxBytes` or when the replayer asks for
 * it, and is deleted only by the replayer, after JetStream acknowledged every record in it, so
 * replay progress survives a crash at segment granularity.
 *
 * Operations run strictly one after another (an internal promise chain), so the replayer may
 * seal while the spooler appends. The counters read by `isEmpty` change synchronously when
 * `append` is called, so the event loop can decide "nothing is spooled" without a race.
 *
 * One writer per directory: `open` takes the directory's exclusive lock (see `spool_lock.ts`)
 * before it recovers anything, and `close` releases it; a process that dies releases it too.
 *
 * @module
 */
import type { StructuredLogger } from "../log/mod.ts";
import type { OutboundEvent } from "./outbound_event.ts";
import { encodeRecords, SEGMENT_MAGIC } from "./spool_format.ts";
import { listSegments, recoverSegment, segmentPath } from "./spool_reader.ts";
import { SpoolLock } from "./spool_lock.ts";

/** Settings of {@linkcode SpoolWriter.open}. */
export interface SpoolWriterOptions {
  /** Directory of the segment files; created if missing. */
  readonly dir: string;
  /** Size at which the active segment is sealed and a new one started. */
  readonly segmentMaxBytes: number;
  /** Records appended before an fsync is forced. */
  readonly fsyncRecords: number;
  /** Longest time appended records stay unsynced. */
  readonly fsyncIntervalMs: number;
  /** Where recovery and write problems are reported. */
  readonly log: StructuredLogger;
}

/** A segment that is closed and waiting to be replayed. */
export interface SealedSegment {
  /** Position in the spool; lower is older. */
  readonly seq: number;
  /** Full path of the file. */
  readonly path: string;
  /** File size. */
  readonly bytes: number;
  /** Records it holds. */
  readonly records: number;
}

interface ActiveSegment {
  readonly seq: number;
  readonly path: string;
  readonly file: Deno.FsFile;
  bytes: number;
  records: number;
}

async function writeAll(file: Deno.FsFile, bytes: Uint8Array): Promise<void> {
  let at = 0;
  while (at < bytes.length) at += await file.write(bytes.subarray(at));
}

async function syncDir(dir: string): Promise<void> {
  const handle = await Deno.open(dir, { read: true });
  try {
    await handle.sync();
  } finally {
    handle.close();
  }
}

/** Appends encoded events to the spool directory. */
export class SpoolWriter {
  /** The spool directory. */
  readonly dir: string;
  readonly #options: SpoolWriterOptions;
  readonly #lock: SpoolLock;
  readonly #sealed: SealedSegment[];
  #nextSeq: number;
  #active: ActiveSegment | null = null;
  #pendingRecords = 0;
  #unsyncedRecords = 0;
  #syncTimer: ReturnType<typeof setTimeout> | null = null;
  #sealedBytes: number;
  #tail: Promise<unknown> = Promise.resolve();
  #closed = false;

  private constructor(
    options: SpoolWriterOptions,
    lock: SpoolLock,
    sealed: SealedSegment[],
    nextSeq: number,
  ) {
    this.dir = options.dir;
    this.#options = options;
    this.#lock = lock;
    this.#sealed = sealed;
    this.#nextSeq = nextSeq;
    this.#sealedBytes = sealed.reduce((sum, segment) => sum + segment.bytes, 0);
  }

  /**
   * Opens (creating if needed) a spool directory, takes its exclusive lock, and recovers what a
   * previous process left: torn final records are cut off, empty segments deleted, and files
   * that are not segments of this format renamed to `<name>.corrupt` with an error log. Every
   * surviving segment is sealed (appends always start a new one).
   *
   * @throws {SpoolLockedError} when another writer, in this process or another, has the
   *   directory open; nothing in it is touched then.
   * @throws {Deno.errors.PermissionDenied} and other file-system errors when the directory cannot
   *   be created or read.
   */
  static async open(options: SpoolWriterOptions): Promise<SpoolWriter> {
    await Deno.mkdir(options.dir, { recursive: true });
    // Before recovery: it truncates and renames files another writer may still be appending to.
    const lock = await SpoolLock.acquire(options.dir);
    try {
      return await SpoolWriter.#recover(options, lock);
    } catch (error) {
      lock.release();
      throw error;
    }
  }

  static async #recover(options: SpoolWriterOptions, lock: SpoolLock): Promise<SpoolWriter> {
    const sealed: SealedSegment[] = [];
    let lastSeq = 0;
    for (const segment of await listSegments(options.dir)) {
      lastSeq = Math.max(lastSeq, segment.seq);
      let recovered;
      try {
        recovered = await recoverSegment(segment);
      } catch (error) {
        if (!(error instanceof SyntaxError)) throw error;
        await Deno.rename(segment.path, `${segment.path}.corrupt`);
        options.log.error("spool segment is not in spool format; moved aside", {
          path: segment.path,
          movedTo: `${segment.path}.corrupt`,
        });
        continue;
      }
      if (recovered === null) continue;
      if (recovered.tornBytes > 0) {
        options.log.warn("spool segment had a torn final record; cut off", {
          path: recovered.path,
          tornBytes: recovered.tornBytes,
          records: recovered.records,
        });
      }
      sealed.push({
        seq: recovered.seq,
        path: recovered.path,
        bytes: recovered.bytes,
        records: recovered.records,
      });
    }
    return new SpoolWriter(options, lock, sealed, lastSeq + 1);
  }

  /** Bytes on disk: sealed segments plus the active one. */
  get bytes(): number {
    return this.#sealedBytes + (this.#active?.bytes ?? 0);
  }

  /** Records spooled and not yet removed, including those still being written. */
  get records(): number {
    let sealed = 0;
    for (const segment of this.#sealed) sealed += segment.records;
    return sealed + (this.#active?.records ?? 0) + this.#pendingRecords;
  }

  /** Bytes in the active segment (0 when there is none). */
  get activeBytes(): number {
    return this.#active?.bytes ?? 0;
  }

  /** Records appended but not yet fsync'd. */
  get unsyncedRecords(): number {
    return this.#unsyncedRecords;
  }

  /** True when nothing is spooled: no sealed segment, no active record, no append under way. */
  isEmpty(): boolean {
    return this.#sealed.length === 0 && (this.#active?.records ?? 0) === 0 &&
      this.#pendingRecords === 0;
  }

  /** The sealed segments, oldest first (a snapshot). */
  sealed(): readonly SealedSegment[] {
    return [...this.#sealed];
  }

  #enqueue<T>(op: () => Promise<T>): Promise<T> {
    const result = this.#tail.then(op);
    this.#tail = result.catch(() => {});
    return result;
  }

  #assertOpen(action: string): void {
    if (this.#closed) throw new TypeError(`Cannot ${action}: the spool writer is closed`);
  }

  /**
   * Appends events, in order, to the active segment (starting one if needed).
   *
   * @returns once the bytes are written (not necessarily fsync'd).
   * @throws {TypeError} when the writer is closed.
   * @throws file-system errors; the segment is then cut back to its last complete record and
   *   sealed, so a failed append leaves no partial record behind and the caller may retry.
   */
  append(events: readonly OutboundEvent[]): Promise<void> {
    this.#assertOpen("append to spool");
    if (events.length === 0) return Promise.resolve();
    this.#pendingRecords += events.length;
    return this.#enqueue(async () => {
      try {
        await this.#write(events);
      } finally {
        this.#pendingRecords -= events.length;
      }
    });
  }

  async #write(events: readonly OutboundEvent[]): Promise<void> {
    const bytes = encodeRecords(events);
    const active = this.#active ?? await this.#startSegment();
    try {
      await writeAll(active.file, bytes);
    } catch (error) {
      await this.#abandonAfterFailedWrite(active, error);
      throw error;
    }
    active.bytes += bytes.length;
    active.records += events.length;
    this.#unsyncedRecords += events.length;
    if (this.#unsyncedRecords >= this.#options.fsyncRecords) {
      await this.#syncActive();
    } else if (this.#syncTimer === null) {
      this.#syncTimer = setTimeout(() => {
        this.#syncTimer = null;
        if (!this.#closed) {
          this.#enqueue(() => this.#syncActive()).catch((error: unknown) => {
            this.#options.log.error("spool fsync failed", { error: String(error) });
          });
        }
      }, this.#options.fsyncIntervalMs);
    }
    if (active.bytes >= this.#options.segmentMaxBytes) await this.#sealActive();
  }

  async #startSegment(): Promise<ActiveSegment> {
    const seq = this.#nextSeq++;
    const path = segmentPath(this.dir, seq);
    const file = await Deno.open(path, { createNew: true, write: true, append: true });
    try {
      await writeAll(file, SEGMENT_MAGIC);
      await file.syncData();
      await syncDir(this.dir);
    } catch (error) {
      file.close();
      await Deno.remove(path).catch(() => {});
      throw error;
    }
    this.#active = { seq, path, file, bytes: SEGMENT_MAGIC.length, records: 0 };
    return this.#active;
  }

  async #abandonAfterFailedWrite(active: ActiveSegment, cause: unknown): Promise<void> {
    this.#options.log.error("spool write failed; sealing the segment at its last good record", {
      path: active.path,
      error: String(cause),
    });
    try {
      await active.file.truncate(active.bytes);
    } catch (error) {
      // Recovery at the next start cuts the partial record off, as after a crash.
      this.#options.log.error("spool truncate after failed write failed", {
        path: active.path,
        error: String(error),
      });
    }
    await this.#sealActive().catch((error: unknown) => {
      this.#options.log.error("spool seal after failed write failed", {
        path: active.path,
        error: String(error),
      });
    });
  }

  async #syncActive(): Promise<void> {
    if (this.#syncTimer !== null) {
      clearTimeout(this.#syncTimer);
      this.#syncTimer = null;
    }
    if (this.#active === null || this.#unsyncedRecords === 0) return;
    await this.#active.file.syncData();
    this.#unsyncedRecords = 0;
  }

  async #sealActive(): Promise<void> {
    const active = this.#active;
    if (active === null) return;
    try {
      await this.#syncActive();
    } finally {
      this.#active = null;
      active.file.close();
    }
    if (active.records === 0) {
      await Deno.remove(active.path);
      return;
    }
    this.#sealed.push({
      seq: active.seq,
      path: active.path,
      bytes: active.bytes,
      records: active.records,
    });
    this.#sealedBytes += active.bytes;
  }

  /**
   * Seals the active segment (fsync, close) so it can be replayed; later appends start a new one.
   * Does nothing when there is no active segment.
   */
  seal(): Promise<void> {
    this.#assertOpen("seal spool segment");
    return this.#enqueue(() => this.#sealActive());
  }

  /** Forces an fsync of everything appended so far. */
  sync(): Promise<void> {
    this.#assertOpen("sync spool");
    return this.#enqueue(() => this.#syncActive());
  }

  /**
   * Deletes a sealed segment. Call only after every record in it was acknowledged.
   *
   * @throws {RangeError} when `seq` is not a sealed segment.
   */
  remove(seq: number): Promise<void> {
    this.#assertOpen("remove spool segment");
    return this.#enqueue(async () => {
      const index = this.#sealed.findIndex((segment) => segment.seq === seq);
      if (index < 0) {
        throw new RangeError(`Cannot remove spool segment ${seq}: it is not sealed`);
      }
      const [segment] = this.#sealed.splice(index, 1);
      this.#sealedBytes -= segment!.bytes;
      await Deno.remove(segment!.path);
    });
  }

  /**
   * Seals and closes: everything appended is fsync'd and stays on disk for the next process,
   * and the directory's lock is released (even when the final seal fails). Later calls do
   * nothing.
   */
  close(): Promise<void> {
    if (this.#closed) return this.#tail.then(() => {});
    this.#closed = true;
    if (this.#syncTimer !== null) {
      clearTimeout(this.#syncTimer);
      this.#syncTimer = null;
    }
    return this.#enqueue(async () => {
      try {
        await this.#sealActive();
      } finally {
        this.#lock.release();
      }
    });
  }
}
