# --------------------------------------------------------------------------------------------
# Copyright (c) amlk8s contributors. Licensed under the MIT License.
# --------------------------------------------------------------------------------------------
"""The azure-cli-extensions CI gates, run locally with the real azdev: `azdev linter` and `azdev style`.

    python3 -m tests.lint.azdev_gate            prepare (if needed), run the three checks, print a report
    python3 -m tests.lint.azdev_gate --prepare  only prepare (the one step that needs the package registry)

azure-cli-extensions CI checks each extension with azdev 0.2.13: `azdev linter` blocks on HIGH findings and
`azdev style` (pylint + flake8 with azdev's own extension configs, `azdev/config/ext_pylintrc` and `ext.flake8`)
blocks on any finding. This module reproduces that with nothing reachable but the package registry:

* `.venv-azdev/`: a venv with the azure-cli this repo tests against and azdev 0.2.13 (azure-cli held by a pip
  constraint, since `azdev setup` asks pip to upgrade it).
* `.azdev/`: the scratch state. `azure-cli/` is a git repo made of `tests/lint/azdev-stub/` (azdev reads
  `scripts/ci/cmdcov.yml` from an azure-cli checkout when it starts); `azure-cli-extensions/` is a minimal
  extensions repo (branch main, `src/index.json`, `src/service_name.json`, `CONTRIBUTING.rst`) with this extension
  under `src/amlk8s` (a copy of setup.py, README.md, HISTORY.rst and azext_amlk8s/, refreshed on every run);
  azdev's, az's and pylint's config and cache folders live here too.
* `azdev setup -r ... -e amlk8s` stops at its `git+https` install of azure-cli-testsdk (git is told to refuse
  https, so nothing is tried); what it skipped after that is done here: `azdev extension add amlk8s` and azdev's
  `_copy_config_files()`.
* azdev runs through `azdev_launcher.py`, which answers azdev's web look-ups with a 404 (see there), from the
  extensions repo root as CI does (see `azdev()`).

The checks, as CI runs them (`python -m tests.isolated -m tests.lint.azdev_gate` runs them with no network):

* `azdev linter --include-whl-extensions amlk8s`: fails on HIGH findings (its exit code);
* `azdev linter amlk8s --min-severity medium`: reported only (help links count as broken offline);
* `azdev style amlk8s`: fails on its exit code (azdev 0.2.13 prints "Pylint: PASSED" even when pylint fails).

`tests/lint/ext_pylintrc` and `tests/lint/ext.flake8` are verbatim copies of azdev 0.2.13's; the gate checks that
the configs azdev actually uses are byte-for-byte those. Preparing takes about a minute once and is redone only
when its inputs change (keyed by a hash, as dev.py keys .venv); the checks take about a minute, and their results
are reused while the extension's sources are unchanged (`--fresh` runs them anyway). Logs: `.azdev/logs/`.
"""

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
import venv

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LINT = os.path.join(ROOT, 'tests', 'lint')
STUB = os.path.join(LINT, 'azdev-stub')
LAUNCHER = os.path.join(LINT, 'azdev_launcher.py')
VENV = os.path.join(ROOT, '.venv-azdev')
PYTHON = os.path.join(VENV, 'bin', 'python')
SCRATCH = os.path.join(ROOT, '.azdev')
CLI_REPO = os.path.join(SCRATCH, 'azure-cli')
EXT_REPO = os.path.join(SCRATCH, 'azure-cli-extensions')
EXT_SRC = os.path.join(EXT_REPO, 'src', 'amlk8s')
CONSTRAINTS = os.path.join(SCRATCH, 'constraints.txt')
URLS_FILE = os.path.join(SCRATCH, 'offline-urls.txt')
LOGS = os.path.join(SCRATCH, 'logs')
VENV_STAMP = os.path.join(VENV, '.azdev.sha256')
SETUP_STAMP = os.path.join(SCRATCH, '.setup.sha256')
RESULTS = os.path.join(SCRATCH, 'results.json')

EXTENSION = 'amlk8s'
AZDEV_PIN = 'azdev==0.2.13'
# Bump when the preparation steps below change, so existing scratch state is rebuilt.
PREPARE_VERSION = '2'
EXTENSION_FILES = ('setup.py', 'README.md', 'HISTORY.rst')
EXTENSION_PACKAGE = 'azext_amlk8s'
CONFIG_FILES = ('ext_pylintrc', 'ext.flake8')

LINTER_HIGH = ['linter', '--include-whl-extensions', EXTENSION]
LINTER_MEDIUM = ['linter', EXTENSION, '--min-severity', 'medium']
STYLE = ['style', EXTENSION]


