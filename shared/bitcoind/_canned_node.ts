/**
 * Test helper: a real loopback HTTP server that answers JSON-RPC the way Bitcoin Core does
 * (HTTP 500 plus `{"result":null,"error":{…},"id":…}` for errors, 401 with an empty body for bad
 * credentials), with the answers chosen by the test (possibly after a delay the test controls). Used only by the unit tests in this folder.
 *
 * @module
 */

/** What the canned node answers to one call. */
export type CannedReply =
  | { readonly result: unknown }
  | { readonly error: { readonly code: number; readonly message: string } }
  | { readonly status: number; readonly body: string }
  | { readonly hang: true };

/** One request the canned node received. */
export interface CannedRequest {
  readonly method: string;
  readonly params: unknown;
  readonly authorization: string | null;
  readonly body: unknown;
}

/** A running canned node. */
export interface CannedNode {
  /** `http://127.0.0.1:port`. */
  readonly url: string;
  /** Every request received, in order. */
  readonly requests: CannedRequest[];
  /** Releases hanging requests and closes the listener. */
  close(): Promise<void>;
}

/** Legacy JSON-RPC status codes Bitcoin Core uses for an error reply. */
function errorStatus(code: number): number {
  if (code === -32600) return 400;
  if (code === -32601) return 404;
  return 500;
}

/**
 * Starts a canned node on 127.0.0.1 (kernel-chosen port).
 *
 * @param answer chooses the reply for each call
 * @param credentials when set, requests without this `user:pass` get HTTP 401 like Core
 */
export function startCannedNode(
  answer: (method: string, params: unknown) => CannedReply | Promise<CannedReply>,
  credentials?: { readonly user: string; readonly pass: string },
): CannedNode {
  const requests: CannedRequest[] = [];
  const release = Promise.withResolvers<void>();
  const expectedAuth = credentials === undefined
    ? undefined
    : `Basic ${btoa(`${credentials.user}:${credentials.pass}`)}`;
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    async (request) => {
      const text = await request.text();
      const authorization = request.headers.get("authorization");
      let body: unknown = undefined;
      try {
        body = JSON.parse(text);
      } catch {
        body = text;
      }
      const { method, params, id } = (body ?? {}) as {
        method?: unknown;
        params?: unknown;
        id?: unknown;
      };
      requests.push({ method: String(method), params, authorization, body });
      if (expectedAuth !== undefined && authorization !== expectedAuth) {
        return new Response(null, {
          status: 401,
          headers: { "www-authenticate": 'Basic realm="jsonrpc"' },
        });
      }
      const reply = await answer(String(method), params);
      if ("hang" in reply) {
        await release.promise;
        return new Response(null, { status: 503 });
      }
      if ("status" in reply) return new Response(reply.body, { status: reply.status });
      if ("error" in reply) {
        return Response.json({ result: null, error: reply.error, id: id ?? null }, {
          status: errorStatus(reply.error.code),
        });
      }
      return Response.json({ result: reply.result, error: null, id: id ?? null });
    },
  );
  return {
    url: `http://127.0.0.1:${server.addr.port}`,
    requests,
    async close() {
      release.resolve();
      await server.shutdown();
    },
  };
}

/** A loopback port with nothing listening on it (connections are refused). */
export function closedPort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}
