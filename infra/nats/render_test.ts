/**
 * The committed NATS files equal what `render.ts` produces, and nats-server 2.9 accepts the
 * rendered configurations (`nats-server -t`) with their secrets from the environment.
 *
 *   deno test --allow-read --allow-write --allow-run=nats-server,openssl infra/nats/render_test.ts
 *
 * @module
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { generateTestCerts } from "../../tools/gen_test_certs.ts";
import {
  CLIENT_PASSWORD_VARIABLE,
  HUB_LEAF_URL_VARIABLE,
  leafPasswordVariable,
  leafPermissions,
  PRODUCTION_REGIONS,
  productionHubParams,
  productionLeafParams,
  renderedFiles,
  renderHubConf,
  renderLeafConf,
  renderLeafLinkSections,
  renderVariables,
} from "./render.ts";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));

Deno.test("infra/nats files equal what render.ts produces (run tools/nats_conf.ts after a change)", async () => {
  for (const file of renderedFiles()) {
    const text = await Deno.readTextFile(`${ROOT}${file.path}`);
    assert.equal(text, file.text, `${file.path} differs; regenerate it with tools/nats_conf.ts`);
  }
});

Deno.test("renderedFiles() covers the hub, one leaf and one edge stream per region, and the sources", () => {
  assert.deepEqual(renderedFiles().map((file) => file.path), [
    "infra/nats/hub.conf",
    "infra/nats/leaf-us-east.conf",
    "infra/nats/leaf-asia.conf",
    "infra/nats/streams/mining_events_us_east.json",
    "infra/nats/streams/mining_events_asia.json",
    "infra/nats/streams/mining_events.hub_sources.json",
  ]);
});

Deno.test("rendered configurations contain no secret, only variable references", () => {
  const hub = renderHubConf(productionHubParams());
  for (const region of PRODUCTION_REGIONS) {
    assert.match(hub, new RegExp(`password: \\$${leafPasswordVariable(region)}\\n`));
  }
  assert.match(hub, new RegExp(`password: \\$${CLIENT_PASSWORD_VARIABLE}, `));
  assert.match(hub, /verify: true/);
  const leaf = renderLeafConf(productionLeafParams("us-east"));
  assert.match(leaf, new RegExp(`url: \\$${HUB_LEAF_URL_VARIABLE}\\n`));
  assert.match(leaf, /domain: "us-east"/);
  assert.match(leaf, /deny_exports: \[ "mining\.events\.>" \]/);
  assert.match(leaf, /deny_imports: \[ "mining\.events\.>" \]/);
  assert.doesNotMatch(hub + leaf, /password: "|tbg_[0-9a-f]/);
});

Deno.test("each leaf user may exchange only its relays' and its sourcing's subjects", () => {
  for (const region of PRODUCTION_REGIONS) {
    const { publish, subscribe } = leafPermissions(region);
    const others = PRODUCTION_REGIONS.filter((other) => other !== region);
    // Leaf → hub: never templates, heartbeats, events, inboxes, or another region's deliveries.
    for (const subject of publish) {
      assert.doesNotMatch(subject, /^(mining\.(templates|heartbeat|events))/, subject);
      if (subject.startsWith("_INBOX")) assert.equal(subject, `_INBOX.${region}.hub.>`);
      for (const other of others) assert.ok(!subject.includes(other), subject);
    }
    assert.ok(publish.includes("mining.blocks.submit"));
    assert.ok(publish.includes(`$JS.S.${region}.>`));
    assert.ok(publish.every((subject) => !subject.includes(".STREAM.DELETE.")));
    // Hub → leaf: its own inboxes and domain only, never submissions or pings.
    assert.deepEqual(subscribe, [
      `_INBOX.${region}.>`,
      "mining.heartbeat.*",
      `$JS.${region}.API.>`,
      `$JS.FC.MINING_EVENTS_${region.toUpperCase().replaceAll("-", "_")}.>`,
    ]);
  }
  const hub = renderHubConf(productionHubParams());
  assert.equal(hub.match(/allowed_connection_types: \[ "LEAFNODE" \]/g)?.length, 2);
  assert.equal(hub.match(/permissions: \{\n/g)?.length, 2);
  assert.match(hub, /\n {12}"\$JS\.S\.asia\.>"\n/);
  // A connection without credentials can be no one (clientAuth), or tbg on the client port.
  assert.match(hub, /no_auth_user: "no-credentials"/);
  const open = renderHubConf({ ...productionHubParams(), clientAuth: false });
  assert.match(open, /no_auth_user: "tbg"/);
  assert.doesNotMatch(open, /no-credentials/);
  const bare = renderHubConf({ ...productionHubParams(), leafPermissions: false });
  assert.doesNotMatch(bare, /permissions: \{\n/);
  assert.match(bare, /allowed_connection_types: \[ "LEAFNODE" \]/);
});

Deno.test("renderLeafLinkSections() drops the deny only when asked", () => {
  const params = { ...productionLeafParams("asia") };
  assert.match(renderLeafLinkSections(params), /deny_exports/);
  assert.doesNotMatch(renderLeafLinkSections({ ...params, denyEventSubjects: false }), /deny_/);
});

Deno.test("renderers refuse bad regions, repeated regions, bad ping settings and variable names", () => {
  assert.throws(() => renderLeafConf(productionLeafParams("US-East")), RangeError);
  assert.throws(
    () => renderHubConf({ ...productionHubParams(), regions: ["asia", "asia"] }),
    /listed twice/,
  );
  assert.throws(
    () => renderHubConf({ ...productionHubParams(), ping: { pingIntervalS: 0, pingMax: 2 } }),
    /pingIntervalS/,
  );
  assert.throws(() => renderVariables({ "bad-name": "x" }), RangeError);
});

async function natsServerTest(
  text: string,
  dir: string,
  env: Record<string, string>,
): Promise<{ ok: boolean; output: string }> {
  const path = `${dir}/test-${crypto.randomUUID()}.conf`;
  await Deno.writeTextFile(path, text);
  const output = await new Deno.Command("nats-server", {
    args: ["-t", "-c", path],
    env,
    clearEnv: true,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decoder = new TextDecoder();
  return {
    ok: output.success,
    output: decoder.decode(output.stdout) + decoder.decode(output.stderr),
  };
}

Deno.test("nats-server 2.9 accepts the hub and leaf configurations, and refuses a missing secret", async () => {
  const dir = await Deno.makeTempDir({ prefix: "tbg-nats-render-" });
  try {
    const certs = await generateTestCerts({
      dir: `${dir}/certs`,
      regions: PRODUCTION_REGIONS,
      validDays: 1,
    });
    const store = { storeDir: `${dir}/js`, maxMemoryStore: "64MB", maxFileStore: "64GB" };
    const hubText = renderHubConf({
      ...productionHubParams(),
      jetstream: store,
      tls: { certFile: certs.hub.certFile, keyFile: certs.hub.keyFile, caFile: certs.caFile },
    });
    const hubEnv: Record<string, string> = { [CLIENT_PASSWORD_VARIABLE]: "tbg_client" };
    for (const region of PRODUCTION_REGIONS) hubEnv[leafPasswordVariable(region)] = `tbg_${region}`;
    const hub = await natsServerTest(hubText, dir, hubEnv);
    assert.ok(hub.ok, hub.output);

    const { [leafPasswordVariable("asia")]: _dropped, ...missing } = hubEnv;
    const withoutSecret = await natsServerTest(hubText, dir, missing);
    assert.equal(withoutSecret.ok, false);
    assert.match(withoutSecret.output, new RegExp(leafPasswordVariable("asia")));

    for (const region of PRODUCTION_REGIONS) {
      const pair = certs.leaves.get(region);
      assert.ok(pair !== undefined);
      const leafText = renderLeafConf({
        ...productionLeafParams(region),
        jetstream: store,
        tls: { certFile: pair.certFile, keyFile: pair.keyFile, caFile: certs.caFile },
      });
      const leaf = await natsServerTest(leafText, dir, {
        [HUB_LEAF_URL_VARIABLE]: `tls://leaf-${region}:tbg_${region}@localhost:7422`,
      });
      assert.ok(leaf.ok, leaf.output);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
