"""kube.py against the Kubernetes API emulator: kubeconfig files and contexts, the Entra ID user rewrite, the
temporary certificate files, and what an unreachable or refusing server gives."""

import base64
import os
import tempfile
from types import SimpleNamespace

import pytest
import trustme
import yaml
from azure.cli.core.azclierror import FileOperationError, InvalidArgumentValueError

from azext_amlk8s.facts import kube
from azext_amlk8s.facts.cluster import ClusterRef
from tests.emulator.kube import KubeEmulator, scenarios as ks

REF = ClusterRef("0b1f6471-1bf0-4dda-aec3-111122223333", "rg-ml", "aks-prod", "managedClusters")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    emulator = KubeEmulator(state_dir=tmp_path_factory.mktemp("kube"), log_file=False).start()
    emulator.add_cluster("aks-prod", ks.aks_world("MC_rg-ml_aks-prod_eastus", installed=False))
    yield emulator
    emulator.stop()


def test_a_kubeconfig_file_with_a_context_reads_the_cluster(server, tmp_path):
    path = tmp_path / "config"
    path.write_text(server.kubeconfig("aks-prod", context="prod"), encoding="utf-8")
    config, base = kube.read_kubeconfig_file(str(path), "prod")
    access = kube.connect(None, config, "prod", base_path=base, source="test", ref=REF, entra_always=False)
    assert access.is_read
    nodes = access.reader.get("/api/v1/nodes")
    assert len(nodes["items"]) == 3
    assert access.reader.get("/api/v1/namespaces/azureml") is None          # 404


def test_kubeconfig_errors_name_the_argument(tmp_path):
    with pytest.raises(FileOperationError, match="--kube-config"):
        kube.read_kubeconfig_file(str(tmp_path / "missing"), None)
    (tmp_path / "bad").write_text("key: [unclosed", encoding="utf-8")
    with pytest.raises(InvalidArgumentValueError, match="not a kubeconfig"):
        kube.read_kubeconfig_file(str(tmp_path / "bad"), None)
    (tmp_path / "two").write_text(yaml.safe_dump({"contexts": [{"name": "a", "context": {}}],
                                                  "current-context": "a"}), encoding="utf-8")
    with pytest.raises(InvalidArgumentValueError, match="Context 'b'"):
        kube.read_kubeconfig_file(str(tmp_path / "two"), "b")


def test_client_certificate_files_are_gone_before_the_first_request(server):
    issued = trustme.CA().issue_cert("clusterUser")
    config = server.kubeconfig_dict("aks-prod")
    config["users"][0]["user"].update({
        "client-certificate-data": base64.b64encode(issued.cert_chain_pems[0].bytes()).decode(),
        "client-key-data": base64.b64encode(issued.private_key_pem.bytes()).decode()})
    before = set(os.listdir(tempfile.gettempdir()))
    access = kube.connect(None, config, None, base_path="", source="test", ref=REF, entra_always=False)
    assert access.is_read
    left = set(os.listdir(tempfile.gettempdir())) - before
    assert not [n for n in left if n.startswith("amlk8s-")], left
    from kubernetes.config import kube_config
    assert not [v for v in kube_config._temp_files.values() if "amlk8s-" in v]   # pylint: disable=protected-access
    assert access.reader.get("/api/v1/nodes")["items"]


def test_a_kubelogin_user_gets_the_token_of_the_az_account(server, monkeypatch):
    server.add_cluster("entra", [], token=False, entra={"tenant_id": "72f988bf-86f1-41af-91ab-2d7cd011db47"})
    config = server.kubeconfig_dict("entra", user_auth="exec-kubelogin")
    asked = []

    def token(cmd, ref, server_id):
        asked.append(server_id)
        from tests.emulator.kube import entra_token
        return entra_token("72f988bf-86f1-41af-91ab-2d7cd011db47")
    monkeypatch.setattr(kube, "_entra_token", token)
    access = kube.connect(SimpleNamespace(), config, None, base_path="", source="test", ref=REF, entra_always=True)
    assert asked == ["6dae42f8-4368-4678-94ff-3960e28e3630"]
    assert access.reader.get("/api/v1/nodes") == {"apiVersion": "v1", "items": [], "kind": "NodeList",
                                                  "metadata": access.reader.get("/api/v1/nodes")["metadata"]}


def test_an_unreachable_server_and_refused_credentials_are_unknown(server):
    config = server.kubeconfig_dict("aks-prod")
    config["clusters"][0]["cluster"]["server"] = "https://127.0.0.1:9"
    access = kube.connect(None, config, None, base_path="", source="test", ref=REF, entra_always=False)
    kube.read(access, ["/api/v1/nodes"])
    assert access.status == kube.UNKNOWN and "refused the connection" in access.reason
    wrong = server.kubeconfig_dict("aks-prod", token="not-the-token")
    access = kube.connect(None, wrong, None, base_path="", source="test", ref=REF, entra_always=False)
    kube.read(access, ["/api/v1/nodes"])
    assert access.status == kube.UNKNOWN and "401" in access.reason


def test_forbidden_reads_are_denied_not_fatal(server):
    server.set_forbidden("aks-prod", ["secrets"])
    try:
        access = kube.connect(None, server.kubeconfig_dict("aks-prod"), None, base_path="", source="test", ref=REF,
                              entra_always=False)
        answers = access.reader.get_all(["/api/v1/namespaces/azureml/secrets/x", "/api/v1/nodes"])
        assert isinstance(answers["/api/v1/namespaces/azureml/secrets/x"], kube.Denied)
        assert answers["/api/v1/namespaces/azureml/secrets/x"].status == 403
        assert answers["/api/v1/nodes"]["items"]
    finally:
        server.set_forbidden("aks-prod", ())


def test_paths():
    assert kube.path_of(None, "nodes") == "/api/v1/nodes"
    assert (kube.path_of("azureml", "deployments", "gateway", "apps")
            == "/apis/apps/v1/namespaces/azureml/deployments/gateway")
    assert kube.path_of(None, "nodes", query={"limit": 500}) == "/api/v1/nodes?limit=500"
