"""The azure-cli-extensions CI gates with the real azdev 0.2.13 (see tests/lint/azdev_gate.py).

Fails on exactly what CI blocks on: a non-zero exit of `azdev linter --include-whl-extensions amlk8s` (its HIGH
findings and custom pylint rules) or of `azdev style amlk8s` (pylint and flake8 with azdev's extension configs).
MEDIUM linter findings are shown as a warning only (offline, every help link counts as broken).

The azdev environment (.venv-azdev, .azdev) is made on first use, which needs the package registry; inside a
network-isolated run it must already be there (`python3 dev.py lint` makes it).
"""

import os
import warnings

import pytest

from tests.lint import azdev_gate

pytestmark = pytest.mark.style


class _Results(dict):
    def __repr__(self):  # keeps pytest's failure report short: the findings are in the message
        return '<azdev gate results>'


def _fail_on(problems):
    if problems:
        pytest.fail('\n'.join(problems), pytrace=False)


@pytest.fixture(scope='module')
def results():
    if os.environ.get('AMLK8S_NETNS') and not azdev_gate.is_prepared():
        pytest.fail('the azdev environment (.venv-azdev, .azdev) is missing or out of date, and this run has no '
                    'network to make it: run `python3 dev.py lint` (or `python3 -m tests.lint.azdev_gate --prepare`) '
                    'first.', pytrace=False)
    return _Results(azdev_gate.gate())


def test_azdev_uses_the_committed_configs(results):
    _fail_on(azdev_gate.drift_blocking(results))


def test_azdev_linter_has_no_high_findings(results):
    problems = azdev_gate.linter_blocking(results)
    medium = [f for f in results['linter_medium']['findings'] if f[0] != 'HIGH']
    if medium:
        warnings.warn('azdev linter (reported, not blocking): '
                      + '; '.join(azdev_gate.format_finding(finding) for finding in medium))
    _fail_on(problems)


def test_azdev_style_passes(results):
    _fail_on(azdev_gate.style_blocking(results))
