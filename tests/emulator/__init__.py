"""A local Azure Resource Manager emulator for the amlk8s tests (stdlib + trustme).

One HTTPS port on 127.0.0.1 serves managed-identity tokens, the ARM APIs amlk8s and az use
(several subscriptions, resource groups, providers, AKS and Arc clusters and their credentials, k8s
extensions with real long-running operations, Trusted Access role bindings, Azure Relay, VM SKUs,
Kubernetes versions, Azure Machine Learning workspaces and computes, Azure Resource Graph queries), ARM
throttling, and a control API under /_emulator/. The real `az` talks to it through a seeded config dir
(see azconfig.py and tests/e2e/conftest.py); azconfig.py says why each piece is needed.

Python API::

    from tests.emulator import Emulator
    emu = Emulator(scenario="default", state_dir=tmp_path)  # not started; state_dir=None -> a temp dir
    emu.start()                       # returns emu; also usable as `with Emulator() as emu:`
    emu.base_url                      # "https://127.0.0.1:PORT"
    emu.ca_path                       # CA to trust (REQUESTS_CA_BUNDLE)
    emu.subscription_id, emu.tenant_id   # the default subscription (the first of the world's)
    emu.subscriptions                     # [subscription id], the default first
    emu.reset(scenario="default")     # fresh world, empty log, no faults (name or world dict)

    emu.requests(kind=None, since=None)   # [Request]; kind: "token" | "arm" | "poll" | "graph" | "control"
    emu.writes(since=None)                # ARM PUT/PATCH/DELETE and POST except listKeys and list*Credential
    emu.arm_reads(since=None)             # ARM GET/HEAD that are not polls, listKeys, list*Credential, and
                                          # Resource Graph queries (kind "graph")
    emu.clear_log(); emu.mark()           # mark(): seq of the last request, for since=

    emu.add_fault(method="PUT", path=r"/extensions/", status=429, headers={"Retry-After": "1"}, times=1)
    emu.add_fault(method="GET", path=r"/operations/", action="drop", times=1)
    emu.add_fault(path=r"/managedClusters/aks-prod$", delay=2.0)     # slow answer, then normal
    #   other keywords: code=, message= (the ARM error), nth=N (start at the Nth matching request),
    #   times=None (forever), name=, kinds=("arm", "poll", "graph", "token"). Returns the fault's name.
    emu.clear_faults(); emu.faults()

    emu.set_outcome(cluster="aks-prod", status="Failed", error={"code": ..., "message": ...},
                    statuses=[...], polls=2, extension=None, operation=None, times=1)
    emu.finish_operation(cluster="aks-busy", extension="azureml", status="Succeeded")
    emu.operations(cluster=None, extension=None)     # [{"id", "kind", "target", "status", "polls", ...}]

    emu.extension(cluster="aks-prod", name="azureml")  # stored body INCLUDING protected settings, or None
    emu.extension_id(cluster, name="azureml"); emu.cluster_id(cluster)
    emu.resource(resource_id)                        # any stored resource (dict) or None
    emu.put_resource(resource_id, body); emu.delete_resource(resource_id)
    emu.set_provider(namespace, state); emu.provider_state(namespace)
    emu.settings(polls=2, retry_after=None, retry_after_ms=None, page_size=2, delay=0.0, register_polls=0,
                 complete_after=None)     # complete_after=S: operations end S seconds after they start
    emu.settings(throttle=True, throttle_reads=250, throttle_reads_refill=25.0, throttle_writes=200,
                 throttle_writes_refill=10.0, throttle_deletes=200, throttle_deletes_refill=10.0)   # ARM buckets
    emu.settings(graph_page_size=1000, graph_quota=15, graph_quota_window=5.0)   # Resource Graph (None: no quota)
    emu.operations(...)[i]["due"]         # with complete_after: the epoch time the operation ends (else None)
    emu.operations(...)[i]["action"]      # compute deletes: "Delete" | "Detach"
    emu.set_kubeconfig(cluster, yaml_text)         # what list*Credential hands out for this AKS cluster (None: unset)
    emu.kubeconfig_factory = fn                    # fn(cluster_body) -> yaml_text | None; kept across reset()
    emu.secret_values()                              # every secret in the world, for leak scans
    emu.stop()

    scenarios.fleet(subscriptions=3, clusters=None, extensions=None)   # a big world: emu.reset(scenarios.fleet(...))
    azconfig.seed_config_dir(dir, base_url, sub, tenant, extra_subscriptions=emu.subscriptions[1:])

Semantics worth knowing:
- Paths are case-insensitive; ids keep the casing of their first write. Every ARM call needs a
  Bearer token (401) and api-version (400 MissingApiVersionParameter). Unknown paths: ARM 404s
  (ResourceNotFound / InvalidResourceType / InvalidResourceNamespace) with `unknown=True` in the log.
- Extension PUT: 201 new / 200 existing, `Azure-AsyncOperation` (absolute), body Creating/Updating.
  PATCH: 202 + Azure-AsyncOperation. DELETE: 202 + Location (204 when missing; forceDelete=true
  completes on the first poll). 409 while an operation runs or the state is Creating/Updating/
  Deleting; 400 for version + autoUpgradeMinorVersion (missing = true, the service default).
  An operation answers InProgress `polls` times, then ends; each GET/LIST of the extension is also a
  step. With settings(complete_after=S) it instead ends S seconds after it started (the first poll or read
  at or after `due` sees the end), so a benchmark can measure how soon a client notices. A pinned AzureML
  version outside the catalogue ends Failed ("Failed in download the Chart path not found"); so does any
  operation on an Offline/Expired Arc cluster.
- configurationProtectedSettings are never returned; PATCH merges configurationSettings (null
  removes a key) and replaces configurationProtectedSettings when present.
- `Retry-After` is not sent unless settings(retry_after=...) (or retry_after_ms) says so: az's own
  default poll interval is then 30 s, so tests that run az LROs set retry_after_ms (e.g. 50).
- Writes to a namespace whose provider is not Registered answer 409 MissingSubscriptionRegistration.
- Subscriptions: a world lists several (spec key `subscriptions`, the first the default; `subscription` still
  works). Requests to an unknown one answer 404 SubscriptionNotFound; GET /subscriptions lists them all.
  Provider registration states are shared by all of them.
- Throttling (throttle.py; Microsoft Learn "Understand how Azure Resource Manager throttles requests", 2024
  token buckets): per subscription (tenant for other paths), principal (the token's oid) and operation type
  (GET/HEAD reads, DELETE deletes, other methods writes). An empty bucket answers 429
  SubscriptionRequestsThrottled with Retry-After (seconds); answers carry x-ms-ratelimit-remaining-
  subscription-reads/-writes/-deletes. Resource Graph queries use their own quota instead.
- AKS credentials (ContainerService spec, ManagedClusters_ListClusterUserCredentials and friends):
  POST {cluster}/listClusterUserCredential[?format=azure|exec] -> {"kubeconfigs": [{"name": "clusterUser",
  "value": base64}]}: set_kubeconfig's text, else kubeconfig_factory's, else a kubeconfig whose server is
  https://127.0.0.1:9 (nothing listens: an unreachable API server). listClusterAdminCredential answers 400 when
  disableLocalAccounts is true. These POSTs are reads in the log and their kubeconfigs are redacted there;
  secret_values() includes what was handed out.
- Trusted Access role bindings (ContainerService spec): PUT (201/200 + Azure-AsyncOperation) and DELETE (202 +
  Location) are long-running; names are 1-24 characters of [A-Za-z0-9-]; one binding per source resource.
- Azure Machine Learning (ml.py, MachineLearningServices spec 2024-10-01): workspaces GET/LIST; computes
  GET/LIST (nextLink paging by page_size), PUT (long-running, Azure-AsyncOperation), DELETE (requires
  underlyingResourceAction=Delete|Detach, else 400; long-running). A Kubernetes attach ends Failed when the
  cluster is missing, in another subscription than the workspace, or has no Succeeded AzureML extension.
- Azure Resource Graph (graph.py + kql.py, Resource Graph spec 2022-10-01): POST
  /providers/Microsoft.ResourceGraph/resources evaluates a KQL subset over the world's resources (tables
  resources, resourcecontainers, kubernetesconfigurationresources), pages with $skipToken, applies the per-user
  quota (x-ms-user-quota-remaining / -resets-after; 429 RateLimiting) and answers invalid queries with
  Resource Graph's 400 InvalidQuery error.
- Request records' repr/str and the JSON-lines file (state_dir/requests.jsonl) redact protected
  settings, relay keys/connection strings and tokens; the in-memory bodies are complete.

Standalone: `python -m tests.emulator --scenario default --port 0 --state-dir DIR` (see __main__.py).
Control API (no auth, same port): GET /_emulator/info, POST /_emulator/reset {"scenario"},
GET|DELETE /_emulator/requests[?kind=&since=], GET|POST /_emulator/settings, GET|POST|DELETE
/_emulator/faults, POST /_emulator/outcomes, POST /_emulator/finish, POST /_emulator/providers
{"namespace","state"}, GET|PUT|DELETE /_emulator/resource?id=..., GET /_emulator/secrets,
GET /_emulator/subscriptions, PUT|POST /_emulator/kubeconfig {"cluster", "kubeconfig"},
DELETE /_emulator/kubeconfig?cluster=....

Default world (scenario "default"): see scenarios.py; names are a contract for other tests. Besides the
clusters it holds workspaces ws1 (compute k8s-with-ext: Kubernetes on aks-with-ext) and ws-legacy (compute
aks-v1: legacy AKS attach of aks-v1-attached) in rg-ml, and a second subscription (OTHER_SUBSCRIPTION_ID) with
rg-ml-other, workspace ws-other and cluster aks-other-sub (healthy AzureML extension). Scenario "fleet":
scenarios.fleet() with its defaults (3 subscriptions, 12 AzureML extensions, 18 clusters).
"""

from .log import Request, redact
from .scenarios import OTHER_SUBSCRIPTION_ID, SCENARIOS, SUBSCRIPTION_ID, TENANT_ID
from .server import Emulator

__all__ = ["Emulator", "Request", "redact", "SCENARIOS", "SUBSCRIPTION_ID", "OTHER_SUBSCRIPTION_ID", "TENANT_ID"]
