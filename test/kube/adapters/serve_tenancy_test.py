"""Tenancy of `kubeai-scaler serve --kubernetes`, end to end against the API emulator.

CustomQueriesDeniedTest: serve --custom-queries=deny refuses a policy with a
prometheusQuery of its own: never evaluated, its status Ready=False with reason
CustomQueryDenied and a message naming the field and the flag, KEDA's calls
answered UNAVAILABLE naming the policy and the flag; a policy on the default
queries beside it is served. Cross-namespace use of a policy is refused
(INVALID_ARGUMENT naming --allow-cross-namespace-policies) by the same server.

CrossNamespaceAllowedTest: with --allow-cross-namespace-policies the same call
is served.

Run by CTest with the flags of test/serve (serve_helpers.run_tests).
"""

import os
import shutil
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "serve"))
sys.path.insert(0, os.path.join(HERE, "..", "emulator"))

import grpc  # noqa: E402

import serve_helpers as H  # noqa: E402
from emulator_fixture import Emulator, kubeconfig_for  # noqa: E402


def policies_path(namespace):
    return "/apis/kubeai.io/v1alpha1/namespaces/%s/aiinferenceautoscalerpolicies" % namespace


def policy(name, namespace, gpu):
    return {"apiVersion": "kubeai.io/v1alpha1", "kind": "AIInferenceAutoscalerPolicy",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {"targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
                     "maxReplicas": 10, "cooldownPeriod": 0,
                     "metrics": {"gpuUtilization": gpu}}}


def deployment(name, namespace, replicas):
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}},
                                  "spec": {"containers": [{"name": "c", "image": "x"}]}}},
            "status": {"replicas": replicas, "readyReplicas": replicas}}


def start(owner, add_cleanup, extra_args):
    """An emulator with team-a/llm (default queries, served) and team-a/own (a prometheusQuery of
    its own), their Deployments at 2 replicas, and serve --kubernetes over a metrics file."""
    owner.dir = tempfile.mkdtemp(prefix="kubeai-tenancy-test-")
    add_cleanup(shutil.rmtree, owner.dir, ignore_errors=True)
    owner.emulator = Emulator("--token", "t")
    owner.emulator.start()
    add_cleanup(owner.emulator.stop)
    kubeconfig = kubeconfig_for(owner.dir, owner.emulator)
    for name in ("llm", "own"):
        owner.emulator.put_object(deployment(name, "team-a", 2))
    owner.api("POST", policies_path("team-a"), policy("llm", "team-a", {"targetPercentage": 70}))
    # Another tenant's data, were the query run: sum over every namespace.
    owner.api("POST", policies_path("team-a"),
              policy("own", "team-a", {"targetPercentage": 70, "prometheusQuery": "sum(DCGM_FI_DEV_GPU_UTIL)"}))
    metrics = os.path.join(owner.dir, "metrics.yaml")
    H.write_atomically(metrics, H.metrics_yaml({"team-a/llm": {"gpuUtilizationPercent": 140},
                                                "team-a/own": {"gpuUtilizationPercent": 140}}))
    owner.serve = H.Serve(H.ARGS.scaler, ["--kubernetes", "--kubeconfig", kubeconfig, "--metrics-file", metrics,
                                          "--evaluation-interval", "1s", "--leader-elect=false"] + extra_args,
                          owner.dir)
    add_cleanup(H.ServeTestCase.stop_serve, owner.serve)
    owner.channel = grpc.insecure_channel(owner.serve.grpc_address, options=H.channel_options())
    add_cleanup(owner.channel.close)
    owner.stub = H.STUBS.pb_grpc.ExternalScalerStub(owner.channel)


class TenancyCase(H.ServeTestCase):
    @classmethod
    def api(cls, method, path, body=None):
        status, _, parsed = cls.emulator.request(method, path, body, token="t")
        assert 200 <= status < 300, (method, path, status, parsed)
        return parsed

    def cross_namespace_metrics(self):
        """team-b's ScaledObject `web` asking for team-a's policy llm."""
        request = H.STUBS.pb.GetMetricsRequest(
            scaledObjectRef=H.ref("web", "team-b", policyName="llm", policyNamespace="team-a"),
            metricName="kubeai-llm")
        return self.stub.GetMetrics(request, timeout=H.RPC_TIMEOUT)


