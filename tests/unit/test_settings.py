"""The settings model: collect, catalogue, rules, derived keys, versions, update planning (pure, no network)."""
# pylint: disable=missing-docstring,redefined-outer-name

import base64
from types import SimpleNamespace

import pytest
from azure.cli.core.azclierror import (AzCLIError, FileOperationError, InvalidArgumentValueError,
                                       MutuallyExclusiveArgumentError, RequiredArgumentMissingError)
from hypothesis import given, settings as hsettings, strategies as st

from azext_amlk8s.rules import settings as s
from azext_amlk8s.rules import update as u
from tests.unit.samples import AKS, ARC, CONN, HC_ID
from tests.certs import assert_no_secrets, make_tls_files


def facts(ref=AKS, location='eastus', nodes=3, openshift=False):
    return SimpleNamespace(ref=ref, location=location, node_count=nodes, is_openshift=openshift)


def resolve(config=None, protected=None, typed=None, node_selector=None, **kwargs):
    return s.resolve(s.collect(config=config, protected=protected, typed=typed, node_selector=node_selector),
                     **kwargs)


def error(exc_type, *args, **kwargs):
    with pytest.raises(exc_type) as info:
        resolve(*args, **kwargs)
    return info.value


def text_of(ex):
    return ex.error_msg + ' ' + ' '.join(getattr(ex, 'recommendations', None) or [])


@pytest.fixture(scope='module')
def tls(tmp_path_factory):
    return make_tls_files(tmp_path_factory.mktemp('tls'), 'ml.contoso.com')


# --- the four canonical scenarios and the other documented commands -------------------------------------------

def test_scenario_a_aks_poc():
    settings = resolve({'enableTraining': 'True', 'enableInference': 'True', 'inferenceRouterServiceType':
                        'loadBalancer', 'allowInsecureConnections': 'True', 'inferenceRouterHA': 'False'})
    public, protected, _ = s.derive(settings, facts(nodes=1))
    assert protected == {}
    assert public['enableTraining'] == 'true' and public['enableInference'] == 'true'
    assert public['inferenceRouterServiceType'] == 'LoadBalancer'
    assert public['inferenceRouterHA'] == 'false' and public['clusterPurpose'] == 'DevTest'
    assert public['scoringFe.serviceType.nodePort'] == 'false'
    assert public['clusterId'] == AKS.resource_id == public['cluster_name']
    assert public['prometheus.prometheusSpec.externalLabels.cluster_name'] == AKS.resource_id
    assert public['location'] == public['jobSchedulerLocation'] == 'eastus'
    assert public['domain'] == 'eastus.cloudapp.azure.com'
    assert public['cluster_name_friendly'] == 'aks-prod'
    assert public['servicebus.enabled'] == 'false'
    assert public['relayserver.enabled'] == 'false' and public['nginxIngress.enabled'] == 'true'
    assert any('HTTP' in w for w in settings.warnings)


def test_scenario_b_arc_training_only():
    settings = resolve({'enableTraining': 'True'})
    public, protected, _ = s.derive(settings, facts(ARC, 'westeurope', 3))
    assert public['relayserver.enabled'] == 'true' and public['nginxIngress.enabled'] == 'false'
    assert 'scoringFe.serviceType.nodePort' not in public
    assert 'inferenceRouterHA' not in public
    assert s.needs_relay(public, protected)
    s.with_relay(public, protected, HC_ID, 'arc-k3s', CONN)
    assert public['relayserver.hybridConnectionResourceID'] == HC_ID
    assert public['relayserver.hybridConnectionName'] == 'arc-k3s'
    assert protected == {'relayServerConnectionString': CONN, 'relayserver.relayConnectionString': CONN}
    assert not s.needs_relay(public, protected)


