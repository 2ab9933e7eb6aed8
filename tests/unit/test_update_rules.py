"""Update planning in depth (issue 5): the impact rules, the protected-settings merge, what a PATCH sends.

Pure: `update.impacts`, `update.plan_update`, `update.patch_body` and `update.version_changes`; no network.
tests/unit/test_settings.py has the first examples; this file covers every rule and every protected-set case.
"""
# pylint: disable=missing-docstring,redefined-outer-name

import base64
from types import SimpleNamespace

import pytest
from azure.cli.core.azclierror import InvalidArgumentValueError, RequiredArgumentMissingError

from azext_amlk8s.rules import settings as s
from azext_amlk8s.rules import update as u
from azext_amlk8s.rules.update import version_changes as _version_changes
from tests.unit.samples import AKS, ARC, CONN, HC_ID
from tests.certs import make_tls_files


# As az k8s-extension creates them (values in its capitalisation).
INSECURE = {'enableTraining': 'True', 'enableInference': 'True', 'inferenceRouterServiceType': 'LoadBalancer',
            'allowInsecureConnections': 'True', 'relayserver.enabled': 'false', 'servicebus.enabled': 'false',
            'nginxIngress.enabled': 'true'}
HTTPS_PEM = {'enableTraining': 'True', 'enableInference': 'True', 'inferenceRouterServiceType': 'LoadBalancer',
             'allowInsecureConnections': 'False', 'sslCname': 'ml.contoso.com', 'relayserver.enabled': 'false',
             'servicebus.enabled': 'false'}
HTTPS_SECRET = dict(HTTPS_PEM, sslSecret='tls-secret', **{'scoringFe.sslSecret': 'tls-secret'})
TRAINING = {'enableTraining': 'True', 'enableInference': 'False', 'relayserver.enabled': 'false'}
ARC_TRAINING = {'enableTraining': 'True', 'relayserver.enabled': 'true',
                'relayserver.hybridConnectionResourceID': HC_ID, 'relayserver.hybridConnectionName': 'arc-k3s',
                'servicebus.enabled': 'false'}


def facts(ref=AKS, nodes=3):
    return SimpleNamespace(ref=ref, location='eastus', node_count=nodes, is_openshift=False)


def plan(old, config=None, protected=None, typed=None, ref=AKS, node_selector=None, **kwargs):
    return u.plan_update(old, s.collect(config=config, protected=protected, typed=typed, node_selector=node_selector),
                         facts(ref), **kwargs)


def keys_of(found):
    return [description.split(' ', 1)[0] for description, _ in found]


@pytest.fixture(scope='module')
def tls(tmp_path_factory):
    return make_tls_files(tmp_path_factory.mktemp('tls'), 'ml.contoso.com')


def pem_flags(tls):
    return {'sslCertPemFile': (str(tls.cert_path), '--ssl-cert-pem-file'),
            'sslKeyPemFile': (str(tls.key_path), '--ssl-key-pem-file')}


# --- impacts(): one rule at a time -----------------------------------------------------------------------------------

@pytest.mark.parametrize('key, workloads', [
    ('enableTraining', (u.JOBS,)),
    ('enableInference', (u.ENDPOINTS,)),
    ('installNvidiaDevicePlugin', (u.JOBS, u.ENDPOINTS)),
])
@pytest.mark.parametrize('before, after, disruptive', [
    ('True', 'false', True), ('true', 'False', True), ('TRUE', None, True),
    ('False', 'true', False), (None, 'false', False), (None, 'true', False), ('True', 'true', False),
    ('false', 'false', False),
])
def test_true_to_false_rules(key, workloads, before, after, disruptive):
    old = dict(INSECURE, installNvidiaDevicePlugin='True')
    if before is None:
        old.pop(key)
    else:
        old[key] = before
    found = u.impacts(old, {key: after})
    assert keys_of(found) == ([key] if disruptive else [])
    if disruptive:
        assert found[0][1] == workloads


