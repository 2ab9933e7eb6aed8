"""End-to-end: `az amlk8s deploy` (issue 3) with the real az against the ARM emulator.

Every documented create command of azureml-extension.md section 4 runs verbatim, with `az k8s-extension create`
replaced by `az amlk8s deploy`; each test asserts on what the emulator received (the one extension PUT, the Azure
Relay writes on Arc, the reads) and on what az printed (never a secret). Rejected inputs send no request at all.
"""
# pylint: disable=missing-docstring,redefined-outer-name

import base64
import collections
import datetime
import json

import pytest

from tests.certs import SecretFragments, assert_no_secrets, make_tls_files
from tests.emulator.scenarios import k8s_extension_relay_name

CNAME = "ml.contoso.com"
KC = "/providers/Microsoft.KubernetesConfiguration/extensions/"
PLACEHOLDER = "<protected>"
CLUSTER_LOCATIONS = {"rg-ml": "eastus", "rg-arc": "westeurope"}


# --- helpers ----------------------------------------------------------------------------------------------------

@pytest.fixture
def tls(tmp_path):
    return make_tls_files(tmp_path / "tls", CNAME)


def b64(data):
    return base64.b64encode(data).decode("ascii")


def extension_puts(result, name="azureml"):
    return [w for w in result.writes if w.method == "PUT" and w.path.lower().endswith((KC + name).lower())]


def the_put(result, name="azureml"):
    """The body of the one extension PUT of the call (fails, without printing bodies, if there is not exactly one)."""
    puts = extension_puts(result, name)
    assert len(puts) == 1, "expected exactly one extension PUT:\n" + "\n".join(r.line() for r in result.requests)
    return puts[0].body


def same_secret(actual, expected, what):
    """Compare secret values without letting pytest print them."""
    equal = actual == expected
    if not equal:
        raise AssertionError(f"{what}: not the expected value")


def derived(emu, cluster, group, arc=False):
    """The keys deploy derives from the cluster (issue 3 item 2), as the service expects them."""
    cid = emu.cluster_id(cluster)
    location = CLUSTER_LOCATIONS[group]
    return {"cluster_name": cid, "clusterId": cid, "prometheus.prometheusSpec.externalLabels.cluster_name": cid,
            "location": location, "jobSchedulerLocation": location, "domain": f"{location}.cloudapp.azure.com",
            "cluster_name_friendly": cluster, "servicebus.enabled": "false",
            "relayserver.enabled": "true" if arc else "false", "nginxIngress.enabled": "false" if arc else "true"}


def relay_ids(emu, cluster, group="rg-arc"):
    namespace = k8s_extension_relay_name(cluster, group, emu.subscription_id)
    ns_id = f"/subscriptions/{emu.subscription_id}/resourceGroups/{group}/providers/Microsoft.Relay/namespaces/" \
            f"{namespace}"
    return namespace, ns_id, f"{ns_id}/hybridConnections/{cluster}"


def assert_common(body, arc=False, version=None, auto_upgrade=True, train="stable"):
    props = body["properties"]
    assert props["extensionType"] == "Microsoft.AzureML.Kubernetes"
    assert props["scope"] == {"cluster": {"releaseNamespace": "azureml"}}
    assert props["releaseTrain"] == train
    assert props["autoUpgradeMinorVersion"] is auto_upgrade
    assert props.get("version") == version
    if arc:
        assert body["identity"] == {"type": "SystemAssigned"}
    else:
        assert "identity" not in body      # AKS gives the extension its identity itself (aksAssignedIdentity)
    assert not any(k.lower().endswith("pemfile") for k in props["configurationSettings"])
    assert not any(k.lower().endswith("pemfile") for k in props["configurationProtectedSettings"])


def assert_clean(result, secrets=()):
    """No traceback, no secret in stdout/stderr."""
    assert "Traceback" not in result.stderr and "unexpected error" not in result.stderr
    assert_no_secrets(result.stdout + result.stderr, SecretFragments(secrets))


def assert_reads_once(result):
    """Every ARM GET of the call is sent at most once (polls, tokens and the GETs that follow a write to the same
    path, i.e. long-running-operation polling and final reads, excluded)."""
    counts, written = collections.Counter(), set()
    for record in result.requests:
        if record.kind != "arm":
            continue
        path = record.path.lower()
        if record.method in ("PUT", "PATCH", "DELETE"):
            written.add(path)
            if path.rsplit("/", 1)[0].endswith("/extensions"):
                # One AzureML extension per cluster: the list is read again after the PUT (issue 14).
                written.add(path.rsplit("/", 1)[0])
        elif record.method == "GET" and path not in written:
            counts[path] += 1
    repeated = {path: n for path, n in counts.items() if n > 1}
    assert not repeated, f"reads sent more than once: {repeated}"
    return counts