def test_scenario_c_aks_https_pem(tls):
    settings = resolve({'enableTraining': 'True', 'enableInference': 'True', 'inferenceRouterServiceType':
                        'loadBalancer', 'sslCname': 'ml.contoso.com'},
                       {'sslCertPemFile': str(tls.cert_path), 'sslKeyPemFile': str(tls.key_path)})
    public, protected, _ = s.derive(settings, facts(nodes=3))
    assert protected == {'scoringFe.sslCert': base64.b64encode(tls.cert_pem).decode(),
                         'scoringFe.sslKey': base64.b64encode(tls.key_pem).decode()}
    assert 'sslCertPemFile' not in public and 'sslKeyPemFile' not in public
    assert str(tls.cert_path) not in str(public) and str(tls.cert_path) not in str(protected)
    assert public['sslCname'] == 'ml.contoso.com'
    assert 'inferenceRouterHA' not in public and 'clusterPurpose' not in public
    body = s.extension_body(public, protected, s.resolve_version())
    masked = s.masked(body['properties']['configurationProtectedSettings'])
    assert set(masked.values()) == {s.PROTECTED_PLACEHOLDER}
    assert_no_secrets(repr(settings) + repr(masked), tls.secret_fragments())


def test_scenario_d_arc_nodeport_gpu(tls):
    settings = resolve({'enableTraining': 'True', 'enableInference': 'True', 'inferenceRouterServiceType':
                        'nodePort', 'sslCname': 'ml.contoso.com', 'installNvidiaDevicePlugin': 'True',
                        'installDcgmExporter': 'True'},
                       {'sslCertPemFile': str(tls.cert_path), 'sslKeyPemFile': str(tls.key_path)})
    public, protected, _ = s.derive(settings, facts(ARC, 'westeurope', 4))
    assert public['scoringFe.serviceType.nodePort'] == 'true'
    assert public['installNvidiaDevicePlugin'] == 'true' and public['installDcgmExporter'] == 'true'
    assert set(protected) == {'scoringFe.sslCert', 'scoringFe.sslKey'}


def test_ssl_secret_variant():
    settings = resolve({'enableInference': 'True', 'inferenceRouterServiceType': 'LoadBalancer',
                        'sslSecret': 'azureml-tls', 'sslCname': 'ml.contoso.com'})
    public, protected, _ = s.derive(settings, facts())
    assert public['scoringFe.sslSecret'] == 'azureml-tls' and protected == {}


def test_ssl_secret_doc_example_without_enable_inference_is_refused_clearly():
    ex = error(RequiredArgumentMissingError, {'inferenceRouterServiceType': 'LoadBalancer', 'sslSecret': 'x',
                                              'sslCname': 'ml.contoso.com'})
    assert '--enable-inference' in text_of(ex)


def test_internal_load_balancer():
    settings = resolve({'enableInference': 'True', 'inferenceRouterServiceType': 'LoadBalancer',
                        'internalLoadBalancerProvider': 'Azure', 'allowInsecureConnections': 'true'})
    public, _, _ = s.derive(settings, facts())
    assert public['internalLoadBalancerProvider'] == 'azure'
    assert public['scoringFe.serviceType.internalLoadBalancer'] == 'true'


def test_openshift_and_small_cluster_defaults_respect_user_choice():
    settings = resolve({'enableTraining': 'true', 'clusterPurpose': 'fastprod', 'openshift': 'false'})
    public, _, _ = s.derive(settings, facts(ARC, 'westeurope', 1, openshift=True))
    assert public['clusterPurpose'] == 'FastProd' and public['openshift'] == 'false'
    public, _, _ = s.derive(resolve({'enableTraining': 'true'}), facts(ARC, 'westeurope', 1, openshift=True))
    assert public['openshift'] == 'true' and public['clusterPurpose'] == 'DevTest'


def test_unknown_node_count_sets_no_small_cluster_defaults():
    public, _, _ = s.derive(resolve({'enableTraining': 'true'}), facts(nodes=None))
    assert 'inferenceRouterHA' not in public and 'clusterPurpose' not in public


def test_user_domain_wins_over_derived():
    public, _, _ = s.derive(resolve({'enableTraining': 'true', 'domain': 'ml.internal.contoso.com'}), facts())
    assert public['domain'] == 'ml.internal.contoso.com'