@pytest.mark.parametrize('key, before, after', [
    ('allowInsecureConnections', 'True', 'false'),
    ('allowInsecureConnections', 'False', 'true'),
    ('inferenceRouterServiceType', 'LoadBalancer', 'NodePort'),
    ('inferenceRouterServiceType', 'NodePort', 'ClusterIP'),
    ('inferenceRouterServiceType', None, 'NodePort'),
    ('internalLoadBalancerProvider', None, 'azure'),
    ('sslCname', 'ml.contoso.com', 'ml2.contoso.com'),
    ('sslCname', None, 'ml.contoso.com'),
    ('sslCname', 'ml.contoso.com', None),
])
def test_any_change_rules_on_an_inference_extension(key, before, after):
    old = {k: v for k, v in INSECURE.items() if k != key}
    if before is not None:
        old[key] = before
    found = u.impacts(old, {key: after})
    assert keys_of(found) == [key] and found[0][1] == (u.ENDPOINTS,)
    assert '(removed)' in found[0][0] if after is None else after in found[0][0]


@pytest.mark.parametrize('key, before, after', [
    ('allowInsecureConnections', 'True', 'true'),
    ('allowInsecureConnections', None, 'false'),         # HTTPS was already the default
    ('inferenceRouterServiceType', 'loadbalancer', 'LoadBalancer'),   # enum values compare in any case
    ('internalLoadBalancerProvider', 'Azure', 'azure'),
    ('sslCname', 'ml.contoso.com', 'ml.contoso.com'),
])
def test_restated_values_are_not_disruptive(key, before, after):
    old = {k: v for k, v in INSECURE.items() if k != key}
    if before is not None:
        old[key] = before
    assert u.impacts(old, {key: after}) == []


@pytest.mark.parametrize('key, value', [('allowInsecureConnections', 'true'),
                                        ('inferenceRouterServiceType', 'NodePort'),
                                        ('internalLoadBalancerProvider', 'azure'), ('sslCname', 'ml.contoso.com')])
def test_endpoint_rules_do_not_apply_when_inference_was_off(key, value):
    assert u.impacts(TRAINING, {key: value}) == []
    assert u.impacts({k: v for k, v in TRAINING.items() if k != 'enableInference'}, {key: value}) == []


@pytest.mark.parametrize('old, value, disruptive', [
    ({}, 'ml', True),                                   # a new selector moves workloads
    ({'nodeSelector.pool': 'cpu'}, 'gpu', True),
    ({'nodeSelector.pool': 'gpu'}, 'gpu', False),
])
def test_node_selector_rule(old, value, disruptive):
    found = u.impacts(dict(TRAINING, **old), {'nodeSelector.pool': value})
    assert keys_of(found) == (['nodeSelector.pool'] if disruptive else [])
    if disruptive:
        assert found[0][1] == (u.JOBS, u.ENDPOINTS)


def test_keys_without_a_rule_are_never_disruptive():
    changes = {'installDcgmExporter': 'true', 'installPromOp': 'false', 'installVolcano': 'false',
               'inferenceRouterHA': 'false', 'sslSecret': 'other', 'nginxIngress.controller': 'k8s.io/x'}
    assert u.impacts(INSECURE, changes) == []


def test_confirmation_message_names_workloads_and_each_change():
    found = u.impacts(INSECURE, {'enableTraining': 'false'})
    message = u.confirmation_message(found, 'azureml', "AKS cluster 'aks-prod'")
    assert 'affects active training jobs:' in message and 'online endpoints' not in message
    assert '  - enableTraining True -> false: turns training off' in message and message.endswith('\nProceed?')
    both = u.confirmation_message(u.impacts(INSECURE, {'enableTraining': 'false', 'enableInference': 'false'}),
                                  'azureml', 'c')
    assert 'online endpoints and deployments and training jobs' in both


# --- plan_update: impacts come only from what is sent ---------------------------------------------------------------

def test_plan_impacts_only_for_keys_the_user_changes():
    assert plan(INSECURE, {'enableTraining': 'true', 'inferenceRouterServiceType': 'loadbalancer'}).impacts == []
    result = plan(INSECURE, {'inferenceRouterServiceType': 'NodePort'})
    assert keys_of(result.impacts) == ['inferenceRouterServiceType']     # not the derived scoringFe key


