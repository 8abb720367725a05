/**
 * The on-disk format of spool segments.
 *
 * ```
 * segment := MAGIC record*
 * MAGIC   := "TBGSPL1\n"                                  (8 bytes)
 * record  := u32be bodyLength, u32be crc32(body), body
 * body    := u16be subjectLength, subject (UTF-8), u16be msgIdLength, msgId (UTF-8), payload
 * ```
 *
 * Records are only ever appended, so a crash can leave at most one incomplete record at the end
 * of the segment that was being written (or, after a power loss, a tail of zeroes or garbage the
 * file system had allocated but not written). The decoder stops at the first record that is
 * incomplete, has an impossible length or fails its checksum, and reports how many bytes before
 * it are good; the reader truncates the file there.
 *
 * @module
 */
import { crc32 } from "node:zlib";
import type { OutboundEvent } from "./outbound_event.ts";

/** First bytes of every segment; the digit is the format version. */
export const SEGMENT_MAGIC: Uint8Array = new TextEncoder().encode("TBGSPL1\n");

/** Bytes before each record's body: length and checksum. */
export const RECORD_HEADER_BYTES = 8;

/** Largest body accepted; a larger length is treated as a torn or corrupt record. */
export const MAX_RECORD_BODY_BYTES = 16 * 1024 * 1024;

/** Longest subject or message id (the u16 length field). */
const MAX_FIELD_BYTES = 0xffff;

const utf8Encoder = new TextEncoder();
const utf8Decoder = new TextDecoder("utf-8", { fatal: true });

/** What {@linkcode decodeSegment} found in a segment's bytes. */
export interface DecodedSegment {
  /** The complete, checksum-valid records, in file order. */
  readonly records: OutboundEvent[];
  /** Bytes from the start of the file up to the end of the last good record (0: no magic). */
  readonly validLength: number;
  /** Bytes after `validLength`: a torn or corrupt tail (0 for a cleanly written segment). */
  readonly tornBytes: number;
}

/**
 * Encodes events as consecutive records, ready to append to a segment.
 *
 * @param events the events, in order.
 * @returns one buffer holding every record.
 * @throws {RangeError} when a subject or message id exceeds 65,535 bytes, or a record exceeds
 *   {@linkcode MAX_RECORD_BODY_BYTES}.
 */
export function encodeRecords(events: readonly OutboundEvent[]): Uint8Array {
  const subjects: Uint8Array[] = [];
  const ids: Uint8Array[] = [];
  let total = 0;
  for (const event of events) {
    const subject = utf8Encoder.encode(event.subject);
    const id = utf8Encoder.encode(event.msgId);
    if (subject.length > MAX_FIELD_BYTES || id.length > MAX_FIELD_BYTES) {
      throw new RangeError(
        `Cannot encode spool record: subject or message id longer than ${MAX_FIELD_BYTES} bytes`,
      );
    }
    const body = 4 + subject.length + id.length + event.payload.length;
    if (body > MAX_RECORD_BODY_BYTES) {
      throw new RangeError(
        `Cannot encode spool record: ${body} bytes exceeds ${MAX_RECORD_BODY_BYTES}`,
      );
    }
    subjects.push(subject);
    ids.push(id);
    total += RECORD_HEADER_BYTES + body;
  }
  const out = new Uint8Array(total);
  const view = new DataView(out.buffer);
  let at = 0;
  events.forEach((event, index) => {
    const subject = subjects[index]!;
    const id = ids[index]!;
    const bodyStart = at + RECORD_HEADER_BYTES;
    let cursor = bodyStart;
    view.setUint16(cursor, subject.length);
    out.set(subject, cursor + 2);
    cursor += 2 + subject.length;
    view.setUint16(cursor, id.length);
    out.set(id, cursor + 2);
    cursor += 2 + id.length;
    out.set(event.payload, cursor);
    cursor += event.payload.length;
    view.setUint32(at, cursor - bodyStart);
    view.setUint32(at + 4, crc32(out.subarray(bodyStart, cursor)));
    at = cursor;
  });
  return out;
}

/** Parses one checksum-valid body, or returns `undefined` when its inner lengths do not fit. */
function decodeBody(body: Uint8Array): OutboundEvent | undefined {
  const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
  if (body.length < 4) return undefined;
  const subjectLength = view.getUint16(0);
  const idAt = 2 + subjectLength;
  if (idAt + 2 > body.length) return undefined;
  const idLength = view.getUint16(idAt);
  const payloadAt = idAt + 2 + idLength;
  if (payloadAt > body.length) return undefined;
  try {
    return {
      subject: utf8Decoder.decode(body.subarray(2, idAt)),
      msgId: utf8Decoder.decode(body.subarray(idAt + 2, payloadAt)),
      payload: body.subarray(payloadAt),
    };
  } catch {
    return undefined;
  }
}

/**
 * Decodes a whole segment file.
 *
 * @param bytes the file's contents.
 * @returns the good records and where the good part ends. Payloads are views into `bytes`.
 * @throws {SyntaxError} when the file does not start with {@linkcode SEGMENT_MAGIC} (and is not
 *   a torn prefix of it): it is not a spool segment of this version.
 */
export function decodeSegment(bytes: Uint8Array): DecodedSegment {
  const magicLength = SEGMENT_MAGIC.length;
  const head = bytes.subarray(0, magicLength);
  if (!head.every((byte, index) => byte === SEGMENT_MAGIC[index])) {
    throw new SyntaxError("Cannot decode spool segment: it does not start with TBGSPL1");
  }
  if (bytes.length < magicLength) {
    return { records: [], validLength: 0, tornBytes: bytes.length };
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const records: OutboundEvent[] = [];
  let at = magicLength;
  while (at + RECORD_HEADER_BYTES <= bytes.length) {
    const bodyLength = view.getUint32(at);
    const bodyStart = at + RECORD_HEADER_BYTES;
    const bodyEnd = bodyStart + bodyLength;
    if (bodyLength > MAX_RECORD_BODY_BYTES || bodyEnd > bytes.length) break;
    const body = bytes.subarray(bodyStart, bodyEnd);
    if (crc32(body) !== view.getUint32(at + 4)) break;
    const record = decodeBody(body);
    if (record === undefined) break;
    records.push(record);
    at = bodyEnd;
  }
  return { records, validLength: at, tornBytes: bytes.length - at };
}
