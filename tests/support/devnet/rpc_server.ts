/**
 * Bitcoin Core's JSON-RPC HTTP front end: POST only, HTTP basic auth (401 with
 * `WWW-Authenticate: Basic realm="jsonrpc"`), JSON-RPC 1.0 legacy replies (HTTP 500/404/400 on
 * errors, both `result` and `error` keys) and 2.0 replies (HTTP 200, one of the keys, 204 for
 * notifications), batches. The listener can be closed and reopened on the same port to make
 * the node unreachable.
 *
 * @module
 */
import { RpcCode, RpcError } from "./rpc_error.ts";
import { callMethod, type RpcContext } from "./rpc_methods.ts";

const JsonRpcVersion = { V1_LEGACY: "1.0", V2: "2.0" } as const;
type JsonRpcVersion = typeof JsonRpcVersion[keyof typeof JsonRpcVersion];

/** Core sleeps this long after a wrong password to slow brute forcing. */
const BAD_AUTH_DELAY_MS = 250;

interface ParsedRequest {
  id: unknown;
  hasId: boolean;
  version: JsonRpcVersion;
  method: string;
  params: unknown;
}

/** Options of the RPC listener. */
export interface RpcServerOptions {
  readonly hostname: string;
  /** 0 picks a free port (kept for later reopening). */
  readonly port: number;
  readonly user: string;
  readonly password: string;
  readonly context: RpcContext;
}

function errorObject(error: unknown): { code: number; message: string } {
  if (error instanceof RpcError) return { code: error.code, message: error.message };
  const message = error instanceof Error ? error.message : String(error);
  return { code: RpcCode.MISC_ERROR, message };
}

function replyObject(
  result: unknown,
  error: { code: number; message: string } | null,
  request: Pick<ParsedRequest, "id" | "hasId" | "version">,
): Record<string, unknown> {
  const reply: Record<string, unknown> = {};
  if (request.version === JsonRpcVersion.V2) reply.jsonrpc = "2.0";
  if (error === null) {
    reply.result = result;
    if (request.version === JsonRpcVersion.V1_LEGACY) reply.error = null;
  } else {
    if (request.version === JsonRpcVersion.V1_LEGACY) reply.result = null;
    reply.error = error;
  }
  if (request.hasId) reply.id = request.id;
  return reply;
}

/** Core's `JSONRPCRequest::parse`; fills `into` as far as it got before throwing. */
function parseRequest(value: unknown, into: ParsedRequest): void {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new RpcError(RpcCode.INVALID_REQUEST, "Invalid Request object");
  }
  const request = value as Record<string, unknown>;
  into.hasId = Object.hasOwn(request, "id");
  into.id = request.id;
  const version = request.jsonrpc;
  if (version !== undefined && version !== null) {
    if (typeof version !== "string") {
      throw new RpcError(RpcCode.INVALID_REQUEST, "jsonrpc field must be a string");
    }
    if (version === "1.0") into.version = JsonRpcVersion.V1_LEGACY;
    else if (version === "2.0") into.version = JsonRpcVersion.V2;
    else throw new RpcError(RpcCode.INVALID_REQUEST, "JSON-RPC version not supported");
  }
  if (request.method === undefined || request.method === null) {
    throw new RpcError(RpcCode.INVALID_REQUEST, "Missing method");
  }
  if (typeof request.method !== "string") {
    throw new RpcError(RpcCode.INVALID_REQUEST, "Method must be a string");
  }
  into.method = request.method;
  const params = request.params;
  if (params === undefined || params === null) into.params = [];
  else if (typeof params === "object") into.params = params;
  else throw new RpcError(RpcCode.INVALID_REQUEST, "Params must be an array or object");
}

function isNotification(request: ParsedRequest): boolean {
  return !request.hasId && request.version === JsonRpcVersion.V2;
}

function newRequest(): ParsedRequest {
  return { id: null, hasId: false, version: JsonRpcVersion.V1_LEGACY, method: "", params: [] };
}

function jsonResponse(status: number, body: unknown): Response {
  return new Response(`${JSON.stringify(body)}\n`, {
    status,
    headers: { "content-type": "application/json" },
  });
}

