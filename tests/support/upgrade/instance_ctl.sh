#!/usr/bin/env bash
# Stand-in for `systemctl start|stop tbg-stratum@<n>` where there is no systemd (the tests):
# tools/upgrade.ts runs it through its --start and --stop hooks.
#
#   instance_ctl.sh start <dir> <n>   starts tools/launch.ts run stratum --config <dir>/stratum-<n>.json
#                                     -- --instance <n> in the background (log <dir>/stratum-<n>.log,
#                                     pid <dir>/stratum-<n>.pid) and returns, as systemctl start does
#                                     for a Type=exec unit
#   instance_ctl.sh stop <dir> <n>    SIGTERM to the launcher (it forwards it: the pool drains), then
#                                     waits until it has exited (at most 60 s), as systemctl stop does
#
# Run from the repository root; DENO names the deno binary (default: deno on PATH).
set -euo pipefail
usage() { echo "usage: instance_ctl.sh <start|stop> <dir> <instance 0-255>" >&2; exit 2; }
[[ $# -eq 3 ]] || usage
action=$1 dir=$2 n=$3
[[ $n =~ ^[0-9]{1,3}$ ]] || usage
pidfile="$dir/stratum-$n.pid"

# A zombie (exited, not yet reaped by whoever inherited it) counts as gone.
alive() { local stat; stat=$(ps -o stat= -p "$1" 2>/dev/null) && [[ $stat != Z* ]]; }

case $action in
  start)
    if [[ -f $pidfile ]] && alive "$(cat "$pidfile")"; then
      echo "instance $n is already running (pid $(cat "$pidfile"))" >&2
      exit 1
    fi
    "${DENO:-deno}" run --allow-read --allow-run --allow-env=INIT_CWD tools/launch.ts run stratum \
      --config "$dir/stratum-$n.json" -- --instance "$n" >>"$dir/stratum-$n.log" 2>&1 </dev/null &
    echo $! >"$pidfile"
    ;;
  stop)
    [[ -f $pidfile ]] || exit 0
    pid=$(cat "$pidfile")
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 600); do
      if ! alive "$pid"; then rm -f "$pidfile"; exit 0; fi
      sleep 0.1
    done
    echo "instance $n (pid $pid) still running 60 s after SIGTERM" >&2
    exit 1
    ;;
  *) usage ;;
esac
