# --------------------------------------------------------------------------------------------
# Copyright (c) amlk8s contributors. Licensed under the MIT License.
# --------------------------------------------------------------------------------------------
"""Step 3 for what the cluster's Kubernetes API shows: pure rules over the objects ``kube.py`` read (a dict of REST
path -> object, ``None`` for 404, ``kube.Denied`` for a refused read). Nothing is sent from here.

Sources: how-to-deploy-kubernetes-extension (components table, sslSecret), troubleshooting-kubernetes-extension
(health-check codes, legacy azureml-fe, Prometheus operator), Azure/AML-Kubernetes docs/troubleshooting.md (the
``arcml-healthcheck`` report) and docs/attach-compute-on-aks-v1-cluster.md (AKS v1 coexistence), Helm 3's ownership
metadata (``meta.helm.sh/release-name``/``-namespace``, label ``app.kubernetes.io/managed-by``).

- ``identity_paths`` / ``prove_identity``: is the API server this cluster? (AKS: server host = ``fqdn`` or
  ``privateFQDN``, or the subscription and node resource group in the nodes' ``spec.providerID``; Arc: the resource
  id in configmap ``azure-clusterconfig`` in ``azure-arc``.)
- ``before_paths`` / ``before_checks``: what blocks a deploy, as ``prereqs.CheckResult`` rows.
- what runs after the write (``verify``): ``running.py``.
"""

import base64
import re
from typing import List, Mapping, Optional, Tuple
from urllib.parse import urlsplit

from azext_amlk8s.rules import health, scheduling
from azext_amlk8s.rules.scheduling import quantity
from azext_amlk8s._constants import RELEASE_NAMESPACE
from azext_amlk8s._text import shell_quote
from azext_amlk8s.facts.kube import SKIPPED, Denied, path_of
from azext_amlk8s.rules.prereqs import FAIL, PASS, UNKNOWN, WARNING, CheckResult, apply_ignore
from azext_amlk8s.rules.prereqs import _fmt, _join, _plural, _result as _row
from azext_amlk8s.rules.settings import as_bool

NS = RELEASE_NAMESPACE
AKS_CLUSTER_LABEL = 'kubernetes.azure.com/cluster'
HELM_MANAGED_BY = 'app.kubernetes.io/managed-by'
HELM_RELEASE = 'meta.helm.sh/release-name'
HELM_RELEASE_NAMESPACE = 'meta.helm.sh/release-namespace'
NVIDIA_GPU = 'nvidia.com/gpu'
HEALTHCHECK_CONFIGMAP = 'arcml-healthcheck'
ROUTER_SERVICE = 'azureml-fe'

VOLCANO_CRDS = ('jobs.batch.volcano.sh', 'commands.bus.volcano.sh', 'podgroups.scheduling.volcano.sh',
                'queues.scheduling.volcano.sh', 'numatopologies.nodeinfo.volcano.sh')
PROMETHEUS_OPERATOR_CRDS = tuple(f'{p}.monitoring.coreos.com' for p in (
    'alertmanagerconfigs', 'alertmanagers', 'podmonitors', 'probes', 'prometheuses', 'prometheusrules',
    'servicemonitors', 'thanosrulers'))
CHART_CLUSTER_ROLES = ('blob-external-provisioner-role',)

# The AKS v1 (AksCompute) inference router's objects (troubleshooting-kubernetes-extension, "legacy azureml-fe").
# Its secret azuremlfessl is not read: secrets are read only for sslSecret.
LEGACY_FE = (('deployment', path_of('default', 'deployments', 'azureml-fe', 'apps')),
             ('service', path_of('default', 'services', 'azureml-fe')),
             ('service', path_of('default', 'services', 'azureml-fe-int-http')),
             ('serviceaccount', path_of('default', 'serviceaccounts', 'azureml-fe')),
             ('configmap', path_of('default', 'configmaps', 'azuremlfeconfig')),
             ('clusterrole', path_of(None, 'clusterroles', 'azureml-fe-role', 'rbac.authorization.k8s.io')),
             ('clusterrolebinding', path_of(None, 'clusterrolebindings', 'azureml-fe-binding',
                                            'rbac.authorization.k8s.io')))