def test_user_supplied_relay_is_used_as_is():
    settings = resolve({'enableTraining': 'true', 'relayserver.hybridConnectionResourceID': HC_ID},
                       {'relayServerConnectionString': CONN})
    public, protected, _ = s.derive(settings, facts(ARC))
    assert not s.needs_relay(public, protected)
    assert protected['relayserver.relayConnectionString'] == CONN
    assert public['relayserver.hybridConnectionName'] == 'arc-k3s'
    # The prerequisite checks then do not need Microsoft.Relay registered (deploy creates nothing).
    assert s.intent_fields(settings)['creates_relay'] is False
    assert s.intent_fields(resolve({'enableTraining': 'true'}))['creates_relay'] is True
    assert s.intent_fields(resolve({'enableTraining': 'true', 'relayserver.enabled': 'False'}))['creates_relay'] \
        is False


# --- typed flags and collect ----------------------------------------------------------------------------------

def test_typed_flags_merge_with_config():
    settings = resolve({'enableTraining': 'true'}, typed={'enableInference': ('true', '--enable-inference'),
                                                          'inferenceRouterServiceType': ('NodePort', '--x'),
                                                          'allowInsecureConnections': ('true', '--y')},
                       node_selector={'agentpool': 'ml'})
    assert settings.inference and settings.training
    assert settings.public['nodeSelector.agentpool'] == 'ml'


def test_typed_flag_and_same_config_key_is_an_error():
    ex = error(MutuallyExclusiveArgumentError, {'enableTraining': 'true'},
               typed={'enableTraining': ('true', '--enable-training')})
    assert '--enable-training' in text_of(ex) and 'enableTraining' in text_of(ex)


def test_node_selector_flag_and_config_key_is_an_error():
    with pytest.raises(MutuallyExclusiveArgumentError):
        s.collect(config={'nodeSelector.a': 'b'}, node_selector={'a': 'b'})


def test_inline_and_file_merge_and_conflict():
    merged = s.collect(config={'enableTraining': 'true'}, config_file=('f.json', {'installVolcano': 'false'}))
    assert merged.public == {'enableTraining': 'true', 'installVolcano': 'false'}
    with pytest.raises(MutuallyExclusiveArgumentError) as info:
        s.collect(config={'enableTraining': 'true'}, config_file=('f.json', {'enableTraining': 'false'}))
    assert 'f.json' in info.value.error_msg


# --- every rule ---------------------------------------------------------------------------------------------------

def test_no_workload():
    ex = error(RequiredArgumentMissingError, {'installPromOp': 'true'})
    assert '--enable-training' in text_of(ex) and '--enable-inference' in text_of(ex)


def test_enable_flags_false_are_no_workload():
    error(RequiredArgumentMissingError, {'enableTraining': 'false', 'enableInference': 'False'})


def test_inference_settings_without_enable_inference_say_what_is_missing():
    # The secure-endpoint doc's sslSecret command, verbatim: it omits enableInference=True.
    ex = error(RequiredArgumentMissingError, {'inferenceRouterServiceType': 'LoadBalancer', 'sslSecret': 'tls-fe',
                                              'sslCname': 'ml.contoso.com'})
    assert ex.error_msg == ('Neither training nor inference is enabled, but --config inferenceRouterServiceType, '
                            '--config sslSecret, --config sslCname configure inference, and enableInference is not '
                            'set.')
    assert 'enableInference=True' in text_of(ex) and '--enable-inference true' in text_of(ex)
    ex = error(RequiredArgumentMissingError, {'enableInference': 'false'},
               typed={'sslCname': ('ml.contoso.com', '--ssl-cname')})
    assert '--ssl-cname configures inference, and enableInference is false.' in ex.error_msg


def test_inference_needs_service_type():
    ex = error(RequiredArgumentMissingError, {'enableInference': 'true', 'allowInsecureConnections': 'true'})
    assert '--inference-router-service-type' in text_of(ex)


def test_https_needs_material():
    ex = error(RequiredArgumentMissingError, {'enableInference': 'true', 'inferenceRouterServiceType': 'NodePort'})
    assert '--ssl-cert-pem-file' in text_of(ex) and '--ssl-secret' in text_of(ex)
    assert '--allow-insecure-connections' in text_of(ex)


