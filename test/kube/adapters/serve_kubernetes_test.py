"""`kubeai-scaler serve --kubernetes` end to end against the API emulator.

The real binary, a kubeconfig written here pointing at the emulator (bearer
token from a file, so it can be rotated), metrics from a --metrics-file, and
KEDA's side as the Python gRPC client of test/serve. Policies and Deployments
are created, changed and deleted through the emulator's API while serving;
GetMetrics must follow. The API misbehaves on purpose: watches cut mid-stream,
history compacted (410 Expired, relist), 503s, a rotated token, and the whole
server offline for a few seconds (serve answers from memory, catches up after).

Run by CTest with the flags of test/serve (serve_helpers.run_tests).
"""

import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "serve"))
sys.path.insert(0, os.path.join(HERE, "..", "emulator"))

import grpc  # noqa: E402

import serve_helpers as H  # noqa: E402
from emulator_fixture import Emulator, kubeconfig_for, make_certs  # noqa: E402

POLICIES = "/apis/kubeai.io/v1alpha1/namespaces/default/aiinferenceautoscalerpolicies"


def policy(name, max_replicas=10, target=None, kind="Deployment"):
    return {"apiVersion": "kubeai.io/v1alpha1", "kind": "AIInferenceAutoscalerPolicy",
            "metadata": {"name": name, "namespace": "default"},
            "spec": {"targetRef": {"apiVersion": "apps/v1", "kind": kind, "name": target or name},
                     "maxReplicas": max_replicas,
                     "cooldownPeriod": 0,
                     "scaleDown": {"stabilizationWindowSeconds": 0},
                     "metrics": {"gpuUtilization": {"targetPercentage": 70}}}}


def deployment(name, replicas, pods=None, ready=None):
    """`pods`: status.replicas when it differs from spec.replicas (a rolling update's surge).
    `ready`: status.readyReplicas, by default every requested replica (a Deployment at rest, so
    that start-up awareness has nothing starting); 0 is left out, as Kubernetes leaves it."""
    ready = replicas if ready is None else ready
    status = {"replicas": replicas if pods is None else pods}
    if ready:
        status["readyReplicas"] = ready
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name, "namespace": "default"},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}},
                                  "spec": {"containers": [{"name": "c", "image": "x"}]}}},
            "status": status}


def condition_of(status, type_):
    return next((c for c in status.get("conditions", []) if c.get("type") == type_), None)


