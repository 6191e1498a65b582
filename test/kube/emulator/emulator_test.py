"""Direct HTTP tests of apiserver_emulator.py: the API semantics and the control endpoints."""

import os
import socket
import ssl
import subprocess
import tempfile
import time
import unittest
import urllib.error
import urllib.parse
import urllib.request

from emulator_fixture import Emulator, RawWatch, make_certs, wait_for

TOKEN = "t0ken"
POLICIES = "/apis/kubeai.io/v1alpha1/namespaces/default/aiinferenceautoscalerpolicies"
DEPLOYMENTS = "/apis/apps/v1/namespaces/default/deployments"


def policy(name, max_replicas=10, namespace=None, labels=None):
    meta = {"name": name}
    if namespace:
        meta["namespace"] = namespace
    if labels:
        meta["labels"] = labels
    return {"apiVersion": "kubeai.io/v1alpha1", "kind": "AIInferenceAutoscalerPolicy",
            "metadata": meta,
            "spec": {"targetRef": {"kind": "Deployment", "name": "web"},
                     "maxReplicas": max_replicas,
                     "metrics": {"gpuUtilization": {"targetPercentage": 70}}}}


def deployment(name, replicas=2):
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name, "namespace": "default"},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}},
                                  "spec": {"containers": [{"name": "main", "image": "x"}]}}},
            "status": {"replicas": replicas}}


