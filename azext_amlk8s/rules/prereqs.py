# --------------------------------------------------------------------------------------------
# Copyright (c) amlk8s contributors. Licensed under the MIT License.
# --------------------------------------------------------------------------------------------
"""Prerequisite checks: pure functions from (``ClusterFacts``, ``Intent``) to ``CheckResult`` values.

``az amlk8s check`` prints the results and exits non-zero when one is ``fail``; ``az amlk8s deploy``
runs the same checks and sends nothing while one is ``fail``, unless the user passes
``--ignore-check <id>`` for it (the result then shows ``ignored`` and stays in the report).

Statuses: ``pass`` (nothing to do), ``warning`` (works, but read the finding), ``fail`` (blocking),
``unknown`` (could not be determined from Azure Resource Manager; the fix says how to look),
``ignored`` (a failure the user chose to ignore with ``--ignore-check``).

The checks, in the order they run (a check that does not apply to the cluster type or to the
requested settings produces no result):

========================  ==========================================  ==============================
id                        applies to                                  statuses
========================  ==========================================  ==============================
cluster-state             AKS, Arc                                    pass, fail, unknown
provider-registration     AKS (KubernetesConfiguration), Arc (also    pass, fail, unknown
                          Kubernetes and ExtendedLocation, and Relay
                          unless the user brings the Azure Relay)
managed-identity          AKS                                         pass, fail, unknown
local-accounts            AKS                                         pass, fail, unknown
authorized-ip-ranges      AKS                                         pass, warning, unknown
pod-identity              AKS                                         pass, fail
outbound-network          AKS (HTTP proxy, user-defined routing,      pass, warning
                          private cluster)
arc-connectivity          Arc                                         pass, fail, unknown
node-architecture         AKS, Arc (Arc: always unknown)              pass, warning, fail, unknown
openshift                 Arc                                         pass, warning, unknown
existing-extension        AKS, Arc                                    pass, fail, unknown
extension-busy            AKS, Arc                                    pass, warning, fail, unknown
inference-router-ha       inference enabled                           pass, fail, unknown
internal-load-balancer    internal load balancer requested            pass, fail
load-balancer-support     inference enabled with a known service      pass, warning
                          type
capacity                  AKS, Arc                                    pass, warning, unknown
gpu-device-plugin         AKS; Arc when the plugin is requested       pass, warning, fail, unknown
kubernetes-version        AKS, Arc                                    pass, warning, unknown
cli-version               AKS, Arc                                    pass, fail, unknown
========================  ==========================================  ==============================

The in-cluster checks (``incluster.py``) read the cluster's Kubernetes API; ``--arm-only`` skips them:

========================  ==========================================  ==============================
id                        applies to                                  statuses
========================  ==========================================  ==============================
cluster-api               AKS, Arc (whether the API could be read)    pass, unknown, skipped
legacy-azureml-fe         AKS, Arc                                    pass, warning, fail, unknown
azureml-namespace         AKS, Arc                                    pass, fail, unknown
helm-ownership            AKS, Arc (volcano, Prometheus operator,     pass, fail, unknown
                          cluster roles of the chart)
ingress-nginx             inference with the extension's ingress      pass, fail, unknown
                          controller (AKS by default)
ssl-secret                inference with --ssl-secret                 pass, warning, fail, unknown
gpu-software              the NVIDIA device plugin or DCGM exporter   pass, fail, unknown
                          requested
node-selector             a nodeSelector setting (--node-selector)    pass, fail, unknown
pod-slots                 AKS, Arc (free pods per eligible node)      pass, warning, fail, unknown
========================  ==========================================  ==============================

On Arc the nodes read from the API replace node-architecture's and capacity's unknowns (and gpu-device-plugin's).

Every ``fix`` names the concrete command with this cluster's names filled in: a bare command when
one command is the fix, otherwise a sentence with each command in backticks.
"""

import math
from dataclasses import dataclass, field, replace
from typing import Dict, Iterable, List, Optional, Tuple

from azext_amlk8s._constants import NETWORK_REQUIREMENTS_LINK, WAIT_FLAG_FOR_STATE
from azext_amlk8s._docdata import (  # noqa: F401  pylint: disable=unused-import
    OPENSHIFT_SCC_SERVICE_ACCOUNTS, PRODUCTION_HEADLINE_MIB, PRODUCTION_HEADLINE_MILLICORES,
    PRODUCTION_RECOMMENDED_NODES, REGION_PAIRS, RESOURCE_MINIMUMS, TEST_RECOMMENDED_NODES)
from azext_amlk8s.facts.cluster import (  # noqa: F401  (required_providers is part of the checks' vocabulary)
    AZUREML_EXTENSION_TYPE, ML_TRUSTED_ACCESS_ROLE, RELAY_PROVIDER, ClusterFacts, minor_key, minor_version,
    required_providers, shell_quote)

PASS, WARNING, FAIL, UNKNOWN, IGNORED, SKIPPED = "pass", "warning", "fail", "unknown", "ignored", "skipped"
STATUSES = (PASS, WARNING, FAIL, UNKNOWN, IGNORED, SKIPPED)

MIN_CLI_VERSION = "2.51.0"
TRUSTED_ACCESS_MIN_CLI_VERSION = "2.53.0"
IGNORED_SUFFIX = " (ignored by --ignore-check)"
HA_MIN_NODES = 3


@dataclass(frozen=True)
class CheckResult:
    id: str
    title: str
    status: str
    finding: str
    fix: Optional[str] = None
    ignorable: bool = True      # False: the service itself would refuse the write, so --ignore-check cannot help

    def to_dict(self):
        """The stable JSON shape for scripts."""
        return {"check": self.id, "title": self.title, "status": self.status, "finding": self.finding,
                "fix": self.fix}


@dataclass(frozen=True)
class Intent:  # pylint: disable=too-many-instance-attributes
    """What the user asked for, as far as the cluster checks care (built from the validated settings:
    ``settings.intent_fields``)."""
    extension_name: str = "azureml"
    training: Optional[bool] = None       # None: settings not given (plain `az amlk8s check`)
    inference: Optional[bool] = None
    router_ha: Optional[bool] = None      # the user's explicit inferenceRouterHA, None = not chosen
    service_type: Optional[str] = None    # "loadBalancer" | "nodePort" | "clusterIP" or None
    internal_lb: bool = False
    node_selector: Dict[str, str] = field(default_factory=dict)
    nvidia_plugin: Optional[bool] = None
    cluster_purpose: Optional[str] = None  # "DevTest" | "FastProd" if the user set it
    creates_relay: Optional[bool] = None   # Arc: deploy finds or creates the Azure Relay (None: not known, assume so)


