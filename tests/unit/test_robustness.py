"""Bad input never crashes the settings model, the cluster facts or the failure reporting.

- Any settings input (inline, files, typed flags, node selectors, PEM paths) through ``collect`` + ``resolve`` +
  ``derive``, and any update through ``plan_update``, gives a valid result or a *specific* azclierror.
- Cluster bodies with missing or null fields give "unknown" findings, never an exception.
- The helpers that turn a failed or interrupted operation into a message (``waiting.service_message``,
  ``waiting.diagnose_failure``) and the pipeline policy that adopts an operation our own retried PUT started
  (``_transport.OwnOperationPolicy``) cope with whatever the service sends.
"""
# pylint: disable=missing-docstring,redefined-outer-name,protected-access

import copy
import io
import json
from pathlib import Path
from types import SimpleNamespace

import pytest
from azure.cli.core import azclierror
from azure.core.exceptions import HttpResponseError, ServiceRequestError, ServiceResponseError
from azure.core.pipeline import PipelineContext, PipelineRequest, PipelineResponse
from azure.core.pipeline.policies._base import RequestHistory
from azure.core.pipeline.transport import HttpRequest
from hypothesis import HealthCheck, event, example, given, settings as hsettings, strategies as st

from azext_amlk8s import _transport
from azext_amlk8s.act import waiting
from azext_amlk8s.rules import prereqs
from azext_amlk8s.rules import settings as s
from azext_amlk8s.rules import update as u
from azext_amlk8s.facts.cluster import ClusterFacts, facts_from_bodies
from tests.unit.samples import AKS, ARC, CONN, HC_ID, SUB
from tests.certs import make_tls_files

FIXTURES = Path(__file__).parent / 'fixtures'
GENERIC = (azclierror.AzCLIError, azclierror.UserFault, azclierror.ServiceError, azclierror.ClientError,
           azclierror.UnknownError)


def load(name):
    return json.loads((FIXTURES / name).read_text(encoding='utf-8'))


def assert_specific(ex):
    assert type(ex) not in GENERIC, 'a generic {} instead of a specific error'.format(type(ex).__name__)
    assert ex.error_msg and (ex.error_msg[0].isupper() or ex.error_msg.startswith('--'))


@pytest.fixture(scope='module')
def pem(tmp_path_factory):
    files = make_tls_files(tmp_path_factory.mktemp('tls'), 'ml.contoso.com')
    return str(files.cert_path), str(files.key_path)


# --- strategies ------------------------------------------------------------------------------------------------

KEYS = st.sampled_from(list(s.CATALOGUE) + list(s.RENAMED) + list(s.REMOVED) + list(s.UNSUPPORTED) +
                       list(s.SECRET_KEYS) + ['nodeSelector', 'nodeSelector.agentpool', 'nodeSelector.a/b',
                                              'nodeSelector.kubernetes.io/os', 'enableTrainng', 'x.y', ''])
VALUES = st.sampled_from(['true', 'False', 'TRUE', 'maybe', 'NodePort', 'loadbalancer', 'ClusterIP', 'azure', '',
                          ' ', 'ml.contoso.com', '*.contoso.com', 'a..b', 'azureml-tls', HC_ID, CONN,
                          CONN.replace(';EntityPath', 'EntityPath'), '/nonexistent.pem', 'DevTest', '1.1.88',
                          '\x00', 'ü', 'a' * 300]) | st.text(max_size=20)
SETTINGS = st.dictionaries(KEYS | st.text(min_size=1, max_size=12), VALUES, max_size=7)
# Valid starting points, so that the random changes on top also explore the later rules (TLS, relay, derive).
BASES = st.sampled_from([
    {},
    {'enableTraining': 'true'},
    {'enableTraining': 'True', 'enableInference': 'True', 'inferenceRouterServiceType': 'loadBalancer',
     'allowInsecureConnections': 'True', 'inferenceRouterHA': 'False'},
    {'enableInference': 'true', 'inferenceRouterServiceType': 'NodePort', 'sslCname': 'ml.contoso.com'},
    {'enableInference': 'true', 'inferenceRouterServiceType': 'LoadBalancer', 'sslCname': 'ml.contoso.com',
     'sslSecret': 'azureml-tls', 'internalLoadBalancerProvider': 'azure'},
    {'enableTraining': 'true', 'relayserver.hybridConnectionResourceID': HC_ID},
    {'enableTraining': 'true', 'nodeSelector.agentpool': 'ml', 'installNvidiaDevicePlugin': 'true'},
])
CONFIGS = st.one_of(BASES, BASES, st.builds(lambda base, extra: dict(base, **extra), BASES,
                                            st.dictionaries(KEYS | st.text(min_size=1, max_size=12), VALUES,
                                                            max_size=2)), SETTINGS)