class EmulatorTest(unittest.TestCase):
    """One emulator (plain HTTP, bearer token) for the tests that do not disturb others."""

    @classmethod
    def setUpClass(cls):
        cls.em = Emulator("--token", TOKEN).start()

    @classmethod
    def tearDownClass(cls):
        cls.em.stop()

    def api(self, method, path, body=None, content_type="application/json", **kw):
        return self.em.request(method, path, body, token=TOKEN, content_type=content_type, **kw)

    def create(self, obj, collection=POLICIES):
        status, _, body = self.api("POST", collection, obj)
        self.assertEqual(status, 201, body)
        return body

    # -- discovery ---------------------------------------------------------------------------

    def test_discovery(self):
        status, _, body = self.api("GET", "/api")
        self.assertEqual((status, body["kind"], body["versions"]), (200, "APIVersions", ["v1"]))
        _, _, groups = self.api("GET", "/apis")
        self.assertEqual(groups["kind"], "APIGroupList")
        names = {g["name"] for g in groups["groups"]}
        self.assertTrue({"apps", "kubeai.io", "coordination.k8s.io"} <= names, names)
        _, _, res = self.api("GET", "/apis/kubeai.io/v1alpha1")
        by_name = {r["name"]: r for r in res["resources"]}
        aiap = by_name["aiinferenceautoscalerpolicies"]
        self.assertEqual((aiap["kind"], aiap["namespaced"]), ("AIInferenceAutoscalerPolicy", True))
        self.assertIn("aiap", aiap["shortNames"])
        self.assertIn("watch", aiap["verbs"])
        self.assertIn("aiinferenceautoscalerpolicies/status", by_name)
        _, _, apps = self.api("GET", "/apis/apps/v1")
        scale = {r["name"]: r for r in apps["resources"]}["deployments/scale"]
        self.assertEqual((scale["group"], scale["version"], scale["kind"]),
                         ("autoscaling", "v1", "Scale"))
        for path in ("/api/v1", "/apis/coordination.k8s.io/v1"):
            status, _, body = self.api("GET", path)
            self.assertEqual((status, body["kind"]), (200, "APIResourceList"), path)
        status, _, version = self.em.request("GET", "/version")  # no token needed
        self.assertEqual((status, version["major"]), (200, "1"))

    # -- writes and their rules --------------------------------------------------------------

    def test_create_get_conflict_and_generation(self):
        created = self.create(policy("crud"))
        meta = created["metadata"]
        self.assertEqual(meta["generation"], 1)
        self.assertTrue(meta["uid"] and meta["creationTimestamp"] and meta["resourceVersion"])
        self.assertEqual(meta["namespace"], "default")
        status, _, body = self.api("POST", POLICIES, policy("crud"))
        self.assertEqual((status, body["reason"]), (409, "AlreadyExists"))

        # PUT without resourceVersion on a custom resource: 422, as the real server.
        status, _, body = self.api("PUT", POLICIES + "/crud", policy("crud", 11))
        self.assertEqual((status, body["reason"]), (422, "Invalid"), body)
        self.assertEqual(body["message"], 'AIInferenceAutoscalerPolicy.kubeai.io "crud" is '
                         'invalid: metadata.resourceVersion: Invalid value: 0x0: must be '
                         'specified for an update')

        # PUT with the current resourceVersion and a changed spec: generation 2; status ignored.
        obj = policy("crud", 12)
        obj["metadata"]["resourceVersion"] = meta["resourceVersion"]
        obj["status"] = {"desiredReplicas": 7}
        status, _, updated = self.api("PUT", POLICIES + "/crud", obj)
        self.assertEqual(status, 200, updated)
        self.assertEqual(updated["metadata"]["generation"], 2)
        self.assertEqual(updated["spec"]["maxReplicas"], 12)
        self.assertNotIn("status", updated)
        self.assertGreater(int(updated["metadata"]["resourceVersion"]),
                           int(meta["resourceVersion"]))

        # The same PUT again carries a stale resourceVersion now: 409 Conflict.
        status, _, body = self.api("PUT", POLICIES + "/crud", obj)
        self.assertEqual((status, body["reason"], body["code"]), (409, "Conflict", 409))
        self.assertIn('aiinferenceautoscalerpolicies.kubeai.io "crud"', body["message"])

        # A metadata-only change does not bump generation.
        status, _, labelled = self.api("PATCH", POLICIES + "/crud",
                                       {"metadata": {"labels": {"a": "b"}}},
                                       "application/merge-patch+json")
        self.assertEqual((status, labelled["metadata"]["generation"]), (200, 2))

        status, _, gone = self.api("DELETE", POLICIES + "/crud")
        self.assertEqual((status, gone["metadata"]["name"]), (200, "crud"))
        status, _, body = self.api("GET", POLICIES + "/crud")
        self.assertEqual((status, body["kind"], body["reason"]), (404, "Status", "NotFound"))
        self.assertEqual(body["message"],
                         'aiinferenceautoscalerpolicies.kubeai.io "crud" not found')
        self.assertEqual(body["details"]["kind"], "aiinferenceautoscalerpolicies")

    def test_status_subresource(self):
        created = self.create(policy("st"))
        rv = created["metadata"]["resourceVersion"]
        patch = {"spec": {"maxReplicas": 99}, "status": {"desiredReplicas": 3,
                                                         "lastAlgorithm": "MaxRatio"}}
        status, _, body = self.api("PATCH", POLICIES + "/st/status", patch,
                                   "application/merge-patch+json")
        self.assertEqual(status, 200, body)
        self.assertEqual(body["status"], {"desiredReplicas": 3, "lastAlgorithm": "MaxRatio"})
        self.assertEqual(body["spec"]["maxReplicas"], 10)  # spec ignored on /status
        self.assertEqual(body["metadata"]["generation"], 1)  # never bumped by status
        self.assertNotEqual(body["metadata"]["resourceVersion"], rv)
        # A main-resource patch ignores status.
        status, _, body = self.api("PATCH", POLICIES + "/st", {"status": {"desiredReplicas": 9}},
                                   "application/merge-patch+json")
        self.assertEqual((status, body["status"]["desiredReplicas"]), (200, 3))
        # JSON patch on /status.
        status, _, body = self.api("PATCH", POLICIES + "/st/status",
                                   [{"op": "replace", "path": "/status/desiredReplicas",
                                     "value": 4}], "application/json-patch+json")
        self.assertEqual((status, body["status"]["desiredReplicas"]), (200, 4))
        # A merge patch carrying a stale resourceVersion: 409.
        status, _, body = self.api("PATCH", POLICIES + "/st/status",
                                   {"metadata": {"resourceVersion": rv},
                                    "status": {"desiredReplicas": 5}},
                                   "application/merge-patch+json")
        self.assertEqual((status, body["reason"]), (409, "Conflict"))
        # PUT /status with a stale resourceVersion: 409.
        stale = dict(created, status={"desiredReplicas": 1})
        status, _, body = self.api("PUT", POLICIES + "/st/status", stale)
        self.assertEqual(status, 409, body)
        # Strategic merge on a custom resource: 415; apply patch: 415.
        for ctype in ("application/strategic-merge-patch+json", "application/apply-patch+yaml"):
            status, _, body = self.api("PATCH", POLICIES + "/st/status",
                                       {"status": {"desiredReplicas": 2}}, ctype)
            self.assertEqual((status, body["reason"]), (415, "UnsupportedMediaType"), ctype)
        status, _, body = self.api("PATCH", POLICIES + "/missing/status",
                                   {"status": {}}, "application/merge-patch+json")
        self.assertEqual(status, 404)

    def test_builtins_strategic_merge_and_scale(self):
        self.em.put_object(deployment("sc", 2))
        status, _, scale = self.api("GET", DEPLOYMENTS + "/sc/scale")
        self.assertEqual(status, 200, scale)
        self.assertEqual((scale["kind"], scale["apiVersion"]), ("Scale", "autoscaling/v1"))
        self.assertEqual((scale["spec"]["replicas"], scale["status"]["replicas"],
                          scale["status"]["selector"]), (2, 2, "app=sc"))
        status, _, scale = self.api("PATCH", DEPLOYMENTS + "/sc/scale",
                                    {"spec": {"replicas": 5}}, "application/merge-patch+json")
        self.assertEqual((status, scale["spec"]["replicas"]), (200, 5))
        _, _, dep = self.api("GET", DEPLOYMENTS + "/sc")
        self.assertEqual(dep["spec"]["replicas"], 5)
        stale = dict(scale, metadata=dict(scale["metadata"], resourceVersion="1"))
        status, _, _ = self.api("PUT", DEPLOYMENTS + "/sc/scale", stale)
        self.assertEqual(status, 409)
        # Strategic merge is accepted on built-ins and merges containers by name.
        status, _, dep = self.api("PATCH", DEPLOYMENTS + "/sc",
                                  {"spec": {"template": {"spec": {"containers": [
                                      {"name": "side", "image": "y"}]}}}},
                                  "application/strategic-merge-patch+json")
        self.assertEqual(status, 200, dep)
        names = [c["name"] for c in dep["spec"]["template"]["spec"]["containers"]]
        self.assertEqual(names, ["main", "side"])
        # A PUT without resourceVersion is an unconditional update for Deployments.
        dep.pop("status", None)
        dep["metadata"].pop("resourceVersion")
        status, _, _ = self.api("PUT", DEPLOYMENTS + "/sc", dep)
        self.assertEqual(status, 200)
        status, _, body = self.api("GET", DEPLOYMENTS + "/nope/scale")
        self.assertEqual((status, body["message"]), (404, 'deployments.apps "nope" not found'))

    def test_scale_spec_and_status_apart(self):
        # A rolling update: 10 asked for, 13 pods (the surge). The Scale says both, each its own.
        surge = deployment("surge", 10)
        surge["status"]["replicas"] = 13
        self.em.put_object(surge)
        _, _, scale = self.api("GET", DEPLOYMENTS + "/surge/scale")
        self.assertEqual((scale["spec"], scale["status"]["replicas"]), ({"replicas": 10}, 13))
        # Scaled to zero while pods terminate: spec.replicas is omitempty, so spec is empty.
        status, _, scale = self.api("PATCH", DEPLOYMENTS + "/surge/scale", {"spec": {"replicas": 0}},
                                    "application/merge-patch+json")
        self.assertEqual((status, scale["spec"], scale["status"]["replicas"]), (200, {}, 13))
        _, _, dep = self.api("GET", DEPLOYMENTS + "/surge")
        self.assertEqual(dep["spec"]["replicas"], 0)
        # Written back as read (no replicas): 0, as the real server decodes an omitted int.
        status, _, scale = self.api("PUT", DEPLOYMENTS + "/surge/scale", scale)
        self.assertEqual((status, scale["spec"]), (200, {}), scale)
        status, _, scale = self.api("PATCH", DEPLOYMENTS + "/surge/scale", {"spec": {"replicas": 3}},
                                    "application/merge-patch+json")
        self.assertEqual((status, scale["spec"], scale["status"]["replicas"]), (200, {"replicas": 3}, 13))

    def test_ready_replicas_on_the_object_set_through_status(self):
        # What `serve --kubernetes` reads of an apps/v1 target: the object's spec.replicas and
        # status.readyReplicas. Create ignores the status (none ready); a status write sets it.
        merge = "application/merge-patch+json"
        for plural, kind in (("deployments", "Deployment"), ("statefulsets", "StatefulSet")):
            collection = "/apis/apps/v1/namespaces/default/" + plural
            body = dict(deployment("ready", 3), kind=kind)
            body["status"] = {"replicas": 3, "readyReplicas": 3}
            status, _, created = self.api("POST", collection, body)
            self.assertEqual((status, created["status"]), (201, {}), created)
            status, _, obj = self.api("PATCH", collection + "/ready/status",
                                      {"status": {"replicas": 3, "readyReplicas": 1}}, merge)
            self.assertEqual((status, obj["spec"]["replicas"], obj["status"]["readyReplicas"]), (200, 3, 1))
            _, _, obj = self.api("GET", collection + "/ready")
            self.assertEqual((obj["spec"]["replicas"], obj["status"]["readyReplicas"]), (3, 1), kind)
            # A status write changes the status only.
            _, _, obj = self.api("PATCH", collection + "/ready/status",
                                 {"spec": {"replicas": 9}, "status": {"readyReplicas": 2}}, merge)
            self.assertEqual((obj["spec"]["replicas"], obj["status"]["readyReplicas"]), (3, 2))
            # A scale (KEDA's HPA, kubectl scale) moves spec.replicas; the ready ones lag behind.
            status, _, _ = self.api("PATCH", collection + "/ready/scale", {"spec": {"replicas": 5}}, merge)
            self.assertEqual(status, 200)
            _, _, obj = self.api("GET", collection + "/ready")
            self.assertEqual((obj["spec"]["replicas"], obj["status"]["readyReplicas"]), (5, 2), kind)
            # A write of the object itself keeps the status.
            _, _, obj = self.api("PATCH", collection + "/ready",
                                 {"metadata": {"labels": {"edited": "yes"}}, "status": {"readyReplicas": 7}}, merge)
            self.assertEqual((obj["metadata"]["labels"], obj["status"]["readyReplicas"]), ({"edited": "yes"}, 2))

    # -- lists -------------------------------------------------------------------------------

    def test_pagination_and_selectors(self):
        ns = "paging"
        coll = f"/apis/kubeai.io/v1alpha1/namespaces/{ns}/aiinferenceautoscalerpolicies"
        for i in range(7):
            self.create(policy(f"p{i}", labels={"tier": "a" if i % 2 else "b"}), coll)
        seen, token, pages, list_rv = [], None, 0, None
        while True:
            q = "?limit=3" + (f"&continue={urllib.parse.quote(token)}" if token else "")
            status, _, body = self.api("GET", coll + q)
            self.assertEqual(status, 200, body)
            self.assertEqual(body["kind"], "AIInferenceAutoscalerPolicyList")
            list_rv = list_rv or body["metadata"]["resourceVersion"]
            self.assertEqual(body["metadata"]["resourceVersion"], list_rv)  # one snapshot RV
            seen += [o["metadata"]["name"] for o in body["items"]]
            pages += 1
            token = body["metadata"].get("continue")
            if not token:
                break
            self.assertLessEqual(len(body["items"]), 3)
        self.assertEqual((seen, pages), ([f"p{i}" for i in range(7)], 3))
        _, _, body = self.api("GET", coll + "?labelSelector=" + urllib.parse.quote("tier=a"))
        self.assertEqual([o["metadata"]["name"] for o in body["items"]], ["p1", "p3", "p5"])
        _, _, body = self.api("GET", coll + "?labelSelector=" +
                              urllib.parse.quote("tier in (b),tier!=a"))
        self.assertEqual(len(body["items"]), 4)
        _, _, body = self.api("GET", coll + "?fieldSelector=metadata.name%3Dp4")
        self.assertEqual([o["metadata"]["name"] for o in body["items"]], ["p4"])
        # Across namespaces at the group path.
        _, _, body = self.api("GET", "/apis/kubeai.io/v1alpha1/aiinferenceautoscalerpolicies")
        self.assertTrue({"paging"} <= {o["metadata"]["namespace"] for o in body["items"]})
        # Built-in list items carry no kind (as the real server); custom resource items do.
        self.em.put_object(deployment("listed"))
        _, _, body = self.api("GET", DEPLOYMENTS)
        self.assertEqual(body["kind"], "DeploymentList")
        self.assertNotIn("kind", body["items"][0])

    # -- watches -----------------------------------------------------------------------------

    def test_watch_framing_bookmarks_and_timeout(self):
        ns = "watching"
        coll = f"/apis/kubeai.io/v1alpha1/namespaces/{ns}/aiinferenceautoscalerpolicies"
        self.create(policy("before"), coll)
        w = RawWatch(self.em.port, coll + "?watch=true&allowWatchBookmarks=true"
                                          "&timeoutSeconds=4", TOKEN)
        try:
            self.assertEqual(w.status, 200)
            self.assertEqual(w.headers.get("transfer-encoding"), "chunked")
            first = w.next_event()
            self.assertEqual((first["type"], first["object"]["metadata"]["name"]),
                             ("ADDED", "before"))
            created = self.create(policy("during"), coll)
            self.api("PATCH", coll + "/during/status", {"status": {"desiredReplicas": 2}},
                     "application/merge-patch+json")
            self.api("DELETE", coll + "/during")
            types, bookmark = [], None
            while len(types) < 3 or bookmark is None:
                ev = w.next_event()
                self.assertIsNotNone(ev, "the watch ended early")
                if ev["type"] == "BOOKMARK":
                    bookmark = ev
                else:
                    self.assertEqual(ev["object"]["metadata"]["name"], "during")
                    types.append(ev["type"])
            self.assertEqual(types, ["ADDED", "MODIFIED", "DELETED"])
            self.assertEqual(set(bookmark["object"]), {"kind", "apiVersion", "metadata"})
            self.assertEqual(bookmark["object"]["kind"], "AIInferenceAutoscalerPolicy")
            self.assertGreater(int(bookmark["object"]["metadata"]["resourceVersion"]),
                               int(created["metadata"]["resourceVersion"]))
            # timeoutSeconds ends the watch cleanly (the terminating chunk).
            deadline = time.monotonic() + 10
            while w.next_event() is not None:
                self.assertLess(time.monotonic(), deadline)
            self.assertTrue(w.ended and not w.cut)
        finally:
            w.close()

    def test_watch_from_resource_version_and_label_selector(self):
        ns = "resume"
        coll = f"/apis/kubeai.io/v1alpha1/namespaces/{ns}/aiinferenceautoscalerpolicies"
        self.create(policy("old", labels={"w": "y"}), coll)
        _, _, listed = self.api("GET", coll)
        rv = listed["metadata"]["resourceVersion"]
        self.create(policy("new", labels={"w": "y"}), coll)
        self.create(policy("other", labels={"w": "n"}), coll)
        w = RawWatch(self.em.port, f"{coll}?watch=1&resourceVersion={rv}&labelSelector=w%3Dy",
                     TOKEN)
        try:
            ev = w.next_event()
            self.assertEqual((ev["type"], ev["object"]["metadata"]["name"]), ("ADDED", "new"))
            # A label change that leaves the selector is a DELETED for this watch.
            self.api("PATCH", coll + "/new", {"metadata": {"labels": {"w": "n"}}},
                     "application/merge-patch+json")
            ev = w.next_event()
            self.assertEqual((ev["type"], ev["object"]["metadata"]["name"]), ("DELETED", "new"))
        finally:
            w.close()

    def test_watch_all_namespaces(self):
        w = RawWatch(self.em.port, "/apis/coordination.k8s.io/v1/leases?watch=true&"
                                   "resourceVersion=" + self.current_rv(), TOKEN)
        try:
            lease = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                     "metadata": {"name": "l1"}, "spec": {"holderIdentity": "a"}}
            status, _, _ = self.api("POST", "/apis/coordination.k8s.io/v1/namespaces/ha/leases",
                                    lease)
            self.assertEqual(status, 201)
            ev = w.next_event()
            self.assertEqual((ev["type"], ev["object"]["metadata"]["namespace"]), ("ADDED", "ha"))
            # Leases refuse an update without resourceVersion, as the real server.
            status, _, _ = self.api("PUT", "/apis/coordination.k8s.io/v1/namespaces/ha/leases/l1",
                                    lease)
            self.assertEqual(status, 422)
        finally:
            w.close()

    def current_rv(self):
        _, _, body = self.api("GET", "/api/v1/namespaces")
        return body["metadata"]["resourceVersion"]

    # -- auth --------------------------------------------------------------------------------

    def test_wrong_or_missing_token_is_401(self):
        for token in (None, "wrong"):
            status, _, body = self.em.request("GET", POLICIES, token=token)
            self.assertEqual(status, 401)
            self.assertEqual((body["kind"], body["status"], body["reason"], body["code"]),
                             ("Status", "Failure", "Unauthorized", 401))
        status, _, text = self.em.request("GET", "/healthz")
        self.assertEqual((status, text), (200, "ok"))

    # -- request log and failure injection ---------------------------------------------------

    def test_request_log(self):
        self.em.control("POST", "requests/clear")
        self.api("PATCH", POLICIES + "/logged/status", {"status": {}},
                 "application/merge-patch+json")
        self.api("GET", POLICIES + "?limit=2")
        log = self.em.control("GET", "requests")
        self.assertEqual([(r["method"], r["path"], r["status"]) for r in log],
                         [("PATCH", POLICIES + "/logged/status", 404), ("GET", POLICIES, 200)])
        self.assertEqual(log[0]["contentType"], "application/merge-patch+json")
        self.assertEqual(log[1]["query"], "limit=2")
        # A watch is in the log while it runs.
        w = RawWatch(self.em.port, POLICIES + "?watch=true", TOKEN)
        try:
            self.assertEqual(w.status, 200)
            log = self.em.control("GET", "requests")
            self.assertEqual((log[-1]["query"], log[-1]["status"]), ("watch=true", 200))
        finally:
            w.close()

    def test_fail_injection(self):
        self.em.control("POST", "fail?status=503&count=2&path=deployments")
        codes = [self.api("GET", DEPLOYMENTS)[0] for _ in range(3)]
        self.assertEqual(codes, [503, 503, 200])
        self.em.control("POST", "fail?status=429&count=1")
        status, headers, body = self.api("GET", "/api/v1/namespaces")
        self.assertEqual((status, headers.get("Retry-After"), body["reason"]),
                         (429, "1", "TooManyRequests"))
        # Only matching paths count down.
        self.em.control("POST", "fail?status=500&count=1&path=/leases")
        self.assertEqual(self.api("GET", DEPLOYMENTS)[0], 200)
        self.assertEqual(self.api("GET", "/apis/coordination.k8s.io/v1/leases")[0], 500)

    def test_fail_storm_for_seconds(self):
        # seconds=S fails every matching request (watches too) until S has passed, with the
        # Retry-After asked for; the request log says when each request came and how it ended.
        self.em.control("POST", "requests/clear")
        self.em.control("POST", "fail?status=429&seconds=0.6&retryAfter=7&path=deployments")
        codes = [self.api("GET", DEPLOYMENTS)[:2] for _ in range(3)]
        self.assertEqual([(c, h.get("Retry-After")) for c, h in codes], [(429, "7")] * 3)
        w = RawWatch(self.em.port, DEPLOYMENTS + "?watch=true", TOKEN)
        try:
            self.assertEqual((w.status, w.headers.get("retry-after")), (429, "7"))
        finally:
            w.close()
        self.assertEqual(self.api("GET", POLICIES)[0], 200)  # another path is not failed
        self.em.control("POST", "fail?status=503&seconds=1&userAgent=kubeai-scaler")
        self.assertEqual(self.api("GET", POLICIES)[0], 200)  # nor another client
        self.assertEqual(self.api("GET", POLICIES, headers={"User-Agent": "kubeai-scaler/1"})[0], 503)
        wait_for(lambda: self.api("GET", DEPLOYMENTS)[0] == 200, timeout=5, what="the storm's end")
        log = [r for r in self.em.control("GET", "requests") if "deployments" in r["path"]]
        self.assertEqual([r["status"] for r in log[:4]], [429] * 4)
        self.assertEqual(log[-1]["status"], 200)
        self.assertGreaterEqual(log[-1]["time"] - log[0]["time"], 0.5)
        self.assertEqual(sorted(r["time"] for r in log), [r["time"] for r in log])


    def test_bulk_put_of_a_list(self):
        # PUT /_emulator/objects with a JSON list stores them all in one request (set-ups of
        # 100,000 objects); a paginated list of them copies one page, with the count left.
        objs = [policy("bulk-%d" % i, labels={"bulk": "yes"}) for i in range(3)]
        body = self.em.control("PUT", "objects", objs + [deployment("bulk-web")])
        self.assertEqual(body["count"], 4)
        self.assertEqual(self.api("GET", POLICIES + "/bulk-1")[2]["metadata"]["generation"], 1)
        self.assertEqual(self.api("GET", DEPLOYMENTS + "/bulk-web")[0], 200)
        _, _, page = self.api("GET", POLICIES + "?limit=1&labelSelector=bulk%3Dyes")
        self.assertEqual([o["metadata"]["name"] for o in page["items"]], ["bulk-0"])
        self.assertEqual(page["metadata"]["remainingItemCount"], 2)
        token = urllib.parse.quote(page["metadata"]["continue"])
        _, _, page = self.api("GET", POLICIES + "?limit=2&labelSelector=bulk%3Dyes&continue=" + token)
        self.assertEqual([o["metadata"]["name"] for o in page["items"]], ["bulk-1", "bulk-2"])
        self.assertNotIn("continue", page["metadata"])
        # A bad item refuses the whole list: nothing of it is stored.
        status, _, body = self.em.request("PUT", "/_emulator/objects",
                                          [policy("bulk-never"), {"kind": "Nothing"}])
        self.assertEqual(status, 400)
        self.assertIn("item 1", body["message"])
        self.assertEqual(self.api("GET", POLICIES + "/bulk-never")[0], 404)


