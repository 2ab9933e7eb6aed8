# --------------------------------------------------------------------------------------------
# Copyright (c) amlk8s contributors. Licensed under the MIT License.
# --------------------------------------------------------------------------------------------
# pylint: disable=too-many-lines,missing-function-docstring
"""Unit tests for azext_amlk8s.rules.health: the catalogue, expected components and the verify report."""

import ast
import copy
import json
import pathlib
import sys

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hyp_settings
from hypothesis import strategies as st

from azext_amlk8s.rules import health
from azext_amlk8s.rules.health import (
    ERROR_CATALOGUE, Context, Diagnosis, build_report, canonical_cluster_type, diagnose_error, diagnose_text,
    expected_components, failure_message, is_healthy, is_secret_setting, public_settings,
    unknown_diagnosis)

SUB = '00000000-0000-0000-0000-000000000000'
AKS_ID = f'/subscriptions/{SUB}/resourceGroups/ml-rg/providers/Microsoft.ContainerService/managedClusters/ml-aks'
ARC_ID = f'/subscriptions/{SUB}/resourceGroups/edge-rg/providers/Microsoft.Kubernetes/connectedClusters/edge-k8s'
AKS = Context('ml-rg', 'ml-aks', 'managedClusters', 'azureml', AKS_ID)
ARC = Context('edge-rg', 'edge-k8s', 'connectedClusters', 'amlext', ARC_ID)
AKS_TARGET = '-g ml-rg -c ml-aks -t managedClusters -n azureml'
ARC_TARGET = '-g edge-rg -c edge-k8s -t connectedClusters -n amlext'

ARM_WRAPPER = ('The extension operation failed with the following error:  Error: [ InnerError: [Helm installation '
               'failed : Unable to create/update Kubernetes resources for the extension : Recommendation Please check '
               'that there are no policies blocking the resource creation/update for the extension. Please refer to '
               'this URL for more details on this error: aka.ms/bing : InnerError [{}]]] occurred while doing the '
               'operation : [Create] on the config, For general troubleshooting visit: '
               'https://aka.ms/k8s-extensions-TSG, For more application specific troubleshooting visit: '
               'Troubleshooting: https://aka.ms/arcmltsg.')
OWNERSHIP_TAIL = ('exists and cannot be imported into the current release: invalid ownership metadata; label '
                  'validation error: missing key "app.kubernetes.io/managed-by": must be set to "Helm"; annotation '
                  'validation error: missing key "meta.helm.sh/release-name": must be set to "azureml"; annotation '
                  'validation error: missing key "meta.helm.sh/release-namespace": must be set to "azureml"')
EXISTS = 'Error: INSTALLATION FAILED: rendered manifests contain a resource that already exists. ' \
         'Unable to continue with install: '

# (text as the service / Helm / HealthCheck phrase it, expected first code, fragments the AKS-context fix contains)
SAMPLES = [
    ('Error: INSTALLATION FAILED: failed pre-install: pod healthcheck failed. [E40000] UNKNOWN_ERROR: unexpected '
     'error while checking the cluster', 'E40000', ['kubectl logs healthcheck -n azureml']),
    ('E40001 LOAD_BALANCER_NOT_SUPPORT: Load balancer isn\'t supported in your cluster.', 'E40001',
     [f'az amlk8s update {AKS_TARGET} --inference-router-service-type NodePort']),
    ('healthcheck: LoadBalancerNotSupport: service azureml-fe has no external IP', 'E40001', ['NodePort']),
    ('Error: INSTALLATION FAILED: failed pre-install: pod healthcheck failed ... E40002 INSUFFICIENT_NODE: You have '
     'enabled inferenceRouterHA that requires at least three nodes in your cluster.', 'E40002',
     [f'az amlk8s update {AKS_TARGET} --inference-router-ha false']),
    ('InsufficientNode: only 1 healthy node matches the node selector', 'E40002', ['--inference-router-ha false']),
    ('0/1 nodes are available: 1 node(s) didn\'t match pod anti-affinity rules.', 'E40002', ['nodeSelector']),
    ('E40003 INTERNAL_LOAD_BALANCER_NOT_SUPPORT: Currently, only AKS support the internal load balancer',
     'E40003', [f'az amlk8s deploy {AKS_TARGET}', 'without --internal-load-balancer-provider']),
    ('E40004 AZUREML_FE_DEPLOYMENT_NOT_FOUND: deployment azureml-fe-v2 not found', 'E40004',
     ['kubectl get deployment -n azureml azureml-fe-v2', f'az amlk8s deploy {AKS_TARGET}']),
    ('E40005 AZUREML_FE_SCALE_UP_TIMEOUT', 'E40005', ['kubectl describe deployment -n azureml azureml-fe-v2']),
    ('E40006 AZUREML_FE_UPDATE_REPLICAS_FAILED', 'E40006', ['kubectl describe deployment -n azureml azureml-fe-v2']),
    ('E40007 INVALID_SSL_SETTING: The SSL key or certificate isn\'t valid. The CNAME should be compatible with the '
     'certificate.', 'E40007', ['openssl pkey -in key.pem -pubout',
                                f'az amlk8s update {AKS_TARGET} --ssl-cert-pem-file <cert.pem>']),
    ('E45001 AGENT_UNHEALTHY: pod gateway-5d9c7 is CrashLoopBackOff', 'E45001', ['kubectl get pods -n azureml']),
    ('E45002 PROMETHEUS_CONFLICT: The Prometheus Operator installed is conflict with your existing Prometheus '
     'Operator', 'E45002', [f'az amlk8s update {AKS_TARGET} --install-prom-op false', 'release: azureml']),
    ('E45003 BAD_NETWORK_CONNECTIVITY: cannot reach mcr.microsoft.com', 'E45003',
     ['how-to-access-azureml-behind-firewall']),
    ('E45004 AZUREML_FE_ROLE_CONFLICT: clusterrole azureml-fe-role exists', 'E45004',
     ['kubectl delete clusterrole azureml-fe-role', 'kubectl delete deploy azureml-fe -n default']),
    ('Enabling inference fails: E45005 Azureml Fe deployment confict', 'E45005',
     ['kubectl delete secret azuremlfessl -n default', f'az amlk8s deploy {AKS_TARGET}']),
    ('E45005 AZUREML_FE_DEPLOYMENT_CONFLICT', 'E45005', ['kubectl delete cm azuremlfeconfig -n default']),
    ('E45006 Failed to validate or update instancetype', 'E45006', ['kubectl get instancetype -o yaml']),
    ('E49999 CHECKER_PANIC: runtime error: invalid memory address', 'E49999', ['kubectl logs healthcheck']),
    ('healthcheck report: E40123 SOMETHING_NEW', 'healthcheck-unknown-code', ['arcml-healthcheck']),
    ('The Cluster Extensions service is unable to retain sensitive information for more than 48 hours. The cluster '
     'extension agents did not have connectivity.', 'protected-settings-lost',
     [f'az amlk8s deploy {AKS_TARGET}', '--ssl-cert-pem-file']),
    (EXISTS + 'ClusterRole "azureml-fe-role" in namespace "" ' + OWNERSHIP_TAIL, 'legacy-azureml-fe-ownership',
     ['kubectl delete clusterrolebinding azureml-fe-binding']),
    (EXISTS + 'CustomResourceDefinition "jobs.batch.volcano.sh" in namespace "" ' + OWNERSHIP_TAIL,
     'volcano-crd-ownership',
     [f'az amlk8s update {AKS_TARGET} --install-volcano false', 'volcanoScheduler.enable=false',
      'kubectl label crd jobs.batch.volcano.sh "app.kubernetes.io/managed-by=Helm"',
      'kubectl annotate crd jobs.batch.volcano.sh "meta.helm.sh/release-namespace=azureml" '
      '"meta.helm.sh/release-name=azureml"']),
    (EXISTS + 'DaemonSet "nvidia-device-plugin-daemonset" in namespace "kube-system" ' + OWNERSHIP_TAIL,
     'nvidia-device-plugin-ownership', [f'az amlk8s update {AKS_TARGET} --install-nvidia-device-plugin false']),
    (EXISTS + 'CustomResourceDefinition "prometheuses.monitoring.coreos.com" in namespace "" ' + OWNERSHIP_TAIL,
     'prometheus-ownership', [f'az amlk8s update {AKS_TARGET} --install-prom-op false']),
    (EXISTS + 'ClusterRole "cluster-reader" in namespace "" ' + OWNERSHIP_TAIL, 'helm-ownership-conflict',
     ['kubectl label clusterrole cluster-reader "app.kubernetes.io/managed-by=Helm"']),
    ('Error: INSTALLATION FAILED: Internal error occurred: failed calling webhook '
     '"validate.nginx.ingress.kubernetes.io": failed to call webhook: Post '
     '"https://azureml-ingress-nginx-controller-admission.azureml.svc:443/networking/v1/ingresses?timeout=10s": no '
     'endpoints available for service "azureml-ingress-nginx-controller-admission"',
     'ingress-nginx-webhook',
     [f'az amlk8s deploy {AKS_TARGET}', 'nginxIngress.controller=k8s.io/amlarc-ingress-nginx']),
    ('Internal error occurred: failed calling webhook "mutatepod.volcano.sh": Post "https://volcano-admission-service.'
     'azureml.svc:443/pods/mutate?timeout=10s": context deadline exceeded', 'admission-webhook',
     ['kubectl get validatingwebhookconfigurations,mutatingwebhookconfigurations']),
    ('Error: INSTALLATION FAILED: cannot re-use a name that is still in use', 'helm-name-in-use',
     ['helm list -Aa', f'az amlk8s delete {AKS_TARGET} --yes']),
    ("Helm error: can't reuse a name that is still in use", 'helm-name-in-use', ['helm list -Aa']),
    ('Error: UPGRADE FAILED: another operation (install/upgrade/rollback) is in progress',
     'helm-operation-in-progress', ['helm history -n azureml azureml', 'sh.helm.release.v1.azureml.v<revision>']),
    ('Earlier operation for the helm chart is still in progress', 'helm-operation-in-progress', ['about an hour']),
    ('Error: INSTALLATION FAILED: create: failed to create: unable to create new content in namespace azureml because '
     'it is being terminated', 'namespace-terminating', [f'az amlk8s wait {AKS_TARGET} --deleted']),
    ('Error: {Failed in download the Chart path not found} occurred while doing the operation : {Installing the '
     'extension} on the config', 'chart-not-found',
     ['az k8s-extension extension-types list-versions-by-cluster --resource-group ml-rg --cluster-name ml-aks '
      '--cluster-type managedClusters', 'Omit --version']),
    ('Error: INSTALLATION FAILED: unable to build kubernetes objects from release manifest: resource mapping not '
     'found for name: "volcano-admission" namespace: "" from "": no matches for kind "MutatingWebhookConfiguration" '
     'in version "admissionregistration.k8s.io/v1beta1"', 'kubernetes-version',
     ['kubectl version', 'az aks upgrade -g ml-rg -n ml-aks']),
    ("(MissingSubscriptionRegistration) The subscription is not registered to use namespace "
     "'Microsoft.KubernetesConfiguration'.", 'provider-not-registered',
     ['az provider register --namespace Microsoft.KubernetesConfiguration']),
    ("(AuthorizationFailed) The client 'x' with object id 'y' does not have authorization to perform action "
     "'Microsoft.ContainerService/managedClusters/extensionaddons/read' over scope '/subscriptions/s'",
     'provider-not-registered', ['Microsoft.KubernetesConfiguration']),
    ("(InvalidAuthenticationToken) The received access token is not valid: at least one of the claims 'puid' or "
     "'altsecid' or 'oid' should be present.", 'invalid-authentication-token',
     ['az aks update -g ml-rg -n ml-aks --enable-managed-identity']),
    ('Relay resource id or connection string are not provided.', 'relay-missing',
     [f'az amlk8s deploy {AKS_TARGET}']),
    ('InferencingClientCallFailed: The k8s-extension of the Kubernetes cluster is not connectable.',
     'not-connectable', ['az amlk8s attach', 'kubectl get pods -n azureml']),
    ('UserError: AzureML Kubernetes job failed. : Dispatch Job Fail: Cluster does not support job type RegularJob',
     'training-not-enabled', [f'az amlk8s update {AKS_TARGET} --enable-training true']),
    ('0/3 nodes are available: 3 Insufficient cpu. preemption: 0/3 nodes are available.', 'insufficient-resources',
     ['kubectl describe nodes', 'az aks nodepool scale -g ml-rg --cluster-name ml-aks']),
    ('0/2 nodes are available: 2 Too many pods.', 'insufficient-resources', ['kubectl describe nodes']),
    (ARM_WRAPPER.format('release machine-learning failed, and has been uninstalled due to atomic being set: failed '
                        'pre-install: pod healthcheck failed'), 'healthcheck-failed',
     ['jsonpath={.data.reports-pre-install}']),
    ('(ExtensionOperationFailed) The extension operation failed: Error: UPGRADE FAILED: pre-upgrade hooks failed: '
     'pod healthcheck failed', 'healthcheck-failed', ['jsonpath={.data.reports-pre-upgrade}']),
    ('Helm installation failed : Unable to create/update the extension : timed out waiting for the condition',
     'helm-timeout', ['kubectl get svc -n azureml', f'az amlk8s deploy {AKS_TARGET}']),
    ('Error: {failed to install chart from path [] for release [azureml]: err [release azureml failed, and has been '
     'uninstalled due to atomic being set: timed out waiting for the condition]} occurred while doing the operation',
     'helm-timeout', ['kubectl get pods -n azureml']),
    ("Unable to get the status from the local CRD with the error : {Error : Retry for given duration didn't get any "
     "results with err {status not populated}}", 'helm-timeout', ['kubectl get events -n azureml']),
]