def test_plan_enabling_inference_is_not_disruptive(tls):
    result = plan(TRAINING, {'enableInference': 'true', 'inferenceRouterServiceType': 'LoadBalancer',
                             'sslCname': 'ml.contoso.com'}, typed=pem_flags(tls))
    assert result.impacts == []


def test_plan_cname_change_without_pem_files_warns_that_the_certificate_is_unchecked(tls):
    result = plan(HTTPS_PEM, {'sslCname': 'ml2.contoso.com'})
    assert result.public == {'sslCname': 'ml2.contoso.com'} and result.protected is None
    assert [w for w in result.warnings if 'cannot check that it covers ml2.contoso.com' in w]
    checked = plan(HTTPS_PEM, {'sslCname': 'ml.contoso.com'}, typed=pem_flags(tls))
    assert not [w for w in checked.warnings if 'cannot check' in w]


def test_plan_disable_tls_names_the_removed_cname():
    result = plan(HTTPS_PEM, {'allowInsecureConnections': 'true'})
    assert keys_of(result.impacts) == ['allowInsecureConnections', 'sslCname']


def test_plan_node_selector_replace_keeps_or_refuses():
    old = dict(TRAINING, **{'nodeSelector.pool': 'ml', 'nodeSelector.zone': '1'})
    kept = plan(old, node_selector={'pool': 'ml', 'zone': '1', 'disk': 'ssd'}, replace_node_selector=True)
    assert kept.public == {'nodeSelector.disk': 'ssd'}
    with pytest.raises(InvalidArgumentValueError) as info:
        plan(old, node_selector={'pool': 'ml'}, replace_node_selector=True)
    assert 'nodeSelector.zone' in info.value.error_msg and 'nodeSelector.pool' not in info.value.error_msg
    # --config nodeSelector.x adds without replacing the rest
    assert plan(old, {'nodeSelector.disk': 'ssd'}).public == {'nodeSelector.disk': 'ssd'}


# --- plan_update: only what changes is sent ---------------------------------------------------------------------------

def test_plan_derived_keys_only_when_their_source_is_given():
    # An extension lacking scoringFe.serviceType.nodePort (portal, ARM template, old CLI) keeps lacking it.
    assert plan(INSECURE, {'installDcgmExporter': 'true'}).public == {'installDcgmExporter': 'true'}
    assert plan(INSECURE, {'inferenceRouterServiceType': 'NodePort'}).public == {
        'inferenceRouterServiceType': 'NodePort', 'scoringFe.serviceType.nodePort': 'true'}
    ilb = plan(INSECURE, {'internalLoadBalancerProvider': 'azure'}).public
    assert ilb == {'internalLoadBalancerProvider': 'azure', 'scoringFe.serviceType.internalLoadBalancer': 'true'}
    # the fix verify suggests for a missing scoringFe.sslSecret: restating sslSecret sets the derived key
    repaired = plan({k: v for k, v in HTTPS_SECRET.items() if k != 'scoringFe.sslSecret'}, {'sslSecret': 'tls-secret'})
    assert repaired.public == {'scoringFe.sslSecret': 'tls-secret'}


def test_plan_newly_enabled_inference_on_a_small_cluster_gets_the_small_cluster_defaults():
    result = u.plan_update(TRAINING, s.collect(config={
        'enableInference': 'true', 'inferenceRouterServiceType': 'NodePort', 'allowInsecureConnections': 'true'}),
        facts(nodes=1))
    assert result.public == {'enableInference': 'true', 'inferenceRouterServiceType': 'NodePort',
                             'allowInsecureConnections': 'true', 'scoringFe.serviceType.nodePort': 'true',
                             'inferenceRouterHA': 'false', 'clusterPurpose': 'DevTest'}


