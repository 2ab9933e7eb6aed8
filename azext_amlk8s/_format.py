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


def check_table(result):
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
    return _extension_row(result)


def extension_list_table(result):
    return [_extension_row(item) for item in result or []]


def deploy_table(result):
    """A deploy's result (the extension), or with --dry-run what would be sent: one row per property and setting,
    protected ones shown as the placeholder the JSON has."""
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
    rows = _wrapped(OrderedDict([('Item', 'verdict'), ('Level', '')]), f"{_cell(result.get('verdict'))} (provisioningState {_cell(result.get('provisioningState')) or 'unknown'}, version {_cell(result.get('version')) or 'unknown'})")
    for component in result.get('components') or []:
        replicas = component.get('replicas')
        rows.extend(_wrapped(OrderedDict([('Item', 'component'), ('Level', '')]), f"{_cell(component.get('name'))} ({_cell(component.get('kind'))}{(f', {replicas} replicas' if replicas else '')})"))
    for finding in result.get('findings') or []:
        first = OrderedDict([('Item', _cell(finding.get('code') or finding.get('source'))),
                             ('Level', _cell(finding.get('level')))])
        rows.extend(_wrapped(first, finding.get('diagnosis') or finding.get('message')))
        if finding.get('fix'):
            rows.extend(_wrapped(OrderedDict([('Item', ''), ('Level', '')]), finding.get('fix'), 'Fix: '))
    for step in result.get('nextSteps') or []:
        rows.extend(_wrapped(OrderedDict([('Item', 'next step'), ('Level', '')]), step))
    return rows
