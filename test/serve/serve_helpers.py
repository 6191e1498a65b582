"""What the serve tests share: stubs, a running `kubeai-scaler serve`, files.

Imported by serve_contract_test.py and serve_tls_test.py (run with Debian's
/usr/bin/python3, which has python3-grpcio and python3-grpc-tools).

- load_stubs() generates the Python stubs of externalscaler.proto (and of
  grpc.health.v1 when the grpc_health package is missing) into a directory.
- Serve starts the real binary on free 127.0.0.1 ports (port 0), reads the
  bound ports from its JSON log, keeps every log record for the tests, and
  stops it with SIGTERM (SIGKILL only when it does not go within the deadline).
- wait_until() polls a condition with a deadline: the tests never sleep to
  synchronise.
"""

import argparse
import fcntl
import json
import os
import queue
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.error
import urllib.request

# An idle gRPC C-core client (Python's) reads its connection only when its
# backup poller runs, every 5 s by default, so it would take up to 5 s to see
# the GOAWAY of a server shutting down, and the server waits for connections
# to close (up to its shutdown deadline). KEDA's Go client reads at once; so
# does this one with a short interval. Read when grpc initialises: set first.
os.environ.setdefault("GRPC_CLIENT_CHANNEL_BACKUP_POLL_INTERVAL_MS", "100")

import grpc  # noqa: E402 (after the environment above)

# Multiplies every deadline: 1 for an optimised build, more under sanitizers
# (set by CMake with --time-scale). Passing tests never wait for a deadline.
TIME_SCALE = 1.0

# A unary call that answers from memory: generous, only reached when broken.
RPC_TIMEOUT = 5.0

# Set by run_tests(): the parsed flags and the generated stubs (Stubs).
ARGS = None
STUBS = None

# Written when the grpc_health package (python3-grpcio's companion) is missing:
# the messages and service of grpc/health/v1/health.proto.
HEALTH_PROTO = """syntax = "proto3";
package grpc.health.v1;
message HealthCheckRequest { string service = 1; }
message HealthCheckResponse {
  enum ServingStatus { UNKNOWN = 0; SERVING = 1; NOT_SERVING = 2; SERVICE_UNKNOWN = 3; }
  ServingStatus status = 1;
}
service Health {
  rpc Check(HealthCheckRequest) returns (HealthCheckResponse);
  rpc Watch(HealthCheckRequest) returns (stream HealthCheckResponse);
}
"""


def seconds(value):
    """A deadline of `value` seconds, scaled for slow (sanitized) builds."""
    return value * TIME_SCALE


class Stubs:
    """The generated modules: pb/pb_grpc (externalscaler), health_pb/health_grpc."""

    def __init__(self, pb, pb_grpc, health_pb, health_grpc):
        self.pb = pb
        self.pb_grpc = pb_grpc
        self.health_pb = health_pb
        self.health_grpc = health_grpc


def _protoc(include_dir, proto_name, out_dir):
    subprocess.run(
        [sys.executable, "-m", "grpc_tools.protoc", "-I", include_dir,
         "--python_out", out_dir, "--grpc_python_out", out_dir, proto_name],
        check=True)


def load_stubs(proto_path, out_dir):
    _protoc(os.path.dirname(os.path.abspath(proto_path)), os.path.basename(proto_path), out_dir)
    sys.path.insert(0, out_dir)
    import externalscaler_pb2
    import externalscaler_pb2_grpc
    try:
        from grpc_health.v1 import health_pb2, health_pb2_grpc
    except ImportError:
        health_dir = os.path.join(out_dir, "health_proto")
        os.makedirs(health_dir)
        with open(os.path.join(health_dir, "kubeai_test_health.proto"), "w") as out:
            out.write(HEALTH_PROTO)
        _protoc(health_dir, "kubeai_test_health.proto", out_dir)
        import kubeai_test_health_pb2 as health_pb2
        import kubeai_test_health_pb2_grpc as health_pb2_grpc
    return Stubs(externalscaler_pb2, externalscaler_pb2_grpc, health_pb2, health_pb2_grpc)


