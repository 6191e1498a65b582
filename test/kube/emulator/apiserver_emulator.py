#!/usr/bin/python3
"""A test-only emulator of the Kubernetes API server (standard library only).

No kube-apiserver can run on the test machines, so the Kubernetes adapters are
tested against this emulator. It follows the real API's conventions closely
enough for the real kubectl (checked by kubectl_test.py) and for our client:

  * discovery (/api, /apis, /api/v1, /apis/G/V), /version, a small OpenAPI v3
    document (so that `kubectl apply` validates on the server side and needs no
    --validate=false), Table output for `kubectl get`;
  * CRUD for kubeai.io/v1alpha1 aiinferenceautoscalerpolicies (a custom
    resource), apps/v1 deployments and statefulsets, core/v1 events and
    namespaces, coordination.k8s.io/v1 leases; /status and /scale subresources;
  * resourceVersion (one global counter), uid, creationTimestamp, generation;
    409 on a stale resourceVersion, 422 for a PUT without resourceVersion on a
    custom resource (or a Lease), 415 for strategic merge on custom resources;
  * paginated lists (limit/continue, 410 for a continue token older than the
    compaction point), label and field selectors;
  * watches: one JSON event per line, chunked; bookmarks; ERROR 410 Expired for a
    resourceVersion older than the compaction point; timeoutSeconds;
  * bearer-token authentication (a token file re-read on every request);
  * /_emulator/* control endpoints for tests (compaction, cutting watches,
    failure injection, going offline, the request log, raw object set-up).

Run: /usr/bin/python3 apiserver_emulator.py [--port 0] [--token T | --token-file F]
     [--tls-cert PEM --tls-key PEM | --tls-generate DIR] [--client-ca PEM] [--page-size-max N]
     [--simulate-controllers] [--verbose]
It prints one line `listening on 127.0.0.1:PORT` once ready, and stops on SIGTERM/SIGINT.
"""

import argparse
import base64
import bisect
import copy
import datetime
import http.server
import json
import os
import re
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
import urllib.parse
import uuid

# --------------------------------------------------------------------------------------------
# Resource descriptors
# --------------------------------------------------------------------------------------------

ALL_VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]


class ResourceType:
    """What the API knows about one resource: names, scope, subresources and write rules."""

    def __init__(self, group, version, plural, singular, kind, namespaced, short_names=(),
                 categories=(), status=False, scale=False, custom=False, generation=False,
                 unconditional_update=True, create_on_update=False, columns=None):
        self.group = group
        self.version = version
        self.plural = plural
        self.singular = singular
        self.kind = kind
        self.namespaced = namespaced
        self.short_names = list(short_names)
        self.categories = list(categories)
        self.status = status            # has a /status subresource
        self.scale = scale              # has a /scale subresource (autoscaling/v1 Scale)
        self.custom = custom            # a custom resource (CRD): no strategic merge, etc.
        self.generation = generation    # metadata.generation tracks spec changes
        # Real strategies: custom resources and Leases refuse an update without resourceVersion.
        self.unconditional_update = unconditional_update
        self.create_on_update = create_on_update
        self.columns = columns or []    # extra Table columns: (name, type, function(obj))

    @property
    def api_version(self):
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def qualified(self):
        """The name used in error messages: `deployments.apps`, `events`."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    @property
    def key(self):
        return (self.group, self.plural)


def _path(obj, dotted, default=None):
    cur = obj
    for part in dotted.split("."):
        if not isinstance(cur, dict) or part not in cur:
            return default
        cur = cur[part]
    return cur


def _deployment_ready(obj):
    return f"{_path(obj, 'status.readyReplicas', 0)}/{_path(obj, 'spec.replicas', 1)}"


RESOURCES = [
    ResourceType("kubeai.io", "v1alpha1", "aiinferenceautoscalerpolicies",
                 "aiinferenceautoscalerpolicy", "AIInferenceAutoscalerPolicy", True,
                 short_names=["aiap", "aipolicy"], categories=["all"], status=True, custom=True,
                 generation=True, unconditional_update=False,
                 columns=[("Target", "string", lambda o: _path(o, "spec.targetRef.name")),
                          ("Min", "integer", lambda o: _path(o, "spec.minReplicas")),
                          ("Max", "integer", lambda o: _path(o, "spec.maxReplicas")),
                          ("Current", "integer", lambda o: _path(o, "status.currentReplicas")),
                          ("Desired", "integer", lambda o: _path(o, "status.desiredReplicas")),
                          ("Algorithm", "string", lambda o: _path(o, "status.lastAlgorithm"))]),
    ResourceType("apps", "v1", "deployments", "deployment", "Deployment", True,
                 short_names=["deploy"], categories=["all"], status=True, scale=True,
                 generation=True,
                 columns=[("Ready", "string", _deployment_ready),
                          ("Up-to-date", "integer",
                           lambda o: _path(o, "status.updatedReplicas", 0)),
                          ("Available", "integer",
                           lambda o: _path(o, "status.availableReplicas", 0))]),
    ResourceType("apps", "v1", "statefulsets", "statefulset", "StatefulSet", True,
                 short_names=["sts"], categories=["all"], status=True, scale=True, generation=True,
                 columns=[("Ready", "string", _deployment_ready)]),
    ResourceType("", "v1", "events", "event", "Event", True, short_names=["ev"],
                 create_on_update=True,
                 columns=[("Type", "string", lambda o: o.get("type")),
                          ("Reason", "string", lambda o: o.get("reason")),
                          ("Object", "string", lambda o: "%s/%s" % (
                              str(_path(o, "involvedObject.kind", "")).lower(),
                              _path(o, "involvedObject.name", ""))),
                          ("Count", "integer", lambda o: o.get("count")),
                          ("Message", "string", lambda o: o.get("message"))]),
    ResourceType("", "v1", "namespaces", "namespace", "Namespace", False, short_names=["ns"],
                 columns=[("Status", "string", lambda o: _path(o, "status.phase", "Active"))]),
    ResourceType("coordination.k8s.io", "v1", "leases", "lease", "Lease", True,
                 unconditional_update=False,
                 columns=[("Holder", "string", lambda o: _path(o, "spec.holderIdentity", ""))]),
]

# Group versions served, in discovery order.
GROUP_VERSIONS = [("", "v1"), ("apps", "v1"), ("coordination.k8s.io", "v1"),
                  ("kubeai.io", "v1alpha1")]


def resources_of(group, version):
    return [r for r in RESOURCES if r.group == group and r.version == version]


def find_resource(group, version, plural):
    for r in RESOURCES:
        if r.group == group and r.version == version and r.plural == plural:
            return r
    return None


def find_resource_by_kind(api_version, kind):
    for r in RESOURCES:
        if r.api_version == api_version and r.kind == kind:
            return r
    return None


# --------------------------------------------------------------------------------------------
# Errors as metav1.Status
# --------------------------------------------------------------------------------------------

REASONS = {400: "BadRequest", 401: "Unauthorized", 403: "Forbidden", 404: "NotFound",
           405: "MethodNotAllowed", 406: "NotAcceptable", 409: "Conflict", 410: "Expired",
           415: "UnsupportedMediaType", 422: "Invalid", 429: "TooManyRequests",
           500: "InternalError", 503: "ServiceUnavailable", 504: "Timeout"}


class ApiError(Exception):
    def __init__(self, code, message, reason=None, details=None, headers=None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.reason = reason or REASONS.get(code, "Unknown")
        self.details = details
        self.headers = headers or {}

    def status(self):
        return status_object(self.code, self.message, self.reason, self.details)


def status_object(code, message, reason, details=None):
    body = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": message, "reason": reason, "code": code}
    if details is not None:
        body["details"] = details
    return body


def not_found(rt, name):
    return ApiError(404, f'{rt.qualified} "{name}" not found', "NotFound",
                    {"name": name, "group": rt.group, "kind": rt.plural})


def conflict(rt, name, why="the object has been modified; please apply your changes to the "
                         "latest version and try again"):
    return ApiError(409, f'Operation cannot be fulfilled on {rt.qualified} "{name}": {why}',
                    "Conflict", {"name": name, "group": rt.group, "kind": rt.plural})


def invalid(rt, name, field, message, value=None, shown=None):
    """422 Invalid as the real server words it; `shown` overrides how the value is printed."""
    if shown is None and value is not None:
        shown = json.dumps(value)
    detail = f"Invalid value: {shown}: {message}" if shown is not None else message
    return ApiError(422, f'{rt.kind}.{rt.group or "core"} "{name}" is invalid: {field}: {detail}',
                    "Invalid", {"name": name, "group": rt.group, "kind": rt.kind,
                                "causes": [{"reason": "FieldValueInvalid",
                                            "message": detail, "field": field}]})


# --------------------------------------------------------------------------------------------
# Patches: JSON merge patch (RFC 7386), JSON patch (RFC 6902), strategic merge (built-ins)
# --------------------------------------------------------------------------------------------

def merge_patch(target, patch):
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for k, v in patch.items():
        if v is None:
            result.pop(k, None)
        else:
            result[k] = merge_patch(result.get(k), v)
    return result


def _pointer(path):
    if path == "":
        return []
    if not path.startswith("/"):
        raise ApiError(422, f"invalid JSON pointer {path!r}")
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _container(doc, parts, path):
    cur = doc
    for p in parts[:-1]:
        if isinstance(cur, dict) and p in cur:
            cur = cur[p]
        elif isinstance(cur, list) and p.isdigit() and int(p) < len(cur):
            cur = cur[int(p)]
        else:
            raise ApiError(422, f"the server rejected our request due to an error in our "
                                f"request: doc is missing path: {path!r}")
    return cur


def _get(doc, path):
    parts = _pointer(path)
    if not parts:
        return doc
    cur = _container(doc, parts, path)
    last = parts[-1]
    if isinstance(cur, dict) and last in cur:
        return cur[last]
    if isinstance(cur, list) and last.isdigit() and int(last) < len(cur):
        return cur[int(last)]
    raise ApiError(422, f"the server rejected our request due to an error in our request: "
                        f"doc is missing path: {path!r}")


def _remove(doc, path):
    parts = _pointer(path)
    cur = _container(doc, parts, path)
    last = parts[-1]
    if isinstance(cur, dict) and last in cur:
        return cur.pop(last)
    if isinstance(cur, list) and last.isdigit() and int(last) < len(cur):
        return cur.pop(int(last))
    raise ApiError(422, f"the server rejected our request due to an error in our request: "
                        f"unable to remove nonexistent key: {path!r}")


def _add(doc, path, value, replace=False):
    parts = _pointer(path)
    if not parts:
        return value
    cur = _container(doc, parts, path)
    last = parts[-1]
    if isinstance(cur, dict):
        if replace and last not in cur:
            raise ApiError(422, f"the server rejected our request due to an error in our "
                                f"request: replace operation does not apply: doc is missing "
                                f"key: {path!r}")
        cur[last] = value
    elif isinstance(cur, list):
        if last == "-" and not replace:
            cur.append(value)
        elif last.isdigit() and int(last) <= len(cur) - (1 if replace else 0):
            if replace:
                cur[int(last)] = value
            else:
                cur.insert(int(last), value)
        else:
            raise ApiError(422, f"the server rejected our request due to an error in our "
                                f"request: index out of range: {path!r}")
    else:
        raise ApiError(422, f"the server rejected our request due to an error in our request: "
                            f"doc is missing path: {path!r}")
    return doc


def json_patch(doc, ops):
    if not isinstance(ops, list):
        raise ApiError(400, "the body of a json patch must be a list of operations")
    doc = copy.deepcopy(doc)
    for op in ops:
        kind = op.get("op") if isinstance(op, dict) else None
        path = op.get("path", "") if isinstance(op, dict) else ""
        if kind == "add":
            doc = _add(doc, path, copy.deepcopy(op.get("value")))
        elif kind == "remove":
            _remove(doc, path)
        elif kind == "replace":
            doc = _add(doc, path, copy.deepcopy(op.get("value")), replace=True)
        elif kind == "move":
            value = _remove(doc, op.get("from", ""))
            doc = _add(doc, path, value)
        elif kind == "copy":
            doc = _add(doc, path, copy.deepcopy(_get(doc, op.get("from", ""))))
        elif kind == "test":
            if _get(doc, path) != op.get("value"):
                raise ApiError(422, f"the server rejected our request due to an error in our "
                                    f"request: testing value {path} failed")
        else:
            raise ApiError(422, f"the server rejected our request due to an error in our "
                                f"request: Unexpected kind: {kind}")
    return doc


# Merge keys of the lists that built-in types merge element-wise under strategic merge patch.
MERGE_KEYS = {"containers": "name", "initContainers": "name", "ephemeralContainers": "name",
              "env": "name", "ports": "containerPort", "volumes": "name",
              "volumeMounts": "mountPath", "volumeDevices": "devicePath", "conditions": "type",
              "imagePullSecrets": "name", "ownerReferences": "uid", "hostAliases": "ip",
              "topologySpreadConstraints": "topologyKey", "envFrom": None}
MERGE_PRIMITIVE_LISTS = {"finalizers"}


def strategic_merge(target, patch):
    """A strategic merge patch good enough for what kubectl sends for the built-in types here."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    if patch.get("$patch") == "replace":
        return {k: copy.deepcopy(v) for k, v in patch.items() if k != "$patch"}
    if patch.get("$patch") == "delete":
        return None
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    retain = patch.get("$retainKeys")
    if isinstance(retain, list):
        for k in list(result):
            if k not in retain:
                del result[k]
    for k, v in patch.items():
        if k.startswith("$setElementOrder/") or k in ("$retainKeys", "$patch"):
            continue
        if k.startswith("$deleteFromPrimitiveList/"):
            field = k.split("/", 1)[1]
            if isinstance(result.get(field), list):
                result[field] = [x for x in result[field] if x not in v]
            continue
        if v is None:
            result.pop(k, None)
        elif isinstance(v, list) and MERGE_KEYS.get(k) and isinstance(result.get(k), list):
            key = MERGE_KEYS[k]
            merged = copy.deepcopy(result[k])
            for element in v:
                if not isinstance(element, dict) or key not in element:
                    merged = copy.deepcopy(v)
                    break
                index = next((i for i, e in enumerate(merged)
                              if isinstance(e, dict) and e.get(key) == element[key]), None)
                if element.get("$patch") == "delete":
                    if index is not None:
                        merged.pop(index)
                elif index is None:
                    merged.append(strategic_merge({}, element))
                else:
                    merged[index] = strategic_merge(merged[index], element)
            result[k] = merged
        elif isinstance(v, list) and k in MERGE_PRIMITIVE_LISTS and isinstance(result.get(k), list):
            result[k] = result[k] + [x for x in v if x not in result[k]]
        elif isinstance(v, dict):
            merged = strategic_merge(result.get(k), v)
            if merged is None:
                result.pop(k, None)
            else:
                result[k] = merged
        else:
            result[k] = copy.deepcopy(v)
    return result


