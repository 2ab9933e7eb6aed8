"""Worlds for the emulator, as data.

A world is a plain dict (see `build`): the subscription, resource bodies (resource groups, clusters,
trusted-access bindings, extensions with their protected settings, Azure Relay resources), provider
registration states, the VM SKU catalogue, Kubernetes versions per location, the extension version
catalogue, settings, outcome rules and faults. The emulator loads a world with `Emulator.reset(name)`.

The `default` world is a contract: other tests are written against its names (see the module
README in tests/emulator/__init__.py). Change names only together with those tests.
"""

import base64
import copy
import datetime
import hashlib
import hmac
import uuid

SUBSCRIPTION_ID = "0b1f6471-1bf0-4dda-aec3-111122223333"
TENANT_ID = "72f988bf-86f1-41af-91ab-2d7cd011db47"
SUBSCRIPTION_NAME = "amlk8s-emulator"
# The default world's second subscription (same tenant): a workspace and a cluster that live apart from rg-ml.
OTHER_SUBSCRIPTION_ID = "5c6e7f80-2a3b-4c5d-9e8f-444455556666"
OTHER_SUBSCRIPTION_NAME = "amlk8s-emulator-2"
# The application (client) id and object id of the managed identity az logs in with.
CLIENT_ID = "5a1c0c9e-5f4f-4d2e-9a59-0e1a2b3c4d5e"
OBJECT_ID = "9d2f4a7e-1c3b-4e5f-8a9b-0c1d2e3f4a5b"

AZUREML_TYPE = "Microsoft.AzureML.Kubernetes"
AZUREML_VERSIONS = ("1.1.64", "1.1.70", "1.1.71", "1.1.76", "1.1.83", "1.1.86", "1.1.88")
AZUREML_LATEST = "1.1.88"
EXTENSIONS_API_VERSION = "2023-05-01"

ML_ROLE = "Microsoft.MachineLearningServices/workspaces/mlworkload"
LOCATIONS = ("eastus", "eastus2", "westus2", "westeurope", "northeurope")

DEFAULT_SETTINGS = {
    "polls": 2,              # InProgress answers per extension/relay/RG operation before it completes
    "retry_after": None,     # value of a Retry-After header on LRO answers; None = no header
    "retry_after_ms": None,  # value of an x-ms-retry-after-ms header; None = no header
    "page_size": 2,          # extensions per LIST page (nextLink paging)
    "delay": 0.0,            # seconds added before every ARM answer (the `slow` scenario)
    "register_polls": 0,     # provider GETs answering Registering after a register POST
    "complete_after": None,  # seconds: operations end this long after they start, whatever the polls; None = by polls
    # ARM throttling (throttle.py; Microsoft Learn "Understand how Azure Resource Manager throttles requests",
    # the 2024 token-bucket model): bucket sizes and refill rates per second, per subscription and principal.
    "throttle": True,
    "throttle_reads": 250,
    "throttle_reads_refill": 25.0,
    "throttle_writes": 200,
    "throttle_writes_refill": 10.0,
    "throttle_deletes": 200,
    "throttle_deletes_refill": 10.0,
    # Azure Resource Graph (graph.py): rows per page without options.$top, and the per-user query quota
    # ("Guidance for throttled requests in Azure Resource Graph": about 15 queries per 5-second window).
    "graph_page_size": 1000,
    "graph_quota": 15,
    "graph_quota_window": 5.0,
}

_NS = uuid.UUID("7a3cbc44-61c8-4b59-9b8e-2a1d2e0c0f11")
_FIXED_TIME = "2025-06-02T08:15:42.1234567Z"


def world_subscriptions(spec):
    """The subscriptions of a world spec, the default one first: `subscriptions` (a list of {"id", "name",
    "tenant_id"}), with the older single `subscription` key put first when it is not already in the list."""
    subs = [dict(s) for s in spec.get("subscriptions") or []]
    single = spec.get("subscription")
    if single and not any(s["id"].lower() == single["id"].lower() for s in subs):
        subs.insert(0, dict(single))
    if not subs:
        raise ValueError("a world needs `subscription` or `subscriptions`")
    return subs


def guid(*parts):
    """A stable GUID derived from `parts`."""
    return str(uuid.uuid5(_NS, "/".join(str(p) for p in parts)))


def iso(when=None):
    when = when or datetime.datetime.now(datetime.timezone.utc)
    return when.strftime("%Y-%m-%dT%H:%M:%S.%f") + "Z"


def _ago(**delta):
    return iso(datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(**delta))


def _ahead(**delta):
    return iso(datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(**delta))


