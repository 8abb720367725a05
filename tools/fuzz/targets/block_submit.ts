/**
 * Target 4: the block-submit codec, both directions of mining.blocks.submit (a relay's request
 * with a whole block, the primary's JSON reply). Documented rejections: RangeError/SyntaxError
 * "Cannot decode block submission" for requests, SyntaxError "Cannot decode block submission
 * reply" for replies. The structure-aware mutator changes the block and then re-signs the
 * request (header hash, BIP34 height) so the checks behind the hash check are reached.
 */
import { sha256d } from "../../../shared/bitcoin/hash.ts";
import {
  type BlockSubmitRequest,
  coinbaseHeight,
  decodeBlockSubmitReply,
  decodeBlockSubmitRequest,
  encodeBlockSubmitReply,
  encodeBlockSubmitRequest,
} from "../../../shared/templates/block_submit_codec.ts";
import { testBlock as block } from "../../../shared/templates/_test_block.ts";
import { mutateJson } from "../json_mutate.ts";
import type { Rng } from "../rng.ts";
import { check, type FuzzTarget, isRejection } from "../target.ts";

function request(bytes: Uint8Array, height: number): BlockSubmitRequest {
  return {
    sentAtMs: 1_700_000_000_123.5,
    height,
    blockHash: sha256d(bytes.subarray(0, 80)),
    region: "us-east",
    network: "regtest",
    authToken: "relay-secret",
    block: bytes,
  };
}

const REQUEST_PREFIX = "Cannot decode block submission";
const REPLY_PREFIX = "Cannot decode block submission reply";
const MAGIC = new TextEncoder().encode("TBGB");

const REPLY_STRINGS: readonly string[] = [
  "v",
  "ok",
  "region",
  "error",
  "code",
  "message",
  "submitMs",
  "result",
  "accepted",
  "tipMoved",
  "blockHash",
  "results",
  "url",
  "unauthorized",
  "eu",
  "0f9188f13cb7b2c71f2a335e3a4fc328bf5beb436012afca590b1a11466e2206",
];

function startsWithMagic(input: Uint8Array): boolean {
  return input.length >= 4 && MAGIC.every((b, i) => input[i] === b);
}

/** Request and reply decoders as the primary and the relay run them. */
export function blockSubmitTarget(): FuzzTarget {
  return {
    name: "block-submit",
    description: "block-submit codec (shared/templates/block_submit_codec.ts)",
    modules: [
      "/shared/templates/block_submit_codec.ts",
      "/shared/templates/_bytes.ts",
      "/shared/bitcoin/compact_size.ts",
      "/shared/bitcoin/script_num.ts",
    ],
    maxInputBytes: 16 * 1024,
    dictionary: [
      "TBGB",
      '"ok":true',
      '"ok":false',
      '"region":"eu"',
      '"v":1',
      '"results":[]',
      '"tipMoved":false',
      '"accepted":true',
      "null",
      "\x03\x40\xd0\x0c",
    ],
    seeds: blockSubmitSeeds,
    mutate: (input, rng) =>
      startsWithMagic(input) ? resignRequest(input, rng) : mutateJson(input, rng, REPLY_STRINGS),
    run(input: Uint8Array): void {
      if (startsWithMagic(input)) {
        let decoded: BlockSubmitRequest;
        try {
          decoded = decodeBlockSubmitRequest(input);
        } catch (error) {
          if (isRejection(error, [RangeError, SyntaxError], REQUEST_PREFIX)) return;
          throw error;
        }
        check(
          decoded.block.length >= 81 && decoded.height === coinbaseHeight(decoded.block),
          "accepted request's height is not its coinbase's",
        );
        return;
      }
      try {
        const reply = decodeBlockSubmitReply(input);
        check(typeof reply.region === "string", "reply without region");
      } catch (error) {
        if (isRejection(error, [SyntaxError], REPLY_PREFIX)) return;
        throw error;
      }
    },
  };
}

/** Requests for blocks at BIP34 boundary heights, and the replies a primary sends. */
export function blockSubmitSeeds(): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (
    const [height, segwit] of [[1, true], [16, false], [17, true], [128, true], [840_000, true], [
      0x7fffffff,
      false,
    ]] as const
  ) {
    out.push(encodeBlockSubmitRequest(request(block(height, segwit), height)));
  }
  const hash = "0f9188f13cb7b2c71f2a335e3a4fc328bf5beb436012afca590b1a11466e2206";
  out.push(
    encodeBlockSubmitReply({
      ok: true,
      region: "eu",
      submitMs: 12.5,
      result: {
        accepted: true,
        tipMoved: true,
        blockHash: hash,
        results: [{ url: "http://127.0.0.1:18443", result: null, tipMoved: true }],
      },
    }),
  );
  out.push(
    encodeBlockSubmitReply({
      ok: true,
      region: "eu",
      submitMs: 3,
      result: {
        accepted: false,
        tipMoved: false,
        blockHash: hash,
        results: [{
          url: "http://10.0.0.2:8332",
          result: "bad-txnmrklroot",
          tipMoved: false,
          error: "rejected",
        }],
      },
    }),
  );
  out.push(
    encodeBlockSubmitReply({
      ok: false,
      region: "eu",
      error: { code: "unauthorized", message: "bad token" },
    }),
  );
  return out;
}

/**
 * Mutates the block inside a valid request, then fixes the header hash (and, half the time, the
 * height) so the decoder gets past its hash check to the coinbase parsing.
 */
function resignRequest(input: Uint8Array, rng: Rng): Uint8Array | null {
  let decoded: BlockSubmitRequest;
  try {
    decoded = decodeBlockSubmitRequest(input);
  } catch {
    return null;
  }
  const b = decoded.block.slice();
  // Bytes after the header: the transaction count, the coinbase's marker, inputs and script.
  for (let i = 1 + rng.below(4); i > 0; i--) {
    const at = 80 + rng.below(Math.min(b.length - 80, 64));
    b[at] = rng.chance(0.5) ? rng.pick([0, 1, 0x4c, 0x4d, 0x4e, 0xfd, 0xfe, 0xff]) : rng.below(256);
  }
  let height = decoded.height;
  if (rng.chance(0.5)) {
    try {
      height = coinbaseHeight(b);
    } catch {
      height = rng.pick([0, 1, 0x7fffffff]);
    }
  }
  try {
    return encodeBlockSubmitRequest({
      ...decoded,
      block: b,
      height,
      blockHash: sha256d(b.subarray(0, 80)),
    });
  } catch {
    return null;
  }
}