class CustomQueriesDeniedTest(TenancyCase):
    @classmethod
    def setUpClass(cls):
        start(cls, cls.addClassCleanup, ["--custom-queries=deny"])

    def test_own_query_refused_with_a_status_condition(self):
        def denied():
            status = self.api("GET", policies_path("team-a") + "/own").get("status", {})
            ready = [c for c in status.get("conditions", []) if c["type"] == "Ready"]
            return ready[0] if ready and ready[0].get("reason") == "CustomQueryDenied" else None
        condition = H.wait_until(denied, 15.0, "Ready=False/CustomQueryDenied on team-a/own")
        self.assertEqual(condition["status"], "False")
        self.assertIn("spec.metrics.gpuUtilization.prometheusQuery", condition["message"])
        self.assertIn("--custom-queries=deny", condition["message"])
        status = self.api("GET", policies_path("team-a") + "/own")["status"]
        self.assertNotIn("desiredReplicas", status)  # never evaluated
        # KEDA's calls name the policy and the flag; the fallback applies.
        details = self.assert_code(grpc.StatusCode.UNAVAILABLE, self.stub.GetMetrics,
                                   H.STUBS.pb.GetMetricsRequest(scaledObjectRef=H.ref("own", "team-a"),
                                                                metricName="kubeai-own"))
        self.assertIn("policy team-a/own is invalid", details)
        self.assertIn("--custom-queries=deny", details)
        self.assert_code(grpc.StatusCode.UNAVAILABLE, self.stub.IsActive, H.ref("own", "team-a"))

    def test_default_queries_still_served(self):
        # ceil(2 x 140 / 70) = 4.
        H.wait_until(lambda: self.desired("llm", "team-a") == 4, 15.0, "team-a/llm served at 4")

        def ready():
            status = self.api("GET", policies_path("team-a") + "/llm").get("status", {})
            return [c for c in status.get("conditions", []) if c["type"] == "Ready" and c["status"] == "True"]
        H.wait_until(ready, 15.0, "Ready=True on team-a/llm")

    def test_cross_namespace_refused_naming_the_flag(self):
        H.wait_until(lambda: self.desired("llm", "team-a") == 4, 15.0, "team-a/llm served")
        with self.assertRaises(grpc.RpcError) as caught:
            self.cross_namespace_metrics()
        self.assertEqual(caught.exception.code(), grpc.StatusCode.INVALID_ARGUMENT)
        self.assertEqual(caught.exception.details(),
                         "ScaledObject team-b/web may not use policy team-a/llm: policies of another namespace "
                         "need serve --allow-cross-namespace-policies")
        for call in (self.stub.IsActive, self.stub.GetMetricSpec):
            self.assert_code(grpc.StatusCode.INVALID_ARGUMENT, call,
                             H.ref("web", "team-b", policyName="llm", policyNamespace="team-a"))


class CrossNamespaceAllowedTest(TenancyCase):
    @classmethod
    def setUpClass(cls):
        start(cls, cls.addClassCleanup, ["--allow-cross-namespace-policies"])

    def test_cross_namespace_served_with_the_flag(self):
        def answer():
            try:
                return self.cross_namespace_metrics().metricValues[0].metricValue
            except grpc.RpcError as error:
                # NOT_FOUND until the first list is in, UNAVAILABLE until the first decision.
                if error.code() in (grpc.StatusCode.NOT_FOUND, grpc.StatusCode.UNAVAILABLE):
                    return None
                raise
        self.assertEqual(H.wait_until(answer, 15.0, "team-b/web served by team-a/llm"), 4)
        # --custom-queries defaults to allow: the policy's own query is taken (the metrics file
        # stands in for its answer).
        H.wait_until(lambda: self.desired("own", "team-a") == 4, 15.0, "team-a/own served under allow")


if __name__ == "__main__":
    H.run_tests(lambda args, stubs: None)
