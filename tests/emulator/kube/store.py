"""Resource types, per-cluster object storage, label/field selectors and list paging.

Kubernetes API conventions modelled here (kubernetes/community contributors/devel/sig-architecture/
api-conventions.md and the "API Concepts" page of kubernetes.io):
- Objects are identified by group, resource (plural), namespace and name; every stored object gets a
  `metadata.uid`, a `metadata.resourceVersion` (one counter per cluster, like etcd's revision) and a
  `metadata.creationTimestamp` when the caller did not set them.
- LIST answers `kind: <Kind>List` with `metadata.resourceVersion`; items of built-in types carry no
  `kind`/`apiVersion` (clients fill them in), items of custom resources do.
- Items are ordered by namespace then name (the etcd key order). `limit` + `continue` page through them;
  the continue token is opaque base64 JSON like the real server's; `metadata.remainingItemCount` is set
  only when no selector was used, as the real server does.
- Label selectors: `=`, `==`, `!=`, `in (...)`, `notin (...)`, `key` (exists), `!key`, `>`/`<` (integers).
  `!=` and `notin` also match objects that lack the label.
- Field selectors: `=`, `==`, `!=` on `metadata.name`, `metadata.namespace` and the per-resource fields the
  real API server supports (for example `status.phase` and `spec.nodeName` for pods, `involvedObject.*`
  for events); any other field is refused with 400 "field label not supported".
- Custom resources: a stored CustomResourceDefinition adds its group/version/resource to discovery and
  serves (read-only) objects of that kind.
"""

import base64
import copy
import datetime
import json
import re
import threading
import uuid
from dataclasses import dataclass, field

READ_VERBS = ("get", "list", "watch")
ALL_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")

_UID_NS = uuid.UUID("0d6f1c9a-3c1e-4f0b-9a57-6b1c2a7e4d10")


class KubeError(Exception):
    """An API error to answer as a `Status` object."""

    def __init__(self, code, reason, message, details=None):
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details


@dataclass(frozen=True)
class ResourceType:
    group: str            # "" for the core (legacy) group
    version: str
    plural: str
    kind: str
    namespaced: bool
    singular: str = ""
    short_names: tuple = ()
    categories: tuple = ()
    fields: tuple = ()    # field-selector labels beyond metadata.name / metadata.namespace
    subresources: tuple = ()
    custom: bool = False

    @property
    def api_version(self):
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def qualified(self):
        """`pods`, `deployments.apps`: the form Status messages use."""
        return f"{self.plural}.{self.group}" if self.group else self.plural


_POD_FIELDS = ("spec.nodeName", "spec.restartPolicy", "spec.schedulerName", "spec.serviceAccountName",
               "spec.hostNetwork", "status.phase", "status.podIP", "status.nominatedNodeName")
_EVENT_FIELDS = ("involvedObject.kind", "involvedObject.namespace", "involvedObject.name",
                 "involvedObject.uid", "involvedObject.apiVersion", "involvedObject.resourceVersion",
                 "involvedObject.fieldPath", "reason", "reportingComponent", "source", "type")

BUILTIN_TYPES = (
    ResourceType("", "v1", "namespaces", "Namespace", False, "namespace", ("ns",), fields=("status.phase",),
                 subresources=("status",)),
    ResourceType("", "v1", "nodes", "Node", False, "node", ("no",), fields=("spec.unschedulable",),
                 subresources=("status",)),
    ResourceType("", "v1", "pods", "Pod", True, "pod", ("po",), ("all",), _POD_FIELDS, ("log", "status")),
    ResourceType("", "v1", "services", "Service", True, "service", ("svc",), ("all",), subresources=("status",)),
    ResourceType("", "v1", "endpoints", "Endpoints", True, "endpoints", ("ep",)),
    ResourceType("", "v1", "configmaps", "ConfigMap", True, "configmap", ("cm",)),
    ResourceType("", "v1", "secrets", "Secret", True, "secret", (), fields=("type",)),
    ResourceType("", "v1", "serviceaccounts", "ServiceAccount", True, "serviceaccount", ("sa",)),
    ResourceType("", "v1", "events", "Event", True, "event", ("ev",), fields=_EVENT_FIELDS),
    ResourceType("apps", "v1", "deployments", "Deployment", True, "deployment", ("deploy",), ("all",),
                 subresources=("status",)),
    ResourceType("apps", "v1", "daemonsets", "DaemonSet", True, "daemonset", ("ds",), ("all",),
                 subresources=("status",)),
    ResourceType("apps", "v1", "statefulsets", "StatefulSet", True, "statefulset", ("sts",), ("all",),
                 subresources=("status",)),
    ResourceType("apps", "v1", "replicasets", "ReplicaSet", True, "replicaset", ("rs",), ("all",),
                 fields=("status.replicas",), subresources=("status",)),
    ResourceType("batch", "v1", "jobs", "Job", True, "job", (), ("all",), fields=("status.successful",),
                 subresources=("status",)),
    ResourceType("apiextensions.k8s.io", "v1", "customresourcedefinitions", "CustomResourceDefinition", False,
                 "customresourcedefinition", ("crd", "crds"), ("api-extensions",), subresources=("status",)),
    ResourceType("rbac.authorization.k8s.io", "v1", "clusterroles", "ClusterRole", False, "clusterrole"),
    ResourceType("rbac.authorization.k8s.io", "v1", "clusterrolebindings", "ClusterRoleBinding", False,
                 "clusterrolebinding"),
    ResourceType("networking.k8s.io", "v1", "ingressclasses", "IngressClass", False, "ingressclass"),
)

