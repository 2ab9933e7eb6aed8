"""What an Azure CLI user expects of every command, end to end with the real az: ``-o table`` rows for update,
delete, attach, detach and ``--ids`` (same-named clusters kept apart), ``--ids`` that takes cluster ids only (an
extension id gets the cluster id as the fix), usage errors for ``--max-parallel 0`` and ``--ids`` with
``--kube-config``, and ``list --subscriptions`` that never answers a wrong or unreadable id with an empty list, nor a
throttled Resource Graph with a raw 429."""
# pylint: disable=missing-docstring

import copy

from tests.certs import make_tls_files
from tests.e2e.harness import refused
from tests.emulator import OTHER_SUBSCRIPTION_ID, SUBSCRIPTION_ID, azconfig, scenarios

ML = "Microsoft.MachineLearningServices"
WS1 = f"/subscriptions/{SUBSCRIPTION_ID}/resourceGroups/rg-ml/providers/{ML}/workspaces/ws1"
WITH_EXT = "-g rg-ml -c aks-with-ext -t aks"
EXT = "/providers/Microsoft.KubernetesConfiguration/extensions/azureml"


def cluster_id(name, sub=SUBSCRIPTION_ID, rg="rg-ml"):
    return f"/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.ContainerService/managedClusters/{name}"


def table(result):
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    return lines[0].split(), lines[2:]


def twin_in_other_subscription(emu, name="aks-with-ext"):
    """The same cluster name and resource group in the second subscription, with its own AzureML extension."""
    twin_id = cluster_id(name, OTHER_SUBSCRIPTION_ID)
    body = copy.deepcopy(emu.resource(cluster_id(name)))
    emu.put_resource(f"/subscriptions/{OTHER_SUBSCRIPTION_ID}/resourceGroups/rg-ml",
                     scenarios.resource_group("rg-ml", "eastus", sub=OTHER_SUBSCRIPTION_ID))
    emu.put_resource(twin_id, body)
    ext = copy.deepcopy(emu.extension(name))
    emu.put_resource(twin_id + EXT, ext)
    return twin_id


def test_update_and_attach_tables_are_one_row_each(az, emu):
    header, rows = table(az(f"amlk8s update {WITH_EXT} --auto-upgrade-minor-version false --yes -o table", expect=0))
    assert header[:3] == ["Name", "State", "Version"] and len(rows) == 1 and rows[0].split()[:2] == [
        "azureml", "Succeeded"]
    header, rows = table(az(f"amlk8s attach {WITH_EXT} --arm-only --workspace {WS1} --compute-name k8s-new "
                            "--namespace azureml -o table", expect=0))
    assert header == ["Compute", "Type", "State", "Cluster", "Namespace"]
    assert rows[0].split() == ["k8s-new", "Kubernetes", "Succeeded", "aks-with-ext", "azureml"]


def test_delete_and_detach_tables_print_nothing_but_the_fleet_rows(az, emu):
    assert az(f"amlk8s detach --workspace {WS1} --compute-name k8s-with-ext --yes -o table", expect=0).stdout == ""
    ids = [cluster_id("aks-with-ext"), cluster_id("aks-failed")]
    result = az(["amlk8s", "delete", "--ids", *ids, "--yes", "-o", "table"])
    header, rows = table(result)
    assert header[:3] == ["Cluster", "Group", "Status"], result.stdout
    assert [r.split()[:3] for r in rows if r.split()[0].startswith("aks-")] == [
        ["aks-with-ext", "rg-ml", "succeeded"], ["aks-failed", "rg-ml", "succeeded"]]


def test_same_named_clusters_in_two_subscriptions_stay_apart_in_fleet_tables(az, emu):
    azconfig.seed_config_dir(az.config_dir, emu.base_url, emu.subscription_id, emu.tenant_id,
                             extra_subscriptions=[OTHER_SUBSCRIPTION_ID])
    twin = twin_in_other_subscription(emu)
    result = az(["amlk8s", "show", "--ids", cluster_id("aks-with-ext"), twin, "-o", "table"], expect=0)
    header, rows = table(result)
    assert header[:4] == ["Cluster", "Group", "Subscription", "Status"]
    assert {r.split()[2] for r in rows} == {SUBSCRIPTION_ID, OTHER_SUBSCRIPTION_ID}
    emu.delete_resource(twin + EXT)
    failed = refused(az(["amlk8s", "show", "--ids", cluster_id("aks-with-ext"), twin]), 1)
    assert f"1 of 2 clusters failed: {twin}." in failed.stderr
    emu.put_resource(twin + EXT, emu.extension("aks-with-ext"))
    listing = az(["amlk8s", "list", "--subscriptions", SUBSCRIPTION_ID, OTHER_SUBSCRIPTION_ID, "-o", "table"],
                 expect=0)
    header, rows = table(listing)
    assert header[:3] == ["Cluster", "Group", "Subscription"]
    twins = [r.split() for r in rows if r.split()[0] == "aks-with-ext"]
    assert sorted(r[2] for r in twins) == sorted([SUBSCRIPTION_ID, OTHER_SUBSCRIPTION_ID])


