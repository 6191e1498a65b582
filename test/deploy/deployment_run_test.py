#!/usr/bin/python3
"""The Deployment's own args start a server that its probes find healthy.

The args of the kubeai-scaler container, as `kubectl kustomize` renders them
(deploy/, and the mTLS overlay examples/keda/mtls), run against the test's
Kubernetes API emulator (test/kube/emulator) holding the example policies,
with only what the cluster would provide replaced:

  - $(POD_NAMESPACE) -> kubeai-system (the downward API);
  - in-cluster credentials -> --kubeconfig of the emulator;
  - --grpc-address/--metrics-address -> free 127.0.0.1 ports; --health-address
    keeps its port number's role but on a free port;
  - --prometheus-url -> a stand-in answering every query with 50 (a real
    Prometheus is tested in test/prometheus; here the server only needs
    metrics to decide, so that it writes status and Events);
  - --plugin-dir -> the built plugins; TLS files -> certificates made here.

  PlainTest  the readiness probe (grpc.health.v1 Check on the probed port)
             answers SERVING (once the policies are listed), the liveness probe (/healthz) 200, the plugins
             load, and the Lease named by --lease-name appears in the
             --lease-namespace namespace with a holder
  MtlsTest   with the overlay's TLS flags the probe port is plaintext and
             SERVING while the KEDA port refuses a client without a certificate

  deployment_run_test.py --kubectl PATH --scaler PATH --plugin-dir DIR --source-dir REPO [unittest args]

--scaler may be test/deploy/run_in_image.sh, with --plugin-dir /etc/kubeai-scaler/plugins: then the
image runs, as its own non-root user (test/deploy/image_test.sh).
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest
import urllib.parse
import urllib.request

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "serve"))
import serve_helpers as h  # noqa: E402

import grpc  # noqa: E402
import yaml  # noqa: E402

ARGS = None
NAMESPACE = "kubeai-system"
SERVING = b"\x08\x01"  # HealthCheckResponse{status: SERVING}


def render_all(directory):
    done = subprocess.run([ARGS.kubectl, "kustomize", os.path.join(ARGS.source_dir, directory)],
                          capture_output=True, text=True, timeout=60)
    if done.returncode != 0:
        raise AssertionError(f"kubectl kustomize {directory} failed:\n{done.stderr}")
    return done.stdout


def render(directory):
    (deployment,) = [d for d in yaml.safe_load_all(render_all(directory)) if d and d["kind"] == "Deployment"]
    (container,) = [c for c in deployment["spec"]["template"]["spec"]["containers"] if c["name"] == "kubeai-scaler"]
    return container


class StandInPrometheus:
    """Answers every /api/v1/query with one sample of value 50, on a free port."""

    def __init__(self):
        import http.server
        import threading

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (http.server's name)
                self.answer()

            def do_POST(self):  # noqa: N802
                self.rfile.read(int(self.headers.get("Content-Length", "0")))
                self.answer()

            def answer(self):
                body = json.dumps({"status": "success", "data": {"resultType": "vector", "result": [
                    {"metric": {}, "value": [0, "50"]}]}}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def split(arg):
    name, _, value = arg.partition("=")
    return name, value


class Emulator:
    """The API emulator on a free port, with a kubeconfig for it."""

    def __init__(self, directory):
        script = os.path.join(ARGS.source_dir, "test/kube/emulator/apiserver_emulator.py")
        self.process = subprocess.Popen(h.dying_with_parent(["/usr/bin/python3", script, "--port", "0"]),
                                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                        text=True)
        line = self.process.stdout.readline()
        match = re.search(r"listening on (127\.0\.0\.1:\d+)", line)
        if not match:
            self.stop()
            raise AssertionError(f"the emulator did not start: {line}")
        self.address = match.group(1)
        self.kubeconfig = os.path.join(directory, "kubeconfig")
        with open(self.kubeconfig, "w", encoding="utf-8") as f:
            yaml.safe_dump({"apiVersion": "v1", "kind": "Config", "current-context": "c",
                            "clusters": [{"name": "e", "cluster": {"server": f"http://{self.address}"}}],
                            "users": [{"name": "u", "user": {}}],
                            "contexts": [{"name": "c", "context": {"cluster": "e", "user": "u"}}]}, f)

    def kubectl(self, *args):
        done = subprocess.run([ARGS.kubectl, "--kubeconfig", self.kubeconfig, *args], capture_output=True, text=True,
                              timeout=60)
        if done.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)}: {done.stderr}")
        return done.stdout

    def get(self, path):
        try:
            with urllib.request.urlopen(f"http://{self.address}{path}", timeout=5) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError:
            return None

    def post(self, path, body):
        request = urllib.request.Request(f"http://{self.address}{path}", data=json.dumps(body).encode(),
                                         headers={"Content-Type": "application/json"}, method="POST")
        with urllib.request.urlopen(request, timeout=5) as response:
            return json.loads(response.read())

    def requests(self):
        """The emulator's log of API requests: method, path, query, userAgent, status."""
        with urllib.request.urlopen(f"http://{self.address}/_emulator/requests", timeout=5) as response:
            return json.loads(response.read())

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process.stdout.close()


