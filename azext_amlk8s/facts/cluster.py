# --------------------------------------------------------------------------------------------
# Copyright (c) amlk8s contributors. Licensed under the MIT License.
# --------------------------------------------------------------------------------------------
"""The target cluster: its reference (type, ids) and the facts the prerequisite checks need.

This module has two halves:

* the pure half (everything above the ``I/O`` marker at the end): ``normalize_cluster_type``,
  ``ClusterRef``, ``NodePool``, ``ClusterFacts`` and ``facts_from_bodies``, which turns raw ARM JSON
  bodies into a ``ClusterFacts`` value. It never raises on odd bodies: whatever cannot be read
  becomes ``None`` plus a human note in ``ClusterFacts.unknowns``.
* the I/O half (``gather_facts``), one read-only pass over ARM that fetches those bodies.

Nothing heavy is imported at module level (the standard library and the package's own ARM helpers); the
SDK pipeline is only touched when ``gather_facts`` runs.
"""

import math
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Dict, Optional, Tuple

from azext_amlk8s._text import shell_quote  # noqa: F401  (re-exported for the rules)
from azext_amlk8s._transport import arm_get, arm_list

from azext_amlk8s._constants import (  # noqa: F401  (several are re-exported for the rules)
    AKS_RP, ARC_RP, BUSY_STATES, WAIT_FLAG_FOR_STATE, CONNECTED, CONNECTED_CLUSTER_API, CONTAINER_SERVICE_API,
    DEFAULT_RELEASE_TRAIN, EXTENSION_TYPES_API,
    EXTENSIONS_API, EXTENSIONS_RP, MANAGED, ML_TRUSTED_ACCESS_ROLE, RESOURCES_API, SKUS_API)
from azext_amlk8s._constants import EXTENSION_TYPE as AZUREML_EXTENSION_TYPE

_TYPE_ALIASES = {
    "managedclusters": MANAGED,
    "aks": MANAGED,
    "connectedclusters": CONNECTED,
    "arc": CONNECTED,
}
# Resource-provider prefixes tolerated in front of the type ("Microsoft.ContainerService/managedClusters").
# The SDK attach sample in the docs spells Arc as "Microsoft.ContainerService/connectedClusters", so
# either namespace is accepted for either type: the last segment decides.
_TYPE_PREFIXES = ("microsoft.containerservice", "microsoft.kubernetes")

_MANAGED_IDENTITY_TYPES = ("SystemAssigned", "UserAssigned")
_INACTIVE_BINDING_STATES = ("failed", "deleting", "canceled")


def normalize_cluster_type(value):
    """Return ``managedClusters`` or ``connectedClusters`` for a user-given --cluster-type value.

    Case-insensitive; accepts the aliases ``aks`` and ``arc`` and the ``<namespace>/<type>`` form.
    """
    text = value.strip() if isinstance(value, str) else ""
    key = text.lower()
    if "/" in key:
        prefix, _, last = key.rpartition("/")
        key = last if prefix in _TYPE_PREFIXES else ""
    normalised = _TYPE_ALIASES.get(key)
    if normalised is None:
        from azure.cli.core.azclierror import InvalidArgumentValueError
        raise InvalidArgumentValueError(
            f"Invalid value {value!r} for --cluster-type: the AzureML extension can be deployed on AKS "
            "and Azure Arc-enabled Kubernetes clusters only.",
            recommendation="Use --cluster-type managedClusters (alias: aks) for an AKS cluster or "
                           "--cluster-type connectedClusters (alias: arc) for an Azure Arc-enabled cluster.")
    return normalised


@dataclass(frozen=True)
class ClusterRef:
    subscription_id: str
    resource_group: str
    cluster_name: str
    cluster_type: str

    def __post_init__(self):
        object.__setattr__(self, "cluster_type", normalize_cluster_type(self.cluster_type))

    @property
    def is_aks(self):
        return self.cluster_type == MANAGED

    @property
    def is_arc(self):
        return self.cluster_type == CONNECTED

    @property
    def cluster_rp(self):
        return AKS_RP if self.is_aks else ARC_RP

    @property
    def resource_id(self):
        return (f"/subscriptions/{self.subscription_id}/resourceGroups/{self.resource_group}"
                f"/providers/{self.cluster_rp}/{self.cluster_type}/{self.cluster_name}")

    def extension_id(self, name):
        return f"{self.resource_id}/providers/{EXTENSIONS_RP}/extensions/{name}"

    @property
    def display(self):
        kind = "AKS cluster" if self.is_aks else "Azure Arc-enabled cluster"
        return f"{kind} '{self.cluster_name}' in resource group '{self.resource_group}'"

    @property
    def cli_args(self):
        """``-g rg -c name -t type``: the arguments of ``az amlk8s`` / ``az k8s-extension`` commands."""
        return f"-g {shell_quote(self.resource_group)} -c {shell_quote(self.cluster_name)} -t {self.cluster_type}"

    @property
    def aks_args(self):
        """``-g rg -n name``: the arguments of ``az aks`` / ``az connectedk8s`` commands."""
        return f"-g {shell_quote(self.resource_group)} -n {shell_quote(self.cluster_name)}"

    @property
    def nodepool_args(self):
        """``-g rg --cluster-name name``: the arguments of ``az aks nodepool`` commands (plus ``-n pool``)."""
        return f"-g {shell_quote(self.resource_group)} --cluster-name {shell_quote(self.cluster_name)}"


