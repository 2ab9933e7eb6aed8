"""The emulated Azure Resource Manager: state and semantics, with no HTTP in it.

`World.handle(method, path, query, body)` answers one ARM request with a `Reply`. The caller
(server.py) holds the lock, has already checked the token and api-version, and does the HTTP.
"""

import base64
import copy
import hashlib
import hmac
import json
import re
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Optional
from urllib.parse import quote

from . import scenarios
from .deployments import DEPLOYMENTS_ROUTES, DeploymentsMixin
from .graph import GRAPH_ROUTES, GraphMixin
from .ml import ML_ROUTES, MachineLearningMixin
from .scenarios import (EXTENSIONS_API_VERSION, chart_not_found_message, guid, iso, relay_connection_string,
                        relay_key)

TRANSITIONAL = ("Creating", "Updating", "Deleting")
KC = "Microsoft.KubernetesConfiguration"
RELAY = "Microsoft.Relay"


@dataclass
class Reply:
    status: int
    body: Any = None
    headers: dict = field(default_factory=dict)
    unknown: bool = False


def arm_error(status, code, message, headers=None, details=None, unknown=False):
    error = {"code": code, "message": message}
    if details:
        error["details"] = details
    return Reply(status, {"error": error}, dict(headers or {}), unknown)


def invalid_content():
    return arm_error(400, "InvalidRequestContent", "The request content was invalid and could not be deserialized.")


def not_found(type_name, name, rg):
    return arm_error(404, "ResourceNotFound",
                     f"The Resource '{type_name}/{name}' under resource group '{rg}' was not found. "
                     "For more details please go to https://aka.ms/ARMResourceNotFoundFix")


@dataclass
class Operation:
    """A long-running operation on one resource (extension, relay namespace or resource group)."""

    id: str
    kind: str                     # create | update | delete
    target: str                   # lower-cased resource id
    target_id: str                # resource id, original casing
    resource: str                 # extension | relay-namespace | resource-group | binding | compute
    polls_left: int
    outcome: dict                 # {"status", "error", "statuses", "http_status"}
    force: bool = False
    status: str = "InProgress"
    error: Optional[dict] = None
    start: str = field(default_factory=iso)
    end: Optional[str] = None
    polls: int = 0                # how many times it was polled or its resource read
    started_at: float = field(default_factory=time.time)   # epoch seconds
    due: Optional[float] = None   # settings(complete_after=S): epoch seconds at which it completes, whatever the polls
    ended_at: Optional[float] = None
    action: Optional[str] = None  # compute deletes: the underlyingResourceAction (Delete | Detach)

    def body(self):
        data = {"id": f"{self.target_id}/operations/{self.id}", "name": self.id, "status": self.status,
                "startTime": self.start}
        if self.end:
            data["endTime"] = self.end
        if self.error:
            data["error"] = dict(self.error)
        return data


_S = r"/subscriptions/(?P<sub>[^/]+)"
_R = _S + r"/resourcegroups/(?P<rg>[^/]+)"
_CLUSTER_TYPES = r"(?P<rp>microsoft\.containerservice/managedclusters|microsoft\.kubernetes/connectedclusters)"
_C = _R + r"/providers/" + _CLUSTER_TYPES + r"/(?P<cluster>[^/]+)"
_AKS = _R + r"/providers/microsoft\.containerservice/managedclusters/(?P<cluster>[^/]+)"
_E = _C + r"/providers/microsoft\.kubernetesconfiguration/extensions"
_N = _R + r"/providers/microsoft\.relay/namespaces"
_HC = _N + r"/(?P<ns>[^/]+)/hybridconnections"

ROUTES = [
    (r"/subscriptions", ("GET",), "list_subscriptions"),
    (r"/tenants", ("GET",), "list_tenants"),
    (_S, ("GET",), "get_subscription"),
    (_S + r"/resourcegroups", ("GET",), "list_groups"),
    (_R, ("GET", "HEAD", "PUT", "PATCH", "DELETE"), "resource_group"),
    (_S + r"/operationresults/(?P<op>[^/]+)", ("GET",), "poll_location"),
    (_S + r"/providers", ("GET",), "list_providers"),
    (_S + r"/providers/microsoft\.containerservice/locations/(?P<loc>[^/]+)/kubernetesversions", ("GET",),
     "kubernetes_versions"),
    (_S + r"/providers/microsoft\.compute/skus", ("GET",), "skus"),
    (_S + r"/providers/" + _CLUSTER_TYPES, ("GET",), "list_clusters"),
    (_S + r"/providers/(?P<ns>[^/]+)", ("GET",), "get_provider"),
    (_S + r"/providers/(?P<ns>[^/]+)/(?P<action>register|unregister)", ("POST",), "register_provider"),
    (_R + r"/providers/" + _CLUSTER_TYPES, ("GET",), "list_clusters"),
    (_C, ("GET",), "get_cluster"),
    (_AKS + r"/agentpools", ("GET",), "list_pools"),
    (_AKS + r"/agentpools/(?P<pool>[^/]+)", ("GET",), "get_pool"),
    (_AKS + r"/trustedaccessrolebindings", ("GET",), "list_bindings"),
    (_AKS + r"/trustedaccessrolebindings/(?P<name>[^/]+)", ("GET", "PUT", "DELETE"), "binding"),
    (_AKS + r"/(?P<action>listclusterusercredential|listclusteradmincredential|listclustermonitoringusercredential)",
     ("POST",), "cluster_credentials"),
    (_S + r"/providers/microsoft\.containerservice/locations/(?P<loc>[^/]+)/operations/(?P<op>[^/]+)", ("GET",),
     "poll_async"),
    (_S + r"/providers/microsoft\.containerservice/locations/(?P<loc>[^/]+)/operationresults/(?P<op>[^/]+)", ("GET",),
     "poll_location"),
    (_C + r"/providers/microsoft\.kubernetesconfiguration/extensiontypes/(?P<etype>[^/]+)/versions", ("GET",),
     "extension_type_versions"),
    (_S + r"/providers/microsoft\.kubernetesconfiguration/locations/(?P<loc>[^/]+)/extensiontypes/(?P<etype>[^/]+)"
          r"/versions", ("GET",), "extension_type_versions"),
    (_E, ("GET",), "list_extensions"),
    (_E + r"/(?P<name>[^/]+)", ("GET", "PUT", "PATCH", "DELETE"), "extension"),
    (_E + r"/(?P<name>[^/]+)/operations/(?P<op>[^/]+)", ("GET",), "poll_async"),
    (_E + r"/(?P<name>[^/]+)/operationresults/(?P<op>[^/]+)", ("GET",), "poll_location"),
    (_N, ("GET",), "list_namespaces"),
    (_N + r"/(?P<ns>[^/]+)", ("GET", "PUT", "DELETE"), "relay_namespace"),
    (_N + r"/(?P<ns>[^/]+)/operationresults/(?P<op>[^/]+)", ("GET",), "poll_location"),
    (_HC, ("GET",), "list_hybrid_connections"),
    (_HC + r"/(?P<hc>[^/]+)", ("GET", "PUT", "DELETE"), "hybrid_connection"),
    (_HC + r"/(?P<hc>[^/]+)/authorizationrules", ("GET",), "list_rules"),
    (_HC + r"/(?P<hc>[^/]+)/authorizationrules/(?P<rule>[^/]+)", ("GET", "PUT", "DELETE"), "rule"),
    (_HC + r"/(?P<hc>[^/]+)/authorizationrules/(?P<rule>[^/]+)/(?P<action>listkeys|regeneratekeys)", ("POST",),
     "rule_keys"),
] + ML_ROUTES + GRAPH_ROUTES + DEPLOYMENTS_ROUTES
_COMPILED = [(re.compile(pattern, re.IGNORECASE), methods, name) for pattern, methods, name in ROUTES]
_POLL = re.compile(r"/(operations|operationresults|computeoperationsstatus|computeoperationsresult)/[^/]+$",
                   re.IGNORECASE)


def match_route(path):
    """(handler name, allowed methods, groups) for an ARM path, or None."""
    clean = path.rstrip("/") or "/"
    for pattern, methods, name in _COMPILED:
        found = pattern.fullmatch(clean)
        if found:
            return name, methods, found.groupdict()
    return None


def is_poll_path(path):
    return bool(_POLL.search(path.rstrip("/")))


