"""Fleets beyond one wave, end to end with the real az (issue 20): clusters chosen with Resource Graph (--where,
--management-groups, --cluster-types, list --missing) and rollouts in gated stages (--stages, --max-failures,
--stage-wait) that stop at a failing gate and resume with the same command."""
# pylint: disable=missing-docstring,redefined-outer-name

import pytest

from tests.e2e.test_fleet import azureml_ids, bare_clusters, graph_requests

CLUSTER_TYPES = ("microsoft.containerservice/managedclusters", "microsoft.kubernetes/connectedclusters")


def clusters(emu, keep=lambda body: True):
    """The world's clusters (ids, sorted as Resource Graph's `order by id asc` gives them) that `keep` accepts."""
    with emu.lock:
        bodies = list(emu.world.resources.values())
    return sorted((b["id"] for b in bodies if str(b.get("type", "")).lower() in CLUSTER_TYPES and keep(b)),
                  key=str.lower)


def tagged(env):
    return lambda body: (body.get("tags") or {}).get("env") == env


def subscription_of(cluster_id):
    return cluster_id.split("/")[2].lower()


def test_where_selects_the_clusters_by_tag_in_the_given_subscriptions_and_says_how_many(az, fleet):
    wanted = clusters(fleet, tagged("prod"))
    subs = " ".join(fleet.subscriptions)
    result = az(f"amlk8s show --where \"tags.env == 'prod'\" --subscriptions {subs}")
    assert [e["clusterId"].lower() for e in result.json] == [c.lower() for c in wanted]
    assert f"Resource Graph selected {len(wanted)} clusters" in result.stderr
    [query] = graph_requests(result)
    assert "tags.env == 'prod'" in query.body["query"] and sorted(query.body["subscriptions"]) == sorted(
        fleet.subscriptions)


def test_cluster_types_and_a_resource_group_narrow_the_selection(az, fleet):
    arc = clusters(fleet, lambda b: "connectedclusters" in b["type"].lower())
    group, sub = arc[0].split("/")[4], subscription_of(arc[0])
    wanted = [c for c in arc if c.split("/")[4] == group and subscription_of(c) == sub]
    result = az(f"amlk8s show --cluster-types arc -g {group} --subscriptions {sub}")
    assert sorted(e["clusterId"].lower() for e in result.json) == [c.lower() for c in wanted], result.describe()
    assert "types arc; resource group" in result.stderr


def test_a_management_group_covers_its_subscriptions_and_the_groups_below_it(az, fleet):
    subs = [s.lower() for s in fleet.subscriptions]
    rows = az("amlk8s list --management-groups mg-ml -o json", expect=0)
    assert rows.json and {subscription_of(r["clusterId"]) for r in rows.json} == set(subs[:2])
    [query] = [q for q in graph_requests(rows) if "kubernetesconfigurationresources" in q.body["query"]]
    assert query.body["managementGroups"] == ["mg-ml"] and "subscriptions" not in query.body
    research = az("amlk8s list --management-groups mg-research -o json", expect=0).json
    assert {subscription_of(r["clusterId"]) for r in research} == set(subs[2:])


def test_list_missing_names_every_cluster_without_an_azureml_extension(az, fleet):
    subs = " ".join(fleet.subscriptions)
    have = {c.lower() for c in azureml_ids(fleet)}
    expected = [c.lower() for c in clusters(fleet) if c.lower() not in have]
    result = az(f"amlk8s list --missing --subscriptions {subs} -o json", expect=0)
    assert sorted(r["clusterId"].lower() for r in result.json) == sorted(expected)
    assert {c.lower() for c in bare_clusters(fleet)} <= set(expected)
    table = az(f"amlk8s list --missing --subscriptions {subs} -o table", expect=0).stdout
    assert "Location" in table and expected[0].rsplit("/", 1)[-1] in table


def test_a_bad_filter_is_a_usage_error_with_resource_graphs_words_and_nothing_sent(az, fleet):
    result = az("amlk8s deploy --where \"tags.env == = 'prod'\" --enable-training true")
    assert result.exit_code == 2, result.describe()
    said = " ".join(result.stderr.split())
    assert "argument --where: Azure Resource Graph refused the selection query" in said and "of --where" in said
    assert "Traceback" not in result.stderr and result.writes == []
    assert all("resourcegraph" in r.path.lower() for r in result.requests if r.method == "POST")


