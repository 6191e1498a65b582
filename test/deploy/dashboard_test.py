#!/usr/bin/python3
"""The Grafana dashboard against a real Prometheus scraping a real `kubeai-scaler serve`.

The world: `serve` on the repository's examples (examples/policies, one more
policy that validation refuses, examples/metrics.yaml, the example plugins),
a KEDA-like client calling every RPC of every policy (and an unknown one)
all along, and Debian's Prometheus scraping /metrics every second with the
recording rules of deploy/prometheus loaded. A second server, whose
Prometheus metric source is always refused, has a policy go stale, so that
the staleness panels have something to show.

  DashboardShapeTest  the JSON: valid, a Prometheus `datasource` variable that
                      every panel and target uses, titles, unique ids, the
                      namespace/policy/instance variables matched with =~
  PanelQueryTest      every panel's PromQL, with the variables substituted as
                      Grafana does for "All", answers data through
                      /api/v1/query (a finite value, not only NaN); the
                      variables' label_values() find the examples; a few
                      panels' values are checked against the examples'
                      decisions; a policy picked in $policy scopes the panels
  RecordingRulesTest  deploy/prometheus's rules load and evaluate (health ok)

Every process is stopped on every path (class cleanups); passing tests wait
for conditions with deadlines, never for a fixed time.

  dashboard_test.py --scaler PATH --proto proto/externalscaler.proto \\
      --step-scale-so PATH --capped-smooth-ratio-so PATH --source-dir REPO \\
      [--prometheus /usr/bin/prometheus] [--time-scale N] [unittest args]
"""

import argparse
import json
import math
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.error
import urllib.parse
import urllib.request

sys.dont_write_bytecode = True
# The serve tests' helpers (process, log, stubs); imported before grpc, which they configure.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "serve"))
import serve_helpers as h  # noqa: E402

import grpc  # noqa: E402

ARGS = None
STUBS = None

DASHBOARD = "deploy/grafana/kubeai-scaler-dashboard.json"
RULES = "deploy/prometheus/kubeai-recording-rules.yaml"

# What Grafana puts in place of the built-in variables here: a 1 s scrape
# interval makes $__rate_interval 4 s in Grafana; 15 s leaves room for a slow
# scrape without changing what is tested.
BUILTINS = {"$__rate_interval": "15s", "$__interval": "1s", "$__range": "1m"}
# The dashboard's own variables, all multi-value with "All" = ".*".
VARIABLES = ("namespace", "policy", "instance", "metric")

# The examples (examples/README.md, examples/metrics.yaml) as the server decides them.
EXAMPLE_POLICIES = {("default", "llm-max-ratio"), ("default", "llm-average-ratio"),
                    ("default", "llm-weighted-ratio"), ("default", "llm-capped-smooth"), ("batch", "batch-queue"),
                    ("default", "llm-vllm"), ("default", "llm-sglang"), ("default", "llm-triton"),
                    ("default", "llm-d-pool")}
# Named custom metrics (issue 12): besides the engine examples', the world adds
# one whose values it states here (MaxRatio over GPU 35/70 = 0.5,
# kvCache 92/80 = 1.15, waiting 12/(5 x 2) = 1.2).
CUSTOM_POLICY_KEY = ("llm", "vllm-chat")
CUSTOM_POLICY = """apiVersion: kubeai.io/v1alpha1
kind: AIInferenceAutoscalerPolicy
metadata:
  name: vllm-chat
  namespace: llm
spec:
  targetRef:
    kind: Deployment
    name: vllm-chat
  maxReplicas: 10
  metrics:
    gpuUtilization:
      targetPercentage: 70
    custom:
      - name: kvCache
        engine: vllm
        signal: kvCacheUtilization
        target: {type: Value, value: 80}
      - name: waiting
        engine: vllm
        signal: requestsWaiting
        target: {type: AverageValue, value: 5}
"""
CUSTOM_METRICS = """llm/vllm-chat:
  currentReplicas: 2
  gpuUtilizationPercent: 35
  kvCache: 92
  waiting: 12
"""
# Refused by validation (maxReplicas below minReplicas): the invalid state and its errors.
BROKEN_POLICY = """apiVersion: kubeai.io/v1alpha1
kind: AIInferenceAutoscalerPolicy
metadata:
  name: llm-broken
  namespace: default
spec:
  targetRef:
    kind: Deployment
    name: broken-server
  minReplicas: 5
  maxReplicas: 2
  metrics:
    gpuUtilization:
      targetPercentage: 70
"""
# The policy that goes stale in the second server (its metric source never answers).
STALE_NAMESPACE = "stale-demo"
STALE_POLICY = """apiVersion: kubeai.io/v1alpha1
kind: AIInferenceAutoscalerPolicy
metadata:
  name: unreachable
  namespace: stale-demo
spec:
  targetRef:
    kind: Deployment
    name: unreachable-server
  maxReplicas: 4
  metrics:
    gpuUtilization:
      targetPercentage: 70
"""

