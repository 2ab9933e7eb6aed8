# --------------------------------------------------------------------------------------------
# Copyright (c) amlk8s contributors. Licensed under the MIT License.
# --------------------------------------------------------------------------------------------
"""Table views (-o table). JSON output is the plain result; these only shape rows for humans.

The words are the JSON's (a check that passes says ``pass`` in both, so ``--query "[?status=='pass']"`` finds what
the table shows); an absent value is an empty cell, never ``None``; long findings and fixes wrap onto continuation
rows, so every row fits in 120 columns.
"""

import textwrap
from collections import OrderedDict

TEXT_WIDTH = 84     # the text column; the other columns and the separators take the rest of 120


def _cell(value):
    if value is None:
        return ''
    if isinstance(value, bool):
        return 'true' if value else 'false'
    return str(value)


def _wrapped(first, text, prefix='', width=TEXT_WIDTH):
    """``first`` (the leading cells of the first row) with ``text`` wrapped over as many rows as it needs."""
    lines = textwrap.wrap(prefix + _cell(text), width=width, break_long_words=True, break_on_hyphens=False) or ['']
    blank = OrderedDict((key, '') for key in first)
    rows = []
    for index, line in enumerate(lines):
        row = OrderedDict(first if index == 0 else blank)
        row['Detail'] = line
        rows.append(row)
    return rows


def _is_fleet(result):
    """--ids results: one entry per cluster ({"clusterId", "status", "result", "error"})."""
    return isinstance(result, list) and bool(result) and isinstance(result[0], dict) and \
        {'clusterId', 'status', 'error'} <= set(result[0])


def _id_part(resource_id, key):
    """The segment after ``key`` (``subscriptions``, ``resourceGroups``) in a resource id; '' when absent."""
    parts = _cell(resource_id).strip('/').split('/')
    lowered = [p.lower() for p in parts]
    index = lowered.index(key.lower()) if key.lower() in lowered else -1
    return parts[index + 1] if 0 <= index < len(parts) - 1 else ''


def _cluster_cells(cluster_id, many_subscriptions):
    """Cluster, Group (and Subscription when the rows span several): same-named clusters stay apart."""
    cells = OrderedDict([('Cluster', _cell(cluster_id).rsplit('/', 1)[-1]),
                         ('Group', _id_part(cluster_id, 'resourceGroups'))])
    if many_subscriptions:
        cells['Subscription'] = _id_part(cluster_id, 'subscriptions')
    return cells


def _many_subscriptions(ids):
    return len({_id_part(i, 'subscriptions').lower() for i in ids}) > 1


def fleet_entries_table(result):
    rows = []
    many = _many_subscriptions(e.get('clusterId') for e in result)
    for entry in result:
        detail = entry.get('error') or _summary(entry.get('result'))
        first = _cluster_cells(entry.get('clusterId'), many)
        if any('stage' in e for e in result):
            first['Stage'] = _cell(entry.get('stage')) or '-'
        first['Status'] = _cell(entry.get('status'))
        rows.extend(_wrapped(first, detail))
    return rows


def resource_table(result):
    """update, delete, attach, detach: one row per cluster (--ids), the extension, or the compute target."""
    if _is_fleet(result):
        return fleet_entries_table(result)
    if not isinstance(result, dict):
        return []
    props = result.get('properties') or {}
    if isinstance(props, dict) and props.get('computeType'):
        inner = props.get('properties') if isinstance(props.get('properties'), dict) else {}
        return [OrderedDict([('Compute', _cell(result.get('name'))), ('Type', _cell(props.get('computeType'))),
                             ('State', _cell(props.get('provisioningState'))),
                             ('Cluster', _cell(props.get('resourceId')).rsplit('/', 1)[-1]),
                             ('Namespace', _cell(inner.get('namespace')))])]
    return [_extension_row(result)]