def test_https_needs_cname():
    ex = error(RequiredArgumentMissingError, {'enableInference': 'true', 'inferenceRouterServiceType': 'NodePort',
                                              'sslSecret': 'tls'})
    assert '--ssl-cname' in text_of(ex)


def test_one_pem_file_alone(tls):
    ex = error(RequiredArgumentMissingError, {'enableInference': 'true', 'inferenceRouterServiceType': 'NodePort',
                                              'sslCname': 'ml.contoso.com'}, {'sslCertPemFile': str(tls.cert_path)})
    assert 'sslKeyPemFile' in text_of(ex)


def test_pem_and_secret_together(tls):
    ex = error(MutuallyExclusiveArgumentError,
               {'enableInference': 'true', 'inferenceRouterServiceType': 'NodePort', 'sslCname': 'ml.contoso.com',
                'sslSecret': 'tls'}, {'sslCertPemFile': str(tls.cert_path), 'sslKeyPemFile': str(tls.key_path)})
    assert 'sslSecret' in text_of(ex)


def test_insecure_with_tls_settings_conflicts():
    ex = error(MutuallyExclusiveArgumentError, {'enableInference': 'true', 'inferenceRouterServiceType': 'NodePort',
                                                'allowInsecureConnections': 'true', 'sslCname': 'ml.contoso.com'})
    assert 'allowInsecureConnections' in text_of(ex)


@pytest.mark.parametrize('service_type', ['NodePort', 'clusterip'])
def test_ilb_only_with_load_balancer(service_type):
    ex = error(MutuallyExclusiveArgumentError, {'enableInference': 'true', 'inferenceRouterServiceType':
                                                service_type, 'internalLoadBalancerProvider': 'azure',
                                                'allowInsecureConnections': 'true'})
    assert 'internalLoadBalancerProvider' in text_of(ex)


@pytest.mark.parametrize('key,value', [('enableTraining', 'yes'), ('inferenceRouterServiceType', 'ingress'),
                                       ('internalLoadBalancerProvider', 'aws'), ('clusterPurpose', 'prod'),
                                       ('sslSecret', 'Bad_Name'), ('installVolcano', '1')])
def test_bad_values_name_the_setting(key, value):
    config = {'enableTraining': 'true', key: value}
    ex = error(InvalidArgumentValueError, config)
    assert key in ex.error_msg and ex.recommendations


def test_empty_documented_value():
    ex = error(InvalidArgumentValueError, {'enableTraining': 'true', 'sslCname': ' '})
    assert 'sslCname' in ex.error_msg


def test_tls_files_are_checked(tmp_path):
    ex = error(FileOperationError, {'enableInference': 'true', 'inferenceRouterServiceType': 'NodePort',
                                    'sslCname': 'ml.contoso.com'},
               typed={'sslCertPemFile': (str(tmp_path / 'nope.pem'), '--ssl-cert-pem-file'),
                      'sslKeyPemFile': (str(tmp_path / 'nope.key'), '--ssl-key-pem-file')})
    assert '--ssl-cert-pem-file' in ex.error_msg


def test_cname_not_covered(tls):
    ex = error(InvalidArgumentValueError, {'enableInference': 'true', 'inferenceRouterServiceType': 'NodePort',
                                           'sslCname': 'other.contoso.com'},
               {'sslCertPemFile': str(tls.cert_path), 'sslKeyPemFile': str(tls.key_path)})
    assert 'sslCname' in text_of(ex)
    assert_no_secrets(text_of(ex), tls.secret_fragments())


def test_pem_paths_accepted_as_public_settings_but_never_sent(tls):
    settings = resolve({'enableInference': 'true', 'inferenceRouterServiceType': 'NodePort', 'sslCname':
                        'ml.contoso.com', 'sslCertPemFile': str(tls.cert_path), 'sslKeyPemFile': str(tls.key_path)})
    public, protected, _ = s.derive(settings, facts())
    assert 'sslCertPemFile' not in public and set(protected) == {'scoringFe.sslCert', 'scoringFe.sslKey'}