def public_view(body):
    """What the service returns for a stored body: never configurationProtectedSettings."""
    if body is None:
        return None
    out = copy.deepcopy(body)
    props = out.get("properties")
    if isinstance(props, dict):
        props.pop("configurationProtectedSettings", None)
    return out


def _cluster_kind(rp):
    return "managedClusters" if rp.lower().endswith("managedclusters") else "connectedClusters"


def _cluster_type_name(rp):
    return ("Microsoft.ContainerService/managedClusters" if _cluster_kind(rp) == "managedClusters"
            else "Microsoft.Kubernetes/connectedClusters")


class World(MachineLearningMixin, GraphMixin, DeploymentsMixin):
    """All state of one emulated world: its subscriptions, resources, operations and settings."""

    def __init__(self, spec, seed, base_url):
        self.spec_name = spec.get("name", "custom")
        self.subscriptions = {}
        for sub in scenarios.world_subscriptions(spec):
            self.subscriptions.setdefault(sub["id"].lower(), {
                "id": sub["id"], "name": sub.get("name", "emulated"),
                "tenant_id": sub.get("tenant_id") or scenarios.TENANT_ID, "state": sub.get("state", "Enabled")})
        # Management groups (id -> {displayName, parent, subscriptions}): Resource Graph's managementGroups scope.
        self.management_groups = dict(spec.get("management_groups") or {})
        # Azure Policy's compliance states, as Resource Graph's policyresources table shows them (graph.py).
        self.policy_states = list(spec.get("policy_states") or [])
        first = next(iter(self.subscriptions.values()))
        self.subscription_id = first["id"]
        self.subscription_name = first["name"]
        self.tenant_id = first["tenant_id"]
        # The subscription of the request being answered (handle() sets it; rg_id() and friends use it).
        self.current_sub = self.subscription_id
        # The caller's principal (the token's oid), set by the server before handle(); Resource Graph quotas use it.
        self.caller = None
        self.identity = dict(spec.get("identity") or {"client_id": scenarios.CLIENT_ID,
                                                      "object_id": scenarios.OBJECT_ID})
        self.seed = seed
        self.base_url = base_url.rstrip("/")
        self.resources = {}
        for body in spec.get("resources", []):
            self.store(body)
        self.providers = {ns.lower(): {"namespace": ns, "state": state, "pending": 0}
                          for ns, state in spec.get("providers", {}).items()}
        self.skus = copy.deepcopy(spec.get("skus", []))
        versions = copy.deepcopy(spec.get("kubernetes_versions", {}))
        self.kubernetes_versions = {loc.lower(): values for loc, values in versions.items()}
        self.extension_versions = {k.lower(): list(v) for k, v in spec.get("extension_versions", {}).items()}
        self.extension_train_versions = {
            k.lower(): {train.lower(): list(versions) for train, versions in trains.items()}
            for k, trains in spec.get("extension_train_versions", {}).items()}
        self.relay_keys = {k.lower(): dict(v) for k, v in spec.get("relay_keys", {}).items()}
        self.settings = dict(scenarios.DEFAULT_SETTINGS)
        self.settings.update(spec.get("settings") or {})
        self.outcomes = [dict(rule) for rule in spec.get("outcomes", [])]
        self.ops = {}
        self.active = {}
        # listClusterUserCredential / listClusterAdminCredential: kubeconfigs set per cluster (lower-cased id), the
        # emulator-wide factory (set by the server before each request) and the secrets handed out so far.
        self.kubeconfigs = {}
        self.kubeconfig_factory = None
        self.handed_out = set()
        self.throttle = None          # throttle.Throttle, made by the server
        self.graph_quota = {}         # Resource Graph user quota windows: principal -> [window start, used]

    # ------------------------------------------------------------------ store helpers
    def store(self, body):
        body = copy.deepcopy(body)
        rid = body["id"]
        lid = rid.lower()
        if lid in self.resources:
            body["id"] = self.resources[lid]["id"]
        self.resources[lid] = body
        return body

    def get(self, rid):
        return self.resources.get(rid.lower().rstrip("/"))

    def remove(self, rid, children=True):
        lid = rid.lower().rstrip("/")
        removed = [key for key in self.resources if key == lid or (children and key.startswith(lid + "/"))]
        for key in removed:
            del self.resources[key]
            self.relay_keys.pop(key, None)
            op_id = self.active.pop(key, None)
            if op_id and op_id in self.ops and self.ops[op_id].status == "InProgress":
                self.ops[op_id].status = "Canceled"
                self.ops[op_id].end = iso()
        return bool(removed)

    def page_of(self, items, path, query, token, bad_token, default_api=None):
        """One page (settings page_size; 0 = all) of a LIST answer, public views only, with a nextLink carrying the
        offset in the query parameter ``token`` ($skipToken, or $skip as Machine Learning's computes list has it);
        ``bad_token`` answers a token that is not an offset."""
        size = int(self.settings.get("page_size") or 0)
        try:
            start = max(0, int(query.get(token, "0") or 0))
        except ValueError:
            return bad_token
        page = items[start:start + size] if size > 0 else items[start:]
        result = {"value": [public_view(b) for b in page]}
        if size > 0 and start + size < len(items):
            api = query.get("api-version", default_api)
            result["nextLink"] = f"{self.base_url}{path}?api-version={api}&{token}={start + size}"
        return Reply(200, result)

    def children(self, parent_id, segment):
        """Stored resources directly under `parent_id`/`segment`/<name>, in insertion order."""
        prefix = f"{parent_id.lower().rstrip('/')}/{segment.lower()}/"
        return [body for key, body in self.resources.items()
                if key.startswith(prefix) and "/" not in key[len(prefix):]]

    def find_cluster(self, cluster):
        """The stored cluster for a name or a resource id (AKS or Arc), or None."""
        if cluster.startswith("/"):
            body = self.get(cluster)
            return body
        wanted = cluster.lower()
        for key, body in self.resources.items():
            if key.rsplit("/", 1)[-1] != wanted or "/providers/microsoft.kubernetesconfiguration/" in key:
                continue
            if any(kind in key for kind in ("/microsoft.containerservice/managedclusters/",
                                            "/microsoft.kubernetes/connectedclusters/")):
                return body
        return None

    def secret_values(self):
        """Every secret string the world holds (protected values, relay keys and connection strings)."""
        found = []
        for body in self.resources.values():
            protected = (body.get("properties") or {}).get("configurationProtectedSettings") or {}
            found.extend(str(v) for v in protected.values() if v)
        for rule_id, keys in self.relay_keys.items():
            found.extend(keys.values())
            found.extend(self._connection_strings(rule_id, keys).values())
        found.extend(self.handed_out)
        return sorted(set(found))

    # ------------------------------------------------------------------ headers
    def retry_headers(self):
        headers = {}
        if self.settings.get("retry_after") not in (None, ""):
            headers["Retry-After"] = str(self.settings["retry_after"])
        if self.settings.get("retry_after_ms") not in (None, ""):
            headers["x-ms-retry-after-ms"] = str(self.settings["retry_after_ms"])
        return headers

    def url(self, path, api_version):
        return f"{self.base_url}{path}?api-version={api_version}"

    # ------------------------------------------------------------------ entry point
    def handle(self, method, path, query, body, route):
        name, methods, groups = route
        if method not in methods:
            return arm_error(405, "MethodNotAllowed",
                             f"The requested resource does not support http method '{method}'.", unknown=True)
        if groups.get("sub"):
            known = self.subscriptions.get(groups["sub"].lower())
            if known is None:
                return arm_error(404, "SubscriptionNotFound", f"The subscription '{groups['sub']}' could not be found.")
            self.current_sub = known["id"]
        else:
            self.current_sub = self.subscription_id
        if groups.get("rg") and name != "resource_group" and not self.get(self.rg_id(groups["rg"])):
            return arm_error(404, "ResourceGroupNotFound", f"Resource group '{groups['rg']}' could not be found.")
        return getattr(self, "h_" + name)(method, path, query, body, groups)

    def rg_id(self, rg, sub=None):
        return f"/subscriptions/{sub or self.current_sub}/resourceGroups/{rg}"

    def subscription_of(self, resource_id):
        """The subscription id (stored casing) a resource id belongs to, or None."""
        found = re.match(r"/subscriptions/([^/]+)", resource_id or "", re.IGNORECASE)
        known = self.subscriptions.get(found.group(1).lower()) if found else None
        return known["id"] if known else None

    def fallback(self, method, path, query):
        """A stored resource of a type without its own handler (put_resource), or an ARM 404."""
        body = self.get(path)
        if body is not None and method in ("GET", "HEAD"):
            return Reply(200, public_view(body) if method == "GET" else None)
        api = query.get("api-version", "")
        found = re.search(r"/providers/([^/]+)/([^/]+)(?:/([^/]+))?", path, re.IGNORECASE)
        if not found:
            return arm_error(404, "NotFound", f"The requested path '{path}' is not served by the ARM emulator.",
                             unknown=True)
        namespace, rtype, rname = found.groups()
        known = {ns.lower(): ns for ns in scenarios.PROVIDER_TYPES}
        if namespace.lower() not in known:
            return arm_error(404, "InvalidResourceNamespace", f"The resource namespace '{namespace}' is invalid.",
                             unknown=True)
        types = {t.lower() for t, _ in scenarios.PROVIDER_TYPES[known[namespace.lower()]]}
        if rtype.lower() in types and rname:
            rg = re.search(r"/resourcegroups/([^/]+)", path, re.IGNORECASE)
            reply = not_found(f"{known[namespace.lower()]}/{rtype}", rname, rg.group(1) if rg else "")
            reply.unknown = True
            return reply
        return arm_error(404, "InvalidResourceType",
                         f"The resource type '{rtype}' could not be found in the namespace '{namespace}' "
                         f"for api version '{api}'.", unknown=True)

    def require_registered(self, namespace):
        state = self.providers.get(namespace.lower(), {}).get("state", "NotRegistered")
        if state == "Registered":
            return None
        message = (f"The subscription is not registered to use namespace '{namespace}'. "
                   "See https://aka.ms/rps-not-found for how to register subscriptions.")
        return arm_error(409, "MissingSubscriptionRegistration", message,
                         details=[{"code": "MissingSubscriptionRegistration", "target": namespace,
                                   "message": message}])

    # ------------------------------------------------------------------ subscriptions, tenants, groups
    def subscription_body(self, sub=None):
        """Subscriptions_Get / Subscriptions_List bodies (Resources spec, subscriptions.json)."""
        entry = self.subscriptions[(sub or self.current_sub).lower()]
        return {"id": f"/subscriptions/{entry['id']}", "authorizationSource": "RoleBased",
                "managedByTenants": [], "subscriptionId": entry["id"], "tenantId": entry["tenant_id"],
                "displayName": entry["name"], "state": entry["state"],
                "subscriptionPolicies": {"locationPlacementId": "Public_2014-09-01",
                                         "quotaId": "PayAsYouGo_2014-09-01", "spendingLimit": "Off"}}

    def h_list_subscriptions(self, method, path, query, body, g):
        values = [self.subscription_body(sub["id"]) for sub in self.subscriptions.values()]
        return Reply(200, {"count": {"type": "Total", "value": len(values)}, "value": values})

    def h_list_tenants(self, method, path, query, body, g):
        return Reply(200, {"value": [{"id": f"/tenants/{self.tenant_id}", "tenantId": self.tenant_id,
                                      "tenantCategory": "Home", "displayName": "Contoso (emulated)",
                                      "defaultDomain": "contoso.onmicrosoft.com", "tenantType": "AAD",
                                      "domains": ["contoso.onmicrosoft.com"]}]})

    def h_get_subscription(self, method, path, query, body, g):
        return Reply(200, self.subscription_body())

    def h_list_groups(self, method, path, query, body, g):
        prefix = f"/subscriptions/{self.current_sub.lower()}/resourcegroups/"
        groups = [b for k, b in self.resources.items()
                  if k.startswith(prefix) and "/" not in k[len(prefix):]]
        return Reply(200, {"value": [public_view(b) for b in groups]})

    def h_resource_group(self, method, path, query, body, g):
        rid = self.rg_id(g["rg"])
        existing = self.get(rid)
        if method in ("GET", "HEAD"):
            if existing is None:
                if method == "HEAD":
                    return Reply(404)
                return arm_error(404, "ResourceGroupNotFound", f"Resource group '{g['rg']}' could not be found.")
            return Reply(204 if method == "HEAD" else 200, None if method == "HEAD" else public_view(existing))
        if method in ("PUT", "PATCH"):
            if not isinstance(body, dict):
                return invalid_content()
            if method == "PATCH":
                if existing is None:
                    return arm_error(404, "ResourceGroupNotFound", f"Resource group '{g['rg']}' could not be found.")
                if "tags" in body:
                    existing["tags"] = dict(body["tags"] or {})
                return Reply(200, public_view(existing))
            location = body.get("location")
            if not location:
                return arm_error(400, "LocationRequired", "The location property is required for this definition.")
            if existing is not None and existing["location"].lower() != str(location).replace(" ", "").lower():
                return arm_error(409, "InvalidResourceGroupLocation",
                                 f"Invalid resource group location '{location}'. The Resource group already exists "
                                 f"in location '{existing['location']}'.")
            stored = self.store(scenarios.resource_group(g["rg"] if existing is None else existing["name"],
                                                         str(location).replace(" ", "").lower(),
                                                         body.get("tags") or existing and existing.get("tags"),
                                                         self.current_sub))
            return Reply(200 if existing else 201, public_view(stored))
        # DELETE: an LRO with a Location header; everything in the group goes when it completes.
        if existing is None:
            return arm_error(404, "ResourceGroupNotFound", f"Resource group '{g['rg']}' could not be found.")
        existing["properties"]["provisioningState"] = "Deleting"
        op = self.start_operation("delete", existing["id"], "resource-group")
        headers = {"Location": self.url(f"/subscriptions/{self.current_sub}/operationresults/{op.id}",
                                        query["api-version"])}
        headers.update(self.retry_headers())
        return Reply(202, None, headers)

    # ------------------------------------------------------------------ providers and catalogues
    def provider_body(self, entry):
        return scenarios.provider_body(entry["namespace"], entry["state"], self.current_sub)

    def h_list_providers(self, method, path, query, body, g):
        return Reply(200, {"value": [self.provider_body(self._tick_provider(e)) for e in self.providers.values()]})

    def _tick_provider(self, entry):
        if entry["state"] == "Registering":
            if entry["pending"] > 0:
                entry["pending"] -= 1
            else:
                entry["state"] = "Registered"
        return entry

    def h_get_provider(self, method, path, query, body, g):
        entry = self.providers.get(g["ns"].lower())
        if entry is None:
            return arm_error(404, "InvalidResourceNamespace", f"The resource namespace '{g['ns']}' is invalid.")
        return Reply(200, self.provider_body(self._tick_provider(entry)))

    def h_register_provider(self, method, path, query, body, g):
        entry = self.providers.get(g["ns"].lower())
        if entry is None:
            return arm_error(404, "InvalidResourceNamespace", f"The resource namespace '{g['ns']}' is invalid.")
        if g["action"].lower() == "register":
            if entry["state"] != "Registered":
                pending = int(self.settings.get("register_polls") or 0)
                entry["state"] = "Registering" if pending > 0 else "Registered"
                entry["pending"] = pending
        else:
            entry["state"] = "Unregistered"
        return Reply(200, self.provider_body(entry))

    def h_kubernetes_versions(self, method, path, query, body, g):
        values = self.kubernetes_versions.get(g["loc"].replace(" ", "").lower())
        if values is None:
            return arm_error(404, "NoRegisteredProviderFound",
                             f"No registered resource provider found for location '{g['loc']}' and API version "
                             f"'{query.get('api-version', '')}' for type 'locations/kubernetesVersions'.")
        return Reply(200, {"values": copy.deepcopy(values)})

    def h_skus(self, method, path, query, body, g):
        skus = self.skus
        found = re.search(r"location\s+eq\s+'([^']*)'", query.get("$filter", ""), re.IGNORECASE)
        if found:
            wanted = found.group(1).replace(" ", "").lower()
            skus = [s for s in skus if wanted in [loc.lower() for loc in s.get("locations", [])]]
        return Reply(200, {"value": copy.deepcopy(skus)})

    # ------------------------------------------------------------------ clusters
    def cluster_id(self, g):
        prefix = "Microsoft.ContainerService/managedClusters" if _cluster_kind(g["rp"]) == "managedClusters" \
            else "Microsoft.Kubernetes/connectedClusters"
        return f"{self.rg_id(g['rg'])}/providers/{prefix}/{g['cluster']}"

    def h_list_clusters(self, method, path, query, body, g):
        kind = "/" + g["rp"].lower() + "/"
        prefix = self.rg_id(g["rg"]).lower() + "/" if g.get("rg") else f"/subscriptions/{self.current_sub.lower()}/"
        items = [public_view(b) for k, b in self.resources.items()
                 if kind in k and k.startswith(prefix) and k.endswith("/" + b["name"].lower())
                 and k.split(kind, 1)[1].count("/") == 0]
        return Reply(200, {"value": items})

    def h_get_cluster(self, method, path, query, body, g):
        cluster = self.get(self.cluster_id(g))
        if cluster is None:
            return not_found(_cluster_type_name(g["rp"]), g["cluster"], g["rg"])
        return Reply(200, public_view(cluster))

    def _pool_resource(self, cluster, profile):
        props = {k: v for k, v in profile.items() if k != "name"}
        return {"id": f"{cluster['id']}/agentPools/{profile['name']}", "name": profile["name"],
                "type": "Microsoft.ContainerService/managedClusters/agentPools", "properties": copy.deepcopy(props)}

    def h_list_pools(self, method, path, query, body, g):
        g = dict(g, rp="microsoft.containerservice/managedclusters")
        cluster = self.get(self.cluster_id(g))
        if cluster is None:
            return not_found("Microsoft.ContainerService/managedClusters", g["cluster"], g["rg"])
        pools = cluster["properties"].get("agentPoolProfiles") or []
        return Reply(200, {"value": [self._pool_resource(cluster, p) for p in pools]})

    def h_get_pool(self, method, path, query, body, g):
        g = dict(g, rp="microsoft.containerservice/managedclusters")
        cluster = self.get(self.cluster_id(g))
        if cluster is None:
            return not_found("Microsoft.ContainerService/managedClusters", g["cluster"], g["rg"])
        for profile in cluster["properties"].get("agentPoolProfiles") or []:
            if profile["name"].lower() == g["pool"].lower():
                return Reply(200, self._pool_resource(cluster, profile))
        return arm_error(404, "NotFound", f"Could not find agent pool {g['pool']} in managed cluster "
                                          f"{cluster['name']}.")

    def h_list_bindings(self, method, path, query, body, g):
        g = dict(g, rp="microsoft.containerservice/managedclusters")
        cluster_id = self.cluster_id(g)
        if self.get(cluster_id) is None:
            return not_found("Microsoft.ContainerService/managedClusters", g["cluster"], g["rg"])
        return Reply(200, {"value": [public_view(b) for b in self.children(cluster_id, "trustedAccessRoleBindings")]})

    def h_binding(self, method, path, query, body, g):
        """TrustedAccessRoleBindings_Get / _CreateOrUpdate / _Delete (ContainerService spec, managedClusters.json;
        CreateOrUpdate and Delete are long-running: PUT answers 201/200 with Azure-AsyncOperation, DELETE 202 with
        Location). The binding name is 1-24 characters of `^([A-Za-z0-9-])+$`; properties.sourceResourceId and a
        non-empty properties.roles are required, each role named after the source's resource type
        (Microsoft.MachineLearningServices/workspaces/mlworkload for a workspace)."""
        g = dict(g, rp="microsoft.containerservice/managedclusters")
        cluster = self.get(self.cluster_id(g))
        if cluster is None:
            if method == "DELETE":
                return Reply(204)
            return not_found("Microsoft.ContainerService/managedClusters", g["cluster"], g["rg"])
        bid = f"{cluster['id']}/trustedAccessRoleBindings/{g['name']}"
        existing = self.get(bid)
        if method == "GET":
            if existing is None:
                return arm_error(404, "NotFound", f"Trusted access role binding {g['name']} is not found.")
            self.advance(existing["id"])
            return Reply(200, public_view(self.get(existing["id"])))
        location = cluster.get("location", "eastus")
        if method == "DELETE":
            if existing is None:
                return Reply(204)
            busy = self.active.get(existing["id"].lower())
            if busy:
                return arm_error(409, "OperationNotAllowed", "Another operation is in progress on trusted access role "
                                                             f"binding {existing['name']}; retry after it completes.")
            existing["properties"]["provisioningState"] = "Deleting"
            op = self.start_operation("delete", existing["id"], "binding")
            headers = {"Location": self.url(f"/subscriptions/{self.current_sub}/providers/Microsoft.ContainerService/"
                                            f"locations/{location}/operationresults/{op.id}", _api(query))}
            headers.update(self.retry_headers())
            return Reply(202, None, headers)
        missing = self.require_registered("Microsoft.ContainerService")
        if missing:
            return missing
        name = g["name"]
        if not (1 <= len(name) <= 24) or not re.fullmatch(r"[A-Za-z0-9-]+", name):
            return arm_error(400, "InvalidParameter",
                             f"The trusted access role binding name '{name}' is invalid: it must be 1 to 24 "
                             "characters long and contain only letters, digits and hyphens (^([A-Za-z0-9-])+$).")
        if not isinstance(body, dict):
            return invalid_content()
        props = body.get("properties") if isinstance(body.get("properties"), dict) else {}
        source = props.get("sourceResourceId")
        roles = props.get("roles")
        if not source or not isinstance(source, str):
            return arm_error(400, "InvalidParameter", "properties.sourceResourceId is required.")
        if not roles or not isinstance(roles, list) or not all(isinstance(r, str) and r for r in roles):
            return arm_error(400, "InvalidParameter", "properties.roles must list at least one role.")
        source_type = _resource_type_of(source)
        for role in roles:
            if not source_type or not role.lower().startswith(source_type.lower() + "/"):
                return arm_error(400, "InvalidParameter",
                                 f"The role '{role}' is not a trusted access role of the source resource type "
                                 f"'{source_type or source}'.")
        if existing is not None and self.active.get(existing["id"].lower()):
            return arm_error(409, "OperationNotAllowed", "Another operation is in progress on trusted access role "
                                                         f"binding {existing['name']}; retry after it completes.")
        for other in self.children(cluster["id"], "trustedAccessRoleBindings"):
            if other["id"].lower() != bid.lower() and \
                    str(other["properties"].get("sourceResourceId", "")).lower() == source.lower():
                return arm_error(400, "InvalidParameter",
                                 f"A trusted access role binding for source resource '{source}' already exists "
                                 f"('{other['name']}'): only one binding per source resource is allowed.")
        stored = scenarios.trusted_access_binding(cluster["id"], existing["name"] if existing else name, source, roles)
        stored["id"] = existing["id"] if existing else bid
        stored["properties"]["provisioningState"] = "Updating"
        stored["systemData"] = scenarios.system_data(iso(), by=self.identity["client_id"])
        self.store(stored)
        op = self.start_operation("update" if existing else "create", stored["id"], "binding")
        headers = {"Azure-AsyncOperation": self.url(f"/subscriptions/{self.current_sub}/providers/"
                                                    f"Microsoft.ContainerService/locations/{location}/operations/"
                                                    f"{op.id}", _api(query))}
        headers.update(self.retry_headers())
        return Reply(200 if existing else 201, public_view(self.get(stored["id"])), headers)

    # ------------------------------------------------------------------ cluster credentials
    def h_cluster_credentials(self, method, path, query, body, g):
        """ManagedClusters_ListClusterUserCredentials / _ListClusterAdminCredentials /
        _ListClusterMonitoringUserCredentials (ContainerService spec, managedClusters.json; example
        ManagedClustersListClusterCredentialResult.json): `{"kubeconfigs": [{"name": "clusterUser", "value":
        <base64 kubeconfig>}]}`. `format` (azure | exec) applies to Microsoft Entra ID clusters. The admin
        credential of a cluster with disableLocalAccounts answers 400 BadRequest, as the service does.

        The kubeconfig is the one set for the cluster (Emulator.set_kubeconfig), else the emulator's
        kubeconfig_factory(cluster body), else one whose server is https://127.0.0.1:9 (nothing listens there)."""
        g = dict(g, rp="microsoft.containerservice/managedclusters")
        cluster = self.get(self.cluster_id(g))
        if cluster is None:
            return not_found("Microsoft.ContainerService/managedClusters", g["cluster"], g["rg"])
        action = g["action"].lower()
        fmt = query.get("format")
        if fmt not in (None, "") and str(fmt).lower() not in ("azure", "exec"):
            return arm_error(400, "InvalidParameter", f"The value '{fmt}' of parameter 'format' is invalid: "
                                                      "allowed values are azure and exec.")
        props = cluster.get("properties") or {}
        admin = action == "listclusteradmincredential"
        if admin and props.get("disableLocalAccounts"):
            return arm_error(400, "BadRequest", "Getting static credential is not allowed because this cluster is set "
                                                "to disable local accounts.")
        name = {"listclusterusercredential": "clusterUser", "listclusteradmincredential": "clusterAdmin",
                "listclustermonitoringusercredential": "clusterMonitoringUser"}[action]
        text = self.kubeconfigs.get(cluster["id"].lower())
        if text is None and self.kubeconfig_factory is not None:
            text = self.kubeconfig_factory(copy.deepcopy(cluster))
        if text is None:
            text = self.default_kubeconfig(cluster, name, str(fmt or "").lower())
        value = base64.b64encode(text.encode("utf-8")).decode()
        self.handed_out.update(kubeconfig_secrets(text))
        self.handed_out.add(value)
        return Reply(200, {"kubeconfigs": [{"name": name, "value": value}]})

    def default_kubeconfig(self, cluster, user_kind, fmt):
        """A kubeconfig shaped like AKS's whose server is the unreachable https://127.0.0.1:9 (never another host).
        Entra ID clusters get a kubelogin exec user (format exec, the default) or the legacy azure auth-provider
        (format azure) for clusterUser; static-token users otherwise."""
        cid = cluster["id"]
        rg = cid.split("/")[4]
        context = cluster["name"] + ("-admin" if user_kind == "clusterAdmin" else "")
        user = f"{user_kind}_{rg}_{cluster['name']}"
        ca = base64.b64encode(b"-----BEGIN CERTIFICATE-----\nRU1VTEFUT1ItQ0xVU1RFUi1DQQ==\n"
                              b"-----END CERTIFICATE-----\n").decode()
        aad = (cluster.get("properties") or {}).get("aadProfile")
        if aad and user_kind == "clusterUser" and fmt == "azure":
            user_block = ("    auth-provider:\n      name: azure\n      config:\n"
                          "        apiserver-id: 6dae42f8-4368-4678-94ff-3960e28e3630\n"
                          "        client-id: 80faf920-1908-4b52-b5ef-a8e7bedfc67a\n"
                          "        config-mode: '1'\n        environment: AzurePublicCloud\n"
                          f"        tenant-id: {aad.get('tenantID') or self.tenant_id}\n")
        elif aad and user_kind == "clusterUser":
            user_block = ("    exec:\n      apiVersion: client.authentication.k8s.io/v1beta1\n"
                          "      command: kubelogin\n      args:\n      - get-token\n"
                          "      - --environment\n      - AzurePublicCloud\n"
                          "      - --server-id\n      - 6dae42f8-4368-4678-94ff-3960e28e3630\n"
                          "      - --client-id\n      - 80faf920-1908-4b52-b5ef-a8e7bedfc67a\n"
                          f"      - --tenant-id\n      - {aad.get('tenantID') or self.tenant_id}\n"
                          "      - --login\n      - devicecode\n      installHint: kubelogin is not installed\n"
                          "      interactiveMode: IfAvailable\n      provideClusterInfo: false\n")
        else:
            token = hmac.new(self.seed, f"{cid.lower()}|{user_kind}".encode(), hashlib.sha256).hexdigest()
            user_block = f"    token: {token}\n"
        return ("apiVersion: v1\nkind: Config\npreferences: {}\n"
                f"clusters:\n- name: {cluster['name']}\n  cluster:\n    certificate-authority-data: {ca}\n"
                f"    server: {UNREACHABLE_API_SERVER}\n"
                f"contexts:\n- name: {context}\n  context:\n    cluster: {cluster['name']}\n    user: {user}\n"
                f"current-context: {context}\n"
                f"users:\n- name: {user}\n  user:\n{user_block}")

    # ------------------------------------------------------------------ extension types
    def h_extension_type_versions(self, method, path, query, body, g):
        """ExtensionTypes_ClusterListVersions / ExtensionTypes_ListVersions (KubernetesConfiguration REST spec,
        extensionTypes/ExtensionTypeVersionForReleaseTrain.tsp; example ListExtensionTypeVersions.json): the versions
        of an extension type for a release train (default stable), filtered by majorVersion and showLatest."""
        if g.get("cluster") and self.get(self.cluster_id(g)) is None:
            return not_found(_cluster_type_name(g["rp"]), g["cluster"], g["rg"])
        trains = self.extension_train_versions.get(g["etype"].lower())
        if trains is None:
            return arm_error(404, "ResourceNotFound", f"The extension type '{g['etype']}' was not found.")
        train = str(query.get("releaseTrain") or "stable").lower()
        versions = list(trains.get(train, []))
        major = query.get("majorVersion")
        if major not in (None, ""):
            versions = [v for v in versions if v.split(".", 1)[0] == str(major)]
        if str(query.get("showLatest", "")).lower() == "true" and versions:
            versions = versions[-1:]
        kinds = ["managedCluster", "connectedCluster"]
        base = path.rstrip("/")
        items = [{"id": f"{base}/{v}", "name": v, "type": f"{KC}/extensionTypes/versions",
                  "properties": {"version": v, "supportedClusterTypes": kinds,
                                 "unsupportedKubernetesVersions": {
                                     "managedCluster": [{"distributions": ["AKS"], "unsupportedVersions": []}],
                                     "connectedCluster": [{"distributions": ["AKS"], "unsupportedVersions": []}]}}}
                 for v in reversed(versions)]
        return Reply(200, {"value": items, "nextLink": None})

    # ------------------------------------------------------------------ extensions
    def h_list_extensions(self, method, path, query, body, g):
        cluster = self.get(self.cluster_id(g))
        if cluster is None:
            return not_found(_cluster_type_name(g["rp"]), g["cluster"], g["rg"])
        segment = f"providers/{KC}/extensions"
        for item in self.children(cluster["id"], segment):
            self.advance(item["id"])
        return self.page_of(self.children(cluster["id"], segment), path, query, "$skipToken",
                            arm_error(400, "InvalidSkipToken", "The skip token is invalid."),
                            default_api=EXTENSIONS_API_VERSION)

    def h_extension(self, method, path, query, body, g):
        cluster = self.get(self.cluster_id(g))
        if cluster is None:
            if method == "DELETE":
                return Reply(204)
            return not_found(_cluster_type_name(g["rp"]), g["cluster"], g["rg"])
        eid = f"{cluster['id']}/providers/{KC}/extensions/{g['name']}"
        existing = self.get(eid)
        if method == "GET":
            if existing is None:
                return not_found(f"{KC}/extensions", g["name"], g["rg"])
            self.advance(existing["id"])
            current = self.get(existing["id"])
            if current is None:
                return not_found(f"{KC}/extensions", g["name"], g["rg"])
            return Reply(200, public_view(current))
        if method != "DELETE" or existing is not None:
            missing = self.require_registered(KC)
            if missing:
                return missing
        if method == "PUT":
            return self.put_extension(cluster, eid, existing, body, query)
        if method == "PATCH":
            return self.patch_extension(cluster, existing, body, query, g)
        return self.delete_extension(existing, query)

    def _busy(self, existing):
        if existing is None:
            return None
        state = existing["properties"].get("provisioningState")
        active = self.active.get(existing["id"].lower())
        if active or state in TRANSITIONAL:
            return arm_error(409, "Conflict",
                             f"Operation is not allowed: extension '{existing['name']}' has an operation in progress "
                             f"(provisioningState '{state}'). Retry after the current operation completes.")
        return None

    @staticmethod
    def _validate_extension_properties(props, existing_props=None):
        auto = props.get("autoUpgradeMinorVersion")
        if auto is None and existing_props is not None and "autoUpgradeMinorVersion" not in props:
            auto = existing_props.get("autoUpgradeMinorVersion")
        if auto is None:
            auto = True  # the service's default
        if props.get("version") not in (None, "") and auto:
            return arm_error(400, "InvalidParameter",
                             "Both autoUpgradeMinorVersion and version cannot be specified together: version "
                             "can only be set when autoUpgradeMinorVersion is false.")
        for key in ("configurationSettings", "configurationProtectedSettings"):
            value = props.get(key)
            if value is not None and not isinstance(value, dict):
                return arm_error(400, "InvalidParameter", f"properties.{key} must be an object of string values.")
        return None

    def put_extension(self, cluster, eid, existing, body, query):
        if not isinstance(body, dict):
            return invalid_content()
        props = body.get("properties")
        if not isinstance(props, dict):
            return arm_error(400, "InvalidParameter", "The properties of the extension are required.")
        ext_type = props.get("extensionType")
        if not ext_type or not isinstance(ext_type, str):
            return arm_error(400, "InvalidParameter", "properties.extensionType is required.")
        busy = self._busy(existing)
        if busy:
            return busy
        invalid = self._validate_extension_properties(props)
        if invalid:
            return invalid
        if existing is not None:
            old_type = existing["properties"].get("extensionType") or ""
            if old_type.lower() != ext_type.lower():
                return arm_error(400, "InvalidParameter",
                                 f"The extension type of an existing extension cannot be changed (from '{old_type}' "
                                 f"to '{ext_type}'). Delete the extension and create it again.")
        now = iso()
        name = existing["name"] if existing else eid.rsplit("/", 1)[-1]
        eid = existing["id"] if existing else eid
        is_aks = "/microsoft.containerservice/" in eid.lower()
        stored_props = copy.deepcopy(props)
        stored_props.setdefault("autoUpgradeMinorVersion", True)
        stored_props.setdefault("releaseTrain", "Stable")
        stored_props.setdefault("version", None)
        stored_props.setdefault("scope", {"cluster": {"releaseNamespace": name}})
        stored_props["configurationSettings"] = dict(props.get("configurationSettings") or {})
        stored_props["configurationProtectedSettings"] = dict(props.get("configurationProtectedSettings") or {})
        stored_props["provisioningState"] = "Updating" if existing else "Creating"
        stored_props["currentVersion"] = existing["properties"].get("currentVersion") if existing else None
        stored_props["statuses"] = existing["properties"].get("statuses", []) if existing else []
        stored_props.setdefault("customLocationSettings", None)
        stored_props.setdefault("packageUri", None)
        stored_props["isSystemExtension"] = False
        stored_props.pop("errorInfo", None)
        if is_aks:
            stored_props["aksAssignedIdentity"] = {"principalId": guid("ext-principal", eid.lower()),
                                                   "tenantId": self.tenant_id, "type": "SystemAssigned"}
        created = (existing or {}).get("systemData", {}).get("createdAt", now)
        stored = {"id": eid, "name": name, "type": f"{KC}/extensions",
                  "systemData": scenarios.system_data(created, by=self.identity["client_id"]),
                  "properties": stored_props}
        stored["systemData"]["lastModifiedAt"] = now
        identity = body.get("identity")
        if isinstance(identity, dict) and identity.get("type"):
            stored["identity"] = dict(identity)
            if str(identity["type"]).lower() == "systemassigned":
                stored["identity"].update({"principalId": guid("ext-principal", eid.lower()),
                                           "tenantId": self.tenant_id})
        for key in ("location", "plan"):
            if body.get(key):
                stored[key] = copy.deepcopy(body[key])
        self.store(stored)
        op = self.start_operation("update" if existing else "create", eid, "extension")
        headers = {"Azure-AsyncOperation": self.url(f"{eid}/operations/{op.id}", _api(query))}
        headers.update(self.retry_headers())
        return Reply(200 if existing else 201, public_view(self.get(eid)), headers)

    def patch_extension(self, cluster, existing, body, query, g):
        if existing is None:
            return not_found(f"{KC}/extensions", g["name"], g["rg"])
        if not isinstance(body, dict) or not isinstance(body.get("properties", {}), dict):
            return invalid_content()
        busy = self._busy(existing)
        if busy:
            return busy
        patch = body.get("properties") or {}
        props = existing["properties"]
        invalid = self._validate_extension_properties(patch, props)
        if invalid:
            return invalid
        for key in ("autoUpgradeMinorVersion", "releaseTrain", "version"):
            if key in patch:
                props[key] = patch[key]
        if props.get("autoUpgradeMinorVersion") and "version" not in patch:
            props["version"] = None
        settings = dict(props.get("configurationSettings") or {})
        for key, value in (patch.get("configurationSettings") or {}).items():
            if value is None:
                settings.pop(key, None)
            else:
                settings[key] = value
        props["configurationSettings"] = settings
        if patch.get("configurationProtectedSettings") is not None:
            props["configurationProtectedSettings"] = {k: v for k, v in patch["configurationProtectedSettings"].items()
                                                       if v is not None}
        props["provisioningState"] = "Updating"
        props.pop("errorInfo", None)
        existing.setdefault("systemData", {})["lastModifiedAt"] = iso()
        op = self.start_operation("update", existing["id"], "extension")
        headers = {"Azure-AsyncOperation": self.url(f"{existing['id']}/operations/{op.id}", _api(query))}
        headers.update(self.retry_headers())
        return Reply(202, public_view(existing), headers)

    def delete_extension(self, existing, query):
        if existing is None:
            return Reply(204)
        force = str(query.get("forceDelete", "")).lower() == "true"
        if not force:
            busy = self._busy(existing)
            if busy:
                return busy
        else:
            self.cancel(existing["id"])
        existing["properties"]["provisioningState"] = "Deleting"
        op = self.start_operation("delete", existing["id"], "extension", force=force)
        headers = {"Location": self.url(f"{existing['id']}/operationResults/{op.id}", _api(query))}
        headers.update(self.retry_headers())
        return Reply(202, None, headers)

    # ------------------------------------------------------------------ operations
    def take_outcome(self, target_id, kind):
        """The first outcome rule for this extension operation (consumed), or None."""
        lid = target_id.lower()
        parts = lid.split("/providers/microsoft.kubernetesconfiguration/extensions/")
        if len(parts) != 2:
            return None
        cluster_lid, ext_name = parts
        cluster_name = cluster_lid.rsplit("/", 1)[-1]
        for rule in list(self.outcomes):
            wanted = str(rule.get("cluster") or "").lower()
            if wanted and wanted not in (cluster_name, cluster_lid):
                continue
            if rule.get("extension") and str(rule["extension"]).lower() != ext_name:
                continue
            operation = rule.get("operation")
            if operation is None and kind == "delete":
                continue
            if operation is not None and operation not in (kind, "any"):
                continue
            times = rule.get("times", 1)
            if times is not None:
                rule["times"] = times - 1
                if rule["times"] <= 0:
                    self.outcomes.remove(rule)
            return rule
        return None

    def start_operation(self, kind, target_id, resource, force=False, outcome=None):
        """Start a long-running operation. resource: extension | relay-namespace | resource-group | binding |
        compute; outcome: {"status", "error"} decided by the caller (computes), else Succeeded unless a rule or
        the extension checks below say otherwise."""
        self.cancel(target_id)
        polls = int(self.settings.get("polls") or 0)
        decided = outcome
        outcome = {"status": "Succeeded", "error": None, "statuses": None, "http_status": 400}
        outcome.update(decided or {})
        if resource == "extension":
            rule = self.take_outcome(target_id, kind)
            if rule:
                outcome.update({k: rule[k] for k in ("status", "error", "statuses", "http_status")
                                if rule.get(k) is not None})
                if rule.get("polls") is not None:
                    polls = int(rule["polls"])
            elif kind in ("create", "update"):
                props = self.get(target_id)["properties"]
                cluster = self.get(target_id.split(f"/providers/{KC}/", 1)[0]) or {}
                connectivity = (cluster.get("properties") or {}).get("connectivityStatus")
                catalogue = self.extension_versions.get(str(props.get("extensionType", "")).lower())
                trains = self.extension_train_versions.get(str(props.get("extensionType", "")).lower())
                if trains:
                    catalogue = trains.get(str(props.get("releaseTrain") or "stable").lower(), [])
                version = props.get("version")
                if connectivity in ("Offline", "Expired"):
                    outcome.update({"status": "Failed", "error": {
                        "code": "ExtensionOperationFailed",
                        "message": f"The cluster is {connectivity}: the Arc agents did not acknowledge the "
                                   "extension configuration. Reconnect the cluster (connectivityStatus must be "
                                   "Connected) and retry the operation."}})
                elif catalogue and version and version not in catalogue:
                    message = chart_not_found_message(version, props.get("extensionType"),
                                                      str(props.get("releaseTrain") or "stable").lower())
                    outcome.update({"status": "Failed",
                                    "error": {"code": "ExtensionOperationFailed", "message": message}})
        if force:
            polls = 0
        op = Operation(id=uuid.uuid4().hex, kind=kind, target=target_id.lower(), target_id=target_id,
                       resource=resource, polls_left=polls, outcome=outcome, force=force)
        after = self.settings.get("complete_after")
        if after not in (None, "") and not force:
            # Time-based completion (for measuring how soon a client notices): the operation is finished from
            # `due` on; the first poll or read at or after that time sees the end.
            op.due = op.started_at + float(after)
        self.ops[op.id] = op
        self.active[op.target] = op.id
        return op

    def cancel(self, target_id):
        op_id = self.active.pop(target_id.lower(), None)
        if op_id and self.ops[op_id].status == "InProgress":
            self.ops[op_id].status = "Canceled"
            self.ops[op_id].end = iso()

    def advance(self, target_id):
        """One step of the running operation on `target_id` (a poll, or a read of the resource)."""
        op_id = self.active.get(target_id.lower())
        if op_id:
            self.step(self.ops[op_id])

    def step(self, op):
        if op.status != "InProgress":
            return
        op.polls += 1
        if op.due is not None:
            if time.time() >= op.due:
                self.complete(op)
            return
        if op.polls_left > 0:
            op.polls_left -= 1
            return
        self.complete(op)

    def complete(self, op, status=None, error=None, statuses=None):
        status = status or op.outcome["status"]
        if status == "Failed":
            error = error or op.outcome.get("error") or {
                "code": "ExtensionOperationFailed",
                "message": "The extension operation failed (failure injected by the emulator)."}
        statuses = statuses if statuses is not None else op.outcome.get("statuses")
        body = self.get(op.target_id)
        if op.resource == "extension" and body is not None:
            self.finish_extension(body, op.kind, status, error, statuses)
        elif op.resource in ("relay-namespace", "resource-group") and body is not None:
            if op.kind == "delete" and status == "Succeeded":
                self.remove(op.target_id)
            elif op.kind == "delete":
                body["properties"]["provisioningState"] = "Failed"
            else:
                body["properties"]["provisioningState"] = status
                if op.resource == "relay-namespace":
                    body["properties"]["status"] = "Active" if status == "Succeeded" else "Failed"
        elif op.resource in ("binding", "compute") and body is not None:
            if op.kind == "delete" and status == "Succeeded":
                self.remove(op.target_id)
            else:
                body["properties"]["provisioningState"] = "Failed" if op.kind == "delete" else status
                if op.resource == "compute":
                    self.finish_compute(body, status, error)
        op.status = status
        op.error = dict(error) if status == "Failed" and error else None
        op.end = iso()
        op.ended_at = time.time()
        if self.active.get(op.target) == op.id:
            del self.active[op.target]

    def finish_extension(self, body, kind, status, error=None, statuses=None):
        props = body["properties"]
        now = iso()
        if kind == "delete":
            if status == "Succeeded":
                self.remove(body["id"])
                return
            props["provisioningState"] = "Failed"
            props["errorInfo"] = dict(error or {})
            return
        if status == "Succeeded":
            catalogue = self.extension_versions.get(str(props.get("extensionType", "")).lower())
            pinned = props.get("version")
            props["currentVersion"] = pinned or (catalogue[-1] if catalogue else props.get("currentVersion") or "1.0.0")
            props["provisioningState"] = "Succeeded"
            props.pop("errorInfo", None)
            props["statuses"] = list(statuses) if statuses is not None else []
        else:
            message = (error or {}).get("message", "")
            props["provisioningState"] = status
            props["errorInfo"] = {"code": (error or {}).get("code", "ExtensionOperationFailed"), "message": message}
            props["statuses"] = list(statuses) if statuses is not None else [
                {"code": "InstallationFailed", "displayStatus": "Failed", "level": "Error", "message": message,
                 "time": now}]
        body.setdefault("systemData", {})["lastModifiedAt"] = now

    def h_poll_async(self, method, path, query, body, g):
        op = self.ops.get(g["op"].lower())
        if op is None:
            return arm_error(404, "OperationNotFound", f"The operation '{g['op']}' was not found.")
        self.step(op)
        headers = self.retry_headers() if op.status == "InProgress" else {}
        return Reply(200, op.body(), headers)

    def h_poll_location(self, method, path, query, body, g):
        op = self.ops.get(g["op"].lower())
        if op is None:
            return arm_error(404, "OperationNotFound", f"The operation '{g['op']}' was not found.")
        self.step(op)
        if op.status == "InProgress":
            headers = {"Location": f"{self.base_url}{path}?{_query_string(query)}"}
            headers.update(self.retry_headers())
            return Reply(202, None, headers)
        if op.status == "Failed":
            error = op.error or {"code": "OperationFailed", "message": "The operation failed."}
            return arm_error(int(op.outcome.get("http_status") or 400), error.get("code", "OperationFailed"),
                             error.get("message", ""))
        return Reply(204)

    # ------------------------------------------------------------------ Azure Relay
    def namespace_id(self, g):
        return f"{self.rg_id(g['rg'])}/providers/{RELAY}/namespaces/{g['ns']}"

    def h_list_namespaces(self, method, path, query, body, g):
        items = self.children(self.rg_id(g["rg"]), f"providers/{RELAY}/namespaces")
        for item in items:
            self.advance(item["id"])
        return Reply(200, {"value": [public_view(b) for b in items if self.get(b["id"])]})

    def h_relay_namespace(self, method, path, query, body, g):
        rid = self.namespace_id(g)
        existing = self.get(rid)
        if method == "GET":
            if existing is None:
                return not_found(f"{RELAY}/namespaces", g["ns"], g["rg"])
            self.advance(existing["id"])
            current = self.get(existing["id"])
            if current is None:
                return not_found(f"{RELAY}/namespaces", g["ns"], g["rg"])
            busy = current["id"].lower() in self.active
            return Reply(200, public_view(current), self.retry_headers() if busy else {})
        missing = self.require_registered(RELAY)
        if missing:
            return missing
        if method == "DELETE":
            if existing is None:
                return Reply(204)
            existing["properties"]["provisioningState"] = "Deleting"
            op = self.start_operation("delete", existing["id"], "relay-namespace")
            headers = {"Location": self.url(f"{existing['id']}/operationResults/{op.id}", query["api-version"])}
            headers.update(self.retry_headers())
            return Reply(202, None, headers)
        if not isinstance(body, dict):
            return invalid_content()
        location = body.get("location")
        if not location:
            return arm_error(400, "LocationRequired", "The location property is required for this definition.")
        if existing is not None:
            if existing["properties"].get("provisioningState") in ("Created", "Deleting"):
                return arm_error(409, "Conflict", f"Namespace '{existing['name']}' has an operation in progress.")
            existing["tags"] = dict(body.get("tags") or {})
            if isinstance(body.get("sku"), dict):
                existing["sku"] = dict(body["sku"])
            existing["properties"]["updatedAt"] = iso()
            return Reply(200, public_view(existing))
        stored = scenarios.relay_namespace(g["rg"], g["ns"], str(location).replace(" ", "").lower(),
                                           body.get("tags"), self.current_sub, state="Created")
        stored["id"] = f"{self.get(self.rg_id(g['rg']))['id']}/providers/{RELAY}/namespaces/{g['ns']}"
        stored["properties"]["createdAt"] = stored["properties"]["updatedAt"] = iso()
        if isinstance(body.get("sku"), dict):
            stored["sku"] = dict(body["sku"])
        self.store(stored)
        self.start_operation("create", stored["id"], "relay-namespace")
        return Reply(201, public_view(stored), self.retry_headers())

    def _namespace_or_error(self, g, action):
        namespace = self.get(self.namespace_id(g))
        if namespace is None:
            if action == "read":
                return None, not_found(f"{RELAY}/namespaces", g["ns"], g["rg"])
            return None, arm_error(404, "ParentResourceNotFound",
                                   f"Failed to perform '{action}' on resource(s) of type "
                                   f"'namespaces/hybridConnections', because the parent resource "
                                   f"'{self.namespace_id(g)}' could not be found.")
        return namespace, None

    def _entity_not_found(self, namespace, entity):
        return arm_error(404, "NotFound", f"The messaging entity 'sb://{namespace}.servicebus.windows.net/{entity}' "
                                          "could not be found. To know more visit "
                                          "https://aka.ms/sbResourceMgrExceptions.")

    def h_list_hybrid_connections(self, method, path, query, body, g):
        namespace, error = self._namespace_or_error(g, "read")
        if error:
            return error
        return Reply(200, {"value": [public_view(b) for b in self.children(namespace["id"], "hybridConnections")]})

    def h_hybrid_connection(self, method, path, query, body, g):
        namespace, error = self._namespace_or_error(g, "read" if method == "GET" else "write")
        if error:
            return error
        rid = f"{namespace['id']}/hybridConnections/{g['hc']}"
        existing = self.get(rid)
        if method == "GET":
            if existing is None:
                return self._entity_not_found(namespace["name"], g["hc"])
            return Reply(200, public_view(existing))
        missing = self.require_registered(RELAY)
        if missing:
            return missing
        if method == "DELETE":
            if existing is None:
                return Reply(204)
            self.remove(existing["id"])
            return Reply(200)
        if not isinstance(body, dict):
            return invalid_content()
        props = body.get("properties") or {}
        if existing is None:
            existing = self.store(scenarios.hybrid_connection(namespace["id"], g["hc"], namespace["location"],
                                                              bool(props.get("requiresClientAuthorization", True))))
            existing["properties"]["createdAt"] = existing["properties"]["updatedAt"] = iso()
        else:
            if "requiresClientAuthorization" in props:
                existing["properties"]["requiresClientAuthorization"] = bool(props["requiresClientAuthorization"])
            existing["properties"]["updatedAt"] = iso()
        if "userMetadata" in props:
            existing["properties"]["userMetadata"] = props["userMetadata"]
        return Reply(200, public_view(existing))

    def _hc_or_error(self, g, action):
        namespace, error = self._namespace_or_error(g, action)
        if error:
            return None, None, error
        hc = self.get(f"{namespace['id']}/hybridConnections/{g['hc']}")
        if hc is None:
            return namespace, None, self._entity_not_found(namespace["name"], g["hc"])
        return namespace, hc, None

    def h_list_rules(self, method, path, query, body, g):
        _, hc, error = self._hc_or_error(g, "read")
        if error:
            return error
        return Reply(200, {"value": [public_view(b) for b in self.children(hc["id"], "authorizationRules")]})

    def h_rule(self, method, path, query, body, g):
        namespace, hc, error = self._hc_or_error(g, "read" if method == "GET" else "write")
        if error:
            return error
        rid = f"{hc['id']}/authorizationRules/{g['rule']}"
        existing = self.get(rid)
        if method == "GET":
            if existing is None:
                return self._entity_not_found(namespace["name"], f"{g['hc']}/authorizationRules/{g['rule']}")
            return Reply(200, public_view(existing))
        missing = self.require_registered(RELAY)
        if missing:
            return missing
        if method == "DELETE":
            if existing is None:
                return Reply(204)
            self.remove(existing["id"])
            return Reply(200)
        rights = ((body or {}).get("properties") or {}).get("rights") if isinstance(body, dict) else None
        if not rights or not isinstance(rights, list):
            return arm_error(400, "BadRequest", "The authorization rule must have at least one right "
                                                "(Manage, Send, Listen).")
        if existing is None:
            existing = self.store(scenarios.authorization_rule(hc["id"], g["rule"], rights, namespace["location"]))
        existing["properties"]["rights"] = list(rights)
        self.relay_keys.setdefault(existing["id"].lower(), {
            "primaryKey": relay_key(self.seed, existing["id"], "primary"),
            "secondaryKey": relay_key(self.seed, existing["id"], "secondary")})
        return Reply(200, public_view(existing))

    def _connection_strings(self, rule_lid, keys):
        parts = rule_lid.split("/")
        namespace, hc, rule = parts[parts.index("namespaces") + 1], parts[parts.index("hybridconnections") + 1], \
            parts[-1]
        body = self.resources.get(rule_lid)
        if body is not None:
            ids = body["id"].split("/")
            namespace, hc, rule = ids[-5], ids[-3], ids[-1]
        return {"primaryConnectionString": relay_connection_string(namespace, rule, keys["primaryKey"], hc),
                "secondaryConnectionString": relay_connection_string(namespace, rule, keys["secondaryKey"], hc)}

    def h_rule_keys(self, method, path, query, body, g):
        namespace, hc, error = self._hc_or_error(g, "read")
        if error:
            return error
        rule = self.get(f"{hc['id']}/authorizationRules/{g['rule']}")
        if rule is None:
            return self._entity_not_found(namespace["name"], f"{g['hc']}/authorizationRules/{g['rule']}")
        keys = self.relay_keys.setdefault(rule["id"].lower(), {
            "primaryKey": relay_key(self.seed, rule["id"], "primary"),
            "secondaryKey": relay_key(self.seed, rule["id"], "secondary")})
        if g["action"].lower() == "regeneratekeys":
            which = str((body or {}).get("keyType", "PrimaryKey")) if isinstance(body, dict) else "PrimaryKey"
            field_name = "secondaryKey" if which.lower().startswith("secondary") else "primaryKey"
            keys[field_name] = base64.b64encode(uuid.uuid4().bytes + uuid.uuid4().bytes).decode()
        result = dict(self._connection_strings(rule["id"].lower(), keys))
        result.update({"primaryKey": keys["primaryKey"], "secondaryKey": keys["secondaryKey"],
                       "keyName": rule["name"]})
        return Reply(200, result)