# ------------------------------------------------------------------------------------------------------------------
# The catalogue
# ------------------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize('text,code,fragments', SAMPLES)
def test_health_catalogue_rule_matches_service_text(text, code, fragments):
    diagnoses = diagnose_text(text, AKS)
    assert diagnoses, text
    assert diagnoses[0].code == code
    for fragment in fragments:
        assert fragment in diagnoses[0].fix
    for diag in diagnoses:
        assert isinstance(diag, Diagnosis)
        assert diag.title and diag.diagnosis and diag.fix
        assert '{' + 'target}' not in diag.fix and '{rg}' not in diag.fix and '{name}' not in diag.fix


def test_health_catalogue_every_rule_has_a_sample():
    sampled = {code for _, code, _ in SAMPLES}
    assert {rule.code for rule in ERROR_CATALOGUE} <= sampled


def test_health_catalogue_codes_unique_and_documented_codes_present():
    codes = [rule.code for rule in ERROR_CATALOGUE]
    assert len(codes) == len(set(codes))
    for code in ('E40000', 'E40001', 'E40002', 'E40003', 'E40004', 'E40005', 'E40006', 'E40007',
                 'E45001', 'E45002', 'E45003', 'E45004', 'E45005', 'E45006', 'E49999', 'helm-name-in-use',
                 'helm-operation-in-progress', 'namespace-terminating', 'volcano-crd-ownership', 'helm-timeout',
                 'chart-not-found', 'healthcheck-failed', 'not-connectable'):
        assert code in codes
    for rule in ERROR_CATALOGUE:
        assert all(other in codes for other in rule.superseded_by)


def test_health_catalogue_critical_follows_documented_ranges():
    by_code = {rule.code: rule for rule in ERROR_CATALOGUE}
    for code in ('E40000', 'E40001', 'E40002', 'E40003', 'E40004', 'E40005', 'E40006', 'E40007'):
        assert by_code[code].critical
    for code in ('E45001', 'E45002', 'E45003', 'E45006', 'E49999'):
        assert not by_code[code].critical
    # The legacy azureml-fe conflicts block inference installs in practice (Azure/AML-Kubernetes#293).
    assert by_code['E45004'].critical and by_code['E45005'].critical


def test_health_diagnose_text_most_specific_first():
    text = ('Error: INSTALLATION FAILED: failed pre-install: pod healthcheck failed ... E40002 INSUFFICIENT_NODE: '
            'You have enabled inferenceRouterHA that requires at least three nodes')
    assert [d.code for d in diagnose_text(text, AKS)] == ['E40002', 'healthcheck-failed']


def test_health_diagnose_text_several_codes_in_catalogue_order():
    text = 'E45002 PROMETHEUS_CONFLICT; E40001 LOAD_BALANCER_NOT_SUPPORT; timed out waiting for the condition'
    assert [d.code for d in diagnose_text(text)] == ['E40001', 'E45002', 'helm-timeout']


