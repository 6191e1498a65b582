#!/usr/bin/python3
"""One pipeline (issue 13, item 6): `serve`, driven step by step through its
metrics file, answers what `simulate`'s timeline says for the same observations.

PipelineTest writes a policy (MaxRatio on GPU utilization and on a custom
engine signal, vLLM's waiting requests), a SimulationWorkload (2 s intervals,
an HPA that syncs every 2 s with no tolerance, replicas ready at once or after
a start-up) and a rate series with steps up and down; runs `kubeai-scaler
simulate --output json`; then starts `kubeai-scaler serve` on the same policy
and replays the timeline into its metrics file, one row every 2 s of real
time, each row's `requestedReplicas` as the current replicas, its
`readyReplicas` as the ready ones (start-up awareness, on by default, decides
on them while replicas start) and its `metrics` as the readings.
After each write it waits for serve to evaluate that file and asks GetMetrics:
the answer must be the row's `desiredReplicas`.

Time. The behaviour is in whole seconds of the clock: a scale-up Pods policy
per 5 s, a scale-down window of 5 s, a cooldown of 3 s. Decisions 2 s apart
are at even seconds from the first one, so every window, period and cooldown
ends 1 s away from a decision; serve's decisions keep the 2 s spacing of
simulate's within that second (each is asserted to come less than
MAX_LATENESS after its scheduled time), so serve's wall-clock windows hold the
same decisions as simulate's simulated ones. Serve evaluates only when the
metrics file changes (--evaluation-interval 1h), and the test checks that it
made exactly one decision per row.

Alignment. Row k of the timeline is decided at simulated (k+1) x 2 s; serve's
first decision, on row 0, is its first sight of the policy (the History is
seeded with the current replicas then), so row k is written at T0 + 2k s.
simulate seeds its History at its first decision too, so the scale-down
window remembers the initial replicas as long in both: the second test's
demand falls below its start within that first window.

  serve_simulate_pipeline_test.py --scaler PATH/kubeai-scaler --proto proto/externalscaler.proto [--time-scale N]
"""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree for serve_helpers
import serve_helpers as h  # noqa: E402
from serve_helpers import ServeTestCase, wait_until  # noqa: E402

import grpc  # noqa: E402

INTERVAL = 2.0  # seconds between rows, simulated and real
# A decision may come this long after its row's scheduled time: behaviour
# times are 1 s from every decision, and serve's first decision is late too
# (inotify's 100 ms quiet period, then the cycle), so the spacing holds within
# 1 s while every decision is less than 0.9 s late. Not scaled: a slower build
# shifts serve's windows against simulate's, and the test says so.
MAX_LATENESS = 0.9
# serve has evaluated a new metrics file within this (scaled) when it works.
EVALUATED_SECONDS = 1.5

POLICY = """apiVersion: kubeai.io/v1alpha1
kind: AIInferenceAutoscalerPolicy
metadata: {name: pipeline, namespace: default}
spec:
  targetRef: {kind: Deployment, name: engine}
  minReplicas: 1
  maxReplicas: 20
  cooldownPeriod: 3
  scaleUp:
    stabilizationWindowSeconds: 0
    policies: [{type: Pods, value: 2, periodSeconds: 5}]
  scaleDown: {stabilizationWindowSeconds: 5}
  algorithm: {name: MaxRatio, tolerance: 0.1}
  metrics:
    gpuUtilization: {targetPercentage: 50}
    custom:
      - name: waiting
        engine: vllm
        signal: requestsWaiting
        target: {type: AverageValue, value: 2}
"""

INITIAL_REPLICAS = 2

WORKLOAD = """apiVersion: kubeai.io/v1alpha1
kind: SimulationWorkload
metadata: {name: pipeline}
spec:
  interval: 2s
  hpa: {syncPeriod: 2s, tolerance: 0}
  replicas: {initial: %d, startupSeconds: %g}
  capacity: {requestsPerSecond: 1}
  demand:
    rate: rate.csv
"""

