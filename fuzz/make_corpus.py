#!/usr/bin/python3
"""Writes the seed corpora of fuzz/corpus/ from the examples and the shapes the
tests use. Run again after changing the examples; the files are small and
committed (scripts/fuzz copies them to a scratch directory before a run)."""
import json
import os
import struct
import sys

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CORPUS = os.path.join(ROOT, "fuzz", "corpus")


def write(target, name, data):
    directory = os.path.join(CORPUS, target)
    os.makedirs(directory, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(directory, name), "wb") as out:
        out.write(data)


def examples():
    directory = os.path.join(ROOT, "examples", "policies")
    for name in sorted(os.listdir(directory)):
        with open(os.path.join(directory, name)) as source:
            yield name, source.read()


def compact(value):
    return json.dumps(value, separators=(",", ":"))


policies = []
for name, text in examples():
    write("policy_yaml", name, text)
    for document in yaml.safe_load_all(text):
        if document:
            policies.append(document)
            write("policy_json", name.replace(".yaml", ".json"), json.dumps(document, indent=2))
write("policy_yaml", "list.yaml", yaml.safe_dump({"apiVersion": "v1", "kind": "List", "items": policies[:2]}))
write("policy_yaml", "multi.yaml", "---\n".join(yaml.safe_dump(p) for p in policies[:3]) + "---\nkind: ConfigMap\n")
write("policy_yaml", "anchors.yaml", """apiVersion: kubeai.io/v1alpha1
kind: AIInferenceAutoscalerPolicy
metadata: {name: a, namespace: default}
spec:
  targetRef: &t {kind: Deployment, name: web}
  minReplicas: 0x10
  maxReplicas: !!int "20"
  algorithm: {name: MaxRatio, tolerance: .inf}
  metrics:
    latency: {targetP99Ms: 1e3, enabled: yes}
    requestQueueDepth: {targetPerReplica: ~, prometheusQuery: 'sum(q{pod=~"${target}-.*"})'}
  scaleUp: {stabilizationWindowSeconds: 0, policies: [{type: Percent, value: 100, periodSeconds: 15}]}
""")
write("policy_json", "minimal.json", compact({"apiVersion": "kubeai.io/v1alpha1", "kind": "AIInferenceAutoscalerPolicy",
                                              "metadata": {"name": "x", "generation": 3, "uid": "u"},
                                              "spec": {"targetRef": {"kind": "StatefulSet", "name": "s"},
                                                       "maxReplicas": 3, "metrics": {"gpuUtilization": {"targetPercentage": 70}}}}))

with open(os.path.join(ROOT, "examples", "metrics.yaml")) as source:
    write("metrics_file", "metrics.yaml", source.read())
write("metrics_file", "flow.yaml", "{default/a: {currentReplicas: 2, latencyP99Ms: .nan, requestQueueDepth: 1e2}, ns/b: ~}\n")
write("metrics_file", "empty.yaml", "")

status = bytes([0])  # the first byte picks the HTTP status: 0 is 200
answers = {
    "vector": {"status": "success", "data": {"resultType": "vector",
                                             "result": [{"metric": {"pod": "llama-7c9f-abcde"}, "value": [1764633600.5, "0.25"]}]}},
    "empty": {"status": "success", "data": {"resultType": "vector", "result": []}},
    "scalar": {"status": "success", "data": {"resultType": "scalar", "result": [1764633600, "+Inf"]}},
    "two": {"status": "success", "data": {"resultType": "vector", "result": [
        {"metric": {"a": "1"}, "value": [1, "NaN"]}, {"metric": {"a": "2"}, "value": [1, "1e3"]}]}},
    "matrix": {"status": "success", "data": {"resultType": "matrix", "result": [{"metric": {}, "values": [[1, "1"]]}]}},
    "histogram": {"status": "success", "data": {"resultType": "vector", "result": [{"metric": {}, "histogram": [1, {"count": "2"}]}]}},
    "warnings": {"status": "success", "warnings": ["PromQL info: metric might not be a counter"],
                 "data": {"resultType": "vector", "result": [{"metric": {}, "value": [1, "-0"]}]}},
    "error": {"status": "error", "errorType": "bad_data", "error": "1:5: parse error: unexpected <EOF>"},
}
for name, answer in answers.items():
    write("prometheus_query", name, status + compact(answer).encode())
