/**
 * One process per spool directory: an exclusive advisory lock (flock) on `spool.lock` inside it.
 *
 * Two emitters sharing a directory would append to and replay the same segments, so events
 * would be published twice or deleted unpublished. The lock belongs to the open file
 * description, not to the process: a second open in the same process conflicts too, and the
 * kernel drops the lock when the descriptor closes, including when the process dies, so a
 * crashed process never blocks its successor. The lock file is never deleted: unlinking it
 * while another process waits to lock it would let two processes each hold a lock on a
 * different file of the same name.
 *
 * @module
 */

/** Name of the lock file inside a spool directory; never a segment name. */
export const SPOOL_LOCK_FILE = "spool.lock";

/** Thrown when another open file description (usually another process) holds a spool's lock. */
export class SpoolLockedError extends Error {
  /** The spool directory. */
  readonly dir: string;
  /** The lock file. */
  readonly lockPath: string;
  /** Process id the holder wrote into the lock file, when it could be read. */
  readonly holderPid: number | null;

  /**
   * @param dir the spool directory
   * @param lockPath its lock file
   * @param holderPid the holder's process id, or null when unknown
   */
  constructor(dir: string, lockPath: string, holderPid: number | null) {
    const holder = holderPid === null ? "another process" : `process ${holderPid}`;
    super(`Cannot open event spool ${dir}: ${holder} holds ${lockPath}`);
    this.name = "SpoolLockedError";
    this.dir = dir;
    this.lockPath = lockPath;
    this.holderPid = holderPid;
  }
}

async function readHolderPid(path: string): Promise<number | null> {
  try {
    const text = (await Deno.readTextFile(path)).trim();
    return /^\d+$/.test(text) ? Number(text) : null;
  } catch {
    // The pid only decorates the message; the lock itself already answered.
    return null;
  }
}

/** An exclusive lock on a spool directory, held until {@linkcode SpoolLock.release}. */
export class SpoolLock {
  /** The lock file. */
  readonly path: string;
  #file: Deno.FsFile | null;

  private constructor(path: string, file: Deno.FsFile) {
    this.path = path;
    this.#file = file;
  }

  /**
   * Takes the lock of an existing spool directory without waiting, and writes this process's
   * id into the lock file for the error message of whoever tries next.
   *
   * @param dir the spool directory (must exist)
   * @returns the held lock
   * @throws {SpoolLockedError} when another open file description holds it.
   * @throws file-system errors when the lock file cannot be opened or written.
   */
  static async acquire(dir: string): Promise<SpoolLock> {
    const path = `${dir}/${SPOOL_LOCK_FILE}`;
    const file = await Deno.open(path, { read: true, write: true, create: true });
    try {
      if (!await file.tryLock(true)) {
        throw new SpoolLockedError(dir, path, await readHolderPid(path));
      }
      await file.truncate(0);
      await file.write(new TextEncoder().encode(`${Deno.pid}\n`));
    } catch (error) {
      // Closing drops the lock too, so a failed write leaves the directory free.
      file.close();
      throw error;
    }
    return new SpoolLock(path, file);
  }

  /** True until {@linkcode SpoolLock.release}. */
  get held(): boolean {
    return this.#file !== null;
  }

  /** Releases the lock (closing the descriptor). Later calls do nothing. */
  release(): void {
    const file = this.#file;
    if (file === null) return;
    this.#file = null;
    file.close();
  }
}
