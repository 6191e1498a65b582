#!/usr/bin/python3
"""Issue 5's benchmark: `serve --kubernetes` with N policies from the API emulator.

  kube_bench.py --scaler BUILD/kubeai-scaler [--policies 10000] [--deployments 100]
                [--reactions 20] [--idle-seconds 10] [--burst-rate 10] [--burst-seconds 10]
                [--status-timeout 1200] [--interval 1s] [--sample 200] [--status-qps Q]
                [--keep]

Runs test/kube/emulator/apiserver_emulator.py, fills it with --deployments
Deployments (2 replicas each) and --policies policies (policy-i targets
workload-(i mod deployments); gpuUtilization target 70 %, maxReplicas 10) and
a Lease held by another replica, writes a --metrics-file (140 % GPU for every
policy, so desired = ceil(2 x 140 / 70) = 4), and starts
`kubeai-scaler serve --kubernetes --leader-elect` on it. It reports:

  1. start-up: serve started -> listening, -> /readyz 200 (the paginated list,
     limit=500, and the first evaluation), -> --sample random policies
     answering GetMetrics with desired 4, and the count of ready policies on
     /metrics (kubeai_scaler_policies{state="ready"});
  2. reaction to one policy change: a JSON merge patch of one random policy's
     spec.maxReplicas (10 <-> 3, desired 4 <-> 3) through the API, at a random
     phase against the evaluation ticks, until GetMetrics answers the new
     desired; --reactions times; median and max, and relative to --interval;
  3. serve's CPU (utime+stime from /proc/PID/stat) over --idle-seconds with no
     change, then over a burst of --burst-rate changes/s for --burst-seconds,
     with the evaluation cycles counted on /metrics; serve's RSS and threads;
  4. leader election: the other replica's Lease is released; from then until
     every policy has a status written (counted from the emulator's request
     log, confirmed on its objects), the write rate, and serve's CPU meanwhile.

Populating the emulator is timed apart and not counted. Exit code 0 whatever the figures (a report); 1 when something fails
to run, a policy does not answer, or (with at most 1,000 policies, as in the
smoke test) not every status is written within --status-timeout.
"""
import argparse
import datetime
import http.client
import json
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..", "..")
PROTO = os.path.join(ROOT, "proto", "externalscaler.proto")
sys.path.insert(0, os.path.join(ROOT, "test", "kube", "emulator"))

from emulator_fixture import Emulator  # noqa: E402

TOKEN = "bench-token"
POLICIES = "/apis/kubeai.io/v1alpha1/namespaces/default/aiinferenceautoscalerpolicies"
LEASE = "/apis/coordination.k8s.io/v1/namespaces/default/leases/kubeai-scaler"
GPU_PERCENT = 140
TARGET_PERCENT = 70
REPLICAS = 2
DESIRED = 4          # ceil(REPLICAS x GPU_PERCENT / TARGET_PERCENT)
MAX_HIGH, MAX_LOW = 10, 3   # maxReplicas toggled by the changes: desired 4 <-> 3
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def policy(i, deployments):
    return {"apiVersion": "kubeai.io/v1alpha1", "kind": "AIInferenceAutoscalerPolicy",
            "metadata": {"name": "policy-%d" % i, "namespace": "default"},
            "spec": {"targetRef": {"apiVersion": "apps/v1", "kind": "Deployment",
                                   "name": "workload-%d" % (i % deployments)},
                     "minReplicas": 1, "maxReplicas": MAX_HIGH, "cooldownPeriod": 0,
                     "scaleUp": {"stabilizationWindowSeconds": 0},
                     "scaleDown": {"stabilizationWindowSeconds": 0},
                     "metrics": {"gpuUtilization": {"targetPercentage": TARGET_PERCENT}}}}


def deployment(w):
    name = "workload-%d" % w
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name, "namespace": "default"},
            "spec": {"replicas": REPLICAS, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}},
                                  "spec": {"containers": [{"name": "c", "image": "x"}]}}},
            "status": {"replicas": REPLICAS}}


def micro_time(when):
    return when.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def lease(holder):
    """The Lease serve competes for; held for an hour by `holder`, or free ("")."""
    now = micro_time(datetime.datetime.now(datetime.timezone.utc))
    spec = {"holderIdentity": holder, "leaseDurationSeconds": 3600, "renewTime": now, "acquireTime": now}
    return {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
            "metadata": {"name": "kubeai-scaler", "namespace": "default"}, "spec": spec}


