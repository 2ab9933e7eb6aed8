"""Many clusters, end to end with the real az (issue 13): the fleet listing from Azure Resource Graph, and --ids on
check, verify, show, deploy, update and delete (a mix of healthy, failed, missing and throttled clusters; one
confirmation for the whole list; a rollout that can be re-run)."""
# pylint: disable=missing-docstring,redefined-outer-name

from tests.emulator import scenarios


def bare_clusters(emu):
    """Clusters without any extension, default subscription first."""
    with emu.lock:
        bodies = list(emu.world.resources.values())
    clusters = [b["id"] for b in bodies if str(b.get("type", "")).lower() in (
        "microsoft.containerservice/managedclusters", "microsoft.kubernetes/connectedclusters")]
    return [c for c in clusters if not any(b["id"].lower().startswith(c.lower() + "/providers/") for b in bodies)]


def azureml_ids(emu, subscription=None):
    """The clusters the emulator's world gives an AzureML extension (read from its resources, not from amlk8s)."""
    with emu.lock:
        bodies = list(emu.world.resources.values())
    ids = sorted(b["id"].split("/providers/Microsoft.KubernetesConfiguration/")[0] for b in bodies
                 if "/providers/microsoft.kubernetesconfiguration/extensions/" in b["id"].lower()
                 and str((b.get("properties") or {}).get("extensionType", "")).lower()
                 == "microsoft.azureml.kubernetes")
    return [i for i in ids if subscription is None or i.split("/")[2] == subscription]


def graph_requests(result):
    return [r for r in result.requests if "microsoft.resourcegraph" in r.path.lower()]


