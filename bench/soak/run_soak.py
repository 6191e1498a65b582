#!/usr/bin/python3
"""The soak (bench/README.md, "Soak"; issue 11, item 6).

The real `kubeai-scaler serve` on free 127.0.0.1 ports, for --duration seconds
(600 by default), with --policies policies (10,000) and, all the while:

  - soak_client: GetMetrics with 64 calls in flight over every healthy policy,
    100 StreamIsActive streams held open, errors counted per policy; and a probe
    of the one policy on SegvPlugin (crashes on every call), counted apart;
  - one policy file edited per second (a real change: maxReplicas 10 <-> 2);
  - the metrics file rewritten every 5 s (atomically; 100 policies, the
    streamed ones among them, go idle <-> busy, the rest move their GPU figure);
  - a healthy plugin file replaced every 30 s (--replace-every) by the atomic rename of a copy, as
    a rollout does (CappedSmoothRatio and StepScale in turn);
  - every 5 s: serve's VmRSS and Threads (/proc/PID/status), its open fds
    (/proc/PID/fd), its plugin-host processes and the machine's load.

At the end: healthy errors (must be 0), RSS growth over the window from
--warmup (120 s) to the end (<= 2 %, judged on the floor: the lowest sample of
its first minute against that of its last; single samples swing by a quarter
with each reload), fds and threads over the same window (flat: see FLAT
below), the plugin failures and host restarts from /metrics and the back-off
between the crashing plugin's restarts from serve's log. Exit 1
when a judged target is missed (--judge errors: only the healthy errors, for
the CTest smoke run), 2 when the soak could not run.

  run_soak.py --scaler PATH --client PATH --plugins DIR --segv PATH [--duration 600]
"""

import argparse
import json
import os
import pathlib
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

FILES = 100  # policy files; policy-i is in file i // per_file
HEALTHY_PLUGINS = {"CappedSmoothRatio": "capped_smooth_ratio.so", "StepScale": "step_scale.so"}
CRASHING = ("crash-segv", "SegvPlugin", "segv.so")  # policy, algorithm, file
STREAMS = 100
# Flat, over the judged window: fds and threads may move by a plugin host
# coming and going (the crashing one is down half the time, a replaced plugin
# briefly has two hosts), never grow. Judged as: max - min within this slack
# (the 10-minute runs moved by 1 fd and 0 threads).
FLAT = {"fds": 4, "threads": 2}

POLICY = """apiVersion: kubeai.io/v1alpha1
kind: AIInferenceAutoscalerPolicy
metadata:
  name: {name}
  namespace: default
spec:
  targetRef:
    kind: Deployment
    name: workload-{name}
  minReplicas: 0
  maxReplicas: {max}
  cooldownPeriod: 0
{algorithm}  metrics:
    gpuUtilization:
      targetPercentage: 70
    requestQueueDepth:
      enabled: true
      targetDepth: 5
"""


def algorithm_of(i):
    """Most policies are built-in; 1 in 20 on each healthy plugin."""
    if i % 20 == 1:
        return "CappedSmoothRatio"
    if i % 20 == 2:
        return "StepScale"
    return None


def policy_yaml(name, algorithm, max_replicas):
    block = "  algorithm:\n    name: %s\n" % algorithm if algorithm else ""
    return POLICY.format(name=name, max=max_replicas, algorithm=block)


def write_atomically(path, text):
    scratch = path.with_name("." + path.name + ".tmp")
    scratch.write_text(text)
    os.replace(scratch, path)


