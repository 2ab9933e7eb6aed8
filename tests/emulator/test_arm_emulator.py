"""The ARM emulator, exercised directly over HTTPS (no az)."""

import base64
import http.client
import json
import os
import signal
import ssl
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests

from tests.emulator import redact, scenarios

REPO = Path(__file__).resolve().parents[2]
EXT_API = "2023-05-01"
AKS_API = "2026-06-01"
AZUREML = "Microsoft.AzureML.Kubernetes"


class Client:
    """A small ARM client: bearer token, api-version, JSON, the emulator's CA only."""

    def __init__(self, emu):
        self.emu = emu
        self.session = requests.Session()
        self.session.trust_env = False        # this machine exports REQUESTS_CA_BUNDLE
        self.session.verify = emu.ca_path
        self.session.headers["Authorization"] = "Bearer test-token"

    def url(self, path):
        return path if path.startswith("https://") else self.emu.base_url + path

    def call(self, method, path, api=EXT_API, **kwargs):
        params = kwargs.pop("params", {})
        if api and "api-version=" not in path:
            params = dict(params, **{"api-version": api})
        return self.session.request(method, self.url(path), params=params, timeout=10, **kwargs)

    def get(self, path, **kwargs):
        return self.call("GET", path, **kwargs)

    def put(self, path, body, **kwargs):
        return self.call("PUT", path, json=body, **kwargs)

    def patch(self, path, body, **kwargs):
        return self.call("PATCH", path, json=body, **kwargs)

    def delete(self, path, **kwargs):
        return self.call("DELETE", path, **kwargs)

    def poll(self, url):
        return self.session.get(url, timeout=10)


@pytest.fixture
def arm(emu):
    client = Client(emu)
    yield client
    client.session.close()


def ext_body(ext_type=AZUREML, settings=None, protected=None, **props):
    properties = {"extensionType": ext_type, "autoUpgradeMinorVersion": True, "releaseTrain": "stable",
                  "scope": {"cluster": {"releaseNamespace": "azureml"}},
                  "configurationSettings": settings or {"enableTraining": "True"},
                  "configurationProtectedSettings": protected or {}}
    properties.update(props)
    return {"properties": properties}


def run_to_end(arm, response):
    """Poll an Azure-AsyncOperation URL until it ends; returns the statuses seen."""
    seen = []
    for _ in range(10):
        status = arm.poll(response.headers["Azure-AsyncOperation"]).json()["status"]
        seen.append(status)
        if status != "InProgress":
            return seen
    raise AssertionError(f"operation never ended: {seen}")


# ---------------------------------------------------------------------------------------------- world


def test_default_world_has_the_contract_names(emu):
    sub = scenarios.SUBSCRIPTION_ID
    assert (emu.subscription_id, emu.tenant_id) == (sub, "72f988bf-86f1-41af-91ab-2d7cd011db47")
    aks = ["aks-prod", "aks-poc", "aks-dev2", "aks-uami", "aks-sp", "aks-nolocal", "aks-nolocal-ta", "aks-iprange",
           "aks-tiny", "aks-oldk8s", "aks-arm64", "aks-gpu", "aks-updating", "aks-with-ext", "aks-https",
           "aks-other-name", "aks-busy", "aks-failed", "aks-many-ext"]
    arc = ["arc-k3s", "arc-gpu", "arc-offline", "arc-expired", "arc-openshift", "arc-single", "arc-with-ext"]
    for name in aks:
        assert emu.resource(scenarios.aks_id("rg-ml", name))["location"] == "eastus", name
    for name in arc:
        assert emu.resource(scenarios.arc_id("rg-arc", name))["location"] == "westeurope", name
    assert emu.resource(scenarios.rg_id("rg-empty"))["location"] == "eastus"

    def props(name):
        return emu.resource(scenarios.aks_id("rg-ml", name))["properties"]

    def pools(name):
        return [(p["name"], p["count"], p["vmSize"], p["mode"]) for p in props(name)["agentPoolProfiles"]]

    assert pools("aks-prod") == [("nodepool1", 3, "Standard_D4s_v3", "System")]
    assert pools("aks-poc") == [("nodepool1", 1, "Standard_D4s_v3", "System")]
    assert pools("aks-dev2") == [("nodepool1", 2, "Standard_DS3_v2", "System")]
    assert pools("aks-tiny") == [("nodepool1", 1, "Standard_B2s", "System")]
    assert pools("aks-arm64") == [("nodepool1", 3, "Standard_D4ps_v5", "System")]
    assert pools("aks-gpu") == [("nodepool1", 3, "Standard_D4s_v3", "System"),
                                ("gpupool", 2, "Standard_NC6s_v3", "User")]
    gpu = props("aks-gpu")["agentPoolProfiles"][1]
    assert (gpu["enableAutoScaling"], gpu["minCount"], gpu["maxCount"]) == (True, 1, 4)
    assert props("aks-prod")["kubernetesVersion"] == "1.31.5" and props("aks-prod")["disableLocalAccounts"] is False
    assert props("aks-oldk8s")["currentKubernetesVersion"] == "1.27.9"
    assert props("aks-nolocal")["disableLocalAccounts"] and props("aks-nolocal-ta")["disableLocalAccounts"]
    assert props("aks-iprange")["apiServerAccessProfile"]["authorizedIPRanges"] == ["203.0.113.0/24"]
    assert props("aks-updating")["provisioningState"] == "Updating"
    sp = emu.resource(scenarios.aks_id("rg-ml", "aks-sp"))
    assert "identity" not in sp and sp["properties"]["servicePrincipalProfile"]["clientId"] != "msi"
    uami = emu.resource(scenarios.aks_id("rg-ml", "aks-uami"))["identity"]
    assert uami["type"] == "UserAssigned" and len(uami["userAssignedIdentities"]) == 1

    def ext(cluster, name="azureml"):
        return emu.extension(cluster, name)["properties"]

    assert ext("aks-with-ext")["provisioningState"] == "Succeeded"
    assert ext("aks-with-ext")["currentVersion"] == "1.1.88"
    assert (ext("aks-with-ext")["version"], ext("aks-with-ext")["autoUpgradeMinorVersion"]) == (None, True)
    assert ext("aks-with-ext")["releaseTrain"] == "stable"
    assert ext("aks-with-ext")["configurationProtectedSettings"] == {}
    assert ext("aks-with-ext", "flux")["extensionType"] == "microsoft.flux"
    assert ext("aks-https")["configurationSettings"]["sslCname"] == "ml.contoso.com"
    assert set(ext("aks-https")["configurationProtectedSettings"]) == {"scoringFe.sslCert", "scoringFe.sslKey"}
    assert ext("aks-other-name", "aml-ext")["extensionType"] == "microsoft.azureml.kubernetes"
    assert ext("aks-busy")["provisioningState"] == "Creating"
    assert "E40002 INSUFFICIENT_NODE" in ext("aks-failed")["errorInfo"]["message"]
    assert ext("arc-with-ext")["configurationSettings"]["relayserver.enabled"] == "true"
    assert emu.extension("aks-prod") is None
    segment = "providers/Microsoft.KubernetesConfiguration/extensions"
    listing = [b["name"] for b in emu.world.children(emu.cluster_id("aks-many-ext"), segment)]
    assert listing == ["azureml", "flux", "dapr", "azuremonitor-containers", "azure-policy"]
    arc_props = {name: emu.resource(scenarios.arc_id("rg-arc", name))["properties"] for name in arc}
    assert arc_props["arc-k3s"]["distribution"] == "k3s"
    assert (arc_props["arc-gpu"]["totalNodeCount"], arc_props["arc-gpu"]["totalCoreCount"]) == (4, 64)
    assert arc_props["arc-offline"]["connectivityStatus"] == "Offline"
    assert arc_props["arc-expired"]["connectivityStatus"] == "Expired"
    assert arc_props["arc-openshift"]["distribution"] == "openshift"
    assert (arc_props["arc-single"]["totalNodeCount"], arc_props["arc-single"]["totalCoreCount"]) == (1, 4)
    for namespace in ("Microsoft.ContainerService", "Microsoft.Kubernetes", "Microsoft.KubernetesConfiguration",
                      "Microsoft.ExtendedLocation", "Microsoft.Relay"):
        assert emu.provider_state(namespace) == "Registered"
    assert emu.settings() == scenarios.DEFAULT_SETTINGS