def test_a_selection_that_finds_nothing_sends_nothing(az, fleet):
    result = az("amlk8s deploy --where \"tags.env == 'nowhere'\" --enable-training true")
    assert result.exit_code == 3, result.describe()
    assert "Resource Graph selected 0 clusters" in result.stderr and "nothing was sent" in result.stderr
    assert result.writes == []


def test_the_stage_plan_of_a_dry_run(az, fleet):
    ids = bare_clusters(fleet)[:4]
    result = az(["amlk8s", "deploy", "--ids", *ids, "--stages", "1,50%,100%", "--enable-training", "true",
                 "--dry-run"], expect=0)
    assert [(e["clusterId"], e["stage"]) for e in result.json] == [(ids[0], 1), (ids[1], 2), (ids[2], 3),
                                                                   (ids[3], 3)]
    assert result.writes == [] and "Stage 3 of 3: 2 clusters (dry run" in result.stderr


def test_a_three_stage_rollout_gates_each_stage_and_passes(az, fleet):
    ids = bare_clusters(fleet)[:4]
    result = az(["amlk8s", "deploy", "--ids", *ids, "--stages", "1,50%,100%", "--enable-training", "true",
                 "-o", "json"], expect=0)
    assert [(e["stage"], e["status"]) for e in result.json] == [(1, "succeeded"), (2, "succeeded"),
                                                                (3, "succeeded"), (3, "succeeded")]
    assert all(e["gate"]["passed"] and e["gate"]["verdict"] == "Healthy" for e in result.json), result.json
    said = result.stderr
    assert said.index("Stage 1 of 3") < said.index("Gate: verifying the 1 cluster") < said.index("Stage 2 of 3")
    assert "Rollout over 4 clusters: 4 changed, 0 already as asked, 0 failed, 0 not started." in said
    table = az(["amlk8s", "deploy", "--ids", *ids, "--stages", "1,50%,100%", "--enable-training", "true",
                "-o", "table"], expect=0).stdout
    assert "Stage" in table.splitlines()[0] and "skipped" in table


def test_a_failing_stage_stops_the_rollout_and_the_same_command_resumes_it(az, fleet):
    ids = bare_clusters(fleet)[:4]
    fleet.set_outcome(cluster=ids[0], status="Failed", times=1)
    command = ["amlk8s", "deploy", "--ids", *ids, "--stages", "1,50%,100%", "--enable-training", "true"]
    first = az(command)
    assert first.exit_code == 1, first.describe()
    assert [(e["stage"], e["status"]) for e in first.json] == [(1, "failed"), (2, "not started"),
                                                               (3, "not started"), (3, "not started")]
    later = [i.lower() for i in ids[1:]]
    assert first.writes and not [w for w in first.writes if any(w.path.lower().startswith(i) for i in later)
                                 or any(i.rsplit("/", 1)[-1] in w.path.lower() for i in later)]   # no later stage
    said = " ".join(first.stderr.split())
    assert "Stage 1 of 3 had 1 failed cluster (at most 0 allowed with --max-failures)" in said
    assert "resume the rollout with the same command" in said and "--stages 1,50%,100%" in said
    assert first.json[0]["error"] and "pre-install" in first.json[0]["error"]        # verify's diagnosis, not a log

    again = az(command, expect=0)
    assert [e["status"] for e in again.json] == ["succeeded"] * 4
    extension_puts = {w.path.split("/providers/Microsoft.KubernetesConfiguration")[0].lower() for w in again.writes
                      if w.method == "PUT" and "/extensions/" in w.path.lower()}
    assert extension_puts == {i.lower() for i in ids}


def test_max_failures_lets_a_stage_continue_and_the_exit_code_still_says_it_failed(az, fleet):
    ids = bare_clusters(fleet)[:4]
    fleet.set_outcome(cluster=ids[1], status="Failed", times=1)
    result = az(["amlk8s", "deploy", "--ids", *ids, "--stages", "1,100%", "--max-failures", "50%",
                 "--enable-training", "true"])
    assert result.exit_code == 1, result.describe()
    assert [e["status"] for e in result.json] == ["succeeded", "failed", "succeeded", "succeeded"]
    said = " ".join(result.stderr.split())
    assert "Rollout over 4 clusters: 3 changed, 0 already as asked, 1 failed, 0 not started." in said
    assert "rollout stopped" not in said and "1 of 4 clusters failed" in said


