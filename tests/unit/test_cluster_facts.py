# --------------------------------------------------------------------------------------------
# Copyright (c) amlk8s contributors. Licensed under the MIT License.
# --------------------------------------------------------------------------------------------
"""Unit tests for azext_amlk8s.facts.cluster: cluster types, references and facts from raw ARM bodies."""

import copy
import json
from pathlib import Path

import pytest
from azure.cli.core.azclierror import InvalidArgumentValueError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from azext_amlk8s.facts.cluster import (
    CONNECTED, MANAGED, ClusterFacts, ClusterRef, NodePool, facts_from_bodies, minor_version, normalize_cluster_type)
from tests.unit.samples import pool

FIXTURES = Path(__file__).parent / "fixtures"
SUB = "00000000-0000-0000-0000-000000000001"
AKS = ClusterRef(SUB, "ml-rg", "ml-aks", "managedClusters")
ARC = ClusterRef(SUB, "edge-rg", "edge-k3s", "connectedClusters")
ML_ROLE = "Microsoft.MachineLearningServices/workspaces/mlworkload"


def load(name):
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def provider(namespace, state="Registered"):
    return {"id": f"/subscriptions/{SUB}/providers/{namespace}", "namespace": namespace,
            "registrationState": state, "registrationPolicy": "RegistrationRequired", "resourceTypes": []}


def aks_body(**props):
    body = load("aks_managed_cluster.json")
    body["properties"].update(props)
    return body


def aks_facts(body=None, **kwargs):
    kwargs.setdefault("extensions", [])
    kwargs.setdefault("providers", {"Microsoft.KubernetesConfiguration": provider("Microsoft.KubernetesConfiguration")})
    kwargs.setdefault("k8s_versions", load("kubernetes_versions.json"))
    kwargs.setdefault("skus", load("compute_skus.json"))
    kwargs.setdefault("cli_version", "2.91.0")
    return facts_from_bodies(AKS, aks_body() if body is None else body, **kwargs)


def arc_facts(body=None, **kwargs):
    kwargs.setdefault("extensions", [])
    kwargs.setdefault("providers", {ns: provider(ns) for ns in (
        "Microsoft.KubernetesConfiguration", "Microsoft.Kubernetes", "Microsoft.ExtendedLocation")})
    kwargs.setdefault("k8s_versions", load("kubernetes_versions.json"))
    kwargs.setdefault("cli_version", "2.91.0")
    return facts_from_bodies(ARC, load("arc_connected_cluster.json") if body is None else body, **kwargs)


# ---------------------------------------------------------------------------------------------
# normalize_cluster_type and ClusterRef
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("value,expected", [
    ("managedClusters", MANAGED), ("MANAGEDCLUSTERS", MANAGED), ("managedclusters", MANAGED), ("aks", MANAGED),
    ("AKS", MANAGED), (" aks ", MANAGED), ("Microsoft.ContainerService/managedClusters", MANAGED),
    ("microsoft.containerservice/managedclusters", MANAGED),
    ("connectedClusters", CONNECTED), ("ConnectedClusters", CONNECTED), ("arc", CONNECTED), ("Arc", CONNECTED),
    ("Microsoft.Kubernetes/connectedClusters", CONNECTED),
    # the docs' SDK attach sample spells Arc with the ContainerService namespace
    ("Microsoft.ContainerService/connectedClusters", CONNECTED),
])
def test_normalize_cluster_type_accepts_names_and_aliases(value, expected):
    assert normalize_cluster_type(value) == expected


@pytest.mark.parametrize("value", ["", "  ", None, 3, "provisionedClusters", "k8s", "aks-arc",
                                   "Microsoft.Compute/managedClusters", "Microsoft.Kubernetes/", "/aks"])
def test_normalize_cluster_type_rejects_other_values(value):
    with pytest.raises(InvalidArgumentValueError) as info:
        normalize_cluster_type(value)
    assert "--cluster-type" in str(info.value)
    recommendation = " ".join(info.value.recommendations)
    for accepted in ("managedClusters", "connectedClusters", "aks", "arc"):
        assert accepted in recommendation


