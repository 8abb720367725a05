/**
 * Test-control HTTP endpoint for a devnet running as its own process: POST a JSON object
 * `{"method": name, "params": [...]}` and get `{"result": ...}` or `{"error": message}` back.
 * No authentication: it binds to loopback and exists only for tests and the demo.
 *
 * @module
 */

/** What the control endpoint can do. */
export interface ControlTarget {
  mineExternalBlock(): Promise<string>;
  setUnreachable(unreachable: boolean): Promise<void>;
  setInitialBlockDownload(value: boolean): void;
  setNotConnected(value: boolean): void;
  status(): Record<string, unknown>;
  /** Stops the devnet (the control listener answers first). */
  requestStop(): void;
}

/** Control method names. */
export const ControlMethod = {
  MINE_EXTERNAL_BLOCK: "mineExternalBlock",
  SET_UNREACHABLE: "setUnreachable",
  SET_INITIAL_BLOCK_DOWNLOAD: "setInitialBlockDownload",
  SET_NOT_CONNECTED: "setNotConnected",
  STATUS: "status",
  STOP: "stop",
} as const;
/** One of {@link ControlMethod}. */
export type ControlMethod = typeof ControlMethod[keyof typeof ControlMethod];

function json(status: number, body: unknown): Response {
  return new Response(`${JSON.stringify(body)}\n`, {
    status,
    headers: { "content-type": "application/json" },
  });
}

async function dispatch(
  target: ControlTarget,
  method: unknown,
  params: unknown[],
): Promise<unknown> {
  switch (method) {
    case ControlMethod.MINE_EXTERNAL_BLOCK:
      return await target.mineExternalBlock();
    case ControlMethod.SET_UNREACHABLE:
      if (typeof params[0] !== "boolean") {
        throw new TypeError("Cannot set unreachable: need a boolean");
      }
      await target.setUnreachable(params[0]);
      return params[0];
    case ControlMethod.SET_INITIAL_BLOCK_DOWNLOAD:
      if (typeof params[0] !== "boolean") throw new TypeError("Cannot set IBD: need a boolean");
      target.setInitialBlockDownload(params[0]);
      return params[0];
    case ControlMethod.SET_NOT_CONNECTED:
      if (typeof params[0] !== "boolean") {
        throw new TypeError("Cannot set not connected: need a boolean");
      }
      target.setNotConnected(params[0]);
      return params[0];
    case ControlMethod.STATUS:
      return target.status();
    case ControlMethod.STOP:
      // Answer first, then stop, so the caller sees the reply.
      setTimeout(() => target.requestStop(), 0);
      return true;
    default:
      throw new TypeError(`Cannot run control method: unknown method ${String(method)}`);
  }
}

/** Starts the control listener; returns the server and its bound port. */
export function serveControl(
  hostname: string,
  port: number,
  target: ControlTarget,
): { server: Deno.HttpServer<Deno.NetAddr>; port: number } {
  const server = Deno.serve({ hostname, port, onListen: () => {} }, async (request) => {
    if (request.method !== "POST") return json(405, { error: "POST a JSON object" });
    let body: { method?: unknown; params?: unknown };
    try {
      body = await request.json();
    } catch {
      return json(400, { error: "Cannot parse control request: invalid JSON" });
    }
    const params = Array.isArray(body.params) ? body.params : [];
    try {
      return json(200, { result: await dispatch(target, body.method, params) ?? null });
    } catch (error) {
      return json(400, { error: error instanceof Error ? error.message : String(error) });
    }
  });
  return { server, port: server.addr.port };
}