# --------------------------------------------------------------------------------------------
# Selectors
# --------------------------------------------------------------------------------------------

_SET_RE = re.compile(r"^\s*([A-Za-z0-9_./-]+)\s+(in|notin)\s*\(([^)]*)\)\s*$")
_CMP_RE = re.compile(r"^\s*([A-Za-z0-9_./-]+)\s*(==|!=|=)\s*([A-Za-z0-9_.-]*)\s*$")
_EXISTS_RE = re.compile(r"^\s*(!?)\s*([A-Za-z0-9_./-]+)\s*$")


def _split_selector(text):
    parts, depth, cur = [], 0, ""
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    if cur.strip():
        parts.append(cur)
    return parts


def label_matcher(text):
    """Return a predicate over a labels dict for a labelSelector string (equality and set based)."""
    tests = []
    for term in _split_selector(text or ""):
        m = _SET_RE.match(term)
        if m:
            key, op, values = m.group(1), m.group(2), {v.strip() for v in m.group(3).split(",")}
            if op == "in":
                tests.append(lambda l, k=key, vs=values: l.get(k) in vs)
            else:
                tests.append(lambda l, k=key, vs=values: l.get(k) not in vs)
            continue
        m = _CMP_RE.match(term)
        if m:
            key, op, value = m.groups()
            if op == "!=":
                tests.append(lambda l, k=key, v=value: l.get(k) != v)
            else:
                tests.append(lambda l, k=key, v=value: l.get(k) == v)
            continue
        m = _EXISTS_RE.match(term)
        if m:
            neg, key = m.groups()
            if neg:
                tests.append(lambda l, k=key: k not in l)
            else:
                tests.append(lambda l, k=key: k in l)
            continue
        raise ApiError(400, f"unable to parse requirement: invalid label selector {text!r}")
    return lambda labels: all(t(labels or {}) for t in tests)


def field_matcher(text):
    """A fieldSelector: equality terms over dotted paths (metadata.name, involvedObject.uid)."""
    tests = []
    for term in _split_selector(text or ""):
        m = _CMP_RE.match(term)
        if not m:
            raise ApiError(400, f"invalid field selector {text!r}")
        key, op, value = m.groups()

        def get(obj, k=key):
            v = _path(obj, k)
            return "" if v is None else str(v)
        if op == "!=":
            tests.append(lambda o, g=get, v=value: g(o) != v)
        else:
            tests.append(lambda o, g=get, v=value: g(o) == v)
    return lambda obj: all(t(obj) for t in tests)


# --------------------------------------------------------------------------------------------
# The store: objects, one resourceVersion counter, the event log that watches read
# --------------------------------------------------------------------------------------------

def now_rfc3339():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _sort_key(key):
    """List order of a (namespace or None, name) key: by namespace, then name."""
    return (key[0] or "", key[1])


