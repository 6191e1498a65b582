"""kube_bench.py's section 5: leader election and the status of every policy written."""
import time

from kube_bench_support import cpu_of, lease, wait_until


def leader_election(bench):
    """Section 5: the other replica's Lease released, every status written, then the requests per
    cycle as the leader. False when not every status was written within --status-timeout."""
    args, serve, api, n = bench.args, bench.serve, bench.api, len(bench.mine)
    if serve.find("leading: writing status and Events"):
        raise RuntimeError("serve leads although another replica holds the Lease")
    api.control("POST", "requests/clear")
    written = set()
    patches = 0

    def drain_log():
        nonlocal patches
        entries = api.control("GET", "requests")
        api.control("POST", "requests/clear")
        for entry in entries:
            if entry["method"] == "PATCH" and entry["path"].endswith("/status"):
                patches += 1
                written.add(entry["path"].rsplit("/", 2)[1])

    def statuses():
        objects = api.control("GET", "objects")["items"]
        return sum(1 for o in objects if o.get("kind") == "AIInferenceAutoscalerPolicy"
                   and o.get("status", {}).get("desiredReplicas") is not None)

    cpu0, emu0 = serve.cpu_seconds(), cpu_of(bench.emulator.proc.pid)
    cycles0 = bench.cycles()
    released = time.monotonic()
    api.control("PUT", "objects", lease("", bench.lease))  # the other replica steps down
    wait_until(lambda: serve.find("leading: writing status and Events"), 30, "serve to take the Lease", 0.01)
    leading = time.monotonic() - released
    poll = 1.0 if n <= 1000 else 2.0
    progress = []  # (seconds since leading, distinct policies written)
    done = None
    last_confirm = 0.0
    while time.monotonic() - released < args.status_timeout:
        time.sleep(poll)
        drain_log()
        now = time.monotonic() - released - leading
        progress.append((now, len(written)))
        # The request log is read then cleared: a write landing in between is not seen, so
        # the emulator's objects (one large GET) decide, once the log is close to N.
        if len(written) >= 0.98 * n or now - last_confirm >= 60:
            last_confirm = now
            if statuses() >= n:
                done = time.monotonic() - released - leading
                break
    cpu1, emu1 = serve.cpu_seconds(), cpu_of(bench.emulator.proc.pid)
    cycles1 = bench.cycles()
    elapsed = time.monotonic() - released - leading
    wall = elapsed + leading
    print("\n5. leader election: the other replica releases the Lease")
    print("   released -> serve leading               %7.3f s" % leading)
    if done is not None:
        print("   leading -> all %d statuses written   %7.1f s" % (n, done))
    else:
        print("   leading -> NOT all statuses written after %.0f s: %d of %d (%d by the objects)"
              % (elapsed, len(written), n, statuses()))
    steady = [p for p in progress if p[0] >= 2]
    if len(steady) >= 2:
        rate = (steady[-1][1] - steady[0][1]) / (steady[-1][0] - steady[0][0])
    else:
        rate = len(written) / max(elapsed, 1e-9)
    print("   status PATCHes seen: %d for %d policies; write rate %.1f/s (steady), %.1f/s overall"
          % (patches, len(written), rate, len(written) / max(elapsed, 1e-9)))
    print("   meanwhile: serve CPU %.1f %%, %d cycles (%.2f/s), mean cycle %.1f ms; emulator %.1f %%"
          % ((cpu1 - cpu0) / wall * 100, cycles1[0] - cycles0[0], (cycles1[0] - cycles0[0]) / wall,
             (cycles1[1] - cycles0[1]) / max(cycles1[0] - cycles0[0], 1) * 1000, (emu1 - emu0) / wall * 100))
    print("   " + serve.memory())
    if done is None:
        return False
    bench.steady_requests("5b. steady state, leading, every status written")
    return True
