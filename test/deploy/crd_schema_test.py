#!/usr/bin/python3
"""The CRD's schema and `kubeai-scaler validate` agree on the example policies.

  CrdShapeTest        the CRD: group, names (short names aiap, aipolicy),
                      status subresource, printer columns, a structural schema
                      (every node typed), the status fields of DESIGN §2
  ExamplePolicyTest   every policy of examples/policies passes the CRD's
                      openAPIV3Schema (python3-jsonschema), its CEL rules and
                      `kubeai-scaler validate`
  NegativeTest        broken policies, one row each, are refused by the schema
                      or by a CEL rule (whichever the row names) AND by
                      `kubeai-scaler validate`, which names the field
  StatusTest          a status as the server writes it passes the schema

The openAPIV3Schema is converted to a JSON Schema by keeping the keywords
jsonschema knows with the same meaning (type, properties, required, items,
enum, minimum, maximum, minLength, maxLength, maxItems, pattern, additionalProperties)
and dropping the rest (description, format, x-kubernetes-*). The CEL rules
(x-kubernetes-validations) cannot be run without an API server: each rule is
mirrored by a Python function below, keyed by the rule's exact text, and the
test fails when the CRD has a rule without its mirror, so that a changed rule
is changed here too.

  crd_schema_test.py --scaler PATH --source-dir REPO [--plugin-dir DIR] [unittest args]
"""

import argparse
import copy
import glob
import os
import subprocess
import sys
import tempfile
import unittest

sys.dont_write_bytecode = True

try:
    import jsonschema
    import yaml
except ImportError as e:  # pragma: no cover - a set-up problem, said plainly
    print(f"crd_schema_test: {e}: run scripts/install-deps (python3-jsonschema, python3-yaml)", file=sys.stderr)
    sys.exit(1)

ARGS = None
CRD = "deploy/crd/kubeai.io_aiinferenceautoscalerpolicies.yaml"
KEPT = {"type", "properties", "required", "items", "enum", "minimum", "maximum", "minLength", "maxLength",
        "maxItems", "pattern", "additionalProperties"}
DROPPED = {"description", "format", "x-kubernetes-validations", "x-kubernetes-list-type",
           "x-kubernetes-list-map-keys"}


def load_yaml_documents(path):
    with open(path, encoding="utf-8") as f:
        return [d for d in yaml.safe_load_all(f) if d is not None]


def crd():
    (doc,) = load_yaml_documents(os.path.join(ARGS.source_dir, CRD))
    return doc


def version_schema():
    (version,) = crd()["spec"]["versions"]
    return version["schema"]["openAPIV3Schema"]


def to_json_schema(node, path="openAPIV3Schema"):
    """The structural schema as a JSON Schema; an unknown keyword is an error, not ignored."""
    out = {}
    for key, value in node.items():
        if key in DROPPED:
            continue
        if key not in KEPT:
            raise ValueError(f"{path}: keyword {key!r} is not converted (add it to KEPT or DROPPED)")
        if key == "properties":
            out[key] = {name: to_json_schema(child, f"{path}.{name}") for name, child in value.items()}
        elif key in ("items", "additionalProperties") and isinstance(value, dict):
            out[key] = to_json_schema(value, f"{path}[]")
        else:
            out[key] = value
    # Unknown fields stay accepted, as Kubernetes prunes them (validate warns about them).
    return out


def cel_rules(node, path="", found=None):
    """Every x-kubernetes-validations rule as (path of the object it sits on, rule text)."""
    found = [] if found is None else found
    for rule in node.get("x-kubernetes-validations", []):
        found.append((path, " ".join(rule["rule"].split())))
    for name, child in node.get("properties", {}).items():
        cel_rules(child, f"{path}.{name}" if path else name, found)
    if isinstance(node.get("items"), dict):
        cel_rules(node["items"], f"{path}[]", found)
    return found


def enabled(block, default):
    return block is not None and block.get("enabled", default)