# ----------------------------------------------------------------------------------------------
# Documented data
# ----------------------------------------------------------------------------------------------

_CLOUD_LB_DISTRIBUTIONS = ("aks", "eks", "gke", "capz", "aks_engine")
_CLOUD_LB_INFRASTRUCTURES = ("azure", "aws", "gcp")


# ----------------------------------------------------------------------------------------------
# Small helpers
# ----------------------------------------------------------------------------------------------

def _result(check_id, status, finding, fix=None):
    return CheckResult(id=check_id, title=TITLES[check_id], status=status, finding=finding, fix=fix)


def _same(left, right):
    return (left or "").strip().lower() == (right or "").strip().lower()


def _plural(count, word):
    return f"{count} {word}{'' if count == 1 else 's'}"


def _fmt(number):
    """``4`` for 4.0, ``12.5`` for 12.5: numbers in findings without noise."""
    return f"{round(number, 1):g}"


def _join(items):
    items = [str(item) for item in items]
    if len(items) <= 1:
        return "".join(items)
    return f"{', '.join(items[:-1])} and {items[-1]}"


def _quoted(names):
    return _join(repr(name) for name in names)


def _linux_pools(facts):
    return tuple(p for p in facts.node_pools or () if p.is_linux)


_ARCH_LABELS = ("kubernetes.io/arch", "beta.kubernetes.io/arch")


def _arm_label_keys(facts):
    """Label keys that ARM shows on at least one node pool: the user manages those keys through the pools."""
    return {key for p in facts.node_pools or () for key in p.effective_labels}


def _selector_match(pool, node_selector, arm_keys):
    """True / False / None: None when a selector key is one ARM cannot show for the pool (set with kubectl?)."""
    labels = pool.effective_labels
    unknown = False
    for key, value in (node_selector or {}).items():
        if key in labels:
            if str(labels[key]) != str(value):
                return False
        elif key in arm_keys and key not in _ARCH_LABELS:
            return False
        else:
            unknown = True
    return None if unknown else True


def _eligible_pools(facts, node_selector):
    """(pools that surely host AzureML pods, pools that might): running Linux non-Arm64 pools, by selector.

    A selector key that no pool's labels in ARM carry may have been set with kubectl, and a NoSchedule or
    NoExecute taint may or may not be tolerated: such pools are "maybe".
    """
    arm_keys = _arm_label_keys(facts)
    sure, maybe = [], []
    for pool in _linux_pools(facts):
        if pool.is_stopped or pool.is_arm64:
            continue
        match = _selector_match(pool, node_selector, arm_keys)
        if match is True and pool.repels_pods:
            maybe.append(pool)
        elif match is True:
            sure.append(pool)
        elif match is None:
            maybe.append(pool)
    return sure, maybe


def schedulable_node_range(facts, node_selector=None):
    """``(low, high)``: how many nodes can host the extension's pods; ``None`` for an unknown bound.

    AKS with known node pools: running Linux, non-Arm64 pools whose labels match ``node_selector``
    (``low`` counts the pools that surely match, ``high`` adds the pools that may match through labels
    ARM cannot show, e.g. set with kubectl). Otherwise (Arc, or AKS pools unknown): ``facts.node_count``
    for both bounds.
    """
    if facts.ref.is_aks and facts.node_pools is not None:
        sure, maybe = _eligible_pools(facts, node_selector)
        if any(p.count is None for p in sure):
            return None, None
        low = sum(p.count for p in sure)
        high = None if any(p.count is None for p in maybe) else low + sum(p.count for p in maybe)
        return low, high
    return facts.node_count, facts.node_count


def too_few_nodes_for_ha(facts, node_selector=None):
    """True: surely fewer than 3 nodes can host the inference router; False: surely enough; None: unknown.

    The settings builder should use this (not ``facts.node_count``) to default inferenceRouterHA=false and
    clusterPurpose=DevTest, so that it agrees with the ``inference-router-ha`` check; on None it may fall
    back to ``facts.node_count`` as ``az k8s-extension`` does.
    """
    low, high = schedulable_node_range(facts, node_selector)
    if low is not None and low >= HA_MIN_NODES:
        return False
    if low is not None and high is not None and high < HA_MIN_NODES:
        return True
    return None


def _grow_pool_command(facts, extra_nodes):
    """``az aks nodepool scale|update`` adding ``extra_nodes`` to the biggest usable pool (AKS only)."""
    ref = facts.ref
    sure, _ = _eligible_pools(facts, {})
    pools = [p for p in sure if p.count is not None]
    if not pools:
        return f"az aks nodepool add {ref.nodepool_args} -n <pool> --node-vm-size Standard_D4s_v3 " \
               f"--node-count {extra_nodes}"
    pool = max(pools, key=lambda p: (p.count, p.vcpus or 0))
    target = pool.count + extra_nodes
    if pool.autoscaling:
        return (f"az aks nodepool update {ref.nodepool_args} -n {shell_quote(pool.name)} --update-cluster-autoscaler "
                f"--min-count {target} --max-count {max(target, pool.max_count or target)}")
    return f"az aks nodepool scale {ref.nodepool_args} -n {shell_quote(pool.name)} --node-count {target}"


def _wait_command(facts, flag):
    ref = facts.ref
    if ref.is_aks:
        return f"az aks wait {ref.aks_args} {flag}"
    return f"az resource wait --ids {shell_quote(ref.resource_id)} {flag}"


def _trusted_access_command(ref):
    return (f"az aks trustedaccess rolebinding create --resource-group {shell_quote(ref.resource_group)} "
            f"--cluster-name {shell_quote(ref.cluster_name)} --name <binding> --source-resource-id "
            f"/subscriptions/{ref.subscription_id}/resourceGroups/<workspace-rg>/providers/"
            f"Microsoft.MachineLearningServices/workspaces/<workspace> --roles {ML_TRUSTED_ACCESS_ROLE}")


def _trusted_access_list_command(ref):
    return (f"az aks trustedaccess rolebinding list --resource-group {shell_quote(ref.resource_group)} "
            f"--cluster-name {shell_quote(ref.cluster_name)}")


def service_tag_regions(location):
    """``(region, paired region or None)`` whose ``AzureMachineLearning.<region>`` tags the API server must allow."""
    region = (location or "").lower().replace(" ", "")
    return region, REGION_PAIRS.get(region)


def _extension_fields(ext):
    """(name, extensionType, provisioningState, properties) of an extension resource, tolerant of odd bodies."""
    props = ext.get("properties") if isinstance(ext.get("properties"), dict) else {}

    def text(value):
        return value if isinstance(value, str) else ""

    return text(ext.get("name")), text(props.get("extensionType")), text(props.get("provisioningState")), props


