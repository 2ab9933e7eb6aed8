# --------------------------------------------------------------------------------------------
# Copyright (c) amlk8s contributors. Licensed under the MIT License.
# --------------------------------------------------------------------------------------------
"""Every `az` call may load amlk8s's command loader, so loading it must stay cheap: no Azure SDK, no crypto, no thread
pool. These tests look at what gets imported (never at timings: those are the benchmark's job, tests/bench.py).

Each check runs in a fresh interpreter, so modules imported by other tests cannot hide an import.
"""

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
AZ = Path(sys.executable).parent / 'az'

# Modules the command loader must not import (prefixes: the module itself and anything under it).
FORBIDDEN = ('azure.mgmt', 'azure.mgmt.kubernetesconfiguration', 'azure.mgmt.relay', 'cryptography',
             'concurrent.futures.thread', 'azure.core', 'msrest', 'msal', 'requests', 'urllib3', 'kubernetes', 'yaml')
# The extension's handlers and every step folder (I/O and logic): loaded when a command runs, never for the table.
HEAVY_OWN = ('azext_amlk8s.custom', 'azext_amlk8s.inputs', 'azext_amlk8s.facts', 'azext_amlk8s.rules',
             'azext_amlk8s.report', 'azext_amlk8s.act')

_PROBE = r'''
import json, sys
sys.path.insert(0, sys.argv[1])
from azure.cli.core.mock import DummyCli

cli = DummyCli()
cli.invocation = cli.invocation_cls(cli_ctx=cli, parser_cls=cli.parser_cls, commands_loader_cls=cli.commands_loader_cls,
                                    help_cls=cli.help_cls)
cli.invocation.data = {'command_string': ''}
core = set(sys.modules)                       # what az core itself has imported by now does not count

import azext_amlk8s
loader = azext_amlk8s.COMMAND_LOADER_CLS(cli_ctx=cli)
table = loader.load_command_table(None)
for name in table:                            # as az does for the command being run
    cli.invocation.data['command_string'] = name
    loader.command_name = name
    loader.load_arguments(name)
loaded = set(sys.modules)

# What `az amlk8s ... -h` does on top: every command's description and signature (az imports the handler module).
for name, command in table.items():
    command.load_arguments()
    assert command.description is not None, name
helped = set(sys.modules)

print(json.dumps({'commands': sorted(table), 'table_and_arguments': sorted(loaded - core),
                  'help': sorted(helped - loaded)}))
'''


def _hits(modules, prefixes):
    return sorted(m for m in modules if any(m == p or m.startswith(p + '.') for p in prefixes))


@pytest.fixture(scope='module')
def probe(tmp_path_factory):
    config_dir = tmp_path_factory.mktemp('azure-config')
    env = {k: v for k, v in os.environ.items() if not k.startswith(('AZURE_CORE_', 'AZURE_EXTENSION_'))}
    env.update(AZURE_CONFIG_DIR=str(config_dir), AZURE_CORE_COLLECT_TELEMETRY='false', PYTHONDONTWRITEBYTECODE='1')
    result = subprocess.run([sys.executable, '-c', _PROBE, str(REPO)], env=env, cwd=str(config_dir),
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_command_table_has_the_commands(probe):
    assert {'amlk8s deploy', 'amlk8s check', 'amlk8s verify', 'amlk8s show', 'amlk8s list', 'amlk8s update',
            'amlk8s delete', 'amlk8s wait'} <= set(probe['commands'])


def test_loading_the_command_table_and_arguments_imports_no_sdk(probe):
    new = probe['table_and_arguments']
    assert not _hits(new, FORBIDDEN), 'the command loader imported {} (all new modules: {})'.format(
        _hits(new, FORBIDDEN), new)


def test_loading_the_command_table_imports_no_handler_or_logic_module(probe):
    new = probe['table_and_arguments']
    assert not _hits(new, HEAVY_OWN), 'the command loader imported {}; import them inside the handlers'.format(
        _hits(new, HEAVY_OWN))


def test_help_path_imports_no_sdk(probe):
    """`az amlk8s -h` makes az import custom.py for each command's description: that must stay SDK-free too."""
    new = probe['help']
    assert not _hits(new, FORBIDDEN), 'building help imported {} (all new modules: {})'.format(
        _hits(new, FORBIDDEN), new)


@pytest.fixture(scope='module')
def az_help_env(tmp_path_factory):
    from tests.emulator import azconfig
    base = tmp_path_factory.mktemp('az-help')
    # -h makes no request: the endpoints only need to be well formed.
    config_dir = azconfig.seed_config_dir(base / 'azure-config', 'https://127.0.0.1:9', 'sub', 'tenant')
    home = base / 'home'
    home.mkdir()
    (base / 'cliextensions').mkdir()
    return azconfig.az_environment('https://127.0.0.1:9', base / 'no-ca.pem', config_dir,
                                   dev_sources=azconfig.make_dev_sources(base / 'dev', REPO / 'azext_amlk8s'),
                                   extension_dir=base / 'cliextensions', home=home)


def _az_help(env, words):
    return subprocess.run([str(AZ)] + words + ['-h'], env=env, capture_output=True, text=True, timeout=120,
                          check=False)


@pytest.mark.skipif(not AZ.exists(), reason='az is not installed next to this interpreter')
def test_help_renders_for_the_group_and_every_command(probe, az_help_env):
    group = _az_help(az_help_env, ['amlk8s'])          # first: builds the command index
    assert group.returncode == 0, group.stdout + group.stderr
    assert 'Traceback' not in group.stderr
    listed = group.stdout.split('Commands:', 1)[-1]
    for name in probe['commands']:
        assert name.split()[-1] in listed, '{} is missing from az amlk8s -h:\n{}'.format(name, group.stdout)

    with ThreadPoolExecutor(max_workers=2) as pool:
        results = dict(zip(probe['commands'], pool.map(lambda n: _az_help(az_help_env, n.split()), probe['commands'])))
    for name, result in results.items():
        assert result.returncode == 0, '{} -h: {}{}'.format(name, result.stdout, result.stderr)
        assert 'Traceback' not in result.stderr and 'ERROR' not in result.stderr, result.stderr
        assert 'az {} :'.format(name) in result.stdout, result.stdout
        assert 'Arguments' in result.stdout, result.stdout
