/**
 * `infra/docker-compose.multi-region.yml` is configuration only here (no Docker engine), so this
 * test checks what `docker compose up` would depend on: the YAML parses; every service of the
 * seed's stack is there; every file it bind-mounts exists; each service's config, found through
 * its mounts, passes that service's own config loader (stratum, relay, collector) or
 * `nats-server -t` (hub and leaves, with the environment compose gives them and test
 * certificates in place of the mounted ones); the hosts each config names are reachable from
 * that container's networks; and the netem delays are the simulation's links.
 *
 * Needs `nats-server` and `openssl` (Debian packages "nats-server", "openssl").
 *
 * @module
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { parseDocument } from "yaml";
import { loadConfig, type ServiceKind } from "@tbg/shared/config";
import { generateTestCerts } from "../tools/gen_test_certs.ts";
import { DEFAULT_RELAYS } from "./support/sim/sim_options.ts";

const ROOT = fileURLToPath(new URL("../", import.meta.url)).replace(/\/$/, "");
const COMPOSE_DIR = `${ROOT}/infra`;
const COMPOSE_FILE = `${COMPOSE_DIR}/docker-compose.multi-region.yml`;

interface ComposeService {
  image?: string;
  command?: string[] | string;
  entrypoint?: string[] | string;
  environment?: Record<string, string>;
  volumes?: string[];
  networks?: string[] | Record<string, { aliases?: string[] } | null>;
  network_mode?: string;
  ports?: string[];
  depends_on?: string[] | Record<string, unknown>;
}

interface ComposeFile {
  services: Record<string, ComposeService>;
  networks: Record<string, unknown>;
  volumes: Record<string, unknown>;
}

/** Compose interpolation: `${VAR:-default}`, `${VAR:?error}`, `${VAR}`, `$$`. Uses defaults only. */
function interpolate(value: string): string {
  return value.replace(/\$\$|\$\{([A-Z0-9_]+)(?::([-?])([^}]*))?\}/g, (match, name, op, arg) => {
    if (match === "$$") return "$";
    if (op === "-") return arg;
    throw new Error(`compose variable ${name} has no default; the test cannot expand it`);
  });
}

function loadCompose(): ComposeFile {
  const document = parseDocument(Deno.readTextFileSync(COMPOSE_FILE), { merge: true });
  assert.deepEqual(document.errors.map(String), [], "YAML errors");
  assert.deepEqual(document.warnings.map(String), [], "YAML warnings");
  return document.toJS({ maxAliasCount: 100 }) as ComposeFile;
}

function asList(value: string[] | string | undefined): string[] {
  if (value === undefined) return [];
  return Array.isArray(value) ? value : value.split(/\s+/);
}

/** Bind mounts of a service: container path → host path (named volumes are skipped). */
function bindMounts(service: ComposeService): Map<string, string> {
  const mounts = new Map<string, string>();
  for (const raw of service.volumes ?? []) {
    const [source, target] = interpolate(raw).split(":") as [string, string];
    if (!source.startsWith(".") && !source.startsWith("/")) continue;
    const host = source.startsWith("/") ? source : `${COMPOSE_DIR}/${source}`;
    mounts.set(target, new URL(`file://${host}`).pathname.replace(/\/$/, ""));
  }
  return mounts;
}

/** The host path a container path comes from, through the longest matching mount. */
function hostPath(mounts: Map<string, string>, containerPath: string): string | undefined {
  let best: [string, string] | undefined;
  for (const [target, source] of mounts) {
    if (containerPath === target || containerPath.startsWith(`${target}/`)) {
      if (best === undefined || target.length > best[0].length) best = [target, source];
    }
  }
  return best === undefined ? undefined : best[1] + containerPath.slice(best[0].length);
}

function networksOf(compose: ComposeFile, name: string): Set<string> {
  const service = compose.services[name];
  assert.ok(service, `service ${name}`);
  const owner = service.network_mode?.match(/^service:(.+)$/)?.[1];
  if (owner !== undefined) return networksOf(compose, owner);
  const networks = service.networks ?? [];
  return new Set(Array.isArray(networks) ? networks : Object.keys(networks));
}

function namesOf(compose: ComposeFile, name: string): Set<string> {
  const names = new Set([name]);
  const networks = compose.services[name]?.networks;
  if (networks !== undefined && !Array.isArray(networks)) {
    for (const settings of Object.values(networks)) {
      for (const alias of settings?.aliases ?? []) names.add(alias);
    }
  }
  return names;
}