def azure_cli_pin():
    """The azure-cli pin of requirements-dev.txt, so both venvs test against the same CLI."""
    with open(os.path.join(ROOT, 'requirements-dev.txt'), encoding='utf-8') as handle:
        for line in handle:
            line = line.split('#')[0].strip()
            if line.startswith('azure-cli=='):
                return line
    raise RuntimeError('requirements-dev.txt has no azure-cli== pin')


def _digest(*parts):
    sha = hashlib.sha256()
    for part in parts:
        sha.update(part if isinstance(part, bytes) else str(part).encode())
        sha.update(b'\0')
    return sha.hexdigest()


def _read(path):
    with open(path, 'rb') as handle:
        return handle.read()


def _stamp_matches(path, digest):
    return os.path.exists(path) and _read(path).decode().strip() == digest


def _write(path, text):
    with open(path, 'w', encoding='utf-8') as handle:
        handle.write(text)


def _say(message):
    print(message, file=sys.stderr, flush=True)


def environment():
    """The environment azdev runs in: the venv activated, every config and cache folder in the scratch folder."""
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(('AZURE_', 'AZDEV_', 'PIP_CONSTRAINT', 'PYTHON', 'VIRTUAL_ENV'))}
    env.update({
        'VIRTUAL_ENV': VENV,
        'PATH': os.path.join(VENV, 'bin') + os.pathsep + os.environ.get('PATH', ''),
        'AZDEV_CONFIG_DIR': os.path.join(SCRATCH, 'azdev-config'),
        'AZDEV_CLI_REPO_PATH': CLI_REPO,
        'AZURE_CONFIG_DIR': os.path.join(SCRATCH, 'azure-config'),
        'AZURE_EXTENSION_DIR': os.path.join(SCRATCH, 'azure-extensions'),
        'AZURE_CORE_COLLECT_TELEMETRY': 'false',
        'AZURE_CORE_NO_COLOR': 'true',
        'PYLINTHOME': os.path.join(SCRATCH, 'pylint-home'),
        'PIP_CONSTRAINT': CONSTRAINTS,
        'PIP_DISABLE_PIP_VERSION_CHECK': '1',
        'AZDEV_OFFLINE_URLS_FILE': URLS_FILE,
        'PYTHONDONTWRITEBYTECODE': '1',
        'GIT_CONFIG_NOSYSTEM': '1',
        # `azdev setup` pip-installs azure-cli-testsdk from git+https: refuse it before any connection is tried.
        'GIT_ALLOW_PROTOCOL': 'file',
        'NO_COLOR': '1',
    })
    return env


