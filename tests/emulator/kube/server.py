"""The HTTPS server, authentication, routing, the request log and the `KubeEmulator` class.

Routing follows the Kubernetes API path layout (kubernetes.io "API Concepts"):
  /version, /api, /api/v1, /apis, /apis/{group}/{version}                      discovery (legacy documents)
  /api/v1/{resource}[/{name}[/{subresource}]]                                   cluster-scoped or all-namespaces
  /api/v1/namespaces/{ns}/{resource}[/{name}[/{subresource}]]                   namespaced
  /apis/{group}/{version}/... the same for named groups
each under the cluster prefix /clusters/{key}. Unknown paths answer `404 page not found` (text/plain), as
kube-apiserver's non-goroutine mux does.
"""

import base64
import copy
import itertools
import json
import secrets
import ssl
import sys
import tempfile
import threading
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional
from urllib.parse import parse_qsl, quote, unquote

import yaml

from ..log import REDACTED, redact
from ..server import EmulatorHandler, Served, _read_body
from .store import (BUILTIN_GROUP_ORDER, ALL_VERBS, READ_VERBS, ClusterStore, KubeError, fields_match, labels_match,
                    parse_field_selector, parse_label_selector)
from .tables import to_metadata_list, to_table, wants_metadata, wants_table

# The Microsoft Entra server application of AKS-managed Entra ID clusters, the same in every cloud.
AKS_AAD_SERVER_APP_ID = "6dae42f8-4368-4678-94ff-3960e28e3630"
# The Azure CLI's public client id that `az aks get-credentials` writes into exec kubeconfigs.
AZURE_CLI_CLIENT_ID = "80faf920-1908-4b52-b5ef-a8e7bedfc67a"
CLUSTER_PREFIX = "/clusters/"
WRITE_METHODS = ("POST", "PUT", "PATCH", "DELETE")
NOT_FOUND_TEXT = "404 page not found\n"


# ---------------------------------------------------------------------------------------------- log
@dataclass(repr=False)
class KubeRequest:
    """One request the Kubernetes emulator received. Never holds a token or a Secret's data.

    path: the path inside the cluster (`/api/v1/namespaces/azureml/pods`); full_path includes /clusters/{key}.
    cluster: the cluster key, or None when the path named no known cluster.
    auth: "token" (a cluster's static bearer token), "jwt" (an accepted Microsoft Entra token), "none"
          (no Authorization header) or "invalid" (a credential that was refused).
    verb: the Kubernetes authorization verb (get, list, watch, create, update, patch, delete,
          deletecollection), or None for discovery and other non-resource paths.
    body: the request body of a write, with Secret `data`/`stringData` values redacted.
    """

    seq: int
    time: float
    method: str
    path: str
    full_path: str
    query: dict
    cluster: Optional[str] = None
    status: Optional[int] = None
    reason: Optional[str] = None
    auth: str = "none"
    user: Optional[str] = None
    verb: Optional[str] = None
    group: Optional[str] = None
    resource: Optional[str] = None
    namespace: Optional[str] = None
    name: Optional[str] = None
    subresource: Optional[str] = None
    accept: str = ""
    user_agent: str = ""
    body: Any = field(default=None)

    @property
    def is_write(self):
        return self.method in WRITE_METHODS

    def to_dict(self):
        return {key: copy.deepcopy(getattr(self, key)) for key in (
            "seq", "time", "method", "path", "full_path", "query", "cluster", "status", "reason", "auth", "user",
            "verb", "group", "resource", "namespace", "name", "subresource", "accept", "user_agent", "body")}

    def to_json(self):
        return json.dumps(self.to_dict(), default=str)

    def line(self):
        query = "&".join(f"{k}={v}" for k, v in self.query.items())
        target = self.path + ("?" + query if query else "")
        return f"#{self.seq} [{self.cluster}] {self.method:6} {target} -> {self.status} ({self.auth})"

    def __repr__(self):
        shown = ", ".join(f"{key}={getattr(self, key)!r}" for key in
                          ("seq", "method", "path", "query", "cluster", "status", "auth", "verb"))
        return f"KubeRequest({shown})"

    __str__ = __repr__