def test_cluster_ref_aks_ids_and_args():
    ref = ClusterRef(SUB, "ml-rg", "ml-aks", "AKS")
    assert ref.cluster_type == MANAGED and ref.is_aks and not ref.is_arc
    assert ref.cluster_rp == "Microsoft.ContainerService"
    assert ref.resource_id == (f"/subscriptions/{SUB}/resourceGroups/ml-rg/providers/Microsoft.ContainerService/"
                               "managedClusters/ml-aks")
    assert ref.extension_id("azureml") == ref.resource_id + \
        "/providers/Microsoft.KubernetesConfiguration/extensions/azureml"
    assert ref.display == "AKS cluster 'ml-aks' in resource group 'ml-rg'"
    assert ref.cli_args == "-g ml-rg -c ml-aks -t managedClusters"
    assert ref.aks_args == "-g ml-rg -n ml-aks"
    assert ref.nodepool_args == "-g ml-rg --cluster-name ml-aks"


def test_cluster_ref_arc_ids_and_args():
    ref = ClusterRef(SUB, "edge-rg", "edge-k3s", "arc")
    assert ref.cluster_type == CONNECTED and ref.is_arc and not ref.is_aks
    assert ref.cluster_rp == "Microsoft.Kubernetes"
    assert ref.resource_id == (f"/subscriptions/{SUB}/resourceGroups/edge-rg/providers/Microsoft.Kubernetes/"
                               "connectedClusters/edge-k3s")
    assert ref.display == "Azure Arc-enabled cluster 'edge-k3s' in resource group 'edge-rg'"
    assert ref.cli_args == "-g edge-rg -c edge-k3s -t connectedClusters"


def test_cluster_ref_quotes_names_that_need_it():
    ref = ClusterRef(SUB, "rg (prod)", "c", "aks")
    assert ref.cli_args == "-g 'rg (prod)' -c c -t managedClusters"


def test_cluster_ref_rejects_bad_type():
    with pytest.raises(InvalidArgumentValueError):
        ClusterRef(SUB, "rg", "c", "provisionedClusters")


@pytest.mark.parametrize("version,minor", [
    ("1.30.5", "1.30"), ("1.31", "1.31"), ("v1.29.4+k3s1", "1.29"), ("1.28.3-eks-1-28", "1.28"),
    ("v1.27.10+rke2r1", "1.27"), ("1.030.1", "1.30"), ("", None), (None, None), ("latest", None), (1.3, None)])
def test_minor_version(version, minor):
    assert minor_version(version) == minor


# ---------------------------------------------------------------------------------------------
# facts_from_bodies: AKS
# ---------------------------------------------------------------------------------------------

def test_aks_realistic_body_gives_complete_facts():
    facts = aks_facts(trusted_access=load("trusted_access_bindings.json"),
                      extensions=[load("azureml_extension.json")])
    assert facts.ref is AKS
    assert facts.location == "eastus"
    assert facts.provisioning_state == "Succeeded"
    assert facts.power_state == "Running"
    assert facts.kubernetes_version == "1.32.4"
    assert facts.identity_type == "SystemAssigned"
    assert facts.local_accounts_disabled is False
    assert facts.authorized_ip_ranges == ()
    assert facts.private_cluster is False
    assert facts.node_count == 3
    assert facts.trusted_access_ml_bindings == ("ws-binding",)
    assert facts.providers == {"Microsoft.KubernetesConfiguration": "Registered"}
    assert facts.extensions[0]["name"] == "azureml"
    assert facts.ga_minor_versions == ("1.30", "1.31", "1.32")
    assert facts.cli_version == "2.91.0"
    assert facts.connectivity_status is None and facts.distribution is None and facts.total_core_count is None
    assert facts.unknowns == ()
    (only,) = facts.node_pools
    assert only == NodePool(name="nodepool1", count=3, vm_size="Standard_D4s_v3", os_type="Linux", mode="System",
                            autoscaling=False, min_count=None, max_count=None, node_labels={}, vcpus=4.0,
                            memory_gb=16.0, arch="x64", gpus=0, power_state="Running")


def test_aks_kubernetes_version_falls_back_to_kubernetes_version():
    body = aks_body()
    del body["properties"]["currentKubernetesVersion"]
    assert aks_facts(body).kubernetes_version == "1.32"


def test_aks_user_assigned_identity():
    body = aks_body()
    body["identity"] = {"type": "UserAssigned", "userAssignedIdentities": {
        "/subscriptions/x/resourceGroups/ml-rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id1": {
            "principalId": "p", "clientId": "c"}}}
    assert aks_facts(body).identity_type == "UserAssigned"


