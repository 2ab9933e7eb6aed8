"""Plain flake8 and pylint with azdev's extension configs (the copies in tests/lint), and flake8 over the tests.

The same configs and tool versions `azdev style` uses, without azdev's own environment: a quick check that needs
nothing but .venv. test_azdev_gates.py runs the real azdev.
"""

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.style

REPO = Path(__file__).resolve().parents[2]
LINT = REPO / 'tests' / 'lint'


def _run(*args):
    return subprocess.run([sys.executable, '-m', *args], cwd=REPO, capture_output=True, text=True, timeout=300,
                          check=False)


def test_flake8_clean():
    result = _run('flake8', '--statistics', '--append-config', str(LINT / 'ext.flake8'), 'azext_amlk8s')
    assert result.returncode == 0, result.stdout + result.stderr
    tests = _run('flake8', '--max-line-length', '120', 'tests', 'dev.py')
    assert tests.returncode == 0, tests.stdout + tests.stderr


def test_pylint_clean():
    result = _run('pylint', '--rcfile', str(LINT / 'ext_pylintrc'), '--score', 'n', 'azext_amlk8s')
    assert result.returncode == 0, result.stdout + result.stderr