def _summary(result):
    if isinstance(result, dict):
        props = result.get('properties') or result
        return ' '.join(f'{key} {_cell(props.get(key))}' for key in ('verdict', 'provisioningState')
                        if props.get(key) is not None)
    if isinstance(result, list):
        failed = [r.get('check') for r in result if isinstance(r, dict) and r.get('status') == 'fail']
        return f"{len(result)} checks, failed: {', '.join(failed)}" if failed else f'{len(result)} checks passed'
    return ''


def check_table(result):
    if _is_fleet(result):
        return fleet_entries_table(result)
    rows = []
    for row in result or []:
        first = OrderedDict([('Check', _cell(row.get('check'))), ('Status', _cell(row.get('status')))])
        rows.extend(_wrapped(first, row.get('finding')))
        if row.get('fix') and row.get('status') != 'pass':
            rows.extend(_wrapped(OrderedDict([('Check', ''), ('Status', '')]), row.get('fix'), 'Fix: '))
    return rows


def _extension_row(extension):
    extension = extension or {}
    props = extension.get('properties') or extension      # ARM shape, or the SDK's flattened one
    settings = props.get('configurationSettings') or {}

    def on(key):
        return str(settings.get(key, '')).lower() == 'true'

    workloads = ', '.join(w for w, key in (('training', 'enableTraining'), ('inference', 'enableInference'))
                          if on(key))
    return OrderedDict([('Name', _cell(extension.get('name'))),
                        ('State', _cell(props.get('provisioningState'))),
                        ('Version', _cell(props.get('currentVersion') or props.get('version'))),
                        ('ReleaseTrain', _cell(props.get('releaseTrain'))),
                        ('AutoUpgrade', _cell(props.get('autoUpgradeMinorVersion'))),
                        ('Workloads', workloads)])


def extension_table(result):
    if _is_fleet(result):
        return fleet_entries_table(result)
    return _extension_row(result)


def extension_list_table(result):
    if result and isinstance(result[0], dict) and 'healthy' in result[0] and 'clusterId' in result[0]:
        # The fleet: unhealthy first, then by cluster.
        ordered = sorted(result, key=lambda r: (bool(r.get('healthy')), str(r.get('clusterId')).lower()))
        many = _many_subscriptions(r.get('clusterId') for r in result)
        return [OrderedDict(list(_cluster_cells(r.get('clusterId'), many).items()) + [
            ('Type', 'AKS' if r.get('clusterType') == 'managedClusters' else 'Arc'),
            ('Name', _cell(r.get('name'))), ('State', _cell(r.get('provisioningState'))),
            ('Version', _cell(r.get('version'))), ('Train', _cell(r.get('releaseTrain')))] + (
                [('Drift', '; '.join(f"{d.get('field')} {_cell(d.get('value')) or 'unset'} ({d.get('basis')} "
                                     f"{_cell(d.get('expected')) or 'unset'})" for d in r.get('drift') or []))]
                if 'drift' in r else []) + [('Error', _cell(r.get('error'))[:60])]) for r in ordered]
    if result and isinstance(result[0], dict) and 'complianceState' in result[0]:
        # list --policy: each cluster's compliance.
        many = _many_subscriptions(r.get('clusterId') for r in result)
        return [OrderedDict(list(_cluster_cells(r.get('clusterId'), many).items()) + [
            ('Compliance', _cell(r.get('complianceState'))), ('Assignment', _cell(r.get('policyAssignment'))),
            ('Evaluated', _cell(r.get('timestamp')))]) for r in result]
    if result and isinstance(result[0], dict) and 'clusterId' in result[0] and 'name' not in result[0]:
        # list --missing: the clusters without an AzureML extension.
        many = _many_subscriptions(r.get('clusterId') for r in result)
        return [OrderedDict(list(_cluster_cells(r.get('clusterId'), many).items()) + [
            ('Type', 'AKS' if r.get('clusterType') == 'managedClusters' else 'Arc'),
            ('Location', _cell(r.get('location')))]) for r in result]
    return [_extension_row(item) for item in result or []]


