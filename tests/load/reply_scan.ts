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
