#!/usr/bin/python3
"""Issues 5 and 15's benchmark: `serve --kubernetes` with N policies from the API emulator.

  kube_bench.py --scaler BUILD/kubeai-scaler [--policies 10000] [--deployments 100]
                [--reactions 20] [--idle-seconds 10] [--burst-rate 10] [--burst-seconds 10]
                [--steady-cycles 5] [--status-timeout 1200] [--interval 1s] [--sample 200]
                [--status-qps Q] [--no-leader] [--shards S --shard-index I]
                [--serve-arg ARG ...] [--keep]

Runs test/kube/emulator/apiserver_emulator.py, fills it (one bulk PUT
/_emulator/objects per 5,000 objects) with --deployments Deployments (2
replicas, 2 ready) and --policies policies (policy-i targets
workload-(i mod deployments): with --deployments equal to --policies each
policy has its own; gpuUtilization target 70 %, maxReplicas 10) and a Lease
held by another replica, writes a --metrics-file (140 % GPU for every policy,
so desired = ceil(2 x 140 / 70) = 4), and starts
`kubeai-scaler serve --kubernetes --leader-elect` on it. It reports:

  1. start-up: serve started -> listening, -> /readyz 200 (the paginated list,
     limit=500, and the first evaluation), -> --sample random policies
     answering GetMetrics with desired 4, and the count of ready policies on
     /metrics (kubeai_scaler_policies{state="ready"}); RSS and its peak;
  2. API requests per evaluation cycle in the steady state (not leading): the
     emulator's request log cleared, --steady-cycles cycles counted on /metrics
     (kubeai_scaler_evaluation_cycle_seconds_count), the log read and sorted by
     kind (LIST/GET/PATCH/PUT of a resource, /scale, /status); watches are long
     requests, counted apart (only those opened in the window are logged);
  3. reaction to one policy change: a JSON merge patch of one random policy's
     spec.maxReplicas (10 <-> 3, desired 4 <-> 3) through the API, at a random
     phase against the evaluation ticks, until GetMetrics answers the new
     desired; --reactions times; median and max, and relative to --interval;
  4. serve's CPU (utime+stime from /proc/PID/stat) over --idle-seconds with no
     change (the timer's cycles running), then over a burst of --burst-rate
     changes/s for --burst-seconds; CPU per change = (burst CPU - idle CPU over
     the same time) / changes; cycles counted on /metrics; RSS;
  5. leader election (not with --no-leader): the other replica's Lease is
     released; from then until every policy has a status written (counted from
     the emulator's request log, confirmed on its objects), the write rate, and
     serve's CPU meanwhile; then the requests per cycle again, as the leader.

--shards S --shard-index I labels policy-i kubeai.io/shard=shard-(i mod S)
and starts serve with --policy-selector kubeai.io/shard=shard-I --shard-name
shard-I: every figure is that shard's (its policies are sampled and changed,
the metrics file holds its policies only). A binary without those flags is
reported and the run skipped (exit 0).

Populating the emulator is timed apart and not counted. Exit code 0 whatever the figures (a report); 1 when something fails
to run, a policy does not answer, or (with at most 1,000 policies, as in the
smoke test) not every status is written within --status-timeout.
"""
import argparse
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..", "..")
PROTO = os.path.join(ROOT, "proto", "externalscaler.proto")
sys.path.insert(0, os.path.join(ROOT, "test", "kube", "emulator"))