PROTECTED = st.one_of(st.just({}), st.just({}), st.just({'relayServerConnectionString': CONN}),
                      st.dictionaries(KEYS, VALUES, max_size=3))
FILES = st.one_of(st.none(), st.none(), st.none(), SETTINGS)


def _good_values(key):
    spec = s.CATALOGUE[key]
    if spec.kind == s.BOOL:
        return st.sampled_from(['true', 'false', 'True', 'FALSE'])
    if spec.kind == s.ENUM:
        return st.sampled_from(spec.choices + tuple(c.lower() for c in spec.choices))
    return st.sampled_from(['ml.contoso.com', 'azureml-tls', 'x'])


TYPED_KEYS = [key for _, key in s.TYPED_FLAGS if key not in ('sslCertPemFile', 'sslKeyPemFile')]
GOOD_TYPED = st.lists(st.sampled_from(TYPED_KEYS), max_size=3, unique=True).flatmap(
    lambda keys: st.fixed_dictionaries({key: _good_values(key) for key in keys}))
TYPED = st.dictionaries(st.sampled_from([key for _, key in s.TYPED_FLAGS]), VALUES, max_size=3)
LABELS = st.sampled_from(['agentpool', 'kubernetes.io/os', 'bad key', '', 'a/b/c', '-x']) | st.text(max_size=8)
NODE_SELECTOR = st.none() | st.none() | st.just({'agentpool': 'ml'}) | st.dictionaries(LABELS, VALUES, max_size=2)

JSON_SCALARS = st.none() | st.booleans() | st.integers(-3, 10) | st.text(max_size=6) | st.sampled_from(
    ['Succeeded', 'Failed', 'Updating', 'Linux', 'Standard_D4s_v3', 'SystemAssigned', 'msi', 'Connected',
     'Offline', 'openshift', 'k3s', '1.31.2', 'eastus', 'Registered'])
BODY_KEYS = st.sampled_from(['location', 'identity', 'type', 'properties', 'provisioningState', 'powerState',
                             'code', 'kubernetesVersion', 'currentKubernetesVersion', 'agentPoolProfiles', 'name',
                             'count', 'vmSize', 'osType', 'mode', 'nodeLabels', 'servicePrincipalProfile',
                             'clientId', 'disableLocalAccounts', 'apiServerAccessProfile', 'connectivityStatus',
                             'distribution', 'infrastructure', 'totalNodeCount', 'totalCoreCount'])
JSON = st.recursive(JSON_SCALARS, lambda children: st.lists(children, max_size=3) |
                    st.dictionaries(BODY_KEYS, children, max_size=5), max_leaves=25)
CLUSTER_BODIES = st.one_of(
    st.dictionaries(BODY_KEYS, JSON, max_size=6),
    st.sampled_from(['aks', 'arc']).map(lambda kind: load('aks_managed_cluster.json' if kind == 'aks' else
                                                          'arc_connected_cluster.json')),
    st.none(), st.just([]), st.just('text'))


def facts_for(ref, body):
    return facts_from_bodies(ref, body, skus=load('compute_skus.json'), k8s_versions=load('kubernetes_versions.json'),
                             cli_version='2.91.0')


def with_pem(typed, pem):
    """The typed flags as ``collect`` takes them: key -> (value, flag); plus the PEM files when given."""
    typed = {key: (value, '--' + key) for key, value in typed.items()}
    if pem:
        typed['sslCertPemFile'] = (pem[0], '--ssl-cert-pem-file')
        typed['sslKeyPemFile'] = (pem[1], '--ssl-key-pem-file')
    return typed


def check_derived(public, protected):
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in public.items())
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in protected.items())
    assert not set(public) & set(s.SECRET_KEYS), 'a secret key ended up in the public settings'
    assert not {'sslCertPemFile', 'sslKeyPemFile'} & (set(public) | set(protected)), 'a local path would be sent'
    assert set(s.masked(protected).values()) <= {s.PROTECTED_PLACEHOLDER}


# --- the settings model ----------------------------------------------------------------------------------------