LEGACY_FE_CLEANUP = ('kubectl delete deploy azureml-fe -n default; kubectl delete svc azureml-fe azureml-fe-int-http '
                     '-n default; kubectl delete sa azureml-fe -n default; kubectl delete cm azuremlfeconfig -n '
                     'default; kubectl delete secret azuremlfessl -n default; kubectl delete clusterrole '
                     'azureml-fe-role; kubectl delete clusterrolebinding azureml-fe-binding')

NODES = path_of(None, 'nodes', query={'limit': 500})
ALL_PODS = path_of(None, 'pods', query={'limit': 500})      # pod slots: the pods bound to each node
ARC_CONFIG = path_of('azure-arc', 'configmaps', 'azure-clusterconfig')
NAMESPACE = path_of(None, 'namespaces', NS)
INGRESS_CLASSES = path_of(None, 'ingressclasses', group='networking.k8s.io')
DAEMONSETS = path_of(None, 'daemonsets', group='apps', query={'limit': 500})


# --- small readers -------------------------------------------------------------------------------------------------

def _meta(obj) -> Mapping:
    value = obj.get('metadata') if isinstance(obj, Mapping) else None
    return value if isinstance(value, Mapping) else {}


def _labels(obj) -> Mapping:
    value = _meta(obj).get('labels')
    return value if isinstance(value, Mapping) else {}


def _annotations(obj) -> Mapping:
    value = _meta(obj).get('annotations')
    return value if isinstance(value, Mapping) else {}


def _name(obj) -> str:
    return str(_meta(obj).get('name') or '')


def _items(body) -> list:
    items = body.get('items') if isinstance(body, Mapping) else None
    return [i for i in items if isinstance(i, Mapping)] if isinstance(items, list) else []


def _int(value, default=0) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def _truthy(public, key, default):
    value = as_bool((public or {}).get(key))
    return default if value is None else value


# --- is it this cluster? -------------------------------------------------------------------------------------------

def identity_paths(ref) -> List[str]:
    return [NODES, ARC_CONFIG] if ref.is_arc else [NODES]


def _aks_hosts(facts):
    return {h.lower() for h in (facts.fqdn, facts.private_fqdn) if h}


def _is_name(host):
    return bool(host) and not re.match(r'^[0-9.]+$|^\[?[0-9a-f:]+\]?$', host, re.IGNORECASE) and host != 'localhost'


def prove_identity(facts, server, bodies) -> Tuple[Optional[bool], str]:
    """(True, how) when the API server is this cluster, (False, what it is instead) when it is another one, and
    (None, why) when it cannot be told.

    Only facts that are unique prove it: on AKS the API server's host against ``fqdn``/``privateFQDN`` (a name with a
    random part, unique in Azure), or the subscription and node resource group in the nodes' ``spec.providerID``
    (``azure:///subscriptions/<sub>/resourceGroups/<node-rg>/...``: a node resource group is unique only within a
    subscription). The label ``kubernetes.azure.com/cluster`` (= the node resource group, ``MC_<rg>_<name>_<region>``)
    repeats in every subscription: it can show another cluster, never prove this one. On Arc: the resource id (the
    subscription, resource group and name) the Arc agents were connected with, in ``azure-clusterconfig``.
    """
    ref = facts.ref
    if ref.is_arc:
        return _prove_arc(ref, bodies.get(ARC_CONFIG))
    host = (urlsplit(server).hostname or '').lower()
    expected = _aks_hosts(facts)
    host_known = _is_name(host) and bool(expected)
    if host_known and host in expected:
        return True, f'its server is {host}'
    if host_known and _zone(host) in {_zone(h) for h in expected}:
        return False, f'the AKS cluster whose API server is {host} (this cluster\'s is {_join(sorted(expected))})'
    return _prove_by_nodes(facts, bodies.get(NODES))


def _provider_scopes(nodes) -> set:
    """{(subscription, resource group)} of the nodes' ``spec.providerID``; Azure nodes only."""
    scopes = set()
    for node in _items(nodes):
        spec = node.get('spec') if isinstance(node.get('spec'), Mapping) else {}
        found = _PROVIDER_ID.match(str(spec.get('providerID') or ''))
        if found:
            scopes.add((found.group('sub'), found.group('rg')))
    return scopes