@dataclass(frozen=True)
class NodePool:  # pylint: disable=too-many-instance-attributes
    name: str
    count: Optional[int] = None
    vm_size: Optional[str] = None
    os_type: Optional[str] = None
    mode: Optional[str] = None
    autoscaling: bool = False
    min_count: Optional[int] = None
    max_count: Optional[int] = None
    node_labels: Dict[str, str] = field(default_factory=dict)
    vcpus: Optional[float] = None
    memory_gb: Optional[float] = None
    arch: Optional[str] = None          # "x64" | "Arm64" (the SKU catalogue's spelling) | None
    gpus: Optional[int] = None
    power_state: Optional[str] = None
    node_taints: Tuple[str, ...] = ()     # "key=value:Effect", as in agentPoolProfiles[].nodeTaints

    @property
    def is_linux(self):
        """AKS defaults osType to Linux, so a pool without it counts as Linux."""
        return (self.os_type or "Linux").lower() == "linux"

    @property
    def is_arm64(self):
        return (self.arch or "").lower() == "arm64"

    @property
    def is_stopped(self):
        return (self.power_state or "").lower() == "stopped"

    @property
    def repels_pods(self):
        """True when a NoSchedule/NoExecute taint keeps pods without a matching toleration off the pool."""
        return any(t.rsplit(":", 1)[-1].strip().lower() in ("noschedule", "noexecute") for t in self.node_taints)

    @property
    def effective_labels(self):
        """The pool's ``nodeLabels`` plus the labels AKS puts on every node of the pool (when derivable)."""
        labels = {
            "agentpool": self.name,
            "kubernetes.azure.com/agentpool": self.name,
            "kubernetes.io/os": "linux" if self.is_linux else "windows",
            "beta.kubernetes.io/os": "linux" if self.is_linux else "windows",
        }
        if self.mode:
            labels["kubernetes.azure.com/mode"] = self.mode.lower()
        if self.vm_size:
            labels["node.kubernetes.io/instance-type"] = self.vm_size
            labels["beta.kubernetes.io/instance-type"] = self.vm_size
        if self.arch:
            arch = "arm64" if self.is_arm64 else "amd64"
            labels["kubernetes.io/arch"] = arch
            labels["beta.kubernetes.io/arch"] = arch
        labels.update(self.node_labels)
        return labels


@dataclass(frozen=True)
class ClusterFacts:  # pylint: disable=too-many-instance-attributes
    ref: ClusterRef
    location: Optional[str] = None
    provisioning_state: Optional[str] = None
    power_state: Optional[str] = None
    kubernetes_version: Optional[str] = None
    # AKS
    identity_type: Optional[str] = None
    local_accounts_disabled: Optional[bool] = None
    authorized_ip_ranges: Optional[Tuple[str, ...]] = None
    private_cluster: Optional[bool] = None
    pod_identity_enabled: Optional[bool] = None
    http_proxy: Optional[Dict[str, object]] = None      # httpProxyConfig: httpProxy, httpsProxy, noProxy (list)
    outbound_type: Optional[str] = None                 # networkProfile.outboundType
    node_resource_group: Optional[str] = None
    fqdn: Optional[str] = None
    private_fqdn: Optional[str] = None
    aad_managed: Optional[bool] = None                  # Microsoft Entra ID integration (aadProfile)
    node_pools: Optional[Tuple[NodePool, ...]] = None
    trusted_access_ml_bindings: Optional[Tuple[str, ...]] = None
    # Arc
    connectivity_status: Optional[str] = None
    distribution: Optional[str] = None
    infrastructure: Optional[str] = None
    agent_version: Optional[str] = None
    total_core_count: Optional[int] = None
    # both
    node_count: Optional[int] = None
    providers: Dict[str, Optional[str]] = field(default_factory=dict)
    extensions: Optional[Tuple[dict, ...]] = None
    ga_minor_versions: Optional[Tuple[str, ...]] = None
    # The AzureML extension's versions for a release train (extensionTypes versions API), when asked; None = unread.
    extension_versions: Optional[Tuple[str, ...]] = None
    extension_versions_train: Optional[str] = None
    cli_version: Optional[str] = None
    unknowns: Tuple[str, ...] = ()

    @property
    def is_openshift(self):
        return "openshift" in (self.distribution or "").lower()


