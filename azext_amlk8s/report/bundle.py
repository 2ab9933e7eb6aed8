# --------------------------------------------------------------------------------------------
# Copyright (c) amlk8s contributors. Licensed under the MIT License.
# --------------------------------------------------------------------------------------------
"""Step 5 for ``verify --collect``: a support bundle, redacted before anything reaches the file.

What Microsoft's troubleshooting guide asks for by hand (``kubectl get pods``, ``describe``, events, logs, the
health-check configmap), read-only: verify's report (JSON and text), the extension resource (protected values as
``<protected>``), the cluster body's relevant fields, and from the cluster, in ``azureml`` and the agents' namespace
(``azure-arc`` on Arc; the extension manager in ``kube-system`` on AKS): pods, deployments, daemonsets,
statefulsets, jobs, events, services, endpoints, the ``arcml-healthcheck`` report, InstanceTypes, nodes (labels,
capacity, conditions), the Helm release's metadata (the labels of its release secrets, never their data), and the
logs of pods that are not ready or restarted (current and previous, bounded). ``manifest.json`` lists what was
collected, from where, and what could not be read and why.

Redaction: Secrets are never read (the release's are listed as metadata only); every string that goes into the
bundle passes ``health.redact_text`` (PEM blocks, connection-string keys, bearer tokens, long base64 runs), and env
values whose names say secret are replaced. Files are written with mode 0600; the bundle stops at its size bound
(default 50 MB), each read bounded by the client's timeouts.
"""

import io
import json
import os
import re
import zipfile
from typing import Dict, List

from azext_amlk8s.rules import health
from azext_amlk8s.facts.kube import Denied, path_of

NS = 'azureml'
DEFAULT_MAX_MB = 50
LOG_TAIL_LINES = 200
LOG_LIMIT_BYTES = 256 * 1024
_SECRET_NAME = re.compile(r'(?i)(secret|token|password|passwd|key|connection|credential|sas)')
_CLUSTER_FIELDS = ('id', 'name', 'type', 'location', 'tags', 'identity', 'sku', 'kind')
_CLUSTER_PROPERTIES = ('provisioningState', 'powerState', 'kubernetesVersion', 'currentKubernetesVersion',
                       'nodeResourceGroup', 'fqdn', 'privateFQDN', 'enableRBAC', 'networkProfile',
                       'apiServerAccessProfile', 'disableLocalAccounts', 'aadProfile', 'oidcIssuerProfile',
                       'connectivityStatus', 'distribution', 'infrastructure', 'agentVersion', 'totalNodeCount',
                       'totalCoreCount', 'lastConnectivityTime')
_POOL_FIELDS = ('name', 'count', 'vmSize', 'mode', 'osType', 'osSKU', 'orchestratorVersion', 'powerState',
                'provisioningState', 'enableAutoScaling', 'minCount', 'maxCount', 'nodeLabels', 'nodeTaints',
                'maxPods')


def paths(is_arc: bool) -> List[str]:
    """The cluster reads of a bundle (GET only)."""
    agents = 'azure-arc' if is_arc else 'kube-system'
    return [path_of(NS, kind, group=group) for kind, group in (
        ('pods', None), ('deployments', 'apps'), ('daemonsets', 'apps'), ('statefulsets', 'apps'),
        ('jobs', 'batch'), ('events', None), ('services', None), ('endpoints', None))] + [
        path_of(NS, 'configmaps', 'arcml-healthcheck'), path_of(agents, 'pods'), path_of(agents, 'events'),
        path_of(None, 'nodes'), path_of(None, 'instancetypes', group='amlarc.azureml.com', version='v1alpha1'),
        path_of(NS, 'secrets', query={'labelSelector': 'owner=helm'}, metadata_only=True)]


def log_paths(bodies) -> List[str]:
    """The logs to read: current and previous of every container that is not ready or has restarted."""
    found = []
    for path in (path_of(NS, 'pods'), path_of('azure-arc', 'pods'), path_of('kube-system', 'pods')):
        body = bodies.get(path)
        namespace = path.split('/namespaces/', 1)[1].split('/', 1)[0]
        for pod in (body.get('items') or []) if isinstance(body, dict) else []:
            name = str((pod.get('metadata') or {}).get('name') or '')
            if namespace == 'kube-system' and not name.startswith(('extension-agent', 'extension-operator')):
                continue
            for status in (pod.get('status') or {}).get('containerStatuses') or []:
                if not isinstance(status, dict) or (status.get('ready') and not status.get('restartCount')):
                    continue
                for previous in ('false', 'true') if status.get('restartCount') else ('false',):
                    found.append(path_of(namespace, 'pods', name) + f"/log?container={status.get('name')}&"
                                 f'previous={previous}&tailLines={LOG_TAIL_LINES}&limitBytes={LOG_LIMIT_BYTES}')
    return found


def scrub(value):
    """A value fit for the bundle: every string redacted, env values whose names say secret replaced, and the
    data of any Secret that reached here dropped."""
    if isinstance(value, dict):
        if str(value.get('kind')) == 'Secret':
            return {k: scrub(v) for k, v in value.items() if k not in ('data', 'stringData')}
        out = {}
        for key, item in value.items():
            if key == 'env' and isinstance(item, list):
                out[key] = [dict(scrub(e), value='<redacted>') if isinstance(e, dict) and 'value' in e and
                            _SECRET_NAME.search(str(e.get('name') or '')) else scrub(e) for e in item]
            elif key == 'configurationProtectedSettings' and isinstance(item, dict):
                out[key] = {k: '<protected>' for k in item}
            elif key == 'items' and isinstance(item, list):
                out[key] = [scrub(i) for i in item if not (isinstance(i, dict) and i.get('kind') == 'Secret')]
            else:
                out[key] = scrub(item)
        return out
    if isinstance(value, list):
        return [scrub(v) for v in value]
    if isinstance(value, str):
        return health.redact_text(value)
    return value


