"""The e2e harness itself: the real az, through a seeded config dir, against the emulator."""

import json
from pathlib import Path

from tests.e2e.harness import hosts, single

EXT_API = "2023-05-01"


def test_account_show_from_the_seeded_profile_and_a_token_request(az, emu):
    shown = az("account show", expect=0)
    assert (shown.json["id"], shown.json["tenantId"]) == (emu.subscription_id, emu.tenant_id)
    assert shown.json["user"] == {"assignedIdentityInfo": "MSI", "name": "systemAssignedIdentity",
                                  "type": "servicePrincipal"}
    assert shown.requests == []          # az account show only reads azureProfile.json

    token = az("account get-access-token", expect=0)
    assert token.json["subscription"] == emu.subscription_id
    [request] = token.requests
    assert (request.kind, request.method, request.path, request.status) == ("token", "GET", "/msi/token", 200)
    assert request.query["resource"] == emu.base_url + "/"


def test_resource_show_of_a_seeded_extension_has_no_protected_settings(az, emu):
    eid = emu.extension_id("aks-with-ext")
    shown = az(["resource", "show", "--ids", eid, "--api-version", EXT_API], expect=0)
    props = shown.json["properties"]
    assert (shown.json["name"], props["extensionType"], props["provisioningState"]) == \
        ("azureml", "Microsoft.AzureML.Kubernetes", "Succeeded")
    assert props["configurationSettings"]["inferenceRouterServiceType"] == "LoadBalancer"
    assert "configurationProtectedSettings" not in shown.stdout
    assert [r.kind for r in shown.requests] == ["token", "arm"] and shown.writes == []


def test_resource_show_of_a_missing_extension_exits_3(az, emu):
    missing = az(["resource", "show", "--ids", emu.extension_id("aks-prod"), "--api-version", EXT_API], expect=3)
    assert "(ResourceNotFound)" in missing.stderr and missing.stdout == ""


def test_resource_create_runs_the_whole_long_running_operation(az, emu):
    emu.settings(retry_after_ms=50)      # without a hint az waits 30 s between polls
    eid = emu.extension_id("aks-prod")
    properties = {"extensionType": "Microsoft.AzureML.Kubernetes", "autoUpgradeMinorVersion": True,
                  "scope": {"cluster": {"releaseNamespace": "azureml"}},
                  "configurationSettings": {"enableTraining": "True"},
                  "configurationProtectedSettings": {"relayServerConnectionString": "E2E-SECRET-VALUE"}}
    created = az(["resource", "create", "--id", eid, "--api-version", EXT_API, "--properties",
                  json.dumps(properties)], expect=0)
    assert created.json["properties"]["provisioningState"] == "Succeeded"
    assert "E2E-SECRET-VALUE" not in created.stdout + created.stderr
    put = single(created.writes, "PUT", "/extensions/azureml")
    assert put.status == 201 and len(created.writes) == 1
    polls = [r for r in created.requests if r.kind == "poll"]
    assert [p.response["status"] for p in polls] == ["InProgress", "InProgress", "Succeeded"]
    assert created.requests[-1].method == "GET" and created.requests[-1].path == eid
    stored = emu.extension("aks-prod")["properties"]
    assert stored["configurationProtectedSettings"] == {"relayServerConnectionString": "E2E-SECRET-VALUE"}
    assert hosts(created.requests) == {f"127.0.0.1:{emu.port}"}


def test_a_failed_operation_exits_1_with_the_service_error(az, emu):
    emu.settings(retry_after_ms=50)
    emu.set_outcome(cluster="aks-prod", status="Failed",
                    error={"code": "ExtensionOperationFailed", "message": "Helm installation failed : E40002"})
    failed = az(["resource", "create", "--id", emu.extension_id("aks-prod"), "--api-version", EXT_API,
                 "--properties", '{"extensionType": "Microsoft.AzureML.Kubernetes"}'], expect=1)
    assert "(ExtensionOperationFailed) Helm installation failed : E40002" in failed.stderr
    assert emu.extension("aks-prod")["properties"]["provisioningState"] == "Failed"


def test_a_throttled_put_is_retried_by_the_cli_pipeline(az, emu):
    emu.settings(retry_after_ms=50)
    fault = emu.add_fault(method="PUT", path=r"/extensions/azureml$", status=429, headers={"Retry-After": "1"})
    created = az(["resource", "create", "--id", emu.extension_id("aks-poc"), "--api-version", EXT_API,
                  "--properties", '{"extensionType": "Microsoft.AzureML.Kubernetes"}'], expect=0)
    assert [(w.method, w.status, w.fault) for w in created.writes] == [("PUT", 429, fault), ("PUT", 201, None)]
    assert created.json["properties"]["provisioningState"] == "Succeeded"


def test_only_the_emulator_is_contacted_and_nothing_is_written_to_home(az, emu):
    shown = az("group show -n rg-ml", expect=0)
    assert shown.json["location"] == "eastus"
    assert hosts(emu.requests()) == {f"127.0.0.1:{emu.port}"}
    assert not any(r.unknown for r in emu.requests())
    assert list(az.home.iterdir()) == []                   # no ~/.azure: everything went to AZURE_CONFIG_DIR
    assert az.env["HOME"] == str(az.home) and az.env["REQUESTS_CA_BUNDLE"] == emu.ca_path
    assert "SSL_CERT_FILE" not in az.env and "CURL_CA_BUNDLE" not in az.env
    assert az.env["AZURE_CONFIG_DIR"] == str(az.config_dir)
    dev = az.env["AZURE_EXTENSION_DEV_SOURCES"]
    assert (Path(dev) / "amlk8s.egg-info" / "PKG-INFO").is_file()
