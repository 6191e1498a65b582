"""Fidelity of apiserver_emulator.py, checked with the real kubectl over TLS with a bearer token.

kubectl >= 1.24 is required (`patch --subresource`); a missing kubectl is a failure, not a skip.
"""

import glob
import json
import os
import re
import shutil
import subprocess
import tempfile
import unittest

from emulator_fixture import Emulator, make_certs

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
# $KUBECTL picks another binary (e.g. to check an older one).
KUBECTL = os.environ.get("KUBECTL") or shutil.which("kubectl") or "/usr/bin/kubectl"
TOKEN = "kubectl-test-token"


def kubectl_version():
    """(major, minor) of the kubectl client; fails the test run plainly when absent or too old."""
    if not os.path.exists(KUBECTL):
        raise AssertionError("kubectl not found: the emulator's fidelity tests need the real "
                             "kubectl (>= 1.24); scripts/install-deps installs one")
    out = subprocess.run([KUBECTL, "version", "--client", "-o", "json"], capture_output=True,
                         text=True, timeout=60)
    info = json.loads(out.stdout)["clientVersion"]
    version = (int(info["major"]), int("".join(c for c in info["minor"] if c.isdigit())))
    if version < (1, 24):
        raise AssertionError(f"kubectl {info['gitVersion']} is too old: `kubectl patch "
                             f"--subresource` needs kubectl >= 1.24")
    return version


class KubectlTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.version = kubectl_version()
        cls.dir = tempfile.mkdtemp(prefix="kubectl-emulator-")
        try:
            cls.certs = make_certs(cls.dir)
            cls.token_file = os.path.join(cls.dir, "token")
            with open(cls.token_file, "w") as f:
                f.write(TOKEN)
            cls.em = Emulator("--token-file", cls.token_file, tls=cls.certs).start()
        except BaseException:
            shutil.rmtree(cls.dir, ignore_errors=True)
            raise
        cls.kubeconfig = os.path.join(cls.dir, "kubeconfig")
        cls.write_kubeconfig(TOKEN)

    @classmethod
    def tearDownClass(cls):
        cls.em.stop()
        shutil.rmtree(cls.dir, ignore_errors=True)

    @classmethod
    def write_kubeconfig(cls, token):
        config = {
            "apiVersion": "v1", "kind": "Config", "current-context": "emulator",
            "clusters": [{"name": "emulator", "cluster": {
                "server": cls.em.url, "certificate-authority": cls.certs["ca"]}}],
            "users": [{"name": "tester", "user": {"token": token}}],
            "contexts": [{"name": "emulator", "context": {
                "cluster": "emulator", "user": "tester", "namespace": "default"}}]}
        with open(cls.kubeconfig, "w") as f:
            json.dump(config, f)  # JSON is YAML

    def kubectl(self, *args, stdin=None, check=True):
        env = dict(os.environ, KUBECONFIG=self.kubeconfig, HOME=self.dir)
        out = subprocess.run([KUBECTL, "--cache-dir", os.path.join(self.dir, "cache"),
                              "--request-timeout", "20s", *args], input=stdin,
                             capture_output=True, text=True, env=env, timeout=60)
        if check and out.returncode != 0:
            self.fail(f"kubectl {' '.join(args)} failed ({out.returncode}): {out.stderr}")
        return out

    def get_json(self, *args):
        return json.loads(self.kubectl("get", *args, "-o", "json").stdout)

    def requests(self):
        return self.em.control("GET", "requests")

    # -- policies ----------------------------------------------------------------------------

    def test_policy_apply_get_status_patch_delete(self):
        files = sorted(glob.glob(os.path.join(REPO, "examples", "policies", "*.yaml")))
        self.assertTrue(files, "no example policies")
        for path in files:
            out = self.kubectl("apply", "-f", path)  # no --validate=false needed
            self.assertIn("created", out.stdout)
        expected = set()
        for path in files:
            with open(path) as f:
                expected |= set(re.findall(r"^metadata:\n  name: (\S+)", f.read(), re.M))
        self.assertEqual(len(expected), len(files))
        listed = self.get_json("aiinferenceautoscalerpolicies", "--all-namespaces")
        self.assertLessEqual(expected, {p["metadata"]["name"] for p in listed["items"]})

        # The Table: the CRD's printer columns.
        table = self.kubectl("get", "aiap").stdout
        self.assertIn("llm-max-ratio", table)
        self.assertEqual(table.split("\n")[0].split()[:4], ["NAME", "TARGET", "MIN", "MAX"])

        before = self.get_json("aiap", "llm-max-ratio")
        self.assertEqual(before["metadata"]["generation"], 1)
        self.kubectl("patch", "aiap", "llm-max-ratio", "--subresource=status", "--type=merge",
                     "-p", '{"status":{"desiredReplicas":3,"lastAlgorithm":"MaxRatio"}}')
        after = self.get_json("aiap", "llm-max-ratio")
        self.assertEqual(after["status"], {"desiredReplicas": 3, "lastAlgorithm": "MaxRatio"})
        self.assertEqual(after["metadata"]["generation"], 1)
        self.assertNotEqual(after["metadata"]["resourceVersion"],
                            before["metadata"]["resourceVersion"])
        row = self.kubectl("get", "aiap", "llm-max-ratio", "--no-headers").stdout.split()
        self.assertEqual(row[0], "llm-max-ratio")
        self.assertIn("3", row)
        self.assertIn("MaxRatio", row)
        patch_requests = [r for r in self.requests() if r["method"] == "PATCH"
                          and r["path"].endswith("/llm-max-ratio/status")]
        self.assertEqual(patch_requests[-1]["contentType"], "application/merge-patch+json")

        # Strategic merge on a custom resource: refused with 415.
        out = self.kubectl("patch", "aiap", "llm-max-ratio", "--type=strategic", "-p",
                           '{"spec":{"maxReplicas":5}}', check=False)
        self.assertNotEqual(out.returncode, 0)
        self.assertIn("unknown format", out.stderr)
        self.assertEqual(self.requests()[-1]["status"], 415)

        # apply with a changed spec: a JSON merge patch, generation bumped, status kept.
        with open(os.path.join(REPO, "examples", "policies", "max-ratio.yaml")) as f:
            changed = f.read().replace("maxReplicas: 10", "maxReplicas: 12")
        self.assertIn("maxReplicas: 12", changed)
        out = self.kubectl("apply", "-f", "-", stdin=changed)
        self.assertIn("configured", out.stdout)
        patches = [r for r in self.requests() if r["method"] == "PATCH"
                   and r["path"].endswith("/aiinferenceautoscalerpolicies/llm-max-ratio")]
        self.assertEqual(patches[-1]["contentType"], "application/merge-patch+json")
        self.assertEqual(patches[-1]["status"], 200)
        applied = self.get_json("aiap", "llm-max-ratio")
        self.assertEqual((applied["spec"]["maxReplicas"], applied["metadata"]["generation"]),
                         (12, 2))
        self.assertEqual(applied["status"]["desiredReplicas"], 3)

        self.kubectl("delete", "aiap", "llm-max-ratio")
        out = self.kubectl("get", "aiap", "llm-max-ratio", check=False)
        self.assertNotEqual(out.returncode, 0)
        self.assertIn('aiinferenceautoscalerpolicies.kubeai.io "llm-max-ratio" not found',
                      out.stderr)

    def test_watch_with_kubectl(self):
        manifest = json.dumps({"apiVersion": "kubeai.io/v1alpha1",
                               "kind": "AIInferenceAutoscalerPolicy",
                               "metadata": {"name": "watched", "namespace": "watch-ns"},
                               "spec": {"maxReplicas": 3}})
        self.kubectl("apply", "-f", "-", stdin=manifest)
        env = dict(os.environ, KUBECONFIG=self.kubeconfig, HOME=self.dir)
        proc = subprocess.Popen([KUBECTL, "--cache-dir", os.path.join(self.dir, "cache"),
                                 "get", "aiap", "-n", "watch-ns", "--watch", "-o",
                                 "jsonpath={.metadata.name}={.status.desiredReplicas}{\"\\n\"}"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                env=env)
        try:
            self.assertEqual(proc.stdout.readline().strip(), "watched=")
            self.kubectl("patch", "aiap", "watched", "-n", "watch-ns", "--subresource=status",
                         "--type=merge", "-p", '{"status":{"desiredReplicas":2}}')
            self.assertEqual(proc.stdout.readline().strip(), "watched=2")
        finally:
            proc.kill()
            proc.communicate()

    # -- deployments and scale ---------------------------------------------------------------

    def test_deployment_apply_scale(self):
        manifest = """
apiVersion: apps/v1
kind: Deployment
metadata:
  name: inference-server
  labels: {app: inference-server}
spec:
  replicas: 2
  selector: {matchLabels: {app: inference-server}}
  template:
    metadata: {labels: {app: inference-server}}
    spec:
      containers:
        - name: server
          image: example/inference:1
          env: [{name: MODE, value: fast}]
        - name: sidecar
          image: example/sidecar:1
"""
        self.assertIn("created", self.kubectl("apply", "-f", "-", stdin=manifest).stdout)
        # A second apply: kubectl sends a strategic merge patch for a built-in type.
        self.kubectl("apply", "-f", "-", stdin=manifest.replace("value: fast", "value: slow"))
        patches = [r for r in self.requests() if r["method"] == "PATCH"
                   and r["path"].endswith("/deployments/inference-server")]
        self.assertEqual([r["contentType"] for r in patches],
                         ["application/strategic-merge-patch+json"])
        dep = self.get_json("deployment", "inference-server")
        containers = dep["spec"]["template"]["spec"]["containers"]
        self.assertEqual([c["name"] for c in containers], ["server", "sidecar"])
        self.assertEqual(containers[0]["env"], [{"name": "MODE", "value": "slow"}])
        self.assertEqual(dep["metadata"]["generation"], 2)

        self.kubectl("scale", "deployment", "inference-server", "--replicas=4")
        scale = json.loads(self.kubectl(
            "get", "--raw",
            "/apis/apps/v1/namespaces/default/deployments/inference-server/scale").stdout)
        self.assertEqual((scale["kind"], scale["spec"]["replicas"], scale["status"]["selector"]),
                         ("Scale", 4, "app=inference-server"))
        self.assertEqual(self.get_json("deployment", "inference-server")["spec"]["replicas"], 4)
        self.assertIn("inference-server", self.kubectl("get", "deployments").stdout)

        # The ready replicas, as a test sets them (the controller's status write): 1 of the 4
        # ready, shown by kubectl's READY column, kept by a scale, read back on the object.
        self.kubectl("patch", "deployment", "inference-server", "--subresource=status", "--type=merge",
                     "-p", '{"status":{"replicas":4,"readyReplicas":1}}')
        self.assertRegex(self.kubectl("get", "deployment", "inference-server").stdout,
                         r"inference-server\s+1/4\s")
        self.kubectl("scale", "deployment", "inference-server", "--replicas=6")
        dep = self.get_json("deployment", "inference-server")
        self.assertEqual((dep["spec"]["replicas"], dep["status"]["readyReplicas"]), (6, 1))
        self.assertEqual(self.kubectl("get", "deployment", "inference-server", "-o",
                                      "jsonpath={.status.readyReplicas}").stdout, "1")

    # -- events and leases -------------------------------------------------------------------

    def test_events(self):
        policy = json.dumps({"apiVersion": "kubeai.io/v1alpha1",
                             "kind": "AIInferenceAutoscalerPolicy",
                             "metadata": {"name": "described", "namespace": "events-ns"},
                             "spec": {"maxReplicas": 3}})
        self.kubectl("apply", "-f", "-", stdin=policy)
        uid = self.get_json("aiap", "described", "-n", "events-ns")["metadata"]["uid"]
        event = {"apiVersion": "v1", "kind": "Event",
                 "metadata": {"name": "described.1", "namespace": "events-ns"},
                 "involvedObject": {"apiVersion": "kubeai.io/v1alpha1",
                                    "kind": "AIInferenceAutoscalerPolicy", "uid": uid,
                                    "name": "described", "namespace": "events-ns"},
                 "type": "Warning", "reason": "UnknownAlgorithm",
                 "message": "algorithm \"Nope\" not found", "count": 2,
                 "firstTimestamp": "2025-01-01T00:00:00Z",
                 "lastTimestamp": "2025-01-01T00:01:00Z",
                 "source": {"component": "kubeai-scaler"}}
        self.kubectl("create", "-f", "-", stdin=json.dumps(event))
        out = self.kubectl("get", "events", "-n", "events-ns").stdout
        self.assertIn("UnknownAlgorithm", out)
        self.assertIn("aiinferenceautoscalerpolicy/described", out)
        got = self.get_json("events", "-A", "--field-selector", "involvedObject.name=described")
        self.assertEqual([e["reason"] for e in got["items"]], ["UnknownAlgorithm"])
        # describe finds the policy's events by involvedObject field selectors.
        described = self.kubectl("describe", "aiap", "described", "-n", "events-ns").stdout
        events = described.split("Events:", 1)[1]
        self.assertIn("UnknownAlgorithm", events)
        self.assertIn("(x2 over", events)

    def test_leases(self):
        lease = """
apiVersion: coordination.k8s.io/v1
kind: Lease
metadata: {name: kubeai-scaler, namespace: default}
spec: {holderIdentity: pod-a, leaseDurationSeconds: 15}
"""
        self.kubectl("apply", "-f", "-", stdin=lease)
        self.assertEqual(self.get_json("lease", "kubeai-scaler")["spec"]["holderIdentity"],
                         "pod-a")
        self.kubectl("apply", "-f", "-", stdin=lease.replace("pod-a", "pod-b"))
        self.assertEqual(self.get_json("lease", "kubeai-scaler")["spec"]["holderIdentity"],
                         "pod-b")
        self.assertIn("pod-b", self.kubectl("get", "leases").stdout)

    # -- authentication ----------------------------------------------------------------------

    def test_token_rotation(self):
        try:
            with open(self.token_file, "w") as f:
                f.write("rotated")
            out = self.kubectl("get", "aiap", check=False)
            self.assertNotEqual(out.returncode, 0)
            self.assertIn("Unauthorized", out.stderr)
            self.write_kubeconfig("rotated")
            self.kubectl("get", "aiap")
        finally:
            with open(self.token_file, "w") as f:
                f.write(TOKEN)
            self.write_kubeconfig(TOKEN)


if __name__ == "__main__":
    unittest.main()