def relay_writes(result):
    return [w for w in result.writes if "/microsoft.relay/" in w.path.lower()]


# --- issue 3: the four canonical scenarios (azureml-extension.md 4.1), verbatim -------------------------------

def test_scenario_a_aks_proof_of_concept_verbatim(az, emu):
    result = az("amlk8s deploy --name azureml --extension-type Microsoft.AzureML.Kubernetes --config "
                "enableTraining=True enableInference=True inferenceRouterServiceType=loadBalancer "
                "allowInsecureConnections=True inferenceRouterHA=False --cluster-type managedClusters "
                "--cluster-name aks-poc --resource-group rg-ml --scope cluster", expect=0)
    body = the_put(result)
    assert len(result.writes) == 1
    assert_common(body)
    props = body["properties"]
    assert props["configurationSettings"] == dict(
        derived(emu, "aks-poc", "rg-ml"), enableTraining="true", enableInference="true",
        inferenceRouterServiceType="LoadBalancer", allowInsecureConnections="true",
        inferenceRouterHA="false",                   # the user's choice, normalised
        clusterPurpose="DevTest",                    # aks-poc has one node
        **{"scoringFe.serviceType.nodePort": "false"})
    assert props["configurationProtectedSettings"] == {}
    # The output is the extension, as az k8s-extension create prints it; progress and notes go to stderr.
    assert result.json["id"] == emu.extension_id("aks-poc")
    assert result.json["provisioningState"] == "Succeeded" and result.json["extensionType"] == \
        "Microsoft.AzureML.Kubernetes"
    assert "HTTPS is off" in result.stderr and "az amlk8s verify -g rg-ml -c aks-poc" in result.stderr
    # The next step is the product's own attach (with its checks), not az ml compute attach.
    assert "az amlk8s attach -g rg-ml -c aks-poc -t managedClusters --workspace" in result.stderr
    assert "az ml compute" not in result.stderr
    assert emu.extension("aks-poc")["properties"]["provisioningState"] == "Succeeded"
    reads = assert_reads_once(result)
    assert any(p.endswith("/managedclusters/aks-poc") for p in reads)
    assert_clean(result)


def test_scenario_b_arc_training_creates_the_relay_once_and_a_rerun_reapplies(az, emu):
    command = ("amlk8s deploy --name azureml --extension-type Microsoft.AzureML.Kubernetes --config "
               "enableTraining=True --cluster-type connectedClusters --cluster-name arc-k3s --resource-group rg-arc "
               "--scope cluster")
    first = az(command, expect=0)
    namespace, ns_id, hc_id = relay_ids(emu, "arc-k3s")

    # The relay first (namespace, hybrid connection, azureml_rw rule), then one extension PUT, last.
    writes = [(w.method, w.path) for w in first.writes]
    assert writes == [("PUT", ns_id), ("PUT", hc_id), ("PUT", hc_id + "/authorizationRules/azureml_rw"),
                      ("PUT", emu.extension_id("arc-k3s"))]
    ns_put, hc_put, rule_put = first.writes[:3]
    assert ns_put.body["location"] == "westeurope" and ns_put.body["tags"]["created_by"] == "amlk8s"
    assert ns_put.body["tags"]["amlk8s-cluster"] == emu.cluster_id("arc-k3s")
    assert hc_put.body["properties"]["requiresClientAuthorization"] is True
    assert sorted(rule_put.body["properties"]["rights"]) == ["Listen", "Manage", "Send"]
    assert emu.resource(ns_id)["tags"]["created_by"] == "amlk8s"

    body = the_put(first)
    assert_common(body, arc=True)
    props = body["properties"]
    assert props["configurationSettings"] == dict(
        derived(emu, "arc-k3s", "rg-arc", arc=True), enableTraining="true",
        **{"relayserver.hybridConnectionResourceID": hc_id, "relayserver.hybridConnectionName": "arc-k3s"})
    protected = props["configurationProtectedSettings"]
    assert sorted(protected) == ["relayServerConnectionString", "relayserver.relayConnectionString"]
    connection = protected["relayServerConnectionString"]
    same_secret(protected["relayserver.relayConnectionString"], connection, "relayserver.relayConnectionString")
    well_formed = connection.startswith(f"Endpoint=sb://{namespace}.servicebus.windows.net/;SharedAccessKeyName="
                                        "azureml_rw;SharedAccessKey=") and connection.endswith(";EntityPath=arc-k3s")
    assert well_formed and connection in emu.secret_values(), "not the azureml_rw rule's primary connection string"
    leaked = "SharedAccessKey" in json.dumps(props["configurationSettings"])
    assert not leaked, "a relay key is in the public settings"
    assert_reads_once(first)
    assert_clean(first, emu.secret_values())

    # The same command again (with --debug, which logs request bodies): a clean re-apply that reuses the relay.
    again = az(command + " --debug", expect=0)
    assert [(w.method, w.status) for w in again.writes] == [("PUT", 200)]
    rebody = the_put(again)
    assert rebody["properties"]["configurationSettings"] == props["configurationSettings"]
    same_secret(rebody["properties"]["configurationProtectedSettings"], protected, "re-applied protected settings")
    assert any(r.is_list_keys for r in again.requests)       # the existing rule's key is read, not a new rule made
    assert emu.extension("arc-k3s")["properties"]["provisioningState"] == "Succeeded"
    assert_reads_once(again)
    assert_clean(again, emu.secret_values())