def test_pem_files_ignored_without_inference(tls):
    settings = resolve({'enableTraining': 'true'}, {'sslCertPemFile': str(tls.cert_path), 'sslKeyPemFile':
                                                    str(tls.key_path)})
    public, protected, _ = s.derive(settings, facts())
    assert protected == {} and any('left out' in w for w in settings.warnings)


@pytest.mark.parametrize('key', ['relayServerConnectionString', 'scoringFe.sslKey', 'scoringFe.sslCert',
                                 'azure_log_analytics.connection_string'])
def test_secret_in_public_settings_is_refused_without_echo(key):
    ex = error(InvalidArgumentValueError, {'enableTraining': 'true', key: 'topsecretvalue123'})
    assert '--config-protected' in text_of(ex) and 'topsecretvalue123' not in text_of(ex)


def test_non_secret_in_protected_moves_to_public():
    settings = resolve(None, {'enableTraining': 'true'})
    assert settings.public['enableTraining'] == 'true' and settings.protected == {}


def test_same_key_public_and_protected():
    with pytest.raises(MutuallyExclusiveArgumentError):
        resolve({'enableTraining': 'true', 'foo.bar': '1'}, {'foo.bar': '2'})


def test_relay_pairs_and_format():
    error(RequiredArgumentMissingError, {'enableTraining': 'true', 'relayserver.hybridConnectionResourceID': HC_ID})
    error(RequiredArgumentMissingError, {'enableTraining': 'true'}, {'relayServerConnectionString': CONN})
    glued = CONN.replace(';EntityPath', 'EntityPath')
    ex = error(InvalidArgumentValueError, {'enableTraining': 'true', 'relayserver.hybridConnectionResourceID':
                                           HC_ID}, {'relayServerConnectionString': glued})
    assert 'EntityPath' in ex.error_msg and 'c2VjcmV0' not in text_of(ex)
    error(InvalidArgumentValueError, {'enableTraining': 'true', 'relayserver.hybridConnectionResourceID': '/bad'},
          {'relayServerConnectionString': CONN})
    other = CONN.replace('EntityPath=arc-k3s', 'EntityPath=other')
    error(InvalidArgumentValueError, {'enableTraining': 'true', 'relayserver.hybridConnectionResourceID': HC_ID},
          {'relayServerConnectionString': other})


def test_node_selector_validation():
    ex = error(InvalidArgumentValueError, {'enableTraining': 'true', 'nodeSelector.bad key!': 'x'})
    assert 'nodeSelector' in text_of(ex)
    error(InvalidArgumentValueError, {'enableTraining': 'true', 'nodeSelector': 'x'})
    error(InvalidArgumentValueError, {'enableTraining': 'true', 'nodeSelector.pool': 'not valid!'})
    settings = resolve({'enableTraining': 'true', 'nodeSelector.kubernetes.io/os': 'linux'})
    assert settings.node_selector == {'kubernetes.io/os': 'linux'}


# --- renamed, removed, unsupported, "did you mean", pass-through --------------------------------------------------

@pytest.mark.parametrize('old,value,new,expected', [
    ('inferenceLoadBalancerHA', 'False', 'inferenceRouterHA', 'false'),
    ('InferenceRouterHA', 'False', 'inferenceRouterHA', 'false'),
    ('privateEndpointNodeport', 'True', 'inferenceRouterServiceType', 'NodePort'),
    ('privateEndpointILB', 'True', 'internalLoadBalancerProvider', 'azure'),
    ('reuseExistingPromOp', 'True', 'installPromOp', 'false'),
])
def test_renamed_keys_are_translated_with_a_warning(old, value, new, expected):
    config = {'enableTraining': 'true', 'enableInference': 'true', 'allowInsecureConnections': 'true',
              old: value}
    if new != 'inferenceRouterServiceType':
        config['inferenceRouterServiceType'] = 'LoadBalancer'
    settings = resolve(config)
    assert settings.public[new] == expected and old not in settings.public
    assert any(old in w and new in w for w in settings.warnings)


def test_renamed_false_switch_is_dropped():
    settings = resolve({'enableTraining': 'true', 'privateEndpointILB': 'False'})
    assert 'internalLoadBalancerProvider' not in settings.public
    assert any('privateEndpointILB' in w for w in settings.warnings)