# How long Prometheus may take to have what a query needs (two scrapes for a
# rate, the rules' first evaluation); a passing test waits a few seconds.
DATA_TIMEOUT = 30.0


def repo_path(relative):
    return os.path.join(ARGS.source_dir, relative)


def load_dashboard():
    with open(repo_path(DASHBOARD)) as source:
        return json.load(source)


def graph_panels(dashboard):
    """Every panel that draws something (rows only group), rows' nested panels included."""
    for panel in dashboard["panels"]:
        if panel.get("type") == "row":
            yield from panel.get("panels", [])
        else:
            yield panel


def substitute(expr, values=None):
    """The query Grafana sends: variables (default "All" = .*) and built-ins replaced."""
    values = values or {}
    for name in sorted(BUILTINS, key=len, reverse=True):
        expr = expr.replace(name, BUILTINS[name])
    for name in VARIABLES:
        value = values.get(name, ".*")
        expr = expr.replace("${%s}" % name, value).replace("$" + name, value)
    return expr


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Prometheus:
    """Debian's prometheus on a free 127.0.0.1 port, with its own config and TSDB under `directory`."""

    START_TIMEOUT = 20.0

    def __init__(self, binary, directory, scrape_targets, rule_files):
        self.directory = directory
        self.config = os.path.join(directory, "prometheus.yml")
        with open(self.config, "w") as out:
            out.write("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n")
            out.write("rule_files:\n" + "".join("  - %s\n" % json.dumps(path) for path in rule_files))
            out.write("scrape_configs:\n  - job_name: kubeai-scaler\n    static_configs:\n      - targets: %s\n"
                      % json.dumps(scrape_targets))
        self.process = None
        self.log_path = os.path.join(directory, "prometheus.log")
        # A port picked free can be taken before Prometheus binds it: try again then.
        for _ in range(3):
            self.address = "127.0.0.1:%d" % free_port()
            if self._start(binary):
                return
        raise AssertionError("prometheus did not start; log:\n" + self.log())

    def _start(self, binary):
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                h.dying_with_parent([binary, "--config.file", self.config,
                                     "--storage.tsdb.path", os.path.join(self.directory, "data"),
                                     "--web.listen-address", self.address, "--log.level", "warn"]),
                stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        deadline = time.monotonic() + h.seconds(self.START_TIMEOUT)
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                return False
            try:
                with urllib.request.urlopen("http://%s/-/ready" % self.address, timeout=1) as response:
                    if response.status == 200:
                        return True
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.05)
        self.stop()
        raise AssertionError("prometheus not ready within %.0f s; log:\n%s"
                             % (h.seconds(self.START_TIMEOUT), self.log()))

    def log(self):
        try:
            with open(self.log_path) as log:
                return log.read()
        except OSError:
            return ""

    def api(self, path, **params):
        """The `data` of an API answer; AssertionError with Prometheus' own message on an error."""
        url = "http://%s/api/v1/%s?%s" % (self.address, path, urllib.parse.urlencode(params, doseq=True))
        try:
            with urllib.request.urlopen(url, timeout=h.RPC_TIMEOUT) as response:
                body = json.load(response)
        except urllib.error.HTTPError as error:
            body = json.load(error)
        if body.get("status") != "success":
            raise AssertionError("%s: %s: %s" % (params.get("query", path), body.get("errorType"), body.get("error")))
        return body["data"]

    def query(self, expr):
        """An instant query's result: a list of {metric, value}."""
        data = self.api("query", query=expr)
        if data["resultType"] == "scalar":
            return [{"metric": {}, "value": data["result"]}]
        return data["result"]

    def stop(self):
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=h.seconds(10))
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