class KubernetesServeTest(H.ServeTestCase):
    """One emulator and one server for the class; each test uses its own policy names."""

    TOKEN = "token-one"

    @classmethod
    def setUpClass(cls):
        import shutil
        import tempfile
        cls.dir = tempfile.mkdtemp(prefix="kubeai-kube-serve-test-")
        cls.addClassCleanup(shutil.rmtree, cls.dir, ignore_errors=True)
        cls.token_file = os.path.join(cls.dir, "token")
        with open(cls.token_file, "w") as out:
            out.write(cls.TOKEN + "\n")
        cls.emulator = Emulator("--token-file", cls.token_file)
        cls.emulator.start()
        cls.addClassCleanup(cls.emulator.stop)
        cls.kubeconfig = os.path.join(cls.dir, "kubeconfig")
        with open(cls.kubeconfig, "w") as out:
            out.write("apiVersion: v1\nkind: Config\n"
                      "clusters:\n- name: emulator\n  cluster:\n    server: %s\n"
                      "users:\n- name: test\n  user:\n    tokenFile: %s\n"
                      "contexts:\n- name: test\n  context: {cluster: emulator, user: test, namespace: default}\n"
                      "current-context: test\n" % (cls.emulator.url, cls.token_file))
        # /scale says 3 replicas; the file's currentReplicas (1) must not be used.
        cls.emulator.put_object(deployment("chat", 3))
        cls.api("POST", POLICIES, policy("chat"))
        cls.metrics = {"default/chat": {"currentReplicas": 1, "gpuUtilizationPercent": 140}}
        for name in ("crud", "ghost", "cut", "expired", "rotated", "offline", "failing", "edited"):
            cls.metrics["default/" + name] = {"gpuUtilizationPercent": 140}
        cls.metrics["default/surge"] = {"gpuUtilizationPercent": 70}  # at target: hold current
        cls.metrics["default/named"] = {"gpuUtilizationPercent": 70, "waiting": 20}  # a custom metric by name
        # The file's readyReplicas (9) must not be used: the target's status.readyReplicas is.
        cls.metrics["default/starting"] = {"gpuUtilizationPercent": 50, "readyReplicas": 9}
        cls.metrics_file = os.path.join(cls.dir, "metrics.yaml")
        H.write_atomically(cls.metrics_file, H.metrics_yaml(cls.metrics))
        cls.serve = H.Serve(H.ARGS.scaler, ["--kubernetes", "--kubeconfig", cls.kubeconfig,
                                            "--metrics-file", cls.metrics_file, "--evaluation-interval", "1s",
                                            # /scale fails while the API is offline: not stale that soon.
                                            "--metrics-stale-after", "60s", "--leader-elect=false"], cls.dir)
        cls.addClassCleanup(H.ServeTestCase.stop_serve, cls.serve)
        cls.channel = grpc.insecure_channel(cls.serve.grpc_address, options=H.channel_options())
        cls.addClassCleanup(cls.channel.close)
        cls.stub = H.STUBS.pb_grpc.ExternalScalerStub(cls.channel)

    @classmethod
    def api(cls, method, path, body=None, content_type="application/json"):
        """The test's own API call; retried over the 503s injected for serve (they match any path)."""
        import time
        with open(cls.token_file) as f:
            token = f.read().strip()
        for _ in range(10):
            status, _, parsed = cls.emulator.request(method, path, body, token=token, content_type=content_type)
            if status != 503:
                break
            time.sleep(0.1)
        assert 200 <= status < 300, (method, path, status, parsed)
        return parsed

    def wait_desired(self, name, expected, what, timeout=10.0):
        H.wait_until(lambda: self.desired(name) == expected, timeout,
                     "%s: desired %s for default/%s (now %s)" % (what, expected, name, self.desired(name)))

    def watch_requests(self):
        return [r for r in self.emulator.control("GET", "requests")
                if "aiinferenceautoscalerpolicies" in json.dumps(r) and "watch" in json.dumps(r)]

    def test_ready_with_replicas_from_scale(self):
        H.wait_until(lambda: self.serve.http_get("/readyz")[0] == 200, 10.0, "/readyz 200")
        health = H.STUBS.health_grpc.HealthStub(self.channel)
        response = health.Check(H.STUBS.health_pb.HealthCheckRequest(service=""), timeout=H.RPC_TIMEOUT)
        self.assertEqual(response.status, H.STUBS.health_pb.HealthCheckResponse.SERVING)
        # ceil(3 x 140 / 70) = 6: the 3 replicas of /scale, not the file's 1.
        self.wait_desired("chat", 6, "replicas from /scale")
        # The status writer (no leader election here) wrote what was decided.
        def written():
            status = self.api("GET", POLICIES + "/chat").get("status", {})
            return status if status.get("desiredReplicas") == 6 else None
        status = H.wait_until(written, 10.0, "status.desiredReplicas written")
        self.assertEqual(status["currentReplicas"], 3)
        ready = [c for c in status["conditions"] if c["type"] == "Ready"]
        self.assertEqual(ready[0]["status"], "True")
        started = self.serve.find_log(lambda r: r.get("msg") == "Kubernetes API")
        self.assertEqual(started["server"], self.emulator.url)
        self.assertIn("kubeconfig", started["source"])
        self.assertNotIn(self.TOKEN, self.serve.log_text())

    def test_create_update_delete_follow(self):
        self.emulator.put_object(deployment("crud", 2))
        self.api("POST", POLICIES, policy("crud"))
        self.wait_desired("crud", 4, "a created policy")  # ceil(2 x 2)
        self.api("PATCH", POLICIES + "/crud", {"spec": {"maxReplicas": 3}}, "application/merge-patch+json")
        self.wait_desired("crud", 3, "maxReplicas lowered")
        # The Deployment scaled in (by KEDA): /scale says 1 now, so 2 are wanted.
        self.emulator.put_object(deployment("crud", 1))
        self.wait_desired("crud", 2, "the target's replicas changed")
        self.api("DELETE", POLICIES + "/crud")
        H.wait_until(lambda: self.desired("crud") is None, 10.0, "a deleted policy gone")
        self.assert_code(grpc.StatusCode.NOT_FOUND, self.stub.GetMetrics,
                         H.STUBS.pb.GetMetricsRequest(scaledObjectRef=H.ref("crud"), metricName="kubeai-crud"))

    def test_missing_target_then_created(self):
        self.api("POST", POLICIES, policy("ghost"))
        H.wait_until(lambda: "TargetNotFound: target Deployment default/ghost not found"
                     in self.serve.http_get("/readyz")[1], 10.0, "/readyz naming the missing target")
        self.assertIsNone(self.desired("ghost"))

        def target_not_found():
            conditions = self.api("GET", POLICIES + "/ghost").get("status", {}).get("conditions", [])
            return [c for c in conditions if c["type"] == "Ready" and c.get("reason") == "TargetNotFound"]
        condition = H.wait_until(target_not_found, 10.0, "Ready=False/TargetNotFound written")[0]
        self.assertEqual(condition["status"], "False")
        self.assertEqual(condition["message"], "target Deployment default/ghost not found")
        self.emulator.put_object(deployment("ghost", 5))
        self.wait_desired("ghost", 10, "the target created")  # ceil(5 x 2), max 10

    def test_current_replicas_are_spec_not_surge_pods(self):
        # A rolling update of a Deployment of 10 with maxSurge 30 %: /scale says spec.replicas 10,
        # status.replicas 13. At target, the decision holds current: 10, and again every cycle.
        self.emulator.put_object(deployment("surge", 10, pods=13))
        scale = self.api("GET", "/apis/apps/v1/namespaces/default/deployments/surge/scale")
        self.assertEqual((scale["spec"]["replicas"], scale["status"]["replicas"]), (10, 13))
        self.api("POST", POLICIES, policy("surge", max_replicas=20))
        self.wait_desired("surge", 10, "spec.replicas held at target")

        def written():
            status = self.api("GET", POLICIES + "/surge").get("status", {})
            return status if status.get("currentReplicas") is not None else None
        status = H.wait_until(written, 10.0, "status written")
        self.assertEqual((status["currentReplicas"], status["desiredReplicas"]), (10, 10))
        self.assertEqual(status["lastScaleReason"], "within tolerance")
        self.assertEqual(status["decidedRatio"], 1.0)  # MaxRatio: 70 % / 70 %
        self.wait_cycles(2)
        self.assertEqual(self.desired("surge"), 10)

    def test_ready_replicas_are_the_targets_status_ready_replicas(self):
        # Scaled up to 4, one pod ready: the decision (and the status) has 4 current, 1 ready.
        self.emulator.put_object(deployment("starting", 4, ready=1))
        self.api("POST", POLICIES, policy("starting"))

        def ready(expected):
            def written():
                status = self.api("GET", POLICIES + "/starting").get("status", {})
                return status if status.get("readyReplicas") == expected else None
            return written
        status = H.wait_until(ready(1), 10.0, "status.readyReplicas 1 (of 4)")
        self.assertEqual(status["currentReplicas"], 4)
        # The new pods become ready, as the Deployment controller writes its status.
        self.api("PATCH", "/apis/apps/v1/namespaces/default/deployments/starting/status",
                 {"status": {"replicas": 4, "readyReplicas": 4}}, "application/merge-patch+json")
        status = H.wait_until(ready(4), 10.0, "status.readyReplicas 4 (of 4)")
        self.assertEqual(status["currentReplicas"], 4)
        # None ready: Kubernetes leaves readyReplicas out, which is 0, not unknown.
        self.api("PATCH", "/apis/apps/v1/namespaces/default/deployments/starting/status",
                 {"status": {"replicas": 4, "readyReplicas": None}}, "application/merge-patch+json")
        H.wait_until(ready(0), 10.0, "status.readyReplicas 0 (of 4)")

    def test_status_lists_custom_metrics_by_name(self):
        self.emulator.put_object(deployment("named", 2))
        named = policy("named")
        named["spec"]["metrics"]["custom"] = [{"name": "waiting", "engine": "vllm", "signal": "requestsWaiting",
                                               "target": {"type": "AverageValue", "value": 5}}]
        self.api("POST", POLICIES, named)
        self.wait_desired("named", 4, "the custom metric decides")  # ceil(2 x 20 / (5 x 2))

        def written():
            status = self.api("GET", POLICIES + "/named").get("status", {})
            return status if status.get("desiredReplicas") == 4 else None
        status = H.wait_until(written, 10.0, "status written")
        self.assertEqual(status["metrics"], [
            {"name": "gpuUtilization", "value": 70.0, "target": 70.0, "targetType": "Utilization",
             "unit": "percent", "ratio": 1.0},
            {"name": "waiting", "value": 20.0, "target": 5.0, "targetType": "AverageValue", "unit": "requests",
             "ratio": 2.0}])
        self.assertEqual(status["currentMetrics"]["gpuUtilizationPercent"], 70.0)  # the seed's object as before

    def wait_cycles(self, count):
        """Until `count` more evaluation cycles have completed (the cycle histogram's count)."""
        def cycles():
            return self.sample(self.scrape(), "kubeai_scaler_evaluation_cycle_seconds_count") or 0
        start = cycles()
        H.wait_until(lambda: cycles() >= start + count, 10.0, "%d more evaluation cycles" % count)

    def status_writes(self, name):
        return [r for r in self.emulator.control("GET", "requests")
                if r["method"] == "PATCH" and r["path"] == POLICIES + "/" + name + "/status"]

    def test_bad_edit_keeps_the_last_valid_version_serving(self):
        self.emulator.put_object(deployment("edited", 2))
        self.api("POST", POLICIES, policy("edited"))
        self.wait_desired("edited", 4, "generation 1 serving")  # ceil(2 x 140 / 70)
        # Edited into a spec serve refuses. The emulator has no schema; a real API server's CRD
        # refuses this one with its CEL rule (Kubernetes >= 1.25), but a refused version can reach
        # serve all the same (a CRD installed without the rules, a check only serve makes).
        self.api("PATCH", POLICIES + "/edited", {"spec": {"minReplicas": 5, "maxReplicas": 3}},
                 "application/merge-patch+json")

        def superseded(generation):
            def check():
                status = self.api("GET", POLICIES + "/edited").get("status", {})
                condition = condition_of(status, "SpecValid")
                return status if condition and ("generation %d:" % generation) in condition["message"] else None
            return check
        status = H.wait_until(superseded(2), 10.0, "SpecValid=False for generation 2")
        spec_valid = condition_of(status, "SpecValid")
        self.assertEqual((spec_valid["status"], spec_valid["reason"]), ("False", "InvalidPolicy"))
        self.assertEqual(spec_valid["message"],
                         "generation 2: spec.maxReplicas: must be >= minReplicas (5); serving generation 1")
        self.assertEqual(spec_valid["observedGeneration"], 2)
        # The decision of generation 1 stays, Ready: it serves.
        self.assertEqual(status["desiredReplicas"], 4)
        self.assertEqual(condition_of(status, "Ready")["status"], "True")
        self.assertEqual(status["observedGeneration"], 2)
        self.assertEqual(self.desired("edited"), 4)
        # Cycle after cycle: GetMetrics still answers generation 1's value, and the status does not
        # flip between that decision and an "invalid" (no write at all while nothing changes).
        writes = len(self.status_writes("edited"))
        self.wait_cycles(3)
        self.assertEqual(self.desired("edited"), 4)
        self.assertEqual(len(self.status_writes("edited")), writes)
        self.assertEqual(condition_of(self.api("GET", POLICIES + "/edited")["status"], "SpecValid")["status"],
                         "False")

        # Refused again, for the same reason, as generation 3: the condition names it.
        self.api("PATCH", POLICIES + "/edited", {"spec": {"cooldownPeriod": 1}}, "application/merge-patch+json")
        status = H.wait_until(superseded(3), 10.0, "SpecValid=False for generation 3")
        self.assertEqual(condition_of(status, "SpecValid")["message"],
                         "generation 3: spec.maxReplicas: must be >= minReplicas (5); serving generation 1")
        self.assertEqual(self.desired("edited"), 4)

        # Fixed (generation 4): it serves, and the condition is gone.
        self.api("PATCH", POLICIES + "/edited", {"spec": {"minReplicas": 1}}, "application/merge-patch+json")
        self.wait_desired("edited", 3, "generation 4 serving (maxReplicas 3)")

        def fixed():
            status = self.api("GET", POLICIES + "/edited").get("status", {})
            return status if status.get("observedGeneration") == 4 and status.get("desiredReplicas") == 3 else None
        status = H.wait_until(fixed, 10.0, "status for generation 4")
        self.assertIsNone(condition_of(status, "SpecValid"))
        self.assertEqual(condition_of(status, "Ready")["status"], "True")

    def test_watch_cut_mid_stream_resumes(self):
        H.wait_until(lambda: self.serve.http_get("/readyz")[0] == 200, 10.0, "/readyz 200")
        before = len(self.watch_requests())
        self.emulator.control("POST", "cut-watches")
        self.emulator.put_object(deployment("cut", 1))
        self.api("POST", POLICIES, policy("cut"))
        self.wait_desired("cut", 2, "a policy created after the watch was cut")
        self.assertGreater(len(self.watch_requests()), before)

    def test_compacted_history_relists(self):
        H.wait_until(lambda: self.serve.http_get("/readyz")[0] == 200, 10.0, "/readyz 200")
        mark = self.serve.log_mark()
        # The store moves on (a Deployment the policy watch does not see), its history is
        # compacted, and the watch is cut: it resumes from a resourceVersion now too old,
        # gets 410 Expired, and must list again.
        self.emulator.put_object(deployment("expired", 2))
        self.emulator.control("POST", "compact")
        self.emulator.control("POST", "cut-watches")
        self.serve.wait_for_log(lambda r: r.get("msg") == "policy watch expired, listing again", 10.0,
                                "410 Expired seen", after=mark)
        self.serve.wait_for_log(lambda r: r.get("msg") == "policies listed", 10.0, "the relist", after=mark)
        self.api("POST", POLICIES, policy("expired"))
        self.wait_desired("expired", 4, "a policy created after the relist")

    def test_failures_back_off_and_recover(self):
        H.wait_until(lambda: self.serve.http_get("/readyz")[0] == 200, 10.0, "/readyz 200")
        mark = self.serve.log_mark()
        self.emulator.control("POST", "fail?status=503&count=3&path=aiinferenceautoscalerpolicies")
        self.emulator.control("POST", "cut-watches")
        self.serve.wait_for_log(lambda r: r.get("msg") == "policy watch" and "503" in r.get("error", ""), 10.0,
                                "the watch meeting a 503", after=mark)
        self.emulator.put_object(deployment("failing", 1))
        self.api("POST", POLICIES, policy("failing"))
        self.wait_desired("failing", 2, "a policy created while the watch failed with 503", timeout=15.0)
        self.assertEqual(self.desired("chat"), 6)

    def test_token_rotation(self):
        H.wait_until(lambda: self.serve.http_get("/readyz")[0] == 200, 10.0, "/readyz 200")
        self.emulator.control("POST", "requests/clear")
        with open(self.token_file + ".new", "w") as out:
            out.write("token-two\n")
        os.replace(self.token_file + ".new", self.token_file)
        self.emulator.control("POST", "cut-watches")  # the next watch meets the new token with a 401
        self.emulator.put_object(deployment("rotated", 1))
        self.api("POST", POLICIES, policy("rotated"))
        self.wait_desired("rotated", 2, "a policy created after the token rotated", timeout=15.0)
        # Recovery alone would also hold if serve had never sent the old token again: the log must
        # show serve's 401 and, after it, serve's requests succeeding with the re-read token.
        served = [r for r in self.emulator.control("GET", "requests")
                  if r.get("userAgent", "").startswith("kubeai-scaler")]
        statuses = [r["status"] for r in served]
        self.assertIn(401, statuses, "serve never met the rotated token: %s" % statuses)
        after = statuses[statuses.index(401) + 1:]
        self.assertTrue(any(200 <= s < 300 for s in after), "no success after the 401: %s" % statuses)

    def test_zz_offline_keeps_answering_then_catches_up(self):
        # Last (zz): it takes the API away for a while.
        self.wait_desired("chat", 6, "before going offline")
        self.emulator.control("POST", "offline?seconds=3")
        for _ in range(10):
            self.assertEqual(self.desired("chat"), 6)  # from memory, at once
        H.wait_until(lambda: self.serve.find_log(lambda r: r.get("msg") == "policy watch"), 5.0,
                     "serve to notice the API is gone")
        H.wait_until(lambda: self._try_create("offline"), 15.0, "the API back")
        self.wait_desired("offline", 8, "a policy created after the API came back", timeout=40.0)

    def _try_create(self, name):
        try:
            self.emulator.put_object(deployment(name, 4))
            self.api("POST", POLICIES, policy(name))
            return True
        except (AssertionError, OSError):
            return False