write("prometheus_query", "proxy401", bytes([6]) + b"401 Unauthorized\r\n<html>nope</html>")

for i, text in enumerate(["15s", "500ms", "1m30s", "1.5h", "0s", "2m0.5s"]):
    write("duration", f"d{i}", text)

for i, text in enumerate(["2026-11-28T01:00:00Z", "2026-11-28T01:00:00.123456Z", "2026-11-28T01:00:00.5+02:00",
                          "9999-12-31T23:59:59Z", "1677-01-01T00:00:00-23:59"]):
    write("kube_time", f"t{i}", text)

credential = {"apiVersion": "client.authentication.k8s.io/v1", "kind": "ExecCredential",
              "status": {"token": "abc", "expirationTimestamp": "2026-11-28T01:00:00Z"}}
write("exec_credential", "v1", bytes([0]) + compact(credential).encode())
credential["apiVersion"] = "client.authentication.k8s.io/v1beta1"
credential["status"] = {"clientCertificateData": "-----BEGIN CERTIFICATE-----", "clientKeyData": "-----BEGIN KEY-----"}
write("exec_credential", "v1beta1-cert", bytes([1]) + compact(credential).encode())

write("kubeconfig", "token.yaml", """apiVersion: v1
kind: Config
current-context: kind-kind
contexts:
- name: kind-kind
  context: {cluster: kind, user: admin, namespace: prod}
clusters:
- name: kind
  cluster:
    server: https://127.0.0.1:6443
    certificate-authority-data: LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0t
    tls-server-name: kubernetes.default
users:
- name: admin
  user: {token: s3cr3t}
""")
write("kubeconfig", "files.yaml", """apiVersion: v1
kind: Config
current-context: c
contexts: [{name: c, context: {cluster: k, user: u}}]
clusters: [{name: k, cluster: {server: "https://[fd00::1]:443/prefix", certificate-authority: ca.crt}}]
users: [{name: u, user: {client-certificate: client.crt, client-key: client.key, tokenFile: token}}]
""")
write("kubeconfig", "exec.yaml", """apiVersion: v1
kind: Config
current-context: c
contexts: [{name: c, context: {cluster: k, user: u}}]
clusters: [{name: k, cluster: {server: "http://localhost:8080", insecure-skip-tls-verify: true}}]
users:
- name: u
  user:
    exec:
      apiVersion: client.authentication.k8s.io/v1beta1
      command: ./bin/get-token
      args: ["--region", "eu"]
      env: [{name: PROFILE, value: prod}]
      installHint: install get-token
      interactiveMode: Never
""")

statuses = {
    "gone": (0, {"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": 410, "reason": "Expired",
                 "message": "too old resource version: 1 (2)"}),
    "throttled": (7, {"kind": "Status", "code": 429, "reason": "TooManyRequests", "details": {"retryAfterSeconds": 2}}),
    "forbidden": (2, {"kind": "Status", "code": 403, "message": "forbidden: User \"system:anonymous\""}),
}
for name, (byte, body) in statuses.items():
    write("kube_status", name, bytes([byte]) + compact(body).encode())
write("kube_status", "html", bytes([9]) + b"<html><body>502 Bad Gateway</body></html>")

policy_status = {"currentReplicas": 3, "desiredReplicas": 4, "lastScaleTime": "2026-11-28T00:00:00Z",
                 "currentMetrics": {"latencyP99Ms": 420.5, "latencyP95Ms": None, "gpuUtilizationPercent": 81.25,
                                    "requestQueueDepth": 12},
                 "metrics": [{"name": "latencyP99", "value": 420.5, "target": 500, "targetType": "Value", "unit": "ms",
                              "ratio": 0.84},
                             {"name": "kvCache", "value": None, "target": 80, "targetType": "Value",
                              "unit": "percent", "ratio": None},
                             {"name": "ttft", "value": 865.0, "target": 500, "targetType": "Value", "ratio": 1.73}],
                 "lastAlgorithm": "MaxRatio", "lastScaleReason": "scale up: latency", "decidedRatio": 1.73,
                 "observedGeneration": 4,
                 "conditions": [{"type": "Ready", "status": "True", "reason": "Evaluated", "message": "",
                                 "lastTransitionTime": "2026-11-28T00:00:00Z", "observedGeneration": 4}]}
