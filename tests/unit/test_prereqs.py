# --------------------------------------------------------------------------------------------
# Copyright (c) amlk8s contributors. Licensed under the MIT License.
# --------------------------------------------------------------------------------------------
"""Unit tests for azext_amlk8s.rules.prereqs: every check on realistic AKS and Arc cluster bodies."""

import dataclasses
import json
import re
from pathlib import Path

import pytest
from azure.cli.core.azclierror import InvalidArgumentValueError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from azext_amlk8s import _docdata
from azext_amlk8s.rules import prereqs
from azext_amlk8s.facts.cluster import ClusterFacts, ClusterRef, facts_from_bodies
from azext_amlk8s.rules.prereqs import (
    ALL_CHECK_IDS, FAIL, IGNORED, PASS, UNKNOWN, WARNING, CheckResult, Intent, blocking, run_checks,
    summarize_failures, validate_ignore_ids)
from tests.unit.samples import pool

FIXTURES = Path(__file__).parent / "fixtures"
SUB = "00000000-0000-0000-0000-000000000001"
AKS = ClusterRef(SUB, "ml-rg", "ml-aks", "managedClusters")
ARC = ClusterRef(SUB, "edge-rg", "edge-k3s", "connectedClusters")
ML_ROLE = "Microsoft.MachineLearningServices/workspaces/mlworkload"
ARC_PROVIDERS = ("Microsoft.KubernetesConfiguration", "Microsoft.Kubernetes", "Microsoft.ExtendedLocation",
                 "Microsoft.Relay")


def load(name):
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def provider(namespace, state="Registered"):
    return {"id": f"/subscriptions/{SUB}/providers/{namespace}", "namespace": namespace,
            "registrationState": state, "registrationPolicy": "RegistrationRequired", "resourceTypes": []}


def extension(name="azureml", ext_type="microsoft.azureml.kubernetes", state="Succeeded", error=None):
    body = load("azureml_extension.json")
    body["name"] = name
    body["id"] = body["id"].rsplit("/", 1)[0] + "/" + name
    body["properties"]["extensionType"] = ext_type
    body["properties"]["provisioningState"] = state
    body["properties"]["errorInfo"] = error
    return body


def aks(pools=None, identity="keep", trusted_access=None, **props):
    """Facts of the realistic AKS fixture, with properties replaced and side bodies overridable."""
    side = {
        "extensions": props.pop("extensions", []),
        "providers": props.pop("providers", {"Microsoft.KubernetesConfiguration":
                                             provider("Microsoft.KubernetesConfiguration")}),
        "k8s_versions": props.pop("k8s_versions", load("kubernetes_versions.json")),
        "skus": props.pop("skus", load("compute_skus.json")),
        "cli_version": props.pop("cli_version", "2.91.0"),
        "trusted_access": trusted_access,
    }
    body = load("aks_managed_cluster.json")
    location = props.pop("location", None)
    if location:
        body["location"] = location
    if identity != "keep":
        body["identity"] = identity
    if pools is not None:
        body["properties"]["agentPoolProfiles"] = pools
    body["properties"].update(props)
    return facts_from_bodies(AKS, body, **side)


def arc(**props):
    side = {
        "extensions": props.pop("extensions", []),
        "providers": props.pop("providers", {ns: provider(ns) for ns in ARC_PROVIDERS}),
        "k8s_versions": props.pop("k8s_versions", load("kubernetes_versions.json")),
        "cli_version": props.pop("cli_version", "2.91.0"),
    }
    body = load("arc_connected_cluster.json")
    body["properties"].update(props)
    return facts_from_bodies(ARC, body, **side)


def bindings():
    return load("trusted_access_bindings.json")


def assert_names_aks(text):
    assert "ml-rg" in text and "ml-aks" in text, text


def assert_names_arc(text):
    assert "edge-rg" in text and "edge-k3s" in text, text


INFERENCE = Intent(training=True, inference=True, service_type="loadBalancer")


# ---------------------------------------------------------------------------------------------
# The whole report
# ---------------------------------------------------------------------------------------------

def test_check_ids_are_stable_kebab_case_and_documented():
    assert len(set(ALL_CHECK_IDS)) == len(ALL_CHECK_IDS)
    assert ALL_CHECK_IDS == (
        "cluster-state", "provider-registration", "managed-identity", "local-accounts", "authorized-ip-ranges",
        "pod-identity", "outbound-network", "arc-connectivity", "node-architecture", "openshift",
        "existing-extension", "extension-busy",
        "inference-router-ha", "internal-load-balancer", "load-balancer-support", "capacity", "gpu-device-plugin",
        "kubernetes-version", "cli-version",
        # read from the cluster's Kubernetes API (incluster.py)
        "cluster-api", "legacy-azureml-fe", "azureml-namespace", "helm-ownership", "ingress-nginx", "ssl-secret",
        "gpu-software", "node-selector", "pod-slots")
    for cid in ALL_CHECK_IDS:
        assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", cid)
        assert re.search(rf"^{re.escape(cid)}\s", prereqs.__doc__, re.MULTILINE), cid


def test_healthy_aks_cluster_report():
    facts = aks(pools=[pool(vm_size="Standard_D8s_v5")], trusted_access=bindings(),
                extensions=[extension()])
    results = run_checks(facts, INFERENCE)
    assert [r.id for r in results] == [
        "cluster-state", "provider-registration", "managed-identity", "local-accounts", "authorized-ip-ranges",
        "pod-identity", "outbound-network", "node-architecture", "existing-extension", "extension-busy",
        "inference-router-ha", "load-balancer-support", "capacity", "gpu-device-plugin", "kubernetes-version",
        "cli-version"]
    assert {r.id: r.status for r in results if r.status != PASS} == {}
    assert not blocking(results)
    assert summarize_failures(results) == ""


def test_healthy_arc_cluster_report():
    results = run_checks(arc(), Intent(training=True, inference=True, service_type="nodePort"))
    statuses = {r.id: r.status for r in results}
    assert statuses == {
        "cluster-state": PASS, "provider-registration": PASS, "arc-connectivity": PASS,
        "node-architecture": UNKNOWN, "openshift": PASS, "existing-extension": PASS, "extension-busy": PASS,
        "inference-router-ha": PASS, "load-balancer-support": PASS, "capacity": UNKNOWN,
        "kubernetes-version": PASS, "cli-version": PASS}


def test_plain_check_without_settings_skips_setting_checks():
    ids = [r.id for r in run_checks(aks(), Intent())]
    for skipped in ("inference-router-ha", "internal-load-balancer", "load-balancer-support"):
        assert skipped not in ids
    assert "capacity" in ids


