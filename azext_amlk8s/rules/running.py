# --------------------------------------------------------------------------------------------
# Copyright (c) amlk8s contributors. Licensed under the MIT License.
# --------------------------------------------------------------------------------------------
"""Step 3 for what runs in the cluster after the write (verify, deploy once it succeeded, and the live reads while it
runs): pure rules over the objects ``kube.py`` read, as ``incluster.py`` has them for before the write.

- ``after_paths`` / ``after_report``: the release's workloads and pods, the ``arcml-healthcheck`` report (both
  formats in use), the inference router's address, instance types no node can hold, the Arc agents in ``azure-arc``;
  what could not be read is unknown, never passed.
- ``crash_log_paths`` / ``log_cause``: the previous log of a crash-looping release container, reduced to the one
  known message it holds (TLS, identity, relay), redacted.
- ``settings_against_nodes``: the extension's own ``nodeSelector`` and ``inferenceRouterHA`` against the nodes.

Sources: Microsoft's components table (how-to-deploy-kubernetes-extension), Azure/AML-Kubernetes
docs/troubleshooting.md (the report), how-to-manage-kubernetes-instance-types, ../shared/reference/real-failures.md.
"""

import re
from typing import Dict, List, Mapping, Optional, Tuple

from azext_amlk8s.rules import health, scheduling
from azext_amlk8s._constants import NETWORK_REQUIREMENTS_LINK, TSG_LINK
from azext_amlk8s._text import shell_quote
from azext_amlk8s.rules.incluster import (HEALTHCHECK_CONFIGMAP, NS, ROUTER_SERVICE, _int, _items, _meta, _name, _nodes,
                                          _owned_by_release)
from azext_amlk8s.facts.kube import Denied, path_of

INSTANCE_TYPES = path_of(None, 'instancetypes', group='amlarc.azureml.com', version='v1alpha1')


ARC_AGENT_PODS = path_of('azure-arc', 'pods')
AKS_AGENT_PODS = path_of('kube-system', 'pods')
# Helm 3 keeps each revision of a release as a Secret labelled owner=helm, name=<release>, status=<status>,
# version=<revision> in the release's namespace (helm.sh, "Helm 3 storage"); the labels are all that is read.
HELM_RELEASES = path_of(NS, 'secrets', query={'labelSelector': 'owner=helm'}, metadata_only=True)
ENDPOINTS = path_of(NS, 'endpoints')
IDENTITY_CONFIG = path_of(NS, 'configmaps', 'amlarc-identity-config')
ALL_DEPLOYMENTS = path_of(None, 'deployments', group='apps')
# The AKS extension manager: its agent and operator pods in kube-system install extensions and report their state.
AKS_AGENT_PREFIXES = ('extension-agent', 'extension-operator')


def after_paths(is_arc: Optional[bool] = None) -> List[str]:
    """What verify reads after the write: the release's workloads, pods, report, router service and endpoints, the
    instance types; with the cluster's kind also the Helm release's history (metadata only) and the pods of the agents
    that install the release and report its state (``azure-arc`` on Arc, the extension manager in ``kube-system`` on
    AKS). Without it (the live reads while ARM's operation runs), what changes during an install only."""
    paths = [path_of(NS, 'deployments', group='apps'), path_of(NS, 'statefulsets', group='apps'),
             path_of(NS, 'daemonsets', group='apps'), path_of(NS, 'pods'),
             path_of(NS, 'configmaps', HEALTHCHECK_CONFIGMAP), path_of(NS, 'services', ROUTER_SERVICE),
             INSTANCE_TYPES]
    if is_arc is None:
        return paths
    return paths + [ENDPOINTS, HELM_RELEASES, IDENTITY_CONFIG, ALL_DEPLOYMENTS,
                    ARC_AGENT_PODS if is_arc else AKS_AGENT_PODS]


