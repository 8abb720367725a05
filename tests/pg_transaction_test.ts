/**
 * `transaction()` from `@tbg/shared/postgres` against a real PostgreSQL that is killed while a
 * transaction is open: the caller gets the connection error, the process does not crash (plain
 * `sql.begin()` does, see `shared/postgres/transaction.ts`), nothing is committed, and the client
 * works again once the server is back.
 *
 * Run with `deno task test tests/pg_transaction_test.ts`. Needs the Debian package postgresql;
 * fails, never skips, without it.
 *
 * @module
 */
import assert from "node:assert/strict";
import postgres from "postgres";
import { isConnectionLoss, transaction } from "@tbg/shared/postgres";
import { startPostgres } from "./support/servers/postgres_server.ts";

type Sql = postgres.Sql<Record<string, never>>;

Deno.test({
  name: "transaction() reports a PostgreSQL killed mid-transaction as an error, not a crash",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const pg = await startPostgres();
    const sql = postgres(pg.url, { max: 2, onnotice: () => {} }) as unknown as Sql;
    const uncaught: string[] = [];
    const onError = (event: ErrorEvent) => {
      uncaught.push(String(event.error));
      event.preventDefault();
    };
    globalThis.addEventListener("error", onError);
    try {
      await sql`CREATE TABLE t (x int)`;
      for (let round = 0; round < 3; round++) {
        const killed = new Promise<void>((resolve) =>
          setTimeout(() => {
            pg.kill("SIGKILL");
            resolve();
          }, 150 + 50 * round)
        );
        const outcome = await transaction(sql, async (tx) => {
          await tx`INSERT INTO t VALUES (1)`;
          await tx`SELECT pg_sleep(10)`;
          await tx`INSERT INTO t VALUES (2)`;
        }).then(() => null, (error: unknown) => error);
        await killed;
        assert.ok(isConnectionLoss(outcome), `round ${round}: ${String(outcome)}`);
        // The ROLLBACK postgres.js would have sent runs on the next timer turns.
        await new Promise((resolve) => setTimeout(resolve, 200));
        assert.deepEqual(uncaught, [], `round ${round}: no uncaught error`);
        await pg.restart();
        const [row] = await sql`SELECT count(*)::int AS n FROM t`;
        assert.equal(row?.n, 0, "nothing of the lost transaction was committed");
      }

      assert.equal(
        await transaction(sql, async (tx) => {
          await tx`INSERT INTO t VALUES (3)`;
          return "committed";
        }),
        "committed",
      );
      await assert.rejects(
        transaction(sql, async (tx) => {
          await tx`INSERT INTO t VALUES (4)`;
          throw new RangeError("refused");
        }),
        RangeError,
      );
      await assert.rejects(transaction(sql, (tx) => tx`SELECT 1/0`), /division by zero/);
      const [row] = await sql`SELECT array_agg(x) AS xs FROM t`;
      assert.deepEqual(row?.xs, [3], "commit and rollback as sql.begin() does them");
      assert.deepEqual(uncaught, []);
    } finally {
      globalThis.removeEventListener("error", onError);
      await sql.end({ timeout: 1 }).catch(() => {});
      await pg.stop();
    }
  },
});
