"""The workspace hand-off's pure rules (azext_amlk8s/act/workspace.py): id parsing, the checks, the attach body, the
no-op comparison, the Trusted Access binding and verify's compute report."""
# pylint: disable=missing-docstring

import re

import pytest
from azure.cli.core.azclierror import InvalidArgumentValueError, RequiredArgumentMissingError

from azext_amlk8s.act import workspace as ws
from azext_amlk8s.facts.cluster import ClusterRef

SUB, OTHER = "0b1f6471-1bf0-4dda-aec3-111122223333", "5c6e7f80-2a3b-4c5d-9e8f-444455556666"
WS_ID = f"/subscriptions/{SUB}/resourceGroups/rg-ml/providers/Microsoft.MachineLearningServices/workspaces/ws1"
AKS = ClusterRef(SUB, "rg-ml", "aks1", "managedClusters")
ARC = ClusterRef(SUB, "rg-arc", "arc1", "connectedClusters")
ROLE = "Microsoft.MachineLearningServices/workspaces/mlworkload"


def compute(name, kind, resource_id, namespace=None, state="Succeeded"):
    props = {"computeType": kind, "resourceId": resource_id, "provisioningState": state}
    if namespace is not None:
        props["properties"] = {"namespace": namespace}
    return {"id": f"{WS_ID}/computes/{name}", "name": name, "properties": props}


def facts(computes=(), disabled=None, bindings=None, workspace_id=WS_ID):
    return ws.WorkspaceFacts(ws.parse_workspace_id(workspace_id), "eastus", computes, disabled, bindings)


# --- parsing -------------------------------------------------------------------------------------------------------

def test_parse_workspace_id_any_case_and_trailing_slash():
    ref = ws.parse_workspace_id(WS_ID.replace("resourceGroups", "resourcegroups").lower() + "/")
    assert (ref.subscription_id, ref.resource_group, ref.name) == (SUB, "rg-ml", "ws1")
    assert ws.parse_workspace_id(WS_ID).resource_id == WS_ID


@pytest.mark.parametrize("value", ["ws1", "", WS_ID + "/computes/c1",
                                   WS_ID.replace("MachineLearningServices", "Storage"), "/subscriptions//x"])
def test_parse_workspace_id_names_the_flag_and_the_shape(value):
    with pytest.raises(InvalidArgumentValueError) as info:
        ws.parse_workspace_id(value)
    assert "--workspace" in info.value.error_msg
    assert "Microsoft.MachineLearningServices/workspaces/<workspace>" in " ".join(info.value.recommendations)


@pytest.mark.parametrize("name,ok", [("k8s-compute", True), ("a1", True), ("1abc", False), ("a", False),
                                     ("x" * 25, False), ("bad_name", False)])
def test_compute_names(name, ok):
    if ok:
        assert ws.validate_compute_name(name) == name
    else:
        with pytest.raises(InvalidArgumentValueError):
            ws.validate_compute_name(name)


def test_namespace_and_identity():
    assert ws.validate_namespace("default") == "default"
    with pytest.raises(InvalidArgumentValueError):
        ws.validate_namespace("Not_A_Namespace")
    assert ws.identity_of(None, None) == {"type": "SystemAssigned"}
    uai = f"/subscriptions/{SUB}/resourceGroups/rg-ml/providers/Microsoft.ManagedIdentity/userAssignedIdentities/ml-id"
    assert ws.identity_of("UserAssigned", uai) == {"type": "UserAssigned", "userAssignedIdentities": {uai: {}}}
    with pytest.raises(InvalidArgumentValueError) as info:
        ws.identity_of("UserAssigned", "/id/SharedAccessKey=QllPLXJlbGF5LWtleS1ub3Q")
    assert "SharedAccessKey" not in info.value.error_msg and "userAssignedIdentities" in info.value.recommendations[0]
    with pytest.raises(RequiredArgumentMissingError):
        ws.identity_of("UserAssigned", None)
    with pytest.raises(InvalidArgumentValueError):
        ws.identity_of("SystemAssigned", "/id/x")


# --- the checks ------------------------------------------------------------------------------------------------------

def test_subscription_match_and_mismatch():
    assert ws.check_subscription(ws.parse_workspace_id(WS_ID), AKS).status == "pass"
    row = ws.check_subscription(ws.parse_workspace_id(WS_ID.replace(SUB, OTHER)), AKS)
    assert row.status == "fail" and not row.ignorable and OTHER in row.finding
    assert "az connectedk8s connect" in row.fix


def test_legacy_compute_only_the_aks_type_on_this_cluster_fails():
    mine = AKS.resource_id
    assert ws.check_legacy(facts([compute("k", "Kubernetes", mine, "default")]), AKS).status == "pass"
    assert ws.check_legacy(facts([compute("old", "AKS", mine.replace("aks1", "aks2"))]), AKS).status == "pass"
    row = ws.check_legacy(facts([compute("old", "AKS", mine.upper())]), AKS)
    assert row.status == "fail" and "'old'" in row.finding and "az ml compute detach" in row.fix
    assert ws.check_legacy(facts(None), AKS).status == "unknown"


