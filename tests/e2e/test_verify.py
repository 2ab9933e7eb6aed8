"""Issue 4 end to end: `az amlk8s show`, `list`, `wait` and `verify` with the real az against the ARM emulator.

Read-only commands: every test also checks that nothing was written and that no traceback reached stderr.
"""
# pylint: disable=missing-docstring,redefined-outer-name

import threading
import time

import pytest

from tests.emulator import scenarios

AZUREML = "Microsoft.AzureML.Kubernetes"
KC_LIST = "/providers/Microsoft.KubernetesConfiguration/extensions"
TSG = "https://aka.ms/arcmltsg"


def clean(result):
    """Common to every call: no traceback, no write (these commands only read)."""
    assert "Traceback" not in result.stderr, result.describe()
    assert result.writes == [], result.describe()
    return result


def extension_gets(result, cluster, name="azureml"):
    suffix = f"/managedclusters/{cluster}{KC_LIST}/{name}".lower()
    return [r for r in result.requests if r.kind == "arm" and r.method == "GET" and r.path.lower().endswith(suffix)]


class later:  # pylint: disable=invalid-name
    """Run `action` on a timer thread (a flip a waiting az must notice); `.at` is when it ran (time.time())."""

    def __init__(self, seconds, action):
        self.at = None

        def run():
            self.at = time.time()
            action()

        self.timer = threading.Timer(seconds, run)
        self.timer.daemon = True
        self.timer.start()

    def join(self):
        self.timer.join()
        assert self.at is not None


def noticed_after(flip, gets, state):
    """Seconds between the flip and the first GET that returned `state`."""
    seen = [r for r in gets if r.status == 200 and r.response["properties"]["provisioningState"] == state]
    assert seen, "the new state was never read"
    return seen[0].time - flip.at


def put_failed(emu, cluster, error=None, statuses=None, **settings):
    """Store a Failed AzureML extension on `cluster` (an AKS cluster of rg-ml) with these error details."""
    cluster_id = emu.cluster_id(cluster)
    settings = scenarios.azureml_settings(cluster_id, cluster, "eastus", "managedClusters",
                                          **(settings or {"enableTraining": "True"}))
    body = scenarios.extension(cluster_id, "azureml", AZUREML, scenarios.AZUREML_LATEST, namespace="azureml",
                               state="Failed", settings=settings, error=error, statuses=statuses)
    emu.put_resource(emu.extension_id(cluster), body)


def status(message, code="HealthCheck", level="Error"):
    return {"code": code, "displayStatus": level, "level": level, "message": message, "time": "2025-06-02T08:15:42Z"}


# --- show ---------------------------------------------------------------------------------------------------------

def test_show_returns_the_sdk_shape_so_k8s_extension_queries_work(az, emu):
    shown = clean(az("amlk8s show -g rg-ml -c aks-with-ext -t managedClusters", expect=0))
    body = shown.json
    # Flattened like az k8s-extension show: no "properties" level, camelCase, protected settings never returned.
    assert "properties" not in body
    assert (body["name"], body["extensionType"], body["provisioningState"], body["currentVersion"]) == \
        ("azureml", AZUREML, "Succeeded", scenarios.AZUREML_LATEST)
    assert body["scope"]["cluster"]["releaseNamespace"] == "azureml"
    assert body["configurationSettings"]["inferenceRouterServiceType"] == "LoadBalancer"
    assert body["configurationProtectedSettings"] is None
    assert body["id"] == emu.extension_id("aks-with-ext")
    assert len(extension_gets(shown, "aks-with-ext")) == 1

    queried = clean(az("amlk8s show -g rg-ml -c aks-with-ext -t aks --query provisioningState -o tsv", expect=0))
    assert queried.stdout.strip() == "Succeeded"


