"""End-to-end: the prerequisite checks (issue 8), through `az amlk8s check` and `az amlk8s deploy`.

Each problem cluster of the emulator's default world (and the two unregistered-provider scenarios) is checked twice:
`check -o json` must report the finding and the fix with the right status and exit code, and `deploy` must refuse a
blocking finding (stderr naming it, its fix and the --ignore-check id) or surface a warning, never writing anything.
"""
# pylint: disable=missing-docstring

import collections

import pytest

CHECK_KEYS = ["check", "finding", "fix", "status", "title"]
STATUSES = {"pass", "warning", "fail", "unknown", "ignored", "skipped"}
AKS_CHECKS = ["cluster-state", "provider-registration", "managed-identity", "local-accounts", "authorized-ip-ranges",
              "pod-identity", "outbound-network", "node-architecture", "existing-extension", "extension-busy",
              "capacity", "gpu-device-plugin", "kubernetes-version", "cli-version"]
ARC_CHECKS = ["cluster-state", "provider-registration", "arc-connectivity", "node-architecture", "openshift",
              "existing-extension", "extension-busy", "capacity", "kubernetes-version", "cli-version"]
ALL_CHECKS = ["cluster-state", "provider-registration", "managed-identity", "local-accounts", "authorized-ip-ranges",
              "pod-identity", "outbound-network", "arc-connectivity", "node-architecture", "openshift",
              "existing-extension", "extension-busy",
              "inference-router-ha", "internal-load-balancer", "load-balancer-support", "capacity",
              "gpu-device-plugin", "kubernetes-version", "cli-version",
              # from the cluster's Kubernetes API (unknown here: the emulator's kubeconfigs point nowhere by default)
              "cluster-api", "legacy-azureml-fe", "azureml-namespace", "helm-ownership", "ingress-nginx", "ssl-secret",
              "gpu-software"]
TRAINING = "--enable-training true"


def rows_by_id(result):
    report = result.json
    assert isinstance(report, list) and report, result.describe()
    for row in report:
        assert sorted(row) == CHECK_KEYS, row
        assert row["status"] in STATUSES and row["title"] and row["finding"]
    ids = [row["check"] for row in report]
    assert len(set(ids)) == len(ids)
    assert ids == sorted(ids, key=lambda cid: (["settings"] + ALL_CHECKS).index(cid))    # the documented order
    return {row["check"]: row for row in report}


def assert_no_traceback(result):
    assert "Traceback" not in result.stderr and "unexpected error" not in result.stderr


def assert_reads_once(result):
    counts = collections.Counter(r.path.lower() for r in result.requests if r.kind == "arm" and r.method == "GET")
    repeated = {path: n for path, n in counts.items() if n > 1}
    assert not repeated, f"reads sent more than once: {repeated}"


# --- the report -------------------------------------------------------------------------------------------------

def test_check_json_is_a_stable_list_and_table_reads_well(az, emu):
    first = az("amlk8s check -g rg-ml -c aks-prod -t managedClusters --arm-only -o json", expect=0)
    rows = rows_by_id(first)
    assert list(rows) == AKS_CHECKS + ["cluster-api"]
    assert {rows[cid]["status"] for cid in AKS_CHECKS} == {"pass"} and rows["cluster-api"]["status"] == "skipped"
    assert all(row["fix"] is None for row in rows.values())
    assert rows["cli-version"]["finding"].startswith("Azure CLI 2.")
    assert first.writes == [] and first.stderr.count("ERROR") == 0
    assert_reads_once(first)
    second = az("amlk8s check -g rg-ml -c aks-prod -t aks --arm-only", expect=0)       # JSON is the default output
    assert second.json == first.json

    arc = az("amlk8s check -g rg-arc -c arc-k3s -t arc -o json", expect=0)
    assert list(rows_by_id(arc)) == ARC_CHECKS + ["cluster-api"]      # unknown: Arc without --kube-config

    table = az("amlk8s check -g rg-ml -c aks-iprange -t aks -o table", expect=0)
    lines = table.stdout.splitlines()
    assert lines[0].split() == ["Check", "Status", "Detail"] and set(lines[1]) <= {"-", " "}
    body = {line.split()[0]: line for line in lines[2:] if line.strip() and not line[0].isspace()}
    assert list(body)[:len(AKS_CHECKS)] == AKS_CHECKS
    # The table speaks the JSON's words (issue 14): warning and pass, with the fix on continuation rows.
    assert body["authorized-ip-ranges"].split()[1] == "warning" and body["cluster-state"].split()[1] == "pass"
    assert "AzureMachineLearning.eastus" in table.stdout
    assert "{" not in table.stdout and table.writes == []