# The CRD's CEL rules in Python, keyed by (the object they sit on, the rule's text).
CEL_MIRRORS = {
    ("spec", "!has(self.minReplicas) || self.maxReplicas >= self.minReplicas"):
        lambda s: "minReplicas" not in s or s["maxReplicas"] >= s["minReplicas"],
    ("spec", "(has(self.metrics.latency) && (!has(self.metrics.latency.enabled) || self.metrics.latency.enabled)) "
             "|| (has(self.metrics.gpuUtilization) && (!has(self.metrics.gpuUtilization.enabled) "
             "|| self.metrics.gpuUtilization.enabled)) || (has(self.metrics.requestQueueDepth) "
             "&& has(self.metrics.requestQueueDepth.enabled) && self.metrics.requestQueueDepth.enabled)"):
        lambda s: (enabled(s["metrics"].get("latency"), True) or enabled(s["metrics"].get("gpuUtilization"), True)
                   or enabled(s["metrics"].get("requestQueueDepth"), False)),
    ("spec.metrics.latency", "(has(self.enabled) && !self.enabled) "
                             "|| (has(self.targetP99Ms) && self.targetP99Ms > 0.0) "
                             "|| (has(self.targetP95Ms) && self.targetP95Ms > 0.0)"):
        lambda l: (not l.get("enabled", True)) or l.get("targetP99Ms", 0) > 0 or l.get("targetP95Ms", 0) > 0,
    ("spec.metrics.gpuUtilization", "(has(self.enabled) && !self.enabled) || has(self.targetPercentage)"):
        lambda g: (not g.get("enabled", True)) or "targetPercentage" in g,
}


def at(obj, path):
    for part in path.split("."):
        if not isinstance(obj, dict) or part not in obj:
            return None
        obj = obj[part]
    return obj


def cel_failures(policy):
    """The CEL rules the object breaks, as their paths; assumes the schema passed."""
    failures = []
    for path, rule in cel_rules(version_schema()):
        value = at(policy, path)
        if value is not None and not CEL_MIRRORS[(path, rule)](value):
            failures.append(path)
    return failures


def schema_errors(obj):
    validator = jsonschema.Draft7Validator(to_json_schema(version_schema()))
    return [f"{'.'.join(str(p) for p in e.absolute_path)}: {e.message}" for e in validator.iter_errors(obj)]


def run_validate(path):
    command = [ARGS.scaler, "validate", path]
    if ARGS.plugin_dir:
        command[2:2] = ["--plugin-dir", ARGS.plugin_dir]
    done = subprocess.run(command, capture_output=True, text=True, timeout=30)
    return done.returncode, done.stdout + done.stderr


def example_policies():
    found = []
    for path in sorted(glob.glob(os.path.join(ARGS.source_dir, "examples/policies/*.yaml"))):
        for doc in load_yaml_documents(path):
            if doc.get("kind") == "AIInferenceAutoscalerPolicy":
                found.append((path, doc))
    return found