def test_arc_relay_resources_match_the_protected_connection_string(emu, arm):
    settings = emu.extension("arc-with-ext")["properties"]["configurationSettings"]
    hc_id = settings["relayserver.hybridConnectionResourceID"]
    assert emu.resource(hc_id)["name"] == settings["relayserver.hybridConnectionName"] == "arc-with-ext"
    namespace_id = hc_id.rsplit("/hybridConnections/", 1)[0]
    assert emu.resource(namespace_id)["tags"] == {"created_by": "amlk8s"}
    keys = arm.call("POST", hc_id + "/authorizationRules/azureml_rw/listKeys", api="2017-04-01").json()
    protected = emu.extension("arc-with-ext")["properties"]["configurationProtectedSettings"]
    assert protected["relayServerConnectionString"] == keys["primaryConnectionString"]
    assert protected["relayserver.relayConnectionString"] == keys["primaryConnectionString"]
    assert keys["primaryConnectionString"] in emu.secret_values()


# ---------------------------------------------------------------------------------------------- HTTP basics


def test_tokens_app_service_and_imds(emu):
    session = requests.Session()
    session.trust_env = False
    session.verify = emu.ca_path
    resource = "https://management.core.windows.net/"
    answer = session.get(emu.base_url + "/msi/token", params={"api-version": "2019-08-01", "resource": resource},
                         headers={"X-IDENTITY-HEADER": "h"}, timeout=10)
    assert answer.status_code == 200
    token = answer.json()
    assert token["token_type"] == "Bearer" and int(token["expires_on"]) > time.time() + 3000
    claims = json.loads(base64.urlsafe_b64decode(token["access_token"].split(".")[1] + "=="))
    assert claims["tid"] == emu.tenant_id and claims["aud"] == resource
    assert {"oid", "iss", "exp", "appid"} <= set(claims)
    imds = session.get(emu.base_url + "/metadata/identity/oauth2/token",
                       params={"api-version": "2018-02-01", "resource": resource}, headers={"Metadata": "true"},
                       timeout=10)
    assert imds.status_code == 200 and int(imds.json()["expires_in"]) > 3000
    assert session.get(emu.base_url + "/metadata/identity/oauth2/token", params={"resource": resource},
                       timeout=10).status_code == 400
    assert [r.kind for r in emu.requests()] == ["token", "token", "token"]
    assert emu.requests()[0].response["access_token"] == token["access_token"]
    assert token["access_token"] not in emu.requests()[0].to_json() and "<redacted>" in emu.requests()[0].to_json()