/** Whether `host` is reachable from service `from`: loopback in its namespace, or a peer. */
function assertReachable(compose: ComposeFile, from: string, host: string, what: string): void {
  if (host === "127.0.0.1" || host === "localhost") return;
  const mine = networksOf(compose, from);
  const peer = Object.keys(compose.services).find((name) => namesOf(compose, name).has(host));
  assert.ok(peer, `${from}: ${what} names host "${host}", which is no service or alias`);
  const shared = [...networksOf(compose, peer)].filter((n) => mine.has(n));
  assert.ok(shared.length > 0, `${from}: ${what} host ${host} shares no network with it`);
}

function urlHost(url: string): string {
  return new URL(url.replace(/^(tcp|nats|redis|postgres):/, "http:")).hostname;
}

const REQUIRED_SERVICES = [
  "nats-hub",
  "nats-leaf-us-east",
  "nats-leaf-asia",
  "ckpool-primary",
  "ckpool-relay-us-east",
  "ckpool-relay-asia",
  "collector",
  "redis",
  "postgres",
  "bitcoind-eu",
  "bitcoind-us-east",
  "bitcoind-asia",
];

const TASK_KIND: Record<string, ServiceKind> = {
  "start:stratum": "stratum",
  "start:relay": "relay",
  "start:collector": "collector",
};

Deno.test("compose: the stack parses and has every service of the seed's topology", () => {
  const compose = loadCompose();
  for (const name of REQUIRED_SERVICES) assert.ok(compose.services[name], `service ${name}`);
  for (const [name, service] of Object.entries(compose.services)) {
    for (
      const dependency of Object.keys(
        Array.isArray(service.depends_on)
          ? Object.fromEntries(service.depends_on.map((d) => [d, true]))
          : service.depends_on ?? {},
      )
    ) {
      assert.ok(compose.services[dependency], `${name} depends on unknown ${dependency}`);
    }
    for (const network of networksOf(compose, name)) {
      assert.ok(compose.networks[network] !== undefined, `${name}: network ${network}`);
    }
  }
  const published = Object.values(compose.services).flatMap((s) =>
    (s.ports ?? []).map((p) => interpolate(p).split(":")[0])
  );
  assert.equal(new Set(published).size, published.length, `host ports repeat: ${published}`);
  // The runbook's Stratum ports per region.
  assert.ok(compose.services["ckpool-primary"]!.ports!.includes("3333:3333"));
  assert.ok(compose.services["nats-leaf-us-east"]!.ports!.includes("3334:3333"));
  assert.ok(compose.services["nats-leaf-asia"]!.ports!.includes("3335:3333"));
});

Deno.test("compose: every bind-mounted file exists (certificates only under git-ignored .tbg/)", () => {
  const compose = loadCompose();
  for (const [name, service] of Object.entries(compose.services)) {
    for (const [target, source] of bindMounts(service)) {
      if (source.startsWith(`${ROOT}/.tbg/`)) continue; // made by the operator, never committed
      assert.ok(
        source.startsWith(`${ROOT}/`) || source === ROOT,
        `${name}: ${source} is outside the repo`,
      );
      let exists = true;
      try {
        Deno.statSync(source);
      } catch {
        exists = false;
      }
      assert.ok(exists, `${name}: ${source} (mounted at ${target}) does not exist`);
    }
  }
});

Deno.test("compose: the services' configs pass their own loaders and name reachable hosts", () => {
  const compose = loadCompose();
  let checked = 0;
  for (const [name, service] of Object.entries(compose.services)) {
    const command = asList(service.command);
    const task = command.find((arg) => arg in TASK_KIND);
    if (task === undefined) continue;
    const kind = TASK_KIND[task] as ServiceKind;
    const configArg = command[command.indexOf("--config") + 1];
    assert.ok(configArg, `${name}: no --config`);
    const mounts = bindMounts(service);
    const path = hostPath(mounts, configArg);
    assert.ok(path, `${name}: ${configArg} is not mounted`);
    assert.ok(hostPath(mounts, "/app") === ROOT, `${name}: the repository is not at /app`);
    const config = loadConfig(kind, path);
    const hosts: [string, string][] = [];
    if (kind === "collector") {
      const c = config as { nats_url: string; postgres: { url: string }; redis: { url: string } };
      hosts.push(["nats_url", urlHost(c.nats_url)], ["postgres", urlHost(c.postgres.url)]);
      hosts.push(["redis", urlHost(c.redis.url)]);
    } else {
      const c = config as {
        btcd: { url: string }[];
        zmqblock?: string;
        events: { nats_url: string; spool_dir?: string };
        primary?: { host: string; port: number };
      };
      for (const node of c.btcd) hosts.push(["btcd", node.url.split(":")[0] as string]);
      if (c.zmqblock !== undefined) hosts.push(["zmqblock", urlHost(c.zmqblock)]);
      hosts.push(["events.nats_url", urlHost(c.events.nats_url)]);
      if (c.primary !== undefined) {
        hosts.push(["primary.host", c.primary.host]);
        // 127.0.0.1:4222 is the leaf whose namespace the relay shares.
        assert.match(service.network_mode ?? "", /^service:nats-leaf-/, `${name}: namespace`);
        assert.equal(c.primary.port, 4222);
      }
      if (c.events.spool_dir !== undefined) {
        assert.ok(
          (service.volumes ?? []).some((v) => v.endsWith(`:${c.events.spool_dir}`)),
          `${name}: spool ${c.events.spool_dir} is not a volume`,
        );
      }
    }
    for (const [what, host] of hosts) assertReachable(compose, name, host, what);
    checked++;
  }
  assert.equal(checked, 4, "primary, two relays and the collector");
});

