# --------------------------------------------------------------------------------------------
# Copyright (c) amlk8s contributors. Licensed under the MIT License.
# --------------------------------------------------------------------------------------------
"""Step 3, scheduling before the write: where the extension's pods can run, judged from the nodes the cluster's
Kubernetes API returned (pure; ``incluster.py`` hands the node objects in).

The AzureML chart places its pods with the ``nodeSelector`` setting (``nodeSelector.<label>=<value>``, every pair
must match, Kubernetes "Assign Pods to Nodes") and tolerates no custom taint, so a node is *eligible* when it is
Ready, schedulable (not cordoned), Linux, carries every selector label and has no ``NoSchedule``/``NoExecute``
taint. The inference router's HA mode runs three ``azureml-fe-v2`` replicas spread one per node, so it needs three
eligible nodes (E40002 INSUFFICIENT_NODE otherwise). Public reports (real-failures.md): a selector of AKS-only labels
(``agentpool``, ``kubernetes.azure.com/agentpool``) on an Arc cluster matches nothing, and ARM then says only
``status not populated``.
"""

import re
from typing import Dict, List, Mapping, Optional, Tuple

AKS_ONLY_LABELS = ('agentpool', 'kubernetes.azure.com/agentpool', 'kubernetes.azure.com/cluster',
                   'kubernetes.azure.com/mode', 'kubernetes.azure.com/role', 'kubernetes.azure.com/os-sku')
HA_REPLICAS = 3


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


def _labels(node) -> Mapping:
    labels = (node.get('metadata') or {}).get('labels') if isinstance(node, Mapping) else None
    return labels if isinstance(labels, Mapping) else {}


def _name(node) -> str:
    return str((node.get('metadata') or {}).get('name') or '?') if isinstance(node, Mapping) else '?'


def is_ready(node) -> bool:
    for cond in (node.get('status') or {}).get('conditions') or []:
        if isinstance(cond, Mapping) and cond.get('type') == 'Ready':
            return cond.get('status') == 'True'
    return False


def _blocking_taints(node) -> List[str]:
    taints = (node.get('spec') or {}).get('taints') or []
    return [f"{t.get('key')}{'=' + str(t.get('value')) if t.get('value') else ''}:{t.get('effect')}"
            for t in taints if isinstance(t, Mapping) and t.get('effect') in ('NoSchedule', 'NoExecute')]


def _linux(node) -> bool:
    os_name = _labels(node).get('kubernetes.io/os') or ((node.get('status') or {}).get('nodeInfo') or {}).get(
        'operatingSystem') or 'linux'
    return str(os_name).lower() == 'linux'


def eligible_nodes(nodes, selector: Mapping[str, str]) -> Tuple[List[dict], Dict[str, List[str]]]:
    """(the nodes the extension's pods can run on, {why not: [node names]} for the others)."""
    eligible, excluded = [], {}
    for node in nodes or []:
        if not isinstance(node, Mapping):
            continue
        labels = _labels(node)
        reason = None
        if not _linux(node):
            reason = 'not Linux'
        elif not is_ready(node):
            reason = 'not Ready'
        elif (node.get('spec') or {}).get('unschedulable'):
            reason = 'cordoned'
        elif any(str(labels.get(k)) != str(v) for k, v in selector.items()):
            reason = 'not matching the node selector'
        elif _blocking_taints(node):
            reason = 'tainted ' + ', '.join(_blocking_taints(node)[:2])
        if reason is None:
            eligible.append(node)
        else:
            excluded.setdefault(reason, []).append(_name(node))
    return eligible, excluded


def _shown(names, limit=5) -> str:
    more = len(names) - limit
    return ', '.join(names[:limit]) + (f' and {more} more' if more > 0 else '')


def selector_text(selector: Mapping[str, str]) -> str:
    return ','.join(f'{k}={v}' for k, v in selector.items())


