"""The emulator's time-based completion (settings(complete_after=S)), which the benchmark uses to measure how soon a
client notices a finished operation. Exercised directly over HTTPS (no az)."""

import time

import pytest
import requests


EXT_API = "2023-05-01"
BODY = {"properties": {"extensionType": "Microsoft.AzureML.Kubernetes", "configurationSettings": {"x": "1"}}}


@pytest.fixture
def http(emu):
    session = requests.Session()
    session.trust_env = False
    session.verify = emu.ca_path
    session.headers["Authorization"] = "Bearer test-token"
    yield session
    session.close()


def _url(emu, path):
    return emu.base_url + path


def test_default_is_off(emu):
    assert emu.settings()["complete_after"] is None


def test_operation_ends_after_the_time_whatever_the_polls(emu, http):
    emu.settings(complete_after=0.6, polls=0)
    eid = emu.extension_id("aks-prod")
    created = http.put(_url(emu, eid), params={"api-version": EXT_API}, json=BODY, timeout=10)
    assert created.status_code == 201
    poll_url = created.headers["Azure-AsyncOperation"]
    [op] = emu.operations(extension="azureml")
    assert op["due"] == pytest.approx(op["started_at"] + 0.6)
    # polls=0 would end it on the first poll; the time setting wins.
    for _ in range(3):
        assert http.get(poll_url, timeout=10).json()["status"] == "InProgress"
    assert emu.extension("aks-prod")["properties"]["provisioningState"] == "Creating"
    time.sleep(max(0.0, op["due"] - time.time()) + 0.05)
    assert http.get(poll_url, timeout=10).json()["status"] == "Succeeded"
    [op] = emu.operations(extension="azureml")
    assert op["ended_at"] >= op["due"]
    assert emu.extension("aks-prod")["properties"]["provisioningState"] == "Succeeded"


def test_resource_reads_and_delete_follow_the_clock(emu, http):
    emu.settings(complete_after=0.4, polls=50)
    eid = emu.extension_id("aks-with-ext")
    deleted = http.delete(_url(emu, eid), params={"api-version": EXT_API}, timeout=10)
    assert deleted.status_code == 202
    location = deleted.headers["Location"]
    assert http.get(location, timeout=10).status_code == 202
    time.sleep(0.45)
    assert http.get(location, timeout=10).status_code == 204
    assert emu.extension("aks-with-ext") is None


def test_off_again_means_poll_counting(emu, http):
    emu.settings(complete_after=None, polls=1)
    eid = emu.extension_id("aks-prod")
    created = http.put(_url(emu, eid), params={"api-version": EXT_API}, json=BODY, timeout=10)
    poll_url = created.headers["Azure-AsyncOperation"]
    assert emu.operations(extension="azureml")[0]["due"] is None
    assert http.get(poll_url, timeout=10).json()["status"] == "InProgress"
    assert http.get(poll_url, timeout=10).json()["status"] == "Succeeded"