def _run(args, cwd=SCRATCH, check=True, log=None):
    _say('+ ' + ' '.join(args))
    result = subprocess.run(args, cwd=cwd, env=environment(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, check=False)
    if log:
        _write(os.path.join(LOGS, log), result.stdout)
    if check and result.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed ({result.returncode}):\n{result.stdout[-4000:]}")
    return result


def _git(repo, *args):
    return _run(['git', '-c', 'user.name=amlk8s', '-c', 'user.email=amlk8s@localhost', '-c', 'init.defaultBranch=main',
                 *args], cwd=repo)


def _venv_digest():
    return _digest(sys.version_info[:2], azure_cli_pin(), AZDEV_PIN, PREPARE_VERSION)


def _setup_digest():
    stub = [(name, _read(os.path.join(STUB, name))) for name in ('azure-cli.pyproj', 'scripts/ci/cmdcov.yml')]
    return _digest(_venv_digest(), stub, _read(os.path.join(ROOT, 'setup.py')),
                   _read(os.path.join(ROOT, EXTENSION_PACKAGE, 'azext_metadata.json')), _read(LAUNCHER))


def prepare_venv():
    digest = _venv_digest()
    os.makedirs(SCRATCH, exist_ok=True)
    _write(CONSTRAINTS, azure_cli_pin() + '\n')
    if _stamp_matches(VENV_STAMP, digest):
        return False
    if os.path.exists(VENV):
        shutil.rmtree(VENV)
    _say('+ creating .venv-azdev')
    venv.create(VENV, with_pip=True)
    _run([PYTHON, '-m', 'pip', 'install', '--quiet', '--upgrade', 'pip'])
    _run([PYTHON, '-m', 'pip', 'install', '--quiet', azure_cli_pin(), AZDEV_PIN])
    _write(VENV_STAMP, digest)
    return True


def _make_cli_stub_repo():
    if os.path.exists(CLI_REPO):
        shutil.rmtree(CLI_REPO)
    shutil.copytree(STUB, CLI_REPO)
    _git(CLI_REPO, 'init', '--quiet')
    _git(CLI_REPO, 'add', '-A')
    _git(CLI_REPO, 'commit', '--quiet', '-m', 'azure-cli stub: the files azdev reads')


def _make_extensions_repo():
    if os.path.exists(EXT_REPO):
        shutil.rmtree(EXT_REPO)
    os.makedirs(os.path.join(EXT_REPO, 'src'))
    _write(os.path.join(EXT_REPO, 'src', 'index.json'),
           json.dumps({'extensions': {}, 'formatVersion': '1'}, indent=4) + '\n')
    _write(os.path.join(EXT_REPO, 'src', 'service_name.json'), json.dumps([{
        'Command': 'az ' + EXTENSION,
        'AzureServiceName': 'Azure Machine Learning',
        'URL': 'https://learn.microsoft.com/azure/machine-learning/',
    }], indent=4) + '\n')
    _write(os.path.join(EXT_REPO, 'CONTRIBUTING.rst'), 'Contributing\n============\n')
    _git(EXT_REPO, 'init', '--quiet', '--initial-branch', 'main')
    _git(EXT_REPO, 'add', '-A')
    _git(EXT_REPO, 'commit', '--quiet', '-m', 'extensions repo skeleton')
    sync_extension()


def sync_extension():
    """Copy the extension's current sources into the extensions repo (cheap; done before every run)."""
    os.makedirs(EXT_SRC, exist_ok=True)
    for name in EXTENSION_FILES:
        shutil.copy2(os.path.join(ROOT, name), os.path.join(EXT_SRC, name))
    target = os.path.join(EXT_SRC, EXTENSION_PACKAGE)
    if os.path.exists(target):
        shutil.rmtree(target)
    shutil.copytree(os.path.join(ROOT, EXTENSION_PACKAGE), target,
                    ignore=shutil.ignore_patterns('__pycache__', '*.pyc'))


def azdev(*args, check=False, log=None):
    # From the extensions repo root, as CI runs it: the linter's diff-based rules (missing_command_example,
    # missing_*_test_coverage) open the git repo in the current folder and, given no --src/--tgt, diff HEAD with
    # itself. Anywhere else they stop the linter with "invalid git repo: None" before its custom pylint rules run.
    return _run([PYTHON, LAUNCHER, *args], cwd=EXT_REPO, check=check, log=log)


def is_prepared():
    """Whether the venv and the scratch state are current (then running the checks needs no network at all)."""
    return _stamp_matches(VENV_STAMP, _venv_digest()) and _stamp_matches(SETUP_STAMP, _setup_digest())


def prepare(force=False):
    """Make the venv and the scratch state unless both are current. Needs the package registry when they are not."""
    fresh_venv = prepare_venv()
    digest = _setup_digest()
    if not (force or fresh_venv) and _stamp_matches(SETUP_STAMP, digest):
        sync_extension()
        return False
    started = time.time()
    for name in ('azdev-config', 'azure-config', 'azure-extensions', 'pylint-home', 'logs'):
        shutil.rmtree(os.path.join(SCRATCH, name), ignore_errors=True)
        os.makedirs(os.path.join(SCRATCH, name))
    if os.path.exists(SETUP_STAMP):
        os.remove(SETUP_STAMP)
    _make_cli_stub_repo()
    _make_extensions_repo()
    # Fails at its git+https install of azure-cli-testsdk (no network); everything before that is done.
    azdev('setup', '-r', EXT_REPO, '-e', EXTENSION, log='setup.log')
    azdev('extension', 'add', EXTENSION, check=True, log='extension-add.log')
    _run([PYTHON, '-c', 'from azdev.operations.setup import _copy_config_files; _copy_config_files()'])
    _write(SETUP_STAMP, digest)
    _say(f'azdev environment prepared in {time.time() - started:.0f} s')
    return True


def used_config_dir():
    """Where azdev keeps the configs `azdev style` uses (no pylintrc/.flake8 at the extensions repo root)."""
    code = 'from azdev.utilities import get_azdev_config_dir; print(get_azdev_config_dir())'
    return os.path.join(_run([PYTHON, '-c', code]).stdout.strip(), 'config_files')


def config_drift():
    """The committed tests/lint configs that differ from the ones azdev uses (should be none)."""
    used = used_config_dir()
    return [name for name in CONFIG_FILES
            if not os.path.exists(os.path.join(used, name))
            or _read(os.path.join(used, name)) != _read(os.path.join(LINT, name))]


# ---------------------------------------------------------------------------------------------------------------
# Reading azdev's output

_ANSI = re.compile(r'\x1b\[[0-9;]*m')
_PYLINT_LINE = re.compile(r'^(?P<path>[^\s:]+\.py):(?P<line>\d+):(?P<col>\d+): (?P<code>[A-Z]\d{4}): (?P<text>.*)$')
_FLAKE8_LINE = re.compile(r'^(?P<path>[^\s:]+\.py):(?P<line>\d+):(?P<col>\d+): (?P<code>[A-Z]+\d+) (?P<text>.*)$')


def _relative(path):
    prefix = os.path.join('src', EXTENSION) + os.sep
    marker = os.sep + prefix
    if marker in path:
        return path.split(marker, 1)[1]
    return path[len(prefix):] if path.startswith(prefix) else path


def _lines(output):
    for raw in _ANSI.sub('', output).splitlines():
        line = raw.rstrip()
        yield line[len('ERROR: '):] if line.startswith('ERROR: ') else line


def parse_style(output):
    """pylint and flake8 findings from `azdev style` output: lists of (code, path:line, text)."""
    pylint, flake8 = [], []
    for line in _lines(output):
        for pattern, found in ((_PYLINT_LINE, pylint), (_FLAKE8_LINE, flake8)):
            match = pattern.match(line.strip())
            if match:
                found.append((match['code'], f"{_relative(match['path'])}:{match['line']}", match['text']))
                break
    return pylint, flake8


_RULE = re.compile(r'^- +(?:pass: (?P<passed>\w+)|FAIL - (?P<severity>[A-Z]+) severity: (?P<rule>\w+))')
_VIOLATION = re.compile(r'^\s+(?:(?P<kind>[A-Z][A-Za-z-]+): (?P<where>.+?) - )?(?P<text>\S.*)$')


def _summary(text):
    """The first two sentences of a violation message (azdev appends generic advice and links after them)."""
    sentences = re.split(r'(?<=[.!?])\s+', text.strip())
    summary = ' '.join(sentences[:2])
    return summary if len(summary) <= 200 else summary[:197] + '...'


def parse_linter(output):
    """`azdev linter` findings: (severity, rule, where, summary) for each violation; the custom pylint
    rules it runs last come as ('HIGH', 'pylint <code>', path:line, text) (CI fails on them as well)."""
    findings = []
    current = None
    for line in _lines(output):
        rule = _RULE.match(line)
        if rule:
            current = None if rule['passed'] else (rule['severity'], rule['rule'])
            continue
        pylint = _PYLINT_LINE.match(line.strip())
        if pylint:
            findings.append(('HIGH', 'pylint ' + pylint['code'],
                             f"{_relative(pylint['path'])}:{pylint['line']}", pylint['text']))
            continue
        violation = _VIOLATION.match(line)
        if violation and current:
            where = ' '.join(part for part in (violation['kind'], violation['where']) if part)
            findings.append((current[0], current[1], where, _summary(violation['text'])))
        elif not line.strip() or not line.startswith((' ', '\t')):
            current = None
    return findings


def run_checks():
    """Run the three checks (the environment must be prepared); return a result dict."""
    sync_extension()
    os.makedirs(LOGS, exist_ok=True)
    if os.path.exists(URLS_FILE):
        os.remove(URLS_FILE)
    results = {'config_drift': config_drift()}
    for key, args in (('linter', LINTER_HIGH), ('linter_medium', LINTER_MEDIUM), ('style', STYLE)):
        started = time.time()
        result = azdev(*args, log=key + '.log')
        results[key] = {'command': 'azdev ' + ' '.join(args), 'exit_code': result.returncode,
                        'output': result.stdout, 'seconds': round(time.time() - started, 1)}
    results['linter']['findings'] = parse_linter(results['linter']['output'])
    results['linter_medium']['findings'] = parse_linter(results['linter_medium']['output'])
    results['style']['pylint'], results['style']['flake8'] = parse_style(results['style']['output'])
    links = set()
    if os.path.exists(URLS_FILE):
        links = {url for url in _read(URLS_FILE).decode().split() if not url.endswith('cmd_example_config.json')}
    results['offline_links'] = sorted(links)
    return results


def group_style(findings):
    """One line per code: `C0209 x3: custom.py:91,94 settings.py:182`."""
    by_code = {}
    for code, where, _ in findings:
        path, line = where.rsplit(':', 1)
        path = path[len(EXTENSION_PACKAGE) + 1:] if path.startswith(EXTENSION_PACKAGE + '/') else path
        by_code.setdefault(code, {}).setdefault(path, []).append(int(line))
    lines = []
    for code, files in sorted(by_code.items()):
        count = sum(len(numbers) for numbers in files.values())
        places = ' '.join(f"{path}:{','.join(str(n) for n in sorted(numbers))}"
                          for path, numbers in sorted(files.items()))
        lines.append(f'{code} x{count}: {places}')
    return lines


def format_finding(finding):
    severity, rule, where, text = finding
    return f'{severity} {rule} [{where}] {text}'


def linter_blocking(results):
    """Why CI's `azdev linter` step would fail, one short line each (empty: it would pass)."""
    linter = results['linter']
    if linter['exit_code'] == 0:
        return []
    high = [f for f in linter['findings'] if f[0] == 'HIGH']
    problems = [f"{linter['command']} (exit {linter['exit_code']}): {len(high)} finding(s)"]
    problems.extend('  ' + format_finding(finding) for finding in high)
    if not high:
        errors = [line for line in _lines(linter['output']) if line.startswith(('ERROR', 'Traceback'))]
        problems.extend('  ' + line for line in errors[-5:])
        problems.append('  (no HIGH finding parsed; see .azdev/logs/linter.log)')
    return problems


def style_blocking(results):
    """Why CI's `azdev style` step would fail: one line per pylint/flake8 code (empty: it would pass)."""
    style = results['style']
    if style['exit_code'] == 0:
        return []
    findings = style['pylint'] + style['flake8']
    problems = [f"{style['command']} (exit {style['exit_code']}): {len(findings)} finding(s)"]
    problems.extend('  ' + line for line in group_style(findings))
    if not findings:
        problems.extend('  ' + line for line in style['output'].strip().splitlines()[-5:])
        problems.append('  (no finding parsed; see .azdev/logs/style.log)')
    return problems


def drift_blocking(results):
    if not results['config_drift']:
        return []
    return ['azdev uses configs that differ from the copies in tests/lint: ' + ', '.join(results['config_drift'])]


def blocking(results):
    """What CI would block on, one short line each (empty: CI would pass)."""
    return drift_blocking(results) + linter_blocking(results) + style_blocking(results)


def report(results):
    lines = ['(results of an earlier run: the sources have not changed since; --fresh runs again)'
             if results.get('cached') else 'logs: .azdev/logs/']
    for key in ('linter', 'linter_medium', 'style'):
        check = results[key]
        lines.append(f"{check['command']}: exit {check['exit_code']} ({check['seconds']} s)")
    medium = [f for f in results['linter_medium']['findings'] if f[0] != 'HIGH']
    if medium:
        lines.append('linter findings below HIGH (reported, not blocking):')
        lines.extend('  ' + format_finding(finding) for finding in medium)
    if results['offline_links']:
        lines.append('help links not checked offline (each counts as broken): ' + ' '.join(results['offline_links']))
    problems = blocking(results)
    lines.append('BLOCKING (what CI would reject):' if problems else 'azdev gates: pass')
    lines.extend(problems)
    return '\n'.join(lines)


def _sources_digest():
    files = [os.path.join(ROOT, name) for name in EXTENSION_FILES]
    for folder, dirs, names in os.walk(os.path.join(ROOT, EXTENSION_PACKAGE)):
        dirs[:] = sorted(d for d in dirs if d != '__pycache__')
        files.extend(os.path.join(folder, name) for name in sorted(names) if not name.endswith('.pyc'))
    return _digest(_setup_digest(), _read(os.path.abspath(__file__)),
                   *[(os.path.relpath(path, ROOT), _read(path)) for path in files])


def gate(fresh=False):
    """Prepare if needed and run the checks; results are reused while the extension's sources are unchanged."""
    prepare()
    digest = _sources_digest()
    if not fresh and os.path.exists(RESULTS):
        with open(RESULTS, encoding='utf-8') as handle:
            saved = json.load(handle)
        if saved.get('digest') == digest:
            saved['results']['cached'] = True
            return saved['results']
    results = run_checks()
    with open(RESULTS, 'w', encoding='utf-8') as handle:
        json.dump({'digest': digest, 'results': results}, handle)
    results['cached'] = False
    return results


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n', 1)[0])
    parser.add_argument('--prepare', action='store_true', help='only prepare the azdev venv and scratch state')
    parser.add_argument('--force', action='store_true', help='rebuild the scratch state even if it is current')
    parser.add_argument('--fresh', action='store_true', help='run the checks even if the sources are unchanged')
    args = parser.parse_args(argv)
    if args.prepare:
        prepare(force=args.force)
        return 0
    if args.force:
        prepare(force=True)
    results = gate(fresh=args.fresh or args.force)
    print(report(results), flush=True)
    return 1 if blocking(results) else 0


if __name__ == '__main__':
    sys.exit(main())
