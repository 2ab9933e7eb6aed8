"""End to end, with the real az on the emulator: the workspace hand-off (check/deploy --workspace, attach, detach,
verify --workspace).

The emulator's default world: ws1 (compute k8s-with-ext, a Kubernetes compute on aks-with-ext, namespace azureml),
ws-legacy (compute aks-v1, a legacy AKS attach of aks-v1-attached), ws-other in the second subscription;
aks-nolocal (local accounts disabled, no binding), aks-nolocal-ta (a binding for ws1), aks-failed (Failed
extension), aks-prod (no extension).
"""
# pylint: disable=missing-docstring,redefined-outer-name

import pytest

from tests.certs import assert_no_secrets
from tests.e2e.harness import check_rows, refused
from tests.emulator import OTHER_SUBSCRIPTION_ID, SUBSCRIPTION_ID, scenarios

ML = "Microsoft.MachineLearningServices"
WS1 = f"/subscriptions/{SUBSCRIPTION_ID}/resourceGroups/rg-ml/providers/{ML}/workspaces/ws1"
WS_LEGACY = f"/subscriptions/{SUBSCRIPTION_ID}/resourceGroups/rg-ml/providers/{ML}/workspaces/ws-legacy"
WS_OTHER = f"/subscriptions/{OTHER_SUBSCRIPTION_ID}/resourceGroups/rg-ml-other/providers/{ML}/workspaces/ws-other"
ROLE = "Microsoft.MachineLearningServices/workspaces/mlworkload"


def cluster_id(name):
    return f"/subscriptions/{SUBSCRIPTION_ID}/resourceGroups/rg-ml/providers/Microsoft.ContainerService/" \
           f"managedClusters/{name}"


# --- check / deploy --workspace --------------------------------------------------------------------------------------

def test_check_workspace_rows_pass_for_a_same_subscription_workspace(az):
    result = az(f"amlk8s check -g rg-ml -c aks-prod -t aks --workspace {WS1}", expect=0)
    found = check_rows(result)
    assert found["workspace-subscription"]["status"] == "pass"
    assert found["legacy-compute"]["status"] == "pass"
    assert "trusted-access" not in found
    assert result.writes == []


def test_check_fails_for_a_workspace_in_another_subscription_with_the_arc_fix(az):
    result = refused(az(f"amlk8s check -g rg-ml -c aks-prod -t aks --workspace {WS_OTHER}"), 1)
    row = check_rows(result)["workspace-subscription"]
    assert row["status"] == "fail" and OTHER_SUBSCRIPTION_ID in row["finding"]
    assert "az connectedk8s connect" in row["fix"] and "Arc" in row["fix"]


def test_check_fails_on_a_legacy_aks_compute_with_detach_steps(az):
    result = refused(az(f"amlk8s check -g rg-ml -c aks-v1-attached -t aks --workspace {WS_LEGACY}"), 1)
    row = check_rows(result)["legacy-compute"]
    assert row["status"] == "fail" and "'aks-v1'" in row["finding"]
    assert "az ml compute detach" in row["fix"] and "--name aks-v1" in row["fix"]


def test_check_trusted_access_fails_without_a_binding_and_passes_with_one(az):
    result = refused(az(f"amlk8s check -g rg-ml -c aks-nolocal -t aks --workspace {WS1}"), 1)
    row = check_rows(result)["trusted-access"]
    assert row["status"] == "fail"
    assert (f"az aks trustedaccess rolebinding create --resource-group rg-ml --cluster-name aks-nolocal --name "
            f"aml-ws1 --source-resource-id {WS1} --roles {ROLE}") in row["fix"]
    good = check_rows(az(f"amlk8s check -g rg-ml -c aks-nolocal-ta -t aks --workspace {WS1}"))
    assert good["trusted-access"]["status"] == "pass" and "azureml-ws1" in good["trusted-access"]["finding"]


def test_a_malformed_workspace_id_is_a_usage_error_naming_the_flag(az):
    result = refused(az("amlk8s check -g rg-ml -c aks-prod -t aks --workspace ws1"), 1)
    assert "--workspace" in result.stderr and "/providers/Microsoft.MachineLearningServices/workspaces/" in \
        result.stderr
    assert result.requests == [] or all(r.kind == "token" for r in result.requests)


def test_a_missing_workspace_exits_3(az):
    refused(az(f"amlk8s check -g rg-ml -c aks-prod -t aks --workspace {WS1}-missing"), 3)


