"""Issue 5 end to end: `az amlk8s update` and `az amlk8s delete` with the real az against the ARM emulator.

The PATCH/DELETE bodies and queries are read from the emulator's request log; a refused operation must not have
sent any write request.
"""
# pylint: disable=missing-docstring,redefined-outer-name

import base64
import os
import subprocess

import pytest

from tests.certs import assert_no_secrets, make_tls_files
from tests.emulator import scenarios

AZUREML = "Microsoft.AzureML.Kubernetes"
WITH_EXT = "-g rg-ml -c aks-with-ext -t managedClusters"
HTTPS = "-g rg-ml -c aks-https -t managedClusters"
ARC = "-g rg-arc -c arc-with-ext -t connectedClusters"


def clean(result):
    assert "Traceback" not in result.stderr, result.describe()
    return result


def refused(result):
    """A refusal: non-zero exit, a message, no write request (and no traceback)."""
    clean(result)
    assert result.exit_code not in (0, None), result.describe()
    assert result.writes == [], result.describe()
    assert "ERROR:" in result.stderr
    return result


def the_patch(result):
    patches = [w for w in result.writes if w.method == "PATCH"]
    assert len(patches) == 1 and len(result.writes) == 1, result.describe()
    assert patches[0].status == 202
    return patches[0].body["properties"]


def polls(result):
    return [r for r in result.requests if r.kind == "poll"]


@pytest.fixture
def tls(tmp_path):
    return make_tls_files(tmp_path / "tls", "ml.contoso.com")


def b64(data):
    return base64.b64encode(data).decode("ascii")


def store_settings(emu, cluster, name="azureml", replace=None, **changes):
    """Change the stored extension's configurationSettings (as if created or edited elsewhere)."""
    body = emu.extension(cluster, name)
    settings = dict(body["properties"]["configurationSettings"]) if replace is None else dict(replace)
    settings.update(changes)
    body["properties"]["configurationSettings"] = settings
    emu.put_resource(body["id"], body)
    return body


def relay_ids(emu):
    hc_id = emu.extension("arc-with-ext")["properties"]["configurationSettings"][
        "relayserver.hybridConnectionResourceID"]
    return hc_id, hc_id.split("/hybridConnections/")[0]


def run_in_terminal(az, emu, command, answer):
    """Run az with a pseudo-terminal as stdin (so it may prompt) and type `answer` at the prompt."""
    master, slave = os.openpty()
    mark = emu.mark()
    try:
        proc = az.popen(command, stdin=slave)
    finally:
        os.close(slave)
    try:
        os.write(master, answer.encode() + b"\n")
        out, err = proc.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        pytest.fail(f"az did not finish\n{out}\n{err}")
    finally:
        os.close(master)
    records = emu.requests(since=mark)
    return proc.returncode, out, err, [r for r in records if r.is_write]


# --- update: what is sent --------------------------------------------------------------------------------------------

def test_update_sends_only_the_changed_keys(az, emu):
    before = emu.extension("aks-with-ext")["properties"]["configurationSettings"]
    updated = clean(az(f"amlk8s update {WITH_EXT} --install-dcgm-exporter true", expect=0))
    assert the_patch(updated) == {"configurationSettings": {"installDcgmExporter": "true"}}
    assert len(polls(updated)) >= 1 and updated.json["provisioningState"] == "Succeeded"
    after = emu.extension("aks-with-ext")["properties"]["configurationSettings"]
    assert after == dict(before, installDcgmExporter="true")
    assert "HTTPS is off" not in updated.stderr          # no lecture about settings this update does not touch


def test_update_raw_config_form_and_the_no_change_path(az, emu):
    raw = clean(az(f"amlk8s update {WITH_EXT} --config installPromOp=False enableTraining=True", expect=0))
    assert the_patch(raw) == {"configurationSettings": {"installPromOp": "false"}}

    same = clean(az(f"amlk8s update {WITH_EXT} --enable-training TRUE --install-prom-op false", expect=0))
    assert same.writes == [] and "No change" in same.stderr
    assert same.json["name"] == "azureml"


def test_update_no_wait(az, emu):
    started = clean(az(f"amlk8s update {WITH_EXT} --install-volcano false --no-wait", expect=0))
    assert the_patch(started) == {"configurationSettings": {"installVolcano": "false"}}
    assert polls(started) == [] and started.stdout.strip() == ""
    assert "az amlk8s verify -g rg-ml -c aks-with-ext -t managedClusters -n azureml --wait" in started.stderr
    assert emu.extension("aks-with-ext")["properties"]["provisioningState"] == "Updating"


