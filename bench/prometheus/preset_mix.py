"""prometheus_bench.py --mix presets: policies of five metrics each, seed and engine presets mixed.

Issue 12's benchmark: "10,000 policies with five metrics each send one HTTP
query per distinct expression per cycle". Policy i targets workload-(i mod W)
and takes profile (i div W) mod 4, so the policies sharing a workload share
most of their expressions, and some expressions are reached by two routes that
must meet in one query (spec.metrics.engine vllm's requestQueueDepth default
and the custom preset vllm requestsWaiting are the same PromQL):

  A  seed gpuUtilization, seed latency P99 and P95, seed requestQueueDepth, custom vllm kvCacheUtilization
  B  seed gpuUtilization, custom vllm kvCacheUtilization, vllm requestsWaiting, vllm timeToFirstTokenP99,
     dcgm framebufferUsed
  C  engine: vllm -> gpuUtilization (the seed's DCGM), latency P99 (vLLM's e2e histogram, in seconds),
     requestQueueDepth (= vllm requestsWaiting); custom sglang kvCacheUtilization, llm-d requestsWaiting
  D  seed gpuUtilization, seed latency P95, custom vllm requestsWaiting, llm-d requestsWaiting,
     dcgm framebufferUsed

Per workload that is 11 distinct metric expressions (KINDS below) and the
replicas and ready replicas queries: 13, so 100 workloads give 1,300
expressions per cycle. Every
metric's value is below its target except the GPU's, which the reaction
measurement moves (policy-0 is profile A on workload-0: GPU 40 -> 2, 90 -> 4).
"""

PROFILES = 4

# The distinct expressions a workload's policies reach, by profile; "waiting"
# is both profile C's engine default and the custom preset of B and D.
PROFILE_KINDS = {
    0: {"gpu", "p99", "p95", "queue", "vllmKv"},
    1: {"gpu", "vllmKv", "waiting", "vllmTtft", "dcgmFb"},
    2: {"gpu", "vllmE2eP99", "waiting", "sglangKv", "llmdWaiting"},
    3: {"gpu", "p95", "waiting", "llmdWaiting", "dcgmFb"},
}

POLICY = """apiVersion: kubeai.io/v1alpha1
kind: AIInferenceAutoscalerPolicy
metadata:
  name: policy-{i}
  namespace: default
spec:
  targetRef:
    kind: Deployment
    name: workload-{w}
  minReplicas: 1
  maxReplicas: 50
  cooldownPeriod: 0
  metrics:
{metrics}"""

GPU = "    gpuUtilization:\n      targetPercentage: 50\n"


def _custom(*items):
    lines = ["    custom:\n"]
    for name, engine, signal, kind, value in items:
        lines.append("      - name: %s\n        engine: %s\n        signal: %s\n"
                     "        target: {type: %s, value: %s}\n" % (name, engine, signal, kind, value))
    return "".join(lines)


VLLM_KV = ("kvCache", "vllm", "kvCacheUtilization", "Value", 80)
VLLM_WAITING = ("waiting", "vllm", "requestsWaiting", "AverageValue", 5)
VLLM_TTFT = ("ttftP99", "vllm", "timeToFirstTokenP99", "Value", 1000)
SGLANG_KV = ("kvCache", "sglang", "kvCacheUtilization", "Value", 80)
DCGM_FB = ("framebuffer", "dcgm", "framebufferUsed", "Value", 80)
LLMD_WAITING = ("poolWaiting", "llm-d", "requestsWaiting", "AverageValue", 5)

METRICS = {
    0: GPU + "    latency:\n      targetP99Ms: 500\n      targetP95Ms: 400\n"
       "    requestQueueDepth:\n      enabled: true\n      targetDepth: 5\n" + _custom(VLLM_KV),
    1: GPU + _custom(VLLM_KV, VLLM_WAITING, VLLM_TTFT, DCGM_FB),
    2: "    engine: vllm\n" + GPU + "    latency:\n      targetP99Ms: 500\n"
       "    requestQueueDepth:\n      enabled: true\n      targetDepth: 5\n" + _custom(SGLANG_KV, LLMD_WAITING),
    3: GPU + "    latency:\n      targetP95Ms: 400\n" + _custom(VLLM_WAITING, LLMD_WAITING, DCGM_FB),
}


def profile(i, workloads):
    return (i // workloads) % PROFILES


def policy(i, workloads):
    return POLICY.format(i=i, w=i % workloads, metrics=METRICS[profile(i, workloads)])


def metric_count(i, workloads):
    """The metrics of policy i, counted from its YAML as the issue counts them (latency P99 and P95 two)."""
    text = METRICS[profile(i, workloads)]
    return (text.count("targetPercentage") + text.count("targetP99Ms") + text.count("targetP95Ms")
            + text.count("targetDepth") + text.count("        target: {"))


def expected_distinct(policies, workloads):
    """Distinct expressions per cycle: each workload's kinds over its policies' profiles, its replicas and ready ones."""
    kinds = {}
    for i in range(policies):
        kinds.setdefault(i % workloads, set()).update(PROFILE_KINDS[profile(i, workloads)])
    return sum(len(k) + 2 for k in kinds.values())


def render(workload, pods, elapsed):
    """The engines' series for one workload's pods (below every target); counters grow with `elapsed`."""
    lines = []
    count = 10.0 * elapsed
    for pod in pods:
        labels = 'namespace="default",pod="%s"' % pod
        vllm = labels + ',model_name="m",engine="0"'
        lines.append("vllm:kv_cache_usage_perc{%s} 0.4" % vllm)  # 40 % of 80
        lines.append("vllm:num_requests_waiting{%s} 2" % vllm)  # 4 of 5 x 2
        for name in ("vllm:time_to_first_token_seconds", "vllm:e2e_request_latency_seconds"):
            # Every request 0.1-0.25 s: p99 248.5 ms (of 1000 and 500).
            for le, share in (("0.1", 0.0), ("0.25", 1.0), ("+Inf", 1.0)):
                lines.append('%s_bucket{%s,le="%s"} %g' % (name, vllm, le, count * share))
        lines.append('sglang:token_usage{%s,model_name="m",tp_rank="0"} 0.3' % labels)  # 30 % of 80
        lines.append('DCGM_FI_DEV_FB_USED{%s,gpu="0"} 20000' % labels)  # 25 % of 80
        lines.append('DCGM_FI_DEV_FB_FREE{%s,gpu="0"} 60000' % labels)
    # llm-d's EPP for the InferencePool named as the workload: 3 of 5 x 2.
    lines.append('llm_d_epp_flow_control_queue_size{namespace="default",pod="workload-%d-epp-6c9f8d7b5d-w4x2z",'
                 'inference_pool="workload-%d",fairness_id="a",priority="0"} 3' % (workload, workload))
    return lines