def test_run_checks_order_is_the_documented_order():
    for facts in (aks(), arc()):
        ids = [r.id for r in run_checks(facts, Intent(inference=True, service_type="loadBalancer",
                                                      internal_lb=True, nvidia_plugin=True))]
        assert ids == [cid for cid in ALL_CHECK_IDS if cid in ids]


def test_to_dict_keys_are_stable():
    result = CheckResult("cli-version", "Azure CLI version", PASS, "ok")
    assert result.to_dict() == {"check": "cli-version", "title": "Azure CLI version", "status": "pass",
                                "finding": "ok", "fix": None}
    for result in run_checks(aks(provisioningState="Updating"), INFERENCE):
        assert list(result.to_dict()) == ["check", "title", "status", "finding", "fix"]
        assert result.status in prereqs.STATUSES
        assert json.loads(json.dumps(result.to_dict())) == result.to_dict()


def test_every_failure_has_a_fix_naming_this_cluster():
    scenarios = [
        (aks(provisioningState="Updating"), Intent()),
        (aks(powerState={"code": "Stopped"}), Intent()),
        (aks(identity=None, servicePrincipalProfile={"clientId": "3b3c2f1e-0000-4000-8000-1234567890ab"}), Intent()),
        (aks(disableLocalAccounts=True, trusted_access={"value": []}), Intent()),
        (aks(pools=[pool(count=1)]), Intent(inference=True, router_ha=True)),
        (aks(pools=[pool(vm_size="Standard_D4ps_v5")]), Intent()),
        (aks(extensions=[extension("other")]), Intent()),
        (aks(extensions=[extension(state="Updating")]), Intent()),
        (arc(connectivityStatus="Offline"), Intent()),
        (arc(connectivityStatus="Expired"), Intent()),
    ]
    for facts, intent in scenarios:
        failures = blocking(run_checks(facts, intent))
        assert failures, facts
        for failure in failures:
            assert failure.fix, failure
            (assert_names_aks if facts.ref.is_aks else assert_names_arc)(failure.fix)


# ---------------------------------------------------------------------------------------------
# --ignore-check
# ---------------------------------------------------------------------------------------------

def test_ignore_turns_failure_into_ignored_and_keeps_it_in_the_report():
    facts = aks(provisioningState="Updating", extensions=[extension("other")])
    results = run_checks(facts, Intent(), ignore=["cluster-state"])
    state = next(r for r in results if r.id == "cluster-state")
    assert state.status == IGNORED
    assert state.finding.endswith(" (ignored by --ignore-check)")
    assert state.fix.startswith("az aks wait")
    assert [r.id for r in blocking(results)] == ["existing-extension"]


def test_ignore_does_not_touch_pass_warning_or_unknown():
    facts = aks(apiServerAccessProfile={"authorizedIPRanges": ["203.0.113.0/24"]}, k8s_versions=None)
    plain = run_checks(facts, Intent())
    ignored = run_checks(facts, Intent(), ignore=list(ALL_CHECK_IDS))
    assert plain == ignored


def test_ignore_is_case_insensitive():
    results = run_checks(aks(provisioningState="Failed"), Intent(), ignore=("Cluster-State ",))
    assert not blocking(results)


def test_validate_ignore_ids():
    assert validate_ignore_ids(["cluster-state", "CAPACITY", "cluster-state"]) == ["cluster-state", "capacity"]
    expected = ["local-accounts", "authorized-ip-ranges"]
    assert validate_ignore_ids(["local-accounts,authorized-ip-ranges", " "]) == expected
    assert not validate_ignore_ids([]) and not validate_ignore_ids(None)


def test_validate_ignore_ids_rejects_unknown_ids():
    with pytest.raises(InvalidArgumentValueError) as info:
        validate_ignore_ids(["cluster-state", "node-count"])
    assert "--ignore-check" in str(info.value) and "node-count" in str(info.value)
    recommendation = " ".join(info.value.recommendations)
    for cid in ALL_CHECK_IDS:
        assert cid in recommendation


def test_summarize_failures():
    results = run_checks(aks(provisioningState="Updating", powerState={"code": "Running"},
                             extensions=[extension("other")]), Intent())
    summary = summarize_failures(results)
    assert summary.startswith("Cluster state: The AKS cluster 'ml-aks' in resource group 'ml-rg' is in provisioning "
                              "state Updating")
    assert "Fix: az aks wait -g ml-rg -n ml-aks --updated" in summary
    assert "; Existing AzureML extension: AzureML extension 'other'" in summary
    assert "\n" not in summary


# ---------------------------------------------------------------------------------------------
# 1. cluster-state
# ---------------------------------------------------------------------------------------------

def check(facts, cid, intent=None):
    results = [r for r in run_checks(facts, intent or Intent()) if r.id == cid]
    return results[0] if results else None


def test_cluster_state_pass():
    result = check(aks(), "cluster-state")
    assert result.status == PASS and "running" in result.finding and result.fix is None


@pytest.mark.parametrize("state", ["Updating", "Creating", "Upgrading", "Scaling", "Starting"])
def test_cluster_state_aks_operation_in_progress(state):
    result = check(aks(provisioningState=state), "cluster-state")
    assert result.status == FAIL and state in result.finding
    assert result.fix == "az aks wait -g ml-rg -n ml-aks --updated"


@pytest.mark.parametrize("state", ["Failed", "Canceled"])
def test_cluster_state_aks_failed(state):
    result = check(aks(provisioningState=state), "cluster-state")
    assert result.status == FAIL and state in result.finding
    assert result.fix.startswith("az aks update -g ml-rg -n ml-aks")


def test_cluster_state_aks_deleting():
    result = check(aks(provisioningState="Deleting"), "cluster-state")
    assert result.status == FAIL and "deleted" in result.finding
    assert "az aks wait -g ml-rg -n ml-aks --deleted" in result.fix


def test_cluster_state_aks_stopped():
    result = check(aks(powerState={"code": "Stopped"}), "cluster-state")
    assert result.status == FAIL and "stopped" in result.finding
    assert result.fix == "az aks start -g ml-rg -n ml-aks"


def test_cluster_state_arc():
    assert check(arc(), "cluster-state").status == PASS
    result = check(arc(provisioningState="Updating"), "cluster-state")
    assert result.status == FAIL and result.fix == f"az resource wait --ids {ARC.resource_id} --updated"
    result = check(arc(provisioningState="Failed"), "cluster-state")
    assert result.status == FAIL
    assert f"az resource show --ids {ARC.resource_id}" in result.fix
    assert "az connectedk8s upgrade -g edge-rg -n edge-k3s" in result.fix


