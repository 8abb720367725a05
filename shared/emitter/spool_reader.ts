/**
 * Reading the spool directory: which segment files exist, what they hold, and repairing the one
 * a crash may have left with a torn final record.
 *
 * Segment files are `segment-<seq>.spool` with a 16-digit zero-padded sequence number, so file
 * name order is spool order. Files with other names are left alone.
 *
 * @module
 */
import { type DecodedSegment, decodeSegment } from "./spool_format.ts";

const SEGMENT_NAME = /^segment-(\d{16})\.spool$/;

/** One segment file. */
export interface SegmentFile {
  /** Position in the spool; higher is newer. */
  readonly seq: number;
  /** Full path of the file. */
  readonly path: string;
}

/** A segment after {@linkcode recoverSegment}. */
export interface RecoveredSegment extends SegmentFile {
  /** File size after repair. */
  readonly bytes: number;
  /** Complete records it holds. */
  readonly records: number;
  /** Bytes cut off the end (a torn or corrupt final record). */
  readonly tornBytes: number;
}

/**
 * The path of segment `seq` in `dir`.
 *
 * @throws {RangeError} when `seq` is not a non-negative safe integer.
 */
export function segmentPath(dir: string, seq: number): string {
  if (!Number.isSafeInteger(seq) || seq < 0) {
    throw new RangeError(`Cannot name spool segment: sequence ${seq} is not a counter`);
  }
  return `${dir}/segment-${String(seq).padStart(16, "0")}.spool`;
}

/**
 * Lists the segment files in `dir`, oldest first.
 *
 * @returns an empty list when `dir` does not exist.
 */
export async function listSegments(dir: string): Promise<SegmentFile[]> {
  const segments: SegmentFile[] = [];
  try {
    for await (const entry of Deno.readDir(dir)) {
      const match = entry.isFile ? SEGMENT_NAME.exec(entry.name) : null;
      if (match === null) continue;
      segments.push({ seq: Number(match[1]), path: `${dir}/${entry.name}` });
    }
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return [];
    throw error;
  }
  return segments.sort((a, b) => a.seq - b.seq);
}

/**
 * Reads and decodes one segment file.
 *
 * @throws {SyntaxError} when the file is not a spool segment (see `decodeSegment`).
 */
export async function readSegment(path: string): Promise<DecodedSegment> {
  return decodeSegment(await Deno.readFile(path));
}

/**
 * Makes a segment safe to replay after a crash: cuts a torn final record off (and syncs), and
 * deletes a segment that holds no complete record.
 *
 * @returns what is left, or `null` when the file was deleted.
 * @throws {SyntaxError} when the file is not a spool segment.
 */
export async function recoverSegment(segment: SegmentFile): Promise<RecoveredSegment | null> {
  const decoded = await readSegment(segment.path);
  if (decoded.records.length === 0) {
    await Deno.remove(segment.path);
    return null;
  }
  if (decoded.tornBytes > 0) {
    const file = await Deno.open(segment.path, { write: true });
    try {
      await file.truncate(decoded.validLength);
      await file.syncData();
    } finally {
      file.close();
    }
  }
  return {
    ...segment,
    bytes: decoded.validLength,
    records: decoded.records.length,
    tornBytes: decoded.tornBytes,
  };
}