def make_certificates(directory):
    """A CA and a server certificate for 127.0.0.1 (openssl), as cert-manager's Secret holds them."""
    def run(*args):
        subprocess.run(["openssl", *args], check=True, capture_output=True, cwd=directory)
    key = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    run("req", "-x509", *key, "-keyout", "ca.key", "-out", "ca.crt", "-days", "2", "-subj", "/CN=test-ca")
    with open(os.path.join(directory, "server.ext"), "w", encoding="utf-8") as f:
        f.write("subjectAltName=IP:127.0.0.1\n")
    run("req", *key, "-keyout", "tls.key", "-out", "tls.csr", "-subj", "/CN=kubeai-scaler")
    run("x509", "-req", "-in", "tls.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-out", "tls.crt",
        "-days", "2", "-extfile", "server.ext")


def local_args(container, directory, prometheus_url):
    """The container's args for this machine (see the module's doc); `serve` and the addresses
    that Serve sets itself are left out. Returns (args, the probed gRPC port's role)."""
    args = container["args"]
    if args[0] != "serve":
        raise AssertionError(f"the container does not run serve: {args}")
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    out = ["--kubeconfig", os.path.join(directory, "kubeconfig")]
    for arg in args[1:]:
        name, value = split(arg)
        value = value.replace("$(POD_NAMESPACE)", NAMESPACE)
        if name in ("--grpc-address", "--metrics-address", "--log-format"):
            continue  # Serve binds free ports and logs JSON
        if name == "--health-address":
            value = "127.0.0.1:0"
        elif name == "--prometheus-url":
            value = prometheus_url
        elif name == "--plugin-dir":
            value = ARGS.plugin_dir
        elif "tls" in mounts and value.startswith(mounts["tls"] + "/"):
            value = os.path.join(directory, os.path.basename(value))
        out.append(f"{name}={value}" if value else name)
    return out


