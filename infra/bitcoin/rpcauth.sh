#!/usr/bin/env bash
# Prints a Bitcoin Core rpcauth= line for <user> and the matching random password.
#
#   infra/bitcoin/rpcauth.sh ckpool_primary
#
# stdout, line 1: rpcauth=<user>:<salt>$<hmac> for bitcoin.conf (safe to commit to a private
# config repo: the password cannot be recovered from it); line 2: password=<64 hex digits> for
# btcd[].pass in the pool or relay config (shown once, store it only there).
# The format is that of Bitcoin Core's share/rpcauth/rpcauth.py: hmac = HMAC-SHA256 with the
# salt (32 hex digits, as text) as key over the password. Needs openssl.
set -euo pipefail

if [ $# -ne 1 ] || [ -z "$1" ] || [[ "$1" == *:* ]]; then
  echo "usage: rpcauth.sh <user>   (no ':' in the user name)" >&2
  exit 2
fi
command -v openssl >/dev/null 2>&1 || {
  echo "rpcauth.sh: openssl not found (Debian package openssl)" >&2
  exit 1
}

user=$1
salt=$(openssl rand -hex 16)
password=$(openssl rand -hex 32)
hmac=$(printf '%s' "$password" | openssl dgst -sha256 -hmac "$salt" | awk '{print $NF}')
printf 'rpcauth=%s:%s$%s\npassword=%s\n' "$user" "$salt" "$hmac" "$password"
