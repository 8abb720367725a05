#!/usr/bin/env bash
# Restores a `pg_backup.sh` dump into a fresh, empty database (see README.md).
#
# Verifies the dump's .sha256 when present, refuses a target database that already holds tables,
# restores without owners (objects belong to the restoring role; recreate roles first with
# `pg_dumpall --roles-only` if you need them), then runs ANALYZE because statistics are not in a
# dump.
#
# Native-partitioning dumps restore in one transaction (all or nothing). Dumps of a TimescaleDB
# database are restored the way TimescaleDB documents: extension created first,
# timescaledb_pre_restore(), pg_restore without parallel jobs, timescaledb_post_restore().
#
# Create the target first, e.g. `createdb -T template0 tbg_restored`. Prints the database name
# on stdout when done.
set -euo pipefail

USAGE="usage: $(basename "$0") --url postgres://user@host:port/db --file DUMP [--jobs N] [--pg-bin DIR]"
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

url=""
file=""
jobs=1
PG_BIN=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --url) url=${2-}; shift 2 || usage_error "--url needs a value" ;;
    --file) file=${2-}; shift 2 || usage_error "--file needs a value" ;;
    --jobs) jobs=${2-}; shift 2 || usage_error "--jobs needs a value" ;;
    --pg-bin) PG_BIN=${2-}; shift 2 || usage_error "--pg-bin needs a value" ;;
    -h | --help) printf '%s\n' "$USAGE"; exit 0 ;;
    *) usage_error "unknown argument '$1'" ;;
  esac
done
[[ "$url" =~ ^postgres(ql)?:// ]] || usage_error "--url must be a postgres:// URL"
[[ -n "$file" ]] || usage_error "--file is required"
require_positive_int --jobs "$jobs"
[[ -f "$file" ]] || die "no such dump: $file"

pg_restore=$(tool pg_restore)
psql=$(tool psql)
run_sql() {
  "$psql" --no-psqlrc --quiet --tuples-only --no-align -v ON_ERROR_STOP=1 --dbname="$url" -c "$1"
}

verify_checksum "$file"
"$pg_restore" --list "$file" >/dev/null || die "$file is not a pg_dump custom-format archive"

database=$(run_sql "SELECT current_database()")
relations=$(run_sql "
  SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
  WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'
    AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')")
[[ "$relations" == "0" ]] ||
  die "database $database already holds $relations relations; restore into a new, empty database"

if "$pg_restore" --list "$file" | grep -Eq '^[0-9]+; [0-9]+ [0-9]+ EXTENSION - timescaledb( |$)'; then
  note "TimescaleDB dump: restoring into $database with timescaledb_pre_restore()"
  run_sql "CREATE EXTENSION IF NOT EXISTS timescaledb" >/dev/null
  run_sql "SELECT timescaledb_pre_restore()" >/dev/null
  status=0
  "$pg_restore" --dbname="$url" --no-owner "$file" || status=$?
  run_sql "SELECT timescaledb_post_restore()" >/dev/null
  [[ $status -eq 0 ]] || die "pg_restore reported errors (exit $status); see its output above"
elif [[ "$jobs" -gt 1 ]]; then
  note "restoring into $database with $jobs parallel jobs"
  "$pg_restore" --dbname="$url" --no-owner --exit-on-error --jobs="$jobs" "$file"
else
  note "restoring into $database in one transaction"
  "$pg_restore" --dbname="$url" --no-owner --exit-on-error --single-transaction "$file"
fi

run_sql "ANALYZE" >/dev/null
note "restored $file into $database"
printf '%s\n' "$database"