def test_show_other_extension_name_and_table(az):
    table = clean(az("amlk8s show -g rg-ml -c aks-other-name -t aks -n aml-ext -o table", expect=0))
    header, _, row = table.stdout.strip().splitlines()
    assert header.split() == ["Name", "State", "Version", "ReleaseTrain", "AutoUpgrade", "Workloads"]
    assert row.split() == ["aml-ext", "Succeeded", scenarios.AZUREML_LATEST, "stable", "true", "training"]


def test_show_missing_extension_exits_3_naming_cluster_and_extension(az):
    missing = clean(az("amlk8s show -g rg-ml -c aks-prod -t aks", expect=3))
    assert missing.stdout == ""
    assert "The extension 'azureml' was not found on AKS cluster 'aks-prod' in resource group 'rg-ml'" \
        in missing.stderr
    assert "az amlk8s list -g rg-ml -c aks-prod -t managedClusters" in missing.stderr


def test_show_missing_cluster_exits_3_naming_the_cluster(az):
    missing = clean(az("amlk8s show -g rg-arc -c arc-nope -t arc", expect=3))
    assert "cluster 'arc-nope'" in missing.stderr and "rg-arc" in missing.stderr
    assert "extension 'azureml' was not found" not in missing.stderr     # the cluster is what is missing


# --- list ---------------------------------------------------------------------------------------------------------

def test_list_follows_next_link_and_keeps_only_azureml(az, emu):
    listed = clean(az("amlk8s list -g rg-ml -c aks-many-ext -t aks", expect=0))
    assert [(e["name"], e["extensionType"]) for e in listed.json] == [("azureml", AZUREML)]
    assert "properties" not in listed.json[0]
    pages = [r for r in listed.requests if r.method == "GET" and r.path.endswith(KC_LIST)]
    # 5 extensions, 2 per page: three LIST pages, the later ones through nextLink's $skipToken.
    assert len(pages) == 3, listed.describe()
    assert [p.query.get("$skipToken") for p in pages] == [None, "2", "4"]
    assert all(p.status == 200 for p in pages)


def test_list_table_and_filtering_on_a_cluster_with_another_extension(az):
    table = clean(az("amlk8s list -g rg-ml -c aks-with-ext -t aks -o table", expect=0))
    lines = table.stdout.strip().splitlines()
    assert lines[0].split()[:3] == ["Name", "State", "Version"] and len(lines) == 3
    assert lines[2].split()[:2] == ["azureml", "Succeeded"] and "training, inference" in lines[2]
    assert "flux" not in table.stdout

    empty = clean(az("amlk8s list -g rg-ml -c aks-prod -t aks", expect=0))
    assert empty.json == []


def test_list_on_a_missing_cluster_exits_3(az):
    missing = clean(az("amlk8s list -g rg-ml -c aks-nope -t aks", expect=3))
    assert "cluster 'aks-nope'" in missing.stderr


# --- wait ---------------------------------------------------------------------------------------------------------

def test_wait_created_returns_when_the_operation_finishes(az, emu):
    flip = later(1.5, lambda: emu.finish_operation("aks-busy"))
    waited = clean(az("amlk8s wait -g rg-ml -c aks-busy -t aks --created --interval 1 --timeout 60", expect=0))
    flip.join()
    gets = extension_gets(waited, "aks-busy")
    assert len(gets) >= 2
    assert gets[0].response["properties"]["provisioningState"] == "Creating"
    assert gets[-1].response["properties"]["provisioningState"] == "Succeeded"
    assert 0 <= noticed_after(flip, gets, "Succeeded") < 2.5          # within about one --interval


def test_wait_deleted_and_custom(az, emu):
    eid = emu.extension_id("aks-with-ext")
    custom = clean(az(["amlk8s", "wait", "-g", "rg-ml", "-c", "aks-with-ext", "-t", "aks", "--custom",
                       "configurationSettings.enableInference=='True' && provisioningState=='Succeeded'"], expect=0))
    assert len(extension_gets(custom, "aks-with-ext")) == 1

    flip = later(1.0, lambda: emu.delete_resource(eid))
    deleted = clean(az("amlk8s wait -g rg-ml -c aks-with-ext -t aks --deleted --interval 1 --timeout 60", expect=0))
    flip.join()
    gets = extension_gets(deleted, "aks-with-ext")
    assert len(gets) >= 2 and gets[0].status == 200 and gets[-1].status == 404


