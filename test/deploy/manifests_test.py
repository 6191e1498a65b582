#!/usr/bin/python3
"""deploy/ as `kubectl kustomize deploy/` renders it.

  RenderTest       it renders (real kubectl, no cluster needed), parses as
                   YAML, and holds exactly the expected objects, the namespaced
                   ones in kubeai-system, with the common labels; the CRD is
                   deploy/crd's file unchanged
  SecurityTest     the pod: non-root 65532, read-only root filesystem, no
                   capabilities, no privilege escalation, seccomp RuntimeDefault,
                   resources set, /tmp an emptyDir, TMPDIR=/tmp
  WiringTest       names that must agree do: Service selector and pod labels,
                   named ports of probes/Service/ServiceMonitor, the service
                   account, the plugin volume and --plugin-dir, the Lease name
                   in the Role and --lease-name, POD_NAMESPACE from the
                   downward API in --lease-namespace, two replicas, the KEDA
                   examples' scalerAddress and the Service
  RbacTest         least privilege: exactly the rules the server needs, no
                   wildcard, leases only in a namespaced Role
  KedaExamplesTest examples/keda: both trigger types, each naming an example
                   policy of its scale target with the same bounds, fallback
                   and HPA tolerance 0 everywhere, the mTLS
                   TriggerAuthentication's three Secret parameters
  MtlsOverlayTest  examples/keda/mtls (deploy/ + cert-manager + TLS flags)
                   renders; files, Secret, health port and probe, certificate
                   names and usages agree with the KEDA examples
  DocsTest         docs/install.md's relative links resolve and it names
                   every file of the kustomization
  ServeFlagsTest   every flag of the Deployments' args (deploy/ and the mTLS
                   overlay) is one that
                   `kubeai-scaler serve --help` lists (read at test time)

  manifests_test.py --kubectl PATH --scaler PATH --source-dir REPO [unittest args]
"""

import argparse
import json
import os
import re
import subprocess
import sys
import unittest

sys.dont_write_bytecode = True

try:
    import yaml
except ImportError as e:  # pragma: no cover
    print(f"manifests_test: {e}: run scripts/install-deps (python3-yaml)", file=sys.stderr)
    sys.exit(1)

ARGS = None
NAMESPACE = "kubeai-system"
_RENDERED = None

EXPECTED = {
    ("Namespace", "kubeai-system"),
    ("CustomResourceDefinition", "aiinferenceautoscalerpolicies.kubeai.io"),
    ("ServiceAccount", "kubeai-scaler"),
    ("ClusterRole", "kubeai-scaler"),
    ("ClusterRoleBinding", "kubeai-scaler"),
    ("Role", "kubeai-scaler-leader-election"),
    ("RoleBinding", "kubeai-scaler-leader-election"),
    ("Deployment", "kubeai-scaler"),
    ("Service", "kubeai-scaler"),
    ("PodDisruptionBudget", "kubeai-scaler"),
    ("ServiceMonitor", "kubeai-scaler"),
}
CLUSTER_SCOPED = {"Namespace", "CustomResourceDefinition", "ClusterRole", "ClusterRoleBinding"}


def kubectl_minor():
    done = subprocess.run([ARGS.kubectl, "version", "--client", "-o", "json"], capture_output=True, text=True,
                          timeout=30)
    if done.returncode != 0:
        raise AssertionError(f"{ARGS.kubectl} version failed: {done.stderr}")
    return int(re.match(r"\d+", json.loads(done.stdout)["clientVersion"]["minor"]).group(0))


def kustomize(directory):
    minor = kubectl_minor()
    if minor < 21:
        raise AssertionError(f"kubectl 1.{minor} is too old: deploy/kustomization.yaml needs kubectl >= 1.21 "
                             "(kustomize v4, for `labels`)")
    done = subprocess.run([ARGS.kubectl, "kustomize", os.path.join(ARGS.source_dir, directory)],
                          capture_output=True, text=True, timeout=60)
    if done.returncode != 0:
        raise AssertionError(f"kubectl kustomize {directory} failed:\n{done.stderr}")
    return [d for d in yaml.safe_load_all(done.stdout) if d is not None]


