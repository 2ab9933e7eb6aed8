"""Every read of the cluster has three outcomes: complete, absent (404), unknown (refused, failing, cut short, not
understood). A list is read to its end (``metadata.continue``), no verdict rests on an unknown, and a kubeconfig's
exec credential plugin is bounded in time like any read.

The real az against the Kubernetes API emulator (tests/emulator/kube): 403 Forbidden as RBAC answers it, 500/503 as
an overloaded API server answers them, and ``limit``/``continue`` paging as the API server pages a LIST ("Retrieving
large results sets in chunks", Kubernetes API concepts).
"""
# pylint: disable=missing-docstring

import sys
import time

import pytest
import yaml

from tests.e2e.harness import check_rows
from tests.emulator.kube import scenarios as ks

VERIFY = "amlk8s verify -g rg-ml -c aks-with-ext -t aks"
ARC_CHECK = "amlk8s check -g rg-arc -c arc-k3s -t arc"


def healthy(**components):
    return ks.aks_world("MC_rg-ml_aks-with-ext_eastus", **components)


@pytest.mark.parametrize("rules, what", [
    ("pods", "the pods"),
    ("configmaps", "the health-check report"),
])
def test_a_refused_read_of_what_the_verdict_needs_is_not_healthy(az, kube, rules, what):
    kube.aks("aks-with-ext", healthy(), forbidden=[rules])
    result = az(VERIFY + " -o json", expect=1)
    report = result.json
    assert report["verdict"] == "Unknown", report["verdict"]
    finding = next(f for f in report["findings"] if f["code"] == "read-unknown")
    assert what in finding["diagnosis"] and "403" in finding["diagnosis"] and "kubectl auth can-i" in finding["fix"]
    assert any(what in u for u in report["inCluster"]["unread"])
    assert "Unknown" in result.stderr and "Healthy" not in result.stderr


def test_failing_workload_reads_are_unknown_not_missing(az, kube):
    kube.aks("aks-with-ext", healthy(), failing=["apps/deployments"])
    report = az(VERIFY + " -o json", expect=1).json
    rows = {w["name"]: w for w in report["inCluster"]["workloads"]}
    assert rows["azureml-fe-v2"]["status"] == "unknown" and rows["aml-operator"]["status"] == "unknown"
    assert not any(f["code"] == "component-missing" for f in report["findings"])
    assert report["verdict"] == "Unknown"


def test_an_unparseable_health_check_report_is_unknown_not_passed(az, kube):
    cm = ks.healthcheck_configmap()
    cm["data"] = {key: "\x00\x01 garbled <truncated" for key in cm["data"]}
    objects = [o for o in healthy() if not (o["kind"] == "ConfigMap" and o["metadata"]["name"] == cm["metadata"]
                                            ["name"])] + [cm]
    kube.aks("aks-with-ext", objects)
    report = az(VERIFY + " -o json", expect=1).json
    assert report["verdict"] == "Unknown"
    assert all(s.get("unparsed") and s["passed"] is None for s in report["inCluster"]["healthCheck"])
    assert any(f["code"] == "healthcheck-unparsed" for f in report["findings"])


def test_an_evicted_leftover_next_to_its_ready_deployment_is_not_a_problem(az, kube):
    objects = healthy()
    running = next(o for o in objects if o["kind"] == "Pod" and o["metadata"]["name"].startswith("aml-operator"))
    leftover = ks.evicted(yaml.safe_load(yaml.safe_dump(running)))
    leftover["metadata"]["name"] = running["metadata"]["name"][:-5] + "zzzzz"
    leftover["metadata"]["uid"] = "0e6b1c7e-0000-4000-8000-00000000e71c"
    kube.aks("aks-with-ext", objects + [leftover])
    report = az(VERIFY + " -o json", expect=0).json
    assert report["verdict"] == "Healthy"
    assert report["inCluster"]["podsNotReady"] == []

    # ... while an evicted pod of a workload that is not ready is its cause.
    fe = next(o for o in objects if o["kind"] == "Deployment" and o["metadata"]["name"] == "aml-operator")
    fe["status"]["readyReplicas"] = 0
    kube.aks("aks-with-ext", objects + [leftover])
    report = az(VERIFY + " -o json", expect=1).json
    assert [p["reason"] for p in report["inCluster"]["podsNotReady"]] == ["Evicted"]
    assert "low on resource: memory" in report["inCluster"]["podsNotReady"][0]["message"]


def test_a_paged_node_list_is_read_to_its_end(az, kube):
    """The API server returns 1 node per page: every page counts (3 nodes, 12 vCPU), not only the first."""
    path = kube.arc("arc-k3s", objects=ks.system_namespaces() + ks.arc_nodes(3)
                    + ks.arc_agents("arc-k3s", "rg-arc", kube.arm.subscription_id), page_size=1)
    rows = check_rows(az(f"{ARC_CHECK} --kube-config {path} -o json", expect=0))
    assert rows["capacity"]["status"] == "pass" and "3 ready Linux amd64 nodes" in rows["capacity"]["finding"]
    pages = [r for r in kube.requests(cluster="arc-k3s") if r.path.startswith("/api/v1/nodes")]
    assert len(pages) == 3 and sum("continue" in r.query for r in pages) == 2


def test_a_refused_node_list_makes_the_node_checks_unknown(az, kube):
    path = kube.arc("arc-k3s", objects=ks.system_namespaces() + ks.arc_nodes(3)
                    + ks.arc_agents("arc-k3s", "rg-arc", kube.arm.subscription_id), forbidden=["nodes"])
    rows = check_rows(az(f"{ARC_CHECK} --kube-config {path} -o json", expect=0))
    for cid in ("node-architecture", "capacity", "gpu-device-plugin"):
        assert rows[cid]["status"] == "unknown" and "403" in rows[cid]["finding"], (cid, rows[cid])


def test_an_exec_plugin_that_never_answers_is_stopped(az, kube, tmp_path):
    """kubelogin waiting for a sign-in nobody sees, or any plugin that hangs: stopped after its bound (30 s), and the
    in-cluster checks are unknown with the reason; az does not hang."""
    kube.aks("aks-with-ext", healthy(), handed_out=False)
    config = kube.emulator.kubeconfig_dict("aks-with-ext")
    config["users"][0]["user"] = {"exec": {"apiVersion": "client.authentication.k8s.io/v1beta1",
                                           "command": sys.executable,
                                           "args": ["-c", "import time; time.sleep(600)"],
                                           "interactiveMode": "Never"}}
    path = tmp_path / "exec.kubeconfig"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    started = time.monotonic()
    result = az(f"{VERIFY} --kube-config {path} -o json", expect=0)
    assert time.monotonic() - started < 120
    inside = result.json["inCluster"]
    assert inside["status"] == "unknown" and "did not answer within 30 seconds" in inside["reason"]
    assert kube.requests(cluster="aks-with-ext") == []