def test_wait_timeout_stops_waiting(az):
    started = time.monotonic()
    waited = clean(az("amlk8s wait -g rg-ml -c aks-busy -t aks --created --interval 1 --timeout 2", expect=1))
    elapsed = time.monotonic() - started
    assert 2 <= elapsed < 15, waited.describe()
    assert 3 <= len(extension_gets(waited, "aks-busy")) <= 4
    # Unlike azure-cli's generic wait (which prints "{}" and exits 0), a timeout fails the command.
    assert waited.stdout.strip() == ""
    assert "Timed out after 2 s" in waited.stderr and "provisioningState creating" in waited.stderr


def test_wait_created_on_a_failed_extension_fails(az):
    failed = clean(az("amlk8s wait -g rg-ml -c aks-failed -t aks --created --interval 1 --timeout 30", expect=1))
    assert "failed" in failed.stderr.lower()


# --- verify: healthy ------------------------------------------------------------------------------------------------

def test_verify_succeeded_reports_components_next_steps_and_attach_command(az, emu):
    verified = clean(az("amlk8s verify -g rg-ml -c aks-with-ext -t aks", expect=0))
    report = verified.json
    assert (report["verdict"], report["provisioningState"], report["version"], report["releaseTrain"],
            report["autoUpgradeMinorVersion"]) == ("Healthy", "Succeeded", scenarios.AZUREML_LATEST, "stable", True)
    assert report["workloads"] == {"training": True, "inference": True}
    assert report["endpoint"]["serviceType"] == "LoadBalancer" and report["endpoint"]["https"] is False
    components = {c["name"]: c for c in report["components"]}
    for name in ("gateway", "aml-operator", "volcano-scheduler", "inference-operator-controller-manager",
                 "azureml-ingress-nginx-controller", "azureml-prometheus-operator"):
        assert name in components
    assert components["azureml-fe-v2"]["replicas"] == 3
    assert "relayserver" not in components                    # AKS: no relay
    assert not [f for f in report["findings"] if f["level"] in ("error", "warning")]
    steps = " | ".join(report["nextSteps"])
    assert "kubectl get pods -n azureml" in steps and "arcml-healthcheck" in steps
    cluster_id = emu.cluster_id("aks-with-ext")
    attach = [s for s in report["nextSteps"] if s.startswith("Attach the cluster")]
    assert len(attach) == 1
    assert "az amlk8s attach -g rg-ml -c aks-with-ext -t managedClusters --workspace" in attach[0]
    assert "az ml compute" not in steps and cluster_id
    assert "az aks get-credentials --resource-group rg-ml --name aks-with-ext" in steps


def test_verify_arc_lists_the_relay_and_never_echoes_secrets(az, emu):
    verified = clean(az("amlk8s verify -g rg-arc -c arc-with-ext -t arc", expect=0))
    report = verified.json
    assert report["verdict"] == "Healthy"
    assert "relayserver" in {c["name"] for c in report["components"]}
    assert any("az connectedk8s proxy" in s for s in report["nextSteps"])
    assert any("az amlk8s attach -g rg-arc -c arc-with-ext -t connectedClusters" in s for s in report["nextSteps"])
    for secret in emu.secret_values():
        assert secret not in verified.output


