#!/usr/bin/python3
"""`kubeai-scaler serve` through time, when what it depends on stops answering (issue 10, items 4 and 5).

The real binary on free 127.0.0.1 ports, KEDA's side from Debian's python3-grpcio.

  HungPrometheusTest  a Prometheus that answers, then accepts queries and never
                      answers them (the connection stays open), with
                      --prometheus-timeout 60s: GetMetrics turns UNAVAILABLE
                      within --metrics-stale-after + 2 intervals (the time is
                      printed), /readyz stays 200 and lists the policy as
                      stale, /healthz stays 200 as cycles keep completing; a
                      StreamIsActive opened meanwhile stays open and sends
                      once Prometheus answers again
  PendingStreamTest   the same Prometheus hung from the start: a stream opened
                      on the pending policy sends once it is servable
  HungPluginTest      a plugin call that never returns, in process
                      (--plugin-isolation=in-process, where nothing can kill
                      it): the policy's answers turn UNAVAILABLE after
                      --metrics-stale-after, /healthz fails after its limit
                      (four intervals), and SIGTERM still ends serve with
                      exit 0. Isolated plugins: serve_plugin_isolation_test.py
  DeadlineFlagsTest   --metrics-read-deadline and --metrics-stale-after refused
                      when they cannot work

  serve_time_test.py --scaler PATH --proto proto/externalscaler.proto --hanging-plugin-so PATH [--time-scale N]
"""

import http.server
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

sys.dont_write_bytecode = True  # no __pycache__ in the source tree for serve_helpers
# serve_helpers first: it sets gRPC's environment before grpc is loaded.
import serve_helpers as h  # noqa: E402
from serve_helpers import GPU_70, RPC_TIMEOUT, StreamReader, policy_yaml, ref, wait_until  # noqa: E402

import grpc  # noqa: E402

ARGS = None
S = None  # generated stubs (serve_helpers.Stubs)

INTERVAL = 1.0     # --evaluation-interval
STALE_AFTER = 3.0  # --metrics-stale-after
# serve's own bounds with those flags (DeadlineMetricSource::defaultDeadline, LoopLiveness::limitFor)
READ_DEADLINE = 2.0
LIVENESS_LIMIT = 4.0
POLL = 0.05


class PrometheusStub:
    """Prometheus' query API on 127.0.0.1:<free port>: every /api/v1/query answers a vector of one sample,
    `replicas` for a query about replicas and `value` for any other. After hang() each request is accepted
    and read, and then never answered (the connection stays open) until answer() or stop()."""

    def __init__(self, replicas=2, value=140.0):
        self.replicas = replicas
        self.value = value
        self._answering = threading.Event()
        self._answering.set()
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self.held = 0  # requests waiting now
        stub = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def do_GET(self):
                self._answer(urllib.parse.urlparse(self.path).query)

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                self._answer(self.rfile.read(length).decode("utf-8"))

            def _answer(self, form):
                query = urllib.parse.parse_qs(form).get("query", [""])[0]
                if not stub._answering.is_set():
                    with stub._lock:
                        stub.held += 1
                    while not stub._answering.wait(0.1):
                        pass
                    with stub._lock:
                        stub.held -= 1
                if stub._stopping.is_set():
                    return  # closed without an answer
                value = stub.replicas if "replicas" in query else stub.value
                body = json.dumps({"status": "success", "data": {"resultType": "vector", "result": [
                    {"metric": {}, "value": [time.time(), str(value)]}]}}).encode("utf-8")
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = "http://127.0.0.1:%d" % self.server.server_address[1]
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def hang(self):
        self._answering.clear()

    def answer(self):
        self._answering.set()

    def held_requests(self):
        with self._lock:
            return self.held

    def stop(self):
        self._stopping.set()
        self._answering.set()
        self.server.shutdown()
        self.server.server_close()


def report(what, seconds):
    """The measured time, in the test output (CTest shows it with --output-on-failure or -V)."""
    print("\n  measured: %s in %.2f s" % (what, seconds), file=sys.stderr, flush=True)