def test_an_extension_id_given_to_ids_gets_its_cluster_id_as_the_fix(az, emu):
    for command in ("verify", "show", "delete --yes"):
        result = refused(az(f"amlk8s {command} --ids {cluster_id('aks-with-ext')}{EXT}"))
        assert "is the id of the extension 'azureml', not of a cluster" in result.stderr
        assert f"Give the cluster's id instead: {cluster_id('aks-with-ext')}" in result.stderr
        assert not [r for r in result.requests if r.kind == "arm"]


def test_ids_help_says_cluster_ids(az):
    for command in ("deploy", "check", "verify", "show", "update", "delete"):
        text = " ".join(az(f"amlk8s {command} -h", expect=0).stdout.split())
        assert "--ids" in text and "cluster resource ids" in text and "not extension ids" in text, command


def test_max_parallel_zero_and_ids_with_a_kubeconfig_are_usage_errors(az, emu, tmp_path):
    result = refused(az(["amlk8s", "verify", "--ids", cluster_id("aks-with-ext"), "--max-parallel", "0"]), 2)
    assert "--max-parallel" in result.stderr and "1 or more" in result.stderr
    kubeconfig = tmp_path / "k.yaml"
    kubeconfig.write_text("apiVersion: v1\nkind: Config\n", encoding="utf-8")
    result = refused(az(["amlk8s", "check", "--ids", cluster_id("aks-prod"), "--kube-config", str(kubeconfig)]), 2)
    assert "--kube-config" in result.stderr and "not allowed with --ids" in result.stderr
    assert result.requests == [] or not [r for r in result.requests if r.kind == "arm"]


def test_list_subscriptions_never_answers_a_wrong_id_with_an_empty_list(az, emu):
    bad = refused(az("amlk8s list --subscriptions my-subscription"))
    assert "is not a subscription id" in bad.stderr and "az account list" in bad.stderr
    assert not [r for r in bad.requests if r.kind == "graph"]
    unknown = "0b1f6471-1bf0-4dda-aec3-999999999999"
    gone = refused(az(f"amlk8s list --subscriptions {unknown}"), 3)
    assert unknown in gone.stderr and "cannot be read" in gone.stderr
    partly = az(f"amlk8s list --subscriptions {SUBSCRIPTION_ID} {unknown}", expect=0)
    assert partly.json and f"Subscription {unknown} cannot be read" in partly.stderr


def test_a_throttled_resource_graph_is_a_clear_error(az, emu):
    emu.add_fault("POST", path="/providers/Microsoft.ResourceGraph/resources", status=429, code="RateLimiting",
                  message="Please provide below info when asking for support: timestamp = 2026-12-06T10:00:00Z",
                  headers={"Retry-After": "0"}, times=1000, kinds=("graph",))
    result = refused(az("amlk8s list"), 1)
    assert "Resource Graph kept refusing the queries (429 Too Many Requests)" in result.stderr
    assert "Wait a few seconds" in result.stderr and "Please provide below info" not in result.stderr


def test_every_command_has_help_with_examples(az):
    for command in ("deploy", "check", "verify", "show", "list", "update", "delete", "wait", "attach", "detach"):
        result = az(f"amlk8s {command} -h", expect=0)
        assert "Examples" in result.stdout and "Traceback" not in result.stderr, command
    deploy = " ".join(az("amlk8s deploy -h", expect=0).stdout.split())
    assert '{"relayserver.relayConnectionString": "Endpoint=sb://' in deploy


# --- fix texts that fit the case --------------------------------------------------------------------------------------

HTTPS = ["amlk8s", "deploy", "-g", "rg-ml", "-c", "aks-prod", "-t", "aks", "--arm-only", "--enable-inference",
         "--inference-router-service-type", "LoadBalancer"]


def test_a_key_that_does_not_match_an_ec_certificate_gets_a_comparison_that_works(az, tmp_path):
    files = make_tls_files(tmp_path / "ec", key_type="ec", mismatched_key=True)
    result = refused(az(HTTPS + ["--ssl-cname", "ml.contoso.com", "--ssl-cert-pem-file", str(files.cert_path),
                                 "--ssl-key-pem-file", str(files.key_path)]), 1)
    said = " ".join(result.stderr.split())
    assert "does not match the server certificate" in said and "openssl pkey -pubout" in said
    assert "-modulus" not in said


def test_a_wildcard_certificate_for_the_apex_suggests_a_name_it_covers(az, tmp_path):
    files = make_tls_files(tmp_path / "wild", "ml.contoso.com", wildcard=True)
    result = refused(az(HTTPS + ["--ssl-cname", "contoso.com", "--ssl-cert-pem-file", str(files.cert_path),
                                 "--ssl-key-pem-file", str(files.key_path)]), 1)
    said = " ".join(result.stderr.split())
    assert "--ssl-cname <name>.contoso.com" in said and "*.contoso.com does not cover contoso.com" in said
    assert "contoso.contoso.com" not in said
