"""The pure in-cluster rules (azext_amlk8s/rules/incluster.py) over objects shaped like the Kubernetes API returns them
(tests/emulator/kube/scenarios.py builds them as the API server and the AzureML chart do)."""

from hypothesis import given, strategies as st

from azext_amlk8s.rules import health, incluster, running
from azext_amlk8s.facts.cluster import ClusterFacts, ClusterRef
from azext_amlk8s.facts.kube import Access, Denied, path_of
from azext_amlk8s.rules.prereqs import Intent
from tests.emulator.kube import scenarios as ks

SUB = "0b1f6471-1bf0-4dda-aec3-111122223333"
AKS = ClusterRef(SUB, "rg-ml", "aks-prod", "managedClusters")
ARC = ClusterRef(SUB, "rg-arc", "arc-k3s", "connectedClusters")
NRG = "MC_rg-ml_aks-prod_eastus"
FQDN = "aks-prod-rg-ml-0b1f64-1234abcd.hcp.eastus.azmk8s.io"


def aks_facts(**kw):
    return ClusterFacts(ref=AKS, node_resource_group=NRG, fqdn=FQDN, **kw)


def nodes_body(nodes):
    return {"kind": "NodeList", "items": nodes}


def bodies_of(objects):
    """The answers to before_paths/after_paths for a set of objects (what kube.read would store)."""
    out = {}
    by_path = {}
    for obj in objects:
        kind, md = obj["kind"], obj["metadata"]
        plural, group = {"Deployment": ("deployments", "apps"), "StatefulSet": ("statefulsets", "apps"),
                         "DaemonSet": ("daemonsets", "apps"), "Pod": ("pods", None), "Service": ("services", None),
                         "ConfigMap": ("configmaps", None), "Secret": ("secrets", None),
                         "Namespace": ("namespaces", None), "ServiceAccount": ("serviceaccounts", None),
                         "CustomResourceDefinition": ("customresourcedefinitions", "apiextensions.k8s.io"),
                         "ClusterRole": ("clusterroles", "rbac.authorization.k8s.io"),
                         "ClusterRoleBinding": ("clusterrolebindings", "rbac.authorization.k8s.io"),
                         "IngressClass": ("ingressclasses", "networking.k8s.io"), "Node": ("nodes", None)
                         }.get(kind, (None, None))
        if plural is None:
            continue
        ns = md.get("namespace")
        by_path[path_of(ns, plural, md["name"], group)] = obj
        out.setdefault(path_of(ns, plural, group=group), {"items": []})["items"].append(obj)
        if plural in ("daemonsets",):
            out.setdefault(incluster.DAEMONSETS, {"items": []})["items"].append(obj)
        if plural == "nodes":
            out.setdefault(incluster.NODES, {"items": []})["items"].append(obj)
    out.update(by_path)
    return out


# --- quantities and the health-check text -------------------------------------------------------------------------

def test_quantities():
    assert incluster.quantity("3860m") == 3.86
    assert incluster.quantity("12880532Ki") == 12880532 * 1024
    assert incluster.quantity("16Gi") == 16 * 1024 ** 3
    assert incluster.quantity("4") == 4
    assert incluster.quantity("1e3") == 1000
    assert incluster.quantity("garbage") is None and incluster.quantity(None) is None


@given(st.integers(min_value=0, max_value=10 ** 9), st.sampled_from(["", "m", "Ki", "Mi", "Gi", "k", "M", "G"]))
def test_quantities_follow_the_suffix(number, suffix):
    scale = {"": 1, "m": 1e-3, "Ki": 1024, "Mi": 1024 ** 2, "Gi": 1024 ** 3, "k": 1e3, "M": 1e6, "G": 1e9}[suffix]
    assert incluster.quantity(f"{number}{suffix}") == number * scale


def test_the_healthcheck_report_is_parsed_as_microsoft_documents_it():
    text = ks.healthcheck_report([("Passed", "service"), ("Failed", "instancetype", "E45006",
                                                          "Failed to validate or update instancetype")],
                                 date="2023-12-12T06:33:41Z")
    parsed = running.parse_healthcheck(text)
    assert parsed["date"] == "2023-12-12T06:33:41Z"
    assert parsed["entries"] == [
        {"status": "Passed", "name": "service", "errorCode": None, "errorMessage": None},
        {"status": "Failed", "name": "instancetype", "errorCode": "E45006",
         "errorMessage": "Failed to validate or update instancetype"}]


def test_e45006_is_in_the_catalogue():
    (diag,) = health.diagnose_text("E45006 Failed to validate or update instancetype")
    assert diag.code == "E45006" and diag.title == "INSTANCE_TYPE_INVALID"


# --- is it this cluster? ---------------------------------------------------------------------------------------------

def test_aks_is_proven_by_the_subscription_and_node_resource_group_in_the_providerid():
    ok, how = incluster.prove_identity(aks_facts(), "https://127.0.0.1:6443",
                                       {incluster.NODES: nodes_body(ks.aks_nodes(NRG))})
    assert ok is True and NRG in how and SUB in how