def cluster_fields(body) -> dict:
    """The cluster body's fields that explain a deploy (no credentials: the body has none, and keys are dropped)."""
    body = body or {}
    props = body.get('properties') or {}
    shown = {k: body[k] for k in _CLUSTER_FIELDS if k in body}
    shown['properties'] = {k: props[k] for k in _CLUSTER_PROPERTIES if k in props}
    pools = props.get('agentPoolProfiles')
    if isinstance(pools, list):
        shown['properties']['agentPoolProfiles'] = [{k: p[k] for k in _POOL_FIELDS if k in p} for p in pools
                                                    if isinstance(p, dict)]
    return scrub(shown)


def node_fields(body):
    """Nodes: labels, taints, capacity, allocatable, conditions, node info (no annotations, images or addresses)."""
    items = []
    for node in (body.get('items') or []) if isinstance(body, dict) else []:
        meta, spec, status = node.get('metadata') or {}, node.get('spec') or {}, node.get('status') or {}
        items.append({'name': meta.get('name'), 'labels': meta.get('labels'), 'taints': spec.get('taints'),
                      'unschedulable': spec.get('unschedulable'), 'capacity': status.get('capacity'),
                      'allocatable': status.get('allocatable'), 'conditions': status.get('conditions'),
                      'nodeInfo': status.get('nodeInfo')})
    return {'kind': 'NodeList', 'items': items}


def _file_name(path):
    base, _, query = path.partition('?')
    parts = [p for p in base.split('/') if p and p not in ('api', 'apis', 'v1', 'v1alpha1', 'namespaces')]
    name = '-'.join(p.replace('.', '_') for p in parts)
    if '/log' in base:
        previous = 'previous=true' in query
        container = re.search(r'container=([^&]+)', query)
        name = name.replace('-pods-', '-').replace('-log', '') + f"-{container.group(1) if container else 'log'}" + \
            ('-previous' if previous else '')
        return f'logs/{name}.log'
    return f"cluster/{name.split('#', 1)[0]}.json"


class Bundle:
    """Files in memory, each scrubbed, the manifest beside them, stopping at the size bound."""

    def __init__(self, max_mb):
        self.max_bytes = int(max_mb * 1024 * 1024)
        self.files: Dict[str, bytes] = {}
        self.manifest: List[dict] = []
        self.size = 0

    def add(self, name, content, source):
        data = content if isinstance(content, bytes) else content.encode('utf-8')
        if self.size + len(data) > self.max_bytes:
            bound = self.max_bytes // (1024 * 1024)
            self.manifest.append({'file': name, 'source': source, 'status': 'left out',
                                  'reason': f'the bundle reached its size bound ({bound} MB)'})
            return
        self.files[name] = data
        self.size += len(data)
        self.manifest.append({'file': name, 'source': source, 'status': 'collected', 'bytes': len(data)})

    def add_json(self, name, value, source):
        self.add(name, json.dumps(scrub(value), indent=2, sort_keys=True, default=str) + '\n', source)

    def unread(self, what, source, reason):
        self.manifest.append({'file': None, 'source': source, 'status': 'not read', 'what': what,
                              'reason': health.redact_text(str(reason))})

    def write(self, target):
        """To ``target``: a .zip file, or a directory (made if needed); every file mode 0600."""
        self.files['manifest.json'] = (json.dumps({'files': self.manifest, 'bytes': self.size}, indent=2) +
                                       '\n').encode('utf-8')
        if target.lower().endswith('.zip'):
            buffer = io.BytesIO()
            with zipfile.ZipFile(buffer, 'w', zipfile.ZIP_DEFLATED) as archive:
                for name, data in sorted(self.files.items()):
                    info = zipfile.ZipInfo(name)
                    info.external_attr = 0o600 << 16
                    info.compress_type = zipfile.ZIP_DEFLATED
                    archive.writestr(info, data)
            _private_write(target, buffer.getvalue())
            return target
        os.makedirs(target, mode=0o700, exist_ok=True)
        for name, data in self.files.items():
            path = os.path.join(target, *name.split('/'))
            os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
            _private_write(path, data)
        return target


def _private_write(path, data):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, 'wb') as handle:
        handle.write(data)
    os.chmod(path, 0o600)


def fill(bundle, access, proof):
    """The cluster's part of the bundle from ``access.bodies`` (or why it could not be read)."""
    if not access.is_read:
        bundle.unread('the cluster', 'Kubernetes API', (access.reason or 'not read') +
                      (f' Fix: {access.fix}' if access.fix else ''))
        return
    bundle.add_json('cluster/access.json', {'server': access.server, 'source': access.source, 'proof': proof},
                    'Kubernetes API')
    for path, body in sorted(access.bodies.items()):
        if body is None:
            bundle.unread(path.split('?', 1)[0], path, 'not found (404)')
        elif isinstance(body, Denied):
            bundle.unread(path.split('?', 1)[0], path, str(body))
        elif path.split('?', 1)[0].endswith('/log'):
            bundle.add(_file_name(path), health.redact_text(body.get('text') or ''), path)
        elif path == path_of(None, 'nodes'):
            bundle.add_json('cluster/nodes.json', node_fields(body), path)
        elif '/namespaces/' in path or '/instancetypes' in path:
            bundle.add_json(_file_name(path), body, path)
