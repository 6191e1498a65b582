#!/usr/bin/python3
"""Writes what the server benchmarks load: N policies and a metrics file.

  make_policies.py DIR --policies N [--load idle|busy]
      DIR/policies/policies.yaml  policy-0 ... policy-<N-1> in namespace
                                  "default" (one multi-document file)
      DIR/metrics.yaml            their metric values (serve --metrics-file)
  make_policies.py DIR --policies N --metrics-only --load busy
      rewrites DIR/metrics.yaml only, atomically (write, then rename), as a
      ConfigMap update does: serve's file watch sees one change.

The policies scale to zero (minReplicas 0, no cooldown, no stabilization), so
the metrics decide whether each is active: --load idle gives every policy zero
replicas and zero load (desired 0, IsActive false), --load busy a queue of 25
on 2 replicas and GPU at 84 % (desired 3 from the queue, IsActive true).
"""
import argparse
import os
import pathlib

POLICY = """apiVersion: kubeai.io/v1alpha1
kind: AIInferenceAutoscalerPolicy
metadata:
  name: policy-{i}
  namespace: default
spec:
  targetRef:
    kind: Deployment
    name: workload-{i}
  minReplicas: 0
  maxReplicas: 10
  cooldownPeriod: 0
  metrics:
    gpuUtilization:
      targetPercentage: 70
    latency:
      enabled: false
    requestQueueDepth:
      enabled: true
      targetDepth: 5
"""

LOAD = {
    "idle": "  currentReplicas: 0\n  gpuUtilizationPercent: 0\n  requestQueueDepth: 0\n",
    "busy": "  currentReplicas: 2\n  gpuUtilizationPercent: 84\n  requestQueueDepth: 25\n",
}


def write_atomically(path: pathlib.Path, text: str) -> None:
    scratch = path.with_name("." + path.name + ".tmp")
    scratch.write_text(text)
    os.replace(scratch, path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dir", type=pathlib.Path)
    parser.add_argument("--policies", type=int, required=True)
    parser.add_argument("--load", choices=sorted(LOAD), default="busy")
    parser.add_argument("--metrics-only", action="store_true")
    args = parser.parse_args()

    args.dir.mkdir(parents=True, exist_ok=True)
    if not args.metrics_only:
        policies = args.dir / "policies"
        policies.mkdir(exist_ok=True)
        write_atomically(policies / "policies.yaml", "---\n".join(POLICY.format(i=i) for i in range(args.policies)))
    load = LOAD[args.load]
    write_atomically(args.dir / "metrics.yaml", "".join(f"default/policy-{i}:\n{load}" for i in range(args.policies)))


if __name__ == "__main__":
    main()