_ALLOCATABLE_COMMAND = ("kubectl get nodes -o custom-columns=NAME:.metadata.name,CPU:.status.allocatable.cpu,"
                        "MEMORY:.status.allocatable.memory")
_GPU_COMMAND = "kubectl get nodes -o custom-columns=NAME:.metadata.name,GPU:.status.allocatable.nvidia\\.com/gpu"
_NVIDIA_DAEMONSETS_COMMAND = "kubectl get daemonsets -A | grep -i nvidia"


# ----------------------------------------------------------------------------------------------
# The checks: check_x(facts, intent) -> CheckResult, or None when the check does not apply
# ----------------------------------------------------------------------------------------------

def check_cluster_state(facts, intent):  # pylint: disable=unused-argument
    cid, ref = "cluster-state", facts.ref
    state = facts.provisioning_state
    if state is None:
        return _result(cid, UNKNOWN, f"The provisioning state of the {ref.display} could not be read.",
                       f"az resource show --ids {shell_quote(ref.resource_id)} --query properties.provisioningState")
    lowered = state.lower()
    if lowered == "deleting":
        return _result(cid, FAIL, f"The {ref.display} is being deleted.",
                       f"Deploy to another cluster; `{_wait_command(facts, '--deleted')}` returns once it is gone")
    if lowered in ("failed", "canceled"):
        if ref.is_aks:
            fix = (f"az aks update {ref.aks_args} (an update without changes reconciles the cluster; the error is in "
                   f"`az aks show {ref.aks_args} --query status`)")
        else:
            fix = (f"Inspect `az resource show --ids {shell_quote(ref.resource_id)} --query properties`, then repair "
                   f"the Arc agents with `az connectedk8s upgrade {ref.aks_args}`")
        return _result(cid, FAIL, f"The {ref.display} is in provisioning state {state}.", fix)
    if lowered != "succeeded":
        return _result(cid, FAIL, f"The {ref.display} is in provisioning state {state}: an operation is still running.",
                       _wait_command(facts, "--updated"))
    if ref.is_aks and _same(facts.power_state, "stopped"):
        return _result(cid, FAIL, f"The {ref.display} is stopped.", f"az aks start {ref.aks_args}")
    running = " and running" if ref.is_aks and _same(facts.power_state, "running") else ""
    return _result(cid, PASS, f"The {ref.display} is provisioned ({state}){running}.")


def check_provider_registration(facts, intent):
    cid = "provider-registration"
    states = {ns.lower(): state for ns, state in facts.providers.items()}
    not_registered, unreadable, registered = [], [], []
    for namespace in required_providers(facts.ref, intent):
        state = states.get(namespace.lower())
        if state is None:
            unreadable.append(namespace)
        elif state.lower() == "registered":
            registered.append(namespace)
        else:
            not_registered.append((namespace, state))
    if not_registered:
        listing = _join(f"{ns} ({state})" for ns, state in not_registered)
        finding = f"Not registered in subscription {facts.ref.subscription_id}: {listing}."
        if unreadable:
            finding += f" Could not read: {_join(unreadable)}."
        if any(ns == RELAY_PROVIDER for ns, _ in not_registered):
            finding += (f" {RELAY_PROVIDER} is needed for the Azure Relay that deploy creates for the Arc cluster "
                        "(unless you bring your own: relayserver.hybridConnectionResourceID and "
                        "relayServerConnectionString).")
        fix = " && ".join(f"az provider register --namespace {ns} --wait" for ns, _ in not_registered)
        return _result(cid, FAIL, finding, fix)
    if unreadable:
        return _result(cid, UNKNOWN, f"Could not read the registration state of {_join(unreadable)}.",
                       " ; ".join(f"az provider show -n {ns} --query registrationState" for ns in unreadable))
    return _result(cid, PASS, f"Registered: {_join(registered)}.")


def check_managed_identity(facts, intent):  # pylint: disable=unused-argument
    cid, ref = "managed-identity", facts.ref
    if not ref.is_aks:
        return None
    if facts.identity_type == "ServicePrincipal":
        return _result(
            cid, FAIL,
            f"The {ref.display} uses a service principal: Azure Machine Learning does not support service principal "
            "clusters, only a system- or user-assigned managed identity.",
            f"Convert with `az aks update {ref.aks_args} --enable-managed-identity`, then delete and recreate every "
            f"node pool (recreate, not update) before installing the extension: `az aks nodepool add "
            f"{ref.nodepool_args} -n <new-pool> ...` for each pool, then `az aks nodepool delete {ref.nodepool_args} "
            "-n <old-pool>`")
    if facts.identity_type in ("SystemAssigned", "UserAssigned"):
        kind = "system-assigned" if facts.identity_type == "SystemAssigned" else "user-assigned"
        return _result(cid, PASS, f"The cluster uses a {kind} managed identity.")
    return _result(cid, UNKNOWN, "Could not tell whether the cluster uses a managed identity or a service principal.",
                   f'az aks show {ref.aks_args} --query '
                   '"{identity: identity.type, clientId: servicePrincipalProfile.clientId}"')


def check_local_accounts(facts, intent):  # pylint: disable=unused-argument
    cid, ref = "local-accounts", facts.ref
    if not ref.is_aks:
        return None
    bindings = facts.trusted_access_ml_bindings
    if facts.local_accounts_disabled is None:
        return _result(cid, UNKNOWN, "Could not read whether local accounts are disabled on the cluster.",
                       f"az aks show {ref.aks_args} --query disableLocalAccounts")
    if not facts.local_accounts_disabled:
        return _result(cid, PASS, "Local accounts are enabled.")
    if bindings:
        return _result(cid, PASS, f"Local accounts are disabled, and Trusted Access binding {_quoted(bindings)} "
                       f"grants {ML_TRUSTED_ACCESS_ROLE} (only to the workspace it names).")
    if bindings is None:
        why = (f"the Trusted Access role bindings could not be read (check with "
               f"`{_trusted_access_list_command(ref)}`)")
    else:
        why = f"no Trusted Access binding has role {ML_TRUSTED_ACCESS_ROLE}"
    return _result(
        cid, FAIL,
        f"Local accounts are disabled on the {ref.display}, which Azure Machine Learning does not support, and {why}.",
        f"Either enable local accounts: `az aks update {ref.aks_args} --enable-local-accounts`, or (public cloud "
        f"only, Azure CLI {TRUSTED_ACCESS_MIN_CLI_VERSION}+) bind the workspace with Trusted Access: "
        f"`{_trusted_access_command(ref)}`")


