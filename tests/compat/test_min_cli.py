"""amlk8s on the oldest Azure CLI it declares (azext.minCliCoreVersion 2.51.0), installed from the built wheel.

Every test drives the OLD az (see conftest.py) against the emulator. Old az signs in with managed identity over
App Service's 2017-09-01 protocol (MSI_ENDPOINT/MSI_SECRET), so each test also checks that this is the protocol that
was used and that every request it made went to the emulator.
"""

import json
import zipfile

import pytest

from tests.compat import azconfig_min
from tests.compat.conftest import install_wheel, make_az_min

DEPLOY = ["amlk8s", "deploy", "--name", "azureml", "--extension-type", "Microsoft.AzureML.Kubernetes",
          "--config", "enableTraining=True", "enableInference=True", "inferenceRouterServiceType=loadBalancer",
          "allowInsecureConnections=True", "inferenceRouterHA=False",
          "--cluster-type", "managedClusters", "--cluster-name", "aks-prod", "--resource-group", "rg-ml",
          "--scope", "cluster"]
COMMANDS = ("deploy", "check", "verify", "show", "list", "update", "delete", "wait")


def clean(result):
    """No traceback, and every token request made with the 2017-09-01 protocol old az speaks."""
    assert "Traceback" not in result.stderr and "Error loading command module" not in result.stderr, result.describe()
    tokens = [r for r in result.requests if r.kind == "token"]
    assert all(r.path.lower().rstrip("/") == "/msi/token" and r.query.get("api-version") == "2017-09-01"
               and r.status == 200 for r in tokens), result.describe()
    return result


def test_the_old_az_is_the_declared_minimum(min_az, min_wheel):
    with zipfile.ZipFile(min_wheel) as archive:
        declared = json.loads(archive.read("azext_amlk8s/azext_metadata.json"))["azext.minCliCoreVersion"]
    installed = azconfig_min.installed_versions(min_az)
    if min_az == azconfig_min.DEFAULT_VENV / "bin" / "az":
        assert installed["azure-cli"]["local"] == declared == azconfig_min.MIN_CLI_VERSION
        assert installed["core"]["local"] == declared


def test_extension_add_from_the_wheel_offline(emu, min_az, min_wheel, tmp_path):
    az = make_az_min(emu, tmp_path, tmp_path / "extensions")
    added = install_wheel(az, min_wheel)
    assert added.exit_code == 0, added.describe()
    assert added.requests == [], "installing a local wheel must not call Azure"
    listed = az("extension list -o json", expect=0)
    assert [(e["name"], e["version"], e["preview"]) for e in listed.json] == [("amlk8s", "1.0.0b3", True)]
    installed = tmp_path / "extensions" / "amlk8s"
    assert (installed / "azext_amlk8s" / "azext_metadata.json").is_file()
    assert (installed / "azure" / "mgmt" / "kubernetesconfiguration").is_dir()


def test_help_lists_every_command(az_min):
    shown = az_min("amlk8s -h", expect=0)
    for command in COMMANDS:
        assert f"    {command} " in shown.stdout, shown.stdout
    assert shown.requests == [] and "Traceback" not in shown.stderr


def test_login_with_managed_identity_uses_app_service_2017_09_01(az_min, emu):
    login = clean(az_min("login --identity -o json", expect=0))
    assert emu.subscription_id in {account["id"] for account in login.json}
    identities = {(a["user"]["name"], a["user"]["type"]) for a in login.json}
    assert identities == {("systemAssignedIdentity", "servicePrincipal")}
    tokens = [r for r in login.requests if r.kind == "token"]
    assert tokens and all(r.method == "GET" for r in tokens)
    assert any(r.method == "GET" and r.path.lower() == "/subscriptions" for r in login.requests)


def test_check_on_aks(az_min):
    checked = clean(az_min("amlk8s check -g rg-ml -c aks-prod -t aks -o json", expect=0))
    assert {row["check"] for row in checked.json} >= {"cluster-state", "managed-identity"}
    assert checked.writes == []
    assert any(r.kind == "token" for r in checked.requests)


def test_deploy_dry_run_with_the_docs_proof_of_concept_settings(az_min, emu):
    planned = clean(az_min(DEPLOY + ["--dry-run"], expect=0))
    assert planned.writes == []
    assert emu.extension("aks-prod") is None
    assert "enableTraining" in planned.stdout + planned.stderr


def test_deploy_verify_delete(az_min, emu):
    deployed = clean(az_min(DEPLOY, expect=0))
    assert [(r.method, r.status) for r in deployed.writes] == [("PUT", 201)]
    body = emu.extension("aks-prod")
    assert body["properties"]["provisioningState"] == "Succeeded"
    settings = body["properties"]["configurationSettings"]
    assert settings["enableTraining"].lower() == "true" and settings["enableInference"].lower() == "true"
    assert deployed.json["name"] == "azureml"

    verified = clean(az_min("amlk8s verify -g rg-ml -c aks-prod -t aks -o json", expect=0))
    assert verified.writes == []

    deleted = clean(az_min("amlk8s delete -g rg-ml -c aks-prod -t aks --yes", expect=0))
    assert [r.method for r in deleted.writes] == ["DELETE"]
    assert emu.extension("aks-prod") is None


def test_show_of_a_missing_extension_exits_3(az_min):
    missing = clean(az_min("amlk8s show -g rg-ml -c aks-prod -t aks", expect=3))
    assert missing.stdout.strip() == "" and missing.writes == []


# azure-cli 2.51 bundles an azure-mgmt-relay 0.1.0 of its own (for `az relay`) and puts it ahead of an extension's
# folder on sys.path; amlk8s drives Azure Relay with plain ARM requests, so the Arc paths below work there too.
def test_arc_deploy_creates_the_relay(az_min, emu):
    deployed = clean(az_min("amlk8s deploy -g rg-arc -c arc-k3s -t connectedClusters --enable-training true",
                            expect=0))
    assert any("/microsoft.relay/namespaces/" in r.path.lower() for r in deployed.writes)
    settings = emu.extension("arc-k3s")["properties"]["configurationSettings"]
    assert settings["relayserver.hybridConnectionResourceID"]


def test_arc_delete_reports_the_relay_it_keeps(az_min, emu):
    deleted = clean(az_min("amlk8s delete -g rg-arc -c arc-with-ext -t arc --yes", expect=0))
    assert [w.path for w in deleted.writes] == [emu.extension_id("arc-with-ext")]
    assert "Kept the Azure Relay namespace" in deleted.stderr


def test_only_the_emulator_was_reached(az_min, emu):
    """A token request from a process without its identity variables would go to IMDS (169.254.169.254)."""
    az_min("amlk8s check -g rg-ml -c aks-prod -t aks -o json", expect=0)
    assert {r.host.split(":")[0] for r in emu.requests()} == {"127.0.0.1"}
    with pytest.raises(ValueError, match="MSI_SECRET"):
        azconfig_min.check_identity_env({k: v for k, v in az_min.env.items() if k != "MSI_SECRET"})