class TimeTestCase(h.ServeTestCase):
    """One serve per test over a fresh directory (setUp), stopped with SIGTERM (exit 0 asserted)."""

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="kubeai-serve-time-")
        self.addCleanup(shutil.rmtree, self.dir, ignore_errors=True)
        self.policy_dir = os.path.join(self.dir, "policies")
        os.mkdir(self.policy_dir)

    def start(self, args):
        self.serve = h.Serve(ARGS.scaler, ["--policy-dir", self.policy_dir, "--evaluation-interval", "%gs" % INTERVAL,
                                           "--metrics-stale-after", "%gs" % STALE_AFTER] + args, self.dir)
        self.addCleanup(h.ServeTestCase.stop_serve, self.serve)
        self.channel = grpc.insecure_channel(self.serve.grpc_address, options=h.channel_options())
        self.addCleanup(self.channel.close)
        self.stub = S.pb_grpc.ExternalScalerStub(self.channel)

    def answer(self, name):
        """(code, desired or None, details) of GetMetrics for default/<name>."""
        try:
            value = self.get_metrics(ref(name), "kubeai-" + name).metricValues[0].metricValue
            return grpc.StatusCode.OK, value, ""
        except grpc.RpcError as error:
            return error.code(), None, error.details()

    def wait_for_answer(self, name, accept, timeout, what):
        answers = []
        try:
            wait_until(lambda: answers.append(self.answer(name)) or accept(answers[-1]), timeout, what, POLL)
        except AssertionError as error:
            raise AssertionError("%s (last answer: %s); log:\n%s"
                                 % (error, answers[-1] if answers else None, self.serve.log_text())) from None
        return answers[-1]

    def cycles(self):
        return self.sample(self.scrape(), "kubeai_scaler_evaluation_cycle_seconds_count") or 0


class PrometheusStubCase(TimeTestCase):
    """serve over the PrometheusStub, one policy: default/gpu, GPU 140 of 70 at 2 replicas -> 4."""

    def start_with_prometheus(self, hung_from_start=False):
        self.prometheus = PrometheusStub(replicas=2, value=140.0)  # GPU 140 of 70 at 2 replicas -> 4
        self.addCleanup(self.prometheus.stop)  # after serve's stop (cleanups run last in, first out)
        if hung_from_start:
            self.prometheus.hang()
        with open(os.path.join(self.policy_dir, "gpu.yaml"), "w") as out:
            out.write(policy_yaml("gpu", "default", GPU_70, target="gpu-server"))
        self.start(["--prometheus-url", self.prometheus.url, "--prometheus-timeout", "60s"])