class CrdShapeTest(unittest.TestCase):
    def test_names_scope_subresources(self):
        c = crd()
        self.assertEqual(c["apiVersion"], "apiextensions.k8s.io/v1")
        self.assertEqual(c["metadata"]["name"], "aiinferenceautoscalerpolicies.kubeai.io")
        self.assertEqual(c["spec"]["group"], "kubeai.io")
        self.assertEqual(c["spec"]["scope"], "Namespaced")
        names = c["spec"]["names"]
        self.assertEqual(names["kind"], "AIInferenceAutoscalerPolicy")
        self.assertEqual(names["plural"], "aiinferenceautoscalerpolicies")
        self.assertEqual(set(names["shortNames"]), {"aiap", "aipolicy"})
        (version,) = c["spec"]["versions"]
        self.assertEqual(version["name"], "v1alpha1")
        self.assertTrue(version["served"] and version["storage"])
        self.assertEqual(version["subresources"], {"status": {}})

    def test_printer_columns(self):
        (version,) = crd()["spec"]["versions"]
        columns = {c["name"]: c["jsonPath"] for c in version["additionalPrinterColumns"]}
        self.assertEqual(list(columns), ["Target", "Min", "Max", "Current", "Desired", "Algorithm", "Age"])
        self.assertEqual(columns["Current"], ".status.currentReplicas")
        self.assertEqual(columns["Desired"], ".status.desiredReplicas")
        self.assertEqual(columns["Algorithm"], ".status.lastAlgorithm")
        self.assertEqual(columns["Age"], ".metadata.creationTimestamp")

    def test_schema_is_structural(self):
        # Every node has a type (apiextensions/v1 refuses a CRD whose schema does not).
        def walk(node, path):
            self.assertIn("type", node, f"{path} has no type")
            for name, child in node.get("properties", {}).items():
                walk(child, f"{path}.{name}")
            for key in ("items", "additionalProperties"):
                if isinstance(node.get(key), dict):
                    walk(node[key], f"{path}.{key}")
        walk(version_schema(), "openAPIV3Schema")
        to_json_schema(version_schema())  # every keyword is known

    def test_list_map_keys_are_required(self):
        # apiextensions refuses a map-type list whose keys may be missing (they have no defaults here).
        def walk(node, path):
            if node.get("x-kubernetes-list-type") == "map":
                for key in node["x-kubernetes-list-map-keys"]:
                    self.assertIn(key, node["items"].get("required", []), path)
            for name, child in node.get("properties", {}).items():
                walk(child, f"{path}.{name}")
            if isinstance(node.get("items"), dict):
                walk(node["items"], f"{path}[]")
        walk(version_schema(), "openAPIV3Schema")

    def test_spec_fields_and_bounds(self):
        spec = version_schema()["properties"]["spec"]
        self.assertEqual(set(spec["required"]), {"targetRef", "maxReplicas", "metrics"})
        p = spec["properties"]
        self.assertEqual(p["targetRef"]["properties"]["kind"]["enum"], ["Deployment", "StatefulSet"])
        # The same rule as core::isApiGroupVersion: group/version only, nothing else in the /scale path.
        api_version = jsonschema.Draft7Validator(to_json_schema(p["targetRef"]["properties"]["apiVersion"]))
        for ok in ("apps/v1", "v1", "apps/v1beta2", "example.com/v2alpha1"):
            self.assertTrue(api_version.is_valid(ok), ok)
        for bad in ("apps/v1/namespaces/x", "apps/v1#", "Apps/v1", "apps/../v1", "apps/v1gamma1", "apps/"):
            self.assertFalse(api_version.is_valid(bad), bad)
        self.assertEqual(p["minReplicas"]["minimum"], 0)
        self.assertEqual(p["maxReplicas"]["minimum"], 1)
        self.assertEqual(p["cooldownPeriod"]["minimum"], 0)
        gpu = p["metrics"]["properties"]["gpuUtilization"]["properties"]["targetPercentage"]
        self.assertEqual((gpu["minimum"], gpu["maximum"]), (1, 100))
        tolerance = p["algorithm"]["properties"]["tolerance"]
        self.assertEqual((tolerance["minimum"], tolerance["maximum"]), (0, 1))
        for rules in ("scaleUp", "scaleDown"):
            r = p[rules]["properties"]
            self.assertEqual(r["selectPolicy"]["enum"], ["Max", "Min", "Disabled"])
            self.assertEqual(r["policies"]["items"]["properties"]["type"]["enum"], ["Pods", "Percent"])
            # The HPA's bounds (MaxStabilizationWindowSeconds, MaxPeriodSeconds) and ours on the count.
            self.assertEqual(r["stabilizationWindowSeconds"]["maximum"], 3600)
            self.assertEqual(r["policies"]["items"]["properties"]["periodSeconds"]["maximum"], 1800)
            self.assertEqual(r["policies"]["maxItems"], 10)
        for metric in ("latency", "gpuUtilization", "requestQueueDepth"):
            field = p["metrics"]["properties"][metric]["properties"]["treatEmptyAsZero"]
            self.assertEqual(field["type"], "boolean", metric)

    def test_status_fields(self):
        status = version_schema()["properties"]["status"]["properties"]
        self.assertEqual(set(status), {"currentReplicas", "desiredReplicas", "lastScaleTime", "currentMetrics",
                                       "lastAlgorithm", "lastScaleReason", "decidedRatio", "observedGeneration",
                                       "conditions"})
        self.assertEqual(status["decidedRatio"]["type"], "number")
        self.assertEqual(set(status["currentMetrics"]["properties"]),
                         {"latencyP99Ms", "latencyP95Ms", "gpuUtilizationPercent", "requestQueueDepth"})
        conditions = status["conditions"]
        self.assertEqual(conditions["x-kubernetes-list-type"], "map")
        self.assertEqual(conditions["x-kubernetes-list-map-keys"], ["type"])
        self.assertEqual(set(conditions["items"]["required"]),
                         {"type", "status", "lastTransitionTime", "reason", "message"})

    def test_every_cel_rule_is_mirrored(self):
        rules = cel_rules(version_schema())
        self.assertTrue(rules)
        for key in rules:
            self.assertIn(key, CEL_MIRRORS, f"CEL rule without a Python mirror in this test: {key}")


