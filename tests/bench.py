# --------------------------------------------------------------------------------------------
# Copyright (c) amlk8s contributors. Licensed under the MIT License.
# --------------------------------------------------------------------------------------------
"""The performance benchmark: the real `az` with amlk8s against the local ARM emulator, side by side with az itself.

    python3 dev.py bench                      (or: .venv/bin/python -m tests.bench [--runs N])

It starts the emulator in this process, seeds a throwaway az config dir, loads a snapshot of azext_amlk8s from this
working tree with its bytecode compiled (as `az extension add` leaves an installed extension), and prints one table:

  (a) load cost         `az amlk8s -h` vs `az version`                                  median ratio <= 1.15
  (b) deploy overhead   `az amlk8s deploy` (the docs' AKS proof of concept, all checks on) vs
                        `az resource create --id <extension> --api-version 2023-05-01 --properties <the same body>`,
                        same emulator, Retry-After: 1 and 2 in-progress polls for both     median ratio <= 1.3
  (c) round trips       the ARM requests one deploy sends (no tokens, no polls), by method and path: each at most once,
                        but the extension list, read before the checks and again after the PUT
  (d) completion        no retry hint from the service: deploy, update, delete and verify --wait end within 5 s of
                        the operation's end (the emulator ends it at a known time); Retry-After: 3 is honoured
                        (polls >= 3 s apart)
  (f) many clusters     list over 1,000 AzureML extensions in 3 subscriptions vs one cluster's list (<= 1.5),
                        verify --ids over 20 clusters vs 20 sequential verifies (<= 0.3), deploy --ids over 20 vs
                        one deploy (<= 2, the same ARM requests 20 times, peak RSS <= 1.5); growth 1/20/200
  (g) in-cluster reads  `az amlk8s verify` reading the cluster's Kubernetes API (the Kubernetes API emulator, the
                        cluster user credentials from the ARM emulator) vs `verify --arm-only`: median difference
                        <= 1.0 s; the requests sent to the cluster (GET only); peak RSS of both (reported)
  (h) time to diagnosis a release pod turns CrashLoopBackOff (OOMKilled) 4 s into a deploy: seconds until
                        `deploy --grace 5 --fail-fast` names it, median <= grace + 10 s; ARM's own failure reported
                        beside it (the emulator ends the operation after 40 s; the service after 10-15 minutes)
  (i) fleet stages      selecting the clusters with --where (one Resource Graph request per 1,000 rows) vs today's
                        list (median <= 1.5); a 3-stage rollout (--stages 1,10%,100%) over 100 clusters: wall <= the
                        sum over stages of (one deploy + one verify), ARM requests <= 100 x (one deploy's + one
                        verify's)
  (e) memory            peak RSS (the child's own ru_maxrss, from os.wait4, through a small launcher) of deploy vs
                        the baseline, median ratio <= 1.15; again with a region SKU catalogue of Azure's size (2.9 MB)

Ratios are taken side by side: amlk8s and baseline runs alternate (ABBA order), so load on the machine hits both.
Exit code: 0 when every target passes, 1 when one fails, 2 when the harness itself failed (a command went wrong).
See docs/performance.md.
"""

import argparse
import compileall
import json
import os
import platform
import shutil
import ssl
import statistics
import subprocess
import sys
import tempfile
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
AZ = Path(sys.executable).parent / 'az'
if not AZ.exists():  # pragma: no cover - run with another interpreter
    AZ = Path(shutil.which('az') or 'az')

RG, CLUSTER, CLUSTER_TYPE, NAME = 'rg-ml', 'aks-prod', 'managedClusters', 'azureml'
API = '2023-05-01'
# The docs' AKS proof of concept, verbatim with `az amlk8s deploy` in place of `az k8s-extension create`.
DEPLOY = ['amlk8s', 'deploy', '--name', NAME, '--extension-type', 'Microsoft.AzureML.Kubernetes',
          '--config', 'enableTraining=True', 'enableInference=True', 'inferenceRouterServiceType=loadBalancer',
          'allowInsecureConnections=True', 'inferenceRouterHA=False',
          '--cluster-type', CLUSTER_TYPE, '--cluster-name', CLUSTER, '--resource-group', RG, '--scope', 'cluster']
CLUSTER_ARGS = ['-g', RG, '-c', CLUSTER, '-t', CLUSTER_TYPE]

LOAD_TARGET = 1.15
DEPLOY_TARGET = 1.3
MEMORY_TARGET = 1.15
LATENCY_TARGET = 5.0
RETRY_AFTER = 3
# Seconds after its start at which the emulator ends an operation in (d): not a multiple of any poll interval.
COMPLETE_AFTER = 3.5
# (h): the release pod turns CrashLoopBackOff this many seconds into the deploy; deploy runs with --grace GRACE; ARM's
# own failure (the baseline) comes ARM_FAILS_AFTER s after the operation starts (the service: 10-15 minutes).
FAILS_AFTER, GRACE, ARM_FAILS_AFTER = 4.0, 5, 40


class HarnessError(Exception):
    """A command did not do what the benchmark needs (wrong exit code, unexpected requests)."""


@dataclass
class Run:
    args: list
    exit_code: int
    wall: float          # seconds
    maxrss_mb: float     # the child's peak resident set size
    cpu: float           # the child's user + system CPU seconds (less sensitive to other load than wall time)
    start: float         # epoch seconds
    end: float
    stdout: str
    stderr: str
    requests: list = field(default_factory=list)


# The child's peak RSS must not include the benchmark's own memory: Linux carries a process's high-water mark across
# exec (ru_maxrss = max(RSS of the image it was forked from, its own peak)), and this process holds the emulator. So
# az is started by a small launcher (python -S, about 10 MB), which times it, waits for it with os.wait4 and reports
# the child's own rusage.
_LAUNCHER = r"""
import json, os, signal, sys, time
result_path, timeout, argv = sys.argv[1], float(sys.argv[2]), sys.argv[3:]
start = time.time()
began = time.perf_counter()
pid = os.posix_spawn(argv[0], argv, os.environ)
signal.signal(signal.SIGALRM, lambda *_: os.kill(pid, signal.SIGKILL))
signal.setitimer(signal.ITIMER_REAL, timeout)
while True:
    try:
        _, status, usage = os.wait4(pid, 0)
        break
    except InterruptedError:
        continue
wall = time.perf_counter() - began
end = time.time()
with open(result_path, "w") as handle:
    json.dump({"exit_code": os.waitstatus_to_exitcode(status), "wall": wall, "start": start, "end": end,
               "maxrss_kb": usage.ru_maxrss, "cpu": usage.ru_utime + usage.ru_stime}, handle)
"""


