#!/usr/bin/env bash
# serve_memory.sh BUILD_DIR [POLICIES]
# RSS growth per policy of the real `kubeai-scaler serve`, everything included:
# serve is started on an empty policy directory and on POLICIES policies
# (default 10,000; bench/make_policies.py), each is scraped once on /metrics
# (the per-policy series exist from then on) and given two evaluation cycles,
# and the difference in RSS is divided by POLICIES. Target (issue 3): <= 12 KiB.
set -euo pipefail

build=${1:?usage: serve_memory.sh BUILD_DIR [POLICIES]}
policies=${2:-10000}
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../grpc/measure_lib.sh
source "$here/../grpc/measure_lib.sh"

work=$(mktemp -d)
pid=
cleanup() {
  if [[ -n $pid ]]; then
    kill -TERM "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

rss_of() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }

# measure DIR: prints RSS in KiB of serve on DIR after a scrape and two cycles.
measure() {
  local dir=$1
  : >"$dir/serve.log"
  "$build/kubeai-scaler" serve --grpc-address 127.0.0.1:0 --metrics-address 127.0.0.1:0 \
    --policy-dir "$dir/policies" --metrics-file "$dir/metrics.yaml" --evaluation-interval 1s \
    >"$dir/serve.log" 2>&1 &
  pid=$!
  local http
  http=$(wait_for_line "$dir/serve.log" 'serving HTTP' | sed -n 's/.*address=\([^ ]*\).*/\1/p')
  [[ -n $http ]] || { echo "serve did not start" >&2; cat "$dir/serve.log" >&2; exit 1; }
  curl -sf "http://$http/metrics" -o "$dir/metrics.txt"
  sleep 2.5  # two evaluation cycles: the scrape's garbage is handed back after each
  rss_of "$pid"
  echo "$(grep -c '^kubeai_autoscaler' "$dir/metrics.txt") series" >&2
  kill -TERM "$pid"
  wait "$pid" || true
  pid=
}

mkdir -p "$work/empty/policies"
echo "{}" >"$work/empty/metrics.yaml"
/usr/bin/python3 "$here/../make_policies.py" "$work/full" --policies "$policies" --load busy
empty=$(measure "$work/empty")
full=$(measure "$work/full")
awk -v e="$empty" -v f="$full" -v n="$policies" 'BEGIN {
  per = (f - e) * 1024 / n
  printf "serve RSS: %d KiB with no policy, %d KiB with %d: %.0f bytes per policy (target <= 12288: %s)\n",
    e, f, n, per, per <= 12288 ? "met" : "MISSED"
}'
