# --------------------------------------------------------------------------------------------
# Copyright (c) amlk8s contributors. Licensed under the MIT License.
# --------------------------------------------------------------------------------------------
"""SDK clients, built by azure-cli-core (its credential, retry, user agent and safe logging policies).

The KubernetesConfiguration client (API 2023-05-01) does the extension's writes and long-running operations;
its pipeline also carries the plain ARM GETs that gather the cluster's facts (``arm_get``), so one pipeline and
no other management SDK is loaded for the reads.
"""

EXTENSIONS_API_VERSION = '2023-05-01'
# Without a Retry-After header the SDK would wait 30 s between polls; the service's header still wins.
POLLING_INTERVAL = 2


def cf_extensions_client(cli_ctx, subscription_id=None):
    from azure.cli.core.commands.client_factory import get_mgmt_service_client
    from azure.mgmt.kubernetesconfiguration.v2023_05_01 import SourceControlConfigurationClient
    return get_mgmt_service_client(cli_ctx, SourceControlConfigurationClient, subscription_id=subscription_id)


def cf_relay(cli_ctx, subscription_id=None):
    from azure.cli.core.commands.client_factory import get_mgmt_service_client
    from azure.mgmt.relay import RelayAPIMgmtClient
    return get_mgmt_service_client(cli_ctx, RelayAPIMgmtClient, subscription_id=subscription_id)


class ArmResponse:  # pylint: disable=too-few-public-methods
    def __init__(self, status, body):
        self.status = status
        self.body = body


def arm_get(client, path, api_version, params=None, *, allow_404=True, logging_enable=True):
    """GET an ARM path (or an absolute nextLink) through the client's pipeline.

    Returns an ``ArmResponse`` with the parsed JSON body. 404 is returned (status 404, body None) when
    ``allow_404``; any other failure raises ``HttpResponseError`` with the ARM error, as the SDK would.
    """
    from azure.core.exceptions import HttpResponseError
    from azure.core.rest import HttpRequest
    from azure.mgmt.core.exceptions import ARMErrorFormat

    query = dict(params or {})
    if '?' not in path:
        query.setdefault('api-version', api_version)
    request = HttpRequest('GET', path, params=query)
    pipeline = client._client  # pylint: disable=protected-access
    request.url = pipeline.format_url(request.url)
    response = pipeline.send_request(request, logging_enable=logging_enable)
    if response.status_code == 404 and allow_404:
        return ArmResponse(404, None)
    if response.status_code >= 400:
        raise HttpResponseError(response=response, error_format=ARMErrorFormat)
    try:
        body = response.json() if response.content else None
    except ValueError:
        body = None
    return ArmResponse(response.status_code, body)


def arm_list(client, path, api_version, params=None):
    """GET a paged ARM list and follow ``nextLink``; returns all items (404 -> None)."""
    first = arm_get(client, path, api_version, params)
    if first.status == 404:
        return None
    items, body, pages = [], first.body or {}, 0
    while True:
        items.extend(body.get('value') or [])
        next_link = body.get('nextLink')
        pages += 1
        if not next_link or pages > 100:
            return items
        body = arm_get(client, next_link, api_version, allow_404=False).body or {}
