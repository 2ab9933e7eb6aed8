"""Failures in the forms users meet them (../shared/reference/real-failures.md), end to end with the real az: ARM's
error text of each service era diagnosed by its innermost cause, and the health-check report in its 2022 format."""
# pylint: disable=missing-docstring

import pytest

from tests.emulator.kube import scenarios as ks
from tests.unit.test_real_failures import ERAS, REPORT_2022

VERIFY = "amlk8s verify -g rg-ml -c aks-with-ext -t aks"


@pytest.mark.parametrize("era", sorted(ERAS))
def test_a_failed_deploy_is_diagnosed_by_the_innermost_cause_of_each_era(az, emu, era):
    emu.set_outcome("aks-prod", status="Failed", error={"code": "ExtensionOperationFailed", "message": ERAS[era]})
    result = az("amlk8s deploy -g rg-ml -c aks-prod -t aks --arm-only --enable-training true", expect=1)
    said = " ".join(result.stderr.split())
    cause = said.split("Cause: ", 1)[1]
    assert cause.split(" The HealthCheck hook", 1)[0].endswith("failed pre-install: pod healthcheck failed"), said
    assert "policies blocking" not in cause
    assert "HealthCheck hook" in said and "reports-pre-install" in said, said
    assert "Traceback" not in result.stderr


def test_the_2022_health_check_report_is_read_by_code(az, kube):
    cm = ks.healthcheck_configmap()
    cm["data"] = {"reports-pre-install": REPORT_2022}
    objects = [o for o in ks.aks_world("MC_rg-ml_aks-with-ext_eastus")
               if not (o["kind"] == "ConfigMap" and o["metadata"]["name"] == cm["metadata"]["name"])] + [cm]
    kube.aks("aks-with-ext", objects)
    report = az(VERIFY + " -o json", expect=1).json
    assert report["verdict"] == "Degraded"
    found = {f["code"]: f for f in report["findings"] if f["source"].startswith("healthcheck")}
    assert found["E45006"]["title"] == "INSTANCE_TYPE_INVALID" and found["E45006"]["level"] == "warning"
    assert found["AgentWarning"]["level"] == "warning" and '"gateway":0' in found["AgentWarning"]["diagnosis"]
    [section] = report["inCluster"]["healthCheck"]
    assert section["passed"] == 1 and len(section["failed"]) == 2


def test_a_mis_cased_installed_setting_is_named_with_what_it_caused(az, emu):
    body = emu.extension("aks-with-ext")
    body["properties"]["configurationSettings"]["InferenceRouterHA"] = "False"
    emu.put_resource(body["id"], body)
    report = az(VERIFY + " --arm-only -o json", expect=0).json
    [finding] = [f for f in report["findings"] if f["code"] == "setting-ignored"]
    assert "InferenceRouterHA='False' is ignored" in finding["diagnosis"]
    assert "the chart reads inferenceRouterHA, so inferenceRouterHA kept its default" in finding["diagnosis"]
    assert ("az amlk8s update -g rg-ml -c aks-with-ext -t managedClusters -n azureml --config "
            "inferenceRouterHA=False") in finding["fix"]


def test_an_oom_killed_container_is_named_as_such(az, kube):
    from tests.emulator.kube import failures as kf
    objects = ks.aks_world("MC_rg-ml_aks-with-ext_eastus")
    pod = next(o for o in objects if o["kind"] == "Pod" and o["metadata"]["name"].startswith("aml-operator"))
    crashing = kf.crashing_pod(pod["metadata"]["name"], reason="OOMKilled", restarts=7)
    kube.aks("aks-with-ext", [o for o in objects if o is not pod] + [crashing])
    report = az(VERIFY + " -o json", expect=1).json
    [finding] = [f for f in report["findings"] if f["code"] == "pod-oom-killed"]
    assert "OOMKilled, 7 restarts" in finding["diagnosis"] and "--previous" in finding["fix"]
    assert [p["reason"] for p in report["inCluster"]["podsNotReady"]] == ["OOMKilled"]


def test_an_instance_type_no_node_can_hold_is_named_with_the_largest_node(az, kube):
    from tests.emulator.kube import failures as kf
    objects = ks.aks_world("MC_rg-ml_aks-with-ext_eastus") + [
        kf.instance_type("defaultinstancetype", cpu="1", memory="4Gi"),
        kf.instance_type("bigmem", cpu="2", memory="64Gi"),
        kf.instance_type("gpu-a100", cpu="4", memory="8Gi", gpus=1, node_selector={"sku": "gpu"})]
    kube.aks("aks-with-ext", objects)
    report = az(VERIFY + " -o json", expect=1).json
    found = {f["message"]: f for f in report["findings"] if f["code"] == "instance-type-too-large"}
    assert set(found) == {"instance type bigmem", "instance type gpu-a100"}
    assert "asks for 2 CPU, 64 GiB memory, and the largest eligible node" in found["instance type bigmem"]["diagnosis"]
    assert "no eligible node matches its nodeSelector sku=gpu" in found["instance type gpu-a100"]["diagnosis"]
    assert report["verdict"] == "Degraded"