def test_cluster_state_unknown():
    result = check(aks(provisioningState=None), "cluster-state")
    assert result.status == UNKNOWN and AKS.resource_id in result.fix


# ---------------------------------------------------------------------------------------------
# 2. provider-registration
# ---------------------------------------------------------------------------------------------

def test_provider_registration_pass_aks_needs_only_kubernetes_configuration():
    result = check(aks(), "provider-registration")
    assert result.status == PASS and "Microsoft.KubernetesConfiguration" in result.finding


@pytest.mark.parametrize("state", ["NotRegistered", "Unregistered", "Registering"])
def test_provider_registration_fail(state):
    facts = aks(providers={"Microsoft.KubernetesConfiguration": provider("Microsoft.KubernetesConfiguration", state)})
    result = check(facts, "provider-registration")
    assert result.status == FAIL and state in result.finding and SUB in result.finding
    assert result.fix == "az provider register --namespace Microsoft.KubernetesConfiguration --wait"


def test_provider_registration_arc_needs_three_providers():
    facts = arc(providers={"Microsoft.KubernetesConfiguration": provider("Microsoft.KubernetesConfiguration"),
                           "Microsoft.Kubernetes": provider("Microsoft.Kubernetes", "Registering"),
                           "Microsoft.ExtendedLocation": provider("Microsoft.ExtendedLocation", "NotRegistered")})
    result = check(facts, "provider-registration")
    assert result.status == FAIL
    assert result.fix == ("az provider register --namespace Microsoft.Kubernetes --wait && "
                          "az provider register --namespace Microsoft.ExtendedLocation --wait")


def test_provider_registration_arc_needs_relay_unless_the_user_brings_one():
    providers = {ns: provider(ns) for ns in ARC_PROVIDERS}
    providers["Microsoft.Relay"] = provider("Microsoft.Relay", "NotRegistered")
    facts = arc(providers=providers)
    for intent in (Intent(), Intent(training=True, creates_relay=True)):
        result = check(facts, "provider-registration", intent)
        assert result.status == FAIL and "Microsoft.Relay (NotRegistered)" in result.finding
        assert "Azure Relay that deploy creates" in result.finding and "relayServerConnectionString" in result.finding
        assert result.fix == "az provider register --namespace Microsoft.Relay --wait"
    result = check(facts, "provider-registration", Intent(training=True, creates_relay=False))
    assert result.status == PASS and "Microsoft.Relay" not in result.finding
    assert prereqs.required_providers(AKS, Intent(creates_relay=True)) == ("Microsoft.KubernetesConfiguration",)
    assert prereqs.required_providers(ARC)[-1] == "Microsoft.Relay"     # what gather_facts reads


def test_provider_registration_unreadable():
    facts = arc(providers={"Microsoft.KubernetesConfiguration": provider("Microsoft.KubernetesConfiguration"),
                           "Microsoft.Kubernetes": None})
    result = check(facts, "provider-registration")
    assert result.status == UNKNOWN
    assert "az provider show -n Microsoft.Kubernetes --query registrationState" in result.fix
    assert "az provider show -n Microsoft.ExtendedLocation --query registrationState" in result.fix


def test_provider_registration_failure_wins_over_unreadable():
    facts = arc(providers={"Microsoft.KubernetesConfiguration": provider("Microsoft.KubernetesConfiguration",
                                                                         "NotRegistered")})
    result = check(facts, "provider-registration")
    assert result.status == FAIL and "Could not read" in result.finding


# ---------------------------------------------------------------------------------------------
# 3. managed-identity
# ---------------------------------------------------------------------------------------------

def test_managed_identity_system_and_user_assigned():
    assert check(aks(), "managed-identity").status == PASS
    result = check(aks(identity={"type": "UserAssigned", "userAssignedIdentities": {"/x/id1": {}}}),
                   "managed-identity")
    assert result.status == PASS and "user-assigned" in result.finding


def test_managed_identity_service_principal_fails():
    facts = aks(identity=None, servicePrincipalProfile={"clientId": "3b3c2f1e-0000-4000-8000-1234567890ab"})
    result = check(facts, "managed-identity")
    assert result.status == FAIL and "service principal" in result.finding and "not support" in result.finding
    assert "az aks update -g ml-rg -n ml-aks --enable-managed-identity" in result.fix
    assert "az aks nodepool add -g ml-rg --cluster-name ml-aks" in result.fix
    assert "az aks nodepool delete -g ml-rg --cluster-name ml-aks" in result.fix
    assert "recreate" in result.fix


def test_managed_identity_unknown_and_not_for_arc():
    result = check(aks(identity=None, servicePrincipalProfile=None), "managed-identity")
    assert result.status == UNKNOWN and result.fix.startswith("az aks show -g ml-rg -n ml-aks")
    assert check(arc(), "managed-identity") is None


# ---------------------------------------------------------------------------------------------
# 4. local-accounts
# ---------------------------------------------------------------------------------------------

def test_local_accounts_enabled():
    assert check(aks(), "local-accounts").status == PASS


def test_local_accounts_disabled_without_binding_fails():
    result = check(aks(disableLocalAccounts=True, trusted_access={"value": []}), "local-accounts")
    assert result.status == FAIL and ML_ROLE in result.finding
    assert "az aks update -g ml-rg -n ml-aks --enable-local-accounts" in result.fix
    assert ("az aks trustedaccess rolebinding create --resource-group ml-rg --cluster-name ml-aks --name <binding> "
            f"--source-resource-id /subscriptions/{SUB}/resourceGroups/") in result.fix
    assert f"--roles {ML_ROLE}" in result.fix and "2.53.0" in result.fix and "public cloud" in result.fix


def test_local_accounts_disabled_with_binding_passes():
    result = check(aks(disableLocalAccounts=True, trusted_access=bindings()), "local-accounts")
    assert result.status == PASS and "'ws-binding'" in result.finding


def test_local_accounts_disabled_bindings_unreadable():
    result = check(aks(disableLocalAccounts=True), "local-accounts")
    assert result.status == FAIL
    assert "az aks trustedaccess rolebinding list --resource-group ml-rg --cluster-name ml-aks" in result.finding


def test_local_accounts_unknown_and_not_for_arc():
    facts = aks()
    facts = dataclasses.replace(facts, local_accounts_disabled=None)
    result = check(facts, "local-accounts")
    assert result.status == UNKNOWN and result.fix == "az aks show -g ml-rg -n ml-aks --query disableLocalAccounts"
    assert check(arc(), "local-accounts") is None


