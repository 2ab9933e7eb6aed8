"""check, deploy and verify read the cluster's Kubernetes API (cli-contract.md, "Reading the cluster itself").

The real az runs against both emulators: the ARM one hands out kubeconfigs from listClusterUserCredential that point
at the Kubernetes API emulator (tests/emulator/kube), which serves the objects of each scenario. Every test checks
the exit code, the finding and its fix, and, where the command refuses, that nothing was written to either API.
"""

import base64
import json

import pytest

from tests.certs import assert_no_secrets
from tests.e2e.harness import check_rows, refused
from tests.emulator.kube import scenarios as ks

NRG = "MC_rg-ml_aks-prod_eastus"
DEPLOY = "amlk8s deploy -g rg-ml -c aks-prod -t aks"
CHECK = "amlk8s check -g rg-ml -c aks-prod -t aks"
VERIFY = "amlk8s verify -g rg-ml -c aks-with-ext -t aks"
ARC_CHECK = "amlk8s check -g rg-arc -c arc-k3s -t arc"
INFERENCE = " --enable-inference --inference-router-service-type LoadBalancer --allow-insecure-connections"


def empty_aks(*extra, nrg=NRG, count=3):
    return ks.aks_world(nrg, count=count, installed=False) + [o for group in extra for o in group]


def healthy(**components):
    return ks.aks_world("MC_rg-ml_aks-with-ext_eastus", **components)


def replace(objects, *new):
    """objects with those of `new` replacing the ones of the same kind, namespace and name."""
    def key(o):
        return o["kind"], o["metadata"].get("namespace"), o["metadata"]["name"]
    wanted = {key(o): o for o in new}
    return [wanted.pop(key(o), o) for o in objects] + list(wanted.values())


def no_writes(result, kube):
    assert result.writes == [], result.describe()
    assert kube.writes() == []


def cluster_reads(kube, key):
    return [r for r in kube.requests(cluster=key)]


# --- access ---------------------------------------------------------------------------------------------------------

def test_verify_reads_the_cluster_with_the_user_credentials_from_azure(az, kube):
    kube.aks("aks-with-ext", healthy())
    result = az(VERIFY + " -o json", expect=0)
    report = result.json
    inside = report["inCluster"]
    assert inside["read"] is True and inside["source"] == "cluster user credentials from Azure"
    assert report["verdict"] == "Healthy"
    names = {w["name"]: w for w in inside["workloads"]}
    assert names["azureml-fe-v2"] == {"name": "azureml-fe-v2", "kind": "deployment", "desired": 3, "ready": 3,
                                      "status": "ready"}
    assert {w["status"] for w in inside["workloads"]} == {"ready"}
    assert inside["inferenceRouter"]["address"] == ks.DEFAULT_ROUTER_IP
    assert [s["failed"] for s in inside["healthCheck"]] == [[]] * len(ks.HEALTHCHECK_KEYS)
    posts = [r for r in result.requests if r.method == "POST"]
    assert [r.path.rsplit("/", 1)[-1].split("?")[0] for r in posts] == ["listClusterUserCredential"]
    assert {r.method for r in kube.requests()} == {"GET"}


def test_verify_table_shows_ready_counts_and_the_router(az, kube):
    kube.aks("aks-with-ext", healthy())
    out = az(VERIFY + " -o table", expect=0).stdout
    assert "azureml-fe-v2 (deployment, 3/3 ready)" in out
    assert f"azureml-fe (LoadBalancer): {ks.DEFAULT_ROUTER_IP}" in out
    assert "read https://127.0.0.1:" in out


def test_arm_only_sends_nothing_to_the_cluster(az, kube):
    kube.aks("aks-with-ext", healthy())
    result = az(VERIFY + " --arm-only -o json", expect=0)
    assert result.json["inCluster"]["status"] == "skipped"
    assert kube.requests() == []
    assert not [r for r in result.requests if "listClusterUserCredential" in r.path]
    rows = check_rows(az(CHECK + " --arm-only -o json"))
    assert rows["cluster-api"]["status"] == "skipped"
    assert kube.requests() == []


def test_an_unreachable_api_server_is_unknown_not_a_failure(az, kube):
    kube.unreachable("aks-prod")        # a kubeconfig for https://127.0.0.1:9, where nothing listens
    result = az(CHECK + " -o json", expect=0)
    row = check_rows(result)["cluster-api"]
    assert row["status"] == "unknown"
    assert "refused the connection" in row["finding"] and row["fix"]
    assert "Traceback" not in result.stderr
    verify = az(VERIFY + " -o json", expect=0).json        # aks-with-ext: the emulator's default kubeconfig
    assert verify["inCluster"]["status"] == "unknown" and verify["verdict"] == "Healthy"