class Api:
    """The benchmark's own calls to the emulator (bearer token on every request).

    A connection per request: a fresh one costs well under a millisecond.
    """

    def __init__(self, port):
        self.port = port

    def call(self, method, path, body=None, content_type="application/json"):
        data = None if body is None else json.dumps(body).encode()
        headers = {"Authorization": "Bearer " + TOKEN, "Accept": "application/json"}
        if data is not None:
            headers["Content-Type"] = content_type
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        try:
            connection.request(method, path, body=data, headers=headers)
            response = connection.getresponse()
            raw = response.read()
        finally:
            connection.close()
        if response.status >= 300:
            raise RuntimeError("%s %s: HTTP %d %s" % (method, path, response.status, raw[:300]))
        return json.loads(raw) if raw else None

    def control(self, method, what, body=None):
        return self.call(method, "/_emulator/" + what, body)

    def close(self):
        pass


class Serve:
    """`kubeai-scaler serve` with its JSON log in a file."""

    def __init__(self, command, log_path, env):
        self.log_path = log_path
        self.log_file = open(log_path, "w")
        self.started = time.monotonic()
        self.process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=self.log_file,
                                        stderr=self.log_file, env=env)
        self.pid = self.process.pid

    def records(self):
        out = []
        with open(self.log_path) as log:
            for line in log:
                try:
                    out.append(json.loads(line))
                except ValueError:
                    pass
        return out

    def find(self, message):
        return next((r for r in self.records() if r.get("msg") == message), None)

    def cpu_seconds(self):
        with open("/proc/%d/stat" % self.pid) as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime, stime (fields 14, 15)

    def status_field(self, name):
        with open("/proc/%d/status" % self.pid) as status:
            for line in status:
                if line.startswith(name + ":"):
                    return line.split()[1]
        return "?"

    def stop(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log_file.close()


def cpu_of(pid):
    with open("/proc/%d/stat" % pid) as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def wait_until(condition, timeout, what, interval=0.01):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(interval)
    raise RuntimeError("timed out after %.0f s waiting for %s" % (timeout, what))


def http_get(url, timeout=30):
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()
    except OSError:
        return 0, ""


def sample(text, name, labels=""):
    prefix = name + ("{" + labels + "}" if labels else "")
    for line in text.splitlines():
        if line.startswith(prefix + " "):
            return float(line.split()[-1])
    return 0.0


def parse_interval(text):
    return float(text[:-2]) / 1000 if text.endswith("ms") else float(text.rstrip("s"))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scaler", required=True)
    parser.add_argument("--policies", type=int, default=10000)
    parser.add_argument("--deployments", type=int, default=100)
    parser.add_argument("--reactions", type=int, default=20)
    parser.add_argument("--idle-seconds", type=float, default=10.0)
    parser.add_argument("--burst-rate", type=float, default=10.0, help="changes per second in the burst")
    parser.add_argument("--burst-seconds", type=float, default=10.0)
    parser.add_argument("--status-timeout", type=float, default=1200.0,
                        help="give up waiting for every status after this long (then report the rate)")
    parser.add_argument("--interval", default="1s", help="serve's --evaluation-interval")
    parser.add_argument("--sample", type=int, default=200, help="policies asked by GetMetrics after start-up")
    parser.add_argument("--status-qps", help="serve's --status-qps (default: serve's own, 20/s with a burst of 40)")
    parser.add_argument("--keep", action="store_true", help="keep the scratch directory (serve.log, ...)")
    args = parser.parse_args()
    interval = parse_interval(args.interval)
    n = args.policies
    rng = random.Random(5)

    work = tempfile.mkdtemp(prefix="kubeai-kube-bench-")
    emulator = serve = api = None
    try:
        sys.path.insert(0, work)
        subprocess.run([sys.executable, "-m", "grpc_tools.protoc", "-I", os.path.dirname(PROTO),
                        "--python_out", work, "--grpc_python_out", work, os.path.basename(PROTO)], check=True)
        import grpc
        import externalscaler_pb2 as pb
        import externalscaler_pb2_grpc as pb_grpc

        # -- the emulator, filled -------------------------------------------------------------
        emulator = Emulator("--token", TOKEN).start()
        api = Api(emulator.port)
        started = time.monotonic()
        for w in range(args.deployments):
            api.control("PUT", "objects", deployment(w))
        for i in range(n):
            api.control("PUT", "objects", policy(i, args.deployments))
        api.control("PUT", "objects", lease("bench-other-replica"))
        fill = time.monotonic() - started
        print("emulator filled: %d policies, %d Deployments, 1 Lease held by another replica in %.1f s "
              "(%.0f objects/s, one PUT /_emulator/objects each; not counted below)"
              % (n, args.deployments, fill, (n + args.deployments + 1) / fill))

        # The emulator's share of start-up: the same paginated list, read by the benchmark.
        started = time.monotonic()
        token, pages = "", 0
        while True:
            query = "?limit=500" + ("&continue=" + urllib.parse.quote(token) if token else "")
            page = api.call("GET", POLICIES + query)
            pages += 1
            token = page["metadata"].get("continue", "")
            if not token:
                break
        list_seconds = time.monotonic() - started
        print("the emulator serves the list of %d policies (%d pages of 500) to this script in %.2f s "
              "(its JSON parsing included)"
              % (n, pages, list_seconds))

        kubeconfig = os.path.join(work, "kubeconfig")
        with open(kubeconfig, "w") as out:
            out.write("apiVersion: v1\nkind: Config\n"
                      "clusters:\n- name: e\n  cluster: {server: '%s'}\n"
                      "users:\n- name: u\n  user: {token: %s}\n"
                      "contexts:\n- name: c\n  context: {cluster: e, user: u, namespace: default}\n"
                      "current-context: c\n" % (emulator.url, TOKEN))
        metrics_file = os.path.join(work, "metrics.yaml")
        with open(metrics_file, "w") as out:
            out.write("".join("default/policy-%d:\n  gpuUtilizationPercent: %d\n" % (i, GPU_PERCENT)
                              for i in range(n)))

        # -- 1. start-up ----------------------------------------------------------------------
        serve = Serve([args.scaler, "serve", "--grpc-address", "127.0.0.1:0", "--metrics-address", "127.0.0.1:0",
                       "--log-format", "json", "--log-level", "info", "--kubernetes", "--kubeconfig", kubeconfig,
                       "--metrics-file", metrics_file, "--evaluation-interval", args.interval,
                       "--leader-elect"] + (["--status-qps", args.status_qps] if args.status_qps else []),
                      os.path.join(work, "serve.log"), dict(os.environ, TMPDIR=work))
        listening = wait_until(lambda: serve.find("serving HTTP"), 60, "serve to listen")
        t_listen = time.monotonic() - serve.started
        http_address = listening["address"]
        grpc_address = serve.find("serving gRPC")["address"]
        wait_until(lambda: http_get("http://%s/readyz" % http_address, timeout=5)[0] == 200, 600, "/readyz 200",
                   interval=0.005)
        t_ready = time.monotonic() - serve.started

        channel = grpc.insecure_channel(grpc_address)
        stub = pb_grpc.ExternalScalerStub(channel)

        def desired(i):
            request = pb.GetMetricsRequest(
                metricName="kubeai-policy-%d" % i,
                scaledObjectRef=pb.ScaledObjectRef(name="policy-%d" % i, namespace="default"))
            try:
                return stub.GetMetrics(request, timeout=5).metricValues[0].metricValue
            except grpc.RpcError:
                return None

        sampled = rng.sample(range(n), min(args.sample, n))
        pending = set(sampled)

        def all_answer():
            for i in list(pending):
                if desired(i) == DESIRED:
                    pending.discard(i)
            return not pending
        wait_until(all_answer, 120, "the sampled policies to answer desired %d" % DESIRED)
        t_answer = time.monotonic() - serve.started
        _, text = http_get("http://%s/metrics" % http_address)
        ready = sample(text, "kubeai_scaler_policies", 'state="ready"')
        listed = serve.find("policies listed")
        print("\n1. start-up (%d policies, %d /scale targets, evaluation every %s)" % (n, args.deployments,
                                                                                      args.interval))
        print("   serve started -> listening              %7.3f s" % t_listen)
        print("   serve started -> /readyz 200            %7.3f s  (list of %s policies in pages of 500, "
              "first evaluation)" % (t_ready, listed.get("policies") if listed else "?"))
        print("   serve started -> %d sampled answer %d   %7.3f s  (GetMetrics; /metrics says %d of %d ready)"
              % (len(sampled), DESIRED, t_answer, ready, n))
        if int(ready) != n:
            raise RuntimeError("only %d of %d policies are ready" % (ready, n))
        print("   RSS %s kB, %s threads" % (serve.status_field("VmRSS"), serve.status_field("Threads")))

        def cycles():
            _, body = http_get("http://%s/metrics" % http_address)
            return (sample(body, "kubeai_scaler_evaluation_cycle_seconds_count"),
                    sample(body, "kubeai_scaler_evaluation_cycle_seconds_sum"))

        # -- 2. reaction to one change --------------------------------------------------------
        maximum = {}  # policy -> maxReplicas as patched

        def change(i):
            value = MAX_LOW if maximum.get(i, MAX_HIGH) == MAX_HIGH else MAX_HIGH
            maximum[i] = value
            api.call("PATCH", POLICIES + "/policy-%d" % i, {"spec": {"maxReplicas": value}},
                     "application/merge-patch+json")
            return DESIRED if value == MAX_HIGH else MAX_LOW

        api.control("POST", "requests/clear")
        reactions = []
        for _ in range(args.reactions):
            time.sleep(rng.uniform(0, interval))  # a random phase against the evaluation ticks
            i = rng.randrange(n)
            before = desired(i)
            changed_at = time.monotonic()
            expected = change(i)
            if expected == before:
                raise RuntimeError("policy-%d already answered %s" % (i, before))
            wait_until(lambda: desired(i) == expected, 30, "policy-%d to answer %d" % (i, expected), interval=0.002)
            reactions.append(time.monotonic() - changed_at)
        print("\n2. one policy's spec patched -> its GetMetrics answer changes (%d changes)" % len(reactions))
        print("   median %.3f s, max %.3f s, min %.3f s  (= %.2f / %.2f evaluation intervals)"
              % (statistics.median(reactions), max(reactions), min(reactions),
                 statistics.median(reactions) / interval, max(reactions) / interval))

        # -- 3. CPU, idle and under a burst of changes ----------------------------------------
        api.control("POST", "requests/clear")
        time.sleep(2 * interval)
        cycles0 = cycles()
        cpu0, emu0, wall0 = serve.cpu_seconds(), cpu_of(emulator.proc.pid), time.monotonic()
        time.sleep(args.idle_seconds)
        cpu1, emu1, wall1 = serve.cpu_seconds(), cpu_of(emulator.proc.pid), time.monotonic()
        cycles1 = cycles()
        idle_cpu = (cpu1 - cpu0) / (wall1 - wall0)
        idle_cycles = cycles1[0] - cycles0[0]
        idle_cycle_ms = (cycles1[1] - cycles0[1]) / max(idle_cycles, 1) * 1000
        print("\n3. serve's CPU (utime+stime; 100 % = one core)")
        print("   idle, no change, %4.0f s:          %5.1f %%  %3d cycles (%.2f/s), mean cycle %.1f ms; "
              "emulator %.1f %%" % (wall1 - wall0, idle_cpu * 100, idle_cycles, idle_cycles / (wall1 - wall0),
                                    idle_cycle_ms, (emu1 - emu0) / (wall1 - wall0) * 100))

        burst_changes = int(args.burst_rate * args.burst_seconds)
        burst_targets = rng.sample(range(n), min(burst_changes, n))
        expected_after = {}
        cpu0, emu0, wall0 = serve.cpu_seconds(), cpu_of(emulator.proc.pid), time.monotonic()
        cycles0 = cycles()
        late = 0
        for k, i in enumerate(burst_targets):
            due = wall0 + k / args.burst_rate
            pause = due - time.monotonic()
            if pause > 0:
                time.sleep(pause)
            else:
                late += 1
            expected_after[i] = change(i)
        pause = wall0 + args.burst_seconds - time.monotonic()
        if pause > 0:
            time.sleep(pause)
        cpu1, emu1, wall1 = serve.cpu_seconds(), cpu_of(emulator.proc.pid), time.monotonic()
        cycles1 = cycles()
        burst_cpu = (cpu1 - cpu0) / (wall1 - wall0)
        burst_cycles = cycles1[0] - cycles0[0]
        burst_cycle_ms = (cycles1[1] - cycles0[1]) / max(burst_cycles, 1) * 1000
        print("   burst, %.0f changes/s, %4.0f s:     %5.1f %%  %3d cycles (%.2f/s), mean cycle %.1f ms; "
              "emulator %.1f %%  (%d changes, %d sent late)"
              % (args.burst_rate, wall1 - wall0, burst_cpu * 100, burst_cycles, burst_cycles / (wall1 - wall0),
                 burst_cycle_ms, (emu1 - emu0) / (wall1 - wall0) * 100, len(burst_targets), late))
        print("   CPU per change: %.1f ms ((burst CPU - idle CPU) / changes)" %
              ((burst_cpu - idle_cpu) * (wall1 - wall0) / max(len(burst_targets), 1) * 1000))
        wait_until(lambda: all(desired(i) == e for i, e in expected_after.items()), 60,
                   "every burst change to be answered")
        print("   every burst change answered; RSS %s kB (peak %s kB), %s threads"
              % (serve.status_field("VmRSS"), serve.status_field("VmHWM"), serve.status_field("Threads")))

        # -- 4. leader election: every status written ------------------------------------------
        if serve.find("leading: writing status and Events"):
            raise RuntimeError("serve leads although another replica holds the Lease")
        api.control("POST", "requests/clear")
        written = set()
        patches = 0

        def drain_log():
            nonlocal patches
            entries = api.control("GET", "requests")
            api.control("POST", "requests/clear")
            for entry in entries:
                if entry["method"] == "PATCH" and entry["path"].endswith("/status"):
                    patches += 1
                    written.add(entry["path"].rsplit("/", 2)[1])

        def statuses():
            objects = api.control("GET", "objects")["items"]
            return sum(1 for o in objects if o.get("kind") == "AIInferenceAutoscalerPolicy"
                       and o.get("status", {}).get("desiredReplicas") is not None)

        cpu0, emu0 = serve.cpu_seconds(), cpu_of(emulator.proc.pid)
        cycles0 = cycles()
        released = time.monotonic()
        api.control("PUT", "objects", lease(""))  # the other replica steps down
        wait_until(lambda: serve.find("leading: writing status and Events"), 30, "serve to take the Lease", 0.01)
        leading = time.monotonic() - released
        poll = 1.0 if n <= 1000 else 2.0
        progress = []  # (seconds since leading, distinct policies written)
        done = None
        last_confirm = 0.0
        while time.monotonic() - released < args.status_timeout:
            time.sleep(poll)
            drain_log()
            now = time.monotonic() - released - leading
            progress.append((now, len(written)))
            # The request log is read then cleared: a write landing in between is not seen, so
            # the emulator's objects (one large GET) decide, once the log is close to N.
            if len(written) >= 0.98 * n or now - last_confirm >= 60:
                last_confirm = now
                if statuses() >= n:
                    done = time.monotonic() - released - leading
                    break
        cpu1, emu1 = serve.cpu_seconds(), cpu_of(emulator.proc.pid)
        cycles1 = cycles()
        elapsed = time.monotonic() - released - leading
        wall = elapsed + leading
        print("\n4. leader election: the other replica releases the Lease")
        print("   released -> serve leading               %7.3f s" % leading)
        if done is not None:
            print("   leading -> all %d statuses written   %7.1f s" % (n, done))
        else:
            print("   leading -> NOT all statuses written after %.0f s: %d of %d (%d by the objects)"
                  % (elapsed, len(written), n, statuses()))
        steady = [p for p in progress if p[0] >= 2]
        if len(steady) >= 2:
            rate = (steady[-1][1] - steady[0][1]) / (steady[-1][0] - steady[0][0])
        else:
            rate = len(written) / max(elapsed, 1e-9)
        print("   status PATCHes seen: %d for %d policies; write rate %.1f/s (steady), %.1f/s overall"
              % (patches, len(written), rate, len(written) / max(elapsed, 1e-9)))
        print("   meanwhile: serve CPU %.1f %%, %d cycles (%.2f/s), mean cycle %.1f ms; emulator %.1f %%"
              % ((cpu1 - cpu0) / wall * 100, cycles1[0] - cycles0[0], (cycles1[0] - cycles0[0]) / wall,
                 (cycles1[1] - cycles0[1]) / max(cycles1[0] - cycles0[0], 1) * 1000, (emu1 - emu0) / wall * 100))
        print("   RSS %s kB (peak %s kB), %s threads" % (serve.status_field("VmRSS"), serve.status_field("VmHWM"),
                                                       serve.status_field("Threads")))
        if done is None:
            return 1 if n <= 1000 else 0
        return 0
    except Exception:
        if serve:
            with open(serve.log_path) as log:
                sys.stderr.write("serve's log, last lines:\n" + "".join(log.readlines()[-20:]))
        raise
    finally:
        if serve:
            serve.stop()
        if api:
            api.close()
        if emulator:
            emulator.stop()
        if args.keep:
            print("scratch directory kept: " + work)
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