def test_health_internal_lb_code_is_not_the_plain_lb_code():
    for text in ('INTERNAL_LOAD_BALANCER_NOT_SUPPORT', 'InternalLoadBalancerNotSupport',
                 'internal load balancer not support'):
        assert [d.code for d in diagnose_text(text)] == ['E40003']


def test_health_specific_ownership_supersedes_generic():
    volcano = EXISTS + 'CustomResourceDefinition "queues.scheduling.volcano.sh" in namespace "" ' + OWNERSHIP_TAIL
    codes = [d.code for d in diagnose_text(volcano)]
    assert codes == ['volcano-crd-ownership']
    fix = diagnose_text(volcano, AKS)[0].fix
    assert 'kubectl label crd queues.scheduling.volcano.sh' in fix


def test_health_ingress_webhook_supersedes_generic_webhook():
    codes = [d.code for d in diagnose_text(SAMPLES[[s[1] for s in SAMPLES].index('ingress-nginx-webhook')][0])]
    assert codes == ['ingress-nginx-webhook']


def test_health_known_code_supersedes_unknown_code_rule():
    assert [d.code for d in diagnose_text('E40002 INSUFFICIENT_NODE and E40999 NEW')] == ['E40002']


def test_health_e_codes_are_case_sensitive_and_whole_words():
    assert not diagnose_text('request id e40002 from a guid e4000212-aaaa')
    assert not diagnose_text('/subscriptions/1e400021/resourceGroups/x')


def test_health_diagnose_text_none_and_unrelated():
    for text in (None, '', '   ', 42, b'E40002', ['E40002']):
        assert diagnose_text(text) == []
    assert diagnose_text('The extension was installed. Troubleshooting: https://aka.ms/arcmltsg') == []
    assert diagnose_text('Deployment completed successfully', AKS) == []


def test_health_fix_uses_placeholders_without_context():
    fix = diagnose_text('E40002 INSUFFICIENT_NODE')[0].fix
    assert 'az amlk8s update -g <resource-group> -c <cluster-name> -t <cluster-type> -n <extension-name>' in fix


def test_health_fix_cluster_type_aliases_are_canonical():
    fix = diagnose_text('E40002', Context('rg', 'c', 'AKS', 'ml'))[0].fix
    assert '-g rg -c c -t managedClusters -n ml' in fix
    fix = diagnose_text('E40002', Context('rg', 'c', 'arc', 'ml'))[0].fix
    assert '-t connectedClusters' in fix


def test_health_cluster_specific_fixes():
    timeout = 'timed out waiting for the condition'
    assert 'az connectedk8s upgrade -g edge-rg -n edge-k8s' in diagnose_text(timeout, ARC)[0].fix
    assert 'az connectedk8s upgrade' not in diagnose_text(timeout, AKS)[0].fix
    assert 'az connectedk8s upgrade -g <resource-group>' in diagnose_text(timeout)[0].fix   # unknown kind: both
    version = 'no matches for kind "CronJob" in version "batch/v1beta1"'
    assert 'az aks upgrade' in diagnose_text(version, AKS)[0].fix
    assert 'az aks upgrade' not in diagnose_text(version, ARC)[0].fix
    network = 'E45003 BAD_NETWORK_CONNECTIVITY'
    assert '--proxy-skip-range 127.0.0.1,localhost' in diagnose_text(network, ARC)[0].fix
    assert '--proxy-skip-range' not in diagnose_text(network, AKS)[0].fix
    provider = 'MissingSubscriptionRegistration'
    assert 'Microsoft.ExtendedLocation' in diagnose_text(provider, ARC)[0].fix
    assert 'Microsoft.ExtendedLocation' not in diagnose_text(provider, AKS)[0].fix
    not_connectable = 'The k8s-extension of the Kubernetes cluster is not connectable.'
    assert 'relayserver' in diagnose_text(not_connectable, ARC)[0].fix
    assert 'relayserver' not in diagnose_text(not_connectable, AKS)[0].fix


def test_health_ownership_fix_uses_names_from_the_text():
    text = EXISTS + ('ServiceAccount "azureml-fe" in namespace "default" exists and cannot be imported into the '
                     'current release: invalid ownership metadata; annotation validation error: missing key '
                     '"meta.helm.sh/release-name": must be set to "ml-ext"')
    diag = diagnose_text(text, AKS)[0]
    assert diag.code == 'legacy-azureml-fe-ownership'
    assert 'ServiceAccount "azureml-fe"' in diag.diagnosis
    generic = EXISTS + ('ConfigMap "shared-config" in namespace "tools" exists and cannot be imported into the '
                        'current release: invalid ownership metadata; annotation validation error: missing key '
                        '"meta.helm.sh/release-name": must be set to "ml-ext"')
    diag = diagnose_text(generic, AKS)[0]
    assert 'kubectl label cm shared-config -n tools "app.kubernetes.io/managed-by=Helm"' in diag.fix
    assert '"meta.helm.sh/release-name=ml-ext"' in diag.fix


def test_health_ownership_fix_never_copies_unsafe_names():
    text = 'ClusterRole "x; rm -rf /" in namespace "" exists and cannot be imported into the current release: ' \
           'invalid ownership metadata; key "meta.helm.sh/release-name": must be set to "$(reboot)"'
    diag = diagnose_text(text, AKS)[0]
    assert 'rm -rf' not in diag.fix and '$(reboot)' not in diag.fix
    assert '<kind> <name>' in diag.fix and 'release-name=azureml' in diag.fix


def test_health_healthcheck_section_follows_the_operation():
    def section(text):
        return [d for d in diagnose_text(text) if d.code == 'healthcheck-failed'][0].fix

    assert 'reports-pre-install' in section('failed pre-install: pod healthcheck failed')
    assert 'reports-pre-upgrade' in section('Error: UPGRADE FAILED: pre-upgrade hooks failed: pod healthcheck failed')
    assert 'reports-pre-rollback' in section('pre-rollback hooks failed: pod healthcheck failed')
    assert 'reports-pre-delete' in section('uninstallation completed with 1 error(s): pre-delete hooks failed: '
                                           'pod healthcheck failed')


def test_health_diagnose_error_and_unknown():
    assert diagnose_error('gibberish', AKS) == [unknown_diagnosis(AKS)]
    unknown = unknown_diagnosis(AKS)
    assert unknown.code == 'unknown' and unknown.critical
    assert 'https://aka.ms/arcmltsg' in unknown.fix and 'helm history -n azureml azureml' in unknown.fix
    assert diagnose_error('E40002', AKS)[0].code == 'E40002'


def test_health_canonical_cluster_type():
    assert canonical_cluster_type('aks') == 'managedClusters'
    assert canonical_cluster_type('MANAGEDCLUSTERS') == 'managedClusters'
    assert canonical_cluster_type('Arc') == 'connectedClusters'
    assert canonical_cluster_type('connectedclusters') == 'connectedClusters'
    assert canonical_cluster_type('provisionedclusters') == 'provisionedClusters'
    assert canonical_cluster_type(None) == '' and canonical_cluster_type('') == ''


# ------------------------------------------------------------------------------------------------------------------
# Expected components
# ------------------------------------------------------------------------------------------------------------------

def names(components):
    return [c['name'] for c in components]


BASE = ['gateway', 'metrics-controller-manager', 'azureml-kube-state-metrics', 'prometheus-prom-prometheus',
        'azureml-prometheus-operator']
VOLCANO = ['volcano-admission', 'volcano-controllers', 'volcano-scheduler']
INFERENCE = ['azureml-fe-v2', 'inference-operator-controller-manager', 'amlarc-identity-controller',
             'amlarc-identity-proxy']


def test_health_components_training_only_aks():
    components = expected_components({'enableTraining': 'True', 'nginxIngress.enabled': 'true'},
                                     'managedClusters', 'azureml')
    assert names(components) == BASE + ['aml-operator'] + VOLCANO
    assert {c['kind'] for c in components} == {'deployment', 'statefulset'}
    assert [c for c in components if c['kind'] == 'statefulset'][0]['name'] == 'prometheus-prom-prometheus'
    assert components[0] == {'name': 'gateway', 'kind': 'deployment', 'reason': 'always'}
    assert [c['reason'] for c in components if c['name'].startswith('volcano')] == ['installVolcano'] * 3


def test_health_components_inference_only_aks():
    components = expected_components({'enableInference': 'true', 'inferenceRouterServiceType': 'loadBalancer',
                                      'nginxIngress.enabled': 'true'}, 'managedClusters', 'azureml')
    assert names(components) == BASE + INFERENCE + ['azureml-ingress-nginx-controller']
    fe = components[names(components).index('azureml-fe-v2')]
    assert fe == {'name': 'azureml-fe-v2', 'kind': 'deployment', 'reason': 'enableInference', 'replicas': 3}