def test_check_with_settings_reports_input_errors_and_cluster_checks_together(az, emu):
    result = az("amlk8s check -g rg-ml -c aks-poc -t aks --config enableTraning=true -o json", expect=1)
    rows = rows_by_id(result)
    assert rows["settings"]["status"] == "fail" and "enableTraning" in rows["settings"]["finding"]
    assert "Did you mean enableTraining?" in rows["settings"]["fix"]
    assert rows["cluster-state"]["status"] == "pass"            # the cluster is still checked
    assert "Settings:" in result.stderr and result.writes == []
    assert_no_traceback(result)

    good = az("amlk8s check -g rg-ml -c aks-poc -t aks --enable-inference true --router-service-type LoadBalancer "
              "--allow-insecure true -o json", expect=0)
    rows = rows_by_id(good)
    assert rows["settings"]["status"] == "pass" and "inference router LoadBalancer, HTTP only" in \
        rows["settings"]["finding"]
    assert rows["inference-router-ha"]["status"] == "pass" and "default to false" in \
        rows["inference-router-ha"]["finding"]


# --- the problem clusters -----------------------------------------------------------------------------------------

# (id, scenario, cluster args, settings args, check id, status, finding fragments, fix fragments)
PROBLEMS = [
    ("service-principal", "default", "-g rg-ml -c aks-sp -t aks", TRAINING, "managed-identity", "fail",
     ["uses a service principal"],
     ["az aks update -g rg-ml -n aks-sp --enable-managed-identity", "delete and recreate every node pool",
      "az aks nodepool add -g rg-ml --cluster-name aks-sp"]),
    ("local-accounts-disabled", "default", "-g rg-ml -c aks-nolocal -t aks", TRAINING, "local-accounts", "fail",
     ["Local accounts are disabled", "no Trusted Access binding"],
     ["az aks update -g rg-ml -n aks-nolocal --enable-local-accounts",
      "az aks trustedaccess rolebinding create --resource-group rg-ml --cluster-name aks-nolocal",
      "--roles Microsoft.MachineLearningServices/workspaces/mlworkload"]),
    ("local-accounts-trusted-access", "default", "-g rg-ml -c aks-nolocal-ta -t aks", TRAINING, "local-accounts",
     "pass", ["Trusted Access binding 'azureml-ws1'"], []),
    ("authorized-ip-ranges", "default", "-g rg-ml -c aks-iprange -t aks", TRAINING, "authorized-ip-ranges",
     "warning", ["AzureMachineLearning.eastus", "AzureMachineLearning.westus", "203.0.113.0/24"],
     ["az aks update -g rg-ml -n aks-iprange --api-server-authorized-ip-ranges 203.0.113.0/24,<prefixes>",
      "az network list-service-tags", "az aks trustedaccess rolebinding create"]),
    ("arc-offline", "default", "-g rg-arc -c arc-offline -t arc", TRAINING, "arc-connectivity", "fail",
     ["connectivity status is Offline"], ["az connectedk8s upgrade -g rg-arc -n arc-offline"]),
    ("arc-expired", "default", "-g rg-arc -c arc-expired -t arc", TRAINING, "arc-connectivity", "fail",
     ["has expired"], ["az connectedk8s delete -g rg-arc -n arc-expired",
                       "az connectedk8s connect -g rg-arc -n arc-expired"]),
    ("openshift", "default", "-g rg-arc -c arc-openshift -t arc -n amlext", TRAINING, "openshift", "warning",
     ["runs OpenShift", "SELinux"],
     ["oc adm policy add-scc-to-user privileged", "system:serviceaccount:azureml:amlext-kube-state-metrics",
      "system:serviceaccount:azure-arc:azure-arc-kube-aad-proxy-sa",
      "system:serviceaccount:azureml:azureml-ingress-nginx-admission", "oc edit scc privileged"]),
    ("other-azureml-extension", "default", "-g rg-ml -c aks-other-name -t aks", TRAINING, "existing-extension",
     "fail", ["AzureML extension 'aml-ext' is already installed", "only one"],
     ["az amlk8s deploy -g rg-ml -c aks-other-name -t managedClusters -n aml-ext",
      "az amlk8s delete -g rg-ml -c aks-other-name -t managedClusters -n aml-ext"]),
    ("name-taken-by-another-type", "default", "-g rg-ml -c aks-with-ext -t aks -n flux", TRAINING,
     "existing-extension", "fail", ["Extension 'flux' already exists on the cluster with type microsoft.flux"],
     ["The cluster's AzureML extension is 'azureml'", "az amlk8s deploy -g rg-ml -c aks-with-ext -t managedClusters "
                                                      "-n azureml"]),
    ("extension-busy", "default", "-g rg-ml -c aks-busy -t aks", TRAINING, "extension-busy", "fail",
     ["is Creating", "still in progress"], ["az amlk8s wait -g rg-ml -c aks-busy -t managedClusters -n azureml "
                                            "--created"]),
    ("ha-on-one-node", "default", "-g rg-ml -c aks-poc -t aks",
     "--enable-inference true --router-service-type LoadBalancer --allow-insecure true --inference-router-ha true",
     "inference-router-ha", "fail", ["needs at least 3 nodes", "1 schedulable Linux node", "E40002"],
     ["--inference-router-ha false", "az aks nodepool scale -g rg-ml --cluster-name aks-poc -n nodepool1 "
                                     "--node-count 3"]),
    ("ilb-on-arc", "default", "-g rg-arc -c arc-k3s -t arc",
     "--enable-inference true --router-service-type LoadBalancer --ilb-provider azure --allow-insecure true",
     "internal-load-balancer", "fail", ["works on AKS only", "E40003"],
     ["without --internal-load-balancer-provider", "NodePort"]),
    ("capacity", "default", "-g rg-ml -c aks-tiny -t aks", TRAINING + " --enable-inference true "
     "--router-service-type LoadBalancer --allow-insecure true", "capacity", "warning",
     ["offer 2 vCPU and 4 GiB", "test inference and training minimum", "4 vCPU and 14 GiB"],
     ["az aks nodepool scale -g rg-ml --cluster-name aks-tiny -n nodepool1 --node-count"]),
    ("kubernetes-version", "default", "-g rg-ml -c aks-oldk8s -t aks", TRAINING, "kubernetes-version", "warning",
     ["Kubernetes 1.27.9 is outside the supported window (1.30 to 1.32"],
     ["az aks get-upgrades -g rg-ml -n aks-oldk8s", "az aks upgrade -g rg-ml -n aks-oldk8s"]),
    ("arm64", "default", "-g rg-ml -c aks-arm64 -t aks", TRAINING, "node-architecture", "fail",
     ["Every Linux node pool (nodepool1) is Arm64"],
     ["az aks nodepool add -g rg-ml --cluster-name aks-arm64", "Standard_D4s_v3"]),
    ("cluster-updating", "default", "-g rg-ml -c aks-updating -t aks", TRAINING, "cluster-state", "fail",
     ["provisioning state Updating"], ["az aks wait -g rg-ml -n aks-updating --updated"]),
    ("kc-unregistered", "kc-unregistered", "-g rg-ml -c aks-prod -t aks", TRAINING, "provider-registration", "fail",
     ["Microsoft.KubernetesConfiguration (NotRegistered)"],
     ["az provider register --namespace Microsoft.KubernetesConfiguration --wait"]),
    ("relay-unregistered", "relay-unregistered", "-g rg-arc -c arc-k3s -t arc", TRAINING, "provider-registration",
     "fail", ["Microsoft.Relay (NotRegistered)", "Azure Relay that deploy creates"],
     ["az provider register --namespace Microsoft.Relay --wait"]),
    ("arc-providers-unregistered", "arc-providers-unregistered", "-g rg-arc -c arc-k3s -t arc", TRAINING,
     "provider-registration", "fail", ["Microsoft.Kubernetes (NotRegistered)",
                                       "Microsoft.ExtendedLocation (NotRegistered)"],
     ["az provider register --namespace Microsoft.Kubernetes --wait && az provider register --namespace "
      "Microsoft.ExtendedLocation --wait"]),
]


