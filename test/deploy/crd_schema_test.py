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
enum, minimum, maximum, minLength, maxLength, maxItems, pattern, additionalProperties),
turning OpenAPI 3.0's boolean exclusiveMinimum into JSON Schema's number, and
dropping the rest (description, format, x-kubernetes-*). A list of
x-kubernetes-list-type: map refuses two items with the same keys, as the API
server does. The CEL rules
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
import re
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
        "maxItems", "pattern", "additionalProperties", "exclusiveMinimum"}
DROPPED = {"description", "format", "nullable", "x-kubernetes-validations", "x-kubernetes-list-type",
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
        elif key == "exclusiveMinimum":
            # OpenAPI 3.0 (the CRD's): a boolean on minimum; JSON Schema draft 7: the bound itself.
            if value is not True or "minimum" not in node:
                raise ValueError(f"{path}: exclusiveMinimum must be true beside a minimum")
        else:
            out[key] = value
    if node.get("exclusiveMinimum") is True:
        out["exclusiveMinimum"] = out.pop("minimum")
    if node.get("nullable") is True:
        # OpenAPI 3.0's nullable (status.metrics[].value): JSON Schema says it in the type.
        out["type"] = [out["type"], "null"]
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


def source_code(path):
    with open(os.path.join(ARGS.source_dir, path), encoding="utf-8") as f:
        return f.read()


def cpp_strings(code, declaration):
    """The string literals of the C++ array `declaration` (kReservedNames) up to its closing brace."""
    start = code.index(declaration)
    return re.findall(r'"([^"]*)"', code[start:code.index("};", start)])


def reserved_names():
    """The names a custom metric may not take: core's kReservedNames (custom_metric_validation.cc)."""
    return cpp_strings(source_code("scaler/core/custom_metric_validation.cc"), "kReservedNames")


def known_engines():
    """core::knownEngines(), in its order (engine_presets.cc's kEngines)."""
    return cpp_strings(source_code("scaler/core/engine_presets.cc"), "kEngines{")


def engine_signals():
    """core::enginePresets() as {engine: [signal, ...]}, in the table's order."""
    signals = {engine: [] for engine in known_engines()}
    for engine, signal in re.findall(r'EnginePreset\{"([^"]+)", "([^"]+)"', source_code("scaler/core/engine_presets.cc")):
        signals[engine].append(signal)
    return signals


def signal_rule():
    """The CRD's rule on engine x signal, as it must read for the code's table."""
    table = ", ".join("'%s': [%s]" % (engine, ", ".join("'%s'" % s for s in signals))
                      for engine, signals in engine_signals().items())
    return "!has(self.engine) || !has(self.signal) || self.signal in { " + table + " }[self.engine]"


RESERVED_RULE = ("!(self.name in [" + ", ".join("'%s'" % n for n in (
    "latency", "latencyP99", "latencyP95", "gpuUtilization", "requestQueueDepth", "latencyP99Ms", "latencyP95Ms",
    "gpuUtilizationPercent", "currentReplicas", "readyReplicas", "engine", "custom")) + "])")


# The CRD's CEL rules in Python, keyed by (the object they sit on, the rule's text).
CEL_MIRRORS = {
    ("spec", "!has(self.minReplicas) || self.maxReplicas >= self.minReplicas"):
        lambda s: "minReplicas" not in s or s["maxReplicas"] >= s["minReplicas"],
    ("spec", "(has(self.metrics.latency) && (!has(self.metrics.latency.enabled) || self.metrics.latency.enabled)) "
             "|| (has(self.metrics.gpuUtilization) && (!has(self.metrics.gpuUtilization.enabled) "
             "|| self.metrics.gpuUtilization.enabled)) || (has(self.metrics.requestQueueDepth) "
             "&& has(self.metrics.requestQueueDepth.enabled) && self.metrics.requestQueueDepth.enabled) "
             "|| (has(self.metrics.custom) && size(self.metrics.custom) > 0)"):
        lambda s: (enabled(s["metrics"].get("latency"), True) or enabled(s["metrics"].get("gpuUtilization"), True)
                   or enabled(s["metrics"].get("requestQueueDepth"), False) or len(s["metrics"].get("custom", [])) > 0),
    ("spec.metrics.latency", "(has(self.enabled) && !self.enabled) "
                             "|| (has(self.targetP99Ms) && self.targetP99Ms > 0.0) "
                             "|| (has(self.targetP95Ms) && self.targetP95Ms > 0.0)"):
        lambda l: (not l.get("enabled", True)) or l.get("targetP99Ms", 0) > 0 or l.get("targetP95Ms", 0) > 0,
    ("spec.metrics.gpuUtilization", "(has(self.enabled) && !self.enabled) || has(self.targetPercentage)"):
        lambda g: (not g.get("enabled", True)) or "targetPercentage" in g,
    ("spec.metrics.custom", "self.all(m, self.exists_one(o, o.name == m.name))"):
        lambda c: all(sum(1 for o in c if o.get("name") == m.get("name")) == 1 for m in c),
    ("spec.metrics.custom[]", RESERVED_RULE):
        lambda m: m["name"] not in reserved_names(),
    ("spec.metrics.custom[]", "has(self.prometheusQuery) ? !has(self.engine) && !has(self.signal) "
                              ": has(self.engine) && has(self.signal)"):
        lambda m: (not ("engine" in m or "signal" in m)) if "prometheusQuery" in m else ("engine" in m and "signal" in m),
}


def mirrors():
    """CEL_MIRRORS and the rule that holds the engine x signal table, which is generated from the code."""
    generated = {("spec.metrics.custom[]", signal_rule()):
                 lambda m: "engine" not in m or "signal" not in m or m["signal"] in engine_signals()[m["engine"]]}
    return {**CEL_MIRRORS, **generated}


def at(obj, path):
    """The values at a cel_rules() path: one, or one per item below a "[]" (a list's items)."""
    values = [obj]
    for part in path.split("."):
        name, items = (part[:-2], True) if part.endswith("[]") else (part, False)
        values = [v[name] for v in values if isinstance(v, dict) and name in v]
        if items:
            values = [item for v in values if isinstance(v, list) for item in v]
    return values


def cel_failures(policy):
    """The CEL rules the object breaks, as their paths; assumes the schema passed."""
    failures = []
    for path, rule in cel_rules(version_schema()):
        if any(not mirrors()[(path, rule)](value) for value in at(policy, path)):
            failures.append(path)
    return failures


def list_map_errors(node, obj, path="", found=None):
    """Two items of an x-kubernetes-list-type: map list with the same keys (the API server's "Duplicate value")."""
    found = [] if found is None else found
    if isinstance(obj, list) and isinstance(node.get("items"), dict):
        if node.get("x-kubernetes-list-type") == "map":
            keys = [tuple(item.get(k) for k in node["x-kubernetes-list-map-keys"]) for item in obj
                    if isinstance(item, dict)]
            found += [f"{path}: duplicate value {key}" for key in sorted(set(k for k in keys if keys.count(k) > 1))]
        for i, item in enumerate(obj):
            list_map_errors(node["items"], item, f"{path}[{i}]", found)
    elif isinstance(obj, dict):
        for name, child in node.get("properties", {}).items():
            if name in obj:
                list_map_errors(child, obj[name], f"{path}.{name}" if path else name, found)
    return found


def schema_errors(obj):
    validator = jsonschema.Draft7Validator(to_json_schema(version_schema()))
    errors = [f"{'.'.join(str(p) for p in e.absolute_path)}: {e.message}" for e in validator.iter_errors(obj)]
    return errors + list_map_errors(version_schema(), obj)


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

    def test_named_metrics_fields_and_bounds(self):
        # spec.metrics.engine and spec.metrics.custom[] against the code they mirror.
        metrics = version_schema()["properties"]["spec"]["properties"]["metrics"]["properties"]
        self.assertEqual(metrics["engine"]["enum"], known_engines())
        custom = metrics["custom"]
        max_custom = re.search(r"kMaxCustomMetrics = (\d+);", source_code("scaler/core/metric_slot.h"))
        self.assertEqual(custom["maxItems"], int(max_custom.group(1)))
        self.assertEqual((custom["x-kubernetes-list-type"], custom["x-kubernetes-list-map-keys"]), ("map", ["name"]))
        item = custom["items"]
        self.assertEqual(set(item["required"]), {"name", "target"})
        self.assertEqual(set(item["properties"]),
                         {"name", "prometheusQuery", "engine", "signal", "target", "weight", "treatEmptyAsZero"})
        name = item["properties"]["name"]
        self.assertEqual((name["pattern"], name["maxLength"]), ("^[a-z][a-zA-Z0-9]*$", 63))
        self.assertEqual(item["properties"]["engine"]["enum"], known_engines())
        target = item["properties"]["target"]
        self.assertEqual(set(target["required"]), {"type", "value"})
        self.assertEqual(target["properties"]["type"]["enum"], ["Value", "AverageValue"])
        value = target["properties"]["value"]
        self.assertEqual((value["minimum"], value["exclusiveMinimum"]), (0, True))
        self.assertEqual(item["properties"]["weight"]["minimum"], 0)
        self.assertEqual(item["properties"]["treatEmptyAsZero"]["type"], "boolean")
        # The names the CEL rule refuses are core's reserved names, all of them.
        (reserved,) = [r for p, r in cel_rules(version_schema()) if p == "spec.metrics.custom[]" and " in [" in r]
        self.assertEqual(re.findall(r"'([^']*)'", reserved), reserved_names())
        self.assertIn("gpuUtilization", reserved_names())  # the parse found the array
        self.assertIn(("spec.metrics.custom[]", signal_rule()), cel_rules(version_schema()),
                      "the engine x signal rule is not the table of scaler/core/engine_presets.cc")

    def test_cel_mirrors_of_named_metrics(self):
        # What the rules mean, on values the schema lets through (the NegativeTest rows need whole policies).
        unique = CEL_MIRRORS[("spec.metrics.custom", "self.all(m, self.exists_one(o, o.name == m.name))")]
        self.assertTrue(unique([{"name": "a"}, {"name": "b"}]))
        self.assertFalse(unique([{"name": "a"}, {"name": "b"}, {"name": "a"}]))
        signal = mirrors()[("spec.metrics.custom[]", signal_rule())]
        self.assertTrue(signal({"engine": "triton", "signal": "queueTimeMean"}))
        self.assertFalse(signal({"engine": "vllm", "signal": "queueTimeMean"}))
        self.assertTrue(signal({"prometheusQuery": "x"}))

    def test_status_fields(self):
        status = version_schema()["properties"]["status"]["properties"]
        self.assertEqual(set(status), {"currentReplicas", "desiredReplicas", "lastScaleTime", "currentMetrics",
                                       "metrics", "lastAlgorithm", "lastScaleReason", "decidedRatio",
                                       "observedGeneration", "conditions", "readyReplicas", "startupSeconds",
                                       "forecast", "panic", "shard"})
        # What Predictive and Burst saw (policy_status_json.cc writes these names).
        self.assertEqual(set(status["forecast"]["properties"]),
                         {"metric", "horizonSeconds", "horizonSource", "demandReplicas", "forecastReplicas",
                          "trendPerMinute", "reactiveReplicas", "forecastDesiredReplicas", "decided", "models"})
        self.assertEqual(status["forecast"]["properties"]["horizonSource"]["enum"], ["parameter", "measured", "default"])
        models = status["forecast"]["properties"]["models"]
        self.assertEqual((models["maxItems"], models["x-kubernetes-list-map-keys"]), (20, ["metric"]))
        self.assertEqual(set(models["items"]["properties"]),
                         {"metric", "level", "trendPerSecond", "observedAt", "observations"})
        self.assertEqual(set(status["panic"]["properties"]),
                         {"panicking", "since", "lastOverThreshold", "stableReplicas", "panicReplicas", "panicRatio",
                          "panicThreshold", "saturated", "maxPanicReplicas"})
        self.assertEqual(status["decidedRatio"]["type"], "number")
        self.assertEqual(set(status["currentMetrics"]["properties"]),
                         {"latencyP99Ms", "latencyP95Ms", "gpuUtilizationPercent", "requestQueueDepth"})
        # Every metric by name: at most core::kMaxMetricSlots (4 seed + 16 custom), keyed by name.
        metrics = status["metrics"]
        self.assertEqual((metrics["type"], metrics["maxItems"]), ("array", 20))
        self.assertEqual((metrics["x-kubernetes-list-type"], metrics["x-kubernetes-list-map-keys"]), ("map", ["name"]))
        item = metrics["items"]
        self.assertEqual(set(item["properties"]), {"name", "value", "target", "targetType", "unit", "ratio"})
        self.assertEqual(set(item["required"]), {"name", "target", "targetType"})
        self.assertTrue(item["properties"]["value"]["nullable"] and item["properties"]["ratio"]["nullable"])
        conditions = status["conditions"]
        self.assertEqual(conditions["x-kubernetes-list-type"], "map")
        self.assertEqual(conditions["x-kubernetes-list-map-keys"], ["type"])
        self.assertEqual(set(conditions["items"]["required"]),
                         {"type", "status", "lastTransitionTime", "reason", "message"})

    def test_every_cel_rule_is_mirrored(self):
        rules = cel_rules(version_schema())
        self.assertTrue(rules)
        for key in rules:
            self.assertIn(key, mirrors(), f"CEL rule without a Python mirror in this test: {key}")
        for key in mirrors():
            self.assertIn(key, rules, f"a Python mirror of no CEL rule of the CRD (a rule changed?): {key}")


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


# Named metrics, as a row changes them.
KV = {"name": "kvCache", "engine": "vllm", "signal": "kvCacheUtilization", "target": {"type": "Value", "value": 80}}
WAITING = {"name": "waiting", "engine": "vllm", "signal": "requestsWaiting",
           "target": {"type": "AverageValue", "value": 5}}


def custom(*metrics):
    """BASE with spec.metrics.custom set to these (copied: rows share KV and WAITING)."""
    return with_change("metrics.custom", copy.deepcopy(list(metrics)))


def with_metrics(metrics):
    return with_change("metrics", metrics)


def without(metric, field):
    return {k: v for k, v in metric.items() if k != field}


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
    # Named metrics (spec.metrics.custom[], spec.metrics.engine).
    ("unknown spec.metrics.engine", with_change("metrics.engine", "vlm"), "schema",
     'spec.metrics.engine: unknown engine "vlm" (known: vllm, sglang, trtllm, triton, tgi, dcgm, llm-d)'),
    ("a custom name twice", custom(KV, dict(WAITING, name="kvCache")), "schema",
     'spec.metrics.custom[1].name: duplicate name "kvCache" (names are unique)'),
    ("a custom name of the seed's", custom(dict(KV, name="latencyP99")), "cel",
     "spec.metrics.custom[0].name: must not be one of the seed's metric names (latency, latencyP99,"),
    ("a custom name not camelCase", custom(dict(KV, name="kv_cache")), "schema",
     'spec.metrics.custom[0].name: must be a camelCase identifier (a-z first, then letters and digits, at most 63 '
     'characters), got "kv_cache"'),
    ("a custom name of 64 characters", custom(dict(KV, name="k" * 64)), "schema",
     "spec.metrics.custom[0].name: must be a camelCase identifier"),
    ("an unknown engine", custom(dict(KV, engine="vlm")), "schema",
     'spec.metrics.custom[0].engine: unknown engine "vlm" (known: vllm, sglang, trtllm, triton, tgi, dcgm, llm-d)'),
    # TGI has no KV-cache gauge: validate says what it has instead.
    ("a signal the engine lacks", custom(dict(KV, engine="tgi")), "cel",
     'spec.metrics.custom[0].signal: engine tgi has no signal "kvCacheUtilization"; it offers requestsWaiting, '
     "requestsRunning, interTokenLatencyP95, interTokenLatencyP99, e2eLatencyP95, e2eLatencyP99, queueTimeP95, "
     "queueTimeP99"),
    ("both a query and a preset", custom(dict(KV, prometheusQuery="sum(up)")), "cel",
     "spec.metrics.custom[0]: set either prometheusQuery or engine + signal, not both"),
    ("neither a query nor a preset", custom({"name": "kvCache", "target": {"type": "Value", "value": 80}}), "cel",
     "spec.metrics.custom[0]: needs prometheusQuery, or engine + signal (a preset, docs/metrics.md)"),
    ("an engine without its signal", custom(without(KV, "signal")), "cel",
     "spec.metrics.custom[0].signal: required with engine; vllm offers kvCacheUtilization, requestsWaiting,"),
    ("a signal without its engine", custom(without(KV, "engine")), "cel",
     "spec.metrics.custom[0].engine: required with signal (known: vllm,"),
    ("a custom metric without a target", custom(without(KV, "target")), "schema",
     "spec.metrics.custom[0].target: required: {type: Value | AverageValue, value: N}"),
    ("a target without a value", custom(dict(KV, target={"type": "Value"})), "schema",
     "spec.metrics.custom[0].target.value: required: a number greater than 0"),
    ("a target of 0", custom(dict(KV, target={"type": "Value", "value": 0})), "schema",
     "spec.metrics.custom[0].target.value: must be a number greater than 0"),
    ("a target type of the HPA's we do not take", custom(dict(KV, target={"type": "Utilization", "value": 80})),
     "schema", 'spec.metrics.custom[0].target.type: must be Value or AverageValue, got "Utilization"'),
    ("a negative weight", custom(dict(WAITING, weight=-1)), "schema",
     "spec.metrics.custom[0].weight: must be a finite number >= 0"),
    ("a custom treatEmptyAsZero not a boolean", custom(dict(WAITING, treatEmptyAsZero="yes please")), "schema",
     "spec.metrics.custom[0].treatEmptyAsZero: must be true or false, got string"),
    ("seventeen custom metrics", custom(*[dict(WAITING, name=f"waiting{i}") for i in range(17)]), "schema",
     "spec.metrics.custom: must have at most 16 entries, got 17"),
    # Custom metrics count as enabled metrics, and only when there is one.
    ("no metric enabled, an empty custom list", with_metrics({"gpuUtilization": {"enabled": False}, "custom": []}),
     "cel", "spec.metrics: at least one metric must be enabled"),
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
            "metrics": [
                {"name": "latencyP99", "value": 412.5, "target": 500, "targetType": "Value", "unit": "ms",
                 "ratio": 0.83},
                {"name": "kvCache", "value": None, "target": 80, "targetType": "Value", "unit": "percent",
                 "ratio": None},  # no data
                {"name": "ttft", "value": 121.07, "target": 100, "targetType": "Value", "ratio": 1.21},
            ],
            "lastAlgorithm": "MaxRatio", "lastScaleReason": "scaled based on max ratio", "decidedRatio": 1.21,
            "observedGeneration": 2, "shard": "shard-a",
            "conditions": [
                {"type": "Ready", "status": "True", "reason": "Evaluated", "message": "",
                 "lastTransitionTime": "2026-11-28T00:00:00Z", "observedGeneration": 2},
                {"type": "AlgorithmValid", "status": "False", "reason": "UnknownAlgorithm",
                 "message": "algorithm \"Foo\" not found; available: MaxRatio, AverageRatio, WeightedRatio",
                 "lastTransitionTime": "2026-11-28T00:00:00Z"},
            ],
        }
        self.assertEqual(schema_errors(policy), [])

    def test_a_forecast_and_a_panic_pass(self):
        # As status_seed_test's round trip writes them.
        policy = copy.deepcopy(BASE)
        policy["status"] = {
            "desiredReplicas": 7, "readyReplicas": 3, "startupSeconds": 95.25, "observedGeneration": 2,
            "forecast": {"metric": "waiting", "horizonSeconds": 95.25, "horizonSource": "measured",
                         "demandReplicas": 4.46, "forecastReplicas": 6.33, "trendPerMinute": 1.2,
                         "reactiveReplicas": 5, "forecastDesiredReplicas": 7, "decided": True,
                         "models": [{"metric": "gpuUtilization", "level": 0.42857142857142855,
                                     "trendPerSecond": -0.0003333333333333333,
                                     "observedAt": "2026-11-28T08:59:45Z", "observations": 11},
                                    {"metric": "waiting", "level": 4.456712345678901,
                                     "trendPerSecond": 0.03333333333333333,
                                     "observedAt": "2026-11-28T09:00:00Z", "observations": 12}]},
            "panic": {"panicking": True, "since": "2026-11-28T08:59:22Z", "lastOverThreshold": "2026-11-28T08:59:58Z",
                      "stableReplicas": 5.1, "panicReplicas": 9.9, "panicRatio": 3.3, "panicThreshold": 2.0,
                      "saturated": False, "maxPanicReplicas": 10},
        }
        self.assertEqual(schema_errors(policy), [])

    def test_a_bad_forecast_or_panic_fails(self):
        model = {"metric": "waiting", "level": 4.5, "trendPerSecond": 0.02, "observedAt": "2026-11-28T09:00:00Z",
                 "observations": 12}
        for what, status in (
                ("an unknown horizon source", {"forecast": {"horizonSource": "guessed"}}),
                ("a model without a level", {"forecast": {"models": [{k: v for k, v in model.items() if k != "level"}]}}),
                ("a model with no observation", {"forecast": {"models": [dict(model, observations=0)]}}),
                ("more models than the 20 slots",
                 {"forecast": {"models": [dict(model, metric="m%d" % i) for i in range(21)]}}),
                ("a panic flag that is not a boolean", {"panic": {"panicking": "yes"}}),
                ("ready replicas that are not an integer", {"readyReplicas": 2.5})):
            with self.subTest(what):
                policy = copy.deepcopy(BASE)
                policy["status"] = status
                self.assertEqual(len(schema_errors(policy)), 1, schema_errors(policy))

    def test_a_bad_condition_fails(self):
        policy = copy.deepcopy(BASE)
        policy["status"] = {"conditions": [{"type": "Ready", "status": "Maybe", "reason": "x y",
                                            "message": "", "lastTransitionTime": "2026-11-28T00:00:00Z"}]}
        self.assertEqual(len(schema_errors(policy)), 2)  # status enum, reason pattern

    def test_bad_metric_lists_fail(self):
        metric = {"name": "kvCache", "value": 60, "target": 80, "targetType": "Value", "ratio": 0.75}
        for what, metrics in (
                ("no name", [{k: v for k, v in metric.items() if k != "name"}]),
                ("a value that is not a number", [dict(metric, value="60")]),
                ("more than the 20 slots", [dict(metric, name="m%d" % i) for i in range(21)])):
            with self.subTest(what):
                policy = copy.deepcopy(BASE)
                policy["status"] = {"metrics": metrics}
                self.assertEqual(len(schema_errors(policy)), 1, schema_errors(policy))

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