# The preferred version of each built-in group, in the order the real server lists groups.
BUILTIN_GROUP_ORDER = ("", "apps", "batch", "apiextensions.k8s.io", "rbac.authorization.k8s.io",
                       "networking.k8s.io")


def now_iso(when=None):
    when = when or datetime.datetime.now(datetime.timezone.utc)
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text):
    if not text:
        return None
    try:
        return datetime.datetime.strptime(text[:19], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=datetime.timezone.utc)
    except ValueError:
        return None


def split_api_version(api_version):
    group, _, version = (api_version or "").rpartition("/")
    return group, version


# ---------------------------------------------------------------------------------------------- selectors
_KEY = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")
_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")


def _split_top(text):
    """Split on commas that are not inside parentheses."""
    parts, depth, current = [], 0, []
    for char in text:
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        if char == "," and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return [p.strip() for p in parts]


def _bad_selector(text, why):
    return KubeError(400, "BadRequest", f"unable to parse requirement: {why}: {text!r}")


def _check_key(key, text):
    if not _KEY.match(key) or len(key.rsplit("/", 1)[-1]) > 63:
        raise _bad_selector(text, f"invalid label key {key!r}")


def _check_value(value, text):
    if len(value) > 63 or not _VALUE.match(value):
        raise _bad_selector(text, f"invalid label value {value!r}")


def parse_label_selector(text):
    """Parse a label selector into a list of (key, operator, values). Raises KubeError(400)."""
    requirements = []
    if not text or not text.strip():
        return requirements
    for part in _split_top(text):
        if not part:
            raise _bad_selector(text, "found '', expected: identifier")
        match = re.match(r"^(\S+?)\s+(in|notin)\s*\((.*)\)$", part)
        if match:
            key, op, values = match.group(1), match.group(2), [v.strip() for v in match.group(3).split(",")]
            _check_key(key, text)
            for value in values:
                _check_value(value, text)
            requirements.append((key, op, set(values)))
            continue
        match = re.match(r"^([^=!<>\s]+)\s*(==|=|!=|>|<)\s*(.*)$", part)
        if match:
            key, op, value = match.group(1), match.group(2), match.group(3).strip()
            _check_key(key, text)
            if op in (">", "<"):
                if not re.match(r"^-?\d+$", value):
                    raise _bad_selector(text, f"for 'Gt', 'Lt' operators, the value must be an integer: {value!r}")
                requirements.append((key, op, int(value)))
                continue
            _check_value(value, text)
            requirements.append((key, "!=" if op == "!=" else "=", {value}))
            continue
        if part.startswith("!"):
            key = part[1:].strip()
            _check_key(key, text)
            requirements.append((key, "!", None))
            continue
        if " " in part or "(" in part:
            raise _bad_selector(text, f"unexpected token in {part!r}")
        _check_key(part, text)
        requirements.append((part, "exists", None))
    return requirements


def labels_match(requirements, labels):
    labels = labels or {}
    for key, op, values in requirements:
        present = key in labels
        value = labels.get(key)
        if op == "=" or op == "in":
            if not present or value not in values:
                return False
        elif op == "!=" or op == "notin":
            if present and value in values:
                return False
        elif op == "exists":
            if not present:
                return False
        elif op == "!":
            if present:
                return False
        elif op in (">", "<"):
            try:
                number = int(value)
            except (TypeError, ValueError):
                return False
            if (op == ">" and not number > values) or (op == "<" and not number < values):
                return False
    return True


