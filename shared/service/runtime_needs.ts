import type { ServiceKind } from "../config/mod.ts";

/** Environment and sys grants a service needs beyond what its config implies. */
export interface RuntimeNeeds {
  /** Environment variables read (by the service or its libraries). */
  env: readonly string[];
  /** sys permission kinds used. */
  sys: readonly string[];
}

/**
 * Environment variables npm:postgres reads while parsing connection options (its
 * `parseOptions`): each is consulted when neither the URL nor the options object sets the value,
 * and Deno refuses the read without a grant.
 */
export const POSTGRES_CLIENT_ENV: readonly string[] = [
  "PGHOST",
  "PGPORT",
  "PGUSERNAME",
  "PGUSER",
  "PGDATABASE",
  "PGPASSWORD",
  "PGAPPNAME",
  "PGTARGETSESSIONATTRS",
  "PGMAX",
  "PGSSL",
  "PGSSLNEGOTIATION",
  "PGIDLE_TIMEOUT",
  "PGCONNECT_TIMEOUT",
  "PGMAX_LIFETIME",
  "PGMAX_PIPELINE",
  "PGBACKOFF",
  "PGKEEP_ALIVE",
  "PGPREPARE",
  "PGDEBUG",
  "PGFETCH_TYPES",
  "PGPUBLICATIONS",
  "PGTARGET_SESSION_ATTRS",
];

/**
 * What each service passes to `bootstrap()` as `env` and `sys`, and what the launcher
 * grants: one list, so `deno task start:<kind>` and the service's own check never disagree.
 * A service that starts reading a variable adds it here.
 */
export const SERVICE_RUNTIME_NEEDS: Readonly<Record<ServiceKind, RuntimeNeeds>> = {
  stratum: { env: [], sys: [] },
  relay: { env: [], sys: [] },
  collector: { env: POSTGRES_CLIENT_ENV, sys: [] },
};