def test_verify_says_plainly_when_the_cluster_was_not_read(az, kube):
    result = az(VERIFY + " -o json", expect=0)
    inside = result.json["inCluster"]
    assert inside["read"] is False and inside["status"] == "unknown" and inside["reason"]
    assert "not read: " in az(VERIFY + " -o table", expect=0).stdout


def test_a_refused_credential_is_unknown_with_the_reason(az, kube):
    kube.aks("aks-prod", empty_aks(), user_auth="none")
    row = check_rows(az(CHECK + " -o json", expect=0))["cluster-api"]
    assert row["status"] == "unknown" and "401" in row["finding"]


def test_forbidden_reads_make_only_those_checks_unknown(az, kube):
    kube.aks("aks-prod", empty_aks(), forbidden=["customresourcedefinitions"])
    rows = check_rows(az(CHECK + " -o json", expect=0))
    assert rows["cluster-api"]["status"] == "pass"
    assert rows["helm-ownership"]["status"] == "unknown" and "403" in rows["helm-ownership"]["finding"]
    assert rows["legacy-azureml-fe"]["status"] == "pass"


def test_a_kubeconfig_file_and_a_context_are_used(az, kube):
    kube.aks("aks-prod", empty_aks(), handed_out=False)
    path = kube.kubeconfig_file("aks-prod", context="prod")
    rows = check_rows(az(f"{CHECK} --kubeconfig {path} --kube-context prod -o json", expect=0))
    assert rows["cluster-api"]["status"] == "pass" and "--kube-config context prod" in rows["cluster-api"]["finding"]
    result = az(f"{CHECK} --kube-config {path} --kube-context nope")
    refused(result, 1)
    assert "Context 'nope' (--kube-context) is not in the kubeconfig" in result.stderr and "prod" in result.stderr
    assert kube.requests() and all(r.method == "GET" for r in kube.requests())


def test_kube_context_without_a_kubeconfig_and_a_missing_file_are_usage_errors(az, kube, tmp_path):
    result = az(CHECK + " --kube-context prod")
    refused(result)
    assert "--kube-context" in result.stderr and "--kube-config" in result.stderr
    result = az(f"{CHECK} --kube-config {tmp_path / 'missing.yaml'}")
    refused(result)
    assert "--kube-config" in result.stderr and "missing.yaml" in result.stderr
    result = az(f"{CHECK} --arm-only --kube-config {tmp_path / 'x'}")
    refused(result)
    assert kube.requests() == []


def test_a_kubeconfig_of_another_aks_cluster_is_refused_by_name(az, kube):
    kube.aks("aks-poc", ks.aks_world("MC_rg-ml_aks-poc_eastus", installed=False), handed_out=False)
    kube.aks("aks-prod", empty_aks(), handed_out=False)
    path = kube.kubeconfig_file("aks-poc")
    for command in (CHECK, DEPLOY + " --enable-training"):
        result = az(f"{command} --kube-config {path}")
        refused(result, 1)
        assert "MC_rg-ml_aks-poc_eastus" in result.stderr and NRG in result.stderr
        assert "aks-prod" in result.stderr
    # only the identity read reached the other cluster: nothing else was inspected there
    assert {r.path for r in kube.requests(cluster="aks-poc")} == {"/api/v1/nodes"}
    assert kube.requests(cluster="aks-prod") == []


def test_a_same_named_cluster_in_another_subscription_is_refused_by_its_providerid(az, kube):
    """Same resource group, name and region in another subscription: the node resource group (and its label) is the
    same, the subscription in the nodes' providerID is not. Its clean findings must not pass for this cluster's
    blockers (legacy azureml-fe here)."""
    other_sub = "5c6e7f80-2a3b-4c5d-9e8f-444455556666"
    kube.aks("aks-prod-twin", ks.aks_world(NRG, installed=False, subscription_id=other_sub), handed_out=False)
    kube.aks("aks-prod", empty_aks(ks.legacy_azureml_fe()), handed_out=False)
    path = kube.kubeconfig_file("aks-prod-twin")
    for command in (CHECK, DEPLOY + " --enable-training"):
        result = refused(az(f"{command} --kube-config {path}"), 1)
        assert "is not the AKS cluster" in result.stderr and other_sub in result.stderr, result.stderr
        no_writes(result, kube)
    assert {r.path for r in kube.requests(cluster="aks-prod-twin")} == {"/api/v1/nodes"}