write("policy_status", "written", struct.pack("<q", 4) + compact(policy_status).encode())
write("policy_status", "empty", struct.pack("<q", 1) + b"{}")
# What Predictive and Burst keep for a restart (issue 14): forecast.models and a panic.
write("policy_status", "explained", struct.pack("<q", 4) + compact(dict(
    policy_status, readyReplicas=2, startupSeconds=95.25,
    forecast={"metric": "latencyP99", "horizonSeconds": 95.25, "horizonSource": "measured",
              "demandReplicas": 3.36, "forecastReplicas": 5.1, "trendPerMinute": 1.1, "reactiveReplicas": 4,
              "forecastDesiredReplicas": 6, "decided": True,
              "models": [{"metric": "latencyP99", "level": 3.3612, "trendPerSecond": 0.018333333333333333,
                          "observedAt": "2026-11-28T00:00:00Z", "observations": 12}]},
    panic={"panicking": True, "since": "2026-11-27T23:59:30Z", "lastOverThreshold": "2026-11-28T00:00:00Z",
           "stableReplicas": 3.1, "panicReplicas": 8.4, "panicRatio": 2.8, "panicThreshold": 2.0,
           "saturated": False, "maxPanicReplicas": 9})).encode())

for name, body in {"replicas": {"kind": "Scale", "apiVersion": "autoscaling/v1", "metadata": {"name": "web"},
                                "spec": {"replicas": 10}, "status": {"replicas": 13, "selector": "app=web"}},
                   "zero": {"kind": "Scale", "spec": {}, "status": {"replicas": 0}}}.items():
    write("kube_scale", name, compact(body))

items = []
for i, policy in enumerate(policies):
    item = dict(policy)
    item["metadata"] = dict(item["metadata"], resourceVersion=str(100 + i), generation=1 + i, uid=f"uid-{i}")
    if i == 0:
        item["status"] = policy_status
        del item["apiVersion"]
    items.append(item)
write("kube_list", "page", compact({"kind": "AIInferenceAutoscalerPolicyList", "apiVersion": "kubeai.io/v1alpha1",
                                    "metadata": {"resourceVersion": "123", "continue": "eyJ2IjoibWV0YS5rOHMuaW8vdjEifQ=="},
                                    "items": items}))
write("kube_list", "empty", compact({"kind": "AIInferenceAutoscalerPolicyList", "metadata": {"resourceVersion": "1"}, "items": None}))

lines = [
    {"type": "ADDED", "object": items[0]},
    {"type": "MODIFIED", "object": items[1] if len(items) > 1 else items[0]},
    {"type": "DELETED", "object": {"metadata": {"name": "gone", "namespace": "default", "resourceVersion": "130"}}},
    {"type": "BOOKMARK", "object": {"kind": "AIInferenceAutoscalerPolicy", "metadata": {"resourceVersion": "131"}}},
    {"type": "ERROR", "object": {"kind": "Status", "code": 410, "reason": "Expired", "message": "too old"}},
]
write("kube_watch", "events", "\n".join(compact(line) for line in lines) + "\n")
write("kube_watch", "status", compact({"kind": "Status", "code": 500, "details": {"retryAfterSeconds": 5}}) + "\r\n")
write("kube_watch", "odd", '{"type":1,"object":{}}\n{"kind":5}\n{"type":"ADDED"}\n[1,2]\nnot json\n')


# The plugin-host protocol (scaler/plugin_host/host_protocol.h): frames of a
# little-endian u32 length and a body, the body a u8 type and its fields.
def text(value):
    data = value.encode()
    return struct.pack("<I", len(data)) + data


def frame(body):
    return struct.pack("<I", len(body)) + body


hello = bytes([0x81]) + struct.pack("<II", 1, 0x00010001) + text("CappedSmoothRatio") + bytes([1])
result = bytes([0x83]) + struct.pack("<Q", 7) + bytes([1]) + struct.pack("<i", 4) + bytes([0, 1]) + \
    struct.pack("<d", 1.25) + text("scale up") + text("")
failed = bytes([0x83]) + struct.pack("<Q", 8) + bytes([0]) + struct.pack("<i", 0) + bytes([0, 0]) + \
    struct.pack("<d", 0.0) + text("") + text("minStep: not a number")
