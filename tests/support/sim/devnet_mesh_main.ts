/**
 * The devnet mesh as its own process, so block validation, mempool refills and the links' polling
 * never stall the simulation's process, which carries the latency bridges of the NATS links.
 *
 * ```sh
 * deno run --allow-net=127.0.0.1 --allow-ffi=node_modules \
 *   --allow-read=node_modules,/etc/alpine-release tests/support/sim/devnet_mesh_main.ts \
 *   --regions eu,us-east,asia --bits 1f0fffff --link eu:us-east=80 --link eu:asia=150
 * ```
 *
 * Prints one JSON line `{"ready":true,"controlUrl":…,"nodes":{<region>:{rpcUrl,rpcPort,zmqUrl,
 * user,password,height}}}` when ready. Control: POST `{"method", "params"}` to `controlUrl`:
 * `status`, `pause [a, b]`, `resume [a, b]`, `setUnreachable [region, bool]`,
 * `mineExternalBlock [region]`, `stop`. Exits 0 on SIGTERM, SIGINT or `stop`.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { type DevnetMesh, startDevnetMesh } from "./devnet_mesh.ts";
import { parseLinkArg } from "./devnet_mesh_process.ts";

function json(status: number, body: unknown): Response {
  return new Response(`${JSON.stringify(body)}\n`, {
    status,
    headers: { "content-type": "application/json" },
  });
}

function stringParam(params: unknown[], index: number, what: string): string {
  const value = params[index];
  if (typeof value !== "string") throw new TypeError(`Cannot run control method: ${what} needed`);
  return value;
}

async function dispatch(
  mesh: DevnetMesh,
  method: unknown,
  params: unknown[],
  requestStop: () => void,
): Promise<unknown> {
  switch (method) {
    case "status":
      return {
        nodes: Object.fromEntries(mesh.regions.map((region) => {
          const node = mesh.node(region);
          return [region, { height: node.chain.tipHeight(), tip: node.chain.tipHash() }];
        })),
        links: mesh.links(),
      };
    case "pause":
      mesh.pause(stringParam(params, 0, "region a"), stringParam(params, 1, "region b"));
      return true;
    case "resume":
      mesh.resume(stringParam(params, 0, "region a"), stringParam(params, 1, "region b"));
      return true;
    case "setUnreachable": {
      const region = stringParam(params, 0, "region");
      if (typeof params[1] !== "boolean") {
        throw new TypeError("Cannot set unreachable: need a boolean");
      }
      await mesh.node(region).setUnreachable(params[1]);
      return params[1];
    }
    case "mineExternalBlock":
      return await mesh.node(stringParam(params, 0, "region")).mineExternalBlock();
    case "stop":
      setTimeout(requestStop, 0);
      return true;
    default:
      throw new TypeError(`Cannot run control method: unknown method ${String(method)}`);
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      regions: { type: "string" },
      bits: { type: "string" },
      link: { type: "string", multiple: true },
      "mempool-txs": { type: "string" },
    },
    strict: true,
  });
  const regions = (values.regions ?? "").split(",").filter((r) => r !== "");
  const bits = parseInt(values.bits ?? "", 16);
  if (!Number.isInteger(bits) || bits <= 0 || bits > 0xffffffff) {
    throw new RangeError(`Cannot start the devnet mesh: --bits must be 8 hex digits`);
  }
  const mempoolTarget = values["mempool-txs"] === undefined
    ? undefined
    : Number(values["mempool-txs"]);
  if (mempoolTarget !== undefined && !(Number.isInteger(mempoolTarget) && mempoolTarget >= 0)) {
    throw new RangeError(`Cannot start the devnet mesh: --mempool-txs must be a count`);
  }
  const mesh = await startDevnetMesh({
    regions,
    bits,
    links: (values.link ?? []).map(parseLinkArg),
    ...(mempoolTarget === undefined ? {} : { mempoolTarget }),
  });
  const stopped = Promise.withResolvers<void>();
  const requestStop = () => void mesh.stop().then(() => stopped.resolve());
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    async (request) => {
      if (request.method !== "POST") return json(405, { error: "POST a JSON object" });
      let body: { method?: unknown; params?: unknown };
      try {
        body = await request.json();
      } catch {
        return json(400, { error: "Cannot parse control request: invalid JSON" });
      }
      const params = Array.isArray(body.params) ? body.params : [];
      try {
        return json(200, {
          result: await dispatch(mesh, body.method, params, requestStop) ?? null,
        });
      } catch (error) {
        return json(400, { error: error instanceof Error ? error.message : String(error) });
      }
    },
  );
  Deno.addSignalListener("SIGTERM", requestStop);
  Deno.addSignalListener("SIGINT", requestStop);
  const ready = {
    ready: true,
    controlUrl: `http://127.0.0.1:${server.addr.port}`,
    nodes: Object.fromEntries(regions.map((region) => {
      const node = mesh.node(region);
      return [region, {
        rpcUrl: node.rpcUrl,
        rpcPort: node.rpcPort,
        zmqUrl: node.zmqUrl,
        user: node.user,
        password: node.password,
        height: node.chain.tipHeight(),
      }];
    })),
  };
  await Deno.stdout.write(new TextEncoder().encode(`${JSON.stringify(ready)}\n`));
  await stopped.promise;
  await server.shutdown();
  Deno.exit(0);
}

if (import.meta.main) {
  try {
    await main();
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    await Deno.stderr.write(new TextEncoder().encode(`${message}\n`));
    Deno.exit(1);
  }
}
