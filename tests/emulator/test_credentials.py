"""AKS listClusterUserCredential / listClusterAdminCredential: kubeconfigs, the unreachable default, redaction."""

import base64
import json
from pathlib import Path

import requests

API = {"api-version": "2024-09-01"}
KUBECONFIG = """apiVersion: v1
kind: Config
clusters:
- name: kind
  cluster:
    server: https://127.0.0.1:6443
users:
- name: admin
  user:
    token: SET-KUBECONFIG-TOKEN
    client-key-data: U0VULUtFWS1EQVRB
contexts:
- name: kind
  context: {cluster: kind, user: admin}
current-context: kind
"""


def credential(emu, session, cluster, action="listClusterUserCredential", **params):
    return session.post(emu.base_url + emu.cluster_id(cluster) + "/" + action, params=dict(API, **params), timeout=10)


def kubeconfig(answer):
    [item] = answer.json()["kubeconfigs"]
    return item["name"], base64.b64decode(item["value"]).decode()


def test_default_kubeconfig_points_at_an_unreachable_loopback_server(emu, session):
    name, text = kubeconfig(credential(emu, session, "aks-prod"))
    assert name == "clusterUser" and "server: https://127.0.0.1:9\n" in text
    assert "user: clusterUser_rg-ml_aks-prod" in text and "token: " in text
    token = text.split("token: ", 1)[1].split()[0]
    assert token in emu.secret_values()
    admin_name, admin = kubeconfig(credential(emu, session, "aks-prod", "listClusterAdminCredential"))
    assert admin_name == "clusterAdmin" and "clusterAdmin_rg-ml_aks-prod" in admin and admin != text
    # Entra ID clusters: a kubelogin exec user (format=exec, the default) or the azure auth-provider
    _, exec_text = kubeconfig(credential(emu, session, "aks-nolocal", format="exec"))
    assert "command: kubelogin" in exec_text and "token:" not in exec_text
    _, azure_text = kubeconfig(credential(emu, session, "aks-nolocal", format="azure"))
    assert "name: azure" in azure_text and "apiserver-id:" in azure_text
    assert credential(emu, session, "aks-prod", format="nope").status_code == 400
    missing = session.post(emu.base_url + emu.cluster_id("aks-prod").replace("aks-prod", "aks-nope") +
                           "/listClusterUserCredential", params=API, timeout=10)
    assert missing.status_code == 404


def test_admin_credential_is_refused_when_local_accounts_are_disabled(emu, session):
    refused = credential(emu, session, "aks-nolocal", "listClusterAdminCredential")
    assert refused.status_code == 400
    assert refused.json()["error"] == {"code": "BadRequest", "message": "Getting static credential is not allowed "
                                                                        "because this cluster is set to disable local "
                                                                        "accounts."}


def test_set_kubeconfig_and_factory(emu, session):
    emu.set_kubeconfig("aks-prod", KUBECONFIG)
    assert kubeconfig(credential(emu, session, "aks-prod"))[1] == KUBECONFIG
    seen = []

    def factory(cluster):
        seen.append(cluster["name"])
        return KUBECONFIG.replace("SET-KUBECONFIG-TOKEN", "FACTORY-" + cluster["name"]) \
            if cluster["name"] == "aks-poc" else None
    emu.kubeconfig_factory = factory
    try:
        assert "FACTORY-aks-poc" in kubeconfig(credential(emu, session, "aks-poc"))[1]
        assert "127.0.0.1:9" in kubeconfig(credential(emu, session, "aks-dev2"))[1]      # factory said None
        assert kubeconfig(credential(emu, session, "aks-prod"))[1] == KUBECONFIG         # set_kubeconfig wins
        assert seen == ["aks-poc", "aks-dev2"]
        secrets = emu.secret_values()
        assert {"SET-KUBECONFIG-TOKEN", "U0VULUtFWS1EQVRB", "FACTORY-aks-poc"} <= set(secrets)
        emu.reset("default")
        assert emu.kubeconfig_factory is factory                                          # kept across resets
        assert "FACTORY-aks-poc" in kubeconfig(credential(emu, session, "aks-poc"))[1]
        assert "127.0.0.1:9" in kubeconfig(credential(emu, session, "aks-prod"))[1]       # reset forgot the set one
    finally:
        emu.kubeconfig_factory = None
    control = requests.Session()
    control.trust_env = False
    control.verify = emu.ca_path
    assert control.put(emu.base_url + "/_emulator/kubeconfig", json={"cluster": "aks-tiny", "kubeconfig": KUBECONFIG},
                       timeout=10).status_code == 200
    assert kubeconfig(credential(emu, session, "aks-tiny"))[1] == KUBECONFIG
    assert control.delete(emu.base_url + "/_emulator/kubeconfig", params={"cluster": "aks-tiny"},
                          timeout=10).status_code == 204
    assert "127.0.0.1:9" in kubeconfig(credential(emu, session, "aks-tiny"))[1]
    assert control.get(emu.base_url + "/_emulator/subscriptions", timeout=10).json()["value"] == emu.subscriptions


def test_credentials_are_reads_and_redacted_in_the_log(emu, session):
    emu.set_kubeconfig("aks-prod", KUBECONFIG)
    answer = credential(emu, session, "aks-prod")
    value = answer.json()["kubeconfigs"][0]["value"]
    [record] = [r for r in emu.requests() if r.path.endswith("/listClusterUserCredential")]
    assert record in emu.arm_reads() and record not in emu.writes() and record.is_list_keys
    assert record.response["kubeconfigs"][0]["value"] == value                         # complete in memory
    for text in (repr(record), record.to_json(), Path(emu.log_path).read_text()):
        assert value not in text and "SET-KUBECONFIG-TOKEN" not in text
    assert json.loads(record.to_json())["response"] == {"kubeconfigs": [{"name": "clusterUser",
                                                                         "value": "<redacted>"}]}
    assert value in emu.secret_values()