log = bytes([0x84]) + struct.pack("<Qi", 7, 2) + text("smoothing reset")
validated = bytes([0x85]) + struct.pack("<Q", 9) + bytes([1]) + text("")
load_failed = bytes([0x82]) + text("plugin /plugins/x.so: undefined symbol kubeai_plugin_entry")
# The first byte sets the size of each read the stream is cut into.
write("plugin_host_protocol", "session", bytes([63]) + b"".join(frame(b) for b in [hello, log, result, failed, validated]))
write("plugin_host_protocol", "split", bytes([2]) + frame(hello) + frame(result))
write("plugin_host_protocol", "load_failed", bytes([0]) + frame(load_failed))
write("plugin_host_protocol", "oversized", bytes([5]) + struct.pack("<I", (1 << 20) + 1) + b"x" * 8)

# A SimulationWorkload (scaler/simulate/workload.h): the issue's example and
# the other shapes a spec takes.
write("simulate_workload", "code-assistant.yaml", """apiVersion: kubeai.io/v1alpha1
kind: SimulationWorkload
metadata: {name: code-assistant}
spec:
  interval: 15s
  duration: 1h
  seed: 1
  hpa: {syncPeriod: 15s, tolerance: 0.1}
  replicas: {initial: 2, startupSeconds: 120, shutdownSeconds: 0}
  capacity: {requestsPerSecond: 2.5, tokensPerSecond: 5000, kvCacheTokens: 200000}
  gpusPerReplica: 1
  costPerGpuHour: 2.5
  slo: {latencyP99Ms: 8000, timeToFirstTokenP95Ms: 1000, requestsWaiting: 20}
  demand:
    arrivals: trace.csv
    scale: 1.0
""")
write("simulate_workload", "prometheus.yaml", """apiVersion: kubeai.io/v1alpha1
kind: SimulationWorkload
metadata: {name: chat, labels: {team: ml}}
spec:
  interval: 1m30s
  replicas: {startupSeconds: {min: 60, max: 180}}
  capacity: {requestsPerSecond: 1}
  demand:
    prometheus: {query: 'sum(rate(vllm:request_success_total[1m]))', start: 2023-11-16T18:00:00Z, end: 1700160000, step: 15s}
    scale: 2
""")
write("simulate_workload", "errors.yaml", compact({
    "apiVersion": "kubeai.io/v1alpha1", "kind": "SimulationWorkload", "metadata": {"name": ""},
    "spec": {"interval": 15, "hpa": {"tolerance": 1}, "slo": {"latencyP99": 1},
             "demand": {"rate": "r.csv", "arrivals": "/a.csv"}}}))

# Demand traces (scaler/simulate/demand.h): the first byte picks the parser
# (bit 0: 0 arrivals, 1 rate) and the interval (bits 1-2: 1 ms, 1 s, 15 s, 1 h).
arrivals = "TIMESTAMP,ContextTokens,GeneratedTokens\n" + "".join(
    f"2023-11-16 18:17:{3 + i // 3:02d}.{(i * 3137) % 10000000:07d},{100 + 37 * i},{1 + i % 40}\n" for i in range(60))
write("demand_trace", "arrivals", bytes([4]) + arrivals.encode())
write("demand_trace", "arrivals-crlf", bytes([2]) + arrivals.replace("\n", "\r\n").encode())
write("demand_trace", "arrivals-rfc3339", bytes([4]) + b"TIMESTAMP,ContextTokens,GeneratedTokens\n"
      b"2023-11-16T18:17:03.97Z,4808,10\n2023-11-16T19:17:04.0319600+01:00,3180,8\n")
write("demand_trace", "rate-seconds", bytes([5]) + b"time,requestsPerSecond\n0,2\n5,4\n10,1\n37.5,0\n60,12.25\n")
write("demand_trace", "rate-rfc3339", bytes([3]) + b"time,requestsPerSecond\r\n2024-01-01T00:00:00Z,4\r\n"
      b"2024-01-01T00:00:02.5Z,0\r\n2024-01-01T00:01:00Z,8\r\n")
write("demand_trace", "rate-bad", bytes([1]) + b"time,requestsPerSecond\n0,1\n0,2\n-1,nan\n")
print("fuzz/corpus written", file=sys.stderr)
