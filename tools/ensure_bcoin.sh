#!/usr/bin/env bash
# Installs bcoin (npm, an independent full-node implementation in JavaScript) into
# ~/.cache/tbg/bcoin-<version> for tests/node_bcoin_e2e_test.ts, and prints that prefix as its last
# line. Exits at once when it is installed. Run by tools/ensure_tools.sh and by the test itself.
#
# `--ignore-scripts`: bcoin's disk database, leveldown 4.0.1, does not compile on Node >= 20 and
# npm would give up on the whole install; the tests run bcoin in memory and never load it
# (tests/support/bcoin/bcoin_node.cjs). Of the other native add-ons only mrmr (murmur3, for bloom
# filters) has no JavaScript fallback, so it alone is built; bcrypto, secp256k1, bsip and bstring
# fall back to JavaScript.
set -euo pipefail

VERSION=1.0.2
PREFIX="${HOME}/.cache/tbg/bcoin-${VERSION}"
MARK="${PREFIX}/.installed"

if [ -f "$MARK" ]; then
  printf '%s\n' "$PREFIX"
  exit 0
fi
# Two test processes may install at once on a fresh machine: one installs, the other waits.
mkdir -p "${HOME}/.cache/tbg"
exec 9>"${HOME}/.cache/tbg/bcoin-${VERSION}.lock"
flock 9
if [ -f "$MARK" ]; then
  printf '%s\n' "$PREFIX"
  exit 0
fi
for program in node npm; do
  if ! command -v "$program" >/dev/null 2>&1; then
    printf 'Cannot install bcoin %s: %s not found (tools/ensure_tools.sh installs the npm package)\n' \
      "$VERSION" "$program" >&2
    exit 1
  fi
done

printf '== installing bcoin %s with npm into %s (tests/node_bcoin_e2e_test.ts)\n' "$VERSION" "$PREFIX" >&2
rm -rf "$PREFIX"
mkdir -p "$PREFIX"
npm install --prefix "$PREFIX" --ignore-scripts --no-audit --no-fund --loglevel=error \
  "bcoin@${VERSION}" >&2
# node-gyp downloads Node's headers from nodejs.org unless told where they are; that host is not
# reachable from these machines, and Debian's nodejs package ships them under /usr/include/node.
if [ -z "${npm_config_nodedir:-}" ] && [ -f /usr/include/node/node.h ]; then
  export npm_config_nodedir=/usr
fi
(cd "$PREFIX" && npm rebuild mrmr --loglevel=error >&2)
if [ ! -f "${PREFIX}/node_modules/mrmr/build/Release/mrmr.node" ]; then
  printf 'Cannot install bcoin %s: building mrmr (node-gyp) failed\n' "$VERSION" >&2
  exit 1
fi
touch "$MARK"
printf '%s\n' "$PREFIX"
