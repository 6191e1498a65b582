#!/usr/bin/python3
"""`kubeai-scaler serve` through time (issue 10), with the policy directory and metrics file.

Each test starts its own server on free 127.0.0.1 ports, with an evaluation
interval of 15 s so that every answer seen within a second or two came from a
change on disk (inotify), not from the timer; and stops it with SIGTERM.

  OutsideMoveTest     KEDA's fallback (or kubectl scale) moves the workload while
                      a cooldown runs: the current replicas win, the stale
                      published value is never served again
  FirstSightTest      a fresh process under a scale-down window holds the
                      current replicas instead of scaling down at once
  NoReplicaDataTest   a policy without current replicas answers UNAVAILABLE,
                      never a decision from a guessed current
  BadEditTest         a policy edited to an invalid spec keeps serving its last
                      valid version, with its history, and /readyz says why

  serve_through_time_test.py --scaler PATH/kubeai-scaler --proto proto/externalscaler.proto [--time-scale N]
"""

import os
import shutil
import sys
import tempfile

sys.dont_write_bytecode = True  # no __pycache__ in the source tree for serve_helpers
import serve_helpers as h  # noqa: E402
from serve_helpers import ServeTestCase, ref, wait_until  # noqa: E402

import grpc  # noqa: E402

# A change on disk is answered within this (inotify, then one evaluation).
CHANGE_SECONDS = 3.0


def policy(name, cooldown=None, scale_down_window=None, max_replicas=20, min_replicas=1):
    """A GPU policy (target 70 %) for Deployment `workload`, with the behaviour asked for."""
    text = ("apiVersion: kubeai.io/v1alpha1\n"
            "kind: AIInferenceAutoscalerPolicy\n"
            "metadata:\n"
            "  name: %s\n"
            "  namespace: default\n"
            "spec:\n"
            "  targetRef:\n"
            "    kind: Deployment\n"
            "    name: workload\n"
            "  minReplicas: %d\n"
            "  maxReplicas: %d\n" % (name, min_replicas, max_replicas))
    if cooldown is not None:
        text += "  cooldownPeriod: %d\n" % cooldown
    if scale_down_window is not None:
        text += "  scaleDown:\n    stabilizationWindowSeconds: %d\n" % scale_down_window
    return text + "  metrics:\n    gpuUtilization:\n      targetPercentage: 70\n"


class ThroughTimeCase(ServeTestCase):
    def start(self, policies, metrics):
        plugin_dir = tempfile.mkdtemp(prefix="kubeai-serve-plugins-")
        self.addCleanup(shutil.rmtree, plugin_dir, ignore_errors=True)
        self.start_serve(self, self.addCleanup, policies=policies, metrics=metrics,
                         extra_args=["--plugin-dir", plugin_dir])
        self.await_watches(plugin_dir)

    def await_watches(self, plugin_dir):
        """serve sets its watches up only after it serves, the plugin directory's last: once a
        bad plugin there is reported, a change made by the test to the other files is seen."""
        probe = os.path.join(plugin_dir, "probe.so")

        def reported():
            mark = self.serve.log_mark()
            h.write_atomically(probe, b"not a plugin", mode="wb")
            try:
                self.serve.wait_for_log(lambda r: r.get("msg") == "plugin failed", 0.25, "the probe", after=mark)
                return True
            except AssertionError:
                return False

        wait_until(reported, 10.0, "serve's watches to be in place")
        os.remove(probe)

    def observed_gpu(self, key):
        namespace, name = key.split("/")
        return self.sample(self.scrape(), 'kubeai_autoscaler_metric_value{metric_type="gpu_utilization",'
                                          'namespace="%s",policy="%s"}' % (namespace, name))

    def set_metrics(self, key, **fields):
        """Writes the metrics file and waits for the cycle that evaluated it (its GPU reading is
        exported, and differs from the one before): every answer after this is a decision on it."""
        self.assertNotEqual(self.metrics[key].get("gpuUtilizationPercent"), fields["gpuUtilizationPercent"],
                            "set_metrics needs a new GPU reading to know its cycle")
        self.metrics[key] = fields
        before = self.cycles()
        self.write_metrics()
        # The reading is exported before the decision is published, the cycle count after.
        wait_until(lambda: self.observed_gpu(key) == fields["gpuUtilizationPercent"] and self.cycles() > before,
                   CHANGE_SECONDS, "%s evaluated with %s" % (key, fields))

    def cycles(self):
        """Evaluations so far: full cycles, and those of the policies a metrics-file change named."""
        body = self.scrape()
        return ((self.sample(body, "kubeai_scaler_evaluation_cycle_seconds_count") or 0) +
                (self.sample(body, "kubeai_scaler_partial_evaluation_seconds_count") or 0))

    def cooldown_active(self, name):
        return self.sample(self.scrape(), 'kubeai_autoscaler_cooldown_active{namespace="default",policy="%s"}' % name)

    def wait_for_desired(self, name, expected, what, timeout=CHANGE_SECONDS):
        answers = []
        try:
            wait_until(lambda: answers.append(self.desired(name)) or answers[-1] == expected, timeout,
                       "%s: %s to answer %s" % (what, name, expected))
        except AssertionError as error:
            raise AssertionError("%s (answers: %s)\nlog:\n%s" % (error, answers[-10:], self.serve.log_text()))



