/**
 * A JSON-RPC 1.0 client for one Bitcoin Core node, over HTTP POST with basic auth.
 *
 * Bitcoin Core's documented behaviour shapes the error handling:
 * - a legacy (1.0) request that fails answers HTTP 500 (404 for an unknown method, 400 for an
 *   invalid request) with a JSON body `{"result":null,"error":{"code":…,"message":…},"id":…}`;
 *   this becomes an {@link RpcError};
 * - bad credentials answer HTTP 401 with an empty body, a host outside `rpcallowip` HTTP 403, a
 *   full work queue HTTP 503 with plain text; these, refused connections, timeouts and bodies that
 *   are not JSON-RPC become an {@link RpcTransportError};
 * - while warming up every call answers code -28 (`Loading block index…`, `Verifying blocks…`).
 *
 * Messages name the node URL and the method, never the password.
 *
 * @module
 */
import { parseBtcdUrl } from "../config/endpoint.ts";
import { deriveInitialBlockDownload, normaliseChainName } from "./chain_state.ts";
import { RpcFieldError, RpcFields } from "./rpc_fields.ts";

/** Bitcoin Core RPC error codes the pool reacts to (src/rpc/protocol.h). */
export const RpcErrorCode = {
  /** `RPC_IN_WARMUP`: the node is still loading its block index or verifying blocks. */
  inWarmup: -28,
  /** `RPC_CLIENT_IN_INITIAL_DOWNLOAD`: getblocktemplate refused during initial block download. */
  inInitialDownload: -10,
  /** `RPC_CLIENT_NOT_CONNECTED`: getblocktemplate refused because the node has no peers. */
  notConnected: -9,
  /** btcd's `ErrRPCUnimplemented` ("Command unimplemented"), also Core's `RPC_MISC_ERROR`. */
  miscError: -1,
  /** `RPC_METHOD_NOT_FOUND`. */
  methodNotFound: -32601,
  /** `RPC_INVALID_PARAMETER`. */
  invalidParameter: -8,
} as const;

/** An error the node answered for one call (the JSON-RPC `error` member). */
export class RpcError extends Error {
  override readonly name = "RpcError";
  /** Bitcoin Core's RPC error code, e.g. -28 while warming up. */
  readonly code: number;
  /** The node's own message, e.g. `Loading block index…`. */
  readonly rpcMessage: string;
  /** The method that failed. */
  readonly method: string;
  /** The node URL (no credentials). */
  readonly url: string;

  /**
   * @param url node URL without credentials
   * @param method the RPC method
   * @param code the node's error code
   * @param rpcMessage the node's error message
   */
  constructor(url: string, method: string, code: number, rpcMessage: string) {
    super(`Cannot call ${method} on ${url}: bitcoind error ${code}: ${rpcMessage}`);
    this.code = code;
    this.rpcMessage = rpcMessage;
    this.method = method;
    this.url = url;
  }

  /** Whether the node is still starting (code -28), so another node should serve the call. */
  get isWarmingUp(): boolean {
    return this.code === RpcErrorCode.inWarmup;
  }
}

/** Why a call failed before the node could answer it as JSON-RPC. */
export const TransportFailure = {
  /** Nothing listened, the connection was reset, or DNS failed. */
  unreachable: "unreachable",
  /** No answer within the call's timeout. */
  timeout: "timeout",
  /** The caller aborted the call (shutdown). */
  aborted: "aborted",
  /** HTTP 401/403: wrong rpcuser/rpcpassword or a host outside rpcallowip. */
  unauthorized: "unauthorized",
  /** Another HTTP status without a JSON-RPC body (e.g. 503 work queue full). */
  http: "http",
  /** The body was not a JSON-RPC response, or the result had the wrong shape. */
  malformed: "malformed",
  /** Deno refused the connection: the process lacks `--allow-net` for the node. */
  permission: "permission",
} as const;

/** One of {@link TransportFailure}. */
export type TransportFailure = typeof TransportFailure[keyof typeof TransportFailure];