def check_authorized_ip_ranges(facts, intent):  # pylint: disable=unused-argument
    cid, ref = "authorized-ip-ranges", facts.ref
    if not ref.is_aks:
        return None
    bindings = facts.trusted_access_ml_bindings
    ranges, private = facts.authorized_ip_ranges, facts.private_cluster
    if ranges is None and private is None:
        return _result(cid, UNKNOWN, "Could not read the API server access profile of the cluster.",
                       f"az aks show {ref.aks_args} --query apiServerAccessProfile")
    if not ranges and not private:
        return _result(cid, PASS, "The API server is public, without authorized IP ranges.")
    what = "API server authorized IP ranges are set" if ranges else "The cluster is a private AKS cluster"
    if bindings:
        return _result(cid, PASS, f"{what}, and Trusted Access binding {_quoted(bindings)} lets Azure Machine "
                       "Learning reach the API server.")
    if private:
        return _result(
            cid, WARNING,
            f"The {ref.display} is private: Azure Machine Learning cannot reach its API server, and a public FQDN "
            "with a private AKS cluster is not supported without Trusted Access.",
            f"Bind the workspace with Trusted Access (public cloud only, Azure CLI {TRUSTED_ACCESS_MIN_CLI_VERSION}+): "
            f"{_trusted_access_command(ref)}")
    region, pair = service_tag_regions(facts.location)
    regions = [r for r in (region, pair) if r] or ["<region>"]
    tags = _join(f"AzureMachineLearning.{r}" for r in regions)
    pair_note = "" if pair else (f" The paired region of {region or 'the cluster region'} is not known to "
                                 "amlk8s: allow its AzureMachineLearning tag too.")
    region_filter = " || ".join(f"properties.region=='{r}'" for r in regions)
    query = (f"az network list-service-tags --location {regions[0]} --query \"values[?properties.systemService=="
             f"'AzureMachineLearning' && ({region_filter})].properties.addressPrefixes[]\" -o tsv")
    return _result(
        cid, WARNING,
        f"API server authorized IP ranges are set ({_join(ranges)}): the Azure Machine Learning control plane, "
        f"deployed across paired regions, needs service tags {tags} allowed, or its pods cannot be deployed."
        f"{pair_note}",
        f"List the prefixes with `{query}`, then keep the current ranges and add the IPv4 prefixes: `az aks update "
        f"{ref.aks_args} --api-server-authorized-ip-ranges {','.join(ranges)},<prefixes>`; or, in the public "
        f"cloud with Azure CLI {TRUSTED_ACCESS_MIN_CLI_VERSION}+, use Trusted Access instead: "
        f"`{_trusted_access_command(ref)}`")


def check_pod_identity(facts, intent):  # pylint: disable=unused-argument
    cid, ref = "pod-identity", facts.ref
    if not ref.is_aks:
        return None
    if not facts.pod_identity_enabled:
        return _result(cid, PASS, "Microsoft Entra pod identity is not enabled.")
    return _result(
        cid, FAIL,
        f"Microsoft Entra pod identity (preview) is enabled on the {ref.display}; Azure Machine Learning does not "
        "support it.",
        f"Disable it with `az aks update {ref.aks_args} --disable-pod-identity` (needs the aks-preview extension: "
        "`az extension add --name aks-preview`); for workload identities use its successor, Microsoft Entra "
        f"Workload ID: `az aks update {ref.aks_args} --enable-oidc-issuer --enable-workload-identity`")


# Hosts the proxy must not handle: the training identity sidecar talks to 127.0.0.1:12342 (AML-Kubernetes
# docs/network-requirements.md), and local traffic must stay local.
NO_PROXY_REQUIRED = ("localhost", "127.0.0.1")
_FIREWALL_OUTBOUND_TYPES = ("userdefinedrouting", "none", "block")


def check_outbound_network(facts, intent):  # pylint: disable=unused-argument
    cid, ref = "outbound-network", facts.ref
    if not ref.is_aks:
        return None
    notes, fixes = [], []
    proxy = facts.http_proxy
    if proxy:
        target = proxy.get("httpsProxy") or proxy.get("httpProxy")
        missing = [h for h in NO_PROXY_REQUIRED if h not in proxy.get("noProxy", ())]
        lacks = f", and its noProxy lacks {_join(missing)}" if missing else ""
        notes.append(f"outbound traffic goes through the HTTP proxy {target}{lacks}")
        fixes.append(f"make the proxy allow the endpoints and keep {_join(NO_PROXY_REQUIRED)} in noProxy (with the "
                     f"cluster's service and pod ranges): `az aks update {ref.aks_args} --http-proxy-config "
                     "<proxy-config.json>`")
    if (facts.outbound_type or "").lower() in _FIREWALL_OUTBOUND_TYPES:
        notes.append(f"networkProfile.outboundType is {facts.outbound_type} (egress through your own route or "
                     "firewall)")
    if facts.private_cluster:
        notes.append("the cluster is private (egress is usually restricted too)")
    if not notes:
        return _result(cid, PASS, "No outbound proxy or restricted egress is configured in Azure.")
    fixes.append(f"allow the outbound endpoints the AzureML extension needs, listed at {NETWORK_REQUIREMENTS_LINK}")
    return _result(cid, WARNING,
                   f"On the {ref.display} {'; '.join(notes)}: the AzureML extension needs extra network configuration "
                   "or its pods cannot pull images or reach Azure (HealthCheck E45003 BAD_NETWORK_CONNECTIVITY).",
                   "; ".join(fix[0].upper() + fix[1:] for fix in fixes))


def check_arc_connectivity(facts, intent):  # pylint: disable=unused-argument
    cid, ref = "arc-connectivity", facts.ref
    if not ref.is_arc:
        return None
    status = facts.connectivity_status
    agents = f" (agent version {facts.agent_version})" if facts.agent_version else ""
    if status is None:
        return _result(cid, UNKNOWN, f"Could not read the Azure Arc connectivity status of the {ref.display}.",
                       f"az connectedk8s show {ref.aks_args} --query connectivityStatus")
    if _same(status, "connected"):
        return _result(cid, PASS, f"The cluster is connected to Azure Arc{agents}.")
    if _same(status, "expired"):
        return _result(
            cid, FAIL,
            f"The Azure Arc connection has expired{agents}: the agents' managed identity certificate expired while "
            "the cluster was offline.",
            f"Reconnect: `az connectedk8s delete {ref.aks_args}`, then `az connectedk8s connect {ref.aks_args}` "
            "(extensions have to be installed again afterwards)")
    if _same(status, "agentnotinstalled"):
        return _result(cid, FAIL, "The Azure Arc agents are not installed on the cluster.",
                       f"az connectedk8s connect {ref.aks_args}")
    return _result(
        cid, FAIL,
        f"The cluster's Azure Arc connectivity status is {status}{agents}: extensions cannot be installed until the "
        "agents connect.",
        "Check the agents with `kubectl get pods -n azure-arc` (and their outbound network access), then upgrade "
        f"them with `az connectedk8s upgrade {ref.aks_args}`")