class OutsideMoveTest(ThroughTimeCase):
    def test_keda_fallback_moves_the_workload_during_a_cooldown_and_current_wins(self):
        self.start({"p.yaml": policy("chat")},  # cooldownPeriod omitted: 300 s
                   {"default/chat": {"currentReplicas": 2, "gpuUtilizationPercent": 105}})
        # 2 x 105/70 = 3: a change, so the 300 s cooldown runs from here.
        self.assertEqual(self.desired("chat"), 3)
        self.set_metrics("default/chat", currentReplicas=3, gpuUtilizationPercent=70)
        self.assertEqual(self.desired("chat"), 3, "the workload reached 3")
        self.assertEqual(self.cooldown_active("chat"), 1)
        # Prometheus went away, KEDA's fallback set 10, metrics came back at target.
        self.set_metrics("default/chat", currentReplicas=10, gpuUtilizationPercent=71)
        self.assertEqual(self.desired("chat"), 10, "the world moved the workload to 10: current wins, not the stale 3")
        # Half load during the cooldown: held at the current 10, not at the 3 published before.
        self.set_metrics("default/chat", currentReplicas=10, gpuUtilizationPercent=35)
        self.assertEqual(self.desired("chat"), 10)
        self.assertEqual(self.cooldown_active("chat"), 1)


class FirstSightTest(ThroughTimeCase):
    def test_a_fresh_process_under_a_scale_down_window_holds_the_current_replicas(self):
        # 20 % of the target at 10 replicas recommends 2; the window (300 s) holds 10.
        self.start({"p.yaml": policy("chat", cooldown=0, scale_down_window=300)},
                   {"default/chat": {"currentReplicas": 10, "gpuUtilizationPercent": 14}})
        self.assertEqual(self.desired("chat"), 10, "first sight")
        self.set_metrics("default/chat", currentReplicas=10, gpuUtilizationPercent=15)
        self.assertEqual(self.desired("chat"), 10, "another cycle within the window")
        self.assertIsNotNone(self.serve.find_log(
            lambda r: r.get("msg") == "desired replicas" and r.get("limitedBy") == "stabilization"),
            self.serve.log_text())
        # A scale-up is not held by it.
        self.set_metrics("default/chat", currentReplicas=10, gpuUtilizationPercent=140)
        self.assertEqual(self.desired("chat"), 20, "a scale-up at once")


class NoReplicaDataTest(ThroughTimeCase):
    def test_a_policy_without_current_replicas_answers_unavailable(self):
        self.start({"p.yaml": policy("chat", cooldown=0)},
                   {"default/chat": {"gpuUtilizationPercent": 140}})
        details = self.assert_code(grpc.StatusCode.UNAVAILABLE, self.stub.GetMetrics,
                                   h.STUBS.pb.GetMetricsRequest(scaledObjectRef=ref("chat"), metricName="kubeai-chat"))
        self.assertIn("no replica data for Deployment default/workload", details)
        status, body = self.serve.http_get("/readyz")
        self.assertEqual(status, 200, body)  # one policy's data never takes the replica out of the Service
        self.assertIn("default/chat: pending: no replica data", body)
        self.set_metrics("default/chat", currentReplicas=2, gpuUtilizationPercent=139)
        self.assertEqual(self.desired("chat"), 4, "replicas back: ceil(2 x 139 / 70)")


class BadEditTest(ThroughTimeCase):
    def test_an_invalid_edit_keeps_the_last_valid_version_serving_with_its_history(self):
        path = "p.yaml"
        self.start({path: policy("chat", cooldown=300)},
                   {"default/chat": {"currentReplicas": 2, "gpuUtilizationPercent": 140}})
        self.assertEqual(self.desired("chat"), 4, "the first decision (a change: cooldown from here)")
        # minReplicas above maxReplicas: refused by validation.
        h.write_atomically(os.path.join(self.policy_dir, path), policy("chat", cooldown=300, max_replicas=1,
                                                                       min_replicas=3))
        self.serve.wait_for_log(lambda r: r.get("msg") == "policy problem" and "maxReplicas" in r.get("error", ""),
                                CHANGE_SECONDS, "the bad edit reported")
        # The log line comes as the set is handed over; /readyz once the cycle after it ran.
        line = wait_until(lambda: next((l for l in self.serve.http_get("/readyz")[1].splitlines()
                                        if l.startswith("default/chat: ready")), None),
                          CHANGE_SECONDS, "/readyz to list the refused edit")
        self.assertIn("maxReplicas", line)
        status, body = self.serve.http_get("/readyz")
        self.assertEqual(status, 200, body)
        # Still the last valid version (maxReplicas 20), with its history: the cooldown holds 4.
        self.set_metrics("default/chat", currentReplicas=4, gpuUtilizationPercent=10)
        self.assertEqual(self.desired("chat"), 4)
        self.assertEqual(self.cooldown_active("chat"), 1)
        # Fixed: the new version is served, and /readyz is clean again.
        h.write_atomically(os.path.join(self.policy_dir, path), policy("chat", cooldown=0, max_replicas=20))
        self.wait_for_desired("chat", 1, "the fixed version (no cooldown)")
        wait_until(lambda: "maxReplicas" not in self.serve.http_get("/readyz")[1], CHANGE_SECONDS,
                   "/readyz clean again")


if __name__ == "__main__":
    h.run_tests(lambda args, stubs: None)
