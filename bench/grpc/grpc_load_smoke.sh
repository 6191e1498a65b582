#!/usr/bin/env bash
# grpc_load_smoke.sh NOOP_SCALER GRPC_LOAD
# Starts noop_scaler on a free loopback port, runs grpc_load against it for about
# a second, and requires at least one successful call and no error. The server is
# stopped whatever happens.
set -euo pipefail

noop_scaler=$1
grpc_load=$2

work=$(mktemp -d)
server_pid=
cleanup() {
  if [[ -n $server_pid ]] && kill -0 "$server_pid" 2>/dev/null; then
    kill -TERM "$server_pid" 2>/dev/null || true
    # A clean shutdown takes well under a second; do not hang the test on it.
    for _ in $(seq 50); do
      kill -0 "$server_pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

: >"$work/server.out"  # exists before the server starts, for the loop below
"$noop_scaler" --address 127.0.0.1:0 >"$work/server.out" 2>"$work/server.err" &
server_pid=$!

address=
for _ in $(seq 100); do
  address=$(sed -n 's/^listening on //p' "$work/server.out")
  [[ -n $address ]] && break
  if ! kill -0 "$server_pid" 2>/dev/null; then
    echo "noop_scaler exited early:" >&2
    cat "$work/server.err" >&2
    exit 1
  fi
  sleep 0.1
done
if [[ -z $address ]]; then
  echo "noop_scaler did not report its address within 10 s" >&2
  exit 1
fi
echo "noop_scaler listening on $address"

status=0
"$grpc_load" --target "$address" --concurrency 4 --duration 1s --policies 100 --json >"$work/load.json" || status=$?
cat "$work/load.json"
if [[ $status -ne 0 ]]; then
  echo "grpc_load failed (exit $status)" >&2
  exit 1
fi
ok=$(sed -n 's/.*"ok": \([0-9]*\).*/\1/p' "$work/load.json")
errors=$(sed -n 's/.*"errors": \([0-9]*\).*/\1/p' "$work/load.json")
if [[ -z $ok || -z $errors || $ok -lt 1 || $errors -ne 0 ]]; then
  echo "expected at least one successful call and no error, got ok=${ok:-?} errors=${errors:-?}" >&2
  exit 1
fi

# The server must stop cleanly on SIGTERM (exit 0), not only be killed.
kill -TERM "$server_pid"
server_status=0
wait "$server_pid" || server_status=$?
server_pid=
if [[ $server_status -ne 0 ]]; then
  echo "noop_scaler exited with $server_status on SIGTERM" >&2
  cat "$work/server.err" >&2
  exit 1
fi
echo "ok: $ok calls, no error; noop_scaler stopped cleanly"
