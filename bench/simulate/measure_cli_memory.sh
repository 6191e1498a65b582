#!/usr/bin/env bash
# measure_cli_memory.sh KUBEAI_SCALER [--smoke]
# The real `kubeai-scaler simulate` on a 1-day and a 7-day rate trace
# (15 s rows, written to a temporary directory), 10 policies, under
# /usr/bin/time -v: its maximum RSS and elapsed time for --summary-only,
# --output csv > /dev/null (streamed) and --output json > /dev/null (the
# timelines kept), on one core (taskset -c 1) when taskset is there.
# Streaming and summary-only must keep the RSS flat from 1 to 7 days; JSON is
# the contrast. --smoke: 1 hour and 2 hours, the CSV's line count checked;
# nothing about size or time is asserted. bench/simulate/README.md.
set -euo pipefail
scaler=$1
smoke=${2:-}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

if [[ $smoke == --smoke ]]; then
  spans=("1h:240" "2h:480")
else
  spans=("1d:5760" "7d:40320")
fi
pin=()
if command -v taskset >/dev/null; then
  pin=(taskset -c 1)
fi

# A daily swell (2 - 20 requests/s) with a 5-minute burst of +5 every 97
# minutes and a few per cent of noise, as simulate_bench's demand.
/usr/bin/python3 - "$work" "${spans[@]}" <<'PY'
import math, random, sys
work = sys.argv[1]
for span in sys.argv[2:]:
    name, steps = span.split(":")
    rng = random.Random(2024)
    with open(f"{work}/rate-{name}.csv", "w") as out:
        out.write("time,requestsPerSecond\n")
        for i in range(int(steps)):
            t = i * 15
            day = (t % 86400) / 86400
            swell = 0.5 - 0.5 * math.cos(2 * math.pi * (day - 4 / 24))
            burst = (t % (97 * 60)) < 5 * 60
            rate = (2 + 18 * swell + (5 if burst else 0)) * rng.uniform(0.95, 1.05)
            out.write(f"{t},{rate:.4f}\n")
PY

for span in "${spans[@]}"; do
  name=${span%%:*}
  cat > "$work/workload-$name.yaml" <<YAML
apiVersion: kubeai.io/v1alpha1
kind: SimulationWorkload
metadata: {name: bench-$name}
spec:
  interval: 15s
  seed: 7
  hpa: {syncPeriod: 15s, tolerance: 0.1}
  replicas: {initial: 2, startupSeconds: 120}
  capacity: {requestsPerSecond: 2.5, tokensPerSecond: 5000}
  costPerGpuHour: 2.5
  slo: {latencyP99Ms: 8000, requestsWaiting: 20}
  demand: {rate: rate-$name.csv}
YAML
done

# Ten policies on what a rate trace lets the model produce (no token counts:
# no TTFT, no KV cache): the seed metrics and pool/queue presets, MaxRatio,
# AverageRatio and WeightedRatio, windows and rate policies.
policy_args=()
for i in $(seq 0 9); do
  k=$(( 60 + i * 5 ))
  case $((i % 5)) in
    0) metrics="    gpuUtilization: {targetPercentage: $k}"; algorithm="MaxRatio" ;;
    1) metrics="    requestQueueDepth: {targetDepth: $(( 2 + i ))}
    gpuUtilization: {targetPercentage: $k}"; algorithm="MaxRatio" ;;
    2) metrics="    latency: {targetP99Ms: $(( 3000 + 200 * i )), targetP95Ms: $(( 2000 + 200 * i ))}
    gpuUtilization: {targetPercentage: $k}"; algorithm="AverageRatio" ;;
    3) metrics="    latency: {targetP99Ms: 4000}
    gpuUtilization: {targetPercentage: $k}
    requestQueueDepth: {targetDepth: 4}"; algorithm="{name: WeightedRatio, weights: [2, 1, 1.5, 0.5]}" ;;
    4) metrics="    custom:
      - {name: waiting, engine: vllm, signal: requestsWaiting, target: {type: AverageValue, value: 2}}
      - {name: saturation, engine: llm-d, signal: poolSaturation, target: {type: Value, value: $k}}"; algorithm="MaxRatio" ;;
  esac
  [[ $algorithm == \{* ]] || algorithm="{name: $algorithm}"
  cat > "$work/policy-$i.yaml" <<YAML
apiVersion: kubeai.io/v1alpha1
kind: AIInferenceAutoscalerPolicy
metadata: {name: p$i, namespace: bench}
spec:
  targetRef: {kind: Deployment, name: llm}
  minReplicas: 1
  maxReplicas: 40
  cooldownPeriod: 60
  scaleUp:
    policies: [{type: Pods, value: 4, periodSeconds: 60}]
  scaleDown:
    stabilizationWindowSeconds: 300
    policies: [{type: Percent, value: 50, periodSeconds: 60}]
  algorithm: $algorithm
  metrics:
$metrics
YAML
  policy_args+=(--policy "$work/policy-$i.yaml")
done

measure() {  # measure LABEL OUTPUT_FILE ARGS...: one line of the table
  local label=$1 output=$2
  shift 2
  "${pin[@]}" /usr/bin/time -v -o "$work/time.txt" "$scaler" simulate "${policy_args[@]}" "$@" > "$output"
  local rss elapsed user
  rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$work/time.txt")
  elapsed=$(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$work/time.txt")
  user=$(awk -F': ' '/User time/ {print $2}' "$work/time.txt")
  printf '%-28s %12s %12s %10s\n' "$label" "$rss" "$elapsed" "$user"
}

printf 'kubeai-scaler simulate, 10 policies, load average %s\n' "$(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-28s %12s %12s %10s\n' "run" "max RSS KiB" "elapsed" "user s"
for span in "${spans[@]}"; do
  name=${span%%:*}
  steps=${span##*:}
  workload=(--workload "$work/workload-$name.yaml")
  measure "$name --summary-only" /dev/null "${workload[@]}" --summary-only
  if [[ $smoke == --smoke ]]; then
    measure "$name --output csv" "$work/out.csv" "${workload[@]}" --output csv
    lines=$(wc -l < "$work/out.csv")
    if (( lines != 10 * steps + 1 )); then
      echo "error: the CSV has $lines lines, expected $(( 10 * steps + 1 ))" >&2
      exit 1
    fi
  else
    measure "$name --output csv" /dev/null "${workload[@]}" --output csv
  fi
  measure "$name --output json" /dev/null "${workload[@]}" --output json
done