def wait_until(condition, timeout, what, interval=0.02):
    """Polls `condition` until it returns something true, or fails after `timeout` (scaled) seconds."""
    deadline = time.monotonic() + seconds(timeout)
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError("not within %.1f s: %s" % (seconds(timeout), what))
        time.sleep(interval)


def write_atomically(path, text, mode="w"):
    """Replaces `path` by renaming a finished file over it, as editors, kubectl cp and cert-manager do.

    The temporary name is hidden and has no .yaml/.so extension, so the server never reads it half-written.
    """
    directory, name = os.path.split(path)
    temporary = os.path.join(directory, "." + name + ".tmp")
    with open(temporary, mode) as out:
        out.write(text)
    os.replace(temporary, path)


def policy_yaml(name, namespace, metrics, min_replicas=1, max_replicas=10, algorithm=None, parameters=None,
                target="workload"):
    """One AIInferenceAutoscalerPolicy; `metrics` is the YAML of spec.metrics, indented by 4."""
    text = ("apiVersion: kubeai.io/v1alpha1\n"
            "kind: AIInferenceAutoscalerPolicy\n"
            "metadata:\n"
            "  name: %s\n"
            "  namespace: %s\n"
            "spec:\n"
            "  targetRef:\n"
            "    kind: Deployment\n"
            "    name: %s\n"
            "  minReplicas: %d\n"
            "  maxReplicas: %d\n"
            "  cooldownPeriod: 0\n" % (name, namespace, target, min_replicas, max_replicas))
    if algorithm:
        text += "  algorithm:\n    name: %s\n" % algorithm
        if parameters:
            text += "    parameters:\n" + "".join('      %s: "%s"\n' % item for item in parameters.items())
    return text + "  metrics:\n" + metrics


GPU_70 = "    gpuUtilization:\n      targetPercentage: 70\n"
P99_500 = "    latency:\n      targetP99Ms: 500\n"
QUEUE_5 = "    requestQueueDepth:\n      enabled: true\n      targetDepth: 5\n"


def metrics_yaml(values):
    """The --metrics-file: {"ns/name": {"currentReplicas": 2, ...}} as YAML."""
    lines = []
    for key, fields in values.items():
        lines.append("%s:" % key)
        lines.extend("  %s: %s" % item for item in fields.items())
    return "\n".join(lines) + "\n"


def dying_with_parent(command):
    """`command` run so that it is killed when the test process dies.

    A child started by a test must not outlive a test killed by CTest's
    timeout (PR_SET_PDEATHSIG). util-linux's setpriv sets it after the spawn
    instead of a preexec_fn: with a preexec_fn Python calls fork(), which runs
    grpcio 1.51's fork handler, and that waits without end for gRPC's thread
    pool to go idle when a channel is still busy (grpc/grpc#31885; it hung
    serve_python_tls in CI). Without one, Python spawns by vfork or
    posix_spawn, which run no fork handlers.
    """
    return ["setpriv", "--pdeathsig", "KILL", "--"] + list(command)


def _full_pipe():
    """A pipe (read end, write end) of one page that is already full.

    A server given the write end as stderr blocks on its first log line until
    the read end is drained: the test knows where it stands (see Serve.hold_log).
    """
    F_SETPIPE_SZ = 1031  # fcntl.F_SETPIPE_SZ from Python 3.10 on
    read_fd, write_fd = os.pipe()
    fcntl.fcntl(write_fd, F_SETPIPE_SZ, 4096)
    os.set_blocking(write_fd, False)
    try:
        while True:
            os.write(write_fd, b"\n")  # empty lines: skipped by the reader
    except BlockingIOError:
        pass
    os.set_blocking(write_fd, True)
    return read_fd, write_fd