def check_node_architecture(facts, intent):  # pylint: disable=too-many-return-statements
    cid, ref = "node-architecture", facts.ref
    if ref.is_arc:
        return _result(cid, UNKNOWN, "Azure Arc does not report node architectures; the extension needs at least "
                       "one linux/amd64 node and does not support Arm64.",
                       "kubectl get nodes -L kubernetes.io/arch,kubernetes.io/os")
    if facts.node_pools is None:
        return _result(cid, UNKNOWN, "The node pools of the cluster could not be read.",
                       f"az aks nodepool list {ref.nodepool_args} -o table")
    linux = _linux_pools(facts)
    arm = [p.name for p in linux if p.is_arm64]
    x64 = [p.name for p in linux if p.arch and not p.is_arm64]
    unknown = [p.name for p in linux if not p.arch]
    if arm and not x64 and not unknown:
        return _result(cid, FAIL, f"Every Linux node pool ({_join(arm)}) is Arm64, which the AzureML extension does "
                       "not support.",
                       f"Add an amd64 node pool: az aks nodepool add {ref.nodepool_args} -n <pool> --node-vm-size "
                       "Standard_D4s_v3 --node-count 3")
    if arm:
        keys = _arm_label_keys(facts)
        selected_x64 = [p for p in linux if not p.is_arm64 and _selector_match(p, intent.node_selector, keys) is True]
        selected_arm = [p for p in linux if p.is_arm64 and _selector_match(p, intent.node_selector, keys) is not False]
        if intent.node_selector and selected_x64 and not selected_arm:
            return _result(cid, PASS, f"Arm64 node pool {_join(arm)} is outside the node selector.")
        return _result(cid, WARNING, f"Node pool {_join(arm)} is Arm64, which the AzureML extension does not "
                       "support.", "Restrict the extension to amd64 nodes: --node-selector kubernetes.io/arch=amd64 "
                       "(nodeSelector.kubernetes.io/arch=amd64)")
    if unknown and not x64:
        return _result(cid, UNKNOWN, f"The architecture of node pool {_join(unknown)} is unknown.",
                       "kubectl get nodes -L kubernetes.io/arch,agentpool")
    if unknown:
        return _result(cid, PASS, f"Linux node pool {_join(x64)} is amd64; the architecture of {_join(unknown)} is "
                       "unknown.")
    return _result(cid, PASS, "Every Linux node pool is amd64 (x64).")


def check_openshift(facts, intent):
    cid, ref = "openshift", facts.ref
    if not ref.is_arc:
        return None
    if facts.distribution is None:
        return _result(cid, UNKNOWN, "The Kubernetes distribution of the cluster is unknown; OpenShift (ARO/OCP) "
                       "needs extra steps.", "oc get scc privileged (this works only on OpenShift)")
    if not facts.is_openshift:
        return _result(cid, PASS, f"The distribution is {facts.distribution}, not OpenShift: no extra steps.")
    users = " ".join(f"system:serviceaccount:{account.format(extension=intent.extension_name)}"
                     for account in OPENSHIFT_SCC_SERVICE_ACCOUNTS)
    return _result(
        cid, WARNING,
        "The cluster runs OpenShift: the AzureML service accounts need the privileged SCC, and SELinux must be "
        "disabled on the workers to use AzureML datasets (SDK v1).",
        f"Run `oc adm policy add-scc-to-user privileged {users}` (or add them under users: with `oc edit scc "
        "privileged`); add system:serviceaccount:<compute-namespace>:default too when you attach the cluster with "
        "a namespace other than default; disable SELinux on all workers if you use AzureML datasets")


def check_existing_extension(facts, intent):
    cid, ref = "existing-extension", facts.ref
    if facts.extensions is None:
        return _result(cid, UNKNOWN, f"The extensions on the {ref.display} could not be listed.",
                       f"az amlk8s list {ref.cli_args}")
    name = intent.extension_name
    fields = [_extension_fields(e) for e in facts.extensions]
    same_name = [f for f in fields if _same(f[0], name)]
    others = [f for f in fields if _same(f[1], AZUREML_EXTENSION_TYPE) and not _same(f[0], name)]
    if same_name and not _same(same_name[0][1], AZUREML_EXTENSION_TYPE):
        if others:
            # Another name would be refused too (one AzureML extension per cluster): point at the one there is.
            fix = (f"The cluster's AzureML extension is {others[0][0]!r}: deploy to it with `az amlk8s deploy "
                   f"{ref.cli_args} -n {shell_quote(others[0][0])} <settings>`")
        else:
            fix = "Choose another name for the AzureML extension with --name, for example --name azureml-ext"
        return replace(_result(cid, FAIL, f"Extension {name!r} already exists on the cluster with type "
                               f"{same_name[0][1] or '<unknown>'}; the type of an extension cannot change (Azure "
                               "refuses the write).", fix), ignorable=False)
    if others:
        other, _, other_state, _ = others[0]
        state = f" ({other_state})" if other_state else ""
        finding = f"AzureML extension {other!r} is already installed{state}; a cluster can have only one."
        if _same(other_state, "deleting"):
            fix = f"az amlk8s wait {ref.cli_args} -n {shell_quote(other)} --deleted"
        else:
            fix = (f"Re-apply it with `az amlk8s deploy {ref.cli_args} -n {shell_quote(other)} <settings>`, or remove "
                   "it "
                   f"first with `az amlk8s delete {ref.cli_args} -n {shell_quote(other)}`")
        return _result(cid, FAIL, finding, fix)
    if same_name:
        return _result(cid, PASS, f"AzureML extension {name!r} exists: deploy re-applies it.")
    return _result(cid, PASS, f"No AzureML extension is installed: deploy creates {name!r}.")