class Store:
    """All objects and the history of changes, under one condition variable."""

    LOG_LIMIT = 100000

    def __init__(self):
        self.cond = threading.Condition()
        self.rv = 100
        self.objects = {r.key: {} for r in RESOURCES}
        self.log = []             # (rv, type, resource key, object, previous object)
        self.compacted_rv = 0     # a resourceVersion below this is expired
        self.cut_generation = 0   # bumped by /_emulator/cut-watches
        self.closing = False
        self.simulate_controllers = False
        self.sorted_keys = {}     # resource key -> (its keys, the keys in list order)
        for ns in ("default", "kube-system", "kube-public", "kube-node-lease"):
            self.raw_put({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns},
                          "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}})

    # -- helpers (call with the lock held) ---------------------------------------------------

    def _next_rv(self):
        self.rv += 1
        return str(self.rv)

    def _record(self, rt, type_, obj, old=None):
        self.log.append((int(obj["metadata"]["resourceVersion"]), type_, rt.key,
                         copy.deepcopy(obj), copy.deepcopy(old)))
        # Trimmed a tenth at a time: trimming on every record past the limit copied 100,000
        # entries per write, which made set-ups of 100,000+ objects quadratic.
        if len(self.log) > self.LOG_LIMIT + self.LOG_LIMIT // 10:
            dropped = self.log[: len(self.log) - self.LOG_LIMIT]
            self.log = self.log[len(self.log) - self.LOG_LIMIT:]
            self.compacted_rv = max(self.compacted_rv, dropped[-1][0])
        self.cond.notify_all()

    def _ensure_namespace(self, ns):
        # Lenient on purpose: tests create objects in any namespace without creating it first
        # (the real server answers 404 for a missing namespace).
        if ns and ("", ns) not in self.objects[("", "namespaces")] and \
                (None, ns) not in self.objects[("", "namespaces")]:
            rt = find_resource("", "v1", "namespaces")
            obj = {"apiVersion": "v1", "kind": "Namespace",
                   "metadata": {"name": ns, "uid": str(uuid.uuid4()),
                                "creationTimestamp": now_rfc3339(),
                                "resourceVersion": self._next_rv()},
                   "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}}
            self.objects[rt.key][(None, ns)] = obj
            self._record(rt, "ADDED", obj)

    @staticmethod
    def _bucket_key(rt, ns, name):
        return (ns if rt.namespaced else None, name)

    @staticmethod
    def _spec_part(rt, obj):
        """What counts as 'spec' for generation: everything but metadata and status."""
        return {k: v for k, v in obj.items()
                if k not in ("metadata", "status", "apiVersion", "kind")}

    def _sorted_keys(self, rt):
        """The resource's keys in list order, sorted again only when the set of keys changed:
        sorting 100,000 for every page of a paginated list made it quadratic."""
        bucket = self.objects[rt.key]
        cached = self.sorted_keys.get(rt.key)
        if cached is None or cached[0] != bucket.keys():
            cached = (set(bucket), sorted(bucket, key=_sort_key))
            self.sorted_keys[rt.key] = cached
        return cached[1]

    # -- reads ---------------------------------------------------------------------------------

    def get(self, rt, ns, name):
        with self.cond:
            obj = self.objects[rt.key].get(self._bucket_key(rt, ns, name))
            if obj is None:
                raise not_found(rt, name)
            return copy.deepcopy(obj)

    def list(self, rt, ns, match, start_after=None, limit=0):
        """Sorted (namespace, name) snapshot of matching objects, the current rv, and how many
        more match past `limit` (0: no limit). Only the objects returned are copied: copying
        every remaining one for each page made a paginated list of 100,000 quadratic."""
        with self.cond:
            items, more = [], 0
            bucket = self.objects[rt.key]
            keys = self._sorted_keys(rt)
            begin = 0 if start_after is None else bisect.bisect_right(keys, start_after, key=_sort_key)
            for key in keys[begin:]:
                if ns and key[0] != ns:
                    continue
                obj = bucket[key]
                if match(obj):
                    if limit and len(items) >= limit:
                        more += 1
                    else:
                        items.append(copy.deepcopy(obj))
            return items, self.rv, more

    # -- writes ----------------------------------------------------------------------------------

    def create(self, rt, ns, obj, dry_run=False):
        with self.cond:
            meta = obj.setdefault("metadata", {})
            if not isinstance(meta, dict):
                raise ApiError(400, "metadata must be an object")
            if rt.namespaced:
                if meta.get("namespace") and meta["namespace"] != ns:
                    raise ApiError(400, "the namespace of the provided object does not match "
                                        "the namespace sent on the request")
                meta["namespace"] = ns
            else:
                meta.pop("namespace", None)
            if not meta.get("name"):
                if meta.get("generateName"):
                    meta["name"] = meta["generateName"] + uuid.uuid4().hex[:5]
                else:
                    raise invalid(rt, "", "metadata.name",
                                  "Required value: name or generateName is required")
            name = meta["name"]
            if meta.get("resourceVersion"):
                raise ApiError(500, "resourceVersion should not be set on objects to be created")
            bucket = self.objects[rt.key]
            key = self._bucket_key(rt, ns, name)
            if key in bucket:
                raise ApiError(409, f'{rt.qualified} "{name}" already exists', "AlreadyExists",
                               {"name": name, "group": rt.group, "kind": rt.plural})
            obj["apiVersion"], obj["kind"] = rt.api_version, rt.kind
            if rt.status:
                obj.pop("status", None)   # create ignores status when there is a subresource
            if rt.kind in ("Deployment", "StatefulSet"):
                obj.setdefault("spec", {}).setdefault("replicas", 1)
                obj["status"] = {}
            if rt.kind == "Namespace":
                obj["status"] = {"phase": "Active"}
            meta["uid"] = str(uuid.uuid4())
            meta["creationTimestamp"] = now_rfc3339()
            if rt.generation:
                meta["generation"] = 1
            else:
                meta.pop("generation", None)
            if dry_run:
                meta["resourceVersion"] = str(self.rv)
                return copy.deepcopy(obj)
            if rt.namespaced:
                self._ensure_namespace(ns)
            meta["resourceVersion"] = self._next_rv()
            bucket[key] = obj
            self._record(rt, "ADDED", obj)
            return copy.deepcopy(self._simulate_controller(rt, key))

    def update(self, rt, ns, name, mutate, subresource=None, require_rv=None, dry_run=False,
               create=None):
        """Replace an object with mutate(current copy) under the write rules of `subresource`.

        require_rv: None reads the precondition from the mutated object's
        metadata.resourceVersion (PATCH); "" means no precondition; otherwise the object's
        resourceVersion must equal it, or 409. create: the object to create when missing
        (resources that allow create-on-update)."""
        with self.cond:
            bucket = self.objects[rt.key]
            key = self._bucket_key(rt, ns, name)
            old = bucket.get(key)
            if old is None:
                if create is not None:
                    return self.create(rt, ns, create, dry_run), True
                raise not_found(rt, name)
            new = mutate(copy.deepcopy(old))
            if not isinstance(new, dict):
                raise ApiError(400, "the object must be a JSON object")
            meta = new.get("metadata")
            if not isinstance(meta, dict):
                meta = new["metadata"] = {}
            sent_rv = meta.get("resourceVersion") if require_rv is None else require_rv
            if sent_rv and sent_rv != old["metadata"]["resourceVersion"]:
                raise conflict(rt, name)
            if meta.get("name", name) != name:
                raise ApiError(400, f'the name of the object ({meta.get("name")}) does not '
                                    f'match the name on the URL ({name})')
            if rt.namespaced and meta.get("namespace", ns) != ns:
                raise ApiError(400, "the namespace of the provided object does not match the "
                                    "namespace sent on the request")
            if meta.get("uid") and meta["uid"] != old["metadata"]["uid"]:
                raise ApiError(409, f'Precondition failed: UID in precondition: {meta["uid"]}, '
                                    f'UID in object meta: {old["metadata"]["uid"]}', "Conflict")
            if subresource == "status":
                # A status write changes status only: spec and metadata stay as they were.
                result = copy.deepcopy(old)
                if "status" in new:
                    result["status"] = new["status"]
                else:
                    result.pop("status", None)
            else:
                result = new
                # Server-owned metadata stays; a main-resource write keeps the old status.
                for field in ("uid", "creationTimestamp", "generation", "deletionTimestamp"):
                    if field in old["metadata"]:
                        meta[field] = old["metadata"][field]
                    else:
                        meta.pop(field, None)
                meta.pop("managedFields", None)
                if rt.status:
                    if "status" in old:
                        result["status"] = old["status"]
                    else:
                        result.pop("status", None)
                if rt.generation and self._spec_part(rt, result) != self._spec_part(rt, old):
                    meta["generation"] = int(old["metadata"].get("generation", 1)) + 1
            result["apiVersion"], result["kind"] = rt.api_version, rt.kind
            result["metadata"]["name"] = name
            if rt.namespaced:
                result["metadata"]["namespace"] = ns
            if dry_run:
                result["metadata"]["resourceVersion"] = old["metadata"]["resourceVersion"]
                return copy.deepcopy(result), False
            if self._strip_rv(result) == self._strip_rv(old):
                # A no-op write does not change the resourceVersion (as the real server).
                return copy.deepcopy(old), False
            result["metadata"]["resourceVersion"] = self._next_rv()
            bucket[key] = result
            self._record(rt, "MODIFIED", result, old)
            return copy.deepcopy(self._simulate_controller(rt, key)), False

    def _simulate_controller(self, rt, key):
        """With --simulate-controllers, a Deployment/StatefulSet's status follows its spec at
        once (a separate write, as the real controller's), so /scale's status.replicas moves
        when spec.replicas does. Returns the object as stored."""
        obj = self.objects[rt.key][key]
        if not self.simulate_controllers or not rt.scale:
            return obj
        replicas = _path(obj, "spec.replicas", 1)
        status = dict(obj.get("status") or {})
        status.update({"replicas": replicas, "readyReplicas": replicas,
                       "availableReplicas": replicas, "updatedReplicas": replicas,
                       "observedGeneration": obj["metadata"].get("generation", 1)})
        if status == obj.get("status"):
            return obj
        new = copy.deepcopy(obj)
        new["status"] = status
        new["metadata"]["resourceVersion"] = self._next_rv()
        self.objects[rt.key][key] = new
        self._record(rt, "MODIFIED", new, obj)
        return new

    @staticmethod
    def _strip_rv(obj):
        o = copy.deepcopy(obj)
        o.get("metadata", {}).pop("resourceVersion", None)
        return o

    def delete(self, rt, ns, name, preconditions=None, dry_run=False):
        with self.cond:
            bucket = self.objects[rt.key]
            key = self._bucket_key(rt, ns, name)
            old = bucket.get(key)
            if old is None:
                raise not_found(rt, name)
            pre = preconditions or {}
            if pre.get("uid") and pre["uid"] != old["metadata"]["uid"]:
                raise ApiError(409, f'Precondition failed: UID in precondition: {pre["uid"]}, '
                                    f'UID in object meta: {old["metadata"]["uid"]}', "Conflict")
            if pre.get("resourceVersion") and \
                    pre["resourceVersion"] != old["metadata"]["resourceVersion"]:
                raise ApiError(409, "Precondition failed: ResourceVersion in precondition: "
                                    f'{pre["resourceVersion"]}, ResourceVersion in object meta: '
                                    f'{old["metadata"]["resourceVersion"]}', "Conflict")
            if dry_run:
                return copy.deepcopy(old)
            del bucket[key]
            gone = copy.deepcopy(old)
            gone["metadata"]["resourceVersion"] = self._next_rv()
            self._record(rt, "DELETED", gone, old)
            return gone

    def raw_put(self, obj):
        """Create or replace without any semantics (test set-up); returns the stored object."""
        with self.cond:
            return copy.deepcopy(self._raw_put_locked(obj))

    def raw_put_many(self, objs):
        """raw_put of each object of a list under one lock (set-ups of 100,000 objects, where
        a request each is the bottleneck); all or nothing. Returns the count and the last
        resourceVersion."""
        if not isinstance(objs, list):
            raise ApiError(400, "the body must be a JSON list of objects")
        with self.cond:
            for index, obj in enumerate(objs):
                # Checked before any is stored, so a bad item leaves the store as it was.
                if not isinstance(obj, dict) or not (obj.get("metadata") or {}).get("name") or \
                        find_resource_by_kind(obj.get("apiVersion"), obj.get("kind")) is None:
                    raise ApiError(400, f"item {index}: an object with a known apiVersion/kind "
                                        f"and metadata.name is required")
            for obj in objs:
                self._raw_put_locked(obj)
            return len(objs), self.rv

    def _raw_put_locked(self, obj):
        # With the lock held; returns the stored object itself, not a copy.
        if not isinstance(obj, dict):
            raise ApiError(400, "the object must be a JSON object")
        rt = find_resource_by_kind(obj.get("apiVersion"), obj.get("kind"))
        if rt is None:
            raise ApiError(400, f"unknown apiVersion/kind {obj.get('apiVersion')}/"
                                f"{obj.get('kind')}")
        meta = obj.setdefault("metadata", {})
        if not meta.get("name"):
            raise ApiError(400, "metadata.name is required")
        if rt.namespaced:
            meta.setdefault("namespace", "default")
            self._ensure_namespace(meta["namespace"])
        else:
            meta.pop("namespace", None)
        bucket = self.objects[rt.key]
        key = self._bucket_key(rt, meta.get("namespace"), meta["name"])
        old = bucket.get(key)
        meta.setdefault("uid", old["metadata"]["uid"] if old else str(uuid.uuid4()))
        meta.setdefault("creationTimestamp",
                        old["metadata"]["creationTimestamp"] if old else now_rfc3339())
        if rt.generation:
            meta.setdefault("generation", old["metadata"].get("generation", 1) if old else 1)
        meta["resourceVersion"] = self._next_rv()
        bucket[key] = obj
        self._record(rt, "MODIFIED" if old else "ADDED", obj, old)
        return obj

    def compact(self):
        with self.cond:
            self.compacted_rv = self.rv
            self.log = []
            return self.rv

    def cut_watches(self):
        with self.cond:
            self.cut_generation += 1
            self.cond.notify_all()


# --------------------------------------------------------------------------------------------
# Discovery and OpenAPI
# --------------------------------------------------------------------------------------------

def api_resource_list(group, version):
    gv = f"{group}/{version}" if group else version
    resources = []
    for r in resources_of(group, version):
        entry = {"name": r.plural, "singularName": r.singular, "namespaced": r.namespaced,
                 "kind": r.kind, "verbs": list(ALL_VERBS),
                 "storageVersionHash": base64.b64encode(r.qualified.encode())[:11].decode()}
        if r.short_names:
            entry["shortNames"] = r.short_names
        if r.categories:
            entry["categories"] = r.categories
        resources.append(entry)
        if r.status:
            resources.append({"name": f"{r.plural}/status", "singularName": "",
                              "namespaced": r.namespaced, "kind": r.kind,
                              "verbs": ["get", "patch", "update"]})
        if r.scale:
            resources.append({"name": f"{r.plural}/scale", "singularName": "",
                              "namespaced": r.namespaced, "group": "autoscaling",
                              "version": "v1", "kind": "Scale",
                              "verbs": ["get", "patch", "update"]})
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv,
            "resources": resources}


def api_group_list():
    groups = []
    for group, version in GROUP_VERSIONS:
        if not group:
            continue
        gv = {"groupVersion": f"{group}/{version}", "version": version}
        groups.append({"name": group, "versions": [gv], "preferredVersion": gv})
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}


