"""The product as users meet it: the built wheel, installed with `az extension add --source <wheel> --yes`.

The wheel's dependencies come from .wheelhouse (written by `python3 dev.py` set-up), so pip needs no network.
"""

import json
import subprocess
import zipfile
from pathlib import Path

import pytest

from tests.e2e.harness import AZ, build_wheel

REPO = Path(__file__).resolve().parents[2]
WHEELHOUSE = REPO / '.wheelhouse'


@pytest.fixture(scope='module')
def wheel(tmp_path_factory):
    return build_wheel(tmp_path_factory.mktemp('dist'), tmp_path_factory.mktemp('source'))


def test_wheel_contents(wheel):
    assert wheel.name == 'amlk8s-1.0.0b3-py3-none-any.whl'
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        metadata = json.loads(archive.read('azext_amlk8s/azext_metadata.json'))
        dist_meta = archive.read(next(n for n in names if n.endswith('.dist-info/METADATA'))).decode()
    assert not [n for n in names if n.startswith('tests/')], 'tests must not ship in the wheel'
    package = REPO / 'azext_amlk8s'
    sources = sorted(p.relative_to(package.parent).as_posix() for p in package.rglob('*.py'))
    assert 'azext_amlk8s/rules/settings.py' in sources and 'azext_amlk8s/act/waiting.py' in sources
    assert [s for s in sources if s not in names] == [], 'every module of every step folder ships'
    assert metadata == {'azext.isPreview': True, 'azext.minCliCoreVersion': '2.51.0'}
    requires = sorted(line.split(':', 1)[1].strip() for line in dist_meta.splitlines()
                      if line.startswith('Requires-Dist:'))
    assert requires == ['azure-mgmt-kubernetesconfiguration~=3.1', 'kubernetes>=24.2.0']


def test_az_extension_add_and_run(wheel, az, tmp_path):
    assert WHEELHOUSE.is_dir(), 'run `python3 dev.py test` (it downloads the extension dependencies first)'
    env = {k: v for k, v in az.env.items() if k != 'AZURE_EXTENSION_DEV_SOURCES'}
    env.update(AZURE_EXTENSION_DIR=str(tmp_path / 'extensions'), PIP_NO_INDEX='1', PIP_FIND_LINKS=str(WHEELHOUSE))

    def run(*args):
        return subprocess.run([str(AZ), *args], env=env, capture_output=True, text=True, timeout=600, check=False)

    added = run('extension', 'add', '--source', str(wheel), '--yes')
    assert added.returncode == 0, added.stderr
    listed = json.loads(run('extension', 'list', '-o', 'json').stdout)
    assert [(e['name'], e['version'], e['preview']) for e in listed] == [('amlk8s', '1.0.0b3', True)]

    help_text = run('amlk8s', '-h')
    assert help_text.returncode == 0, help_text.stderr
    for command in ('deploy', 'check', 'verify', 'show', 'list', 'update', 'delete', 'wait'):
        assert '    {} '.format(command) in help_text.stdout

    check = run('amlk8s', 'check', '-g', 'rg-ml', '-c', 'aks-prod', '-t', 'managedClusters', '-o', 'json')
    assert check.returncode == 0, check.stderr
    assert {row['check'] for row in json.loads(check.stdout)} >= {'cluster-state', 'managed-identity'}
    assert 'Traceback' not in check.stderr
