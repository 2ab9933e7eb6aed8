"""Fixtures for end-to-end tests: the real `az` + amlk8s from this working tree + the ARM emulator.

- `emu` (autouse): the session's emulator, reset to the `default` world before every test
  (call `emu.reset("kc-unregistered")` etc. inside a test for another world). Long-running operations
  answer with `x-ms-retry-after-ms: 50` so tests do not sleep; a test about polling without a hint calls
  `emu.settings(retry_after_ms=None)`.
- `kube`: the session's Kubernetes API emulator (tests/emulator/kube), emptied before each test that asks for it,
  with helpers to give an ARM cluster its Kubernetes API (harness.KubeWorld).
- `fleet`: the `fleet` world (three subscriptions, management groups), all three in az's profile.
- `az`: run az against it, e.g. `az("amlk8s show -g rg-ml -c aks-with-ext", expect=0)`; see harness.py.
  Each test gets its own seeded config dir and HOME under tmp_path; AZURE_EXTENSION_DEV_SOURCES points
  at a session folder holding a symlink to azext_amlk8s and a hand-written egg-info.
"""

from pathlib import Path

import pytest

from tests.e2e.harness import Az
from tests.e2e.harness import KubeWorld
from tests.emulator import Emulator, azconfig
from tests.emulator.kube import KubeEmulator

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def emulator_session(tmp_path_factory):
    emulator = Emulator(scenario="default", state_dir=tmp_path_factory.mktemp("emulator")).start()
    yield emulator
    emulator.stop()


@pytest.fixture(autouse=True)
def emu(emulator_session):
    emulator_session.reset("default")
    emulator_session.settings(retry_after_ms=50)
    return emulator_session


@pytest.fixture(scope="session")
def kube_session(tmp_path_factory):
    emulator = KubeEmulator(state_dir=tmp_path_factory.mktemp("kube-emulator")).start()
    yield emulator
    emulator.stop()


@pytest.fixture
def kube(kube_session, emu, tmp_path):
    for key in kube_session.clusters():
        kube_session.remove_cluster(key)
    kube_session.clear_log()
    return KubeWorld(kube_session, emu, tmp_path / "kubeconfigs")


@pytest.fixture(scope="session")
def az_dev_sources(tmp_path_factory):
    return azconfig.make_dev_sources(tmp_path_factory.mktemp("extension-dev"), REPO / "azext_amlk8s")


@pytest.fixture(scope="session")
def az_extension_dir(tmp_path_factory):
    """An empty AZURE_EXTENSION_DIR, so extensions installed elsewhere cannot interfere."""
    return tmp_path_factory.mktemp("cliextensions")


@pytest.fixture
def az(emu, tmp_path, az_dev_sources, az_extension_dir):
    config_dir = azconfig.seed_config_dir(tmp_path / "azure-config", emu.base_url, emu.subscription_id,
                                          emu.tenant_id)
    home = tmp_path / "home"
    home.mkdir()
    env = azconfig.az_environment(emu.base_url, emu.ca_path, config_dir, dev_sources=az_dev_sources,
                                  extension_dir=az_extension_dir, home=home)
    return Az(emu, env, config_dir, home, cwd=tmp_path)


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
        world = item.funcargs.get("kube")
        if isinstance(world, KubeWorld):
            lines = [r.line() for r in world.emulator.requests()] or ["(no requests)"]
            report.sections.append(("Kubernetes API requests", "\n".join(lines[-200:])))


@pytest.fixture
def fleet(emu, az):
    """The fleet world (three subscriptions), with all three in az's profile as `az login` would list them."""
    emu.reset("fleet")
    emu.settings(retry_after_ms=50)
    azconfig.seed_config_dir(az.config_dir, emu.base_url, emu.subscription_id, emu.tenant_id,
                             extra_subscriptions=[s for s in emu.subscriptions if s != emu.subscription_id])
    return emu