def openapi_v3_path(group, version):
    return f"api/{version}" if not group else f"apis/{group}/{version}"


def openapi_v3_root():
    paths = {}
    for group, version in GROUP_VERSIONS:
        p = openapi_v3_path(group, version)
        paths[p] = {"serverRelativeURL": f"/openapi/v3/{p}?hash=EMULATOR0000000000000000"}
    return {"paths": paths}


def openapi_v3_doc(group, version):
    """Just enough OpenAPI v3 for kubectl: each PATCH names its GVK, lists the patch content
    types it accepts and the fieldValidation query parameter, so kubectl validates on the
    server (fieldValidation=Strict) and computes apply patches as the real server expects
    (JSON merge patch for the custom resource, strategic merge for built-ins)."""
    paths = {}
    schemas = {}
    for r in resources_of(group, version):
        prefix = "/" + openapi_v3_path(group, version)
        scope = "/namespaces/{namespace}" if r.namespaced else ""
        gvk = {"group": r.group, "version": r.version, "kind": r.kind}
        ref_name = f"{r.group or 'core'}.{r.version}.{r.kind}"
        schemas[ref_name] = {"type": "object", "x-kubernetes-group-version-kind": [gvk],
                             "properties": {"apiVersion": {"type": "string"},
                                            "kind": {"type": "string"},
                                            "metadata": {"type": "object"},
                                            "spec": {"type": "object"},
                                            "status": {"type": "object"}}}
        ref = {"$ref": f"#/components/schemas/{ref_name}"}
        # Strategic merge is left out even for built-ins: kubectl would then build the patch
        # from this (property-less) schema and warn; without it kubectl uses its compiled-in
        # types for built-ins (strategic merge) and JSON merge patch for the custom resource.
        types = ["application/json-patch+json", "application/merge-patch+json"]
        params = [{"name": "fieldValidation", "in": "query", "schema": {"type": "string"},
                   "uniqueItems": True},
                  {"name": "fieldManager", "in": "query", "schema": {"type": "string"},
                   "uniqueItems": True},
                  {"name": "dryRun", "in": "query", "schema": {"type": "string"},
                   "uniqueItems": True}]
        ok = {"200": {"description": "OK", "content": {"application/json": {"schema": ref}}}}
        item = {
            "get": {"operationId": f"read{r.kind}", "responses": ok,
                    "x-kubernetes-action": "get", "x-kubernetes-group-version-kind": gvk},
            "put": {"operationId": f"replace{r.kind}", "responses": ok, "parameters": params,
                    "requestBody": {"content": {"application/json": {"schema": ref}}},
                    "x-kubernetes-action": "put", "x-kubernetes-group-version-kind": gvk},
            "patch": {"operationId": f"patch{r.kind}", "responses": ok, "parameters": params,
                      "requestBody": {"content": {t: {"schema": {"type": "object"}}
                                                  for t in types}},
                      "x-kubernetes-action": "patch", "x-kubernetes-group-version-kind": gvk},
            "delete": {"operationId": f"delete{r.kind}", "responses": ok,
                       "x-kubernetes-action": "delete", "x-kubernetes-group-version-kind": gvk},
        }
        paths[f"{prefix}{scope}/{r.plural}/{{name}}"] = item
        paths[f"{prefix}{scope}/{r.plural}"] = {
            "get": {"operationId": f"list{r.kind}", "responses": ok,
                    "x-kubernetes-action": "list", "x-kubernetes-group-version-kind": gvk},
            "post": {"operationId": f"create{r.kind}", "responses": ok, "parameters": params,
                     "requestBody": {"content": {"application/json": {"schema": ref}}},
                     "x-kubernetes-action": "post", "x-kubernetes-group-version-kind": gvk},
        }
    return {"openapi": "3.0.0", "info": {"title": "Kubernetes (emulator)", "version": "v1.32.0"},
            "paths": paths, "components": {"schemas": schemas}}