@pytest.mark.parametrize("scenario, cluster, settings, check_id, status, finding, fix",
                         [pytest.param(*case[1:], id=case[0]) for case in PROBLEMS])
def test_problem_cluster(az, emu, scenario, cluster, settings, check_id, status, finding, fix):
    if scenario == "relay-unregistered":       # deploy would create an Azure Relay first: it must not even try
        emu.set_provider("Microsoft.Relay", "NotRegistered")
    elif scenario != "default":
        emu.reset(scenario)
        emu.settings(retry_after_ms=50)
    blocking = status == "fail"

    report = az(f"amlk8s check {cluster} {settings} -o json", expect=1 if blocking else 0)
    rows = rows_by_id(report)
    row = rows[check_id]
    assert row["status"] == status, row
    for fragment in finding:
        assert fragment in row["finding"], (fragment, row)
    for fragment in fix:
        assert fragment in row["fix"], (fragment, row)
    if blocking:
        assert [r["check"] for r in rows.values() if r["status"] == "fail"] == [check_id]
        assert "1 blocking check failed" in report.stderr and row["title"] in report.stderr
        assert all(fragment in report.stderr for fragment in fix)
    else:
        assert "fail" not in {r["status"] for r in rows.values()}
    assert report.writes == []
    assert_no_traceback(report)

    # deploy runs the same checks: a blocking one stops it before any write; a warning is shown and (dry run here)
    # nothing blocks.
    deploy = az(f"amlk8s deploy {cluster} {settings}" + ("" if blocking else " --dry-run"),
                expect=1 if blocking else 0)
    assert deploy.writes == []
    assert_no_traceback(deploy)
    if blocking:
        assert "cannot take the AzureML extension yet" in deploy.stderr
        if "cannot change" in row["finding"]:   # Azure itself refuses the write: ignoring the check cannot help
            assert "--ignore-check" not in deploy.stderr
        else:
            assert f"--ignore-check {check_id}" in deploy.stderr
        assert "az amlk8s check" in deploy.stderr
    elif status == "warning":
        assert f"{row['title']}: " in deploy.stderr
    for fragment in (finding + fix) if status != "pass" else []:
        assert fragment in deploy.stderr, fragment
    if status == "pass":
        assert deploy.json["properties"]["configurationSettings"]["enableTraining"] == "true"
        assert sum(1 for r in deploy.requests if r.path.lower().endswith("/trustedaccessrolebindings")) == 1