/** A call that failed below the JSON-RPC layer; the node may be down, slow or misconfigured. */
export class RpcTransportError extends Error {
  override readonly name = "RpcTransportError";
  /** What went wrong. */
  readonly failure: TransportFailure;
  /** The method that failed. */
  readonly method: string;
  /** The node URL (no credentials). */
  readonly url: string;
  /** HTTP status when the node answered with one. */
  readonly status: number | undefined;

  /**
   * @param url node URL without credentials
   * @param method the RPC method
   * @param failure the kind of failure
   * @param detail human-readable state, ending the message
   * @param options `status` and `cause`
   */
  constructor(
    url: string,
    method: string,
    failure: TransportFailure,
    detail: string,
    options: { status?: number; cause?: unknown } = {},
  ) {
    super(`Cannot call ${method} on ${url}: ${detail}`, { cause: options.cause });
    this.failure = failure;
    this.method = method;
    this.url = url;
    this.status = options.status;
  }
}

/** Connection settings of one node (a `btcd[]` config entry). */
export interface BitcoindRpcOptions {
  /** `host:port` or `http://host:port`. */
  readonly url: string;
  /** rpcuser. */
  readonly auth: string;
  /** rpcpassword. */
  readonly pass: string;
  /** Default per-call timeout, ms (default 10,000). */
  readonly timeoutMs?: number;
  /** Clock for deriving initial block download from the tip's age, ms (default Date.now). */
  readonly now?: () => number;
}

/** Per-call options. */
export interface RpcCallOptions {
  /** Overrides the client's default timeout, ms. */
  readonly timeoutMs?: number;
  /** Aborts the call (e.g. on shutdown). */
  readonly signal?: AbortSignal;
}

/**
 * The fields of getblockchaininfo the pool reads, the same whichever node answered (Core 0.21 on,
 * Knots, btcd): see chain_state.ts for what is normalised and derived.
 */
export interface BlockchainInfo {
  /** `main`, `test`, `testnet4`, `signet` or `regtest` (btcd's `mainnet`/`testnet3` mapped). */
  readonly chain: string;
  readonly blocks: number;
  /** Equal to `blocks` when the node does not report headers. */
  readonly headers: number;
  readonly bestblockhash: string;
  /** The node's own flag, or derived (see `initialBlockDownloadDerived`). */
  readonly initialblockdownload: boolean;
  readonly verificationprogress: number | undefined;
  /** The node sent no `initialblockdownload`; the flag was derived from the other fields. */
  readonly initialBlockDownloadDerived: boolean;
  /** Why the node counts as syncing (its own flag, or the derivation's rule); undefined if not. */
  readonly syncReason: string | undefined;
}

/** The fields of getblockheader (verbose) the pool reads. */
export interface BlockHeaderInfo {
  readonly hash: string;
  readonly height: number;
  /** -1 when the block is not on the node's best chain. */
  readonly confirmations: number;
  readonly previousblockhash: string | undefined;
  readonly time: number;
  readonly bits: string;
}

/** The fields of validateaddress the pool reads. */
export interface ValidateAddressResult {
  readonly isvalid: boolean;
  readonly address: string | undefined;
  readonly scriptPubKey: string | undefined;
  readonly error: string | undefined;
}

/** The fields of getnetworkinfo the pool reads. */
export interface NetworkInfo {
  /** Core, Knots: an integer (290000); bcoin: a string ("v1.0.2"). */
  readonly version: number | string;
  readonly subversion: string;
  readonly connections: number;
  readonly networkactive: boolean | undefined;
}

/** Default per-call timeout: getblocktemplate of a full mempool can take a few seconds. */
export const DEFAULT_RPC_TIMEOUT_MS = 10_000;

const HASH_HEX = /^[0-9a-fA-F]{64}$/;

/**
 * Normalises a `btcd[].url` to `http://host:port`.
 *
 * @throws {TypeError} when the text is neither `host:port` nor `http://host:port`
 */
export function normaliseBtcdUrl(url: string): string {
  const endpoint = parseBtcdUrl(url);
  if (endpoint === undefined) {
    throw new TypeError(
      `Cannot use bitcoind url ${JSON.stringify(url)}: expected "host:port" or "http://host:port"`,
    );
  }
  return `http://${endpoint.host}:${endpoint.port}`;
}