def test_scenario_c_aks_production_https_verbatim_typed_flags_and_files_send_the_same(az, emu, tls, tmp_path):
    secrets = tls.secret_fragments()
    verbatim = az("amlk8s deploy --name azureml --extension-type Microsoft.AzureML.Kubernetes --config "
                  f"enableTraining=True enableInference=True inferenceRouterServiceType=loadBalancer sslCname={CNAME} "
                  f"--config-protected sslCertPemFile={tls.cert_path} sslKeyPemFile={tls.key_path} "
                  "--cluster-type managedClusters --cluster-name aks-prod --resource-group rg-ml --scope cluster",
                  expect=0)
    body = the_put(verbatim)
    assert len(verbatim.writes) == 1
    assert_common(body)
    props = body["properties"]
    expected = dict(derived(emu, "aks-prod", "rg-ml"), enableTraining="true", enableInference="true",
                    inferenceRouterServiceType="LoadBalancer", sslCname=CNAME,
                    **{"scoringFe.serviceType.nodePort": "false"})
    assert props["configurationSettings"] == expected       # 3 nodes: no inferenceRouterHA/clusterPurpose default
    protected = props["configurationProtectedSettings"]
    assert sorted(protected) == ["scoringFe.sslCert", "scoringFe.sslKey"]
    same_secret(protected["scoringFe.sslCert"], b64(tls.cert_pem), "scoringFe.sslCert")
    same_secret(protected["scoringFe.sslKey"], b64(tls.key_pem), "scoringFe.sslKey")
    sent = json.dumps(body)
    path_sent = str(tmp_path) in sent or "cert.pem" in sent or "key.pem" in sent
    assert not path_sent, "a local PEM path was sent"
    stored = emu.extension("aks-prod")["properties"]["configurationProtectedSettings"]
    same_secret(stored, protected, "stored protected settings")
    assert_reads_once(verbatim)
    assert_clean(verbatim, secrets)

    # The typed flags (any case of the service type), with --debug: the same body, and no secret in the debug log.
    typed = az(f"amlk8s deploy -g rg-ml -c aks-prod -t aks --enable-training true --enable-inference TRUE "
               f"--inference-router-service-type loadbalancer --ssl-cname {CNAME} --ssl-cert-pem-file {tls.cert_path} "
               f"--ssl-key-pem-file {tls.key_path} --debug", expect=0)
    typed_body = the_put(typed)
    assert typed_body["properties"]["configurationSettings"] == expected
    same_secret(typed_body["properties"]["configurationProtectedSettings"], protected, "typed-flag protected")
    assert_clean(typed, secrets)

    # --config-file / --config-protected-file (JSON objects; JSON booleans are accepted).
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"enableTraining": True, "enableInference": "True",
                                  "inferenceRouterServiceType": "loadBalancer", "sslCname": CNAME}))
    protected_file = tmp_path / "protected.json"
    protected_file.write_text(json.dumps({"sslCertPemFile": str(tls.cert_path), "sslKeyPemFile": str(tls.key_path)}))
    files = az(f"amlk8s deploy -g rg-ml -c aks-prod -t managedClusters --config-file {config} "
               f"--config-protected-file {protected_file}", expect=0)
    files_body = the_put(files)
    assert files_body["properties"]["configurationSettings"] == expected
    same_secret(files_body["properties"]["configurationProtectedSettings"], protected, "file-form protected")
    assert_clean(files, secrets)


