"""Scheduling before the write, end to end with the real az and the Kubernetes API emulator: a node selector that
selects no node (AKS-only labels on an Arc cluster, the common case in public reports), and router HA on fewer than
three eligible nodes (cordoned and tainted nodes do not count). check fails the row, deploy refuses with nothing
written to either API, ``--ignore-check`` lets it through."""
# pylint: disable=missing-docstring

from tests.e2e.harness import check_rows, refused
from tests.emulator.kube import scenarios as ks

ARC = "-g rg-arc -c arc-k3s -t arc"
NRG = "MC_rg-ml_aks-prod_eastus"


def arc(kube, nodes=None):
    return kube.arc("arc-k3s", objects=ks.system_namespaces() + (nodes or ks.arc_nodes(3))
                    + ks.arc_agents("arc-k3s", "rg-arc", kube.arm.subscription_id))


def test_an_aks_only_label_as_node_selector_on_arc_selects_no_node(az, kube):
    path = arc(kube)
    rows = check_rows(az(f"amlk8s check {ARC} --kube-config {path} --enable-training true "
                         "--node-selector agentpool=mlpool -o json", expect=1))
    row = rows["node-selector"]
    assert row["status"] == "fail" and "no node has the label agentpool (an AKS-only label" in row["finding"]
    assert "kubernetes.io/os" in row["fix"] and "kubectl label node" in row["fix"]
    deploy = refused(az(f"amlk8s deploy {ARC} --kube-config {path} --enable-training true "
                        "--node-selector agentpool=mlpool"), 1)
    assert "node-selector" in deploy.stderr and kube.writes() == []
    passed = az(f"amlk8s deploy {ARC} --kube-config {path} --enable-training true --node-selector agentpool=mlpool "
                "--ignore-check node-selector --dry-run", expect=0)
    assert passed.writes == []


def test_a_node_selector_value_the_nodes_do_not_have_names_the_values_they_have(az, kube):
    nodes = ks.arc_nodes(3)
    for index, node in enumerate(nodes):
        node["metadata"]["labels"]["pool"] = "gpu" if index == 0 else "cpu"
    path = arc(kube, nodes)
    rows = check_rows(az(f"amlk8s check {ARC} --kube-config {path} --enable-training true "
                         "--node-selector pool=ml -o json", expect=1))
    assert "the nodes have pool=cpu|gpu, not ml" in rows["node-selector"]["finding"]
    rows = check_rows(az(f"amlk8s check {ARC} --kube-config {path} --enable-training true "
                         "--node-selector pool=cpu -o json", expect=0))
    assert rows["node-selector"]["status"] == "pass" and "selects 2 Ready node(s)" in rows["node-selector"]["finding"]


def test_router_ha_counts_only_eligible_nodes(az, kube):
    nodes = ks.aks_nodes(NRG, 3)
    nodes[1]["spec"]["unschedulable"] = True
    nodes[2]["spec"]["taints"] = [{"key": "CriticalAddonsOnly", "value": "true", "effect": "NoSchedule"}]
    kube.aks("aks-prod", ks.system_namespaces() + nodes)
    command = ("amlk8s check -g rg-ml -c aks-prod -t aks --enable-inference --inference-router-service-type "
               "LoadBalancer --allow-insecure-connections --inference-router-ha true -o json")
    row = check_rows(az(command, expect=1))["inference-router-ha"]
    assert row["status"] == "fail" and "only 1 node(s) can take them" in row["finding"]
    assert "cordoned" in row["finding"] and "CriticalAddonsOnly=true:NoSchedule" in row["finding"]
    assert "--inference-router-ha false" in row["fix"]


def test_nodes_without_free_pod_slots(az, kube):
    nodes = ks.aks_nodes(NRG, 3)
    for node in nodes:
        node["status"]["allocatable"]["pods"] = "30"          # AKS with --max-pods 30
    busy = [ks.pod(f"busy-{i}", ns="apps", node_name=nodes[i % 2]["metadata"]["name"]) for i in range(60)]
    kube.aks("aks-prod", ks.system_namespaces() + nodes + busy)
    base = "amlk8s check -g rg-ml -c aks-prod -t aks --enable-training true -o json"
    row = check_rows(az(base, expect=0))["pod-slots"]
    assert row["status"] == "warning" and nodes[0]["metadata"]["name"] in row["finding"]
    assert "30 free pod slot(s)" in row["finding"]
    row = check_rows(az(base + " --install-nvidia-device-plugin true", expect=1))["pod-slots"]
    assert row["status"] == "fail" and "DaemonSets need one on every eligible node" in row["finding"]
    assert "--max-pods" in row["fix"]