def test_aks_system_and_user_assigned_identity_is_managed():
    body = aks_body()
    body["identity"] = {"type": "SystemAssigned, UserAssigned"}
    assert aks_facts(body).identity_type in ("SystemAssigned", "UserAssigned")


def test_aks_service_principal_cluster():
    body = aks_body(servicePrincipalProfile={"clientId": "3b3c2f1e-0000-4000-8000-1234567890ab"})
    del body["identity"]
    assert aks_facts(body).identity_type == "ServicePrincipal"


def test_aks_identity_type_none_with_service_principal():
    body = aks_body(servicePrincipalProfile={"clientId": "3b3c2f1e-0000-4000-8000-1234567890ab"})
    body["identity"] = {"type": "None"}
    assert aks_facts(body).identity_type == "ServicePrincipal"


def test_aks_msi_client_id_without_identity_block_means_managed_identity():
    body = aks_body(servicePrincipalProfile={"clientId": "msi"})
    body["identity"] = None
    assert aks_facts(body).identity_type == "SystemAssigned"


def test_aks_identity_unknown_when_nothing_says():
    body = aks_body(servicePrincipalProfile=None)
    body["identity"] = None
    facts = aks_facts(body)
    assert facts.identity_type is None
    assert any("identity" in note for note in facts.unknowns)


@pytest.mark.parametrize("value,expected", [(True, True), (False, False), ("true", True), ("False", False)])
def test_aks_local_accounts(value, expected):
    assert aks_facts(aks_body(disableLocalAccounts=value)).local_accounts_disabled is expected


def test_aks_local_accounts_missing_means_the_api_default_enabled():
    body = aks_body()
    del body["properties"]["disableLocalAccounts"]
    facts = aks_facts(body)
    assert facts.local_accounts_disabled is False
    assert not any("local accounts" in note for note in facts.unknowns)


def test_aks_pod_identity_proxy_and_outbound_type():
    facts = aks_facts(aks_body(podIdentityProfile={"enabled": True}, httpProxyConfig={
        "httpsProxy": "http://proxy:3128/", "noProxy": ["localhost"]}, networkProfile={
        "outboundType": "userDefinedRouting"}))
    assert facts.pod_identity_enabled is True and facts.outbound_type == "userDefinedRouting"
    assert facts.http_proxy == {"httpProxy": None, "httpsProxy": "http://proxy:3128/", "noProxy": ("localhost",)}
    plain = aks_facts(aks_body(httpProxyConfig={"noProxy": ["localhost"]}))
    assert plain.http_proxy is None and plain.pod_identity_enabled is False


def test_aks_authorized_ip_ranges_and_private_cluster():
    facts = aks_facts(aks_body(apiServerAccessProfile={
        "authorizedIPRanges": ["203.0.113.0/24", "198.51.100.7/32"], "enablePrivateCluster": False,
        "disableRunCommand": False}))
    assert facts.authorized_ip_ranges == ("203.0.113.0/24", "198.51.100.7/32")
    assert facts.private_cluster is False
    assert "Trusted Access role bindings could not be read" in facts.unknowns


@pytest.mark.parametrize("profile", [None, {}, {"authorizedIPRanges": []}, {"authorizedIPRanges": None}])
def test_aks_no_authorized_ranges(profile):
    facts = aks_facts(aks_body(apiServerAccessProfile=profile))
    assert facts.authorized_ip_ranges == ()
    assert facts.private_cluster is False


def test_aks_private_cluster():
    facts = aks_facts(aks_body(apiServerAccessProfile={
        "enablePrivateCluster": True, "privateDNSZone": "system", "enablePrivateClusterPublicFQDN": True}))
    assert facts.private_cluster is True
    assert facts.authorized_ip_ranges == ()


def test_aks_api_server_profile_garbage_is_unknown():
    facts = aks_facts(aks_body(apiServerAccessProfile="enabled"))
    assert facts.authorized_ip_ranges is None and facts.private_cluster is None


def test_aks_autoscaling_pool_with_string_counts():
    body = aks_body(agentPoolProfiles=[pool(count="2", enableAutoScaling=True, minCount=1, maxCount="5")])
    (only,) = aks_facts(body).node_pools
    assert only.count == 2 and only.autoscaling and only.min_count == 1 and only.max_count == 5