def test_verify_succeeded_with_a_failing_status_is_not_healthy(az, emu):
    body = emu.extension("aks-with-ext")
    body["properties"]["statuses"] = [status("E45001 AGENT_UNHEALTHY: pod aml-operator-7c9 is CrashLoopBackOff",
                                             level="Warning")]
    emu.put_resource(body["id"], body)
    verified = clean(az("amlk8s verify -g rg-ml -c aks-with-ext -t aks", expect=1))
    assert (verified.json["provisioningState"], verified.json["verdict"]) == ("Succeeded", "Degraded")
    assert "[statuses[0]] E45001 AGENT_UNHEALTHY" in verified.stderr
    assert "kubectl describe pod -n azureml" in verified.stderr


def test_verify_table(az):
    table = clean(az("amlk8s verify -g rg-ml -c aks-with-ext -t aks -o table", expect=0))
    lines = table.stdout.splitlines()
    assert lines[0].split() == ["Item", "Level", "Detail"]           # fixes wrap on continuation rows (issue 14)
    assert max(len(line) for line in lines) <= 120
    assert "Healthy (provisioningState Succeeded, version 1.1.88)" in lines[2]
    components = [line.split()[1] for line in lines if line.startswith("component ")]
    assert "aml-operator" in components and "azureml-fe-v2" in components and "relayserver" not in components
    assert any("azureml-fe-v2 (deployment, 3 replicas)" in line for line in lines)
    assert any(line.startswith("next step") and "az amlk8s attach" in line for line in lines)


# --- verify: failed, each mapped error -> its fix -------------------------------------------------------------------

HEALTHCHECK_CODES = [
    # (status message, expected finding code, a fragment of its fix)
    ("E40002 INSUFFICIENT_NODE: 1 of 3 required nodes", "E40002", "--inference-router-ha false"),
    ("E40003 INTERNAL_LOAD_BALANCER_NOT_SUPPORT", "E40003", "without --internal-load-balancer-provider"),
    ("E40007 INVALID_SSL_SETTING: certificate does not match key", "E40007", "openssl x509 -in cert.pem"),
    ("E45002 PROMETHEUS_CONFLICT", "E45002", "--install-prom-op false"),
    ("E45003 BAD_NETWORK_CONNECTIVITY", "E45003", "how-to-access-azureml-behind-firewall"),
    ("E45004 AZUREML_FE_ROLE_CONFLICT", "E45004", "kubectl delete clusterrole azureml-fe-role"),
    ("E45005 AZUREML_FE_DEPLOYMENT_CONFLICT", "E45005", "kubectl delete deploy azureml-fe -n default"),
]

_HELM = "Error: {%s} occurred while doing the operation : {Installing} on the config"
HELM_TEXTS = [
    (_HELM % "cannot re-use a name that is still in use", "helm-name-in-use", "helm list -Aa"),
    (_HELM % "UPGRADE FAILED: an earlier operation for the helm chart is still in progress",
     "helm-operation-in-progress", "sh.helm.release.v1.azureml.v<revision>"),
    (_HELM % "unable to create new content in namespace azureml because it is being terminated",
     "namespace-terminating", "--deleted; kubectl get namespace azureml returns NotFound"),
    (_HELM % ('rendered manifests contain a resource that already exists. Unable to continue with install: '
              'CustomResourceDefinition "jobs.batch.volcano.sh" in namespace "" exists and cannot be imported into '
              'the current release: invalid ownership metadata; annotation validation error: missing key '
              '"meta.helm.sh/release-name": must be set to "azureml"'),
     "volcano-crd-ownership", "--install-volcano false"),
    (_HELM % ("release azureml failed, and has been uninstalled due to atomic being set: timed out waiting for the "
              "condition"), "helm-timeout", "kubectl get svc -n azureml"),
    (scenarios.chart_not_found_message("1.1.99", AZUREML), "chart-not-found", "list-versions-by-cluster"),
]


