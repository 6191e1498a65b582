#!/usr/bin/env bash
# compare_serve.sh BUILD_DIR [SECONDS] [ROUNDS] [CONCURRENCY...]
# Issue 3's gRPC targets, measured as ratios in one run: `kubeai-scaler serve`
# with 10,000 policies against noop_scaler, the same grpc_load for both,
# alternating server by server within each round (which one goes first
# alternates too), ROUNDS rounds (default 7) of SECONDS (default 5, after a
# 1 s warm-up) at each concurrency (default 16 64). Prints every run, then the
# medians over undisturbed runs (other% < 5; see README.md) and the ratios:
# throughput serve/noop (target >= 0.9) and p99 serve/noop (target <= 1.2).
# MAX_OTHER (default 5) sets the other% above which a run is discarded.
# Exit code 0 whatever the verdict: this is a report.
set -euo pipefail

build=${1:?usage: compare_serve.sh BUILD_DIR [SECONDS] [ROUNDS] [CONCURRENCY...]}
seconds=${2:-5}
rounds=${3:-7}
shift $(( $# < 3 ? $# : 3 ))
concurrencies=(16 64)
[[ $# -gt 0 ]] && concurrencies=("$@")
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=measure_lib.sh
source "$here/measure_lib.sh"

serve=$build/kubeai-scaler
noop_scaler=$build/bench/grpc/noop_scaler
grpc_load=$build/bench/grpc/grpc_load
work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do
    kill -TERM "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  rm -rf "$work"
}
trap cleanup EXIT

/usr/bin/python3 "$here/../make_policies.py" "$work" --policies 10000 --load busy
"$serve" serve --grpc-address 127.0.0.1:0 --metrics-address 127.0.0.1:0 --policy-dir "$work/policies" \
  --metrics-file "$work/metrics.yaml" --evaluation-interval 15s >"$work/serve.log" 2>&1 &
serve_pid=$!
pids+=("$serve_pid")
"$noop_scaler" --address 127.0.0.1:0 >"$work/noop.out" 2>&1 &
noop_pid=$!
pids+=("$noop_pid")
serve_address=$(wait_for_line "$work/serve.log" 'serving gRPC' | sed -n 's/.*address=\([^ ]*\).*/\1/p')
noop_address=$(wait_for_line "$work/noop.out" '^listening on ' | sed 's/^listening on //')
[[ -n $serve_address && -n $noop_address ]] || { echo "a server did not start" >&2; cat "$work/serve.log" >&2; exit 1; }
echo "serve $serve_address (pid $serve_pid), noop $noop_address (pid $noop_pid); 10,000 policies"

printf '%-6s %-5s %12s %9s %9s %9s %11s %11s %7s\n' \
  server conc requests/s p50_us p99_us p999_us server_cpu% client_cpu% other%
for round in $(seq "$rounds"); do
  order=(noop serve)
  (( round % 2 == 0 )) && order=(serve noop)
  for concurrency in "${concurrencies[@]}"; do
    for which in "${order[@]}"; do
      wait_for_quiet
      if [[ $which == serve ]]; then
        measure_run serve "$serve_pid" "$serve_address" "$concurrency" "$seconds" "$grpc_load" "$work"
      else
        measure_run noop "$noop_pid" "$noop_address" "$concurrency" "$seconds" "$grpc_load" "$work"
      fi
    done | tee -a "$work/runs.txt"
  done
done

echo
echo "medians over runs with other% < ${MAX_OTHER:-5}:"
printf '%-5s %-6s %4s %12s %9s %9s %9s\n' conc server runs requests/s p50_us p99_us p999_us
for concurrency in "${concurrencies[@]}"; do
  for which in noop serve; do
    clean() { awk -v s="$which" -v c="$concurrency" -v col="$1" -v max_other="${MAX_OTHER:-5}" '$1 == s && $2 == c && $9 < max_other { print $col }' \
      "$work/runs.txt"; }
    printf '%-5s %-6s %4s %12s %9s %9s %9s\n' "$concurrency" "$which" "$(clean 1 | wc -l)" \
      "$(clean 3 | median)" "$(clean 4 | median)" "$(clean 5 | median)" "$(clean 6 | median)" | tee -a "$work/medians.txt"
  done
done
echo
awk '{ rps[$1, $2] = $4; p99[$1, $2] = $6; conc[$1] = 1 }
  END {
    for (c in conc) {
      if (rps[c, "noop"] == "-" || rps[c, "serve"] == "-" || rps[c, "noop"] == 0 || p99[c, "noop"] == 0) {
        printf "in flight %s: not enough undisturbed runs\n", c; continue
      }
      t = rps[c, "serve"] / rps[c, "noop"]; l = p99[c, "serve"] / p99[c, "noop"]
      printf "in flight %s: throughput serve/noop %.3f (target >= 0.9: %s), p99 serve/noop %.3f (target <= 1.2: %s)\n",
        c, t, (t >= 0.9 ? "met" : "MISSED"), l, (l <= 1.2 ? "met" : "MISSED")
    }
  }' "$work/medians.txt" | sort -n -k3