def test_a_kubeconfig_of_a_cluster_that_is_not_aks_is_refused(az, kube):
    kube.emulator.add_cluster("kind", ks.system_namespaces() + ks.arc_nodes(1))
    path = kube.kubeconfig_file("kind")
    result = az(f"{CHECK} --kube-config {path}")
    refused(result, 1)
    assert "not AKS" in result.stderr


def test_arc_without_a_kubeconfig_is_unknown_with_the_way_to_give_access(az, kube):
    row = check_rows(az(ARC_CHECK + " -o json", expect=0))["cluster-api"]
    assert row["status"] == "unknown"
    assert "az connectedk8s proxy -g rg-arc -n arc-k3s" in row["fix"] and "--kube-config" in row["fix"]
    rows = check_rows(az(ARC_CHECK + " -o json", expect=0))
    assert rows["node-architecture"]["status"] == "unknown"        # ARM's unknown stays
    assert kube.requests() == []


def test_arc_with_a_kubeconfig_reads_nodes_for_architecture_capacity_and_gpus(az, kube):
    path = kube.arc("arc-k3s", objects=ks.system_namespaces() + ks.arc_nodes(3, gpus=1)
                    + ks.arc_agents("arc-k3s", "rg-arc", kube.arm.subscription_id))
    rows = check_rows(az(f"{ARC_CHECK} --kube-config {path} -o json", expect=0))
    assert rows["cluster-api"]["status"] == "pass" and "arc-k3s" in rows["cluster-api"]["finding"]
    assert rows["node-architecture"]["status"] == "pass" and "amd64" in rows["node-architecture"]["finding"]
    assert rows["capacity"]["status"] == "pass" and "12 vCPU" in rows["capacity"]["finding"]
    assert rows["gpu-device-plugin"]["status"] == "pass"   # allocatable nvidia.com/gpu: a plugin already runs


def test_arc_arm64_nodes_block_the_deploy(az, kube):
    path = kube.arc("arc-k3s", objects=ks.arc_world("arc-k3s", "rg-arc", kube.arm.subscription_id, arch="arm64",
                                                    installed=False))
    rows = check_rows(az(f"{ARC_CHECK} --kube-config {path} -o json", expect=1))
    assert rows["node-architecture"]["status"] == "fail" and "Arm64" in rows["node-architecture"]["finding"]
    result = az(f"amlk8s deploy -g rg-arc -c arc-k3s -t arc --enable-training --kube-config {path}")
    refused(result, 1)
    assert "Arm64" in result.stderr
    assert kube.writes() == []


def test_arc_small_nodes_and_gpus_without_a_plugin_are_warnings(az, kube):
    nodes = ks.arc_nodes(2, allocatable_cpu="2", allocatable_memory="4Gi")
    gpu = ks.arc_nodes(1, prefix="arc-gpu", allocatable_cpu="2", allocatable_memory="4Gi", control_plane=0)
    gpu[0]["metadata"]["labels"]["nvidia.com/gpu.present"] = "true"
    path = kube.arc("arc-k3s", objects=ks.system_namespaces() + nodes + gpu
                    + ks.arc_agents("arc-k3s", "rg-arc", kube.arm.subscription_id))
    rows = check_rows(az(f"{ARC_CHECK} --kube-config {path} -o json", expect=1))
    assert rows["capacity"]["status"] == "warning" and "allocatable" in rows["capacity"]["finding"]
    assert rows["gpu-device-plugin"]["status"] == "fail" and "arc-gpu-0" in rows["gpu-device-plugin"]["finding"]
    assert "--install-nvidia-device-plugin true" in rows["gpu-device-plugin"]["fix"]
    rows = check_rows(az(f"{ARC_CHECK} --kube-config {path} --ignore-check gpu-device-plugin -o json", expect=0))
    assert rows["gpu-device-plugin"]["status"] == "ignored"