def redact_body(body, resource=None):
    """A copy of a request body safe to log: Secret data (by resource, kind or a `stringData` field),
    tokens and private keys replaced."""
    if isinstance(body, dict):
        out = redact(body)
        if resource == "secrets" or body.get("kind") == "Secret" or "stringData" in body or resource is None:
            for key in ("data", "stringData"):
                if isinstance(out.get(key), dict):
                    out[key] = {name: REDACTED for name in out[key]}
        for key in ("token", "access_token"):
            if key in out:
                out[key] = REDACTED
        return out
    if isinstance(body, str):
        return redact(body) if len(body) < 4096 else redact(body[:4096]) + "..."
    return None


# ---------------------------------------------------------------------------------------------- replies
@dataclass
class Reply:
    status: int
    body: Any = None
    content_type: str = "application/json"
    headers: dict = field(default_factory=dict)
    reason: Optional[str] = None
    stream: Any = None            # a generator of bytes chunks (watch)


def status_reply(code, reason, message, details=None):
    """A `Status` object (api-conventions "Response Status Kind")."""
    body = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": message,
            "reason": reason, "code": code}
    if details is not None:
        body["details"] = details
    return Reply(code, body, reason=reason)


def not_found_page():
    return Reply(404, NOT_FOUND_TEXT, content_type="text/plain; charset=utf-8", reason="NotFound")