# ----------------------------------------------------------------------------------------------
# Tolerant readers: JSON from ARM may miss fields, carry nulls or use unexpected types.
# ----------------------------------------------------------------------------------------------

def _dig(value, *path):
    """``value[p0][p1]...`` through dicts only; ``None`` as soon as a step is missing or not a dict."""
    for key in path:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def _text(value):
    """A non-empty stripped string, or ``None``."""
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None


def _number(value):
    """A finite float from an int, float or numeric string (bools refused), or ``None``."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return None
    else:
        return None
    if not math.isfinite(number):
        return None
    return number


def _count(value):
    """A non-negative integer count, or ``None``."""
    number = _number(value)
    if number is None or number < 0 or number != int(number):
        return None
    return int(number)


def _flag(value):
    """``True``/``False`` from a JSON bool or a "true"/"false" string, otherwise ``None``."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    return None


def _items(value):
    """The list from a LIST body: a list itself, or ``{"value": [...]}`` / ``{"values": [...]}``."""
    if isinstance(value, dict):
        value = value.get("value", value.get("values"))
    return value if isinstance(value, list) else None


def _location(value):
    text = _text(value)
    return text.lower().replace(" ", "") if text else None


def minor_version(version):
    """``"1.30"`` for ``"1.30.5"``, ``"v1.29.4+k3s1"``, ``"1.28.3-eks-1-28"``; ``None`` if unparseable."""
    text = _text(version)
    match = re.match(r"^v?(\d+)\.(\d+)", text) if text else None
    return f"{int(match.group(1))}.{int(match.group(2))}" if match else None


def minor_key(minor):
    """Sort key of a ``major.minor`` string."""
    major, _, rest = minor.partition(".")
    return int(major), int(rest)


# Azure's Arm64 (Ampere/Cobalt) sizes carry a "p" among the additive feature letters after the vCPU
# count: Standard_D4ps_v5, Standard_E8pds_v5, Standard_D2pls_v6, Standard_B2pts_v2. Only used when the
# SKU catalogue does not list the size.
_ARM64_SIZE = re.compile(r"^standard_[a-z]+\d+(?:-\d+)?[a-z]*p[a-z]*_v\d+$")


def _sku_index(skus):
    """``{lower-case size name: [sku, ...]}`` for the ``virtualMachines`` entries of a SKU catalogue body."""
    index = {}
    for sku in _items(skus) or []:
        if not isinstance(sku, dict) or _text(sku.get("resourceType")) is None:
            continue
        if sku["resourceType"].strip().lower() != "virtualmachines":
            continue
        name = _text(sku.get("name"))
        if name:
            index.setdefault(name.lower(), []).append(sku)
    return index


def _capabilities(sku):
    caps = {}
    raw = sku.get("capabilities")
    for cap in raw if isinstance(raw, list) else []:
        name = _text(_dig(cap, "name"))
        if name:
            caps[name.lower()] = _dig(cap, "value")
    return caps


def _sku_for(index, vm_size, location):
    candidates = index.get(vm_size.lower()) if vm_size else None
    if not candidates:
        return None
    for sku in candidates:
        locations = sku.get("locations") if isinstance(sku.get("locations"), list) else []
        if location and any(_location(loc) == location for loc in locations):
            return sku
    return candidates[0]