def deploy_table(result):
    """A deploy's result (the extension), or with --dry-run what would be sent: one row per property and setting,
    protected ones shown as the placeholder the JSON has."""
    if _is_fleet(result):
        return fleet_entries_table(result)
    if not isinstance(result, dict) or 'apiVersion' not in result:
        return _extension_row(result)
    props = result.get('properties') or {}
    rows = [OrderedDict([('Item', key), ('Value', _cell(value))]) for key, value in
            (('id', result.get('id')), ('extensionType', props.get('extensionType')),
             ('releaseTrain', props.get('releaseTrain')), ('version', props.get('version')),
             ('autoUpgradeMinorVersion', props.get('autoUpgradeMinorVersion')),
             ('identity', (result.get('identity') or {}).get('type')))]
    rows += [OrderedDict([('Item', key), ('Value', _cell(value))])
             for key, value in sorted((props.get('configurationSettings') or {}).items())]
    rows += [OrderedDict([('Item', f"{key} (protected)"), ('Value', _cell(value))])
             for key, value in sorted((props.get('configurationProtectedSettings') or {}).items())]
    return rows


def verify_table(result):
    if _is_fleet(result):
        return fleet_entries_table(result)
    state = _cell(result.get('provisioningState')) or 'unknown'
    version = _cell(result.get('version')) or 'unknown'
    rows = _wrapped(OrderedDict([('Item', 'verdict'), ('Level', '')]),
                    f"{_cell(result.get('verdict'))} (provisioningState {state}, version {version})")
    inside = result.get('inCluster') or {}
    if inside.get('read'):
        rows.extend(_wrapped(OrderedDict([('Item', 'cluster'), ('Level', '')]),
                             f"read {_cell(inside.get('server'))} ({_cell(inside.get('source'))})"))
    elif inside:
        rows.extend(_wrapped(OrderedDict([('Item', 'cluster'), ('Level', _cell(inside.get('status')))]),
                             f"not read: {_cell(inside.get('reason'))}"))
    workloads = {(w.get('kind'), w.get('name')): w for w in inside.get('workloads') or []}
    for component in result.get('components') or []:
        replicas = component.get('replicas')
        count = f', {replicas} replicas' if replicas else ''
        seen = workloads.get((component.get('kind'), component.get('name')))
        if seen is not None:
            count = (', missing' if seen.get('status') == 'missing' else
                     f", {_cell(seen.get('ready'))}/{_cell(seen.get('desired'))} ready")
        rows.extend(_wrapped(OrderedDict([('Item', 'component'), ('Level', '')]),
                             f"{_cell(component.get('name'))} ({_cell(component.get('kind'))}{count})"))
    for section in inside.get('healthCheck') or []:
        failed = section.get('failed') or []
        rows.extend(_wrapped(OrderedDict([('Item', 'health check'), ('Level', '')]),
                             f"arcml-healthcheck {_cell(section.get('section'))}: {_cell(section.get('passed'))} "
                             f"passed, {len(failed)} failed"
                             + ('' if section.get('current', True) else ' (from an earlier operation)')))
    router = inside.get('inferenceRouter') or {}
    if router:
        address = _cell(router.get('address')) or 'no address'
        rows.extend(_wrapped(OrderedDict([('Item', 'router'), ('Level', '')]),
                             f"azureml-fe ({_cell(router.get('type'))}): {address}"))
    for compute in result.get('computes') or []:
        rows.extend(_wrapped(OrderedDict([('Item', 'compute'), ('Level', '')]),
                             f"{_cell(compute.get('name'))} ({_cell(compute.get('computeType'))}, provisioningState "
                             f"{_cell(compute.get('provisioningState')) or 'unknown'})"))
    for finding in result.get('findings') or []:
        first = OrderedDict([('Item', _cell(finding.get('code') or finding.get('source'))),
                             ('Level', _cell(finding.get('level')))])
        rows.extend(_wrapped(first, finding.get('diagnosis') or finding.get('message')))
        if finding.get('fix'):
            rows.extend(_wrapped(OrderedDict([('Item', ''), ('Level', '')]), finding.get('fix'), 'Fix: '))
    for step in result.get('nextSteps') or []:
        rows.extend(_wrapped(OrderedDict([('Item', 'next step'), ('Level', '')]), step))
    return rows