def _agent_findings(bodies, ctx):
    """Agents that are not running: the extension manager installs the release and the agents report its state (ARM's
    "status not populated" when they cannot). Arc: every pod in azure-arc; AKS: the extension manager's pods."""
    findings = []
    for path, namespace in ((ARC_AGENT_PODS, 'azure-arc'), (AKS_AGENT_PODS, 'kube-system')):
        for pod in _items(bodies.get(path)):
            problem = _pod_problem(pod)
            name = _name(pod)
            if problem is None or _is_evicted(pod) or (namespace == 'kube-system'
                                                       and not name.startswith(AKS_AGENT_PREFIXES)):
                continue
            findings.append(_agent_finding(namespace, name, problem, ctx))
    return findings


def _agent_finding(namespace, name, problem, ctx):
    reason, restarts, _, container = problem
    rg, cluster = shell_quote(ctx.resource_group or '<resource-group>'), shell_quote(ctx.cluster_name or '<cluster>')
    see = (f'See why: kubectl describe pod -n {namespace} {shell_quote(name)}; kubectl logs -n {namespace} '
           f'{shell_quote(name)}' + (f' -c {shell_quote(container)}' if container else '') + ' --previous; then ')
    if namespace == 'azure-arc':
        what = f'The Azure Arc agent pod {name} in namespace azure-arc'
        fix = see + f'upgrade the agents: az connectedk8s upgrade -g {rg} -n {cluster}'
    else:
        what = f'The AKS extension manager pod {name} in namespace kube-system'
        fix = see + ('give the system node pool room (kubectl describe nodes; AKS runs this pod itself, so if it '
                     f'stays down after that, open a support case with the verify report: {TSG_LINK})')
    return health.make_finding('kubernetes', 'error', [health.Diagnosis(
        'arc-agent-not-ready' if namespace == 'azure-arc' else 'extension-manager-not-ready',
        'ARC_AGENT_NOT_READY' if namespace == 'azure-arc' else 'EXTENSION_MANAGER_NOT_READY',
        f'{what} is not ready ({reason}' + (f', {restarts} restarts' if restarts else '') + '): the extension '
        'manager installs the AzureML release and the agents report its state to Azure ("status not populated" when '
        'they cannot).', fix, True)], f'{namespace} {name}: {reason}')


def _release_history_findings(bodies, ctx):
    """Revisions of the release left pending-install|upgrade|rollback (the operator stopped mid-operation, often
    OOMKilled): Helm then refuses the next operation with "another operation (install/upgrade/rollback) is in
    progress". Only read once ARM's operation has ended: while it runs, a pending revision is the operation itself."""
    body = bodies.get(HELM_RELEASES)
    release = ctx.extension_name or 'azureml'
    stuck = []
    for item in _items(body):
        labels = _meta(item).get('labels') or {}
        status = str(labels.get('status') or '')
        if labels.get('name') == release and status.startswith('pending-'):
            stuck.append((_int(labels.get('version')), status, _name(item)))
    if not stuck:
        return []
    stuck.sort()
    deletes = '; '.join(f'kubectl delete secret -n {NS} {shell_quote(secret)} --ignore-not-found'
                        for _, _, secret in stuck)
    listed = ', '.join(f'revision {rev} ({status})' for rev, status, _ in stuck)
    return [health.make_finding('kubernetes', 'error', [health.Diagnosis(
        'helm-release-pending', 'HELM_RELEASE_PENDING',
        f'The Helm release {release} has {listed} left unfinished (its operator stopped during the operation, often '
        'OOMKilled): Helm refuses the next install or upgrade with "another operation (install/upgrade/rollback) is '
        'in progress".',
        f'See the history: helm history -n {NS} {shell_quote(release)}; remove the stuck record (as Microsoft\'s '
        f'delete_stuck_helm_secrets.sh does): {deletes}; then retry: az amlk8s update {_log_fields(ctx)["target"]}',
        True)], f'release {release}: ' + ', '.join(status for _, status, _ in stuck))]


# The Azure cloud of a region (Azure Government: usgov*/usdod*; Azure China: china*; the rest of the named regions:
# AzureCloud) and of an endpoint's host, by the DNS suffixes each cloud's endpoints use (az cloud show).
_CLOUD_SUFFIXES = (('AzureUSGovernment', ('usgovcloudapi.net', 'microsoftonline.us', 'azure.us')),
                   ('AzureChinaCloud', ('chinacloudapi.cn', 'microsoftonline.cn', 'azure.cn')),
                   ('AzureCloud', ('azure.com', 'windows.net', 'microsoftonline.com', 'azure.net')))


