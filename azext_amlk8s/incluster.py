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
- ``after_paths`` / ``after_report``: what runs, for ``verify`` (workloads, pods, the health-check report, the
  inference router's address) and its findings.
"""

import base64
import re
from typing import Dict, List, Mapping, Optional, Tuple
from urllib.parse import urlsplit

from azext_amlk8s import health, scheduling
from azext_amlk8s._constants import NETWORK_REQUIREMENTS_LINK, RELEASE_NAMESPACE, TSG_LINK
from azext_amlk8s._text import shell_quote
from azext_amlk8s.kube import SKIPPED, Denied, path_of
from azext_amlk8s.prereqs import FAIL, PASS, UNKNOWN, WARNING, CheckResult, apply_ignore
from azext_amlk8s.prereqs import _fmt, _join, _plural, _result as _row
from azext_amlk8s.settings import as_bool

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


_QUANTITY = re.compile(r'^([+-]?[0-9.]+(?:[eE][+-]?[0-9]+)?)([a-zA-Z]*)$')
_SUFFIX = {'': 1, 'm': 1e-3, 'k': 1e3, 'M': 1e6, 'G': 1e9, 'T': 1e12, 'P': 1e15, 'E': 1e18,
           'Ki': 1024, 'Mi': 1024 ** 2, 'Gi': 1024 ** 3, 'Ti': 1024 ** 4, 'Pi': 1024 ** 5, 'Ei': 1024 ** 6}


def quantity(value) -> Optional[float]:
    """A Kubernetes resource quantity ("3860m", "12880532Ki", "16Gi", "4") as a plain number; None if unreadable."""
    match = _QUANTITY.match(str(value if value is not None else '').strip())
    if not match or match.group(2) not in _SUFFIX:
        return None
    try:
        return float(match.group(1)) * _SUFFIX[match.group(2)]
    except ValueError:
        return None


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
    from azext_amlk8s.tls import check_tls_data
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


def _is_ready(node):
    for cond in (node.get('status') or {}).get('conditions') or []:
        if isinstance(cond, Mapping) and cond.get('type') == 'Ready':
            return cond.get('status') == 'True'
    return False


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
    from azext_amlk8s.prereqs import capacity_minimum
    cid = 'capacity'
    usable = [n for n in linux if _is_ready(n) and _node_arch(n) in ('amd64', '')]
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


def _gpus(facts, linux, intent):
    cid = 'gpu-device-plugin'
    allocatable = [_name(n) for n in linux if _allocatable(n, NVIDIA_GPU) > 0]
    labelled = [_name(n) for n in linux if str(_labels(n).get('accelerator') or '').lower() == 'nvidia'
                or str(_labels(n).get('nvidia.com/gpu.present') or '').lower() == 'true']
    if intent.nvidia_plugin is True:
        if not labelled and not allocatable:
            return _row(cid, WARNING, 'installNvidiaDevicePlugin=true, but no node is labelled as an NVIDIA GPU node.',
                        'Deploy with --install-nvidia-device-plugin false, or add GPU nodes')
        return _row(cid, PASS, f'GPU node {_join((labelled or allocatable)[:5])}: the extension installs the NVIDIA '
                    'device plugin.')
    if allocatable:
        return _row(cid, PASS, f'GPU node {_join(allocatable[:5])} already offers {NVIDIA_GPU} (a device plugin '
                    'runs).')
    if labelled:
        return _row(cid, WARNING, f'GPU node {_join(labelled[:5])} offers no allocatable {NVIDIA_GPU}: without a '
                    'device plugin jobs cannot use the GPUs.', 'Deploy with --install-nvidia-device-plugin true, or '
                    'install the NVIDIA GPU operator')
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


# --- after the write -------------------------------------------------------------------------------------------------

INSTANCE_TYPES = path_of(None, 'instancetypes', group='amlarc.azureml.com', version='v1alpha1')


ARC_AGENT_PODS = path_of('azure-arc', 'pods')


def after_paths(is_arc: bool = False) -> List[str]:
    """What verify reads after the write; on Arc also the pods of the Arc agents (``azure-arc``: the extension
    manager that installs the release, and the agents that report its status)."""
    return [path_of(NS, 'deployments', group='apps'), path_of(NS, 'statefulsets', group='apps'),
            path_of(NS, 'daemonsets', group='apps'), path_of(NS, 'pods'),
            path_of(NS, 'configmaps', HEALTHCHECK_CONFIGMAP), path_of(NS, 'services', ROUTER_SERVICE),
            INSTANCE_TYPES] + ([ARC_AGENT_PODS] if is_arc else [])


def _arc_agent_findings(bodies, ctx):
    """Arc agents that are not running: the extension manager installs the release and the agents report its state
    (ARM's "status not populated" when they cannot)."""
    findings = []
    for pod in _items(bodies.get(ARC_AGENT_PODS)):
        problem = _pod_problem(pod)
        if problem is None or _is_evicted(pod):
            continue
        reason, restarts, _, container = problem
        name = _name(pod)
        findings.append(health.make_finding('kubernetes', 'error', [health.Diagnosis(
            'arc-agent-not-ready', 'ARC_AGENT_NOT_READY',
            f'The Azure Arc agent pod {name} in namespace azure-arc is not ready ({reason}'
            + (f', {restarts} restarts' if restarts else '') + '): the extension manager installs the AzureML release '
            'and the agents report its state to Azure ("status not populated" when they cannot).',
            f'See why: kubectl describe pod -n azure-arc {shell_quote(name)}; kubectl logs -n azure-arc '
            f'{shell_quote(name)}' + (f' -c {shell_quote(container)}' if container else '') + ' --previous; then '
            f'upgrade the agents: az connectedk8s upgrade -g {shell_quote(ctx.resource_group or "<resource-group>")} '
            f'-n {shell_quote(ctx.cluster_name or "<cluster>")}', True)],
            f'azure-arc {name}: {reason}'))
    return findings


def _instance_type_findings(bodies):
    """Instance types no eligible node can hold: jobs and endpoints that use them stay queued."""
    types, nodes = bodies.get(INSTANCE_TYPES), _nodes(bodies)
    if not isinstance(types, Mapping) or nodes is None:
        return []
    return [health.make_finding('kubernetes', 'warning', [health.Diagnosis(
        'instance-type-too-large', 'INSTANCE_TYPE_UNSCHEDULABLE',
        f'Instance type {name} fits no node: {why}. Jobs and endpoints that use it stay queued (the health check '
        'may report E45006).',
        f'Lower its requests or add a node that can hold it: kubectl edit instancetype {shell_quote(name)}; see '
        'what the nodes offer: kubectl describe nodes', False)], f'instance type {name}')
        for name, why in scheduling.instance_types_no_node_holds(_items(types), nodes)]


def _workload_counts(obj, kind):
    spec, status = obj.get('spec') or {}, obj.get('status') or {}
    if kind == 'daemonset':
        return _int(status.get('desiredNumberScheduled')), _int(status.get('numberReady'))
    return _int(spec.get('replicas'), 1), _int(status.get('readyReplicas'))


_WORKLOAD_KINDS = (('deployment', 'deployments'), ('statefulset', 'statefulsets'), ('daemonset', 'daemonsets'))


def _workloads(bodies, expected):
    found, unread = {}, set()
    for kind, plural in _WORKLOAD_KINDS:
        body = bodies.get(path_of(NS, plural, group='apps'))
        if not isinstance(body, Mapping):   # refused, failed or not read: unknown, never "missing"
            unread.add(kind)
        for obj in _items(body):
            found[(kind, _name(obj))] = obj
    rows = []
    for comp in expected:
        obj = found.get((comp['kind'], comp['name']))
        if obj is None and comp['kind'] in unread:
            rows.append({'name': comp['name'], 'kind': comp['kind'], 'desired': None, 'ready': None,
                         'status': 'unknown'})
            continue
        if obj is None:
            rows.append({'name': comp['name'], 'kind': comp['kind'], 'desired': None, 'ready': None,
                         'status': 'missing'})
            continue
        desired, ready = _workload_counts(obj, comp['kind'])
        rows.append({'name': comp['name'], 'kind': comp['kind'], 'desired': desired, 'ready': ready,
                     'status': 'ready' if ready >= desired else 'not ready'})
    return rows


def _owner_workload(pod) -> Optional[Tuple[str, str]]:
    """(kind, name) of the workload that runs ``pod``: a ReplicaSet ``<deployment>-<hash>`` stands for its
    Deployment."""
    for ref in _meta(pod).get('ownerReferences') or []:
        if not isinstance(ref, Mapping):
            continue
        kind, name = str(ref.get('kind') or ''), str(ref.get('name') or '')
        if kind == 'ReplicaSet':
            return 'deployment', name.rsplit('-', 1)[0]
        if kind in ('StatefulSet', 'DaemonSet'):
            return kind.lower(), name
    return None


def _is_evicted(pod) -> bool:
    status = pod.get('status') or {}
    return str(status.get('phase') or '') == 'Failed' and str(status.get('reason') or '') == 'Evicted'


def _pod_problem(pod):
    """(reason, restarts, message, container) of a pod that is not ready, or None."""
    status = pod.get('status') or {}
    phase = str(status.get('phase') or '')
    if _is_evicted(pod):
        return 'Evicted', 0, str(status.get('message') or ''), None
    owners = [o.get('kind') for o in _meta(pod).get('ownerReferences') or [] if isinstance(o, Mapping)]
    if phase == 'Succeeded' or (phase == 'Failed' and 'Job' in owners):   # a finished Job's pod: the Job retries
        return None
    for cond in status.get('conditions') or []:
        if isinstance(cond, Mapping) and cond.get('type') == 'PodScheduled' and cond.get('status') == 'False':
            return 'Pending', 0, str(cond.get('message') or cond.get('reason') or ''), None
    for cs in (status.get('initContainerStatuses') or []) + (status.get('containerStatuses') or []):
        if not isinstance(cs, Mapping) or cs.get('ready'):
            continue
        waiting = (cs.get('state') or {}).get('waiting') or {}
        terminated = (cs.get('state') or {}).get('terminated') or {}
        if waiting.get('reason') == 'PodInitializing' or terminated.get('reason') == 'Completed':
            continue
        reason = waiting.get('reason') or terminated.get('reason') or ('NotReady' if phase == 'Running' else phase)
        last = ((cs.get('lastState') or {}).get('terminated') or {}) if isinstance(cs.get('lastState'), Mapping) \
            else {}
        if last.get('reason') == 'OOMKilled' and reason in ('CrashLoopBackOff', 'NotReady', 'Error', 'Running'):
            reason = 'OOMKilled'        # the cause the back-off hides: the last run was killed for memory
        return str(reason), _int(cs.get('restartCount')), str(waiting.get('message') or ''), cs.get('name')
    if phase in ('Pending', 'Failed', 'Unknown'):
        return phase, 0, str(status.get('message') or status.get('reason') or ''), None
    return None


def _pod_finding(pod, problem):
    reason, restarts, message, container = problem
    name = _name(pod)
    logs = f'kubectl logs -n {NS} {shell_quote(name)}' + (f' -c {shell_quote(container)}' if container else '')
    if reason == 'CrashLoopBackOff':
        diag = health.Diagnosis('pod-crashloop', 'POD_CRASH_LOOP',
                                f'Pod {name} keeps crashing (CrashLoopBackOff, {restarts} restarts).',
                                f'Read why it stopped: {logs} --previous; then kubectl describe pod -n {NS} '
                                f'{shell_quote(name)}', True)
    elif reason == 'OOMKilled':
        diag = health.Diagnosis('pod-oom-killed', 'CONTAINER_OUT_OF_MEMORY',
                                f'Container {container or "?"} of pod {name} was killed for using more memory than '
                                f'its limit (OOMKilled, {restarts} restarts), and keeps restarting.',
                                f'See its memory limit and last state: kubectl describe pod -n {NS} '
                                f'{shell_quote(name)}; its last run: kubectl logs -n {NS} {shell_quote(name)} '
                                f'--previous. Make room on its node (larger nodes, fewer other workloads there); a '
                                "limit set by the extension's chart cannot be raised with a setting: open a "
                                f'support case with the verify report ({TSG_LINK}).', True)
    elif reason in ('ImagePullBackOff', 'ErrImagePull', 'InvalidImageName'):
        diag = health.Diagnosis('pod-image-pull', 'IMAGE_PULL_FAILED',
                                f'Pod {name} cannot pull its image ({reason}): the cluster usually cannot reach '
                                'mcr.microsoft.com and the other registries the extension needs.',
                                f'Allow the outbound endpoints listed at {NETWORK_REQUIREMENTS_LINK}; see the pull '
                                f'error: kubectl describe pod -n {NS} {shell_quote(name)}', True)
    elif reason == 'Pending':
        causes = scheduling.scheduler_causes(message)
        because = f" ({'; '.join(c for c, _ in causes)})" if causes else ''
        fix = ' '.join(f for _, f in causes) or ('Add nodes or free resources so that it fits (kubectl describe '
                                                 'nodes); check the node selector and tolerations.')
        diag = health.Diagnosis('pod-pending', 'POD_UNSCHEDULABLE',
                                f'Pod {name} cannot be scheduled{because}: {message or "no node fits it"}',
                                f'{fix} See it: kubectl describe pod -n {NS} {shell_quote(name)}', True)
    else:
        diag = health.Diagnosis('pod-not-ready', 'POD_NOT_READY', f'Pod {name} is not ready ({reason}).',
                                f'kubectl describe pod -n {NS} {shell_quote(name)}; {logs}', True)
    return health.make_finding('kubernetes', 'error', [diag], f'{reason}: {message}'.strip(': '))


def parse_healthcheck(text) -> Dict[str, object]:
    """One section of the ``arcml-healthcheck`` configmap: its header fields and ``entries`` (status, name, error
    code, error message), in either format in use: the 2023+ one of Azure/AML-Kubernetes docs/troubleshooting.md
    (``Status: Failed Name: <checker> ErrorCode: E4xxxx ErrorMessage: ...``, after a ``Report:`` header) or the 2022
    one of extension 1.0.x (``<checker>:`` entries with indented ``code:`` and ``message:``)."""
    if re.search(r'^\S[^:\n]*:\s*\n\s+code:', str(text or ''), re.MULTILINE) and 'Status:' not in str(text or ''):
        return _parse_healthcheck_2022(str(text))
    header, entries = {}, []
    for line in str(text or '').splitlines():
        line = line.strip()
        match = re.match(r'^Status:\s*(\S+)\s+Name:\s*(\S+)(?:\s+ErrorCode:\s*(\S+))?(?:\s+ErrorMessage:\s*(.*))?$',
                         line)
        if match:
            entries.append({'status': match.group(1), 'name': match.group(2), 'errorCode': match.group(3),
                            'errorMessage': (match.group(4) or '').strip() or None})
        elif ':' in line:
            key, _, value = line.partition(':')
            header[key.strip()] = value.strip()
    return {'date': header.get('Date') or None, 'entries': entries}


def _parse_healthcheck_2022(text) -> Dict[str, object]:
    """``agent:\n  code: AgentWarning\n  message: '{...}'`` entries: code ``Passed`` passes, any other fails."""
    entries, current = [], None
    for line in text.splitlines():
        if not line.strip():
            continue
        if not line[:1].isspace() and line.rstrip().endswith(':'):
            current = {'status': 'Passed', 'name': line.strip()[:-1], 'errorCode': None, 'errorMessage': None}
            entries.append(current)
            continue
        key, _, value = line.strip().partition(':')
        value = value.strip().strip("'\"")
        if current is None or key not in ('code', 'message'):
            continue
        if key == 'code':
            current['errorCode'] = None if value.lower() == 'passed' else value
            current['status'] = 'Passed' if value.lower() == 'passed' else 'Failed'
        else:
            current['errorMessage'] = value or None
    return {'date': None, 'entries': entries}


def _healthcheck_level(code: str) -> str:
    """E45xxx-E49xxx (the checks that warn) and ``...Warning`` codes of the 2022 format are warnings."""
    return 'warning' if re.match(r'^E4[5-9]\d{3}$', code) or code.lower().endswith('warning') else 'error'


def _healthcheck(bodies, ctx):
    body = bodies.get(path_of(NS, 'configmaps', HEALTHCHECK_CONFIGMAP))
    if not isinstance(body, Mapping):
        return None, []
    data = body.get('data') if isinstance(body.get('data'), Mapping) else {}
    sections, findings, seen = [], [], set()
    for key in sorted(k for k in data if k.startswith(('reports-', 'status-'))):
        parsed = parse_healthcheck(data[key])
        failed = [e for e in parsed['entries'] if str(e['status']).lower() == 'failed']
        if not parsed['entries'] and str(data[key] or '').strip():
            # Text with no entry read: another format, or cut short. Unknown, not an all clear.
            sections.append({'section': key, 'date': parsed['date'], 'passed': None, 'failed': [], 'unparsed': True})
            continue
        sections.append({'section': key, 'date': parsed['date'], 'passed': len(parsed['entries']) - len(failed),
                         'failed': [{'name': e['name'], 'errorCode': e['errorCode'], 'errorMessage': e['errorMessage']}
                                    for e in failed]})
        for entry in failed:
            mark = (entry['name'], entry['errorCode'])
            if mark in seen:
                continue
            seen.add(mark)
            text = f"{entry['errorCode'] or ''} {entry['errorMessage'] or ''}".strip() or f"checker {entry['name']}"
            code = str(entry['errorCode'] or '')
            diagnoses = [health.diagnose_code(code, entry['errorMessage'], ctx)] if code else \
                [health.unknown_diagnosis(ctx)]
            findings.append(health.make_finding(f'healthcheck {key}', _healthcheck_level(code), diagnoses,
                                                f"Status: Failed Name: {entry['name']} {text}".strip(),
                                                service_code=code))
    return sections, findings


def _router_address(bodies, inference):
    body = bodies.get(path_of(NS, 'services', ROUTER_SERVICE))
    if not inference or not isinstance(body, Mapping):
        return None, []
    spec, status = body.get('spec') or {}, body.get('status') or {}
    kind = str(spec.get('type') or 'ClusterIP')
    ingress = [i for i in ((status.get('loadBalancer') or {}).get('ingress') or []) if isinstance(i, Mapping)]
    address = next((str(i.get('ip') or i.get('hostname')) for i in ingress if i.get('ip') or i.get('hostname')), None)
    if kind == 'LoadBalancer' and not address:
        return {'type': kind, 'address': None}, [health.make_finding('kubernetes', 'warning', [health.Diagnosis(
            'router-no-address', 'ROUTER_ADDRESS_PENDING', 'The inference router service azureml-fe has no load '
            'balancer address yet.', f'Watch it: kubectl get svc {ROUTER_SERVICE} -n {NS} -w; on AKS check the load '
            f'balancer events: kubectl describe svc {ROUTER_SERVICE} -n {NS}', False)], 'no ingress address')]
    if kind == 'NodePort':
        ports = [str(p.get('nodePort')) for p in spec.get('ports') or []
                 if isinstance(p, Mapping) and p.get('nodePort')]
        return {'type': kind, 'address': None, 'nodePorts': ports}, []
    return {'type': kind, 'address': address or spec.get('clusterIP')}, []


def after_report(access, proof, bodies, expected, *, ctx, inference):
    """The report's ``inCluster`` section and its findings."""
    section = {'read': access.is_read, 'status': access.status, 'server': access.server or None,
               'source': access.source or None, 'proof': proof if access.is_read else None,
               'reason': None if access.is_read else access.reason, 'fix': None if access.is_read else
               (access.fix or None)}
    if not access.is_read:
        return section, []
    findings = []
    workloads = _workloads(bodies, expected)
    for row in workloads:
        if row['status'] == 'missing':
            findings.append(health.make_finding('kubernetes', 'error', [health.Diagnosis(
                'component-missing', 'COMPONENT_MISSING', f"The {row['kind']} {row['name']} that the settings call "
                f"for is not in namespace {NS}.", f'Check the Helm release: helm list -a -n {NS}; helm history -n {NS} '
                f'{shell_quote(ctx.extension_name or "azureml")}; {TSG_LINK}', True)], f"{row['kind']} missing"))
        elif row['status'] == 'not ready':
            findings.append(health.make_finding('kubernetes', 'error', [health.Diagnosis(
                'component-not-ready', 'COMPONENT_NOT_READY', f"The {row['kind']} {row['name']} has {row['ready']} of "
                f"{row['desired']} ready.", f"See its pods: kubectl get pods -n {NS}; kubectl describe {row['kind']} "
                f"{row['name']} -n {NS}", True)], f"{row['ready']}/{row['desired']} ready"))
    pods = []
    ready = {(row['kind'], row['name']) for row in workloads if row['status'] == 'ready'}
    for pod in _items(bodies.get(path_of(NS, 'pods'))):
        problem = _pod_problem(pod)
        if problem is None or (_is_evicted(pod) and _owner_workload(pod) in ready):
            continue    # an evicted pod of a ready workload is a leftover the kubelet keeps; its replacement runs
        reason, restarts, message, _ = problem
        pods.append({'name': _name(pod), 'reason': reason, 'restarts': restarts, 'message': message or None})
        findings.append(_pod_finding(pod, problem))
    checks, hc_findings = _healthcheck(bodies, ctx)
    router, router_findings = _router_address(bodies, inference)
    findings += _instance_type_findings(bodies) + _arc_agent_findings(bodies, ctx)
    unread = _unread_after(bodies, checks)
    section.update({'workloads': workloads, 'podsNotReady': pods, 'healthCheck': checks, 'inferenceRouter': router,
                    'unread': [u['what'] for u in unread]})
    return section, findings + hc_findings + router_findings + [u['finding'] for u in unread]


_AFTER_WHAT = {'deployments': 'the deployments', 'statefulsets': 'the stateful sets', 'daemonsets': 'the daemon sets',
               'pods': 'the pods', ROUTER_SERVICE: f'the inference router service {ROUTER_SERVICE}',
               HEALTHCHECK_CONFIGMAP: f'the health-check report (configmap {HEALTHCHECK_CONFIGMAP})'}


def _unread_after(bodies, checks):
    """What verify could not read (refused, failing, cut short) or could not make sense of: each an unknown, said
    as a finding that does not count for the verdict (``read``), never taken as passed or missing."""
    out = []
    for path in after_paths(ARC_AGENT_PODS in bodies):
        body = bodies.get(path)
        if not isinstance(body, Denied) or path in (INSTANCE_TYPES, ARC_AGENT_PODS):    # checks of their own
            continue
        key = path.split('?', 1)[0].rstrip('/').rsplit('/', 1)[-1]
        what = _AFTER_WHAT.get(key, key)
        out.append({'what': what, 'finding': health.make_finding('read', 'warning', [health.Diagnosis(
            'read-unknown', 'NOT_READ', f'Could not read {what} in namespace {NS} ({body}): what they would show is '
            'unknown, not passed.', f'Use a kubeconfig whose user may read them (kubectl auth can-i list pods -n '
            f'{NS}; kubectl auth can-i get configmaps -n {NS}), then verify again.', False)], str(body))})
    for section in checks or []:
        if section.get('unparsed'):
            what = f"section {section['section']} of the health-check report"
            out.append({'what': what, 'finding': health.make_finding('read', 'warning', [health.Diagnosis(
                'healthcheck-unparsed', 'HEALTHCHECK_NOT_UNDERSTOOD', f'The {what} is in a form amlk8s does not '
                'read: its result is unknown, not passed.', f'Read it yourself: kubectl get configmap '
                f'{HEALTHCHECK_CONFIGMAP} -n {NS} -o jsonpath="{{.data.{section["section"]}}}"', False)],
                'unparsed health-check section')})
    return out


# --- the installed settings against the cluster (verify) -----------------------------------------------------------

def settings_against_nodes(settings, bodies, target) -> list:
    """The extension's own nodeSelector and inferenceRouterHA judged against the nodes read: the causes behind
    E40002 INSUFFICIENT_NODE named with the setting to change (HA is never offered "off" when it is off)."""
    nodes = _nodes(bodies)
    if nodes is None or not isinstance(settings, Mapping):
        return []
    selector = {k[len('nodeSelector.'):]: str(v) for k, v in settings.items()
                if isinstance(k, str) and k.startswith('nodeSelector.')}
    found = []
    if selector:
        status, finding, fix = scheduling.selector_finding(nodes, selector, 'relayserver.enabled' in settings)
        if status == 'fail':
            found.append(health.make_finding('kubernetes', 'error', [health.Diagnosis(
                'installed-node-selector', 'NODE_SELECTOR_MATCHES_NO_NODE', 'The installed ' + finding[4:],
                f'{fix}; then change the setting: az amlk8s update {target} --config '
                f'nodeSelector.<label>=<value>', True)], 'nodeSelector ' + scheduling.selector_text(selector)))
    ha = str(settings.get('inferenceRouterHA', settings.get('inferenceLoadBalancerHA', 'true'))).lower() != 'false'
    if ha and str(settings.get('enableInference') or '').lower() == 'true':
        eligible, excluded = scheduling.eligible_nodes(nodes, selector)
        status, finding, _ = scheduling.router_ha_finding(eligible, excluded, selector)
        if status == 'fail':
            found.append(health.make_finding('kubernetes', 'error', [health.Diagnosis(
                'installed-router-ha', 'INSUFFICIENT_NODE', finding,
                f'Turn HA off (one replica): az amlk8s update {target} --inference-router-ha false; or make three '
                'nodes eligible (add nodes, uncordon them, or widen the node selector).', True)],
                f'inferenceRouterHA on, {len(eligible)} eligible node(s)'))
    return found


# --- for the live reads while ARM's operation runs (live.py) ---------------------------------------------------------

def workload_rows(bodies, expected):
    """Each expected component with its desired and ready replicas (as in verify's ``inCluster.workloads``)."""
    return _workloads(bodies, expected)


def release_pods(bodies) -> list:
    """The pods of namespace azureml in ``bodies``."""
    return _items(bodies.get(path_of(NS, 'pods')))


def pod_problem(pod):
    """(reason, restarts, message, container) of a pod that is not ready, or None."""
    return _pod_problem(pod)


def object_name(obj) -> str:
    return _name(obj)


def pod_finding(pod, problem, *, nodes=None, settings=None):  # pylint: disable=unused-argument
    """verify's finding for a pod that is not ready."""
    return _pod_finding(pod, problem)
