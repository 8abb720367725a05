/**
 * The PostgreSQL test launcher against the real binaries. Run with:
 *
 *   deno test --allow-run --allow-net=127.0.0.1 --allow-read --allow-write --allow-env \
 *     --allow-sys=uid tests/support/servers/postgres_server_test.ts
 *
 * (`deno task test` grants all of these.) Needs the Debian package "postgresql"; fails, never
 * skips, without it.
 *
 * @module
 */
import assert from "node:assert/strict";
import postgres from "postgres";
import { findPostgresBinDir, startPostgres } from "./postgres_server.ts";

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

Deno.test({
  name: "startPostgres() serves database tbg on 127.0.0.1 only and stop() deletes its directory",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const pg = await startPostgres();
    const sql = postgres(pg.url, { max: 1, onnotice: () => {} });
    try {
      assert.match(pg.url, /^postgres:\/\/postgres@127\.0\.0\.1:\d+\/tbg$/);
      assert.notEqual(pg.port, 5432);
      const [row] = await sql`
        SELECT current_database() AS db, current_setting('listen_addresses') AS listen,
               inet_server_addr()::text AS addr, current_setting('port')::int AS port`;
      assert.deepEqual({ ...row }, {
        db: "tbg",
        listen: "127.0.0.1",
        addr: "127.0.0.1/32",
        port: pg.port,
      });
      assert.ok(await exists(`${pg.dataDir}/PG_VERSION`));
    } finally {
      await sql.end({ timeout: 5 });
      await pg.stop();
    }
    assert.equal(await exists(pg.dir), false);
    await pg.stop();
  },
});

Deno.test({
  name: "restart() after kill() brings the server back on the same port with committed data",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const pg = await startPostgres();
    try {
      const before = postgres(pg.url, { max: 1, onnotice: () => {} });
      await before`CREATE TABLE kept (n int)`;
      await before`INSERT INTO kept VALUES (1), (2), (3)`;
      await before.end({ timeout: 5 });
      const oldPid = pg.pid;

      pg.kill("SIGKILL");
      await pg.restart();
      assert.notEqual(pg.pid, oldPid);

      const after = postgres(pg.url, { max: 1, onnotice: () => {} });
      try {
        const [row] = await after`SELECT count(*)::int AS n FROM kept`;
        assert.equal(row?.n, 3);
      } finally {
        await after.end({ timeout: 5 });
      }
      await pg.restart();
      const again = postgres(pg.url, { max: 1, onnotice: () => {} });
      try {
        const [row] = await again`SELECT sum(n)::int AS total FROM kept`;
        assert.equal(row?.total, 6);
      } finally {
        await again.end({ timeout: 5 });
      }
    } finally {
      await pg.stop();
    }
  },
});

Deno.test("startPostgres() names the Debian package when the binaries are missing", async () => {
  const empty = await Deno.makeTempDir({ prefix: "tbg-pg-missing-" });
  try {
    await assert.rejects(startPostgres({ binDir: `${empty}/bin` }), (error: unknown) => {
      assert.ok(error instanceof Error);
      assert.match(error.message, /Debian package "postgresql"/);
      return true;
    });
    assert.throws(() => findPostgresBinDir(empty), /Debian package "postgresql"/);
    assert.throws(() => findPostgresBinDir(`${empty}/absent`), /Debian package "postgresql"/);
  } finally {
    await Deno.remove(empty, { recursive: true });
  }
});

Deno.test("findPostgresBinDir() picks the newest version that has initdb and postgres", async () => {
  const root = await Deno.makeTempDir({ prefix: "tbg-pg-root-" });
  try {
    for (const version of ["9.6", "10", "16"]) {
      await Deno.mkdir(`${root}/${version}/bin`, { recursive: true });
      await Deno.writeTextFile(`${root}/${version}/bin/initdb`, "");
      if (version !== "16") await Deno.writeTextFile(`${root}/${version}/bin/postgres`, "");
    }
    await Deno.mkdir(`${root}/common`);
    assert.equal(findPostgresBinDir(root), `${root}/10/bin`);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("startPostgres() refuses settings the launcher owns", async () => {
  await assert.rejects(startPostgres({ settings: { port: "5432" } }), RangeError);
});
