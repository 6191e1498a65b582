#!/usr/bin/env bash
# measure_floor.sh BUILD_DIR [SECONDS] [REPETITIONS] [CONCURRENCY...]
# Runs grpc_load against noop_scaler at each concurrency (default 1 16 64) for
# SECONDS (default 5, after a 1 s warm-up), REPETITIONS times (default 3) in
# rotation, and prints one line per run. "other%" is the CPU the rest of the
# machine used meanwhile, as a share of all CPUs: a run where it is not near 0
# was disturbed and should be discarded (see README.md). The CPU columns are
# shares of one CPU. GRPC_LOAD_ARGS adds flags to grpc_load (e.g. "--threads 2").
set -euo pipefail

build=${1:?usage: measure_floor.sh BUILD_DIR [SECONDS] [REPETITIONS] [CONCURRENCY...]}
seconds=${2:-5}
repetitions=${3:-3}
shift $(( $# < 3 ? $# : 3 ))
concurrencies=(1 16 64)
[[ $# -gt 0 ]] && concurrencies=("$@")
read -ra extra_args <<<"${GRPC_LOAD_ARGS:-}"
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=measure_lib.sh
source "$here/measure_lib.sh"

noop_scaler=$build/bench/grpc/noop_scaler
grpc_load=$build/bench/grpc/grpc_load
work=$(mktemp -d)
server_pid=
cleanup() {
  if [[ -n $server_pid ]]; then
    kill -TERM "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

"$noop_scaler" --address 127.0.0.1:0 >"$work/server.out" &
server_pid=$!
address=$(wait_for_line "$work/server.out" '^listening on ' | sed 's/^listening on //')
[[ -n $address ]] || { echo "noop_scaler did not start" >&2; exit 1; }

printf '%-6s %-5s %12s %9s %9s %9s %11s %11s %7s\n' \
  server conc requests/s p50_us p99_us p999_us server_cpu% client_cpu% other%
for _ in $(seq "$repetitions"); do
  for concurrency in "${concurrencies[@]}"; do
    wait_for_quiet
    measure_run noop "$server_pid" "$address" "$concurrency" "$seconds" "$grpc_load" "$work" \
      "${extra_args[@]}" | tee -a "$work/runs.txt"
  done
done

echo
echo "medians over runs with other% < 5:"
printf '%-5s %4s %12s %9s %9s %9s\n' conc runs requests/s p50_us p99_us p999_us
for concurrency in "${concurrencies[@]}"; do
  clean() { awk -v c="$concurrency" -v col="$1" '$2 == c && $9 < 5 { print $col }' "$work/runs.txt"; }
  printf '%-5s %4s %12s %9s %9s %9s\n' "$concurrency" "$(clean 1 | wc -l)" \
    "$(clean 3 | median)" "$(clean 4 | median)" "$(clean 5 | median)" "$(clean 6 | median)"
done