def test_scenario_d_arc_gpu_dry_run_prints_the_exact_resource_then_deploy_sends_it(az, emu, tls, tmp_path):
    assert tls.cert_path == tmp_path / "tls" / "cert.pem"       # az runs in tmp_path
    command = ("amlk8s deploy --name azureml --extension-type Microsoft.AzureML.Kubernetes --config "
               "enableTraining=True enableInference=True inferenceRouterServiceType=nodePort "
               f"sslCname={CNAME} installNvidiaDevicePlugin=True installDcgmExporter=True --config-protected "
               "sslCertPemFile=tls/cert.pem sslKeyPemFile=tls/key.pem --cluster-type connectedClusters "  # cwd-relative
               "--cluster-name arc-gpu --resource-group rg-arc --scope cluster")
    _, ns_id, hc_id = relay_ids(emu, "arc-gpu")

    dry = az(command + " --dry-run", expect=0)
    assert dry.writes == []                               # not even the relay
    assert emu.resource(ns_id) is None and emu.extension("arc-gpu") is None
    shown = dry.json
    assert shown["id"] == emu.extension_id("arc-gpu") and shown["name"] == "azureml"
    assert shown["properties"]["configurationProtectedSettings"] == {
        key: PLACEHOLDER for key in ("relayServerConnectionString", "relayserver.relayConnectionString",
                                     "scoringFe.sslCert", "scoringFe.sslKey")}
    assert "would create" in dry.stderr
    assert_clean(dry, tls.secret_fragments())

    real = az(command, expect=0)
    body = the_put(real)
    assert len(relay_writes(real)) == 3
    assert_common(body, arc=True)
    props = body["properties"]
    assert props["configurationSettings"] == dict(
        derived(emu, "arc-gpu", "rg-arc", arc=True), enableTraining="true", enableInference="true",
        inferenceRouterServiceType="NodePort", sslCname=CNAME, installNvidiaDevicePlugin="true",
        installDcgmExporter="true",
        **{"scoringFe.serviceType.nodePort": "true", "relayserver.hybridConnectionResourceID": hc_id,
           "relayserver.hybridConnectionName": "arc-gpu"})
    protected = props["configurationProtectedSettings"]
    same_secret(protected["scoringFe.sslCert"], b64(tls.cert_pem), "scoringFe.sslCert")
    same_secret(protected["scoringFe.sslKey"], b64(tls.key_pem), "scoringFe.sslKey")
    # --dry-run showed exactly this resource, protected values aside.
    assert shown["identity"] == body["identity"]
    assert {k: v for k, v in shown["properties"].items() if k != "configurationProtectedSettings"} == \
        {k: v for k, v in props.items() if k != "configurationProtectedSettings"}
    assert sorted(shown["properties"]["configurationProtectedSettings"]) == sorted(protected)
    assert_clean(real, tls.secret_fragments() + emu.secret_values())


# --- issue 3: the other documented create commands (4.2, 4.3) ----------------------------------------------------

def test_https_with_ssl_secret_needs_enable_inference_which_the_doc_omits(az, emu):
    doc = ("amlk8s deploy --name azureml --extension-type Microsoft.AzureML.Kubernetes --config "
           f"inferenceRouterServiceType=LoadBalancer sslSecret=azureml-tls sslCname={CNAME} --cluster-type "
           "managedClusters --cluster-name aks-prod --resource-group rg-ml --scope cluster")
    as_written = az(doc, expect=1)
    assert as_written.requests == []
    assert "enableInference is not set" in as_written.stderr and "enableInference=True" in as_written.stderr
    assert "--config sslSecret" in as_written.stderr
    assert_clean(as_written)

    fixed = az(doc.replace("--config ", "--config enableInference=True "), expect=0)
    props = the_put(fixed)["properties"]
    assert props["configurationSettings"] == dict(
        derived(emu, "aks-prod", "rg-ml"), enableInference="true", inferenceRouterServiceType="LoadBalancer",
        sslSecret="azureml-tls", sslCname=CNAME,
        **{"scoringFe.sslSecret": "azureml-tls", "scoringFe.serviceType.nodePort": "false"})
    assert props["configurationProtectedSettings"] == {}


