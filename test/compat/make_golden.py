#!/usr/bin/python3
"""Writes seed_decisions.golden.jsonl: the decisions of a kubeai-scaler binary on
every policy of examples/policies/ and test/compat/policies/, over a fixed grid
of inputs. seed_compat_test then asserts that the current code decides every
case exactly the same way (issue 12: "seed policies decide exactly as before").

The golden in the tree was made by the code of commit 635ab70 (before issue 12's
refactor of the decision pipeline):

  git worktree add /tmp/seed-before 635ab70
  cp -r test/compat /tmp/seed-before/test/    # the compat policies, beside 635ab70's examples
  cmake -S /tmp/seed-before -B /tmp/seed-before/build -DCMAKE_BUILD_TYPE=Release \
        -DKUBEAI_BUILD_TESTS=OFF -DKUBEAI_BUILD_BENCHMARKS=OFF
  cmake --build /tmp/seed-before/build --target kubeai-scaler capped_smooth_ratio step_scale -j2
  test/compat/make_golden.py --scaler /tmp/seed-before/build/kubeai-scaler \
        --plugin-dir /tmp/seed-before/build/plugins --source-dir /tmp/seed-before \
        --out test/compat/seed_decisions.golden.jsonl
  git worktree remove /tmp/seed-before --force

(about 3 minutes on 2 cores; 4188 cases of 22 policies, 1.9 MB). The policies
are read from --source-dir: the examples as they were at that commit, and
test/compat/policies/ (which the commit did not have). The example plugins'
policies (CappedSmoothRatio) are evaluated with --plugin-dir; seed-custom-
algorithm.yaml names a plugin nobody built (the seed's MyAlgorithm), so it
records the fallback to MaxRatio.

Regenerate it only on purpose (a decision that is meant to change), and say so
in the commit: the test's whole point is that the file stays as it is.

Each line: {"policy": path from the repository root, "pluginDir": whether the
example plugins were offered, "currentReplicas": N, "metrics": {evaluate's
--metric KEY: the exact text passed}, "exitCode": evaluate's exit status,
"decision": the fields of `evaluate -o json` that are the decision}.
"""

import argparse
import concurrent.futures
import json
import pathlib
import subprocess
import sys

import yaml

# What a case records of `evaluate -o json`; anything else it prints is ignored
# (seed_compat_test compares these and only these).
DECISION_FIELDS = ("desiredReplicas", "recommendedReplicas", "reason", "ratio", "algorithm",
                   "requestedAlgorithm", "algorithmValid", "limitedBy", "algorithmError", "ratios")

# Algorithms that come from plugins/: their policies are evaluated with
# --plugin-dir (every case in a fresh process: no smoothing history).
PLUGIN_ALGORITHMS = {"CappedSmoothRatio", "StepScale"}

CURRENT_REPLICAS = (0, 1, 3, 10)

# The seed's four metrics: evaluate's --metric key, and the target used for a
# metric the policy does not configure (its values must then change nothing).
METRICS = (
    ("latencyP99Ms", 500.0),
    ("latencyP95Ms", 300.0),
    ("gpuUtilizationPercent", 70.0),
    ("requestQueueDepth", 10.0),
)

# A metric's value relative to its target t and the policy's tolerance tol:
# None is absent (no data). The queue's target is per replica, so its values
# are also multiplied by max(currentReplicas, 1).
LEVELS = (
    ("absent", None),
    ("zero", lambda tol: 0.0),
    ("below", lambda tol: 0.5),
    ("edgeLow", lambda tol: 1.0 - tol),
    ("at", lambda tol: 1.0),
    ("edgeHigh", lambda tol: 1.0 + tol),
    ("justOver", lambda tol: (1.0 + tol) * (1.0 + 1e-6)),
    ("above", lambda tol: 1.6),
    ("far", lambda tol: 4.0),
)
LEVEL_NAMES = tuple(name for name, _ in LEVELS)

RANDOM_CASES = 24  # with the sweeps, about 200 cases a policy and the golden under 2 MB


def policy_targets(document):
    """The targets of the seed four in `document`, nominal where not configured, and the tolerance."""
    spec = document.get("spec") or {}
    metrics = spec.get("metrics") or {}
    latency = metrics.get("latency") or {}
    gpu = metrics.get("gpuUtilization") or {}
    queue = metrics.get("requestQueueDepth") or {}
    configured = {
        "latencyP99Ms": latency.get("targetP99Ms"),
        "latencyP95Ms": latency.get("targetP95Ms"),
        "gpuUtilizationPercent": gpu.get("targetPercentage"),
        "requestQueueDepth": queue.get("targetDepth"),
    }
    targets = {key: float(configured[key] or nominal) for key, nominal in METRICS}
    algorithm = spec.get("algorithm") or {}
    tolerance = float(algorithm.get("tolerance", 0.1))
    return targets, tolerance, algorithm.get("name", "MaxRatio")