class RestartSeedTest(H.ServeTestCase):
    """A new process resumes from the status the previous one wrote: the published value and the
    last change time (cooldown), when status.observedGeneration is the policy's generation."""

    def test_a_fresh_process_keeps_the_cooldown_the_last_one_started(self):
        import shutil
        import tempfile
        directory = tempfile.mkdtemp(prefix="kubeai-kube-serve-test-")
        self.addCleanup(shutil.rmtree, directory, ignore_errors=True)
        emulator = Emulator("--token", "t")
        emulator.start()
        self.addCleanup(emulator.stop)
        kubeconfig = kubeconfig_for(directory, emulator)
        metrics = os.path.join(directory, "metrics.yaml")

        def api(method, path, body=None, content_type="application/json"):
            code, _, parsed = emulator.request(method, path, body, token="t", content_type=content_type)
            self.assertLess(code, 300, parsed)
            return parsed

        def serve():
            process = H.Serve(H.ARGS.scaler, ["--kubernetes", "--kubeconfig", kubeconfig, "--metrics-file", metrics,
                                              "--evaluation-interval", "1s", "--leader-elect=false"], directory)
            self.addCleanup(H.ServeTestCase.stop_serve, process)
            return process

        def first_answer(process):
            with grpc.insecure_channel(process.grpc_address, options=H.channel_options()) as channel:
                self.stub = H.STUBS.pb_grpc.ExternalScalerStub(channel)
                return H.wait_until(lambda: self.desired("chat"), 10.0, "a first answer")

        # Cooldown 300 s (the default) and no scale-down window: without a seed, nothing holds a
        # scale-down back at a new process's first sight.
        cooled = policy("chat")
        del cooled["spec"]["cooldownPeriod"]
        emulator.put_object(deployment("chat", 2))
        api("POST", POLICIES, cooled)
        H.write_atomically(metrics, H.metrics_yaml({"default/chat": {"gpuUtilizationPercent": 140}}))

        # The first process scales 2 -> 4 and writes it to status.
        first = serve()
        self.assertEqual(first_answer(first), 4)  # ceil(2 x 140 / 70)

        def published():
            status = api("GET", POLICIES + "/chat").get("status", {})
            return status if status.get("desiredReplicas") == 4 and status.get("lastScaleTime") else None
        written = H.wait_until(published, 10.0, "status.desiredReplicas and lastScaleTime written")
        self.assertEqual(written["observedGeneration"], 1)
        H.ServeTestCase.stop_serve(first)

        # While no server runs, KEDA has scaled to 4 and the load fell: 20 % of 4 replicas wants 2.
        emulator.put_object(deployment("chat", 4))
        H.write_atomically(metrics, H.metrics_yaml({"default/chat": {"gpuUtilizationPercent": 20}}))

        # A new process: its very first answer holds 4, in the cooldown the first one started
        # (status.lastScaleTime), not the 2 an empty history would give at once.
        second = serve()
        self.assertEqual(first_answer(second), 4)
        def rewritten():
            status = api("GET", POLICIES + "/chat").get("status", {})
            return status if status.get("currentReplicas") == 4 else None
        status = H.wait_until(rewritten, 10.0, "the second process's status")
        self.assertEqual(status["desiredReplicas"], 4)
        self.assertEqual(status["lastScaleTime"], written["lastScaleTime"])  # the same change, resumed
        self.assertEqual(condition_of(status, "ScalingLimited")["reason"], "Cooldown")
        H.ServeTestCase.stop_serve(second)

        # The spec is edited while no server runs (generation 2): the status was written for
        # generation 1 and says nothing about this spec, so a new process does not seed from it.
        api("PATCH", POLICIES + "/chat", {"spec": {"maxReplicas": 9}}, "application/merge-patch+json")
        self.assertEqual(api("GET", POLICIES + "/chat")["metadata"]["generation"], 2)
        third = serve()
        self.assertEqual(first_answer(third), 2)
        self.assertTrue(third.find_log(lambda r: r.get("msg") == "desired replicas" and r.get("desired") == "2"
                                       and r.get("from") == ""))