@hsettings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(config=CONFIGS, protected=PROTECTED, config_file=FILES, protected_file=st.none() | PROTECTED,
       typed=st.one_of(st.just({}), GOOD_TYPED, TYPED), node_selector=NODE_SELECTOR, use_pem=st.booleans(),
       ref=st.sampled_from([AKS, ARC]), body=CLUSTER_BODIES, require_workload=st.booleans())
@example(config={'enableInference': 'true', 'inferenceRouterServiceType': 'NodePort', 'sslCname': 'ml.contoso.com'},
         protected={}, config_file=None, protected_file=None, typed={}, node_selector=None, use_pem=True, ref=AKS,
         body=None, require_workload=True)
@example(config={'relayserver.hybridConnectionResourceID': HC_ID, 'enableTraining': 'true'},
         protected={'relayServerConnectionString': CONN}, config_file=None, protected_file=None, typed={},
         node_selector=None, use_pem=False, ref=ARC, body={'properties': None}, require_workload=True)
# An empty relay connection string without its hybrid connection (found by this test: it was a KeyError in derive).
@example(config={}, protected={'relayServerConnectionString': ''}, config_file=None, protected_file=None, typed={},
         node_selector=None, use_pem=False, ref=AKS, body=None, require_workload=False)
def test_any_settings_give_what_to_send_or_a_specific_error(pem, config, protected, config_file, protected_file,
                                                            typed, node_selector, use_pem, ref, body,
                                                            require_workload):
    typed = with_pem(typed, pem if use_pem else None)
    try:
        collected = s.collect(config=config, protected=protected,
                              config_file=('c.json', config_file) if config_file is not None else None,
                              protected_file=('p.json', protected_file) if protected_file is not None else None,
                              typed=typed, node_selector=node_selector)
        resolved = s.resolve(collected, require_workload=require_workload)
        public, protected_out, notes = s.derive(resolved, facts_for(ref, body))
    except azclierror.AzCLIError as ex:
        assert_specific(ex)
        event(type(ex).__name__ + ': ' + ex.error_msg[:25])
        return
    event('settings derived' + (' with TLS' if resolved.tls is not None else ''))
    check_derived(public, protected_out)
    assert all(isinstance(n, str) for n in notes + resolved.warnings)
    if resolved.tls is not None:
        assert protected_out['scoringFe.sslCert'] and protected_out['scoringFe.sslKey']
    body_sent = s.extension_body(public, protected_out, s.resolve_version())
    json.dumps(body_sent)                                   # what the PUT carries is plain JSON


OLD_VALUES = st.none() | st.booleans() | st.integers(-2, 5) | VALUES
OLD_SETTINGS = st.dictionaries(KEYS | st.text(min_size=1, max_size=10), OLD_VALUES, max_size=8) | st.sampled_from([
    {'enableTraining': 'True', 'enableInference': 'True', 'inferenceRouterServiceType': 'LoadBalancer',
     'allowInsecureConnections': 'False', 'sslCname': 'ml.contoso.com'},
    {'enableTraining': 'True', 'relayserver.enabled': 'true', 'relayserver.hybridConnectionResourceID': HC_ID},
    {'enableTraining': 'True', 'servicebus.enabled': 'true', 'nodeSelector.agentpool': 'ml'},
    {}])


@hsettings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(old=OLD_SETTINGS, config=CONFIGS, protected=PROTECTED, typed=st.one_of(st.just({}), GOOD_TYPED, TYPED),
       node_selector=NODE_SELECTOR, use_pem=st.booleans(), ref=st.sampled_from([AKS, ARC]), body=CLUSTER_BODIES,
       auto_upgrade=st.none() | st.booleans(), version=st.none() | st.sampled_from(['1.1.70', 'abc', ' ']),
       train=st.none() | st.sampled_from(['stable', 'preview', 'nightly', '']))
def test_any_update_gives_a_patch_or_a_specific_error(pem, old, config, protected, typed, node_selector, use_pem,
                                                      ref, body, auto_upgrade, version, train):
    typed = with_pem(typed, pem if use_pem else None)
    before = copy.deepcopy(old)
    try:
        collected = s.collect(config=config, protected=protected, typed=typed, node_selector=node_selector)
        choice = s.resolve_version(auto_upgrade, version, train, default_train=False)
        plan = u.plan_update(old, collected, facts_for(ref, body), replace_node_selector=node_selector is not None)
        patch = u.patch_body(plan, choice)
    except azclierror.AzCLIError as ex:
        assert_specific(ex)
        event(type(ex).__name__)
        return
    event('patch planned' + (' with protected settings' if plan.protected is not None else ''))
    assert old == before                                     # the extension's settings are not modified
    assert all(isinstance(v, str) or v is None for v in plan.public.values())
    assert plan.protected is None or all(isinstance(v, str) for v in plan.protected.values())
    assert not set(plan.public) & set(s.SECRET_KEYS)
    assert all(isinstance(w, str) for w in plan.warnings)
    json.dumps(patch)