def test_auth_api_version_unknown_and_case_insensitive_paths(emu, arm):
    cluster = f"/subscriptions/{emu.subscription_id}/resourcegroups/RG-ML/providers/microsoft.containerservice/" \
              "MANAGEDCLUSTERS/aks-prod"
    assert arm.get(cluster, api=AKS_API).json()["name"] == "aks-prod"
    missing_version = arm.get(cluster, api=None)
    assert missing_version.status_code == 400
    assert missing_version.json()["error"]["code"] == "MissingApiVersionParameter"
    anonymous = requests.get(emu.base_url + cluster, params={"api-version": AKS_API}, verify=emu.ca_path, timeout=10)
    assert anonymous.status_code == 401 and anonymous.json()["error"]["code"] == "AuthenticationFailed"
    unknown = arm.get(f"/subscriptions/{emu.subscription_id}/providers/Microsoft.Foo/bars", api="2020-01-01")
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "InvalidResourceNamespace"
    workspace = arm.get(scenarios.rg_id("rg-ml") + "/providers/Microsoft.MachineLearningServices/workspaces/ws-nope",
                        api="2024-10-01")
    assert workspace.status_code == 404 and workspace.json()["error"]["code"] == "ResourceNotFound"
    missing_cluster = arm.get(scenarios.aks_id("rg-ml", "aks-nope"), api=AKS_API)
    assert missing_cluster.status_code == 404 and missing_cluster.json()["error"]["code"] == "ResourceNotFound"
    missing_group = arm.get(scenarios.aks_id("rg-nope", "aks-prod"), api=AKS_API)
    assert missing_group.json()["error"]["code"] == "ResourceGroupNotFound"
    wrong_method = arm.call("POST", cluster, api=AKS_API)
    assert wrong_method.status_code == 405
    assert [r.unknown for r in emu.requests()] == [False, False, False, True, False, False, False, True]


def test_keep_alive_and_content_length(emu):
    context = ssl.create_default_context(cafile=emu.ca_path)
    conn = http.client.HTTPSConnection("127.0.0.1", emu.port, context=context, timeout=10)
    try:
        for _ in range(3):
            conn.request("GET", f"/subscriptions/{emu.subscription_id}?api-version=2022-12-01",
                         headers={"Authorization": "Bearer t"})
            answer = conn.getresponse()
            body = answer.read()
            assert answer.status == 200 and int(answer.headers["Content-Length"]) == len(body)
        conn.request("DELETE", emu.extension_id("aks-prod") + "?api-version=" + EXT_API,
                     headers={"Authorization": "Bearer t"})
        answer = conn.getresponse()
        assert answer.status == 204 and answer.headers["Content-Length"] == "0" and answer.read() == b""
    finally:
        conn.close()


def test_subscriptions_groups_versions_and_skus(emu, arm):
    subs = arm.get("/subscriptions", api="2022-12-01").json()["value"]
    assert [(s["subscriptionId"], s["displayName"], s["tenantId"]) for s in subs] == [
        (emu.subscription_id, "amlk8s-emulator", emu.tenant_id),
        (scenarios.OTHER_SUBSCRIPTION_ID, "amlk8s-emulator-2", emu.tenant_id)]
    group = scenarios.rg_id("rg-empty")
    assert arm.call("HEAD", group, api="2024-11-01").status_code == 204
    assert arm.call("HEAD", scenarios.rg_id("rg-nope"), api="2024-11-01").status_code == 404
    created = arm.put(scenarios.rg_id("rg-new"), {"location": "westus2", "tags": {"a": "b"}}, api="2024-11-01")
    assert created.status_code == 201 and created.json()["tags"] == {"a": "b"}
    assert arm.put(scenarios.rg_id("rg-new"), {"location": "westus2"}, api="2024-11-01").status_code == 200
    versions = arm.get(f"/subscriptions/{emu.subscription_id}/providers/Microsoft.ContainerService/locations/"
                       "eastus/kubernetesVersions", api=AKS_API).json()["values"]
    assert [(v["version"], v.get("isPreview", False)) for v in versions] == [
        ("1.30", False), ("1.31", False), ("1.32", False), ("1.33", True)]
    assert "1.32.4" in versions[2]["patchVersions"] and [v for v in versions if v.get("isDefault")]
    skus = arm.get(f"/subscriptions/{emu.subscription_id}/providers/Microsoft.Compute/skus", api="2021-07-01",
                   params={"$filter": "location eq 'eastus'"}).json()["value"]
    assert all(s["locations"] == ["eastus"] for s in skus)
    d4 = next(s for s in skus if s["name"] == "Standard_D4s_v3")
    caps = {c["name"]: c["value"] for c in d4["capabilities"]}
    assert (caps["vCPUs"], caps["MemoryGB"], caps["CpuArchitectureType"]) == ("4", "16", "x64")
    arm64 = next(s for s in skus if s["name"] == "Standard_D4ps_v5")
    assert {"name": "CpuArchitectureType", "value": "Arm64"} in arm64["capabilities"]
    nc = next(s for s in skus if s["name"] == "Standard_NC6s_v3")
    assert {"name": "GPUs", "value": "1"} in nc["capabilities"]
    pools = arm.get(scenarios.aks_id("rg-ml", "aks-gpu") + "/agentPools", api=AKS_API).json()["value"]
    assert [p["name"] for p in pools] == ["nodepool1", "gpupool"]
    assert arm.get(scenarios.aks_id("rg-ml", "aks-gpu") + "/agentPools/gpupool",
                   api=AKS_API).json()["properties"]["vmSize"] == "Standard_NC6s_v3"
    bindings = arm.get(scenarios.aks_id("rg-ml", "aks-nolocal-ta") + "/trustedAccessRoleBindings",
                       api=AKS_API).json()["value"]
    assert bindings[0]["properties"]["roles"] == ["Microsoft.MachineLearningServices/workspaces/mlworkload"]
    assert bindings[0]["properties"]["sourceResourceId"].endswith("/workspaces/ws1")
    assert arm.get(scenarios.aks_id("rg-ml", "aks-nolocal") + "/trustedAccessRoleBindings",
                   api=AKS_API).json() == {"value": []}


