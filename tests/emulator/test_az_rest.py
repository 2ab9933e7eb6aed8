"""The real `az` against the emulator's Resource Graph and second subscription, with generic calls only (no
`az graph` extension): `az rest --method post --url /providers/Microsoft.ResourceGraph/resources ...`."""

import json
from pathlib import Path

import pytest

from tests.e2e.harness import AZ, Az, hosts
from tests.emulator import azconfig, scenarios

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(not AZ.exists(), reason="the az of this venv is not installed")


@pytest.fixture
def az(emu, tmp_path):
    config_dir = azconfig.seed_config_dir(tmp_path / "azure-config", emu.base_url, emu.subscription_id, emu.tenant_id,
                                          extra_subscriptions=emu.subscriptions[1:])
    home = tmp_path / "home"
    home.mkdir()
    extension_dir = tmp_path / "cliextensions"
    extension_dir.mkdir()
    env = azconfig.az_environment(emu.base_url, emu.ca_path, config_dir, extension_dir=extension_dir, home=home)
    return Az(emu, env, config_dir, home, cwd=tmp_path)


def test_az_rest_posts_a_resource_graph_query(az, emu, tmp_path):
    query = {"subscriptions": emu.subscriptions,
             "query": "kubernetesconfigurationresources | where properties.ExtensionType =~ "
                      "'microsoft.azureml.kubernetes' | project id, state = properties.ProvisioningState "
                      "| order by id asc",
             "options": {"$top": 5, "resultFormat": "objectArray"}}
    (tmp_path / "query.json").write_text(json.dumps(query))
    result = az(["rest", "--method", "post", "--url",
                 "/providers/Microsoft.ResourceGraph/resources?api-version=2022-10-01", "--body", "@query.json"],
                expect=0)
    answer = result.json
    expected = sum(1 for key, body in emu.world.resources.items() if "/extensions/" in key
                   and body["properties"].get("extensionType", "").lower() == "microsoft.azureml.kubernetes")
    assert answer["count"] == 5 and answer["totalRecords"] == expected > 10 and answer["$skipToken"]
    assert all(row["id"].split("/")[-2] == "Extensions" for row in answer["data"])
    [graph] = [r for r in result.requests if r.kind == "graph"]
    assert graph.status == 200 and graph.body["query"] == query["query"] and result.writes == []
    assert hosts(result.requests) == {f"127.0.0.1:{emu.port}"}
    query["options"]["$skipToken"] = answer["$skipToken"]
    (tmp_path / "query.json").write_text(json.dumps(query))
    second = az(["rest", "--method", "post", "--url",
                 "/providers/Microsoft.ResourceGraph/resources?api-version=2022-10-01", "--body", "@query.json"],
                expect=0).json
    assert second["count"] == 5 and not {r["id"] for r in second["data"]} & {r["id"] for r in answer["data"]}


def test_az_knows_the_second_subscription(az, emu):
    listed = az("account list", expect=0).json
    assert [s["id"] for s in listed] == emu.subscriptions
    shown = az(["group", "list", "--subscription", scenarios.OTHER_SUBSCRIPTION_ID], expect=0).json
    assert [g["name"] for g in shown] == ["rg-ml-other"]