VERSION_INFO = {"major": "1", "minor": "32", "gitVersion": "v1.32.0-emulator",
                "gitCommit": "0000000000000000000000000000000000000000",
                "gitTreeState": "clean", "buildDate": "2025-01-01T00:00:00Z",
                "goVersion": "go1.23.0", "compiler": "gc", "platform": "linux/amd64"}


# --------------------------------------------------------------------------------------------
# Table output (kubectl get)
# --------------------------------------------------------------------------------------------

def human_age(timestamp):
    try:
        created = datetime.datetime.strptime(timestamp, "%Y-%m-%dT%H:%M:%SZ").replace(
            tzinfo=datetime.timezone.utc)
    except (TypeError, ValueError):
        return "<unknown>"
    s = max(0, int((datetime.datetime.now(datetime.timezone.utc) - created).total_seconds()))
    if s < 120:
        return f"{s}s"
    m = s // 60
    if m < 10:
        return f"{m}m{s % 60}s" if s % 60 else f"{m}m"
    if m < 180:
        return f"{m}m"
    h = m // 60
    if h < 48:
        return f"{h}h"
    return f"{h // 24}d"


def table_for(rt, objects, rv):
    columns = [{"name": "Name", "type": "string", "format": "name", "priority": 0,
                "description": "Name must be unique within a namespace."}]
    for name, type_, _ in rt.columns:
        columns.append({"name": name, "type": type_, "format": "", "priority": 0,
                        "description": name})
    columns.append({"name": "Age", "type": "string", "format": "", "priority": 0,
                    "description": "CreationTimestamp"})
    rows = []
    for obj in objects:
        cells = [obj["metadata"]["name"]]
        for _, _, fn in rt.columns:
            value = fn(obj)
            cells.append(value)
        cells.append(human_age(obj["metadata"].get("creationTimestamp")))
        rows.append({"cells": cells,
                     "object": {"kind": "PartialObjectMetadata",
                                "apiVersion": "meta.k8s.io/v1",
                                "metadata": obj["metadata"]}})
    return {"kind": "Table", "apiVersion": "meta.k8s.io/v1",
            "metadata": {"resourceVersion": str(rv)}, "columnDefinitions": columns, "rows": rows}


# --------------------------------------------------------------------------------------------
# The scale subresource
# --------------------------------------------------------------------------------------------

def scale_of(obj):
    """autoscaling/v1 Scale: spec.replicas is omitempty (a target scaled to zero has "spec": {}),
    status.replicas is not; they differ during a rollout (status counts the surge pods)."""
    labels = _path(obj, "spec.selector.matchLabels", {}) or {}
    replicas = _path(obj, "spec.replicas", 1)
    return {"kind": "Scale", "apiVersion": "autoscaling/v1",
            "metadata": {"name": obj["metadata"]["name"],
                         "namespace": obj["metadata"].get("namespace"),
                         "uid": obj["metadata"]["uid"],
                         "resourceVersion": obj["metadata"]["resourceVersion"],
                         "creationTimestamp": obj["metadata"].get("creationTimestamp")},
            "spec": {"replicas": replicas} if replicas else {},
            "status": {"replicas": _path(obj, "status.replicas", 0),
                       "selector": ",".join(f"{k}={v}" for k, v in sorted(labels.items()))}}


# --------------------------------------------------------------------------------------------
# The emulator: configuration, failure injection, request log, listening socket
# --------------------------------------------------------------------------------------------

class Emulator:
    def __init__(self, args):
        self.args = args
        self.store = Store()
        self.store.simulate_controllers = args.simulate_controllers
        self.lock = threading.Lock()
        self.failures = []       # [{"status", "count", "path", "until", "retryAfter"}]
        self.requests = []       # the request log
        self.connections = set()
        self.server = None
        self.port = args.port
        self.scheme = "https" if args.tls_cert else "http"
        self.ssl_context = None
        if args.tls_cert:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(args.tls_cert, args.tls_key)
            if args.client_ca:
                ctx.load_verify_locations(args.client_ca)
                ctx.verify_mode = ssl.CERT_OPTIONAL
            self.ssl_context = ctx
        self.stopping = threading.Event()
        self.serve_thread = None

    # -- auth ---------------------------------------------------------------------------------

    def expected_token(self):
        if self.args.token is not None:
            return self.args.token
        if self.args.token_file:
            try:
                with open(self.args.token_file, encoding="utf-8") as f:
                    return f.read().strip()
            except OSError:
                return "\0unreadable"
        return None

    # -- failure injection ---------------------------------------------------------------------

    def take_failure(self, path, user_agent=""):
        """The first live rule matching `path` (and the User-Agent's start, when the rule
        names one): (status, Retry-After or None), or None. A rule lives for `count`
        requests, or, with `until` (time.monotonic()), until then."""
        with self.lock:
            now = time.monotonic()
            self.failures = [r for r in self.failures
                             if (r["count"] > 0 if r["until"] is None else now < r["until"])]
            for rule in self.failures:
                if ((not rule["path"] or rule["path"] in path)
                        and user_agent.startswith(rule["userAgent"])):
                    if rule["until"] is None:
                        rule["count"] -= 1
                    return rule["status"], rule["retryAfter"]
        return None

    def log_request(self, entry):
        with self.lock:
            self.requests.append(entry)

    # -- the listening socket ------------------------------------------------------------------

    def make_server(self):
        emulator = self

        class Server(http.server.ThreadingHTTPServer):
            daemon_threads = True
            allow_reuse_address = True
            request_queue_size = 128

            def get_request(self):
                sock, addr = super().get_request()
                if emulator.ssl_context is not None:
                    sock = emulator.ssl_context.wrap_socket(sock, server_side=True,
                                                            do_handshake_on_connect=False)
                return sock, addr

            def handle_error(self, request, client_address):
                if emulator.args.verbose:
                    super().handle_error(request, client_address)

        server = Server(("127.0.0.1", self.port), make_handler(self))
        self.port = server.server_address[1]
        return server

    def start(self):
        self.server = self.make_server()
        self.serve_thread = threading.Thread(target=self.server.serve_forever,
                                             kwargs={"poll_interval": 0.05}, daemon=True)
        self.serve_thread.start()

    def close_connections(self):
        with self.lock:
            conns = list(self.connections)
        for c in conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            try:
                c.close()
            except OSError:
                pass

    def go_offline(self, seconds):
        server = self.server
        server.shutdown()
        server.server_close()
        self.store.cut_watches()
        self.close_connections()
        deadline = time.monotonic() + seconds
        while not self.stopping.is_set():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            self.stopping.wait(min(remaining, 0.05))
        if self.stopping.is_set():
            return
        for _ in range(200):  # the port may linger for a moment; it is ours (reuse address)
            try:
                self.start()
                return
            except OSError:
                time.sleep(0.05)
        print("emulator: could not listen again on port %d" % self.port, file=sys.stderr)

    def stop(self):
        self.stopping.set()
        with self.store.cond:
            self.store.closing = True
            self.store.cond.notify_all()
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
        self.close_connections()


# --------------------------------------------------------------------------------------------
# The HTTP handler
# --------------------------------------------------------------------------------------------