def test_update_version_arguments(az, emu):
    pinned_with_auto = refused(az(f"amlk8s update {WITH_EXT} --version 1.1.70"))
    assert "--auto-upgrade-minor-version false" in pinned_with_auto.stderr
    both = refused(az(f"amlk8s update {WITH_EXT} --version 1.1.70 --auto-upgrade-minor-version true"))
    assert "--version" in both.stderr

    pinned = clean(az(f"amlk8s update {WITH_EXT} --version 1.1.70 --auto-upgrade-minor-version false", expect=0))
    assert the_patch(pinned) == {"autoUpgradeMinorVersion": False, "version": "1.1.70"}
    stored = emu.extension("aks-with-ext")["properties"]
    assert (stored["autoUpgradeMinorVersion"], stored["version"]) == (False, "1.1.70")


def test_update_busy_extension_is_refused(az):
    busy = refused(az("amlk8s update -g rg-ml -c aks-busy -t aks --install-volcano false"))
    assert "creating right now" in busy.stderr and "az amlk8s wait" in busy.stderr


# --- update: enabling inference follows deploy's rules ---------------------------------------------------------------

OTHER = "-g rg-ml -c aks-other-name -t aks -n aml-ext"


@pytest.mark.parametrize("args, says", [
    ("--enable-inference true", "--inference-router-service-type"),
    ("--enable-inference true --inference-router-service-type LoadBalancer", "no TLS certificate is configured"),
    ("--enable-inference true --router-service-type NodePort --allow-insecure true --ilb-provider azure",
     "internalLoadBalancerProvider"),
    ("--enable-inference true --router-service-type NodePort --allow-insecure true --ssl-cname ml.contoso.com",
     "turns HTTPS off"),
])
def test_update_enabling_inference_must_satisfy_the_inference_rules(az, args, says):
    result = refused(az(f"amlk8s update {OTHER} {args} --yes"))
    assert says in result.stderr


def test_update_enabling_inference_over_http(az, emu):
    enabled = clean(az(f"amlk8s update {OTHER} --enable-inference true --router-service-type NodePort "
                       "--allow-insecure-connections true", expect=0))         # not disruptive: no prompt needed
    assert the_patch(enabled) == {"configurationSettings": {
        "enableInference": "true", "inferenceRouterServiceType": "NodePort", "allowInsecureConnections": "true",
        "scoringFe.serviceType.nodePort": "true"}}


def test_update_enabling_inference_over_https_sends_the_pem_material(az, emu, tls):
    enabled = clean(az(f"amlk8s update {OTHER} --enable-inference true --router-service-type LoadBalancer "
                       f"--ssl-cname ml.contoso.com --ssl-cert-pem-file {tls.cert_path} "
                       f"--ssl-key-pem-file {tls.key_path}", expect=0))
    props = the_patch(enabled)
    assert props["configurationSettings"] == {
        "enableInference": "true", "inferenceRouterServiceType": "LoadBalancer", "sslCname": "ml.contoso.com",
        "scoringFe.serviceType.nodePort": "false"}
    assert props["configurationProtectedSettings"] == {"scoringFe.sslCert": b64(tls.cert_pem),
                                                       "scoringFe.sslKey": b64(tls.key_pem)}
    assert str(tls.cert_path) not in str(props)            # paths are never sent
    assert_no_secrets(enabled.output, tls.secret_fragments())


# --- update: disruptive changes ask first ---------------------------------------------------------------------------

def _nvidia_on(emu):
    store_settings(emu, "aks-with-ext", installNvidiaDevicePlugin="True")