class NotReadyBeforeListTest(H.ServeTestCase):
    """gRPC health and /readyz say not ready until the first list is in."""

    def test_not_ready_until_listed(self):
        import shutil
        import tempfile
        directory = tempfile.mkdtemp(prefix="kubeai-kube-serve-test-")
        self.addCleanup(shutil.rmtree, directory, ignore_errors=True)
        emulator = Emulator("--token", "t")
        emulator.start()
        self.addCleanup(emulator.stop)
        kubeconfig = os.path.join(directory, "kubeconfig")
        with open(kubeconfig, "w") as out:
            out.write("apiVersion: v1\nkind: Config\n"
                      "clusters:\n- name: e\n  cluster: {server: '%s'}\n"
                      "users:\n- name: u\n  user: {token: t}\n"
                      "contexts:\n- name: c\n  context: {cluster: e, user: u}\n"
                      "current-context: c\n" % emulator.url)
        metrics = os.path.join(directory, "metrics.yaml")
        with open(metrics, "w") as out:
            out.write("{}\n")
        # Policy lists fail (503) a few times: serve starts, but is not ready.
        emulator.control("POST", "fail?status=503&count=3&path=aiinferenceautoscalerpolicies")
        # And the target watch's lists: ready waits for them too.
        emulator.control("POST", "fail?status=503&count=2&path=/deployments")
        serve = H.Serve(H.ARGS.scaler, ["--kubernetes", "--kubeconfig", kubeconfig, "--metrics-file", metrics,
                                        "--evaluation-interval", "1s", "--lease-namespace", "default"], directory)
        self.addCleanup(H.ServeTestCase.stop_serve, serve)
        status, body = serve.http_get("/readyz")
        channel = grpc.insecure_channel(serve.grpc_address, options=H.channel_options())
        self.addCleanup(channel.close)
        health = H.STUBS.health_grpc.HealthStub(channel)
        serving = H.STUBS.health_pb.HealthCheckResponse.SERVING
        if status != 200:
            self.assertEqual(status, 503)
            self.assertIn("policies not listed yet", body)
        H.wait_until(lambda: serve.http_get("/readyz")[0] == 200, 15.0, "/readyz once listed")
        H.wait_until(lambda: health.Check(H.STUBS.health_pb.HealthCheckRequest(service=""),
                                          timeout=H.RPC_TIMEOUT).status == serving, 5.0, "SERVING once listed")
        # The 503s were met and said.
        self.assertTrue(serve.find_log(lambda r: r.get("msg") == "policy watch" and "503" in r.get("error", "")))
        self.assertTrue(serve.find_log(lambda r: r.get("msg") == "deployments watch" and "503" in r.get("error", "")))

        # --leader-elect is on by default: the Lease is held while serving, released on SIGTERM.
        def holder():
            status, _, lease = emulator.request(
                "GET", "/apis/coordination.k8s.io/v1/namespaces/default/leases/kubeai-scaler", token="t")
            return lease.get("spec", {}).get("holderIdentity") if status == 200 else None
        H.wait_until(holder, 10.0, "the Lease held")
        H.ServeTestCase.stop_serve(serve)
        self.assertFalse(holder())