@pytest.mark.parametrize("cluster, arguments, expected", [
    pytest.param(   # AKS extension doc (4.2), --configuration-settings; 2 nodes: the small-cluster defaults
        "aks-dev2", "--name azureml --extension-type Microsoft.AzureML.Kubernetes --scope cluster --cluster-name "
        "aks-dev2 --resource-group rg-ml --cluster-type managedClusters --configuration-settings enableInference=True "
        "allowInsecureConnections=True inferenceRouterServiceType=LoadBalancer",
        {"enableInference": "true", "allowInsecureConnections": "true", "inferenceRouterServiceType": "LoadBalancer",
         "scoringFe.serviceType.nodePort": "false", "inferenceRouterHA": "false", "clusterPurpose": "DevTest"},
        id="aks-doc"),
    pytest.param(   # the user's clusterPurpose wins over the small-cluster default, the user's domain over the
        # derived one (az k8s-extension's "doamin" typo always overwrote it)
        "aks-dev2", "-g rg-ml -c aks-dev2 -t managedClusters --config enableTraining=True clusterPurpose=fastprod "
        "domain=ml.internal.contoso.com",
        {"enableTraining": "true", "clusterPurpose": "FastProd", "inferenceRouterHA": "false",
         "domain": "ml.internal.contoso.com"},
        id="user-choices-win"),
    pytest.param(   # troubleshooting doc: custom ingress-nginx class, passed through as a chart value
        "aks-prod", "-g rg-ml -c aks-prod --cluster-type managedClusters --name azureml --extension-type "
        "Microsoft.AzureML.Kubernetes --scope cluster --config enableTraining=True "
        "nginxIngress.controller=\"k8s.io/amlarc-ingress-nginx\"",
        {"enableTraining": "true", "nginxIngress.controller": "k8s.io/amlarc-ingress-nginx"},
        id="custom-ingress-class"),
    pytest.param(   # internal load balancer (AKS only)
        "aks-prod", "-g rg-ml -c aks-prod -t managedClusters --config enableInference=True "
        "inferenceRouterServiceType=LoadBalancer internalLoadBalancerProvider=azure allowInsecureConnections=True",
        {"enableInference": "true", "inferenceRouterServiceType": "LoadBalancer",
         "internalLoadBalancerProvider": "azure", "allowInsecureConnections": "true",
         "scoringFe.serviceType.nodePort": "false",
         "scoringFe.serviceType.internalLoadBalancer": "true"},
        id="internal-load-balancer"),
    pytest.param(   # own ingress in front of azureml-fe (reference-kubernetes): ClusterIP + HTTP
        "aks-prod", "-g rg-ml -c aks-prod -t aks --enable-inference true --router-service-type ClusterIP "
        "--allow-insecure-connections true --node-selector kubernetes.io/os=linux",
        {"enableInference": "true", "inferenceRouterServiceType": "ClusterIP", "allowInsecureConnections": "true",
         "scoringFe.serviceType.nodePort": "false", "nodeSelector.kubernetes.io/os": "linux"},
        id="cluster-ip-typed"),
])
def test_other_documented_commands(az, emu, cluster, arguments, expected):
    result = az("amlk8s deploy " + arguments, expect=0)
    body = the_put(result)
    assert len(result.writes) == 1
    assert_common(body)
    assert body["properties"]["configurationSettings"] == dict(derived(emu, cluster, "rg-ml"), **expected)
    assert body["properties"]["configurationProtectedSettings"] == {}
    assert_clean(result)


