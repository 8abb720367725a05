#!/usr/bin/env bash
# Redis RDB snapshot backup (see README.md).
#
# Asks the server for a background save (BGSAVE SCHEDULE), waits until that save has finished
# and succeeded (INFO persistence: rdb_saves, rdb_bgsave_in_progress, rdb_last_bgsave_status),
# copies the RDB file to DIR/redis-<UTC time>.rdb, checks it with redis-check-rdb when available,
# writes a .sha256 beside it and keeps the --keep newest. Prints the copy's path on stdout.
#
# The RDB file is read from the server's `CONFIG GET dir`/`dbfilename`, so run this on the Redis
# host, or pass --rdb-path when CONFIG is renamed. A password goes in REDISCLI_AUTH, not the URL.
set -euo pipefail

USAGE="usage: $(basename "$0") --url redis://host:port --out DIR [--keep N] [--rdb-path FILE] [--timeout SECONDS]"
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

url=""
out=""
keep=12
rdb_path=""
timeout_s=300
while [[ $# -gt 0 ]]; do
  case "$1" in
    --url) url=${2-}; shift 2 || usage_error "--url needs a value" ;;
    --out) out=${2-}; shift 2 || usage_error "--out needs a value" ;;
    --keep) keep=${2-}; shift 2 || usage_error "--keep needs a value" ;;
    --rdb-path) rdb_path=${2-}; shift 2 || usage_error "--rdb-path needs a value" ;;
    --timeout) timeout_s=${2-}; shift 2 || usage_error "--timeout needs a value" ;;
    -h | --help) printf '%s\n' "$USAGE"; exit 0 ;;
    *) usage_error "unknown argument '$1'" ;;
  esac
done
[[ "$url" =~ ^rediss?:// ]] || usage_error "--url must be a redis:// URL"
[[ -n "$out" ]] || usage_error "--out is required"
require_positive_int --keep "$keep"
require_positive_int --timeout "$timeout_s"
command -v redis-cli >/dev/null 2>&1 || die "cannot find redis-cli; install the Debian package redis-tools"

rcli() {
  redis-cli --no-auth-warning -u "$url" "$@"
}

# persistence FIELD: one field of INFO persistence.
persistence() {
  rcli INFO persistence | tr -d '\r' | sed -n "s/^$1://p"
}

deadline=$((SECONDS + timeout_s))
[[ -n "$(persistence rdb_last_save_time)" ]] || die "cannot read INFO persistence from the server"

# A save counted after these counters were read, at a moment no save was running, started
# after that moment, so it holds every write made before our request.
read_counters() {
  while [[ "$(persistence rdb_bgsave_in_progress)" != "0" ]]; do
    ((SECONDS < deadline)) || die "a background save was still running after ${timeout_s}s"
    sleep 0.2
  done
  saves_before=$(persistence rdb_saves)
  lastsave_before=$(persistence rdb_last_save_time)
  if [[ -z "$saves_before" ]]; then
    # Redis before 7.0 has no rdb_saves, and LASTSAVE counts whole seconds: let this second end
    # so our save's LASTSAVE is larger (this script runs on the Redis host, same clock).
    while (($(date +%s) <= lastsave_before)); do sleep 0.2; done
  fi
}

# SCHEDULE defers our save behind a running AOF rewrite instead of failing; a save that started
# between the counters and the request is refused as "already in progress": wait, ask again.
while :; do
  read_counters
  reply=$(rcli BGSAVE SCHEDULE 2>&1 || true)
  case "$reply" in
    *"Background saving started"* | *"Background saving scheduled"*) break ;;
    *"already in progress"*) ;;
    *) die "BGSAVE failed: $reply" ;;
  esac
  ((SECONDS < deadline)) || die "a background save was still running after ${timeout_s}s"
done
note "BGSAVE: $reply"

while :; do
  in_progress=$(persistence rdb_bgsave_in_progress)
  if [[ -n "$saves_before" ]]; then
    [[ "$in_progress" == "0" && "$(persistence rdb_saves)" -gt "$saves_before" ]] && break
  else
    [[ "$in_progress" == "0" && "$(persistence rdb_last_save_time)" -gt "$lastsave_before" ]] && break
  fi
  ((SECONDS < deadline)) || die "BGSAVE did not finish within ${timeout_s}s"
  sleep 0.2
done
[[ "$(persistence rdb_last_bgsave_status)" == "ok" ]] || die "BGSAVE failed; see the Redis log"

if [[ -z "$rdb_path" ]]; then
  dir=$(rcli CONFIG GET dir | sed -n 2p)
  dbfilename=$(rcli CONFIG GET dbfilename | sed -n 2p)
  [[ -n "$dir" && -n "$dbfilename" ]] || die "CONFIG GET dir/dbfilename failed; pass --rdb-path"
  rdb_path="$dir/$dbfilename"
fi
[[ -f "$rdb_path" ]] || die "no RDB file at $rdb_path (run this on the Redis host)"

mkdir -p -- "$out"
umask 077
target="$out/redis-$(utc_stamp).rdb"
[[ ! -e "$target" ]] || die "$target already exists"
partial="$target.partial"
trap 'rm -f -- "$partial"' EXIT
# Redis replaces the file by rename, so this copy reads one complete snapshot.
cp -- "$rdb_path" "$partial"
if command -v redis-check-rdb >/dev/null 2>&1; then
  redis-check-rdb "$partial" >/dev/null || die "redis-check-rdb rejected the copy of $rdb_path"
fi
mv -- "$partial" "$target"
trap - EXIT
write_checksum "$target"

prune "$out" "redis-[0-9]" ".rdb" "$keep"
printf '%s\n' "$target"
