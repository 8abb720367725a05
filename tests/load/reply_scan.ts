/**
 * Reads a submit response line without JSON.parse, so the load generator spends its core on
 * sending rather than parsing. Only the exact layout the pool writes,
 * `{"id":N,"result":true|false|null,"error":null|[code,...]}`, takes this path; callers fall back
 * to JSON.parse for anything else (notifications, other layouts).
 */

/** What {@link scanResponse} read. */
export interface ScannedResponse {
  id: number;
  /** 0 when `error` is null. */
  errorCode: number;
  /** `result` was `true`. */
  accepted: boolean;
}

const enc = new TextEncoder();
const PREFIX = enc.encode('{"id":');
const RESULT = enc.encode(',"result":');
const ERROR = enc.encode(',"error":');
const TRUE = enc.encode("true");
const FALSE = enc.encode("false");
const NULL = enc.encode("null");

function matches(buf: Uint8Array, at: number, end: number, word: Uint8Array): boolean {
  if (at + word.length > end) return false;
  for (let k = 0; k < word.length; k++) if (buf[at + k] !== word[k]) return false;
  return true;
}

/**
 * Scans `buf[start, end)` (one line without its newline) into `out`; returns false (leaving
 * `out` in an unspecified state) when the line is not a response in the fast layout.
 */
export function scanResponse(
  buf: Uint8Array,
  start: number,
  end: number,
  out: ScannedResponse,
): boolean {
  if (!matches(buf, start, end, PREFIX)) return false;
  let i = start + PREFIX.length;
  let id = 0;
  const idStart = i;
  while (i < end) {
    const c = buf[i]!;
    if (c < 48 || c > 57) break;
    id = id * 10 + (c - 48);
    i++;
  }
  if (i === idStart || i - idStart > 15) return false;
  if (!matches(buf, i, end, RESULT)) return false;
  i += RESULT.length;
  let accepted = false;
  if (matches(buf, i, end, TRUE)) {
    accepted = true;
    i += TRUE.length;
  } else if (matches(buf, i, end, FALSE)) {
    i += FALSE.length;
  } else if (matches(buf, i, end, NULL)) {
    i += NULL.length;
  } else {
    return false;
  }
  if (!matches(buf, i, end, ERROR)) return false;
  i += ERROR.length;
  let errorCode = 0;
  if (matches(buf, i, end, NULL)) {
    if (i + NULL.length !== end - 1 || buf[end - 1] !== 125) return false;
  } else {
    if (buf[i] !== 91) return false;
    i++;
    const codeStart = i;
    while (i < end) {
      const c = buf[i]!;
      if (c < 48 || c > 57) break;
      errorCode = errorCode * 10 + (c - 48);
      i++;
    }
    if (i === codeStart || i - codeStart > 9 || errorCode === 0 || buf[end - 1] !== 125) {
      return false;
    }
  }
  out.id = id;
  out.errorCode = errorCode;
  out.accepted = accepted;
  return true;
}

/** What {@link scanNotify} read. */
export interface ScannedNotify {
  jobId: string;
  /** ntime, 8 hex digits. */
  ntimeHex: string;
  cleanJobs: boolean;
}

const NOTIFY_PREFIX = enc.encode('{"id":null,"method":"mining.notify","params":["');
const CLEAN_END = enc.encode('",true]}');
const UPDATE_END = enc.encode('",false]}');
/** ntime: a quote and 8 hex digits before the end. */
const NTIME_CHARS = 8;
const MAX_JOB_ID_CHARS = 64;

function isHexDigit(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 97 && c <= 102) || (c >= 65 && c <= 70);
}

/**
 * Reads the job id, ntime and clean flag of a mining.notify line `buf[start, end)` without
 * JSON.parse (idle miners receive one per new job; parsing whole lines was a large part of the
 * load generator's cost in the fan-out benchmarks). Only the layout the pool writes (id null
 * first, then method, then params; a plain job id; ntime and clean_jobs last) takes this path;
 * returns false for anything else, and the caller parses the line.
 */
export function scanNotify(
  buf: Uint8Array,
  start: number,
  end: number,
  out: ScannedNotify,
): boolean {
  if (!matches(buf, start, end, NOTIFY_PREFIX)) return false;
  const idStart = start + NOTIFY_PREFIX.length;
  let i = idStart;
  while (i < end && i - idStart <= MAX_JOB_ID_CHARS) {
    const c = buf[i]!;
    if (c === 34) break;
    // A backslash would need JSON unescaping: leave that line to JSON.parse.
    if (c === 92 || c < 32 || c > 126) return false;
    i++;
  }
  if (i === idStart || i >= end || buf[i] !== 34) return false;
  const jobIdEnd = i;
  let cleanJobs: boolean;
  let tailStart: number;
  if (matches(buf, end - CLEAN_END.length, end, CLEAN_END)) {
    cleanJobs = true;
    tailStart = end - CLEAN_END.length;
  } else if (matches(buf, end - UPDATE_END.length, end, UPDATE_END)) {
    cleanJobs = false;
    tailStart = end - UPDATE_END.length;
  } else {
    return false;
  }
  const ntimeStart = tailStart - NTIME_CHARS;
  if (ntimeStart <= jobIdEnd + 1 || buf[ntimeStart - 1] !== 34 || buf[ntimeStart - 2] !== 44) {
    return false;
  }
  for (let k = ntimeStart; k < tailStart; k++) if (!isHexDigit(buf[k]!)) return false;
  out.jobId = String.fromCharCode(...buf.subarray(idStart, jobIdEnd));
  out.ntimeHex = String.fromCharCode(...buf.subarray(ntimeStart, tailStart));
  out.cleanJobs = cleanJobs;
  return true;
}