from emulator_fixture import Emulator  # noqa: E402
from kube_bench_leader import leader_election  # noqa: E402
from kube_bench_support import (  # noqa: E402
    DEPLOYMENTS, DESIRED, GPU_PERCENT, MAX_HIGH, MAX_LOW, POLICIES, SHARD_LABEL, TOKEN, Api, Serve, cpu_of,
    deployment, http_get, lease, lease_name, parse_interval, policy, requests_by_kind, sample, shard_of, wait_until)


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scaler", required=True)
    parser.add_argument("--policies", type=int, default=10000)
    parser.add_argument("--deployments", type=int, default=100,
                        help="Deployments the policies share (policy-i targets workload-(i mod N))")
    parser.add_argument("--reactions", type=int, default=20)
    parser.add_argument("--idle-seconds", type=float, default=10.0)
    parser.add_argument("--burst-rate", type=float, default=10.0, help="changes per second in the burst")
    parser.add_argument("--burst-seconds", type=float, default=10.0)
    parser.add_argument("--steady-cycles", type=int, default=5, help="cycles the requests are counted over")
    parser.add_argument("--status-timeout", type=float, default=1200.0,
                        help="give up waiting for every status after this long (then report the rate)")
    parser.add_argument("--interval", default="1s", help="serve's --evaluation-interval")
    parser.add_argument("--sample", type=int, default=200, help="policies asked by GetMetrics after start-up")
    parser.add_argument("--status-qps", help="serve's --status-qps (default: serve's own, 20/s with a burst of 40)")
    parser.add_argument("--no-leader", action="store_true", help="skip 5 (leader election and status writes)")
    parser.add_argument("--shards", type=int, default=0, help="label the policies over S shards")
    parser.add_argument("--shard-index", type=int, default=0, help="the shard serve runs as")
    parser.add_argument("--serve-arg", action="append", default=[], help="one more argument to serve (repeat)")
    parser.add_argument("--keep", action="store_true", help="keep the scratch directory (serve.log, ...)")
    args = parser.parse_args()
    if args.shards and not 0 <= args.shard_index < args.shards:
        parser.error("--shard-index must be in [0, --shards)")
    return args


def serve_lacks(scaler, flags):
    """The flags of `flags` that `serve --help` does not list."""
    text = subprocess.run([scaler, "serve", "--help"], capture_output=True, text=True).stdout
    return [flag for flag in flags if flag not in text]


