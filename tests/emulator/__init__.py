"""A local Azure Resource Manager emulator for the amlk8s tests (stdlib + trustme).

One HTTPS port on 127.0.0.1 serves managed-identity tokens, the ARM APIs amlk8s and az use
(subscriptions, resource groups, providers, AKS and Arc clusters, k8s extensions with real
long-running operations, Azure Relay, VM SKUs, Kubernetes versions), and a control API under
/_emulator/. The real `az` talks to it through a seeded config dir (see azconfig.py and
tests/e2e/conftest.py); /work/shared/reference/local-arm.md explains why each piece is needed.

Python API::

    from tests.emulator import Emulator
    emu = Emulator(scenario="default", state_dir=tmp_path)  # not started; state_dir=None -> a temp dir
    emu.start()                       # returns emu; also usable as `with Emulator() as emu:`
    emu.base_url                      # "https://127.0.0.1:PORT"
    emu.ca_path                       # CA to trust (REQUESTS_CA_BUNDLE)
    emu.subscription_id, emu.tenant_id
    emu.reset(scenario="default")     # fresh world, empty log, no faults (name or world dict)

    emu.requests(kind=None, since=None)   # [Request]; kind: "token" | "arm" | "poll" | "control"
    emu.writes(since=None)                # ARM PUT/PATCH/DELETE and POST except listKeys
    emu.arm_reads(since=None)             # ARM GET/HEAD that are not polls, plus listKeys
    emu.clear_log(); emu.mark()           # mark(): seq of the last request, for since=

    emu.add_fault(method="PUT", path=r"/extensions/", status=429, headers={"Retry-After": "1"}, times=1)
    emu.add_fault(method="GET", path=r"/operations/", action="drop", times=1)
    emu.add_fault(path=r"/managedClusters/aks-prod$", delay=2.0)     # slow answer, then normal
    #   other keywords: code=, message= (the ARM error), nth=N (start at the Nth matching request),
    #   times=None (forever), name=, kinds=("arm", "poll", "token"). Returns the fault's name.
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
    emu.operations(...)[i]["due"]         # with complete_after: the epoch time the operation ends (else None)
    emu.secret_values()                              # every secret in the world, for leak scans
    emu.stop()

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
- Request records' repr/str and the JSON-lines file (state_dir/requests.jsonl) redact protected
  settings, relay keys/connection strings and tokens; the in-memory bodies are complete.

Standalone: `python -m tests.emulator --scenario default --port 0 --state-dir DIR` (see __main__.py).
Control API (no auth, same port): GET /_emulator/info, POST /_emulator/reset {"scenario"},
GET|DELETE /_emulator/requests[?kind=&since=], GET|POST /_emulator/settings, GET|POST|DELETE
/_emulator/faults, POST /_emulator/outcomes, POST /_emulator/finish, POST /_emulator/providers
{"namespace","state"}, GET|PUT|DELETE /_emulator/resource?id=..., GET /_emulator/secrets.

Default world (scenario "default"): see scenarios.py; names are a contract for other tests.
"""

from .log import Request, redact
from .scenarios import SCENARIOS, SUBSCRIPTION_ID, TENANT_ID
from .server import Emulator

__all__ = ["Emulator", "Request", "redact", "SCENARIOS", "SUBSCRIPTION_ID", "TENANT_ID"]