def test_health_components_nginx_defaults_follow_the_cli():
    aks = expected_components({'enableInference': 'true'}, 'managedClusters', 'azureml')
    arc = expected_components({'enableInference': 'true'}, 'connectedClusters', 'azureml')
    assert 'azureml-ingress-nginx-controller' in names(aks)
    assert 'azureml-ingress-nginx-controller' not in names(arc)
    assert 'azureml-ingress-nginx-controller' in names(
        expected_components({'enableInference': 'true', 'nginxIngress.enabled': 'TRUE'}, 'connectedClusters', 'x'))
    assert 'azureml-ingress-nginx-controller' not in names(
        expected_components({'enableInference': 'true', 'nginxIngress.enabled': False}, 'managedClusters', 'x'))
    assert 'azureml-ingress-nginx-controller' not in names(
        expected_components({'enableTraining': 'true', 'nginxIngress.enabled': 'true'}, 'managedClusters', 'x'))


def test_health_components_both_on_arc():
    components = expected_components({'enableTraining': 'True', 'enableInference': 'True',
                                      'relayserver.enabled': 'true', 'nginxIngress.enabled': 'false'},
                                     'connectedClusters', 'amlext')
    assert names(components) == ['gateway', 'metrics-controller-manager', 'amlext-kube-state-metrics',
                                 'prometheus-prom-prometheus', 'amlext-prometheus-operator', 'relayserver',
                                 'aml-operator'] + VOLCANO + INFERENCE
    assert components[5]['reason'] == 'relayserver.enabled'


def test_health_components_relay_from_cluster_type_or_setting():
    arc = expected_components({'enableTraining': 'true'}, 'arc', 'azureml')
    assert {'name': 'relayserver', 'kind': 'deployment', 'reason': 'connectedClusters'} in arc
    assert 'relayserver' not in names(expected_components({'enableTraining': 'true'}, 'managedClusters', 'a'))
    assert 'relayserver' in names(expected_components({'relayserver.enabled': 'True'}, 'managedClusters', 'a'))
    assert 'relayserver' not in names(expected_components({'relayserver.enabled': 'false'}, 'connectedClusters', 'a'))
    assert 'relayserver' in names(expected_components({'relayserver.enabled': 'maybe'}, 'connectedClusters', 'a'))
    assert 'relayserver' not in names(expected_components({}, '', 'a'))


def test_health_components_ha_off():
    for value in ('False', 'false', False, 'FALSE'):
        components = expected_components({'enableInference': 'True', 'inferenceRouterHA': value}, 'aks', 'azureml')
        assert components[names(components).index('azureml-fe-v2')]['replicas'] == 1


def test_health_components_old_ha_keys_honoured():
    for key in ('inferenceLoadBalancerHA', 'inferenceLoadbalancerHA'):
        components = expected_components({'enableInference': 'True', key: 'False'}, 'aks', 'azureml')
        assert components[names(components).index('azureml-fe-v2')]['replicas'] == 1
    # the current key wins over the old one
    components = expected_components({'enableInference': 'True', 'inferenceRouterHA': 'true',
                                      'inferenceLoadBalancerHA': 'False'}, 'aks', 'azureml')
    assert components[names(components).index('azureml-fe-v2')]['replicas'] == 3


def test_health_components_promop_off():
    for values in ({'installPromOp': 'False'}, {'installPromOp': False}, {'reuseExistingPromOp': 'True'}):
        assert 'azureml-prometheus-operator' not in names(expected_components(values, 'aks', 'azureml'))


def test_health_components_volcano_off_and_old_key():
    for values in ({'installVolcano': 'false'}, {'volcanoScheduler.enable': 'false'},
                   {'installVolcano': 'true', 'volcanoScheduler.enable': 'False'}):
        components = names(expected_components(dict(values, enableTraining='true'), 'aks', 'azureml'))
        assert 'aml-operator' in components
        assert not set(VOLCANO) & set(components)


def test_health_components_volcano_needs_training():
    assert not set(VOLCANO) & set(names(expected_components({'enableInference': 'true', 'installVolcano': 'true'},
                                                            'aks', 'azureml')))


def test_health_components_gpu_daemonsets():
    components = expected_components({'enableTraining': 'true', 'installDcgmExporter': 'True',
                                      'installNvidiaDevicePlugin': True}, 'aks', 'ml')
    assert components[-2:] == [
        {'name': 'ml-dcgm-exporter', 'kind': 'daemonset', 'reason': 'installDcgmExporter'},
        {'name': 'nvidia-device-plugin-daemonset', 'kind': 'daemonset', 'reason': 'installNvidiaDevicePlugin'}]
    assert not [c for c in expected_components({}, 'aks', 'ml') if c['kind'] == 'daemonset']


def test_health_components_defaults_and_bad_input():
    assert names(expected_components({}, 'managedClusters', '')) == BASE
    assert names(expected_components(None, None, None)) == BASE
    assert names(expected_components({'enableTraining': 'yes'}, 'aks', 'azureml')) == BASE   # not a boolean


# ------------------------------------------------------------------------------------------------------------------
# build_report
# ------------------------------------------------------------------------------------------------------------------

def extension(state='Succeeded', *, settings=None, statuses=None, error_info=None,  # pylint: disable=too-many-arguments
              cluster_id=AKS_ID, name='azureml', ext_type='microsoft.azureml.kubernetes'):
    """An extension resource as ARM returns it (GET .../extensions/{name}, api-version 2023-05-01)."""
    if settings is None:
        settings = {'enableTraining': 'True', 'enableInference': 'True', 'inferenceRouterServiceType': 'LoadBalancer',
                    'allowInsecureConnections': 'False', 'sslCname': 'ml.contoso.com', 'inferenceRouterHA': 'True',
                    'clusterId': cluster_id, 'cluster_name_friendly': 'ml-aks', 'location': 'westeurope',
                    'jobSchedulerLocation': 'westeurope', 'nginxIngress.enabled': 'true',
                    'relayserver.enabled': 'false', 'servicebus.enabled': 'false',
                    'prometheus.prometheusSpec.externalLabels.cluster_name': cluster_id}
    return {
        'id': f'{cluster_id}/providers/Microsoft.KubernetesConfiguration/extensions/{name}',
        'name': name,
        'type': 'Microsoft.KubernetesConfiguration/extensions',
        'properties': {
            'extensionType': ext_type,
            'autoUpgradeMinorVersion': True,
            'releaseTrain': 'stable',
            'version': None,
            'currentVersion': '1.1.88',
            'scope': {'cluster': {'releaseNamespace': 'azureml'}},
            'configurationSettings': settings,
            'configurationProtectedSettings': {'sslCertPemFile': '', 'sslKeyPemFile': ''},
            'provisioningState': state,
            'statuses': statuses if statuses is not None else [],
            'errorInfo': error_info,
            'aksAssignedIdentity': {'principalId': 'p', 'tenantId': 't', 'type': 'SystemAssigned'},
            'isSystemExtension': False,
        },
        'systemData': {'createdAt': '2025-01-01T00:00:00Z'},
    }


REPORT_KEYS = ['name', 'clusterId', 'extensionType', 'provisioningState', 'verdict', 'version', 'releaseTrain',
               'autoUpgradeMinorVersion', 'workloads', 'endpoint', 'configurationSettings', 'components', 'clusterRead',
               'inCluster', 'findings', 'nextSteps']
FINDING_KEYS = ['source', 'level', 'code', 'title', 'critical', 'serviceCode', 'message', 'diagnosis', 'fix',
                'related']


def check_shape(report):
    assert list(report) == REPORT_KEYS
    for finding in report['findings']:
        assert list(finding) == FINDING_KEYS
        assert finding['level'] in ('error', 'warning', 'info')
    json.dumps(report)
    return report