def rbac_attributes(method, path, query):
    """(apiGroup, resource[/subresource], verb, namespace, name) of an API request, as the API
    server's authorizer sees it."""
    parts = path.strip("/").split("/")
    group, rest = ("", parts[2:]) if parts[0] == "api" else (parts[1], parts[3:])
    namespace = None
    if rest[:1] == ["namespaces"] and len(rest) >= 3:
        namespace, rest = rest[1], rest[2:]
    resource = rest[0] + ("/" + rest[2] if len(rest) > 2 else "")
    name = rest[1] if len(rest) > 1 else None
    if method == "GET":
        watch = urllib.parse.parse_qs(query).get("watch", [""])[-1] in ("1", "true")
        verb = "watch" if watch else ("get" if name else "list")
    else:
        verb = {"POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}[method]
    return group, resource, verb, namespace, name


def rbac_allows(rules, group, resource, verb, name):
    return any(group in r.get("apiGroups", []) and resource in r["resources"] and verb in r["verbs"]
               and (not r.get("resourceNames") or name in r["resourceNames"]) for r in rules)


def health_check(address, timeout=5):
    with grpc.insecure_channel(address) as channel:
        check = channel.unary_unary("/grpc.health.v1.Health/Check", request_serializer=lambda b: b,
                                    response_deserializer=lambda b: b)
        return check(b"", timeout=timeout)


def wait_ready(address):
    """As the kubelet's readiness probe does: NOT_SERVING until the policies are first listed."""
    h.wait_until(lambda: health_check(address) == SERVING, h.seconds(15), f"grpc.health.v1 SERVING on {address}",
                 interval=0.1)


class RunTestCase(unittest.TestCase):
    OVERLAY = None

    def setUp(self):
        self.directory = tempfile.mkdtemp(prefix="deploy-run-")
        self.addCleanup(shutil.rmtree, self.directory, ignore_errors=True)
        # Readable by the image's non-root user when --scaler runs the image (run_in_image.sh), as the
        # pod's volumes are: Secrets mode 0644, the /tmp emptyDir 0777.
        os.chmod(self.directory, 0o755)
        self.container = render(self.OVERLAY)
        self.emulator = Emulator(self.directory)
        self.addCleanup(self.emulator.stop)
        self.emulator.kubectl("apply", "-f", os.path.join(ARGS.source_dir, "examples/policies"))
        # inference-server, the target of the example policies in default (its GET answers for it).
        target = os.path.join(self.directory, "inference-server.json")
        with open(target, "w", encoding="utf-8") as f:
            json.dump({"apiVersion": "apps/v1", "kind": "Deployment",
                       "metadata": {"name": "inference-server", "namespace": "default"},
                       "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "inference-server"}},
                                "template": {"metadata": {"labels": {"app": "inference-server"}},
                                             "spec": {"containers": [{"name": "server", "image": "example"}]}}}},
                      f)
        self.emulator.kubectl("apply", "-f", target)
        if "--tls-cert-file" in " ".join(self.container["args"]):
            make_certificates(self.directory)
            os.chmod(os.path.join(self.directory, "tls.key"), 0o644)
        scratch = os.path.join(self.directory, "tmp")  # the /tmp emptyDir
        os.mkdir(scratch)
        os.chmod(scratch, 0o1777)
        self.prometheus = StandInPrometheus()
        self.addCleanup(self.prometheus.stop)
        self.serve = h.Serve(ARGS.scaler, local_args(self.container, self.directory, self.prometheus.url), scratch)
        self.addCleanup(self.serve.kill)

    def probed_address(self):
        """Where the readiness probe's gRPC port is on this machine."""
        port = self.container["readinessProbe"]["grpc"]["port"]
        ports = {p["containerPort"]: p["name"] for p in self.container["ports"]}
        if ports.get(port) == "grpc":
            return self.serve.grpc_address
        self.assertIsNotNone(self.serve.health_address, f"probe port {port} is neither grpc nor --health-address")
        return self.serve.health_address

    def liveness(self):
        probe = self.container["livenessProbe"]["httpGet"]
        self.assertEqual(probe["port"], "metrics")
        return self.serve.http_get(probe["path"])