/** The getblocktemplate params of a BIP22 long poll on the template `longPollId`. */
export function longPollParams(longPollId: string): unknown[] {
  return [{ rules: ["segwit"], longpollid: longPollId }];
}

/** A JSON-RPC client for one Bitcoin Core node; calls are independent and may overlap. */
export class BitcoindRpc {
  /** The node URL, `http://host:port`, without credentials (safe to log). */
  readonly url: string;
  readonly #authorization: string;
  readonly #timeoutMs: number;
  readonly #now: () => number;
  #nextId = 1;

  /**
   * @param options node address and credentials
   * @throws {TypeError} when the url is malformed
   */
  constructor(options: BitcoindRpcOptions) {
    this.url = normaliseBtcdUrl(options.url);
    this.#authorization = `Basic ${base64Utf8(`${options.auth}:${options.pass}`)}`;
    this.#timeoutMs = options.timeoutMs ?? DEFAULT_RPC_TIMEOUT_MS;
    this.#now = options.now ?? Date.now;
    if (!(this.#timeoutMs > 0)) {
      throw new RangeError(`Cannot create bitcoind client: timeoutMs must be positive`);
    }
  }

  /**
   * Calls one method and returns its raw `result`.
   *
   * @throws {RpcError} when the node answers with an error object
   * @throws {RpcTransportError} when there is no JSON-RPC answer
   */
  async call(
    method: string,
    params: readonly unknown[] = [],
    options: RpcCallOptions = {},
  ): Promise<unknown> {
    const id = this.#nextId++;
    const timeout = AbortSignal.timeout(options.timeoutMs ?? this.#timeoutMs);
    const signal = options.signal === undefined
      ? timeout
      : AbortSignal.any([options.signal, timeout]);
    let response: Response;
    try {
      response = await fetch(this.url + "/", {
        method: "POST",
        headers: { "authorization": this.#authorization, "content-type": "application/json" },
        body: JSON.stringify({ jsonrpc: "1.0", id, method, params }),
        signal,
      });
    } catch (error) {
      throw this.#fetchFailure(method, error, options.signal);
    }
    let text: string;
    try {
      text = await response.text();
    } catch (error) {
      throw this.#fetchFailure(method, error, options.signal);
    }
    if (response.status === 401 || response.status === 403) {
      throw new RpcTransportError(
        this.url,
        method,
        TransportFailure.unauthorized,
        response.status === 401
          ? "HTTP 401 Unauthorized (check rpcuser/rpcpassword)"
          : "HTTP 403 Forbidden (check rpcallowip)",
        { status: response.status },
      );
    }
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch (error) {
      throw new RpcTransportError(
        this.url,
        method,
        response.ok ? TransportFailure.malformed : TransportFailure.http,
        `HTTP ${response.status} with a body that is not JSON: ${clip(text)}`,
        { status: response.status, cause: error },
      );
    }
    if (typeof body !== "object" || body === null || Array.isArray(body) || !("result" in body)) {
      throw new RpcTransportError(
        this.url,
        method,
        TransportFailure.malformed,
        `HTTP ${response.status} with a body that is not a JSON-RPC response: ${clip(text)}`,
        { status: response.status },
      );
    }
    const { result, error } = body as { result: unknown; error?: unknown };
    if (error !== null && error !== undefined) {
      const { code, message } = error as { code?: unknown; message?: unknown };
      if (typeof code !== "number" || typeof message !== "string") {
        throw new RpcTransportError(
          this.url,
          method,
          TransportFailure.malformed,
          `HTTP ${response.status} with an error that has no code and message: ${clip(text)}`,
          { status: response.status },
        );
      }
      throw new RpcError(this.url, method, code, message);
    }
    if (!response.ok) {
      throw new RpcTransportError(
        this.url,
        method,
        TransportFailure.http,
        `HTTP ${response.status} without an error object`,
        { status: response.status },
      );
    }
    return result;
  }

  /** getblocktemplate with the segwit rule Bitcoin Core requires; the raw result. */
  getBlockTemplate(options: RpcCallOptions = {}): Promise<unknown> {
    return this.call("getblocktemplate", [{ rules: ["segwit"] }], options);
  }

  /**
   * getblocktemplate as a BIP22 long poll: the node answers when the template `longPollId`
   * (from a previous template's `longpollid`) is outdated, by a new tip or (Core: after a
   * minute) new transactions. Give a timeout longer than the node's wait.
   */
  longPollBlockTemplate(longPollId: string, options: RpcCallOptions = {}): Promise<unknown> {
    return this.call("getblocktemplate", longPollParams(longPollId), options);
  }

  /**
   * submitblock: `null` when the node accepted the block, else its reject reason
   * (`duplicate`, `inconclusive`, `high-hash`, `bad-txnmrklroot`, …).
   */
  async submitBlock(blockHex: string, options: RpcCallOptions = {}): Promise<string | null> {
    const result = await this.call("submitblock", [blockHex], options);
    if (result === null || typeof result === "string") return result;
    throw this.#malformed(
      "submitblock",
      new RpcFieldError("submitblock", "null or a reject string", result).message,
    );
  }

  /** getbestblockhash: the tip's hash in display hex. */
  async getBestBlockHash(options: RpcCallOptions = {}): Promise<string> {
    const result = await this.call("getbestblockhash", [], options);
    if (typeof result === "string" && HASH_HEX.test(result)) return result.toLowerCase();
    throw this.#malformed(
      "getbestblockhash",
      new RpcFieldError("getbestblockhash", "a 64-digit hex hash", result).message,
    );
  }

  /**
   * getblockchaininfo, normalised across nodes: types are checked field by field, a missing
   * `initialblockdownload` is derived (headers ahead of blocks, verification progress, tip age).
   */
  async getBlockchainInfo(options: RpcCallOptions = {}): Promise<BlockchainInfo> {
    const r = await this.call("getblockchaininfo", [], options);
    return this.#read("getblockchaininfo", r, (f) => {
      const blocks = f.integer("blocks");
      const headers = f.optionalInteger("headers") ?? blocks;
      const verificationprogress = f.optionalNumber("verificationprogress", 0, 1.5);
      const own = f.optionalBoolean("initialblockdownload");
      const tipTimeS = f.optionalInteger("time") ?? f.optionalInteger("mediantime");
      const derived = own === undefined
        ? deriveInitialBlockDownload({
          blocks,
          headers,
          verificationprogress,
          tipTimeS,
          nowS: Math.floor(this.#now() / 1000),
        })
        : undefined;
      const initialblockdownload = own ?? derived!.syncing;
      return {
        chain: normaliseChainName(f.string("chain")),
        blocks,
        headers,
        bestblockhash: f.hash("bestblockhash"),
        initialblockdownload,
        verificationprogress,
        initialBlockDownloadDerived: own === undefined,
        syncReason: own === true ? "initialblockdownload is true" : derived?.why,
      };
    });
  }

