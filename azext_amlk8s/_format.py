# --------------------------------------------------------------------------------------------
# Copyright (c) amlk8s contributors. Licensed under the MIT License.
# --------------------------------------------------------------------------------------------
"""Table views (-o table). JSON output is the plain result; these only shape rows for humans."""

from collections import OrderedDict

_STATUS = {'pass': 'ok', 'warning': 'WARNING', 'fail': 'FAIL', 'unknown': 'unknown', 'ignored': 'ignored'}


def check_table(result):
    return [OrderedDict([('Check', row.get('check')),
                         ('Status', _STATUS.get(row.get('status'), row.get('status'))),
                         ('Finding', row.get('finding')),
                         ('Fix', row.get('fix') or '')]) for row in result or []]


def _extension_row(extension):
    extension = extension or {}
    props = extension.get('properties') or extension      # ARM shape, or the SDK's flattened one
    settings = props.get('configurationSettings') or {}

    def on(key):
        return str(settings.get(key, '')).lower() == 'true'

    workloads = ', '.join(w for w, key in (('training', 'enableTraining'), ('inference', 'enableInference'))
                          if on(key))
    return OrderedDict([('Name', extension.get('name')),
                        ('State', props.get('provisioningState')),
                        ('Version', props.get('currentVersion') or props.get('version')),
                        ('ReleaseTrain', props.get('releaseTrain')),
                        ('AutoUpgrade', props.get('autoUpgradeMinorVersion')),
                        ('Workloads', workloads)])


def extension_table(result):
    return _extension_row(result)


def extension_list_table(result):
    return [_extension_row(item) for item in result or []]


def verify_table(result):
    rows = [OrderedDict([('Item', 'verdict'), ('Level', ''), ('Detail', '{} (provisioningState {}, version {})'.format(
        result.get('verdict'), result.get('provisioningState'), result.get('version'))), ('Fix', '')])]
    for component in result.get('components') or []:
        replicas = component.get('replicas')
        rows.append(OrderedDict([('Item', 'component'), ('Level', ''),
                                 ('Detail', '{} ({}{})'.format(
                                     component.get('name'), component.get('kind'),
                                     ', {} replicas'.format(replicas) if replicas else '')),
                                 ('Fix', '')]))
    for finding in result.get('findings') or []:
        rows.append(OrderedDict([('Item', finding.get('code') or finding.get('source')),
                                 ('Level', finding.get('level')),
                                 ('Detail', finding.get('diagnosis') or finding.get('message')),
                                 ('Fix', finding.get('fix') or '')]))
    for step in result.get('nextSteps') or []:
        rows.append(OrderedDict([('Item', 'next step'), ('Level', ''), ('Detail', step), ('Fix', '')]))
    return rows