# Requests/s per 2 s step (a replica serves 1/s; GPU target 50 %: 2 replicas a
# request/s). Steady at the start (the first window holds the initial
# replicas in both drivers, see above); slow climbs that a cooldown holds; a
# jump that the Pods policy meters out; drops that the scale-down window
# delays; a short spike inside a window.
DEMAND = ([1.0] * 4 + [1.5, 2.0, 2.0, 2.0] + [6.0] * 7 + [1.0] * 5 + [2.5, 3.0, 3.0] + [0.5] * 5
          + [4.0, 0.5, 0.5, 0.5])

# The timeline's seed metric names and the metrics file's keys for them
# (source/metrics_file.h); any other name is a custom metric, by its name.
FILE_KEYS = {"latencyP99": "latencyP99Ms", "latencyP95": "latencyP95Ms",
             "gpuUtilization": "gpuUtilizationPercent", "requestQueueDepth": "requestQueueDepth"}

KEY = "default/pipeline"


def rate_csv(demand):
    return "time,requestsPerSecond\n" + "".join("%g,%r\n" % (i * INTERVAL, rps) for i, rps in enumerate(demand))


def row_metrics_file(row, k):
    """The metrics file for one timeline row: its requested replicas as current, its ready ones, its metrics
    as read. serve evaluates the policies whose entries a change of the file changed, so every row's entry
    also carries its number (a custom metric no policy reads): a row that reads as the one before is
    evaluated too, as the simulator's step is."""
    lines = ["%s:" % KEY, "  currentReplicas: %d" % row["requestedReplicas"],
             "  readyReplicas: %d" % row["readyReplicas"], "  replayRow: %d" % k]
    for name, value in row["metrics"].items():
        if value is not None:  # null: no data, left out of the file as the source would
            lines.append("  %s: %r" % (FILE_KEYS.get(name, name), float(value)))
    return "\n".join(lines) + "\n"