class Serve:
    """A running `kubeai-scaler serve --log-format json` on free 127.0.0.1 ports.

    Attributes once started: grpc_address, http_address, health_address (or None).
    Always stop() it (the tests do in a finally / class cleanup).

    With hold_log=True the server's stderr is a full pipe: it blocks on its
    first log line (after reading its files, before serving) until release().
    """

    START_TIMEOUT = 10.0

    def __init__(self, binary, args, scratch_dir, hold_log=False):
        command = [binary, "serve",
                   "--grpc-address", "127.0.0.1:0",
                   "--metrics-address", "127.0.0.1:0",
                   "--log-format", "json"] + list(args)
        # Whatever the server might put under TMPDIR stays inside the test's directory.
        env = dict(os.environ, TMPDIR=scratch_dir)
        self._records = []
        self._raw = []
        self._changed = threading.Condition()
        read_fd, write_fd = _full_pipe() if hold_log else (None, subprocess.PIPE)
        try:
            self.process = subprocess.Popen(dying_with_parent(command), stdin=subprocess.DEVNULL,
                                            stdout=subprocess.DEVNULL, stderr=write_fd, env=env)
        finally:
            if hold_log:
                os.close(write_fd)
        self._stream = os.fdopen(read_fd, "rb") if hold_log else self.process.stderr
        # Drains stderr for the whole life of the process, so it never blocks on a full pipe.
        self._reader = threading.Thread(target=self._read_log, daemon=True)
        self.grpc_address = None
        self.http_address = None
        self.health_address = None
        if not hold_log:
            self.release()

    def blocked_on_log(self):
        """True while the server's main thread is blocked writing to stderr (hold_log)."""
        try:
            with open("/proc/%d/wchan" % self.process.pid) as wchan:
                if "pipe_write" in wchan.read():
                    return True
            with open("/proc/%d/syscall" % self.process.pid) as syscall:
                fields = syscall.read().split()
        except OSError:
            return False
        write = {"x86_64": "1", "aarch64": "64"}.get(os.uname().machine)
        return len(fields) > 1 and fields[0] == write and fields[1] == "0x2"

    def release(self):
        """Starts draining the log and waits for the server to serve."""
        self._reader.start()
        try:
            # "serving HTTP" is logged last, after gRPC and the health port.
            self.http_address = self.wait_for_log(lambda r: r.get("msg") == "serving HTTP",
                                                  self.START_TIMEOUT, "serve to start")["address"]
            self.grpc_address = self.find_log(lambda r: r.get("msg") == "serving gRPC")["address"]
            health = self.find_log(lambda r: r.get("msg") == "serving gRPC health")
            self.health_address = health["address"] if health else None
        except BaseException:
            self.kill()
            raise

    def _read_log(self):
        for line in self._stream:
            text = line.decode("utf-8", "replace").rstrip("\n")
            if not text:
                continue
            try:
                record = json.loads(text)
            except ValueError:
                record = {"msg": text, "unparsed": True}  # e.g. gRPC's own or a sanitizer report
            with self._changed:
                self._raw.append(text)
                self._records.append(record)
                self._changed.notify_all()
        with self._changed:
            self._changed.notify_all()

    def log_text(self):
        with self._changed:
            return "\n".join(self._raw)

    def logs(self, predicate):
        """Every log record so far that `predicate` accepts."""
        with self._changed:
            return [record for record in self._records if predicate(record)]

    def find_log(self, predicate, start=0):
        with self._changed:
            for record in self._records[start:]:
                if predicate(record):
                    return record
        return None

    def log_mark(self):
        """A position in the log: wait_for_log(..., after=mark) only looks at what came later."""
        with self._changed:
            return len(self._records)

    def wait_for_log(self, predicate, timeout, what, after=0):
        deadline = time.monotonic() + seconds(timeout)
        with self._changed:
            while True:
                for record in self._records[after:]:
                    if predicate(record):
                        return record
                if self.process.poll() is not None and not self._reader.is_alive():  # all read
                    raise AssertionError("serve exited with %s while waiting for %s; log:\n%s"
                                         % (self.process.returncode, what, "\n".join(self._raw)))
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError("not within %.1f s: %s; log:\n%s"
                                         % (seconds(timeout), what, "\n".join(self._raw)))
                self._changed.wait(min(remaining, 0.1))

    def http_get(self, path):
        """(status, body) of GET http://<metrics address><path>."""
        try:
            with urllib.request.urlopen("http://%s%s" % (self.http_address, path),
                                        timeout=RPC_TIMEOUT) as response:
                return response.status, response.read().decode("utf-8")
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode("utf-8")

    def stop(self, timeout=5.0):
        """SIGTERM, then the exit code; kills it and fails when it takes longer than `timeout` (scaled)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            code = self.process.wait(timeout=seconds(timeout))
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError("serve did not exit within %.1f s of SIGTERM" % seconds(timeout))
        finally:
            self._close_log()
        return code

    def kill(self):
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        self._close_log()

    def _close_log(self):
        if self._reader.is_alive():
            self._reader.join(timeout=RPC_TIMEOUT)
        self._stream.close()


def channel_options():
    # A private subchannel per channel: a new channel is a new connection (and
    # TLS handshake), never one shared with, or backing off after, an earlier one.
    return [("grpc.use_local_subchannel_pool", 1)]


class StreamReader:
    """Reads a server stream on a thread, so the test can wait for each message with a deadline.

    next() returns ("message", response) or ("status", grpc.StatusCode, details).
    """

    def __init__(self, call):
        self.call = call
        self._items = queue.Queue()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        try:
            for message in self.call:
                self._items.put(("message", message))
            self._items.put(("status", grpc.StatusCode.OK, ""))
        except grpc.RpcError as error:
            self._items.put(("status", error.code(), error.details()))

    def next(self, timeout, what):
        try:
            return self._items.get(timeout=seconds(timeout))
        except queue.Empty:
            raise AssertionError("no stream message within %.1f s: %s" % (seconds(timeout), what)) from None

    def headers(self, timeout, what):
        """Waits for the server's headers (initial metadata): the server holds the stream, even a silent one."""
        got = queue.Queue()
        threading.Thread(target=lambda: got.put(self.call.initial_metadata()), daemon=True).start()
        try:
            return got.get(timeout=seconds(timeout))
        except queue.Empty:
            raise AssertionError("no stream headers within %.1f s: %s" % (seconds(timeout), what)) from None

    def cancel(self):
        self.call.cancel()
        self._thread.join(timeout=RPC_TIMEOUT)