_PROVIDER_ID = re.compile(r'^azure://+subscriptions/(?P<sub>[^/]+)/resourceGroups/(?P<rg>[^/]+)/', re.IGNORECASE)


def _prove_by_nodes(facts, nodes) -> Tuple[Optional[bool], str]:
    ref = facts.ref
    if isinstance(nodes, Denied):
        return None, f'listing nodes was refused ({nodes}), so it could not be proven to be the {ref.display}'
    if not isinstance(nodes, Mapping) or not _items(nodes):
        return None, f'neither its nodes nor its server name show that it is the {ref.display}'
    wanted = (ref.subscription_id.lower(), (facts.node_resource_group or '').lower())
    scopes = _provider_scopes(nodes)
    groups = {str(_labels(n).get(AKS_CLUSTER_LABEL)) for n in _items(nodes) if _labels(n).get(AKS_CLUSTER_LABEL)}
    if scopes and wanted[1]:
        if wanted in {(sub.lower(), rg.lower()) for sub, rg in scopes}:
            return True, (f'its nodes are virtual machines of subscription {ref.subscription_id} in resource group '
                          f'{facts.node_resource_group}')
        # The label keeps the node resource group's case (providerID has it in lower case).
        named = {g.lower(): g for g in groups}
        shown = _join(sorted(f'{named.get(rg.lower(), rg)} (subscription {sub})' for sub, rg in scopes))
        return False, (f'the AKS cluster whose nodes are in node resource group {shown}; this cluster\'s node '
                       f'resource group is {facts.node_resource_group} (subscription {ref.subscription_id})')
    if not groups or (wanted[1] and wanted[1] not in {g.lower() for g in groups}):
        return False, (f'the AKS cluster with node resource group {_join(sorted(groups))} (this cluster\'s node '
                       f'resource group is {facts.node_resource_group})' if groups else
                       f'a cluster that is not AKS (its nodes carry no {AKS_CLUSTER_LABEL} label and no Azure '
                       'providerID)')
    return None, (f'its nodes carry {AKS_CLUSTER_LABEL}={_join(sorted(groups)) or "?"}, a name that repeats in every '
                  'subscription, and no Azure providerID with the subscription, so it could not be proven to be the '
                  f'{ref.display}')


def _zone(host):
    """The DNS zone AKS API servers share (``hcp.eastus.azmk8s.io`` for ``x-1234.hcp.eastus.azmk8s.io``)."""
    return host.split('.', 1)[1] if '.' in host else host


def _prove_arc(ref, config):
    if isinstance(config, Denied):
        return None, (f'reading configmap azure-clusterconfig in azure-arc was refused ({config}), so it could not be '
                      f'proven to be the {ref.display}')
    if not isinstance(config, Mapping):
        return False, 'a cluster that is not connected to Azure Arc (no configmap azure-clusterconfig in azure-arc)'
    data = config.get('data') if isinstance(config.get('data'), Mapping) else {}
    name, group = str(data.get('AZURE_RESOURCE_NAME') or ''), str(data.get('AZURE_RESOURCE_GROUP') or '')
    sub = str(data.get('AZURE_SUBSCRIPTION_ID') or '')
    if (name.lower(), group.lower(), sub.lower()) == (ref.cluster_name.lower(), ref.resource_group.lower(),
                                                      ref.subscription_id.lower()):
        return True, f'its Arc agents are connected as {ref.cluster_name} in resource group {ref.resource_group}'
    return False, (f"the Azure Arc-enabled cluster '{name}' in resource group '{group}' (subscription {sub})")


def wrong_cluster_error(ref, server, source, other):
    from azure.cli.core.azclierror import ValidationError
    return ValidationError(
        f'The Kubernetes API server {server} ({source}) is not the {ref.display}: it is {other}. Nothing read from it '
        'is reported.',
        'Pass --kube-config (and --kube-context) for this cluster: ' + (
            f'az aks get-credentials {ref.aks_args} --file <kubeconfig>' if ref.is_aks else
            f'az connectedk8s proxy {ref.aks_args} --file <kubeconfig>'))