class LeaderElectionTest(H.ServeTestCase):
    """Two servers on one API: both answer gRPC, one holds the Lease and writes status; when it
    stops (releasing the Lease) the other takes over and writes."""

    def test_one_writer_and_takeover(self):
        import shutil
        import tempfile
        directory = tempfile.mkdtemp(prefix="kubeai-kube-serve-test-")
        self.addCleanup(shutil.rmtree, directory, ignore_errors=True)
        emulator = Emulator("--token", "t")
        emulator.start()
        self.addCleanup(emulator.stop)
        kubeconfig = os.path.join(directory, "kubeconfig")
        with open(kubeconfig, "w") as out:
            out.write("apiVersion: v1\nkind: Config\n"
                      "clusters:\n- name: e\n  cluster: {server: '%s'}\n"
                      "users:\n- name: u\n  user: {token: t}\n"
                      "contexts:\n- name: c\n  context: {cluster: e, user: u, namespace: default}\n"
                      "current-context: c\n" % emulator.url)
        metrics = os.path.join(directory, "metrics.yaml")
        with open(metrics, "w") as out:
            out.write("default/chat: {gpuUtilizationPercent: 140}\n")
        emulator.put_object(deployment("chat", 2))
        status, _, created = emulator.request("POST", POLICIES, policy("chat"), token="t")
        self.assertEqual(status, 201, created)

        def api(method, path, body=None, content_type="application/json"):
            code, _, parsed = emulator.request(method, path, body, token="t", content_type=content_type)
            self.assertLess(code, 300, parsed)
            return parsed

        # Ready=True since 2020, as a server before these two wrote it: neither may reset the time
        # while Ready stays True (lastTransitionTime moves only when the condition's status does).
        since = "2020-01-01T00:00:00Z"
        api("PATCH", POLICIES + "/chat/status",
            {"status": {"conditions": [{"type": "Ready", "status": "True", "reason": "Evaluated",
                                        "message": "desired replicas computed", "lastTransitionTime": since}]}},
            "application/merge-patch+json")

        def ready_since():
            conditions = api("GET", POLICIES + "/chat").get("status", {}).get("conditions", [])
            return next((c.get("lastTransitionTime") for c in conditions if c.get("type") == "Ready"), None)

        servers = []
        for _ in range(2):
            serve = H.Serve(H.ARGS.scaler, ["--kubernetes", "--kubeconfig", kubeconfig, "--metrics-file", metrics,
                                            "--evaluation-interval", "1s"], directory)
            self.addCleanup(H.ServeTestCase.stop_serve, serve)
            servers.append(serve)

        def leading(serve):
            return bool(serve.find_log(lambda r: r.get("msg") == "leading: writing status and Events"))
        H.wait_until(lambda: any(leading(s) for s in servers), 15.0, "a leader")
        leader = next(s for s in servers if leading(s))
        other = next(s for s in servers if s is not leader)
        self.assertFalse(leading(other))
        H.wait_until(lambda: api("GET", POLICIES + "/chat").get("status", {}).get("desiredReplicas") == 4, 10.0,
                     "status written by the leader")
        self.assertEqual(ready_since(), since)
        # Both answer KEDA.
        for serve in servers:
            with grpc.insecure_channel(serve.grpc_address, options=H.channel_options()) as channel:
                self.stub = H.STUBS.pb_grpc.ExternalScalerStub(channel)
                H.wait_until(lambda: self.desired("chat") == 4, 10.0, "desired 4 from every server")

        H.ServeTestCase.stop_serve(leader)  # releases the Lease
        H.wait_until(lambda: leading(other), 10.0, "the other server taking over")
        api("PATCH", POLICIES + "/chat", {"spec": {"maxReplicas": 3}}, "application/merge-patch+json")
        H.wait_until(lambda: api("GET", POLICIES + "/chat").get("status", {}).get("desiredReplicas") == 3, 10.0,
                     "status written by the new leader")
        self.assertEqual(ready_since(), since)