def test_plan_warnings_only_about_what_the_update_touches():
    assert not [w for w in plan(INSECURE, {'installDcgmExporter': 'true'}).warnings if 'HTTPS is off' in w]
    assert [w for w in plan(TRAINING, {'enableInference': 'true', 'inferenceRouterServiceType': 'NodePort',
                                       'allowInsecureConnections': 'true'}).warnings if 'HTTPS is off' in w]


def test_plan_tolerates_extensions_created_elsewhere():
    for old in ({'enableTraining': 'True'}, {'enableTraining': True, 'enableInference': None},
                {'enableTraining': 'TRUE', 'inferenceRouterServiceType': 'weird', 'installVolcano': 42}):
        result = plan(old, {'installVolcano': 'false'})
        assert result.public == {'installVolcano': 'false'} and result.protected is None
    # No workload at all: a clear error about the resulting configuration, not a crash.
    for old in ({}, {'enableTraining': 'yes-please'}):
        with pytest.raises(RequiredArgumentMissingError) as info:
            plan(old, {'installVolcano': 'false'})
        assert 'Neither training nor inference is enabled' in info.value.error_msg


# --- plan_update: the protected-settings merge ------------------------------------------------------------------------

def test_protected_untouched_by_a_public_change():
    for old in (INSECURE, HTTPS_PEM, HTTPS_SECRET, ARC_TRAINING):
        result = plan(old, {'installPromOp': 'false'}, ref=ARC if old is ARC_TRAINING else AKS)
        assert result.protected is None and not result.relay_key_needed
        assert 'configurationProtectedSettings' not in u.patch_body(result, s.VersionChoice(None, None, None))[
            'properties']


def test_protected_tls_rotation_replaces_exactly_the_pem_material(tls):
    result = plan(HTTPS_PEM, typed=pem_flags(tls))
    assert result.protected == {'scoringFe.sslCert': base64.b64encode(tls.cert_pem).decode(),
                                'scoringFe.sslKey': base64.b64encode(tls.key_pem).decode()}
    assert result.public == {} and result.impacts == []


def test_protected_change_that_would_drop_pem_material_is_refused_naming_the_flags():
    with pytest.raises(RequiredArgumentMissingError) as info:
        plan(HTTPS_PEM, protected={'scoringFe.customToken': 'abc123'})
    text = info.value.error_msg + ' '.join(info.value.recommendations)
    assert '--ssl-cert-pem-file' in text and '--ssl-key-pem-file' in text and 'abc123' not in text


def test_protected_change_with_pem_files_again_is_allowed(tls):
    result = plan(HTTPS_PEM, protected={'scoringFe.customToken': 'abc123'}, typed=pem_flags(tls))
    assert set(result.protected) == {'scoringFe.customToken', 'scoringFe.sslCert', 'scoringFe.sslKey'}


def test_protected_change_with_a_kubernetes_secret_has_nothing_to_lose():
    result = plan(HTTPS_SECRET, protected={'scoringFe.customToken': 'abc123'})
    assert result.protected == {'scoringFe.customToken': 'abc123'}


def test_protected_disable_tls_sends_an_empty_set_to_drop_the_material():
    result = plan(HTTPS_PEM, {'allowInsecureConnections': 'true'})
    assert result.protected == {}
    body = u.patch_body(result, s.VersionChoice(None, None, None))['properties']
    assert body['configurationProtectedSettings'] == {} and body['configurationSettings']['sslCname'] is None


def test_protected_switch_from_pem_to_secret_drops_the_pem_material():
    result = plan(HTTPS_PEM, {'sslSecret': 'tls-secret'})
    assert result.protected == {}
    assert result.public == {'sslSecret': 'tls-secret', 'scoringFe.sslSecret': 'tls-secret'}


def test_protected_switch_from_secret_to_pem_removes_the_secret(tls):
    result = plan(HTTPS_SECRET, typed=pem_flags(tls))
    assert set(result.protected) == {'scoringFe.sslCert', 'scoringFe.sslKey'}
    assert result.public == {'sslSecret': None, 'scoringFe.sslSecret': None}


