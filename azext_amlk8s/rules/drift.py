# --------------------------------------------------------------------------------------------
# Copyright (c) amlk8s contributors. Licensed under the MIT License.
# --------------------------------------------------------------------------------------------
"""Step 3 for ``list --drift``: which AzureML extensions of the fleet differ, and in what (pure rules over the rows
``fleet.fleet_list`` read from Resource Graph).

``--drift`` alone compares version, release train and auto-upgrade with the fleet's majority; ``--drift FIELD``
adds a field or a public setting (``enableInference``, ``nodeSelector.agentpool``) compared with the majority;
``--drift FIELD=VALUE`` compares it with that value. A field without a majority (a tie) is said, not guessed.
"""

from collections import Counter
from typing import Dict, List, Optional, Tuple

DEFAULT_FIELDS = ('version', 'releaseTrain', 'autoUpgradeMinorVersion')
_ALIASES = {'version': 'version', 'releasetrain': 'releaseTrain', 'release-train': 'releaseTrain',
            'autoupgrademinorversion': 'autoUpgradeMinorVersion', 'autoupgrade': 'autoUpgradeMinorVersion',
            'auto-upgrade-minor-version': 'autoUpgradeMinorVersion', 'auto-upgrade': 'autoUpgradeMinorVersion'}


def parse(values) -> List[Tuple[str, Optional[str]]]:
    """(field, expected value or None for "the majority") for each --drift item; the defaults when none is given."""
    wanted = []
    for value in values or ():
        for item in str(value).replace(',', ' ').split():
            field, has_value, expected = item.partition('=')
            field = _ALIASES.get(field.lstrip('-').lower(), field)
            wanted.append((field, expected if has_value else None))
    named = {field for field, _ in wanted}
    return [(f, None) for f in DEFAULT_FIELDS if f not in named] + wanted


def _value(row, field) -> Optional[str]:
    raw = row.get(field) if field in DEFAULT_FIELDS else (row.get('configurationSettings') or {}).get(field)
    if raw is None or raw == '':
        return None
    return str(raw).lower() if isinstance(raw, bool) or str(raw).lower() in ('true', 'false') else str(raw)


def _same(left, right) -> bool:
    return (left or '').lower() == (right or '').lower() if left and right and left.lower() in (
        'true', 'false') else left == right


def find(rows, wanted) -> Tuple[List[dict], List[str]]:
    """(the rows that drift, each with ``drift``: [{field, value, expected, basis}], what could not be judged)."""
    expected: Dict[str, Tuple[Optional[str], str]] = {}
    notes = []
    for field, value in wanted:
        if value is not None:
            expected[field] = (value, 'given')
            continue
        counts = Counter(_value(r, field) for r in rows)
        ranked = counts.most_common()
        if not ranked:
            continue
        if len(ranked) > 1 and ranked[0][1] == ranked[1][1]:
            tied = ', '.join(f'{v or "unset"} on {n}' for v, n in ranked[:3])
            notes.append(f'{field}: no majority ({tied}); give --drift {field}=<value> to compare with a value.')
            continue
        expected[field] = (ranked[0][0], 'majority')
    drifting = []
    for row in rows:
        found = [{'field': field, 'value': _value(row, field), 'expected': want, 'basis': basis}
                 for field, (want, basis) in expected.items() if not _same(_value(row, field), want)]
        if found:
            shown = {k: v for k, v in row.items() if k != 'configurationSettings'}
            drifting.append(dict(shown, drift=found))
    return drifting, notes