class KedaLike:
    """Calls every RPC of every policy (and of an unknown one) until stopped, as KEDA's polls do."""

    def __init__(self, address, policies):
        self.channel = grpc.insecure_channel(address, options=h.channel_options())
        self.stub = STUBS.pb_grpc.ExternalScalerStub(self.channel)
        self.policies = sorted(policies) + [("default", "no-such-policy")]
        self.failure = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        expected = (grpc.StatusCode.NOT_FOUND, grpc.StatusCode.UNAVAILABLE)
        while not self._stop.is_set():
            for namespace, name in self.policies:
                ref = STUBS.pb.ScaledObjectRef(name=name, namespace=namespace)
                for call in (lambda: self.stub.GetMetricSpec(ref, timeout=h.RPC_TIMEOUT),
                             lambda: self.stub.GetMetrics(STUBS.pb.GetMetricsRequest(
                                 scaledObjectRef=ref, metricName="kubeai-" + name), timeout=h.RPC_TIMEOUT),
                             lambda: self.stub.IsActive(ref, timeout=h.RPC_TIMEOUT)):
                    try:
                        call()
                    except grpc.RpcError as error:
                        if error.code() not in expected:
                            self.failure = "%s/%s: %s %s" % (namespace, name, error.code(), error.details())
            self._stop.wait(0.1)

    def stop(self):
        self._stop.set()
        self._thread.join(timeout=h.RPC_TIMEOUT)
        self.channel.close()


class World:
    """serve on the examples, the stale server, the client, Prometheus. Built once."""

    instance = None
    failed = None  # why it could not start: the next class fails the same way at once

    @classmethod
    def get(cls):
        if cls.failed is not None:
            raise AssertionError("the test world did not start: %s" % cls.failed)
        if cls.instance is None:
            try:
                cls.instance = World()
            except BaseException as error:
                cls.failed = error
                raise
            # Shared by the test classes; stopped after the last, whatever happened.
            unittest.addModuleCleanup(cls.instance.stop)
        return cls.instance

    def __init__(self):
        self.stoppers = []
        try:
            self._start()
        except BaseException:
            self.stop()
            raise

    def _start(self):
        self.dir = tempfile.mkdtemp(prefix="kubeai-dashboard-test-")
        self.stoppers.append(lambda: shutil.rmtree(self.dir, ignore_errors=True))
        policy_dir = os.path.join(self.dir, "policies")
        shutil.copytree(repo_path("examples/policies"), policy_dir)
        with open(os.path.join(policy_dir, "broken.yaml"), "w") as out:
            out.write(BROKEN_POLICY)
        with open(os.path.join(policy_dir, "vllm-chat.yaml"), "w") as out:
            out.write(CUSTOM_POLICY)
        metrics_file = os.path.join(self.dir, "metrics.yaml")
        shutil.copy(repo_path("examples/metrics.yaml"), metrics_file)
        with open(metrics_file, "a") as out:
            out.write(CUSTOM_METRICS)
        plugin_dir = os.path.join(self.dir, "plugins")
        os.mkdir(plugin_dir)
        for plugin in (ARGS.step_scale_so, ARGS.capped_smooth_ratio_so):
            shutil.copy(plugin, plugin_dir)

        self.serve = h.Serve(ARGS.scaler, ["--policy-dir", policy_dir, "--metrics-file", metrics_file,
                                           "--plugin-dir", plugin_dir, "--evaluation-interval", "1s"], self.dir)
        self.stoppers.append(lambda: h.ServeTestCase.stop_serve(self.serve))
        targets = [self.serve.http_address]

        # Its metric source reads from a port that is bound but never listens:
        # every read is refused at once, and no one else can take the port meanwhile.
        self.refusing = socket.socket()
        self.refusing.bind(("127.0.0.1", 0))
        self.stoppers.append(self.refusing.close)
        stale_dir = os.path.join(self.dir, "stale-policies")
        os.mkdir(stale_dir)
        with open(os.path.join(stale_dir, "unreachable.yaml"), "w") as out:
            out.write(STALE_POLICY)
        self.stale_serve = h.Serve(
            ARGS.scaler, ["--policy-dir", stale_dir,
                          "--prometheus-url", "http://127.0.0.1:%d" % self.refusing.getsockname()[1],
                          "--prometheus-timeout", "200ms",
                          "--evaluation-interval", "1s", "--metrics-stale-after", "2s"], self.dir)
        self.stoppers.append(lambda: h.ServeTestCase.stop_serve(self.stale_serve))
        targets.append(self.stale_serve.http_address)

        self.keda = KedaLike(self.serve.grpc_address,
                             EXAMPLE_POLICIES | {CUSTOM_POLICY_KEY, ("default", "llm-broken")})
        self.stoppers.append(self.keda.stop)
        self.prometheus = Prometheus(ARGS.prometheus, self.dir, targets, [repo_path(RULES)])
        self.stoppers.append(self.prometheus.stop)

        # Every target scraped at least three times, all up: rates have two points.
        try:
            h.wait_until(lambda: self._scrapes() >= 3, DATA_TIMEOUT,
                         "three successful scrapes of every kubeai-scaler target")
        except AssertionError as error:
            raise AssertionError("%s; prometheus log:\n%s" % (error, self.prometheus.log())) from None

    def _scrapes(self):
        result = self.prometheus.query('min(count_over_time(up{job="kubeai-scaler"}[1m]) '
                                       'and on (instance) up{job="kubeai-scaler"} == 1)')
        up = self.prometheus.query('count(up{job="kubeai-scaler"} == 1)')
        if not result or not up or int(float(up[0]["value"][1])) != 2:
            return 0
        return float(result[0]["value"][1])

    def stop(self):
        errors = []
        for stop in reversed(self.stoppers):  # the client, Prometheus, the servers, then the files
            try:
                stop()
            except Exception as error:  # every process is stopped even when one stop fails
                errors.append(error)
        self.stoppers = []
        if errors:
            raise errors[0]