def _pool_from_profile(profile, index, location, notes):
    """One ``NodePool`` from an ``agentPoolProfiles`` entry; ``None`` if the entry is not an object."""
    if not isinstance(profile, dict):
        notes.append("an agentPoolProfiles entry is not an object")
        return None
    name = _text(profile.get("name")) or "<unnamed>"
    count = _count(profile.get("count"))
    if count is None:
        notes.append(f"node pool '{name}': node count unknown")
    labels = profile.get("nodeLabels") if isinstance(profile.get("nodeLabels"), dict) else {}
    labels = {str(k): str(v) for k, v in labels.items() if isinstance(k, str) and isinstance(v, (str, int, float))}
    taints = profile.get("nodeTaints") if isinstance(profile.get("nodeTaints"), list) else []
    vm_size = _text(profile.get("vmSize"))
    vcpus = memory_gb = arch = gpus = None
    if vm_size and index:
        sku = _sku_for(index, vm_size, location)
        if sku is not None:
            caps = _capabilities(sku)
            vcpus = _number(caps.get("vcpusavailable"))
            if vcpus is None:
                vcpus = _number(caps.get("vcpus"))
            memory_gb = _number(caps.get("memorygb"))
            arch = _text(caps.get("cpuarchitecturetype"))
            gpus = _count(caps.get("gpus")) if "gpus" in caps else 0
    if vm_size and arch is None and _ARM64_SIZE.match(vm_size.lower()):
        arch = "Arm64"
        notes.append(f"node pool '{name}': architecture of {vm_size} inferred from its name (Arm64)")
    if vm_size is None:
        notes.append(f"node pool '{name}': VM size unknown")
    elif vcpus is None or memory_gb is None:
        notes.append(f"node pool '{name}': vCPU/memory of {vm_size} unknown (not in the SKU catalogue)")
    return NodePool(
        name=name,
        count=count,
        vm_size=vm_size,
        os_type=_text(profile.get("osType")),
        mode=_text(profile.get("mode")),
        autoscaling=_flag(profile.get("enableAutoScaling")) is True,
        min_count=_count(profile.get("minCount")),
        max_count=_count(profile.get("maxCount")),
        node_labels=labels,
        vcpus=vcpus,
        memory_gb=memory_gb,
        arch=arch,
        gpus=gpus,
        power_state=_text(_dig(profile, "powerState", "code")),
        node_taints=tuple(t.strip() for t in taints if isinstance(t, str) and t.strip()),
    )


def _identity_type(cluster, notes):
    raw = _text(_dig(cluster, "identity", "type"))
    parts = {part.strip().lower() for part in raw.split(",")} if raw else set()
    if "userassigned" in parts:
        return "UserAssigned"
    if "systemassigned" in parts:
        return "SystemAssigned"
    client_id = _text(_dig(cluster, "properties", "servicePrincipalProfile", "clientId"))
    if client_id and client_id.lower() == "msi":
        # "msi" is the placeholder AKS puts in servicePrincipalProfile for managed-identity clusters.
        return "SystemAssigned"
    if client_id and parts <= {"none"}:
        return "ServicePrincipal"
    client_state = "set" if client_id else "missing"
    notes.append(f"cluster identity unknown (identity.type {raw!r}, servicePrincipalProfile.clientId {client_state})")
    return None


def _authorized_ranges(props, notes):
    if not isinstance(props, dict):
        return None
    profile = props.get("apiServerAccessProfile")
    if profile is None:
        return ()  # the service omits the profile (or sends null) when nothing is configured
    if not isinstance(profile, dict):
        notes.append("apiServerAccessProfile is not an object")
        return None
    ranges = profile.get("authorizedIPRanges", profile.get("authorizedIpRanges"))
    if ranges is None:
        return ()
    if not isinstance(ranges, list):
        notes.append("apiServerAccessProfile.authorizedIPRanges is not a list")
        return None
    return tuple(r.strip() for r in ranges if isinstance(r, str) and r.strip())


def _http_proxy(config):
    """The HTTP proxy of an AKS cluster (httpProxyConfig), or None when the cluster has none."""
    if not isinstance(config, dict):
        return None
    proxies = {key: _text(config.get(key)) for key in ("httpProxy", "httpsProxy")}
    if not any(proxies.values()):
        return None
    raw = config.get("noProxy")
    no_proxy = tuple(str(item).strip() for item in raw if str(item).strip()) if isinstance(raw, list) else ()
    return dict(proxies, noProxy=no_proxy)


def _private_cluster(props, notes):
    if not isinstance(props, dict):
        return None
    profile = props.get("apiServerAccessProfile")
    if profile is None:
        return False
    value = _dig(profile, "enablePrivateCluster")
    if value is None:
        return False if isinstance(profile, dict) else None
    flag = _flag(value)
    if flag is None:
        notes.append("apiServerAccessProfile.enablePrivateCluster is not a boolean")
    return flag


def _provider_states(providers, notes):
    states = {}
    if not isinstance(providers, dict):
        return states
    for namespace, body in providers.items():
        if not isinstance(namespace, str):
            continue
        state = _text(body) if isinstance(body, str) else _text(_dig(body, "registrationState"))
        if state is None:
            notes.append(f"registration state of {namespace} unknown")
        states[namespace] = state
    return states


def _extensions(extensions, notes):
    if extensions is None:
        notes.append("extensions on the cluster could not be listed")
        return None
    items = _items(extensions)
    if items is None:
        notes.append("extensions list body not understood")
        return None
    return tuple(item for item in items if isinstance(item, dict))