def test_providers_register_and_unregistered_writes(emu, arm):
    emu.reset("kc-unregistered")
    path = f"/subscriptions/{emu.subscription_id}/providers/Microsoft.KubernetesConfiguration"
    assert arm.get(path, api="2024-11-01").json()["registrationState"] == "NotRegistered"
    refused = arm.put(emu.extension_id("aks-prod"), ext_body())
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "MissingSubscriptionRegistration"
    registered = arm.call("POST", path + "/register", api="2024-11-01")
    assert registered.status_code == 200 and registered.json()["registrationState"] == "Registered"
    assert arm.put(emu.extension_id("aks-prod"), ext_body()).status_code == 201
    listing = arm.get(f"/subscriptions/{emu.subscription_id}/providers", api="2024-11-01").json()["value"]
    assert {p["namespace"] for p in listing} >= {"Microsoft.Kubernetes", "Microsoft.ExtendedLocation"}
    assert [r.method for r in emu.writes()] == ["PUT", "POST", "PUT"]

    emu.reset("arc-providers-unregistered")
    assert emu.provider_state("Microsoft.Kubernetes") == "NotRegistered"
    assert emu.provider_state("Microsoft.ExtendedLocation") == "NotRegistered"
    emu.settings(register_polls=1)
    arm.call("POST", f"/subscriptions/{emu.subscription_id}/providers/Microsoft.Kubernetes/register", api="2024-11-01")
    states = [arm.get(f"/subscriptions/{emu.subscription_id}/providers/Microsoft.Kubernetes",
                      api="2024-11-01").json()["registrationState"] for _ in range(2)]
    assert states == ["Registering", "Registered"]


# ---------------------------------------------------------------------------------------------- extensions


def test_put_create_then_reapply_and_the_operation(emu, arm):
    eid = emu.extension_id("aks-prod")
    created = arm.put(eid, ext_body(protected={"scoringFe.sslKey": "S3CRET"}))
    assert created.status_code == 201
    assert created.json()["properties"]["provisioningState"] == "Creating"
    assert "configurationProtectedSettings" not in created.json()["properties"]
    operation = created.headers["Azure-AsyncOperation"]
    assert operation.startswith(emu.base_url + eid + "/operations/") and operation.endswith("api-version=2023-05-01")
    assert "Retry-After" not in created.headers
    assert run_to_end(arm, created) == ["InProgress", "InProgress", "Succeeded"]
    final = arm.get(eid).json()
    props = final["properties"]
    assert (props["provisioningState"], props["currentVersion"], props["isSystemExtension"]) == \
        ("Succeeded", "1.1.88", False)
    assert props["aksAssignedIdentity"]["type"] == "SystemAssigned" and props["statuses"] == []
    assert "configurationProtectedSettings" not in props and final["systemData"]["createdByType"] == "Application"
    assert emu.extension("aks-prod")["properties"]["configurationProtectedSettings"] == {"scoringFe.sslKey": "S3CRET"}

    again = arm.put(eid, ext_body(settings={"enableTraining": "True", "x": "1"}))
    assert again.status_code == 200 and again.json()["properties"]["provisioningState"] == "Updating"
    conflict = arm.put(eid, ext_body())
    assert conflict.status_code == 409 and conflict.json()["error"]["code"] == "Conflict"
    assert run_to_end(arm, again)[-1] == "Succeeded"
    assert emu.extension("aks-prod")["properties"]["configurationProtectedSettings"] == {}
    assert [r.status for r in emu.writes()] == [201, 200, 409]


def test_put_validation(emu, arm):
    eid = emu.extension_id("aks-prod")
    pinned = arm.put(eid, ext_body(version="1.1.88"))
    assert pinned.status_code == 400 and pinned.json()["error"]["code"] == "InvalidParameter"
    assert "autoUpgradeMinorVersion" in pinned.json()["error"]["message"]
    no_auto = ext_body(version="1.1.88")
    del no_auto["properties"]["autoUpgradeMinorVersion"]           # the service's default is true
    assert arm.put(eid, no_auto).status_code == 400
    no_type = ext_body()
    del no_type["properties"]["extensionType"]
    assert arm.put(eid, no_type).status_code == 400
    assert arm.put(eid, "not json", headers={"Content-Type": "application/json"}).status_code == 400
    other_type = arm.put(emu.extension_id("aks-with-ext"), ext_body(ext_type="microsoft.flux"))
    assert other_type.status_code == 400 and "cannot be changed" in other_type.json()["error"]["message"]
    missing_cluster = arm.put(emu.extension_id("aks-prod").replace("aks-prod", "aks-nope"), ext_body())
    assert missing_cluster.status_code == 404 and missing_cluster.json()["error"]["code"] == "ResourceNotFound"
    busy = arm.put(emu.extension_id("aks-busy"), ext_body())
    assert busy.status_code == 409
    assert emu.extension("aks-prod") is None