def test_failed_extension_is_reapplied_with_the_diagnosis_shown(az, emu):
    report = az("amlk8s check -g rg-ml -c aks-failed -t aks -o json", expect=0)
    row = rows_by_id(report)["extension-busy"]
    assert row["status"] == "warning" and "is Failed" in row["finding"]
    assert "E40002 INSUFFICIENT_NODE" in row["finding"] and "Deploy may re-apply it" in row["finding"]
    assert row["fix"] == "az amlk8s verify -g rg-ml -c aks-failed -t managedClusters -n azureml"

    deploy = az("amlk8s deploy -g rg-ml -c aks-failed -t aks --enable-training true", expect=0)
    puts = [w for w in deploy.writes if w.method == "PUT" and w.path == emu.extension_id("aks-failed")]
    assert len(puts) == 1 and len(deploy.writes) == 1 and puts[0].status == 200
    assert "E40002 INSUFFICIENT_NODE" in deploy.stderr and "az amlk8s verify" in deploy.stderr
    assert emu.extension("aks-failed")["properties"]["provisioningState"] == "Succeeded"


# --- --ignore-check -------------------------------------------------------------------------------------------

def test_ignore_check_lets_deploy_proceed_and_the_report_shows_it(az, emu):
    report = az("amlk8s check -g rg-ml -c aks-arm64 -t aks --ignore-check node-architecture -o json", expect=0)
    row = rows_by_id(report)["node-architecture"]
    assert row["status"] == "ignored" and "(ignored by --ignore-check)" in row["finding"]

    deploy = az("amlk8s deploy -g rg-ml -c aks-arm64 -t aks --enable-training true --ignore-check NODE-ARCHITECTURE",
                expect=0)
    assert [(w.method, w.path) for w in deploy.writes] == [("PUT", emu.extension_id("aks-arm64"))]
    assert "Node architecture: Every Linux node pool (nodepool1) is Arm64" in deploy.stderr
    assert "(ignored by --ignore-check)" in deploy.stderr

    # Ignoring one check does not ignore another.
    still = az("amlk8s deploy -g rg-ml -c aks-sp -t aks --enable-training true --ignore-check node-architecture",
               expect=1)
    assert still.writes == [] and "--ignore-check managed-identity" in still.stderr