def metric_text(key, level, target, tolerance, replicas):
    factor = dict(LEVELS)[level]
    if factor is None:
        return None
    value = target * factor(tolerance)
    if key == "requestQueueDepth":
        value *= max(replicas, 1)
    return "0" if value == 0.0 else repr(value)  # repr: the shortest text that reads back as this double


class Lcg:
    """A fixed pseudo-random sequence, the same on every Python (no dependence on `random`'s algorithm)."""

    def __init__(self, seed):
        self.state = seed

    def below(self, n):
        self.state = (self.state * 6364136223846793005 + 1442695040888963407) % (1 << 64)
        return (self.state >> 33) % n


def level_grid():
    """(currentReplicas, {metric key: level}) for every case, the same for every policy."""
    keys = [key for key, _ in METRICS]
    grid = []
    for replicas in CURRENT_REPLICAS:
        # One metric at a time, the others absent.
        grid.append((replicas, {key: "absent" for key in keys}))
        for key in keys:
            for level in ("zero", "below", "edgeLow", "edgeHigh", "justOver", "far"):
                grid.append((replicas, {k: (level if k == key else "absent") for k in keys}))
        # One metric moving while the others sit at their targets.
        grid.append((replicas, {key: "at" for key in keys}))
        for key in keys:
            for level in ("absent", "zero", "justOver", "far"):
                grid.append((replicas, {k: (level if k == key else "at") for k in keys}))
    # Mixes of everything.
    lcg = Lcg(12)
    for _ in range(RANDOM_CASES):
        replicas = CURRENT_REPLICAS[lcg.below(len(CURRENT_REPLICAS))]
        grid.append((replicas, {key: LEVEL_NAMES[lcg.below(len(LEVEL_NAMES))] for key in keys}))
    return grid


def cases_for(policy_path, source_dir):
    document = next(d for d in yaml.safe_load_all((source_dir / policy_path).read_text())
                    if d and d.get("kind") == "AIInferenceAutoscalerPolicy")
    targets, tolerance, algorithm = policy_targets(document)
    plugin = algorithm in PLUGIN_ALGORITHMS
    seen = set()
    cases = []
    for replicas, levels in level_grid():
        metrics = {}
        for key, _ in METRICS:
            text = metric_text(key, levels[key], targets[key], tolerance, replicas)
            if text is not None:
                metrics[key] = text
        identity = (replicas, tuple(sorted(metrics.items())))
        if identity in seen:
            continue
        seen.add(identity)
        cases.append({"policy": policy_path.as_posix(), "pluginDir": plugin, "currentReplicas": replicas,
                      "metrics": metrics})
    return cases


def evaluate(case, scaler, plugin_dir, source_dir):
    command = [str(scaler), "evaluate", "--policy", str(source_dir / case["policy"]),
               "--current-replicas", str(case["currentReplicas"]), "--output", "json"]
    for key, text in case["metrics"].items():
        command += ["--metric", f"{key}={text}"]
    if case["pluginDir"]:
        command += ["--plugin-dir", str(plugin_dir)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    try:
        output = json.loads(result.stdout)
    except json.JSONDecodeError:
        raise SystemExit(f"no decision from {' '.join(command)} (exit {result.returncode}):\n{result.stderr}")
    recorded = dict(case)
    recorded["exitCode"] = result.returncode
    recorded["decision"] = {field: output.get(field) for field in DECISION_FIELDS}
    return recorded


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scaler", required=True, type=pathlib.Path, help="the kubeai-scaler binary to record")
    parser.add_argument("--plugin-dir", required=True, type=pathlib.Path, help="its example plugins")
    parser.add_argument("--source-dir", required=True, type=pathlib.Path, help="the repository holding the policies")
    parser.add_argument("--out", required=True, type=pathlib.Path)
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()

    source_dir = args.source_dir.resolve()
    policies = sorted(p.relative_to(source_dir) for p in (source_dir / "examples/policies").glob("*.yaml"))
    policies += sorted(p.relative_to(source_dir) for p in (source_dir / "test/compat/policies").glob("*.yaml"))
    cases = [case for policy in policies for case in cases_for(policy, source_dir)]
    with concurrent.futures.ThreadPoolExecutor(max_workers=args.jobs) as pool:
        recorded = list(pool.map(lambda c: evaluate(c, args.scaler.resolve(), args.plugin_dir.resolve(), source_dir),
                                 cases))
    with args.out.open("w") as out:
        for case in recorded:
            out.write(json.dumps(case, separators=(",", ":")) + "\n")
    print(f"{len(recorded)} cases of {len(policies)} policies -> {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
