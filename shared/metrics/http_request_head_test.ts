import assert from "node:assert/strict";
import { headEnd, isHeadError, parseRequestHead, type RequestHead } from "./http_request_head.ts";

const bytes = (text: string) => new TextEncoder().encode(text);

function parsed(text: string): RequestHead {
  const result = parseRequestHead(bytes(text));
  if (isHeadError(result)) throw new Error(`unexpected error ${result.reason}`);
  return result;
}

Deno.test("headEnd() finds the blank line fed whole or one byte at a time", () => {
  const text = "GET /metrics HTTP/1.1\r\nHost: a\r\n\r\nGET /next";
  const whole = bytes(text);
  assert.equal(headEnd(whole, whole.length), text.indexOf("GET /next"));
  // Byte by byte, resuming 3 bytes before where the last scan stopped, as the server does.
  let scanned = 0;
  let found = -1;
  for (let length = 1; length <= whole.length && found === -1; length++) {
    found = headEnd(whole, length, scanned - 3);
    scanned = length;
  }
  assert.equal(found, text.indexOf("GET /next"));
  assert.equal(headEnd(bytes("GET / HTTP/1.1\r\n\r"), 17), -1);
});

Deno.test("parseRequestHead() reads method, path, version and connection handling", () => {
  assert.deepEqual(parsed("GET /metrics?x=1 HTTP/1.1\r\nHost: a\r\n\r\n"), {
    method: "GET",
    pathname: "/metrics",
    minorVersion: 1,
    keepAlive: true,
    hasBody: false,
  });
  assert.equal(parsed("GET / HTTP/1.1\r\nConnection: Close\r\n\r\n").keepAlive, false);
  assert.equal(parsed("GET / HTTP/1.0\r\n\r\n").keepAlive, false);
  assert.equal(parsed("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n").keepAlive, true);
  assert.equal(parsed("GET http://h:9100/health HTTP/1.1\r\n\r\n").pathname, "/health");
  assert.equal(parsed("GET /a/../metrics HTTP/1.1\r\n\r\n").pathname, "/metrics");
  assert.equal(parsed("POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\n").hasBody, true);
  assert.equal(parsed("POST / HTTP/1.1\r\nContent-Length: 0\r\n\r\n").hasBody, false);
  assert.equal(parsed("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n").hasBody, true);
});

Deno.test("parseRequestHead() refuses malformed heads with 400 and other versions with 505", () => {
  const cases: [string, number][] = [
    ["\r\n\r\n", 400],
    ["GET /\r\n\r\n", 400],
    ["GET  / HTTP/1.1\r\n\r\n", 400],
    ["G(T / HTTP/1.1\r\n\r\n", 400],
    ["GET / HTTP/1.x\r\n\r\n", 400],
    ["GET * HTTP/1.1\r\n\r\n", 400],
    ["GET metrics HTTP/1.1\r\n\r\n", 400],
    ["GET / HTTP/1.1\r\nNoColon\r\n\r\n", 400],
    ["GET / HTTP/1.1\r\nBad Name: x\r\n\r\n", 400],
    ["GET / HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n", 400],
    ["GET / HTTP/1.1\r\nContent-Length: 1e3\r\n\r\n", 400],
    ["GET / HTTP/2.0\r\n\r\n", 505],
    ["GET / HTTP/0.9\r\n\r\n", 505],
  ];
  for (const [text, status] of cases) {
    const result = parseRequestHead(bytes(text));
    assert.ok(isHeadError(result), JSON.stringify(text));
    assert.equal(result.status, status, JSON.stringify(text));
  }
});