def check_extension_busy(facts, intent):
    cid, ref = "extension-busy", facts.ref
    name = intent.extension_name
    if facts.extensions is None:
        return _result(cid, UNKNOWN, "The extensions on the cluster could not be listed.",
                       f"az amlk8s show {ref.cli_args} -n {shell_quote(name)} --query provisioningState")
    mine = [_extension_fields(e) for e in facts.extensions if _same(_extension_fields(e)[0], name)]
    if not mine:
        return _result(cid, PASS, f"No extension named {name!r}: no operation in progress.")
    found, _, state, props = mine[0]
    flag = WAIT_FLAG_FOR_STATE.get(state.lower())
    if flag:
        return _result(
            cid, FAIL,
            f"Extension {found!r} is {state}: a deployment now would fail (Helm: 'earlier operation ... still in "
            "progress' or 'namespace azureml ... being terminated').",
            f"az amlk8s wait {ref.cli_args} -n {shell_quote(found)} {flag}")
    if state.lower() in ("failed", "canceled"):
        error = props.get("errorInfo") if isinstance(props.get("errorInfo"), dict) else {}
        message = error.get("message") if isinstance(error.get("message"), str) else ""
        first = message.strip().splitlines()[0] if message.strip() else ""
        detail = f": {first}" if first else ""
        return _result(cid, WARNING, f"Extension {found!r} is {state}{detail}. Deploy may re-apply it.",
                       f"az amlk8s verify {ref.cli_args} -n {shell_quote(found)}")
    return _result(cid, PASS, f"Extension {found!r} is {state or 'in an unknown state'}: no operation in progress.")


def check_inference_router_ha(facts, intent):
    cid = "inference-router-ha"
    if intent.inference is not True:
        return None
    if intent.router_ha is False:
        return _result(cid, PASS, "inferenceRouterHA is false: one inference router replica.")
    low, high = schedulable_node_range(facts, intent.node_selector)
    kind = "schedulable Linux node" if facts.ref.is_aks and facts.node_pools is not None else "node"
    scope = " matching the node selector" if intent.node_selector else ""

    def nodes(number):
        return f"{_plural(number, kind)}{scope}"

    too_few = too_few_nodes_for_ha(facts, intent.node_selector)
    if too_few is False:
        return _result(cid, PASS, f"{nodes(low)}: enough for three inference router replicas.")
    if too_few is None:
        count = f"between {low} and {high}" if low is not None and high is not None else "unknown"
        selector = ",".join(f"{k}={v}" for k, v in intent.node_selector.items()) or "kubernetes.io/os=linux"
        return _result(cid, UNKNOWN, f"The number of {kind}s{scope} is {count}; inference router HA needs "
                       f"{HA_MIN_NODES}.", f"kubectl get nodes -l {shell_quote(selector)} -o name")
    if intent.router_ha is True:
        if facts.ref.is_aks:
            more = f"`{_grow_pool_command(facts, HA_MIN_NODES - low)}`"
        else:
            more = "add Linux amd64 nodes with your distribution's tooling"
        return _result(
            cid, FAIL,
            f"inferenceRouterHA=true needs at least {HA_MIN_NODES} nodes for its three replicas, but the cluster has "
            f"{nodes(low)}: the health check would fail with E40002 INSUFFICIENT_NODE.",
            f"Deploy with --inference-router-ha false, or add nodes: {more}")
    purpose = (f" (clusterPurpose stays {intent.cluster_purpose})" if intent.cluster_purpose
               else " and clusterPurpose to DevTest")
    return _result(cid, PASS, f"{nodes(low)}: inferenceRouterHA will default to false (one router replica)"
                   f"{purpose}.")


def check_internal_load_balancer(facts, intent):
    cid, ref = "internal-load-balancer", facts.ref
    if not intent.internal_lb:
        return None
    if ref.is_aks:
        return _result(cid, PASS, "internalLoadBalancerProvider=azure: the inference router gets an internal Azure "
                       "load balancer.")
    return _result(cid, FAIL, f"internalLoadBalancerProvider=azure works on AKS only; on the {ref.display} the "
                   "health check would fail with E40003 INTERNAL_LOAD_BALANCER_NOT_SUPPORT.",
                   "Deploy without --internal-load-balancer-provider, with --inference-router-service-type NodePort or "
                   "ClusterIP behind your own load balancer")


def check_load_balancer_support(facts, intent):
    cid, ref = "load-balancer-support", facts.ref
    if intent.inference is not True or not intent.service_type:
        return None
    if not _same(intent.service_type, "loadBalancer"):
        return _result(cid, PASS, f"inferenceRouterServiceType={intent.service_type} needs no load balancer from "
                       "the cluster.")
    if ref.is_aks:
        return _result(cid, PASS, "AKS provisions an Azure load balancer for the inference router.")
    platform = ", ".join(f"{what} {value}" for what, value in (("distribution", facts.distribution),
                                                               ("infrastructure", facts.infrastructure)) if value)
    platform = platform or "distribution unknown"
    if ((facts.distribution or "").lower() in _CLOUD_LB_DISTRIBUTIONS
            or (facts.infrastructure or "").lower() in _CLOUD_LB_INFRASTRUCTURES):
        return _result(cid, PASS, f"The cluster ({platform}) runs on a cloud that provisions load balancers.")
    return _result(
        cid, WARNING,
        f"inferenceRouterServiceType=loadBalancer on an Azure Arc-enabled cluster ({platform}): most on-premises "
        "clusters cannot provision external load balancers, and then the health check fails with E40001 "
        "LOAD_BALANCER_NOT_SUPPORT.",
        "Check that load balancer services get an external IP (`kubectl get svc -A --field-selector "
        "spec.type=LoadBalancer`), or deploy with --inference-router-service-type NodePort (or ClusterIP behind "
        "your own ingress)")


def _workload(intent):
    if intent.training and not intent.inference:
        return "training"
    if intent.inference and not intent.training:
        return "inference"
    return "both"


def _scenario(intent, nodes):
    purpose = (intent.cluster_purpose or "").lower()
    if purpose == "fastprod":
        return "production"
    if purpose == "devtest" or intent.router_ha is False:
        return "test"
    return "production" if nodes is not None and nodes >= HA_MIN_NODES else "test"


def capacity_minimum(intent, nodes):
    """``(scenario, workload, millicores, MiB)`` the cluster should offer the extension (§8.3).

    Production (``clusterPurpose`` FastProd, or at least 3 nodes with HA not turned off and no DevTest): the
    recommended nodes of the table (count x minimum VM size), and at least the headline 4 vCPU / 14 GB. The sum of
    the limits is not used: the docs' own recommended production clusters (3 x DS3v2) fall below it. Test: the
    recommended test node (one DS2v2, or one DS3v2 for both workloads), and at least the sum of the resource requests.
    """
    workload = _workload(intent)
    scenario = _scenario(intent, nodes)
    cpu_req, _, mem_req, _ = RESOURCE_MINIMUMS[(scenario, workload)][:4]
    if scenario == "production":
        count, vcpus, memory_gib = PRODUCTION_RECOMMENDED_NODES[workload]
        return (scenario, workload, max(count * vcpus * 1000, PRODUCTION_HEADLINE_MILLICORES),
                max(count * memory_gib * 1024, PRODUCTION_HEADLINE_MIB))
    count, vcpus, memory_gib = TEST_RECOMMENDED_NODES[workload]
    return scenario, workload, max(count * vcpus * 1000, cpu_req), max(count * memory_gib * 1024, mem_req)