@pytest.mark.parametrize("command", ["check", "deploy --enable-training true"])
def test_unknown_ignore_check_id_is_a_usage_error_naming_the_valid_ids(az, emu, command):
    result = az(f"amlk8s {command} -g rg-ml -c aks-prod -t aks --ignore-check managed-identity no-such-check")
    assert result.exit_code != 0 and result.stdout == ""
    assert result.requests == []
    assert "--ignore-check" in result.stderr and "'no-such-check'" in result.stderr
    assert all(cid in result.stderr for cid in ALL_CHECKS)
    assert_no_traceback(result)


# --- a cluster that is not there ------------------------------------------------------------------------------

@pytest.mark.parametrize("command, names, fix", [
    pytest.param("check -g rg-ml -c aks-missing -t aks",
                 ["AKS cluster 'aks-missing'", "Microsoft.ContainerService/managedClusters", "'rg-ml'"],
                 "az aks list -g rg-ml", id="check-missing-aks"),
    pytest.param("deploy -g rg-arc -c arc-missing -t connectedClusters --enable-training true",
                 ["Azure Arc-enabled cluster 'arc-missing'", "Microsoft.Kubernetes/connectedClusters", "'rg-arc'"],
                 "az connectedk8s list -g rg-arc", id="deploy-missing-arc"),
    pytest.param("deploy -g rg-arc -c arc-k3s -t aks --enable-training true",
                 ["AKS cluster 'arc-k3s'", "has an Azure Arc-enabled cluster of that name"],
                 "Use --cluster-type connectedClusters.", id="deploy-wrong-type-arc"),
    pytest.param("check -g rg-ml -c aks-prod -t arc",
                 ["Azure Arc-enabled cluster 'aks-prod'", "has an AKS cluster of that name"],
                 "Use --cluster-type managedClusters.", id="check-wrong-type-aks"),
    pytest.param("deploy -g rg-missing -c aks-prod -t aks --enable-training true",
                 ["resource group 'rg-missing' was not found"], "az group list", id="deploy-missing-group"),
])
def test_missing_cluster_exits_3_naming_what_was_looked_for(az, emu, command, names, fix):
    result = az("amlk8s " + command, expect=3)
    assert result.stdout == "" and result.writes == []
    for fragment in names + [fix]:
        assert fragment in result.stderr, fragment
    assert_no_traceback(result)


# --- deploy reads each fact once ---------------------------------------------------------------------------------

def test_deploy_sends_each_read_once(az, emu):
    result = az("amlk8s deploy -g rg-ml -c aks-nolocal-ta -t aks --enable-training true", expect=0)
    reads = collections.Counter(r.path.lower().split("/providers/", 1)[-1] if "/resourcegroups/" not in
                                r.path.lower() else r.path.lower()
                                for r in result.requests if r.kind == "arm" and r.method == "GET")
    extension = emu.extension_id("aks-nolocal-ta").lower()
    reads[extension] -= 1                       # the long-running operation's final GET after the PUT
    # One AzureML extension per cluster: the extensions are listed again after the PUT (issue 14).
    reads[emu.cluster_id("aks-nolocal-ta").lower() + "/providers/microsoft.kubernetesconfiguration/extensions"] -= 1
    assert +reads and max(reads.values()) == 1, reads
    cluster = emu.cluster_id("aks-nolocal-ta").lower()
    assert {cluster, cluster + "/providers/microsoft.kubernetesconfiguration/extensions",
            cluster + "/trustedaccessrolebindings", "microsoft.kubernetesconfiguration",
            "microsoft.compute/skus", "microsoft.containerservice/locations/eastus/kubernetesversions"} <= set(reads)