def test_a_same_named_aks_cluster_in_another_subscription_is_another_cluster():
    """The node resource group (and its label) repeats in every subscription; the providerID's subscription does
    not."""
    other_sub = "5c6e7f80-2a3b-4c5d-9e8f-444455556666"
    ok, what = incluster.prove_identity(aks_facts(), "https://127.0.0.1:6443",
                                        {incluster.NODES: nodes_body(ks.aks_nodes(NRG, subscription_id=other_sub))})
    assert ok is False and other_sub in what and SUB in what


def test_the_node_label_alone_proves_nothing():
    nodes = ks.aks_nodes(NRG)
    for node in nodes:
        node["spec"].pop("providerID", None)
    ok, why = incluster.prove_identity(aks_facts(), "https://127.0.0.1:6443", {incluster.NODES: nodes_body(nodes)})
    assert ok is None and "repeats in every subscription" in why
    # ... while a server name of this cluster still does.
    assert incluster.prove_identity(aks_facts(), f"https://{FQDN}", {incluster.NODES: nodes_body(nodes)})[0] is True


def test_the_private_fqdn_proves_a_private_cluster():
    facts = aks_facts(private_fqdn="aks-prod-5678.privatelink.eastus.azmk8s.io")
    ok, _ = incluster.prove_identity(facts, "https://aks-prod-5678.privatelink.eastus.azmk8s.io:443",
                                     {incluster.NODES: Denied(403, "Forbidden")})
    assert ok is True


def test_aks_nodes_of_another_node_resource_group_are_another_cluster():
    ok, what = incluster.prove_identity(aks_facts(), "https://127.0.0.1:6443",
                                        {incluster.NODES: nodes_body(ks.aks_nodes("MC_rg_other_eastus"))})
    assert ok is False and "mc_rg_other_eastus" in what.lower() and NRG in what


def test_another_aks_server_name_is_another_cluster():
    ok, what = incluster.prove_identity(aks_facts(), "https://other-5678.hcp.eastus.azmk8s.io:443",
                                        {incluster.NODES: nodes_body(ks.aks_nodes(NRG))})
    assert ok is False and "other-5678.hcp.eastus.azmk8s.io" in what


def test_the_server_name_proves_aks_when_nodes_cannot_be_listed():
    ok, _ = incluster.prove_identity(aks_facts(), f"https://{FQDN}:443",
                                     {incluster.NODES: Denied(403, "Forbidden")})
    assert ok is True
    ok, why = incluster.prove_identity(aks_facts(), "https://127.0.0.1:6443",
                                       {incluster.NODES: Denied(403, "Forbidden")})
    assert ok is None and "refused" in why


def test_nodes_without_the_aks_label_are_not_aks():
    ok, what = incluster.prove_identity(aks_facts(), "https://127.0.0.1:6443",
                                        {incluster.NODES: nodes_body(ks.arc_nodes(2))})
    assert ok is False and "not AKS" in what


def test_arc_is_proven_by_azure_clusterconfig():
    config = ks.arc_clusterconfig("arc-k3s", "rg-arc", SUB)
    facts = ClusterFacts(ref=ARC)
    assert incluster.prove_identity(facts, "https://10.0.0.1:6443", {incluster.ARC_CONFIG: config})[0] is True
    other = ks.arc_clusterconfig("arc-other", "rg-arc", SUB)
    ok, what = incluster.prove_identity(facts, "https://10.0.0.1:6443", {incluster.ARC_CONFIG: other})
    assert ok is False and "arc-other" in what
    ok, what = incluster.prove_identity(facts, "https://10.0.0.1:6443", {incluster.ARC_CONFIG: None})
    assert ok is False and "not connected to Azure Arc" in what


# --- before the write -----------------------------------------------------------------------------------------------

def rows_for(objects, intent=None, public=None, facts=None, ignore=()):
    bodies = bodies_of(objects)
    return {r.id: r for r in incluster.before_checks(facts or aks_facts(), bodies, intent or Intent(),
                                                     public or {}, ignore)}


def test_an_empty_cluster_passes_every_check():
    rows = rows_for(ks.aks_world(NRG, installed=False))
    assert {r.status for r in rows.values()} == {"pass"}
    assert set(rows) == {"legacy-azureml-fe", "azureml-namespace", "helm-ownership"}


def test_legacy_fe_fails_and_can_be_ignored():
    objects = ks.aks_world(NRG, installed=False) + ks.legacy_azureml_fe()
    assert rows_for(objects)["legacy-azureml-fe"].status == "fail"
    assert rows_for(objects, ignore=["legacy-azureml-fe"])["legacy-azureml-fe"].status == "ignored"
    annotated = ks.aks_world(NRG, installed=False) + ks.legacy_azureml_fe(enable_upgrade=True)
    assert rows_for(annotated)["legacy-azureml-fe"].status == "warning"


