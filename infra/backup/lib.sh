# Shared helpers for the backup scripts in this directory. Sourced, not executed.
# shellcheck shell=bash

# die MESSAGE...: print "<script>: MESSAGE" to stderr and exit 1.
die() {
  printf '%s: %s\n' "$(basename "$0")" "$*" >&2
  exit 1
}

# usage_error MESSAGE: print the message and the script's usage to stderr and exit 2.
usage_error() {
  printf '%s: %s\n%s\n' "$(basename "$0")" "$1" "$USAGE" >&2
  exit 2
}

# note MESSAGE...: progress on stderr, so stdout carries only the result path.
note() {
  printf '%s: %s\n' "$(basename "$0")" "$*" >&2
}

# utc_stamp: a sortable UTC timestamp with milliseconds, e.g. 20261121T023000.123Z.
utc_stamp() {
  date -u +%Y%m%dT%H%M%S.%3NZ
}

# require_positive_int NAME VALUE
require_positive_int() {
  [[ "$2" =~ ^[1-9][0-9]*$ ]] || usage_error "$1 must be a positive integer, got '$2'"
}

# tool NAME: the path of a PostgreSQL client program, from --pg-bin when given, else PATH.
tool() {
  if [[ -n "${PG_BIN:-}" ]]; then
    [[ -x "$PG_BIN/$1" ]] || die "cannot find $1 in $PG_BIN"
    printf '%s\n' "$PG_BIN/$1"
  else
    command -v "$1" >/dev/null 2>&1 ||
      die "cannot find $1 on PATH; install the Debian package postgresql-client or pass --pg-bin"
    printf '%s\n' "$1"
  fi
}

# write_checksum FILE: write FILE.sha256 in `sha256sum -c` format (name relative to its directory).
write_checksum() {
  (cd "$(dirname "$1")" && sha256sum "$(basename "$1")" >"$(basename "$1").sha256")
}

# verify_checksum FILE: check FILE against FILE.sha256 when that exists.
verify_checksum() {
  if [[ -f "$1.sha256" ]]; then
    (cd "$(dirname "$1")" && sha256sum --check --status "$(basename "$1").sha256") ||
      die "checksum mismatch for $1"
    note "checksum ok: $1"
  else
    note "no $1.sha256; skipping checksum verification"
  fi
}

# prune DIR PREFIX SUFFIX KEEP: keep the KEEP newest DIR/PREFIX*SUFFIX entries (names sort by
# time), removing older ones together with their .sha256 files.
prune() {
  local dir=$1 prefix=$2 suffix=$3 keep=$4
  local -a entries=()
  local entry
  while IFS= read -r entry; do
    entries+=("$entry")
  done < <(find "$dir" -mindepth 1 -maxdepth 1 -name "${prefix}*${suffix}" -printf '%f\n' | sort -r)
  local i
  for ((i = keep; i < ${#entries[@]}; i++)); do
    note "retention: removing ${entries[i]}"
    rm -rf -- "${dir:?}/${entries[i]}" "${dir:?}/${entries[i]}.sha256"
  done
}