UNAUTHENTICATED_PATHS = ("/healthz", "/readyz", "/livez", "/version")
PATCH_TYPES = ("application/json-patch+json", "application/merge-patch+json",
               "application/strategic-merge-patch+json", "application/apply-patch+yaml")


def truthy(value):
    return value in ("true", "1", "True")


def make_handler(emulator):
    store = emulator.store

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # As the real API server (Go sets TCP_NODELAY): headers and body go in
        # two writes, and with Nagle's algorithm the second waits for the
        # client's delayed ACK, ~40 ms per request on a kept-alive connection.
        disable_nagle_algorithm = True
        log_entry = None       # this request's entry in the request log
        response_status = 0
        server_version = "kube-apiserver-emulator"
        sys_version = ""

        # -- connection bookkeeping ------------------------------------------------------------

        def setup(self):
            if isinstance(self.request, ssl.SSLSocket):
                self.request.settimeout(10)
                try:
                    self.request.do_handshake()
                except (OSError, ssl.SSLError):
                    self.request.close()
                    raise
                self.request.settimeout(None)
            with emulator.lock:
                emulator.connections.add(self.request)
            super().setup()

        def finish(self):
            try:
                super().finish()
            except OSError:
                pass
            with emulator.lock:
                emulator.connections.discard(self.request)

        def log_message(self, fmt, *args):
            if emulator.args.verbose:
                sys.stderr.write("emulator: %s\n" % (fmt % args))

        # -- responses -----------------------------------------------------------------------

        def send_response(self, code, message=None):
            super().send_response(code, message)
            self.response_status = code
            if self.log_entry is not None:
                self.log_entry["status"] = code  # a watch shows in the log while it runs

        def send_json(self, code, body, headers=None):
            data = json.dumps(body).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Cache-Control", "no-cache, private")
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)

        def send_text(self, code, text):
            data = text.encode()
            self.send_response(code)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def send_error_status(self, err):
            self.send_json(err.code, err.status(), err.headers)

        def read_body(self):
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                data = b""
                while True:
                    line = self.rfile.readline()
                    size = int(line.split(b";")[0].strip() or b"0", 16)
                    if size == 0:
                        while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                            pass
                        return data
                    data += self.rfile.read(size)
                    self.rfile.readline()
            length = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(length) if length else b""

        def json_body(self, raw):
            ctype = self.headers.get("Content-Type", "").split(";")[0].strip().lower()
            if ctype == "application/vnd.kubernetes.protobuf":
                # The real server takes protobuf for built-in types; this emulator only JSON.
                raise ApiError(415, "the body of the request was in an unknown format - "
                                    "accepted media types include: application/json "
                                    "(this emulator does not decode protobuf)")
            try:
                return json.loads(raw or b"null")
            except ValueError as e:
                raise ApiError(400, f"the object provided is unrecognized (must be JSON): {e}")

        # -- dispatch ------------------------------------------------------------------------

        def do_GET(self):
            self.dispatch()

        def do_POST(self):
            self.dispatch()

        def do_PUT(self):
            self.dispatch()

        def do_PATCH(self):
            self.dispatch()

        def do_DELETE(self):
            self.dispatch()

        def do_HEAD(self):
            self.dispatch()

        def dispatch(self):
            url = urllib.parse.urlsplit(self.path)
            path = url.path.rstrip("/") or "/"
            query = {k: v[-1] for k, v in urllib.parse.parse_qs(
                url.query, keep_blank_values=True).items()}
            self.response_status = 0
            self.log_entry = None
            try:
                raw = self.read_body()
            except (OSError, ValueError):
                self.close_connection = True
                return
            if path.startswith("/_emulator"):
                try:
                    self.control(path, query, raw)
                except ApiError as e:
                    self.send_error_status(e)
                return
            # time: time.monotonic() when the request arrived (the log's own clock).
            entry = {"time": time.monotonic(), "method": self.command, "path": path, "query": url.query,
                     "contentType": self.headers.get("Content-Type", ""),
                     "accept": self.headers.get("Accept", ""),
                     "userAgent": self.headers.get("User-Agent", ""),
                     "body": raw[:65536].decode("utf-8", "replace"), "status": 0}
            self.log_entry = entry
            emulator.log_request(entry)
            try:
                try:
                    self.api(path, query, raw)
                except ApiError as e:
                    self.send_error_status(e)
            except (BrokenPipeError, ConnectionResetError, ssl.SSLError, OSError):
                self.close_connection = True

        def authenticate(self, path):
            if path in UNAUTHENTICATED_PATHS:
                return
            if isinstance(self.request, ssl.SSLSocket) and emulator.args.client_ca:
                try:
                    if self.request.getpeercert():
                        return  # a client certificate signed by --client-ca
                except (ValueError, ssl.SSLError):
                    pass
            expected = emulator.expected_token()
            if expected is None and not emulator.args.client_ca:
                return
            header = self.headers.get("Authorization", "")
            if expected is not None and header == f"Bearer {expected}":
                return
            raise ApiError(401, "Unauthorized", "Unauthorized")

        # -- control endpoints -----------------------------------------------------------------

        def control(self, path, query, raw):
            if path == "/_emulator/compact" and self.command == "POST":
                rv = store.compact()
                return self.send_json(200, {"compactedResourceVersion": str(rv)})
            if path == "/_emulator/cut-watches" and self.command == "POST":
                store.cut_watches()
                return self.send_json(200, {"cut": True})
            if path == "/_emulator/fail" and self.command == "POST":
                # count=N: the next N matching requests; seconds=S: every matching request
                # for S seconds (a storm). path: a part of the path; userAgent: the start
                # of the client's User-Agent (a test's own requests spared). retryAfter: the
                # header's value (429s send "1" unless told; "" for none).
                status = int(query.get("status", "503"))
                rule = {"status": status, "count": int(query.get("count", "1")),
                        "path": query.get("path", ""), "userAgent": query.get("userAgent", ""),
                        "until": None,
                        "retryAfter": query.get("retryAfter", "1" if status == 429 else "")}
                if "seconds" in query:
                    rule["until"] = time.monotonic() + float(query["seconds"])
                with emulator.lock:
                    emulator.failures.append(rule)
                return self.send_json(200, rule)
            if path == "/_emulator/offline" and self.command == "POST":
                seconds = float(query.get("seconds", "1"))
                self.send_json(200, {"offlineSeconds": seconds})
                self.wfile.flush()
                self.close_connection = True
                threading.Thread(target=emulator.go_offline, args=(seconds,),
                                 daemon=True).start()
                return None
            if path == "/_emulator/requests" and self.command == "GET":
                with emulator.lock:
                    return self.send_json(200, list(emulator.requests))
            if path == "/_emulator/requests/clear" and self.command == "POST":
                with emulator.lock:
                    emulator.requests = []
                return self.send_json(200, {"cleared": True})
            if path == "/_emulator/objects" and self.command in ("PUT", "POST"):
                body = self.json_body(raw)
                if isinstance(body, list):
                    count, rv = store.raw_put_many(body)
                    return self.send_json(200, {"count": count, "resourceVersion": str(rv)})
                return self.send_json(200, store.raw_put(body))
            if path == "/_emulator/objects" and self.command == "GET":
                with store.cond:
                    objs = [o for bucket in store.objects.values() for o in bucket.values()]
                    return self.send_json(200, {"resourceVersion": str(store.rv),
                                                "items": objs})
            if path == "/_emulator/state" and self.command == "GET":
                with store.cond:
                    return self.send_json(200, {"resourceVersion": str(store.rv),
                                                "compactedResourceVersion":
                                                    str(store.compacted_rv)})
            raise ApiError(404, f"no control endpoint {self.command} {path}")

        # -- the API ---------------------------------------------------------------------------

        def api(self, path, query, raw):
            failure = emulator.take_failure(path, self.headers.get("User-Agent", ""))
            if failure is not None:
                code, retry_after = failure
                headers = {"Retry-After": retry_after} if retry_after else {}
                raise ApiError(code, f"injected failure {code}", headers=headers)
            self.authenticate(path)
            if path in ("/healthz", "/readyz", "/livez"):
                return self.send_text(200, "ok")
            if path == "/version":
                return self.send_json(200, VERSION_INFO)
            if path == "/api":
                return self.send_json(200, {
                    "kind": "APIVersions", "versions": ["v1"],
                    "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0",
                                                    "serverAddress":
                                                        f"127.0.0.1:{emulator.port}"}]})
            if path == "/apis":
                return self.send_json(200, api_group_list())
            if path == "/openapi/v3":
                return self.send_json(200, openapi_v3_root())
            if path.startswith("/openapi/v3/"):
                rest = path[len("/openapi/v3/"):]
                for group, version in GROUP_VERSIONS:
                    if rest == openapi_v3_path(group, version):
                        return self.send_json(200, openapi_v3_doc(group, version))
                raise ApiError(404, "the server could not find the requested resource")
            segs = [urllib.parse.unquote(s) for s in path.strip("/").split("/")]
            if segs[0] == "api" and len(segs) >= 2:
                group, version, rest = "", segs[1], segs[2:]
            elif segs[0] == "apis" and len(segs) >= 3:
                group, version, rest = segs[1], segs[2], segs[3:]
            else:
                raise ApiError(404, "the server could not find the requested resource")
            if (group, version) not in GROUP_VERSIONS:
                raise ApiError(404, "the server could not find the requested resource")
            if not rest:
                if self.command not in ("GET", "HEAD"):
                    raise ApiError(405, f"the server does not allow this method on the "
                                        f"requested resource")
                return self.send_json(200, api_resource_list(group, version))
            ns = None
            if rest[0] == "namespaces" and len(rest) >= 3 and \
                    find_resource(group, version, rest[2]) is not None and \
                    find_resource(group, version, rest[2]).namespaced:
                ns, rest = rest[1], rest[2:]
            rt = find_resource(group, version, rest[0])
            if rt is None or len(rest) > 3:
                raise ApiError(404, "the server could not find the requested resource")
            name = rest[1] if len(rest) >= 2 else None
            sub = rest[2] if len(rest) == 3 else None
            if rt.namespaced and name is not None and ns is None:
                raise ApiError(404, "the server could not find the requested resource")
            if sub is not None and not ((sub == "status" and rt.status) or
                                        (sub == "scale" and rt.scale)):
                raise ApiError(404, "the server could not find the requested resource")
            dry_run = "dryRun" in query
            m = self.command
            if name is None:
                if m in ("GET", "HEAD"):
                    if truthy(query.get("watch", "")):
                        return self.watch(rt, ns, query)
                    return self.list(rt, ns, query)
                if m == "POST":
                    if rt.namespaced and ns is None:
                        raise ApiError(404, "the server could not find the requested resource")
                    obj = self.json_body(raw)
                    if not isinstance(obj, dict):
                        raise ApiError(400, "the object provided is unrecognized")
                    self.check_kind(rt, obj)
                    return self.send_json(201, store.create(rt, ns, obj, dry_run))
                if m == "DELETE":
                    return self.delete_collection(rt, ns, query, dry_run)
                raise ApiError(405, "the server does not allow this method on the requested "
                                    "resource")
            if m in ("GET", "HEAD"):
                obj = store.get(rt, ns, name)
                if sub == "scale":
                    return self.send_json(200, scale_of(obj))
                if "as=Table" in self.headers.get("Accept", ""):
                    return self.send_json(200, table_for(rt, [obj], obj["metadata"]
                                                         ["resourceVersion"]))
                return self.send_json(200, obj)
            if m == "PUT":
                return self.put(rt, ns, name, sub, self.json_body(raw), dry_run)
            if m == "PATCH":
                return self.patch(rt, ns, name, sub, raw, dry_run)
            if m == "DELETE":
                if sub is not None:
                    raise ApiError(405, "the server does not allow this method on the "
                                        "requested resource")
                options = self.json_body(raw) if raw.strip() else {}
                pre = (options or {}).get("preconditions") if isinstance(options, dict) else None
                gone = store.delete(rt, ns, name, pre, dry_run)
                if rt.custom or rt.kind == "Namespace":
                    return self.send_json(200, gone)
                return self.send_json(200, {
                    "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
                    "details": {"name": name, "group": rt.group, "kind": rt.plural,
                                "uid": gone["metadata"]["uid"]}})
            raise ApiError(405, "the server does not allow this method on the requested "
                                "resource")

        @staticmethod
        def check_kind(rt, obj):
            if obj.get("kind") and obj.get("kind") != rt.kind:
                raise ApiError(400, f"the API version in the data ({obj.get('apiVersion')}) "
                                    f"does not match the expected API version ({rt.api_version})"
                               if obj.get("apiVersion") != rt.api_version else
                               f"kind {obj.get('kind')} does not match {rt.kind}")
            if obj.get("apiVersion") and obj.get("apiVersion") != rt.api_version:
                raise ApiError(400, f"the API version in the data ({obj.get('apiVersion')}) "
                                    f"does not match the expected API version "
                                    f"({rt.api_version})")

        # -- list / watch ----------------------------------------------------------------------

        def matcher(self, query):
            labels = label_matcher(query.get("labelSelector", ""))
            fields = field_matcher(query.get("fieldSelector", ""))
            return lambda obj: labels(obj["metadata"].get("labels")) and fields(obj)

        def list(self, rt, ns, query):
            match = self.matcher(query)
            limit = int(query.get("limit") or 0)
            if limit > 0 and emulator.args.page_size_max:
                limit = min(limit, emulator.args.page_size_max)
            start_after, list_rv = None, None
            token = query.get("continue")
            if token:
                try:
                    state = json.loads(base64.urlsafe_b64decode(token.encode()))
                    list_rv, start_after = int(state["rv"]), tuple(state["start"])
                except (ValueError, KeyError, TypeError):
                    raise ApiError(400, "continue key is not valid: incorrect encoded start "
                                        "resourceVersion (version meta.k8s.io/v1)")
                if list_rv < store.compacted_rv:
                    raise ApiError(410, "The provided continue parameter is too old to "
                                        "display a consistent list result. You can start a "
                                        "new list without the continue parameter, or use the "
                                        "continue token in this response to retrieve the "
                                        "remainder of the results. Continuing with the "
                                        "provided token results in an inconsistent list - "
                                        "objects that were created, modified, or deleted "
                                        "between the time the first chunk was returned and "
                                        "now may show up in the list.", "Expired")
            items, rv, remaining = store.list(rt, ns, match, start_after, max(limit, 0))
            if list_rv is None:
                list_rv = rv
            meta = {"resourceVersion": str(list_rv)}
            if remaining:
                last = items[-1]["metadata"]
                meta["continue"] = base64.urlsafe_b64encode(json.dumps(
                    {"rv": list_rv, "start": [last.get("namespace") or "", last["name"]]}
                ).encode()).decode()
                meta["remainingItemCount"] = remaining
            if "as=Table" in self.headers.get("Accept", ""):
                table = table_for(rt, items, list_rv)
                table["metadata"].update(meta)
                return self.send_json(200, table)
            if not rt.custom:
                # Built-in lists carry no kind/apiVersion on their items (as the real server).
                for item in items:
                    item.pop("kind", None)
                    item.pop("apiVersion", None)
            return self.send_json(200, {"kind": f"{rt.kind}List", "apiVersion": rt.api_version,
                                        "metadata": meta, "items": items})

        def write_chunk(self, data):
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            self.wfile.flush()

        def write_event(self, type_, obj, rt=None):
            if rt is not None and type_ in ("ADDED", "MODIFIED", "DELETED") and \
                    "as=Table" in self.headers.get("Accept", ""):
                obj = table_for(rt, [obj], obj["metadata"]["resourceVersion"])
            self.write_chunk(json.dumps({"type": type_, "object": obj}).encode() + b"\n")

        def watch(self, rt, ns, query):
            match = self.matcher(query)
            bookmarks = truthy(query.get("allowWatchBookmarks", ""))
            timeout = float(query.get("timeoutSeconds") or 1800)
            deadline = time.monotonic() + timeout
            rv_param = query.get("resourceVersion", "")
            if rv_param and not rv_param.isdigit():
                raise ApiError(400, f'invalid resource version "{rv_param}"')
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Transfer-Encoding", "chunked")
            self.send_header("Cache-Control", "no-cache, private")
            self.end_headers()
            with store.cond:
                cut_generation = store.cut_generation
                if rv_param in ("", "0"):
                    initial, since = [], store.rv
                    for (ons, _), obj in sorted(store.objects[rt.key].items(),
                                                key=lambda kv: (kv[0][0] or "", kv[0][1])):
                        if (not ns or ons == ns) and match(obj):
                            initial.append(copy.deepcopy(obj))
                else:
                    since = int(rv_param)
                    initial = None
                    if since < store.compacted_rv:
                        expired = status_object(
                            410, f"too old resource version: {rv_param} "
                                 f"({store.compacted_rv})", "Expired")
                        initial = "expired"
            if initial == "expired":
                self.write_event("ERROR", expired)
                self.write_chunk(b"")
                return
            for obj in initial or []:
                self.write_event("ADDED", obj, rt)
            if initial is not None and truthy(query.get("sendInitialEvents", "")):
                # Watch-list (KEP 3157): a bookmark marks the end of the initial state.
                self.write_event("BOOKMARK", {
                    "kind": rt.kind, "apiVersion": rt.api_version,
                    "metadata": {"resourceVersion": str(since),
                                 "annotations": {"k8s.io/initial-events-end": "true"}}})
            next_bookmark = time.monotonic() + 1.0
            while True:
                pending = []
                with store.cond:
                    while True:
                        if store.cut_generation != cut_generation or store.closing:
                            return self.cut()
                        now = time.monotonic()
                        if now >= deadline:
                            break
                        if store.log and store.log[-1][0] > since:
                            break
                        if since < store.compacted_rv:
                            break  # events this watch still needed were compacted away
                        if bookmarks and now >= next_bookmark:
                            break
                        wait = deadline - now
                        if bookmarks:
                            wait = min(wait, next_bookmark - now)
                        store.cond.wait(max(0.0, min(wait, 1.0)))
                    if since < store.compacted_rv:
                        pending.append(("ERROR", status_object(
                            410, f"too old resource version: {since} ({store.compacted_rv})",
                            "Expired")))
                        since = None
                    else:
                        first = bisect.bisect_right(store.log, since, key=lambda e: e[0])
                        for rv, type_, key, obj, old in store.log[first:]:
                            if key != rt.key:
                                continue
                            if ns and obj["metadata"].get("namespace") != ns:
                                continue
                            new_ok = match(obj)
                            old_ok = old is not None and match(old)
                            if type_ == "DELETED":
                                if old_ok or new_ok:
                                    pending.append(("DELETED", obj))
                            elif new_ok and (old_ok or type_ == "ADDED"):
                                pending.append((type_, obj))
                            elif new_ok:
                                pending.append(("ADDED", obj))
                            elif old_ok:
                                pending.append(("DELETED", obj))
                        since = store.rv
                    current_rv = store.rv
                for type_, obj in pending:
                    self.write_event(type_, obj, rt)
                if since is None:
                    self.write_chunk(b"")
                    return None
                now = time.monotonic()
                if now >= deadline:
                    self.write_chunk(b"")
                    return None
                if bookmarks and now >= next_bookmark:
                    self.write_event("BOOKMARK", {"kind": rt.kind, "apiVersion": rt.api_version,
                                                  "metadata": {"resourceVersion":
                                                               str(current_rv)}})
                    next_bookmark = now + 1.0

        def cut(self):
            """End a watch abruptly: no terminating chunk, the connection closed."""
            self.close_connection = True
            try:
                self.wfile.flush()
            except OSError:
                pass
            try:
                self.request.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

        # -- writes ----------------------------------------------------------------------------

        def put(self, rt, ns, name, sub, body, dry_run):
            if not isinstance(body, dict):
                raise ApiError(400, "the object provided is unrecognized")
            rv = (body.get("metadata") or {}).get("resourceVersion")
            if sub == "scale":
                replicas = _path(body, "spec.replicas", 0)  # omitempty: absent is 0
                if not isinstance(replicas, int) or replicas < 0:
                    raise invalid(rt, name, "spec.replicas", "must be greater than or equal "
                                  "to 0", replicas)

                def set_replicas(obj):
                    obj["spec"]["replicas"] = replicas
                    return obj
                obj, _ = store.update(rt, ns, name, set_replicas, None, rv or "", dry_run)
                return self.send_json(200, scale_of(obj))
            if sub is None:
                self.check_kind(rt, body)
            if not rv and not rt.unconditional_update:
                store.get(rt, ns, name)  # 404 before 422, as the real server
                raise invalid(rt, name, "metadata.resourceVersion",
                              "must be specified for an update", shown="0x0")
            create = None
            if rt.create_on_update and sub is None:
                create = copy.deepcopy(body)
            obj, created = store.update(rt, ns, name, lambda _old: copy.deepcopy(body), sub,
                                        rv or "", dry_run, create)
            return self.send_json(201 if created else 200, obj)

        def patch(self, rt, ns, name, sub, raw, dry_run):
            ctype = self.headers.get("Content-Type", "").split(";")[0].strip().lower()
            accepted = ["application/json-patch+json", "application/merge-patch+json"]
            if not rt.custom:
                accepted.append("application/strategic-merge-patch+json")
            if ctype not in accepted:
                raise ApiError(415, f"the body of the request was in an unknown format - "
                                    f"accepted media types include: {', '.join(accepted)}")
            patch = self.json_body(raw)
            if ctype == "application/merge-patch+json" and not isinstance(patch, dict):
                raise ApiError(400, "the patch must be a JSON object")
            apply = {"application/json-patch+json": json_patch,
                     "application/merge-patch+json": merge_patch,
                     "application/strategic-merge-patch+json": strategic_merge}[ctype]

            if sub == "scale":
                def mutate(obj):
                    patched = apply(scale_of(obj), patch)
                    replicas = _path(patched, "spec.replicas", 0)  # omitempty: absent is 0
                    if not isinstance(replicas, int) or replicas < 0:
                        raise invalid(rt, name, "spec.replicas", "must be greater than or "
                                      "equal to 0", replicas)
                    obj["spec"]["replicas"] = replicas
                    rv = _path(patched, "metadata.resourceVersion")
                    if rv and rv != obj["metadata"]["resourceVersion"]:
                        raise conflict(rt, name)
                    return obj
                obj, _ = store.update(rt, ns, name, mutate, None, "", dry_run)
                return self.send_json(200, scale_of(obj))

            def mutate(obj):
                patched = apply(obj, patch)
                if isinstance(patched, dict):
                    # The resourceVersion in a patch is a precondition; none means unconditional.
                    meta = patched.setdefault("metadata", {})
                    if not isinstance(meta, dict):
                        raise ApiError(422, "metadata must be an object")
                    if meta.get("resourceVersion") == obj["metadata"]["resourceVersion"] or \
                            not meta.get("resourceVersion"):
                        meta["resourceVersion"] = obj["metadata"]["resourceVersion"]
                return patched
            obj, _ = store.update(rt, ns, name, mutate, sub, None, dry_run)
            return self.send_json(200, obj)

        def delete_collection(self, rt, ns, query, dry_run):
            match = self.matcher(query)
            items, _, _ = store.list(rt, ns, match)
            deleted = []
            for item in items:
                try:
                    deleted.append(store.delete(rt, item["metadata"].get("namespace"),
                                                item["metadata"]["name"], None, dry_run))
                except ApiError:
                    pass
            with store.cond:
                rv = store.rv
            return self.send_json(200, {"kind": f"{rt.kind}List", "apiVersion": rt.api_version,
                                        "metadata": {"resourceVersion": str(rv)},
                                        "items": deleted})

    return Handler


