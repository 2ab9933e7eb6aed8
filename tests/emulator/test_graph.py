"""The emulator's Azure Resource Graph over HTTPS: tables from the world, paging, quota and error shapes."""

import time

import pytest

from tests.emulator import scenarios

URL = "/providers/Microsoft.ResourceGraph/resources"
API = {"api-version": "2022-10-01"}
AZUREML = ("kubernetesconfigurationresources | where type =~ 'microsoft.kubernetesconfiguration/extensions' "
           "| where properties.ExtensionType =~ 'microsoft.azureml.kubernetes'")


def post(emu, session, query, subscriptions=None, **options):
    body = {"query": query, "options": options}
    if subscriptions is not None:
        body["subscriptions"] = subscriptions
    return session.post(emu.base_url + URL, params=API, json=body, timeout=10)


def test_extensions_table_uses_the_stored_extensions_in_pascal_case(emu, session):
    answer = post(emu, session, AZUREML + " | where name == 'azureml' and id contains '/aks-failed/' "
                                          "| project id, name, type, properties, resourceGroup, location")
    assert answer.status_code == 200
    [row] = answer.json()["data"]
    assert row["id"] == emu.cluster_id("aks-failed") + "/providers/Microsoft.KubernetesConfiguration/Extensions/azureml"
    assert (row["type"], row["resourceGroup"], row["location"]) == \
        ("microsoft.kubernetesconfiguration/extensions", "rg-ml", "eastus")
    props = row["properties"]
    assert (props["ExtensionType"], props["ProvisioningState"], props["ReleaseTrain"]) == \
        ("Microsoft.AzureML.Kubernetes", "Failed", "stable")
    assert "E40002" in props["ErrorInfo"]["message"] and props["Statuses"]
    assert props["AutoUpgradeMinorVersion"] is True and props["Version"] is None
    assert props["InstalledVersion"] is None and props["Scope"] == {"cluster": {"releaseNamespace": "azureml"}}
    assert props["ConfigurationSettings"]["inferenceRouterHA"] == "true"
    # protected settings never show, and the table follows writes at once
    https = post(emu, session, AZUREML + " | where id contains '/aks-https/'").json()["data"][0]
    assert https["properties"]["InstalledVersion"] == "1.1.88"
    assert "ConfigurationProtectedSettings" not in https["properties"]
    assert not any(secret in str(https) for secret in emu.secret_values())
    emu.delete_resource(emu.extension_id("aks-https"))
    assert post(emu, session, AZUREML + " | where id contains '/aks-https/'").json()["data"] == []
    assert emu.requests()[-1].kind == "graph" and emu.requests()[-1] in emu.arm_reads() and emu.writes() == []


def test_resources_and_resourcecontainers_tables(emu, session):
    counts = post(emu, session, "resources | summarize n = count() by type | order by type asc").json()["data"]
    by_type = {row["type"]: row["n"] for row in counts}
    assert by_type["microsoft.machinelearningservices/workspaces"] == 3
    assert by_type["microsoft.kubernetes/connectedclusters"] == 10 and "microsoft.relay/namespaces" in by_type
    assert not any("extensions" in t or "computes" in t or "trustedaccess" in t for t in by_type)
    other = post(emu, session, "resources | where type == 'microsoft.machinelearningservices/workspaces' "
                               "| project name, subscriptionId", subscriptions=[scenarios.OTHER_SUBSCRIPTION_ID])
    assert other.json()["data"] == [{"name": "ws-other", "subscriptionId": scenarios.OTHER_SUBSCRIPTION_ID}]
    unknown = post(emu, session, "resources | take 5", subscriptions=["00000000-0000-0000-0000-000000000000"])
    assert unknown.json()["totalRecords"] == 0
    groups = post(emu, session, "resourcecontainers | where type == 'microsoft.resources/subscriptions/resourcegroups' "
                                "| project name | order by name asc").json()["data"]
    assert [g["name"] for g in groups] == ["rg-arc", "rg-empty", "rg-ml", "rg-ml-other"]
    subs = post(emu, session, "resourcecontainers | where type == 'microsoft.resources/subscriptions' | project "
                              "subscriptionId, name").json()["data"]
    assert {s["subscriptionId"] for s in subs} == set(emu.subscriptions)
    table = post(emu, session, "resources | where name == 'aks-prod' | project name, n = 1, props = properties",
                 resultFormat="table").json()["data"]
    assert table["columns"] == [{"name": "name", "type": "string"}, {"name": "n", "type": "integer"},
                                {"name": "props", "type": "object"}]
    assert table["rows"][0][:2] == ["aks-prod", 1]