def test_a_rollout_over_a_selection_in_several_subscriptions_waits_between_stages(az, fleet):
    aks = [c for c in bare_clusters(fleet) if "managedclusters" in c.lower()][:2]
    names = ", ".join(f"'{c.rsplit('/', 1)[-1]}'" for c in aks)
    result = az(["amlk8s", "deploy", "--where", f"name in~ ({names})", "--subscriptions", *fleet.subscriptions,
                 "--stages", "1,100%", "--stage-wait", "1", "--enable-training", "true"], expect=0)
    assert [(e["clusterId"].lower(), e["stage"]) for e in result.json] == [
        (c.lower(), n) for c, n in zip(sorted(aks, key=str.lower), (1, 2))]
    assert len({subscription_of(c) for c in aks}) == 2
    said = result.stderr
    assert "Resource Graph selected 2 clusters" in said
    assert said.index("Gate: verifying") < said.index("Waiting 1 s before stage 2") < said.index("Stage 2 of 2")


@pytest.mark.parametrize("args, said", [
    (["amlk8s", "deploy", "-g", "rg-ml", "-c", "aks-prod", "-t", "aks", "--stages", "1,100%"], "argument --stages"),
    (["amlk8s", "deploy", "--where", "isnotempty(id)", "--stages", "1,100%", "--no-wait"], "argument --no-wait"),
    (["amlk8s", "deploy", "--where", "isnotempty(id)", "--max-failures", "1"], "argument --max-failures"),
    (["amlk8s", "update", "--where", "isnotempty(id)", "--stages", "1,100%", "--stage-wait", "-5"],
     "argument --stage-wait"),
])
def test_rollout_arguments_in_the_wrong_company_are_usage_errors(az, fleet, args, said):
    result = az(args + ["--enable-training", "true"] if args[1] == "deploy" else args + ["--version", "1.1.88"])
    assert result.exit_code == 2 and said in result.stderr, result.describe()
    assert result.requests == []


def test_ids_and_a_selection_together_are_refused(az, fleet):
    ids = bare_clusters(fleet)[:1]
    result = az(["amlk8s", "show", "--ids", *ids, "--where", "isnotempty(id)"])
    assert result.exit_code != 0 and "both name the clusters" in result.stderr and result.writes == []


def test_a_staged_rollout_rides_out_throttled_resource_graph_and_arm(az, fleet):
    aks = [c for c in bare_clusters(fleet) if "managedclusters" in c.lower()][:2]
    names = ", ".join(f"'{c.rsplit('/', 1)[-1]}'" for c in aks)
    # Resource Graph: one query per 2 s for this user; ARM: a write bucket of 2 per subscription, refilled slowly.
    fleet.settings(graph_quota=1, graph_quota_window=2.0, throttle_writes=2, throttle_writes_refill=1.0)
    result = az(["amlk8s", "deploy", "--where", f"name in~ ({names})", "--subscriptions", *fleet.subscriptions,
                 "--stages", "1,100%", "--enable-training", "true"], expect=0)
    assert [e["status"] for e in result.json] == ["succeeded", "succeeded"]
    throttled = [r for r in result.requests if r.status == 429]
    assert throttled, "the emulator did not throttle: the test proves nothing"
    assert "Traceback" not in result.stderr


def _table(folder, rows):
    path = folder / "clusters.csv"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return f"@{path}"


def _put_settings(result):
    return {w.path.split("/providers/Microsoft.KubernetesConfiguration")[0].lower():
            w.body["properties"]["configurationSettings"] for w in result.writes
            if w.method == "PUT" and "/extensions/" in w.path.lower()}


def test_per_cluster_values_from_a_csv_table_with_one_bad_row_are_refused_before_any_write(az, fleet, tmp_path):
    aks = [c for c in bare_clusters(fleet) if "managedclusters" in c.lower()][:2]
    bad = _table(tmp_path, ["id,nodeSelector,installNvidiaDevicePlugin",
                            f"{aks[0]},agentpool=mlpool,false", f"{aks[1]},agentpool=gpupool,maybe"])
    refused = az(["amlk8s", "deploy", "--ids", bad, "--enable-training", "true"])
    assert refused.exit_code == 1 and refused.writes == [], refused.describe()
    said = " ".join(refused.stderr.split())
    assert f"row 3 ({aks[1].rsplit('/', 1)[-1]})" in said and "installNvidiaDevicePlugin" in said
    assert "row 2" not in said and "nothing was sent" in said

    good = _table(tmp_path, ["id,nodeSelector,installNvidiaDevicePlugin",
                             f"{aks[0]},agentpool=mlpool,false", f"{aks[1]},agentpool=gpupool;gpu=true,true"])
    result = az(["amlk8s", "deploy", "--ids", good, "--enable-training", "true"], expect=0)
    settings = _put_settings(result)
    assert settings[aks[0].lower()]["nodeSelector.agentpool"] == "mlpool"
    assert settings[aks[1].lower()]["nodeSelector.agentpool"] == "gpupool"
    assert settings[aks[1].lower()]["nodeSelector.gpu"] == "true"
    assert settings[aks[1].lower()]["installNvidiaDevicePlugin"].lower() == "true"
    assert settings[aks[0].lower()]["installNvidiaDevicePlugin"].lower() == "false"