class TokenFileTest(unittest.TestCase):
    def test_token_file_is_reread(self):
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "token")
            with open(path, "w") as f:
                f.write("first\n")
            with Emulator("--token-file", path) as em:
                self.assertEqual(em.request("GET", "/api", token="first")[0], 200)
                with open(path + ".new", "w") as f:
                    f.write("second")
                os.replace(path + ".new", path)
                self.assertEqual(em.request("GET", "/api", token="first")[0], 401)
                self.assertEqual(em.request("GET", "/api", token="second")[0], 200)


class OptionsTest(unittest.TestCase):
    """Options beyond the defaults: client certificates, simulated controllers, no auth."""

    def test_client_certificate_authenticates(self):
        with tempfile.TemporaryDirectory() as d:
            certs = make_certs(d)
            subprocess.run(["openssl", "req", "-newkey", "rsa:2048", "-nodes", "-keyout",
                            "client.key", "-out", "client.csr", "-subj", "/CN=tester"],
                           check=True, capture_output=True, cwd=d)
            subprocess.run(["openssl", "x509", "-req", "-in", "client.csr", "-CA", "ca.crt",
                            "-CAkey", "ca.key", "-CAcreateserial", "-out", "client.crt",
                            "-days", "2"], check=True, capture_output=True, cwd=d)
            with Emulator("--token", TOKEN, "--client-ca", certs["ca"], tls=certs) as em:
                self.assertTrue(em.url.startswith("https://"))
                self.assertEqual(em.request("GET", "/api")[0], 401)
                self.assertEqual(em.request("GET", "/api", token=TOKEN)[0], 200)
                ctx = ssl.create_default_context(cafile=certs["ca"])
                ctx.load_cert_chain(os.path.join(d, "client.crt"), os.path.join(d, "client.key"))
                with urllib.request.urlopen(em.url + "/api", context=ctx, timeout=10) as resp:
                    self.assertEqual(resp.status, 200)

    def test_generated_certificates(self):
        with tempfile.TemporaryDirectory() as d:
            with Emulator("--tls-generate", d, "--client-ca", os.path.join(d, "ca.crt")) as em:
                ctx = ssl.create_default_context(cafile=os.path.join(d, "ca.crt"))
                with self.assertRaises(urllib.error.HTTPError) as err:
                    urllib.request.urlopen(f"https://127.0.0.1:{em.port}/api", context=ctx,
                                           timeout=10)
                self.assertEqual(err.exception.code, 401)  # --client-ca: a cert is needed
                ctx.load_cert_chain(os.path.join(d, "client.crt"), os.path.join(d, "client.key"))
                with urllib.request.urlopen(f"https://localhost:{em.port}/api", context=ctx,
                                            timeout=10) as resp:
                    self.assertEqual(resp.status, 200)

    def test_simulated_controllers_and_no_auth(self):
        with Emulator("--simulate-controllers") as em:
            status, _, dep = em.request("POST", DEPLOYMENTS, deployment("ctl", 2))
            self.assertEqual((status, dep["status"]["replicas"]), (201, 2))
            em.request("PATCH", DEPLOYMENTS + "/ctl/scale", {"spec": {"replicas": 6}},
                       content_type="application/merge-patch+json")
            _, _, scale = em.request("GET", DEPLOYMENTS + "/ctl/scale")
            self.assertEqual((scale["spec"]["replicas"], scale["status"]["replicas"]), (6, 6))
            _, _, dep = em.request("GET", DEPLOYMENTS + "/ctl")
            self.assertEqual(dep["status"]["readyReplicas"], 6)  # every replica ready at once

    def test_watch_list_initial_events_end_bookmark(self):
        with Emulator() as em:
            em.request("POST", POLICIES, policy("a"))
            w = RawWatch(em.port, POLICIES + "?watch=true&sendInitialEvents=true&"
                                             "resourceVersionMatch=NotOlderThan&"
                                             "allowWatchBookmarks=true")
            try:
                self.assertEqual(w.next_event()["type"], "ADDED")
                ev = w.next_event()
                self.assertEqual(ev["type"], "BOOKMARK")
                self.assertEqual(ev["object"]["metadata"]["annotations"],
                                 {"k8s.io/initial-events-end": "true"})
            finally:
                w.close()

    def test_dry_run_changes_nothing(self):
        with Emulator() as em:
            status, _, _ = em.request("POST", POLICIES + "?dryRun=All", policy("dry"))
            self.assertEqual(status, 201)
            self.assertEqual(em.request("GET", POLICIES + "/dry")[0], 404)


