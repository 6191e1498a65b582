# Shared by measure_floor.sh and compare_serve.sh (sourced, not run).

# Busy and total jiffies of the whole machine, and CPU jiffies of one process.
machine_jiffies() { awk '/^cpu / { print $2+$3+$4+$7+$8+$9, $2+$3+$4+$5+$6+$7+$8+$9 }' /proc/stat; }
process_jiffies() { awk '{ print $14+$15 }' "/proc/$1/stat"; }

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

# wait_for_line FILE REGEX: the first line of FILE matching REGEX, within 30 s.
wait_for_line() {
  for _ in $(seq 300); do
    if grep -qE "$2" "$1" 2>/dev/null; then
      grep -m1 -E "$2" "$1"
      return 0
    fi
    sleep 0.1
  done
  return 1
}

# measure_run LABEL SERVER_PID ADDRESS CONCURRENCY SECONDS GRPC_LOAD WORK [ARGS...]
# One grpc_load run; prints "LABEL conc requests/s p50 p99 p999 server% client% other%".
measure_run() {
  local label=$1 pid=$2 address=$3 concurrency=$4 seconds=$5 grpc_load=$6 work=$7
  shift 7
  local busy0 total0 busy1 total1 server0 server1 client_user client_system
  read -r busy0 total0 < <(machine_jiffies)
  server0=$(process_jiffies "$pid")
  /usr/bin/time -f '%U %S' -o "$work/client.time" \
    "$grpc_load" --target "$address" --concurrency "$concurrency" --warmup 1s --duration "${seconds}s" --json "$@" \
    >"$work/load.json"
  read -r busy1 total1 < <(machine_jiffies)
  server1=$(process_jiffies "$pid")
  read -r client_user client_system <"$work/client.time"
  field() { sed -n "s/.*\"$1\": \([0-9.]*\).*/\1/p" "$work/load.json"; }
  awk -v label="$label" -v c="$concurrency" -v rps="$(field requests_per_second)" \
      -v p50="$(field p50)" -v p99="$(field p99)" -v p999="$(field p999)" \
      -v busy=$((busy1 - busy0)) -v total=$((total1 - total0)) -v server=$((server1 - server0)) \
      -v client="$client_user $client_system" -v hz="$(getconf CLK_TCK)" -v cpus="$(nproc)" '
    BEGIN {
      split(client, cs, " "); clientj = (cs[1] + cs[2]) * hz
      # Shares of one CPU, over the run (warm-up included) as /proc/stat sees it.
      wall = total / cpus
      other = (busy - server - clientj) / total * 100; if (other < 0) other = 0
      printf "%-6s %-5s %12.0f %9.1f %9.1f %9.1f %11.0f %11.0f %7.1f\n", label, c, rps, p50, p99, p999,
             server / wall * 100, clientj / wall * 100, other
    }'
}

median() {
  sort -n | awk '{ v[NR] = $1 }
    END { if (!NR) printf "-"; else printf "%.1f", NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