# --- cluster bodies with missing or null fields ----------------------------------------------------------------

def aks_body(**changes):
    body = load('aks_managed_cluster.json')
    for key, value in changes.items():
        if key in ('identity', 'properties', 'location'):
            body[key] = value
        elif value is None and key.startswith('drop_'):
            body['properties'].pop(key[5:], None)
        else:
            body['properties'][key] = value
    return body


def arc_body(**changes):
    body = load('arc_connected_cluster.json')
    for key, value in changes.items():
        if key == 'properties':
            body[key] = value
        else:
            body['properties'][key] = value
    return body


INTENT = prereqs.Intent(extension_name='azureml', training=True, inference=True, router_ha=None,
                        service_type='loadBalancer', node_selector={'agentpool': 'ml'}, nvidia_plugin=None)

WEIRD = {
    'aks without agentPoolProfiles': (AKS, aks_body(drop_agentPoolProfiles=None),
                                      ('node-architecture', 'capacity', 'inference-router-ha')),
    'aks with agentPoolProfiles null': (AKS, aks_body(agentPoolProfiles=None), ('node-architecture', 'capacity')),
    'aks with pools of nulls': (AKS, aks_body(agentPoolProfiles=[None, {}, {'name': None, 'count': None}]),
                                ('node-architecture',)),
    'aks without identity': (AKS, aks_body(identity=None, drop_servicePrincipalProfile=None), ('managed-identity',)),
    'aks with properties null': (AKS, aks_body(properties=None), ('cluster-state', 'local-accounts', 'capacity')),
    'aks empty body': (AKS, {}, ('cluster-state', 'managed-identity', 'capacity')),
    'arc with an unknown distribution': (ARC, arc_body(distribution='zz-unknown-k8s', infrastructure=None),
                                         ('node-architecture',)),
    'arc with properties null': (ARC, arc_body(properties=None), ('cluster-state', 'arc-connectivity', 'openshift')),
    'arc with null counts and status': (ARC, arc_body(totalNodeCount=None, totalCoreCount=None,
                                                      connectivityStatus=None), ('arc-connectivity', 'capacity')),
    'not an object': (AKS, ['not', 'an', 'object'], ('cluster-state',)),
}


@pytest.mark.parametrize('name', sorted(WEIRD))
def test_missing_or_null_fields_give_unknown_findings(name):
    ref, body, unknown_ids = WEIRD[name]
    facts = facts_for(ref, body)
    assert isinstance(facts, ClusterFacts) and facts.unknowns
    results = prereqs.run_checks(facts, INTENT)
    by_id = {r.id: r for r in results}
    for check_id in unknown_ids:
        assert by_id[check_id].status == prereqs.UNKNOWN, (check_id, by_id[check_id])
        assert by_id[check_id].finding
    # The settings still derive (with the cluster's unknowns left out), and a report can be printed.
    settings = s.resolve(s.collect(config={'enableTraining': 'true'}))
    public, _, _ = s.derive(settings, facts)
    assert public['cluster_name'] == ref.resource_id
    assert prereqs.summarize_failures(results) is not None
    json.dumps([r.to_dict() for r in results])


@hsettings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ref=st.sampled_from([AKS, ARC]), body=CLUSTER_BODIES,
       drop=st.lists(st.sampled_from(['agentPoolProfiles', 'identity', 'properties', 'location', 'distribution',
                                      'connectivityStatus', 'totalNodeCount', 'kubernetesVersion']), max_size=4),
       nulls=st.booleans())
def test_realistic_bodies_with_fields_removed_or_nulled_never_raise(ref, body, drop, nulls):
    body = copy.deepcopy(body)
    if isinstance(body, dict):
        for key in drop:
            for holder in (body, body.get('properties') if isinstance(body.get('properties'), dict) else {}):
                if key in holder:
                    if nulls:
                        holder[key] = None
                    else:
                        del holder[key]
    facts = facts_for(ref, body)
    results = prereqs.run_checks(facts, INTENT)
    assert all(r.status in prereqs.STATUSES and r.finding for r in results)
    s.derive(s.resolve(s.collect(config={'enableTraining': 'true'})), facts)


# --- reporting a failed operation ------------------------------------------------------------------------------