def cloud_of_region(location) -> Optional[str]:
    """AzureUSGovernment, AzureChinaCloud or AzureCloud for a region name; None for none (or air-gapped ones)."""
    name = re.sub(r'[\s_-]', '', str(location or '')).lower()
    if not name or name.startswith(('usnat', 'ussec')):
        return None
    if name.startswith(('usgov', 'usdod')):
        return 'AzureUSGovernment'
    return 'AzureChinaCloud' if name.startswith('china') else 'AzureCloud'


def _cloud_of_host(host) -> Optional[str]:
    host = host.lower().rstrip('.')
    return next((cloud for cloud, suffixes in _CLOUD_SUFFIXES
                 if any(host == s or host.endswith('.' + s) for s in suffixes)), None)


def _identity_cloud_findings(bodies, location, ctx):
    """The identity components' configuration (configmap amlarc-identity-config) against the cluster's cloud: an
    endpoint of another cloud (AML-Kubernetes#299: the public https://management.azure.com/ audience on an Azure
    Government cluster) makes every token the extension asks for fail, so endpoints and jobs cannot reach Azure."""
    body, cloud = bodies.get(IDENTITY_CONFIG), cloud_of_region(location)
    if not isinstance(body, Mapping) or cloud is None or not isinstance(body.get('data'), Mapping):
        return []
    foreign = {}
    for key, value in body['data'].items():
        for host in re.findall(r'https?://([A-Za-z0-9.-]+)', str(value or '')):
            other = _cloud_of_host(host)
            if other and other != cloud:
                foreign.setdefault(other, (key, host))
    if not foreign:
        return []
    other, (key, host) = sorted(foreign.items())[0]
    return [health.make_finding('kubernetes', 'error', [health.Diagnosis(
        'identity-wrong-cloud', 'IDENTITY_CLOUD_MISMATCH',
        f'The extension\'s identity configuration (configmap amlarc-identity-config, key {key}) names {host}, an '
        f'endpoint of {other}, while the cluster is in {cloud} (region {location}): the tokens it asks for are '
        'refused, so inference endpoints and jobs cannot reach Azure.',
        f'Deploy the extension from the cluster\'s cloud: az cloud set --name {cloud}; az login; then az amlk8s '
        f'delete {_log_fields(ctx)["target"]} and deploy it again (changing the configmap does not last: the '
        'extension writes it back). See it: kubectl get configmap amlarc-identity-config -n azureml -o yaml', True)],
        f'amlarc-identity-config {key}: {host}')]


def _on(settings, key, default):
    return str(settings.get(key, default)).strip().lower() == 'true'


def other_stack_findings(bodies, settings, ctx):
    """Another install's copy of what the release runs, colliding at run time: a second Volcano scheduler (two
    schedulers claim the pods of schedulerName volcano) and a second kube-state-metrics (every object's metrics
    twice, so the extension's and your own alerts and dashboards count double)."""
    settings = settings if isinstance(settings, Mapping) else {}
    volcano = _on(settings, 'enableTraining', 'false') and _on(settings, 'installVolcano', 'true') and \
        _on(settings, 'volcanoScheduler.enable', 'true')
    release = ctx.extension_name or 'azureml'
    findings = []
    for dep in _items(bodies.get(ALL_DEPLOYMENTS)):
        name, namespace = _name(dep), str(_meta(dep).get('namespace') or '')
        if namespace == NS or _owned_by_release(dep, release):
            continue
        where = f'Deployment {name} in namespace {namespace}'
        if volcano and name.endswith('volcano-scheduler'):
            findings.append(health.make_finding('kubernetes', 'warning', [health.Diagnosis(
                'second-volcano-scheduler', 'VOLCANO_SCHEDULER_TWICE', f'{where} is another Volcano scheduler next '
                'to the one the extension installs: both claim the pods of schedulerName volcano, and jobs are '
                'placed by either.', 'Keep yours and stop the bundled one: az amlk8s update '
                f'{_log_fields(ctx)["target"]} --install-volcano false (configure yours as '
                'how-to-deploy-kubernetes-extension says for an existing Volcano)', False)], where))
        elif name.endswith('kube-state-metrics'):
            findings.append(health.make_finding('kubernetes', 'warning', [health.Diagnosis(
                'second-kube-state-metrics', 'KUBE_STATE_METRICS_TWICE', f'{where} is a second kube-state-metrics '
                f'next to the extension\'s {release}-kube-state-metrics: a Prometheus that scrapes both sees every '
                'object\'s metrics twice, so counts and alerts double.', 'Scrape one of them: in your Prometheus '
                'configuration keep only the job of your own kube-state-metrics (or drop your copy)', False)],
                where))
    return findings