def test_aks_gpu_windows_and_labelled_pools():
    body = aks_body(agentPoolProfiles=[
        pool(),
        pool("gpu", 1, "Standard_NC6s_v3", mode="User", nodeLabels={"accelerator": "nvidia"},
             nodeTaints=["sku=gpu:NoSchedule"]),
        pool("win", 2, "Standard_D4s_v3", os_type="Windows", mode="User", osSKU="Windows2022"),
    ])
    facts = aks_facts(body)
    system, gpu, win = facts.node_pools
    assert gpu.gpus == 1 and gpu.vcpus == 6 and gpu.memory_gb == 112 and gpu.node_labels == {"accelerator": "nvidia"}
    assert system.gpus == 0
    assert gpu.node_taints == ("sku=gpu:NoSchedule",) and gpu.repels_pods and not system.repels_pods
    assert not win.is_linux and system.is_linux
    assert facts.node_count == 6


def test_aks_arm64_pool_from_catalogue_and_from_name():
    body = aks_body(agentPoolProfiles=[pool("arm", 2, "Standard_D4ps_v5"), pool("arm2", 1, "Standard_D2pls_v6")])
    facts = aks_facts(body)
    arm, arm2 = facts.node_pools
    assert arm.arch == "Arm64" and arm.is_arm64 and arm.vcpus == 4
    assert arm2.arch == "Arm64" and arm2.vcpus is None  # not in the catalogue: inferred from the size name
    assert any("arm2" in note and "inferred" in note for note in facts.unknowns)


def test_aks_sku_lookup_is_case_insensitive_and_only_virtual_machines():
    body = aks_body(agentPoolProfiles=[pool(vm_size="standard_d4S_V3")])
    (only,) = aks_facts(body).node_pools
    assert only.vcpus == 4 and only.memory_gb == 16  # the "disks" entry of the same name (999 vCPUs) is ignored


def test_aks_constrained_vcpu_size_uses_available_vcpus():
    (only,) = aks_facts(aks_body(agentPoolProfiles=[pool(vm_size="Standard_E4-2s_v3")])).node_pools
    assert only.vcpus == 2 and only.memory_gb == 32


def test_aks_size_missing_from_catalogue():
    facts = aks_facts(aks_body(agentPoolProfiles=[pool(vm_size="Standard_X99s_v9")]))
    (only,) = facts.node_pools
    assert only.vcpus is None and only.memory_gb is None and only.arch is None and only.gpus is None
    assert any("Standard_X99s_v9" in note for note in facts.unknowns)


def test_aks_without_sku_catalogue():
    facts = aks_facts(skus=None)
    (only,) = facts.node_pools
    assert only.vcpus is None and only.arch is None
    assert any("SKU" in note for note in facts.unknowns)


def test_aks_pool_count_unknown_makes_node_count_unknown():
    body = aks_body(agentPoolProfiles=[pool(), pool("user", None, mode="User")])
    facts = aks_facts(body)
    assert facts.node_count is None
    assert facts.node_pools[1].count is None


@pytest.mark.parametrize("profiles", [None, "nodepool1", {"name": "x"}])
def test_aks_missing_agent_pool_profiles(profiles):
    body = aks_body()
    if profiles is None:
        del body["properties"]["agentPoolProfiles"]
    else:
        body["properties"]["agentPoolProfiles"] = profiles
    facts = aks_facts(body)
    assert facts.node_pools is None and facts.node_count is None
    assert any("agentPoolProfiles" in note for note in facts.unknowns)


def test_aks_agent_pool_entries_that_are_not_objects_are_skipped():
    facts = aks_facts(aks_body(agentPoolProfiles=[pool(), None, "x", 3]))
    assert [p.name for p in facts.node_pools] == ["nodepool1"]
    assert facts.node_count == 3


def test_aks_stopped_and_updating():
    assert aks_facts(aks_body(powerState={"code": "Stopped"})).power_state == "Stopped"
    assert aks_facts(aks_body(provisioningState="Updating")).provisioning_state == "Updating"


def test_node_pool_effective_labels():
    (only,) = aks_facts(aks_body(agentPoolProfiles=[pool(nodeLabels={"team": "ml"})])).node_pools
    labels = only.effective_labels
    assert labels["agentpool"] == "nodepool1"
    assert labels["kubernetes.azure.com/agentpool"] == "nodepool1"
    assert labels["kubernetes.io/os"] == "linux"
    assert labels["kubernetes.io/arch"] == "amd64"
    assert labels["node.kubernetes.io/instance-type"] == "Standard_D4s_v3"
    assert labels["kubernetes.azure.com/mode"] == "system"
    assert labels["team"] == "ml"


