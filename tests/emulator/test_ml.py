"""Azure Machine Learning workspaces and computes, and AKS Trusted Access role bindings, over HTTPS."""

import pytest

from tests.emulator import scenarios

ML = {"api-version": "2024-10-01"}
AKS = {"api-version": "2024-09-01"}
WS1 = scenarios.workspace_id("rg-ml", "ws1")


def kubernetes_compute(resource_id, namespace="azureml", identity=None):
    return {"location": "eastus", "identity": identity or {"type": "SystemAssigned"},
            "properties": {"computeType": "Kubernetes", "resourceId": resource_id, "description": "attached",
                           "properties": {"namespace": namespace, "defaultInstanceType": "defaultinstancetype"}}}


def run_to_end(session, answer, header="Azure-AsyncOperation"):
    statuses = []
    for _ in range(10):
        body = session.get(answer.headers[header], timeout=10).json()
        statuses.append(body["status"])
        if body["status"] != "InProgress":
            return statuses, body
    raise AssertionError(statuses)


def test_workspaces_in_several_subscriptions(emu, session):
    ws = session.get(emu.base_url + WS1, params=ML, timeout=10).json()
    assert (ws["type"], ws["location"], ws["sku"]["name"], ws["identity"]["type"]) == \
        ("Microsoft.MachineLearningServices/workspaces", "eastus", "Basic", "SystemAssigned")
    assert ws["properties"]["provisioningState"] == "Succeeded" and ws["properties"]["workspaceId"]
    binding = emu.resource(emu.cluster_id("aks-nolocal-ta") + "/trustedAccessRoleBindings/azureml-ws1")
    assert binding["properties"]["sourceResourceId"] == ws["id"]
    names = [w["name"] for w in session.get(emu.base_url + f"/subscriptions/{emu.subscription_id}/providers/"
                                            "Microsoft.MachineLearningServices/workspaces", params=ML,
                                            timeout=10).json()["value"]]
    assert names == ["ws1", "ws-legacy"]
    other = session.get(emu.base_url + scenarios.workspace_id("rg-ml-other", "ws-other",
                                                              scenarios.OTHER_SUBSCRIPTION_ID), params=ML, timeout=10)
    assert other.status_code == 200
    missing = session.get(emu.base_url + scenarios.workspace_id("rg-ml", "nope"), params=ML, timeout=10)
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "ResourceNotFound"


def test_seeded_computes_and_paging(emu, session):
    [k8s] = session.get(emu.base_url + WS1 + "/computes", params=ML, timeout=10).json()["value"]
    assert (k8s["name"], k8s["properties"]["computeType"], k8s["properties"]["resourceId"]) == \
        ("k8s-with-ext", "Kubernetes", emu.cluster_id("aks-with-ext"))
    assert k8s["properties"]["properties"]["namespace"] == "azureml" and k8s["identity"]["type"] == "SystemAssigned"
    legacy = session.get(emu.base_url + scenarios.workspace_id("rg-ml", "ws-legacy") + "/computes/aks-v1", params=ML,
                         timeout=10).json()
    assert (legacy["properties"]["computeType"], legacy["properties"]["resourceId"]) == \
        ("AKS", emu.cluster_id("aks-v1-attached"))
    assert "azureml-fe" in legacy["properties"]["properties"]["systemServices"][0]["version"]
    emu.settings(polls=0)
    for name in ("c1", "c2", "c3"):
        session.put(emu.base_url + WS1 + f"/computes/{name}", params=ML,
                    json=kubernetes_compute(emu.cluster_id("aks-with-ext")), timeout=10)
    page = session.get(emu.base_url + WS1 + "/computes", params=ML, timeout=10).json()
    names = [c["name"] for c in page["value"]]
    while page.get("nextLink"):
        assert "$skip=" in page["nextLink"]
        page = session.get(page["nextLink"], timeout=10).json()
        names += [c["name"] for c in page["value"]]
    assert names == ["k8s-with-ext", "c1", "c2", "c3"]


def test_attach_kubernetes_compute_long_running(emu, session):
    url = emu.base_url + WS1 + "/computes/k8s-https"
    uami = f"{scenarios.rg_id('rg-ml')}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/ml-id"
    created = session.put(url, params=ML, json=kubernetes_compute(
        emu.cluster_id("aks-https"), identity={"type": "UserAssigned", "userAssignedIdentities": {uami: {}}}),
        timeout=10)
    assert created.status_code == 201 and created.json()["properties"]["provisioningState"] == "Creating"
    operation = created.headers["Azure-AsyncOperation"]
    assert "/providers/Microsoft.MachineLearningServices/locations/eastus/computeOperationsStatus/" in operation
    statuses, _ = run_to_end(session, created)
    assert statuses == ["InProgress", "InProgress", "Succeeded"]
    assert [r.kind for r in emu.requests()][-1] == "poll"
    shown = session.get(url, params=ML, timeout=10).json()
    assert shown["properties"]["provisioningState"] == "Succeeded"
    assert shown["properties"]["properties"]["namespace"] == "azureml"
    assert shown["identity"]["userAssignedIdentities"][uami]["principalId"]
    again = session.put(url, params=ML, json=kubernetes_compute(emu.cluster_id("aks-https")), timeout=10)
    assert again.status_code == 200 and again.json()["properties"]["provisioningState"] == "Updating"
    assert session.put(url, params=ML, json=kubernetes_compute(emu.cluster_id("aks-https")),
                       timeout=10).status_code == 409
    assert [w.status for w in emu.writes()] == [201, 200, 409]