class DisruptionTest(unittest.TestCase):
    """Compaction, cut watches and going offline, each on its own emulator."""

    def setUp(self):
        self.em = Emulator("--page-size-max", "2").start()

    def tearDown(self):
        self.em.stop()

    def test_compact_expires_old_resource_versions(self):
        for i in range(5):
            self.em.request("POST", POLICIES, policy(f"c{i}"))
        status, _, page = self.em.request("GET", POLICIES + "?limit=100")
        # --page-size-max 2 caps what a client asks for.
        self.assertEqual((status, len(page["items"]), page["metadata"]["remainingItemCount"]),
                         (200, 2, 3))
        old_rv = page["metadata"]["resourceVersion"]
        self.em.request("POST", POLICIES, policy("after"))
        compacted = self.em.control("POST", "compact")["compactedResourceVersion"]
        self.assertGreater(int(compacted), int(old_rv))
        status, _, body = self.em.request(
            "GET", POLICIES + "?limit=2&continue=" +
            urllib.parse.quote(page["metadata"]["continue"]))
        self.assertEqual((status, body["reason"], body["code"]), (410, "Expired", 410))
        w = RawWatch(self.em.port, f"{POLICIES}?watch=true&resourceVersion={old_rv}")
        try:
            ev = w.next_event()
            self.assertEqual(ev["type"], "ERROR")
            self.assertEqual((ev["object"]["kind"], ev["object"]["code"],
                              ev["object"]["reason"]), ("Status", 410, "Expired"))
            self.assertIsNone(w.next_event())
            self.assertTrue(w.ended)
        finally:
            w.close()
        # Resuming from the compaction point itself works.
        w = RawWatch(self.em.port, f"{POLICIES}?watch=true&resourceVersion={compacted}")
        try:
            self.em.request("POST", POLICIES, policy("later"))
            ev = w.next_event()
            self.assertEqual((ev["type"], ev["object"]["metadata"]["name"]), ("ADDED", "later"))
        finally:
            w.close()

    def test_cut_watches_ends_streams_without_the_last_chunk(self):
        w = RawWatch(self.em.port, POLICIES + "?watch=true")
        try:
            self.em.request("POST", POLICIES, policy("x"))
            self.assertEqual(w.next_event()["type"], "ADDED")
            self.em.control("POST", "cut-watches")
            self.assertIsNone(w.next_event())
            self.assertTrue(w.cut and not w.ended)
        finally:
            w.close()
        self.assertEqual(self.em.request("GET", POLICIES)[0], 200)  # still serving

    def test_offline_then_back_with_state(self):
        self.em.request("POST", POLICIES, policy("kept"))
        w = RawWatch(self.em.port, POLICIES + "?watch=true&resourceVersion=0")
        try:
            self.assertEqual(w.next_event()["type"], "ADDED")
            self.em.control("POST", "offline?seconds=1.5")
            started = time.monotonic()

            def refused():
                try:
                    socket.create_connection(("127.0.0.1", self.em.port), timeout=1).close()
                    return False
                except ConnectionRefusedError:
                    return True
            wait_for(refused, 5, what="the listening socket to close")
            self.assertIsNone(w.next_event())
            self.assertTrue(w.cut)
        finally:
            w.close()
        status = wait_for(lambda: self.em.request("GET", POLICIES + "/kept")[0] == 200, 10,
                          what="the emulator to come back")
        self.assertTrue(status)
        self.assertGreater(time.monotonic() - started, 1.0)


if __name__ == "__main__":
    unittest.main()