class KubectlSeesStatusTest(H.ServeTestCase):
    """The round trip an operator makes: `kubectl apply` a policy, serve (over TLS, as in a cluster)
    decides and writes its status, `kubectl get` shows it; `kubectl delete` and serve forgets it."""

    def test_kubectl_apply_get_delete(self):
        import shutil
        import subprocess
        import tempfile
        kubectl_binary = os.environ.get("KUBECTL") or shutil.which("kubectl") or "/usr/bin/kubectl"
        self.assertTrue(os.path.exists(kubectl_binary), "kubectl not found (scripts/install-deps installs it)")
        directory = tempfile.mkdtemp(prefix="kubeai-kube-kubectl-test-")
        self.addCleanup(shutil.rmtree, directory, ignore_errors=True)
        certs = make_certs(directory)
        emulator = Emulator("--token", "t", tls=certs)
        emulator.start()
        self.addCleanup(emulator.stop)
        kubeconfig = os.path.join(directory, "kubeconfig")
        with open(kubeconfig, "w") as out:
            json.dump({"apiVersion": "v1", "kind": "Config", "current-context": "c",
                       "clusters": [{"name": "e", "cluster": {"server": emulator.url,
                                                              "certificate-authority": certs["ca"]}}],
                       "users": [{"name": "u", "user": {"token": "t"}}],
                       "contexts": [{"name": "c", "context": {"cluster": "e", "user": "u", "namespace": "default"}}]},
                      out)

        def kubectl(*args, stdin=None):
            env = dict(os.environ, KUBECONFIG=kubeconfig, HOME=directory)
            done = subprocess.run([kubectl_binary, "--cache-dir", os.path.join(directory, "cache"),
                                   "--request-timeout", "20s", *args], input=stdin, capture_output=True,
                                  text=True, env=env, timeout=60)
            return done.returncode, done.stdout, done.stderr

        emulator.put_object(deployment("chat", 2))
        metrics = os.path.join(directory, "metrics.yaml")
        with open(metrics, "w") as out:
            out.write("default/chat: {gpuUtilizationPercent: 140}\n")
        serve = H.Serve(H.ARGS.scaler, ["--kubernetes", "--kubeconfig", kubeconfig, "--metrics-file", metrics,
                                        "--evaluation-interval", "1s", "--leader-elect=false"], directory)
        self.addCleanup(H.ServeTestCase.stop_serve, serve)
        code, _, err = kubectl("apply", "-f", "-", stdin=json.dumps(policy("chat")))
        self.assertEqual(code, 0, err)

        def shown():
            code, out, _ = kubectl("get", "aiap", "chat", "-o",
                                   "jsonpath={.status.desiredReplicas} {.status.currentReplicas} "
                                   "{.status.lastAlgorithm} {.status.observedGeneration}")
            return out if code == 0 and out.startswith("4 ") else None
        # ceil(2 x 140 / 70) = 4, on 2 replicas read from /scale, by MaxRatio, for generation 1.
        self.assertEqual(H.wait_until(shown, 15.0, "kubectl get showing serve's status"), "4 2 MaxRatio 1")
        code, out, err = kubectl("get", "aiap", "chat")
        self.assertEqual(code, 0, err)
        self.assertIn("MaxRatio", out)  # the printer columns show the algorithm

        with grpc.insecure_channel(serve.grpc_address, options=H.channel_options()) as channel:
            self.stub = H.STUBS.pb_grpc.ExternalScalerStub(channel)
            H.wait_until(lambda: self.desired("chat") == 4, 10.0, "GetMetrics answering 4")
            code, _, err = kubectl("delete", "aiap", "chat")
            self.assertEqual(code, 0, err)
            request = H.STUBS.pb.GetMetricsRequest(
                metricName="kubeai-chat", scaledObjectRef=H.ref("chat", "default"))

            def not_found():
                try:
                    self.stub.GetMetrics(request, timeout=H.RPC_TIMEOUT)
                except grpc.RpcError as error:
                    return error.code() == grpc.StatusCode.NOT_FOUND
                return False
            H.wait_until(not_found, 10.0, "NOT_FOUND once kubectl deleted the policy")


if __name__ == "__main__":
    H.run_tests(lambda args, stubs: None)
