#!/usr/bin/python3
"""Issue 4's benchmark: `serve --prometheus-url` with a real Prometheus.

  prometheus_bench.py --scaler BUILD/kubeai-scaler [--policies 10000] [--workloads 10]
                      [--cycles 10] [--reactions 10] [--interval 1s] [--mix seed|presets]

Starts an exporter (this script, on 127.0.0.1) with the series the default
queries read (DCGM GPU utilization, a latency histogram, a queue gauge,
kube-state-metrics replicas and ready replicas) for --workloads Deployments;
Debian's Prometheus scraping it every second; and `kubeai-scaler serve` on
--policies policies spread over the workloads. Each policy enables GPU, P99/P95
latency and queue depth, so with the replicas and ready replicas queries a
workload has 6 distinct expressions and 10 workloads give 60, however many
policies share them. With --mix presets (issue 12) each policy has five
metrics, seed ones and engine presets mixed, over 100 workloads by default:
preset_mix.py says which and how many distinct expressions they make. It reports:

  - HTTP queries per cycle, counted by Prometheus itself
    (prometheus_http_requests_total{handler="/api/v1/query"} on its /metrics,
    which reading does not count) over --cycles cycles of serve
    (kubeai_scaler_evaluation_cycle_seconds_count): target = the distinct
    expressions. Beside it, Prometheus' query log (query_log_file) cut into
    cycles by the pauses between them: the queries of each cycle and the
    distinct expressions among them, both of which must be that count; and
    Prometheus' own execution time of them;
  - the policies by state and how many of their metrics have a value (every
    expression must return data);
  - the cycle time (kubeai_scaler_evaluation_cycle_seconds: mean and the
    largest bucket bound reached);
  - the reaction time: from the exporter changing workload-0's GPU
    utilization to GetMetrics answering the new desired replicas for
    policy-0, --reactions times. Target: at most one scrape interval (1 s)
    plus one evaluation interval.
Exit code 0 whatever the verdict (a report); 1 when something fails to run.
"""
import argparse
import datetime
import json
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import preset_mix  # noqa: E402 (beside this script)

PROTO = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "proto", "externalscaler.proto")
SCRAPE_SECONDS = 1.0

# The seed mix: the four seed metrics, in the presets mix's policy template.
SEED_METRICS = """    gpuUtilization:
      targetPercentage: 50
    latency:
      targetP99Ms: 500
      targetP95Ms: 300
    requestQueueDepth:
      enabled: true
      targetDepth: 5
"""


