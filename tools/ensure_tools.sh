#!/usr/bin/env bash
# Installs, with apt-get, every Debian package whose program the tests start and that this machine
# lacks. Run by the README's test command (`deno task test`) before `deno test`, and by .ci/run, so
# a fresh machine needs nothing installed by hand. Exits 0 at once when everything is present.
# Also installs bcoin from npm (tools/ensure_bcoin.sh; g++, make and python3 build its one native
# add-on with node-gyp, against the Node headers Debian's nodejs ships).
#
# Each row: the program the tests run, then the Debian package that ships it. A test that starts a
# program missing from this list fails on a fresh machine: add the row here.
set -euo pipefail

TOOLS="
nats-server     nats-server
redis-server    redis-server
redis-cli       redis-tools
psql            postgresql-client
curl            curl
jq              jq
initdb          postgresql
setpriv         util-linux
promtool        prometheus
prometheus      prometheus
systemd-analyze systemd
openssl         openssl
nmap            nmap
testssl         testssl.sh
npm             npm
node            nodejs
g++             g++
make            make
python3         python3
ip              iproute2
ss              iproute2
sysctl          procps
pgrep           procps
ps              procps
faketime        faketime
stress-ng       stress-ng
taskset         util-linux
flock           util-linux
mount           mount
umount          mount
tail            coreutils
"

# Debian installs some of these outside a non-login PATH (nats-server and initdb).
found() {
  command -v "$1" >/dev/null 2>&1 && return 0
  [ -x "/usr/sbin/$1" ] || [ -x "/sbin/$1" ] && return 0
  if [ "$1" = initdb ]; then
    compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null && return 0
  fi
  return 1
}

missing=()
while read -r program package; do
  [ -z "$program" ] && continue
  found "$program" || missing+=("$package")
done <<<"$TOOLS"
install_missing() {
  printf '== installing with apt-get (tests need them): %s\n' "${missing[*]}" >&2
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then
    if ! command -v sudo >/dev/null 2>&1; then
      printf 'Cannot install %s: not root and no sudo; install these Debian packages first\n' \
        "${missing[*]}" >&2
      exit 1
    fi
    SUDO="sudo"
  fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
  for package in "${missing[@]}"; do
    printf '== installed %s\n' "$package" >&2
  done
}
[ "${#missing[@]}" -eq 0 ] || install_missing

# Not a Debian package: bcoin from npm into ~/.cache/tbg (tests/node_bcoin_e2e_test.ts). Returns at
# once when installed.
bash "$(dirname "$0")/ensure_bcoin.sh" >/dev/null