_RENDERS = {}


def rendered(directory="deploy"):
    if directory not in _RENDERS:
        _RENDERS[directory] = kustomize(directory)
    return _RENDERS[directory]


MTLS = "examples/keda/mtls"


def one(kind, name=None, directory="deploy"):
    found = [d for d in rendered(directory)
             if d["kind"] == kind and (name is None or d["metadata"]["name"] == name)]
    if len(found) != 1:
        raise AssertionError(f"{len(found)} objects of kind {kind} {name or ''} in the render of {directory}")
    return found[0]


def pod_spec(directory="deploy"):
    return one("Deployment", directory=directory)["spec"]["template"]["spec"]


def server_container(directory="deploy"):
    (container,) = [c for c in pod_spec(directory)["containers"] if c["name"] == "kubeai-scaler"]
    return container


def flag_value(args, name):
    """The value of --name=value or --name value in args, or None."""
    for i, arg in enumerate(args):
        if arg.startswith(f"{name}="):
            return arg.split("=", 1)[1]
        if arg == name and i + 1 < len(args) and not args[i + 1].startswith("--"):
            return args[i + 1]
    return None


class RenderTest(unittest.TestCase):
    def test_expected_objects(self):
        kinds = {(d["kind"], d["metadata"]["name"]) for d in rendered()}
        self.assertEqual(kinds, EXPECTED)
        self.assertEqual(len(rendered()), len(EXPECTED))

    def test_namespaces_and_labels(self):
        for d in rendered():
            with self.subTest(f"{d['kind']}/{d['metadata']['name']}"):
                if d["kind"] in CLUSTER_SCOPED:
                    self.assertNotIn("namespace", d["metadata"])
                else:
                    self.assertEqual(d["metadata"]["namespace"], NAMESPACE)
                self.assertEqual(d["metadata"]["labels"]["app.kubernetes.io/part-of"], "kubeai-scaler")

    def test_selectors_carry_no_common_label(self):
        # Selectors are immutable: the common labels stay out of them.
        self.assertEqual(one("Deployment")["spec"]["selector"]["matchLabels"],
                         {"app.kubernetes.io/name": "kubeai-scaler"})
        self.assertEqual(one("Service")["spec"]["selector"], {"app.kubernetes.io/name": "kubeai-scaler"})

    def test_crd_is_the_file(self):
        with open(os.path.join(ARGS.source_dir, "deploy/crd/kubeai.io_aiinferenceautoscalerpolicies.yaml"),
                  encoding="utf-8") as f:
            original = yaml.safe_load(f)
        rendered_crd = one("CustomResourceDefinition")
        self.assertEqual(rendered_crd["spec"], original["spec"])


class SecurityTest(unittest.TestCase):
    def test_pod_security_context(self):
        context = pod_spec()["securityContext"]
        self.assertIs(context["runAsNonRoot"], True)
        self.assertEqual(context["runAsUser"], 65532)
        self.assertEqual(context["runAsGroup"], 65532)
        self.assertEqual(context["seccompProfile"], {"type": "RuntimeDefault"})

    def test_every_container_is_locked_down(self):
        for container in pod_spec()["containers"] + pod_spec().get("initContainers", []):
            with self.subTest(container["name"]):
                context = container["securityContext"]
                self.assertIs(context["readOnlyRootFilesystem"], True)
                self.assertIs(context["allowPrivilegeEscalation"], False)
                self.assertEqual(context["capabilities"], {"drop": ["ALL"]})
                self.assertNotIn("privileged", context)
                for kind in ("requests", "limits"):
                    self.assertIn("memory", container["resources"][kind])
                    self.assertIn("cpu", container["resources"][kind])

    def test_tmp_is_writable(self):
        container = server_container()
        mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
        volumes = {v["name"]: v for v in pod_spec()["volumes"]}
        self.assertIn("emptyDir", volumes[mounts["/tmp"]])
        env = {e["name"]: e for e in container["env"]}
        self.assertEqual(env["TMPDIR"]["value"], "/tmp")