def _ga_minor_versions(body, notes):
    """Non-preview ``major.minor`` versions, oldest first, from ``kubernetesVersions`` or ``orchestrators``."""
    if body is None:
        notes.append("AKS Kubernetes versions of the location could not be read")
        return None
    minors = set()
    values = _items(body) if isinstance(body, dict) and "values" in body else None
    if values is not None:
        for entry in values:
            version = minor_version(_dig(entry, "version"))
            plans = _dig(entry, "capabilities", "supportPlan")
            lts_only = isinstance(plans, list) and plans and "KubernetesOfficial" not in plans
            if version and _flag(_dig(entry, "isPreview")) is not True and not lts_only:
                minors.add(version)
    else:
        orchestrators = _dig(body, "properties", "orchestrators")
        if orchestrators is None:
            orchestrators = _dig(body, "orchestrators")
        for entry in orchestrators if isinstance(orchestrators, list) else []:
            version = minor_version(_dig(entry, "orchestratorVersion"))
            kind = _text(_dig(entry, "orchestratorType")) or "Kubernetes"
            if version and kind.lower() == "kubernetes" and _flag(_dig(entry, "isPreview")) is not True:
                minors.add(version)
    if not minors:
        notes.append("AKS Kubernetes versions body not understood")
        return None
    return tuple(sorted(minors, key=minor_key))


def _ml_bindings(body, notes):
    """Names of Trusted Access role bindings that hold the AzureML ``mlworkload`` role."""
    if body is None:
        return None
    items = _items(body)
    if items is None:
        notes.append("Trusted Access role bindings body not understood")
        return None
    names = []
    for item in items:
        roles = _dig(item, "properties", "roles")
        state = (_text(_dig(item, "properties", "provisioningState")) or "").lower()
        if not isinstance(roles, list) or state in _INACTIVE_BINDING_STATES:
            continue
        if any(isinstance(r, str) and r.strip().lower() == ML_TRUSTED_ACCESS_ROLE.lower() for r in roles):
            names.append(_text(_dig(item, "name")) or "<unnamed>")
    return tuple(names)


def extension_type_versions(body):
    """The versions listed by the extensionTypes versions API (2023-05-01-preview and later: ``value[].properties.
    version``; 2022 previews: ``value[].versions``), newest first as the service lists them; None if not understood."""
    items = _items(body)
    if items is None:
        return None
    found = []
    for item in items:
        version = _text(_dig(item, "properties", "version"))
        if version:
            found.append(version)
        listed = _dig(item, "versions")
        if isinstance(listed, list):
            found.extend(v.strip() for v in listed if isinstance(v, str) and v.strip())
    return tuple(dict.fromkeys(found))


def facts_from_bodies(ref, cluster, *, extensions=None, providers=None, k8s_versions=None,
                      skus=None, trusted_access=None, cli_version=None, versions=None, versions_train=None):
    """Turn raw ARM JSON bodies into ``ClusterFacts``. Never raises on odd bodies.

    :param ref: the ``ClusterRef`` (trusted over whatever the body says).
    :param cluster: the cluster GET body (``managedClusters`` or ``connectedClusters``).
    :param extensions: the extensions LIST (list of resources, or a ``{"value": [...]}`` page); None = unread.
    :param providers: ``{namespace: provider GET body or None}``.
    :param k8s_versions: the ``kubernetesVersions`` body of the location (older ``orchestrators`` tolerated).
    :param skus: the compute SKU catalogue body (``{"value": [...]}``); only ``virtualMachines`` entries count.
    :param trusted_access: the ``trustedAccessRoleBindings`` LIST body (AKS); None = unread.
    :param cli_version: the running Azure CLI version.
    """
    notes = []
    if not isinstance(cluster, dict):
        notes.append("cluster resource body missing or not an object")
        cluster = {}
    if not isinstance(cluster.get("properties"), dict):
        notes.append("cluster properties missing")

    location = _location(cluster.get("location"))
    if location is None:
        notes.append("cluster location unknown")
    provisioning_state = _text(_dig(cluster, "properties", "provisioningState"))
    if provisioning_state is None:
        notes.append("cluster provisioningState unknown")

    if ref.is_aks:
        values = _aks_values(cluster, location, skus, trusted_access, notes)
    else:
        values = _arc_values(cluster, notes)
    if values.get("kubernetes_version") is None:
        notes.append("Kubernetes version unknown")

    return ClusterFacts(
        ref=ref,
        location=location,
        provisioning_state=provisioning_state,
        providers=_provider_states(providers, notes),
        extensions=_extensions(extensions, notes),
        ga_minor_versions=_ga_minor_versions(k8s_versions, notes),
        extension_versions=extension_type_versions(versions) if versions is not None else None,
        extension_versions_train=versions_train if versions is not None else None,
        cli_version=_text(cli_version),
        unknowns=tuple(notes),
        **values,
    )