def test_node_pool_labels_ignore_non_string_values():
    (only,) = aks_facts(aks_body(agentPoolProfiles=[pool(nodeLabels={"a": "b", "n": 1, "x": None, "l": [1]})])) \
        .node_pools
    assert only.node_labels == {"a": "b", "n": "1"}


# ---------------------------------------------------------------------------------------------
# facts_from_bodies: side bodies
# ---------------------------------------------------------------------------------------------

def test_kubernetes_versions_exclude_preview_and_lts_only():
    assert aks_facts().ga_minor_versions == ("1.30", "1.31", "1.32")


def test_kubernetes_versions_older_orchestrators_shape():
    body = {"id": "x", "name": "default", "type": "Microsoft.ContainerService/locations/orchestrators",
            "properties": {"orchestrators": [
                {"orchestratorType": "Kubernetes", "orchestratorVersion": "1.29.9", "upgrades": []},
                {"orchestratorType": "Kubernetes", "orchestratorVersion": "1.30.5", "default": True},
                {"orchestratorType": "Kubernetes", "orchestratorVersion": "1.31.1", "isPreview": True},
            ]}}
    assert aks_facts(k8s_versions=body).ga_minor_versions == ("1.29", "1.30")


@pytest.mark.parametrize("body", [None, {}, [], "1.30", {"values": "x"}, {"values": [{"version": None}]},
                                  {"values": [{"version": "1.33", "isPreview": True}]}, {"properties": None}])
def test_kubernetes_versions_garbage_is_unknown(body):
    facts = aks_facts(k8s_versions=body)
    assert facts.ga_minor_versions is None
    assert any("Kubernetes versions" in note for note in facts.unknowns)


def test_trusted_access_bindings():
    body = load("trusted_access_bindings.json")
    body["value"].append({"name": "broken", "properties": {"provisioningState": "Failed", "roles": [ML_ROLE]}})
    body["value"].append({"name": "upper", "properties": {"roles": [ML_ROLE.upper()]}})
    body["value"].append({"name": "odd", "properties": {"roles": "not-a-list"}})
    assert aks_facts(trusted_access=body).trusted_access_ml_bindings == ("ws-binding", "upper")
    assert aks_facts(trusted_access=body["value"]).trusted_access_ml_bindings == ("ws-binding", "upper")
    assert aks_facts(trusted_access={"value": []}).trusted_access_ml_bindings == ()
    assert aks_facts(trusted_access=None).trusted_access_ml_bindings is None
    assert aks_facts(trusted_access="garbage").trusted_access_ml_bindings is None


def test_provider_states():
    facts = aks_facts(providers={
        "Microsoft.KubernetesConfiguration": provider("Microsoft.KubernetesConfiguration", "NotRegistered"),
        "Microsoft.Kubernetes": None,
        "Microsoft.ExtendedLocation": "Registering",
        "Microsoft.Odd": {"registrationState": 7},
    })
    assert facts.providers == {"Microsoft.KubernetesConfiguration": "NotRegistered", "Microsoft.Kubernetes": None,
                               "Microsoft.ExtendedLocation": "Registering", "Microsoft.Odd": None}
    assert aks_facts(providers=None).providers == {}


def test_extensions_bodies():
    ext = load("azureml_extension.json")
    assert aks_facts(extensions=[ext]).extensions == (ext,)
    assert aks_facts(extensions={"value": [ext, None, "x"]}).extensions == (ext,)
    assert aks_facts(extensions=[]).extensions == ()
    for garbage in (None, "x", {"value": 3}):
        facts = aks_facts(extensions=garbage)
        assert facts.extensions is None
        assert any("extensions" in note for note in facts.unknowns)


# ---------------------------------------------------------------------------------------------
# facts_from_bodies: Arc
# ---------------------------------------------------------------------------------------------

def test_arc_realistic_body():
    facts = arc_facts()
    assert facts.location == "westeurope"
    assert facts.provisioning_state == "Succeeded"
    assert facts.connectivity_status == "Connected"
    assert facts.distribution == "k3s" and not facts.is_openshift
    assert facts.infrastructure == "generic"
    assert facts.agent_version == "1.24.4"
    assert facts.kubernetes_version == "1.31.6+k3s1"
    assert facts.node_count == 3 and facts.total_core_count == 12
    assert facts.node_pools is None and facts.identity_type is None and facts.local_accounts_disabled is None
    assert facts.providers["Microsoft.ExtendedLocation"] == "Registered"
    assert facts.unknowns == ()