class Bench:
    def __init__(self, args, work):
        self.args = args
        self.work = work
        self.interval = parse_interval(args.interval)
        self.rng = random.Random(5)
        self.emulator = self.serve = self.api = None
        n = args.policies
        self.mine = [i for i in range(n) if not args.shards or i % args.shards == args.shard_index]
        self.selector = "%s=%s" % (SHARD_LABEL, shard_of(args.shard_index, args.shards)) if args.shards else ""
        self.lease = lease_name(shard_of(args.shard_index, args.shards) if args.shards else "")
        self.maximum = {}  # policy -> maxReplicas as patched
        self.cycle_seconds = self.interval  # the mean cycle once measured: timeouts scale with it

    # -- set-up ----------------------------------------------------------------------------------

    def fill(self):
        args = self.args
        self.emulator = Emulator("--token", TOKEN).start()
        self.api = Api(self.emulator.port)
        started = time.monotonic()
        self.api.put_many([deployment(w) for w in range(args.deployments)])
        self.api.put_many([policy(i, args.deployments, args.shards) for i in range(args.policies)])
        self.api.control("PUT", "objects", lease("bench-other-replica", self.lease))
        fill = time.monotonic() - started
        total = args.policies + args.deployments + 1
        print("emulator filled: %d policies, %d Deployments, 1 Lease held by another replica in %.1f s "
              "(%.0f objects/s, bulk PUT /_emulator/objects of 5,000; not counted below); emulator RSS %s kB"
              % (args.policies, args.deployments, fill, total / fill, self.emulator_rss()))
        # The emulator's share of start-up: the same paginated lists, read by the benchmark.
        for what, path, selector in (("policies", POLICIES, self.selector), ("Deployments", DEPLOYMENTS, "")):
            started = time.monotonic()
            items, pages = self.api.list_all(path, selector)
            print("the emulator serves the list of %d %s%s (%d pages of 500) to this script in %.2f s "
                  "(its JSON parsing included)" % (items, what, " (" + selector + ")" if selector else "", pages,
                                                   time.monotonic() - started))

    def emulator_rss(self):
        with open("/proc/%d/status" % self.emulator.proc.pid) as status:
            return next((line.split()[1] for line in status if line.startswith("VmRSS:")), "?")

    def start_serve(self):
        args = self.args
        kubeconfig = os.path.join(self.work, "kubeconfig")
        with open(kubeconfig, "w") as out:
            out.write("apiVersion: v1\nkind: Config\n"
                      "clusters:\n- name: e\n  cluster: {server: '%s'}\n"
                      "users:\n- name: u\n  user: {token: %s}\n"
                      "contexts:\n- name: c\n  context: {cluster: e, user: u, namespace: default}\n"
                      "current-context: c\n" % (self.emulator.url, TOKEN))
        metrics_file = os.path.join(self.work, "metrics.yaml")
        with open(metrics_file, "w") as out:
            out.write("".join("default/policy-%d:\n  gpuUtilizationPercent: %d\n" % (i, GPU_PERCENT)
                              for i in self.mine))
        command = [args.scaler, "serve", "--grpc-address", "127.0.0.1:0", "--metrics-address", "127.0.0.1:0",
                   "--log-format", "json", "--log-level", "info", "--kubernetes", "--kubeconfig", kubeconfig,
                   "--metrics-file", metrics_file, "--evaluation-interval", args.interval, "--leader-elect"]
        if args.status_qps:
            command += ["--status-qps", args.status_qps]
        if args.shards:
            shard = shard_of(args.shard_index, args.shards)
            command += ["--policy-selector", self.selector, "--shard-name", shard]
        command += args.serve_arg
        print("serve: " + " ".join(command[1:]))
        self.api.control("POST", "requests/clear")  # the log from here is serve's
        self.serve = Serve(command, os.path.join(self.work, "serve.log"), dict(os.environ, TMPDIR=self.work))

    # -- probes ----------------------------------------------------------------------------------

    def connect(self):
        import grpc
        import externalscaler_pb2 as pb
        import externalscaler_pb2_grpc as pb_grpc
        self.grpc, self.pb = grpc, pb
        self.stub = pb_grpc.ExternalScalerStub(grpc.insecure_channel(self.grpc_address))

    def desired(self, i):
        request = self.pb.GetMetricsRequest(
            metricName="kubeai-policy-%d" % i,
            scaledObjectRef=self.pb.ScaledObjectRef(name="policy-%d" % i, namespace="default"))
        try:
            return self.stub.GetMetrics(request, timeout=5).metricValues[0].metricValue
        except self.grpc.RpcError:
            return None

    def metrics(self):
        return http_get("http://%s/metrics" % self.http_address)[1]

    def cycles(self):
        body = self.metrics()
        return (sample(body, "kubeai_scaler_evaluation_cycle_seconds_count"),
                sample(body, "kubeai_scaler_evaluation_cycle_seconds_sum"))

    def slack(self, floor=30.0):
        """A timeout for something that takes a cycle or two, however long the cycles are."""
        return max(floor, 6 * max(self.cycle_seconds, self.interval))

    def change(self, i):
        value = MAX_LOW if self.maximum.get(i, MAX_HIGH) == MAX_HIGH else MAX_HIGH
        self.maximum[i] = value
        self.api.call("PATCH", POLICIES + "/policy-%d" % i, {"spec": {"maxReplicas": value}},
                      "application/merge-patch+json")
        return DESIRED if value == MAX_HIGH else MAX_LOW

    # -- 1. start-up -----------------------------------------------------------------------------

    def startup(self):
        serve, n = self.serve, len(self.mine)
        listening = wait_until(lambda: serve.find("serving HTTP"), 60, "serve to listen")
        t_listen = time.monotonic() - serve.started
        self.http_address = listening["address"]
        self.grpc_address = serve.find("serving gRPC")["address"]
        wait_until(lambda: http_get("http://%s/readyz" % self.http_address, timeout=5)[0] == 200, 1800,
                   "/readyz 200", interval=0.005)
        t_ready = time.monotonic() - serve.started
        rss_ready = "RSS %s kB (peak %s kB)" % (serve.status_field("VmRSS"), serve.status_field("VmHWM"))
        self.connect()
        sampled = self.rng.sample(self.mine, min(self.args.sample, n))
        pending = set(sampled)

        def all_answer():
            for i in list(pending):
                if self.desired(i) == DESIRED:
                    pending.discard(i)
            return not pending
        wait_until(all_answer, 600, "the sampled policies to answer desired %d" % DESIRED)
        t_answer = time.monotonic() - serve.started
        ready = sample(self.metrics(), "kubeai_scaler_policies", 'state="ready"')
        listed = serve.find("policies listed")
        count, total = self.cycles()
        self.cycle_seconds = total / count if count else self.interval
        print("\n1. start-up (%d policies%s, %d Deployments, evaluation every %s)"
              % (n, " of %d, shard %s" % (self.args.policies, self.selector) if self.args.shards else "",
                 self.args.deployments, self.args.interval))
        print("   serve started -> listening              %8.3f s" % t_listen)
        print("   serve started -> /readyz 200            %8.3f s  (list of %s policies in pages of 500, "
              "first evaluation); %s" % (t_ready, listed.get("policies") if listed else "?", rss_ready))
        print("   serve started -> %d sampled answer %d   %8.3f s  (GetMetrics; /metrics says %d of %d ready)"
              % (len(sampled), DESIRED, t_answer, ready, n))
        print("   cycles so far %d, mean %.1f ms" % (count, self.cycle_seconds * 1000))
        if int(ready) != n:
            raise RuntimeError("only %d of %d policies are ready" % (ready, n))
        print("   " + serve.memory())
        print("   API requests from serve's start to here (%d cycles):" % count)
        self.print_requests(self.api.control("GET", "requests"), count, time.monotonic() - serve.started,
                            "since the start")

    # -- 2. and 5. API requests per cycle ----------------------------------------------------------

    def steady_requests(self, title):
        k = self.args.steady_cycles
        self.api.control("POST", "requests/clear")
        started = time.monotonic()
        first = self.cycles()[0]
        wait_until(lambda: self.cycles()[0] >= first + k, k * self.slack(10) + 60, "%d evaluation cycles" % k,
                   interval=0.05)
        entries = self.api.control("GET", "requests")
        counted = self.cycles()[0] - first
        wall = time.monotonic() - started
        print("\n%s: API requests over %d evaluation cycles (%.1f s, %.2f cycles/s)" % (title, counted, wall,
                                                                                       counted / wall))
        self.print_requests(entries, counted, wall, "in the window (long requests; those open throughout "
                                                    "are not logged)")

    @staticmethod
    def print_requests(entries, cycles, wall, when):
        plain, watches = requests_by_kind(entries)
        total = sum(plain.values())
        print("   all but watches: %d, %.1f per cycle, %.1f/s" % (total, total / max(cycles, 1), total / wall))
        for kind, count in sorted(plain.items(), key=lambda kv: -kv[1]):
            print("     %-52s %8d  %9.1f per cycle  %7.2f/s" % (kind, count, count / max(cycles, 1), count / wall))
        print("   watches opened %s: %s" % (when, ", ".join("%s %d" % kv for kv in sorted(watches.items()))
                                          or "none"))

    # -- 3. reaction to one change ---------------------------------------------------------------

    def reactions(self):
        self.api.control("POST", "requests/clear")
        reactions = []
        for _ in range(self.args.reactions):
            time.sleep(self.rng.uniform(0, self.interval))  # a random phase against the evaluation ticks
            i = self.rng.choice(self.mine)
            before = self.desired(i)
            changed_at = time.monotonic()
            expected = self.change(i)
            if expected == before:
                raise RuntimeError("policy-%d already answered %s" % (i, before))
            wait_until(lambda: self.desired(i) == expected, self.slack(), "policy-%d to answer %d" % (i, expected),
                       interval=0.002)
            reactions.append(time.monotonic() - changed_at)
        if not reactions:
            return
        print("\n3. one policy's spec patched -> its GetMetrics answer changes (%d changes)" % len(reactions))
        print("   median %.3f s, max %.3f s, min %.3f s  (= %.2f / %.2f evaluation intervals)"
              % (statistics.median(reactions), max(reactions), min(reactions),
                 statistics.median(reactions) / self.interval, max(reactions) / self.interval))

    # -- 4. CPU, idle and under a burst of changes -------------------------------------------------

    def window(self, seconds, during=None):
        """serve's and the emulator's CPU and the cycles over `seconds`, `during()` run meanwhile."""
        cycles0 = self.cycles()
        cpu0, emu0, wall0 = self.serve.cpu_seconds(), cpu_of(self.emulator.proc.pid), time.monotonic()
        extra = during(wall0) if during else None
        pause = wall0 + seconds - time.monotonic()
        if pause > 0:
            time.sleep(pause)
        cpu1, emu1, wall1 = self.serve.cpu_seconds(), cpu_of(self.emulator.proc.pid), time.monotonic()
        cycles1 = self.cycles()
        count = cycles1[0] - cycles0[0]
        return {"wall": wall1 - wall0, "cpu": cpu1 - cpu0, "emulator": emu1 - emu0, "cycles": count,
                "cycle_ms": (cycles1[1] - cycles0[1]) / max(count, 1) * 1000, "extra": extra}

    @staticmethod
    def describe(w):
        return "%5.1f %%  %3d cycles (%.2f/s), mean cycle %.1f ms; emulator %.1f %%" % (
            w["cpu"] / w["wall"] * 100, w["cycles"], w["cycles"] / w["wall"], w["cycle_ms"],
            w["emulator"] / w["wall"] * 100)

    def cpu(self):
        args = self.args
        time.sleep(2 * self.interval)
        idle = self.window(args.idle_seconds)
        print("\n4. serve's CPU (utime+stime; 100 % = one core)")
        print("   idle, no change, %4.0f s:          %s" % (idle["wall"], self.describe(idle)))
        targets = self.rng.sample(self.mine, min(int(args.burst_rate * args.burst_seconds), len(self.mine)))
        expected_after = {}

        def edits(wall0):
            late = 0
            for k, i in enumerate(targets):
                pause = wall0 + k / args.burst_rate - time.monotonic()
                if pause > 0:
                    time.sleep(pause)
                else:
                    late += 1
                expected_after[i] = self.change(i)
            return late
        burst = self.window(args.burst_seconds, edits)
        print("   burst, %.0f changes/s, %4.0f s:     %s  (%d changes, %d sent late)"
              % (args.burst_rate, burst["wall"], self.describe(burst), len(targets), burst["extra"]))
        # (CPU over the burst - the idle CPU over as long) / changes.
        extra = burst["cpu"] - idle["cpu"] / idle["wall"] * burst["wall"]
        print("   CPU per change: %.2f ms  ((%.2f s - %.2f s idle over %.1f s) / %d changes)"
              % (extra / max(len(targets), 1) * 1000, burst["cpu"], idle["cpu"] / idle["wall"] * burst["wall"],
                 burst["wall"], len(targets)))
        wait_until(lambda: all(self.desired(i) == e for i, e in expected_after.items()), self.slack(60),
                   "every burst change to be answered")
        print("   every burst change answered; " + self.serve.memory())