def test_aks_gpu_nodes_whose_capacity_has_no_gpu_block_a_deploy_without_the_device_plugin(az, kube):
    gpu = ks.gpu_nodes(kube.node_resource_group("aks-prod"), gpus=0)
    assert "accelerator" not in gpu[0]["metadata"]["labels"]       # known only by its VM size (and AKS's label)
    kube.aks("aks-prod", ks.aks_world(kube.node_resource_group("aks-prod"), installed=False) + gpu)
    result = az("amlk8s deploy -g rg-ml -c aks-prod -t aks --enable-training --install-nvidia-device-plugin false")
    refused(result, 1)
    said = " ".join(result.stderr.split())
    assert f"GPU node {gpu[0]['metadata']['name']} offers no nvidia.com/gpu" in said, said
    assert "--install-nvidia-device-plugin true" in said
    assert kube.writes() == []


def test_an_arc_kubeconfig_of_another_arc_cluster_is_refused_by_name(az, kube):
    other = ks.arc_world("arc-onprem", "rg-onprem", kube.arm.subscription_id, installed=False)
    path = kube.arc("arc-other", rg="rg-onprem", objects=other)
    result = az(f"{ARC_CHECK} --kube-config {path}")
    refused(result, 1)
    assert "'arc-onprem' in resource group 'rg-onprem'" in result.stderr and "arc-k3s" in result.stderr
    no_arc = kube.arc("plain", objects=ks.system_namespaces() + ks.arc_nodes(1))
    result = az(f"{ARC_CHECK} --kube-config {no_arc}")
    refused(result, 1)
    assert "not connected to Azure Arc" in result.stderr


def test_an_entra_id_cluster_is_read_with_a_token_from_the_az_account(az, kube, emu):
    nrg = "MC_rg-ml_aks-nolocal_eastus"
    kube.aks("aks-nolocal", ks.aks_world(nrg, installed=False), token=False, user_auth="exec-kubelogin",
             entra={"tenant_id": emu.tenant_id})
    rows = check_rows(az("amlk8s check -g rg-ml -c aks-nolocal -t aks -o json"))
    assert rows["cluster-api"]["status"] == "pass", rows["cluster-api"]
    auths = {r.auth for r in kube.requests(cluster="aks-nolocal")}
    assert auths == {"jwt"}


# --- before the write -------------------------------------------------------------------------------------------------

def test_legacy_azureml_fe_blocks_with_the_cleanup_and_the_coexistence_path(az, kube):
    kube.aks("aks-prod", empty_aks(ks.legacy_azureml_fe()))
    result = az(CHECK + INFERENCE + " -o json", expect=1)
    row = check_rows(result)["legacy-azureml-fe"]
    assert row["status"] == "fail" and "E45004" in row["finding"]
    assert "kubectl delete clusterrole azureml-fe-role" in row["fix"] and "scoringFe.enableUpgrade=true" in row["fix"]
    result = az(DEPLOY + INFERENCE + "")
    refused(result, 1)
    assert "Legacy AKS v1 router" in result.stderr and "--ignore-check legacy-azureml-fe" in result.stderr
    no_writes(result, kube)
    done = az(DEPLOY + INFERENCE + " --ignore-check legacy-azureml-fe",
              expect=0)
    assert [w.method for w in done.writes] == ["PUT"]


def test_volcano_and_prometheus_crds_of_another_release_block(az, kube):
    kube.aks("aks-prod", empty_aks(ks.volcano_crds(), ks.prometheus_operator_crds()))
    row = check_rows(az(CHECK + " --enable-training -o json", expect=1))["helm-ownership"]
    assert row["status"] == "fail"
    assert "Volcano" in row["finding"] and "kube-prometheus-stack" in row["finding"] and "volcano" in row["finding"]
    assert "--install-volcano false" in row["fix"] and "--install-prom-op false" in row["fix"]
    result = az(DEPLOY + " --enable-training")
    refused(result, 1)
    no_writes(result, kube)
    # reusing both: nothing left to clash
    rows = check_rows(az(CHECK + " --enable-training --install-volcano false --install-prom-op false -o json",
                         expect=0))
    assert rows["helm-ownership"]["status"] == "pass"


def test_a_cluster_role_of_another_release_blocks(az, kube):
    role = ks.helm_owned(ks.clusterrole("blob-external-provisioner-role"), "blob-csi", "kube-system")
    kube.aks("aks-prod", empty_aks([role]))
    row = check_rows(az(CHECK + " --enable-training -o json", expect=1))["helm-ownership"]
    assert "blob-external-provisioner-role" in row["finding"] and "blob-csi" in row["finding"]


