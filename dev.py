#!/usr/bin/env python3
# --------------------------------------------------------------------------------------------
# Copyright (c) amlk8s contributors. Licensed under the MIT License.
# --------------------------------------------------------------------------------------------
"""Set up and run amlk8s's development tasks on a fresh machine (Python 3.10+ and the package registries).

    python3 dev.py demo     deploy, verify and delete on the embedded ARM emulator (no Azure account needed)
    python3 dev.py test     the whole test suite (unit and end-to-end with the real az, and the same extension on
                            the oldest az it supports, from .venv-min)
    python3 dev.py bench    the performance benchmark
    python3 dev.py lint     the azure-cli-extensions CI gates with the real azdev 0.2.13 (`azdev linter`, `azdev
                            style`; set up in .venv-azdev and .azdev), and flake8 over the tests
    python3 dev.py wheel    build the wheel into dist/

Each task first creates (or refreshes) .venv from requirements-dev.txt; `test` also creates .venv-min with
azure-cli 2.51.0 (tests/compat/constraints-min.txt), unless AMLK8S_MIN_CLI names the az to use.
"""

import hashlib
import os
import subprocess
import sys
import venv

ROOT = os.path.dirname(os.path.abspath(__file__))
VENV = os.path.join(ROOT, '.venv')
PYTHON = os.path.join(VENV, 'bin', 'python')
REQUIREMENTS = os.path.join(ROOT, 'requirements-dev.txt')
STAMP = os.path.join(VENV, '.requirements.sha256')
WHEELHOUSE = os.path.join(ROOT, '.wheelhouse')
EXTENSION_DEPENDENCIES = ['azure-mgmt-kubernetesconfiguration==3.1.0', 'kubernetes==37.0.2']
# The oldest Azure CLI the extension declares (azext_metadata.json), for tests/compat; AMLK8S_MIN_CLI=<az> instead.
MIN_CLI = 'azure-cli==2.51.0'
MIN_VENV = os.path.join(ROOT, '.venv-min')
MIN_PYTHON = os.path.join(MIN_VENV, 'bin', 'python')
MIN_CONSTRAINTS = os.path.join(ROOT, 'tests', 'compat', 'constraints-min.txt')
MIN_STAMP = os.path.join(MIN_VENV, '.requirements.sha256')


def run(*args, **kwargs):
    print('+ ' + ' '.join(args), flush=True)
    subprocess.run(args, check=True, cwd=ROOT, **kwargs)


def setup():
    if sys.version_info < (3, 10):
        sys.exit('amlk8s needs Python 3.10 or newer (the Azure CLI does); this is {}.'.format(sys.version.split()[0]))
    with open(REQUIREMENTS, 'rb') as handle:
        digest = hashlib.sha256(handle.read() + b'|'.join(d.encode() for d in EXTENSION_DEPENDENCIES)).hexdigest()
    if os.path.exists(STAMP) and open(STAMP, encoding='utf-8').read().strip() == digest:
        return
    if not os.path.exists(PYTHON):
        print('+ creating .venv', flush=True)
        venv.create(VENV, with_pip=True)
    run(PYTHON, '-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', '--upgrade', 'pip')
    run(PYTHON, '-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', '-r', REQUIREMENTS)
    # The extension's own dependencies as wheels, so the test that installs the built wheel with
    # `az extension add` runs without any network.
    run(PYTHON, '-m', 'pip', 'download', '--quiet', '--disable-pip-version-check', '--dest', WHEELHOUSE,
        *EXTENSION_DEPENDENCIES)
    with open(STAMP, 'w', encoding='utf-8') as handle:
        handle.write(digest)


def setup_min():
    """Create (or refresh) .venv-min with the declared minimum Azure CLI, unless AMLK8S_MIN_CLI names another az."""
    if os.environ.get('AMLK8S_MIN_CLI'):
        return
    with open(MIN_CONSTRAINTS, 'rb') as handle:
        digest = hashlib.sha256(handle.read() + MIN_CLI.encode()).hexdigest()
    if os.path.exists(MIN_STAMP) and open(MIN_STAMP, encoding='utf-8').read().strip() == digest:
        return
    if not os.path.exists(MIN_PYTHON):
        print('+ creating .venv-min ({}, for the minimum-version tests)'.format(MIN_CLI), flush=True)
        venv.create(MIN_VENV, with_pip=True)
    run(MIN_PYTHON, '-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', '--upgrade', 'pip')
    run(MIN_PYTHON, '-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', '-c', MIN_CONSTRAINTS,
        MIN_CLI, 'setuptools')
    with open(MIN_STAMP, 'w', encoding='utf-8') as handle:
        handle.write(digest)


def main(argv):
    task = argv[0] if argv else 'help'
    rest = argv[1:]
    if task in ('help', '-h', '--help'):
        print(__doc__)
        return 0
    tasks = {
        'test': [PYTHON, '-m', 'tests.isolated', '-m', 'pytest', 'tests'] + rest,
        'demo': [PYTHON, '-m', 'tests.demo'] + rest,
        'bench': [PYTHON, '-m', 'tests.bench'] + rest,
        'lint': None,
        'wheel': [PYTHON, '-m', 'pip', 'wheel', '--no-deps', '--no-build-isolation', '--wheel-dir', 'dist', '.'],
    }
    if task not in tasks:
        print(__doc__)
        return 2
    setup()
    if task == 'test':
        setup_min()
        # The azdev gates run inside the suite (tests/style) with no network: set their venv up here.
        run(PYTHON, '-m', 'tests.lint.azdev_gate', '--prepare')
    if task == 'lint':
        # flake8 over the tests and this file, then the azdev gates (tests/lint/azdev_gate.py): prepared here, with
        # the package registry, then run with no network but loopback (tests.isolated) where the machine allows it.
        tests_args = [PYTHON, '-m', 'flake8', '--max-line-length', '120', 'tests', 'dev.py']
        print('+ ' + ' '.join(tests_args), flush=True)
        status = subprocess.call(tests_args, cwd=ROOT)
        run(PYTHON, '-m', 'tests.lint.azdev_gate', '--prepare')
        gate_args = [PYTHON, '-m', 'tests.isolated', '-m', 'tests.lint.azdev_gate'] + rest
        print('+ ' + ' '.join(gate_args), flush=True)
        return subprocess.call(gate_args, cwd=ROOT) or status
    os.chdir(ROOT)
    if task == 'wheel':
        # A stale build/ folder would put old modules into the wheel.
        import shutil
        shutil.rmtree(os.path.join(ROOT, 'build'), ignore_errors=True)
    return subprocess.call(tasks[task])


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