def test_arc_bring_your_own_relay_is_used_as_is(az, emu):
    emu.set_provider("Microsoft.Relay", "NotRegistered")      # not needed when the user brings the relay
    hc_id = (f"/subscriptions/{emu.subscription_id}/resourceGroups/rg-arc/providers/Microsoft.Relay/namespaces/"
             "mlrelay/HybridConnections/arc-k3s-hc")
    connection = ("Endpoint=sb://mlrelay.servicebus.windows.net/;SharedAccessKeyName=azureml_rw;"
                  "SharedAccessKey=QllPLXJlbGF5LWtleS1ub3QtYS1yZWFsLXNlY3JldC0xMjM=;EntityPath=arc-k3s-hc")
    command = ("amlk8s deploy --cluster-type connectedClusters --cluster-name arc-k3s --resource-group rg-arc --name "
               "azureml --extension-type Microsoft.AzureML.Kubernetes --scope cluster --configuration-settings "
               "enableTraining=True enableInference=True allowInsecureConnections=True "
               "inferenceRouterServiceType=NodePort "
               f"relayserver.hybridConnectionResourceID=\"{hc_id}\" --configuration-protected-settings "
               f"relayServerConnectionString=\"{connection}\"")
    result = az(command, expect=0)
    assert not any("/microsoft.relay/" in r.path.lower() for r in result.requests)    # nothing found or created
    body = the_put(result)
    assert len(result.writes) == 1
    assert_common(body, arc=True)
    settings = body["properties"]["configurationSettings"]
    assert settings["relayserver.hybridConnectionResourceID"] == hc_id
    assert settings["relayserver.hybridConnectionName"] == "arc-k3s-hc"
    assert settings["relayserver.enabled"] == "true" and settings["scoringFe.serviceType.nodePort"] == "true"
    leaked = "SharedAccessKey" in json.dumps(settings)
    assert not leaked, "a relay key is in the public settings"
    same_secret(body["properties"]["configurationProtectedSettings"],
                {"relayServerConnectionString": connection, "relayserver.relayConnectionString": connection},
                "bring-your-own relay protected settings")
    assert_clean(result, [connection, connection.split("SharedAccessKey=")[1].split(";")[0]])

    # The AML-Kubernetes doc's own example lacks the ";" before EntityPath: refused before any request.
    glued = az(command.replace(";EntityPath=", "EntityPath="), expect=1)
    assert glued.requests == []
    assert "relayServerConnectionString" in glued.stderr and 'a ";" is missing before EntityPath' in glued.stderr
    assert_clean(glued, [connection.split("SharedAccessKey=")[1].split(";")[0]])


def test_renamed_keys_are_translated_with_a_warning(az, emu):
    old_doc = az("amlk8s deploy -n azureml --config enableInference=True inferenceRouterServiceType=LoadBalancer "
                 "allowInsecureConnections=True inferenceLoadBalancerHA=False privateEndpointILB=True "
                 "reuseExistingPromOp=True -t managedClusters -c aks-poc -g rg-ml", expect=0)
    settings = the_put(old_doc)["properties"]["configurationSettings"]
    assert settings["inferenceRouterHA"] == "false" and settings["internalLoadBalancerProvider"] == "azure"
    assert settings["scoringFe.serviceType.internalLoadBalancer"] == "true" and settings["installPromOp"] == "false"
    assert not {"inferenceLoadBalancerHA", "privateEndpointILB", "reuseExistingPromOp"} & set(settings)
    renamed = (("inferenceLoadBalancerHA", "inferenceRouterHA"), ("privateEndpointILB", "internalLoadBalancerProvider"),
               ("reuseExistingPromOp", "installPromOp"))
    for old, new in renamed:
        assert f"Setting --config {old} is an old name" in old_doc.stderr and f"sent as {new}=" in old_doc.stderr

    late_2022 = az("amlk8s deploy -g rg-ml -c aks-dev2 -t managedClusters --config enableTraining=True "
                   "enableInference=True inferenceRouterServiceType=LoadBalancer allowInsecureConnections=True "
                   "InferenceRouterHA=False", expect=0)
    settings = the_put(late_2022)["properties"]["configurationSettings"]
    assert settings["inferenceRouterHA"] == "false" and "InferenceRouterHA" not in settings
    assert "Setting --config InferenceRouterHA is an old name" in late_2022.stderr

    # The 2021 spelling of NodePort, given together with the new key: refused, naming both.
    both = az("amlk8s deploy -g rg-ml -c aks-dev2 -t aks --config enableInference=True allowInsecureConnections=True "
              "inferenceRouterServiceType=LoadBalancer privateEndpointNodeport=True", expect=1)
    assert both.requests == []
    assert "--config privateEndpointNodeport" in both.stderr and "--config inferenceRouterServiceType" in both.stderr


def test_version_pinning_and_release_train(az, emu):
    pinned = az("amlk8s deploy -g rg-ml -c aks-prod -t aks --enable-training true --version 1.1.86 "
                "--auto-upgrade-minor-version false --release-train Stable", expect=0)
    assert_common(the_put(pinned), version="1.1.86", auto_upgrade=False, train="Stable")
    assert emu.extension("aks-prod")["properties"]["currentVersion"] == "1.1.86"

    implied = az("amlk8s deploy -g rg-ml -c aks-dev2 -t aks --enable-training true --version 1.1.88 --no-wait",
                 expect=0)
    assert_common(the_put(implied), version="1.1.88", auto_upgrade=False)    # --version alone turns auto-upgrade off