class WiringTest(unittest.TestCase):
    def test_replicas_and_service_account(self):
        deployment = one("Deployment")
        self.assertEqual(deployment["spec"]["replicas"], 2)
        self.assertEqual(pod_spec()["serviceAccountName"], one("ServiceAccount")["metadata"]["name"])

    def test_service_selects_the_pods(self):
        labels = one("Deployment")["spec"]["template"]["metadata"]["labels"]
        for key, value in one("Service")["spec"]["selector"].items():
            self.assertEqual(labels.get(key), value)

    def test_ports(self):
        container_ports = {p["name"]: p["containerPort"] for p in server_container()["ports"]}
        self.assertEqual(container_ports, {"grpc": 6000, "metrics": 8080})
        service_ports = {p["name"]: p for p in one("Service")["spec"]["ports"]}
        self.assertEqual(service_ports["grpc"]["port"], 6000)
        self.assertEqual(service_ports["grpc"]["appProtocol"], "grpc")
        self.assertEqual(service_ports["metrics"]["port"], 8080)
        for port in service_ports.values():
            self.assertIn(port["targetPort"], container_ports)
        args = server_container()["args"]
        self.assertTrue(flag_value(args, "--grpc-address").endswith(":6000"))
        self.assertTrue(flag_value(args, "--metrics-address").endswith(":8080"))
        (endpoint,) = one("ServiceMonitor")["spec"]["endpoints"]
        self.assertIn(endpoint["port"], service_ports)
        self.assertEqual(endpoint["path"], "/metrics")
        self.assertEqual(one("ServiceMonitor")["spec"]["selector"]["matchLabels"], one("Service")["spec"]["selector"])

    def test_probes(self):
        container = server_container()
        # Native gRPC probe on the plaintext KEDA port (grpc.health.v1).
        self.assertEqual(container["readinessProbe"]["grpc"]["port"], 6000)
        self.assertEqual(container["livenessProbe"]["httpGet"]["path"], "/healthz")
        self.assertEqual(container["livenessProbe"]["httpGet"]["port"], "metrics")

    def test_plugin_volume(self):
        container = server_container()
        plugin_dir = flag_value(container["args"], "--plugin-dir")
        self.assertEqual(plugin_dir, "/etc/kubeai-scaler/plugins")
        mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
        self.assertIn(plugin_dir, mounts)
        (init,) = pod_spec()["initContainers"]
        self.assertIn(mounts[plugin_dir], {m["name"] for m in init["volumeMounts"]})
        self.assertEqual(init["image"], container["image"])

    def test_leader_election(self):
        args = server_container()["args"]
        self.assertEqual(args[0], "serve")
        self.assertIn("--kubernetes", args)
        self.assertNotIn("--policy-dir", " ".join(args))
        self.assertEqual(flag_value(args, "--lease-namespace"), "$(POD_NAMESPACE)")
        env = {e["name"]: e for e in server_container()["env"]}
        self.assertEqual(env["POD_NAMESPACE"]["valueFrom"]["fieldRef"]["fieldPath"], "metadata.namespace")
        lease_name = flag_value(args, "--lease-name")
        role = one("Role")
        self.assertIn(lease_name, [n for r in role["rules"] for n in r.get("resourceNames", [])])
        self.assertEqual(one("PodDisruptionBudget")["spec"]["minAvailable"], 1)

    def test_keda_examples_reach_the_service(self):
        service = one("Service")
        address = f"{service['metadata']['name']}.{service['metadata']['namespace']}.svc.cluster.local:6000"
        triggers = 0
        for name, doc in keda_examples():
            if doc["kind"] == "ScaledObject":
                for trigger in doc["spec"]["triggers"]:
                    triggers += 1
                    self.assertEqual(trigger["metadata"]["scalerAddress"], address, name)
        self.assertGreaterEqual(triggers, 2)