@pytest.mark.parametrize("target, args, key, prepare", [
    (WITH_EXT, "--enable-training false", "enableTraining", None),
    (WITH_EXT, "--enable-inference false", "enableInference", None),
    (WITH_EXT, "--install-nvidia-device-plugin false", "installNvidiaDevicePlugin", _nvidia_on),
    (HTTPS, "--allow-insecure-connections true", "allowInsecureConnections", None),
    (WITH_EXT, "--inference-router-service-type NodePort", "inferenceRouterServiceType", None),
    (WITH_EXT, "--internal-load-balancer-provider azure", "internalLoadBalancerProvider", None),
    (HTTPS, "--ssl-cname ml2.contoso.com", "sslCname", None),
    (WITH_EXT, "--node-selector pool=ml", "nodeSelector.pool", None),
], ids=lambda v: v if isinstance(v, str) and not v.startswith("-") else None)
def test_update_disruptive_change_without_terminal_or_yes_is_refused(az, emu, target, args, key, prepare):
    if prepare:
        prepare(emu)
    result = refused(az(f"amlk8s update {target} {args}"))
    assert "needs confirmation, and there is no terminal to ask: nothing was changed" in result.stderr
    assert f"  - {key} " in result.stderr                      # the impact is named
    assert "--yes" in result.stderr


def test_update_disruptive_change_with_yes(az, emu):
    updated = clean(az(f"amlk8s update {WITH_EXT} --enable-training false --inference-router-service-type NodePort "
                       "--yes", expect=0))
    assert the_patch(updated) == {"configurationSettings": {
        "enableTraining": "false", "inferenceRouterServiceType": "NodePort", "scoringFe.serviceType.nodePort": "true"}}


@pytest.mark.parametrize("answer, patched", [("y", True), ("n", False)])
def test_update_disruptive_change_asks_on_a_terminal(az, emu, answer, patched):
    code, out, err, writes = run_in_terminal(az, emu, f"amlk8s update {WITH_EXT} --enable-training false", answer)
    assert "Traceback" not in err
    assert "enableTraining true -> false: turns training off" in out and "Proceed?" in out
    if patched:
        assert code == 0, err
        assert [(w.method, w.body) for w in writes] == \
            [("PATCH", {"properties": {"configurationSettings": {"enableTraining": "false"}}})]
    else:
        assert code != 0 and writes == []
        assert "cancelled; nothing was changed" in err
        assert emu.extension("aks-with-ext")["properties"]["configurationSettings"]["enableTraining"] == "True"


def test_update_cannot_remove_an_existing_node_selector(az, emu):
    store_settings(emu, "aks-with-ext", **{"nodeSelector.pool": "ml"})
    removal = refused(az(f"amlk8s update {WITH_EXT} --node-selector zone=1 --yes"))
    assert "nodeSelector.pool" in removal.stderr and "cannot remove an existing node selector" in removal.stderr

    added = clean(az(f"amlk8s update {WITH_EXT} --node-selector pool=ml zone=1 --yes", expect=0))
    assert the_patch(added) == {"configurationSettings": {"nodeSelector.zone": "1"}}


# --- update: TLS and protected settings ------------------------------------------------------------------------------

def test_update_rotates_tls_with_the_documented_command(az, emu, tls):
    old = emu.extension("aks-https")["properties"]
    rotated = clean(az(f"amlk8s update --name azureml --extension-type {AZUREML} --config sslCname=ml.contoso.com "
                       f"--config-protected sslCertPemFile={tls.cert_path} sslKeyPemFile={tls.key_path} "
                       "--cluster-type managedClusters --cluster-name aks-https --resource-group rg-ml "
                       "--scope cluster", expect=0))
    props = the_patch(rotated)
    assert props == {"configurationProtectedSettings": {"scoringFe.sslCert": b64(tls.cert_pem),
                                                        "scoringFe.sslKey": b64(tls.key_pem)}}
    new = emu.extension("aks-https")["properties"]
    assert new["configurationSettings"] == old["configurationSettings"]        # nothing public dropped
    assert new["configurationProtectedSettings"] == props["configurationProtectedSettings"]
    assert new["configurationProtectedSettings"] != old["configurationProtectedSettings"]
    assert_no_secrets(rotated.output, tls.secret_fragments() + list(old["configurationProtectedSettings"].values()))


def test_update_refuses_a_certificate_that_does_not_cover_the_cname(az, tls):
    wrong = refused(az(f"amlk8s update {HTTPS} --ssl-cname api.fabrikam.com --ssl-cert-pem-file {tls.cert_path} "
                       f"--ssl-key-pem-file {tls.key_path} --yes"))
    assert "api.fabrikam.com" in wrong.stderr
    assert_no_secrets(wrong.output, tls.secret_fragments())