# ---------------------------------------------------------------------------------------------
# 5. authorized-ip-ranges
# ---------------------------------------------------------------------------------------------

RANGES = {"authorizedIPRanges": ["203.0.113.0/24", "198.51.100.7/32"], "enablePrivateCluster": False}


def test_authorized_ranges_none_pass():
    assert check(aks(), "authorized-ip-ranges").status == PASS


def test_authorized_ranges_warn_with_region_and_pair_tags():
    result = check(aks(apiServerAccessProfile=RANGES), "authorized-ip-ranges")
    assert result.status == WARNING
    assert "AzureMachineLearning.eastus" in result.finding and "AzureMachineLearning.westus" in result.finding
    assert "203.0.113.0/24" in result.finding
    assert ("az network list-service-tags --location eastus --query \"values[?properties.systemService=="
            "'AzureMachineLearning' && (properties.region=='eastus' || properties.region=='westus')]"
            ".properties.addressPrefixes[]\" -o tsv") in result.fix
    assert ("az aks update -g ml-rg -n ml-aks --api-server-authorized-ip-ranges "
            "203.0.113.0/24,198.51.100.7/32,<prefixes>") in result.fix
    assert "az aks trustedaccess rolebinding create --resource-group ml-rg --cluster-name ml-aks" in result.fix


@pytest.mark.parametrize("location,pair", [
    ("westus3", "eastus"), ("eastus2", "centralus"), ("westeurope", "northeurope"), ("northeurope", "westeurope"),
    ("swedencentral", "swedensouth"), ("brazilsouth", "southcentralus"), ("southcentralus", "northcentralus"),
    ("West Central US", "westus2")])
def test_authorized_ranges_paired_regions(location, pair):
    result = check(aks(location=location, apiServerAccessProfile=RANGES), "authorized-ip-ranges")
    assert f"AzureMachineLearning.{pair}" in result.finding


def test_authorized_ranges_unknown_pair_is_said():
    result = check(aks(location="polandcentral", apiServerAccessProfile=RANGES), "authorized-ip-ranges")
    assert result.status == WARNING
    assert "AzureMachineLearning.polandcentral" in result.finding and "not known" in result.finding


def test_region_pairs_table_is_consistent():
    pairs = prereqs.REGION_PAIRS
    for left, right in _docdata._REGION_PAIRS_BOTH_WAYS:  # pylint: disable=protected-access
        assert pairs[left] == right and pairs[right] == left
    assert all(region == region.lower() and " " not in region for region in list(pairs) + list(pairs.values()))


def test_authorized_ranges_with_trusted_access_binding_pass():
    result = check(aks(apiServerAccessProfile=RANGES, trusted_access=bindings()), "authorized-ip-ranges")
    assert result.status == PASS and "'ws-binding'" in result.finding


def test_private_cluster_warns():
    result = check(aks(apiServerAccessProfile={"enablePrivateCluster": True, "enablePrivateClusterPublicFQDN": True}),
                   "authorized-ip-ranges")
    assert result.status == WARNING and "private" in result.finding and "public FQDN" in result.finding
    assert "az aks trustedaccess rolebinding create --resource-group ml-rg --cluster-name ml-aks" in result.fix
    result = check(aks(apiServerAccessProfile={"enablePrivateCluster": True}, trusted_access=bindings()),
                   "authorized-ip-ranges")
    assert result.status == PASS


def test_authorized_ranges_unknown_and_not_for_arc():
    result = check(aks(apiServerAccessProfile="on"), "authorized-ip-ranges")
    assert result.status == UNKNOWN and result.fix == "az aks show -g ml-rg -n ml-aks --query apiServerAccessProfile"
    assert check(arc(), "authorized-ip-ranges") is None


# ---------------------------------------------------------------------------------------------
# 6. arc-connectivity
# ---------------------------------------------------------------------------------------------

def test_arc_connected():
    result = check(arc(), "arc-connectivity")
    assert result.status == PASS and "1.24.4" in result.finding
    assert check(aks(), "arc-connectivity") is None


@pytest.mark.parametrize("status", ["Offline", "Connecting", "Unknown"])
def test_arc_not_connected(status):
    result = check(arc(connectivityStatus=status), "arc-connectivity")
    assert result.status == FAIL and status in result.finding
    assert "kubectl get pods -n azure-arc" in result.fix
    assert "az connectedk8s upgrade -g edge-rg -n edge-k3s" in result.fix


def test_arc_expired():
    result = check(arc(connectivityStatus="Expired"), "arc-connectivity")
    assert result.status == FAIL and "certificate" in result.finding
    assert "az connectedk8s delete -g edge-rg -n edge-k3s" in result.fix
    assert "az connectedk8s connect -g edge-rg -n edge-k3s" in result.fix


def test_arc_agent_not_installed_and_unknown():
    result = check(arc(connectivityStatus="AgentNotInstalled"), "arc-connectivity")
    assert result.status == FAIL and result.fix == "az connectedk8s connect -g edge-rg -n edge-k3s"
    result = check(arc(connectivityStatus=None), "arc-connectivity")
    assert result.status == UNKNOWN and result.fix == "az connectedk8s show -g edge-rg -n edge-k3s --query " \
                                                      "connectivityStatus"


# ---------------------------------------------------------------------------------------------
# 7. node-architecture
# ---------------------------------------------------------------------------------------------

def test_node_architecture_amd64_pass():
    assert check(aks(), "node-architecture").status == PASS


def test_node_architecture_arm64_only_fails():
    facts = aks(pools=[pool(vm_size="Standard_D4ps_v5"), pool("user", 2, "Standard_D8ps_v5", mode="User"),
                       pool("win", 1, os_type="Windows", mode="User")])
    result = check(facts, "node-architecture")
    assert result.status == FAIL and "Arm64" in result.finding and "nodepool1" in result.finding
    assert result.fix.startswith("Add an amd64 node pool: az aks nodepool add -g ml-rg --cluster-name ml-aks")


def test_node_architecture_mixed_warns():
    facts = aks(pools=[pool(), pool("arm", 2, "Standard_D4ps_v5", mode="User")])
    result = check(facts, "node-architecture")
    assert result.status == WARNING and "arm" in result.finding
    assert "nodeSelector.kubernetes.io/arch=amd64" in result.fix