def main():
    args = parse_args()
    if args.shards:
        missing = serve_lacks(args.scaler, ["--policy-selector", "--shard-name"])
        if missing:
            print("%s serve has no %s: the shard run is skipped" % (args.scaler, ", ".join(missing)))
            return 0
    work = tempfile.mkdtemp(prefix="kubeai-kube-bench-")
    bench = Bench(args, work)
    try:
        sys.path.insert(0, work)
        subprocess.run([sys.executable, "-m", "grpc_tools.protoc", "-I", os.path.dirname(PROTO),
                        "--python_out", work, "--grpc_python_out", work, os.path.basename(PROTO)], check=True)
        bench.fill()
        bench.start_serve()
        bench.startup()
        bench.steady_requests("2. steady state, not leading")
        bench.reactions()
        bench.cpu()
        if args.no_leader:
            return 0
        if not leader_election(bench):
            return 1 if len(bench.mine) <= 1000 else 0
        return 0
    except Exception:
        if bench.serve:
            with open(bench.serve.log_path) as log:
                sys.stderr.write("serve's log, last lines:\n" + "".join(log.readlines()[-20:]))
        raise
    finally:
        if bench.serve:
            bench.serve.stop()
        if bench.emulator:
            bench.emulator.stop()
        if args.keep:
            print("scratch directory kept: " + work)
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