def test_trusted_access_applies_only_to_aks_with_local_accounts_disabled():
    assert ws.check_trusted_access(facts(disabled=False), AKS) is None
    assert ws.check_trusted_access(facts(disabled=None), ARC) is None
    assert ws.check_trusted_access(facts(disabled=True, bindings=None), AKS).status == "unknown"
    good = {"name": "b1", "properties": {"sourceResourceId": WS_ID.lower(), "roles": [ROLE]}}
    assert ws.check_trusted_access(facts(disabled=True, bindings=(good,)), AKS).status == "pass"
    other_ws = {"name": "b2", "properties": {"sourceResourceId": WS_ID + "x", "roles": [ROLE]}}
    row = ws.check_trusted_access(facts(disabled=True, bindings=(other_ws,)), AKS)
    assert row.status == "fail"
    assert (f"az aks trustedaccess rolebinding create --resource-group rg-ml --cluster-name aks1 --name aml-ws1 "
            f"--source-resource-id {WS_ID} --roles {ROLE}") in row.fix


def test_run_checks_rows_and_ids():
    rows = ws.run_checks(facts(disabled=True, bindings=()), AKS)
    assert [r.id for r in rows] == ["workspace-subscription", "legacy-compute", "trusted-access"]
    assert [r.id for r in ws.run_checks(facts(), ARC)] == ["workspace-subscription", "legacy-compute"]


def test_create_trusted_access_lifts_only_the_binding_failures():
    rows = ws.run_checks(facts(disabled=True, bindings=()), AKS)
    assert [r.id for r in ws.blocking_unless_binding(rows, False)] == ["trusted-access"]
    assert ws.blocking_unless_binding(rows, True) == []
    cross = ws.run_checks(facts(disabled=True, bindings=(), workspace_id=WS_ID.replace(SUB, OTHER)), AKS)
    assert [r.id for r in ws.blocking_unless_binding(cross, True)] == ["workspace-subscription"]


# --- Trusted Access binding ------------------------------------------------------------------------------------------

def test_binding_name_is_short_and_valid_and_reuses_the_workspace_binding():
    assert ws.binding_name(ws.parse_workspace_id(WS_ID)) == "aml-ws1"
    long_ref = ws.parse_workspace_id(WS_ID.replace("ws1", "my_very_long_workspace_name_for_ml"))
    name = ws.binding_name(long_ref)
    assert len(name) <= 24 and re.fullmatch(r"[A-Za-z0-9-]+", name)
    existing = {"name": "mine", "properties": {"sourceResourceId": WS_ID, "roles": ["other/role"]}}
    assert ws.binding_name(ws.parse_workspace_id(WS_ID), (existing,)) == "mine"
    assert ws.binding_body(ws.parse_workspace_id(WS_ID), existing) == {
        "properties": {"sourceResourceId": WS_ID, "roles": ["other/role", ROLE]}}
    assert ws.binding_body(ws.parse_workspace_id(WS_ID)) == {"properties": {"sourceResourceId": WS_ID,
                                                                            "roles": [ROLE]}}


# --- attach body and the no-op ---------------------------------------------------------------------------------------

def body(namespace="default"):
    return ws.attach_body(location="eastus", identity={"type": "SystemAssigned"}, cluster_id=AKS.resource_id,
                          namespace=namespace, description="d")


def test_attach_body_shape():
    assert body("ml") == {"location": "eastus", "identity": {"type": "SystemAssigned"},
                          "properties": {"computeType": "Kubernetes", "resourceId": AKS.resource_id,
                                         "description": "d", "properties": {"namespace": "ml"}}}


def test_compare_existing():
    assert ws.compare_existing(None, body()) is None
    assert ws.compare_existing(compute("c", "Kubernetes", AKS.resource_id.lower()), body()) == "same"
    assert ws.compare_existing(compute("c", "Kubernetes", AKS.resource_id, "default", "Failed"), body()) == "retry"
    assert "namespace 'ml'" in ws.compare_existing(compute("c", "Kubernetes", AKS.resource_id, "ml"), body())
    assert "AKS compute" in ws.compare_existing(compute("c", "AKS", AKS.resource_id), body())
    assert ARC.resource_id in ws.compare_existing(compute("c", "Kubernetes", ARC.resource_id), body())


# --- verify's compute report -----------------------------------------------------------------------------------------

def test_compute_report_lists_this_clusters_computes_with_findings():
    failed = compute("broken", "Kubernetes", AKS.resource_id, "default", "Failed")
    failed["properties"]["provisioningErrors"] = [{"error": {"code": "BadRequest", "message": "no namespace"}}]
    computes = [compute("ok", "Kubernetes", AKS.resource_id, "azureml"), failed, compute("v1", "AKS", AKS.resource_id),
                compute("elsewhere", "Kubernetes", ARC.resource_id, "default")]
    rows, findings = ws.compute_report(computes, ws.parse_workspace_id(WS_ID), AKS.resource_id)
    assert [r["name"] for r in rows] == ["ok", "broken", "v1"]
    assert rows[0]["namespace"] == "azureml" and rows[2]["namespace"] is None
    assert [(f["code"], f["level"]) for f in findings] == [("ComputeFailed", "error"), ("LegacyAksCompute", "warning")]
    assert "(BadRequest) no namespace" in findings[0]["message"]