def test_update_protected_change_that_would_drop_the_tls_material_is_refused(az, emu):
    result = refused(az(f"amlk8s update {HTTPS} --config-protected scoringFe.customToken=abc123 --yes"))
    assert "--ssl-cert-pem-file" in result.stderr and "--ssl-key-pem-file" in result.stderr
    assert "abc123" not in result.output


def test_update_disable_tls_with_the_documented_command(az, emu):
    disabled = clean(az("amlk8s update --name azureml --extension-type Microsoft.AzureML.Kubernetes --config "
                        "enableInference=True inferenceRouterServiceType=LoadBalancer allowInsecureConnections=True "
                        "--cluster-type managedClusters --cluster-name aks-https --resource-group rg-ml "
                        "--scope cluster --yes", expect=0))
    props = the_patch(disabled)
    # Restated values are not sent; the router's derived key is recomputed from the service type given.
    assert props["configurationSettings"] == {"allowInsecureConnections": "true", "sslCname": None,
                                              "scoringFe.serviceType.nodePort": "false"}
    assert props["configurationProtectedSettings"] == {}       # the PEM material goes with HTTPS
    stored = emu.extension("aks-https")["properties"]
    assert "sslCname" not in stored["configurationSettings"] and stored["configurationProtectedSettings"] == {}


def test_update_arc_protected_change_re_supplies_the_relay_connection_string(az, emu, tls):
    original = emu.extension("arc-with-ext")["properties"]
    connection = original["configurationProtectedSettings"]["relayServerConnectionString"]
    assert connection in emu.secret_values() and "SharedAccessKey=" in connection
    updated = clean(az(f"amlk8s update {ARC} --enable-inference true --router-service-type NodePort "
                       f"--ssl-cname ml.contoso.com --ssl-cert-pem-file {tls.cert_path} "
                       f"--ssl-key-pem-file {tls.key_path} --debug", expect=0))
    props = the_patch(updated)
    assert props["configurationProtectedSettings"] == {
        "scoringFe.sslCert": b64(tls.cert_pem), "scoringFe.sslKey": b64(tls.key_pem),
        "relayServerConnectionString": connection, "relayserver.relayConnectionString": connection}
    assert props["configurationSettings"] == {
        "enableInference": "true", "inferenceRouterServiceType": "NodePort", "sslCname": "ml.contoso.com",
        "scoringFe.serviceType.nodePort": "true"}
    assert any(r.is_list_keys for r in updated.requests)
    key = connection.split("SharedAccessKey=")[1].split(";")[0]
    assert_no_secrets(updated.output, [connection, key] + tls.secret_fragments())
    assert "re-supplies the Azure Relay connection string" in updated.stderr


def test_update_arc_protected_change_without_a_readable_relay_is_refused(az, emu, tls):
    _, namespace_id = relay_ids(emu)
    emu.delete_resource(namespace_id)
    result = refused(az(f"amlk8s update {ARC} --enable-inference true --router-service-type NodePort "
                        f"--ssl-cname ml.contoso.com --ssl-cert-pem-file {tls.cert_path} "
                        f"--ssl-key-pem-file {tls.key_path}"))
    assert "relayServerConnectionString" in result.stderr


def test_update_extension_created_elsewhere_lacking_keys(az, emu, tls):
    hc_id, _ = relay_ids(emu)
    connection = emu.extension("arc-with-ext")["properties"]["configurationProtectedSettings"][
        "relayServerConnectionString"]
    # As a portal/ARM-template/old-CLI extension: no relayserver.enabled, servicebus.enabled, clusterId, ...
    store_settings(emu, "arc-with-ext", replace={"enableTraining": "True",
                                                 "relayserver.hybridConnectionResourceID": hc_id})
    public = clean(az(f"amlk8s update {ARC} --install-volcano false", expect=0))
    assert the_patch(public) == {"configurationSettings": {"installVolcano": "false"}}

    protected = clean(az(f"amlk8s update {ARC} --enable-inference true --router-service-type NodePort "
                         f"--ssl-cname ml.contoso.com --ssl-cert-pem-file {tls.cert_path} "
                         f"--ssl-key-pem-file {tls.key_path}", expect=0))
    sent = the_patch(protected)["configurationProtectedSettings"]
    assert sent["relayServerConnectionString"] == connection
    assert_no_secrets(protected.output, [connection])

    bare = emu.extension("arc-with-ext")
    bare["properties"]["configurationSettings"] = {"enableTraining": "True"}
    bare["properties"]["autoUpgradeMinorVersion"] = None
    emu.put_resource(bare["id"], bare)
    minimal = clean(az(f"amlk8s update {ARC} --install-prom-op false", expect=0))
    assert the_patch(minimal) == {"configurationSettings": {"installPromOp": "false"}}