def test_node_architecture_mixed_but_selector_excludes_arm64():
    facts = aks(pools=[pool(), pool("arm", 2, "Standard_D4ps_v5", mode="User")])
    intent = Intent(node_selector={"kubernetes.io/arch": "amd64"})
    assert check(facts, "node-architecture", intent).status == PASS
    intent = Intent(node_selector={"agentpool": "nodepool1"})
    assert check(facts, "node-architecture", intent).status == PASS


def test_node_architecture_unknown():
    result = check(aks(skus=None, pools=[pool(vm_size="Standard_D4s_v3")]), "node-architecture")
    assert result.status == UNKNOWN
    result = check(dataclasses.replace(aks(), node_pools=None), "node-architecture")
    assert result.status == UNKNOWN and "-g ml-rg --cluster-name ml-aks" in result.fix


def test_node_architecture_arc_is_unknown():
    result = check(arc(), "node-architecture")
    assert result.status == UNKNOWN and "kubectl get nodes -L kubernetes.io/arch" in result.fix
    assert "Arm64" in result.finding


# ---------------------------------------------------------------------------------------------
# 8. openshift
# ---------------------------------------------------------------------------------------------

def test_openshift_warns_with_scc_steps():
    result = check(arc(distribution="openshift", infrastructure="azure"), "openshift", Intent(extension_name="aml"))
    assert result.status == WARNING and "SELinux" in result.finding
    assert result.fix.startswith("Run `oc adm policy add-scc-to-user privileged ")
    for account in ("azure-arc:azure-arc-kube-aad-proxy-sa", "azureml:aml-kube-state-metrics",
                    "azureml:prom-admission", "azureml:default", "azureml:prom-operator",
                    "azureml:load-amlarc-selinux-policy-sa", "azureml:azureml-fe-v2", "azureml:prom-prometheus",
                    "azureml:azureml-ingress-nginx", "azureml:azureml-ingress-nginx-admission"):
        assert "system:serviceaccount:" + account in result.fix
    assert "oc edit scc privileged" in result.fix and "<compute-namespace>:default" in result.fix


def test_openshift_other_distribution_and_unknown():
    assert check(arc(), "openshift").status == PASS
    assert check(arc(distribution=None), "openshift").status == UNKNOWN
    assert check(aks(), "openshift") is None


# ---------------------------------------------------------------------------------------------
# 9. existing-extension and 10. extension-busy
# ---------------------------------------------------------------------------------------------

def test_existing_extension_none():
    result = check(aks(extensions=[extension("flux", "microsoft.flux")]), "existing-extension")
    assert result.status == PASS and "creates 'azureml'" in result.finding


def test_existing_extension_same_name_reapplies():
    result = check(aks(extensions=[extension()]), "existing-extension")
    assert result.status == PASS and "re-applies" in result.finding


def test_existing_extension_other_name_fails():
    result = check(aks(extensions=[extension("aml-old", "Microsoft.AzureML.Kubernetes")]), "existing-extension")
    assert result.status == FAIL and "'aml-old'" in result.finding and "only one" in result.finding
    assert "az amlk8s deploy -g ml-rg -c ml-aks -t managedClusters -n aml-old" in result.fix
    assert "az amlk8s delete -g ml-rg -c ml-aks -t managedClusters -n aml-old" in result.fix


def test_existing_extension_other_name_being_deleted():
    result = check(arc(extensions=[extension("aml-old", state="Deleting")]), "existing-extension")
    assert result.status == FAIL
    assert result.fix == "az amlk8s wait -g edge-rg -c edge-k3s -t connectedClusters -n aml-old --deleted"


def test_existing_extension_same_name_other_type_fails():
    result = check(aks(extensions=[extension("azureml", "microsoft.flux")]), "existing-extension")
    assert result.status == FAIL and "microsoft.flux" in result.finding and "--name" in result.fix


def test_existing_extension_same_name_other_type_with_an_azureml_extension_points_at_it():
    # Another name would be refused as a second AzureML extension: the fix names the one the cluster has.
    facts = aks(extensions=[extension("flux", "microsoft.flux"), extension("aml-ext")])
    result = check(facts, "existing-extension", Intent(extension_name="flux"))
    assert result.status == FAIL and "microsoft.flux" in result.finding
    assert result.fix == ("The cluster's AzureML extension is 'aml-ext': deploy to it with `az amlk8s deploy "
                          "-g ml-rg -c ml-aks -t managedClusters -n aml-ext <settings>`")


def test_existing_extension_unreadable():
    result = check(aks(extensions=None), "existing-extension")
    assert result.status == UNKNOWN and result.fix == "az amlk8s list -g ml-rg -c ml-aks -t managedClusters"


@pytest.mark.parametrize("state,flag", [("Creating", "--created"), ("Updating", "--updated"),
                                        ("Deleting", "--deleted"), ("Pending", "--updated")])
def test_extension_busy_fails(state, flag):
    result = check(aks(extensions=[extension(state=state)]), "extension-busy")
    assert result.status == FAIL and state in result.finding and "still in progress" in result.finding
    assert result.fix == f"az amlk8s wait -g ml-rg -c ml-aks -t managedClusters -n azureml {flag}"


def test_extension_busy_failed_warns_with_first_error_line():
    error = {"code": "ExtensionOperationFailed",
             "message": "Error: failed pre-install: pod healthcheck failed\nmore details\nand more"}
    result = check(aks(extensions=[extension(state="Failed", error=error)]), "extension-busy")
    assert result.status == WARNING
    assert "Failed: Error: failed pre-install: pod healthcheck failed" in result.finding
    assert "more details" not in result.finding
    assert result.fix == "az amlk8s verify -g ml-rg -c ml-aks -t managedClusters -n azureml"


def test_extension_busy_pass_and_unknown():
    assert check(aks(extensions=[extension()]), "extension-busy").status == PASS
    assert check(aks(extensions=[]), "extension-busy").status == PASS
    assert check(aks(extensions=[extension("azureml-2", state="Creating")]), "extension-busy",
                 Intent(extension_name="other")).status == PASS
    result = check(aks(extensions=None), "extension-busy")
    assert result.status == UNKNOWN and "-n azureml" in result.fix


def test_extension_names_match_case_insensitively():
    facts = aks(extensions=[extension("AzureML", state="Updating")])
    assert check(facts, "existing-extension").status == PASS
    assert check(facts, "extension-busy").status == FAIL


# ---------------------------------------------------------------------------------------------
# 11. inference-router-ha
# ---------------------------------------------------------------------------------------------

def ha(facts, router_ha=None, **intent):
    return check(facts, "inference-router-ha", Intent(inference=True, router_ha=router_ha, **intent))


