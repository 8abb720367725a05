/**
 * The request head of HTTP/1.x (RFC 9112 §2–§6), parsed without I/O for the metrics listener:
 * the request line and the three headers it acts on. Everything else a client sends is read
 * within the head's size bound and otherwise ignored.
 *
 * @module
 */

/** A parsed request head. */
export interface RequestHead {
  /** The method token, e.g. `GET`. */
  readonly method: string;
  /** The path of the request target, dot segments resolved (`/metrics` for `/metrics?x=1`). */
  readonly pathname: string;
  /** 0 for HTTP/1.0, 1 for HTTP/1.1. */
  readonly minorVersion: 0 | 1;
  /** The client may send another request on this connection after the response. */
  readonly keepAlive: boolean;
  /** The request announces a body (Content-Length above 0 or Transfer-Encoding). */
  readonly hasBody: boolean;
}

/** Why a head was refused, with the status to answer before closing. */
export interface HeadError {
  readonly status: 400 | 505;
  readonly reason: string;
}

const CRLFCRLF = [13, 10, 13, 10] as const;
const decoder = new TextDecoder("latin1");
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/**
 * Where the head in `bytes[0, length)` ends: the index just past its blank line, or -1 when the
 * blank line has not arrived yet.
 *
 * @param from where to start looking (a caller that scanned before passes how far it got,
 *   less 3, so a CRLFCRLF split across reads is still found).
 */
export function headEnd(bytes: Uint8Array, length: number, from = 0): number {
  for (let i = Math.max(from, 0); i + 3 < length; i++) {
    if (
      bytes[i] === CRLFCRLF[0] && bytes[i + 1] === CRLFCRLF[1] &&
      bytes[i + 2] === CRLFCRLF[2] && bytes[i + 3] === CRLFCRLF[3]
    ) {
      return i + 4;
    }
  }
  return -1;
}

/**
 * Parses a complete head (request line, header lines, blank line).
 *
 * @returns the head, or the error to answer (a malformed request line or header, an HTTP
 *   version other than 1.0 and 1.1, a Content-Length that is not a number).
 */
export function parseRequestHead(bytes: Uint8Array): RequestHead | HeadError {
  const text = decoder.decode(bytes);
  const lines = text.split("\r\n");
  const requestLine = lines[0] ?? "";
  const parts = requestLine.split(" ");
  if (parts.length !== 3) return bad("malformed request line");
  const [method, target, version] = parts as [string, string, string];
  if (!TOKEN.test(method)) return bad("malformed method");
  const versionMatch = /^HTTP\/(\d)\.(\d)$/.exec(version);
  if (versionMatch === null) return bad("malformed HTTP version");
  if (versionMatch[1] !== "1" || (versionMatch[2] !== "0" && versionMatch[2] !== "1")) {
    return { status: 505, reason: `HTTP version ${version.slice(5)} not supported` };
  }
  const minorVersion = versionMatch[2] === "1" ? 1 : 0;

  let pathname: string;
  try {
    if (!target.startsWith("/") && !/^https?:\/\//i.test(target)) {
      return bad("request target must be a path");
    }
    pathname = new URL(target, "http://metrics.invalid").pathname;
  } catch {
    return bad("malformed request target");
  }

  let connection = "";
  let contentLength = 0;
  let chunked = false;
  // lines ends with "", "" (the blank line, then what follows it: nothing).
  for (let i = 1; i < lines.length - 2; i++) {
    const line = lines[i]!;
    const colon = line.indexOf(":");
    // No name, whitespace before the colon, or obsolete line folding: all refused (RFC 9112 §5).
    if (colon <= 0 || !TOKEN.test(line.slice(0, colon))) return bad("malformed header line");
    const name = line.slice(0, colon).toLowerCase();
    const value = line.slice(colon + 1).trim();
    if (name === "connection") connection += `,${value.toLowerCase()}`;
    else if (name === "transfer-encoding") chunked = true;
    else if (name === "content-length") {
      if (!/^\d{1,15}$/.test(value)) return bad("malformed Content-Length");
      contentLength = Math.max(contentLength, Number(value));
    }
  }
  const tokens = connection.split(",").map((token) => token.trim());
  const keepAlive = minorVersion === 1 ? !tokens.includes("close") : tokens.includes("keep-alive");
  return { method, pathname, minorVersion, keepAlive, hasBody: chunked || contentLength > 0 };
}

/** True when `result` is a {@linkcode HeadError}. */
export function isHeadError(result: RequestHead | HeadError): result is HeadError {
  return "status" in result;
}

function bad(reason: string): HeadError {
  return { status: 400, reason };
}