@pytest.mark.parametrize("distribution", ["openshift", "OpenShift", "azure_redhat_openshift"])
def test_arc_openshift(distribution):
    body = load("arc_connected_cluster.json")
    body["properties"]["distribution"] = distribution
    assert arc_facts(body).is_openshift


def test_arc_counts_as_strings_and_missing_fields():
    body = load("arc_connected_cluster.json")
    body["properties"].update(totalNodeCount="1", totalCoreCount=None, connectivityStatus=None, distribution=None)
    facts = arc_facts(body)
    assert facts.node_count == 1 and facts.total_core_count is None
    assert facts.connectivity_status is None and facts.distribution is None
    notes = " | ".join(facts.unknowns)
    assert "totalCoreCount" in notes and "connectivity" in notes and "distribution" in notes


# ---------------------------------------------------------------------------------------------
# facts_from_bodies never raises
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("ref", [AKS, ARC])
@pytest.mark.parametrize("body", [
    None, [], "cluster", 3, {}, {"properties": None}, {"properties": "x"}, {"properties": []},
    {"identity": None, "properties": {"agentPoolProfiles": [None, {"count": "many", "vmSize": 3}]}},
    {"location": 5, "properties": {"powerState": "Running", "apiServerAccessProfile": [],
                                   "servicePrincipalProfile": "msi", "totalNodeCount": -1, "totalCoreCount": 1.5,
                                   "kubernetesVersion": {"v": 1}, "disableLocalAccounts": "maybe"}},
    {"properties": {"agentPoolProfiles": [{"name": "p", "count": True, "nodeLabels": ["a"], "powerState": None,
                                           "enableAutoScaling": "yes", "minCount": "1.5"}]}},
])
def test_facts_from_garbage_bodies(ref, body):
    facts = facts_from_bodies(ref, body, extensions=7, providers=[1], k8s_versions="x", skus={"value": [None, 3]},
                              trusted_access={"value": [None]}, cli_version=2)
    assert isinstance(facts, ClusterFacts)
    assert facts.ref is ref
    assert facts.unknowns


def test_counts_reject_bools_floats_and_negatives():
    body = aks_body(agentPoolProfiles=[pool(count=True), pool("b", count=2.5), pool("c", count=-1),
                                       pool("d", count=2.0)])
    assert [p.count for p in aks_facts(body).node_pools] == [None, None, None, 2]


JSON_SCALARS = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=8)
KEYS = st.sampled_from([
    "location", "identity", "type", "properties", "provisioningState", "powerState", "code", "kubernetesVersion",
    "currentKubernetesVersion", "agentPoolProfiles", "name", "count", "vmSize", "osType", "mode",
    "enableAutoScaling", "minCount", "maxCount", "nodeLabels", "servicePrincipalProfile", "clientId",
    "disableLocalAccounts", "apiServerAccessProfile", "authorizedIPRanges", "enablePrivateCluster",
    "connectivityStatus", "distribution", "infrastructure", "agentVersion", "totalNodeCount", "totalCoreCount",
    "value", "values", "version", "isPreview", "capabilities", "roles", "resourceType", "locations",
    "registrationState", "extensionType", "orchestrators", "orchestratorVersion"]) | st.text(max_size=5)
JSON = st.recursive(JSON_SCALARS, lambda children: st.lists(children, max_size=4) |
                    st.dictionaries(KEYS, children, max_size=6), max_leaves=40)
JSON_DICTS = st.dictionaries(KEYS, JSON, max_size=8)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ref=st.sampled_from([AKS, ARC]), cluster=JSON_DICTS,
       side=st.fixed_dictionaries({name: JSON for name in (
           "extensions", "providers", "k8s_versions", "skus", "trusted_access", "cli_version")}))
def test_facts_from_arbitrary_json_never_raises(ref, cluster, side):
    before = copy.deepcopy(cluster)
    facts = facts_from_bodies(ref, cluster, **side)
    assert isinstance(facts, ClusterFacts)
    assert cluster == before  # the body is not modified (deepcopy keeps NaN objects, so identity makes them equal)
    assert all(isinstance(note, str) for note in facts.unknowns)
    assert facts.node_count is None or (isinstance(facts.node_count, int) and facts.node_count >= 0)
    for node_pool in facts.node_pools or ():
        assert isinstance(node_pool.name, str)
        assert isinstance(node_pool.effective_labels, dict)
