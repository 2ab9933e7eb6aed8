"""Run the real `az` (with amlk8s loaded from the working tree) against the emulator.

Used through the `az` fixture of tests/e2e/conftest.py:

    result = az("amlk8s deploy -g rg-ml -c aks-prod --enable-training true", expect=0)
    result.exit_code, result.stdout, result.stderr, result.json, result.requests, result.writes
    proc = az.popen("amlk8s deploy ...")      # own process group, pipes for stdout/stderr
    az.env, az.config_dir, az.home
"""

import json
import os
import shlex
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, List, Optional

import pytest

AZ = Path(sys.executable).parent / "az"
REPO = Path(__file__).resolve().parents[2]


def build_wheel(out, source):
    """The amlk8s wheel, built offline (pip wheel, no dependencies) from a clean copy of the working tree in
    ``source``, so no stale build/ can leak into it; written to ``out``. Returns its path."""
    for name in ("setup.py", "README.md", "HISTORY.rst"):
        shutil.copy(REPO / name, Path(source) / name)
    shutil.copytree(REPO / "azext_amlk8s", Path(source) / "azext_amlk8s",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--quiet",
                    "--disable-pip-version-check", "--wheel-dir", str(out), str(source)],
                   check=True, cwd=source, env=dict(os.environ, PIP_NO_INDEX="1"))
    wheels = list(Path(out).glob("amlk8s-*.whl"))
    assert len(wheels) == 1, wheels
    return wheels[0]


def refused(result, code=None):
    """A refusal: no traceback, a non-zero exit (``code`` when given), no write request."""
    assert "Traceback" not in result.stderr, result.describe()
    assert result.exit_code not in (0, None), result.describe()
    if code is not None:
        assert result.exit_code == code, result.describe()
    assert result.writes == [], result.describe()
    return result


def check_rows(result):
    """A check report's rows by check id."""
    return {row["check"]: row for row in result.json}


_UNSET = object()


@dataclass
class AzResult:
    args: List[str]
    exit_code: int
    stdout: str
    stderr: str
    duration: float
    requests: list = field(default_factory=list)   # emulator records made during the call
    writes: list = field(default_factory=list)     # the ARM writes among them
    _json: Any = field(default=_UNSET, repr=False)

    @property
    def json(self):
        """stdout parsed as JSON, or None when it is empty or not JSON."""
        if self._json is _UNSET:
            try:
                self._json = json.loads(self.stdout) if self.stdout.strip() else None
            except ValueError:
                self._json = None
        return self._json

    @property
    def output(self):
        return self.stdout + self.stderr

    def describe(self):
        """A failure message: the command, its exit code, its output and the requests (no bodies)."""
        lines = [f"az {' '.join(shlex.quote(a) for a in self.args)}",
                 f"exit code {self.exit_code} after {self.duration:.2f}s",
                 "--- stdout ---", self.stdout.rstrip(), "--- stderr ---", self.stderr.rstrip(),
                 "--- emulator requests during the call ---"]
        lines += [r.line() for r in self.requests] or ["(none)"]
        return "\n".join(lines)


class Az:
    """Callable runner for az; one per test (its own config dir and HOME)."""

    def __init__(self, emu, env, config_dir, home, cwd, executable=AZ):
        self.emu = emu
        self.env = env
        self.config_dir = Path(config_dir)
        self.home = Path(home)
        self.cwd = str(cwd)
        self.executable = str(executable)

    @staticmethod
    def split(command):
        if isinstance(command, str):
            return shlex.split(command)
        return [str(part) for part in command]

    def _env(self, extra):
        env = dict(self.env)
        for key, value in (extra or {}).items():
            if value is None:
                env.pop(key, None)
            else:
                env[key] = str(value)
        return env

    def __call__(self, command, input=None, timeout=120, env=None, expect=None):  # noqa: A002
        args = self.split(command)
        mark = self.emu.mark()
        started = time.monotonic()
        try:
            proc = subprocess.run([self.executable, *args], input=input, capture_output=True, text=True,
                                  env=self._env(env), cwd=self.cwd, timeout=timeout,
                                  stdin=None if input is not None else subprocess.DEVNULL)
            code, out, err = proc.returncode, proc.stdout, proc.stderr
        except subprocess.TimeoutExpired as exc:
            out = exc.stdout.decode() if isinstance(exc.stdout, bytes) else (exc.stdout or "")
            err = exc.stderr.decode() if isinstance(exc.stderr, bytes) else (exc.stderr or "")
            result = AzResult(args, -9, out, err, time.monotonic() - started, self.emu.requests(since=mark))
            pytest.fail(f"az timed out after {timeout}s\n{result.describe()}", pytrace=False)
        records = self.emu.requests(since=mark)
        result = AzResult(args, code, out, err, time.monotonic() - started, records,
                          [r for r in records if r.is_write])
        if expect is not None and code != expect:
            pytest.fail(f"expected exit code {expect}, got {code}\n{result.describe()}", pytrace=False)
        return result

    def popen(self, command, env=None, stdin=subprocess.DEVNULL, **kwargs):
        """Start az in its own process group (for Ctrl-C tests); stdout/stderr are text pipes."""
        options = dict(stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=self.cwd,
                       start_new_session=True, stdin=stdin)
        options.update(kwargs)
        return subprocess.Popen([self.executable, *self.split(command)], env=self._env(env), **options)