def test_failed_outcomes_pinned_versions_and_offline_clusters(emu, arm):
    emu.set_outcome(cluster="aks-prod", status="Failed",
                    error={"code": "ExtensionOperationFailed", "message": "helm: chart hook failed"},
                    statuses=[{"code": "X", "displayStatus": "Failed", "level": "Error", "message": "m", "time": "t"}],
                    polls=1)
    eid = emu.extension_id("aks-prod")
    assert run_to_end(arm, arm.put(eid, ext_body())) == ["InProgress", "Failed"]
    operation = [r for r in emu.requests(kind="poll")][-1].response
    assert operation["error"] == {"code": "ExtensionOperationFailed", "message": "helm: chart hook failed"}
    props = arm.get(eid).json()["properties"]
    assert props["provisioningState"] == "Failed" and props["errorInfo"]["message"] == "helm: chart hook failed"
    assert props["statuses"][0]["code"] == "X"
    # The rule was used once: the next operation succeeds; a pinned version outside the catalogue fails.
    assert run_to_end(arm, arm.put(eid, ext_body()))[-1] == "Succeeded"
    bad = arm.put(eid, ext_body(autoUpgradeMinorVersion=False, version="1.1.99"))
    assert run_to_end(arm, bad)[-1] == "Failed"
    assert "Failed in download the Chart path not found" in arm.get(eid).json()["properties"]["errorInfo"]["message"]
    good = arm.put(eid, ext_body(autoUpgradeMinorVersion=False, version="1.1.76"))
    assert run_to_end(arm, good)[-1] == "Succeeded"
    assert arm.get(eid).json()["properties"]["currentVersion"] == "1.1.76"
    offline = arm.put(emu.extension_id("arc-offline"), ext_body())
    assert offline.status_code == 201 and run_to_end(arm, offline)[-1] == "Failed"
    assert "Offline" in arm.get(emu.extension_id("arc-offline")).json()["properties"]["errorInfo"]["message"]


def test_reads_of_the_resource_advance_the_operation(emu, arm):
    eid = emu.extension_id("arc-k3s")
    body = ext_body()
    body["identity"] = {"type": "SystemAssigned"}
    assert arm.put(eid, body).status_code == 201
    states = [arm.get(eid).json()["properties"]["provisioningState"] for _ in range(3)]
    assert states == ["Creating", "Creating", "Succeeded"]
    final = arm.get(eid).json()
    assert final["identity"]["principalId"] and final["identity"]["tenantId"] == emu.tenant_id
    assert "aksAssignedIdentity" not in final["properties"]
    assert emu.arm_reads()[-1].kind == "arm" and len(emu.requests(kind="poll")) == 0


def test_busy_extension_stays_until_finished(emu, arm):
    eid = emu.extension_id("aks-busy")
    assert [arm.get(eid).json()["properties"]["provisioningState"] for _ in range(4)] == ["Creating"] * 4
    assert arm.patch(eid, {"properties": {"configurationSettings": {"a": "b"}}}).status_code == 409
    assert arm.delete(eid).status_code == 409
    shown = emu.finish_operation(cluster="aks-busy", extension="azureml", status="Succeeded")
    assert shown["properties"]["provisioningState"] == "Succeeded"
    assert arm.get(eid).json()["properties"]["currentVersion"] == "1.1.88"


def test_patch_merges_settings_and_replaces_protected(emu, arm):
    eid = emu.extension_id("aks-https")
    before = emu.extension("aks-https")["properties"]
    patch = {"properties": {"configurationSettings": {"sslCname": "new.contoso.com", "allowInsecureConnections": None,
                                                      "extra": "1"},
                            "configurationProtectedSettings": {"scoringFe.sslCert": "Q0VSVA=="}}}
    answer = arm.patch(eid, patch)
    assert answer.status_code == 202 and "Azure-AsyncOperation" in answer.headers
    assert answer.json()["properties"]["provisioningState"] == "Updating"
    assert run_to_end(arm, answer)[-1] == "Succeeded"
    after = emu.extension("aks-https")["properties"]
    expected = dict(before["configurationSettings"], sslCname="new.contoso.com", extra="1")
    del expected["allowInsecureConnections"]
    assert after["configurationSettings"] == expected
    assert after["configurationProtectedSettings"] == {"scoringFe.sslCert": "Q0VSVA=="}
    only_public = arm.patch(eid, {"properties": {"configurationSettings": {"extra": "2"}}})
    run_to_end(arm, only_public)
    kept = emu.extension("aks-https")["properties"]["configurationProtectedSettings"]
    assert kept == {"scoringFe.sslCert": "Q0VSVA=="}
    assert arm.patch(eid, {"properties": {"version": "1.1.83"}}).status_code == 400
    pinned = arm.patch(eid, {"properties": {"version": "1.1.83", "autoUpgradeMinorVersion": False}})
    run_to_end(arm, pinned)
    assert arm.get(eid).json()["properties"]["currentVersion"] == "1.1.83"
    assert arm.patch(emu.extension_id("aks-prod"), {"properties": {}}).status_code == 404
    assert "Q0VSVA==" not in repr(emu.writes()[0]) and "<redacted>" in repr(emu.writes()[0])


def test_delete_location_polling_missing_and_force(emu, arm):
    eid = emu.extension_id("aks-with-ext")
    answer = arm.delete(eid)
    assert answer.status_code == 202 and answer.content == b""
    location = answer.headers["Location"]
    assert location.startswith(emu.base_url + eid + "/operationResults/")
    assert arm.get(eid).json()["properties"]["provisioningState"] == "Deleting"
    statuses = [arm.poll(location).status_code for _ in range(2)]
    assert statuses == [202, 204]
    assert arm.get(eid).status_code == 404 and emu.extension("aks-with-ext") is None
    assert emu.extension("aks-with-ext", "flux") is not None
    assert arm.delete(eid).status_code == 204

    emu.settings(polls=5)
    forced = arm.delete(emu.extension_id("aks-busy"), params={"forceDelete": "true"})
    assert forced.status_code == 202 and arm.poll(forced.headers["Location"]).status_code == 204
    assert emu.writes()[-1].query["forceDelete"] == "true"
    assert [op["force"] for op in emu.operations(extension="azureml") if op["kind"] == "delete"] == [False, True]