def test_renamed_key_and_new_key_together():
    with pytest.raises(MutuallyExclusiveArgumentError):
        resolve({'enableTraining': 'true', 'inferenceLoadBalancerHA': 'false', 'inferenceRouterHA': 'false'})


def test_doc_typo_for_key_file(tls):
    settings = resolve({'enableInference': 'true', 'inferenceRouterServiceType': 'NodePort',
                        'sslCname': 'ml.contoso.com'},
                       {'sslCertPemFile': str(tls.cert_path), 'sslCertKeyFile': str(tls.key_path)})
    assert settings.tls is not None and any('sslCertKeyFile' in w for w in settings.warnings)


def test_removed_keys_dropped_and_unsupported_refused():
    settings = resolve({'enableTraining': 'true', 'installBlobfuseSysctl': 'true'})
    assert 'installBlobfuseSysctl' not in settings.public
    ex = error(InvalidArgumentValueError, {'enableTraining': 'true', 'logAnalyticsWS': 'true'})
    assert 'logAnalyticsWS' in ex.error_msg


@pytest.mark.parametrize('typo,meant', [('enableTrainng', 'enableTraining'), ('enabletraining', 'enableTraining'),
                                        ('sslCnam', 'sslCname'), ('inferenceRouterServiceTyp',
                                                                  'inferenceRouterServiceType'),
                                        ('nodeSelecter.pool', 'nodeSelector.pool'),
                                        ('inferenceLoadBalancerHa', 'inferenceRouterHA'),
                                        ('installVolcanoo', 'installVolcano')])
def test_did_you_mean(typo, meant):
    ex = error(InvalidArgumentValueError, {'enableTraining': 'true', typo: 'x'} if typo != 'enabletraining'
               else {typo: 'true', 'enableInference': 'true'})
    assert typo in ex.error_msg and meant in text_of(ex)


@pytest.mark.parametrize('key', ['nginxIngress.controller', 'volcanoScheduler.schedulerConfigMap',
                                 'nginxIngress.controllerConfig.worker-processes', 'amloperator.skipResourceValidation',
                                 'scoringFe.enableUpgrade', 'some.chart.value'])
def test_chart_values_pass_through(key):
    value = 'true' if key.startswith(('amloperator', 'scoringFe')) else 'k8s.io/amlarc-ingress-nginx'
    if key == 'volcanoScheduler.schedulerConfigMap':
        value = 'volcano-config'
    settings = resolve({'enableTraining': 'true', key: value})
    assert settings.public[key] == value


def test_suggest_returns_none_for_unrelated_keys():
    assert s.suggest('completely.unrelated.key') is None
    assert s.suggest('enableTraining') is None
    assert s.edit_distance('ab', 'ba') == 1 and s.edit_distance('', 'abc') == 3


# --- fixed arguments and versions --------------------------------------------------------------------------------

def test_fixed_arguments():
    s.check_fixed_arguments('microsoft.azureml.kubernetes', 'Cluster', 'azureml')
    for kwargs, flag in (({'extension_type': 'microsoft.flux'}, '--extension-type'), ({'scope': 'namespace'},
                                                                                      '--scope'),
                         ({'release_namespace': 'ml'}, '--release-namespace')):
        with pytest.raises(InvalidArgumentValueError) as info:
            s.check_fixed_arguments(**kwargs)
        assert flag in info.value.error_msg


def test_versions():
    assert s.resolve_version() == s.VersionChoice(None, None, 'stable')
    choice = s.resolve_version(None, '1.1.88', None)
    assert choice.auto_upgrade is False and choice.version == '1.1.88'
    with pytest.raises(MutuallyExclusiveArgumentError) as info:
        s.resolve_version(True, '1.1.88', None)
    assert '--auto-upgrade-minor-version' in info.value.error_msg
    with pytest.raises(InvalidArgumentValueError):
        s.resolve_version(False, 'latest', None)
    assert s.resolve_version(None, None, 'Preview').release_train == 'Preview'
    assert s.resolve_version(None, None, 'nightly').warnings
    assert s.resolve_version(None, None, None, default_train=False).release_train is None