SERIES = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)\{([^}]*)\} (\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def policy_series(body, family):
    """[(labels, value)] of the family's series for default/pipeline in a scrape."""
    found = []
    for line in body.splitlines():
        match = SERIES.match(line)
        if not match or match.group(1) != family:
            continue
        labels = dict(LABEL.findall(match.group(2)))
        if labels.get("namespace") == "default" and labels.get("policy") == "pipeline":
            found.append((labels, float(match.group(3))))
    return found


class Mismatch(AssertionError):
    """serve's answer to a row is not the timeline's."""

    def __init__(self, row, serve, simulate, message):
        super().__init__(message)
        self.row = row
        self.serve = serve
        self.simulate = simulate


class PipelineTest(ServeTestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="kubeai-pipeline-test-")
        self.addCleanup(shutil.rmtree, self.dir, ignore_errors=True)

    def write(self, name, text):
        path = os.path.join(self.dir, name)
        with open(path, "w") as out:
            out.write(text)
        return path

    def simulate(self, demand, startup_seconds=0):
        policy = self.write("policy.yaml", POLICY)
        self.write("rate.csv", rate_csv(demand))
        workload = self.write("workload.yaml", WORKLOAD % (INITIAL_REPLICAS, startup_seconds))
        done = subprocess.run([h.ARGS.scaler, "simulate", "--policy", policy, "--workload", workload,
                               "--output", "json"], capture_output=True, text=True, timeout=h.seconds(30))
        self.assertEqual(done.returncode, 0, "simulate failed:\n" + done.stderr)
        result = json.loads(done.stdout)
        self.assertEqual(result["interval"], INTERVAL)
        self.assertEqual(len(result["policies"]), 1)
        timeline = result["policies"][0]["timeline"]
        self.assertEqual(len(timeline), len(demand))
        # The HPA follows every published value at the next sync (tolerance 0),
        # so row k+1's current replicas are row k's answer: serve sees the
        # world it would have made.
        for before, after in zip(timeline, timeline[1:]):
            self.assertEqual(after["requestedReplicas"], before["desiredReplicas"], after)
        return timeline

    def start(self):
        """serve on the policy, evaluating only when the metrics file changes; returns once its watch is in place."""
        self.policy_dir = os.path.join(self.dir, "policies")
        os.mkdir(self.policy_dir)
        with open(os.path.join(self.policy_dir, "pipeline.yaml"), "w") as out:
            out.write(POLICY)
        self.metrics_file = os.path.join(self.dir, "metrics.yaml")
        # No current replicas: serve makes no decision (none from a guessed
        # current) and keeps no history, so its first sight is row 0.
        h.write_atomically(self.metrics_file, "%s:\n  gpuUtilizationPercent: 50\n" % KEY)
        self.serve = h.Serve(h.ARGS.scaler, ["--policy-dir", self.policy_dir, "--metrics-file", self.metrics_file,
                                             "--evaluation-interval", "1h", "--reaction-time", "30s"], self.dir)
        self.addCleanup(ServeTestCase.stop_serve, self.serve)
        self.channel = grpc.insecure_channel(self.serve.grpc_address, options=h.channel_options())
        self.addCleanup(self.channel.close)
        self.stub = h.STUBS.pb_grpc.ExternalScalerStub(self.channel)

        # serve watches its files only after it serves. A bad metrics file is
        # reported by the watch's reload without a cycle: once one is, a
        # change is seen. The last probe's report is awaited on its own, so
        # that no burst of the watch is left to coalesce with row 0.
        probes = iter(range(1_000_000))

        def probe_reported(timeout):
            mark = self.serve.log_mark()
            h.write_atomically(self.metrics_file, "%s: [not a mapping %d\n" % (KEY, next(probes)))
            try:
                self.serve.wait_for_log(lambda r: r.get("msg") == "metrics file, keeping the last good one",
                                        timeout, "the probe", after=mark)
                return True
            except AssertionError:
                return False

        wait_until(lambda: probe_reported(0.25), 10.0, "serve's watch of the metrics file to be in place")
        self.assertTrue(probe_reported(3.0), "the last probe of the metrics file reported\n" + self.serve.log_text())
        self.assertEqual(self.decisions(), 0, "no decision before row 0\n" + self.serve.log_text())

    def decisions(self, body=None):
        """serve's decisions on the policy so far (every direction)."""
        body = self.scrape() if body is None else body
        return sum(value for _, value in policy_series(body, "kubeai_autoscaler_scaling_decisions_total"))

    def cycles(self, body):
        """Evaluations so far: full cycles, and those of the policies a metrics-file change named."""
        return ((self.sample(body, "kubeai_scaler_evaluation_cycle_seconds_count") or 0) +
                (self.sample(body, "kubeai_scaler_partial_evaluation_seconds_count") or 0))

    def test_serve_answers_what_the_simulated_timeline_says(self):
        timeline = self.simulate(DEMAND)
        self.assertGreaterEqual(len(timeline), 20)
        limits = [row["limitedBy"] for row in timeline]
        for limit in ("scaleUpPolicy", "stabilization", "cooldown"):
            self.assertIn(limit, limits, "the demand must make %s act; timeline:\n%s"
                          % (limit, "\n".join(json.dumps(row) for row in timeline)))
        self.replay(timeline)

    def test_first_sight_under_a_falling_demand(self):
        """Both drivers seed the History at their first decision: a demand below its start from the
        first row recommends 1, and the 5 s scale-down window holds the initial 2 for as long in
        serve as in simulate."""
        timeline = self.simulate([0.5] * 6)
        self.assertIn("stabilization", [row["limitedBy"] for row in timeline])
        self.replay(timeline)

    def test_replicas_that_start(self):
        """Replicas ready 4 s (two rows) after the scale-up that asked for them: while they start, both
        drivers count the ready ones (per-pod metrics on them, the replicas on their way as capacity).
        The climb stays within the HPA's own +4 per 15 s, so the HPA follows every answer."""
        timeline = self.simulate([1.0] * 4 + [2.5] * 8, startup_seconds=4)
        dump = "\n".join(json.dumps(row) for row in timeline)
        starting = [row for row in timeline if row["readyReplicas"] < row["requestedReplicas"]]
        self.assertGreaterEqual(len(starting), 2, "the demand must leave replicas starting; timeline:\n" + dump)
        # A row the ready replicas decide: the GPU over its target beyond the
        # tolerance would scale the requested replicas up, yet the ready ones
        # serving it at that utilization cover the load.
        self.assertTrue(any(row["metrics"]["gpuUtilization"] / 50 > 1.1 and row["desiredReplicas"] ==
                            row["requestedReplicas"] for row in starting),
                        "no row held by the ready replicas; timeline:\n" + dump)
        self.replay(timeline)

    def replay(self, timeline):
        """Drives serve through the timeline, one row every INTERVAL, asserting each answer."""
        self.start()
        start = time.monotonic()
        lateness = []
        for k, row in enumerate(timeline):
            due = start + k * INTERVAL
            # Pacing to the clock, not synchronisation; a write behind its
            # time shows as lateness below.
            time.sleep(max(0.0, due - time.monotonic()))

            body = self.scrape()
            self.assertEqual(self.decisions(body), k, "row %d: an evaluation that no metrics file change asked "
                             "for\n%s" % (k, self.serve.log_text()))
            cycles = self.cycles(body)
            h.write_atomically(self.metrics_file, row_metrics_file(row, k))
            # The decision is counted as it is made, the cycle once its answer
            # is published: both, and the cycle is the one after the write.
            evaluated = wait_until(
                lambda: (lambda b: b if self.decisions(b) == k + 1 and self.cycles(b) > cycles else None)(
                    self.scrape()),
                EVALUATED_SECONDS, "row %d evaluated by serve" % k, interval=0.01)
            late = time.monotonic() - due
            lateness.append(late)
            self.assertLess(late, MAX_LATENESS, "row %d: serve evaluated it %.2f s after its time, which shifts its "
                            "windows against simulate's" % (k, late))
            self.assert_read(k, row, evaluated)
            answer = self.desired("pipeline")
            if answer != row["desiredReplicas"]:
                raise Mismatch(k, answer, row["desiredReplicas"], "row %d (decided at simulated %g s, %.2f s after serve's first decision): serve answers "
                          "%s, simulate's timeline says %s\nrow: %s\nrows before:\n%s\nserve's log:\n%s"
                          % (k, row["time"] + INTERVAL, time.monotonic() - start, answer, row["desiredReplicas"],
                             json.dumps(row), "\n".join(json.dumps(r) for r in timeline[max(0, k - 4):k]),
                             self.serve.log_text()))
        self.assertEqual(self.decisions(), len(timeline))
        sys.stderr.write("%d rows; each answered %.3f-%.3f s after its time\n"
                         % (len(timeline), min(lateness), max(lateness)))

    def assert_read(self, k, row, body):
        """serve decided on this row's readings: its exported values are the row's metrics."""
        read = {labels["metric"]: value
                for labels, value in policy_series(body, "kubeai_scaler_policy_metric_value")}
        for name, value in row["metrics"].items():
            if value is None:
                self.assertNotIn(name, read, "row %d: %s has no data" % (k, name))
            else:
                self.assertIn(name, read, "row %d: %s not exported" % (k, name))
                # The exposition prints 16 significant digits.
                self.assertAlmostEqual(read[name], value, delta=1e-12 * max(1.0, abs(value)),
                                       msg="row %d: serve read %s" % (k, name))
        current = policy_series(body, "kubeai_autoscaler_current_replicas")
        self.assertEqual([value for _, value in current], [row["requestedReplicas"]], "row %d" % k)


if __name__ == "__main__":
    h.run_tests(lambda args, stubs: None)