def _jwt_claims(token):
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        payload = base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4))
        claims = json.loads(payload.decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        return None
    return claims if isinstance(claims, dict) else None


# ---------------------------------------------------------------------------------------------- clusters
class Cluster:
    """One emulated cluster: its objects, credentials, version, authorization rules and pod logs."""

    def __init__(self, key, objects=(), token=None, entra=None, version="1.31.5", forbidden=(), logs=None,
                 failing=(), page_size=None):
        self.key = key
        self.store = ClusterStore(objects)
        self.token = secrets.token_hex(32) if token is None else token   # False: no static token
        self.entra = dict(entra) if entra else None
        if self.entra is not None:
            self.entra.setdefault("audience", AKS_AAD_SERVER_APP_ID)
            if not self.entra.get("tenant_id"):
                raise ValueError("entra needs a tenant_id")
        self.version = version
        self.forbidden = []
        self.set_forbidden(forbidden)
        self.failing = []
        self.set_failing(failing)
        self.page_size = page_size
        self.log_delay = 0.0          # seconds a pod log takes to answer (a slow kubelet), for the clients' timeouts
        self.logs = {}
        for target, text in (logs or {}).items():
            namespace, pod = target[0], target[1]
            container = target[2] if len(target) > 2 else None
            self.logs[(namespace, pod, container)] = text

    def set_forbidden(self, rules):
        """rules: True (every resource), "secrets", "apps/deployments", "*", or dicts
        {"resource", "group", "namespace", "verbs"}; False/None/() clears."""
        self.forbidden = _parse_rules(rules)

    def set_failing(self, rules, code=500):
        """Answer `code` (500 InternalError, 503 ServiceUnavailable, 504 Timeout, 429 TooManyRequests; 502: a
        proxy's HTML error page, not a Status) for the resources `rules` names (the forms of set_forbidden)."""
        self.failing = [dict(rule, code=code) for rule in _parse_rules(rules)]

    def failure(self, rtype, verb, namespace):
        """The code of the first failing rule that matches, or None."""
        for rule in self.failing:
            if _rule_matches(rule, rtype, verb, namespace):
                return rule["code"]
        return None

    def is_forbidden(self, rtype, verb, namespace):
        return any(_rule_matches(rule, rtype, verb, namespace) for rule in self.forbidden)

    def authenticate(self, header):
        """(auth kind, user name or None). Kinds: token, jwt, none, invalid."""
        if not header:
            return "none", None
        scheme, _, credential = header.partition(" ")
        credential = credential.strip()
        if scheme.lower() != "bearer" or not credential:
            return "invalid", None
        if self.token and secrets.compare_digest(credential.encode(), str(self.token).encode()):
            return "token", "clusterUser"
        if self.entra is not None:
            claims = _jwt_claims(credential)
            if claims is not None:
                audience = self.entra["audience"]
                auds = claims.get("aud") if isinstance(claims.get("aud"), list) else [claims.get("aud")]
                exp = claims.get("exp")
                if (any(a in (audience, f"spn:{audience}") for a in auds)
                        and str(claims.get("tid", "")).lower() == str(self.entra["tenant_id"]).lower()
                        and (exp is None or float(exp) > time.time())):
                    return "jwt", claims.get("upn") or claims.get("unique_name") or claims.get("oid") or "entra-user"
        return "invalid", None


def _parse_rules(rules):
    """Resource rules of set_forbidden/set_failing: True ("*"), "secrets", "apps/deployments", or dicts."""
    if rules is True:
        rules = ["*"]
    parsed = []
    for rule in rules or ():
        if isinstance(rule, str):
            group, _, resource = rule.rpartition("/")
            parsed.append({"group": group if group else None, "resource": resource, "namespace": None,
                           "verbs": None})
        else:
            parsed.append({"group": rule.get("group"), "resource": rule.get("resource", "*"),
                           "namespace": rule.get("namespace"), "verbs": rule.get("verbs")})
    return parsed


def _rule_matches(rule, rtype, verb, namespace):
    if rule["resource"] not in ("*", rtype.plural):
        return False
    if rule["group"] is not None and rule["group"] not in ("*", rtype.group):
        return False
    if rule["namespace"] and rule["namespace"] != namespace:
        return False
    return not rule["verbs"] or verb in rule["verbs"]


# ---------------------------------------------------------------------------------------------- HTTP server
class _Handler(EmulatorHandler):
    server_version = "amlk8s-kube-emulator/1.0"


def _parse_body(raw):
    if not raw:
        return None
    text = raw.decode("utf-8", errors="replace")
    try:
        return json.loads(text)
    except ValueError:
        try:
            return yaml.safe_load(text)
        except yaml.YAMLError:
            return text


# ---------------------------------------------------------------------------------------------- emulator
class KubeEmulator(Served):
    """A local HTTPS Kubernetes API server for many clusters. See tests/emulator/kube/__init__.py."""

    def __init__(self, state_dir=None, host="127.0.0.1", port=0, log_file=True, watch_timeout=5.0):
        self._own_state_dir = state_dir is None
        self.state_dir = Path(state_dir) if state_dir else Path(tempfile.mkdtemp(prefix="amlk8s-kube-emulator-"))
        self.host = host
        self._requested_port = port
        self._log_file_wanted = log_file
        self.watch_timeout = float(watch_timeout)
        self._lock = threading.RLock()
        self._clusters = {}
        self._log = []
        self._seq = itertools.count(1)
        self._server = None
        self._thread = None
        self._log_handle = None
        self._stopping = threading.Event()
        self.port = None
        self.base_url = None
        self.ca_path = None
        self.log_path = None

    # -------------------------------------------------------------- lifecycle
    def start(self):
        """Start serving in a background thread. Returns self."""
        if self._server is not None:
            return self
        self._stopping.clear()
        self._listen("kube-tls", "kube-requests.jsonl", handler=_Handler)
        self._serve_in_background("amlk8s-kube-emulator")
        return self

    def stop(self):
        """Stop serving and close live connections (watches included). Safe to call twice."""
        self._stopping.set()
        with self._lock:
            clusters = list(self._clusters.values())
        for cluster in clusters:
            with cluster.store.changed:
                cluster.store.changed.notify_all()
        self._close()

    # -------------------------------------------------------------- clusters
    def add_cluster(self, key, objects=(), token=None, entra=None, version="1.31.5", forbidden=(), logs=None,
                    failing=(), page_size=None):
        """Add (or replace) cluster `key`; returns its server URL. See the package docstring."""
        if not key or any(c in key for c in "/?#% "):
            raise ValueError(f"invalid cluster key {key!r}")
        cluster = Cluster(key, objects, token=token, entra=entra, version=version, forbidden=forbidden, logs=logs,
                          failing=failing, page_size=page_size)
        with self._lock:
            self._clusters[key] = cluster
        return self.server_url(key)

    def remove_cluster(self, key):
        """Forget cluster `key`; its URL then answers 404 page not found. Returns whether it existed."""
        with self._lock:
            cluster = self._clusters.pop(key, None)
        if cluster is not None:
            with cluster.store.changed:
                cluster.store.changed.notify_all()
        return cluster is not None

    def clusters(self):
        with self._lock:
            return sorted(self._clusters)

    def cluster(self, key):
        """The live `Cluster` (store, token, entra, forbidden rules, logs)."""
        with self._lock:
            if key not in self._clusters:
                raise KeyError(f"no cluster {key!r} in the Kubernetes emulator")
            return self._clusters[key]

    def server_url(self, key):
        if self.base_url is None:
            raise RuntimeError("start() the emulator first")
        return f"{self.base_url}{CLUSTER_PREFIX}{quote(key)}"

    def token(self, key):
        """The cluster's static bearer token (False when the cluster has none)."""
        return self.cluster(key).token

    def set_forbidden(self, key, rules=True):
        """Answer 403 Forbidden for the resources `rules` names (see Cluster.set_forbidden)."""
        self.cluster(key).set_forbidden(rules)

    def set_failing(self, key, rules=True, code=500):
        """Answer `code` to reads of the resources `rules` names (see Cluster.set_failing)."""
        self.cluster(key).set_failing(rules, code)

    def set_page_size(self, key, size):
        """At most `size` items per page of a LIST that asks for a `limit` (None: the limit asked for)."""
        self.cluster(key).page_size = size

    def put(self, key, *objects):
        """Create or replace objects in cluster `key`; returns the stored copies."""
        store = self.cluster(key).store
        return [store.put(obj) for obj in objects]

    def delete(self, key, api_version, kind, name, namespace=None):
        """Remove one object; returns it or None."""
        store = self.cluster(key).store
        rtype = store.type_for({"apiVersion": api_version, "kind": kind})
        return store.delete(rtype.group, rtype.plural, name, (namespace or "default") if rtype.namespaced else "")

    def get(self, key, api_version, kind, name, namespace=None):
        store = self.cluster(key).store
        rtype = store.type_for({"apiVersion": api_version, "kind": kind})
        return store.get(rtype, name, (namespace or "default") if rtype.namespaced else "")

    def objects(self, key):
        return self.cluster(key).store.all_objects()

    def set_log(self, key, namespace, pod, text, container=None):
        """What GET .../pods/{pod}/log answers (per container when `container` is given)."""
        self.cluster(key).logs[(namespace, pod, container)] = text

    def kubeconfig(self, key, context=None, user_auth="token", namespace=None, token=None, user=None,
                   tenant_id=None, login="devicecode"):
        """A kubeconfig (YAML text) for cluster `key`, CA inline (`certificate-authority-data`).

        user_auth: "token" (the cluster's static token, or `token=`), "exec-kubelogin" (what AKS
        listClusterUserCredential returns for Microsoft Entra ID clusters: an exec plugin running
        `kubelogin get-token --server-id 6dae42f8-...`), or "none" (no credential).
        """
        return yaml.safe_dump(self.kubeconfig_dict(key, context, user_auth, namespace, token, user, tenant_id, login),
                              sort_keys=False, default_flow_style=False)

    def kubeconfig_dict(self, key, context=None, user_auth="token", namespace=None, token=None, user=None,
                        tenant_id=None, login="devicecode"):
        cluster = self.cluster(key)
        ca_data = base64.b64encode(Path(self.ca_path).read_bytes()).decode()
        context = context or key
        user = user or f"clusterUser_{key}"
        if user_auth == "token":
            credential = token if token is not None else cluster.token
            if not credential:
                raise ValueError(f"cluster {key!r} has no static token (local accounts disabled)")
            user_entry = {"token": credential}
        elif user_auth == "exec-kubelogin":
            tenant = tenant_id or (cluster.entra or {}).get("tenant_id") or ""
            server_id = (cluster.entra or {}).get("audience") or AKS_AAD_SERVER_APP_ID
            user_entry = {"exec": {
                "apiVersion": "client.authentication.k8s.io/v1beta1",
                "args": ["get-token", "--environment", "AzurePublicCloud", "--server-id", server_id,
                         "--client-id", AZURE_CLI_CLIENT_ID, "--tenant-id", tenant, "--login", login],
                "command": "kubelogin",
                "env": None,
                "installHint": "\nkubelogin is not installed which is required to connect to AAD enabled cluster.\n\n"
                               "To learn more, please go to https://aka.ms/aks/kubelogin\n",
                "provideClusterInfo": False,
                "interactiveMode": "IfAvailable"}}
        elif user_auth == "none":
            user_entry = {}
        else:
            raise ValueError("user_auth must be token, exec-kubelogin or none")
        ctx = {"cluster": key, "user": user}
        if namespace:
            ctx["namespace"] = namespace
        return {"apiVersion": "v1", "kind": "Config", "preferences": {},
                "clusters": [{"name": key, "cluster": {"certificate-authority-data": ca_data,
                                                       "server": self.server_url(key)}}],
                "contexts": [{"name": context, "context": ctx}],
                "current-context": context,
                "users": [{"name": user, "user": user_entry}]}

    # -------------------------------------------------------------- log
    def requests(self, cluster=None, since=None):
        """Logged requests, optionally of one cluster key and with seq > since."""
        with self._lock:
            records = list(self._log)
        return [r for r in records if (cluster is None or r.cluster == cluster) and (since is None or r.seq > since)]

    def writes(self, cluster=None, since=None):
        """POST/PUT/PATCH/DELETE requests (all answered 405 MethodNotAllowed or 404)."""
        return [r for r in self.requests(cluster, since) if r.is_write]

    def clear_log(self):
        with self._lock:
            self._log.clear()

    def mark(self):
        """The seq of the last logged request (for since=)."""
        with self._lock:
            return self._log[-1].seq if self._log else 0

    def _record(self, record):
        with self._lock:
            record.seq = next(self._seq)
            self._log.append(record)
            if self._log_handle is not None:
                try:
                    self._log_handle.write(record.to_json() + "\n")
                except (OSError, ValueError):
                    pass

    # -------------------------------------------------------------- HTTP
    def _serve(self, handler):
        method = handler.command.upper()
        raw_path, _, raw_query = handler.path.partition("?")
        path = unquote(raw_path)
        query = {}
        for name, value in parse_qsl(raw_query, keep_blank_values=True):
            query[name] = value
        try:
            raw = _read_body(handler)
        except (OSError, ValueError):
            handler.close_connection = True
            return
        body = _parse_body(raw) if raw else None
        record = KubeRequest(seq=0, time=time.time(), method=method, path=path, full_path=path, query=query,
                             accept=handler.headers.get("Accept", ""),
                             user_agent=handler.headers.get("User-Agent", ""))
        try:
            reply = self._answer(method, path, query, body, handler, record)
        except KubeError as exc:
            reply = status_reply(exc.code, exc.reason, exc.message, exc.details)
        except Exception as exc:  # pragma: no cover - an emulator bug must not hang the client
            traceback.print_exc(file=sys.stderr)
            reply = status_reply(500, "InternalError", f"Internal error occurred: {exc!r}")
        record.status = reply.status
        record.reason = reply.reason
        if method in WRITE_METHODS:
            record.body = redact_body(body, record.resource)
        self._record(record)
        self._send(handler, method, reply)

    def _answer(self, method, path, query, body, handler, record):
        if not path.startswith(CLUSTER_PREFIX):
            return not_found_page()
        key, _, rest = path[len(CLUSTER_PREFIX):].partition("/")
        rest = "/" + rest
        record.path = rest.rstrip("/") or "/"
        with self._lock:
            cluster = self._clusters.get(key)
        if cluster is None:
            return not_found_page()
        record.cluster = key
        record.auth, record.user = cluster.authenticate(handler.headers.get("Authorization"))
        if record.auth not in ("token", "jwt"):
            return status_reply(401, "Unauthorized", "Unauthorized")
        return self._route(cluster, method, record.path, query, handler, record)

    def _route(self, cluster, method, path, query, handler, record):
        parts = [p for p in path.split("/") if p]
        store = cluster.store
        if method in ("GET", "HEAD"):
            discovery = self._discovery(cluster, parts)
            if discovery is not None:
                return discovery
        # Resource paths: api/v1/... or apis/{group}/{version}/...
        if len(parts) >= 3 and parts[0] == "api" and parts[1] == "v1":
            group, version, tail = "", "v1", parts[2:]
        elif len(parts) >= 4 and parts[0] == "apis":
            group, version, tail = parts[1], parts[2], parts[3:]
        else:
            return not_found_page()
        namespace = None
        if tail[0] == "namespaces" and len(tail) >= 3:
            namespace, tail = tail[1], tail[2:]
        if len(tail) > 3:
            return not_found_page()
        plural = tail[0]
        name = tail[1] if len(tail) > 1 else None
        subresource = tail[2] if len(tail) > 2 else None
        rtype = store.find_type(group, version, plural)
        if rtype is None or (namespace is not None and not rtype.namespaced):
            return not_found_page()
        if subresource and subresource not in rtype.subresources:
            return not_found_page()
        watching = query.get("watch") in ("true", "1")
        verb = _verb(method, name, watching)
        record.verb, record.group, record.resource = verb, group, plural
        record.namespace, record.name, record.subresource = namespace, name, subresource
        scope = namespace if rtype.namespaced else None
        if cluster.is_forbidden(rtype, verb, scope):
            return _forbidden(rtype, verb, record.user, name, scope, subresource)
        failure = cluster.failure(rtype, verb, scope) if verb in READ_VERBS else None
        if failure is not None:
            return _failure(failure)
        if verb not in READ_VERBS:
            return status_reply(405, "MethodNotAllowed", "the server does not allow this method on the requested "
                                                         "resource", {})
        accept = handler.headers.get("Accept", "")
        if name is None:
            if watching:
                return self._watch(cluster, rtype, namespace, query)
            limit = query.get("limit")
            try:
                limit = int(limit) if limit not in (None, "") else None
            except ValueError:
                raise KubeError(400, "BadRequest", f"invalid limit {limit!r}") from None
            if cluster.page_size and limit:
                # The common parameter `limit`: the server may return fewer items than asked for, with a continue
                # token; clients use only the presence of `continue` to tell whether more items exist.
                limit = min(limit, cluster.page_size)
            listing = store.list(rtype, namespace, query.get("labelSelector"), query.get("fieldSelector"), limit,
                                 query.get("continue") or None)
            metadata_version = wants_metadata(accept)
            if metadata_version:
                return Reply(200, to_metadata_list(listing["items"], listing["metadata"], metadata_version))
            table_version = wants_table(accept)
            if table_version:
                table = to_table(listing["items"], rtype, listing["metadata"], query.get("includeObject"))
                table["apiVersion"] = f"meta.k8s.io/{table_version}"
                return Reply(200, table)
            return Reply(200, listing)
        lookup_ns = namespace if rtype.namespaced else ""
        obj = store.get(rtype, name, lookup_ns)
        if obj is None:
            details = {"name": name, "kind": plural}
            if group:
                details["group"] = group
            return status_reply(404, "NotFound", f'{rtype.qualified} "{name}" not found', details)
        if subresource == "log":
            return self._pod_log(cluster, obj, query)
        table_version = wants_table(accept)
        if table_version:
            table = to_table([obj], rtype, {"resourceVersion": obj["metadata"].get("resourceVersion")},
                             query.get("includeObject"))
            table["apiVersion"] = f"meta.k8s.io/{table_version}"
            return Reply(200, table)
        return Reply(200, obj)

    # -------------------------------------------------------------- discovery
    def _discovery(self, cluster, parts):
        types = cluster.store.types()
        if parts == ["version"]:
            major, minor = (cluster.version.split(".") + ["0"])[:2]
            return Reply(200, {"major": major, "minor": minor, "emulationMajor": major, "emulationMinor": minor,
                               "minCompatibilityMajor": major, "minCompatibilityMinor": str(max(0, int(minor) - 1)),
                               "gitVersion": f"v{cluster.version}", "gitCommit": "emulated", "gitTreeState": "clean",
                               "buildDate": "2025-01-15T14:00:00Z", "goVersion": "go1.23.4", "compiler": "gc",
                               "platform": "linux/amd64"})
        # Aggregated discovery (apidiscovery.k8s.io/v2) is not implemented: these legacy documents are answered
        # with Content-Type application/json, which clients take as "fall back to per-group discovery".
        if parts == ["api"]:
            return Reply(200, {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": [
                {"clientCIDR": "0.0.0.0/0", "serverAddress": f"127.0.0.1:{self.port}"}]})
        if parts == ["api", "v1"]:
            return Reply(200, _resource_list("v1", [t for t in types if t.group == ""]))
        if parts == ["apis"]:
            return Reply(200, {"kind": "APIGroupList", "apiVersion": "v1", "groups": _groups(types)})
        if len(parts) == 2 and parts[0] == "apis":
            for group in _groups(types):
                if group["name"] == parts[1]:
                    return Reply(200, dict(group, kind="APIGroup", apiVersion="v1"))
            return not_found_page()
        if len(parts) == 3 and parts[0] == "apis":
            selected = [t for t in types if t.group == parts[1] and t.version == parts[2]]
            if not selected:
                return not_found_page()
            return Reply(200, _resource_list(f"{parts[1]}/{parts[2]}", selected))
        return None

    # -------------------------------------------------------------- pod logs
    def _pod_log(self, cluster, pod, query):
        meta = pod["metadata"]
        containers = [c.get("name") for c in (pod.get("spec") or {}).get("containers") or []]
        container = query.get("container")
        if container is None and len(containers) > 1:
            raise KubeError(400, "BadRequest", f"a container name must be specified for pod {meta['name']}, "
                                               f"choose one of: [{' '.join(containers)}]")
        if container is not None and containers and container not in containers:
            raise KubeError(400, "BadRequest", f"container {container} is not valid for pod {meta['name']}")
        container = container or (containers[0] if containers else None)
        if cluster.log_delay:
            time.sleep(cluster.log_delay)
        text = cluster.logs.get((meta["namespace"], meta["name"], container))
        if text is None:
            text = cluster.logs.get((meta["namespace"], meta["name"], None), "")
        tail = query.get("tailLines")
        if tail not in (None, ""):
            lines = text.splitlines(keepends=True)
            text = "".join(lines[-int(tail):]) if int(tail) > 0 else ""
        return Reply(200, text, content_type="text/plain")

    # -------------------------------------------------------------- watch
    def _watch(self, cluster, rtype, namespace, query):
        """Watch: ADDED events for the current state (no resourceVersion, or "0"), then changes, until
        timeoutSeconds (default: the emulator's watch_timeout) ends the stream."""
        store = cluster.store
        timeout = float(query.get("timeoutSeconds") or self.watch_timeout)
        start_rv = query.get("resourceVersion")
        initial = []
        if start_rv in (None, "", "0"):
            initial = [obj for _, obj in store.select(rtype, namespace, query.get("labelSelector"),
                                                      query.get("fieldSelector"))]
            since = store.resource_version
        else:
            since = int(start_rv)
        labels_sel, fields_sel = query.get("labelSelector"), query.get("fieldSelector")
        labels = parse_label_selector(labels_sel)
        fields = parse_field_selector(fields_sel, rtype)
        stopping = self._stopping

        def events():
            for obj in initial:
                obj.setdefault("kind", rtype.kind)
                obj.setdefault("apiVersion", rtype.api_version)
                yield (json.dumps({"type": "ADDED", "object": obj}) + "\n").encode()
            last = since
            deadline = time.monotonic() + timeout
            while not stopping.is_set():
                with store.changed:
                    pending = store.events_since(last, rtype, namespace)
                    if not pending:
                        remaining = deadline - time.monotonic()
                        if remaining <= 0:
                            return
                        store.changed.wait(min(remaining, 0.5))
                        continue
                for event in pending:
                    last = event.resource_version
                    obj = copy.deepcopy(event.obj)
                    if not labels_match(labels, obj.get("metadata", {}).get("labels")) or not fields_match(fields, obj):
                        continue
                    yield (json.dumps({"type": event.type, "object": obj}) + "\n").encode()

        return Reply(200, None, stream=events())

    # -------------------------------------------------------------- sending
    def _send(self, handler, method, reply):
        try:
            handler.send_response(reply.status)
            handler.send_header("Cache-Control", "no-cache, private")
            handler.send_header("Audit-Id", secrets.token_hex(16))
            handler.send_header("X-Kubernetes-Pf-Flowschema-Uid", "emulated")
            handler.send_header("X-Kubernetes-Pf-Prioritylevel-Uid", "emulated")
            for name, value in reply.headers.items():
                handler.send_header(name, value)
            if reply.stream is not None:
                handler.send_header("Content-Type", "application/json")
                handler.send_header("Transfer-Encoding", "chunked")
                handler.end_headers()
                for chunk in reply.stream:
                    handler.wfile.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
                    handler.wfile.flush()
                handler.wfile.write(b"0\r\n\r\n")
                return
            body = reply.body
            if body is None:
                payload = b""
            elif isinstance(body, bytes):
                payload = body
            elif isinstance(body, str):
                payload = body.encode("utf-8")
            else:
                payload = json.dumps(body).encode("utf-8")
            handler.send_header("Content-Type", reply.content_type)
            handler.send_header("X-Content-Type-Options", "nosniff")
            handler.send_header("Content-Length", str(len(payload)))
            handler.end_headers()
            if payload and method != "HEAD":
                handler.wfile.write(payload)
        except (OSError, ssl.SSLError):
            handler.close_connection = True


