/**
 * Runs the real Stratum pool as a child process through the launcher (so the service gets exactly
 * the permissions its config implies), against a devnet node. Tests read its JSON log lines.
 */
import { fileURLToPath } from "node:url";
import { pickFreePort } from "./servers/nats_server.ts";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));

/**
 * `deno run … tools/launch.ts run stratum --config <file> [-- args]` from the repo root: the
 * service as an operator starts it, with the permissions its config implies.
 */
export function launcherCommand(
  configPath: string,
  serviceArgs: readonly string[] = [],
): Deno.Command {
  return new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-read",
      "--allow-run",
      "--allow-env=INIT_CWD",
      "tools/launch.ts",
      "run",
      "stratum",
      "--config",
      configPath,
      ...(serviceArgs.length > 0 ? ["--", ...serviceArgs] : []),
    ],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  });
}

/** A running pool process. */
export interface PoolProcess {
  readonly stratumPort: number;
  readonly metricsPort: number;
  readonly configPath: string;
  /** Every JSON log line so far. */
  readonly logs: Record<string, unknown>[];
  /** Waits for a log line matching `predicate` (bounded). */
  waitForLog(
    predicate: (line: Record<string, unknown>) => boolean,
    timeoutMs?: number,
  ): Promise<Record<string, unknown>>;
  /** Sends SIGTERM and resolves with the exit code. */
  stop(): Promise<number>;
  readonly exited: Promise<number>;
}

/** Devnet connection details the pool config points at. */
export interface DevnetEndpoint {
  readonly rpcPort: number;
  readonly zmqUrl: string;
  readonly user: string;
  readonly password: string;
}

/** Writes a config for `devnet` (plus overrides) and starts the pool. */
export async function startPoolProcess(
  devnet: DevnetEndpoint | readonly DevnetEndpoint[],
  overrides: Record<string, unknown> = {},
  options: { readonly stratumPort?: number; readonly serviceArgs?: readonly string[] } = {},
): Promise<PoolProcess> {
  const nodes = Array.isArray(devnet) ? devnet : [devnet as DevnetEndpoint];
  const stratumPort = options.stratumPort ?? pickFreePort();
  const metricsPort = pickFreePort();
  const dir = await Deno.makeTempDir({ prefix: "tbg-pool-" });
  const configPath = `${dir}/stratum.json`;
  const config = {
    network: "regtest",
    btcd: nodes.map((n) => ({
      url: `127.0.0.1:${n.rpcPort}`,
      auth: n.user,
      pass: n.password,
      notify: true,
    })),
    btcsig: "/TheBitcoinGame-test/",
    blockpoll: 100,
    serverurl: [`127.0.0.1:${stratumPort}`],
    mindiff: 0.000001,
    startdiff: 0.00001,
    zmqblock: nodes[0]!.zmqUrl,
    metrics: { enabled: true, host: "127.0.0.1", port: metricsPort, path: "/metrics" },
    region: "eu",
    // Tests that want events start their own nats-server and override this.
    events: { enabled: false },
    ...overrides,
  };
  await Deno.writeTextFile(configPath, JSON.stringify(config, null, 2));
  const child = launcherCommand(configPath, options.serviceArgs ?? []).spawn();
  const logs: Record<string, unknown>[] = [];
  const waiters: {
    predicate: (l: Record<string, unknown>) => boolean;
    resolve: (l: Record<string, unknown>) => void;
  }[] = [];
  const pump = async (stream: ReadableStream<Uint8Array>) => {
    const decoder = new TextDecoder();
    let pending = "";
    for await (const chunk of stream) {
      pending += decoder.decode(chunk, { stream: true });
      let nl;
      while ((nl = pending.indexOf("\n")) !== -1) {
        const line = pending.slice(0, nl);
        pending = pending.slice(nl + 1);
        let parsed: Record<string, unknown>;
        try {
          parsed = JSON.parse(line);
        } catch {
          parsed = { raw: line };
        }
        logs.push(parsed);
        for (let i = waiters.length - 1; i >= 0; i--) {
          if (waiters[i]!.predicate(parsed)) waiters.splice(i, 1)[0]!.resolve(parsed);
        }
      }
    }
  };
  const pumps = Promise.all([pump(child.stdout), pump(child.stderr)]);
  const exited = child.status.then(async (s) => {
    await pumps;
    await Deno.remove(dir, { recursive: true }).catch(() => {});
    return s.code;
  });
  const waitForLog = (predicate: (l: Record<string, unknown>) => boolean, timeoutMs = 20_000) => {
    const found = logs.find(predicate);
    if (found) return Promise.resolve(found);
    return new Promise<Record<string, unknown>>((resolve, reject) => {
      const timer = setTimeout(() => {
        const i = waiters.findIndex((w) => w.resolve === done);
        if (i !== -1) waiters.splice(i, 1);
        reject(
          new Error(
            `no matching pool log within ${timeoutMs} ms; last lines: ${
              JSON.stringify(logs.slice(-5))
            }`,
          ),
        );
      }, timeoutMs);
      const done = (l: Record<string, unknown>) => {
        clearTimeout(timer);
        resolve(l);
      };
      waiters.push({ predicate, resolve: done });
      exited.then(() => {
        const i = waiters.findIndex((w) => w.resolve === done);
        if (i !== -1) {
          waiters.splice(i, 1);
          clearTimeout(timer);
          reject(new Error(`pool exited; last lines: ${JSON.stringify(logs.slice(-8))}`));
        }
      });
    });
  };
  await waitForLog((l) => l.msg === "pool ready", 30_000);
  return {
    stratumPort,
    metricsPort,
    configPath,
    logs,
    waitForLog,
    exited,
    async stop() {
      try {
        child.kill("SIGTERM");
      } catch {
        // Already exited.
      }
      return await exited;
    },
  };
}
