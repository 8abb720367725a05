#!/usr/bin/env bash
# Puts a `redis_backup.sh` snapshot in place as a stopped Redis server's RDB file (see README.md).
#
# Run it while Redis is stopped: Redis reads the RDB file only at start, and a running server
# would overwrite it at its next save or shutdown. Verifies the .sha256 when present and the file
# itself with redis-check-rdb, keeps any existing RDB file as <name>.before-restore-<time>, and
# gives the new file the data directory's owner so the redis user can read it.
#
# With `appendonly yes` Redis loads the append-only file instead of the RDB at start: start it
# once with `--appendonly no`, then `CONFIG SET appendonly yes` to rebuild the AOF from the data.
set -euo pipefail

USAGE="usage: $(basename "$0") --rdb FILE --dir REDIS_DATA_DIR [--dbfilename dump.rdb]"
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

rdb=""
dir=""
dbfilename="dump.rdb"
while [[ $# -gt 0 ]]; do
  case "$1" in
    --rdb) rdb=${2-}; shift 2 || usage_error "--rdb needs a value" ;;
    --dir) dir=${2-}; shift 2 || usage_error "--dir needs a value" ;;
    --dbfilename) dbfilename=${2-}; shift 2 || usage_error "--dbfilename needs a value" ;;
    -h | --help) printf '%s\n' "$USAGE"; exit 0 ;;
    *) usage_error "unknown argument '$1'" ;;
  esac
done
[[ -n "$rdb" ]] || usage_error "--rdb is required"
[[ -n "$dir" ]] || usage_error "--dir is required"
[[ "$dbfilename" != */* && -n "$dbfilename" ]] || usage_error "--dbfilename must be a file name"
[[ -f "$rdb" ]] || die "no such snapshot: $rdb"
[[ -d "$dir" ]] || die "no such directory: $dir"

verify_checksum "$rdb"
if command -v redis-check-rdb >/dev/null 2>&1; then
  redis-check-rdb "$rdb" >/dev/null || die "redis-check-rdb rejected $rdb"
fi

target="$dir/$dbfilename"
if [[ -e "$target" ]]; then
  kept="$target.before-restore-$(utc_stamp)"
  mv -- "$target" "$kept"
  note "kept the previous RDB file as $kept"
fi
partial="$target.partial"
trap 'rm -f -- "$partial"' EXIT
cp -- "$rdb" "$partial"
chown --reference="$dir" -- "$partial" 2>/dev/null || true
chmod 0640 -- "$partial"
mv -- "$partial" "$target"
trap - EXIT

if compgen -G "$dir/*.aof" >/dev/null || [[ -d "$dir/appendonlydir" ]]; then
  note "warning: $dir holds append-only files; with appendonly yes Redis loads those, not $dbfilename"
fi
note "restored $rdb as $target; start Redis with dir $dir and dbfilename $dbfilename"
printf '%s\n' "$target"