def test_an_arc_agent_out_of_memory_is_named_outside_azureml(az, kube):
    from tests.emulator.kube import failures as kf
    objects = ks.arc_world("arc-with-ext", "rg-arc", kube.arm.subscription_id)
    manager = next(o for o in objects if o["kind"] == "Pod" and o["metadata"].get("namespace") == "azure-arc"
                   and o["metadata"]["name"].startswith("extension-manager"))
    crashing = kf.crashing_pod(manager["metadata"]["name"], ns="azure-arc", reason="OOMKilled", restarts=3)
    path = kube.arc("arc-with-ext", objects=[o for o in objects if o is not manager] + [crashing])
    report = az(f"amlk8s verify -g rg-arc -c arc-with-ext -t arc --kube-config {path} -o json", expect=1).json
    [finding] = [f for f in report["findings"] if f["code"] == "arc-agent-not-ready"]
    assert manager["metadata"]["name"] in finding["diagnosis"] and "OOMKilled, 3 restarts" in finding["diagnosis"]
    assert "az connectedk8s upgrade -g rg-arc -n arc-with-ext" in finding["fix"]
    assert report["verdict"] == "Degraded"


def test_the_installed_node_selector_and_router_ha_are_judged_against_the_nodes(az, kube, emu):
    body = emu.extension("aks-with-ext")
    settings = body["properties"]["configurationSettings"]
    assert settings.get("enableInference", "").lower() == "true"
    settings["nodeSelector.agentpool"] = "mlpool"
    emu.put_resource(body["id"], body)
    objects = ks.aks_world("MC_rg-ml_aks-with-ext_eastus")
    kube.aks("aks-with-ext", objects)
    report = az(VERIFY + " -o json", expect=1).json
    codes = {f["code"]: f for f in report["findings"]}
    assert "the nodes have agentpool=nodepool1, not mlpool" in codes["installed-node-selector"]["diagnosis"]
    assert "az amlk8s update -g rg-ml -c aks-with-ext -t managedClusters -n azureml --config nodeSelector." in \
        codes["installed-node-selector"]["fix"]
    assert "--inference-router-ha false" in codes["installed-router-ha"]["fix"]

    settings["inferenceRouterHA"] = "false"                     # HA off: never offered "off" again
    emu.put_resource(body["id"], body)
    report = az(VERIFY + " -o json", expect=1).json
    assert "installed-router-ha" not in {f["code"] for f in report["findings"]}


def test_a_crash_loop_is_explained_by_its_previous_log_without_its_secrets(az, kube):
    from tests.emulator.kube import failures as kf
    objects = ks.aks_world("MC_rg-ml_aks-with-ext_eastus")
    fe = next(o for o in objects if o["kind"] == "Pod" and o["metadata"]["name"].startswith("azureml-fe-v2"))
    crashing = kf.crashing_pod(fe["metadata"]["name"], restarts=5)
    container = crashing["spec"]["containers"][0]["name"]
    secret = "eyJhbGciOiJSUzI1NiJ9.c2VjcmV0LXRva2VuLXRoYXQtbXVzdC1uZXZlci1zaG93.c2ln"
    log = (f"I1206 starting azureml-fe\nI1206 using bearer {secret}\n"
           f"F1206 tls: failed to find any PEM data in certificate input (token {secret})\n")
    kube.aks("aks-with-ext", [o for o in objects if o is not fe] + [crashing],
             logs={("azureml", fe["metadata"]["name"], container): log})
    result = az(VERIFY + " -o json --debug", expect=1)
    [finding] = [f for f in result.json["findings"] if f["code"] == "pod-crashloop"]
    assert "Its last log says the TLS certificate or key the router was given" in finding["diagnosis"]
    assert "failed to find any PEM data" in finding["diagnosis"]
    assert finding["fix"].startswith("Give a matching PEM certificate and key again")
    assert "--ssl-cert-pem-file <cert.pem>" in finding["fix"]
    assert secret not in result.stdout + result.stderr
    logs = [r for r in kube.requests(cluster="aks-with-ext") if r.path.endswith("/log")]
    assert len(logs) == 1 and logs[0].query.get("previous") == "true" and {r.method for r in kube.requests()} == {
        "GET"}


def _world_with(kube, replace=(), add=()):
    """aks-with-ext's healthy cluster, objects whose name starts with one of ``replace`` left out, ``add`` added."""
    objects = [o for o in ks.aks_world("MC_rg-ml_aks-with-ext_eastus")
               if not any(o["metadata"]["name"].startswith(prefix) for prefix in replace)]
    kube.aks("aks-with-ext", objects + list(add))
    return objects


