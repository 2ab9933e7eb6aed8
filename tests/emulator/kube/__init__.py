"""A local Kubernetes API emulator for the amlk8s tests (stdlib + trustme + PyYAML).

One HTTPS port on 127.0.0.1 serves many clusters, each under its own path prefix
`{base_url}/clusters/{key}` (a kubeconfig `server:` may carry a path; kubectl and the official `kubernetes`
Python client both honour it). It speaks the real protocol for read-only clients: discovery, GET and LIST
with selectors and paging, Table answers for `kubectl get`, pod logs, watches, `Status` errors.

Python API::

    from tests.emulator.kube import KubeEmulator, scenarios as ks
    kube = KubeEmulator(state_dir=None)   # not started; state_dir=None -> a temp dir removed by stop()
    kube.start()                          # returns kube; also `with KubeEmulator() as kube:`
    kube.base_url, kube.ca_path           # "https://127.0.0.1:PORT", the CA (PEM) to trust

    url = kube.add_cluster("aks-prod", objects=ks.aks_world("MC_rg-ml_aks-prod_eastus"),
                           token=None,    # None: a random static token; "..." that token; False: none
                           entra=None,    # {"tenant_id": T, "audience": "6dae42f8-4368-4678-94ff-3960e28e3630"}
                           version="1.31.5", forbidden=(), logs=None,
                           failing=(), page_size=None)           # -> "https://127.0.0.1:PORT/clusters/aks-prod"
    kube.kubeconfig("aks-prod", context=None, user_auth="token")        # YAML text, CA inline
    kube.kubeconfig("aks-prod", user_auth="exec-kubelogin")             # AKS Entra ID form (kubelogin exec)
    kube.kubeconfig("aks-prod", user_auth="none")                       # no credential (401 everywhere)
    kube.kubeconfig_dict(...)                                           # the same as a dict
    kube.token("aks-prod")                                              # the static token
    kube.set_forbidden("aks-prod", ["secrets", "apps/deployments"])     # 403 for those (True: everything)
    kube.set_failing("aks-prod", ["pods"], code=500)                    # 500/503/504/429 Status, 502 HTML page
    kube.set_page_size("aks-prod", 2)                                   # LISTs with a limit: at most 2 a page
    kube.put("aks-prod", obj, ...); kube.delete("aks-prod", "v1", "Pod", name, namespace)
    kube.get("aks-prod", "v1", "ConfigMap", name, namespace); kube.objects("aks-prod")
    kube.set_log("aks-prod", "azureml", "healthcheck", "text", container=None)
    kube.remove_cluster("aks-prod"); kube.clusters(); kube.cluster(key)  # live Cluster (store, token, ...)

    kube.requests(cluster=None, since=None)   # [KubeRequest]: seq, method, path, query, status, cluster, auth
    kube.writes(cluster=None, since=None)     # POST/PUT/PATCH/DELETE only
    kube.clear_log(); kube.mark()
    kube.stop()

    entra_token(tenant_id, audience=AKS_AAD_SERVER_APP_ID, oid=..., lifetime=3600)  # an unsigned Entra JWT

Semantics (Kubernetes API conventions and kube-apiserver behaviour):
- Authentication: `Authorization: Bearer <token>` with the cluster's static token, or (entra=...) a JWT
  whose `aud` is the audience or `spn:<audience>`, whose `tid` is the tenant and whose `exp` is in the
  future (the signature is not checked; the ARM emulator's managed-identity endpoint issues such JWTs).
  Anything else, on any path of the cluster, answers 401 with a `Status` (reason Unauthorized), as a
  cluster without anonymous authentication does (AKS).
- Authorization: resources named by `forbidden` / `set_forbidden` answer 403 Status (reason Forbidden,
  message `pods is forbidden: User "..." cannot list resource "pods" in API group "" in the namespace "x"`).
- Discovery: `/version`, `/api`, `/api/v1`, `/apis`, `/apis/{group}`, `/apis/{group}/{version}` as the legacy
  (unaggregated) documents, always with Content-Type application/json: clients asking for aggregated
  discovery (apidiscovery.k8s.io/v2) fall back to them, as they do against servers that predate it.
- Resources: core/v1 namespaces, nodes, pods (+ /log), services, configmaps, secrets, serviceaccounts,
  events; apps/v1 deployments, daemonsets, statefulsets, replicasets; batch/v1 jobs;
  apiextensions.k8s.io/v1 customresourcedefinitions; rbac.authorization.k8s.io/v1 clusterroles,
  clusterrolebindings; networking.k8s.io/v1 ingressclasses; and the served versions of every stored CRD.
  Namespaced resources are listed per namespace or across all namespaces.
- GET of a missing object: 404 Status reason NotFound, message `deployments.apps "x" not found`, details
  {name, group, kind}. Unknown paths: `404 page not found` (text/plain).
- LIST: `<Kind>List`, `metadata.resourceVersion`, labelSelector, fieldSelector, limit/continue; see store.py.
  With `page_size`, a LIST with a `limit` gets at most that many items a page and a continue token, as the common
  parameter `limit` allows a server ("may return fewer than the requested amount of items"; clients rely only on
  the presence of `continue`).
- Failing reads (`failing` / `set_failing`): the Status kube-apiserver answers when etcd or the server is in
  trouble (500 InternalError, 503 ServiceUnavailable, 504 Timeout, 429 TooManyRequests with Retry-After), or the
  HTML page of a proxy in front of it (502), for the resources the rules name (the forms of `forbidden`).
- `Accept: ...;as=Table;g=meta.k8s.io...`: a meta.k8s.io/v1 Table (see tables.py), as kubectl get asks.
- `?watch=true`: newline-delimited watch events (ADDED for the current state unless resourceVersion is
  given, then changes made with put/delete) until timeoutSeconds (default `watch_timeout`, 5 s).
- Pod logs: text/plain from set_log/logs=; several containers need `container=` (400 otherwise); tailLines.
- Writes (POST/PUT/PATCH/DELETE) are logged and answered 405 Status reason MethodNotAllowed (after
  authentication, authorization and routing, so a 401/403/404 can come first), so a test can assert that a
  read-only client sent none.
- The log never holds tokens or Secret data: records keep the auth kind ("token", "jwt", "none", "invalid"),
  not the credential; write bodies are redacted; no response body is kept. The JSON-lines copy is
  state_dir/kube-requests.jsonl.

Objects are plain dicts in the API's JSON shapes; `scenarios` builds realistic ones and whole worlds
(AzureML components, health-check report, AKS/Arc nodes, Arc agent config, known conflicts).
"""

