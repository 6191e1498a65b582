#!/usr/bin/python3
"""Issue 4's benchmark: `serve --prometheus-url` with a real Prometheus.

  prometheus_bench.py --scaler BUILD/kubeai-scaler [--policies 10000] [--workloads 10]
                      [--cycles 10] [--reactions 10] [--interval 1s]

Starts an exporter (this script, on 127.0.0.1) with the series the default
queries read (DCGM GPU utilization, a latency histogram, a queue gauge and
kube-state-metrics replicas) for --workloads Deployments; Debian's Prometheus
scraping it every second; and `kubeai-scaler serve` on --policies policies
spread over the workloads. Each policy enables GPU, P99/P95 latency and queue
depth, so with the replicas query a workload has 5 distinct expressions and
10 workloads give 50, however many policies share them. It reports:

  - HTTP queries per cycle, counted by Prometheus itself
    (prometheus_http_requests_total{handler="/api/v1/query"} on its /metrics,
    which reading does not count) over --cycles cycles of serve
    (kubeai_scaler_evaluation_cycle_seconds_count): target = the distinct
    expressions;
  - the cycle time (kubeai_scaler_evaluation_cycle_seconds: mean and the
    largest bucket bound reached);
  - the reaction time: from the exporter changing workload-0's GPU
    utilization to GetMetrics answering the new desired replicas for
    policy-0, --reactions times. Target: at most one scrape interval (1 s)
    plus one evaluation interval.
Exit code 0 whatever the verdict (a report); 1 when something fails to run.
"""
import argparse
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

PROTO = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "proto", "externalscaler.proto")
SCRAPE_SECONDS = 1.0

POLICY = """apiVersion: kubeai.io/v1alpha1
kind: AIInferenceAutoscalerPolicy
metadata:
  name: policy-{i}
  namespace: default
spec:
  targetRef:
    kind: Deployment
    name: workload-{w}
  minReplicas: 1
  maxReplicas: 50
  cooldownPeriod: 0
  metrics:
    gpuUtilization:
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

    def __init__(self, workloads):
        self.workloads = workloads
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
            for p in range(2):
                # Named as a Deployment's pods are: <name>-<pod-template-hash>-<5 characters>.
                pod = 'namespace="default",pod="workload-%d-7d9c5b8f4c-%s"' % (w, ("x2b4q", "k8w9p")[p])
                lines.append('DCGM_FI_DEV_GPU_UTIL{%s,gpu="0"} %g' % (pod, self.gpu[w]))
                lines.append("inference_request_queue_depth{%s} %d" % (pod, 3))
                count = 10.0 * elapsed
                for le, share in (("0.1", 0.0), ("0.25", 1.0), ("0.5", 1.0), ("+Inf", 1.0)):
                    lines.append('inference_request_duration_seconds_bucket{%s,le="%s"} %g' % (pod, le, count * share))
                lines.append("inference_request_duration_seconds_sum{%s} %g" % (pod, count * 0.2))
                lines.append("inference_request_duration_seconds_count{%s} %g" % (pod, count))
            lines.append('kube_deployment_spec_replicas{namespace="default",deployment="workload-%d"} 2' % w)
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
    parser.add_argument("--workloads", type=int, default=10)
    parser.add_argument("--cycles", type=int, default=10)
    parser.add_argument("--reactions", type=int, default=10)
    parser.add_argument("--interval", default="1s", help="serve's --evaluation-interval")
    args = parser.parse_args()
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

        exporter = Exporter(args.workloads)
        prometheus_address = "127.0.0.1:%d" % free_port()
        with open(os.path.join(work, "prometheus.yml"), "w") as config:
            config.write("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
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
            out.write("---\n".join(POLICY.format(i=i, w=i % args.workloads) for i in range(args.policies)))
        serve_log = open(os.path.join(work, "serve.log"), "w")
        processes.append(subprocess.Popen(
            [args.scaler, "serve", "--grpc-address", "127.0.0.1:0", "--metrics-address", "127.0.0.1:0",
             "--policy-dir", os.path.join(work, "policies"), "--prometheus-url", prometheus,
             "--evaluation-interval", args.interval, "--log-level", "info",
             # No HPA follows the published value here (the exporter's replicas stay 2):
             # with a reaction time, a change never reached would count as current
             # for that long, and the reaction measured would be serve's waiting.
             "--reaction-time", "0s"],
            stdout=serve_log, stderr=serve_log))
        addresses = wait_until(lambda: _serve_addresses(os.path.join(work, "serve.log")), 60, "serve to listen")
        grpc_address, http_address = addresses
        print("%d policies over %d workloads; Prometheus %s scraping every %.0f s; serve every %s"
              % (args.policies, args.workloads, prometheus_address, SCRAPE_SECONDS, args.interval))

        def counts():
            prom = http_get(prometheus + "/metrics")
            ours = http_get("http://%s/metrics" % http_address)
            return (sample(prom, "prometheus_http_requests_total", 'code="200",handler="/api/v1/query"')
                    + sample(prom, "prometheus_http_requests_total", 'code="400",handler="/api/v1/query"')
                    + sample(prom, "prometheus_http_requests_total", 'code="422",handler="/api/v1/query"'),
                    sample(ours, "kubeai_scaler_evaluation_cycle_seconds_count"),
                    sample(ours, "kubeai_scaler_evaluation_cycle_seconds_sum"),
                    ours)

        # Let a couple of cycles pass so that start-up's are not counted.
        first = counts()
        wait_until(lambda: counts()[1] >= first[1] + 2, 60, "two cycles")
        queries0, cycles0, seconds0, _ = counts()
        wait_until(lambda: counts()[1] >= cycles0 + args.cycles, 60 + args.cycles * 10, "the cycles")
        queries1, cycles1, seconds1, ours = counts()
        per_cycle = (queries1 - queries0) / (cycles1 - cycles0)
        distinct = 5 * args.workloads
        print("HTTP queries per cycle: %.2f over %d cycles (distinct expressions: %d; target = %d: %s)"
              % (per_cycle, cycles1 - cycles0, distinct, distinct, "met" if round(per_cycle) == distinct else "MISSED"))
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