def test_objects_of_this_release_do_not_block_a_redeploy(az, kube):
    kube.aks("aks-prod", ks.aks_world(NRG))      # the AzureML release "azureml" already owns its CRDs
    rows = check_rows(az(CHECK + " --enable-training -o json", expect=0))
    assert rows["helm-ownership"]["status"] == "pass"
    assert rows["azureml-namespace"]["status"] == "pass"


def test_another_ingress_nginx_blocks_inference_on_aks(az, kube):
    kube.aks("aks-prod", empty_aks(ks.foreign_ingress_nginx()))
    row = check_rows(az(CHECK + INFERENCE + " -o json", expect=1))["ingress-nginx"]
    assert row["status"] == "fail" and "nginx" in row["finding"] and "ingress-nginx" in row["finding"]
    assert "nginxIngress.enabled=false" in row["fix"]
    rows = check_rows(az(CHECK + " --enable-training -o json", expect=0))
    assert "ingress-nginx" not in rows          # training only: the extension installs no ingress controller


def test_a_terminating_namespace_blocks(az, kube):
    kube.aks("aks-prod", empty_aks([ks.terminating_namespace()]))
    row = check_rows(az(CHECK + " --enable-training -o json", expect=1))["azureml-namespace"]
    assert row["status"] == "fail" and "Terminating" in row["finding"]
    result = az(DEPLOY + " --enable-training")
    refused(result, 1)
    assert "Terminating" in result.stderr
    no_writes(result, kube)


SSL = (" --enable-inference --inference-router-service-type LoadBalancer --ssl-cname ml.contoso.com "
       "--ssl-secret azureml-ssl")


def test_a_missing_ssl_secret_blocks(az, kube):
    kube.aks("aks-prod", empty_aks([ks.namespace("azureml")]))
    row = check_rows(az(CHECK + SSL + " -o json", expect=1))["ssl-secret"]
    assert row["status"] == "fail" and "does not exist" in row["finding"]
    assert "kubectl create secret generic azureml-ssl -n azureml" in row["fix"]
    result = az(DEPLOY + SSL)
    refused(result, 1)
    no_writes(result, kube)


def test_an_ssl_secret_without_key_pem_blocks_and_its_data_is_never_printed(az, kube):
    secret = ks.ssl_secret(keys=("cert.pem",))
    kube.aks("aks-prod", empty_aks([ks.namespace("azureml"), secret]))
    result = az(CHECK + SSL + " -o json --debug", expect=1)
    row = check_rows(result)["ssl-secret"]
    assert row["status"] == "fail" and "key.pem" in row["finding"]
    cert = secret["data"]["cert.pem"]
    assert_no_secrets(result.stdout + result.stderr, [cert, base64.b64decode(cert).decode().splitlines()[1]])


def test_an_ssl_secret_gets_the_tls_checks(az, kube):
    good = ks.ssl_secret(cname="ml.contoso.com")
    kube.aks("aks-prod", empty_aks([ks.namespace("azureml"), good]))
    result = az(CHECK + SSL + " -o json --debug", expect=0)
    row = check_rows(result)["ssl-secret"]
    assert row["status"] in ("pass", "warning") and "ml.contoso.com" in row["finding"]
    key = base64.b64decode(good["data"]["key.pem"]).decode()
    assert_no_secrets(result.stdout + result.stderr, [good["data"]["key.pem"], key.splitlines()[1]])
    kube.emulator.put("aks-prod", ks.ssl_secret(cname="other.example.org"))
    row = check_rows(az(CHECK + SSL + " -o json", expect=1))["ssl-secret"]
    assert row["status"] == "fail" and "ml.contoso.com" in row["finding"] and "other.example.org" in row["finding"]


def test_secrets_are_read_only_for_ssl_secret(az, kube):
    kube.aks("aks-prod", empty_aks(ks.legacy_azureml_fe()))
    az(CHECK + INFERENCE + " -o json", expect=1)
    assert not [r for r in kube.requests() if "/secrets" in r.path]


def test_an_existing_device_plugin_or_dcgm_exporter_blocks_installing_another(az, kube):
    command = "amlk8s check -g rg-ml -c aks-gpu -t aks"
    kube.aks("aks-gpu", ks.aks_world("MC_rg-ml_aks-gpu_eastus", installed=False) + ks.nvidia_device_plugin()
             + ks.dcgm_exporter())
    row = check_rows(az(command + " --enable-training --install-nvidia-device-plugin true --install-dcgm-exporter "
                        "true -o json", expect=1))["gpu-software"]
    assert row["status"] == "fail"
    assert "nvidia-device-plugin-daemonset in namespace kube-system" in row["finding"]
    assert "nvidia-dcgm-exporter in namespace gpu-operator" in row["finding"]
    assert "--install-nvidia-device-plugin false" in row["fix"] and "--install-dcgm-exporter false" in row["fix"]
    rows = check_rows(az(command + " --enable-training -o json"))
    assert "gpu-software" not in rows


