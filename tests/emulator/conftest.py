"""Fixtures for the emulator's self-tests, which exercise it directly over HTTPS (no az).

- `server`: one ARM emulator per test module (started on 127.0.0.1, stopped at the end).
- `emu`: that emulator reset to the `default` world (request it; nothing here is autouse).
"""

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


@pytest.fixture
def session(emu):
    """A requests session for ARM calls to `emu`: its CA only, a bearer token, no proxy/CA settings from the
    environment."""
    import requests
    http = requests.Session()
    http.trust_env = False
    http.verify = emu.ca_path
    http.headers["Authorization"] = "Bearer test-token"
    yield http
    http.close()