def test_crds_of_this_release_are_fine_and_of_another_are_not():
    assert rows_for(ks.aks_world(NRG))["helm-ownership"].status == "pass"
    unowned = ks.aks_world(NRG, installed=False) + ks.volcano_crds(helm_release=None)
    row = rows_for(unowned)["helm-ownership"]
    assert row.status == "fail" and "no Helm release" in row.finding
    # training off: volcano is not installed, so its CRDs cannot clash
    assert rows_for(unowned, Intent(training=False, inference=True))["helm-ownership"].status == "pass"


def test_the_ingress_class_check_applies_to_inference_on_aks_only():
    objects = ks.aks_world(NRG, installed=False) + ks.foreign_ingress_nginx()
    assert rows_for(objects, Intent(training=True, inference=True))["ingress-nginx"].status == "fail"
    assert "ingress-nginx" not in rows_for(objects, Intent(training=True, inference=False))
    arc = ClusterFacts(ref=ARC)
    assert "ingress-nginx" not in rows_for(objects, Intent(inference=True), facts=arc)


def test_the_ssl_secret():
    intent = Intent(inference=True)
    public = {"sslSecret": "azureml-ssl", "sslCname": "ml.contoso.com"}
    base = ks.aks_world(NRG, installed=False) + [ks.namespace("azureml")]
    assert rows_for(base, intent, public)["ssl-secret"].status == "fail"
    no_key = base + [ks.ssl_secret(keys=("cert.pem",))]
    assert "key.pem" in rows_for(no_key, intent, public)["ssl-secret"].finding
    good = base + [ks.ssl_secret(cname="ml.contoso.com")]
    assert rows_for(good, intent, public)["ssl-secret"].status in ("pass", "warning")
    wrong = base + [ks.ssl_secret(cname="other.example.org")]
    row = rows_for(wrong, intent, public)["ssl-secret"]
    assert row.status == "fail" and "BEGIN" not in row.finding


def test_arc_nodes_replace_the_unknown_rows():
    facts = ClusterFacts(ref=ARC)
    objects = ks.arc_world("arc-k3s", "rg-arc", SUB, installed=False)
    rows = rows_for(objects, facts=facts)
    assert rows["node-architecture"].status == "pass"
    assert rows["capacity"].status == "pass"
    arm = rows_for(ks.arc_world("arc-k3s", "rg-arc", SUB, arch="arm64", installed=False), facts=facts)
    assert arm["node-architecture"].status == "fail"


# --- after the write -------------------------------------------------------------------------------------------------

def after(objects, settings=None, kind="managedClusters"):
    settings = settings or {"enableTraining": "True", "enableInference": "True"}
    expected = health.expected_components(settings, kind, "azureml")
    access = Access("read", server="https://127.0.0.1:6443", source="test", reader=object())
    ctx = health.Context("rg-ml", "aks-prod", kind, "azureml", AKS.resource_id)
    return running.after_report(access, "proof", bodies_of(objects), expected, ctx=ctx, inference=True)


def test_a_healthy_release_has_no_findings():
    section, findings = after(ks.aks_world(NRG))
    assert findings == []
    assert {w["status"] for w in section["workloads"]} == {"ready"}
    assert section["inferenceRouter"] == {"type": "LoadBalancer", "address": ks.DEFAULT_ROUTER_IP}


def test_pod_reasons():
    objects = ks.aks_world(NRG)
    pods = [o for o in objects if o["kind"] == "Pod" and o["metadata"]["namespace"] == "azureml"]
    states = ["CrashLoopBackOff", "ImagePullBackOff", "Pending", "NotReady"]
    replaced = {p["metadata"]["name"]: ks.pod(p["metadata"]["name"], state=s) for p, s in zip(pods, states)}
    objects = [replaced.get(o["metadata"]["name"], o) if o["kind"] == "Pod" else o for o in objects]
    section, findings = after(objects)
    assert [p["reason"] for p in section["podsNotReady"]] == ["CrashLoopBackOff", "ImagePullBackOff", "Pending",
                                                              "NotReady"]
    assert [f["code"] for f in findings] == ["pod-crashloop", "pod-image-pull", "pod-pending", "pod-not-ready"]


def test_completed_pods_are_not_problems():
    objects = ks.aks_world(NRG) + [ks.pod("healthcheck", state="Succeeded"),
                                   ks.pod("healthcheck-x1", state="Failed", owner=ks.owner_ref("Job", "healthcheck",
                                                                                               "batch/v1"))]
    assert after(objects)[1] == []
    failed = ks.aks_world(NRG) + [ks.pod("loose", state="Failed")]
    assert [f["code"] for f in after(failed)[1]] == ["pod-not-ready"]


def test_an_access_not_read_reports_why():
    access = Access("unknown", reason="the API server refused the connection", fix="check")
    section, findings = running.after_report(access, None, {}, [], ctx=health.Context(), inference=False)
    assert section["read"] is False and section["reason"] == "the API server refused the connection"
    assert findings == []