UNREACHABLE_API_SERVER = "https://127.0.0.1:9"
_KUBECONFIG_SECRET = re.compile(r"^\s*-?\s*(token|client-key-data|password|id-token|refresh-token|access-token)"
                                r"\s*:\s*[\"']?([^\s\"']+)", re.MULTILINE)


def kubeconfig_secrets(text):
    """The secret values of a kubeconfig's users (tokens, client keys, passwords)."""
    return {found.group(2) for found in _KUBECONFIG_SECRET.finditer(text or "")}


def _resource_type_of(resource_id):
    """"Namespace/type[/child...]" of an ARM resource id, or None."""
    found = re.search(r"/providers/(.+)$", resource_id or "", re.IGNORECASE)
    if not found:
        return None
    parts = found.group(1).strip("/").split("/")
    if len(parts) < 3:
        return None
    return "/".join([parts[0]] + parts[1::2][:max(1, (len(parts) - 1) // 2)])


def _api(query):
    return query.get("api-version") or EXTENSIONS_API_VERSION


def _query_string(query):
    return "&".join(f"{quote(str(k), safe='$-')}={quote(str(v), safe='')}" for k, v in query.items())


def jwt(claims):
    """An unsigned-looking JWT (three base64url segments; the signature is not checked by clients)."""
    def segment(data):
        return base64.urlsafe_b64encode(json.dumps(data, separators=(",", ":")).encode()).rstrip(b"=").decode()
    return ".".join([segment({"alg": "RS256", "typ": "JWT", "kid": "emulator"}), segment(claims),
                     base64.urlsafe_b64encode(b"amlk8s-emulator-signature").rstrip(b"=").decode()])


def token_claims(world, resource, lifetime=3600 * 24):
    now = int(time.time())
    return {"aud": resource, "iss": f"https://sts.windows.net/{world.tenant_id}/", "iat": now, "nbf": now,
            "exp": now + lifetime, "tid": world.tenant_id, "oid": world.identity["object_id"],
            "sub": world.identity["object_id"], "appid": world.identity["client_id"], "idtyp": "app",
            "xms_mirid": f"/subscriptions/{world.subscription_id}/resourcegroups/rg-ml/providers/"
                         "Microsoft.ManagedIdentity/userAssignedIdentities/emulator"}