class PlainTest(RunTestCase):
    OVERLAY = "deploy"

    def test_probes_plugins_and_lease(self):
        wait_ready(self.probed_address())
        self.assertEqual(self.liveness()[0], 200)
        loaded = {r.get("algorithm") for r in self.serve.logs(lambda r: r.get("msg") == "plugin loaded")}
        self.assertTrue({"CappedSmoothRatio", "StepScale"} <= loaded, self.serve.log_text())
        args = dict(split(a) for a in self.container["args"][1:])
        lease_namespace = args["--lease-namespace"].replace("$(POD_NAMESPACE)", NAMESPACE)
        path = f"/apis/coordination.k8s.io/v1/namespaces/{lease_namespace}/leases/{args['--lease-name']}"
        h.wait_until(lambda: (self.emulator.get(path) or {}).get("spec", {}).get("holderIdentity"), h.seconds(15),
                     f"the Lease {path} held")
        self.check_rbac_covers_requests(lease_namespace)
        self.assertEqual(self.serve.stop(), 0)

    def check_rbac_covers_requests(self, lease_namespace):
        """Every request the server made is one deploy/rbac.yaml allows: the ClusterRole anywhere, the Role
        in its namespace. A policy naming an unknown algorithm brings a Warning Event (create)."""
        policy = {"apiVersion": "kubeai.io/v1alpha1", "kind": "AIInferenceAutoscalerPolicy",
                  "metadata": {"name": "rbac-unknown-algorithm", "namespace": "default"},
                  "spec": {"targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "inference-server"},
                           "minReplicas": 1, "maxReplicas": 4, "algorithm": {"name": "NoSuchAlgorithm"},
                           "metrics": {"gpuUtilization": {"enabled": True, "targetPercentage": 70}}}}
        self.emulator.post("/apis/kubeai.io/v1alpha1/namespaces/default/aiinferenceautoscalerpolicies", policy)
        h.wait_until(lambda: any(e.get("reason") == "UnknownAlgorithm"
                                 for e in (self.emulator.get("/api/v1/namespaces/default/events") or {}).get(
                                     "items", [])),
                     h.seconds(20), "the UnknownAlgorithm Event")
        objects = [d for d in yaml.safe_load_all(render_all("deploy")) if d]
        (cluster_role,) = [d for d in objects if d["kind"] == "ClusterRole"]
        (role,) = [d for d in objects if d["kind"] == "Role"]
        self.assertEqual(role["metadata"]["namespace"], lease_namespace)
        seen = set()
        for request in self.emulator.requests():
            if not request.get("userAgent", "").startswith("kubeai-scaler"):
                continue  # kubectl's own
            group, resource, verb, namespace, name = rbac_attributes(request["method"], request["path"],
                                                                     request["query"])
            seen.add((resource, verb))
            allowed = rbac_allows(cluster_role["rules"], group, resource, verb, name) or (
                namespace == lease_namespace and rbac_allows(role["rules"], group, resource, verb, name))
            self.assertTrue(allowed, f"{request['method']} {request['path']}?{request['query']}: "
                                     f"{verb} {group or 'core'}/{resource} {name or ''} is not granted by RBAC")
        # What the run must have exercised for the check to mean something.
        for needed in [("aiinferenceautoscalerpolicies", "list"), ("aiinferenceautoscalerpolicies", "watch"),
                       ("aiinferenceautoscalerpolicies/status", "patch"), ("deployments", "list"),
                       ("deployments", "watch"), ("statefulsets", "list"), ("statefulsets", "watch"),
                       ("events", "create"), ("leases", "create")]:
            self.assertIn(needed, seen)


class MtlsTest(RunTestCase):
    OVERLAY = "examples/keda/mtls"

    def test_plaintext_probe_beside_mtls(self):
        self.assertNotEqual(self.probed_address(), self.serve.grpc_address)
        wait_ready(self.probed_address())
        self.assertEqual(self.liveness()[0], 200)
        with open(os.path.join(self.directory, "ca.crt"), "rb") as f:
            credentials = grpc.ssl_channel_credentials(root_certificates=f.read())
        # No client certificate: the KEDA port refuses the handshake.
        with grpc.secure_channel(self.serve.grpc_address, credentials) as channel:
            check = channel.unary_unary("/grpc.health.v1.Health/Check", request_serializer=lambda b: b,
                                        response_deserializer=lambda b: b)
            with self.assertRaises(grpc.RpcError) as refused:
                check(b"", timeout=5)
        self.assertEqual(refused.exception.code(), grpc.StatusCode.UNAVAILABLE)
        self.assertEqual(self.serve.stop(), 0)


def main():
    global ARGS
    parser = argparse.ArgumentParser()
    parser.add_argument("--kubectl", default="kubectl")
    parser.add_argument("--scaler", required=True)
    parser.add_argument("--plugin-dir", required=True)
    parser.add_argument("--source-dir", required=True)
    ARGS, rest = parser.parse_known_args()
    unittest.main(argv=[sys.argv[0]] + rest, verbosity=2)


if __name__ == "__main__":
    main()