def test_health_report_succeeded_is_healthy_aks():
    report = check_shape(build_report(extension(), AKS))
    assert report['verdict'] == 'Healthy' and is_healthy(report)
    assert report['name'] == 'azureml'
    assert report['clusterId'] == AKS_ID
    assert report['extensionType'] == 'microsoft.azureml.kubernetes'
    assert report['provisioningState'] == 'Succeeded'
    assert report['version'] == '1.1.88'
    assert report['releaseTrain'] == 'stable'
    assert report['autoUpgradeMinorVersion'] is True
    assert report['workloads'] == {'training': True, 'inference': True}
    assert report['endpoint'] == {'serviceType': 'LoadBalancer', 'https': True, 'sslCname': 'ml.contoso.com',
                                  'internalLoadBalancer': False, 'routerHA': True}
    assert names(report['components']) == BASE + ['aml-operator'] + VOLCANO + INFERENCE + [
        'azureml-ingress-nginx-controller']
    assert not [f for f in report['findings'] if f['level'] != 'info']
    steps = report['nextSteps']
    assert 'az aks get-credentials --resource-group ml-rg --name ml-aks' in steps[0]
    assert any(step.endswith('kubectl get pods -n azureml') for step in steps)
    assert any(step.endswith('kubectl describe configmap -n azureml arcml-healthcheck') for step in steps)
    assert any('helm test -n azureml azureml --logs' in step for step in steps)
    assert any('jsonpath={.data.reports-test}' in step for step in steps)
    assert any(step.endswith('kubectl get events -n azureml --sort-by=.lastTimestamp') for step in steps)
    attach = [s for s in steps if 'attach' in s]
    assert attach == ['Attach the cluster to a workspace: az amlk8s attach -g ml-rg -c ml-aks -t managedClusters '
                      '--workspace <workspace-resource-id> --compute-name <compute-name> --namespace <namespace> (it '
                      "checks the workspace's subscription, the namespace and the extension first)"]
    assert any('kubectl get svc azureml-fe -n azureml' in s for s in steps)
    assert any('same subscription' in s for s in steps)
    assert not any('Relay' in s for s in steps)
    assert not any('{' + 'rg}' in s or '{name}' in s or '{target}' in s for s in steps)


def test_health_report_succeeded_arc_has_relay_note_and_proxy():
    body = extension(cluster_id=ARC_ID, name='amlext', settings={'enableTraining': 'true'})
    report = check_shape(build_report(body, ARC))
    assert report['verdict'] == 'Healthy'
    steps = report['nextSteps']
    assert 'az connectedk8s proxy --resource-group edge-rg --name edge-k8s' in steps[0]
    assert not any('az aks get-credentials' in s for s in steps)
    assert any('Azure Relay in resource group edge-rg' in s for s in steps)
    assert any('az amlk8s attach -g edge-rg -c edge-k8s -t connectedClusters --workspace' in s for s in steps)
    assert report['endpoint'] is None
    assert 'relayserver' in names(report['components'])
    assert 'amlext-kube-state-metrics' in names(report['components'])


@pytest.mark.parametrize('state,wait_flag,section', [
    ('Creating', '--created', 'pre-install'), ('Pending', '--created', 'pre-install'),
    ('Accepted', '--created', 'pre-install'), ('Updating', '--updated', 'pre-upgrade'),
    ('Deleting', '--deleted', 'pre-delete'), ('creating', '--created', 'pre-install')])
def test_health_report_in_progress(state, wait_flag, section):
    report = check_shape(build_report(extension(state=state), AKS))
    assert report['verdict'] == 'InProgress' and not is_healthy(report)
    finding = report['findings'][0]
    assert finding['source'] == 'provisioningState' and finding['code'] == 'in-progress'
    assert finding['level'] == 'warning' and finding['message'] == f'provisioningState: {state}'
    assert f'az amlk8s wait {AKS_TARGET} {wait_flag}' in finding['fix']
    if state.lower() != 'deleting':
        assert f'az amlk8s verify {AKS_TARGET} --wait' in finding['fix']
    assert any(f'jsonpath={{.data.reports-{section}}}' in s for s in report['nextSteps'])
    assert any(f'az amlk8s verify {AKS_TARGET} --wait' in s for s in report['nextSteps'])
    assert not any('attach' in s for s in report['nextSteps'])


def test_health_report_in_progress_keeps_error_statuses():
    statuses = [{'code': 'InstallationFailed', 'displayStatus': 'Failed', 'level': 'Error',
                 'message': 'Error: INSTALLATION FAILED: cannot re-use a name that is still in use',
                 'time': '2025-01-01T00:00:00Z'}]
    report = build_report(extension(state='Updating', statuses=statuses), AKS)
    assert report['verdict'] == 'InProgress'
    assert [f['code'] for f in report['findings'][:2]] == ['in-progress', 'helm-name-in-use']


@pytest.mark.parametrize('text,code,fragments', SAMPLES)
def test_health_report_failed_error_info_each_code(text, code, fragments):
    error_info = {'code': 'ExtensionOperationFailed', 'message': text}
    report = check_shape(build_report(extension(state='Failed', error_info=error_info), AKS))
    assert report['verdict'] == 'Failed' and not is_healthy(report)
    finding = report['findings'][0]
    assert finding['source'] == 'errorInfo' and finding['level'] == 'error'
    assert finding['code'] == code and finding['serviceCode'] == 'ExtensionOperationFailed'
    assert finding['message'] == text.strip()
    for fragment in fragments:
        assert fragment in finding['fix']
    assert [r['code'] for r in finding['related']] == [d.code for d in diagnose_text(text)][1:]
    message = failure_message(report)
    assert f'[errorInfo] {code} {finding["title"]}' in message
    assert '\n' not in message


def test_health_report_failed_statuses_diagnosed_and_deduplicated():
    helm = 'Error: INSTALLATION FAILED: failed pre-install: pod healthcheck failed'
    statuses = [
        {'code': 'InstallationFailed', 'displayStatus': 'Failed', 'level': 'Error', 'message': helm, 'time': 't'},
        {'code': 'HealthCheck', 'displayStatus': 'Warning', 'level': 'Warning',
         'message': 'E40002 INSUFFICIENT_NODE: You have enabled inferenceRouterHA that requires at least three nodes',
         'time': 't'},
        {'code': 'Info', 'displayStatus': 'Info', 'level': 'Information', 'message': 'E40001 ignored', 'time': 't'},
        {'code': 'Again', 'level': 'Error', 'message': '  ' + helm + ' '},
    ]
    error_info = {'code': 'ExtensionOperationFailed', 'message': helm}
    report = check_shape(build_report(extension(state='Failed', statuses=statuses, error_info=error_info), AKS))
    service = [(f['source'], f['level'], f['code']) for f in report['findings']
               if f['source'] != 'configurationSettings']
    assert service == [('errorInfo', 'error', 'healthcheck-failed'), ('statuses[1]', 'warning', 'E40002')]
    message = failure_message(report)
    assert message.index('healthcheck-failed') < message.index('E40002')
    assert '--inference-router-ha false' in message
    steps = report['nextSteps']
    assert any('jsonpath={.data.reports-pre-install}' in s for s in steps)
    assert any('jsonpath={.data.reports-pre-delete}' in s for s in steps)
    assert any('helm history -n azureml azureml' in s for s in steps)
    assert 'Troubleshooting guide: https://aka.ms/arcmltsg' in steps


def test_health_report_failed_upgrade_points_at_upgrade_sections():
    text = '(ExtensionOperationFailed) Error: UPGRADE FAILED: pre-upgrade hooks failed: pod healthcheck failed'
    report = build_report(extension(state='Failed', error_info={'code': 'X', 'message': text}), AKS)
    sections = [s for s in report['nextSteps'] if 'jsonpath' in s]
    assert len(sections) == 2
    assert 'reports-pre-upgrade' in sections[0] and 'reports-pre-rollback' in sections[1]


def test_health_report_failed_unknown_error_is_verbatim():
    text = 'Something nobody has seen before happened in the cluster (code 0x17)'
    report = check_shape(build_report(extension(state='Failed', error_info={'code': 'Weird', 'message': text}), AKS))
    finding = report['findings'][0]
    assert finding['code'] == 'unknown' and finding['message'] == text and finding['level'] == 'error'
    assert 'https://aka.ms/arcmltsg' in finding['fix']
    assert 'kubectl get pods -n azureml' in finding['fix']
    assert 'kubectl describe configmap -n azureml arcml-healthcheck' in finding['fix']
    message = failure_message(report)
    assert f'Service message: "{text}"' in message and 'https://aka.ms/arcmltsg' in message


def test_health_report_failed_code_only_error_info():
    report = build_report(extension(state='Failed', error_info={'code': 'E40007', 'message': None}), AKS)
    assert report['findings'][0]['code'] == 'E40007'
    assert report['findings'][0]['message'] == 'E40007'


