#!/usr/bin/env bash
# Logical backup of the TheBitcoinGame database with `pg_dump -Fc` (see README.md).
#
# Writes DIR/LABEL-<UTC time>.dump plus a .sha256 beside it, checks the archive is readable
# (`pg_restore --list`), then keeps only the --keep newest dumps of that label. Prints the dump's
# path on stdout; progress goes to stderr.
#
# Credentials: put the password in ~/.pgpass (mode 0600) or PGPASSWORD, not in the URL, so it
# never shows in `ps` or cron mail. Nothing secret is written by this script.
set -euo pipefail

USAGE="usage: $(basename "$0") --url postgres://user@host:port/db --out DIR [--keep N] [--label NAME] [--pg-bin DIR]"
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

url=""
out=""
keep=14
label="tbg"
PG_BIN=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --url) url=${2-}; shift 2 || usage_error "--url needs a value" ;;
    --out) out=${2-}; shift 2 || usage_error "--out needs a value" ;;
    --keep) keep=${2-}; shift 2 || usage_error "--keep needs a value" ;;
    --label) label=${2-}; shift 2 || usage_error "--label needs a value" ;;
    --pg-bin) PG_BIN=${2-}; shift 2 || usage_error "--pg-bin needs a value" ;;
    -h | --help) printf '%s\n' "$USAGE"; exit 0 ;;
    *) usage_error "unknown argument '$1'" ;;
  esac
done
[[ "$url" =~ ^postgres(ql)?:// ]] || usage_error "--url must be a postgres:// URL"
[[ -n "$out" ]] || usage_error "--out is required"
[[ "$label" =~ ^[A-Za-z0-9_-]+$ ]] || usage_error "--label must be letters, digits, '_' or '-'"
require_positive_int --keep "$keep"

pg_dump=$(tool pg_dump)
pg_restore=$(tool pg_restore)
mkdir -p -- "$out"
umask 077

target="$out/$label-$(utc_stamp).dump"
[[ ! -e "$target" ]] || die "$target already exists"
partial="$target.partial"
trap 'rm -f -- "$partial"' EXIT

note "dumping to $target"
# --lock-wait-timeout: fail instead of queueing behind a long ACCESS EXCLUSIVE lock (and blocking
# the collector's writes queued behind us).
"$pg_dump" --dbname="$url" --format=custom --compress=6 --lock-wait-timeout=60s \
  --file="$partial"
"$pg_restore" --list "$partial" >/dev/null || die "the dump in $partial is not readable"
mv -- "$partial" "$target"
trap - EXIT
write_checksum "$target"

prune "$out" "$label-[0-9]" ".dump" "$keep"
printf '%s\n' "$target"