def parse_field_selector(text, rtype):
    """Parse a field selector into (field, operator, value) triples, checking the fields `rtype` supports."""
    requirements = []
    if not text or not text.strip():
        return requirements
    allowed = {"metadata.name", "metadata.namespace"} | set(rtype.fields)
    for part in _split_top(text):
        match = re.match(r"^([^=!\s]+)\s*(==|=|!=)\s*(.*)$", part)
        if not match:
            raise KubeError(400, "BadRequest", f"invalid selector: '{text}'; can't understand '{part}'")
        name, op, value = match.group(1), match.group(2), match.group(3).strip()
        if name not in allowed:
            raise KubeError(400, "BadRequest", f"field label not supported: {name}")
        requirements.append((name, "!=" if op == "!=" else "=", value))
    return requirements


def field_value(obj, name):
    """The string value of a dotted field path ("" when absent), as the API server's field sets give it."""
    value = obj
    for part in name.split("."):
        if not isinstance(value, dict):
            value = None
            break
        value = value.get(part)
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if name == "source" and isinstance(value, dict):
        return value.get("component", "")
    return str(value)


def fields_match(requirements, obj):
    for name, op, value in requirements:
        actual = field_value(obj, name)
        if (op == "=" and actual != value) or (op == "!=" and actual == value):
            return False
    return True


# ---------------------------------------------------------------------------------------------- paging
def encode_continue(resource_version, last_key):
    data = {"v": "meta.k8s.io/v1", "rv": int(resource_version), "start": last_key + "\x00"}
    return base64.urlsafe_b64encode(json.dumps(data, separators=(",", ":")).encode()).decode().rstrip("=")


def decode_continue(token):
    try:
        padded = token + "=" * (-len(token) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode()).decode())
        if data.get("v") != "meta.k8s.io/v1" or not isinstance(data.get("start"), str):
            raise ValueError("unknown version")
        return int(data["rv"]), data["start"]
    except (ValueError, TypeError, KeyError) as exc:
        raise KubeError(400, "BadRequest", f"continue key is not valid: {exc}") from None


# ---------------------------------------------------------------------------------------------- store
@dataclass
class WatchEvent:
    resource_version: int
    type: str          # ADDED | MODIFIED | DELETED
    group: str
    plural: str
    namespace: str
    obj: dict = field(repr=False)