def single(records, method, fragment):
    """The one record with `method` whose path contains `fragment` (case-insensitive); fails otherwise."""
    found = [r for r in records if r.method == method and fragment.lower() in r.path.lower()]
    assert len(found) == 1, f"expected one {method} ~{fragment}, got: " + "; ".join(r.line() for r in found)
    return found[0]


def hosts(records) -> set:
    return {r.host for r in records}


def first(records, method, fragment) -> Optional[Any]:
    for record in records:
        if record.method == method and fragment.lower() in record.path.lower():
            return record
    return None


class KubeWorld:
    """The Kubernetes API emulator tied to the ARM emulator's clusters: ``aks(name)`` gives an AKS cluster of the ARM
    world its API server (and makes listClusterUserCredential hand out a kubeconfig for it); ``arc(name)`` gives an
    Arc cluster one and returns the path of a kubeconfig for --kube-config."""

    def __init__(self, emulator, arm, folder):
        self.emulator, self.arm, self.folder = emulator, arm, Path(folder)

    def node_resource_group(self, name, rg="rg-ml"):
        props = (self.arm.resource(self.arm.cluster_id(name)) or {}).get("properties") or {}
        return props.get("nodeResourceGroup") or f"MC_{rg}_{name}_eastus"

    def aks(self, name, objects=None, user_auth="token", handed_out=True, **cluster_kwargs):
        """Serve AKS cluster ``name``; objects default to a healthy AzureML release (scenarios.aks_world)."""
        from tests.emulator.kube import scenarios as ks
        objects = ks.aks_world(self.node_resource_group(name)) if objects is None else objects
        self.emulator.add_cluster(name, objects, **cluster_kwargs)
        if handed_out:
            self.arm.set_kubeconfig(name, self.emulator.kubeconfig(name, user_auth=user_auth))
        return name

    def unreachable(self, name):
        """listClusterUserCredential hands out a kubeconfig whose server (https://127.0.0.1:9) nothing listens on."""
        import yaml
        key = f"{name}-unreachable"
        self.emulator.add_cluster(key, [])
        config = self.emulator.kubeconfig_dict(key)
        config["clusters"][0]["cluster"]["server"] = "https://127.0.0.1:9"
        self.arm.set_kubeconfig(name, yaml.safe_dump(config))

    def arc(self, name, rg="rg-arc", objects=None, **cluster_kwargs):
        """Serve Arc cluster ``name`` (scenarios.arc_world by default); returns a kubeconfig path for it."""
        from tests.emulator.kube import scenarios as ks
        if objects is None:
            objects = ks.arc_world(name, rg, self.arm.subscription_id)
        self.emulator.add_cluster(name, objects, **cluster_kwargs)
        return self.kubeconfig_file(name)

    def kubeconfig_file(self, key, name=None, **kwargs):
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / (name or f"{key}.kubeconfig")
        path.write_text(self.emulator.kubeconfig(key, **kwargs), encoding="utf-8")
        return str(path)

    def requests(self, cluster=None):
        return self.emulator.requests(cluster=cluster)

    def writes(self):
        return self.emulator.writes()