def _aks_values(cluster, location, skus, trusted_access, notes):
    raw_props = cluster.get("properties")
    props = raw_props if isinstance(raw_props, dict) else {}
    index = _sku_index(skus)
    if skus is None:
        notes.append("VM size catalogue (SKUs) could not be read: node sizes unknown")
    profiles = props.get("agentPoolProfiles")
    pools = None
    if isinstance(profiles, list):
        pools = tuple(p for p in (_pool_from_profile(x, index, location, notes) for x in profiles) if p is not None)
    else:
        notes.append("node pools (agentPoolProfiles) unknown")
    node_count = None
    if pools is not None and all(p.count is not None for p in pools):
        node_count = sum(p.count for p in pools)
    # Absent means the API's default: local accounts enabled (ManagedClusterProperties.disableLocalAccounts).
    disabled = _flag(props.get("disableLocalAccounts")) if "disableLocalAccounts" in props or \
        not isinstance(raw_props, dict) else False
    if disabled is None:
        notes.append("whether local accounts are disabled is unknown")
    ranges = _authorized_ranges(raw_props, notes)
    private = _private_cluster(raw_props, notes)
    bindings = _ml_bindings(trusted_access, notes)
    if trusted_access is None and (disabled or ranges or private):
        notes.append("Trusted Access role bindings could not be read")
    return {
        "pod_identity_enabled": _flag(_dig(props, "podIdentityProfile", "enabled")) is True,
        "http_proxy": _http_proxy(props.get("httpProxyConfig")),
        "outbound_type": _text(_dig(props, "networkProfile", "outboundType")),
        "node_resource_group": _text(props.get("nodeResourceGroup")),
        "fqdn": _text(props.get("fqdn")),
        "private_fqdn": _text(props.get("privateFQDN")),
        "aad_managed": isinstance(props.get("aadProfile"), dict),
        "power_state": _text(_dig(props, "powerState", "code")),
        "kubernetes_version": _text(props.get("currentKubernetesVersion")) or _text(props.get("kubernetesVersion")),
        "identity_type": _identity_type(cluster, notes),
        "local_accounts_disabled": disabled,
        "authorized_ip_ranges": ranges,
        "private_cluster": private,
        "node_pools": pools,
        "trusted_access_ml_bindings": bindings,
        "node_count": node_count,
    }


def _arc_values(cluster, notes):
    props = cluster.get("properties") if isinstance(cluster.get("properties"), dict) else {}
    connectivity = _text(props.get("connectivityStatus"))
    if connectivity is None:
        notes.append("Arc connectivity status unknown")
    node_count = _count(props.get("totalNodeCount"))
    if node_count is None:
        notes.append("Arc node count (totalNodeCount) unknown")
    cores = _count(props.get("totalCoreCount"))
    if cores is None:
        notes.append("Arc core count (totalCoreCount) unknown")
    distribution = _text(props.get("distribution"))
    if distribution is None:
        notes.append("Arc distribution unknown")
    return {
        "kubernetes_version": _text(props.get("kubernetesVersion")),
        "connectivity_status": connectivity,
        "distribution": distribution,
        "infrastructure": _text(props.get("infrastructure")),
        "agent_version": _text(props.get("agentVersion")),
        "total_core_count": cores,
        "node_count": node_count,
    }


# ==============================================================================================
# I/O: one read-only pass over ARM. Nothing else in the package reads the cluster.
# ==============================================================================================

MAX_PARALLEL_READS = 6


RELAY_PROVIDER = "Microsoft.Relay"


def required_providers(ref, intent=None):
    """Resource providers the subscription must have registered for the extension on this cluster type.

    On Arc, deploy creates an Azure Relay (namespace, hybrid connection, rule) before the extension: that needs
    Microsoft.Relay too, unless the user brings their own relay (``intent.creates_relay`` False). Without an intent
    (gathering facts) every provider that may be needed is listed.
    """
    if ref.is_aks:
        return ("Microsoft.KubernetesConfiguration",)
    providers = ("Microsoft.KubernetesConfiguration", "Microsoft.Kubernetes", "Microsoft.ExtendedLocation")
    if intent is None or getattr(intent, "creates_relay", None) is not False:
        providers += (RELAY_PROVIDER,)
    return providers


def _cluster_api(ref):
    return CONTAINER_SERVICE_API if ref.is_aks else CONNECTED_CLUSTER_API


def get_cluster(client, ref) -> dict:
    """The cluster's ARM body; a missing cluster is a ResourceNotFoundError (exit code 3) saying what was looked for."""
    response = arm_get(client, ref.resource_id, _cluster_api(ref))
    if response.status == 404:
        raise cluster_not_found(client, ref)
    return response.body or {}