def check_capacity(facts, intent):
    cid, ref = "capacity", facts.ref
    low, _ = schedulable_node_range(facts, intent.node_selector)
    scenario, workload, cpu_need, mem_need = capacity_minimum(intent, low)
    basis = "the recommended nodes" if scenario == "production" else "the recommended test node"
    label = "inference and training" if workload == "both" else workload
    need = (f"the {scenario} {label} minimum ({basis}) is {_fmt(cpu_need / 1000.0)} vCPU and "
            f"{_fmt(mem_need / 1024.0)} GiB")
    if ref.is_arc:
        return _arc_capacity(facts, need, cpu_need)
    if facts.node_pools is None:
        return _result(cid, UNKNOWN, f"The node pools could not be read; {need}.",
                       f"az aks nodepool list {ref.nodepool_args} -o table")
    return _aks_capacity(facts, intent, need, cpu_need, mem_need)


def _aks_capacity(facts, intent, need, cpu_need, mem_need):
    cid = "capacity"
    sure, maybe = _eligible_pools(facts, intent.node_selector)
    sized = [p for p in sure if p.count is not None and p.vcpus is not None and p.memory_gb is not None]
    cpu = sum(p.count * p.vcpus for p in sized) * 1000
    mem = sum(p.count * p.memory_gb for p in sized) * 1024
    partial = len(sized) < len(sure) or bool(maybe)
    scope = "Linux nodes matching the node selector" if intent.node_selector else "Linux amd64 nodes"
    have = (f"{scope} offer {_fmt(cpu / 1000.0)} vCPU and {_fmt(mem / 1024.0)} GiB"
            f"{' (sizes of some pools unknown)' if partial else ''}")
    if cpu >= cpu_need and mem >= mem_need:
        return _result(cid, PASS, f"{have}; {need}.")
    if partial:
        return _result(cid, UNKNOWN, f"{have}; {need}.", _ALLOCATABLE_COMMAND)
    return _result(cid, WARNING, f"{have}; {need}, before AKS reserves part of each node for itself.",
                   _capacity_fix(facts, sized, cpu_need - cpu, mem_need - mem))


def _arc_capacity(facts, need, cpu_need):
    cid = "capacity"
    cores = facts.total_core_count
    if cores is None:
        return _result(cid, UNKNOWN, f"Azure Arc did not report the cluster's cores; {need}.", _ALLOCATABLE_COMMAND)
    if cores * 1000 < cpu_need:
        return _result(cid, WARNING, f"The cluster has {_plural(cores, 'core')}; {need}.",
                       "Add nodes or use larger nodes (with your distribution's tooling)")
    return _result(cid, UNKNOWN, f"The cluster's {_plural(cores, 'core')} cover the CPU, but Azure Arc does not "
                   f"report memory; {need}.", _ALLOCATABLE_COMMAND)


def _capacity_fix(facts, sized, cpu_gap, mem_gap):
    ref = facts.ref
    usable = [p for p in sized if p.vcpus and p.memory_gb]
    if not usable:
        return (f"az aks nodepool add {ref.nodepool_args} -n <pool> --node-vm-size Standard_D4s_v3 "
                "--node-count 1")
    pool = max(usable, key=lambda p: (p.count, p.vcpus))
    nodes = max(math.ceil(max(cpu_gap, 0) / (pool.vcpus * 1000.0)),
                math.ceil(max(mem_gap, 0) / (pool.memory_gb * 1024.0)), 1)
    target = pool.count + nodes
    if pool.autoscaling:
        return (f"az aks nodepool update {ref.nodepool_args} -n {shell_quote(pool.name)} --update-cluster-autoscaler "
                f"--min-count {target} --max-count {max(target, pool.max_count or target)}")
    return f"az aks nodepool scale {ref.nodepool_args} -n {shell_quote(pool.name)} --node-count {target}"


def check_gpu_device_plugin(facts, intent):  # pylint: disable=too-many-return-statements
    cid, ref = "gpu-device-plugin", facts.ref
    wanted = intent.nvidia_plugin
    if ref.is_arc:
        if wanted is not True:
            return None
        return _result(cid, UNKNOWN, "Azure Arc does not report GPUs; installNvidiaDevicePlugin=true needs NVIDIA GPU "
                       "nodes with drivers, and conflicts with a device plugin that is already installed.",
                       f"{_GPU_COMMAND} ; {_NVIDIA_DAEMONSETS_COMMAND}")
    pools = [p for p in _linux_pools(facts) if not p.is_stopped]
    gpu_pools = [p.name for p in pools if p.gpus]
    unknown = [p.name for p in pools if p.gpus is None]
    if facts.node_pools is None or (unknown and not gpu_pools):
        return _result(cid, UNKNOWN, "Could not tell whether the cluster has GPU nodes.", _GPU_COMMAND)
    if wanted is True and not gpu_pools:
        return _result(cid, WARNING, "installNvidiaDevicePlugin=true, but no Linux node pool has GPUs.",
                       "Deploy with --install-nvidia-device-plugin false, or add a GPU node pool: az aks nodepool add "
                       f"{ref.nodepool_args} -n gpu --node-vm-size Standard_NC6s_v3 --node-count 1")
    if wanted is True:
        return _result(cid, PASS, f"GPU node pool {_join(gpu_pools)}: the extension installs the NVIDIA device "
                       "plugin; make sure none is installed already (two conflict).", _NVIDIA_DAEMONSETS_COMMAND)
    if not gpu_pools:
        return _result(cid, PASS, "No GPU node pools.")
    if wanted is False:
        return _result(cid, PASS, f"GPU node pool {_join(gpu_pools)}: installNvidiaDevicePlugin=false, so a device "
                       "plugin or the NVIDIA GPU operator must already expose nvidia.com/gpu.", _GPU_COMMAND)
    return _result(cid, WARNING, f"GPU node pool {_join(gpu_pools)}: the extension does not install the NVIDIA device "
                   "plugin by default, and without one (or the NVIDIA GPU operator) jobs cannot use the GPUs.",
                   f"Check `{_GPU_COMMAND}`; if the GPU column is empty, deploy with "
                   "--install-nvidia-device-plugin true")