def test_per_cluster_values_as_json_lines_and_a_setting_given_twice(az, fleet, tmp_path):
    import json
    aks = [c for c in bare_clusters(fleet) if "managedclusters" in c.lower()][:2]
    path = tmp_path / "clusters.jsonl"
    path.write_text("\n".join(json.dumps({"id": c, "--node-selector": f"pool={n}"}) for n, c in enumerate(aks)),
                    encoding="utf-8")
    twice = az(["amlk8s", "deploy", "--ids", f"@{path}", "--enable-training", "true", "--node-selector", "a=b"])
    assert twice.exit_code == 1 and twice.writes == [] and "which the command line sets too" in twice.stderr
    result = az(["amlk8s", "deploy", "--ids", f"@{path}", "--enable-training", "true", "--stages", "1,100%"],
                expect=0)
    settings = _put_settings(result)
    assert [settings[c.lower()]["nodeSelector.pool"] for c in aks] == ["0", "1"]
    secret = tmp_path / "secret.csv"
    secret.write_text(f"id,relayserver.relayConnectionString\n{aks[0]},Endpoint=sb://x/;SharedAccessKey=c2VjcmV0\n",
                      encoding="utf-8")
    refused = az(["amlk8s", "deploy", "--ids", f"@{secret}", "--enable-training", "true"])
    assert refused.exit_code != 0 and refused.writes == [] and "c2VjcmV0" not in refused.stderr


def test_list_drift_names_the_extensions_that_differ_from_the_majority_or_a_given_value(az, fleet):
    ids = azureml_ids(fleet, fleet.subscription_id)
    healthy = [i for i in ids if (fleet.extension(i.rsplit("/", 1)[-1]) or {}).get("name") == "azureml"][:2]
    odd = fleet.extension(healthy[0].rsplit("/", 1)[-1])
    odd["properties"]["currentVersion"] = "1.1.80"
    fleet.put_resource(odd["id"], odd)
    other = fleet.extension(healthy[1].rsplit("/", 1)[-1])
    other["properties"]["configurationSettings"]["enableInference"] = "True"
    fleet.put_resource(other["id"], other)
    result = az("amlk8s list --drift -o json", expect=0)
    found = {r["clusterId"]: r for r in result.json}
    assert [d["field"] for d in found[healthy[0]]["drift"]] == ["version"] and healthy[1] not in found
    assert found[healthy[0]]["drift"][0]["value"] == "1.1.80" and found[healthy[0]]["drift"][0]["basis"] == "majority"
    # the others that drift are failed installs that report no version at all
    assert all(r["provisioningState"] == "Failed" and r["drift"][0]["value"] is None
               for cid, r in found.items() if cid != healthy[0])
    assert "configurationSettings" not in found[healthy[0]]
    with_setting = az("amlk8s list --drift enableInference -o json", expect=0).json
    assert {r["clusterId"] for r in with_setting} - set(found) == {healthy[1]}
    given = az("amlk8s list --drift version=1.1.80 -o table", expect=0)
    assert "majority" not in given.stdout and "given 1.1.80" in given.stdout
    assert healthy[0].rsplit("/", 1)[-1] not in given.stdout and healthy[1].rsplit("/", 1)[-1] in given.stdout