def run_az(args, env, cwd, timeout=300):
    """Run az through the launcher: wall time from spawn to exit, the child's own rusage from os.wait4."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err, \
            tempfile.NamedTemporaryFile(suffix='.json') as result:
        subprocess.run([sys.executable, '-S', '-c', _LAUNCHER, result.name, str(timeout), str(AZ)] + list(args),
                       env=env, cwd=cwd, stdin=subprocess.DEVNULL, stdout=out, stderr=err, check=True,
                       timeout=timeout + 30)
        with open(result.name, encoding='utf-8') as handle:
            data = json.load(handle)
        out.seek(0)
        err.seek(0)
        return Run(list(args), data['exit_code'], data['wall'], data['maxrss_kb'] / 1024.0, data['cpu'], data['start'],
                   data['end'], out.read().decode('utf-8', 'replace'), err.read().decode('utf-8', 'replace'))


def expect(run, code=0, what=None):
    if run.exit_code != code:
        raise HarnessError('{} exited with {} (expected {}):\n$ az {}\n{}\n{}'.format(
            what or 'az', run.exit_code, code, ' '.join(run.args), run.stdout[-3000:], run.stderr[-3000:]))
    return run


def median(values):
    return statistics.median(values) if values else float('nan')


# ---------------------------------------------------------------------------------------------------------- machine

def machine():
    cpu = platform.processor() or platform.machine()
    try:
        with open('/proc/cpuinfo', encoding='utf-8') as handle:
            for line in handle:
                if line.lower().startswith('model name'):
                    cpu = line.split(':', 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        from importlib import metadata
        az_version = metadata.version('azure-cli')
        core_version = metadata.version('azure-cli-core')
    except Exception:  # pylint: disable=broad-except
        az_version = core_version = 'unknown'
    return {'cpu': cpu, 'cores': os.cpu_count(), 'os': '{} {}'.format(platform.system(), platform.release()),
            'python': platform.python_version(), 'azure-cli': az_version, 'azure-cli-core': core_version}


def source_info(origin):
    """Which code was measured: the folder, and the git commit (+ whether the working tree had changes)."""
    try:
        head = subprocess.run(['git', 'rev-parse', '--short', 'HEAD'], cwd=str(origin), capture_output=True,
                              text=True, timeout=10, check=False).stdout.strip()
        dirty = subprocess.run(['git', 'status', '--porcelain', '--', '.'], cwd=str(origin), capture_output=True,
                               text=True, timeout=10, check=False).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        head, dirty = '', ''
    if not head:
        return str(origin)
    return '{} (git {}{})'.format(origin, head, ', with uncommitted changes' if dirty else '')


def other_az_processes():
    """How many other `az` (python -m azure.cli) processes run right now: a hint of how noisy the timings are."""
    count = 0
    for entry in os.listdir('/proc') if os.path.isdir('/proc') else []:
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open('/proc/{}/cmdline'.format(entry), 'rb') as handle:
                cmdline = handle.read().split(b'\0')
        except OSError:
            continue
        if b'azure.cli' in cmdline:
            count += 1
    return count


def load_average():
    try:
        return os.getloadavg()
    except OSError:
        return (float('nan'),) * 3


# ---------------------------------------------------------------------------------------------------------- setup

def snapshot_extension(work, origin, compiled=True):
    """A copy of azext_amlk8s (as it is now in the working tree) in a dev-sources folder; with its .pyc files compiled
    like pip does at install, unless `compiled` is False (then every az call compiles the sources, as the e2e
    harness's PYTHONDONTWRITEBYTECODE=1 does)."""
    from tests.emulator import azconfig
    source = work / 'azext_amlk8s'
    if not source.exists():
        shutil.copytree(origin, source, ignore=shutil.ignore_patterns('__pycache__', '*.pyc'))
        if compiled:
            python = AZ.parent / 'python'
            if python.exists():
                subprocess.run([str(python), '-m', 'compileall', '-q', str(source)], check=True)
            else:  # pragma: no cover
                compileall.compile_dir(str(source), quiet=1)
    return azconfig.make_dev_sources(work / 'dev', source)


class Bench:  # pylint: disable=too-many-instance-attributes

    def __init__(self, args, work):
        self.args = args
        self.work = work
        self.rows = []
        self.details = []
        self.data = {}
        self.emu = None
        self.env = None
        self.env_source = None
        self.body = None

    def log(self, text=''):
        if self.args.verbose:
            print(text, file=sys.stderr, flush=True)

    def say(self, text=''):
        print(text, file=sys.stderr, flush=True)

    # ------------------------------------------------------------------ environment
    def start(self):
        from tests.emulator import Emulator, azconfig
        self.emu = Emulator(scenario='default', state_dir=self.work / 'emulator', log_file=False).start()
        config_dir = azconfig.seed_config_dir(self.work / 'azure-config', self.emu.base_url, self.emu.subscription_id,
                                              self.emu.tenant_id)
        home = self.work / 'home'
        home.mkdir(exist_ok=True)
        ext_dir = self.work / 'cliextensions'
        ext_dir.mkdir(exist_ok=True)
        origin = Path(self.args.source).resolve()
        compiled = snapshot_extension(self.work / 'ext-compiled', origin, compiled=True)
        self.env = azconfig.az_environment(self.emu.base_url, self.emu.ca_path, config_dir, dev_sources=compiled,
                                           extension_dir=ext_dir, home=home)
        source = snapshot_extension(self.work / 'ext-source', origin, compiled=False)
        self.env_source = dict(self.env, AZURE_EXTENSION_DEV_SOURCES=str(source))
        self.ext_id = self.emu.extension_id(CLUSTER, NAME)
        self.cluster_id = self.emu.cluster_id(CLUSTER)
        self.sku_catalogue(self.args.sku_entries)

    def sku_catalogue(self, entries):
        """Make the cluster region's compute SKU catalogue `entries` VM sizes larger (synthetic sizes shaped like the
        emulator's own). Azure's real catalogue for one region is megabytes; the default world's is a few KB.
        Returns (entries, bytes) of the region's catalogue."""
        import copy
        location = (self.emu.resource(self.cluster_id) or {}).get('location', 'eastus')
        with self.emu.lock:
            world = self.emu.world
            skus = [s for s in world.skus if not str(s.get('name', '')).startswith('Bench_')]
            template = next(s for s in skus if s.get('resourceType') == 'virtualMachines'
                            and location in s.get('locations', []))
            for i in range(entries):
                sku = copy.deepcopy(template)
                sku['name'] = 'Bench_X{}s_v{}'.format(i // 10, i % 10)
                sku['size'] = sku['name'][len('Bench_'):]
                skus.append(sku)
            world.skus = skus
            regional = [s for s in skus if location in s.get('locations', [])]
        self.catalogue = (len(regional), len(json.dumps({'value': regional})))
        return self.catalogue

    def stop(self):
        if self.emu is not None:
            self.emu.stop()

    def az(self, args, env=None, code=0, what=None, timeout=300):
        mark = self.emu.mark()
        run = run_az(args, env or self.env, self.work, timeout=timeout)
        run.requests = self.emu.requests(since=mark)
        self.log('  az {} -> {} in {:.2f} s, {:.0f} MB'.format(' '.join(args[:3]), run.exit_code, run.wall,
                                                               run.maxrss_mb))
        return expect(run, code, what)

    def settings(self, **values):
        base = dict(polls=2, retry_after=None, retry_after_ms=None, complete_after=None, delay=0.0)
        base.update(values)
        self.emu.settings(**base)

    def reset_extension(self):
        """Remove the extension (and cancel its operation) so the next deploy is a create."""
        self.emu.delete_resource(self.ext_id)

    def arm_put(self, path, body):
        """A PUT straight to the emulator (to start an operation that `verify --wait` then follows)."""
        context = ssl.create_default_context(cafile=str(self.emu.ca_path))
        request = urllib.request.Request('{}{}?api-version={}'.format(self.emu.base_url, path, API), method='PUT',
                                         data=json.dumps(body).encode('utf-8'),
                                         headers={'Authorization': 'Bearer benchmark',
                                                  'Content-Type': 'application/json'})
        with urllib.request.urlopen(request, context=context, timeout=30) as response:  # nosec - local emulator
            return response.status

    # ------------------------------------------------------------------ (f) many clusters
    def _fleet_world(self, extensions, bare=0):
        from tests.emulator import azconfig, scenarios
        self.emu.reset(scenarios.fleet(3, extensions=extensions, clusters=extensions + 6 + bare))
        self.settings(retry_after=1, polls=2)
        azconfig.seed_config_dir(self.work / 'azure-config', self.emu.base_url, self.emu.subscription_id,
                                 self.emu.tenant_id, extra_subscriptions=[
                                     s for s in self.emu.subscriptions if s != self.emu.subscription_id])

    def _clusters(self, with_azureml):
        with self.emu.lock:
            bodies = list(self.emu.world.resources.values())
        aks = 'microsoft.containerservice/managedclusters'
        clusters = [b['id'] for b in bodies if str(b.get('type', '')).lower() == aks
                    and b['id'].split('/')[2] == self.emu.subscription_id]
        has = {b['id'].lower().split('/providers/microsoft.kubernetesconfiguration/')[0]: b for b in bodies
               if '/providers/microsoft.kubernetesconfiguration/' in b['id'].lower()}
        if with_azureml:      # a healthy AzureML extension
            return [c for c in clusters if c.lower() in has and str(has[c.lower()]['properties'].get(
                'extensionType', '')).lower() == 'microsoft.azureml.kubernetes' and has[c.lower()]['properties'].get(
                'provisioningState') == 'Succeeded' and has[c.lower()]['name'] == NAME]
        return [c for c in clusters if c.lower() not in has]

    @staticmethod
    def _parts(cluster_id):
        parts = cluster_id.split('/')
        return ['-g', parts[4], '-c', parts[8], '-t', 'managedClusters']

    def fleet(self):
        runs = max(3, self.args.runs // 2)
        self.say('(f) many clusters: list over 1,000 AzureML extensions in 3 subscriptions, verify --ids and '
                 'deploy --ids over 20 clusters ...')
        self._fleet_world(1000, bare=200)
        subscriptions = list(self.emu.subscriptions)
        one = self._clusters(True)[0]
        fleet_runs, single_runs = [], []
        for i in range(runs):
            for who in (['fleet', 'one'] if i % 2 == 0 else ['one', 'fleet']):
                if who == 'fleet':
                    fleet_runs.append(self.az(['amlk8s', 'list', '--subscriptions', *subscriptions], what='list'))
                else:
                    single_runs.append(self.az(['amlk8s', 'list', *self._parts(one)], what='list one'))
        rows = len(json.loads(fleet_runs[0].stdout))
        graph = len([q for q in fleet_runs[0].requests if q.kind == 'graph'])
        ratio = median([r.wall for r in fleet_runs]) / median([r.wall for r in single_runs])
        self.row(f'(f) list over {rows} extensions in 3 subscriptions vs one cluster\'s list (median s)',
                 '{:.3f}'.format(median([r.wall for r in fleet_runs])),
                 '{:.3f}'.format(median([r.wall for r in single_runs])), '{:.2f}'.format(ratio), '<= 1.50',
                 ratio <= 1.5)
        self.row('(f) list: Resource Graph requests (extensions + clusters query)', str(graph), '-', '-',
                 '<= 1 per 1,000 rows each', graph <= 2 * -(-rows // 1000) + 1)
        self.fleet_verify()
        self.fleet_deploy()

    def fleet_verify(self):
        healthy = [c for c in self._clusters(True)][:20]
        together = self.az(['amlk8s', 'verify', '--ids', *healthy], what='verify --ids')
        sequential = [self.az(['amlk8s', 'verify', *self._parts(c)], what='verify') for c in healthy]
        total = sum(r.wall for r in sequential)
        ratio = together.wall / total
        self.row(f'(f) verify --ids over {len(healthy)} clusters vs {len(healthy)} sequential verify (s)',
                 '{:.3f}'.format(together.wall), '{:.3f}'.format(total), '{:.2f}'.format(ratio), '<= 0.30',
                 ratio <= 0.3)
        self.data.setdefault('fleet_growth', []).append(
            {'clusters': len(healthy), 'command': 'verify --ids', 'wall': together.wall,
             'arm_requests': len([q for q in together.requests if q.kind == 'arm'])})

    def fleet_deploy(self):
        bare = self._clusters(False)
        if len(bare) < 21:
            raise HarnessError('the fleet world has fewer than 21 clusters without an extension')
        single = self.az(['amlk8s', 'deploy', *self._parts(bare[0]), '--enable-training', 'true'], what='deploy')
        targets = bare[1:21]
        together = self.az(['amlk8s', 'deploy', '--ids', *targets, '--enable-training', 'true'], what='deploy --ids')
        one_reads = len([q for q in single.requests if q.kind == 'arm'])
        all_reads = len([q for q in together.requests if q.kind == 'arm'])
        ratio = together.wall / single.wall
        self.row(f'(f) deploy --ids over {len(targets)} clusters vs one deploy (s)', '{:.3f}'.format(together.wall),
                 '{:.3f}'.format(single.wall), '{:.2f}'.format(ratio), '<= 2.00', ratio <= 2.0)
        self.row('(f) deploy --ids: ARM requests vs 20 x one deploy\'s', str(all_reads), str(20 * one_reads),
                 '{:.2f}'.format(all_reads / (20.0 * one_reads)), '= 1.00', all_reads <= 20 * one_reads)
        rss = together.maxrss_mb / single.maxrss_mb
        self.row('(f) deploy --ids: peak RSS vs one deploy (MB)', '{:.1f}'.format(together.maxrss_mb),
                 '{:.1f}'.format(single.maxrss_mb), '{:.2f}'.format(rss), '<= 1.50', rss <= 1.5)

    def fleet_growth(self):
        """How verify --ids grows from 1 to 20 to 200 clusters (docs/performance.md)."""
        self._fleet_world(1000)
        healthy = self._clusters(True)
        for count in (1, 20, 200):
            if len(healthy) < count:
                break
            run = self.az(['amlk8s', 'verify', '--ids', *healthy[:count]], what='verify --ids')
            self.detail('(f) verify --ids over {:>3} clusters: {:.2f} s, {} ARM requests, peak RSS {:.1f} MB'.format(
                count, run.wall, len([q for q in run.requests if q.kind == 'arm']), run.maxrss_mb))

    # ------------------------------------------------------------------ (i) fleet stages
    def fleet_stages(self):
        runs = max(3, self.args.runs // 2)
        self.say('(i) fleet stages: selecting with --where over 1,336 clusters; a 3-stage rollout over 100 ...')
        self._fleet_world(1000, bare=330)
        subscriptions = list(self.emu.subscriptions)
        chosen, listed = [], []
        for i in range(runs):
            for who in (['where', 'list'] if i % 2 == 0 else ['list', 'where']):
                if who == 'where':
                    chosen.append(self.az(['amlk8s', 'list', '--where', "tags.env in~ ('prod', 'staging', 'dev')",
                                           '--subscriptions', *subscriptions], what='list --where'))
                else:
                    listed.append(self.az(['amlk8s', 'list', '--subscriptions', *subscriptions], what='list'))
        selection = [q for q in chosen[0].requests if q.kind == 'graph' and 'tags.env' in json.dumps(q.body)]
        with self.emu.lock:
            clusters = len([b for b in self.emu.world.resources.values() if str(b.get('type', '')).lower() in (
                'microsoft.containerservice/managedclusters', 'microsoft.kubernetes/connectedclusters')])
        ratio = median([r.wall for r in chosen]) / median([r.wall for r in listed])
        self.row(f'(i) list --where over {clusters} clusters vs today\'s list (median s)',
                 '{:.3f}'.format(median([r.wall for r in chosen])), '{:.3f}'.format(median([r.wall for r in listed])),
                 '{:.2f}'.format(ratio), '<= 1.50', ratio <= 1.5)
        self.row(f'(i) the selection query: Resource Graph requests for {clusters} rows', str(len(selection)), '-',
                 '-', '<= 1 per 1,000 rows', len(selection) <= -(-clusters // 1000))
        self.staged_rollout()

    def staged_rollout(self):
        with self.emu.lock:
            bodies = list(self.emu.world.resources.values())
        kind = 'microsoft.containerservice/managedclusters'
        aks = [b['id'] for b in bodies if str(b.get('type', '')).lower() == kind]
        taken = {b['id'].lower().split('/providers/microsoft.kubernetesconfiguration/')[0] for b in bodies
                 if '/providers/microsoft.kubernetesconfiguration/' in b['id'].lower()}
        free = sorted((c for c in aks if c.lower() not in taken), key=str.lower)
        by_sub = {}
        for cid in free:
            by_sub.setdefault(cid.split('/')[2].lower(), []).append(cid)
        bare = [c for group in zip(*by_sub.values()) for c in group]      # round robin over the 3 subscriptions
        if len(bare) < 101:
            raise HarnessError('the fleet world has fewer than 101 AKS clusters without an extension')
        one = self.az(['amlk8s', 'deploy', *self._parts(bare[0]), '--subscription', bare[0].split('/')[2],
                       '--enable-training', 'true'], what='deploy')
        check = self.az(['amlk8s', 'verify', *self._parts(bare[0]), '--subscription', bare[0].split('/')[2]],
                        what='verify')
        targets = bare[1:101]
        staged = self.az(['amlk8s', 'deploy', '--ids', *targets, '--stages', '1,10%,100%', '--enable-training',
                          'true'], what='deploy --stages')
        stages = 3
        arm = [q for q in staged.requests if q.kind == 'arm' and q.status != 429]    # a throttled try is retried
        # ARM's read bucket (250, refilled at 25/s per subscription) bounds how fast one subscription's clusters go.
        per_sub = {}
        for q in arm:
            if q.method in ('GET', 'HEAD'):
                sub = q.path.split('/')[2].lower() if q.path.lower().startswith('/subscriptions/') else ''
                per_sub[sub] = per_sub.get(sub, 0) + 1
        floor = max([max(0, n - 250) / 25.0 for n in per_sub.values()] or [0.0])
        bound = max(stages * (one.wall + check.wall), floor)
        self.row('(i) 3-stage rollout over 100 clusters in 3 subscriptions vs 3 x (one deploy + one verify) (s)',
                 '{:.2f}'.format(staged.wall), '{:.2f}'.format(bound), '{:.2f}'.format(staged.wall / bound), '<= 1.00',
                 staged.wall <= bound)
        self.detail('(i) reads per subscription {}; the read bucket alone needs {:.1f} s'.format(
            sorted(per_sub.values()), floor))
        arm = len(arm)
        per = len([q for q in one.requests + check.requests if q.kind == 'arm' and q.status != 429])
        self.row('(i) 3-stage rollout: ARM requests vs 100 x (one deploy\'s + one verify\'s)', str(arm),
                 str(100 * per), '{:.2f}'.format(arm / (100.0 * per)), '<= 1.00', arm <= 100 * per)
        self.data['staged_rollout'] = {'wall': staged.wall, 'one_deploy': one.wall, 'one_verify': check.wall,
                                       'arm_requests': arm, 'per_cluster': per}

    # ------------------------------------------------------------------ (g) in-cluster reads
    def in_cluster(self):
        from tests.emulator.kube import KubeEmulator, scenarios as ks
        runs = self.args.runs
        self.say('(g) in-cluster reads: {} x verify reading the cluster, verify --arm-only (interleaved) ...'.format(
            runs))
        kube = KubeEmulator(state_dir=self.work / 'kube-emulator', log_file=False).start()
        try:
            node_rg = (self.emu.resource(self.cluster_id) or {})['properties']['nodeResourceGroup']
            kube.add_cluster(CLUSTER, ks.aks_world(node_rg, training=True, inference=True, ha=False))
            self.emu.set_kubeconfig(CLUSTER, kube.kubeconfig(CLUSTER))
            self.settings(retry_after=1)
            self.reset_extension()
            self.az(DEPLOY, what='deploy')
            verify = ['amlk8s', 'verify', *CLUSTER_ARGS, '-o', 'json']
            ours, base = [], []
            mark = len(kube.requests())
            for i in range(runs):
                order = [('ours', verify), ('base', verify + ['--arm-only'])]
                if i % 2:
                    order.reverse()
                for who, args in order:
                    (ours if who == 'ours' else base).append(self.az(args, what='verify'))
            sent = kube.requests()[mark:]
            writes = kube.writes()
            read = json.loads(ours[0].stdout)['inCluster']
        finally:
            self.emu.set_kubeconfig(CLUSTER, None)
            kube.stop()
        if not read.get('read'):
            raise HarnessError('verify did not read the cluster: {}'.format(read))
        walls, arm_only = [r.wall for r in ours], [r.wall for r in base]
        extra = median(walls) - median(arm_only)
        self.row('(g) verify reading the cluster vs verify --arm-only (median s)', '{:.3f}'.format(median(walls)),
                 '{:.3f}'.format(median(arm_only)), '+{:.2f} s'.format(extra), '<= +1.00 s', extra <= 1.0)
        rss = (median([r.maxrss_mb for r in ours]), median([r.maxrss_mb for r in base]))
        self.row('(g) verify reading the cluster: peak RSS vs --arm-only (MB)', '{:.1f}'.format(rss[0]),
                 '{:.1f}'.format(rss[1]), '{:.2f}'.format(rss[0] / rss[1]), 'reported', True)
        self.row('(g) requests to the cluster per verify (all GET, none a write)', '{:.0f}'.format(
            len(sent) / float(runs)), '-', '-', 'no write', not writes and {q.method for q in sent} == {'GET'})
        self.data['in_cluster'] = {'verify': walls, 'arm_only': arm_only, 'rss': rss, 'requests': len(sent)}

    # ------------------------------------------------------------------ (h) time to diagnosis
    def time_to_diagnosis(self):
        """A release pod turns CrashLoopBackOff (OOMKilled) a few seconds into the deploy: how long until deploy
        names it (--grace GRACE --fail-fast), against waiting for ARM's own failure (--arm-only)."""
        import threading
        import time
        from tests.emulator.kube import KubeEmulator, failures as kf, scenarios as ks
        runs = max(3, self.args.latency_runs)
        self.say('(h) time to diagnosis: {} x deploy --grace {} --fail-fast, 1 x ARM\'s own failure ...'.format(
            runs, GRACE))
        kube = KubeEmulator(state_dir=self.work / 'kube-emulator-h', log_file=False).start()
        node_rg = (self.emu.resource(self.cluster_id) or {})['properties']['nodeResourceGroup']
        fresh = ks.aks_world(node_rg, installed=False) + [ks.namespace('azureml')]
        deploy = DEPLOY[:2] + ['--grace', str(GRACE)] + DEPLOY[2:]

        def timed(args, arm_end):
            kube.add_cluster(CLUSTER, fresh)
            self.emu.set_kubeconfig(CLUSTER, kube.kubeconfig(CLUSTER))
            self.reset_extension()
            self.settings(retry_after=1, complete_after=arm_end)
            self.emu.set_outcome(CLUSTER, status='Failed', error={'code': 'ExtensionOperationFailed', 'message': (
                kf.arm_error('failed pre-install: pod healthcheck failed'))})
            failing = {}

            def turn():
                failing['at'] = time.time()
                kube.put(CLUSTER, kf.crashing_pod('aml-operator-7c9d8b6f5-x2x9z', reason='OOMKilled',
                                                  since=ks.ago(seconds=0)))
            timer = threading.Timer(FAILS_AFTER, turn)
            timer.start()
            run = self.az(args, code=1, what='deploy that fails')
            timer.join()
            return run.end - failing['at'], run
        try:
            ours = [timed(deploy + ['--fail-fast'], 300) for _ in range(runs)]
            base = timed(DEPLOY + ['--arm-only'], ARM_FAILS_AFTER)
        finally:
            self.emu.set_kubeconfig(CLUSTER, None)
            self.settings()
            kube.stop()
        named = all('aml-operator-7c9d8b6f5-x2x9z' in run.stderr and 'Stopped waiting (--fail-fast)' in run.stderr
                    for _, run in ours)
        if not named:
            raise HarnessError('deploy --fail-fast did not name the crashing pod:\n' + ours[0][1].stderr[-2000:])
        took = median([t for t, _ in ours])
        self.row('(h) time to diagnosis: pod failing -> deploy names it (s, --grace {})'.format(GRACE),
                 '{:.1f}'.format(took), '{:.1f}'.format(base[0]), '-', '<= grace + 10 s', took <= GRACE + 10)
        self.detail('(h) deploy --grace {} --fail-fast, s from the pod failing to the diagnosis: {}; ARM\'s own '
                    'failure (the emulator ends the operation {} s after it starts; the service takes 10-15 '
                    'minutes): {:.1f} s'.format(GRACE, ' '.join('{:.1f}'.format(t) for t, _ in ours),
                                                ARM_FAILS_AFTER, base[0]))
        self.data['time_to_diagnosis'] = {'live': [t for t, _ in ours], 'arm': base[0], 'grace': GRACE}

    # ------------------------------------------------------------------ rows
    def row(self, figure, amlk8s, baseline, ratio, target, passed):
        self.rows.append((figure, amlk8s, baseline, ratio, target, 'pass' if passed else 'FAIL'))

    def detail(self, text=''):
        self.details.append(text)

    # ------------------------------------------------------------------ warm-up
    def warm_up(self):
        """First calls build az's command index and fill the OS caches; they are not measured."""
        self.say('warming up (command index, caches) ...')
        self.settings(retry_after=1)
        self.az(['version'])
        self.az(['amlk8s', '-h'])
        self.az(['amlk8s', '-h'], env=self.env_source)
        self.reset_extension()
        run = self.az(DEPLOY, what='amlk8s deploy')
        puts = [r for r in run.requests if r.method == 'PUT' and r.kind == 'arm']
        if len(puts) != 1 or not isinstance(puts[0].body, dict):
            raise HarnessError('the deploy sent {} PUT(s); expected one extension PUT'.format(len(puts)))
        self.body = puts[0].body
        if (self.body.get('properties') or {}).get('configurationProtectedSettings'):
            raise HarnessError('the POC deploy sent protected settings: the baseline could not send the same body')
        self.reset_extension()
        self.az(self.baseline_args(), what='az resource create')

    def baseline_args(self):
        body = dict(self.body)
        props = body.pop('properties')
        args = ['resource', 'create', '--id', self.ext_id, '--api-version', API]
        if body:    # identity, location, plan ...: the full body
            return args + ['--is-full-object', '--properties', json.dumps(dict(body, properties=props))]
        return args + ['--properties', json.dumps(props)]

    # ------------------------------------------------------------------ (a) load cost
    def load_cost(self):
        runs = self.args.load_runs
        self.say('(a) load cost: {} x az amlk8s -h, az version (interleaved) ...'.format(runs))
        ours, base, source = [], [], []
        for i in range(runs):
            order = [('ours', ['amlk8s', '-h']), ('base', ['version'])]
            if i % 2:
                order.reverse()
            for who, args in order:
                run = self.az(args)
                (ours if who == 'ours' else base).append(run)
            source.append(self.az(['amlk8s', '-h'], env=self.env_source).wall)
        cpu = ([r.cpu for r in ours], [r.cpu for r in base])
        ours, base = [r.wall for r in ours], [r.wall for r in base]
        ratio = median(ours) / median(base)
        self.row('(a) load: az amlk8s -h vs az version (median s)', '{:.3f}'.format(median(ours)),
                 '{:.3f}'.format(median(base)), '{:.2f}'.format(ratio), '<= {:.2f}'.format(LOAD_TARGET),
                 ratio <= LOAD_TARGET)
        pairs = [a / b for a, b in zip(ours, base)]
        self.detail('(a) az amlk8s -h runs (s): ' + ' '.join('{:.3f}'.format(v) for v in ours))
        self.detail('    az version runs (s):   ' + ' '.join('{:.3f}'.format(v) for v in base))
        self.detail('    median of per-pair ratios: {:.2f}; az amlk8s -h without .pyc (sources compiled at every call, '
                    'as the e2e harness runs it): median {:.3f} s, {:.2f}x az version (information only)'.format(
                        median(pairs), median(source), median(source) / median(base)))
        self.detail('    CPU time (user+sys) medians: az amlk8s -h {:.3f} s, az version {:.3f} s, ratio {:.2f} (less '
                    'sensitive to other load than wall time)'.format(
                        median(cpu[0]), median(cpu[1]), median(cpu[0]) / median(cpu[1])))
        self.data['load'] = {'amlk8s': ours, 'baseline': base, 'amlk8s_no_pyc': source, 'ratio': ratio,
                             'cpu_amlk8s': cpu[0], 'cpu_baseline': cpu[1]}

    # ------------------------------------------------------------------ (b) deploy, (c) round trips, (e) memory
    def deploy_overhead(self):
        runs = self.args.runs
        self.say('(b, c, e) deploy: {} x az amlk8s deploy, az resource create (interleaved, Retry-After: 1, 2 polls) '
                 '...'.format(runs))
        self.settings(retry_after=1, polls=2)
        ours, base = [], []
        for i in range(runs):
            order = ['ours', 'base'] if i % 2 == 0 else ['base', 'ours']
            for who in order:
                self.reset_extension()
                if who == 'ours':
                    run = self.az(DEPLOY, what='amlk8s deploy')
                else:
                    run = self.az(self.baseline_args(), what='az resource create')
                self.check_create(run, who)
                (ours if who == 'ours' else base).append(run)
        self.reset_extension()

        wall = ([r.wall for r in ours], [r.wall for r in base])
        ratio = median(wall[0]) / median(wall[1])
        self.row('(b) deploy: amlk8s deploy vs az resource create (median s)', '{:.3f}'.format(median(wall[0])),
                 '{:.3f}'.format(median(wall[1])), '{:.2f}'.format(ratio), '<= {:.2f}'.format(DEPLOY_TARGET),
                 ratio <= DEPLOY_TARGET)
        polls = ({len([q for q in r.requests if q.kind == 'poll']) for r in ours},
                 {len([q for q in r.requests if q.kind == 'poll']) for r in base})
        self.detail('(b) amlk8s deploy runs (s):      ' + ' '.join('{:.3f}'.format(v) for v in wall[0]))
        self.detail('    az resource create runs (s): ' + ' '.join('{:.3f}'.format(v) for v in wall[1]))
        self.detail('    polls per run: amlk8s {}, baseline {}; the same PUT body for both (checked each run)'.format(
            sorted(polls[0]), sorted(polls[1])))
        self.detail('    time before the PUT (start-up, token, reads): amlk8s median {:.3f} s, baseline {:.3f} s'
                    .format(median([self.until_put(r) for r in ours]), median([self.until_put(r) for r in base])))
        self.detail('    CPU time (user+sys) medians: amlk8s {:.3f} s, baseline {:.3f} s, ratio {:.2f}'.format(
            median([r.cpu for r in ours]), median([r.cpu for r in base]),
            median([r.cpu for r in ours]) / median([r.cpu for r in base])))

        self.round_trips(ours[0], base[0])

        rss = ([r.maxrss_mb for r in ours], [r.maxrss_mb for r in base])
        mem_ratio = median(rss[0]) / median(rss[1])
        self.row('(e) memory: deploy peak RSS (median MB)', '{:.1f}'.format(median(rss[0])),
                 '{:.1f}'.format(median(rss[1])), '{:.2f}'.format(mem_ratio), '<= {:.2f}'.format(MEMORY_TARGET),
                 mem_ratio <= MEMORY_TARGET)
        self.detail('(e) peak RSS amlk8s (MB): ' + ' '.join('{:.1f}'.format(v) for v in rss[0]))
        self.detail('    peak RSS baseline (MB): ' + ' '.join('{:.1f}'.format(v) for v in rss[1]))
        self.data['deploy'] = {'amlk8s': wall[0], 'baseline': wall[1], 'ratio': ratio}
        self.data['memory'] = {'amlk8s': rss[0], 'baseline': rss[1], 'ratio': mem_ratio}

    def memory_large_catalogue(self):
        """(e) again with a region SKU catalogue of Azure's size: the default world's is a few KB, a large Azure
        region's is megabytes, and deploy reads it (the baseline does not). Peak RSS barely varies between runs,
        so 3 interleaved pairs suffice."""
        entries, size = self.sku_catalogue(self.args.large_catalogue)
        self.say('(e) memory with a {:.1f} MB SKU catalogue: 3 x deploy, az resource create (interleaved) ...'.format(
            size / 1e6))
        self.settings(retry_after=1, polls=2)
        ours, base = [], []
        try:
            for i in range(3):
                for who in (['ours', 'base'] if i % 2 == 0 else ['base', 'ours']):
                    self.reset_extension()
                    if who == 'ours':
                        run = self.az(DEPLOY, what='amlk8s deploy')
                    else:
                        run = self.az(self.baseline_args(), what='az resource create')
                    self.check_create(run, who)
                    (ours if who == 'ours' else base).append(run)
        finally:
            self.reset_extension()
            self.sku_catalogue(self.args.sku_entries)
        rss = ([r.maxrss_mb for r in ours], [r.maxrss_mb for r in base])
        ratio = median(rss[0]) / median(rss[1])
        self.row('(e) memory, {:.1f} MB region SKU catalogue (median MB)'.format(size / 1e6),
                 '{:.1f}'.format(median(rss[0])), '{:.1f}'.format(median(rss[1])), '{:.2f}'.format(ratio),
                 '<= {:.2f}'.format(MEMORY_TARGET), ratio <= MEMORY_TARGET)
        self.detail('(e) with a {}-entry ({:.1f} MB) SKU catalogue: peak RSS amlk8s {} MB, baseline {} MB; deploy '
                    'median {:.3f} s vs {:.3f} s'.format(
                        entries, size / 1e6, ' '.join('{:.1f}'.format(v) for v in rss[0]),
                        ' '.join('{:.1f}'.format(v) for v in rss[1]), median([r.wall for r in ours]),
                        median([r.wall for r in base])))
        self.data['memory_large_catalogue'] = {'entries': entries, 'bytes': size, 'amlk8s': rss[0], 'baseline': rss[1],
                                               'ratio': ratio}

    @staticmethod
    def until_put(run):
        put = [q for q in run.requests if q.method == 'PUT']
        return (put[0].time - run.start) if put else float('nan')

    def check_create(self, run, who):
        puts = [q for q in run.requests if q.kind == 'arm' and q.method == 'PUT']
        if len(puts) != 1 or puts[0].status != 201:
            raise HarnessError('{}: expected one PUT answered 201 (a create), got {}'.format(
                who, [(q.method, q.status) for q in puts]))
        sent = dict(puts[0].body) if isinstance(puts[0].body, dict) else puts[0].body
        if who == 'base' and isinstance(sent, dict) and 'location' not in self.body:
            sent.pop('location', None)     # az resource create adds the resource group's location
        if sent != self.body:
            raise HarnessError('{}: the PUT body differs from the body amlk8s sent in the warm-up:\n{}\n{}'.format(
                who, json.dumps(puts[0].body, sort_keys=True), json.dumps(self.body, sort_keys=True)))

    def short(self, path):
        return path.replace(self.cluster_id, '{cluster}').replace(
            '/subscriptions/' + self.emu.subscription_id, '/subscriptions/{sub}')

    def round_trips(self, ours, base):
        def arm(run):
            counts = {}
            for q in run.requests:
                if q.kind != 'arm':
                    continue
                key = (q.method, q.path.lower())
                entry = counts.setdefault(key, {'method': q.method, 'path': self.short(q.path), 'count': 0,
                                                'status': q.status})
                entry['count'] += 1
            return list(counts.values())
        listed, baseline = arm(ours), arm(base)
        total = sum(e['count'] for e in listed)
        # The extension list is read twice by design: for the checks, and after the PUT to catch a second AzureML
        # extension that appeared meanwhile (one per cluster).
        repeated = [e for e in listed if e['count'] > (2 if e['method'] == 'GET' and e['path'].lower().endswith(
            '/providers/microsoft.kubernetesconfiguration/extensions') else 1)]
        tokens = len([q for q in ours.requests if q.kind == 'token'])
        polls = len([q for q in ours.requests if q.kind == 'poll'])
        self.row('(c) round trips: ARM requests per deploy (no tokens/polls)', str(total),
                 str(sum(e['count'] for e in baseline)), '-', 'each path once', not repeated)
        self.detail('(c) ARM requests of one az amlk8s deploy ({} token request(s) and {} poll(s) not counted):'.format(
            tokens, polls))
        for entry in listed:
            self.detail('      {:>2} x {:<6} {}  -> {}'.format(
                entry['count'], entry['method'], entry['path'], entry['status']))
        reads = [q for q in ours.requests if q.kind == 'arm' and q.method == 'GET']
        put = [q for q in ours.requests if q.method == 'PUT']
        if reads and put:
            after_cluster = [q for q in reads[1:] if q.time < put[0].time]
            if after_cluster:
                spread = max(q.time for q in after_cluster) - min(q.time for q in after_cluster)
                self.detail('    the {} reads after the cluster GET were all sent within {:.0f} ms (concurrent)'
                            .format(len(after_cluster), 1000 * spread))
        self.detail('    baseline (az resource create): ' + ', '.join(
            '{} {}'.format(e['method'], e['path']) for e in baseline))
        self.data['round_trips'] = {'amlk8s': listed, 'baseline': baseline}

    # ------------------------------------------------------------------ (d) completion latency
    def latency(self):
        self.say('(d) completion: no retry hint, the emulator ends each operation {} s after it starts ...'.format(
            COMPLETE_AFTER))
        results = {}
        for attempt in range(self.args.latency_runs):
            for name, value in self.latency_round(attempt).items():
                results.setdefault(name, []).append(value)
        worst = {name: max(values) for name, values in results.items()}
        for name, value in worst.items():
            self.row('(d) completion noticed, no Retry-After: {} (s after the end)'.format(name),
                     '{:.2f}'.format(value), '-', '-', '<= {:.0f} s'.format(LATENCY_TARGET), value <= LATENCY_TARGET)
        self.detail('(d) latency runs (s after the operation ended): ' + '; '.join(
            '{} {}'.format(name, ' '.join('{:.2f}'.format(v) for v in values)) for name, values in results.items()))
        self.detail('    (without a hint azure-core would wait its default 30 s between polls)')

        self.say('(d) completion: Retry-After: {} on every in-progress answer ...'.format(RETRY_AFTER))
        spacing = self.retry_after_round()
        for name, gaps in spacing.items():
            low = min(gaps) if gaps else float('nan')
            self.row('(d) Retry-After: {} honoured: {} (min s between polls)'.format(RETRY_AFTER, name),
                     '{:.2f}'.format(low), '-', '-', '>= {} s'.format(RETRY_AFTER), bool(gaps) and low >= RETRY_AFTER)
            self.detail('    Retry-After: {} {} poll gaps (s): {}'.format(
                RETRY_AFTER, name, ' '.join('{:.2f}'.format(g) for g in gaps)))
        self.detail('    verify --wait polls the extension with GETs, which carry no Retry-After; its spacing is the '
                    'product\'s own interval.')
        self.data['latency'] = results
        self.data['retry_after'] = spacing

    def _due(self, kind):
        ops = [op for op in self.emu.operations(cluster=CLUSTER, extension=NAME) if op['kind'] == kind]
        if not ops or ops[-1]['due'] is None:
            raise HarnessError('no timed {} operation was started on the extension'.format(kind))
        return ops[-1]

    def latency_round(self, attempt):
        found = {}
        self.settings(complete_after=COMPLETE_AFTER)
        # deploy (a create)
        self.reset_extension()
        run = self.az(DEPLOY, what='amlk8s deploy')
        found['deploy'] = run.end - self._due('create')['due']
        # update (a PATCH)
        value = 'True' if attempt % 2 == 0 else 'False'
        run = self.az(['amlk8s', 'update'] + CLUSTER_ARGS + ['--config', 'inferenceRouterHA=' + value, '--yes'],
                      what='amlk8s update')
        if not [q for q in run.requests if q.method == 'PATCH']:
            raise HarnessError('amlk8s update sent no PATCH:\n' + run.stderr[-2000:])
        found['update'] = run.end - self._due('update')['due']
        # verify --wait, following an operation started just before it (a re-applied PUT)
        self.arm_put(self.ext_id, self.body)
        run = self.az(['amlk8s', 'verify'] + CLUSTER_ARGS + ['--wait'], what='amlk8s verify --wait')
        op = self._due('update')
        if op['ended_at'] is None or run.start > op['due']:
            raise HarnessError('verify --wait started after the operation had ended: the measure is void')
        found['verify --wait'] = run.end - op['due']
        # delete
        run = self.az(['amlk8s', 'delete'] + CLUSTER_ARGS + ['--yes'], what='amlk8s delete')
        found['delete'] = run.end - self._due('delete')['due']
        self.settings()
        return found

    def retry_after_round(self):
        self.settings(retry_after=RETRY_AFTER, polls=2)
        spacing = {}

        def gaps(run):
            times = [q.time for q in run.requests if q.kind == 'poll']
            return [b - a for a, b in zip(times, times[1:])]

        self.reset_extension()
        spacing['deploy'] = gaps(self.az(DEPLOY, what='amlk8s deploy'))
        spacing['update'] = gaps(self.az(['amlk8s', 'update'] + CLUSTER_ARGS + ['--config', 'inferenceRouterHA=True',
                                                                                '--yes'], what='amlk8s update'))
        spacing['delete'] = gaps(self.az(['amlk8s', 'delete'] + CLUSTER_ARGS + ['--yes'], what='amlk8s delete'))
        self.settings()
        return spacing

    # ------------------------------------------------------------------ report
    def report(self, info, before, after, others):
        lines = ['amlk8s benchmark (medians; ratios side by side, amlk8s and baseline interleaved)',
                 'machine: {cpu}, {cores} cores, {os}; Python {python}; azure-cli {azure-cli} (core {azure-cli-core})'
                 .format(**info),
                 'extension: ' + source_info(Path(self.args.source).resolve()),
                 'SKU catalogue of the cluster\'s region: {} entries, {:.2f} MB'.format(
                     self.catalogue[0], self.catalogue[1] / 1e6),
                 'runs: load {}, deploy {}, latency {}; load average before {:.2f} {:.2f} {:.2f}, after {:.2f} {:.2f} '
                 '{:.2f}; other az processes seen at start: {}'.format(
                     self.args.load_runs, self.args.runs, self.args.latency_runs, *before, *after, others), '']
        header = ('figure', 'amlk8s', 'baseline', 'ratio', 'target', 'result')
        widths = [max(len(str(r[i])) for r in self.rows + [header]) for i in range(len(header))]
        rule = '-+-'.join('-' * w for w in widths)
        lines.append(' | '.join(h.ljust(w) for h, w in zip(header, widths)))
        lines.append(rule)
        for row in self.rows:
            lines.append(' | '.join(str(c).ljust(w) for c, w in zip(row, widths)))
        lines.append('')
        lines.extend(self.details)
        return '\n'.join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(prog='python -m tests.bench', description=__doc__.split('\n\n')[0])
    parser.add_argument('--runs', type=int, default=7, help='runs of each deploy (default 7; at least 5 to count)')
    parser.add_argument('--load-runs', type=int, default=None, help='runs of each -h/version (default 3 x --runs)')
    parser.add_argument('--latency-runs', type=int, default=1, help='rounds of (d) (default 1; the worst counts)')
    parser.add_argument('--only', default='abcdefghi', help='figures to measure, e.g. --only ae (default abcdefghi)')
    parser.add_argument('--source', default=str(REPO / 'azext_amlk8s'),
                        help='the azext_amlk8s package to measure (default: this working tree\'s; e.g. a scratch copy '
                             'with a candidate fix)')
    parser.add_argument('--sku-entries', type=int, default=0,
                        help='add this many VM sizes to the region\'s SKU catalogue (default 0: the emulator\'s small '
                             'one); 2500 makes it about 2.9 MB, like a large Azure region')
    parser.add_argument('--large-catalogue', type=int, default=2500,
                        help='VM sizes added to the SKU catalogue for the second memory row (default 2500, about '
                             '2.9 MB of JSON, the size of a large Azure region\'s; 0 skips the row)')
    parser.add_argument('--json', help='also write the results and raw runs to this file')
    parser.add_argument('--keep', action='store_true', help='keep the work directory (printed)')
    parser.add_argument('-v', '--verbose', action='store_true', help='print every az call')
    args = parser.parse_args(argv)
    args.load_runs = args.load_runs or 3 * args.runs
    if min(args.runs, args.load_runs) < 5:
        print('note: fewer than 5 runs; medians of so few runs are not a measurement of record', file=sys.stderr)

    sys.path.insert(0, str(REPO))
    info = machine()
    before = load_average()
    others = other_az_processes()
    work = Path(tempfile.mkdtemp(prefix='amlk8s-bench-'))
    bench = Bench(args, work)
    try:
        bench.start()
        bench.warm_up()
        if 'a' in args.only:
            bench.load_cost()
        if set('bce') & set(args.only):
            bench.deploy_overhead()
        if 'e' in args.only and args.large_catalogue:
            bench.memory_large_catalogue()
        if 'd' in args.only:
            bench.latency()
        if 'g' in args.only:
            bench.in_cluster()
        if 'h' in args.only:
            bench.time_to_diagnosis()
        if 'f' in args.only:
            bench.fleet()
            bench.fleet_growth()
        if 'i' in args.only:
            bench.fleet_stages()
    except HarnessError as ex:
        print('benchmark harness error: {}'.format(ex), file=sys.stderr)
        return 2
    finally:
        bench.stop()
        if args.keep:
            print('work directory kept: {}'.format(work), file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)
    after = load_average()
    text = bench.report(info, before, after, others)
    print(text, flush=True)
    if args.json:
        with open(args.json, 'w', encoding='utf-8') as handle:
            json.dump({'machine': info, 'load_average': {'before': before, 'after': after},
                       'other_az_processes': others, 'rows': bench.rows, 'data': bench.data}, handle, indent=2,
                      default=str)
    failed = [r for r in bench.rows if r[-1] != 'pass']
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