def test_no_wait_returns_after_the_put(az, emu):
    result = az("amlk8s deploy -g rg-ml -c aks-prod -t managedClusters --enable-training true --no-wait", expect=0)
    assert result.stdout.strip() == ""
    assert result.requests[-1].method == "PUT" and result.requests[-1] is extension_puts(result)[0]
    assert [r for r in result.requests if r.kind == "poll"] == []
    assert emu.extension("aks-prod")["properties"]["provisioningState"] == "Creating"
    assert "az amlk8s verify -g rg-ml -c aks-prod -t managedClusters -n azureml --wait" in result.stderr


def test_a_second_azureml_extension_under_another_name_is_refused(az, emu):
    refused = az("amlk8s deploy -g rg-ml -c aks-other-name -t managedClusters --enable-training true", expect=1)
    assert refused.writes == []
    assert "AzureML extension 'aml-ext' is already installed" in refused.stderr
    assert "-n aml-ext" in refused.stderr and "--ignore-check existing-extension" in refused.stderr
    assert emu.extension("aks-other-name", "azureml") is None

    same_name = az("amlk8s deploy -g rg-ml -c aks-other-name -t managedClusters -n aml-ext --enable-training true",
                   expect=0)
    assert [(w.method, w.status) for w in same_name.writes] == [("PUT", 200)]
    assert len(extension_puts(same_name, "aml-ext")) == 1


def test_openshift_and_single_node_arc_clusters_get_their_derived_keys(az, emu):
    openshift = az("amlk8s deploy -g rg-arc -c arc-openshift -t connectedClusters --enable-training true", expect=0)
    settings = the_put(openshift)["properties"]["configurationSettings"]
    assert settings["openshift"] == "true" and settings["relayserver.enabled"] == "true"
    assert "oc adm policy add-scc-to-user privileged" in openshift.stderr

    single = az("amlk8s deploy -g rg-arc -c arc-single -t arc --enable-inference true --router-service-type NodePort "
                "--allow-insecure true", expect=0)
    settings = the_put(single)["properties"]["configurationSettings"]
    assert settings["inferenceRouterHA"] == "false" and settings["clusterPurpose"] == "DevTest"
    assert "openshift" not in settings
    assert "Fewer than 3 nodes" in single.stderr


# --- issue 3: every rejected input, before any request ------------------------------------------------------------

DEPLOY = "amlk8s deploy -g rg-ml -c aks-prod -t managedClusters "
HTTPS = f"--config enableInference=True inferenceRouterServiceType=LoadBalancer sslCname={CNAME} "
PEMS = "--config-protected sslCertPemFile={cert} sslKeyPemFile={key}"