@pytest.mark.parametrize("cluster, words", [
    ("aks-prod", "no extension of type Microsoft.AzureML.Kubernetes"),
    ("aks-failed", "provisioningState Failed"),
    ("aks-other-sub", "another subscription is not supported"),
])
def test_attach_fails_without_a_healthy_extension_or_across_subscriptions(emu, session, cluster, words):
    emu.settings(polls=0)
    answer = session.put(emu.base_url + WS1 + "/computes/bad", params=ML,
                         json=kubernetes_compute(emu.cluster_id(cluster)), timeout=10)
    assert answer.status_code == 201
    statuses, operation = run_to_end(session, answer)
    assert statuses == ["Failed"] and words in operation["error"]["message"]
    stored = session.get(emu.base_url + WS1 + "/computes/bad", params=ML, timeout=10).json()["properties"]
    assert stored["provisioningState"] == "Failed" and words in stored["provisioningErrors"][0]["error"]["message"]


def test_legacy_aks_attach_and_validation(emu, session):
    emu.settings(polls=0)
    body = {"location": "eastus", "properties": {"computeType": "AKS", "resourceId": emu.cluster_id("aks-prod")}}
    answer = session.put(emu.base_url + WS1 + "/computes/v1", params=ML, json=body, timeout=10)
    assert run_to_end(session, answer)[0] == ["Succeeded"]
    no_id = session.put(emu.base_url + WS1 + "/computes/v2", params=ML,
                        json={"properties": {"computeType": "Kubernetes"}}, timeout=10)
    assert no_id.status_code == 400
    assert session.put(emu.base_url + WS1 + "/computes/x", params=ML, json=body, timeout=10).status_code == 400
    missing_ws = session.put(emu.base_url + scenarios.workspace_id("rg-ml", "nope") + "/computes/v1", params=ML,
                             json=body, timeout=10)
    assert missing_ws.status_code == 404


def test_delete_requires_underlying_resource_action(emu, session):
    url = emu.base_url + WS1 + "/computes/k8s-with-ext"
    refused = session.delete(url, params=ML, timeout=10)
    assert refused.status_code == 400 and "underlyingResourceAction" in refused.json()["error"]["message"]
    assert session.delete(url, params=dict(ML, underlyingResourceAction="Remove"), timeout=10).status_code == 400
    detached = session.delete(url, params=dict(ML, underlyingResourceAction="Detach"), timeout=10)
    assert detached.status_code == 202
    assert "computeOperationsResult" in detached.headers["Location"]
    assert "computeOperationsStatus" in detached.headers["Azure-AsyncOperation"]
    assert [session.get(detached.headers["Location"], timeout=10).status_code for _ in range(3)] == [202, 202, 204]
    assert session.get(url, params=ML, timeout=10).status_code == 404
    assert emu.resource(emu.cluster_id("aks-with-ext")) is not None           # the cluster stays
    [op] = [o for o in emu.operations() if o["resource"] == "compute"]
    assert (op["kind"], op["action"], op["status"]) == ("delete", "Detach", "Succeeded")
    assert session.delete(url, params=dict(ML, underlyingResourceAction="Delete"), timeout=10).status_code == 204


def test_trusted_access_role_binding_put_and_delete(emu, session):
    base = emu.base_url + emu.cluster_id("aks-nolocal") + "/trustedAccessRoleBindings/"
    body = {"properties": {"sourceResourceId": WS1, "roles": [scenarios.ML_ROLE]}}
    created = session.put(base + "azureml-ws1", params=AKS, json=body, timeout=10)
    assert created.status_code == 201 and created.json()["properties"]["provisioningState"] == "Updating"
    assert "/providers/Microsoft.ContainerService/locations/eastus/operations/" in \
        created.headers["Azure-AsyncOperation"]
    assert run_to_end(session, created)[0] == ["InProgress", "InProgress", "Succeeded"]
    shown = session.get(base + "azureml-ws1", params=AKS, timeout=10).json()
    assert shown["properties"] == {"sourceResourceId": WS1, "roles": [scenarios.ML_ROLE],
                                   "provisioningState": "Succeeded"}
    emu.settings(polls=0)
    updated = session.put(base + "azureml-ws1", params=AKS, json=body, timeout=10)
    assert updated.status_code == 200 and run_to_end(session, updated)[0] == ["Succeeded"]
    duplicate = session.put(base + "second", params=AKS, json=body, timeout=10)
    assert duplicate.status_code == 400 and "only one binding" in duplicate.json()["error"]["message"]
    for name, bad in (("x" * 25, body), ("bad_name", body),
                      ("ok", {"properties": {"sourceResourceId": WS1, "roles": []}}),
                      ("ok", {"properties": {"roles": [scenarios.ML_ROLE]}}),
                      ("ok", {"properties": {"sourceResourceId": WS1, "roles": ["Microsoft.Foo/bars/reader"]}})):
        assert session.put(base + name, params=AKS, json=bad, timeout=10).status_code == 400, name
    assert session.put(base + "a" * 24, params=AKS, json={"properties": {
        "sourceResourceId": scenarios.workspace_id("rg-ml", "ws-legacy"), "roles": [scenarios.ML_ROLE]}},
        timeout=10).status_code == 201
    deleted = session.delete(base + "azureml-ws1", params=AKS, timeout=10)
    assert deleted.status_code == 202 and "/operationresults/" in deleted.headers["Location"]
    assert session.get(deleted.headers["Location"], timeout=10).status_code == 204
    assert session.get(base + "azureml-ws1", params=AKS, timeout=10).status_code == 404
    assert session.delete(base + "azureml-ws1", params=AKS, timeout=10).status_code == 204
