#!/usr/bin/python3
"""The log line of a decision (issue 12 item 4): `desired replicas` names every ratio it was decided on.

serve on a policy with the seed's GPU utilization and two custom metrics
(a Value and an AverageValue), from the metrics file; the line carries one
field per metric, `ratio.<name>`, beside the decided `ratio`, in both
--log-format json (what serve_helpers reads) and text. A metric without data
has no field, and a metric the policy drops is not named again.

ExplanationLogTest (issue 14 item 4): ready and serving replicas while some
start, Predictive's forecast and horizon, Burst's panic and since when.

  serve_decision_log_test.py --scaler PATH/kubeai-scaler --proto proto/externalscaler.proto [--time-scale N]
"""

import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading

sys.dont_write_bytecode = True  # no __pycache__ in the source tree for serve_helpers
import serve_helpers as h  # noqa: E402
from serve_helpers import ServeTestCase  # noqa: E402


def policy(custom):
    """GPU target 70 % and the custom metrics given as YAML list items, for Deployment `chat-server`."""
    return ("apiVersion: kubeai.io/v1alpha1\n"
            "kind: AIInferenceAutoscalerPolicy\n"
            "metadata:\n"
            "  name: chat\n"
            "  namespace: default\n"
            "spec:\n"
            "  targetRef:\n"
            "    kind: Deployment\n"
            "    name: chat-server\n"
            "  minReplicas: 1\n"
            "  maxReplicas: 20\n"
            "  cooldownPeriod: 0\n"
            "  metrics:\n"
            "    gpuUtilization:\n"
            "      targetPercentage: 70\n"
            "    custom:\n" + custom)


KV_CACHE = ("      - name: kvCache\n"
            "        engine: vllm\n"
            "        signal: kvCacheUtilization\n"
            "        target: {type: Value, value: 80}\n")
WAITING = ("      - name: waiting\n"
           "        prometheusQuery: sum(vllm:num_requests_waiting)\n"
           "        target: {type: AverageValue, value: 5}\n")


class DecisionLogTest(ServeTestCase):
    def desired_line(self, desired, after):
        return self.serve.wait_for_log(
            lambda r: r.get("msg") == "desired replicas" and r.get("desired") == str(desired), 5.0,
            "a desired replicas line with desired=%d" % desired, after=after)

    def test_every_ratio_by_name(self):
        mark = 0
        self.start_serve(self, self.addCleanup, policies={"chat.yaml": policy(KV_CACHE + WAITING)},
                         metrics={"default/chat": {"currentReplicas": 2, "gpuUtilizationPercent": 35,
                                                   "kvCache": 92, "waiting": 12}})
        # MaxRatio over GPU 35/70 = 0.5, kvCache 92/80 = 1.15, waiting 12/(5 x 2) = 1.2: ceil(2 x 1.2) = 3.
        line = self.desired_line(3, mark)
        self.assertEqual(line["policy"], "default/chat")
        self.assertEqual(line["ratio"], "1.200")
        self.assertEqual({key: value for key, value in line.items() if key.startswith("ratio.")},
                         {"ratio.gpuUtilization": "0.500", "ratio.kvCache": "1.150", "ratio.waiting": "1.200"})

        # The workload follows (current 3); kvCache loses its data and waiting doubles:
        # 24/(5 x 3) = 1.6 -> ceil(3 x 1.6) = 5, and kvCache is not named.
        mark = self.serve.log_mark()
        self.metrics["default/chat"] = {"currentReplicas": 3, "gpuUtilizationPercent": 35, "waiting": 24}
        self.write_metrics()
        line = self.desired_line(5, mark)
        self.assertEqual({key: value for key, value in line.items() if key.startswith("ratio.")},
                         {"ratio.gpuUtilization": "0.500", "ratio.waiting": "1.600"})

        # At 5, the policy drops waiting: GPU 35/70 and kvCache 40/80 are 0.5 -> ceil(2.5) = 3, and
        # waiting, still in the metrics file, is not named. (The metrics first: 24/(5 x 5) holds at 5.)
        mark = self.serve.log_mark()
        self.metrics["default/chat"] = {"currentReplicas": 5, "gpuUtilizationPercent": 35, "kvCache": 40,
                                        "waiting": 24}
        self.write_metrics()
        h.write_atomically(os.path.join(self.policy_dir, "chat.yaml"), policy(KV_CACHE))
        line = self.desired_line(3, mark)
        self.assertEqual(line["ratio"], "0.500")
        self.assertEqual({key: value for key, value in line.items() if key.startswith("ratio.")},
                         {"ratio.gpuUtilization": "0.500", "ratio.kvCache": "0.500"})

    def test_text_format(self):
        # --log-format text, as a person reads it: the same fields as key=value.
        directory = tempfile.mkdtemp(prefix="kubeai-decision-log-")
        self.addCleanup(shutil.rmtree, directory, ignore_errors=True)
        policy_dir = os.path.join(directory, "policies")
        os.mkdir(policy_dir)
        with open(os.path.join(policy_dir, "chat.yaml"), "w") as out:
            out.write(policy(KV_CACHE + WAITING))
        metrics = os.path.join(directory, "metrics.yaml")
        h.write_atomically(metrics, h.metrics_yaml({"default/chat": {
            "currentReplicas": 2, "gpuUtilizationPercent": 35, "kvCache": 92, "waiting": 12}}))
        process = subprocess.Popen(
            h.dying_with_parent([h.ARGS.scaler, "serve", "--policy-dir", policy_dir, "--metrics-file", metrics,
                                 "--grpc-address", "127.0.0.1:0", "--metrics-address", "127.0.0.1:0",
                                 "--log-format", "text"]),
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            env=dict(os.environ, TMPDIR=directory))
        lines = []
        reader = threading.Thread(target=lambda: lines.extend(
            raw.decode("utf-8", "replace").rstrip("\n") for raw in process.stderr), daemon=True)
        reader.start()
        try:
            found = h.wait_until(lambda: next((line for line in list(lines) if " desired replicas " in line), None),
                                 10.0, "a desired replicas line")
        finally:
            process.terminate()
            self.assertEqual(process.wait(timeout=h.seconds(5.0)), 0, "\n".join(lines))
            reader.join(timeout=h.seconds(5.0))
            process.stderr.close()
        self.assertRegex(found, r" ratio=1\.200( |$)")
        for field in ("ratio.gpuUtilization=0.500", "ratio.kvCache=1.150", "ratio.waiting=1.200"):
            self.assertIsNotNone(re.search(r"(^| )%s( |$)" % re.escape(field), found), found)


