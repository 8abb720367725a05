#!/usr/bin/env bash
# The README's test command (`deno task test`, after tools/ensure_tools.sh): runs the whole suite.
#
# With arguments (`deno task test tests/x_test.ts --filter y`) it is plain `deno test` with the
# suite's permissions. Without, it runs every test file in one `deno test`, except the files listed
# in BESIDE, which a second `deno test` process runs at the same time. Those files spend most of
# their wall time waiting, not computing (tests/collector_test.ts: ~4 min wall, ~30 % of one core,
# mostly JetStream's 30 s ack wait before redelivering a killed collector's batches;
# tests/nats_topology_test.ts: 41 s wall for 13 s of CPU, servers' start-up and leaf reconnects;
# tests/emitter_test.ts: 17 s for 10 s, NATS outages and backoff), so running them beside the rest
# shortens the suite by their length while adding little load. They are
# separate processes, not `--parallel` workers, because several tests inspect their own process
# (its children, its RSS), which workers of one process would share.
#
# The second run's lines are prefixed with "[beside] ". The exit status is non-zero when either
# run fails.
set -uo pipefail

FLAGS=(
  --allow-net=127.0.0.1,localhost,0.0.0.0,[::1],[::]
  --allow-read --allow-write --allow-run --allow-env --allow-ffi --allow-sys --unstable-net
)

if [ "$#" -gt 0 ]; then
  exec deno test "${FLAGS[@]}" "$@"
fi

BESIDE=(
  tests/collector_test.ts
  tests/nats_topology_test.ts
  tests/emitter_test.ts
)

IGNORE="$(IFS=,; printf '%s' "${BESIDE[*]}")"

(
  set -o pipefail
  deno test "${FLAGS[@]}" "${BESIDE[@]}" 2>&1 | sed -u 's/^/[beside] /'
) &
beside_pid=$!

deno test "${FLAGS[@]}" --ignore="$IGNORE"
main_status=$?

wait "$beside_pid"
beside_status=$?

if [ "$beside_status" -ne 0 ]; then
  printf '== the run beside the suite (%s) failed with status %d\n' "${BESIDE[*]}" \
    "$beside_status" >&2
fi
if [ "$main_status" -ne 0 ]; then
  printf '== the suite failed with status %d\n' "$main_status" >&2
fi
[ "$main_status" -eq 0 ] && [ "$beside_status" -eq 0 ]