def test_deploy_with_workspace_blocks_on_a_failed_workspace_check(az):
    result = refused(az(f"amlk8s deploy -g rg-ml -c aks-prod -t aks --enable-training true --workspace {WS_OTHER}"),
                     1)
    assert "Workspace subscription" in result.stderr and "--ignore-check" not in result.stderr


def test_deploy_create_trusted_access_needs_confirmation_without_a_terminal(az):
    result = refused(az(f"amlk8s deploy -g rg-ml -c aks-nolocal -t aks --enable-training true --workspace {WS1} "
                        "--create-trusted-access"), 1)
    assert "confirmation" in result.stderr and "--yes" in result.stderr


def test_deploy_create_trusted_access_creates_the_binding_then_the_extension(az, emu):
    result = az(f"amlk8s deploy -g rg-ml -c aks-nolocal -t aks --enable-training true --workspace {WS1} "
                "--create-trusted-access --yes", expect=0)
    puts = [w for w in result.writes if w.method == "PUT"]
    assert [p.path.split("/")[-2] for p in puts] == ["trustedAccessRoleBindings", "extensions"], result.describe()
    binding = puts[0]
    assert binding.path.endswith(f"{cluster_id('aks-nolocal')}/trustedAccessRoleBindings/aml-ws1")
    assert binding.query.get("api-version") == "2024-09-01"
    assert binding.body == {"properties": {"sourceResourceId": WS1, "roles": [ROLE]}}
    assert emu.extension(cluster="aks-nolocal")["properties"]["provisioningState"] == "Succeeded"


def test_create_trusted_access_without_workspace_is_a_usage_error(az):
    result = refused(az("amlk8s deploy -g rg-ml -c aks-nolocal -t aks --enable-training true --create-trusted-access "
                        "--yes"), 1)
    assert "--workspace" in result.stderr and result.requests == []


# --- attach ----------------------------------------------------------------------------------------------------------

ATTACH = f"amlk8s attach -g rg-ml -c aks-with-ext -t aks --workspace {WS1} --compute-name k8s-new"


def test_attach_puts_the_kubernetes_compute_and_prints_the_next_step(az, emu):
    result = az(ATTACH + " --namespace azureml", expect=0)
    assert len(result.writes) == 1, result.describe()
    put = result.writes[0]
    assert put.method == "PUT" and put.path.endswith(f"{WS1}/computes/k8s-new")
    assert put.query.get("api-version") == "2024-10-01"
    assert put.body == {"location": "eastus", "identity": {"type": "SystemAssigned"},
                        "properties": {"computeType": "Kubernetes", "resourceId": cluster_id("aks-with-ext"),
                                       "description": "AKS cluster aks-with-ext, attached by az amlk8s",
                                       "properties": {"namespace": "azureml"}}}
    assert result.json["properties"]["provisioningState"] == "Succeeded"
    assert f"{WS1}/computes/k8s-new" in result.stderr
    assert "az ml job create --file <job.yml>" in result.stderr and "online-endpoint" in result.stderr


def test_attach_with_a_user_assigned_identity_and_the_default_namespace(az):
    uami = f"/subscriptions/{SUBSCRIPTION_ID}/resourceGroups/rg-ml/providers/Microsoft.ManagedIdentity/" \
           "userAssignedIdentities/ml-id"
    result = az(ATTACH + f" --identity-type UserAssigned --user-assigned-identity {uami}", expect=0)
    body = result.writes[0].body
    assert body["identity"] == {"type": "UserAssigned", "userAssignedIdentities": {uami: {}}}
    assert body["properties"]["properties"] == {"namespace": "default"}
    refused(az(ATTACH + " --identity-type UserAssigned"), 1)


def test_attach_again_with_the_same_values_is_a_no_op(az):
    result = az(f"amlk8s attach -g rg-ml -c aks-with-ext -t aks --workspace {WS1} --compute-name k8s-with-ext "
                "--namespace azureml", expect=0)
    assert result.writes == [] and "No change" in result.stderr


def test_attach_refuses_a_compute_name_that_points_elsewhere(az):
    result = refused(az(f"amlk8s attach -g rg-ml -c aks-with-ext -t aks --workspace {WS1} --compute-name "
                        "k8s-with-ext"), 1)
    assert "namespace 'azureml'" in result.stderr
    result = refused(az(f"amlk8s attach -g rg-ml -c aks-https -t aks --workspace {WS1} --compute-name k8s-with-ext"),
                     1)
    assert "aks-with-ext" in result.stderr and "az amlk8s detach" in result.stderr