def test_a_release_revision_left_pending_is_named_with_its_record_and_no_secret_data_is_read(az, kube):
    from tests.emulator.kube import failures as kf
    stuck = [kf.helm_release_secret("azureml", 2, "pending-upgrade"), kf.helm_release_secret("azureml", 1, "deployed"),
             kf.helm_release_secret("other", 3, "pending-install")]
    _world_with(kube, replace=("sh.helm.release.",), add=stuck)
    result = az(VERIFY + " -o json", expect=1)
    [finding] = [f for f in result.json["findings"] if f["code"] == "helm-release-pending"]
    assert "revision 2 (pending-upgrade)" in finding["diagnosis"] and "another operation" in finding["diagnosis"]
    assert "kubectl delete secret -n azureml sh.helm.release.v1.azureml.v2 --ignore-not-found" in finding["fix"]
    assert "azureml.v1 " not in finding["fix"] and "revision 3" not in finding["diagnosis"]
    reads = [r for r in kube.requests() if "/secrets" in r.path]
    assert reads and all("as=PartialObjectMetadataList" in r.accept for r in reads), reads
    assert stuck[0]["data"]["release"] not in result.stdout + result.stderr


def test_a_pending_revision_during_the_operation_is_the_operation_itself(az, kube, emu):
    from tests.emulator.kube import failures as kf
    body = emu.extension("aks-with-ext")
    body["properties"]["provisioningState"] = "Updating"
    emu.put_resource(body["id"], body)
    _world_with(kube, replace=("sh.helm.release.",), add=[kf.helm_release_secret("azureml", 2, "pending-upgrade")])
    report = az(VERIFY + " -o json", expect=1).json
    assert report["verdict"] == "InProgress"
    assert "helm-release-pending" not in {f["code"] for f in report["findings"]}


def test_a_router_and_an_admission_webhook_without_ready_endpoints_are_running_but_not_serving(az, kube):
    objects = ks.aks_world("MC_rg-ml_aks-with-ext_eastus")
    router = next(o for o in objects if o["kind"] == "Service" and o["metadata"]["name"] == "azureml-fe")
    webhook = next(o for o in objects if o["kind"] == "Service" and o["metadata"]["name"].endswith("-admission"))
    _world_with(kube, replace=("azureml-fe", "azureml-ingress-nginx-controller-admission"), add=[
        router, ks.endpoints(router, not_ready=ks.pod_ips(objects, "azureml-fe-v2")),
        webhook, ks.endpoints(webhook)])
    report = az(VERIFY + " -o json", expect=1).json
    codes = {f["code"]: f for f in report["findings"]}
    assert "no ready endpoint (3 not ready)" in codes["router-no-endpoints"]["diagnosis"]
    assert "kubectl describe endpoints azureml-fe -n azureml" in codes["router-no-endpoints"]["fix"]
    webhook_finding = codes["admission-webhook-no-endpoints"]
    assert "azureml-ingress-nginx-controller-admission has no ready endpoint (none at all)" in \
        webhook_finding["diagnosis"] and "no endpoints available" in webhook_finding["diagnosis"]
    assert "az amlk8s update -g rg-ml -c aks-with-ext -t managedClusters -n azureml" in webhook_finding["fix"]
    assert report["verdict"] == "Degraded"


def test_the_aks_extension_manager_out_of_memory_is_named_in_kube_system(az, kube):
    from tests.emulator.kube import failures as kf
    objects = ks.aks_world("MC_rg-ml_aks-with-ext_eastus")
    operator = next(o for o in objects if o["kind"] == "Pod" and o["metadata"].get("namespace") == "kube-system"
                    and o["metadata"]["name"].startswith("extension-operator"))
    crashing = kf.crashing_pod(operator["metadata"]["name"], ns="kube-system", reason="OOMKilled", restarts=2)
    kube.aks("aks-with-ext", [o for o in objects if o is not operator] + [crashing])
    report = az(VERIFY + " -o json", expect=1).json
    [finding] = [f for f in report["findings"] if f["code"] == "extension-manager-not-ready"]
    assert "AKS extension manager pod" in finding["diagnosis"] and "OOMKilled, 2 restarts" in finding["diagnosis"]
    assert f"kubectl describe pod -n kube-system {operator['metadata']['name']}" in finding["fix"]


