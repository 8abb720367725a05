/**
 * PostgreSQL helpers shared by the collector and the tools: transactions that survive the server
 * dying under them.
 *
 * ```ts
 * import postgres from "postgres";
 * import { transaction } from "@tbg/shared/postgres";
 *
 * const sql = postgres("postgres://tbg@127.0.0.1:5432/tbg");
 * await transaction(sql, async (tx) => {
 *   await tx`INSERT INTO t VALUES (1)`;
 * });
 * ```
 *
 * @module
 */
export { CONNECTION_LOSS_GRACE_MS, isConnectionLoss, transaction } from "./transaction.ts";