class HungPrometheusTest(PrometheusStubCase):

    def test_unavailable_within_stale_after_and_two_intervals_while_ready_and_alive(self):
        self.start_with_prometheus()
        self.wait_for_answer("gpu", lambda a: a[1] == 4, 10.0, "the first decision from Prometheus")

        self.prometheus.hang()
        hung = time.monotonic()
        last_ok = hung
        answers = []

        def unavailable():
            answer = self.answer("gpu")
            answers.append(answer)
            nonlocal last_ok
            if answer[0] == grpc.StatusCode.OK:
                self.assertEqual(answer[1], 4)  # the last decision, until stale
                last_ok = time.monotonic()
                return False
            return True

        wait_until(unavailable, STALE_AFTER + 2 * INTERVAL + 5.0, "GetMetrics to turn UNAVAILABLE", POLL)
        took = time.monotonic() - hung
        report("GetMetrics UNAVAILABLE after Prometheus stopped answering "
               "(--metrics-stale-after 3s, --evaluation-interval 1s, --prometheus-timeout 60s; last OK at %.2f s)"
               % (last_ok - hung), took)
        code, _, details = answers[-1]
        self.assertEqual(code, grpc.StatusCode.UNAVAILABLE, details)
        self.assertTrue(details.startswith("policy default/gpu is stale: metrics "), details)
        self.assertLessEqual(took, h.seconds(STALE_AFTER + 2 * INTERVAL))
        # Not before the bound: the last good read was at most one interval before the hang.
        self.assertGreaterEqual(took, STALE_AFTER - INTERVAL - 0.1)
        self.assertGreaterEqual(self.prometheus.held_requests(), 1)  # it really is hung, not refusing

        # Ready (200) and listing the policy as stale; alive, cycles completing.
        status, body = self.serve.http_get("/readyz")
        self.assertEqual(status, 200, body)
        self.assertIn("default/gpu: stale: ", body)
        cycles = self.cycles()
        healthz = []
        wait_until(lambda: healthz.append(self.serve.http_get("/healthz")) or self.cycles() >= cycles + 2,
                   4 * READ_DEADLINE, "two more evaluation cycles while Prometheus hangs")
        for status, body in healthz:
            self.assertEqual((status, body), (200, "ok"))
        # The loop has said it too, with the read's error, which names its deadline.
        readyz = []

        def loop_says_stale():
            readyz.append(self.serve.http_get("/readyz"))
            return any(line.startswith("default/gpu: stale: ") and "--metrics-read-deadline 2s" in line
                       for line in readyz[-1][1].splitlines())

        wait_until(loop_says_stale, 2 * STALE_AFTER, "the loop to mark the policy stale", POLL)
        self.assertEqual(readyz[-1][0], 200, readyz[-1][1])
        self.assertEqual(self.answer("gpu")[0], grpc.StatusCode.UNAVAILABLE)

        # A stream opened now stays open, silent, and sends once Prometheus answers again.
        reader = StreamReader(self.stub.StreamIsActive(ref("gpu"), timeout=60))
        try:
            reader.headers(RPC_TIMEOUT, "the stream established while the policy is stale")
            self.prometheus.answer()
            answered = time.monotonic()
            item = reader.next(READ_DEADLINE + 3 * INTERVAL + 5.0, "the stream's first message")
            report("StreamIsActive's first message after Prometheus answered again", time.monotonic() - answered)
            self.assertEqual(item[0], "message", item)
            self.assertIs(item[1].result, True)
        finally:
            reader.cancel()
        self.assertEqual(self.answer("gpu")[:2], (grpc.StatusCode.OK, 4))


class PendingStreamTest(PrometheusStubCase):

    def test_a_stream_opened_on_a_pending_policy_sends_once_it_is_servable(self):
        # serve's first cycle waits out the read deadline, then serves with the policy pending.
        self.start_with_prometheus(hung_from_start=True)
        code, _, details = self.answer("gpu")
        self.assertEqual(code, grpc.StatusCode.UNAVAILABLE, details)
        self.assertTrue(re.match(r"policy default/gpu is (pending|stale): ", details), details)

        reader = StreamReader(self.stub.StreamIsActive(ref("gpu"), timeout=60))
        try:
            # Held by the server, silent (a stream that had ended would show its status next).
            reader.headers(RPC_TIMEOUT, "the stream established while the policy is pending")
            self.prometheus.answer()
            item = reader.next(READ_DEADLINE + 3 * INTERVAL + 5.0, "the first message once servable")
            self.assertEqual(item[0], "message", item)
            self.assertIs(item[1].result, True)
        finally:
            reader.cancel()