class DashboardShapeTest(unittest.TestCase):
    """The JSON as Grafana imports it."""

    @classmethod
    def setUpClass(cls):
        cls.dashboard = load_dashboard()

    def test_schema_and_identity(self):
        self.assertGreaterEqual(self.dashboard["schemaVersion"], 36)
        self.assertEqual(self.dashboard["uid"], "kubeai-scaler")
        self.assertTrue(self.dashboard["title"])

    def test_variables(self):
        variables = {variable["name"]: variable for variable in self.dashboard["templating"]["list"]}
        self.assertEqual(variables["datasource"]["type"], "datasource")
        self.assertEqual(variables["datasource"]["query"], "prometheus")
        for name in VARIABLES:
            with self.subTest(variable=name):
                variable = variables[name]
                self.assertEqual(variable["type"], "query")
                self.assertEqual(variable["datasource"]["uid"], "${datasource}")
                self.assertTrue(variable["multi"] and variable["includeAll"])
                self.assertEqual(variable["allValue"], ".*")
        self.assertIn("kubeai_autoscaler_desired_replicas", variables["namespace"]["definition"])
        self.assertIn("kubeai_autoscaler_desired_replicas", variables["policy"]["definition"])
        self.assertIn("kubeai_scaler_policy_metric_target", variables["metric"]["definition"])
        # Per metric, templated on the policy: the panel repeats for each value of $metric.
        by_name = [panel for panel in graph_panels(self.dashboard) if panel.get("repeat") == "metric"]
        self.assertEqual([panel["title"] for panel in by_name], ["$metric: value, target and ratio"])

    def test_every_panel_has_a_title_the_datasource_variable_and_queries(self):
        ids = set()
        panels = list(graph_panels(self.dashboard))
        self.assertGreaterEqual(len(panels), 10)
        nested = [inner for panel in self.dashboard["panels"] for inner in panel.get("panels", [])]
        for panel in self.dashboard["panels"] + nested:
            with self.subTest(panel=panel.get("title")):
                self.assertTrue(panel.get("title"))
                self.assertNotIn(panel["id"], ids)
                ids.add(panel["id"])
                grid = panel["gridPos"]
                self.assertLessEqual(grid["x"] + grid["w"], 24)
        for panel in panels:
            with self.subTest(panel=panel["title"]):
                self.assertEqual(panel["datasource"], {"type": "prometheus", "uid": "${datasource}"})
                self.assertTrue(panel["targets"])
                for target in panel["targets"]:
                    self.assertEqual(target.get("datasource", panel["datasource"]), panel["datasource"])
                    self.assertTrue(target["expr"].strip())

    def test_variables_are_matched_as_regular_expressions(self):
        # Multi-value and "All" (.*) only work with =~; a $var inside a matcher with = matches nothing.
        for panel in graph_panels(self.dashboard):
            for target in panel["targets"]:
                for name in VARIABLES:
                    for match in re.finditer(r"(\w+)\s*(=~|!~|=|!=)\s*\"\$\{?%s\}?\"" % name, target["expr"]):
                        with self.subTest(panel=panel["title"], variable=name):
                            self.assertEqual(match.group(2), "=~", match.group(0))
                    self.assertNotRegex(target["expr"], r"[^\"]\$\{?%s\b" % name,
                                        "%s: $%s outside a label matcher" % (panel["title"], name))