# --- before the write ------------------------------------------------------------------------------------------------

def _wants(settings_public, ref, intent):
    """(training, inference, volcano, prometheus operator, nginx, nvidia, dcgm) as the deploy would set them."""
    public = settings_public or {}
    training = intent.training if intent.training is not None else True
    inference = bool(intent.inference)
    return {
        'training': training,
        'inference': inference,
        'volcano': training and _truthy(public, 'installVolcano', True),
        'promop': _truthy(public, 'installPromOp', True) and not _truthy(public, 'reuseExistingPromOp', False),
        'nginx': inference and _truthy(public, 'nginxIngress.enabled', ref.is_aks),
        'nvidia': _truthy(public, 'installNvidiaDevicePlugin', False),
        'dcgm': _truthy(public, 'installDcgmExporter', False),
        'ssl_secret': str(public.get('sslSecret') or public.get('scoringFe.sslSecret') or '').strip(),
        'cname': str(public.get('sslCname') or '').strip() or None,
    }


def before_paths(ref, settings_public, intent) -> List[str]:
    wants = _wants(settings_public, ref, intent)
    paths = [NAMESPACE] + [p for _, p in LEGACY_FE]
    paths += [path_of(None, 'customresourcedefinitions', n, 'apiextensions.k8s.io') for n in
              VOLCANO_CRDS + PROMETHEUS_OPERATOR_CRDS]
    paths += [path_of(None, 'clusterroles', n, 'rbac.authorization.k8s.io') for n in CHART_CLUSTER_ROLES]
    if wants['nginx']:
        paths.append(INGRESS_CLASSES)
    if wants['nvidia'] or wants['dcgm']:
        paths.append(DAEMONSETS)
    if wants['ssl_secret'] and wants['inference']:
        paths.append(path_of(NS, 'secrets', wants['ssl_secret']))
    return paths + [ALL_PODS]


def _owned_by_release(obj, release):
    ann = _annotations(obj)
    return (str(ann.get(HELM_RELEASE) or '') == release and str(ann.get(HELM_RELEASE_NAMESPACE) or '') == NS
            and str(_labels(obj).get(HELM_MANAGED_BY) or '') == 'Helm')


def _owner(obj):
    ann = _annotations(obj)
    if ann.get(HELM_RELEASE):
        return f"Helm release {ann.get(HELM_RELEASE)} in namespace {ann.get(HELM_RELEASE_NAMESPACE) or '?'}"
    return 'no Helm release'


def before_checks(facts, bodies, intent, settings_public, ignore=()) -> List[CheckResult]:
    """The in-cluster rows of check and deploy (FAIL rows in ``ignore`` become IGNORED)."""
    ref = facts.ref
    wants = _wants(settings_public, ref, intent)
    release = intent.extension_name
    rows = [_legacy_fe(ref, bodies), _namespace(bodies), _ownership(bodies, wants, release)]
    if wants['nginx']:
        rows.append(_ingress(bodies, release))
    if wants['ssl_secret'] and wants['inference']:
        rows.append(_ssl_secret(bodies, wants))
    rows += _node_rows(facts, bodies, intent)
    rows.append(_pod_slots(facts, bodies, intent, settings_public, wants))
    if wants['nvidia'] or wants['dcgm']:
        rows.append(_gpu_software(bodies, wants, release))
    return apply_ignore([row for row in rows if row is not None], ignore)


def merge_rows(results, rows):
    """ARM's rows with the in-cluster ones: a row with the same id (Arc's node rows) replaces ARM's unknown."""
    by_id = {r.id: r for r in rows}
    merged = [by_id.pop(r.id) if r.id in by_id else r for r in results]
    return merged + [r for r in rows if r.id in by_id]


def _unread(check_id, what, answer):
    return _row(check_id, UNKNOWN, f'Could not read {what} ({answer}).', f'Ask for read access to {what}.')