class HungPluginTest(TimeTestCase):

    def test_a_plugin_call_that_never_returns_goes_stale_fails_healthz_and_sigterm_still_exits(self):
        plugin_dir = os.path.join(self.dir, "plugins")
        os.mkdir(plugin_dir)
        shutil.copy(ARGS.hanging_plugin_so, os.path.join(plugin_dir, "hanging.so"))
        trigger = os.path.join(self.dir, "hang")
        with open(os.path.join(self.policy_dir, "hang.yaml"), "w") as out:
            out.write(policy_yaml("hang", "default", GPU_70, algorithm="Hanging",
                                  parameters={"hangWhenExists": trigger}))
        metrics_file = os.path.join(self.dir, "metrics.yaml")
        h.write_atomically(metrics_file, h.metrics_yaml({"default/hang": {"currentReplicas": 3,
                                                                          "gpuUtilizationPercent": 140}}))
        self.start(["--metrics-file", metrics_file, "--plugin-dir", plugin_dir, "--plugin-isolation", "in-process"])
        self.wait_for_answer("hang", lambda a: a[1] == 3, 5.0, "the plugin's decision (holds 3)")
        self.assertEqual(self.serve.http_get("/healthz"), (200, "ok"))

        with open(trigger, "w"):
            pass  # the next call of the plugin never returns
        hung = time.monotonic()
        code, _, details = self.wait_for_answer("hang", lambda a: a[0] != grpc.StatusCode.OK,
                                                STALE_AFTER + 2 * INTERVAL + 5.0, "UNAVAILABLE")
        stale_took = time.monotonic() - hung
        report("GetMetrics UNAVAILABLE after the plugin hung (--metrics-stale-after 3s)", stale_took)
        self.assertEqual(code, grpc.StatusCode.UNAVAILABLE, details)
        self.assertTrue(details.startswith("policy default/hang is stale: metrics last read "), details)
        self.assertLessEqual(stale_took, h.seconds(STALE_AFTER + 2 * INTERVAL))

        wait_until(lambda: self.serve.http_get("/healthz")[0] != 200, LIVENESS_LIMIT + 2 * INTERVAL + 5.0,
                   "/healthz to fail", POLL)
        health_took = time.monotonic() - hung
        report("/healthz 503 after the plugin hung (limit 4 x --evaluation-interval)", health_took)
        status, body = self.serve.http_get("/healthz")
        self.assertEqual(status, 503, body)
        self.assertTrue(body.startswith("evaluation loop stuck: no cycle completed for "), body)
        self.assertIn("(limit 4s)", body)
        self.assertGreaterEqual(health_took, LIVENESS_LIMIT - INTERVAL - 0.1)
        self.assertLessEqual(health_took, h.seconds(LIVENESS_LIMIT + 2 * INTERVAL))
        # Ready still (the Service keeps the replica until the kubelet restarts it), the policy listed.
        status, body = self.serve.http_get("/readyz")
        self.assertEqual(status, 200, body)
        self.assertIn("default/hang: stale: metrics last read ", body)

        # The loop cannot be joined: serve ends anyway, exit 0, saying so.
        stopping = time.monotonic()
        self.assertEqual(self.serve.stop(timeout=10.0), 0, self.serve.log_text())
        report("serve's exit after SIGTERM with the loop stuck", time.monotonic() - stopping)
        self.assertTrue(self.serve.find_log(lambda r: r.get("msg") == "exiting without waiting for a stuck thread"),
                        self.serve.log_text())


class DeadlineFlagsTest(TimeTestCase):

    def run_serve(self, *flags):
        metrics_file = os.path.join(self.dir, "metrics.yaml")
        h.write_atomically(metrics_file, "{}\n")
        return subprocess.run([ARGS.scaler, "serve", "--policy-dir", self.policy_dir, "--metrics-file", metrics_file,
                               "--grpc-address", "127.0.0.1:0", "--metrics-address", "127.0.0.1:0"] + list(flags),
                              stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=RPC_TIMEOUT)

    def test_refused_flags_say_why(self):
        rows = (
            # a read deadline past the staleness bound could only bring stale metrics
            (["--metrics-read-deadline", "50s"],
             "--metrics-read-deadline (50s) must not be longer than --metrics-stale-after (45s)"),
            (["--metrics-read-deadline", "0s"], "--metrics-read-deadline must be greater than 0"),
            (["--metrics-read-deadline", "soon"], "--metrics-read-deadline: "),
            (["--reaction-time", "soon"], "--reaction-time: "),
            # every decision would be stale on the clock before the next cycle
            (["--metrics-stale-after", "15s"],
             "--metrics-stale-after (15s) must be longer than --evaluation-interval (15s)"),
        )
        for flags, message in rows:
            with self.subTest(flags=flags):
                result = self.run_serve(*flags)
                self.assertEqual(result.returncode, 2, result.stderr)
                self.assertIn(message, result.stderr)


def setup(args, stubs):
    global ARGS, S
    ARGS, S = args, stubs


if __name__ == "__main__":
    h.run_tests(setup)