def test_the_report_section_named_by_the_hook_that_failed_is_the_one_diagnosed(az, kube, emu):
    old = ks.healthcheck_report([("Failed", "helmchart", "E45005", "Azureml Fe deployment confict")])
    new = ks.healthcheck_report([("Failed", "clusterresource", "E40002", "Insufficient node")])
    cm = ks.healthcheck_configmap()
    cm["data"] = {"reports-pre-install": old, "reports-pre-upgrade": new}
    _world_with(kube, replace=("arcml-healthcheck",), add=[cm])
    body = emu.extension("aks-with-ext")
    body["properties"].update(provisioningState="Failed", errorInfo={"code": "ExtensionOperationFailed", "message": (
        "Error: [ InnerError: [Helm installation failed : InnerError [UPGRADE FAILED: pre-upgrade hooks failed: pod "
        "healthcheck failed]]] occurred while doing the operation : [Update] on the config")})
    emu.put_resource(body["id"], body)
    report = az(VERIFY + " -o json", expect=1).json
    codes = {f["code"] for f in report["findings"] if f["source"].startswith("healthcheck")}
    assert codes == {"E40002"}, report["findings"]
    sections = {s["section"]: s for s in report["inCluster"]["healthCheck"]}
    assert sections["reports-pre-upgrade"]["current"] and not sections["reports-pre-install"]["current"]
    assert sections["reports-pre-install"]["failed"][0]["errorCode"] == "E45005"
    table = az(VERIFY + " -o table", expect=1).stdout
    assert "reports-pre-install: 0 passed, 1 failed (from an earlier operation)" in " ".join(table.split())


@pytest.mark.parametrize("location, audience, fails", [
    ("usgovvirginia", "https://management.azure.com/", True),          # AML-Kubernetes#299
    ("usgovvirginia", "https://management.usgovcloudapi.net/", False),
    ("eastus", "https://management.usgovcloudapi.net/", True),
    ("eastus", "https://management.azure.com/", False),
])
def test_an_identity_configuration_of_another_cloud_is_named(az, kube, emu, location, audience, fails):
    cluster = emu.resource(emu.cluster_id("aks-with-ext"))
    cluster["location"] = location
    emu.put_resource(cluster["id"], cluster)
    kube.aks("aks-with-ext", ks.aks_world(kube.node_resource_group("aks-with-ext"), identity_audience=audience))
    report = az(VERIFY + " -o json", expect=1 if fails else 0).json
    found = [f for f in report["findings"] if f["code"] == "identity-wrong-cloud"]
    assert bool(found) == fails, report["findings"]
    if fails:
        host = audience.split("/")[2]
        assert f"names {host}" in found[0]["diagnosis"] and "az cloud set --name" in found[0]["fix"]


def test_another_stacks_volcano_scheduler_and_kube_state_metrics_collide_at_run_time(az, kube):
    others = [ks.deployment("volcano-scheduler", "volcano-system", 1),
              ks.deployment("prometheus-kube-state-metrics", "monitoring", 1)]
    _world_with(kube, add=others)
    report = az(VERIFY + " -o json", expect=1).json
    codes = {f["code"]: f for f in report["findings"]}
    assert "Deployment volcano-scheduler in namespace volcano-system" in codes["second-volcano-scheduler"]["diagnosis"]
    assert "az amlk8s update -g rg-ml -c aks-with-ext -t managedClusters -n azureml --install-volcano false" in \
        codes["second-volcano-scheduler"]["fix"]
    assert "prometheus-kube-state-metrics in namespace monitoring" in codes["second-kube-state-metrics"]["diagnosis"]
    assert {f["level"] for f in report["findings"] if f["code"].startswith("second-")} == {"warning"}


def test_a_daemonset_not_ready_everywhere_is_named_with_its_nodes(az, kube, emu):
    from tests.emulator.kube import failures as kf
    body = emu.extension("aks-with-ext")
    body["properties"]["configurationSettings"]["installNvidiaDevicePlugin"] = "True"
    emu.put_resource(body["id"], body)
    objects = ks.aks_world("MC_rg-ml_aks-with-ext_eastus", nvidia=True)
    ds = next(o for o in objects if o["kind"] == "DaemonSet" and o["metadata"]["name"].startswith("nvidia"))
    ds["status"]["numberReady"] = ds["status"]["desiredNumberScheduled"] - 1
    pod = next(o for o in objects if o["kind"] == "Pod" and o["metadata"]["name"].startswith("nvidia"))
    crashing = kf.crashing_pod(pod["metadata"]["name"], node_name=pod["spec"]["nodeName"])
    crashing["metadata"]["ownerReferences"] = pod["metadata"]["ownerReferences"]
    kube.aks("aks-with-ext", [o for o in objects if o is not pod] + [crashing])
    report = az(VERIFY + " -o json", expect=1).json
    [finding] = [f for f in report["findings"] if f["code"] == "component-not-ready"]
    assert f"2 of 3 ready (not ready on node {pod['spec']['nodeName']})" in finding["diagnosis"], finding