REJECTED = [
    ("unknown-key", "--config enableTraning=True",
     ["--config enableTraning", "is not a setting", "Did you mean enableTraining?"]),
    ("wrong-case-key", "--config enableTraining=True InstallPromOp=false",
     ["--config InstallPromOp", "Did you mean installPromOp?"]),
    ("bad-boolean", "--config enableTraining=yes", ["--config enableTraining", "true or false"]),
    ("bad-service-type",
     "--config enableInference=True inferenceRouterServiceType=ingress allowInsecureConnections=true",
     ["--config inferenceRouterServiceType", "LoadBalancer, NodePort, ClusterIP"]),
    ("inference-without-service-type", "--enable-inference true --allow-insecure-connections true",
     ["--inference-router-service-type"]),
    ("https-without-certificate", "--config enableInference=True inferenceRouterServiceType=LoadBalancer",
     ["HTTPS", "--ssl-cert-pem-file", "--ssl-secret", "--allow-insecure-connections true"]),
    ("pem-and-ssl-secret", HTTPS + "sslSecret=azureml-tls " + PEMS,
     ["--config sslSecret", "--config-protected sslCertPemFile", "one way only"]),
    ("missing-ssl-cname", "--config enableInference=True inferenceRouterServiceType=LoadBalancer " + PEMS,
     ["CNAME", "--ssl-cname"]),
    ("one-pem-only", HTTPS + "--config-protected sslCertPemFile={cert}",
     ["--config-protected sslCertPemFile", "without sslKeyPemFile", "--ssl-key-pem-file"]),
    ("nodeport-with-ilb", "--config enableInference=True inferenceRouterServiceType=NodePort "
     "internalLoadBalancerProvider=azure allowInsecureConnections=True",
     ["--config internalLoadBalancerProvider", "--config inferenceRouterServiceType", "NodePort"]),
    ("insecure-with-tls", "--enable-inference true --router-service-type LoadBalancer --allow-insecure true "
     f"--ssl-cname {CNAME}", ["--allow-insecure-connections", "--ssl-cname"]),
    ("typed-and-raw", "--enable-training true --config enableTraining=true",
     ["--enable-training", "--config enableTraining"]),
    ("secret-in-public-settings", "--config enableTraining=True relayServerConnectionString=EndpointIsASecret123",
     ["--config relayServerConnectionString", "--config-protected relayServerConnectionString"]),
    ("scope-namespace", "--config enableTraining=True --scope namespace", ["--scope", "cluster"]),
    ("release-namespace", "--config enableTraining=True --release-namespace ml", ["--release-namespace", "azureml"]),
    ("extension-type", "--config enableTraining=True --extension-type Microsoft.Flux",
     ["--extension-type", "Microsoft.AzureML.Kubernetes"]),
    ("version-with-auto-upgrade", "--config enableTraining=True --version 1.1.88 --auto-upgrade-minor-version true",
     ["--version", "--auto-upgrade-minor-version false"]),
    ("bad-version", "--config enableTraining=True --version latest --auto-upgrade false", ["--version", "1.1.88"]),
    ("pem-missing-file", HTTPS + "--config-protected sslCertPemFile={missing} sslKeyPemFile={key}",
     ["--config-protected sslCertPemFile", "does not exist"]),
    ("pem-not-pem", HTTPS + "--config-protected sslCertPemFile={notpem} sslKeyPemFile={key}",
     ["--config-protected sslCertPemFile", "not a PEM certificate"]),
    ("pem-passphrase", HTTPS + PEMS.replace("{cert}", "{pw_cert}").replace("{key}", "{pw_key}"),
     ["--config-protected sslKeyPemFile", "passphrase"]),
    ("pem-mismatched-key", HTTPS + PEMS.replace("{cert}", "{mm_cert}").replace("{key}", "{mm_key}"),
     ["--config-protected sslKeyPemFile", "does not match"]),
    ("pem-expired", HTTPS + PEMS.replace("{cert}", "{old_cert}").replace("{key}", "{old_key}"),
     ["--config-protected sslCertPemFile", "expired"]),
    ("cname-not-covered", HTTPS + PEMS.replace("{cert}", "{other_cert}").replace("{key}", "{other_key}"),
     ["--config sslCname", "not covered", "other.fabrikam.com"]),
    ("config-file-missing", "--config-file {missing}", ["--config-file", "cannot be read"]),
    ("ignore-unknown-check", "--config enableTraining=True --ignore-check no-such-check",
     ["--ignore-check", "no-such-check", "node-architecture", "cli-version"]),
]


@pytest.fixture
def bad_files(tmp_path):
    good = make_tls_files(tmp_path / "good", CNAME)
    past = datetime.datetime(2020, 1, 1, tzinfo=datetime.timezone.utc)
    files = {"good": good,
             "pw": make_tls_files(tmp_path / "pw", CNAME, passphrase="correct horse"),
             "mm": make_tls_files(tmp_path / "mm", CNAME, mismatched_key=True),
             "old": make_tls_files(tmp_path / "old", CNAME, not_before=past,
                                   not_after=past + datetime.timedelta(days=90)),
             "other": make_tls_files(tmp_path / "other", "other.fabrikam.com")}
    notpem = tmp_path / "notes.txt"
    notpem.write_text("not a certificate\n")
    paths = {"cert": good.cert_path, "key": good.key_path, "missing": tmp_path / "missing.pem", "notpem": notpem}
    for prefix in ("pw", "mm", "old", "other"):
        paths[prefix + "_cert"], paths[prefix + "_key"] = files[prefix].cert_path, files[prefix].key_path
    secrets = SecretFragments()
    for item in files.values():
        secrets += item.secret_fragments()
    return paths, secrets


@pytest.mark.parametrize("arguments, fragments", [pytest.param(a, f, id=i) for i, a, f in REJECTED])
def test_rejected_input_sends_nothing_and_names_the_argument(az, emu, bad_files, arguments, fragments):
    paths, secrets = bad_files
    result = az(DEPLOY + arguments.format(**paths))
    assert result.exit_code == 1, result.describe()
    assert result.requests == []           # a pure input error: not even a token request, let alone a write
    assert result.stdout == ""
    message = result.stderr
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in:\n{message}"
    assert "ERROR:" in message
    assert_clean(result, secrets + ["EndpointIsASecret123"])