def ref(name, namespace="default", **metadata):
    return STUBS.pb.ScaledObjectRef(name=name, namespace=namespace, scalerMetadata=metadata)


class ServeTestCase(unittest.TestCase):
    """A class-wide server over a temporary policy dir and metrics file (see start_serve)."""

    @staticmethod
    def start_serve(owner, add_cleanup, policies, metrics, extra_args=(), credentials=None):
        """Sets owner.dir, .policy_dir, .metrics (a dict; write_metrics() writes it), .metrics_file, .serve,
        .channel, .stub (over `credentials`, plaintext when None); add_cleanup (addClassCleanup or
        addCleanup) stops the server, asserting exit 0."""
        owner.dir = tempfile.mkdtemp(prefix="kubeai-serve-test-")
        add_cleanup(shutil.rmtree, owner.dir, ignore_errors=True)
        owner.policy_dir = os.path.join(owner.dir, "policies")
        os.mkdir(owner.policy_dir)
        for name, text in policies.items():
            with open(os.path.join(owner.policy_dir, name), "w") as out:
                out.write(text)
        owner.metrics = dict(metrics)
        owner.metrics_file = os.path.join(owner.dir, "metrics.yaml")
        write_atomically(owner.metrics_file, metrics_yaml(owner.metrics))
        serve = Serve(ARGS.scaler, ["--policy-dir", owner.policy_dir, "--metrics-file", owner.metrics_file,
                      "--evaluation-interval", "15s"] + list(extra_args), owner.dir)
        owner.serve = serve
        add_cleanup(ServeTestCase.stop_serve, serve)
        if credentials is None:
            owner.channel = grpc.insecure_channel(serve.grpc_address, options=channel_options())
        else:
            owner.channel = grpc.secure_channel(serve.grpc_address, credentials, options=channel_options())
        add_cleanup(owner.channel.close)
        owner.stub = STUBS.pb_grpc.ExternalScalerStub(owner.channel)

    @staticmethod
    def stop_serve(serve):
        """SIGTERM: serve must exit 0 within 5 s, saying why (every server of every test ends so)."""
        if serve.process.poll() is not None and serve.process.returncode == 0:
            return  # stopped by the test itself
        code = serve.stop(timeout=5.0)
        if code != 0:
            raise AssertionError("serve exited with %s; log:\n%s" % (code, serve.log_text()))
        if not serve.find_log(lambda r: r.get("msg") == "shutting down" and r.get("signal") == "SIGTERM"):
            raise AssertionError("serve did not log its shutdown; log:\n%s" % serve.log_text())

    def write_metrics(self, atomically=True):
        text = metrics_yaml(self.metrics)
        if atomically:
            write_atomically(self.metrics_file, text)
        else:
            with open(self.metrics_file, "w") as out:  # in place, as `echo >` or a plain editor does
                out.write(text)

    # One call each, as KEDA makes them; errors come back as (code, details).

    def get_metrics(self, scaled_object, metric_name, timeout=RPC_TIMEOUT):
        request = STUBS.pb.GetMetricsRequest(scaledObjectRef=scaled_object, metricName=metric_name)
        return self.stub.GetMetrics(request, timeout=timeout)

    def desired(self, name, namespace="default"):
        """GetMetrics' one value for ns/name, checked to be the same in both fields; None on NOT_FOUND."""
        try:
            response = self.get_metrics(ref(name, namespace), "kubeai-" + name)
        except grpc.RpcError as error:
            if error.code() in (grpc.StatusCode.NOT_FOUND, grpc.StatusCode.UNAVAILABLE):
                return None
            raise
        self.assertEqual(len(response.metricValues), 1)
        value = response.metricValues[0]
        self.assertEqual(value.metricValueFloat, float(value.metricValue))
        return value.metricValue

    def assert_code(self, code, call, *args):
        """Makes the call, asserts it fails with `code` and returns the status details."""
        with self.assertRaises(grpc.RpcError) as caught:
            call(*args, timeout=RPC_TIMEOUT)
        self.assertEqual(caught.exception.code(), code, caught.exception.details())
        return caught.exception.details()

    def assert_stream_ends(self, call, code, what):
        """A stream that must end with `code` before sending anything."""
        reader = StreamReader(call)
        try:
            item = reader.next(RPC_TIMEOUT, what)
            self.assertEqual(item[0], "status", "%s: got a message %r" % (what, item))
            self.assertEqual(item[1], code, "%s: %s" % (what, item[2]))
            return item[2]
        finally:
            reader.cancel()

    def scrape(self):
        status, body = self.serve.http_get("/metrics")
        self.assertEqual(status, 200)
        return body

    @staticmethod
    def sample(body, series):
        """The value of one exact series line of a scrape, or None."""
        for line in body.splitlines():
            if line.startswith(series + " "):
                return float(line[len(series) + 1:])
        return None


