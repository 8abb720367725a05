import assert from "node:assert/strict";
import { encodeNotify } from "@tbg/shared/stratum";
import {
  type ScannedNotify,
  type ScannedResponse,
  scanNotify,
  scanResponse,
} from "./reply_scan.ts";

const enc = new TextEncoder();

function scan(line: string): ScannedResponse | null {
  // Embed the line in a larger buffer so offsets other than 0 are exercised.
  const bytes = enc.encode(`xx${line}\nyy`);
  const out: ScannedResponse = { id: -1, errorCode: -1, accepted: false };
  return scanResponse(bytes, 2, 2 + line.length, out) ? out : null;
}

Deno.test("scanResponse() reads id and code of a low-difficulty reject as the pool writes it", () => {
  assert.deepEqual(
    scan('{"id":1234,"result":null,"error":[23,"Low difficulty share (0.0012 < 1e12)",null]}'),
    { id: 1234, errorCode: 23, accepted: false },
  );
});

Deno.test("scanResponse() reads an accepted share as code 0 and accepted", () => {
  assert.deepEqual(scan('{"id":7,"result":true,"error":null}'), {
    id: 7,
    errorCode: 0,
    accepted: true,
  });
});

Deno.test("scanResponse() reads result false with a null error as not accepted, code 0", () => {
  assert.deepEqual(scan('{"id":8,"result":false,"error":null}'), {
    id: 8,
    errorCode: 0,
    accepted: false,
  });
});

Deno.test("scanResponse() leaves notifications and other layouts to JSON.parse", () => {
  for (
    const line of [
      '{"id":null,"method":"mining.notify","params":["1"]}',
      '{"id":1,"result":[[["mining.notify","ab"]],"00000001",8],"error":null}',
      '{"error":null,"id":5,"result":true}',
      '{"id":"5","result":true,"error":null}',
      '{"id":5,"result":true,"error":null',
      '{"id":5,"result":true,"error":[0,"x",null]}',
      '{"id":5,"result":true,"error":nullx}',
      "",
    ]
  ) {
    assert.equal(scan(line), null, line);
  }
});

Deno.test("scanResponse() agrees with JSON.parse on every prefix of a response (never misreads)", () => {
  const full = '{"id":99,"result":null,"error":[21,"Stale job",null]}';
  for (let end = 0; end < full.length; end++) {
    assert.equal(scan(full.slice(0, end)), null, full.slice(0, end));
  }
  assert.deepEqual(scan(full), { id: 99, errorCode: 21, accepted: false });
});

function scanN(line: string): ScannedNotify | null {
  const bytes = enc.encode(`xx${line}\nyy`);
  const out: ScannedNotify = { jobId: "", ntimeHex: "", cleanJobs: false };
  return scanNotify(bytes, 2, 2 + line.length, out) ? out : null;
}

function notifyLine(jobId: string, cleanJobs: boolean, merkleBranch: string[] = []): string {
  return encodeNotify({
    jobId,
    prevHash: "ab".repeat(32),
    coinb1: "01".repeat(50),
    coinb2: "02".repeat(80),
    merkleBranch,
    version: "20000000",
    nbits: "1d00ffff",
    ntime: "6571a2b3",
    cleanJobs,
  }).trimEnd();
}

Deno.test("scanNotify() reads what JSON.parse reads from the pool's notify lines", () => {
  for (
    const line of [
      notifyLine("1a", true),
      notifyLine("ffffffff", false, ["cd".repeat(32), "ef".repeat(32)]),
    ]
  ) {
    const params = JSON.parse(line).params;
    assert.deepEqual(scanN(line), { jobId: params[0], ntimeHex: params[7], cleanJobs: params[8] });
  }
});

Deno.test("scanNotify() leaves other lines and layouts to JSON.parse", () => {
  assert.equal(scanN('{"id":7,"result":true,"error":null}'), null);
  assert.equal(scanN('{"id":null,"method":"mining.set_difficulty","params":[1000]}'), null);
  // An escaped job id, a short ntime, a missing clean flag, params in another order.
  assert.equal(scanN(notifyLine('a\\"b', true)), null);
  assert.equal(scanN(notifyLine("1", true).replace('"6571a2b3"', '"71a2b3"')), null);
  assert.equal(scanN(notifyLine("1", true).replace(",true]}", "]}")), null);
  assert.equal(
    scanN(
      '{"method":"mining.notify","id":null,"params":["1","x","x","x",[],"x","x","6571a2b3",true]}',
    ),
    null,
  );
  assert.equal(scanN(""), null);
});