def test_failed_delete_answers_the_error_on_the_location(emu, arm):
    emu.set_outcome(cluster="aks-with-ext", extension="flux", operation="delete", status="Failed",
                    error={"code": "ExtensionDeleteFailed", "message": "uninstall hook failed"}, polls=0)
    answer = arm.delete(emu.extension_id("aks-with-ext", "flux"))
    failed = arm.poll(answer.headers["Location"])
    assert failed.status_code == 400 and failed.json()["error"]["code"] == "ExtensionDeleteFailed"
    assert emu.extension("aks-with-ext", "flux")["properties"]["provisioningState"] == "Failed"


def test_list_pages_with_next_link(emu, arm):
    base = emu.cluster_id("aks-many-ext") + "/providers/Microsoft.KubernetesConfiguration/extensions"
    page = arm.get(base).json()
    names = [e["name"] for e in page["value"]]
    pages = 1
    while page.get("nextLink"):
        assert page["nextLink"].startswith(emu.base_url) and "api-version=2023-05-01" in page["nextLink"]
        page = arm.poll(page["nextLink"]).json()
        names += [e["name"] for e in page["value"]]
        pages += 1
    assert pages == 3 and names == ["azureml", "flux", "dapr", "azuremonitor-containers", "azure-policy"]
    assert "nextLink" not in arm.get(emu.cluster_id("aks-with-ext") +
                                     "/providers/Microsoft.KubernetesConfiguration/extensions").json()
    emu.settings(page_size=10)
    assert len(arm.get(base).json()["value"]) == 5
    listing = arm.get(emu.cluster_id("arc-with-ext") + "/providers/Microsoft.KubernetesConfiguration/extensions")
    assert "configurationProtectedSettings" not in json.dumps(listing.json())


def test_retry_after_only_when_configured(emu, arm):
    emu.reset("retry-after-1")
    created = arm.put(emu.extension_id("aks-prod"), ext_body())
    assert created.headers["Retry-After"] == "1"
    assert arm.poll(created.headers["Azure-AsyncOperation"]).headers["Retry-After"] == "1"
    emu.reset("no-retry-after")
    created = arm.put(emu.extension_id("aks-prod"), ext_body())
    poll = arm.poll(created.headers["Azure-AsyncOperation"])
    assert "Retry-After" not in created.headers and "Retry-After" not in poll.headers
    emu.settings(retry_after_ms=50)
    assert arm.poll(created.headers["Azure-AsyncOperation"]).headers["x-ms-retry-after-ms"] == "50"
    delete = arm.delete(emu.extension_id("aks-with-ext"))
    assert delete.headers["x-ms-retry-after-ms"] == "50"


# ---------------------------------------------------------------------------------------------- relay


def test_relay_namespace_hybrid_connection_rule_and_keys(emu, arm, tmp_path):
    api = "2026-01-01"
    namespace = scenarios.rg_id("rg-arc") + "/providers/Microsoft.Relay/namespaces/relayns1"
    created = arm.put(namespace, {"location": "westeurope", "tags": {"created_by": "amlk8s"}}, api=api)
    assert created.status_code == 201 and created.json()["properties"]["provisioningState"] == "Created"
    states = [arm.get(namespace, api=api).json()["properties"]["provisioningState"] for _ in range(3)]
    assert states == ["Created", "Created", "Succeeded"]
    assert arm.get(namespace, api=api).json()["tags"] == {"created_by": "amlk8s"}
    hc = arm.put(namespace + "/hybridConnections/hc1", {"properties": {"requiresClientAuthorization": True}}, api=api)
    assert hc.status_code == 200 and hc.json()["properties"]["requiresClientAuthorization"] is True
    rule_id = namespace + "/hybridConnections/hc1/authorizationRules/azureml_rw"
    assert arm.put(rule_id, {"properties": {"rights": []}}, api=api).status_code == 400
    rule = arm.put(rule_id, {"properties": {"rights": ["Manage", "Send", "Listen"]}}, api=api)
    assert rule.status_code == 200 and rule.json()["properties"]["rights"] == ["Manage", "Send", "Listen"]
    keys = arm.call("POST", rule_id + "/listKeys", api=api).json()
    assert len(keys["primaryKey"]) == 44 and base64.b64decode(keys["primaryKey"])
    assert keys["primaryConnectionString"] == (
        f"Endpoint=sb://relayns1.servicebus.windows.net/;SharedAccessKeyName=azureml_rw;"
        f"SharedAccessKey={keys['primaryKey']};EntityPath=hc1")
    assert keys["keyName"] == "azureml_rw" and keys["secondaryKey"] != keys["primaryKey"]
    names = [n["name"] for n in arm.get(scenarios.rg_id("rg-arc") + "/providers/Microsoft.Relay/namespaces",
                                        api=api).json()["value"]]
    assert "relayns1" in names and len(names) == 4    # with the arc-with-ext, arc-k8sext-relay and arc-byo-relay relays
    missing_parent = arm.put(namespace.replace("relayns1", "nope") + "/hybridConnections/x", {"properties": {}},
                             api=api)
    assert missing_parent.status_code == 404 and missing_parent.json()["error"]["code"] == "ParentResourceNotFound"
    assert arm.get(namespace + "/hybridConnections/nope", api=api).status_code == 404
    # listKeys is a read, not a write; its answer is redacted everywhere but in memory.
    assert [r.method for r in emu.writes()] == ["PUT", "PUT", "PUT", "PUT", "PUT"]
    list_keys = [r for r in emu.arm_reads() if r.is_list_keys][0]
    assert list_keys.response["primaryKey"] == keys["primaryKey"]
    assert keys["primaryKey"] not in repr(list_keys) and keys["primaryKey"] not in list_keys.to_json()
    log_text = Path(emu.log_path).read_text()
    assert keys["primaryKey"] not in log_text and keys["secondaryKey"] not in log_text
    deleted = arm.delete(namespace, api=api)
    assert deleted.status_code == 202
    assert [arm.poll(deleted.headers["Location"]).status_code for _ in range(3)] == [202, 202, 204]
    assert emu.resource(rule_id) is None