@pytest.mark.parametrize("error_info, cases", [
    ({"code": "ExtensionOperationFailed",
      "message": "pre-install: HealthCheck failed: E40001 LOAD_BALANCER_NOT_SUPPORT"},
     [("", "E40001", "--inference-router-service-type NodePort")] + HEALTHCHECK_CODES),
    ({"code": "ExtensionOperationFailed", "message": HELM_TEXTS[0][0]}, HELM_TEXTS),
], ids=["healthcheck-codes", "helm-texts"])
def test_verify_failed_maps_each_documented_error_to_its_fix(az, emu, error_info, cases):
    statuses = [status(message) for message, _, _ in cases[1:]]
    put_failed(emu, "aks-prod", error=error_info, statuses=statuses)
    verified = clean(az("amlk8s verify -g rg-ml -c aks-prod -t aks", expect=1))
    assert verified.json["verdict"] == "Failed"
    by_source = {f["source"]: f for f in verified.json["findings"]}
    expected_sources = ["errorInfo"] + [f"statuses[{i}]" for i in range(len(cases) - 1)]
    stderr = " ".join(verified.stderr.split())
    for source, (_, code, fix) in zip(expected_sources, cases):
        finding = by_source[source]
        assert (finding["code"], finding["level"]) == (code, "error"), source
        assert fix in finding["fix"], source
        assert f"[{source}] {code} " in stderr and fix in stderr, source
    assert "az amlk8s update -g rg-ml -c aks-prod -t managedClusters -n azureml" in stderr or \
        "az amlk8s deploy -g rg-ml -c aks-prod -t managedClusters -n azureml" in stderr
    assert stderr.count("ERROR:") == 1 and TSG in stderr


def test_verify_unknown_error_is_shown_verbatim_with_the_troubleshooting_pointer(az, emu):
    text = "The flux capacitor of node aks-7 overheated (code 0x2A); the agent gave up"
    put_failed(emu, "aks-prod", error={"code": "ExtensionOperationFailed", "message": text})
    verified = clean(az("amlk8s verify -g rg-ml -c aks-prod -t aks", expect=1))
    [finding] = [f for f in verified.json["findings"] if f["level"] == "error"]
    assert (finding["code"], finding["message"]) == ("unknown", text)
    assert f'Service message: "{text}"' in verified.stderr
    assert TSG in finding["fix"] and TSG in verified.stderr


def test_verify_after_a_failed_deploy_gives_the_fix(az, emu):
    message = ("Error: {failed to install chart from path [] for release [azureml]: err [pre-install hook failed]} "
               "; pre-install: HealthCheck failed: E40001 LOAD_BALANCER_NOT_SUPPORT")
    emu.set_outcome(cluster="aks-prod", status="Failed", error={"code": "ExtensionOperationFailed", "message": message},
                    statuses=[status("E40001 LOAD_BALANCER_NOT_SUPPORT: no external IP after 600s")])
    az("amlk8s deploy -g rg-ml -c aks-prod -t aks --enable-inference true --inference-router-service-type "
       "LoadBalancer --allow-insecure-connections true", expect=1)
    verified = clean(az("amlk8s verify -g rg-ml -c aks-prod -t aks", expect=1))
    codes = [f["code"] for f in verified.json["findings"] if f["level"] == "error"]
    assert codes == ["E40001"]          # errorInfo and the status say the same: one finding
    assert "--inference-router-service-type NodePort" in verified.stderr


def test_verify_same_diagnosis_from_error_info_and_status_is_one_finding(az):
    verified = clean(az("amlk8s verify -g rg-ml -c aks-failed -t aks", expect=1))
    errors = [f for f in verified.json["findings"] if f["level"] == "error"]
    assert [(f["source"], f["code"]) for f in errors] == [("errorInfo", "E40002")]
    assert [r["code"] for r in errors[0]["related"]] == ["healthcheck-failed"]
    assert verified.stderr.count("E40002 INSUFFICIENT_NODE:") == 1
    assert "--inference-router-ha false" in verified.stderr