def selector_finding(nodes, selector: Mapping[str, str], is_arc: bool) -> Tuple[str, str, str]:
    """(status, finding, fix) of the node selector against the nodes: ``fail`` when it selects no Ready,
    schedulable Linux node, naming the label and the values the nodes have for it."""
    candidates = [n for n in nodes or [] if isinstance(n, Mapping) and _linux(n) and is_ready(n)
                  and not (n.get('spec') or {}).get('unschedulable')]
    matching = [n for n in candidates if all(str(_labels(n).get(k)) == str(v) for k, v in selector.items())]
    text = selector_text(selector)
    if matching:
        names = _shown([_name(n) for n in matching])
        return 'pass', f'The node selector {text} selects {len(matching)} Ready node(s): {names}.', ''
    parts = []
    for key, value in selector.items():
        have = sorted({str(_labels(n).get(key)) for n in candidates if key in _labels(n)})
        if not have:
            aks_only = is_arc and key in AKS_ONLY_LABELS
            note = ' (an AKS-only label: Arc and other clusters do not set it)' if aks_only else ''
            parts.append(f'no node has the label {key}{note}')
        elif value not in have:
            parts.append(f'the nodes have {key}={"|".join(have[:5])}, not {value}')
    common = sorted(set.intersection(*[set(_labels(n)) for n in candidates])) if candidates else []
    shown = [k for k in common if not k.startswith(('beta.kubernetes.io/', 'node.kubernetes.io/exclude'))][:6]
    why = '; '.join(parts) or 'no node matches every label'
    finding = (f'The node selector {text} selects no Ready, schedulable Linux node: {why}. The extension\'s pods '
               'would stay Pending (E40002 INSUFFICIENT_NODE; on Arc ARM may say only "status not populated").')
    fix = ('Use labels your nodes have' + (f' (every node has {", ".join(shown)})' if shown else '') +
           f', for example --node-selector kubernetes.io/os=linux, or label the nodes: kubectl label node <node> '
           f'{text.split(",", maxsplit=1)[0]}')
    return 'fail', finding, fix


def router_ha_finding(eligible, excluded, selector) -> Tuple[str, str, str]:
    """(status, finding, fix) of inferenceRouterHA on the eligible nodes (three replicas, one per node)."""
    count = len(eligible)
    scope = f' matching {selector_text(selector)}' if selector else ''
    if count >= HA_REPLICAS:
        return 'pass', f'{count} eligible nodes{scope}: enough for three inference router replicas.', ''
    others = '; '.join(f'{why}: {_shown(names, 3)}' for why, names in excluded.items())
    return ('fail', f'inferenceRouterHA is on and its three azureml-fe-v2 replicas run one per node, but only '
            f'{count} node(s){scope} can take them' + (f' (left out: {others})' if others else '') +
            ': the replicas would stay Pending (E40002 INSUFFICIENT_NODE).',
            'Deploy with --inference-router-ha false (one replica, dev/test), or make three nodes eligible (add '
            'nodes, uncordon them, or widen the node selector).')


# --- after the write: why a pod is Pending ---------------------------------------------------------------------------

# The scheduler's reasons in "0/N nodes are available: <count> <reason>, ..." (kube-scheduler's FailedScheduling
# message and the pod's PodScheduled=False condition), each with what to change.
_CAUSES = (
    (r'Insufficient (cpu|memory)', 'too little free {0}',
     'Free or add {0}: add nodes or larger nodes, or lower what other workloads request (kubectl describe nodes shows '
     'Allocated resources).'),
    (r'Insufficient nvidia\.com/gpu', 'no free NVIDIA GPU',
     'Add GPU nodes, or let the extension install the device plugin (--install-nvidia-device-plugin true) so the '
     "nodes' GPUs are offered as nvidia.com/gpu."),
    (r'Too many pods', 'no free pod slot',
     "The nodes are at their maximum pods (status.allocatable.pods): add nodes, or on AKS add a node pool with a "
     'higher --max-pods.'),
    (r"didn't match Pod's node affinity/selector", "the node selector matches no free node",
     'Check the nodeSelector setting against the labels: kubectl get nodes --show-labels; change it with az amlk8s '
     'update ... --config nodeSelector.<label>=<value>.'),
    (r'had untolerated taint \{?([^}]*)\}?', 'a taint the pod does not tolerate ({0})',
     'Remove the taint from the nodes that should run the extension (kubectl taint nodes <node> <key>-), or use '
     'nodes without it.'),
    (r"didn't match pod anti-affinity rules", 'one replica per node and no node left',
     'The inference router with HA runs three replicas on three different nodes: add nodes, or deploy with '
     '--inference-router-ha false.'),
    (r"didn't have free ports for the requested pod ports", 'a host port already taken',
     'Another pod on those nodes uses the same host port: find it with kubectl get pods -A -o wide and move it.'),
    (r'unbound immediate PersistentVolumeClaims', 'a volume claim with no volume',
     'Check the claims and the storage class: kubectl get pvc -n azureml; kubectl get storageclass.'),
)


def scheduler_causes(message: str) -> List[Tuple[str, str]]:
    """[(cause, fix)] named in a scheduler message, in the order of the table; [] when none is recognised."""
    found = []
    for pattern, cause, fix in _CAUSES:
        for match in re.finditer(r'(\d+) (?:node\(s\) )?' + pattern, message or ''):
            extra = (match.group(2) or '').strip() if match.lastindex and match.lastindex >= 2 else ''
            found.append((f'{match.group(1)} node(s): {cause.format(extra)}', fix.format(extra)))
    return found