Deno.test({
  name:
    "compose: nats-server accepts the hub's and leaves' mounted configs with compose's environment",
  sanitizeResources: false,
  async fn() {
    const compose = loadCompose();
    const dir = await Deno.makeTempDir({ prefix: "tbg-compose-test-" });
    try {
      const certs = await generateTestCerts({
        dir: `${dir}/certs`,
        regions: ["us-east", "asia"],
        validDays: 1,
        caName: "TBG compose test CA",
      });
      // The operator's certificate directory, as compose mounts it, replaced by test files.
      const certFiles: Record<string, string> = {
        "ca.crt": certs.caFile,
        "hub.crt": certs.hub.certFile,
        "hub.key": certs.hub.keyFile,
      };
      for (const [region, pair] of certs.leaves) {
        certFiles[`leaf-${region}.crt`] = pair.certFile;
        certFiles[`leaf-${region}.key`] = pair.keyFile;
      }
      let checked = 0;
      for (const [name, service] of Object.entries(compose.services)) {
        if (!service.image?.startsWith("nats:")) continue;
        const command = asList(service.command);
        const configArg = command[command.indexOf("-c") + 1] as string;
        const mounts = bindMounts(service);
        const confPath = hostPath(mounts, configArg);
        assert.ok(confPath, `${name}: ${configArg} is not mounted`);
        let text = await Deno.readTextFile(confPath);
        // Point every absolute path of the config at the file compose mounts there.
        text = text.replace(/"(\/[^"]+)"/g, (_, containerPath: string) => {
          if (containerPath.startsWith("/var/lib/nats")) {
            return JSON.stringify(`${dir}/${name}-store`);
          }
          const source = hostPath(mounts, containerPath);
          assert.ok(source, `${name}: ${containerPath} is not mounted`);
          const file = source.split("/").pop() as string;
          const replacement = source.startsWith(`${ROOT}/.tbg/`) ? certFiles[file] : source;
          assert.ok(replacement, `${name}: no test stand-in for ${file}`);
          return JSON.stringify(replacement);
        });
        const localPath = `${dir}/${name}.conf`;
        await Deno.writeTextFile(localPath, text);
        const env = Object.fromEntries(
          Object.entries(service.environment ?? {}).map(([k, v]) => [k, interpolate(String(v))]),
        );
        const output = await new Deno.Command("nats-server", {
          args: ["-t", "-c", localPath],
          env,
          clearEnv: true,
          stdout: "piped",
          stderr: "piped",
        }).output().catch((error) => {
          throw new Error(`Cannot run nats-server (Debian package "nats-server"): ${error}`);
        });
        const said = new TextDecoder().decode(output.stderr) +
          new TextDecoder().decode(output.stdout);
        assert.equal(output.code, 0, `${name}: nats-server -t refused ${confPath}: ${said}`);
        if (name !== "nats-hub") {
          const url = env.TBG_NATS_HUB_LEAF_URL ?? "";
          assert.ok(namesOf(compose, "nats-hub").has(urlHost(url)), `${name}: dials ${url}`);
          assert.match(text, /advertise|remotes/);
        }
        checked++;
      }
      assert.equal(checked, 3, "hub and two leaves");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("compose: the netem delays are the simulation's region links", () => {
  const compose = loadCompose();
  const script = (name: string) => asList(compose.services[name]?.command).join("\n");
  for (const relay of DEFAULT_RELAYS) {
    const { delayMs, jitterMs } = relay.link;
    // netem "delay M J" spreads M ± J; the simulation's bridge delays D + [0, jitter).
    const netem = jitterMs === 0
      ? `delay ${delayMs}ms`
      : `delay ${delayMs + jitterMs / 2}ms ${jitterMs / 2}ms`;
    assert.ok(script(`wan-delay-${relay.region}`).includes(netem), `${relay.region}: ${netem}`);
    assert.ok(
      script("wan-delay-hub").includes(`netem ${netem}`),
      `hub → ${relay.region}: ${netem}`,
    );
  }
});