  /** getblockcount: the tip's height. */
  async getBlockCount(options: RpcCallOptions = {}): Promise<number> {
    const result = await this.call("getblockcount", [], options);
    if (typeof result === "number" && Number.isSafeInteger(result) && result >= 0) return result;
    throw this.#malformed(
      "getblockcount",
      new RpcFieldError("getblockcount", "a non-negative integer", result).message,
    );
  }

  /** getblockheader (verbose) of a block hash in display hex. */
  async getBlockHeader(hashHex: string, options: RpcCallOptions = {}): Promise<BlockHeaderInfo> {
    const r = await this.call("getblockheader", [hashHex, true], options);
    return this.#read("getblockheader", r, (f) => ({
      hash: f.hash("hash"),
      height: f.integer("height"),
      confirmations: f.integer("confirmations", -1),
      previousblockhash: f.optionalHash("previousblockhash"),
      time: f.integer("time"),
      bits: f.compactBits("bits"),
    }));
  }

  /** validateaddress (btcd answers without `scriptPubKey`). */
  async validateAddress(
    address: string,
    options: RpcCallOptions = {},
  ): Promise<ValidateAddressResult> {
    const r = await this.call("validateaddress", [address], options);
    return this.#read("validateaddress", r, (f) => ({
      isvalid: f.boolean("isvalid"),
      address: f.optionalString("address"),
      scriptPubKey: f.optionalString("scriptPubKey"),
      error: f.optionalString("error"),
    }));
  }

  /** getnetworkinfo (btcd answers -1 "Command unimplemented": an {@link RpcError}). */
  async getNetworkInfo(options: RpcCallOptions = {}): Promise<NetworkInfo> {
    const r = await this.call("getnetworkinfo", [], options);
    return this.#read("getnetworkinfo", r, (f) => ({
      version: f.integerOrString("version"),
      subversion: f.string("subversion"),
      connections: f.integer("connections"),
      networkactive: f.optionalBoolean("networkactive"),
    }));
  }

  /** Runs a typed read of one result; a bad field becomes a `malformed` transport error. */
  #read<T>(method: string, result: unknown, read: (fields: RpcFields) => T): T {
    try {
      return read(new RpcFields(method, result));
    } catch (error) {
      if (error instanceof RpcFieldError) throw this.#malformed(method, error.message, error);
      throw error;
    }
  }

  #malformed(method: string, expected: string, cause?: unknown): RpcTransportError {
    return new RpcTransportError(
      this.url,
      method,
      TransportFailure.malformed,
      `unexpected result shape (${expected})`,
      cause === undefined ? {} : { cause },
    );
  }

  #fetchFailure(method: string, error: unknown, callerSignal: AbortSignal | undefined): Error {
    if (callerSignal?.aborted === true) {
      return new RpcTransportError(this.url, method, TransportFailure.aborted, "aborted", {
        cause: error,
      });
    }
    if (error instanceof DOMException && error.name === "TimeoutError") {
      return new RpcTransportError(this.url, method, TransportFailure.timeout, "timed out", {
        cause: error,
      });
    }
    if (error instanceof Deno.errors.NotCapable) {
      const host = this.url.slice("http://".length);
      return new RpcTransportError(
        this.url,
        method,
        TransportFailure.permission,
        `network access denied; run with --allow-net=${host}`,
        { cause: error },
      );
    }
    const detail = describeCause(error);
    return new RpcTransportError(this.url, method, TransportFailure.unreachable, detail, {
      cause: error,
    });
  }
}