def relay_key(seed, rule_id, which):
    """A 44-character base64 SAS key, random per emulator instance (seed) and stable across resets."""
    digest = hmac.new(seed, f"{rule_id.lower()}|{which}".encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def relay_connection_string(namespace, rule, key, hybrid_connection):
    return (f"Endpoint=sb://{namespace}.servicebus.windows.net/;SharedAccessKeyName={rule};"
            f"SharedAccessKey={key};EntityPath={hybrid_connection}")


def system_data(created=_FIXED_TIME, by=CLIENT_ID, by_type="Application"):
    return {"createdBy": by, "createdByType": by_type, "createdAt": created,
            "lastModifiedBy": by, "lastModifiedByType": by_type, "lastModifiedAt": created}


def rg_id(rg, sub=SUBSCRIPTION_ID):
    return f"/subscriptions/{sub}/resourceGroups/{rg}"


def aks_id(rg, name, sub=SUBSCRIPTION_ID):
    return f"{rg_id(rg, sub)}/providers/Microsoft.ContainerService/managedClusters/{name}"


def arc_id(rg, name, sub=SUBSCRIPTION_ID):
    return f"{rg_id(rg, sub)}/providers/Microsoft.Kubernetes/connectedClusters/{name}"


def extension_id(cluster_id, name):
    return f"{cluster_id}/providers/Microsoft.KubernetesConfiguration/extensions/{name}"


# ---------------------------------------------------------------------------------------------
# Resource groups
# ---------------------------------------------------------------------------------------------

def resource_group(name, location, tags=None, sub=SUBSCRIPTION_ID):
    body = {"id": rg_id(name, sub), "name": name, "type": "Microsoft.Resources/resourceGroups",
            "location": location, "properties": {"provisioningState": "Succeeded"}}
    if tags:
        body["tags"] = dict(tags)
    return body


# ---------------------------------------------------------------------------------------------
# AKS (Microsoft.ContainerService/managedClusters, shaped like api-version 2026-06-01)
# ---------------------------------------------------------------------------------------------

_IMAGE_X64 = "AKSUbuntu-2204gen2containerd-202506.02.0"
_IMAGE_ARM64 = "AKSUbuntu-2204gen2arm64containerd-202506.02.0"


def pool(name, count, vm_size, mode="System", autoscale=None, os_sku="Ubuntu", max_pods=250, labels=None,
         taints=None, zones=None, arm64=False):
    """An agent pool profile (without orchestratorVersion, filled in by aks_cluster)."""
    profile = {
        "name": name,
        "count": count,
        "vmSize": vm_size,
        "osDiskSizeGB": 128,
        "osDiskType": "Managed",
        "kubeletDiskType": "OS",
        "maxPods": max_pods,
        "type": "VirtualMachineScaleSets",
        "enableAutoScaling": bool(autoscale),
        "scaleDownMode": "Delete",
        "provisioningState": "Succeeded",
        "powerState": {"code": "Running"},
        "enableNodePublicIP": False,
        "mode": mode,
        "enableEncryptionAtHost": False,
        "enableUltraSSD": False,
        "osType": "Linux",
        "osSKU": os_sku,
        "nodeImageVersion": _IMAGE_ARM64 if arm64 else _IMAGE_X64,
        "upgradeSettings": {"maxSurge": "10%", "maxUnavailable": "0"},
        "enableFIPS": False,
        "securityProfile": {"enableVTPM": False, "enableSecureBoot": False},
        "eTag": guid("pool-etag", name, vm_size, count),
    }
    if autoscale:
        profile["minCount"], profile["maxCount"] = autoscale
    if labels:
        profile["nodeLabels"] = dict(labels)
    if taints:
        profile["nodeTaints"] = list(taints)
    if zones:
        profile["availabilityZones"] = list(zones)
    return profile


def aks_cluster(name, rg="rg-ml", location="eastus", pools=None, k8s="1.31.5", identity="SystemAssigned",
                disable_local_accounts=False, authorized_ip_ranges=None, provisioning_state="Succeeded",
                power_state="Running", aad=None, tags=None, sub=SUBSCRIPTION_ID, tenant=TENANT_ID,
                pod_identity=False, http_proxy=None, outbound_type="loadBalancer", private=False):
    """A realistic managed cluster body. identity: SystemAssigned | UserAssigned | None (service principal).

    disable_local_accounts=None leaves the property out, as bodies of clusters created before it existed do (the
    API's default then applies: local accounts enabled). pod_identity: podIdentityProfile.enabled (Microsoft Entra
    pod identity, preview). http_proxy: an httpProxyConfig object (the AKS HTTP proxy feature). outbound_type:
    networkProfile.outboundType (loadBalancer, userDefinedRouting, managedNATGateway, userAssignedNATGateway, none,
    block). private: apiServerAccessProfile.enablePrivateCluster with a privateFQDN.
    """
    cid = aks_id(rg, name, sub)
    node_rg = f"MC_{rg}_{name}_{location}"
    dns_prefix = f"{name}-{rg}-{sub[:6]}"
    suffix = hashlib.sha1(cid.lower().encode()).hexdigest()[:8]
    pools = copy.deepcopy(pools or [pool("nodepool1", 3, "Standard_D4s_v3")])
    for profile in pools:
        profile["orchestratorVersion"] = k8s
        profile["currentOrchestratorVersion"] = k8s
    properties = {
        "provisioningState": provisioning_state,
        "powerState": {"code": power_state},
        "kubernetesVersion": k8s,
        "currentKubernetesVersion": k8s,
        "dnsPrefix": dns_prefix,
        "fqdn": f"{dns_prefix}-{suffix}.hcp.{location}.azmk8s.io",
        "azurePortalFQDN": f"{dns_prefix}-{suffix}.portal.hcp.{location}.azmk8s.io",
        "agentPoolProfiles": pools,
        "servicePrincipalProfile": {"clientId": "msi"},
        "addonProfiles": {
            "azureKeyvaultSecretsProvider": {"enabled": False, "config": None},
            "azurepolicy": {"enabled": False, "config": None},
        },
        "nodeResourceGroup": node_rg,
        "enableRBAC": True,
        "supportPlan": "KubernetesOfficial",
        "networkProfile": {
            "networkPlugin": "azure",
            "networkPluginMode": "overlay",
            "networkPolicy": "none",
            "networkDataplane": "azure",
            "loadBalancerSku": "standard",
            "loadBalancerProfile": {
                "managedOutboundIPs": {"count": 1},
                "effectiveOutboundIPs": [{"id": f"/subscriptions/{sub}/resourceGroups/{node_rg}/providers/"
                                                f"Microsoft.Network/publicIPAddresses/{guid('pip', cid)}"}],
                "backendPoolType": "nodeIPConfiguration",
            },
            "podCidr": "10.244.0.0/16",
            "serviceCidr": "10.0.0.0/16",
            "dnsServiceIP": "10.0.0.10",
            "outboundType": outbound_type,
            "podCidrs": ["10.244.0.0/16"],
            "serviceCidrs": ["10.0.0.0/16"],
            "ipFamilies": ["IPv4"],
        },
        "maxAgentPools": 100,
        "apiServerAccessProfile": {"enablePrivateCluster": False},
        "autoUpgradeProfile": {"upgradeChannel": "none", "nodeOSUpgradeChannel": "NodeImage"},
        "disableLocalAccounts": bool(disable_local_accounts),
        "securityProfile": {"imageCleaner": {"enabled": True, "intervalHours": 168}},
        "storageProfile": {"diskCSIDriver": {"enabled": True, "version": "v1"}, "fileCSIDriver": {"enabled": True},
                           "snapshotController": {"enabled": True}},
        "oidcIssuerProfile": {"enabled": False},
        "workloadAutoScalerProfile": {},
        "metricsProfile": {"costAnalysis": {"enabled": False}},
        "nodeProvisioningProfile": {"mode": "Manual", "defaultNodePools": "Auto"},
        "bootstrapProfile": {"artifactSource": "Direct"},
        "resourceUID": hashlib.sha1(("uid" + cid.lower()).encode()).hexdigest()[:24],
    }
    if authorized_ip_ranges:
        properties["apiServerAccessProfile"]["authorizedIPRanges"] = list(authorized_ip_ranges)
    if disable_local_accounts is None:
        del properties["disableLocalAccounts"]
    if pod_identity:
        properties["podIdentityProfile"] = {
            "enabled": True, "allowNetworkPluginKubenet": False,
            "userAssignedIdentities": [{"name": "pod-id", "namespace": "default", "provisioningState": "Assigned",
                                        "identity": {"resourceId": f"/subscriptions/{sub}/resourceGroups/{rg}/"
                                                                   "providers/Microsoft.ManagedIdentity/"
                                                                   "userAssignedIdentities/pod-id",
                                                     "clientId": guid("podid-client", cid),
                                                     "objectId": guid("podid-object", cid)}}]}
    if http_proxy:
        properties["httpProxyConfig"] = copy.deepcopy(http_proxy)
    if private:
        properties["apiServerAccessProfile"]["enablePrivateCluster"] = True
        properties["apiServerAccessProfile"]["privateDNSZone"] = "system"
        properties["privateFQDN"] = f"{dns_prefix}-{suffix}.{guid('pdns', cid)}.privatelink.{location}.azmk8s.io"
        properties.pop("fqdn", None)
    if aad is None:
        aad = bool(disable_local_accounts)
    if aad:
        properties["aadProfile"] = {"managed": True, "enableAzureRBAC": True, "tenantID": tenant}
    body = {"id": cid, "location": location, "name": name, "type": "Microsoft.ContainerService/ManagedClusters",
            "kind": "Base", "sku": {"name": "Base", "tier": "Free"}, "properties": properties}
    if tags:
        body["tags"] = dict(tags)
    if identity is None:
        properties["servicePrincipalProfile"] = {"clientId": guid("sp", cid)}
    else:
        properties["identityProfile"] = {"kubeletidentity": {
            "resourceId": f"/subscriptions/{sub}/resourcegroups/{node_rg}/providers/"
                          f"Microsoft.ManagedIdentity/userAssignedIdentities/{name}-agentpool",
            "clientId": guid("kubelet-client", cid),
            "objectId": guid("kubelet-object", cid),
        }}
        if identity == "SystemAssigned":
            body["identity"] = {"principalId": guid("principal", cid), "tenantId": tenant, "type": "SystemAssigned"}
        else:
            uami = (f"/subscriptions/{sub}/resourcegroups/{rg}/providers/"
                    f"Microsoft.ManagedIdentity/userAssignedIdentities/{name}-identity")
            body["identity"] = {"type": "UserAssigned", "userAssignedIdentities": {
                uami: {"principalId": guid("uami-principal", cid), "clientId": guid("uami-client", cid)}}}
    return body


def trusted_access_binding(cluster_id, name, workspace_id, roles=(ML_ROLE,)):
    return {"id": f"{cluster_id}/trustedAccessRoleBindings/{name}", "name": name,
            "type": "Microsoft.ContainerService/managedClusters/trustedAccessRoleBindings",
            "systemData": system_data(),
            "properties": {"sourceResourceId": workspace_id, "roles": list(roles), "provisioningState": "Succeeded"}}


# ---------------------------------------------------------------------------------------------
# Azure Arc (Microsoft.Kubernetes/connectedClusters)
# ---------------------------------------------------------------------------------------------

def arc_cluster(name, rg="rg-arc", location="westeurope", distribution="generic", infrastructure="generic",
                nodes=3, cores=24, k8s="1.31.2", agent="1.21.10", connectivity="Connected", last_seen=None,
                offering=None, sub=SUBSCRIPTION_ID, tenant=TENANT_ID):
    cid = arc_id(rg, name, sub)
    seen = last_seen or _ago(minutes=3)
    cert_expiry = _ago(days=10) if connectivity == "Expired" else _ahead(days=80)
    pubkey = base64.b64encode(b"0\x82\x02\n\x02\x82\x02\x01\x00" + hashlib.sha512(cid.encode()).digest() * 8)
    return {
        "id": cid, "name": name, "type": "Microsoft.Kubernetes/connectedClusters", "location": location,
        "tags": {},
        "identity": {"principalId": guid("principal", cid), "tenantId": tenant, "type": "SystemAssigned"},
        "systemData": system_data(by="admin@contoso.com", by_type="User"),
        "properties": {
            "agentPublicKeyCertificate": pubkey.decode(),
            "kubernetesVersion": k8s,
            "totalNodeCount": nodes,
            "totalCoreCount": cores,
            "agentVersion": agent,
            "provisioningState": "Succeeded",
            "distribution": distribution,
            "distributionVersion": None,
            "infrastructure": infrastructure,
            "offering": offering,
            "managedIdentityCertificateExpirationTime": cert_expiry,
            "lastConnectivityTime": seen,
            "connectivityStatus": connectivity,
            "privateLinkState": "Disabled",
            "privateLinkScopeResourceId": None,
            "azureHybridBenefit": "NotApplicable",
            "miscellaneousProperties": {},
            "arcAgentProfile": {"desiredAgentVersion": None, "agentAutoUpgrade": "Enabled", "agentErrors": [],
                                "agentState": "Succeeded", "systemComponents": None},
            "securityProfile": {"workloadIdentity": {"enabled": False}},
            "oidcIssuerProfile": {"enabled": False, "issuerUrl": None, "selfHostedIssuerUrl": None},
            "gateway": {"enabled": False},
            "aadProfile": {"enableAzureRBAC": False, "adminGroupObjectIDs": None, "tenantID": None},
        },
    }


# ---------------------------------------------------------------------------------------------
# Extensions (Microsoft.KubernetesConfiguration/extensions, api-version 2023-05-01)
# ---------------------------------------------------------------------------------------------

def extension(cluster_id, name, extension_type, version, settings=None, protected=None, state="Succeeded",
              release_train="Stable", auto_upgrade=True, namespace=None, statuses=None, error=None,
              identity=None, created=_FIXED_TIME, tenant=TENANT_ID):
    """A stored extension body, including configurationProtectedSettings (never returned over HTTP).

    `version` is the installed version (currentVersion); it is also the pinned `version` only when
    auto_upgrade is False, as the service reports it since api-version 2023-05-01.
    """
    eid = extension_id(cluster_id, name)
    is_aks = "/microsoft.containerservice/" in cluster_id.lower()
    properties = {
        "extensionType": extension_type,
        "autoUpgradeMinorVersion": auto_upgrade,
        "releaseTrain": release_train,
        # `version` is the user's pin (null when auto-upgrading); currentVersion is what is installed.
        "version": None if auto_upgrade else version,
        "currentVersion": version if state == "Succeeded" else None,
        "scope": {"cluster": {"releaseNamespace": namespace or name}},
        "configurationSettings": dict(settings or {}),
        "configurationProtectedSettings": dict(protected or {}),
        "provisioningState": state,
        "statuses": list(statuses or []),
        "customLocationSettings": None,
        "packageUri": None,
        "isSystemExtension": False,
    }
    if error:
        properties["errorInfo"] = dict(error)
    if is_aks:
        properties["aksAssignedIdentity"] = {"principalId": guid("ext-principal", eid), "tenantId": tenant,
                                             "type": "SystemAssigned"}
    body = {"id": eid, "name": name, "type": "Microsoft.KubernetesConfiguration/extensions",
            "systemData": system_data(created), "properties": properties}
    if identity is None and not is_aks:
        identity = "SystemAssigned"
    if identity:
        body["identity"] = {"type": identity, "principalId": guid("ext-principal", eid), "tenantId": tenant}
    return body


def azureml_settings(cluster_id, cluster_name, location, cluster_type, nodes=3, distribution=None, **user):
    """The configurationSettings `az k8s-extension create` (1.7.0) sends for these user settings."""
    settings = dict(user)
    if nodes < 3:
        settings.setdefault("clusterPurpose", "DevTest")
        settings.setdefault("inferenceRouterHA", "false")
    if (distribution or "").lower() == "openshift":
        settings["openshift"] = "true"
    if str(settings.get("enableInference", "")).lower() == "true" and \
            str(settings.get("inferenceRouterServiceType", "")).lower() == "nodeport":
        settings["scoringFe.serviceType.nodePort"] = "True"
    settings.setdefault("enableTraining", "False")
    settings.setdefault("enableInference", "False")
    settings.setdefault("cluster_name", cluster_id)
    settings["domain"] = f"{location}.cloudapp.azure.com"
    settings.setdefault("location", location)
    settings.setdefault("jobSchedulerLocation", location)
    settings.setdefault("cluster_name_friendly", cluster_name)
    settings.setdefault("servicebus.enabled", "false")
    aks = cluster_type == "managedClusters"
    settings.setdefault("relayserver.enabled", "false" if aks else "true")
    settings.setdefault("nginxIngress.enabled", "true" if aks else "false")
    settings.setdefault("clusterId", settings["cluster_name"])
    settings.setdefault("prometheus.prometheusSpec.externalLabels.cluster_name", settings["cluster_name"])
    return settings


def _status(code, display, level, message, when=_FIXED_TIME):
    return {"code": code, "displayStatus": display, "level": level, "message": message, "time": when}


HEALTHCHECK_FAILURE = (
    "Error: {failed to install chart from path [] for release [azureml]: err [pre-install hook failed: "
    "job failed: BackoffLimitExceeded]} occurred while doing the operation : {Installing} on the config, "
    "For general troubleshooting visit: https://aka.ms/k8s-extensions-TSG, For more application specific "
    "troubleshooting visit: https://aka.ms/arcmltsg ; pre-install: HealthCheck failed: E40002 "
    "INSUFFICIENT_NODE: the cluster does not have enough schedulable nodes with the requested resources "
    "(found 1 ready node, 3 are needed when inferenceRouterHA is true); add nodes or set inferenceRouterHA=false")


def chart_not_found_message(version, extension_type, release_train="stable"):
    return (f"Error: {{Failed in download the Chart path not found : Recommendation Please check if the version "
            f"{version} is valid for the extension type {extension_type} in release train {release_train} "
            "and retry the operation}} occurred while doing the operation : {Installing} on the config, For "
            "general troubleshooting visit: https://aka.ms/k8s-extensions-TSG")


# ---------------------------------------------------------------------------------------------
# Azure Relay (Microsoft.Relay)
# ---------------------------------------------------------------------------------------------

def relay_namespace(rg, name, location, tags=None, sub=SUBSCRIPTION_ID, state="Succeeded"):
    return {"id": f"{rg_id(rg, sub)}/providers/Microsoft.Relay/namespaces/{name}", "name": name,
            "type": "Microsoft.Relay/Namespaces", "location": location, "tags": dict(tags or {}),
            "sku": {"name": "Standard", "tier": "Standard"},
            "properties": {"provisioningState": state, "status": "Active" if state == "Succeeded" else "Activating",
                           "createdAt": _FIXED_TIME, "updatedAt": _FIXED_TIME,
                           "serviceBusEndpoint": f"https://{name}.servicebus.windows.net:443/",
                           "metricId": f"{sub}:{name}", "publicNetworkAccess": "Enabled"}}


def hybrid_connection(namespace_id, name, location, requires_client_authorization=True):
    return {"id": f"{namespace_id}/hybridConnections/{name}", "name": name,
            "type": "Microsoft.Relay/Namespaces/HybridConnections", "location": location,
            "properties": {"createdAt": _FIXED_TIME, "updatedAt": _FIXED_TIME, "listenerCount": 0,
                           "requiresClientAuthorization": requires_client_authorization}}


def authorization_rule(parent_id, name, rights=("Manage", "Send", "Listen"), location=None):
    body = {"id": f"{parent_id}/authorizationRules/{name}", "name": name,
            "type": "Microsoft.Relay/Namespaces/HybridConnections/AuthorizationRules",
            "properties": {"rights": list(rights)}}
    if location:
        body["location"] = location
    return body


def k8s_extension_relay_name(cluster_name, rg, sub=SUBSCRIPTION_ID):
    """The namespace name `az k8s-extension` derives: alphanumerics of <cluster>-<sub>-<rg>-relay, max 50."""
    raw = f"{cluster_name}-{sub}-{rg}-relay"
    normalized = "".join(ch for ch in raw if ch.isalnum())
    if len(normalized) <= 50:
        return normalized
    return normalized[:44] + hashlib.md5(raw.encode("utf8")).hexdigest()[:6]


# ---------------------------------------------------------------------------------------------
# Catalogues: VM SKUs and Kubernetes versions
# ---------------------------------------------------------------------------------------------

# name, family, vCPUs, memory GB, architecture, GPUs, max data disks, premium IO, locations (None = all)
_VM_SIZES = (
    ("Standard_B2s", "standardBSFamily", 2, 4, "x64", 0, 4, True, None),
    ("Standard_B4ms", "standardBSFamily", 4, 16, "x64", 0, 8, True, None),
    ("Standard_DS2_v2", "standardDSv2Family", 2, 7, "x64", 0, 8, True, None),
    ("Standard_DS3_v2", "standardDSv2Family", 4, 14, "x64", 0, 16, True, None),
    ("Standard_DS4_v2", "standardDSv2Family", 8, 28, "x64", 0, 32, True, None),
    ("Standard_D2s_v3", "standardDSv3Family", 2, 8, "x64", 0, 4, True, None),
    ("Standard_D4s_v3", "standardDSv3Family", 4, 16, "x64", 0, 8, True, None),
    ("Standard_D8s_v3", "standardDSv3Family", 8, 32, "x64", 0, 16, True, None),
    ("Standard_D16s_v3", "standardDSv3Family", 16, 64, "x64", 0, 32, True, None),
    ("Standard_D4s_v5", "standardDSv5Family", 4, 16, "x64", 0, 8, True, None),
    ("Standard_D4ps_v5", "standardDPSv5Family", 4, 16, "Arm64", 0, 8, True, None),
    ("Standard_E4s_v3", "standardESv3Family", 4, 32, "x64", 0, 8, True, None),
    ("Standard_F4s_v2", "standardFSv2Family", 4, 8, "x64", 0, 8, True, None),
    ("Standard_NC6s_v3", "standardNCSv3Family", 6, 112, "x64", 1, 12, True, ("eastus", "westus2", "westeurope")),
    ("Standard_NC24ads_A100_v4", "StandardNCADSA100v4Family", 24, 220, "x64", 1, 8, True, ("eastus", "westeurope")),
)


def _vm_sku(name, family, vcpus, memory, arch, gpus, disks, premium, location):
    caps = [
        ("MaxResourceVolumeMB", str(vcpus * 8192)),
        ("OSVhdSizeMB", "1047552"),
        ("vCPUs", str(vcpus)),
        ("MemoryPreservingMaintenanceSupported", "True"),
        ("HyperVGenerations", "V2" if arch == "Arm64" else "V1,V2"),
        ("MemoryGB", str(memory)),
        ("MaxDataDiskCount", str(disks)),
        ("CpuArchitectureType", arch),
        ("LowPriorityCapable", "True"),
        ("PremiumIO", str(premium)),
        ("VMDeploymentTypes", "IaaS"),
        ("vCPUsAvailable", str(vcpus)),
        ("ACUs", "160"),
        ("vCPUsPerCore", "1" if arch == "Arm64" else "2"),
        ("EphemeralOSDiskSupported", "True"),
        ("EncryptionAtHostSupported", "True"),
        ("AcceleratedNetworkingEnabled", "True"),
        ("RdmaEnabled", "False"),
        ("MaxNetworkInterfaces", str(min(8, max(2, vcpus // 2)))),
    ]
    if gpus:
        caps.append(("GPUs", str(gpus)))
    return {
        "resourceType": "virtualMachines",
        "name": name,
        "tier": "Standard",
        "size": name[len("Standard_"):],
        "family": family,
        "locations": [location],
        "locationInfo": [{"location": location, "zones": ["1", "2", "3"], "zoneDetails": []}],
        "capabilities": [{"name": key, "value": value} for key, value in caps],
        "restrictions": [],
    }


def sku_catalogue(locations=LOCATIONS):
    skus = []
    for location in locations:
        for name, family, vcpus, memory, arch, gpus, disks, premium, where in _VM_SIZES:
            if where is None or location in where:
                skus.append(_vm_sku(name, family, vcpus, memory, arch, gpus, disks, premium, location))
        skus.append({"resourceType": "disks", "name": "Premium_LRS", "tier": "Premium", "size": "P1",
                     "family": "PremiumSSD", "locations": [location],
                     "locationInfo": [{"location": location, "zones": ["1", "2", "3"], "zoneDetails": []}],
                     "capabilities": [{"name": "MaxSizeGiB", "value": "4"}], "restrictions": []})
    return skus


_K8S_MINORS = (
    # minor, patches, preview, default, support plans
    ("1.30", ("1.30.11", "1.30.12"), False, False, ["KubernetesOfficial", "AKSLongTermSupport"]),
    ("1.31", ("1.31.5", "1.31.7", "1.31.8"), False, True, ["KubernetesOfficial", "AKSLongTermSupport"]),
    ("1.32", ("1.32.3", "1.32.4"), False, False, ["KubernetesOfficial", "AKSLongTermSupport"]),
    ("1.33", ("1.33.0",), True, False, ["KubernetesOfficial"]),
)


def kubernetes_versions():
    """The `values` list of GET .../locations/{loc}/kubernetesVersions."""
    everything = [p for _, patches, _, _, _ in _K8S_MINORS for p in patches]

    def upgrades(version):
        major_minor = tuple(int(x) for x in version.split(".")[:2])
        return [p for p in everything
                if tuple(int(x) for x in p.split(".")) > tuple(int(x) for x in version.split("."))
                and tuple(int(x) for x in p.split(".")[:2]) <= (major_minor[0], major_minor[1] + 1)]

    values = []
    for minor, patches, preview, default, plans in _K8S_MINORS:
        entry = {"version": minor, "capabilities": {"supportPlan": list(plans)},
                 "patchVersions": {p: {"upgrades": upgrades(p)} for p in patches}}
        if preview:
            entry["isPreview"] = True
        if default:
            entry["isDefault"] = True
        values.append(entry)
    return values


# ---------------------------------------------------------------------------------------------
# Providers
# ---------------------------------------------------------------------------------------------

PROVIDER_TYPES = {
    "Microsoft.ContainerService": [("managedClusters", ["2026-06-01", "2025-10-01", "2024-09-01"]),
                                   ("managedClusters/agentPools", ["2026-06-01", "2025-10-01"]),
                                   ("managedClusters/trustedAccessRoleBindings", ["2026-06-01", "2025-10-01"]),
                                   ("locations/kubernetesVersions", ["2026-06-01", "2025-10-01"]),
                                   ("fleets", ["2026-06-01", "2025-03-01"])],
    "Microsoft.Kubernetes": [("connectedClusters", ["2024-12-01-preview", "2024-01-01", "2021-10-01"]),
                             ("locations", ["2024-01-01"]), ("operations", ["2024-01-01"])],
    "Microsoft.KubernetesConfiguration": [("extensions", ["2024-11-01", "2023-05-01", "2022-11-01"]),
                                          ("fluxConfigurations", ["2024-11-01", "2023-05-01"]),
                                          ("extensionTypes", ["2024-11-01-preview", "2023-05-01-preview"]),
                                          ("operations", ["2024-11-01", "2023-05-01"])],
    "Microsoft.ExtendedLocation": [("customLocations", ["2021-08-15", "2021-08-31-preview"]),
                                   ("customLocations/enabledResourceTypes", ["2021-08-15"])],
    "Microsoft.Relay": [("namespaces", ["2026-01-01", "2021-11-01", "2017-04-01"]),
                        ("namespaces/hybridConnections", ["2026-01-01", "2021-11-01", "2017-04-01"]),
                        ("namespaces/hybridConnections/authorizationRules", ["2026-01-01", "2021-11-01"]),
                        ("checkNameAvailability", ["2026-01-01", "2021-11-01", "2017-04-01"])],
    "Microsoft.Compute": [("virtualMachines", ["2024-07-01"]), ("skus", ["2021-07-01", "2019-04-01"])],
    "Microsoft.Network": [("virtualNetworks", ["2024-05-01"]), ("publicIPAddresses", ["2024-05-01"])],
    "Microsoft.MachineLearningServices": [("workspaces", ["2025-06-01", "2024-10-01"]),
                                          ("workspaces/computes", ["2025-06-01", "2024-10-01"])],
}


def provider_body(namespace, state, sub=SUBSCRIPTION_ID):
    types = [{"resourceType": rtype, "locations": ["East US", "East US 2", "West US 2", "West Europe", "North Europe"],
              "apiVersions": list(versions), "capabilities": "SupportsExtension" if rtype == "extensions" else "None"}
             for rtype, versions in PROVIDER_TYPES.get(namespace, [])]
    return {"id": f"/subscriptions/{sub}/providers/{namespace}", "namespace": namespace,
            "registrationState": state, "registrationPolicy": "RegistrationRequired", "resourceTypes": types}


# ---------------------------------------------------------------------------------------------
# Azure Machine Learning (Microsoft.MachineLearningServices, api-version 2024-10-01)
# ---------------------------------------------------------------------------------------------

ML_TYPE = "Microsoft.MachineLearningServices"


def workspace_id(rg, name, sub=SUBSCRIPTION_ID):
    return f"{rg_id(rg, sub)}/providers/{ML_TYPE}/workspaces/{name}"


def workspace(rg, name, location="eastus", sub=SUBSCRIPTION_ID, tenant=TENANT_ID, tags=None, friendly_name=None):
    """A workspace body shaped like Workspaces_Get (MachineLearningServices spec, workspaceRP.json; example
    Workspace/get.json): system-assigned identity, Basic sku, kind Default and its dependent resources."""
    wid = workspace_id(rg, name, sub)
    short = "".join(ch for ch in name.lower() if ch.isalnum())[:10]
    suffix = hashlib.sha1(wid.lower().encode()).hexdigest()[:8]
    dependent = f"{rg_id(rg, sub)}/providers"
    return {
        "id": wid, "name": name, "type": f"{ML_TYPE}/workspaces", "location": location, "kind": "Default",
        "tags": dict(tags or {}),
        "identity": {"type": "SystemAssigned", "principalId": guid("ws-principal", wid), "tenantId": tenant},
        "sku": {"name": "Basic", "tier": "Basic"},
        "systemData": system_data(by="admin@contoso.com", by_type="User"),
        "properties": {
            "friendlyName": friendly_name or name,
            "description": "",
            "workspaceId": guid("workspace", wid),
            "storageAccount": f"{dependent}/Microsoft.Storage/storageAccounts/{short}{suffix}",
            "keyVault": f"{dependent}/Microsoft.KeyVault/vaults/kv-{short}{suffix}",
            "applicationInsights": f"{dependent}/Microsoft.Insights/components/ai-{short}{suffix}",
            "containerRegistry": None,
            "discoveryUrl": f"https://{location}.api.azureml.ms/discovery",
            "mlFlowTrackingUri": f"azureml://{location}.api.azureml.ms/mlflow/v1.0{wid}",
            "hbiWorkspace": False,
            "publicNetworkAccess": "Enabled",
            "privateLinkCount": 0,
            "storageHnsEnabled": False,
            "v1LegacyMode": False,
            "tenantId": tenant,
            "provisioningState": "Succeeded",
        },
    }


def compute(workspace_body, name, compute_type, resource_id, namespace="default", state="Succeeded", identity=None,
            description=None, properties=None, errors=None):
    """A workspace compute body (Compute_Get; examples Compute/get/KubernetesCompute.json and AKSCompute.json).
    compute_type "Kubernetes": properties.properties holds namespace, defaultInstanceType and instanceTypes;
    "AKS" (legacy v1 attach): `properties` gives its properties.properties (clusterFqdn, systemServices, ...)."""
    cid = f"{workspace_body['id']}/computes/{name}"
    props = {"description": description, "resourceId": resource_id, "computeType": compute_type,
             "computeLocation": workspace_body["location"], "provisioningState": state,
             "provisioningErrors": list(errors) if errors else None, "isAttachedCompute": True,
             "disableLocalAuth": True, "createdOn": "2025-06-02T08:15:42.1234567+00:00",
             "modifiedOn": "2025-06-02T08:15:42.1234567+00:00"}
    if compute_type == "Kubernetes":
        props["properties"] = {"relayConnectionString": None, "serviceBusConnectionString": None,
                               "extensionPrincipalId": None, "extensionInstanceReleaseTrain": "stable",
                               "vcName": None, "namespace": namespace, "defaultInstanceType": "defaultinstancetype",
                               "instanceTypes": {"defaultinstancetype": {
                                   "nodeSelector": None,
                                   "resources": {"requests": {"cpu": "100m", "memory": "2Gi"},
                                                 "limits": {"cpu": "2", "memory": "4Gi", "nvidia.com/gpu": None}}}}}
        props["properties"].update(properties or {})
    elif properties is not None:
        props["properties"] = copy.deepcopy(properties)
    body = {"id": cid, "name": name, "type": f"{ML_TYPE}/workspaces/computes", "location": workspace_body["location"],
            "systemData": system_data(by="admin@contoso.com", by_type="User"), "properties": props}
    if identity:
        body["identity"] = copy.deepcopy(identity)
    return body


# ---------------------------------------------------------------------------------------------
# The worlds
# ---------------------------------------------------------------------------------------------

def _default(seed):
    sub = SUBSCRIPTION_ID
    resources = [resource_group("rg-ml", "eastus"), resource_group("rg-arc", "westeurope"),
                 resource_group("rg-empty", "eastus")]
    relay_keys = {}

    def add(*bodies):
        resources.extend(bodies)

    # --- AKS in rg-ml -----------------------------------------------------------------------
    add(aks_cluster("aks-prod"),
        aks_cluster("aks-poc", pools=[pool("nodepool1", 1, "Standard_D4s_v3")]),
        aks_cluster("aks-dev2", pools=[pool("nodepool1", 2, "Standard_DS3_v2")]),
        aks_cluster("aks-uami", identity="UserAssigned"),
        aks_cluster("aks-sp", identity=None),
        aks_cluster("aks-nolocal", disable_local_accounts=True))
    nolocal_ta = aks_cluster("aks-nolocal-ta", disable_local_accounts=True)
    add(nolocal_ta, trusted_access_binding(nolocal_ta["id"], "azureml-ws1", workspace_id("rg-ml", "ws1")),
        aks_cluster("aks-iprange", authorized_ip_ranges=["203.0.113.0/24"]),
        aks_cluster("aks-tiny", pools=[pool("nodepool1", 1, "Standard_B2s")]),
        aks_cluster("aks-oldk8s", k8s="1.27.9"),
        aks_cluster("aks-arm64", pools=[pool("nodepool1", 3, "Standard_D4ps_v5", arm64=True)]),
        aks_cluster("aks-gpu", pools=[pool("nodepool1", 3, "Standard_D4s_v3"),
                                      pool("gpupool", 2, "Standard_NC6s_v3", mode="User", autoscale=(1, 4))]),
        aks_cluster("aks-updating", provisioning_state="Updating"),
        aks_cluster("aks-podid", pod_identity=True),
        aks_cluster("aks-proxy", http_proxy={"httpProxy": "http://proxy.contoso.com:3128/",
                                             "httpsProxy": "http://proxy.contoso.com:3128/",
                                             "noProxy": ["localhost", "127.0.0.1", ".svc", "10.0.0.0/16"],
                                             "trustedCa": None}),
        aks_cluster("aks-udr", outbound_type="userDefinedRouting"),
        aks_cluster("aks-private", private=True),
        aks_cluster("aks-legacy-body", disable_local_accounts=None))

    stopped = aks_cluster("aks-stopped", power_state="Stopped")
    add(stopped, extension(stopped["id"], "azureml", AZUREML_TYPE, AZUREML_LATEST, namespace="azureml",
                           release_train="stable",
                           settings=azureml_settings(stopped["id"], "aks-stopped", "eastus", "managedClusters",
                                                     enableTraining="True")))

    two = aks_cluster("aks-two-azureml")
    add(two,
        extension(two["id"], "azureml", AZUREML_TYPE, AZUREML_LATEST, namespace="azureml", release_train="stable",
                  settings=azureml_settings(two["id"], "aks-two-azureml", "eastus", "managedClusters",
                                            enableTraining="True")),
        extension(two["id"], "azureml-second", AZUREML_TYPE, AZUREML_LATEST, namespace="azureml",
                  release_train="stable",
                  settings=azureml_settings(two["id"], "aks-two-azureml", "eastus", "managedClusters",
                                            enableTraining="True")))

    with_ext = aks_cluster("aks-with-ext")
    add(with_ext,
        extension(with_ext["id"], "azureml", AZUREML_TYPE, AZUREML_LATEST, namespace="azureml",
                  release_train="stable",
                  settings=azureml_settings(with_ext["id"], "aks-with-ext", "eastus", "managedClusters",
                                            enableTraining="True", enableInference="True",
                                            inferenceRouterServiceType="LoadBalancer",
                                            allowInsecureConnections="True")),
        extension(with_ext["id"], "flux", "microsoft.flux", "1.15.1", namespace="flux-system",
                  settings={"multiTenancy.enforce": "false"}))

    https = aks_cluster("aks-https")
    pem_cert = base64.b64encode(b"-----BEGIN CERTIFICATE-----\nRU1VTEFUT1ItUExBQ0VIT0xERVItQ0VSVA==\n"
                                b"-----END CERTIFICATE-----\n").decode()
    pem_key = base64.b64encode(b"-----BEGIN PRIVATE KEY-----\nRU1VTEFUT1ItUExBQ0VIT0xERVItS0VZ\n"
                               b"-----END PRIVATE KEY-----\n").decode()
    add(https, extension(https["id"], "azureml", AZUREML_TYPE, AZUREML_LATEST, namespace="azureml",
                         release_train="stable",
                         settings=azureml_settings(https["id"], "aks-https", "eastus", "managedClusters",
                                                   enableTraining="True", enableInference="True",
                                                   inferenceRouterServiceType="LoadBalancer",
                                                   allowInsecureConnections="False", sslCname="ml.contoso.com"),
                         protected={"scoringFe.sslCert": pem_cert, "scoringFe.sslKey": pem_key}))

    other = aks_cluster("aks-other-name")
    add(other, extension(other["id"], "aml-ext", "microsoft.azureml.kubernetes", AZUREML_LATEST, namespace="azureml",
                         release_train="stable",
                         settings=azureml_settings(other["id"], "aks-other-name", "eastus", "managedClusters",
                                                   enableTraining="True")))

    busy = aks_cluster("aks-busy")
    add(busy, extension(busy["id"], "azureml", AZUREML_TYPE, None, namespace="azureml", state="Creating",
                        release_train="stable",
                        settings=azureml_settings(busy["id"], "aks-busy", "eastus", "managedClusters",
                                                  enableTraining="True")))

    failed = aks_cluster("aks-failed")
    add(failed, extension(failed["id"], "azureml", AZUREML_TYPE, AZUREML_LATEST, namespace="azureml",
                          state="Failed", release_train="stable",
                          settings=azureml_settings(failed["id"], "aks-failed", "eastus", "managedClusters",
                                                    enableTraining="True", enableInference="True",
                                                    inferenceRouterServiceType="LoadBalancer",
                                                    allowInsecureConnections="True", inferenceRouterHA="true"),
                          error={"code": "ExtensionOperationFailed", "message": HEALTHCHECK_FAILURE},
                          statuses=[_status("InstallationFailed", "Failed", "Error", HEALTHCHECK_FAILURE),
                                    _status("HealthCheck", "E40002 INSUFFICIENT_NODE", "Error",
                                            "pre-install: HealthCheck failed: E40002 INSUFFICIENT_NODE")]))

    many = aks_cluster("aks-many-ext")
    add(many,
        extension(many["id"], "azureml", AZUREML_TYPE, AZUREML_LATEST, namespace="azureml", release_train="stable",
                  settings=azureml_settings(many["id"], "aks-many-ext", "eastus", "managedClusters",
                                            enableTraining="True")),
        extension(many["id"], "flux", "microsoft.flux", "1.15.1", namespace="flux-system"),
        extension(many["id"], "dapr", "Microsoft.Dapr", "1.15.4", namespace="dapr-system"),
        extension(many["id"], "azuremonitor-containers", "Microsoft.AzureMonitor.Containers", "3.1.26",
                  namespace="kube-system", settings={"logAnalyticsWorkspaceResourceID": f"{rg_id('rg-ml')}/providers/"
                                                     "Microsoft.OperationalInsights/workspaces/la-ml"}),
        extension(many["id"], "azure-policy", "Microsoft.PolicyInsights", "1.10.1", namespace="kube-system"))

    # --- Arc in rg-arc ----------------------------------------------------------------------
    add(arc_cluster("arc-k3s", distribution="k3s", nodes=3, cores=24),
        arc_cluster("arc-gpu", distribution="generic", nodes=4, cores=64),
        arc_cluster("arc-offline", connectivity="Offline", last_seen=_ago(days=4, hours=3)),
        arc_cluster("arc-expired", connectivity="Expired", last_seen=_ago(days=112)),
        arc_cluster("arc-openshift", distribution="openshift", infrastructure="azure", nodes=3, cores=24,
                    k8s="1.30.7"),
        arc_cluster("arc-single", nodes=1, cores=4))

    arc_ext = arc_cluster("arc-with-ext")
    ns_name = k8s_extension_relay_name("arc-with-ext", "rg-arc", sub)
    namespace = relay_namespace("rg-arc", ns_name, "westeurope", tags={"created_by": "amlk8s"})
    hc = hybrid_connection(namespace["id"], "arc-with-ext", "westeurope")
    rule = authorization_rule(hc["id"], "azureml_rw", location="westeurope")
    keys = {"primaryKey": relay_key(seed, rule["id"], "primary"),
            "secondaryKey": relay_key(seed, rule["id"], "secondary")}
    relay_keys[rule["id"].lower()] = keys
    connection = relay_connection_string(ns_name, "azureml_rw", keys["primaryKey"], "arc-with-ext")
    settings = azureml_settings(arc_ext["id"], "arc-with-ext", "westeurope", "connectedClusters",
                                enableTraining="True")
    settings["relayserver.hybridConnectionResourceID"] = hc["id"]
    settings["relayserver.hybridConnectionName"] = "arc-with-ext"
    add(arc_ext, namespace, hc, rule,
        extension(arc_ext["id"], "azureml", AZUREML_TYPE, AZUREML_LATEST, namespace="azureml", release_train="stable",
                  settings=settings,
                  protected={"relayServerConnectionString": connection,
                             "relayserver.relayConnectionString": connection}))

    # Arc clusters whose AzureML extension says Succeeded, seen from the cluster's side: offline for days; and
    # relays made by az k8s-extension (its tag) and by the user (no tag).
    offline = arc_cluster("arc-offline-ext", connectivity="Offline", last_seen=_ago(days=6))
    add(offline, extension(offline["id"], "azureml", AZUREML_TYPE, AZUREML_LATEST, namespace="azureml",
                           release_train="stable",
                           settings=azureml_settings(offline["id"], "arc-offline-ext", "westeurope",
                                                     "connectedClusters", enableTraining="True")))
    for cluster_name, tags in (("arc-k8sext-relay", {"created_by": "Azure Arc-enabled ML"}),
                               ("arc-byo-relay", {"owner": "network-team"})):
        cluster = arc_cluster(cluster_name)
        ns = (k8s_extension_relay_name(cluster_name, "rg-arc", sub) if "k8sext" in cluster_name
              else "contoso-private-relay")
        ns_body = relay_namespace("rg-arc", ns, "westeurope", tags=tags)
        hc_body = hybrid_connection(ns_body["id"], cluster_name, "westeurope")
        rule_body = authorization_rule(hc_body["id"], "azureml_rw", location="westeurope")
        rule_keys = {"primaryKey": relay_key(seed, rule_body["id"], "primary"),
                     "secondaryKey": relay_key(seed, rule_body["id"], "secondary")}
        relay_keys[rule_body["id"].lower()] = rule_keys
        conn = relay_connection_string(ns, "azureml_rw", rule_keys["primaryKey"], cluster_name)
        cluster_settings = azureml_settings(cluster["id"], cluster_name, "westeurope", "connectedClusters",
                                            enableTraining="True")
        cluster_settings["relayserver.hybridConnectionResourceID"] = hc_body["id"]
        cluster_settings["relayserver.hybridConnectionName"] = cluster_name
        add(cluster, ns_body, hc_body, rule_body,
            extension(cluster["id"], "azureml", AZUREML_TYPE, AZUREML_LATEST, namespace="azureml",
                      release_train="stable", settings=cluster_settings,
                      protected={"relayServerConnectionString": conn, "relayserver.relayConnectionString": conn}))

    # --- Azure Machine Learning --------------------------------------------------------------
    # ws1 (its id is the sourceResourceId of aks-nolocal-ta's Trusted Access binding) with a Kubernetes compute
    # attached to aks-with-ext; ws-legacy with a legacy v1 `AKS` compute on aks-v1-attached (whose azureml-fe
    # inference router of the v1 attach shows only in the compute's ARM data); ws-other in the second subscription.
    ws1 = workspace("rg-ml", "ws1")
    add(ws1, compute(ws1, "k8s-with-ext", "Kubernetes", with_ext["id"], namespace="azureml",
                     identity={"type": "SystemAssigned", "principalId": guid("compute-principal", "k8s-with-ext"),
                               "tenantId": TENANT_ID}))
    v1 = aks_cluster("aks-v1-attached", tags={"attached-by": "azureml-v1"})
    legacy = workspace("rg-ml", "ws-legacy")
    add(v1, legacy,
        compute(legacy, "aks-v1", "AKS", v1["id"], description="AKS attached with the v1 SDK",
                properties={"clusterFqdn": v1["properties"]["fqdn"], "agentCount": 3,
                            "agentVmSize": "Standard_D4s_v3", "clusterPurpose": "FastProd",
                            "loadBalancerType": "PublicIp",
                            "systemServices": [{"systemServiceType": "ScoringFrontEnd", "publicIpAddress":
                                                "20.81.112.34", "version": "azureml-fe (v1 inference router)"}]}))
    other_sub = OTHER_SUBSCRIPTION_ID
    other_cluster = aks_cluster("aks-other-sub", rg="rg-ml-other", sub=other_sub)
    add(resource_group("rg-ml-other", "eastus", sub=other_sub), other_cluster,
        extension(other_cluster["id"], "azureml", AZUREML_TYPE, AZUREML_LATEST, namespace="azureml",
                  release_train="stable",
                  settings=azureml_settings(other_cluster["id"], "aks-other-sub", "eastus", "managedClusters",
                                            enableTraining="True")),
        workspace("rg-ml-other", "ws-other", sub=other_sub))

    providers = {ns: "Registered" for ns in ("Microsoft.ContainerService", "Microsoft.Kubernetes",
                                             "Microsoft.KubernetesConfiguration", "Microsoft.ExtendedLocation",
                                             "Microsoft.Relay", "Microsoft.Compute", "Microsoft.Network",
                                             "Microsoft.MachineLearningServices")}
    versions = kubernetes_versions()
    return {
        "name": "default",
        "subscription": {"id": sub, "name": SUBSCRIPTION_NAME, "tenant_id": TENANT_ID},
        "subscriptions": [{"id": sub, "name": SUBSCRIPTION_NAME, "tenant_id": TENANT_ID},
                          {"id": other_sub, "name": OTHER_SUBSCRIPTION_NAME, "tenant_id": TENANT_ID}],
        "identity": {"client_id": CLIENT_ID, "object_id": OBJECT_ID},
        "resources": resources,
        "providers": providers,
        "skus": sku_catalogue(),
        "kubernetes_versions": {location: copy.deepcopy(versions) for location in LOCATIONS},
        "extension_versions": {AZUREML_TYPE.lower(): list(AZUREML_VERSIONS)},
        # Release trains of the extension type versions API (extensionTypes/{type}/versions?releaseTrain=).
        "extension_train_versions": {AZUREML_TYPE.lower(): {"stable": list(AZUREML_VERSIONS),
                                                            "preview": list(AZUREML_VERSIONS) + ["1.1.89"]}},
        "relay_keys": relay_keys,
        "settings": dict(DEFAULT_SETTINGS),
        "outcomes": [],
        "faults": [],
    }


# ---------------------------------------------------------------------------------------------
# Fleets: many clusters over several subscriptions
# ---------------------------------------------------------------------------------------------

_FLEET_FAILURES = (
    {"code": "ExtensionOperationFailed", "message": HEALTHCHECK_FAILURE},
    {"code": "ExtensionOperationFailed", "message": chart_not_found_message("1.1.99", AZUREML_TYPE)},
    {"code": "ExtensionOperationFailed",
     "message": "Error: {timed out waiting for the condition} occurred while doing the operation : {Installing} on "
                "the config, For general troubleshooting visit: https://aka.ms/k8s-extensions-TSG, For more "
                "application specific troubleshooting visit: https://aka.ms/arcmltsg ; post-install: job "
                "azureml-fe-cert-hook failed: BackoffLimitExceeded"},
)


def fleet_subscription_id(index):
    """The id of the fleet's subscription `index` (0 is SUBSCRIPTION_ID, so a default az profile works)."""
    return SUBSCRIPTION_ID if index == 0 else guid("fleet-subscription", index)


def fleet(subscriptions=3, clusters=None, extensions=None, failed_every=7, arc_every=3, seed=b"amlk8s-emulator"):
    """A world of many clusters over `subscriptions` subscriptions (the first one SUBSCRIPTION_ID), for `az amlk8s
    list` / `--ids` tests and benchmarks: `scenarios.fleet(subscriptions=3, extensions=1000)`.

    extensions: how many AzureML extensions (default 12); clusters: how many clusters (default extensions + 6;
    at least extensions + 3). Cluster i lives in subscription i % subscriptions, resource group
    rg-fleet-<k> (AKS) or rg-fleet-arc-<k> (Arc; every `arc_every`th cluster). The first `extensions` clusters
    carry an AzureML extension named azureml (every 11th named aml-ext), healthy except every `failed_every`th,
    which is Failed with a realistic errorInfo and statuses; every 5th also has a flux extension. Then come one
    cluster whose extension is named azureml but is microsoft.flux, one with only other extension types (flux,
    dapr), and the rest without any extension. Names: fleet-aks-NNNN / fleet-arc-NNNN (NNNN = i + 1).
    """
    extensions = 12 if extensions is None else int(extensions)
    clusters = extensions + 6 if clusters is None else int(clusters)
    if subscriptions < 1 or extensions < 0 or clusters < extensions + 3:
        raise ValueError("fleet() needs subscriptions >= 1 and clusters >= extensions + 3")
    subs = [{"id": fleet_subscription_id(k), "name": SUBSCRIPTION_NAME if k == 0 else f"amlk8s-fleet-{k}",
             "tenant_id": TENANT_ID} for k in range(subscriptions)]
    resources = []
    for k, sub in enumerate(subs):
        resources += [resource_group(f"rg-fleet-{k}", "eastus", sub=sub["id"]),
                      resource_group(f"rg-fleet-arc-{k}", "westeurope", sub=sub["id"])]
    width = max(4, len(str(clusters)))
    for i in range(clusters):
        k = i % subscriptions
        sub = subs[k]["id"]
        arc = arc_every and i % arc_every == arc_every - 1
        name = f"fleet-{'arc' if arc else 'aks'}-{i + 1:0{width}d}"
        if arc:
            body = arc_cluster(name, rg=f"rg-fleet-arc-{k}", sub=sub)
        else:
            body = aks_cluster(name, rg=f"rg-fleet-{k}", sub=sub)
        body["tags"] = dict(body.get("tags") or {}, **fleet_tags(i))
        resources.append(body)
        cid, location = body["id"], body["location"]
        kind = "connectedClusters" if arc else "managedClusters"
        if i < extensions:
            failed = failed_every and i % failed_every == failed_every - 1
            error = _FLEET_FAILURES[(i // max(1, failed_every)) % len(_FLEET_FAILURES)] if failed else None
            statuses = [_status("InstallationFailed", "Failed", "Error", error["message"])] if failed else None
            resources.append(extension(
                cid, "aml-ext" if i % 11 == 10 else "azureml", AZUREML_TYPE, AZUREML_LATEST, namespace="azureml",
                release_train="stable", state="Failed" if failed else "Succeeded", error=error, statuses=statuses,
                settings=azureml_settings(cid, name, location, kind, enableTraining="True")))
            if i % 5 == 4:
                resources.append(extension(cid, "flux", "microsoft.flux", "1.15.1", namespace="flux-system"))
        elif i == extensions:
            resources.append(extension(cid, "azureml", "microsoft.flux", "1.15.1", namespace="flux-system"))
        elif i == extensions + 1:
            resources += [extension(cid, "flux", "microsoft.flux", "1.15.1", namespace="flux-system"),
                          extension(cid, "dapr", "Microsoft.Dapr", "1.15.4", namespace="dapr-system")]
    world = _default(seed)
    world.update({"name": "fleet", "subscription": subs[0], "subscriptions": subs, "resources": resources,
                  "relay_keys": {}, "management_groups": fleet_management_groups(subs)})
    return world


def fleet_tags(index):
    """The tags of fleet cluster `index`: env (prod for every 4th cluster from the first, staging for the next, dev
    otherwise) and team (ml-platform for even indexes, research for odd ones)."""
    env = ("prod", "staging", "dev", "dev")[index % 4]
    return {"env": env, "team": "ml-platform" if index % 2 == 0 else "research"}


def fleet_management_groups(subs):
    """Management groups over the fleet's subscriptions: the tenant root group holds mg-ml (the first two
    subscriptions, the first of them under its child mg-ml-prod) and mg-research (the rest)."""
    ids = [s["id"] for s in subs]
    return {
        TENANT_ID: {"displayName": "Tenant Root Group", "parent": None, "subscriptions": []},
        "mg-ml": {"displayName": "Machine learning", "parent": TENANT_ID, "subscriptions": ids[1:2]},
        "mg-ml-prod": {"displayName": "Machine learning (production)", "parent": "mg-ml", "subscriptions": ids[:1]},
        "mg-research": {"displayName": "Research", "parent": TENANT_ID, "subscriptions": ids[2:]},
    }


def _derived(changes):
    def build_world(seed):
        world = _default(seed)
        changes(world)
        return world
    return build_world


def _unregister(*namespaces):
    def change(world):
        for namespace in namespaces:
            world["providers"][namespace] = "NotRegistered"
    return change


def _settings(**values):
    def change(world):
        world["settings"].update(values)
    return change


SCENARIOS = {
    "default": _default,
    "kc-unregistered": _derived(_unregister("Microsoft.KubernetesConfiguration")),
    "arc-providers-unregistered": _derived(_unregister("Microsoft.Kubernetes", "Microsoft.ExtendedLocation")),
    "slow": _derived(_settings(delay=0.3)),
    "no-retry-after": _derived(_settings(retry_after=None, retry_after_ms=None)),
    "retry-after-1": _derived(_settings(retry_after="1")),
    "fleet": lambda seed: fleet(seed=seed),
}


def build(name="default", seed=b"amlk8s-emulator"):
    """Build the world called `name` (a key of SCENARIOS). `seed` makes relay keys per-instance random."""
    if isinstance(name, dict):
        return copy.deepcopy(name)
    try:
        builder = SCENARIOS[name]
    except KeyError:
        raise ValueError(f"unknown scenario {name!r}; known: {', '.join(sorted(SCENARIOS))}") from None
    world = builder(seed)
    world["name"] = name
    return world