# --------------------------------------------------------------------------------------------
# main
# --------------------------------------------------------------------------------------------

def generate_certificates(directory):
    """Write ca.crt/ca.key, server.crt/server.key (127.0.0.1, localhost) and a client
    certificate client.crt/client.key (CN kubeai-test, signed by the same CA) with openssl."""
    def run(*args):
        subprocess.run(["openssl", *args], check=True, capture_output=True, cwd=directory)
    os.makedirs(directory, exist_ok=True)
    key = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    run("req", "-x509", *key, "-keyout", "ca.key", "-out", "ca.crt", "-days", "7",
        "-subj", "/CN=kubeai-emulator-ca")
    with open(os.path.join(directory, "server.ext"), "w") as f:
        f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    with open(os.path.join(directory, "client.ext"), "w") as f:
        f.write("extendedKeyUsage=clientAuth\n")
    for name, subject in (("server", "/CN=127.0.0.1"), ("client", "/CN=kubeai-test")):
        run("req", *key, "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", subject)
        run("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
            "-CAcreateserial", "-out", f"{name}.crt", "-days", "7", "-extfile", f"{name}.ext")


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--port", type=int, default=0)
    auth = p.add_mutually_exclusive_group()
    auth.add_argument("--token")
    auth.add_argument("--token-file")
    p.add_argument("--tls-cert")
    p.add_argument("--tls-key")
    p.add_argument("--client-ca", help="also accept client certificates signed by this CA")
    p.add_argument("--tls-generate", metavar="DIR",
                   help="make a CA, a server and a client certificate in DIR (ca.crt, "
                        "server.crt/key, client.crt/key) with openssl and serve TLS with them")
    p.add_argument("--page-size-max", type=int, default=0,
                   help="serve at most N items per page when a client asks for a limit")
    p.add_argument("--simulate-controllers", action="store_true",
                   help="Deployment/StatefulSet status follows spec.replicas at once")
    p.add_argument("--verbose", action="store_true")
    args = p.parse_args(argv)
    if args.tls_generate:
        if args.tls_cert or args.tls_key:
            p.error("--tls-generate replaces --tls-cert/--tls-key")
        generate_certificates(args.tls_generate)
        args.tls_cert = f"{args.tls_generate}/server.crt"
        args.tls_key = f"{args.tls_generate}/server.key"
    if bool(args.tls_cert) != bool(args.tls_key):
        p.error("--tls-cert and --tls-key go together")
    if args.client_ca and not args.tls_cert:
        p.error("--client-ca needs --tls-cert")
    return args


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    emulator = Emulator(args)
    emulator.start()
    done = threading.Event()

    def on_signal(signum, frame):
        done.set()
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    print(f"listening on 127.0.0.1:{emulator.port}", flush=True)
    while not done.wait(0.2):
        pass
    emulator.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