# The services behind which something must answer: the router (scoring) and the ingress controller's admission
# webhook (the API server calls it for every Ingress; AML-Kubernetes#297: "failed calling webhook ...
# azureml-ingress-nginx-controller-admission ... no endpoints available").
def _serves(name, inference):
    if name == ROUTER_SERVICE:
        return 'router' if inference else None
    return 'webhook' if 'ingress-nginx' in name and name.endswith('-admission') else None


def _endpoint_findings(bodies, inference, pod_findings, ctx):
    """Services with no ready endpoint while their pods are not already named: "Running but not serving"."""
    named = ' '.join(f['diagnosis'] for f in pod_findings)
    findings = []
    for ep in _items(bodies.get(ENDPOINTS)):
        name, subsets = _name(ep), [s for s in ep.get('subsets') or [] if isinstance(s, Mapping)]
        role = _serves(name, inference)
        stem = 'azureml-fe' if role == 'router' else name[:-len('-admission')]
        if role is None or any(s.get('addresses') for s in subsets) or f'Pod {stem}' in named:
            continue
        waiting = sum(len(s.get('notReadyAddresses') or []) for s in subsets)
        state = f'{waiting} not ready' if waiting else 'none at all'
        see = f'kubectl describe endpoints {shell_quote(name)} -n {NS}; kubectl get pods -n {NS} -o wide'
        if role == 'router':
            diag = health.Diagnosis(
                'router-no-endpoints', 'ROUTER_NOT_SERVING', f'The inference router service {name} has no ready '
                f'endpoint ({state}): scoring requests time out even where its pods show Running.',
                f'{see} (the azureml-fe-v2 pods must be Ready); their readiness and logs say why: kubectl logs -n '
                f'{NS} deploy/azureml-fe-v2', True)
        else:
            diag = health.Diagnosis(
                'admission-webhook-no-endpoints', 'ADMISSION_WEBHOOK_NOT_SERVING', f'The ingress controller\'s '
                f'admission webhook service {name} has no ready endpoint ({state}): the API server\'s calls to it fail '
                '("failed calling webhook ... no endpoints available"), so Ingress objects cannot be created or '
                'changed and an install with HTTPS fails.',
                f'{see} (the {stem} pods must be Ready; on a busy cluster give the nodes room); then retry: az amlk8s '
                f'update {_log_fields(ctx)["target"]}', True)
        findings.append(health.make_finding('kubernetes', 'error', [diag], f'endpoints {name}: {state}'))
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


def _not_ready_on(bodies, row):
    """For a DaemonSet (one pod per node): the nodes where its pod is not ready, or is not placed yet."""
    if row['kind'] != 'daemonset':
        return ''
    nodes, unplaced = [], 0
    for pod in _items(bodies.get(path_of(NS, 'pods'))):
        if _owner_workload(pod) != ('daemonset', row['name']) or _pod_problem(pod) is None:
            continue
        node = str((pod.get('spec') or {}).get('nodeName') or '')
        if node:
            nodes.append(node)
        else:
            unplaced += 1
    parts = ([f"not ready on node{'s' if len(nodes) > 1 else ''} {', '.join(sorted(nodes)[:5])}"] if nodes else []) + \
        ([f'{unplaced} pod{"s" if unplaced > 1 else ""} not placed on a node'] if unplaced else [])
    return f" ({'; '.join(parts)})" if parts else ''


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