def _legacy_fe(ref, bodies):
    cid = 'legacy-azureml-fe'
    found = [f'{kind} {_name(bodies[p]) or p.rsplit("/", 1)[-1]}' for kind, p in LEGACY_FE
             if isinstance(bodies.get(p), Mapping) and not _annotations(bodies[p]).get(HELM_RELEASE)]
    denied = [p for _, p in LEGACY_FE if isinstance(bodies.get(p), Denied)]
    if found:
        deployment = bodies.get(LEGACY_FE[0][1])
        upgrade = str(_annotations(deployment).get('azureml-fe-enable-upgrade', '')).lower() == 'true'
        fix = (f'Detach the legacy AKS v1 (AksCompute) compute, save its TLS secret if it used one (kubectl get secret '
               f'azuremlfessl -n default -o yaml), then remove its objects: {LEGACY_FE_CLEANUP}')
        if ref.is_aks:
            fix += ('. Or keep the v1 compute and let the extension take over the router (AKS only): kubectl '
                    'annotate deploy azureml-fe -n default azureml-fe-enable-upgrade=true --overwrite, then deploy '
                    'with --config scoringFe.enableUpgrade=true')
        if upgrade and ref.is_aks:
            return _row(cid, WARNING, f'The legacy AKS v1 inference router is in namespace default ({_join(found)}), '
                        'annotated for the documented coexistence path: deploy with --config '
                        'scoringFe.enableUpgrade=true.', fix)
        return _row(cid, FAIL, f'The legacy AKS v1 inference router is in namespace default ({_join(found)}): the '
                    'extension fails with E45004/E45005 (AZUREML_FE_ROLE_CONFLICT, AZUREML_FE_DEPLOYMENT_CONFLICT).',
                    fix)
    if denied:
        return _unread(cid, 'the legacy azureml-fe objects in namespace default', bodies[denied[0]])
    return _row(cid, PASS, 'No legacy AKS v1 inference router (azureml-fe in namespace default).')


def _namespace(bodies):
    cid = 'azureml-namespace'
    body = bodies.get(NAMESPACE)
    if isinstance(body, Denied):
        return _unread(cid, f'namespace {NS}', body)
    if body is None:
        return _row(cid, PASS, f'Namespace {NS} does not exist yet; the extension creates it.')
    phase = str((body.get('status') or {}).get('phase') or 'Active')
    if phase.lower() == 'terminating':
        return _row(cid, FAIL, f'Namespace {NS} is Terminating: Helm refuses to install into a namespace that is being '
                    'terminated.', f'Wait until it is gone (kubectl get namespace {NS} -w); if it stays, look for '
                    f'what holds it: kubectl get namespace {NS} -o jsonpath="{{.status.conditions}}"')
    return _row(cid, PASS, f'Namespace {NS} is {phase}.')


def _ownership(bodies, wants, release):
    cid = 'helm-ownership'
    groups = []
    if wants['volcano']:
        groups.append(('Volcano', VOLCANO_CRDS, 'crd', 'reuse it with --install-volcano false (supported Volcano '
                       '1.4 and 1.5), or uninstall the other Volcano'))
    if wants['promop']:
        groups.append(('Prometheus operator', PROMETHEUS_OPERATOR_CRDS, 'crd', 'reuse it with --install-prom-op '
                       'false (E45002 PROMETHEUS_CONFLICT; then set it up as the troubleshooting guide says), or '
                       'uninstall the other operator'))
    groups.append(('cluster role', CHART_CLUSTER_ROLES, 'clusterrole', 'delete it (kubectl delete clusterrole '
                   '<name>) if nothing else uses it'))
    problems, fixes, denied = [], [], None
    for label, names, kind, fix in groups:
        clashing = []
        for name in names:
            path = (path_of(None, 'customresourcedefinitions', name, 'apiextensions.k8s.io') if kind == 'crd'
                    else path_of(None, 'clusterroles', name, 'rbac.authorization.k8s.io'))
            body = bodies.get(path)
            if isinstance(body, Denied):
                denied = denied or body
            elif isinstance(body, Mapping) and not _owned_by_release(body, release):
                clashing.append((name, _owner(body)))
        if clashing:
            owners = sorted({o for _, o in clashing})
            noun = (' CRDs' if len(clashing) > 1 else ' CRD') if kind == 'crd' else ''
            more = ' and more' if len(clashing) > 3 else ''
            problems.append(f"{label}{noun} {_join([n for n, _ in clashing[:3]])}{more} (owned by {_join(owners)})")
            fixes.append(f'{label}: {fix}')
    if problems:
        return _row(cid, FAIL, f'Objects the extension installs already exist without release {release}\'s Helm '
                    f'ownership: {"; ".join(problems)}. Helm fails with "invalid '
                    'ownership metadata".', '; '.join(fixes))
    if denied is not None:
        return _unread(cid, 'the CRDs and cluster roles the extension installs', denied)
    return _row(cid, PASS, 'No CRD or cluster role the extension installs belongs to another release.')


