"""The scheduling rules (azext_amlk8s/rules/scheduling.py) over node objects shaped as the API server returns them."""

from azext_amlk8s.rules import scheduling
from tests.emulator.kube import scenarios as ks


def test_eligible_nodes_leave_out_not_ready_cordoned_tainted_windows_and_unmatched():
    nodes = ks.arc_nodes(6)
    nodes[0]["status"]["conditions"][-1]["status"] = "False"
    nodes[1]["spec"]["unschedulable"] = True
    nodes[2]["spec"]["taints"] = [{"key": "gpu", "effect": "NoExecute"}]
    nodes[2]["metadata"]["labels"]["pool"] = "ml"
    nodes[3]["metadata"]["labels"]["kubernetes.io/os"] = "windows"
    nodes[4]["metadata"]["labels"]["pool"] = "other"
    nodes[5]["metadata"]["labels"]["pool"] = "ml"
    eligible, excluded = scheduling.eligible_nodes(nodes, {"pool": "ml"})
    assert [n["metadata"]["name"] for n in eligible] == ["arc-node-5"]
    assert excluded == {"not Ready": ["arc-node-0"], "cordoned": ["arc-node-1"], "tainted gpu:NoExecute": [
        "arc-node-2"], "not Linux": ["arc-node-3"], "not matching the node selector": ["arc-node-4"]}


def test_a_prefer_no_schedule_taint_does_not_exclude():
    nodes = ks.arc_nodes(1)
    nodes[0]["spec"]["taints"] = [{"key": "spot", "effect": "PreferNoSchedule"}]
    assert len(scheduling.eligible_nodes(nodes, {})[0]) == 1


def test_router_ha_needs_three_eligible_nodes():
    nodes = ks.arc_nodes(3)
    eligible, excluded = scheduling.eligible_nodes(nodes, {})
    assert scheduling.router_ha_finding(eligible, excluded, {})[0] == "pass"
    assert scheduling.router_ha_finding(eligible[:2], excluded, {})[0] == "fail"


def test_scheduler_messages_are_read_into_causes():
    message = ("0/5 nodes are available: 1 Insufficient cpu, 1 Insufficient memory, 1 Too many pods, 1 node(s) had "
               "untolerated taint {node-role.kubernetes.io/control-plane: }, 1 node(s) didn't match Pod's node "
               "affinity/selector. preemption: 0/5 nodes are available: 5 Preemption is not helpful for scheduling.")
    causes = [c for c, _ in scheduling.scheduler_causes(message)]
    assert causes == ["1 node(s): too little free cpu", "1 node(s): too little free memory",
                      "1 node(s): no free pod slot",
                      "1 node(s): the node selector matches no free node",
                      "1 node(s): a taint the pod does not tolerate (node-role.kubernetes.io/control-plane:)"]
    anti = scheduling.scheduler_causes("0/2 nodes are available: 2 node(s) didn't match pod anti-affinity rules.")
    assert "--inference-router-ha false" in anti[0][1]
    assert scheduling.scheduler_causes("something else") == []