def test_extension_body_shape():
    body = s.extension_body({'a': '1'}, {'b': '2'}, s.resolve_version(False, '1.1.70', 'stable'), 'SystemAssigned')
    props = body['properties']
    assert props['extensionType'] == 'Microsoft.AzureML.Kubernetes'
    assert props['scope'] == {'cluster': {'releaseNamespace': 'azureml'}}
    assert props['autoUpgradeMinorVersion'] is False and props['version'] == '1.1.70'
    assert body['identity'] == {'type': 'SystemAssigned'}
    assert 'identity' not in s.extension_body({}, {}, s.resolve_version())


# --- update planning -----------------------------------------------------------------------------------------------

OLD_INSECURE = {'enableTraining': 'True', 'enableInference': 'True', 'inferenceRouterServiceType': 'LoadBalancer',
                'allowInsecureConnections': 'True', 'clusterId': AKS.resource_id, 'relayserver.enabled': 'false',
                'scoringFe.serviceType.nodePort': 'False', 'nginxIngress.enabled': 'true'}
OLD_HTTPS = {'enableTraining': 'True', 'enableInference': 'True', 'inferenceRouterServiceType': 'LoadBalancer',
             'allowInsecureConnections': 'False', 'sslCname': 'ml.contoso.com', 'relayserver.enabled': 'false',
             'scoringFe.serviceType.nodePort': 'False'}
OLD_ARC = {'enableTraining': 'True', 'relayserver.enabled': 'true', 'relayserver.hybridConnectionResourceID': HC_ID,
           'relayserver.hybridConnectionName': 'arc-k3s', 'nginxIngress.enabled': 'false'}


def plan(old, config=None, protected=None, typed=None, ref=AKS, **kwargs):
    return u.plan_update(old, s.collect(config=config, protected=protected, typed=typed), facts(ref), **kwargs)


def test_update_sends_only_changes():
    result = plan(OLD_INSECURE, {'installDcgmExporter': 'true', 'enableTraining': 'TRUE'})
    assert result.public == {'installDcgmExporter': 'true'} and result.protected is None and not result.impacts


def test_update_no_change_is_empty():
    assert plan(OLD_INSECURE, {'enableTraining': 'true'}).empty


def test_update_impacts():
    result = plan(OLD_INSECURE, {'enableTraining': 'false', 'inferenceRouterServiceType': 'NodePort'})
    keys = ' '.join(d for d, _ in result.impacts)
    assert 'enableTraining' in keys and 'inferenceRouterServiceType' in keys
    assert result.public['scoringFe.serviceType.nodePort'] == 'true'
    message = u.confirmation_message(result.impacts, 'azureml', 'cluster x')
    assert 'training jobs' in message and 'online endpoints' in message and message.endswith('Proceed?')


def test_update_node_selector_change_is_an_impact_and_removal_is_refused():
    old = dict(OLD_INSECURE, **{'nodeSelector.pool': 'a'})
    result = plan(old, {'nodeSelector.pool': 'b'})
    assert result.impacts and 'nodeSelector.pool' in result.impacts[0][0]
    with pytest.raises(InvalidArgumentValueError) as info:
        u.plan_update(old, s.collect(node_selector={'zone': '1'}), facts(), replace_node_selector=True)
    assert 'nodeSelector.pool' in info.value.error_msg


def test_update_enabling_inference_applies_the_inference_rules():
    with pytest.raises(RequiredArgumentMissingError):
        plan({'enableTraining': 'True'}, {'enableInference': 'true'})
    with pytest.raises(RequiredArgumentMissingError):
        plan({'enableTraining': 'True'}, {'enableInference': 'true', 'inferenceRouterServiceType': 'NodePort'})
    result = u.plan_update({'enableTraining': 'True'}, s.collect(config={
        'enableInference': 'true', 'inferenceRouterServiceType': 'NodePort', 'allowInsecureConnections': 'true'}),
        facts(nodes=1))
    assert result.public['inferenceRouterHA'] == 'false' and result.public['scoringFe.serviceType.nodePort'] == 'true'