def test_list_without_a_cluster_covers_every_subscription_following_pages(az, fleet):
    fleet.reset(scenarios.fleet(3, extensions=2100))      # more than two pages of 1,000 rows
    fleet.settings(retry_after_ms=50)
    subscriptions = fleet.subscriptions
    result = az(["amlk8s", "list", "--subscriptions", *subscriptions], expect=0)
    rows = result.json
    assert sorted(r["clusterId"] for r in rows) == azureml_ids(fleet)
    assert {r["clusterId"].split("/")[2] for r in rows} == set(subscriptions)
    assert all(r["name"] and r["clusterType"] in ("managedClusters", "connectedClusters") for r in rows)
    pages = len(graph_requests(result))
    clusters = len(bare_clusters(fleet)) + len({r["clusterId"] for r in rows})
    # one request per 1,000 rows of each query (the extensions, then the clusters), plus one for the subscriptions
    # Resource Graph can read (--subscriptions was given), nothing written
    assert len(rows) >= 2100 and pages == -(-len(rows) // 1000) + -(-clusters // 1000) + 1 and result.writes == []
    failed = [r for r in rows if r["provisioningState"] == "Failed"]
    assert failed and all(r["healthy"] is False and r["error"] for r in failed)
    assert all(r["error"] is None for r in rows if r["healthy"])


def test_list_defaults_to_the_current_subscription_narrows_by_group_and_tables_unhealthy_first(az, fleet):
    current = az("amlk8s list", expect=0).json
    assert sorted(r["clusterId"] for r in current) == azureml_ids(fleet, fleet.subscription_id)
    group = current[0]["clusterId"].split("/")[4]
    narrowed = az(f"amlk8s list -g {group}", expect=0).json
    assert narrowed and all(r["clusterId"].split("/")[4] == group for r in narrowed)
    table = az("amlk8s list -o table", expect=0).stdout.splitlines()[2:]
    states = [line.split()[4] for line in table if line.strip()]
    assert states.index("Succeeded") > states.index("Failed")
    query = az("amlk8s list --query \"[?provisioningState=='Failed'].name\"", expect=0)
    assert query.json


def test_verify_ids_reports_every_cluster_and_fails_when_one_does(az, fleet):
    healthy = [i for i in azureml_ids(fleet) if i.endswith(("fleet-aks-0001", "fleet-aks-0004"))]
    failed = next(i for i in azureml_ids(fleet) if i.endswith("fleet-aks-0007"))
    missing = scenarios.aks_id("rg-fleet-0", "no-such-cluster")
    fleet.add_fault(method="GET", path=r"/managedClusters/fleet-aks-0004/providers/Microsoft.KubernetesConfiguration/"
                                       r"extensions/azureml$", status=429, headers={"Retry-After": "1"}, times=1)
    result = az(["amlk8s", "verify", "--ids", *healthy, failed, missing, "--max-parallel", "2"])
    assert result.exit_code == 1, result.describe()
    entries = {e["clusterId"]: e for e in result.json}
    assert set(entries) == set(healthy + [failed, missing])
    assert all(entries[i]["status"] == "succeeded" and entries[i]["result"]["verdict"] == "Healthy" for i in healthy)
    assert entries[failed]["status"] == "failed" and entries[failed]["result"]["verdict"] == "Failed"
    assert entries[missing]["status"] == "failed" and "was not found" in entries[missing]["error"]
    assert "2 succeeded, 2 failed, 0 skipped" in result.stderr


def test_show_and_check_take_ids_across_subscriptions(az, fleet):
    ids = [azureml_ids(fleet, s)[0] for s in fleet.subscriptions]
    shown = az(["amlk8s", "show", "--ids", *ids], expect=0).json
    assert [e["clusterId"] for e in shown] == ids and all(e["result"]["name"] for e in shown)
    checked = az(["amlk8s", "check", "--ids", *ids, "-o", "json"])
    assert {e["clusterId"] for e in checked.json} == set(ids)
    assert all(isinstance(e["result"], list) for e in checked.json if e["status"] == "succeeded")


def test_ids_refuse_cluster_arguments_and_bad_ids_before_any_request(az, fleet):
    one = azureml_ids(fleet)[0]
    mixed = az(["amlk8s", "verify", "--ids", one, "-g", "rg-fleet-0"])
    assert mixed.exit_code != 0 and "--ids" in mixed.stderr and mixed.writes == []
    bad = az(["amlk8s", "verify", "--ids", "/subscriptions/x/resourceGroups/y"])
    assert bad.exit_code != 0 and "--ids" in bad.stderr
    assert not [r for r in bad.requests if r.kind == "arm"]


def test_delete_ids_asks_once_for_the_whole_list(az, fleet):
    ids = azureml_ids(fleet, fleet.subscription_id)[:3]
    refused = az(["amlk8s", "delete", "--ids", *ids])
    assert refused.exit_code != 0 and refused.writes == [], refused.describe()
    assert all(i in refused.stderr for i in ids) and "--yes" in refused.stderr
    done = az(["amlk8s", "delete", "--ids", *ids, "--yes"], expect=0)
    assert len([w for w in done.writes if w.method == "DELETE"]) == 3
    assert all(fleet.resource(i + "/providers/Microsoft.KubernetesConfiguration/extensions/azureml") is None
               for i in ids)


def test_a_rollout_reruns_only_what_is_left(az, fleet):
    clusters = bare_clusters(fleet)[:3]
    assert len(clusters) == 3
    fleet.set_outcome(cluster=clusters[1], status="Failed", times=1)
    first = az(["amlk8s", "deploy", "--ids", *clusters, "--enable-training", "true"])
    assert first.exit_code == 1, first.describe()
    statuses = {e["clusterId"]: e["status"] for e in first.json}
    assert statuses == {clusters[0]: "succeeded", clusters[1]: "failed", clusters[2]: "succeeded"}
    again = az(["amlk8s", "deploy", "--ids", *clusters, "--enable-training", "true"], expect=0)
    assert {e["clusterId"]: e["status"] for e in again.json} == {
        clusters[0]: "skipped", clusters[1]: "succeeded", clusters[2]: "skipped"}
    puts = [w for w in again.writes if w.method == "PUT"]
    assert len(puts) == 1 and puts[0].path.lower().startswith(clusters[1].lower())
    assert "1 succeeded, 0 failed, 2 skipped" in again.stderr


def test_update_ids_asks_only_when_the_update_disturbs_workloads(az, fleet):
    ids = azureml_ids(fleet, fleet.subscription_id)[:2]
    # Not disruptive: no question, so a script without --yes and without a terminal updates every cluster.
    calm = az(["amlk8s", "update", "--ids", *ids, "--install-dcgm-exporter", "true"], expect=0)
    assert len([w for w in calm.writes if w.method == "PATCH"]) == 2
    # Turning training off stops jobs: one question for the list, refused without a terminal, nothing written.
    risky = az(["amlk8s", "update", "--ids", *ids, "--enable-training", "false", "--enable-inference", "true",
                "--inference-router-service-type", "LoadBalancer", "--allow-insecure-connections", "true"], expect=1)
    assert risky.writes == [], risky.describe()
    assert "needs confirmation, and there is no terminal" in risky.stderr
    assert "enableTraining true -> false: turns training off" in risky.stderr
    assert all(i in risky.stderr for i in ids) and "--yes" in risky.stderr


def test_update_ids_patches_each_cluster_after_one_confirmation(az, fleet):
    ids = azureml_ids(fleet, fleet.subscription_id)[:2]
    result = az(["amlk8s", "update", "--ids", *ids, "--install-dcgm-exporter", "true", "--yes"], expect=0)
    assert len([w for w in result.writes if w.method == "PATCH"]) == 2
    assert all(e["status"] == "succeeded" for e in result.json)