def _ingress(bodies, release):
    cid = 'ingress-nginx'
    body = bodies.get(INGRESS_CLASSES)
    if isinstance(body, Denied):
        return _unread(cid, 'the IngressClasses', body)
    foreign = [c for c in _items(body) if str((c.get('spec') or {}).get('controller') or '') == 'k8s.io/ingress-nginx'
               and not _owned_by_release(c, release)]
    if foreign:
        return _row(cid, FAIL, f"IngressClass {_join([_name(c) for c in foreign])} of another ingress-nginx install "
                    f"({_join(sorted({_owner(c) for c in foreign}))}) has controller k8s.io/ingress-nginx: the "
                    "extension's ingress-nginx would clash with it (admission webhook errors).",
                    'Deploy without the extension\'s ingress controller: --config nginxIngress.enabled=false, or '
                    'uninstall the other ingress-nginx')
    return _row(cid, PASS, 'No other ingress-nginx IngressClass.')


def _ssl_secret(bodies, wants):
    from azure.cli.core.azclierror import AzCLIError
    from azext_amlk8s.rules.tls import check_tls_data
    cid, name = 'ssl-secret', wants['ssl_secret']
    body = bodies.get(path_of(NS, 'secrets', name))
    where = f'secret {name} in namespace {NS}'
    create = (f'kubectl create secret generic {shell_quote(name)} -n {NS} --from-file=cert.pem=<cert.pem> '
              '--from-file=key.pem=<key.pem>')
    if isinstance(body, Denied):
        return _unread(cid, where, body)
    if body is None:
        return _row(cid, FAIL, f'The {where} (--ssl-secret) does not exist.',
                    f'Create it before deploying (kubectl create namespace {NS} first if needed): {create}')
    data = body.get('data') if isinstance(body.get('data'), Mapping) else {}
    missing = [k for k in ('cert.pem', 'key.pem') if not data.get(k)]
    if missing:
        return _row(cid, FAIL, f'The {where} has no {_join(missing)}: the inference router reads cert.pem and key.pem.',
                    f'Recreate it with both keys: kubectl delete secret {shell_quote(name)} -n {NS}; {create}')
    try:
        material = check_tls_data(base64.b64decode(data['cert.pem']), base64.b64decode(data['key.pem']),
                                  wants['cname'], cert_label=f'{where}, key cert.pem',
                                  key_label=f'{where}, key key.pem', arg='--ssl-secret')
    except (ValueError, TypeError):
        return _row(cid, FAIL, f'The {where} holds data that is not base64.', create)
    except AzCLIError as ex:
        return _row(cid, FAIL, ex.error_msg, ' '.join(getattr(ex, 'recommendations', None) or []) or create)
    notes = ' ' + ' '.join(material.warnings) if material.warnings else ''
    return _row(cid, WARNING if material.warnings else PASS,
                f'The {where} holds a certificate for {_join(material.dns_names or [material.subject_cn or "?"])} '
                f'and its key.{notes}')


def _nodes(bodies):
    body = bodies.get(NODES)
    return _items(body) if isinstance(body, Mapping) else None


def _node_arch(node):
    return str(_labels(node).get('kubernetes.io/arch') or (node.get('status') or {}).get('nodeInfo', {}).get(
        'architecture') or '').lower()


def _node_os(node):
    return str(_labels(node).get('kubernetes.io/os') or (node.get('status') or {}).get('nodeInfo', {}).get(
        'operatingSystem') or 'linux').lower()


def _allocatable(node, key):
    return quantity(((node.get('status') or {}).get('allocatable') or {}).get(key)) or 0.0