class FakeResponse:  # pylint: disable=too-few-public-methods
    def __init__(self, status, body, request=None, headers=None):
        self.status_code = status
        self.reason = 'X'
        self.request = request
        self.headers = headers or {}
        self._body = body
        self.content_type = 'application/json'

    def text(self, encoding=None):  # pylint: disable=unused-argument
        return self._body if isinstance(self._body, str) else json.dumps(self._body)

    def body(self):
        return self.text().encode('utf-8')


EXTENSION_BODIES = st.none() | st.just([]) | st.just('x') | st.dictionaries(
    st.sampled_from(['properties', 'name', 'id']), st.none() | st.just([]) | st.dictionaries(
        st.sampled_from(['provisioningState', 'errorInfo', 'statuses', 'configurationSettings']),
        st.none() | st.sampled_from(['Failed', 'Succeeded', 'Canceled']) | st.just({'code': 'X', 'message': 'Y'}) |
        st.just([{'code': None}]) | st.text(max_size=5), max_size=4), max_size=3)


@hsettings(max_examples=200, deadline=None)
@given(extension=EXTENSION_BODIES, text=st.text(max_size=80),
       error=st.none() | st.builds(SimpleNamespace, code=st.none() | st.text(max_size=5),
                                   message=st.none() | st.text(max_size=20)))
def test_the_failure_message_and_diagnosis_never_raise(extension, text, error):
    ex = HttpResponseError(message=text or None)
    ex.error = error
    message = waiting.service_message(ex, extension)
    assert isinstance(message, str) and '\n' not in message
    fixes = waiting.diagnose_failure(AKS, 'azureml', text, extension)
    assert fixes[-2].startswith('Full report: az amlk8s verify ') and fixes[-1].startswith('Troubleshooting guide')


def test_a_generic_poller_failure_takes_the_extensions_error_info():
    ex = HttpResponseError(message="Operation returned an invalid status 'OK'")
    failed = {'properties': {'provisioningState': 'Failed',
                             'errorInfo': {'code': 'ExtensionOperationFailed', 'message': 'Helm failed:  E40002'}}}
    assert waiting.service_message(ex, failed) == '(ExtensionOperationFailed) Helm failed: E40002'
    running = {'properties': {'provisioningState': 'Creating', 'errorInfo': {'code': 'Old', 'message': 'stale'}}}
    assert waiting.service_message(ex, running) == "Operation returned an invalid status 'OK'"


# --- adopting the operation our own retried PUT started ---------------------------------------------------------

EXT_URL = ('https://127.0.0.1/subscriptions/{}/resourceGroups/rg-ml/providers/Microsoft.ContainerService/'
           'managedClusters/aks-prod/providers/Microsoft.KubernetesConfiguration/extensions/azureml'
           '?api-version=2023-05-01'.format(SUB))
SENT = {'properties': {'extensionType': 'Microsoft.AzureML.Kubernetes',
                       'configurationSettings': {'enableTraining': 'true'},
                       'configurationProtectedSettings': {'k': 'v'}}}


class FakeNext:  # pylint: disable=too-few-public-methods
    """The rest of the pipeline: answers the PUT/PATCH with ``first``, a GET with ``current``."""

    def __init__(self, first_status, current, history=(), get_error=None):
        self.first_status = first_status
        self.current = current
        self.history = history
        self.get_error = get_error
        self.sent = []

    def send(self, request):
        self.sent.append(request.http_request.method)
        if request.http_request.method == 'GET':
            if self.get_error:
                raise self.get_error
            status, body = self.current
            return PipelineResponse(request.http_request, FakeResponse(status, body, request.http_request),
                                    request.context)
        if self.first_status is None:
            raise ServiceResponseError('connection reset before the answer')
        if self.history:
            request.context['history'] = [RequestHistory(request.http_request, error=e) if isinstance(e, Exception)
                                          else RequestHistory(request.http_request, FakeResponse(e, {}))
                                          for e in self.history]
        return PipelineResponse(request.http_request, FakeResponse(self.first_status, {'error': {'code': 'Conflict'}},
                                                                   request.http_request), request.context)


def run_policy(fake, method='PUT', url=EXT_URL, body=SENT):
    policy = _transport.OwnOperationPolicy()
    policy.next = fake
    request = HttpRequest(method, url)
    request.set_streamed_data_body(io.BytesIO(json.dumps(body).encode()))
    request.data.read()                      # as the transport leaves it: at the end
    return policy.send(PipelineRequest(request, PipelineContext(None)))


