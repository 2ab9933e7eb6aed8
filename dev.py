#!/usr/bin/env python3
# --------------------------------------------------------------------------------------------
# Copyright (c) amlk8s contributors. Licensed under the MIT License.
# --------------------------------------------------------------------------------------------
"""Set up and run amlk8s's development tasks on a fresh machine (Python 3.10+ and the package registries).

    python3 dev.py demo     deploy, verify and delete on the embedded ARM emulator (no Azure account needed)
    python3 dev.py test     the whole test suite (unit and end-to-end with the real az)
    python3 dev.py bench    the performance benchmark
    python3 dev.py lint     flake8 and pylint with the azdev extension settings
    python3 dev.py wheel    build the wheel into dist/

Each task first creates (or refreshes) .venv from requirements-dev.txt.
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
EXTENSION_DEPENDENCIES = ['azure-mgmt-kubernetesconfiguration==3.1.0', 'azure-mgmt-relay==2.1.0']


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
    if task == 'lint':
        run(PYTHON, '-m', 'flake8', '--config', 'tests/lint/ext.flake8', 'azext_amlk8s')
        run(PYTHON, '-m', 'flake8', '--max-line-length', '120', 'tests', 'dev.py')
        run(PYTHON, '-m', 'pylint', '--rcfile', 'tests/lint/ext_pylintrc', 'azext_amlk8s')
        return 0
    os.chdir(ROOT)
    if task == 'wheel':
        # A stale build/ folder would put old modules into the wheel.
        import shutil
        shutil.rmtree(os.path.join(ROOT, 'build'), ignore_errors=True)
    return subprocess.call(tasks[task])


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