def test_a_cluster_that_succeeds_but_fails_the_gate_stops_the_rollout(az, fleet):
    ids = bare_clusters(fleet)[:4]
    fleet.set_outcome(cluster=ids[0], status="Succeeded", times=1, statuses=[{
        "code": "E40002", "displayStatus": "Warning", "level": "Warning",
        "message": "Status: Failed Name: clusterresource ErrorCode: E40002 ErrorMessage: Insufficient node"}])
    first = az(["amlk8s", "deploy", "--ids", *ids, "--stages", "1,100%", "--enable-training", "true"])
    assert first.exit_code == 1, first.describe()
    entry = first.json[0]
    assert entry["stage"] == 1 and entry["status"] == "failed" and entry["gate"]["passed"] is False
    assert entry["gate"]["verdict"] == "Degraded" and "The gate's verify did not pass" in entry["error"]
    assert "E40002" in entry["error"]
    assert [e["status"] for e in first.json[1:]] == ["not started"] * 3
    assert not [w for w in first.writes if any(w.path.lower().startswith(i.lower()) for i in ids[1:])]


def test_list_where_narrows_the_extensions_with_the_same_two_queries(az, fleet):
    subs = " ".join(fleet.subscriptions)
    prod = {c.lower() for c in clusters(fleet, tagged("prod"))}
    result = az(f"amlk8s list --where \"tags.env == 'prod'\" --subscriptions {subs} -o json", expect=0)
    listed = {r["clusterId"].lower() for r in result.json}
    assert listed and listed == prod & {c.lower() for c in azureml_ids(fleet)}
    today = az(f"amlk8s list --subscriptions {subs} -o json", expect=0)
    assert len(graph_requests(result)) == len(graph_requests(today)) == 3       # extensions, clusters, subscriptions
    bad = az(f"amlk8s list --where \"tags.env ==\" --subscriptions {subs}")
    assert bad.exit_code == 2 and "argument --where" in bad.stderr and "Traceback" not in bad.stderr


def test_list_policy_shows_each_clusters_compliance_from_resource_graph(az, fleet):
    ids = azureml_ids(fleet, fleet.subscription_id)[:3]
    states = [{"resourceId": ids[0], "policyAssignmentName": "azureml-prod", "policyDefinitionName": "azureml-training",
               "complianceState": "Compliant", "timestamp": "2026-12-07T01:00:00Z"},
              {"resourceId": ids[1], "policyAssignmentName": "azureml-prod", "policyDefinitionName": "azureml-training",
               "complianceState": "NonCompliant", "timestamp": "2026-12-07T01:00:00Z"},
              {"resourceId": ids[2], "policyAssignmentName": "other", "policyDefinitionName": "other-def",
               "complianceState": "NonCompliant", "timestamp": "2026-12-07T01:00:00Z"}]
    with fleet.lock:
        fleet.world.policy_states = states
    result = az("amlk8s list --policy azureml-training -o json", expect=0)
    assert [(r["clusterId"], r["complianceState"]) for r in result.json] == [(ids[0], "Compliant"),
                                                                             (ids[1], "NonCompliant")]
    assert "Policy azureml-training: 1 of 2 compliance states compliant, over 2 clusters." in result.stderr
    by_assignment = az("amlk8s list --policy AZUREML-PROD -o table", expect=0).stdout
    assert "NonCompliant" in by_assignment and ids[2].rsplit("/", 1)[-1] not in by_assignment
    none = az("amlk8s list --policy nothing-here -o json", expect=0)
    assert none.json == [] and "no compliance state" in none.stderr


def test_update_with_a_table_asks_about_each_rows_own_change_and_one_yes_covers_every_row(az, fleet, tmp_path):
    ids = [i for i in azureml_ids(fleet, fleet.subscription_id)
           if (fleet.extension(i.rsplit("/", 1)[-1]) or {}).get("properties", {}).get("provisioningState")
           == "Succeeded" and (fleet.extension(i.rsplit("/", 1)[-1]) or {}).get("name") == "azureml"][:2]
    table = _table(tmp_path, ["id,nodeSelector", f"{ids[0]},pool=a", f"{ids[1]},pool=b"])
    refused = az(["amlk8s", "update", "--ids", table])
    assert refused.exit_code != 0 and refused.writes == [], refused.describe()
    said = " ".join(refused.stderr.split())
    assert "affects active jobs or endpoints on 2 of the 2 clusters" in said and "--yes" in said
    result = az(["amlk8s", "update", "--ids", table, "--yes"], expect=0)
    patched = {w.path.split("/providers/Microsoft.KubernetesConfiguration")[0].lower():
               w.body["properties"]["configurationSettings"] for w in result.writes if w.method == "PATCH"}
    assert patched[ids[0].lower()]["nodeSelector.pool"] == "a" and patched[ids[1].lower()]["nodeSelector.pool"] == "b"