def test_gpus_that_no_plugin_advertises_fail_the_check_on_aks(az, kube):
    nodes = ks.gpu_nodes("MC_rg-ml_aks-gpu_eastus")
    for node in nodes:
        node["status"]["allocatable"].pop("nvidia.com/gpu", None)
    kube.aks("aks-gpu", ks.aks_world("MC_rg-ml_aks-gpu_eastus", installed=False) + nodes)
    rows = check_rows(az("amlk8s check -g rg-ml -c aks-gpu -t aks --enable-training -o json", expect=1))
    assert rows["gpu-device-plugin"]["status"] == "fail"
    assert "--install-nvidia-device-plugin true" in rows["gpu-device-plugin"]["fix"]


# --- after the write ----------------------------------------------------------------------------------------------

def _pods_of(objects, workload):
    return [o for o in objects if o["kind"] == "Pod" and o["metadata"]["name"].startswith(workload)]


def test_a_crashlooping_pod_is_reported_with_restarts_and_the_logs_command(az, kube):
    objects = healthy()
    dep = next(o for o in objects if o["kind"] == "Deployment" and o["metadata"]["name"] == "gateway")
    dep["status"]["readyReplicas"] = 0
    pod = _pods_of(objects, "gateway-")[0]
    bad = ks.pod(pod["metadata"]["name"], state="CrashLoopBackOff", restarts=7, containers=["gateway"])
    kube.aks("aks-with-ext", replace(objects, bad))
    result = az(VERIFY + " -o json", expect=1)
    report = result.json
    assert report["verdict"] == "Degraded"
    codes = {f["code"]: f for f in report["findings"]}
    assert "7 restarts" in codes["pod-crashloop"]["diagnosis"]
    assert f"kubectl logs -n azureml {pod['metadata']['name']} -c gateway --previous" in codes["pod-crashloop"]["fix"]
    assert "component-not-ready" in codes
    assert "0 of 1 ready" in codes["component-not-ready"]["diagnosis"]


def test_an_image_pull_failure_points_at_the_network_requirements(az, kube):
    objects = healthy()
    pod = _pods_of(objects, "aml-operator-")[0]
    kube.aks("aks-with-ext", replace(objects, ks.pod(pod["metadata"]["name"], state="ImagePullBackOff")))
    report = az(VERIFY + " -o json", expect=1).json
    finding = next(f for f in report["findings"] if f["code"] == "pod-image-pull")
    assert "how-to-access-azureml-behind-firewall" in finding["fix"]


def test_a_pending_pod_carries_the_schedulers_message(az, kube):
    objects = healthy()
    pod = _pods_of(objects, "prometheus-prom-prometheus-")[0]
    message = "0/3 nodes are available: 3 Insufficient memory."
    kube.aks("aks-with-ext", replace(objects, ks.pod(pod["metadata"]["name"], state="Pending", message=message)))
    report = az(VERIFY + " -o json", expect=1).json
    finding = next(f for f in report["findings"] if f["code"] == "pod-pending")
    assert message in finding["diagnosis"] and "(3 node(s): too little free memory)" in finding["diagnosis"]
    assert finding["fix"].startswith("Free or add memory")


def test_a_pending_router_replica_of_ha_names_the_anti_affinity_fix(az, kube):
    objects = healthy()
    pod = _pods_of(objects, "azureml-fe-v2-")[0]
    message = ("0/3 nodes are available: 1 node(s) didn't match pod anti-affinity rules, 2 node(s) had untolerated "
               "taint {CriticalAddonsOnly: true}. preemption: 0/3 nodes are available: 3 Preemption is not helpful.")
    kube.aks("aks-with-ext", replace(objects, ks.pod(pod["metadata"]["name"], state="Pending", message=message)))
    finding = next(f for f in az(VERIFY + " -o json", expect=1).json["findings"] if f["code"] == "pod-pending")
    assert "one replica per node and no node left" in finding["diagnosis"]
    assert "CriticalAddonsOnly: true" in finding["diagnosis"]
    assert "--inference-router-ha false" in finding["fix"] and "kubectl taint nodes" in finding["fix"]