def check_kubernetes_version(facts, intent):  # pylint: disable=unused-argument
    cid, ref = "kubernetes-version", facts.ref
    minor = minor_version(facts.kubernetes_version)
    if minor is None or not facts.ga_minor_versions:
        what = "the cluster's Kubernetes version" if minor is None else "the GA Kubernetes versions of AKS"
        return _result(cid, UNKNOWN, f"Could not read {what}; the AzureML extension supports the newest three GA AKS "
                       "minor versions (N-2).", f"az aks get-versions --location {facts.location or '<location>'} "
                       "-o table")
    newest = max(facts.ga_minor_versions, key=minor_key)
    n_major, n_minor = minor_key(newest)
    oldest = f"{n_major}.{max(n_minor - 2, 0)}"
    window = f"{oldest} to {newest}, N-2 of the GA AKS versions"
    current = minor_key(minor)
    if current > (n_major, n_minor):
        return _result(cid, WARNING, f"Kubernetes {facts.kubernetes_version} is newer than the newest GA AKS version "
                       f"{newest}: a preview version, outside the supported window ({window}).")
    if current < minor_key(oldest):
        if ref.is_aks:
            fix = (f"Find the next version with `az aks get-upgrades {ref.aks_args} -o table`, then `az aks upgrade "
                   f"{ref.aks_args} --kubernetes-version <version>` (one minor version at a time)")
        else:
            fix = f"Upgrade the cluster to Kubernetes {oldest} or newer with your distribution's tooling"
        return _result(cid, WARNING, f"Kubernetes {facts.kubernetes_version} is outside the supported window "
                       f"({window}): the cluster is not covered by the AzureML extension support policy.", fix)
    return _result(cid, PASS, f"Kubernetes {facts.kubernetes_version} is in the supported window ({window}).")


def check_cli_version(facts, intent):  # pylint: disable=unused-argument
    from packaging.version import InvalidVersion, Version
    cid = "cli-version"
    try:
        current = Version(facts.cli_version) if facts.cli_version else None
    except InvalidVersion:
        current = None
    if current is None:
        return _result(cid, UNKNOWN, f"Could not read the Azure CLI version ({facts.cli_version!r}).", "az version")
    if current < Version(MIN_CLI_VERSION):
        return _result(cid, FAIL, f"Azure CLI {facts.cli_version} is older than {MIN_CLI_VERSION}, the minimum for "
                       "the AzureML extension.", "az upgrade")
    return _result(cid, PASS, f"Azure CLI {facts.cli_version} (minimum {MIN_CLI_VERSION}).")


# (id, title, check), in report order.
_CHECKS = (
    ("cluster-state", "Cluster state", check_cluster_state),
    ("provider-registration", "Resource providers", check_provider_registration),
    ("managed-identity", "Managed identity", check_managed_identity),
    ("local-accounts", "Local accounts", check_local_accounts),
    ("authorized-ip-ranges", "API server access", check_authorized_ip_ranges),
    ("pod-identity", "Pod identity", check_pod_identity),
    ("outbound-network", "Outbound network", check_outbound_network),
    ("arc-connectivity", "Arc connectivity", check_arc_connectivity),
    ("node-architecture", "Node architecture", check_node_architecture),
    ("openshift", "OpenShift", check_openshift),
    ("existing-extension", "Existing AzureML extension", check_existing_extension),
    ("extension-busy", "Extension operation", check_extension_busy),
    ("inference-router-ha", "Inference router HA", check_inference_router_ha),
    ("internal-load-balancer", "Internal load balancer", check_internal_load_balancer),
    ("load-balancer-support", "Load balancer support", check_load_balancer_support),
    ("capacity", "Capacity", check_capacity),
    ("gpu-device-plugin", "GPU device plugin", check_gpu_device_plugin),
    ("kubernetes-version", "Kubernetes version", check_kubernetes_version),
    ("cli-version", "Azure CLI version", check_cli_version),
)
# The in-cluster checks (incluster.py), read from the cluster's Kubernetes API; the Arc rows of node-architecture,
# capacity and gpu-device-plugin are replaced by in-cluster ones when the nodes could be read.
IN_CLUSTER_CHECKS = (
    ("cluster-api", "Cluster API"),
    ("legacy-azureml-fe", "Legacy AKS v1 router"),
    ("azureml-namespace", "Namespace azureml"),
    ("helm-ownership", "Helm ownership"),
    ("ingress-nginx", "Ingress controller"),
    ("ssl-secret", "TLS secret"),
    ("gpu-software", "GPU software"),
    ("node-selector", "Node selector"),
    ("pod-slots", "Pod slots"),
)
TITLES = dict([(cid, title) for cid, title, _ in _CHECKS] + list(IN_CLUSTER_CHECKS))
ALL_CHECK_IDS: Tuple[str, ...] = tuple(TITLES)


def validate_ignore_ids(ids) -> list:
    """Normalised ``--ignore-check`` ids (any case, comma-separated lists allowed, duplicates dropped)."""
    result = []
    for raw in ids or ():
        for part in str(raw).split(","):
            cid = part.strip().lower()
            if not cid:
                continue
            if cid not in TITLES:
                from azure.cli.core.azclierror import InvalidArgumentValueError
                raise InvalidArgumentValueError(
                    f"Unknown check {part.strip()!r} given to --ignore-check.",
                    recommendation=f"Use one of: {', '.join(ALL_CHECK_IDS)}.")
            if cid not in result:
                result.append(cid)
    return result


def run_checks(facts: ClusterFacts, intent: Intent, ignore: Iterable[str] = ()) -> List[CheckResult]:
    """Every applicable check, in the documented order; a FAIL whose id is in ``ignore`` becomes IGNORED."""
    return apply_ignore([r for r in (check(facts, intent) for _, _, check in _CHECKS) if r is not None], ignore)


def apply_ignore(results, ignore) -> List[CheckResult]:
    """Each FAIL whose id is in ``ignore`` (and that --ignore-check may skip) becomes IGNORED, still reported."""
    ignored = {str(i).strip().lower() for i in ignore or ()}
    return [replace(r, status=IGNORED, finding=r.finding + IGNORED_SUFFIX)
            if r.status == FAIL and r.id in ignored and r.ignorable else r for r in results]


def blocking(results) -> List[CheckResult]:
    """The results that stop a deployment (status ``fail``)."""
    return [r for r in results if r.status == FAIL]


def summarize_failures(results) -> str:
    """``"<title>: <finding> Fix: <fix>"`` for each blocking result, joined with "; " (for error messages)."""
    parts = []
    for result in blocking(results):
        text = f"{result.title}: {result.finding}"
        if result.fix:
            text += f" Fix: {result.fix}"
        parts.append(text)
    return "; ".join(parts)