@pytest.mark.parametrize("cluster,code,words", [
    ("aks-failed", 1, "Failed"), ("aks-prod", 3, "azureml")])
def test_attach_refuses_an_unhealthy_or_absent_extension(az, cluster, code, words):
    result = refused(az(f"amlk8s attach -g rg-ml -c {cluster} -t aks --workspace {WS1} --compute-name k8s-new"), code)
    assert words in result.stderr


def test_attach_refuses_a_workspace_in_another_subscription(az):
    result = refused(az(f"amlk8s attach -g rg-ml -c aks-with-ext -t aks --workspace {WS_OTHER} --compute-name "
                        "k8s-new"), 1)
    assert "Workspace subscription" in result.stderr and "Arc" in result.stderr


def test_attach_no_wait_sends_the_put_and_does_not_poll(az, emu):
    result = az(ATTACH + " --no-wait", expect=0)
    assert len(result.writes) == 1 and result.writes[0].method == "PUT"
    assert not [r for r in result.requests if r.kind == "poll"], result.describe()
    assert "provisioningState" in result.stderr


# --- detach ----------------------------------------------------------------------------------------------------------

DETACH = f"amlk8s detach --workspace {WS1} --compute-name k8s-with-ext"


def test_detach_without_yes_and_without_a_terminal_is_refused(az):
    result = refused(az(DETACH), 1)
    assert "confirmation" in result.stderr and "--yes" in result.stderr


def test_detach_with_yes_sends_delete_with_detach_and_waits(az, emu):
    result = az(DETACH + " --yes", expect=0)
    assert len(result.writes) == 1, result.describe()
    delete = result.writes[0]
    assert delete.method == "DELETE" and delete.path.endswith(f"{WS1}/computes/k8s-with-ext")
    assert delete.query.get("underlyingResourceAction") == "Detach"
    assert emu.resource(f"{WS1}/computes/k8s-with-ext") is None
    assert emu.resource(cluster_id("aks-with-ext")) is not None


def test_detach_no_wait(az):
    result = az(DETACH + " --yes --no-wait", expect=0)
    assert [w.method for w in result.writes] == ["DELETE"]
    assert not [r for r in result.requests if r.kind == "poll"], result.describe()


def test_detach_with_cluster_arguments_refuses_a_compute_of_another_cluster(az):
    result = refused(az(DETACH + " -g rg-ml -c aks-prod -t aks --yes"), 1)
    assert "not a Kubernetes compute" in result.stderr
    az(DETACH + " -g rg-ml -c aks-with-ext -t aks --yes", expect=0)


def test_detach_refuses_a_compute_that_is_not_kubernetes(az, emu):
    """detach removes only Kubernetes computes (what attach makes); a legacy AKS or any other compute is kept."""
    ws = emu.resource(WS1)
    for name, kind in (("aks-old", "AKS"), ("cpu-cluster", "AmlCompute")):
        other = scenarios.compute(ws, name, kind, cluster_id("aks-with-ext"))
        emu.put_resource(other["id"], other)
        result = refused(az(f"amlk8s detach --workspace {WS1} --compute-name {name} --yes"), 1)
        assert f"is {'an' if kind[0] in 'AE' else 'a'} {kind} compute, not a Kubernetes compute" in result.stderr
        assert "az ml compute detach --name " + name in result.stderr
        assert result.writes == [] and emu.resource(other["id"]) is not None


def test_detach_honours_a_resource_group_given_alone(az, emu):
    """-g (and -t) without -c narrow the target: a compute on a cluster elsewhere is kept."""
    result = refused(az(DETACH + " -g rg-other --yes"), 1)
    assert "not a cluster of -g rg-other" in result.stderr and cluster_id("aks-with-ext") in result.stderr
    assert result.writes == []
    refused(az(DETACH + " -t connectedClusters --yes"), 1)
    refused(az(DETACH + " -c aks-with-ext --yes"), 1)             # -c needs -g and -t
    assert emu.resource(f"{WS1}/computes/k8s-with-ext") is not None
    done = az(DETACH + " -g RG-ML -t aks --yes", expect=0)        # resource group names are case-insensitive
    assert [w.method for w in done.writes] == ["DELETE"]


def test_detach_of_a_missing_compute_exits_3(az):
    refused(az(f"amlk8s detach --workspace {WS1} --compute-name nothing-here --yes"), 3)


