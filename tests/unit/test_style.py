"""The azdev extension style gate (pylint + flake8 with azdev's ext settings, 120 columns), run with the tests."""

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
LINT = REPO / 'tests' / 'lint'


def _run(*args):
    return subprocess.run([sys.executable, '-m', *args], cwd=REPO, capture_output=True, text=True, timeout=300,
                          check=False)


def test_flake8_clean():
    result = _run('flake8', '--config', str(LINT / 'ext.flake8'), 'azext_amlk8s')
    assert result.returncode == 0, result.stdout + result.stderr
    tests = _run('flake8', '--max-line-length', '120', 'tests')
    assert tests.returncode == 0, tests.stdout + tests.stderr


def test_pylint_clean():
    result = _run('pylint', '--rcfile', str(LINT / 'ext_pylintrc'), '--score', 'n', 'azext_amlk8s')
    assert result.returncode == 0, result.stdout + result.stderr