class PanelQueryTest(unittest.TestCase):
    """The queries against Prometheus scraping the running server."""

    @classmethod
    def setUpClass(cls):
        cls.world = World.get()
        cls.dashboard = load_dashboard()
        cls.prometheus = cls.world.prometheus

    def wait_for_data(self, expr, what):
        """The query's result once it has a finite value; fails at once on a PromQL error."""
        last = []

        def has_data():
            last[:] = self.prometheus.query(expr)
            return any(math.isfinite(float(sample["value"][1])) for sample in last)

        try:
            h.wait_until(has_data, DATA_TIMEOUT, what, interval=0.25)
        except AssertionError as error:
            raise AssertionError("%s\n  query: %s\n  last result: %s" % (error, expr, last)) from None
        return last

    def test_every_panel_query_returns_data(self):
        pending = {}  # (panel, refId) -> query; all share one deadline, and every failure is listed
        for panel in graph_panels(self.dashboard):
            for target in panel["targets"]:
                expr = substitute(target["expr"])
                self.assertNotIn("$", expr, "%s: a variable Grafana would substitute is left" % panel["title"])
                pending[(panel["title"], target["refId"])] = expr
        self.assertGreaterEqual(len(pending), 20)
        last = {}

        def all_answered():
            for key, expr in list(pending.items()):
                last[key] = self.prometheus.query(expr)  # a PromQL error fails at once
                if any(math.isfinite(float(sample["value"][1])) for sample in last[key]):
                    del pending[key]
            return not pending

        try:
            h.wait_until(all_answered, DATA_TIMEOUT, "every panel's queries answering data", interval=0.25)
        except AssertionError as error:
            raise AssertionError("%s; no finite value from:\n%s" % (error, "\n".join(
                "  %r %s: %s\n    last result: %s" % (title, ref, pending[(title, ref)], last.get((title, ref)))
                for title, ref in sorted(pending)))) from None

    def test_variable_queries_find_the_examples(self):
        variables = {variable["name"]: variable for variable in self.dashboard["templating"]["list"]}
        found = {}
        for name in VARIABLES:
            match = re.fullmatch(r"label_values\((.+),\s*(\w+)\)", variables[name]["definition"])
            self.assertTrue(match, variables[name]["definition"])
            selector, label = substitute(match.group(1)), match.group(2)
            result = self.wait_for_data("count by (%s) (%s)" % (label, selector), "values of $" + name)
            found[name] = {sample["metric"].get(label) for sample in result}
        self.assertLessEqual({"default", "batch"}, found["namespace"])
        self.assertLessEqual({name for _, name in EXAMPLE_POLICIES}, found["policy"])
        self.assertIn(self.world.serve.http_address, found["instance"])
        # Seed and custom metrics by the names status and logs use.
        self.assertLessEqual({"gpuUtilization", "latencyP99", "requestQueueDepth", "kvCache", "waiting"},
                             found["metric"])

    def panel_result(self, title, ref="A", values=None):
        for panel in graph_panels(self.dashboard):
            if panel["title"] == title:
                target = next(t for t in panel["targets"] if t["refId"] == ref)
                return self.wait_for_data(substitute(target["expr"], values), "%s (%s)" % (title, ref))
        self.fail("no panel %r" % title)

    @staticmethod
    def by(result, *labels):
        return {tuple(sample["metric"].get(label) for label in labels): float(sample["value"][1])
                for sample in result}

    def test_values_are_the_examples_decisions(self):
        # examples/README.md: llm-max-ratio 3 -> 4, llm-capped-smooth (the plugin) 4 -> 6, batch-queue 0 -> 1.
        desired = self.by(self.panel_result("Desired vs current replicas", "A"), "namespace", "policy")
        for key, replicas in {("default", "llm-max-ratio"): 4, ("default", "llm-capped-smooth"): 6,
                              ("batch", "batch-queue"): 1}.items():
            with self.subTest(policy=key):
                self.assertEqual(desired.get(key), replicas)
        self.assertNotIn(("default", "llm-broken"), desired)  # refused: never decided
        current = self.by(self.panel_result("Desired vs current replicas", "B"), "namespace", "policy")
        self.assertEqual(current[("default", "llm-max-ratio")], 3)
        gpu = self.by(self.panel_result("GPU utilization vs target", "B"), "namespace", "policy")
        self.assertEqual(gpu[("default", "llm-max-ratio")], 70)
        # The weighted policy's queue: 40 waiting against 10 per replica x 4 replicas.
        ratios = self.by(self.panel_result("Metric ratios (value / target)", "B"), "policy", "metric_type")
        self.assertEqual(ratios[("llm-weighted-ratio", "request_queue_depth")], 1.0)
        ratios = self.by(self.panel_result("Metric ratios (value / target)", "A"), "policy", "metric_type")
        self.assertAlmostEqual(ratios[("llm-max-ratio", "gpu_utilization")], 1.2)

        states = self.by(self.panel_result("Policies by state"), "state")
        expected_ready = len(EXAMPLE_POLICIES) + 1  # and CUSTOM_POLICY
        self.assertEqual(states[("ready",)], expected_ready)
        self.assertEqual(states[("invalid",)], 1)
        self.assertEqual(self.by(self.panel_result("Plugins loaded"))[()], 2)
        self.assertEqual(self.by(self.panel_result("Plugin load errors"))[()], 0)
        not_ready = self.by(self.panel_result("Policies not ready"), "namespace", "policy", "state")
        self.assertIn(("default", "llm-broken", "invalid"), not_ready)
        errors = self.by(self.panel_result("Evaluation errors by type"), "policy", "error_type")
        self.assertIn(("llm-broken", "invalid"), errors)
        codes = {key for key in self.by(self.panel_result("gRPC requests by method and code"), "method", "code")}
        self.assertLessEqual({("GetMetrics", "OK"), ("IsActive", "NOT_FOUND"), ("GetMetricSpec", "OK")}, codes)
        self.assertIsNone(self.world.keda.failure)

    def test_metrics_by_name_are_the_decisions(self):
        # CUSTOM_POLICY: value, target (as stated: per replica for AverageValue) and ratio per metric name.
        title = "$metric: value, target and ratio"
        expected = {"A": {"gpuUtilization": 35.0, "kvCache": 92.0, "waiting": 12.0},
                    "B": {"gpuUtilization": 70.0, "kvCache": 80.0, "waiting": 5.0},
                    "C": {"gpuUtilization": 0.5, "kvCache": 1.15, "waiting": 1.2}}
        picked = {"namespace": "llm", "policy": "vllm-chat"}
        for ref, values in expected.items():
            with self.subTest(ref=ref):
                got = self.by(self.panel_result(title, ref, picked), "metric")
                self.assertEqual(set(got), {(name,) for name in values})
                for name, value in values.items():
                    self.assertAlmostEqual(got[(name,)], value)
        ratios = self.by(self.panel_result("Ratio by metric"), "namespace", "policy", "metric")
        self.assertAlmostEqual(ratios[("llm", "vllm-chat", "waiting")], 1.2)
        # The seed four under their names, for every policy: the weighted example's queue, 40 / (10 x 4).
        self.assertAlmostEqual(ratios[("default", "llm-weighted-ratio", "requestQueueDepth")], 1.0)
        self.assertAlmostEqual(ratios[("default", "llm-max-ratio", "gpuUtilization")], 1.2)
        # One metric picked in $metric, as Grafana's repeat does for each panel.
        one = self.panel_result(title, "C", dict(picked, metric="kvCache"))
        self.assertEqual(self.by(one, "metric"), {("kvCache",): 1.15})

    def test_every_series_a_panel_names_is_exported(self):
        # Each kubeai_* name in a panel's query is one /metrics has (a renamed family fails here by name).
        exported = set()
        for server in (self.world.serve, self.world.stale_serve):  # the staleness families are the second's
            with urllib.request.urlopen("http://%s/metrics" % server.http_address, timeout=h.RPC_TIMEOUT) as answer:
                body = answer.read().decode()
            exported |= {line.split("{")[0].split(" ")[0] for line in body.splitlines() if line and line[0] != "#"}
        used = set()
        for panel in graph_panels(self.dashboard):
            for target in panel["targets"]:
                used |= set(re.findall(r"\b(kubeai_[a-z0-9_]+)", target["expr"]))
        self.assertGreaterEqual(len(used), 15)
        self.assertEqual(sorted(used - exported), [])

    def test_stale_policies_are_named_with_their_reason(self):
        stale = self.by(self.panel_result("Stale policies and why"), "namespace", "policy", "reason")
        self.assertEqual(stale, {(STALE_NAMESPACE, "unreachable", "metrics"): 1.0})
        self.assertEqual(self.by(self.panel_result("Stale policies"))[()], 1)
        not_ready = self.by(self.panel_result("Policies not ready"), "namespace", "policy", "state")
        self.assertIn((STALE_NAMESPACE, "unreachable", "stale"), not_ready)
        self.assertEqual(self.by(self.panel_result("Stale policies by reason"), "reason"), {("metrics",): 1.0})

    def test_a_picked_policy_scopes_the_panels(self):
        picked = {"namespace": "default", "policy": "llm-max-ratio"}
        desired = self.panel_result("Desired vs current replicas", "A", picked)
        self.assertEqual(self.by(desired, "namespace", "policy"), {("default", "llm-max-ratio"): 4.0})
        # Two namespaces picked: Grafana sends (a|b).
        both = self.panel_result("Desired vs current replicas", "A", {"namespace": "(default|batch)"})
        self.assertEqual({ns for ns, _ in self.by(both, "namespace", "policy")}, {"default", "batch"})