def test_update_the_docs_commands_with_extension_type_and_scope(az, emu):
    aks_doc = clean(az(f"amlk8s update --name azureml --extension-type {AZUREML} --scope cluster "
                       "--cluster-name aks-with-ext --resource-group rg-ml --cluster-type managedClusters", expect=0))
    assert aks_doc.writes == [] and "No change" in aks_doc.stderr

    body = emu.extension("arc-with-ext")
    body["properties"].update(autoUpgradeMinorVersion=False, version=scenarios.AZUREML_LATEST)
    emu.put_resource(body["id"], body)
    arc_doc = clean(az(f"amlk8s update --name azureml --extension-type {AZUREML} --scope cluster --cluster-name "
                       "arc-with-ext --resource-group rg-arc --auto-upgrade-minor-version true --cluster-type "
                       "connectedClusters", expect=0))
    assert the_patch(arc_doc) == {"autoUpgradeMinorVersion": True}

    wrong = refused(az(f"amlk8s update {WITH_EXT} --extension-type microsoft.flux --install-volcano false"))
    assert "--extension-type" in wrong.stderr


# --- delete ----------------------------------------------------------------------------------------------------------

def deletes(result):
    return [w for w in result.writes if w.method == "DELETE"]


def test_delete_needs_confirmation(az, emu):
    result = refused(az(f"amlk8s delete {WITH_EXT}"))
    assert "needs confirmation" in result.stderr and "--yes" in result.stderr
    assert emu.extension("aks-with-ext") is not None

    code, out, err, writes = run_in_terminal(az, emu, f"amlk8s delete {WITH_EXT}", "n")
    assert code != 0 and writes == [] and "Traceback" not in err
    assert "Delete the AzureML extension 'azureml'" in out


def test_delete_with_yes(az, emu):
    deleted = clean(az(f"amlk8s delete {WITH_EXT} --yes", expect=0))
    [request] = deletes(deleted)
    assert len(deleted.writes) == 1 and "forceDelete" not in request.query
    assert request.path.endswith("/extensions/azureml")
    assert polls(deleted)
    assert emu.extension("aks-with-ext") is None and emu.extension("aks-with-ext", "flux") is not None
    assert "kubectl get pods -n azureml" in deleted.stderr


def test_delete_force(az, emu):
    deleted = clean(az(f"amlk8s delete {WITH_EXT} --yes --force", expect=0))
    [request] = deletes(deleted)
    assert request.query.get("forceDelete") == "true"
    assert "--force" in deleted.stderr and "kubectl get all -n azureml" in deleted.stderr
    assert emu.extension("aks-with-ext") is None


def test_delete_no_wait(az, emu):
    started = clean(az(f"amlk8s delete {WITH_EXT} --yes --no-wait", expect=0))
    assert len(deletes(started)) == 1 and polls(started) == []
    assert "Delete started" in started.stderr
    assert emu.extension("aks-with-ext")["properties"]["provisioningState"] == "Deleting"
    again = refused(az(f"amlk8s delete {WITH_EXT} --yes"))
    assert "already being deleted" in again.stderr and "--deleted" in again.stderr
    both = refused(az(f"amlk8s delete {ARC} --yes --no-wait --cleanup"))
    assert "--cleanup" in both.stderr


def test_delete_missing_extension_or_cluster(az):
    missing = refused(az("amlk8s delete -g rg-ml -c aks-prod -t aks --yes"))
    assert missing.exit_code == 3
    assert "The extension 'azureml' was not found on AKS cluster 'aks-prod'" in missing.stderr
    no_cluster = refused(az("amlk8s delete -g rg-ml -c aks-gone -t aks --yes"))
    assert no_cluster.exit_code == 3 and "aks-gone" in no_cluster.stderr


def test_delete_refuses_a_non_azureml_extension(az, emu):
    result = refused(az(f"amlk8s delete {WITH_EXT} -n flux --yes"))
    assert "microsoft.flux" in result.stderr and "az k8s-extension delete" in result.stderr
    assert emu.extension("aks-with-ext", "flux") is not None