def cluster_not_found(client, ref):
    from azure.cli.core.azclierror import ResourceNotFoundError
    group = arm_get(client, f'/subscriptions/{ref.subscription_id}/resourcegroups/{ref.resource_group}',
                    RESOURCES_API)
    if group.status == 404:
        return ResourceNotFoundError(
            f"The resource group '{ref.resource_group}' was not found in subscription {ref.subscription_id}.",
            'Check --resource-group and the subscription (az account show); az group list -o table lists the '
            'resource groups.')
    other = ClusterRef(ref.subscription_id, ref.resource_group, ref.cluster_name,
                       CONNECTED if ref.is_aks else MANAGED)
    if arm_get(client, other.resource_id, _cluster_api(other)).status != 404:
        return ResourceNotFoundError(
            f"{_what(ref)} was not found, but resource group '{ref.resource_group}' has an "
            f"{'Azure Arc-enabled cluster' if other.is_arc else 'AKS cluster'} of that name.",
            f'Use --cluster-type {other.cluster_type}.')
    return ResourceNotFoundError(
        f'{_what(ref)} was not found ({ref.resource_id}).',
        f"Check --cluster-name, --resource-group and --cluster-type; az {'aks' if ref.is_aks else 'connectedk8s'} "
        f"list -g {shell_quote(ref.resource_group)} -o table lists the clusters of the group.")


def _what(ref):
    return (f"The {'AKS cluster' if ref.is_aks else 'Azure Arc-enabled cluster'} '{ref.cluster_name}' (type "
            f"{ref.cluster_rp}/{ref.cluster_type}) in resource group '{ref.resource_group}'")


def _needs_trusted_access(cluster: dict) -> bool:
    props = cluster.get('properties') if isinstance(cluster.get('properties'), dict) else {}
    access = props.get('apiServerAccessProfile') if isinstance(props.get('apiServerAccessProfile'), dict) else {}
    return bool(props.get('disableLocalAccounts') or access.get('authorizedIPRanges') or
                access.get('enablePrivateCluster'))


def _quiet(func, *args, **kwargs):
    """A read whose failure (403, 5xx after retries, ...) makes its facts unknown instead of stopping the checks."""
    from azure.core.exceptions import HttpResponseError
    try:
        return func(*args, **kwargs)
    except HttpResponseError:
        return None


def _sku_keeper(cluster):
    """A ``json.loads`` object_hook keeping, of the compute SKU catalogue, only the virtualMachines entries of the node
    pools' sizes: a region's catalogue is megabytes of JSON (every resource type and size); parsed whole it would hold
    tens of MB of Python objects. Entries are dropped as they are parsed, so they never all exist at once."""
    props = cluster.get('properties') if isinstance(cluster.get('properties'), dict) else {}
    profiles = props.get('agentPoolProfiles') if isinstance(props.get('agentPoolProfiles'), list) else []
    sizes = {str(p.get('vmSize') or '').lower() for p in profiles if isinstance(p, dict)}

    def keep(obj):
        kind = obj.get('resourceType')
        if kind is None or 'name' not in obj:
            return obj
        return obj if str(kind).lower() == 'virtualmachines' and str(obj['name']).lower() in sizes else None
    return keep


def _body(response):
    return None if response is None or response.status == 404 else response.body


def extensions_path(ref):
    return f"{ref.resource_id}/providers/Microsoft.KubernetesConfiguration/extensions"


def versions_path(ref):
    return f'{ref.resource_id}/providers/{EXTENSIONS_RP}/extensionTypes/{AZUREML_EXTENSION_TYPE.lower()}/versions'


def read_extension_versions(client, ref, release_train):
    """The AzureML extension's versions for ``release_train`` (ExtensionTypes_ClusterListVersions), or None when
    they cannot be read (the check then cannot run; it never blocks by itself)."""
    response = _quiet(arm_get, client, versions_path(ref), EXTENSION_TYPES_API,
                      {'releaseTrain': (release_train or DEFAULT_RELEASE_TRAIN).lower()})
    return _body(response)