def test_router_ha_only_with_inference():
    assert check(aks(), "inference-router-ha", Intent(training=True, inference=False)) is None
    assert check(aks(), "inference-router-ha", Intent()) is None


def test_router_ha_three_nodes_pass():
    result = ha(aks(), router_ha=True)
    assert result.status == PASS and "3 schedulable Linux nodes" in result.finding


def test_router_ha_explicit_on_one_node_fails():
    result = ha(aks(pools=[pool(count=1)]), router_ha=True)
    assert result.status == FAIL and "E40002" in result.finding and "INSUFFICIENT_NODE" in result.finding
    assert "--inference-router-ha false" in result.fix
    assert "az aks nodepool scale -g ml-rg --cluster-name ml-aks -n nodepool1 --node-count 3" in result.fix


def test_router_ha_explicit_on_autoscaling_pool_raises_min_count():
    facts = aks(pools=[pool(count=2, enableAutoScaling=True, minCount=1, maxCount=5)])
    result = ha(facts, router_ha=True)
    assert result.status == FAIL
    assert ("az aks nodepool update -g ml-rg --cluster-name ml-aks -n nodepool1 --update-cluster-autoscaler "
            "--min-count 3 --max-count 5") in result.fix


@pytest.mark.parametrize("count", [1, 2])
def test_router_ha_not_chosen_small_cluster_passes_with_note(count):
    result = ha(aks(pools=[pool(count=count)]))
    assert result.status == PASS and "inferenceRouterHA will default to false" in result.finding
    assert "DevTest" in result.finding


def test_router_ha_not_chosen_with_user_purpose():
    result = ha(aks(pools=[pool(count=2)]), cluster_purpose="FastProd")
    assert result.status == PASS and "clusterPurpose stays FastProd" in result.finding


def test_router_ha_off():
    assert ha(aks(pools=[pool(count=1)]), router_ha=False).status == PASS
    assert ha(dataclasses.replace(aks(), node_pools=None, node_count=None), router_ha=False).status == PASS


def test_router_ha_windows_and_arm64_and_stopped_pools_do_not_count():
    facts = aks(pools=[pool(count=2), pool("win", 3, os_type="Windows", mode="User"),
                       pool("arm", 3, "Standard_D4ps_v5", mode="User"),
                       pool("stopped", 3, mode="User", powerState={"code": "Stopped"})])
    assert facts.node_count == 11
    result = ha(facts, router_ha=True)
    assert result.status == FAIL and "2 schedulable Linux nodes" in result.finding


def test_router_ha_counts_only_nodes_matching_the_selector():
    facts = aks(pools=[pool(count=1), pool("ml", 2, mode="User", nodeLabels={"workload": "ml"})])
    result = ha(facts, router_ha=True, node_selector={"workload": "ml"})
    assert result.status == FAIL and "matching the node selector" in result.finding
    facts = aks(pools=[pool(count=1), pool("ml", 3, mode="User", nodeLabels={"workload": "ml"})])
    assert ha(facts, router_ha=True, node_selector={"workload": "ml"}).status == PASS


def test_router_ha_tainted_pools_may_not_host_the_router():
    tainted = {"nodeTaints": ["CriticalAddonsOnly=true:NoSchedule"]}
    result = ha(aks(pools=[pool(count=3, **tainted), pool("user", 2, mode="User")]), router_ha=True)
    assert result.status == UNKNOWN and "between 2 and 5" in result.finding
    assert ha(aks(pools=[pool(count=1, **tainted), pool("user", 3, mode="User")]), router_ha=True).status == PASS
    soft = {"nodeTaints": ["team=ml:PreferNoSchedule"]}
    assert ha(aks(pools=[pool(count=3, **soft)]), router_ha=True).status == PASS


def test_router_ha_selector_label_not_visible_in_arm_is_unknown():
    result = ha(aks(pools=[pool(count=3)]), router_ha=True, node_selector={"set-with": "kubectl"})
    assert result.status == UNKNOWN and "between 0 and 3" in result.finding
    assert result.fix == "kubectl get nodes -l set-with=kubectl -o name"


def test_router_ha_node_count_unknown():
    result = ha(aks(pools=[pool(count=None)]), router_ha=True)
    assert result.status == UNKNOWN and "unknown" in result.finding
    assert ha(dataclasses.replace(aks(), node_pools=None, node_count=None)).status == UNKNOWN


def test_router_ha_arc():
    result = ha(arc(totalNodeCount=1), router_ha=True)
    assert result.status == FAIL and "1 node:" in result.finding
    assert "--inference-router-ha false" in result.fix and "distribution's tooling" in result.fix
    assert ha(arc(totalNodeCount=1)).status == PASS
    assert ha(arc(), router_ha=True).status == PASS
    assert ha(arc(totalNodeCount=None)).status == UNKNOWN


def test_schedulable_node_range():
    facts = aks(pools=[pool(count=2), pool("maybe", 4, mode="User")])
    assert prereqs.schedulable_node_range(facts) == (6, 6)
    assert prereqs.schedulable_node_range(facts, {"agentpool": "maybe"}) == (4, 4)
    assert prereqs.schedulable_node_range(facts, {"team": "x"}) == (0, 6)
    assert prereqs.schedulable_node_range(arc()) == (3, 3)
    labelled = aks(pools=[pool(count=2, nodeLabels={"team": "y"}), pool("maybe", 4, mode="User")])
    assert prereqs.schedulable_node_range(labelled, {"team": "x"}) == (0, 0)  # "team" is managed in ARM
    arch_unknown = aks(skus=None, pools=[pool(count=2)])
    assert prereqs.schedulable_node_range(arch_unknown, {"kubernetes.io/arch": "amd64"}) == (0, 2)


def test_too_few_nodes_for_ha():
    assert prereqs.too_few_nodes_for_ha(aks()) is False
    assert prereqs.too_few_nodes_for_ha(aks(pools=[pool(count=2), pool("win", 5, os_type="Windows")])) is True
    assert prereqs.too_few_nodes_for_ha(aks(), {"set-with": "kubectl"}) is None
    assert prereqs.too_few_nodes_for_ha(arc(totalNodeCount=2)) is True
    assert prereqs.too_few_nodes_for_ha(arc(totalNodeCount=None)) is None


# ---------------------------------------------------------------------------------------------
# 12. internal-load-balancer and 13. load-balancer-support
# ---------------------------------------------------------------------------------------------