def _node_rows(facts, bodies, intent):
    nodes = _nodes(bodies)
    if isinstance(bodies.get(NODES), Denied):   # unknown, not "no node": each check that needed them says so
        ids = ('node-architecture', 'capacity', 'gpu-device-plugin') if facts.ref.is_arc else ('gpu-device-plugin',)
        ids += ('node-selector',) if intent.node_selector else ()
        return [_unread(cid, 'the nodes', bodies[NODES]) for cid in ids]
    if nodes is None:
        return []
    linux = [n for n in nodes if _node_os(n) == 'linux' and not (n.get('spec') or {}).get('unschedulable')]
    eligible, excluded = scheduling.eligible_nodes(nodes, intent.node_selector)
    rows = []
    if intent.node_selector:
        status, finding, fix = scheduling.selector_finding(nodes, intent.node_selector, facts.ref.is_arc)
        rows.append(_row('node-selector', status, finding, fix or None))
    if intent.inference and intent.router_ha is True:
        status, finding, fix = scheduling.router_ha_finding(eligible, excluded, intent.node_selector)
        rows.append(_row('inference-router-ha', status, finding, fix or None))
    if facts.ref.is_arc:
        rows.append(_arc_arch(linux))
        rows.append(_arc_capacity(eligible if intent.node_selector else linux, intent))
    rows.append(_gpus(facts, linux, intent))
    return rows


def _pod_slots(facts, bodies, intent, settings_public, wants):
    cid = 'pod-slots'
    nodes, pods = _nodes(bodies), bodies.get(ALL_PODS)
    if nodes is None:
        return None
    if not isinstance(pods, Mapping):
        return _unread(cid, 'the pods of every namespace', pods) if isinstance(pods, Denied) else None
    eligible, _ = scheduling.eligible_nodes(nodes, intent.node_selector)
    if not eligible:    # no node at all: the node-selector and node rows say so
        return None
    expected = health.expected_components(dict(settings_public or {}), facts.ref.cluster_type, intent.extension_name)
    status, finding, fix = scheduling.pod_slot_finding(scheduling.free_pod_slots(eligible, _items(pods)),
                                                       len(expected), wants['nvidia'] or wants['dcgm'])
    return _row(cid, status, finding, fix or None)


def _arc_arch(linux):
    cid = 'node-architecture'
    arm = [_name(n) for n in linux if _node_arch(n) == 'arm64']
    x64 = [_name(n) for n in linux if _node_arch(n) == 'amd64']
    if not linux:
        return _row(cid, FAIL, 'The cluster has no schedulable Linux node.', 'Add a linux/amd64 node')
    if arm and not x64:
        return _row(cid, FAIL, f'Every Linux node ({_join(arm[:5])}) is Arm64, which the AzureML extension does not '
                    'support.', 'Add a linux/amd64 node')
    if arm:
        return _row(cid, WARNING, f'Node {_join(arm[:5])} is Arm64, which the AzureML extension does not support.',
                    'Restrict the extension to amd64 nodes: --node-selector kubernetes.io/arch=amd64')
    return _row(cid, PASS, f'Every Linux node ({len(x64)}) is amd64, read from the cluster.')


def _arc_capacity(linux, intent):
    from azext_amlk8s.rules.prereqs import capacity_minimum
    cid = 'capacity'
    usable = [n for n in linux if scheduling.is_ready(n) and _node_arch(n) in ('amd64', '')]
    scenario, workload, cpu_need, mem_need = capacity_minimum(intent, len(usable))
    cpu = sum(_allocatable(n, 'cpu') for n in usable)
    mem = sum(_allocatable(n, 'memory') for n in usable) / 1024 ** 2
    label = 'inference and training' if workload == 'both' else workload
    need = f'the {scenario} {label} minimum is {_fmt(cpu_need / 1000.0)} vCPU and {_fmt(mem_need / 1024.0)} GiB'
    have = (f"{_plural(len(usable), 'ready Linux amd64 node')} offer {_fmt(cpu)} vCPU and {_fmt(mem / 1024.0)} GiB "
            'allocatable')
    if cpu * 1000 >= cpu_need and mem >= mem_need:
        return _row(cid, PASS, f'{have}; {need}.')
    return _row(cid, WARNING, f'{have}; {need}.', 'Add nodes or use larger nodes (with your distribution\'s tooling); '
                'see what is allocatable: kubectl describe nodes')