def test_update_rotates_tls_and_keeps_nothing_stale(tls):
    result = plan(OLD_HTTPS, typed={'sslCertPemFile': (str(tls.cert_path), '--ssl-cert-pem-file'),
                                    'sslKeyPemFile': (str(tls.key_path), '--ssl-key-pem-file')})
    assert set(result.protected) == {'scoringFe.sslCert', 'scoringFe.sslKey'}
    assert result.public == {} and not result.relay_key_needed


def test_update_protected_change_that_would_drop_tls_is_refused():
    with pytest.raises(RequiredArgumentMissingError) as info:
        plan(OLD_HTTPS, protected={'some.secret': 'x'})
    assert '--ssl-cert-pem-file' in text_of(info.value)


def test_update_arc_protected_change_re_supplies_relay(tls):
    result = plan(OLD_ARC, protected={'some.secret': 'x'}, ref=ARC)
    assert result.relay_key_needed and result.protected == {'some.secret': 'x'}
    assert not plan(OLD_ARC, {'installVolcano': 'false'}, ref=ARC).relay_key_needed
    legacy = {k: v for k, v in OLD_ARC.items() if k != 'relayserver.enabled'}
    assert plan(legacy, protected={'some.secret': 'x'}, ref=ARC).relay_key_needed


def test_update_disable_tls_removes_tls_keys():
    result = plan(dict(OLD_HTTPS, sslSecret='tls', **{'scoringFe.sslSecret': 'tls'}),
                  {'allowInsecureConnections': 'true'})
    assert result.public['sslCname'] is None and result.public['sslSecret'] is None
    assert result.public['allowInsecureConnections'] == 'true'
    assert any('allowInsecureConnections' in d for d, _ in result.impacts)


def test_update_disable_tls_from_pem_drops_protected_material():
    result = plan(OLD_HTTPS, {'allowInsecureConnections': 'true'})
    assert result.protected == {}


def test_update_switch_secret_to_pem(tls):
    old = dict(OLD_HTTPS, sslSecret='tls', **{'scoringFe.sslSecret': 'tls'})
    result = plan(old, protected={'sslCertPemFile': str(tls.cert_path), 'sslKeyPemFile': str(tls.key_path)})
    assert result.public['sslSecret'] is None and set(result.protected) == {'scoringFe.sslCert', 'scoringFe.sslKey'}


def test_update_patch_body():
    body = u.patch_body(plan(OLD_INSECURE, {'installPromOp': 'false'}), s.resolve_version(False, '1.1.70', None,
                                                                                          default_train=False))
    assert body == {'properties': {'autoUpgradeMinorVersion': False, 'version': '1.1.70',
                                   'configurationSettings': {'installPromOp': 'false'}}}


def test_update_handles_foreign_extensions_missing_keys():
    result = plan({'enableTraining': 'True'}, {'installVolcano': 'false'})
    assert result.public == {'installVolcano': 'false'}
    assert plan({}, {'enableTraining': 'true'}).public == {'enableTraining': 'true'}


# --- property-based: any input gives settings or a specific CLI error ---------------------------------------------

KEYS = st.sampled_from(list(s.CATALOGUE) + list(s.RENAMED) + ['nodeSelector.a', 'nodeSelector', 'x.y', 'enableTrainng',
                                                              'sslCertPemFile', 'relayServerConnectionString'])
VALUES = st.one_of(st.sampled_from(['true', 'False', 'NodePort', 'loadbalancer', 'azure', '', 'ml.contoso.com',
                                    '/nonexistent.pem', HC_ID, CONN]), st.text(max_size=20))


@hsettings(max_examples=300, deadline=None)
@given(st.dictionaries(st.one_of(KEYS, st.text(min_size=1, max_size=12)), VALUES, max_size=8),
       st.dictionaries(KEYS, VALUES, max_size=3), st.booleans())
def test_any_input_gives_settings_or_a_cli_error(public, protected, arc):
    try:
        settings = resolve(public, protected)
        s.derive(settings, facts(ARC if arc else AKS, nodes=1))
    except AzCLIError as ex:
        assert ex.error_msg and ex.error_msg[0].isupper()