def test_health_report_failed_without_details():
    for error_info in (None, {}, {'code': None, 'message': ''}):
        report = check_shape(build_report(extension(state='Failed', error_info=error_info, statuses=None), AKS))
        assert report['verdict'] == 'Failed'
        finding = report['findings'][0]
        assert finding['source'] == 'provisioningState' and finding['level'] == 'error'
        assert finding['title'] == 'FAILED_WITHOUT_DETAILS' and 'https://aka.ms/arcmltsg' in finding['fix']


def test_health_report_canceled_and_unknown_states_fail():
    for state in ('Canceled', 'Exploded', None, '', 12):
        report = build_report(extension(state=state), AKS)
        assert report['verdict'] == 'Failed' and not is_healthy(report)


def test_health_report_degraded():
    statuses = [{'code': 'AgentWarning', 'displayStatus': 'Warning', 'level': 'Warning',
                 'message': 'E45001 AGENT_UNHEALTHY: pod aml-operator-7c9 is Pending: 0/3 nodes are available: '
                            '3 Too many pods.', 'time': 't'}]
    report = check_shape(build_report(extension(statuses=statuses), AKS))
    assert report['verdict'] == 'Degraded' and not is_healthy(report)
    finding = report['findings'][0]
    assert (finding['source'], finding['level'], finding['code']) == ('statuses[0]', 'warning', 'E45001')
    assert [r['code'] for r in finding['related']] == ['insufficient-resources']
    assert not any('attach' in s for s in report['nextSteps'])
    for level in ('Error', 'error', 'ERROR'):
        statuses[0]['level'] = level
        assert build_report(extension(statuses=statuses), AKS)['verdict'] == 'Degraded'


def test_health_report_information_statuses_do_not_degrade():
    statuses = [{'code': 'Ok', 'displayStatus': 'Installed', 'level': 'Information', 'message': 'E40001 in history'},
                {'code': 'NoLevel', 'message': 'timed out waiting for the condition'}, 'not-a-status', None]
    report = build_report(extension(statuses=statuses), AKS)
    assert report['verdict'] == 'Healthy'
    assert not [f for f in report['findings'] if f['source'].startswith('statuses')]


def test_health_report_stale_error_info_on_succeeded_is_info():
    error_info = {'code': 'ExtensionOperationFailed', 'message': 'timed out waiting for the condition'}
    report = build_report(extension(error_info=error_info), AKS)
    assert report['verdict'] == 'Healthy' and is_healthy(report)
    assert report['findings'][0]['level'] == 'info' and report['findings'][0]['code'] == 'helm-timeout'


def test_health_report_not_azureml():
    body = extension(ext_type='microsoft.flux', settings={'helm-controller.enabled': 'true', 'token': 'abc'},
                     state='Failed', error_info={'code': 'X', 'message': 'timed out waiting for the condition'})
    report = check_shape(build_report(body, AKS))
    assert report['verdict'] == 'NotAzureML' and not is_healthy(report)
    assert not report['components'] and not report['configurationSettings']
    assert report['workloads'] == {'training': False, 'inference': False} and report['endpoint'] is None
    assert [f['code'] for f in report['findings']] == ['not-azureml']
    assert 'az amlk8s list -g ml-rg -c ml-aks -t managedClusters' in report['findings'][0]['fix']
    assert any('az amlk8s list -g ml-rg -c ml-aks -t managedClusters' in s for s in report['nextSteps'])
    assert any(s.endswith('kubectl get pods -n azureml') for s in report['nextSteps'])
    assert '[extensionType] not-azureml NOT_AZUREML_EXTENSION: Extension azureml is of type microsoft.flux' \
        in failure_message(report)


def test_health_report_azureml_type_any_case():
    for ext_type in ('Microsoft.AzureML.Kubernetes', 'MICROSOFT.AZUREML.KUBERNETES', ' microsoft.azureml.kubernetes '):
        assert build_report(extension(ext_type=ext_type), AKS)['verdict'] == 'Healthy'


@pytest.mark.parametrize('body', [
    {}, None, [], 'text', 42, {'properties': None}, {'name': 'azureml'}, {'name': 'azureml', 'properties': {}},
    {'properties': {'provisioningState': 'Succeeded'}},
    {'properties': {'provisioningState': 'Failed', 'statuses': None, 'errorInfo': None,
                    'configurationSettings': None}},
    {'properties': {'provisioningState': 'Succeeded', 'statuses': 'oops', 'errorInfo': 'oops',
                    'configurationSettings': ['a'], 'extensionType': ['x']}},
    {'properties': {'provisioningState': {'nested': True}, 'statuses': [{'level': ['Error'], 'message': {}}]}},
])
def test_health_report_missing_fields(body):
    report = check_shape(build_report(body, AKS))
    assert report['verdict'] in ('Healthy', 'InProgress', 'Failed', 'Degraded', 'NotAzureML')
    assert isinstance(failure_message(report), str)


def test_health_report_missing_properties_is_failed_not_healthy():
    for body in ({'properties': None}, {}, None):
        report = build_report(body, AKS)
        assert report['verdict'] == 'Failed'
        assert report['findings'][0]['title'] == 'FAILED_WITHOUT_DETAILS'
        assert report['findings'][0]['message'] == 'provisioningState: (not reported)'


def test_health_report_succeeded_with_null_collections_is_healthy():
    body = extension(settings={'enableTraining': 'true'})
    body['properties'].update(statuses=None, errorInfo=None, version=None, currentVersion=None, releaseTrain=None,
                              autoUpgradeMinorVersion=None)
    report = check_shape(build_report(body, AKS))
    assert report['verdict'] == 'Healthy'
    assert report['version'] is None and report['releaseTrain'] is None and report['autoUpgradeMinorVersion'] is None


def test_health_report_version_falls_back_to_pinned_version():
    body = extension()
    body['properties'].update(currentVersion=None, version='1.1.64')
    assert build_report(body, AKS)['version'] == '1.1.64'


def test_health_report_accepts_sdk_as_dict_shape():
    body = {'id': AKS_ID + '/providers/Microsoft.KubernetesConfiguration/extensions/azureml', 'name': 'azureml',
            'extension_type': 'Microsoft.AzureML.Kubernetes', 'provisioning_state': 'Failed',
            'current_version': '1.1.70', 'release_train': 'Stable', 'auto_upgrade_minor_version': False,
            'configuration_settings': {'enableInference': 'true', 'inferenceRouterServiceType': 'nodePort',
                                       'allowInsecureConnections': 'true'},
            'statuses': [{'code': 'x', 'display_status': 'Failed', 'level': 'Error',
                          'message': 'E40002 INSUFFICIENT_NODE'}],
            'error_info': {'code': 'ExtensionOperationFailed', 'message': 'failed pre-install: pod healthcheck failed'}}
    report = check_shape(build_report(body, Context()))
    assert report['verdict'] == 'Failed' and report['version'] == '1.1.70'
    assert report['autoUpgradeMinorVersion'] is False
    assert [f['code'] for f in report['findings'][:2]] == ['healthcheck-failed', 'E40002']
    assert report['endpoint']['serviceType'] == 'nodePort' and report['endpoint']['https'] is False


def test_health_report_context_completed_from_the_resource_id():
    report = build_report(extension(cluster_id=ARC_ID, name='amlext', state='Failed',
                                    error_info={'code': 'X', 'message': 'E40002'}), Context())
    assert report['name'] == 'amlext' and report['clusterId'] == ARC_ID
    assert ARC_TARGET in report['findings'][0]['fix']
    assert any('az connectedk8s proxy --resource-group edge-rg --name edge-k8s' in s for s in report['nextSteps'])
    # the caller's names win over the id
    report = build_report(extension(state='Failed', error_info={'code': 'X', 'message': 'E40002'}),
                          Context('other-rg', 'other', 'aks', 'azureml', '/sub/x'))
    assert '-g other-rg -c other -t managedClusters -n azureml' in report['findings'][0]['fix']
    assert report['clusterId'] == '/sub/x'


def test_health_report_cluster_id_from_settings_when_no_id():
    body = extension()
    del body['id']
    report = build_report(body, Context('ml-rg', 'ml-aks', 'managedClusters', 'azureml'))
    assert report['clusterId'] == AKS_ID
    body['properties']['configurationSettings'].pop('clusterId')
    report = build_report(body, Context('ml-rg', 'ml-aks', 'managedClusters', 'azureml'))
    assert report['clusterId'] is None
    assert any('az amlk8s attach -g ml-rg -c ml-aks -t managedClusters --workspace' in s for s in report['nextSteps'])


