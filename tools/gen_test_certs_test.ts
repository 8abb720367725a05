/**
 * The test CA tool, checked with openssl itself.
 *
 *   deno test --allow-run --allow-read --allow-write tools/gen_test_certs_test.ts
 *
 * @module
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { generateTestCerts } from "./gen_test_certs.ts";

const TOOL = fileURLToPath(new URL("./gen_test_certs.ts", import.meta.url));

async function openssl(args: string[]): Promise<{ ok: boolean; text: string }> {
  const output = await new Deno.Command("openssl", { args, stdout: "piped", stderr: "piped" })
    .output();
  const decoder = new TextDecoder();
  return {
    ok: output.success,
    text: decoder.decode(output.stdout) + decoder.decode(output.stderr),
  };
}

async function withTempDir(body: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "tbg-certs-test-" });
  try {
    await body(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("generateTestCerts() issues hub and leaf certificates that chain to its CA", async () => {
  await withTempDir(async (dir) => {
    const certs = await generateTestCerts({ dir, regions: ["us-east", "asia"], validDays: 1 });
    const leafFiles = [...certs.leaves.values()].map((pair) => pair.certFile);
    assert.equal(leafFiles.length, 2);
    const verified = await openssl([
      "verify",
      "-CAfile",
      certs.caFile,
      certs.hub.certFile,
      ...leafFiles,
    ]);
    assert.ok(verified.ok, verified.text);

    const hub = await openssl(["x509", "-in", certs.hub.certFile, "-noout", "-text"]);
    assert.match(hub.text, /DNS:localhost/);
    assert.match(hub.text, /IP Address:127\.0\.0\.1/);
    assert.match(hub.text, /TLS Web Server Authentication/);
    const leaf = await openssl(["x509", "-in", leafFiles[0] as string, "-noout", "-text"]);
    assert.match(leaf.text, /CN = leaf-us-east/);
    assert.match(leaf.text, /TLS Web Client Authentication/);
    assert.match(leaf.text, /IP Address:127\.0\.0\.1/);

    // No working files left behind; private keys readable by the owner only.
    const names = (await Array.fromAsync(Deno.readDir(dir))).map((entry) => entry.name).sort();
    assert.deepEqual(names, [
      "ca.crt",
      "ca.key",
      "hub.crt",
      "hub.key",
      "leaf-asia.crt",
      "leaf-asia.key",
      "leaf-us-east.crt",
      "leaf-us-east.key",
    ]);
    for (const name of names.filter((n) => n.endsWith(".key"))) {
      assert.equal((await Deno.stat(`${dir}/${name}`)).mode! & 0o777, 0o600, name);
    }
  });
});

Deno.test("certificates from two runs do not verify against each other's CA", async () => {
  await withTempDir(async (dir) => {
    const first = await generateTestCerts({ dir: `${dir}/a`, regions: ["asia"], validDays: 1 });
    const second = await generateTestCerts({ dir: `${dir}/b`, regions: ["asia"], validDays: 1 });
    const crossed = await openssl(["verify", "-CAfile", first.caFile, second.hub.certFile]);
    assert.equal(crossed.ok, false, crossed.text);
  });
});

Deno.test("generateTestCerts() refuses bad regions and validity before running openssl", async () => {
  await withTempDir(async (dir) => {
    await assert.rejects(generateTestCerts({ dir, regions: ["US"] }), RangeError);
    await assert.rejects(generateTestCerts({ dir, regions: ["a.b"] }), RangeError);
    await assert.rejects(generateTestCerts({ dir, validDays: 0 }), RangeError);
    assert.deepEqual(await Array.fromAsync(Deno.readDir(dir)), []);
  });
});

Deno.test("gen_test_certs.ts CLI writes the set to --out and exits 2 on a bad argument", async () => {
  await withTempDir(async (dir) => {
    const run = (args: string[]) =>
      new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          `--allow-run=openssl`,
          `--allow-read=${dir}`,
          `--allow-write=${dir}`,
          TOOL,
          ...args,
        ],
        stdout: "piped",
        stderr: "piped",
      }).output();
    const ok = await run(["--out", `${dir}/certs`, "--regions", "asia", "--days", "3"]);
    assert.equal(ok.code, 0, new TextDecoder().decode(ok.stderr));
    assert.match(new TextDecoder().decode(ok.stdout), /leaf-asia\.crt/);
    await Deno.stat(`${dir}/certs/leaf-asia.key`);
    const bad = await run(["--bogus"]);
    assert.equal(bad.code, 2);
    const badRegion = await run(["--out", `${dir}/x`, "--regions", "Asia"]);
    assert.equal(badRegion.code, 2);
    assert.match(new TextDecoder().decode(badRegion.stderr), /region "Asia"/);
  });
});