def keda_examples():
    """Every document of examples/keda, with the file it comes from."""
    examples = os.path.join(ARGS.source_dir, "examples/keda")
    found = []
    for name in sorted(os.listdir(examples)):
        if name.endswith(".yaml"):  # not mtls/, a kustomize overlay
            with open(os.path.join(examples, name), encoding="utf-8") as f:
                found += [(name, doc) for doc in yaml.safe_load_all(f) if doc]
    return found


def example_policies():
    found = {}
    policies = os.path.join(ARGS.source_dir, "examples/policies")
    for name in sorted(os.listdir(policies)):
        with open(os.path.join(policies, name), encoding="utf-8") as f:
            for doc in yaml.safe_load_all(f):
                if doc and doc.get("kind") == "AIInferenceAutoscalerPolicy":
                    found[(doc["metadata"].get("namespace", "default"), doc["metadata"]["name"])] = doc
    return found


class KedaExamplesTest(unittest.TestCase):
    def scaled_objects(self):
        return [(name, d) for name, d in keda_examples() if d["kind"] == "ScaledObject"]

    def test_both_trigger_types(self):
        types = {t["type"] for _, d in self.scaled_objects() for t in d["spec"]["triggers"]}
        self.assertEqual(types, {"external", "external-push"})

    def test_each_names_an_example_policy_of_its_target(self):
        policies = example_policies()
        for name, so in self.scaled_objects():
            with self.subTest(f"{name}: {so['metadata']['name']}"):
                (trigger,) = so["spec"]["triggers"]
                self.assertEqual(trigger["metricType"], "AverageValue")
                metadata = trigger["metadata"]
                # The server's defaults: the ScaledObject's name and namespace.
                key = (metadata.get("policyNamespace", so["metadata"]["namespace"]),
                       metadata.get("policyName", so["metadata"]["name"]))
                self.assertIn(key, policies)
                # serve refuses another namespace's policy by default.
                self.assertEqual(key[0], so["metadata"]["namespace"])
                spec = policies[key]["spec"]
                self.assertEqual(so["spec"]["scaleTargetRef"]["name"], spec["targetRef"]["name"])
                self.assertEqual(so["spec"]["minReplicaCount"], spec.get("minReplicas", 1))
                self.assertEqual(so["spec"]["maxReplicaCount"], spec["maxReplicas"])

    def test_fallback_and_tolerance(self):
        for name, so in self.scaled_objects():
            with self.subTest(f"{name}: {so['metadata']['name']}"):
                fallback = so["spec"]["fallback"]
                self.assertGreater(fallback["failureThreshold"], 0)
                self.assertGreater(fallback["replicas"], 0)
                behavior = so["spec"]["advanced"]["horizontalPodAutoscalerConfig"]["behavior"]
                self.assertEqual(behavior["scaleUp"]["tolerance"], 0)
                self.assertEqual(behavior["scaleDown"]["tolerance"], 0)

    def test_mtls_trigger_authentication(self):
        auths = {(d["metadata"]["namespace"], d["metadata"]["name"]): d for _, d in keda_examples()
                 if d["kind"] == "TriggerAuthentication"}
        self.assertTrue(auths)
        used = 0
        for _, so in self.scaled_objects():
            for trigger in so["spec"]["triggers"]:
                if "authenticationRef" in trigger:
                    used += 1
                    auth = auths[(so["metadata"]["namespace"], trigger["authenticationRef"]["name"])]
                    refs = auth["spec"]["secretTargetRef"]
                    self.assertEqual({r["parameter"] for r in refs}, {"caCert", "tlsClientCert", "tlsClientKey"})
                    self.assertEqual(len({r["name"] for r in refs}), 1)
        self.assertEqual(used, len(auths))