def _with_log_cause(finding, bodies, pod_name, ctx):
    """The pod's finding with what its previous log says, when a known message is in it."""
    prefix = path_of(NS, 'pods', pod_name) + '/log?'
    log = next((body for path, body in bodies.items() if path.startswith(prefix) and isinstance(body, Mapping)), None)
    found = log_cause(log.get('text'), _log_fields(ctx)) if log else None
    if found is None:
        return finding
    cause, fix, line = found
    return dict(finding, diagnosis=f"{finding['diagnosis']} Its last log says {cause}: {line}",
                fix=f"{fix}. {finding['fix']}")


def _log_fields(ctx):
    rg, cluster = shell_quote(ctx.resource_group or '<resource-group>'), shell_quote(ctx.cluster_name or '<cluster>')
    kind = health.canonical_cluster_type(ctx.cluster_type) or '<cluster-type>'
    return {'target': f'-g {rg} -c {cluster} -t {kind} -n {shell_quote(ctx.extension_name or "azureml")}',
            'cluster_args': f'-g {rg} -n {cluster}', 'rg': rg}


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


# The hook ARM's error names, and the report section it writes (real-failures.md, section 2).
_HOOK_SECTIONS = ((r'pre-install|install hooks? failed', 'reports-pre-install'),
                  (r'pre-upgrade|upgrade hooks? failed', 'reports-pre-upgrade'),
                  (r'pre-rollback|rollback hooks? failed|rolled back', 'reports-pre-rollback'))


def fresh_report_keys(extension) -> Optional[List[str]]:
    """The report sections that ARM's error for this extension points at (``failed pre-install: ...`` ->
    reports-pre-install, ``pre-upgrade hooks failed`` -> reports-pre-upgrade, an atomic rollback -> also
    reports-pre-rollback), or None when it names no hook: then every section counts."""
    props = (extension or {}).get('properties') or {} if isinstance(extension, Mapping) else {}
    texts = [str((props.get('errorInfo') or {}).get('message') or '') if isinstance(props.get('errorInfo'), Mapping)
             else '']
    texts += [str(s.get('message') or '') for s in props.get('statuses') or []
              if isinstance(s, Mapping) and str(s.get('level') or '').lower() in ('error', 'warning')]
    text = ' '.join(texts)
    keys = [key for pattern, key in _HOOK_SECTIONS if re.search(pattern, text, re.IGNORECASE)]
    return keys or None


def _healthcheck(bodies, ctx, fresh=None):
    """The report's sections and the findings of their failed entries; with ``fresh`` (and one of them present) a
    section ARM did not point at is listed as not current and its failures, left from an earlier operation, are not
    taken for the cause."""
    body = bodies.get(path_of(NS, 'configmaps', HEALTHCHECK_CONFIGMAP))
    if not isinstance(body, Mapping):
        return None, []
    data = body.get('data') if isinstance(body.get('data'), Mapping) else {}
    sections, findings, seen = [], [], set()
    fresh = [k for k in fresh or () if k in data] or None
    for key in sorted(k for k in data if k.startswith(('reports-', 'status-'))):
        current = not (fresh and key.startswith('reports-') and key not in fresh)
        parsed = parse_healthcheck(data[key])
        failed = [e for e in parsed['entries'] if str(e['status']).lower() == 'failed']
        if not parsed['entries'] and str(data[key] or '').strip():
            # Text with no entry read: another format, or cut short. Unknown, not an all clear.
            sections.append({'section': key, 'date': parsed['date'], 'current': current, 'passed': None,
                             'failed': [], 'unparsed': current})
            continue
        sections.append({'section': key, 'date': parsed['date'], 'current': current,
                         'passed': len(parsed['entries']) - len(failed),
                         'failed': [{'name': e['name'], 'errorCode': e['errorCode'], 'errorMessage': e['errorMessage']}
                                    for e in failed]})
        for entry in failed if current else ():
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


