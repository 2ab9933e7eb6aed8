"""The emulator's App Service 2017-09-01 managed-identity protocol, as msrestazure (az 2.51) speaks it.

These need no old az: they send msrestazure's request (GET {MSI_ENDPOINT}/?resource=..&api-version=2017-09-01 with
header `secret`) and parse the answer the way azure-cli-core 2.51's MSIAuthenticationWrapper does.
"""

import base64
import datetime
import json
import time

import requests


def _get(emu, headers, method="GET", **params):
    return requests.request(method, emu.base_url + "/msi/token/", params=params, headers=headers,
                            verify=str(emu.ca_path), timeout=10)


def test_app_service_2017_09_01_token(emu):
    resource = emu.base_url + "/"
    answer = _get(emu, {"secret": "s"}, resource=resource, **{"api-version": "2017-09-01"})
    assert answer.status_code == 200, answer.text
    token = answer.json()
    assert set(token) == {"access_token", "expires_on", "resource", "token_type", "client_id"}
    assert token["token_type"] == "Bearer" and token["resource"] == resource
    # azure-cli-core 2.51 _normalize_expires_on: epoch string, else "%m/%d/%Y %H:%M:%S %z" without the colon.
    expires = token["expires_on"]
    assert expires.endswith(" +00:00")
    epoch = datetime.datetime.strptime(expires[:-3] + expires[-2:], "%m/%d/%Y %H:%M:%S %z").timestamp()
    assert epoch > time.time() + 3000
    claims = json.loads(base64.urlsafe_b64decode(token["access_token"].split(".")[1] + "=="))
    assert claims["tid"] == emu.tenant_id and claims["aud"] == resource
    [record] = emu.requests()
    assert (record.kind, record.status, record.query["api-version"]) == ("token", 200, "2017-09-01")


def test_app_service_2017_09_01_needs_the_secret_header(emu):
    refused = _get(emu, {"X-IDENTITY-HEADER": "h"}, resource="https://x/", **{"api-version": "2017-09-01"})
    assert refused.status_code == 400 and "secret" in refused.json()["error_description"]


def test_newer_protocols_are_unchanged(emu):
    newer = _get(emu, {"X-IDENTITY-HEADER": "h"}, resource="https://x/", **{"api-version": "2019-08-01"})
    assert newer.status_code == 200 and newer.json()["expires_on"].isdigit()
    assert _get(emu, {"secret": "s"}, resource="https://x/", **{"api-version": "2019-08-01"}).status_code == 400


def test_the_retired_form_post_is_refused(emu):
    """msrestazure POSTs to MSI_ENDPOINT when APPSETTING_WEBSITE_SITE_NAME is missing: say so instead of a token."""
    posted = requests.post(emu.base_url + "/msi/token", data={"resource": "https://x/"}, headers={"Metadata": "true"},
                           verify=str(emu.ca_path), timeout=10)
    assert posted.status_code == 405