def run_tests(setup):
    """The tests' main(): parses the flags CMake passes, generates the stubs,
    hands both to setup(args, stubs), then runs unittest (other arguments go to it)."""
    global TIME_SCALE, ARGS, STUBS
    parser = argparse.ArgumentParser()
    parser.add_argument("--scaler", required=True, help="the kubeai-scaler binary")
    parser.add_argument("--proto", required=True, help="proto/externalscaler.proto")
    parser.add_argument("--step-scale-so", help="the StepScale plugin")
    parser.add_argument("--capped-smooth-ratio-so", help="the CappedSmoothRatio plugin")
    parser.add_argument("--hanging-plugin-so", help="test/plugin/fixtures/hanging_plugin.c, built")
    parser.add_argument("--time-scale", type=float, default=1.0, help="deadline multiplier (sanitizers)")
    args, rest = parser.parse_known_args()
    TIME_SCALE = args.time_scale
    with tempfile.TemporaryDirectory(prefix="kubeai-serve-stubs-") as out_dir:
        ARGS, STUBS = args, load_stubs(args.proto, out_dir)
        setup(ARGS, STUBS)
        program = unittest.main(argv=[sys.argv[0]] + rest, exit=False, verbosity=2)
    sys.exit(0 if program.result.wasSuccessful() else 1)