class MtlsOverlayTest(unittest.TestCase):
    """examples/keda/mtls: deploy/ with cert-manager certificates and mTLS flags."""

    def test_tls_flags_and_files(self):
        container = server_container(MTLS)
        args = container["args"]
        mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
        for flag, file in (("--tls-cert-file", "tls.crt"), ("--tls-key-file", "tls.key"),
                           ("--tls-client-ca-file", "ca.crt")):
            self.assertEqual(flag_value(args, flag), f"{mounts['tls']}/{file}")
        volumes = {v["name"]: v for v in pod_spec(MTLS)["volumes"]}
        server_cert = one("Certificate", "kubeai-scaler-tls", MTLS)
        self.assertEqual(volumes["tls"]["secret"]["secretName"], server_cert["spec"]["secretName"])
        self.assertEqual(server_cert["metadata"]["namespace"], NAMESPACE)
        self.assertIn("server auth", server_cert["spec"]["usages"])

    def test_probes_on_the_plaintext_health_port(self):
        container = server_container(MTLS)
        port = int(flag_value(container["args"], "--health-address").rsplit(":", 1)[1])
        self.assertEqual(container["readinessProbe"]["grpc"]["port"], port)
        self.assertIn(port, [p["containerPort"] for p in container["ports"]])
        self.assertNotEqual(port, 6000)

    def test_certificates_fit_the_keda_examples(self):
        server_cert = one("Certificate", "kubeai-scaler-tls", MTLS)
        client_cert = one("Certificate", "kubeai-scaler-client-tls", MTLS)
        self.assertIn("client auth", client_cert["spec"]["usages"])
        for cert in (server_cert, client_cert):
            self.assertEqual(cert["spec"]["issuerRef"]["name"], "kubeai-scaler-ca")
        (auth,) = [d for _, d in keda_examples() if d["kind"] == "TriggerAuthentication"]
        self.assertEqual(auth["metadata"]["namespace"], client_cert["metadata"]["namespace"])
        self.assertEqual({r["name"] for r in auth["spec"]["secretTargetRef"]}, {client_cert["spec"]["secretName"]})
        for _, so in keda_examples():
            if so["kind"] == "ScaledObject":
                host = so["spec"]["triggers"][0]["metadata"]["scalerAddress"].rsplit(":", 1)[0]
                self.assertIn(host, server_cert["spec"]["dnsNames"])

    def test_the_rest_is_deploy(self):
        base = {(d["kind"], d["metadata"]["name"]) for d in rendered()}
        overlay = {(d["kind"], d["metadata"]["name"]) for d in rendered(MTLS)}
        self.assertEqual(overlay - base, {("ClusterIssuer", "kubeai-selfsigned"), ("ClusterIssuer", "kubeai-scaler-ca"),
                                          ("Certificate", "kubeai-scaler-ca"), ("Certificate", "kubeai-scaler-tls"),
                                          ("Certificate", "kubeai-scaler-client-tls")})
        self.assertEqual(base - overlay, set())


class DocsTest(unittest.TestCase):
    def test_relative_links_resolve(self):
        for doc in ("docs/install.md", "examples/README.md", "README.md"):
            with open(os.path.join(ARGS.source_dir, doc), encoding="utf-8") as f:
                text = f.read()
            for target in re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", text):
                with self.subTest(doc=doc, link=target):
                    path = os.path.normpath(os.path.join(ARGS.source_dir, os.path.dirname(doc), target))
                    self.assertTrue(os.path.exists(path), f"{doc} links to {target}, which does not exist")

    def test_install_doc_names_every_deploy_file(self):
        with open(os.path.join(ARGS.source_dir, "docs/install.md"), encoding="utf-8") as f:
            text = f.read()
        with open(os.path.join(ARGS.source_dir, "deploy/kustomization.yaml"), encoding="utf-8") as f:
            resources = yaml.safe_load(f)["resources"]
        for resource in resources:
            self.assertIn(f"`{resource}`", text)


