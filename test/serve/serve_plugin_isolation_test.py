#!/usr/bin/python3
"""Nothing a plugin does takes `kubeai-scaler serve` down (issue 11, item 1).

The real binary on free 127.0.0.1 ports, plugins out of process (the default),
KEDA's side from Debian's python3-grpcio. Each bad plugin (test/plugin's
misbehaving fixtures: SIGSEGV, while(1), abort(), exit(3), garbage on the
socket) is served beside a healthy plugin (Abi10Plugin, built from the 1.0
header) and a built-in policy:

  - serve stays up; the healthy policies' answers never change or fail;
  - the bad policy holds its current replicas, then, after 3 failed calls in a
    row, answers UNAVAILABLE naming the plugin and the cause;
  - serve's log names plugin, file and cause; /metrics counts the failures;
  - a restart with the bad plugin present comes up and serves the others;
  - the plugin hosts die with serve (SIGKILL to serve, no host left);
  - a world-writable plugin is refused, naming the file and its mode.

  serve_plugin_isolation_test.py --scaler PATH --proto PATH --fixture NAME=PATH... [--time-scale N]
"""

import os
import re
import shutil
import signal
import sys
import tempfile
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree for serve_helpers
import serve_helpers as h  # noqa: E402
from serve_helpers import GPU_70, RPC_TIMEOUT, policy_yaml, ref, wait_until  # noqa: E402

import grpc  # noqa: E402

FIXTURES = {}  # name -> built .so, from --fixture NAME=PATH
INTERVAL = 0.5  # --evaluation-interval
TIMEOUT = "300ms"  # --plugin-timeout
# Calls go one after another in the cycle: a hang costs one timeout (and a
# restart one start of the host) of a cycle, so staleness is given room beyond
# its default of 3 intervals, as it has with serve's defaults (45 s for 1 s).
STALE_AFTER = "10s"

# A plugin that keeps failing: 3 or more of its host's calls failed in a row.
UNSERVABLE = re.compile(r"failed ([0-9]+) or more calls in a row")

BAD = {
    # fixture: (algorithm, cause in the unservable message, failure kind on /metrics)
    "segv": ("SegvPlugin", "crashed: SIGSEGV", "crashed"),
    "abort": ("AbortPlugin", "crashed: SIGABRT", "crashed"),
    "exit3": ("ExitPlugin", "exited with code 3", "exited"),
    "hang": ("HangPlugin", "timed out after 300ms (killed)", "timeout"),
    "garbage": ("GarbagePlugin", "broke the plugin-host protocol", "protocol"),
}