import time

from ..world import jwt
from . import scenarios
from .server import AKS_AAD_SERVER_APP_ID, AZURE_CLI_CLIENT_ID, Cluster, KubeEmulator, KubeRequest
from .store import BUILTIN_TYPES, ClusterStore, KubeError, ResourceType


def entra_token(tenant_id, audience=AKS_AAD_SERVER_APP_ID, oid="9d2f4a7e-1c3b-4e5f-8a9b-0c1d2e3f4a5b",
                lifetime=3600, upn=None, **claims):
    """An unsigned Microsoft Entra access token (JWT) for `audience` in `tenant_id`, like the ARM emulator's
    managed-identity endpoint issues; extra claims override."""
    now = int(time.time())
    body = {"aud": audience, "iss": f"https://sts.windows.net/{tenant_id}/", "iat": now, "nbf": now,
            "exp": now + lifetime, "tid": tenant_id, "oid": oid, "sub": oid, "idtyp": "app" if not upn else "user"}
    if upn:
        body["upn"] = upn
    body.update(claims)
    return jwt(body)


__all__ = ["AKS_AAD_SERVER_APP_ID", "AZURE_CLI_CLIENT_ID", "BUILTIN_TYPES", "Cluster", "ClusterStore", "KubeEmulator",
           "KubeError", "KubeRequest", "ResourceType", "entra_token", "scenarios"]
