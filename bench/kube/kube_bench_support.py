"""kube_bench.py's parts that are not the measurement: the objects put into the API emulator,
the calls to it, serve as a process (/proc figures), and the request log sorted by kind."""
import datetime
import http.client
import json
import os
import signal
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request

TOKEN = "bench-token"
POLICIES = "/apis/kubeai.io/v1alpha1/namespaces/default/aiinferenceautoscalerpolicies"
DEPLOYMENTS = "/apis/apps/v1/namespaces/default/deployments"
SHARD_LABEL = "kubeai.io/shard"
GPU_PERCENT = 140
TARGET_PERCENT = 70
REPLICAS = 2
DESIRED = 4          # ceil(REPLICAS x GPU_PERCENT / TARGET_PERCENT)
MAX_HIGH, MAX_LOW = 10, 3   # maxReplicas toggled by the changes: desired 4 <-> 3
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def shard_of(i, shards):
    return "shard-%d" % (i % shards)


def policy(i, deployments, shards=0):
    meta = {"name": "policy-%d" % i, "namespace": "default"}
    if shards:
        meta["labels"] = {SHARD_LABEL: shard_of(i, shards)}
    return {"apiVersion": "kubeai.io/v1alpha1", "kind": "AIInferenceAutoscalerPolicy",
            "metadata": meta,
            "spec": {"targetRef": {"apiVersion": "apps/v1", "kind": "Deployment",
                                   "name": "workload-%d" % (i % deployments)},
                     "minReplicas": 1, "maxReplicas": MAX_HIGH, "cooldownPeriod": 0,
                     "scaleUp": {"stabilizationWindowSeconds": 0},
                     "scaleDown": {"stabilizationWindowSeconds": 0},
                     "metrics": {"gpuUtilization": {"targetPercentage": TARGET_PERCENT}}}}


def deployment(w):
    name = "workload-%d" % w
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name, "namespace": "default", "generation": 1},
            "spec": {"replicas": REPLICAS, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}},
                                  "spec": {"containers": [{"name": "c", "image": "x"}]}}},
            # All ready and observed, as a settled Deployment's controller leaves it.
            "status": {"replicas": REPLICAS, "readyReplicas": REPLICAS, "availableReplicas": REPLICAS,
                       "updatedReplicas": REPLICAS, "observedGeneration": 1}}


def micro_time(when):
    return when.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def lease_name(shard=""):
    """serve's default Lease: kubeai-scaler, or kubeai-scaler-SHARD with --shard-name."""
    return "kubeai-scaler" + ("-" + shard if shard else "")


def lease(holder, name=lease_name()):
    """The Lease serve competes for; held for an hour by `holder`, or free ("")."""
    now = micro_time(datetime.datetime.now(datetime.timezone.utc))
    spec = {"holderIdentity": holder, "leaseDurationSeconds": 3600, "renewTime": now, "acquireTime": now}
    return {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
            "metadata": {"name": name, "namespace": "default"}, "spec": spec}


class Api:
    """The benchmark's own calls to the emulator (bearer token on every request).

    A connection per request: a fresh one costs well under a millisecond.
    """

    def __init__(self, port):
        self.port = port

    def call(self, method, path, body=None, content_type="application/json", timeout=600):
        data = None if body is None else json.dumps(body).encode()
        headers = {"Authorization": "Bearer " + TOKEN, "Accept": "application/json"}
        if data is not None:
            headers["Content-Type"] = content_type
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
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

    def put_many(self, objects, batch=5000):
        """The emulator's bulk set-up (PUT /_emulator/objects with a list), `batch` a request."""
        for start in range(0, len(objects), batch):
            self.control("PUT", "objects", objects[start:start + batch])

    def list_all(self, path, selector=""):
        """A paginated list as serve reads it (limit=500); returns (items, pages)."""
        token, pages, items = "", 0, 0
        while True:
            query = "?limit=500" + ("&labelSelector=" + urllib.parse.quote(selector) if selector else "")
            query += "&continue=" + urllib.parse.quote(token) if token else ""
            page = self.call("GET", path + query)
            pages += 1
            items += len(page["items"])
            token = page["metadata"].get("continue", "")
            if not token:
                return items, pages


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
        if self.process.poll() is not None:
            raise RuntimeError("serve exited with %d" % self.process.returncode)
        return next((r for r in self.records() if r.get("msg") == message), None)

    def cpu_seconds(self):
        return cpu_of(self.pid)

    def status_field(self, name):
        """A /proc/PID/status figure (VmRSS, VmHWM, Threads), its number only."""
        with open("/proc/%d/status" % self.pid) as status:
            for line in status:
                if line.startswith(name + ":"):
                    return line.split()[1]
        return "?"

    def memory(self):
        return "RSS %s kB (peak %s kB), %s threads" % (self.status_field("VmRSS"), self.status_field("VmHWM"),
                                                       self.status_field("Threads"))

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
    """utime + stime of a process in seconds (/proc/PID/stat fields 14 and 15)."""
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


def is_watch(entry):
    query = urllib.parse.parse_qs(entry.get("query", ""))
    return query.get("watch", [""])[-1] in ("true", "1")


def request_kind(entry):
    """A request log entry as 'METHOD resource[/NAME][/subresource]', the name replaced by NAME:
    'GET deployments/NAME/scale', 'LIST deployments', 'WATCH aiinferenceautoscalerpolicies',
    'PATCH aiinferenceautoscalerpolicies/NAME/status', 'PUT leases/NAME'."""
    parts = [p for p in entry["path"].split("/") if p]
    # /api/v1/... or /apis/GROUP/VERSION/...; then namespaces/NS/ for a namespaced resource.
    rest = parts[2:] if parts[:1] == ["api"] else parts[3:]
    if len(rest) >= 3 and rest[0] == "namespaces":
        rest = rest[2:]
    if not rest:
        return entry["method"] + " " + entry["path"]
    method = entry["method"]
    if len(rest) == 1 and method == "GET":
        method = "WATCH" if is_watch(entry) else "LIST"
    return method + " " + "/".join([rest[0]] + (["NAME"] if len(rest) > 1 else []) + rest[2:])


def requests_by_kind(entries):
    """{kind: count} of a request log, watches apart: (plain, watches)."""
    plain, watches = {}, {}
    for entry in entries:
        kind = request_kind(entry)
        into = watches if kind.startswith("WATCH ") else plain
        into[kind] = into.get(kind, 0) + 1
    return plain, watches