def test_internal_load_balancer():
    assert check(aks(), "internal-load-balancer", Intent(inference=True)) is None
    assert check(aks(), "internal-load-balancer", Intent(inference=True, internal_lb=True)).status == PASS
    result = check(arc(), "internal-load-balancer", Intent(inference=True, internal_lb=True))
    assert result.status == FAIL and "E40003" in result.finding and "AKS only" in result.finding
    assert "edge-k3s" in result.finding and "NodePort" in result.fix


def test_load_balancer_support():
    lb = Intent(inference=True, service_type="loadBalancer")
    result = check(arc(), "load-balancer-support", lb)
    assert result.status == WARNING and "E40001" in result.finding and "k3s" in result.finding
    assert "NodePort" in result.fix
    assert check(arc(), "load-balancer-support", Intent(inference=True, service_type="nodePort")).status == PASS
    assert check(arc(), "load-balancer-support", Intent(inference=True, service_type="clusterIP")).status == PASS
    assert check(aks(), "load-balancer-support", lb).status == PASS
    assert check(arc(distribution="eks", infrastructure="aws"), "load-balancer-support", lb).status == PASS
    assert check(arc(), "load-balancer-support", Intent(training=True, service_type="loadBalancer")) is None
    assert check(arc(), "load-balancer-support", Intent(inference=True)) is None


# ---------------------------------------------------------------------------------------------
# 14. capacity and 15. gpu-device-plugin
# ---------------------------------------------------------------------------------------------

def test_capacity_production_pass():
    result = check(aks(pools=[pool(vm_size="Standard_D8s_v5")]), "capacity", INFERENCE)
    assert result.status == PASS and "24 vCPU and 96 GiB" in result.finding
    assert "production inference and training minimum (the recommended nodes) is 12 vCPU" in result.finding


def test_capacity_production_on_the_recommended_nodes_passes():
    # 3 x 4 vCPU / 16 GiB: Microsoft's recommended production inference cluster (3 x DS3v2) and more.
    result = check(aks(), "capacity", INFERENCE)
    assert result.status == PASS and "12 vCPU and 48 GiB" in result.finding


def test_capacity_production_below_recommended_nodes_warns_with_scale_command():
    result = check(aks(pools=[pool(count=3, vm_size="Standard_D2s_v3")]), "capacity", INFERENCE)
    assert result.status == WARNING and "6 vCPU and 24 GiB" in result.finding and "12 vCPU" in result.finding
    assert result.fix == "az aks nodepool scale -g ml-rg --cluster-name ml-aks -n nodepool1 --node-count 6"


def test_capacity_production_uses_the_headline_minimum():
    minimum = prereqs.capacity_minimum(Intent(training=True, inference=False), 3)
    assert minimum == ("production", "training", 8000, 28 * 1024)
    assert prereqs.capacity_minimum(Intent(training=True, inference=False, cluster_purpose="FastProd"), 1)[2:] == \
        (8000, 28 * 1024)


def test_capacity_test_scenarios_use_requests():
    # Test: the recommended test node (DS2v2: 2 vCPU, 7 GiB; DS3v2 for both), never below the requests.
    assert prereqs.capacity_minimum(Intent(inference=True, training=False), 1) == ("test", "inference", 2000, 7 * 1024)
    assert prereqs.capacity_minimum(Intent(inference=False, training=True), 1) == ("test", "training", 2000, 7 * 1024)
    assert prereqs.capacity_minimum(Intent(inference=True, training=True), 1) == ("test", "both", 4000, 14 * 1024)
    assert prereqs.capacity_minimum(Intent(), 3) == ("production", "both", 12000, 3 * 14 * 1024)
    assert prereqs.capacity_minimum(Intent(cluster_purpose="DevTest"), 3)[0] == "test"
    assert prereqs.capacity_minimum(Intent(router_ha=False), 5)[0] == "test"
    assert prereqs.capacity_minimum(Intent(cluster_purpose="FastProd"), 1)[0] == "production"
    result = check(aks(pools=[pool(count=1, vm_size="Standard_D4s_v3")]), "capacity", INFERENCE)
    assert result.status == PASS and "test inference and training minimum (the recommended test node) is 4 vCPU " \
        "and 14 GiB" in result.finding


def test_capacity_test_below_requests_warns():
    facts = aks(pools=[pool(count=1, vm_size="Standard_B2s", enableAutoScaling=True, minCount=1, maxCount=2)])
    result = check(facts, "capacity", Intent(training=True, inference=True, cluster_purpose="DevTest",
                                             node_selector={"agentpool": "nodepool1"}))
    # 2 vCPU / 4 GiB covers the 1.91 vCPU / 2.8 GiB requested, but not what AKS reserves on top: below the DS3v2
    # the docs recommend for a test cluster with both workloads.
    assert result.status == WARNING and "1 vCPU" not in result.finding
    assert "offer 2 vCPU and 4 GiB" in result.finding and "is 4 vCPU and 14 GiB" in result.finding
    assert result.fix == ("az aks nodepool update -g ml-rg --cluster-name ml-aks -n nodepool1 "
                          "--update-cluster-autoscaler --min-count 4 --max-count 4")
    facts = aks(pools=[pool(count=1, vm_size="Standard_D2s_v3")])
    assert check(facts, "capacity", Intent(training=True, inference=False, router_ha=False)).status == PASS
    facts = aks(pools=[pool(count=1, vm_size="Standard_D2s_v3", enableAutoScaling=True, minCount=1, maxCount=2)])
    result = check(facts, "capacity", Intent(training=True, inference=True, cluster_purpose="FastProd"))
    assert result.status == WARNING
    assert result.fix == ("az aks nodepool update -g ml-rg --cluster-name ml-aks -n nodepool1 "
                          "--update-cluster-autoscaler --min-count 6 --max-count 6")


def test_capacity_unknown_sizes():
    result = check(aks(skus=None), "capacity", INFERENCE)
    assert result.status == UNKNOWN and "kubectl get nodes" in result.fix
    assert check(dataclasses.replace(aks(), node_pools=None), "capacity").status == UNKNOWN


def test_capacity_known_part_already_enough_passes():
    facts = aks(pools=[pool(vm_size="Standard_D8s_v5"), pool("x", 1, "Standard_X99s_v9", mode="User")])
    assert check(facts, "capacity", INFERENCE).status == PASS


def test_capacity_arc():
    result = check(arc(totalCoreCount=8), "capacity", INFERENCE)
    assert result.status == WARNING and "8 cores" in result.finding
    result = check(arc(totalCoreCount=32), "capacity", INFERENCE)
    assert result.status == UNKNOWN and "memory" in result.finding
    assert check(arc(totalCoreCount=None), "capacity").status == UNKNOWN