@pytest.mark.parametrize('old, needed', [
    (ARC_TRAINING, True),
    (dict(ARC_TRAINING, **{'relayserver.enabled': 'True'}), True),
    ({k: v for k, v in ARC_TRAINING.items() if k != 'relayserver.enabled'}, True),     # created before 1.2.2
    (dict(ARC_TRAINING, **{'relayserver.enabled': 'false'}), False),
    ({'enableTraining': 'True'}, False),                                              # nothing says there is one
])
def test_protected_arc_relay_is_re_supplied_when_the_extension_uses_one(tls, old, needed):
    result = plan(old, {'enableInference': 'true', 'inferenceRouterServiceType': 'NodePort',
                        'sslCname': 'ml.contoso.com'}, typed=pem_flags(tls), ref=ARC)
    assert result.relay_key_needed is needed
    assert set(result.protected) == {'scoringFe.sslCert', 'scoringFe.sslKey'}
    relay_warning = [w for w in result.warnings if 'replaced as a whole' in w]
    assert relay_warning and ('re-supplies the Azure Relay' in relay_warning[0]) is needed


def test_protected_relay_given_by_the_user_is_used_as_is():
    result = plan(ARC_TRAINING, {'relayserver.hybridConnectionResourceID': HC_ID},
                  protected={'relayServerConnectionString': CONN}, ref=ARC)
    assert not result.relay_key_needed
    assert result.protected == {'relayServerConnectionString': CONN, 'relayserver.relayConnectionString': CONN}
    assert all(CONN not in w for w in result.warnings)


@pytest.mark.parametrize('flag, secret', [('servicebus.enabled', 'serviceBusConnectionString'),
                                          ('azure_log_analytics.enabled', 'azure_log_analytics.connection_string')])
def test_protected_secrets_that_cannot_be_read_back_must_be_passed_again(flag, secret):
    old = dict(HTTPS_SECRET, **{flag: 'True'})
    with pytest.raises(RequiredArgumentMissingError) as info:
        plan(old, protected={'scoringFe.customToken': 'abc'})
    assert secret in ' '.join(info.value.recommendations)
    again = plan(old, protected={'scoringFe.customToken': 'abc', secret: 'Endpoint=sb://x/;SharedAccessKey=y'})
    assert set(again.protected) == {'scoringFe.customToken', secret}


# --- what the PATCH carries -------------------------------------------------------------------------------------------

def test_patch_body_shapes():
    public_only = plan(INSECURE, {'installPromOp': 'false'})
    assert u.patch_body(public_only, s.VersionChoice(None, None, None)) == {
        'properties': {'configurationSettings': {'installPromOp': 'false'}}}
    version_only = plan(INSECURE, {'enableTraining': 'true'})
    assert u.patch_body(version_only, s.VersionChoice(False, '1.1.70', 'stable')) == {
        'properties': {'autoUpgradeMinorVersion': False, 'releaseTrain': 'stable', 'version': '1.1.70'}}


@pytest.mark.parametrize('choice, props, expected', [
    ((True, None, None), {'autoUpgradeMinorVersion': True}, (None, None, None)),
    ((True, None, None), {}, (None, None, None)),                       # missing means the service default, on
    ((True, None, None), {'autoUpgradeMinorVersion': False, 'version': '1.1.70'}, (True, None, None)),
    ((False, '1.1.70', None), {'autoUpgradeMinorVersion': True}, (False, '1.1.70', None)),
    ((False, '1.1.70', None), {'autoUpgradeMinorVersion': False, 'version': '1.1.70'}, (None, None, None)),
    ((False, '1.1.71', None), {'autoUpgradeMinorVersion': False, 'version': '1.1.70'}, (None, '1.1.71', None)),
    ((None, None, 'Stable'), {'releaseTrain': 'stable'}, (None, None, None)),
    ((None, None, 'preview'), {'releaseTrain': 'stable'}, (None, None, 'preview')),
])
def test_version_arguments_already_in_place_are_not_sent(choice, props, expected):
    result = _version_changes(s.VersionChoice(*choice), props)
    assert (result.auto_upgrade, result.version, result.release_train) == expected