class Exporter:
    """The workloads' series, in Prometheus' text format; values set by the benchmark."""

    def __init__(self, workloads, presets=False):
        self.workloads = workloads
        self.presets = presets
        self.gpu = {w: 40.0 for w in range(workloads)}
        self.started = time.monotonic()
        exporter = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (http.server's name)
                body = exporter.render().encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.address = "127.0.0.1:%d" % self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def render(self):
        # Counters grow with time: 10 requests/s per pod, all of them 0.1-0.25 s.
        elapsed = time.monotonic() - self.started
        lines = []
        for w in range(self.workloads):
            # Named as a Deployment's pods are: <name>-<pod-template-hash>-<5 characters>.
            names = ["workload-%d-7d9c5b8f4c-%s" % (w, suffix) for suffix in ("x2b4q", "k8w9p")]
            if self.presets:
                lines.extend(preset_mix.render(w, names, elapsed))
            for name in names:
                pod = 'namespace="default",pod="%s"' % name
                lines.append('DCGM_FI_DEV_GPU_UTIL{%s,gpu="0"} %g' % (pod, self.gpu[w]))
                lines.append("inference_request_queue_depth{%s} %d" % (pod, 3))
                count = 10.0 * elapsed
                for le, share in (("0.1", 0.0), ("0.25", 1.0), ("0.5", 1.0), ("+Inf", 1.0)):
                    lines.append('inference_request_duration_seconds_bucket{%s,le="%s"} %g' % (pod, le, count * share))
                lines.append("inference_request_duration_seconds_sum{%s} %g" % (pod, count * 0.2))
                lines.append("inference_request_duration_seconds_count{%s} %g" % (pod, count))
            lines.append('kube_deployment_spec_replicas{namespace="default",deployment="workload-%d"} 2' % w)
            lines.append('kube_deployment_status_replicas_ready{namespace="default",deployment="workload-%d"} 2' % w)
        return "\n".join(lines) + "\n"

    def stop(self):
        self.server.shutdown()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_get(url, timeout=5):
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return response.read().decode()


def sample(text, name, labels=""):
    """The value of one sample line of a text exposition; 0 when absent."""
    prefix = name + ("{" + labels + "}" if labels else "")
    for line in text.splitlines():
        if line.startswith(prefix + " "):
            return float(line.split()[-1])
    return 0.0


def wait_until(condition, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(0.02)
    raise RuntimeError("timed out waiting for " + what)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scaler", required=True)
    parser.add_argument("--prometheus", default="/usr/bin/prometheus")
    parser.add_argument("--policies", type=int, default=10000)
    parser.add_argument("--workloads", type=int, help="10, or 100 with --mix presets")
    parser.add_argument("--cycles", type=int, default=10)
    parser.add_argument("--reactions", type=int, default=10)
    parser.add_argument("--interval", default="1s", help="serve's --evaluation-interval")
    parser.add_argument("--read-deadline", help="serve's --metrics-read-deadline (default: serve's, 2 x interval)")
    parser.add_argument("--mix", choices=("seed", "presets"), default="seed",
                        help="seed: the four seed metrics per policy (issue 4); presets: five metrics, "
                             "seed and engine presets mixed (issue 12, preset_mix.py)")
    args = parser.parse_args()
    presets = args.mix == "presets"
    if args.workloads is None:
        args.workloads = 100 if presets else 10
    interval_seconds = float(args.interval.rstrip("s")) if not args.interval.endswith("ms") \
        else float(args.interval[:-2]) / 1000

    work = tempfile.mkdtemp(prefix="kubeai-prometheus-bench-")
    processes = []
    exporter = None
    try:
        sys.path.insert(0, work)
        subprocess.run([sys.executable, "-m", "grpc_tools.protoc", "-I", os.path.dirname(PROTO),
                        "--python_out", work, "--grpc_python_out", work, os.path.basename(PROTO)], check=True)
        import grpc
        import externalscaler_pb2 as pb
        import externalscaler_pb2_grpc as pb_grpc

        exporter = Exporter(args.workloads, presets)
        query_log = os.path.join(work, "query.log")
        prometheus_address = "127.0.0.1:%d" % free_port()
        with open(os.path.join(work, "prometheus.yml"), "w") as config:
            config.write("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  query_log_file: %s\n"
                         % json.dumps(query_log) +
                         "scrape_configs:\n  - job_name: workloads\n    honor_labels: true\n"
                         "    static_configs:\n      - targets: [%s]\n" % json.dumps(exporter.address))
        with open(os.path.join(work, "prometheus.log"), "w") as log:
            processes.append(subprocess.Popen(
                [args.prometheus, "--config.file", os.path.join(work, "prometheus.yml"),
                 "--storage.tsdb.path", os.path.join(work, "data"), "--web.listen-address", prometheus_address,
                 "--log.level", "warn"], stdout=log, stderr=log))
        prometheus = "http://" + prometheus_address
        wait_until(lambda: _ready(prometheus), 30, "Prometheus to be ready")
        wait_until(lambda: _has_data(prometheus), 30, "Prometheus' first scrape of the exporter")

        os.makedirs(os.path.join(work, "policies"))
        with open(os.path.join(work, "policies", "policies.yaml"), "w") as out:
            if presets:
                texts = [preset_mix.policy(i, args.workloads) for i in range(args.policies)]
                counts_ = {preset_mix.metric_count(i, args.workloads) for i in range(args.policies)}
                if counts_ != {5}:
                    raise RuntimeError("preset mix: policies with %s metrics, not 5" % sorted(counts_))
            else:
                texts = [preset_mix.POLICY.format(i=i, w=i % args.workloads, metrics=SEED_METRICS)
                         for i in range(args.policies)]
            out.write("---\n".join(texts))
        serve_log = open(os.path.join(work, "serve.log"), "w")
        processes.append(subprocess.Popen(
            [args.scaler, "serve", "--grpc-address", "127.0.0.1:0", "--metrics-address", "127.0.0.1:0",
             "--policy-dir", os.path.join(work, "policies"), "--prometheus-url", prometheus,
             "--evaluation-interval", args.interval, "--log-level", "info",
             # No HPA follows the published value here (the exporter's replicas stay 2):
             # with a reaction time, a change never reached would count as current
             # for that long, and the reaction measured would be serve's waiting.
             "--reaction-time", "0s"] + (["--metrics-read-deadline", args.read_deadline] if args.read_deadline else []),
            stdout=serve_log, stderr=serve_log))
        addresses = wait_until(lambda: _serve_addresses(os.path.join(work, "serve.log")), 60, "serve to listen")
        grpc_address, http_address = addresses
        print("%d policies (%s) over %d workloads; Prometheus %s scraping every %.0f s; serve every %s"
              % (args.policies, "five metrics each, seed and presets" if presets else "the seed four",
                 args.workloads, prometheus_address, SCRAPE_SECONDS, args.interval))

        def counts():
            # serve's cycle count first: once it shows a cycle ended, Prometheus'
            # counter and its query log are read before the next cycle starts
            # (a fixed-rate tick away), so a window's edges fall between cycles.
            ours = http_get("http://%s/metrics" % http_address)
            prom = http_get(prometheus + "/metrics")
            return (sample(prom, "prometheus_http_requests_total", 'code="200",handler="/api/v1/query"')
                    + sample(prom, "prometheus_http_requests_total", 'code="400",handler="/api/v1/query"')
                    + sample(prom, "prometheus_http_requests_total", 'code="422",handler="/api/v1/query"'),
                    sample(ours, "kubeai_scaler_evaluation_cycle_seconds_count"),
                    sample(ours, "kubeai_scaler_evaluation_cycle_seconds_sum"),
                    ours,
                    _whole_lines_size(query_log))

        def after(cycles, timeout, what):
            """The counts once serve has ended `cycles` cycles, taken as soon as it has."""
            return wait_until(lambda: (lambda c: c if c[1] >= cycles else None)(counts()), timeout, what)

        # Let a couple of cycles pass so that start-up's are not counted.
        first = counts()
        queries0, cycles0, seconds0, _, log0 = after(first[1] + 2, 60, "two cycles")
        queries1, cycles1, seconds1, ours, log1 = after(cycles0 + args.cycles, 60 + args.cycles * 10, "the cycles")
        cycles = cycles1 - cycles0
        per_cycle = (queries1 - queries0) / cycles
        distinct = preset_mix.expected_distinct(args.policies, args.workloads) if presets else 6 * args.workloads
        print("HTTP queries per cycle: %.2f over %d cycles (distinct expressions: %d; target = %d: %s)"
              % (per_cycle, cycles, distinct, distinct, "met" if round(per_cycle) == distinct else "MISSED"))
        # Prometheus' query log over the same window, cut into serve's cycles by
        # the pauses between them (its entries carry their time). Should the
        # window's edges have cut a cycle (more runs than cycles), the first and
        # last runs are left out.
        with open(query_log, "rb") as log:
            log.seek(log0)
            window = log.read(log1 - log0).decode()
        entries = [json.loads(line) for line in window.splitlines() if line.strip()]
        bursts = _bursts(entries, 0.25 * interval_seconds)
        if len(bursts) != cycles:
            bursts = bursts[1:-1]
        if bursts:
            sizes = [len(burst) for burst in bursts]
            kinds = [len({entry["params"]["query"] for entry in burst}) for burst in bursts]
            equal = all(size == distinct for size in sizes) and all(kind == distinct for kind in kinds)
            print("Prometheus' query log: %d whole cycles, %d-%d queries each, %d-%d distinct expressions "
                  "each (%s)" % (len(bursts), min(sizes), max(sizes), min(kinds), max(kinds),
                                 "each = %d" % distinct if equal else "DIFFER"))
        else:
            print("Prometheus' query log: no whole cycle in it (too few cycles, or no pause between them)")
        # What answering them cost Prometheus (its own timings, in seconds).
        busy = sum(entry.get("stats", {}).get("timings", {}).get("execTotalTime", 0.0) for entry in entries)
        print("Prometheus' execution time: %.1f ms per cycle, %.2f ms per query (summed over the queries run "
              "at once)" % (busy / cycles * 1000, busy / max(len(entries), 1) * 1000))
        # Every policy decided on every metric: one value series per metric with data.
        states = ", ".join("%s %d" % (line.split('state="')[1].split('"')[0], float(line.split()[-1]))
                           for line in ours.splitlines() if line.startswith("kubeai_scaler_policies{"))
        valued = sum(1 for line in ours.splitlines() if line.startswith("kubeai_scaler_policy_metric_value{"))
        metrics = (5 if presets else 4) * args.policies
        print("policies by state: %s; metrics with a value: %d of %d (%s)"
              % (states, valued, metrics, "all" if valued == metrics else "MISSING"))
        bounds = [line for line in ours.splitlines() if line.startswith("kubeai_scaler_evaluation_cycle_seconds_bucket")]
        total = sample(ours, "kubeai_scaler_evaluation_cycle_seconds_count")
        le = next((line.split('le="')[1].split('"')[0] for line in bounds if float(line.split()[-1]) >= total), "?")
        print("cycle time: mean %.1f ms (every cycle so far <= %s s)"
              % ((seconds1 - seconds0) / (cycles1 - cycles0) * 1000, le))

        channel = grpc.insecure_channel(grpc_address)
        stub = pb_grpc.ExternalScalerStub(channel)
        request = pb.GetMetricsRequest(metricName="kubeai-policy-0",
                                       scaledObjectRef=pb.ScaledObjectRef(name="policy-0", namespace="default"))

        def desired():
            return stub.GetMetrics(request, timeout=5).metricValues[0].metricValue

        reactions = []
        jitter = random.Random(7)
        for _ in range(args.reactions):
            # A random phase against the scrape and evaluation ticks, so the
            # samples cover the whole range instead of locking onto one point.
            time.sleep(jitter.uniform(0, SCRAPE_SECONDS + interval_seconds))
            before = desired()
            exporter.gpu[0] = 90.0 if exporter.gpu[0] < 60 else 40.0
            changed_at = time.monotonic()
            wait_until(lambda: desired() != before, 30, "the decision to follow the exporter")
            reactions.append(time.monotonic() - changed_at)
        target = SCRAPE_SECONDS + interval_seconds
        print("reaction, exporter -> GetMetrics: median %.2f s, max %.2f s over %d changes "
              "(target <= scrape %.0f s + evaluation %.1f s = %.1f s: %s)"
              % (statistics.median(reactions), max(reactions), len(reactions), SCRAPE_SECONDS, interval_seconds,
                 target, "met" if max(reactions) <= target else "MISSED"))
        return 0
    finally:
        for process in reversed(processes):
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if exporter:
            exporter.stop()
        shutil.rmtree(work, ignore_errors=True)


def _ready(prometheus):
    try:
        return http_get(prometheus + "/-/ready", timeout=1) is not None
    except OSError:
        return False


def _has_data(prometheus):
    url = prometheus + "/api/v1/query?" + urllib.parse.urlencode({"query": "count(DCGM_FI_DEV_GPU_UTIL)"})
    body = json.loads(http_get(url))
    return bool(body["data"]["result"])


def _bursts(entries, gap_seconds):
    """Query-log entries in runs whose neighbours are at most gap_seconds apart: one run per cycle."""
    runs = []
    last = None
    for entry in entries:
        at = datetime.datetime.fromisoformat(entry["ts"].replace("Z", "+00:00")).timestamp()
        if last is None or at - last > gap_seconds:
            runs.append([])
        runs[-1].append(entry)
        last = at
    return runs


def _whole_lines_size(path):
    """The bytes of a log being written up to its last newline (a line after it is not yet whole)."""
    try:
        with open(path, "rb") as log:
            size = log.seek(0, os.SEEK_END)
            tail = max(0, size - 65536)
            log.seek(tail)
            return tail + log.read().rfind(b"\n") + 1
    except FileNotFoundError:
        return 0


def _serve_addresses(log_path):
    grpc_address = http_address = None
    with open(log_path) as log:
        for line in log:
            if "serving gRPC" in line:
                grpc_address = line.split("address=")[1].split()[0]
            if "serving HTTP" in line:
                http_address = line.split("address=")[1].split()[0]
    return (grpc_address, http_address) if grpc_address and http_address else None


if __name__ == "__main__":
    sys.exit(main())