def _router_address(bodies, inference, ctx):
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
            'balancer address yet.', f'Watch it: kubectl get svc {ROUTER_SERVICE} -n {NS} -w; see the load '
            f'balancer events: kubectl describe svc {ROUTER_SERVICE} -n {NS}. A cluster without a load balancer '
            '(on premises, no MetalLB or the like) never gives one: az amlk8s update '
            f'{_log_fields(ctx)["target"]} --inference-router-service-type NodePort', False)], 'no ingress address')]
    if kind == 'NodePort':
        ports = [str(p.get('nodePort')) for p in spec.get('ports') or []
                 if isinstance(p, Mapping) and p.get('nodePort')]
        return {'type': kind, 'address': None, 'nodePorts': ports}, []
    return {'type': kind, 'address': address or spec.get('clusterIP')}, []


def after_report(access, proof, bodies, expected, *, ctx, inference, fresh=None, settled=True, location=None):
    """The report's ``inCluster`` section and its findings. ``fresh``: the report sections ARM's error points at
    (``fresh_report_keys``); ``settled``: ARM's operation has ended (a pending Helm revision is then stuck);
    ``location``: the cluster's region (its cloud)."""
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
                f"{row['desired']} ready{_not_ready_on(bodies, row)}.", f"See its pods: kubectl get pods -n {NS} -o "
                f"wide; kubectl describe {row['kind']} {row['name']} -n {NS}", True)],
                f"{row['ready']}/{row['desired']} ready"))
    pods = []
    ready = {(row['kind'], row['name']) for row in workloads if row['status'] == 'ready'}
    for pod in _items(bodies.get(path_of(NS, 'pods'))):
        problem = _pod_problem(pod)
        if problem is None or (_is_evicted(pod) and _owner_workload(pod) in ready):
            continue    # an evicted pod of a ready workload is a leftover the kubelet keeps; its replacement runs
        reason, restarts, message, _ = problem
        pods.append({'name': _name(pod), 'reason': reason, 'restarts': restarts, 'message': message or None})
        findings.append(_with_log_cause(_pod_finding(pod, problem), bodies, _name(pod), ctx))
    checks, hc_findings = _healthcheck(bodies, ctx, fresh)
    router, router_findings = _router_address(bodies, inference, ctx)
    findings += _instance_type_findings(bodies) + _agent_findings(bodies, ctx)
    findings += _endpoint_findings(bodies, inference, list(findings), ctx)
    findings += (_release_history_findings(bodies, ctx) if settled else []) + \
        _identity_cloud_findings(bodies, location, ctx)
    unread = _unread_after(bodies, checks)
    section.update({'workloads': workloads, 'podsNotReady': pods, 'healthCheck': checks, 'inferenceRouter': router,
                    'unread': [u['what'] for u in unread]})
    return section, findings + hc_findings + router_findings + [u['finding'] for u in unread]


_AFTER_WHAT = {'deployments': 'the deployments', 'statefulsets': 'the stateful sets', 'daemonsets': 'the daemon sets',
               'pods': 'the pods', 'endpoints': 'the endpoints',
               'secrets': "the Helm release's history (the labels of its release secrets)",
               ROUTER_SERVICE: f'the inference router service {ROUTER_SERVICE}',
               HEALTHCHECK_CONFIGMAP: f'the health-check report (configmap {HEALTHCHECK_CONFIGMAP})'}