class ClusterStore:
    """The objects of one emulated cluster. Thread-safe; every public method returns deep copies."""

    def __init__(self, objects=()):
        self._lock = threading.RLock()
        self.changed = threading.Condition(self._lock)
        self._rv = 1000
        self._objects = {}          # (group, plural) -> {(namespace, name): object}
        self._events = []           # WatchEvent history for watches
        for obj in objects:
            self.put(obj)

    # -------------------------------------------------------------- types
    def types(self):
        """Built-in types plus one per served version of every stored CustomResourceDefinition."""
        with self._lock:
            out = list(BUILTIN_TYPES)
            crds = self._objects.get(("apiextensions.k8s.io", "customresourcedefinitions"), {})
            for (_, _), crd in sorted(crds.items()):
                spec = crd.get("spec") or {}
                names = spec.get("names") or {}
                for version in spec.get("versions") or []:
                    if not version.get("served", True):
                        continue
                    out.append(ResourceType(spec.get("group", ""), version.get("name", "v1"), names.get("plural", ""),
                                            names.get("kind", ""), spec.get("scope") == "Namespaced",
                                            names.get("singular", ""), tuple(names.get("shortNames") or ()),
                                            tuple(names.get("categories") or ()), custom=True))
            return out

    def find_type(self, group, version, plural):
        for rtype in self.types():
            if rtype.group == group and rtype.version == version and rtype.plural == plural:
                return rtype
        return None

    def type_for(self, obj):
        group, version = split_api_version(obj.get("apiVersion"))
        kind = obj.get("kind")
        candidates = [t for t in self.types() if t.group == group and t.kind == kind]
        for rtype in candidates:
            if rtype.version == version:
                return rtype
        if candidates:
            return candidates[0]
        raise ValueError(f"no resource type for apiVersion={obj.get('apiVersion')!r} kind={kind!r} "
                         "(store its CustomResourceDefinition first)")

    # -------------------------------------------------------------- writes (from the Python API)
    def _next_rv(self):
        self._rv += 1
        return self._rv

    def put(self, obj):
        """Store (create or replace) an object; returns the stored copy."""
        obj = copy.deepcopy(obj)
        with self._lock:
            rtype = self.type_for(obj)
            meta = obj.setdefault("metadata", {})
            name = meta.get("name")
            if not name:
                raise ValueError(f"{rtype.kind} without metadata.name")
            namespace = meta.get("namespace") or ("default" if rtype.namespaced else "")
            if rtype.namespaced:
                meta["namespace"] = namespace
            else:
                meta.pop("namespace", None)
            bucket = self._objects.setdefault((rtype.group, rtype.plural), {})
            existing = bucket.get((namespace, name))
            meta.setdefault("uid", (existing or {}).get("metadata", {}).get("uid")
                            or str(uuid.uuid5(_UID_NS, f"{rtype.group}/{rtype.plural}/{namespace}/{name}")))
            meta.setdefault("creationTimestamp", now_iso())
            rv = self._next_rv()
            meta["resourceVersion"] = str(rv)
            if rtype.kind == "CustomResourceDefinition":
                _fill_crd_status(obj)
            bucket[(namespace, name)] = obj
            self._events.append(WatchEvent(rv, "MODIFIED" if existing else "ADDED", rtype.group, rtype.plural,
                                           namespace, copy.deepcopy(obj)))
            self.changed.notify_all()
            return copy.deepcopy(obj)

    def delete(self, group, plural, name, namespace=""):
        """Remove an object; returns it, or None when it did not exist."""
        with self._lock:
            bucket = self._objects.get((group, plural), {})
            obj = bucket.pop((namespace or "", name), None)
            if obj is not None:
                rv = self._next_rv()
                gone = copy.deepcopy(obj)
                gone["metadata"]["resourceVersion"] = str(rv)
                self._events.append(WatchEvent(rv, "DELETED", group, plural, namespace or "", gone))
                self.changed.notify_all()
            return obj

    # -------------------------------------------------------------- reads
    @property
    def resource_version(self):
        with self._lock:
            return self._rv

    def get(self, rtype, name, namespace=""):
        with self._lock:
            obj = self._objects.get((rtype.group, rtype.plural), {}).get((namespace if rtype.namespaced else "", name))
            return copy.deepcopy(obj) if obj is not None else None

    def all_objects(self):
        with self._lock:
            return [copy.deepcopy(obj) for bucket in self._objects.values() for _, obj in sorted(bucket.items())]

    def select(self, rtype, namespace=None, label_selector=None, field_selector=None):
        """Matching objects sorted by (namespace, name), with their sort keys."""
        labels = parse_label_selector(label_selector)
        fields = parse_field_selector(field_selector, rtype)
        with self._lock:
            bucket = self._objects.get((rtype.group, rtype.plural), {})
            out = []
            for (ns, name), obj in sorted(bucket.items()):
                if namespace and ns != namespace:
                    continue
                if not labels_match(labels, obj.get("metadata", {}).get("labels")):
                    continue
                if not fields_match(fields, obj):
                    continue
                out.append((f"{ns}/{name}" if rtype.namespaced else name, copy.deepcopy(obj)))
            return out

    def list(self, rtype, namespace=None, label_selector=None, field_selector=None, limit=None, continue_token=None):
        """A `<Kind>List` dict, paged like the real server."""
        selected = self.select(rtype, namespace, label_selector, field_selector)
        with self._lock:
            rv = self._rv
        if continue_token:
            rv_token, start = decode_continue(continue_token)
            rv = rv_token
            selected = [(key, obj) for key, obj in selected if key >= start]
        meta = {"resourceVersion": str(rv)}
        if limit and limit > 0 and len(selected) > limit:
            page, rest = selected[:limit], selected[limit:]
            meta["continue"] = encode_continue(rv, page[-1][0])
            if not label_selector and not field_selector:
                meta["remainingItemCount"] = len(rest)
            selected = page
        items = []
        for _, obj in selected:
            if not rtype.custom:
                obj.pop("kind", None)
                obj.pop("apiVersion", None)
            items.append(obj)
        return {"kind": f"{rtype.kind}List", "apiVersion": rtype.api_version, "metadata": meta, "items": items}

    def events_since(self, resource_version, rtype, namespace=None):
        with self._lock:
            return [e for e in self._events if e.resource_version > resource_version and e.group == rtype.group
                    and e.plural == rtype.plural and (not namespace or e.namespace == namespace)]


def _fill_crd_status(crd):
    """Give a CRD the status a running apiextensions-apiserver would (Established, accepted names)."""
    spec = crd.get("spec") or {}
    status = crd.setdefault("status", {})
    status.setdefault("acceptedNames", copy.deepcopy(spec.get("names") or {}))
    status.setdefault("storedVersions", [v.get("name") for v in spec.get("versions") or [] if v.get("storage")])
    status.setdefault("conditions", [
        {"type": "NamesAccepted", "status": "True", "reason": "NoConflicts", "message": "no conflicts found",
         "lastTransitionTime": crd["metadata"].get("creationTimestamp")},
        {"type": "Established", "status": "True", "reason": "InitialNamesAccepted",
         "message": "the initial names have been accepted",
         "lastTransitionTime": crd["metadata"].get("creationTimestamp")},
    ])