def host_pids(serve_pid):
    """The plugin-host processes whose parent is serve."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % entry) as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
            if int(fields[1]) != serve_pid:
                continue
            with open("/proc/%s/cmdline" % entry, "rb") as cmdline:
                if b"plugin-host" in cmdline.read():
                    pids.append(int(entry))
        except (OSError, IndexError, ValueError):
            continue
    return pids


def alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


class IsolationTestCase(h.ServeTestCase):

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="kubeai-serve-isolation-")
        self.addCleanup(shutil.rmtree, self.dir, ignore_errors=True)
        self.policy_dir = os.path.join(self.dir, "policies")
        self.plugin_dir = os.path.join(self.dir, "plugins")
        os.mkdir(self.policy_dir)
        os.mkdir(self.plugin_dir)
        os.chmod(self.dir, 0o755)
        self.metrics_file = os.path.join(self.dir, "metrics.yaml")
        self.serve = None

    def add_plugin(self, fixture, name):
        path = os.path.join(self.plugin_dir, name)
        shutil.copy(FIXTURES[fixture], path)
        os.chmod(path, 0o755)
        return path

    def add_policy(self, name, algorithm=None):
        with open(os.path.join(self.policy_dir, name + ".yaml"), "w") as out:
            out.write(policy_yaml(name, "default", GPU_70, max_replicas=20, algorithm=algorithm))

    def start(self, extra=()):
        serve = h.Serve(ARGS.scaler, ["--policy-dir", self.policy_dir, "--metrics-file", self.metrics_file,
                                      "--plugin-dir", self.plugin_dir, "--evaluation-interval", "%gs" % INTERVAL,
                                      "--plugin-timeout", TIMEOUT, "--metrics-stale-after", STALE_AFTER]
                          + list(extra), self.dir)
        self.serve = serve
        self.addCleanup(self.stop_if_running, serve)
        self.channel = grpc.insecure_channel(serve.grpc_address, options=h.channel_options())
        self.addCleanup(self.channel.close)
        self.stub = S.pb_grpc.ExternalScalerStub(self.channel)
        return serve

    def stop_if_running(self, serve):
        if serve.process.poll() is None:
            self.stop_serve(serve)

    def answer(self, name):
        """(code, value, details) of GetMetrics for default/NAME."""
        try:
            response = self.stub.GetMetrics(S.pb.GetMetricsRequest(scaledObjectRef=ref(name),
                                                                   metricName="kubeai-" + name),
                                            timeout=RPC_TIMEOUT)
            return grpc.StatusCode.OK, response.metricValues[0].metricValue, ""
        except grpc.RpcError as error:
            return error.code(), None, error.details()

    def write_metrics(self, names, replicas=3, gpu=140):
        h.write_atomically(self.metrics_file, h.metrics_yaml(
            {"default/" + n: {"currentReplicas": replicas, "gpuUtilizationPercent": gpu} for n in names}))


class BadPluginTest(IsolationTestCase):
    """One serve per bad plugin; the healthy answers are checked on every poll."""

    def check_bad_plugin(self, fixture):
        algorithm, cause, kind = BAD[fixture]
        self.add_plugin("abi_1_0", "healthy.so")
        self.add_plugin(fixture, "bad.so")
        self.add_policy("builtin")
        self.add_policy("healthy", "Abi10Plugin")
        self.add_policy("bad", algorithm)
        self.write_metrics(["builtin", "healthy", "bad"])
        serve = self.start()
        # 3 replicas at 140 % of a 70 % target: ceil(3 x 2) = 6 for both healthy ones.
        expected = {"builtin": 6, "healthy": 6}
        wait_until(lambda: all(self.answer(n)[:2] == (grpc.StatusCode.OK, v) for n, v in expected.items()),
                   10.0, "the healthy policies' answers", 0.05)

        started = time.monotonic()
        held = False
        while True:
            self.assertIsNone(serve.process.poll(), "serve exited: %s" % serve.log_text())
            for name, value in expected.items():
                got = self.answer(name)
                self.assertEqual(got[:2], (grpc.StatusCode.OK, value),
                                 "%s: %s (serve: %s)\n%s" % (name, got[2], serve.process.poll(), serve.log_text()))
            code, value, details = self.answer("bad")
            if code == grpc.StatusCode.OK:
                self.assertEqual(value, 3, "the bad policy holds its current replicas")
                held = True
            elif code == grpc.StatusCode.UNAVAILABLE and UNSERVABLE.search(details or ""):
                break
            if time.monotonic() - started > h.seconds(20.0):
                self.fail("the bad policy never went UNAVAILABLE; last: %s %s\n%s" % (code, details,
                                                                                        serve.log_text()))
            time.sleep(0.05)
        print("\n  measured: %s: UNAVAILABLE %.2f s after the healthy answers" % (fixture,
              time.monotonic() - started), file=sys.stderr, flush=True)
        self.assertRegex(details, r"^policy default/bad is stale: plugin %s \(bad\.so\) failed 3 or more calls in a row "
                                  r"\(last: %s" % (algorithm, re.escape(cause)))
        self.assertTrue(held or fixture == "hang", "the bad policy held before it went UNAVAILABLE")
        failed = serve.find_log(lambda r: r.get("msg") == "plugin failed a call" and r.get("plugin") == algorithm)
        self.assertIsNotNone(failed, serve.log_text())
        self.assertEqual(failed.get("file"), "bad.so")
        self.assertTrue(failed.get("cause", "").startswith(cause.split(" (")[0]), failed)
        body = self.scrape()
        count = self.sample(body, 'kubeai_scaler_plugin_failures_total{kind="%s",plugin="%s"}' % (kind, algorithm))
        self.assertIsNotNone(count, body)
        self.assertGreaterEqual(count, 1)
        # The healthy ones kept answering the same all along, and still do.
        for name, value in expected.items():
            self.assertEqual(self.answer(name)[:2], (grpc.StatusCode.OK, value), name)
        return serve

    def test_segv(self):
        serve = self.check_bad_plugin("segv")
        # A restart with the bad plugin present comes up and serves the others.
        self.stop_serve(serve)
        again = self.start()
        wait_until(lambda: self.answer("healthy")[:2] == (grpc.StatusCode.OK, 6), 10.0, "healthy after restart")
        wait_until(lambda: UNSERVABLE.search(self.answer("bad")[2] or ""), 20.0, "bad UNAVAILABLE again")
        self.assertIsNone(again.process.poll())

    def test_hang(self):
        self.check_bad_plugin("hang")

    def test_abort(self):
        self.check_bad_plugin("abort")

    def test_exit3(self):
        self.check_bad_plugin("exit3")

    def test_garbage(self):
        self.check_bad_plugin("garbage")


class HostLifetimeTest(IsolationTestCase):

    def test_plugin_hosts_die_with_serve(self):
        self.add_plugin("abi_1_0", "healthy.so")
        self.add_policy("healthy", "Abi10Plugin")
        self.write_metrics(["healthy"])
        serve = self.start()
        wait_until(lambda: self.answer("healthy")[:2] == (grpc.StatusCode.OK, 6), 10.0, "the plugin's answer")
        hosts = host_pids(serve.process.pid)
        self.assertEqual(len(hosts), 1, "one plugin-host process per plugin file")
        serve.process.send_signal(signal.SIGKILL)
        serve.process.wait(timeout=5)
        wait_until(lambda: not any(alive(pid) for pid in hosts), 5.0, "the plugin host to die with serve")

    def test_sigterm_stops_the_hosts_too(self):
        self.add_plugin("abi_1_0", "healthy.so")
        self.add_policy("healthy", "Abi10Plugin")
        self.write_metrics(["healthy"])
        serve = self.start()
        wait_until(lambda: self.answer("healthy")[:2] == (grpc.StatusCode.OK, 6), 10.0, "the plugin's answer")
        hosts = host_pids(serve.process.pid)
        self.assertEqual(len(hosts), 1)
        self.stop_serve(serve)
        self.assertFalse(any(alive(pid) for pid in hosts))


class RefusedPluginTest(IsolationTestCase):

    def test_a_world_writable_plugin_is_refused(self):
        path = self.add_plugin("abi_1_0", "open.so")
        os.chmod(path, 0o666)
        self.add_policy("builtin")
        self.write_metrics(["builtin"])
        serve = self.start()
        refused = serve.wait_for_log(lambda r: r.get("msg") == "plugin failed", 10.0, "the refusal")
        self.assertIn("writable by others (mode 0666)", refused.get("error", ""), refused)
        self.assertIn("open.so", refused.get("error", ""))
        self.assertEqual(host_pids(serve.process.pid), [], "no host started for a refused file")
        wait_until(lambda: self.answer("builtin")[:2] == (grpc.StatusCode.OK, 6), 10.0, "the built-in policy")


def setup(args, stubs):
    global ARGS, S
    ARGS, S = args, stubs


if __name__ == "__main__":
    rest = []
    for arg in sys.argv[1:]:
        if arg.startswith("--fixture="):
            name, _, path = arg[len("--fixture="):].partition("=")
            FIXTURES[name] = path
        else:
            rest.append(arg)
    sys.argv[1:] = rest
    h.run_tests(setup)
