"""Fixtures for the declared-minimum tests: an old `az` (azure-cli 2.51.0) + the built amlk8s wheel + the emulator.

- The old az is $AMLK8S_MIN_CLI (an az executable) or .venv-min/bin/az, which `python3 dev.py test` creates. When
  neither exists, every test that needs it is skipped with the reason; the emulator-only tests still run.
- `min_wheel`: the wheel built from a clean copy of the working tree (as tests/e2e/test_wheel.py builds it).
- `min_extension_dir`: an AZURE_EXTENSION_DIR into which the OLD az has installed that wheel with
  `az extension add --source <wheel> --yes`, offline from .wheelhouse (once per session).
- `az_min`: tests/e2e/harness.py's Az with `executable=` the old az, its own seeded config dir and HOME, and the
  App Service 2017-09-01 managed-identity variables old az reads (azconfig_min.py).
"""

import os
from pathlib import Path

import pytest

from tests.compat import azconfig_min
from tests.e2e.harness import Az, build_wheel
from tests.emulator import Emulator

REPO = Path(__file__).resolve().parents[2]
WHEELHOUSE = REPO / ".wheelhouse"
AZ_MIN = azconfig_min.find_min_az()
NEEDS_MIN_AZ = {"az_min", "min_extension_dir", "min_az"}


def _skip_reason():
    if os.environ.get("AMLK8S_MIN_CLI"):
        return f"AMLK8S_MIN_CLI={os.environ['AMLK8S_MIN_CLI']} is not a file"
    return ("no old az: neither .venv-min/bin/az (made by `python3 dev.py test`) nor AMLK8S_MIN_CLI "
            "(the path of an az executable) exists")


def pytest_collection_modifyitems(config, items):
    if AZ_MIN is not None:
        return
    marker = pytest.mark.skip(reason=_skip_reason())
    here = Path(__file__).parent
    for item in items:
        if here in Path(item.fspath).parents and NEEDS_MIN_AZ & set(getattr(item, "fixturenames", ())):
            item.add_marker(marker)


def pytest_report_header(config):
    if AZ_MIN is None:
        return "amlk8s minimum az: none (" + _skip_reason() + ")"
    return f"amlk8s minimum az: {AZ_MIN} (azure-cli {azconfig_min.cli_version(AZ_MIN)})"


@pytest.fixture(scope="session")
def min_az():
    return AZ_MIN


@pytest.fixture(scope="session")
def compat_emulator(tmp_path_factory):
    emulator = Emulator(scenario="default", state_dir=tmp_path_factory.mktemp("emulator-min")).start()
    yield emulator
    emulator.stop()


@pytest.fixture(autouse=True)
def emu(compat_emulator):
    compat_emulator.reset("default")
    compat_emulator.settings(retry_after_ms=50)
    return compat_emulator


@pytest.fixture(scope="session")
def min_wheel(tmp_path_factory):
    return build_wheel(tmp_path_factory.mktemp("dist-min"), tmp_path_factory.mktemp("source-min"))


def make_az_min(emu, workdir, extension_dir):
    workdir = Path(workdir)
    config_dir = azconfig_min.seed_config_dir(workdir / "azure-config", emu.base_url, emu.subscription_id,
                                              emu.tenant_id, AZ_MIN)
    home = workdir / "home"
    home.mkdir(parents=True, exist_ok=True)
    env = azconfig_min.az_environment(emu.base_url, emu.ca_path, config_dir, extension_dir=extension_dir, home=home)
    env = azconfig_min.offline_pip(env, WHEELHOUSE)
    return Az(emu, env, config_dir, home, cwd=workdir, executable=AZ_MIN)


def install_wheel(az, wheel):
    """`az extension add --source <wheel> --yes` with the given runner; the result (exit code checked by callers)."""
    assert WHEELHOUSE.is_dir(), "run `python3 dev.py test` (it downloads the extension dependencies first)"
    return az(["extension", "add", "--source", str(wheel), "--yes"], timeout=600)


@pytest.fixture(scope="session")
def min_extension_dir(compat_emulator, min_wheel, tmp_path_factory):
    extension_dir = tmp_path_factory.mktemp("cliextensions-min")
    runner = make_az_min(compat_emulator, tmp_path_factory.mktemp("install-min"), extension_dir)
    added = install_wheel(runner, min_wheel)
    if added.exit_code != 0:
        pytest.fail("the old az could not install the wheel\n" + added.describe(), pytrace=False)
    return extension_dir


@pytest.fixture
def az_min(emu, tmp_path, min_extension_dir):
    return make_az_min(emu, tmp_path, min_extension_dir)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """On failure, attach the emulator's request lines (method, path, status; never bodies)."""
    outcome = yield
    report = outcome.get_result()
    if report.when == "call" and report.failed:
        emulator = item.funcargs.get("emu")
        if isinstance(emulator, Emulator) and emulator.running:
            lines = [r.line() for r in emulator.requests()] or ["(no requests)"]
            report.sections.append(("emulator requests", "\n".join(lines[-200:])))