def _unread_after(bodies, checks):
    """What verify could not read (refused, failing, cut short) or could not make sense of: each an unknown, said
    as a finding that does not count for the verdict (``read``), never taken as passed or missing."""
    out = []
    for path in dict.fromkeys(after_paths(True) + after_paths(False)):
        body = bodies.get(path)
        if not isinstance(body, Denied) or path in (INSTANCE_TYPES, IDENTITY_CONFIG):    # checks of their own
            continue
        namespace = 'namespace ' + path.split('/namespaces/', 1)[1].split('/', 1)[0] if '/namespaces/' in path \
            else 'every namespace'
        key = path.split('?', 1)[0].split('#', 1)[0].rstrip('/').rsplit('/', 1)[-1]
        what = _AFTER_WHAT.get(key, key) if path not in (ARC_AGENT_PODS, AKS_AGENT_PODS) else 'the agents\' pods'
        verb = 'list' if key in _AFTER_WHAT and key not in (ROUTER_SERVICE, HEALTHCHECK_CONFIGMAP) else 'get'
        resource = {ROUTER_SERVICE: 'services', HEALTHCHECK_CONFIGMAP: 'configmaps'}.get(key, key)
        out.append({'what': what, 'finding': health.make_finding('read', 'warning', [health.Diagnosis(
            'read-unknown', 'NOT_READ', f'Could not read {what} in {namespace} ({body}): what they would '
            'show is unknown, not passed.', f'Use a kubeconfig whose user may read them (kubectl auth can-i {verb} '
            f'{resource} ' + (f'-n {namespace[10:]}' if namespace.startswith('namespace ') else '-A')
            + '), then verify again.', False)], str(body))})
    for section in checks or []:
        if section.get('unparsed'):
            what = f"section {section['section']} of the health-check report"
            out.append({'what': what, 'finding': health.make_finding('read', 'warning', [health.Diagnosis(
                'healthcheck-unparsed', 'HEALTHCHECK_NOT_UNDERSTOOD', f'The {what} is in a form amlk8s does not '
                'read: its result is unknown, not passed.', f'Read it yourself: kubectl get configmap '
                f'{HEALTHCHECK_CONFIGMAP} -n {NS} -o jsonpath="{{.data.{section["section"]}}}"', False)],
                'unparsed health-check section')})
    return out


# --- why a container crashes: its previous log ------------------------------------------------------------------------

_LOG_CAUSES = (
    (r'failed to find any PEM data|tls: private key does not match|x509: |failed to load (?:the )?(?:tls |ssl )?'
     r'(?:cert|key)|no certificate|bad certificate',
     'the TLS certificate or key the router was given (sslCertPemFile/sslKeyPemFile, or the secret of sslSecret) is '
     'not one it can use',
     'Give a matching PEM certificate and key again (amlk8s checks them first): az amlk8s update {target} '
     '--ssl-cert-pem-file <cert.pem> --ssl-key-pem-file <key.pem>'),
    (r'AADSTS\d+|ManagedIdentityCredential|failed to (?:get|acquire) (?:a |the )?token|identity not found|'
     r'audience',
     "the cluster's identity could not get a Microsoft Entra token (the managed identity, or the cloud's audience)",
     'Check the cluster identity (az aks show {cluster_args} --query identity) and, in a sovereign cloud, that the '
     'extension was deployed from that cloud; see amlarc-identity-config: kubectl get configmap -n azureml '
     'amlarc-identity-config -o yaml'),
    (r'(?:relay|servicebus|hybrid ?connection)[^\n]{0,120}(?:unauthori[sz]ed|40[13]|not ?found|expired|'
     r'invalid)|(?:unauthori[sz]ed|40[13]|expired)[^\n]{0,120}(?:relay|servicebus|hybrid ?connection)',
     "the Azure Relay refused the relay server (its connection string or hybrid connection changed)",
     'Let amlk8s re-supply the relay connection string: az amlk8s update {target} --config '
     'relayserver.enabled=true (keep the Azure Relay in resource group {rg} unchanged)'),
)


def log_cause(text, fields):
    """(cause, fix, the matching log line with secrets removed) for a container's previous log, or None. Only the one
    line is ever shown, redacted: logs can hold tokens and keys."""
    for pattern, cause, fix in _LOG_CAUSES:
        for line in reversed(str(text or '').splitlines()):
            if re.search(pattern, line, re.IGNORECASE):
                shown = health.redact_line(line)
                return cause, fix.format(**fields), shown
    return None


def crash_log_paths(bodies, limit=3) -> List[str]:
    """The previous logs to read: the failing container of up to ``limit`` crash-looping release pods."""
    paths = []
    for pod in _items(bodies.get(path_of(NS, 'pods'))):
        problem = _pod_problem(pod)
        if problem is None or problem[0] not in ('CrashLoopBackOff', 'OOMKilled', 'Error') or len(paths) >= limit:
            continue
        query = {'previous': 'true', 'tailLines': 80, 'limitBytes': 65536}
        if problem[3]:
            query['container'] = problem[3]
        paths.append(path_of(NS, 'pods', _name(pod)) + '/log?' + '&'.join(f'{k}={v}' for k, v in query.items()))
    return paths


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