# --- instance types ------------------------------------------------------------------------------------------------

def _amount(value) -> float:
    return quantity(value) or 0.0


def _needs(instance_type) -> Dict[str, float]:
    resources = ((instance_type.get('spec') or {}).get('resources') or {}) if isinstance(instance_type, Mapping) \
        else {}
    requests, limits = resources.get('requests') or {}, resources.get('limits') or {}
    return {'cpu': _amount(requests.get('cpu') or limits.get('cpu')),
            'memory': _amount(requests.get('memory') or limits.get('memory')),
            'nvidia.com/gpu': _amount(limits.get('nvidia.com/gpu') or requests.get('nvidia.com/gpu'))}


def _offers(node) -> Dict[str, float]:
    allocatable = (node.get('status') or {}).get('allocatable') or {}
    return {key: _amount(allocatable.get(key)) for key in ('cpu', 'memory', 'nvidia.com/gpu')}


def _fmt_needs(values) -> str:
    parts = [f"{values['cpu']:g} CPU", f"{values['memory'] / 2 ** 30:.3g} GiB memory"]
    if values.get('nvidia.com/gpu'):
        parts.append(f"{values['nvidia.com/gpu']:g} GPU")
    return ', '.join(parts)


def instance_types_no_node_holds(instance_types, nodes) -> List[Tuple[str, str]]:
    """[(instance type name, why)] for the InstanceType resources (amlarc.azureml.com, how-to-manage-kubernetes-
    instance-types) that no eligible node can hold: its CPU and memory requests and GPU limit against each node's
    allocatable, on the nodes its own nodeSelector picks."""
    out = []
    for item in instance_types or []:
        if not isinstance(item, Mapping):
            continue
        name = str((item.get('metadata') or {}).get('name') or '?')
        selector = (item.get('spec') or {}).get('nodeSelector') or {}
        eligible, _ = eligible_nodes(nodes, selector if isinstance(selector, Mapping) else {})
        need = _needs(item)
        if any(all(_offers(n)[k] >= v for k, v in need.items()) for n in eligible):
            continue
        if not eligible:
            why = f'no eligible node matches its nodeSelector {selector_text(selector)}' if selector else \
                'no node is eligible'
        else:
            largest = max(eligible, key=lambda n: (_offers(n)['nvidia.com/gpu'], _offers(n)['cpu'],
                                                   _offers(n)['memory']))
            why = (f'it asks for {_fmt_needs(need)}, and the largest eligible node, {_name(largest)}, offers '
                   f'{_fmt_needs(_offers(largest))}')
        out.append((name, why))
    return out


# --- pod slots -----------------------------------------------------------------------------------------------------

def free_pod_slots(eligible, pods) -> Dict[str, int]:
    """{node name: free pod slots}: ``status.allocatable.pods`` minus the pods bound there that still hold a slot
    (not Succeeded or Failed)."""
    bound = {}
    for pod in pods or []:
        if not isinstance(pod, Mapping):
            continue
        node = (pod.get('spec') or {}).get('nodeName')
        if node and str((pod.get('status') or {}).get('phase') or '') not in ('Succeeded', 'Failed'):
            bound[node] = bound.get(node, 0) + 1
    free = {}
    for node in eligible:
        allocatable = int(_amount(((node.get('status') or {}).get('allocatable') or {}).get('pods')) or 110)
        free[_name(node)] = max(allocatable - bound.get(_name(node), 0), 0)
    return free


def pod_slot_finding(free: Dict[str, int], needed: int, daemonsets: bool) -> Tuple[str, str, str]:
    """(status, finding, fix): fail when the eligible nodes together have fewer free slots than the release's pods,
    or, with the chart's DaemonSets (one pod on every eligible node), when an eligible node has none."""
    total = sum(free.values())
    full = sorted(name for name, slots in free.items() if slots == 0)
    fix = ('Add nodes, or on AKS add a node pool with a higher --max-pods; see the pods per node: kubectl get pods -A '
           '-o wide --field-selector spec.nodeName=<node>')
    if total < needed:
        return ('fail', f'The eligible nodes have {total} free pod slot(s) (allocatable pods minus the pods bound '
                f'there) and the release runs about {needed} pods: the rest would stay Pending ("Too many pods").',
                fix)
    if full and daemonsets:
        return ('fail', f'Node(s) {_shown(full)} have no free pod slot, and the extension\'s DaemonSets need one on '
                'every eligible node: their pods there would stay Pending ("Too many pods").', fix)
    if full:
        return ('warning', f'Node(s) {_shown(full)} have no free pod slot; the other eligible nodes have {total} '
                'free pod slot(s).', fix)
    return 'pass', f'The eligible nodes have {total} free pod slot(s) for the release\'s about {needed} pods.', ''