def test_health_report_unknown_cluster_type_lists_both_access_commands():
    body = extension()
    del body['id']
    report = build_report(body, Context('rg', 'c', '', 'azureml', '/x'))
    steps = report['nextSteps']
    assert any('az aks get-credentials' in s for s in steps)
    assert any('az connectedk8s proxy' in s for s in steps)


SECRET_SETTINGS = {
    'relayServerConnectionString': 'Endpoint=sb://relay.servicebus.windows.net/;SharedAccessKeyName=azureml_rw;'
                                   'SharedAccessKey=SECRETVALUE1',
    'relayserver.relayConnectionString': 'SECRETVALUE2',
    'serviceBusConnectionString': 'SECRETVALUE3',
    'servicebus.connectionString': 'SECRETVALUE4',
    'azure_log_analytics.connection_string': 'SECRETVALUE5',
    'scoringFe.sslKey': 'SECRETVALUE6',
    'scoringFe.sslCert': 'SECRETVALUE7',
    'sslKeyPemFile': '/home/me/SECRETVALUE8.pem',
    'sslCertPemFile': '/home/me/SECRETVALUE9.pem',
    'proxy.password': 'SECRETVALUE10',
    'mySecret': 'SECRETVALUE11',
    'registry.token': 'SECRETVALUE12',
    'harmlessLookingKey': '-----BEGIN RSA PRIVATE KEY-----SECRETVALUE13-----END RSA PRIVATE KEY-----',
    'another': 'AccountName=x;AccountKey=SECRETVALUE14',
}


def test_health_report_secrets_dropped():
    values = dict(SECRET_SETTINGS, enableInference='True', inferenceRouterServiceType='LoadBalancer',
                  sslSecret='azureml-tls', sslCname='ml.contoso.com', **{'scoringFe.sslSecret': 'azureml-tls'})
    body = extension(settings=values)
    body['properties']['configurationProtectedSettings'] = {'sslKeyPemFile': 'PROTECTEDVALUE',
                                                            'relayServerConnectionString': 'PROTECTEDVALUE'}
    report = build_report(body, AKS)
    dumped = json.dumps(report)
    assert 'SECRETVALUE' not in dumped and 'PROTECTEDVALUE' not in dumped
    assert 'configurationProtectedSettings' not in dumped
    for key in SECRET_SETTINGS:
        assert key not in report['configurationSettings']
    assert report['configurationSettings']['sslSecret'] == 'azureml-tls'
    assert report['configurationSettings']['scoringFe.sslSecret'] == 'azureml-tls'
    assert report['configurationSettings']['sslCname'] == 'ml.contoso.com'
    assert 'SECRETVALUE' not in failure_message(report)


def test_health_public_settings_and_secret_detection():
    assert is_secret_setting('relayServerConnectionString') and is_secret_setting('SSLKEY')
    assert not is_secret_setting('sslSecret') and not is_secret_setting('scoringFe.sslSecret')
    assert not is_secret_setting('sslCname') and not is_secret_setting('enableTraining')
    assert is_secret_setting('x', 'SharedAccessKey=abc') and not is_secret_setting('x', 'plain')
    assert public_settings({'b': '1', 'a': True, 'c': None, 'd': {'nested': 1}, 'e': [1], 1: 'x', 'f': 2.5}) == \
        {'a': True, 'b': '1', 'c': None, 'f': 2.5}
    assert list(public_settings({'z': '1', 'a': '2', 'm': '3'})) == ['a', 'm', 'z']
    assert public_settings(None) == {} and public_settings(['x']) == {}


def test_health_report_messages_redacted_and_trimmed():
    text = ('timed out waiting for the condition; relay Endpoint=sb://r/;SharedAccessKeyName=k;'
            'SharedAccessKey=TOPSECRET '
            '-----BEGIN PRIVATE KEY-----\nMIIEv...TOPSECRET2\n-----END PRIVATE KEY----- ' + 'x' * 5000)
    report = build_report(extension(state='Failed', error_info={'code': 'X', 'message': text}), AKS)
    message = report['findings'][0]['message']
    assert 'TOPSECRET' not in json.dumps(report)
    assert len(message) <= health.MESSAGE_LIMIT and message.endswith('...')
    assert message.startswith('timed out waiting for the condition')


def test_health_report_does_not_mutate_input():
    body = extension(state='Failed', error_info={'code': 'X', 'message': 'E40002'}, settings=dict(SECRET_SETTINGS))
    before = copy.deepcopy(body)
    build_report(body, AKS)
    assert body == before


# --- settings findings ------------------------------------------------------------------------------------------

def settings_codes(values, ctx=AKS):
    report = build_report(extension(settings=values), ctx)
    return [(f['code'], f['level']) for f in report['findings'] if f['source'] == 'configurationSettings']


def test_health_settings_consistent_https_with_pem_files_is_fine():
    # PEM files are protected (invisible): sslCname without sslSecret means PEM files were used.
    assert not settings_codes({'enableInference': 'True', 'inferenceRouterServiceType': 'LoadBalancer',
                               'sslCname': 'ml.contoso.com'})
    assert not settings_codes({'enableInference': 'True', 'inferenceRouterServiceType': 'LoadBalancer',
                               'sslCname': 'ml.contoso.com', 'sslSecret': 's', 'scoringFe.sslSecret': 's'})


def test_health_settings_https_without_cname():
    assert settings_codes({'enableInference': 'true', 'inferenceRouterServiceType': 'nodePort'}) == [
        ('settings-https-without-cname', 'warning')]
    assert settings_codes({'enableInference': 'true', 'inferenceRouterServiceType': 'nodePort',
                           'allowInsecureConnections': 'False'}) == [('settings-https-without-cname', 'warning')]


def test_health_settings_ssl_secret_not_derived():
    report = build_report(extension(settings={'enableInference': 'true', 'inferenceRouterServiceType': 'ClusterIP',
                                              'sslSecret': 'azureml-tls', 'sslCname': 'ml.contoso.com'}), AKS)
    finding = [f for f in report['findings'] if f['code'] == 'settings-ssl-secret-not-derived'][0]
    assert finding['level'] == 'warning'
    assert f'az amlk8s update {AKS_TARGET} --ssl-secret azureml-tls' in finding['fix']
    assert report['verdict'] == 'Healthy'   # advisory: settings findings never change the verdict


def test_health_settings_insecure_is_info_only():
    assert settings_codes({'enableInference': 'true', 'inferenceRouterServiceType': 'LoadBalancer',
                           'allowInsecureConnections': 'TRUE'}) == [('settings-insecure-http', 'info')]


def test_health_settings_router_service_type():
    base = {'enableInference': 'true', 'allowInsecureConnections': 'true'}
    assert ('settings-router-service-type', 'warning') in settings_codes(base)
    assert ('settings-router-service-type', 'warning') in settings_codes(
        dict(base, inferenceRouterServiceType='Ingress'))
    assert ('settings-router-service-type', 'warning') not in settings_codes(
        dict(base, **{'scoringFe.serviceType.nodePort': 'True'}))
    for value in ('loadBalancer', 'NodePort', 'clusterip'):
        assert ('settings-router-service-type', 'warning') not in settings_codes(
            dict(base, inferenceRouterServiceType=value))


def test_health_settings_internal_load_balancer():
    base = {'enableInference': 'true', 'allowInsecureConnections': 'true', 'inferenceRouterServiceType': 'LoadBalancer'}
    assert ('settings-internal-lb-not-aks', 'warning') in settings_codes(
        dict(base, internalLoadBalancerProvider='azure'), ARC)
    assert settings_codes(dict(base, internalLoadBalancerProvider='azure'), AKS) == [('settings-insecure-http', 'info')]
    assert ('settings-internal-lb-value', 'warning') in settings_codes(dict(base, internalLoadBalancerProvider='aws'))
    assert ('settings-internal-lb-with-nodeport', 'warning') in settings_codes(
        dict(base, inferenceRouterServiceType='NodePort', internalLoadBalancerProvider='azure'))
    report = build_report(extension(settings=dict(base, internalLoadBalancerProvider='azure')), AKS)
    assert report['endpoint']['internalLoadBalancer'] is True


def test_health_settings_no_workload():
    assert settings_codes({'enableTraining': 'false'}) == [('settings-no-workload', 'warning')]
    assert settings_codes({}) == [('settings-no-workload', 'warning')]


