#!/usr/bin/env bash
# Physical base backup with `pg_basebackup`, the starting point for point-in-time recovery with
# the WAL archive (see README.md).
#
# Writes DIR/base-<UTC time>/ with WAL streamed alongside (-X stream, so the backup is consistent
# on its own) and a backup manifest. Tar format (default) compresses; plain format is a ready data
# directory and is checked with pg_verifybackup. Keeps the --keep newest base backups and prints
# the backup's path on stdout.
#
# Needs a role with REPLICATION (or a superuser) and a `replication` line in pg_hba.conf. Put
# the password in ~/.pgpass or PGPASSWORD, never in the URL.
set -euo pipefail

USAGE="usage: $(basename "$0") --url postgres://user@host:port/db --out DIR [--format tar|plain] [--keep N] [--pg-bin DIR]"
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

url=""
out=""
format="tar"
keep=4
PG_BIN=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --url) url=${2-}; shift 2 || usage_error "--url needs a value" ;;
    --out) out=${2-}; shift 2 || usage_error "--out needs a value" ;;
    --format) format=${2-}; shift 2 || usage_error "--format needs a value" ;;
    --keep) keep=${2-}; shift 2 || usage_error "--keep needs a value" ;;
    --pg-bin) PG_BIN=${2-}; shift 2 || usage_error "--pg-bin needs a value" ;;
    -h | --help) printf '%s\n' "$USAGE"; exit 0 ;;
    *) usage_error "unknown argument '$1'" ;;
  esac
done
[[ "$url" =~ ^postgres(ql)?:// ]] || usage_error "--url must be a postgres:// URL"
[[ -n "$out" ]] || usage_error "--out is required"
[[ "$format" == "tar" || "$format" == "plain" ]] || usage_error "--format must be tar or plain"
require_positive_int --keep "$keep"

pg_basebackup=$(tool pg_basebackup)
mkdir -p -- "$out"
umask 077

target="$out/base-$(utc_stamp)"
[[ ! -e "$target" ]] || die "$target already exists"
partial="$target.partial"
trap 'rm -rf -- "$partial"' EXIT

args=(--dbname="$url" --pgdata="$partial" --wal-method=stream --checkpoint=fast
  --manifest-checksums=SHA256 --label="tbg $(basename "$target")")
if [[ "$format" == "tar" ]]; then
  args+=(--format=tar --gzip)
else
  args+=(--format=plain)
fi
note "base backup to $target ($format)"
"$pg_basebackup" "${args[@]}"

if [[ "$format" == "plain" ]]; then
  "$(tool pg_verifybackup)" --quiet "$partial" || die "pg_verifybackup failed for $partial"
fi
mv -- "$partial" "$target"
trap - EXIT

prune "$out" "base-[0-9]" "Z" "$keep"
printf '%s\n' "$target"
