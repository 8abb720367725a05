/**
 * The migration registry matches the files in migrations/. Run with:
 *
 *   deno test --allow-read=infra/sql/migrations infra/sql/migrations_test.ts
 *
 * @module
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { MIGRATIONS } from "./migrations.ts";

const DIR = fileURLToPath(new URL("./migrations/", import.meta.url));

Deno.test("MIGRATIONS lists every migrations/*.sql file once, in file-name order, with its text", async () => {
  const files: string[] = [];
  for await (const entry of Deno.readDir(DIR)) {
    if (entry.isFile && entry.name.endsWith(".sql")) files.push(entry.name);
  }
  files.sort();
  assert.deepEqual(MIGRATIONS.map((m) => `${m.version}.sql`), files);
  for (const migration of MIGRATIONS) {
    assert.equal(migration.sql, await Deno.readTextFile(`${DIR}${migration.version}.sql`));
  }
});

Deno.test("migration versions are NNN_snake_case and the texts hold no transaction control", () => {
  for (const migration of MIGRATIONS) {
    assert.match(migration.version, /^[0-9]{3}_[a-z0-9_]+$/);
    // Each migration runs inside the transaction that also records it.
    assert.doesNotMatch(
      migration.sql,
      /^\s*(BEGIN|START TRANSACTION|COMMIT|ROLLBACK)\s*;/im,
      migration.version,
    );
  }
});