def test_a_missing_component_and_a_not_ready_one(az, kube):
    objects = [o for o in healthy() if not (o["kind"] == "Deployment" and o["metadata"]["name"] == "aml-operator")]
    fe = next(o for o in objects if o["kind"] == "Deployment" and o["metadata"]["name"] == "azureml-fe-v2")
    fe["status"]["readyReplicas"] = 1
    kube.aks("aks-with-ext", objects)
    report = az(VERIFY + " -o json", expect=1).json
    rows = {w["name"]: w for w in report["inCluster"]["workloads"]}
    assert rows["aml-operator"]["status"] == "missing"
    assert (rows["azureml-fe-v2"]["ready"], rows["azureml-fe-v2"]["desired"]) == (1, 3)
    assert {"component-missing", "component-not-ready"} <= {f["code"] for f in report["findings"]}


@pytest.mark.parametrize("code, message, title", [
    ("E45006", "Failed to validate or update instancetype", "INSTANCE_TYPE_INVALID"),
    ("E40002", "INSUFFICIENT_NODE", "INSUFFICIENT_NODE"),
    ("E45002", "PROMETHEUS_CONFLICT", "PROMETHEUS_CONFLICT"),
])
def test_failed_healthcheck_entries_are_mapped_through_the_catalogue(az, kube, code, message, title):
    report_cm = ks.healthcheck_configmap({"test": [("Passed", "service"), ("Failed", "instancetype", code, message)]})
    kube.aks("aks-with-ext", replace(healthy(), report_cm))
    report = az(VERIFY + " -o json", expect=1).json
    finding = next(f for f in report["findings"] if f["source"].startswith("healthcheck"))
    assert finding["code"] == code and finding["title"] == title
    assert finding["level"] == ("warning" if code.startswith("E45") else "error")
    assert report["inCluster"]["healthCheck"][0]["failed"][0]["errorCode"] == code
    assert report["verdict"] == "Degraded"


def test_the_router_without_an_address_is_a_warning(az, kube):
    service = ks.inference_router_service()
    service["status"] = {"loadBalancer": {}}
    kube.aks("aks-with-ext", replace(healthy(), service))
    report = az(VERIFY + " -o json", expect=1).json
    assert any(f["code"] == "router-no-address" for f in report["findings"])


def test_deploy_reports_what_runs_once_succeeded(az, kube):
    kube.aks("aks-prod", ks.aks_world(NRG))
    result = az(DEPLOY + " --enable-training", expect=0)
    assert "In the cluster:" in result.stderr and "components ready" in result.stderr
    assert {r.method for r in kube.requests()} == {"GET"}


# --- security -------------------------------------------------------------------------------------------------------

def test_tokens_and_keys_never_leak_and_nothing_is_left_on_disk(az, kube, emu):
    kube.aks("aks-with-ext", healthy())
    token = kube.emulator.token("aks-with-ext")
    for command in (VERIFY + " -o json --debug", VERIFY + " -o table --verbose"):
        result = az(command, expect=0)
        assert_no_secrets(result.stdout + result.stderr, [token])
        assert "kubeconfigs" not in result.stderr          # the credential response body is not logged
    for folder in (az.home, az.config_dir):
        for path in folder.rglob("*"):
            if path.is_file():
                text = path.read_text(encoding="utf-8", errors="replace")
                assert token not in text, path
                assert "clusterUser_" not in text, path
    assert kube.writes() == []


def test_an_entra_token_never_leaks(az, kube, emu):
    kube.aks("aks-nolocal", ks.aks_world("MC_rg-ml_aks-nolocal_eastus", installed=False), token=False,
             user_auth="exec-kubelogin", entra={"tenant_id": emu.tenant_id})
    result = az("amlk8s check -g rg-ml -c aks-nolocal -t aks -o json --debug")
    assert "Authorization" not in "".join(line for line in result.stderr.splitlines() if "127.0.0.1" in line
                                          and "Bearer" in line)
    assert "Bearer ey" not in result.stdout + result.stderr
    assert json.loads(result.stdout)


def test_a_private_cluster_that_cannot_be_reached_says_why(az, kube):
    kube.unreachable("aks-private")
    row = check_rows(az("amlk8s check -g rg-ml -c aks-private -t aks -o json", expect=0))["cluster-api"]
    assert row["status"] == "unknown" and "private" in row["finding"] and "virtual network" in row["fix"]
    kube.unreachable("aks-iprange")
    row = check_rows(az("amlk8s check -g rg-ml -c aks-iprange -t aks -o json", expect=0))["cluster-api"]
    assert "203.0.113.0/24" in row["finding"] and "--api-server-authorized-ip-ranges" in row["fix"]


