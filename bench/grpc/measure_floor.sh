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

: >"$work/server.out"  # exists before the server starts, for the loop below
"$noop_scaler" --address 127.0.0.1:0 >"$work/server.out" &
server_pid=$!
for _ in $(seq 100); do
  grep -q '^listening on ' "$work/server.out" && break
  sleep 0.1
done
address=$(sed -n 's/^listening on //p' "$work/server.out")
[[ -n $address ]] || { echo "noop_scaler did not start" >&2; exit 1; }

# Busy and total jiffies of the whole machine, and CPU jiffies of one process.
machine_jiffies() { awk '/^cpu / { print $2+$3+$4+$7+$8+$9, $2+$3+$4+$5+$6+$7+$8+$9 }' /proc/stat; }
process_jiffies() { awk '{ print $14+$15 }' "/proc/$1/stat"; }
field() { sed -n "s/.*\"$1\": \([0-9.]*\).*/\1/p" "$work/load.json"; }

# This machine may be shared: wait (at most a minute) for one quiet second
# before each run, so that fewer runs have to be discarded.
wait_for_quiet() {
  local busy0 total0 busy1 total1
  for _ in $(seq 60); do
    read -r busy0 total0 < <(machine_jiffies)
    sleep 1
    read -r busy1 total1 < <(machine_jiffies)
    (( (busy1 - busy0) * 100 < 5 * (total1 - total0) )) && return 0
  done
  return 0  # run anyway; other% tells
}

ticks=$(getconf CLK_TCK)
cpus=$(nproc)
printf '%-5s %4s %12s %9s %9s %9s %11s %11s %7s\n' \
  conc rep requests/s p50_us p99_us p999_us server_cpu% client_cpu% other%
for repetition in $(seq "$repetitions"); do
  for concurrency in "${concurrencies[@]}"; do
    wait_for_quiet
    read -r busy0 total0 < <(machine_jiffies)
    server0=$(process_jiffies "$server_pid")
    /usr/bin/time -f '%U %S' -o "$work/client.time" \
      "$grpc_load" --target "$address" --concurrency "$concurrency" --warmup 1s --duration "${seconds}s" --json \
      "${extra_args[@]}" \
      >"$work/load.json"
    read -r busy1 total1 < <(machine_jiffies)
    server1=$(process_jiffies "$server_pid")
    read -r client_user client_system <"$work/client.time"
    awk -v c="$concurrency" -v r="$repetition" -v rps="$(field requests_per_second)" \
        -v p50="$(field p50)" -v p99="$(field p99)" -v p999="$(field p999)" \
        -v busy=$((busy1 - busy0)) -v total=$((total1 - total0)) -v server=$((server1 - server0)) \
        -v client="$client_user $client_system" -v hz="$ticks" -v cpus="$cpus" '
      BEGIN {
        split(client, cs, " "); clientj = (cs[1] + cs[2]) * hz
        # Shares of one CPU, over the run (warm-up included) as /proc/stat sees it.
        wall = total / cpus
        other = (busy - server - clientj) / total * 100; if (other < 0) other = 0
        printf "%-5s %4s %12.0f %9.1f %9.1f %9.1f %11.0f %11.0f %7.1f\n", c, r, rps, p50, p99, p999,
               server / wall * 100, clientj / wall * 100, other
      }' | tee -a "$work/runs.txt"
  done
done

# Medians per concurrency over the undisturbed runs (other% < 5).
median() {
  sort -n | awk '{ v[NR] = $1 }
    END { if (!NR) printf "-"; else printf "%.1f", NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
echo
echo "medians over runs with other% < 5:"
printf '%-5s %4s %12s %9s %9s %9s\n' conc runs requests/s p50_us p99_us p999_us
for concurrency in "${concurrencies[@]}"; do
  clean() { awk -v c="$concurrency" -v col="$1" '$1 == c && $9 < 5 { print $col }' "$work/runs.txt"; }
  printf '%-5s %4s %12s %9s %9s %9s\n' "$concurrency" "$(clean 1 | wc -l)" \
    "$(clean 3 | median)" "$(clean 4 | median)" "$(clean 5 | median)" "$(clean 6 | median)"
done