# How a node says it has NVIDIA GPUs, whether or not a device plugin advertises them: the labels AKS sets on GPU
# pools, the NVIDIA GPU operator's feature discovery label, an Azure GPU VM size (N-series: NC, ND, NV).
_GPU_LABELS = (('accelerator', 'nvidia'), ('kubernetes.azure.com/accelerator', 'nvidia'),
               ('nvidia.com/gpu.present', 'true'))


def _gpu_hardware(node):
    labels = _labels(node)
    size = str(labels.get('node.kubernetes.io/instance-type') or labels.get('beta.kubernetes.io/instance-type') or '')
    return any(str(labels.get(k) or '').lower() == v for k, v in _GPU_LABELS) or \
        re.match(r'^standard_n[cdv]', size.lower()) is not None


def _gpus(facts, linux, intent):
    cid = 'gpu-device-plugin'
    allocatable = [_name(n) for n in linux if _allocatable(n, NVIDIA_GPU) > 0]
    labelled = [_name(n) for n in linux if _gpu_hardware(n)]
    if intent.nvidia_plugin is True:
        if not labelled and not allocatable:
            return _row(cid, WARNING, 'installNvidiaDevicePlugin=true, but no node is labelled as an NVIDIA GPU node.',
                        'Deploy with --install-nvidia-device-plugin false, or add GPU nodes')
        return _row(cid, PASS, f'GPU node {_join((labelled or allocatable)[:5])}: the extension installs the NVIDIA '
                    'device plugin.')
    bare = [n for n in labelled if n not in allocatable]
    if bare:
        return _row(cid, FAIL, f'GPU node {_join(bare[:5])} offers no {NVIDIA_GPU} in its capacity and '
                    'installNvidiaDevicePlugin is off: no device plugin advertises the GPUs, so GPU jobs and GPU '
                    'instance types never schedule.', 'Deploy with --install-nvidia-device-plugin true, or install '
                    'the NVIDIA GPU operator (or, on AKS, the device plugin) first; without GPU workloads: '
                    '--ignore-check gpu-device-plugin')
    if allocatable:
        return _row(cid, PASS, f'GPU node {_join(allocatable[:5])} already offers {NVIDIA_GPU} (a device plugin '
                    'runs).')
    return _row(cid, PASS, 'No GPU nodes.') if facts.ref.is_arc else None


def _gpu_software(bodies, wants, release):
    cid = 'gpu-software'
    body = bodies.get(DAEMONSETS)
    if isinstance(body, Denied):
        return _unread(cid, 'the daemonsets', body)
    clashes = []
    for ds in _items(body):
        name, owned = _name(ds).lower(), _owned_by_release(ds, release)
        if owned:
            continue
        where = f"daemonset {_name(ds)} in namespace {_meta(ds).get('namespace')}"
        if wants['nvidia'] and 'nvidia-device-plugin' in name:
            clashes.append((where, '--install-nvidia-device-plugin false'))
        elif wants['dcgm'] and 'dcgm-exporter' in name:
            clashes.append((where, '--install-dcgm-exporter false'))
    if clashes:
        return _row(cid, FAIL, f'{_join([w for w, _ in clashes])} already run{"s" if len(clashes) == 1 else ""}: a '
                    'second copy from the extension conflicts with it.',
                    f"Keep the existing one and deploy with {' '.join(sorted({f for _, f in clashes}))}")
    return _row(cid, PASS, 'No NVIDIA device plugin or DCGM exporter from another install.')


# --- the access row --------------------------------------------------------------------------------------------------

def access_row(access, proof=None):
    """The 'cluster-api' row: what was read, or why not."""
    cid = 'cluster-api'
    if access.status == SKIPPED:
        return _row(cid, SKIPPED, 'In-cluster checks skipped (--arm-only): the cluster\'s Kubernetes API was not '
                    'read.')
    if not access.is_read:
        return _row(cid, UNKNOWN, f'In-cluster checks not run: {access.reason}', access.fix or None)
    return _row(cid, PASS, f'Read the Kubernetes API at {access.server} ({access.source}); {proof}.')