def stored(state='Creating', settings=None, ext_type='microsoft.azureml.kubernetes'):
    return 200, {'properties': {'extensionType': ext_type, 'provisioningState': state,
                                'configurationSettings': settings if settings is not None else
                                {'enableTraining': 'true'}}}


def test_a_conflict_after_a_lost_answer_follows_our_own_running_operation():
    fake = FakeNext(409, stored(), history=[ServiceResponseError('connection reset')])
    response = run_policy(fake)
    assert response.http_response.status_code == 200 and fake.sent == ['PUT', 'GET']
    assert response.http_request.method == 'PUT' and response.http_response.request.method == 'PUT'
    assert json.loads(response.http_response.text())['properties']['provisioningState'] == 'Creating'


@pytest.mark.parametrize('case', ['no retry', 'connect error only', 'other settings', 'other type', 'deleting',
                                  'get fails', 'get 404', 'not an extension', 'not a conflict', 'get not json'])
def test_any_other_conflict_is_left_as_the_service_said(case):
    fake = FakeNext(409, stored(), history=[ServiceResponseError('reset')])
    url, status = EXT_URL, 409
    if case == 'no retry':
        fake.history = ()
    elif case == 'connect error only':
        fake.history = [ServiceRequestError('refused')]      # never reached Azure: the running operation is not ours
    elif case == 'other settings':
        fake.current = stored(settings={'enableTraining': 'true', 'enableInference': 'true'})
    elif case == 'other type':
        fake.current = stored(ext_type='microsoft.flux')
    elif case == 'deleting':
        fake.current = stored(state='Deleting')
    elif case == 'get fails':
        fake.get_error = ServiceResponseError('reset again')
    elif case == 'get 404':
        fake.current = (404, {'error': {'code': 'ResourceNotFound'}})
    elif case == 'get not json':
        fake.current = (200, '<html>')
    elif case == 'not an extension':
        url = EXT_URL.replace('/extensions/azureml', '/fluxConfigurations/x')
    elif case == 'not a conflict':
        fake.first_status = status = 400
    response = run_policy(fake, url=url)
    assert response.http_response.status_code == status
    if case in ('no retry', 'connect error only', 'not an extension', 'not a conflict'):
        assert fake.sent == ['PUT']


def test_a_patch_is_ours_when_the_extension_holds_every_sent_change():
    patch = {'properties': {'configurationSettings': {'installVolcano': 'false', 'sslSecret': None}}}
    mine = stored(state='Updating', settings={'enableTraining': 'true', 'installVolcano': 'false'})
    assert run_policy(FakeNext(409, mine, history=[504]), method='PATCH', body=patch).http_response.status_code == 200
    other = stored(state='Updating', settings={'installVolcano': 'true'})
    assert run_policy(FakeNext(409, other, history=[504]), method='PATCH', body=patch).http_response.status_code == 409


def test_a_patch_whose_answer_was_lost_is_followed_only_when_it_arrived():
    patch = {'properties': {'configurationSettings': {'installVolcano': 'false'}}}
    arrived = FakeNext(None, stored(state='Updating', settings={'installVolcano': 'false'}))
    assert run_policy(arrived, method='PATCH', body=patch).http_response.status_code == 200
    never = FakeNext(None, stored(state='Succeeded', settings={'installVolcano': 'true'}))
    with pytest.raises(ServiceResponseError):
        run_policy(never, method='PATCH', body=patch)
    # A PATCH that changes nothing visible (protected settings only) counts as arrived only while Updating.
    secret_only = {'properties': {'configurationProtectedSettings': {'k': 'v'}}}
    with pytest.raises(ServiceResponseError):
        run_policy(FakeNext(None, stored(state='Succeeded')), method='PATCH', body=secret_only)
    assert run_policy(FakeNext(None, stored(state='Updating')), method='PATCH',
                      body=secret_only).http_response.status_code == 200
    # A PUT whose answer was lost is the pipeline's to retry: the error passes through.
    with pytest.raises(ServiceResponseError):
        run_policy(FakeNext(None, stored()), method='PUT')


@pytest.mark.parametrize('body, expected', [
    (b'{"a": 1}', b'{"a": 1}'), ('{"a": 1}', b'{"a": 1}'), (io.BytesIO(b'xyz'), b'xyz'), (None, b'')])
def test_the_sent_body_is_read_back_whatever_its_form(body, expected):
    request = SimpleNamespace(body=body)
    assert _transport._body_bytes(request) == expected