# ---------------------------------------------------------------------------------------------- faults


def test_fault_status_429_then_normal(emu, arm):
    name = emu.add_fault(method="PUT", path=r"/extensions/", status=429, headers={"Retry-After": "1"}, times=1)
    first = arm.put(emu.extension_id("aks-prod"), ext_body())
    assert first.status_code == 429 and first.headers["Retry-After"] == "1"
    assert first.json()["error"]["code"] == "TooManyRequests"
    assert arm.put(emu.extension_id("aks-prod"), ext_body()).status_code == 201
    assert [(r.status, r.fault) for r in emu.writes()] == [(429, name), (201, None)]
    assert emu.faults()[0]["fired"] == 1


def test_fault_500_nth_and_times(emu, arm):
    emu.add_fault(method="GET", path=r"managedClusters/aks-prod$", status=500, nth=2, times=2,
                  code="InternalServerError", message="boom")
    codes = [arm.get(scenarios.aks_id("rg-ml", "aks-prod"), api=AKS_API).status_code for _ in range(4)]
    assert codes == [200, 500, 500, 200]
    assert emu.requests()[1].response["error"] == {"code": "InternalServerError", "message": "boom"}


def test_fault_drop_and_drop_after(emu, arm):
    emu.add_fault(method="GET", path=r"/subscriptions/[^/]+$", action="drop")
    with pytest.raises(requests.ConnectionError):
        arm.get(f"/subscriptions/{emu.subscription_id}", api="2022-12-01")
    assert arm.get(f"/subscriptions/{emu.subscription_id}", api="2022-12-01").status_code == 200
    assert [r.status for r in emu.requests()] == [None, 200]
    emu.add_fault(method="PUT", path=r"/extensions/azureml$", action="drop_after")
    with pytest.raises(requests.ConnectionError):
        arm.put(emu.extension_id("aks-prod"), ext_body())
    assert emu.extension("aks-prod")["properties"]["provisioningState"] == "Creating"   # it happened anyway
    assert arm.put(emu.extension_id("aks-prod"), ext_body()).status_code == 409


def test_fault_delay_and_slow_scenario(emu, arm):
    emu.add_fault(path=r"/subscriptions$", delay=0.4)
    started = time.monotonic()
    assert arm.get("/subscriptions", api="2022-12-01").status_code == 200
    assert time.monotonic() - started >= 0.4
    assert emu.requests()[-1].fault.endswith("delay")
    emu.reset("slow")
    started = time.monotonic()
    arm.get("/subscriptions", api="2022-12-01")
    assert time.monotonic() - started >= 0.3


# ---------------------------------------------------------------------------------------------- log


def test_request_log_kinds_writes_reads_and_redaction(emu, arm):
    emu.settings(polls=0)
    token = arm.session.get(emu.base_url + "/msi/token?resource=x", headers={"X-IDENTITY-HEADER": "h"}, timeout=10)
    assert token.status_code == 200
    eid = emu.extension_id("aks-prod")
    created = arm.put(eid, ext_body(protected={"scoringFe.sslKey": "TOP-SECRET-VALUE"}))
    arm.poll(created.headers["Azure-AsyncOperation"])
    arm.get(eid)
    arm.session.get(emu.base_url + "/_emulator/info", timeout=10)
    assert [r.kind for r in emu.requests()] == ["token", "arm", "poll", "arm", "control"]
    assert [r.method for r in emu.writes()] == ["PUT"] and [r.method for r in emu.arm_reads()] == ["GET"]
    put = emu.writes()[0]
    assert put.body["properties"]["configurationProtectedSettings"] == {"scoringFe.sslKey": "TOP-SECRET-VALUE"}
    assert put.query == {"api-version": "2023-05-01"} and put.status == 201 and put.fault is None
    for text in (repr(put), str(put), put.to_json(), json.dumps(redact(put.body))):
        assert "TOP-SECRET-VALUE" not in text and "<redacted>" in text
    mark = emu.mark()
    arm.get(eid)
    assert [r.seq for r in emu.requests(since=mark)] == [mark + 1]
    emu.clear_log()
    assert emu.requests() == []
    log_text = Path(emu.log_path).read_text()
    assert "TOP-SECRET-VALUE" not in log_text and "scoringFe.sslKey" in log_text
    assert all(json.loads(line)["kind"] in ("token", "arm", "poll", "control") for line in log_text.splitlines())
    assert redact({"x": "Endpoint=sb://n/;SharedAccessKey=abc=;EntityPath=h"})["x"] == \
        "Endpoint=sb://n/;SharedAccessKey=<redacted>;EntityPath=h"


# ---------------------------------------------------------------------------------------------- control