def gather_facts(client, ref, *, full=True, cli_version=None, versions_train=None):
    """Read the cluster, then everything that depends on it, concurrently; return ``ClusterFacts``.

    The cluster GET goes first (it also fetches the token the concurrent reads then share); each other read is
    sent at most once, and only when a check needs it. ``versions_train``: also read the extension type's versions
    of that release train (to check a pinned --version).
    """
    cluster = get_cluster(client, ref)
    if not full:
        versions = read_extension_versions(client, ref, versions_train) if versions_train else None
        return facts_from_bodies(ref, cluster, cli_version=cli_version, versions=versions,
                                 versions_train=versions_train)
    location = str(cluster.get('location') or '').lower().replace(' ', '')
    sub = f'/subscriptions/{ref.subscription_id}'
    with ThreadPoolExecutor(max_workers=MAX_PARALLEL_READS) as pool:
        extensions = pool.submit(_quiet, arm_list, client, extensions_path(ref), EXTENSIONS_API)
        providers = {ns: pool.submit(_quiet, arm_get, client, f'{sub}/providers/{ns}', RESOURCES_API)
                     for ns in required_providers(ref)}
        versions = skus = trusted = None
        if location:
            versions = pool.submit(_quiet, arm_get, client,
                                   f'{sub}/providers/Microsoft.ContainerService/locations/{location}/'
                                   'kubernetesVersions',
                                   CONTAINER_SERVICE_API)
        if location and ref.is_aks:
            skus = pool.submit(_quiet, arm_get, client, f'{sub}/providers/Microsoft.Compute/skus', SKUS_API,
                               {'$filter': f"location eq '{location}'"}, object_hook=_sku_keeper(cluster))
        if ref.is_aks and _needs_trusted_access(cluster):
            trusted = pool.submit(_quiet, arm_get, client, f"{ref.resource_id}/trustedAccessRoleBindings",
                                  CONTAINER_SERVICE_API)
        ext_versions = pool.submit(read_extension_versions, client, ref, versions_train) if versions_train else None
        return facts_from_bodies(
            ref, cluster,
            extensions=extensions.result(),
            providers={ns: _body(future.result()) for ns, future in providers.items()},
            k8s_versions=_body(versions.result()) if versions else None,
            skus=_body(skus.result()) if skus else None,
            trusted_access=_body(trusted.result()) if trusted else None,
            versions=ext_versions.result() if ext_versions else None, versions_train=versions_train,
            cli_version=cli_version)


# ==============================================================================================
# The extension resource and its siblings (the other reads of the commands)
# ==============================================================================================

def is_azureml(extension) -> bool:
    props = (extension or {}).get('properties') or {}
    return str(props.get('extensionType') or '').lower() == AZUREML_EXTENSION_TYPE.lower()


def state_of(extension) -> str:
    """The extension's provisioningState in lower case ('' when absent)."""
    return str(((extension or {}).get('properties') or {}).get('provisioningState') or '').lower()


def read_extension(client, ref, name):
    """The extension's ARM body, or None when it does not exist."""
    response = arm_get(client, ref.extension_id(name), EXTENSIONS_API)
    return None if response.status == 404 else response.body


def azureml_extensions(client, ref):
    """The AzureML extensions on the cluster (every page of the list)."""
    return [item for item in arm_list(client, extensions_path(ref), EXTENSIONS_API) or [] if is_azureml(item)]


def extension_not_found(client, ref, name):
    """The error for a missing extension; a missing cluster (or group) gets its own message."""
    from azure.cli.core.azclierror import ResourceNotFoundError
    get_cluster(client, ref)
    return ResourceNotFoundError(
        f"The extension '{name}' was not found on {ref.display}.",
        f'List the AzureML extensions of the cluster with az amlk8s list {ref.cli_args}.')


def existing_azureml(client, ref, name, action, *, idle=True):
    """The extension, which must exist and be an AzureML one (amlk8s leaves other types to az k8s-extension); with
    ``idle``, refused while an operation runs on it."""
    from azure.cli.core.azclierror import InvalidArgumentValueError, ValidationError
    extension = read_extension(client, ref, name)
    if extension is None:
        raise extension_not_found(client, ref, name)
    if not is_azureml(extension):
        raise InvalidArgumentValueError(
            (f"The extension '{name}' on {ref.display} is of type "
             f"{(extension.get('properties') or {}).get('extensionType')}, not "
             f"{AZUREML_EXTENSION_TYPE}."),
            f'amlk8s manages only AzureML extensions: use az k8s-extension {action} for it.')
    state = state_of(extension)
    if idle and state in BUSY_STATES:
        raise ValidationError(
            f"The extension '{name}' is {state} right now; a new operation would fail with \"operation still in "
            "progress\".",
            f'Wait for it: az amlk8s wait {ref.cli_args} -n {shell_quote(name)} {WAIT_FLAG_FOR_STATE[state]}')
    return extension


def cluster_and_siblings(client, ref, name):
    """The cluster resource (None when it cannot be read) and the names of the other AzureML extensions on it, read
    concurrently: verify's verdict depends on both."""
    from azure.core.exceptions import HttpResponseError

    def cluster():
        try:
            response = arm_get(client, ref.resource_id, _cluster_api(ref))
        except HttpResponseError:
            return None
        return response.body if response.status != 404 else None

    def siblings():
        try:
            return [e.get('name') for e in azureml_extensions(client, ref)
                    if str(e.get('name') or '').lower() != name.lower()]
        except HttpResponseError:
            return []
    with ThreadPoolExecutor(max_workers=2) as pool:
        cluster_future, siblings_future = pool.submit(cluster), pool.submit(siblings)
        return cluster_future.result(), siblings_future.result()