def test_verify_failed_table_still_renders(az):
    table = clean(az("amlk8s verify -g rg-ml -c aks-failed -t aks -o table", expect=1))
    assert "Failed (provisioningState Failed" in table.stdout
    assert any(line.startswith("E40002") and "error" in line for line in table.stdout.splitlines())
    assert "ERROR:" in table.stderr


# --- verify: waiting, not found, wrong type ------------------------------------------------------------------------

def test_verify_wait_waits_for_creating_and_exits_0_when_it_succeeds(az, emu):
    flip = later(2.0, lambda: emu.finish_operation("aks-busy"))
    verified = clean(az("amlk8s verify -g rg-ml -c aks-busy -t aks --wait --timeout 60", expect=0))
    flip.join()
    assert "waiting up to 60 s" in verified.stderr and "provisioningState: Succeeded" in verified.stderr
    assert verified.json["verdict"] == "Healthy" and verified.json["provisioningState"] == "Succeeded"
    gets = extension_gets(verified, "aks-busy")
    assert gets[0].response["properties"]["provisioningState"] == "Creating"
    assert 0 <= noticed_after(flip, gets, "Succeeded") < 3.5           # within a few seconds (a 2 s poll)


def test_verify_wait_reports_a_failure_that_arrives_while_waiting(az, emu):
    flip = later(1.0, lambda: emu.finish_operation(
        "aks-busy", status="Failed", error={"code": "ExtensionOperationFailed", "message": HELM_TEXTS[4][0]}))
    verified = clean(az("amlk8s verify -g rg-ml -c aks-busy -t aks --wait --timeout 60", expect=1))
    flip.join()
    assert "provisioningState: Failed" in verified.stderr
    assert verified.json["findings"][0]["code"] == "helm-timeout"
    assert "kubectl get svc -n azureml" in verified.stderr


def test_verify_wait_timeout_expires(az):
    started = time.monotonic()
    verified = clean(az("amlk8s verify -g rg-ml -c aks-busy -t aks --wait --timeout 2", expect=1))
    elapsed = time.monotonic() - started
    assert 2 <= elapsed < 15, verified.describe()
    assert "Gave up waiting after 2 s" in verified.stderr
    assert verified.json["verdict"] == "InProgress"
    assert "az amlk8s verify -g rg-ml -c aks-busy -t managedClusters -n azureml --wait" in verified.stderr


def test_verify_usage_errors_and_not_found(az):
    usage = clean(az("amlk8s verify -g rg-ml -c aks-busy -t aks --timeout 5"))
    assert usage.exit_code != 0 and "--timeout applies only with --wait" in usage.stderr
    missing = clean(az("amlk8s verify -g rg-ml -c aks-prod -t aks", expect=3))
    assert "The extension 'azureml' was not found on AKS cluster 'aks-prod'" in missing.stderr
    assert missing.stdout == ""


def test_verify_of_a_non_azureml_extension_fails(az):
    verified = clean(az("amlk8s verify -g rg-ml -c aks-with-ext -t aks -n flux", expect=1))
    assert verified.json["verdict"] == "NotAzureML"
    assert "microsoft.flux" in verified.stderr and "az amlk8s list -g rg-ml -c aks-with-ext" in verified.stderr
    assert verified.json["configurationSettings"] == {}          # another extension's settings are not echoed


def test_wait_needs_a_valid_condition(az):
    nothing = clean(az("amlk8s wait -g rg-ml -c aks-prod -t aks", expect=1))
    assert "--created" in nothing.stderr and nothing.writes == [] and nothing.requests == [] or \
        all(r.kind == "token" for r in nothing.requests)
    bad = clean(az(["amlk8s", "wait", "-g", "rg-ml", "-c", "aks-with-ext", "-t", "aks", "--custom", "state=="],
                   expect=1))
    assert "--custom" in bad.stderr and "JMESPath" in bad.stderr
    exists = clean(az("amlk8s wait -g rg-ml -c aks-with-ext -t aks --exists --interval 1", expect=0))
    assert exists.stdout.strip() == ""