def test_client_keys_from_azure_never_leak_or_stay_on_disk(az, kube, tmp_path):
    """AKS hands out client certificates and keys in clusterUser kubeconfigs (with the token): the key must reach
    neither the output nor a file, and the client's temporary files must be gone when az ends."""
    import trustme
    import yaml
    kube.aks("aks-with-ext", healthy(), handed_out=False)
    issued = trustme.CA().issue_cert("clusterUser")
    key_pem = issued.private_key_pem.bytes()
    config = kube.emulator.kubeconfig_dict("aks-with-ext")
    config["users"][0]["user"].update({
        "client-certificate-data": base64.b64encode(issued.cert_chain_pems[0].bytes()).decode(),
        "client-key-data": base64.b64encode(key_pem).decode()})
    kube.arm.set_kubeconfig("aks-with-ext", yaml.safe_dump(config))
    scratch = tmp_path / "tmpdir"
    scratch.mkdir()
    secrets = [config["users"][0]["user"]["client-key-data"], key_pem.decode().splitlines()[1],
               kube.emulator.token("aks-with-ext")]
    for command in (VERIFY + " -o json --debug", CHECK.replace("aks-prod", "aks-with-ext") + " --debug -o json"):
        result = az(command, env={"TMPDIR": str(scratch)})
        assert result.exit_code in (0, 1), result.describe()
        assert_no_secrets(result.stdout + result.stderr, secrets)
    assert list(scratch.iterdir()) == []
    for folder in (az.home, az.config_dir):
        for path in folder.rglob("*"):
            if path.is_file():
                assert_no_secrets(path.read_text(encoding="utf-8", errors="replace"), secrets)


# --- the workspace hand-off ------------------------------------------------------------------------------------------

WS1 = (f"/subscriptions/{ks.SUBSCRIPTION_ID}/resourceGroups/rg-ml/providers/Microsoft.MachineLearningServices/"
       "workspaces/ws1")
ATTACH = f"amlk8s attach -g rg-ml -c aks-with-ext -t aks --workspace {WS1} --compute-name k8s-new"


def test_attach_refuses_a_namespace_the_cluster_does_not_have(az, kube):
    kube.aks("aks-with-ext", healthy())
    result = az(ATTACH + " --namespace ml-jobs")
    refused(result, 1)
    assert "Namespace 'ml-jobs' does not exist" in result.stderr and "kubectl create namespace ml-jobs" in result.stderr
    assert kube.writes() == []
    kube.emulator.put("aks-with-ext", ks.namespace("ml-jobs"))
    done = az(ATTACH + " --namespace ml-jobs", expect=0)
    assert [w.method for w in done.writes] == ["PUT"]


def test_attach_goes_on_with_a_warning_when_the_cluster_cannot_be_read(az, kube):
    result = az(ATTACH + " --namespace ml-jobs --arm-only", expect=0)
    assert "Could not check that namespace 'ml-jobs' exists" in result.stderr
    assert kube.requests() == []


def test_verify_ids_reads_each_cluster_with_its_own_credentials(az, kube, emu):
    kube.aks("aks-with-ext", healthy())
    objects = ks.aks_world("MC_rg-ml_aks-https_eastus")
    pod = _pods_of(objects, "gateway-")[0]
    kube.aks("aks-https", replace(objects, ks.pod(pod["metadata"]["name"], state="CrashLoopBackOff",
                                                  containers=["gateway"])))
    ids = [emu.cluster_id("aks-with-ext"), emu.cluster_id("aks-https"), emu.cluster_id("aks-prod")]
    result = az(["amlk8s", "verify", "--ids", *ids, "-o", "json"])
    entries = {e["clusterId"]: e for e in result.json}
    assert entries[ids[0]]["status"] == "succeeded"
    assert entries[ids[0]]["result"]["inCluster"]["read"] is True
    assert entries[ids[1]]["status"] == "failed"
    assert any(f["code"] == "pod-crashloop" for f in entries[ids[1]]["result"]["findings"])
    assert entries[ids[2]]["status"] == "failed" and "was not found" in entries[ids[2]]["error"]
    assert {r.cluster for r in kube.requests()} == {"aks-with-ext", "aks-https"}
    assert kube.writes() == []