# --- verify --workspace ----------------------------------------------------------------------------------------------

def test_verify_workspace_reports_the_computes_on_this_cluster(az):
    result = az(f"amlk8s verify -g rg-ml -c aks-with-ext -t aks --workspace {WS1}", expect=0)
    [compute] = result.json["computes"]
    assert {k: compute[k] for k in ("name", "id", "computeType", "provisioningState", "namespace")} == {
        "name": "k8s-with-ext", "id": f"{WS1}/computes/k8s-with-ext", "computeType": "Kubernetes",
        "provisioningState": "Succeeded", "namespace": "azureml"}
    assert result.writes == []


def test_verify_workspace_reports_failed_and_legacy_computes(az, emu):
    ws = emu.resource(WS1)
    failed = scenarios.compute(ws, "k8s-broken", "Kubernetes", cluster_id("aks-with-ext"), state="Failed")
    failed["properties"]["provisioningErrors"] = [{"error": {"code": "BadRequest", "message": "namespace missing"}}]
    emu.put_resource(failed["id"], failed)
    legacy = scenarios.compute(ws, "aks-old", "AKS", cluster_id("aks-with-ext"))
    emu.put_resource(legacy["id"], legacy)
    result = az(f"amlk8s verify -g rg-ml -c aks-with-ext -t aks --workspace {WS1}")
    assert result.exit_code == 1, result.describe()
    codes = {f["code"]: f for f in result.json["findings"] if f["source"] == "compute"}
    assert "namespace missing" in codes["ComputeFailed"]["message"]
    assert codes["LegacyAksCompute"]["level"] == "warning"
    assert {c["name"] for c in result.json["computes"]} == {"k8s-with-ext", "k8s-broken", "aks-old"}
    assert "k8s-broken" in result.stderr


# --- secrets ---------------------------------------------------------------------------------------------------------

def test_no_secret_value_in_any_workspace_output(az, emu):
    outputs = [az(ATTACH + " --debug", expect=0), az(DETACH + " --yes --debug", expect=0),
               az(f"amlk8s verify -g rg-ml -c aks-with-ext -t aks --workspace {WS1} --debug"),
               az(f"amlk8s check -g rg-ml -c aks-nolocal -t aks --workspace {WS1} --debug")]
    fragments = emu.secret_values()
    assert fragments
    for result in outputs:
        assert_no_secrets(result.stdout + result.stderr, fragments)


def test_help_and_required_arguments(az):
    for command in ("attach", "detach"):
        result = az(f"amlk8s {command} -h", expect=0)
        assert "--workspace" in result.stdout and "--compute-name" in result.stdout and "Examples" in result.stdout
    missing = refused(az("amlk8s attach -g rg-ml -c aks-with-ext -t aks --compute-name k8s-new"), 2)
    assert "--workspace" in missing.stderr
    refused(az(f"amlk8s detach --workspace {WS1}"), 2)


def test_attach_ids_attaches_each_cluster_under_its_own_compute_name(az):
    ids = [cluster_id("aks-with-ext"), cluster_id("aks-many-ext")]
    same = az(["amlk8s", "attach", "--ids", *ids, "--workspace", WS1, "--compute-name", "k8s-new"])
    assert same.exit_code == 1 and same.writes == [] and "would attach them all as the same compute" in same.stderr
    bad = az(["amlk8s", "attach", "--ids", *ids, "--workspace", WS1, "--compute-name", "a-very-long-prefix-{cluster}"])
    assert bad.exit_code == 1 and bad.writes == [] and "aks-with-ext:" in bad.stderr and "aks-many-ext:" in bad.stderr
    result = az(["amlk8s", "attach", "--ids", *ids, "--workspace", WS1, "--compute-name", "k8s-{cluster}",
                 "--namespace", "azureml"], expect=0)
    puts = sorted(w.path.rsplit("/", 1)[-1] for w in result.writes if w.method == "PUT")
    assert puts == ["k8s-aks-many-ext", "k8s-aks-with-ext"]
    assert [(e["clusterId"], e["status"]) for e in result.json] == [(i, "succeeded") for i in ids]
    again = az(["amlk8s", "attach", "--ids", *ids, "--workspace", WS1, "--compute-name", "k8s-{cluster}",
                "--namespace", "azureml", "-o", "table"], expect=0)
    assert again.writes == [] and "aks-many-ext" in again.stdout