class ExamplePolicyTest(unittest.TestCase):
    def test_examples_exist(self):
        self.assertGreaterEqual(len(example_policies()), 5)

    def test_schema_and_cel_accept_every_example(self):
        for path, policy in example_policies():
            with self.subTest(policy=os.path.basename(path)):
                self.assertEqual(schema_errors(policy), [])
                self.assertEqual(cel_failures(policy), [])

    def test_validate_accepts_every_example(self):
        for path, _ in example_policies():
            with self.subTest(policy=os.path.basename(path)):
                code, output = run_validate(path)
                self.assertEqual(code, 0, output)
                self.assertIn("ok", output)


BASE = yaml.safe_load("""
apiVersion: kubeai.io/v1alpha1
kind: AIInferenceAutoscalerPolicy
metadata: {name: negative, namespace: default}
spec:
  targetRef: {kind: Deployment, name: inference-server}
  minReplicas: 1
  maxReplicas: 4
  metrics:
    gpuUtilization: {targetPercentage: 70}
""")


def with_change(path, value):
    """BASE with spec.<path> set to value (None deletes it)."""
    policy = copy.deepcopy(BASE)
    *parents, last = path.split(".")
    node = policy["spec"]
    for part in parents:
        node = node.setdefault(part, {})
    if value is None:
        node.pop(last, None)
    else:
        node[last] = value
    return policy


# (what is wrong, the broken policy, refused by "schema" or "cel", what validate says)
NEGATIVES = [
    # The case the issue names: no replica at all is never a maximum.
    ("maxReplicas 0", with_change("maxReplicas", 0), "schema", "spec.maxReplicas: must be >= 1"),
    ("minReplicas negative", with_change("minReplicas", -1), "schema", "spec.minReplicas: must be >= 0"),
    # Between two fields: only CEL sees it.
    ("maxReplicas below minReplicas", with_change("minReplicas", 5), "cel",
     "spec.maxReplicas: must be >= minReplicas (5)"),
    ("maxReplicas missing", with_change("maxReplicas", None), "schema", "spec.maxReplicas"),
    ("targetRef kind Job", with_change("targetRef.kind", "Job"), "schema", "spec.targetRef.kind"),
    ("targetRef name not a DNS name", with_change("targetRef.name", "Inference_Server"), "schema",
     "spec.targetRef.name"),
    # The apiVersion is part of the /scale path: one carrying a path of its own would make the server
    # read (and report as this policy's replicas) another namespace's /scale.
    ("targetRef apiVersion with a path",
     with_change("targetRef.apiVersion", "apps/v1/namespaces/kube-system/deployments/coredns/scale#"), "schema",
     "spec.targetRef.apiVersion: must be an API group/version such as apps/v1"),
    ("targetRef apiVersion with a query", with_change("targetRef.apiVersion", "apps/v1?watch=1"), "schema",
     "spec.targetRef.apiVersion: must be an API group/version such as apps/v1"),
    ("GPU target over 100 %", with_change("metrics.gpuUtilization.targetPercentage", 101), "schema",
     "spec.metrics.gpuUtilization.targetPercentage: must be between 1 and 100"),
    ("GPU enabled without a target", with_change("metrics.gpuUtilization", {"enabled": True}), "cel",
     "spec.metrics.gpuUtilization.targetPercentage: required when gpuUtilization is enabled"),
    ("latency enabled without a target", with_change("metrics.latency", {"prometheusQuery": "x"}), "cel",
     "spec.metrics.latency: enabled latency metric needs targetP99Ms or targetP95Ms greater than 0"),
    ("no metric enabled", with_change("metrics.gpuUtilization.enabled", False), "cel",
     "spec.metrics: at least one metric must be enabled"),
    ("tolerance over 1", with_change("algorithm", {"tolerance": 1.5}), "schema",
     "spec.algorithm.tolerance: must be between 0 and 1"),
    ("negative weight", with_change("algorithm", {"weights": [1, -0.5]}), "schema",
     "spec.algorithm.weights[1]: must be a finite number >= 0"),
    ("rate policy of value 0",
     with_change("scaleUp", {"policies": [{"type": "Pods", "value": 0, "periodSeconds": 60}]}), "schema", "spec.scaleUp.policies[0].value: must be greater than 0"),
    ("negative cooldown", with_change("cooldownPeriod", -1), "schema", "spec.cooldownPeriod: must be >= 0"),
    # The HPA's own bounds: a window of an hour, a period of half an hour.
    ("window over an hour", with_change("scaleDown", {"stabilizationWindowSeconds": 3601}), "schema",
     "spec.scaleDown.stabilizationWindowSeconds: must be <= 3600"),
    ("period over half an hour",
     with_change("scaleDown", {"policies": [{"type": "Percent", "value": 50, "periodSeconds": 1801}]}), "schema",
     "spec.scaleDown.policies[0].periodSeconds: must be <= 1800"),
    ("eleven rate policies",
     with_change("scaleUp", {"policies": [{"type": "Pods", "value": 1, "periodSeconds": 60}] * 11}), "schema",
     "spec.scaleUp.policies: must have at most 10 entries, got 11"),
    ("treatEmptyAsZero not a boolean", with_change("metrics.gpuUtilization.treatEmptyAsZero", "yes please"),
     "schema", "spec.metrics.gpuUtilization.treatEmptyAsZero: must be true or false, got string"),
]