/** The RPC listener. */
export class RpcServer {
  #server: Deno.HttpServer<Deno.NetAddr> | null = null;
  #port: number;
  readonly #options: RpcServerOptions;
  readonly #expectedAuth: string;
  #closing = Promise.withResolvers<void>();

  /** Prepares a listener; call {@link RpcServer.open}. */
  constructor(options: RpcServerOptions) {
    this.#options = options;
    this.#port = options.port;
    this.#expectedAuth = `Basic ${btoa(`${options.user}:${options.password}`)}`;
  }

  /** The bound port (after the first open). */
  get port(): number {
    return this.#port;
  }

  /** Whether the listener is open. */
  get isOpen(): boolean {
    return this.#server !== null;
  }

  /** Opens the listener (on the same port as before when reopening). */
  open(): Promise<void> {
    if (this.#server) return Promise.resolve();
    return new Promise((resolve, reject) => {
      try {
        this.#server = Deno.serve({
          hostname: this.#options.hostname,
          port: this.#port,
          onListen: (addr) => {
            this.#port = addr.port;
            resolve();
          },
        }, (request) => this.#handle(request));
      } catch (error) {
        reject(error);
      }
    });
  }

  /** Resolves when the listener starts closing (long polls end then). */
  closing(): Promise<void> {
    return this.#closing.promise;
  }

  /** Closes the listener; new connections are refused until reopened. */
  async close(): Promise<void> {
    const server = this.#server;
    this.#server = null;
    if (!server) return;
    const closing = this.#closing;
    this.#closing = Promise.withResolvers<void>();
    closing.resolve();
    await server.shutdown();
  }

  async #handle(request: Request): Promise<Response> {
    if (request.method !== "POST") {
      return new Response("JSONRPC server handles only POST requests", { status: 405 });
    }
    const auth = request.headers.get("authorization");
    if (auth !== this.#expectedAuth) {
      if (auth !== null) await new Promise((resolve) => setTimeout(resolve, BAD_AUTH_DELAY_MS));
      await request.body?.cancel();
      return new Response(null, {
        status: 401,
        headers: { "www-authenticate": 'Basic realm="jsonrpc"' },
      });
    }
    const text = await request.text();
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      return jsonResponse(
        500,
        replyObject(null, { code: RpcCode.PARSE_ERROR, message: "Parse error" }, newRequest()),
      );
    }
    if (Array.isArray(body)) return await this.#batch(body);
    if (typeof body === "object" && body !== null) return await this.#single(body);
    return jsonResponse(
      500,
      replyObject(
        null,
        { code: RpcCode.PARSE_ERROR, message: "Top-level object parse error" },
        newRequest(),
      ),
    );
  }

  async #single(body: object): Promise<Response> {
    const request = newRequest();
    try {
      parseRequest(body, request);
      const result = await callMethod(request.method, request.params, this.#options.context);
      if (isNotification(request)) return new Response(null, { status: 204 });
      return jsonResponse(200, replyObject(result, null, request));
    } catch (error) {
      const object = errorObject(error);
      if (request.version === JsonRpcVersion.V2) {
        if (isNotification(request)) return new Response(null, { status: 204 });
        return jsonResponse(200, replyObject(null, object, request));
      }
      return jsonResponse(
        this.#options.context.dialect.legacyErrorStatus(object.code),
        replyObject(null, object, request),
      );
    }
  }

  async #batch(items: unknown[]): Promise<Response> {
    const replies: unknown[] = [];
    for (const item of items) {
      const request = newRequest();
      let reply: Record<string, unknown>;
      try {
        parseRequest(item, request);
        reply = replyObject(
          await callMethod(request.method, request.params, this.#options.context),
          null,
          request,
        );
      } catch (error) {
        reply = replyObject(null, errorObject(error), request);
      }
      if (!isNotification(request)) replies.push(reply);
    }
    if (replies.length === 0 && items.length > 0) return new Response(null, { status: 204 });
    return jsonResponse(200, replies);
  }
}