def test_health_settings_deprecated_keys():
    codes = settings_codes({'enableTraining': 'true', 'inferenceLoadBalancerHA': 'False',
                            'volcanoScheduler.enable': 'false', 'reuseExistingPromOp': 'True',
                            'privateEndpointILB': 'True', 'privateEndpointNodeport': 'False'})
    assert codes == [('settings-deprecated-key', 'info')] * 5


def test_health_settings_findings_are_not_reported_for_other_extension_types():
    assert build_report(extension(settings={}, ext_type='microsoft.flux'), AKS)['findings'][0]['code'] == 'not-azureml'


# ------------------------------------------------------------------------------------------------------------------
# is_healthy and failure_message
# ------------------------------------------------------------------------------------------------------------------

def test_health_is_healthy():
    assert is_healthy({'verdict': 'Healthy'})
    for verdict in ('InProgress', 'Failed', 'Degraded', 'NotAzureML', 'healthy', None):
        assert not is_healthy({'verdict': verdict})
    for report in (None, [], 'Healthy', {}):
        assert not is_healthy(report)


def test_health_failure_message_names_each_finding_and_fix():
    statuses = [{'code': 'A', 'level': 'Error', 'message': 'E40007 INVALID_SSL_SETTING'},
                {'code': 'B', 'level': 'Warning', 'message': 'E45003 BAD_NETWORK_CONNECTIVITY'}]
    error_info = {'code': 'ExtensionOperationFailed', 'message': 'cannot re-use a name that is still in use'}
    body = extension(state='Failed', statuses=statuses, error_info=error_info,
                     settings={'enableInference': 'true', 'inferenceRouterServiceType': 'LoadBalancer',
                               'sslSecret': 'tls'})
    report = build_report(body, AKS)
    message = failure_message(report)
    assert message.startswith("Extension 'azureml' is Failed (provisioningState: Failed). 1) [errorInfo] "
                              "helm-name-in-use RELEASE_NAME_IN_USE:")
    for finding in report['findings']:
        if finding['level'] in ('error', 'warning'):
            assert f"[{finding['source']}] {finding['code']} {finding['title']}" in message
            assert ' '.join(finding['fix'].split()) in message
    errors_end = message.index('[statuses[0]]')
    assert errors_end < message.index('[statuses[1]]') < message.index('[configurationSettings]')
    assert message.endswith('Troubleshooting: https://aka.ms/arcmltsg.')
    assert '\n' not in message and '  ' not in message
    assert 'settings-deprecated' not in message


def test_health_failure_message_in_progress_and_healthy():
    message = failure_message(build_report(extension(state='Creating'), AKS))
    assert "is InProgress (provisioningState: Creating)" in message
    assert f'az amlk8s verify {AKS_TARGET} --wait' in message
    assert failure_message(build_report(extension(), AKS)) == \
        "Extension 'azureml' is Healthy (provisioningState: Succeeded)."


def test_health_failure_message_includes_related_fixes():
    text = 'failed pre-install: pod healthcheck failed; E40002 INSUFFICIENT_NODE'
    message = failure_message(build_report(extension(state='Failed', error_info={'code': 'X', 'message': text}), AKS))
    assert 'E40002 INSUFFICIENT_NODE' in message and 'Also healthcheck-failed HEALTHCHECK_FAILED' in message


def test_health_failure_message_tolerates_junk():
    assert failure_message(None).startswith("Extension '(unnamed)' is unknown")
    assert isinstance(failure_message({'findings': ['x', None, {'level': 'error', 'related': [1]}]}), str)


# ------------------------------------------------------------------------------------------------------------------
# Conventions: stdlib only, no print, no bare except
# ------------------------------------------------------------------------------------------------------------------

def test_health_module_is_pure_stdlib():
    tree = ast.parse(pathlib.Path(health.__file__).read_text(encoding='utf-8'))
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported.update(alias.name.split('.')[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            imported.add((node.module or '').split('.')[0])
        assert not (isinstance(node, ast.Call) and getattr(node.func, 'id', None) in ('print', 'open', 'eval'))
        assert not (isinstance(node, ast.ExceptHandler) and node.type is None)
    own = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
           and (node.module or '').startswith('azext_amlk8s')}
    assert own <= {'azext_amlk8s._constants', 'azext_amlk8s._text'}, own    # themselves standard library only
    assert imported - {'azext_amlk8s'} <= set(sys.stdlib_module_names)


# ------------------------------------------------------------------------------------------------------------------
# Property tests: arbitrary JSON-like bodies never raise
# ------------------------------------------------------------------------------------------------------------------

KEYS = st.sampled_from(['properties', 'name', 'id', 'extensionType', 'provisioningState', 'version', 'currentVersion',
                        'releaseTrain', 'autoUpgradeMinorVersion', 'configurationSettings', 'statuses', 'errorInfo',
                        'code', 'message', 'level', 'displayStatus', 'enableTraining', 'enableInference',
                        'inferenceRouterHA', 'sslSecret', 'sslCname', 'relayserver.enabled', 'extension_type',
                        'provisioning_state', 'error_info']) | st.text(max_size=12)
SCALARS = (st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
           | st.text(max_size=40) | st.sampled_from([s[0] for s in SAMPLES])
           | st.sampled_from(['Succeeded', 'Failed', 'Creating', 'Deleting', 'Error', 'Warning', 'True', 'false',
                              'Microsoft.AzureML.Kubernetes', 'microsoft.flux', AKS_ID]))
JSON_LIKE = st.recursive(SCALARS, lambda children: st.lists(children, max_size=4)
                         | st.dictionaries(KEYS, children, max_size=6), max_leaves=40)
STATUS = st.fixed_dictionaries({}, optional={'code': SCALARS, 'level': SCALARS, 'message': SCALARS,
                                             'displayStatus': SCALARS, 'time': SCALARS})
PROPERTIES = st.fixed_dictionaries({}, optional={
    'extensionType': SCALARS, 'provisioningState': SCALARS, 'version': SCALARS, 'currentVersion': SCALARS,
    'releaseTrain': SCALARS, 'autoUpgradeMinorVersion': SCALARS,
    'configurationSettings': st.none() | st.dictionaries(KEYS, SCALARS, max_size=8) | JSON_LIKE,
    'configurationProtectedSettings': st.dictionaries(KEYS, SCALARS, max_size=3),
    'statuses': st.none() | st.lists(STATUS | JSON_LIKE, max_size=4) | JSON_LIKE,
    'errorInfo': st.none() | STATUS | JSON_LIKE})
BODIES = JSON_LIKE | st.fixed_dictionaries({}, optional={'id': SCALARS, 'name': SCALARS,
                                                         'properties': st.none() | PROPERTIES | JSON_LIKE})
CONTEXTS = st.none() | st.builds(Context, st.text(max_size=10), st.text(max_size=10),
                                 st.sampled_from(['', 'aks', 'arc', 'managedClusters', 'connectedClusters', 'x']),
                                 st.text(max_size=10), st.text(max_size=30))


@hyp_settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(BODIES, CONTEXTS)
def test_health_build_report_never_raises(body, ctx):
    report = build_report(body, ctx)
    check_shape(report)
    assert is_healthy(report) == (report['verdict'] == 'Healthy')
    if is_healthy(report):
        assert not [f for f in report['findings'] if f['level'] == 'error']
    message = failure_message(report)
    assert isinstance(message, str) and '\n' not in message
    assert all(isinstance(step, str) for step in report['nextSteps'])


@hyp_settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.sampled_from(list(SECRET_SETTINGS)) | st.text(max_size=20),
                       st.text(max_size=20).map(lambda v: 'LEAK' + v), max_size=10))
def test_health_secret_keys_never_echoed(settings_dict):
    body = extension(settings=dict(settings_dict, enableTraining='true'))
    report = build_report(body, AKS)
    for key in report['configurationSettings']:
        assert not is_secret_setting(key, report['configurationSettings'][key])
    for key in SECRET_SETTINGS:
        if key not in ('harmlessLookingKey', 'another'):   # secret by value only
            assert key not in report['configurationSettings']


@hyp_settings(max_examples=300, deadline=None)
@given(st.text(max_size=300) | st.sampled_from([s[0] for s in SAMPLES]).flatmap(
    lambda t: st.text(max_size=40).map(lambda noise: noise + t + noise)))
def test_health_diagnose_text_never_raises(text):
    diagnoses = diagnose_text(text, AKS)
    assert len({d.code for d in diagnoses}) == len(diagnoses)