class NegativeTest(unittest.TestCase):
    def test_base_is_valid(self):
        self.assertEqual(schema_errors(BASE), [])
        self.assertEqual(cel_failures(BASE), [])
        with tempfile.NamedTemporaryFile("w", suffix=".yaml") as f:
            yaml.safe_dump(BASE, f)
            f.flush()
            code, output = run_validate(f.name)
        self.assertEqual(code, 0, output)

    def test_refused_by_the_crd_and_by_validate(self):
        for what, policy, by, message in NEGATIVES:
            with self.subTest(what):
                errors = schema_errors(policy)
                if by == "schema":
                    self.assertNotEqual(errors, [], "the CRD's schema accepts it")
                else:
                    self.assertEqual(errors, [], "a CEL case must pass the schema")
                    self.assertNotEqual(cel_failures(policy), [], "no CEL rule refuses it")
                with tempfile.NamedTemporaryFile("w", suffix=".yaml") as f:
                    yaml.safe_dump(policy, f)
                    f.flush()
                    code, output = run_validate(f.name)
                self.assertEqual(code, 2, output)
                self.assertIn(message, output)


class StatusTest(unittest.TestCase):
    def test_a_written_status_passes(self):
        policy = copy.deepcopy(BASE)
        policy["status"] = {
            "currentReplicas": 3, "desiredReplicas": 4, "lastScaleTime": "2026-11-28T00:00:00Z",
            "currentMetrics": {"latencyP99Ms": 412.5, "gpuUtilizationPercent": 84, "requestQueueDepth": 0},
            "lastAlgorithm": "MaxRatio", "lastScaleReason": "scaled based on max ratio", "decidedRatio": 1.21,
            "observedGeneration": 2,
            "conditions": [
                {"type": "Ready", "status": "True", "reason": "Evaluated", "message": "",
                 "lastTransitionTime": "2026-11-28T00:00:00Z", "observedGeneration": 2},
                {"type": "AlgorithmValid", "status": "False", "reason": "UnknownAlgorithm",
                 "message": "algorithm \"Foo\" not found; available: MaxRatio, AverageRatio, WeightedRatio",
                 "lastTransitionTime": "2026-11-28T00:00:00Z"},
            ],
        }
        self.assertEqual(schema_errors(policy), [])

    def test_a_bad_condition_fails(self):
        policy = copy.deepcopy(BASE)
        policy["status"] = {"conditions": [{"type": "Ready", "status": "Maybe", "reason": "x y",
                                            "message": "", "lastTransitionTime": "2026-11-28T00:00:00Z"}]}
        self.assertEqual(len(schema_errors(policy)), 2)  # status enum, reason pattern

    def test_a_ratio_that_is_not_a_number_fails(self):
        policy = copy.deepcopy(BASE)
        policy["status"] = {"decidedRatio": "1.21"}
        self.assertEqual(len(schema_errors(policy)), 1)


def main():
    global ARGS
    parser = argparse.ArgumentParser()
    parser.add_argument("--scaler", required=True)
    parser.add_argument("--source-dir", required=True)
    parser.add_argument("--plugin-dir", help="plugins to check algorithm names against (CappedSmoothRatio)")
    ARGS, rest = parser.parse_known_args()
    unittest.main(argv=[sys.argv[0]] + rest, verbosity=2)


if __name__ == "__main__":
    main()