def _verb(method, name, watching):
    if method in ("GET", "HEAD"):
        if name is None:
            return "watch" if watching else "list"
        return "watch" if watching else "get"
    if method == "POST":
        return "create"
    if method == "PUT":
        return "update"
    if method == "PATCH":
        return "patch"
    if method == "DELETE":
        return "delete" if name else "deletecollection"
    return method.lower()


def _forbidden(rtype, verb, user, name, namespace, subresource):
    resource = rtype.plural + (f"/{subresource}" if subresource else "")
    where = f'in the namespace "{namespace}"' if namespace else "at the cluster scope"
    subject = f'{rtype.qualified} "{name}"' if name else rtype.qualified
    message = (f'{subject} is forbidden: User "{user}" cannot {verb} resource "{resource}" in API group '
               f'"{rtype.group}" {where}')
    details = {"kind": rtype.plural}
    if name:
        details["name"] = name
    if rtype.group:
        details["group"] = rtype.group
    return status_reply(403, "Forbidden", message, details)


_FAILURES = {
    500: ("InternalError", "Internal error occurred: etcdserver: request timed out"),
    503: ("ServiceUnavailable", "the server is currently unable to handle the request"),
    504: ("Timeout", "Timeout: request did not complete within requested timeout - context deadline exceeded"),
    429: ("TooManyRequests", "the server has received too many requests and has asked us to try again later"),
}