def test_paging_with_skip_token(emu, session):
    emu.reset(scenarios.fleet(subscriptions=3, extensions=25))
    query = AZUREML + " | project id, name, state = properties.ProvisioningState | order by id asc"
    first = post(emu, session, query, **{"$top": 10}).json()
    assert (first["totalRecords"], first["count"], first["resultTruncated"]) == (25, 10, "false")
    ids, token, pages = [r["id"] for r in first["data"]], first["$skipToken"], 1
    while token:
        page = post(emu, session, query, **{"$top": 10, "$skipToken": token}).json()
        ids += [r["id"] for r in page["data"]]
        token = page.get("$skipToken")
        pages += 1
    assert pages == 3 and len(ids) == len(set(ids)) == 25 and ids == sorted(ids)
    assert {i.split("/")[2] for i in ids} == set(emu.subscriptions)
    failed = post(emu, session, AZUREML + " | where properties.ProvisioningState == 'Failed' | project id").json()
    assert failed["totalRecords"] == 3
    # without an id column there is no token: the result says it is truncated
    names = post(emu, session, AZUREML + " | project name", **{"$top": 5}).json()
    assert (names["count"], names["resultTruncated"]) == (5, "true") and "$skipToken" not in names
    # $skip, ignored when the query takes rows itself; a token for another query is refused
    skipped = post(emu, session, query, **{"$skip": 20}).json()
    assert skipped["count"] == 5 and skipped["data"][0]["id"] == ids[20]
    assert post(emu, session, query + " | take 3", **{"$skip": 2}).json()["data"][0]["id"] == ids[0]
    refused = post(emu, session, AZUREML + " | project id", **{"$skipToken": first["$skipToken"]})
    assert refused.status_code == 400 and refused.json()["error"]["details"][0]["code"] == "InvalidSkipToken"
    assert post(emu, session, query, **{"$top": 1001}).status_code == 400
    assert post(emu, session, query, **{"$top": 0}).status_code == 400
    emu.settings(graph_page_size=7)
    assert post(emu, session, query).json()["count"] == 7


def test_fleet_world_mixes_clusters_and_extensions(emu, session):
    emu.reset("fleet")
    assert len(emu.subscriptions) == 3 and emu.subscriptions[0] == scenarios.SUBSCRIPTION_ID
    rows = post(emu, session, "kubernetesconfigurationresources | project id, name, t = tostring("
                              "properties.ExtensionType), s = tostring(properties.ProvisioningState)").json()["data"]
    azureml = [r for r in rows if r["t"] == scenarios.AZUREML_TYPE]
    assert len(azureml) == 12 and {r["s"] for r in azureml} == {"Succeeded", "Failed"}
    assert {r["name"] for r in azureml} == {"azureml", "aml-ext"}
    assert any(r["name"] == "azureml" and r["t"] == "microsoft.flux" for r in rows)
    clusters = post(emu, session, "resources | where type in~ ('microsoft.containerservice/managedclusters', "
                                  "'microsoft.kubernetes/connectedclusters') | summarize count() by type").json()
    assert sum(r["count_"] for r in clusters["data"]) == 18 and len(clusters["data"]) == 2
    big = scenarios.fleet(subscriptions=3, extensions=1000)
    assert sum(1 for r in big["resources"] if r["type"].endswith("/extensions")
               and r["properties"]["extensionType"] == scenarios.AZUREML_TYPE) == 1000


def test_invalid_queries_answer_the_resource_graph_error(emu, session):
    answer = post(emu, session, "resources | where name = 'x'")
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert error["code"] == "BadRequest" and error["message"].startswith("Please provide below info when asking")
    invalid, failure = error["details"]
    assert invalid["code"] == "InvalidQuery" and invalid["message"].startswith("Query is invalid")
    assert failure["code"] == "ParserFailure" and failure["line"] == 1 and failure["characterPositionInLine"] == 23
    join = post(emu, session, "kubernetesconfigurationresources | join (resources | project id) on id")
    assert join.status_code == 400 and join.json()["error"]["details"][1]["code"] == "UnsupportedJoinTable"
    assert post(emu, session, "resources | where Name == 'x'").json()["error"]["details"][1]["code"] == \
        "SemanticError"
    missing = session.post(emu.base_url + URL, params=API, json={"options": {}}, timeout=10)
    assert missing.status_code == 400
    assert session.post(emu.base_url + URL, json={"query": "resources"}, timeout=10).status_code == 400  # api-version


def test_user_quota_window(emu, session):
    emu.settings(graph_quota=3, graph_quota_window=1.0)
    answers = [post(emu, session, "resources | count") for _ in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert [a.headers["x-ms-user-quota-remaining"] for a in answers] == ["2", "1", "0", "0"]
    assert answers[0].headers["x-ms-user-quota-resets-after"] == "00:00:01"
    throttled = answers[-1]
    assert throttled.json()["error"]["code"] == "RateLimiting" and int(throttled.headers["Retry-After"]) >= 1
    assert "x-ms-ratelimit-remaining-subscription-reads" not in answers[0].headers
    time.sleep(1.05)
    assert post(emu, session, "resources | count").status_code == 200
    emu.settings(graph_quota=None)
    assert all(post(emu, session, "resources | count").status_code == 200 for _ in range(5))


def test_default_quota_is_fifteen_per_five_seconds(emu, session):
    answer = post(emu, session, "resources | count")
    assert answer.headers["x-ms-user-quota-remaining"] == "14"
    assert answer.headers["x-ms-user-quota-resets-after"] == "00:00:05"


@pytest.mark.parametrize("facet, expected", [("type", "FacetResult"), ("nope", "FacetError")])
def test_facets(emu, session, facet, expected):
    body = {"query": "resources | project id, type", "facets": [{"expression": facet, "options": {"$top": 2}}]}
    [result] = session.post(emu.base_url + URL, params=API, json=body, timeout=10).json()["facets"]
    assert result["resultType"] == expected and result["expression"] == facet
    if expected == "FacetResult":
        assert result["data"][0] == {"type": "microsoft.containerservice/managedclusters", "count": 28}