class RecordingRulesTest(unittest.TestCase):
    """deploy/prometheus's rules in the real server: loaded, and evaluated without error."""

    def test_rules_load_and_evaluate(self):
        prometheus = World.get().prometheus
        wanted = {"kubeai:gpu_utilization:avg", "kubeai:inference_latency_p99:5m", "kubeai:inference_latency_p95:5m",
                  "kubeai:request_queue_depth:sum"}

        def health():
            rules = {}
            for group in prometheus.api("rules", type="record")["groups"]:
                for rule in group["rules"]:
                    rules[rule["name"]] = (rule["health"], rule.get("lastError", ""))
            return rules

        rules = h.wait_until(lambda: (lambda r: r if wanted <= set(r) and all(
            state == "ok" for state, _ in r.values()) else None)(health()), DATA_TIMEOUT,
            "every recording rule evaluated with health ok: %s" % health())
        self.assertLessEqual(wanted, set(rules))


def main():
    global ARGS, STUBS
    parser = argparse.ArgumentParser()
    parser.add_argument("--scaler", required=True)
    parser.add_argument("--proto", required=True)
    parser.add_argument("--step-scale-so", required=True)
    parser.add_argument("--capped-smooth-ratio-so", required=True)
    parser.add_argument("--source-dir", required=True, help="the repository (examples/, deploy/)")
    parser.add_argument("--prometheus", default="/usr/bin/prometheus")
    parser.add_argument("--time-scale", type=float, default=1.0)
    ARGS, rest = parser.parse_known_args()
    h.TIME_SCALE = ARGS.time_scale
    with tempfile.TemporaryDirectory(prefix="kubeai-dashboard-stubs-") as out_dir:
        STUBS = h.load_stubs(ARGS.proto, out_dir)
        h.STUBS = STUBS
        program = unittest.main(argv=[sys.argv[0]] + rest, exit=False, verbosity=2)
    sys.exit(0 if program.result.wasSuccessful() else 1)


if __name__ == "__main__":
    main()