def test_control_api(emu, arm):
    control = requests.Session()
    control.trust_env = False
    control.verify = emu.ca_path
    url = emu.base_url + "/_emulator"
    info = control.get(url + "/info", timeout=10).json()
    assert info["subscription_id"] == emu.subscription_id and "kc-unregistered" in info["scenarios"]
    assert control.post(url + "/reset", json={"scenario": "kc-unregistered"}, timeout=10).json()["scenario"] == \
        "kc-unregistered"
    assert emu.provider_state("Microsoft.KubernetesConfiguration") == "NotRegistered"
    assert control.post(url + "/settings", json={"polls": 0}, timeout=10).json()["polls"] == 0
    assert control.post(url + "/providers", json={"namespace": "Microsoft.KubernetesConfiguration",
                                                  "state": "Registered"}, timeout=10).status_code == 200
    fault = control.post(url + "/faults", json={"method": "GET", "path": "/subscriptions$", "status": 503},
                         timeout=10).json()["name"]
    assert arm.get("/subscriptions", api="2022-12-01").status_code == 503
    created = arm.put(emu.extension_id("aks-prod"), ext_body(protected={"k": "CONTROL-SECRET"}))
    assert created.status_code == 201
    records = control.get(url + "/requests", params={"kind": "arm"}, timeout=10).json()["value"]
    assert [(r["method"], r["fault"]) for r in records] == [("GET", fault), ("PUT", None)]
    assert "CONTROL-SECRET" not in json.dumps(records)
    shown = control.get(url + "/resource", params={"id": emu.extension_id("aks-prod")}, timeout=10).json()
    assert shown["properties"]["configurationProtectedSettings"] == {"k": "<redacted>"}
    finished = control.post(url + "/finish", json={"cluster": "aks-prod", "status": "Failed"}, timeout=10).json()
    assert finished["extension"]["properties"]["provisioningState"] == "Failed"
    assert control.post(url + "/outcomes", json={"cluster": "aks-poc"}, timeout=10).status_code == 200
    assert control.post(url + "/settings", json={"nope": 1}, timeout=10).status_code == 400
    assert control.delete(url + "/requests", timeout=10).status_code == 204
    assert [r.kind for r in emu.requests()] == ["control"]   # only the DELETE itself is left


# ---------------------------------------------------------------------------------------------- standalone


def test_standalone_mode(tmp_path):
    state = tmp_path / "state"
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.Popen([sys.executable, "-m", "tests.emulator", "--scenario", "default", "--port", "0",
                             "--state-dir", str(state)], cwd=str(REPO), env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    watchdog = threading.Timer(30, proc.kill)          # never hang the suite on a stuck child
    watchdog.start()
    try:
        line = proc.stdout.readline().strip()
        assert line.startswith("https://127.0.0.1:"), proc.stderr.read() if proc.poll() is not None else line
        info = json.loads((state / "emulator.json").read_text())
        assert info["base_url"] == line and info["pid"] == proc.pid
        assert info["subscription_id"] == scenarios.SUBSCRIPTION_ID and Path(info["ca_path"]).is_file()
        env_text = (state / "env").read_text()
        assert f"AZURE_CONFIG_DIR={state / 'azure-config'}" in env_text
        assert f"REQUESTS_CA_BUNDLE={info['ca_path']}" in env_text and "unset SSL_CERT_FILE" in env_text
        assert f"IDENTITY_ENDPOINT={line}/msi/token" in env_text and "AZURE_EXTENSION_DEV_SOURCES=" in env_text
        profile = json.loads((state / "azure-config" / "azureProfile.json").read_text())
        assert profile["subscriptions"][0]["id"] == scenarios.SUBSCRIPTION_ID
        assert (state / "extension-dev" / "amlk8s.egg-info" / "PKG-INFO").is_file()
        session = requests.Session()
        session.trust_env = False
        answer = session.get(line + f"/subscriptions/{info['subscription_id']}", params={"api-version": "2022-12-01"},
                             headers={"Authorization": "Bearer t"}, verify=info["ca_path"], timeout=10)
        assert answer.json()["displayName"] == "amlk8s-emulator"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
        logged = [json.loads(x) for x in (state / "requests.jsonl").read_text().splitlines()]
        assert [r["path"] for r in logged] == [f"/subscriptions/{info['subscription_id']}"]
    finally:
        watchdog.cancel()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
        proc.stderr.close()


def test_a_deployments_secure_parameters_never_reach_the_log(emu, arm):
    """ARM never logs or returns secureString/secureObject parameter values; the emulator's log does the same,
    also for azure-cli's body, whose `template` key is unquoted (the body is then logged as text)."""
    path = (f"/subscriptions/{emu.subscription_id}/resourceGroups/rg-ml/providers/Microsoft.Resources/deployments/d1"
            "?api-version=2022-09-01")
    template = {"$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
                "contentVersion": "1.0.0.0", "resources": [],
                "parameters": {"key": {"type": "secureString"}, "cname": {"type": "string"}}}
    properties = {"mode": "Incremental", "parameters": {"key": {"value": "TOP-SECRET-KEY"},
                                                        "cname": {"value": "ml.contoso.com"}}}
    unquoted = '{"properties": {template: ' + json.dumps(template) + ", " + json.dumps(properties)[1:] + "}"
    for body in (json.dumps({"properties": dict(properties, template=template)}), unquoted):
        arm.session.put(emu.base_url + path, data=body, headers={"Content-Type": "application/json"}, timeout=10)
    logged = [r for r in emu.requests() if r.method == "PUT"]
    assert len(logged) == 2
    for record in logged:
        assert "TOP-SECRET-KEY" not in record.to_json() and "ml.contoso.com" in record.to_json()
    assert "TOP-SECRET-KEY" not in Path(emu.log_path).read_text()