def algorithm_policy(algorithm, parameters=""):
    """GPU target 70 % and a queue of 5 per replica, decided by `algorithm`."""
    text = (policy("") .replace("    custom:\n", h.QUEUE_5) +
            "  algorithm:\n    name: %s\n" % algorithm)
    if parameters:
        text += "    parameters: %s\n" % parameters
    return text


class ExplanationLogTest(ServeTestCase):
    """Issue 14 item 4: the line says what start-up awareness counted on (ready, serving: only
    when they differ from current) and what Predictive (forecast, horizon, decided) or Burst
    (panic, since) saw."""

    # Predictive's model takes a trend only from observations at least 5 s apart (a cycle the
    # metrics file triggers right after another moves its level alone): a cycle every 6 s gives
    # the next one.
    INTERVAL = "6s"

    def line_where(self, predicate, what, after, timeout=5.0):
        return self.serve.wait_for_log(lambda r: r.get("msg") == "desired replicas" and predicate(r), timeout, what,
                                       after=after)

    def start(self, text, metrics):
        """start_serve's files, with a cycle every INTERVAL."""
        self.dir = tempfile.mkdtemp(prefix="kubeai-explanation-log-")
        self.addCleanup(shutil.rmtree, self.dir, ignore_errors=True)
        self.policy_dir = os.path.join(self.dir, "policies")
        os.mkdir(self.policy_dir)
        with open(os.path.join(self.policy_dir, "chat.yaml"), "w") as out:
            out.write(text)
        self.metrics = dict(metrics)
        self.metrics_file = os.path.join(self.dir, "metrics.yaml")
        self.write_metrics()
        self.serve = h.Serve(h.ARGS.scaler, ["--policy-dir", self.policy_dir, "--metrics-file", self.metrics_file,
                                             "--evaluation-interval", self.INTERVAL], self.dir)
        self.addCleanup(ServeTestCase.stop_serve, self.serve)

    def test_ready_serving_and_the_forecast(self):
        # One of 2 replicas ready: per-pod ratios count the one serving. A horizon of an hour,
        # so that any rising trend decides.
        self.start(algorithm_policy("Predictive", '{horizonSeconds: "3600"}'),
                   {"default/chat": {"currentReplicas": 2, "readyReplicas": 1, "gpuUtilizationPercent": 35,
                                     "requestQueueDepth": 2}})
        line = self.line_where(lambda r: True, "the first decision", 0)
        self.assertEqual((line["current"], line["ready"], line["serving"]), ("2", "1", "1"))
        # The model's first observation: no trend, so the forecast is the demand now and MaxRatio decides.
        self.assertEqual(line["horizon"], "3600s(parameter)")
        self.assertEqual(line["decided"], "false")
        self.assertRegex(line["forecast"], r"^\d+\.\d\d$")
        self.assertNotIn("panic", line)

        # All ready, and the load rising: the trend an hour ahead decides (capped at maxReplicas)
        # from the first cycle 5 s or more after the last observation.
        mark = self.serve.log_mark()
        self.metrics["default/chat"] = {"currentReplicas": 2, "readyReplicas": 2, "gpuUtilizationPercent": 70,
                                        "requestQueueDepth": 10}
        self.write_metrics()
        line = self.line_where(lambda r: r.get("decided") == "true", "a decision the forecast made", mark, 20.0)
        self.assertEqual(line["reason"], "scaled ahead of the forecast demand")
        self.assertEqual(line["horizon"], "3600s(parameter)")
        self.assertGreater(float(line["forecast"]), float(line["current"]))
        self.assertNotIn("ready", line)  # equal to current: not said
        self.assertNotIn("serving", line)

    def test_panic_on_and_since(self):
        self.start(algorithm_policy("Burst"), {"default/chat": {"currentReplicas": 2, "readyReplicas": 2,
                                                                 "gpuUtilizationPercent": 35, "requestQueueDepth": 0}})
        # GPU 35/70 = 0.5: calm, ceil(2 x 0.5) = 1; off says no since.
        line = self.line_where(lambda r: True, "the first decision", 0)
        self.assertEqual(line["panic"], "off")
        self.assertNotIn("since", line)
        self.assertNotIn("forecast", line)

        # A queue of 100 over 2 replicas (10x the target): the panic window's mean is far over 2x.
        mark = self.serve.log_mark()
        self.metrics["default/chat"] = {"currentReplicas": 2, "readyReplicas": 2, "gpuUtilizationPercent": 35,
                                        "requestQueueDepth": 100}
        self.write_metrics()
        line = self.line_where(lambda r: r.get("panic") == "on", "a decision in panic", mark)
        self.assertEqual(line["reason"], "panic: scaled on the panic window")
        self.assertRegex(line["since"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


if __name__ == "__main__":
    h.run_tests(lambda args, stubs: None)
