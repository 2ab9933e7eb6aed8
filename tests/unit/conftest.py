"""Fixtures for the unit tests that exercise the emulator directly over HTTPS (no az)."""

import pytest

from tests.emulator import Emulator


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    emulator = Emulator(state_dir=tmp_path_factory.mktemp("emu")).start()
    yield emulator
    emulator.stop()


@pytest.fixture
def emu(server):
    server.reset("default")
    return server