GPU_POOLS = [pool(), pool("gpu", 1, "Standard_NC6s_v3", mode="User")]


def test_gpu_pool_without_plugin_choice_warns():
    result = check(aks(pools=GPU_POOLS), "gpu-device-plugin")
    assert result.status == WARNING and "gpu" in result.finding
    assert "--install-nvidia-device-plugin true" in result.fix


def test_gpu_plugin_requested_without_gpus_warns():
    result = check(aks(), "gpu-device-plugin", Intent(nvidia_plugin=True))
    assert result.status == WARNING
    assert "az aks nodepool add -g ml-rg --cluster-name ml-aks" in result.fix


def test_gpu_plugin_pass_cases():
    assert check(aks(pools=GPU_POOLS), "gpu-device-plugin", Intent(nvidia_plugin=True)).status == PASS
    assert check(aks(pools=GPU_POOLS), "gpu-device-plugin", Intent(nvidia_plugin=False)).status == PASS
    assert check(aks(), "gpu-device-plugin").status == PASS


def test_gpu_unknown():
    assert check(aks(skus=None), "gpu-device-plugin").status == UNKNOWN
    assert check(arc(), "gpu-device-plugin", Intent(nvidia_plugin=True)).status == UNKNOWN
    assert check(arc(), "gpu-device-plugin") is None


# ---------------------------------------------------------------------------------------------
# 16. kubernetes-version and 17. cli-version
# ---------------------------------------------------------------------------------------------

def test_kubernetes_version_in_window():
    result = check(aks(), "kubernetes-version")
    assert result.status == PASS and "1.30 to 1.32" in result.finding
    assert check(aks(currentKubernetesVersion="1.30.12"), "kubernetes-version").status == PASS
    assert check(arc(), "kubernetes-version").status == PASS


def test_kubernetes_version_too_old_aks():
    result = check(aks(currentKubernetesVersion="1.29.9"), "kubernetes-version")
    assert result.status == WARNING and "1.29.9" in result.finding and "support policy" in result.finding
    assert "az aks get-upgrades -g ml-rg -n ml-aks" in result.fix
    assert "az aks upgrade -g ml-rg -n ml-aks --kubernetes-version" in result.fix


def test_kubernetes_version_too_old_arc():
    result = check(arc(kubernetesVersion="v1.27.10+k3s1"), "kubernetes-version")
    assert result.status == WARNING and "1.30 or newer" in result.fix


def test_kubernetes_version_preview():
    result = check(aks(currentKubernetesVersion="1.33.0"), "kubernetes-version")
    assert result.status == WARNING and "preview" in result.finding


def test_kubernetes_version_unknown():
    result = check(aks(k8s_versions=None), "kubernetes-version")
    assert result.status == UNKNOWN and result.fix == "az aks get-versions --location eastus -o table"
    assert check(arc(kubernetesVersion=None), "kubernetes-version").status == UNKNOWN


@pytest.mark.parametrize("version,status", [("2.91.0", PASS), ("2.51.0", PASS), ("2.51.0b1", FAIL),
                                            ("2.50.0", FAIL), ("2.9.0", FAIL), (None, UNKNOWN), ("dev", UNKNOWN)])
def test_cli_version(version, status):
    result = check(aks(cli_version=version), "cli-version")
    assert result.status == status
    if status == FAIL:
        assert result.fix == "az upgrade" and "2.51.0" in result.finding


# ---------------------------------------------------------------------------------------------
# Robustness
# ---------------------------------------------------------------------------------------------

def test_checks_on_empty_facts_do_not_raise():
    for ref in (AKS, ARC):
        results = run_checks(ClusterFacts(ref=ref), INFERENCE)
        assert results and all(r.status in (PASS, WARNING, FAIL, UNKNOWN) for r in results)


JSON_SCALARS = st.none() | st.booleans() | st.integers(-3, 10) | st.text(max_size=6) | st.sampled_from(
    ["Succeeded", "Updating", "Stopped", "Linux", "Windows", "Standard_D4s_v3", "Standard_D4ps_v5",
     "SystemAssigned", "msi", "Connected", "openshift", "1.31.2", "Registered", "microsoft.azureml.kubernetes"])
KEYS = st.sampled_from([
    "location", "identity", "type", "properties", "provisioningState", "powerState", "code",
    "currentKubernetesVersion", "kubernetesVersion", "agentPoolProfiles", "name", "count", "vmSize", "osType",
    "enableAutoScaling", "maxCount", "nodeLabels", "servicePrincipalProfile", "clientId", "disableLocalAccounts",
    "apiServerAccessProfile", "authorizedIPRanges", "enablePrivateCluster", "connectivityStatus", "distribution",
    "totalNodeCount", "totalCoreCount", "extensionType", "errorInfo", "message"])
JSON = st.recursive(JSON_SCALARS, lambda children: st.lists(children, max_size=3) |
                    st.dictionaries(KEYS, children, max_size=5), max_leaves=30)
INTENTS = st.builds(Intent, extension_name=st.sampled_from(["azureml", "aml"]),
                    training=st.none() | st.booleans(), inference=st.none() | st.booleans(),
                    router_ha=st.none() | st.booleans(),
                    service_type=st.sampled_from([None, "loadBalancer", "nodePort", "clusterIP"]),
                    internal_lb=st.booleans(), node_selector=st.dictionaries(st.sampled_from(
                        ["agentpool", "kubernetes.io/arch", "team"]), st.text(max_size=4), max_size=2),
                    nvidia_plugin=st.none() | st.booleans(),
                    cluster_purpose=st.sampled_from([None, "DevTest", "FastProd"]))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ref=st.sampled_from([AKS, ARC]), cluster=st.dictionaries(KEYS, JSON, max_size=6),
       extensions=st.none() | st.lists(st.dictionaries(KEYS, JSON, max_size=4), max_size=3),
       intent=INTENTS, ignore=st.lists(st.sampled_from(ALL_CHECK_IDS), max_size=3))
def test_checks_on_arbitrary_bodies_never_raise(ref, cluster, extensions, intent, ignore):
    facts = facts_from_bodies(ref, cluster, extensions=extensions, skus=load("compute_skus.json"),
                              k8s_versions=load("kubernetes_versions.json"), cli_version="2.91.0")
    results = run_checks(facts, intent, ignore)
    assert [r.id for r in results] == [cid for cid in ALL_CHECK_IDS if cid in {r.id for r in results}]
    for result in results:
        assert result.status in prereqs.STATUSES and result.finding
        assert result.status != FAIL or result.fix
        assert result.status != IGNORED or result.id in ignore