/**
 * Whether an error means the node cannot serve calls right now, so another node should: any
 * transport failure except a caller's abort, warming up (-28), or a template refusal (-10, -9:
 * see {@link isTemplateRefusal}).
 */
export function isNodeUnavailable(error: unknown): boolean {
  if (error instanceof RpcTransportError) return error.failure !== TransportFailure.aborted;
  return error instanceof RpcError &&
    (error.code === RpcErrorCode.inWarmup || isTemplateRefusal(error));
}

/**
 * Whether getblocktemplate was refused because the node cannot mine on the current tip: -10
 * (Core "… is in initial sync and waiting for blocks...", btcd "Bitcoin is downloading
 * blocks...") or -9 (Core "… is not connected!", btcd "Bitcoin is not connected"). The node
 * answers every other call normally, so getblockchaininfo alone does not reveal it.
 */
export function isTemplateRefusal(error: unknown): error is RpcError {
  return error instanceof RpcError &&
    (error.code === RpcErrorCode.inInitialDownload || error.code === RpcErrorCode.notConnected);
}

function describeCause(error: unknown): string {
  // Deno's fetch wraps the OS error ("Connection refused (os error 111)") in `cause`.
  const cause = error instanceof Error && error.cause instanceof Error ? error.cause : error;
  const text = cause instanceof Error ? cause.message : String(cause);
  const os =
    /(Connection refused|Connection reset[^(]*|No route to host|Network is unreachable|failed to lookup address[^(]*|timed out)/i
      .exec(text);
  return os === null ? `connection failed: ${clip(text)}` : `connection failed: ${os[1]!.trim()}`;
}

function clip(text: string): string {
  const oneLine = text.replace(/\s+/g, " ").trim();
  return oneLine.length > 200 ? `${oneLine.slice(0, 200)}…` : oneLine === "" ? "(empty)" : oneLine;
}

function base64Utf8(text: string): string {
  let binary = "";
  for (const byte of new TextEncoder().encode(text)) binary += String.fromCharCode(byte);
  return btoa(binary);
}
