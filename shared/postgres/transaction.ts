/**
 * `sql.begin()` that survives PostgreSQL going away in the middle of the transaction.
 *
 * When a statement of a transaction fails, postgres.js sends `ROLLBACK` on the same connection.
 * If the failure was the connection itself closing, that write is scheduled on a socket the
 * client has already dropped, and it throws from a timer callback, outside every promise: the
 * process dies with "Cannot read properties of null (reading 'write')" (postgres.js 3.4.9,
 * upstream issues porsager/postgres#1154 and #1208). A collector writing, or a migration running,
 * while PostgreSQL is killed hit this. The server has rolled the transaction back anyway when the
 * connection dropped, so {@link transaction} keeps postgres.js from sending that `ROLLBACK`: on a
 * connection error it leaves the callback pending, and `begin()` rejects on its own when the
 * connection closes.
 *
 * Every transaction of the project goes through {@link transaction}; `sql.begin()` is not used
 * directly.
 *
 * @module
 */
import type postgres from "postgres";

/** How long a transaction whose connection failed waits for postgres.js to reject it. */
export const CONNECTION_LOSS_GRACE_MS = 10_000;

/** postgres.js's own connection error codes, and the socket errors it passes through. */
const CONNECTION_ERROR_CODES = new Set([
  "CONNECTION_CLOSED",
  "CONNECTION_DESTROYED",
  "CONNECTION_ENDED",
  "CONNECT_TIMEOUT",
  "ECONNRESET",
  "ECONNREFUSED",
  "EPIPE",
]);

/**
 * Tells whether a query failed because its connection was lost (rather than because of the
 * statement): a postgres.js connection error, a socket error, or a server error of SQLSTATE
 * class 08 (connection exception) or 57P (the server is shutting down or restarting).
 *
 * @param error What a query threw.
 * @returns `true` for a lost connection, `false` for anything else (including non-errors).
 */
export function isConnectionLoss(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: unknown }).code;
  if (typeof code !== "string") return false;
  if (CONNECTION_ERROR_CODES.has(code)) return true;
  return error.name === "PostgresError" && (code.startsWith("08") || code.startsWith("57P"));
}

/**
 * Runs `fn` in a transaction, like `sql.begin(fn)`, without the process-killing `ROLLBACK` on a
 * lost connection (see the module documentation).
 *
 * @param sql The client.
 * @param fn The transaction's body; its queries use the `tx` it is given.
 * @returns What `fn` returned, once committed.
 * @throws What `fn` threw (after a rollback), or the connection error when the connection was
 *   lost (nothing was committed).
 */
export function transaction<T, Types extends Record<string, unknown>>(
  sql: postgres.Sql<Types>,
  fn: (tx: postgres.TransactionSql<Types>) => Promise<T>,
): Promise<T> {
  let settled = false;
  const done = sql.begin(async (tx) => {
    try {
      return await fn(tx);
    } catch (error: unknown) {
      if (!isConnectionLoss(error)) throw error;
      // begin() rejects when the connection closes. Until then, and for good after it, this
      // callback stays pending: settling it would make postgres.js send the ROLLBACK. Should
      // begin() not settle, fall back to postgres.js's own handling rather than hang.
      for (let waited = 0; waited < CONNECTION_LOSS_GRACE_MS && !settled; waited += 100) {
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      if (settled) return await new Promise<never>(() => {});
      throw error;
    }
  }) as Promise<T>;
  return done.finally(() => {
    settled = true;
  });
}