def test_delete_arc_keeps_and_reports_the_relay_amlk8s_created(az, emu):
    _, namespace_id = relay_ids(emu)
    name = namespace_id.rsplit("/", 1)[-1]
    deleted = clean(az(f"amlk8s delete {ARC} --yes", expect=0))
    assert [w.path for w in deleted.writes] == [emu.extension_id("arc-with-ext")]
    assert f"Kept the Azure Relay namespace {name} that amlk8s created" in deleted.stderr
    assert f"az relay namespace delete -g rg-arc -n {name}" in deleted.stderr
    assert emu.resource(namespace_id) is not None
    assert "kubectl get pods -n azureml" in deleted.stderr


def test_delete_arc_cleanup_deletes_the_relay_amlk8s_created(az, emu):
    _, namespace_id = relay_ids(emu)
    deleted = clean(az(f"amlk8s delete {ARC} --yes --cleanup", expect=0))
    assert [(w.method, w.path) for w in deleted.writes] == \
        [("DELETE", emu.extension_id("arc-with-ext")), ("DELETE", namespace_id)]
    assert emu.resource(namespace_id) is None and emu.extension("arc-with-ext") is None
    assert "Deleted the Azure Relay namespace" in deleted.stderr


def test_delete_arc_cleanup_keeps_a_namespace_that_holds_another_clusters_hybrid_connection(az, emu):
    """A parent with other dependents is kept: --cleanup deletes only this extension's hybrid connection."""
    hc_id, namespace_id = relay_ids(emu)
    other = scenarios.hybrid_connection(namespace_id, "arc-other-hc", "eastus")
    emu.put_resource(other["id"], other)
    deleted = clean(az(f"amlk8s delete {ARC} --yes --cleanup", expect=0))
    assert [(w.method, w.path) for w in deleted.writes] == \
        [("DELETE", emu.extension_id("arc-with-ext")), ("DELETE", hc_id)]
    assert emu.resource(namespace_id) is not None and emu.resource(other["id"]) is not None
    assert emu.resource(hc_id) is None
    name = namespace_id.rsplit("/", 1)[-1]
    assert f"Kept the Azure Relay namespace {name}: it still holds the hybrid connection arc-other-hc" \
        in deleted.stderr


def test_delete_arc_cleanup_keeps_the_namespace_when_its_hybrid_connections_cannot_be_listed(az, emu):
    """An unknown is not an all clear: a refused list of the namespace's hybrid connections keeps the namespace."""
    hc_id, namespace_id = relay_ids(emu)
    emu.add_fault("GET", path=namespace_id + "/hybridConnections$", status=403, code="AuthorizationFailed",
                  message="no read permission", times=5)
    deleted = clean(az(f"amlk8s delete {ARC} --yes --cleanup", expect=0))
    assert [w.path for w in deleted.writes] == [emu.extension_id("arc-with-ext"), hc_id]
    assert emu.resource(namespace_id) is not None
    assert "could not be listed" in deleted.stderr


def test_delete_arc_cleanup_deletes_the_relay_k8s_extension_created_and_keeps_an_untagged_one(az, emu):
    """Contract (delete --cleanup): a relay tagged by amlk8s or by az k8s-extension is removed; a relay the user
    brought (no such tag) is never deleted, only named."""
    _, namespace_id = relay_ids(emu)
    namespace = emu.resource(namespace_id)
    namespace["tags"] = {"created_by": "Azure Arc-enabled ML"}
    emu.put_resource(namespace_id, namespace)
    deleted = clean(az(f"amlk8s delete {ARC} --yes --cleanup", expect=0))
    assert [w.path for w in deleted.writes] == [emu.extension_id("arc-with-ext"), namespace_id]
    assert emu.resource(namespace_id) is None and "that az k8s-extension created" in deleted.stderr

    emu.reset("default")
    emu.settings(retry_after_ms=50)
    namespace = emu.resource(namespace_id)
    namespace["tags"] = {}
    emu.put_resource(namespace_id, namespace)
    kept = clean(az(f"amlk8s delete {ARC} --yes --cleanup", expect=0))
    assert [w.path for w in kept.writes] == [emu.extension_id("arc-with-ext")]
    name = namespace_id.rsplit("/", 1)[-1]
    assert f"Kept the Azure Relay namespace {name}: it carries no tag" in kept.stderr
    assert emu.resource(namespace_id) is not None