def rule_set(role):
    return sorted((tuple(r.get("apiGroups", [])), tuple(sorted(r["resources"])), tuple(sorted(r["verbs"])),
                   tuple(r.get("resourceNames", []))) for r in role["rules"])


class RbacTest(unittest.TestCase):
    def test_cluster_role_is_exactly_what_the_server_needs(self):
        self.assertEqual(rule_set(one("ClusterRole")), sorted([
            (("kubeai.io",), ("aiinferenceautoscalerpolicies",), ("list", "watch"), ()),
            (("kubeai.io",), ("aiinferenceautoscalerpolicies/status",), ("patch",), ()),
            (("apps",), ("deployments", "statefulsets"), ("list", "watch"), ()),
            (("",), ("events",), ("create", "patch"), ()),
        ]))

    def test_leases_only_in_the_own_namespace(self):
        role = one("Role")
        self.assertEqual(role["metadata"]["namespace"], NAMESPACE)
        self.assertEqual(rule_set(role), sorted([
            (("coordination.k8s.io",), ("leases",), ("create",), ()),
            (("coordination.k8s.io",), ("leases",), ("get", "update"), ("kubeai-scaler",)),
        ]))

    def test_no_wildcard(self):
        for role in (one("ClusterRole"), one("Role")):
            for rule in role["rules"]:
                for key in ("apiGroups", "resources", "verbs"):
                    self.assertNotIn("*", rule.get(key, []))

    def test_bindings(self):
        account = one("ServiceAccount")["metadata"]
        for kind, role in (("ClusterRoleBinding", "ClusterRole"), ("RoleBinding", "Role")):
            binding = one(kind)
            self.assertEqual(binding["roleRef"]["kind"], role)
            self.assertEqual(binding["roleRef"]["name"], one(role)["metadata"]["name"])
            self.assertEqual(binding["subjects"], [{"kind": "ServiceAccount", "name": account["name"],
                                                    "namespace": account["namespace"]}])


def serve_flags():
    done = subprocess.run([ARGS.scaler, "serve", "--help"], capture_output=True, text=True, timeout=30)
    if done.returncode != 0:
        raise AssertionError(f"serve --help failed: {done.stdout}{done.stderr}")
    # CLI11 lists each option at the start of a line: "  -h,--help", "  --grpc-address TEXT=...".
    flags = set()
    for line in done.stdout.splitlines():
        match = re.match(r"\s+((?:-\w,)?--[a-z][a-z0-9-]*)", line)
        if match:
            flags.add(match.group(1).split(",")[-1])
    return flags


class ServeFlagsTest(unittest.TestCase):
    def test_help_is_parsed(self):
        self.assertIn("--grpc-address", serve_flags())

    def test_every_deployment_flag_is_known(self):
        known = serve_flags()
        for directory in ("deploy", MTLS):
            with self.subTest(directory):
                args = server_container(directory)["args"]
                self.assertEqual(args[0], "serve")
                used = [a.split("=", 1)[0] for a in args[1:] if a.startswith("--")]
                unknown = [f for f in used if f not in known]
                self.assertEqual(unknown, [], f"the Deployment of {directory} passes flags that "
                                              f"`kubeai-scaler serve --help` does not list: {unknown}")


def main():
    global ARGS
    parser = argparse.ArgumentParser()
    parser.add_argument("--kubectl", default="kubectl")
    parser.add_argument("--scaler", required=True)
    parser.add_argument("--source-dir", required=True)
    ARGS, rest = parser.parse_known_args()
    unittest.main(argv=[sys.argv[0]] + rest, verbosity=2)


if __name__ == "__main__":
    main()