class World:
    """The files serve reads, and the changes made to them."""

    def __init__(self, work, policies, plugins, segv):
        self.policy_dir = work / "policies"
        self.plugin_dir = work / "plugins"
        self.metrics_file = work / "metrics.yaml"
        self.healthy = policies - 1  # policy-0 ... policy-<healthy-1>, plus the crashing one
        self.per_file = -(-self.healthy // FILES)
        self.max_replicas = {}
        self.edits = self.metric_rewrites = self.replacements = 0
        self.sources = {name: plugins / name for name in HEALTHY_PLUGINS.values()}
        for directory in (self.policy_dir, self.plugin_dir):
            directory.mkdir(parents=True)
            os.chmod(directory, 0o755)  # serve refuses a plugin dir writable by group or others
        for name, source in self.sources.items():
            self.install_plugin(source, name)
        self.install_plugin(segv, CRASHING[2])
        for f in range(FILES):
            self.write_policy_file(f)
        write_atomically(self.policy_dir / "crash.yaml", policy_yaml(CRASHING[0], CRASHING[1], 10))
        self.rewrite_metrics()

    def install_plugin(self, source, name):
        target = self.plugin_dir / name
        scratch = self.plugin_dir / ("." + name + ".tmp")
        shutil.copyfile(source, scratch)
        os.chmod(scratch, 0o755)
        os.replace(scratch, target)

    def write_policy_file(self, f):
        names = range(f * self.per_file, min((f + 1) * self.per_file, self.healthy))
        text = "---\n".join(policy_yaml("policy-%d" % i, algorithm_of(i), self.max_replicas.get(i, 10)) for i in names)
        if text:
            write_atomically(self.policy_dir / ("policies-%02d.yaml" % f), text)

    def edit_policy(self):
        """Toggles one policy's maxReplicas (10 <-> 2), walking over all policies."""
        i = (self.edits * 7919) % self.healthy
        self.max_replicas[i] = 2 if self.max_replicas.get(i, 10) == 10 else 10
        self.write_policy_file(i // self.per_file)
        self.edits += 1

    def rewrite_metrics(self):
        g = self.metric_rewrites
        busy = "  currentReplicas: 2\n  gpuUtilizationPercent: %d\n  requestQueueDepth: 25\n" % (84 + g % 3)
        idle = "  currentReplicas: 0\n  gpuUtilizationPercent: 0\n  requestQueueDepth: 0\n"
        lines = []
        for i in range(self.healthy):
            streamed_idle = i < STREAMS and g % 2 == 1
            rotating_idle = i >= STREAMS and i % 100 == g % 100
            lines.append("default/policy-%d:\n%s" % (i, idle if streamed_idle or rotating_idle else busy))
        lines.append("default/%s:\n%s" % (CRASHING[0], busy))
        write_atomically(self.metrics_file, "".join(lines))
        self.metric_rewrites += 1

    def replace_plugin(self):
        name = list(self.sources)[self.replacements % len(self.sources)]
        self.install_plugin(self.sources[name], name)
        self.replacements += 1


def proc_status(pid):
    fields = {}
    with open("/proc/%d/status" % pid) as status:
        for line in status:
            key, _, value = line.partition(":")
            fields[key] = value.split()
    return int(fields["VmRSS"][0]), int(fields["Threads"][0])


def host_pids(serve_pid):
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % entry) as stat:
                if int(stat.read().rsplit(")", 1)[1].split()[1]) != serve_pid:
                    continue
            with open("/proc/%s/cmdline" % entry, "rb") as cmdline:
                if b"plugin-host" in cmdline.read():
                    pids.append(int(entry))
        except (OSError, IndexError, ValueError):
            continue
    return pids


def sample(serve_pid, started):
    rss, threads = proc_status(serve_pid)
    hosts = host_pids(serve_pid)
    host_rss = 0
    for pid in hosts:
        try:
            host_rss += proc_status(pid)[0]
        except (OSError, KeyError):
            pass
    with open("/proc/%d/stat" % serve_pid) as stat:
        cpu = sum(int(v) for v in stat.read().rsplit(")", 1)[1].split()[11:13]) / os.sysconf("SC_CLK_TCK")
    return {"t": round(time.monotonic() - started, 1), "rss_kib": rss, "threads": threads,
            "fds": len(os.listdir("/proc/%d/fd" % serve_pid)), "hosts": len(hosts), "host_rss_kib": host_rss,
            "cpu_s": round(cpu, 2), "load1": os.getloadavg()[0]}


def read_log(path):
    records = []
    with open(path, errors="replace") as log:
        for line in log:
            try:
                records.append(json.loads(line))
            except ValueError:
                continue
    return records


def wait_for(what, condition, timeout, serve):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if serve.poll() is not None:
            raise SystemExit("serve exited (%s) while waiting for %s" % (serve.returncode, what))
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise SystemExit("timed out waiting for %s" % what)


def scrape(http):
    with urllib.request.urlopen("http://%s/metrics" % http, timeout=10) as response:
        return response.read().decode()


def plugin_counters(body):
    """{(metric, plugin, kind): value} of the plugin failure and restart counters."""
    found = {}
    for line in body.splitlines():
        m = re.match(r'kubeai_scaler_plugin_(failures|host_restarts)_total\{([^}]*)\} (\S+)', line)
        if m:
            labels = dict(re.findall(r'(\w+)="([^"]*)"', m.group(2)))
            found[(m.group(1), labels.get("plugin", ""), labels.get("kind", ""))] = float(m.group(3))
    return found


def iso_seconds(stamp):
    m = re.match(r"\d+-\d+-\d+T(\d+):(\d+):(\d+(?:\.\d+)?)Z", stamp)
    return int(m.group(1)) * 3600 + int(m.group(2)) * 60 + float(m.group(3))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scaler", type=pathlib.Path, required=True, help="kubeai-scaler")
    parser.add_argument("--client", type=pathlib.Path, required=True, help="bench/soak/soak_client")
    parser.add_argument("--plugins", type=pathlib.Path, required=True,
                        help="directory of capped_smooth_ratio.so and step_scale.so (<build>/plugins)")
    parser.add_argument("--segv", type=pathlib.Path, required=True, help="fixture_segv.so (SegvPlugin)")
    parser.add_argument("--duration", type=float, default=600)
    parser.add_argument("--warmup", type=float, default=120, help="seconds before the judged window starts")
    parser.add_argument("--policies", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--evaluation-interval", default="15s",
                        help="serve's (its default; every change triggers a cycle anyway)")
    parser.add_argument("--sample-every", type=float, default=5)
    parser.add_argument("--replace-every", type=float, default=30, help="seconds between plugin replacements")
    parser.add_argument("--judge", choices=["all", "errors"], default="all")
    parser.add_argument("--work", type=pathlib.Path, help="keep the files here (default: a temporary directory)")
    parser.add_argument("--samples-out", type=pathlib.Path, help="write the samples as JSON lines")
    args = parser.parse_args()

    temporary = args.work is None
    work = args.work or pathlib.Path(tempfile.mkdtemp(prefix="kubeai-soak-"))
    work.mkdir(parents=True, exist_ok=True)
    os.chmod(work, 0o755)
    try:
        return soak(args, work)
    finally:
        if temporary:
            shutil.rmtree(work, ignore_errors=True)


def soak(args, work):
    world = World(work, args.policies, args.plugins, args.segv)
    log_path = work / "serve.log"
    serve = client = None
    try:
        with open(log_path, "w") as log:
            serve = subprocess.Popen([str(args.scaler), "serve", "--grpc-address", "127.0.0.1:0",
                                      "--metrics-address", "127.0.0.1:0", "--policy-dir", str(world.policy_dir),
                                      "--metrics-file", str(world.metrics_file), "--plugin-dir", str(world.plugin_dir),
                                      "--evaluation-interval", args.evaluation_interval, "--log-format", "json"],
                                     stdout=log, stderr=subprocess.STDOUT)

        def address(msg):
            for record in read_log(log_path):
                if record.get("msg") == msg and record.get("address"):
                    return record["address"]
            return None

        grpc_address = wait_for("serving gRPC", lambda: address("serving gRPC"), 60, serve)
        http = wait_for("serving HTTP", lambda: address("serving HTTP"), 60, serve)

        def ready():
            try:
                with urllib.request.urlopen("http://%s/readyz" % http, timeout=2) as response:
                    return response.status == 200
            except OSError:
                return False

        wait_for("/readyz", ready, 120, serve)
        print("soak: serve pid %d, gRPC %s, HTTP %s, %d policies (%d healthy, %s on %s), %s, %.0f s"
              % (serve.pid, grpc_address, http, args.policies, world.healthy, CRASHING[0], CRASHING[1], work,
                 args.duration), flush=True)

        client_out = open(work / "client.json", "w")
        client = subprocess.Popen([str(args.client), "--target", grpc_address, "--policies", str(world.healthy),
                                   "--concurrency", str(args.concurrency), "--streams", str(STREAMS),
                                   "--probe", CRASHING[0], "--duration", str(args.duration), "--progress", "30"],
                                  stdout=client_out)
        started = time.monotonic()
        samples = []
        next_edit = next_metrics = next_sample = started
        next_replace = started + args.replace_every
        while client.poll() is None:
            now = time.monotonic()
            if serve.poll() is not None:
                raise SystemExit("soak: serve exited with %s during the soak" % serve.returncode)
            if now >= next_sample and now - started <= args.duration:
                samples.append(sample(serve.pid, started))
                next_sample += args.sample_every
            if now >= next_edit:
                world.edit_policy()
                next_edit += 1
            if now >= next_metrics:
                world.rewrite_metrics()
                next_metrics += 5
            if now >= next_replace:
                world.replace_plugin()
                next_replace += args.replace_every
            time.sleep(max(0.0, min(next_edit, next_metrics, next_sample, next_replace) - time.monotonic()))
        after = sample(serve.pid, started)  # the load has stopped: reported, not judged
        client_out.close()
        result = json.loads((work / "client.json").read_text() or "{}")
        counters = plugin_counters(scrape(http))
        records = read_log(log_path)
        if serve.poll() is not None:
            raise SystemExit("soak: serve exited with %s" % serve.returncode)
    finally:
        for process in (client, serve):
            if process is not None and process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
    if args.samples_out:
        args.samples_out.write_text("".join(json.dumps(s) + "\n" for s in samples))
    return report(args, world, result, samples, after, counters, records)


def floor_growth(window):
    """RSS growth between the lowest samples of the window's first and last minute, in %."""
    first = min(s["rss_kib"] for s in window if s["t"] < window[0]["t"] + 60)
    last = min(s["rss_kib"] for s in window if s["t"] > window[-1]["t"] - 60)
    return (last - first) / first * 100, first, last


def slope_growth(window):
    """The least-squares line through the window's RSS, as % growth over the window."""
    n = len(window)
    mean_t = sum(s["t"] for s in window) / n
    mean_rss = sum(s["rss_kib"] for s in window) / n
    spread = sum((s["t"] - mean_t) ** 2 for s in window) or 1.0
    slope = sum((s["t"] - mean_t) * (s["rss_kib"] - mean_rss) for s in window) / spread
    return slope * (window[-1]["t"] - window[0]["t"]) / mean_rss * 100


def report(args, world, result, samples, after, counters, records):
    verdicts = []

    def judge(name, met, text, always=False):
        judged = always or args.judge == "all"
        verdicts.append(met or not judged)
        print("%-28s %s  [%s]" % (name, text, ("met" if met else "MISSED") if judged else "not judged"))

    print()
    errors, streams, probe = result["errors"], result["streams"], result["probe"]["answers"]
    print("GetMetrics %d ok, %.0f req/s, p50 %.0f us, p99 %.0f us (%d in flight, %d healthy policies)"
          % (result["ok"], result["requests_per_second"], result["latency_us"]["p50"], result["latency_us"]["p99"],
             result["concurrency"], result["policies"]))
    healthy_plugin_failures = sum(v for (metric, plugin, _), v in counters.items()
                                  if metric == "failures" and plugin in HEALTHY_PLUGINS)
    # What serve itself says went wrong with a healthy policy (an evaluation
    # that failed while GetMetrics still answered the previous decision).
    logged = [r for r in records if r.get("level") in ("warning", "error", "critical")
              and "default/" + CRASHING[0] != r.get("policy") and CRASHING[1] != r.get("plugin")]
    judge("healthy errors", errors["total"] == 0 and streams["errors"]["total"] == 0 and streams["silent"] == 0
          and healthy_plugin_failures == 0 and not logged,
          "GetMetrics %d, streams %d (of %d open, %d messages, %d never answered), healthy plugins' failures %d, "
          "warnings and errors in serve's log %d"
          % (errors["total"], streams["errors"]["total"], streams["open"], streams["messages"], streams["silent"],
             healthy_plugin_failures, len(logged)), always=True)
    for record in logged[:10]:
        print("  log: %s" % json.dumps(record))
    for what, book in (("GetMetrics", errors), ("stream", streams["errors"])):
        if book["total"]:
            print("  %s errors: %d on %d policies, %s, from %.1f s to %.1f s of the load; e.g. %s" % (
                what, book["total"], book["policies"], json.dumps(book["by_code"]), book["first_at_s"],
                book["last_at_s"], json.dumps(dict(list(book["by_policy"].items())[:3]))))
    print("crashing policy (probe)      %s" % json.dumps(probe["by_code"]))
    for policy, entry in probe["by_policy"].items():
        for code, message in entry["first"].items():
            print("  %s, first %s: %s" % (policy, code, message or "(no message)"))

    window_start = min(args.warmup, args.duration / 4)
    window = [s for s in samples if s["t"] >= window_start]
    first, last = window[0], window[-1]
    growth = (last["rss_kib"] - first["rss_kib"]) / first["rss_kib"] * 100
    # Each reload and cycle allocates and hands back tens of MB (serve trims
    # after every cycle), so single samples swing by a quarter around what is
    # kept: first-vs-last sample measured +9.0 %, -4.5 % and +14.8 % in three
    # 10-minute runs of the same code. What a leak moves is the floor, the
    # lowest RSS of a minute: judged on that, the rest shown beside it.
    floor, floor_first, floor_last = floor_growth(window)
    judge("RSS growth (floor)", floor <= 2.0, "%+.2f %% (lowest of the window's first minute %d KiB, of its last %d KiB)"
          % (floor, floor_first, floor_last))
    print("%-28s first sample %d KiB at %.0f s -> last %d KiB at %.0f s: %+.2f %%; trend %+.2f %% (fit); peak %d KiB"
          % ("  RSS, single samples", first["rss_kib"], first["t"], last["rss_kib"], last["t"], growth,
             slope_growth(window), max(s["rss_kib"] for s in window)))
    for key in ("fds", "threads"):
        values = [s[key] for s in window]
        judge(key + " flat", max(values) - min(values) <= FLAT[key],
              "min %d, max %d, first %d, last %d (over %.0f - %.0f s, slack %d)"
              % (min(values), max(values), values[0], values[-1], first["t"], last["t"], FLAT[key]))
    print("%-28s RSS %d KiB, fds %d, threads %d" % ("  after the load stopped", after["rss_kib"], after["fds"],
                                                     after["threads"]))
    hosts = [s["hosts"] for s in window]
    print("%-28s min %d, max %d; their RSS %d -> %d KiB" % ("plugin hosts", min(hosts), max(hosts),
                                                          first["host_rss_kib"], last["host_rss_kib"]))
    loads = [s["load1"] for s in samples]
    cpu = (after["cpu_s"] - samples[0]["cpu_s"]) / max(1.0, after["t"] - samples[0]["t"]) * 100
    print("%-28s serve %.0f %% of a core; load average (1 min) %.1f - %.1f, mean %.1f (%d cores)"
          % ("machine", cpu, min(loads), max(loads), sum(loads) / len(loads), os.cpu_count()))
    print("%-28s %d policy edits, %d metrics rewrites, %d plugin replacements"
          % ("churn", world.edits, world.metric_rewrites, world.replacements))

    calls = sum(v for (metric, plugin, _), v in counters.items() if metric == "failures" and plugin == CRASHING[1])
    restarts = counters.get(("host_restarts", CRASHING[1], ""), 0)
    kinds = {kind: int(v) for (metric, plugin, kind), v in counters.items()
             if metric == "failures" and plugin == CRASHING[1]}
    restarted = [iso_seconds(r["time"]) for r in records
                 if r.get("msg") == "plugin host restarted" and r.get("plugin") == CRASHING[1]]
    gaps = [round(b - a, 2) for a, b in zip(restarted, restarted[1:])]
    # Backing off: never restarted before serve's back-off (250 ms, doubling:
    # plugin_host.h) allowed, and some calls answered "down" without a
    # restart. Since an edit evaluates only its policy (and a plugin reload
    # that changes nothing adds no cycle), the crashing plugin is called at
    # the churn's pace, which can be slower than the first back-offs: then
    # nearly every call restarts it, every gap is that pace, and the doubling
    # only shows once it passes it. A crash loop is what the gaps rule out.
    growing = all(gap >= 0.9 * 0.25 * 2 ** i for i, gap in enumerate(gaps))
    judge("crashing plugin back-off", 0 < restarts < calls and growing,
          "%d failed calls %s, %d host restarts (/metrics)" % (calls, json.dumps(kinds), restarts), always=True)
    print("  seconds between restarts (serve's log): %s" % gaps)
    others = {"%s{%s}" % (plugin, kind or "-"): int(v) for (metric, plugin, kind), v in counters.items()
              if plugin != CRASHING[1]}
    print("  healthy plugins' counters (restarts include replacements, if counted): %s" % json.dumps(others))
    ok = all(verdicts)
    print("\nsoak: %s" % ("every judged target met" if ok else "a target was MISSED"))
    return 0 if ok else 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except SystemExit as exit:
        if isinstance(exit.code, str):
            print(exit.code, file=sys.stderr)
            sys.exit(2)
        raise