def _failure(code):
    """kube-apiserver's Status for a failing read, or (502) the HTML page of a proxy in front of it."""
    if code in _FAILURES:
        reason, message = _FAILURES[code]
        reply = status_reply(code, reason, message, {})
        if code == 429:
            reply.headers["Retry-After"] = "1"
        return reply
    return Reply(code, "<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1>"
                       "</center><hr><center>nginx</center></body></html>\n", content_type="text/html",
                 reason="BadGateway")


def _groups(types):
    order = {name: index for index, name in enumerate(BUILTIN_GROUP_ORDER)}
    groups = {}
    for rtype in types:
        if not rtype.group:
            continue
        entry = groups.setdefault(rtype.group, [])
        if rtype.version not in entry:
            entry.append(rtype.version)
    out = []
    for name in sorted(groups, key=lambda g: (order.get(g, len(order)), g)):
        versions = [{"groupVersion": f"{name}/{v}", "version": v} for v in groups[name]]
        out.append({"name": name, "versions": versions, "preferredVersion": versions[0]})
    return out


def _resource_list(group_version, types):
    resources = []
    for rtype in types:
        entry = {"name": rtype.plural, "singularName": rtype.singular or rtype.kind.lower(),
                 "namespaced": rtype.namespaced, "kind": rtype.kind, "verbs": list(ALL_VERBS)}
        if rtype.short_names:
            entry["shortNames"] = list(rtype.short_names)
        if rtype.categories:
            entry["categories"] = list(rtype.categories)
        resources.append(entry)
        for sub in rtype.subresources:
            verbs = ["get"] if sub == "log" else ["get", "patch", "update"]
            resources.append({"name": f"{rtype.plural}/{sub}", "singularName": "", "namespaced": rtype.namespaced,
                              "kind": "Pod" if sub == "log" else rtype.kind, "verbs": verbs})
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": group_version, "resources": resources}
