"""ARM throttling (the 2024 token-bucket model) and many subscriptions, over HTTPS and as units."""

import time

from tests.emulator import scenarios
from tests.emulator.throttle import TokenBucket, operation_of, principal_of, scope_of
from tests.emulator.world import jwt

SUBS_API = {"api-version": "2022-12-01"}


def test_token_bucket_refills_continuously():
    now = [100.0]
    bucket = TokenBucket(2, 0.5, clock=lambda: now[0])
    assert bucket.take() == (True, 1, 0) and bucket.take() == (True, 0, 0)
    assert bucket.take() == (False, 0, 2)           # one token needs 2 s at 0.5/s
    now[0] += 1.0
    assert bucket.take() == (False, 0, 1)
    now[0] += 1.0
    assert bucket.take()[0] is True
    now[0] += 100
    assert bucket.take() == (True, 1, 0)            # never above the size


def test_operation_scope_and_principal():
    assert [operation_of(m) for m in ("GET", "HEAD", "PUT", "PATCH", "POST", "DELETE")] == \
        ["reads", "reads", "writes", "writes", "writes", "deletes"]
    assert scope_of("/subscriptions/ABC/resourceGroups/rg") == ("subscription", "abc")
    assert scope_of("/subscriptions") == ("tenant", None) and scope_of("/tenants") == ("tenant", None)
    assert principal_of("Bearer " + jwt({"oid": "object-1"})) == "object-1"
    assert principal_of("Bearer opaque").startswith("token-") and principal_of("Bearer opaque") != \
        principal_of("Bearer other")


def test_defaults_are_the_documented_buckets(emu, session):
    settings = emu.settings()
    assert (settings["throttle"], settings["throttle_reads"], settings["throttle_reads_refill"]) == (True, 250, 25.0)
    assert (settings["throttle_writes"], settings["throttle_writes_refill"]) == (200, 10.0)
    assert (settings["throttle_deletes"], settings["throttle_deletes_refill"]) == (200, 10.0)
    answer = session.get(emu.base_url + f"/subscriptions/{emu.subscription_id}", params=SUBS_API, timeout=10)
    assert answer.headers["x-ms-ratelimit-remaining-subscription-reads"] == "249"
    put = session.put(emu.base_url + scenarios.rg_id("rg-new"), params={"api-version": "2024-11-01"},
                      json={"location": "eastus"}, timeout=10)
    assert put.headers["x-ms-ratelimit-remaining-subscription-writes"] == "199"
    tenant = session.get(emu.base_url + "/subscriptions", params=SUBS_API, timeout=10)
    assert tenant.headers["x-ms-ratelimit-remaining-tenant-reads"] == "249"


def test_small_buckets_throttle_per_subscription_operation_and_principal(emu, session):
    emu.settings(throttle_reads=3, throttle_reads_refill=2.0, throttle_writes=1, throttle_writes_refill=0.5)
    url = emu.base_url + f"/subscriptions/{emu.subscription_id}/resourcegroups"
    answers = [session.get(url, params=SUBS_API, timeout=10) for _ in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert [a.headers["x-ms-ratelimit-remaining-subscription-reads"] for a in answers] == ["2", "1", "0", "0"]
    throttled = answers[-1]
    assert throttled.headers["Retry-After"] == "1"
    error = throttled.json()["error"]
    assert error["code"] == "SubscriptionRequestsThrottled" and "'read' requests for subscription" in error["message"]
    assert emu.requests()[-1].status == 429
    # another subscription, another principal and writes have their own buckets
    other = emu.base_url + f"/subscriptions/{scenarios.OTHER_SUBSCRIPTION_ID}/resourcegroups"
    assert session.get(other, params=SUBS_API, timeout=10).status_code == 200
    someone = {"Authorization": "Bearer " + jwt({"oid": "someone-else"})}
    assert session.get(url, params=SUBS_API, headers=someone, timeout=10).status_code == 200
    rg = emu.base_url + scenarios.rg_id("rg-new")
    writes = [session.put(rg, params={"api-version": "2024-11-01"}, json={"location": "eastus"}, timeout=10)
              for _ in range(2)]
    assert [w.status_code for w in writes] == [201, 429] and writes[1].headers["Retry-After"] == "2"
    time.sleep(0.55)
    assert session.get(url, params=SUBS_API, timeout=10).status_code == 200     # refilled at 2 tokens/s
    emu.settings(throttle=False)
    assert all(session.get(url, params=SUBS_API, timeout=10).status_code == 200 for _ in range(6))


def test_many_subscriptions(emu, session):
    assert emu.subscriptions == [scenarios.SUBSCRIPTION_ID, scenarios.OTHER_SUBSCRIPTION_ID]
    listed = session.get(emu.base_url + "/subscriptions", params=SUBS_API, timeout=10).json()
    assert listed["count"] == {"type": "Total", "value": 2}
    other = f"/subscriptions/{scenarios.OTHER_SUBSCRIPTION_ID}"
    assert session.get(emu.base_url + other, params=SUBS_API, timeout=10).json()["displayName"] == \
        "amlk8s-emulator-2"
    groups = session.get(emu.base_url + other + "/resourcegroups", params=SUBS_API, timeout=10).json()["value"]
    assert [g["name"] for g in groups] == ["rg-ml-other"]
    clusters = session.get(emu.base_url + other + "/providers/Microsoft.ContainerService/managedClusters",
                           params={"api-version": "2024-09-01"}, timeout=10).json()["value"]
    assert [c["name"] for c in clusters] == ["aks-other-sub"]
    ext = session.get(emu.base_url + emu.extension_id("aks-other-sub"), params={"api-version": "2023-05-01"},
                      timeout=10)
    assert ext.status_code == 200 and ext.json()["properties"]["provisioningState"] == "Succeeded"
    missing = session.get(emu.base_url + "/subscriptions/11111111-2222-3333-4444-555555555555/resourcegroups",
                          params=SUBS_API, timeout=10)
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "SubscriptionNotFound"
    created = session.put(emu.base_url + other + "/resourcegroups/rg-x", params={"api-version": "2024-11-01"},
                          json={"location": "westus2"}, timeout=10)
    assert created.status_code == 201 and created.json()["id"] == other + "/resourceGroups/rg-x"
    # a world built with the single `subscription` key still works
    emu.reset({"name": "one", "subscription": {"id": "aaaaaaaa-0000-0000-0000-000000000001", "name": "one",
                                               "tenant_id": scenarios.TENANT_ID}, "resources": []})
    assert emu.subscriptions == ["aaaaaaaa-0000-0000-0000-000000000001"]
    assert emu.subscription_id == "aaaaaaaa-0000-0000-0000-000000000001"


def test_seeded_profile_lists_extra_subscriptions(tmp_path):
    from tests.emulator import azconfig
    import json
    azconfig.seed_config_dir(tmp_path, "https://127.0.0.1:1", scenarios.SUBSCRIPTION_ID, scenarios.TENANT_ID,
                             extra_subscriptions=[scenarios.OTHER_SUBSCRIPTION_ID,
                                                  {"id": "bbbbbbbb-0000-0000-0000-000000000002", "name": "third"}])
    subs = json.loads((tmp_path / "azureProfile.json").read_text())["subscriptions"]
    assert [(s["id"], s["isDefault"]) for s in subs] == [
        (scenarios.SUBSCRIPTION_ID, True), (scenarios.OTHER_SUBSCRIPTION_ID, False),
        ("bbbbbbbb-0000-0000-0000-000000000002", False)]
    assert subs[2]["name"] == "third" and subs[1]["tenantId"] == scenarios.TENANT_ID
