# --------------------------------------------------------------------------------------------
# Copyright (c) amlk8s contributors. Licensed under the MIT License.
# --------------------------------------------------------------------------------------------
"""Transport: the raw ARM requests amlk8s sends through the SDK client's pipeline, and the shapes it gets back.

- ``arm_get``/``arm_list``/``arm_post``: plain ARM reads (and POST actions) on the KubernetesConfiguration client's
  pipeline (azure-cli-core's credential, retry and logging policies); ``logging_enable=False`` keeps a secret-bearing
  request or answer out of ``--debug``.
- ``json_stream``: a JSON body for the SDK's ``begin_*`` calls (sent as is, no model round trip).
- ``as_sdk_model``: an extension body as the SDK's model, so output matches ``az k8s-extension``.
- ``OwnOperationPolicy``: a PUT/PATCH whose answer was lost is followed instead of failing.

Nothing here imports an SDK at module level.
"""

import re
import threading
import time
from typing import Dict

_EXTENSION_PATH = re.compile(r'/providers/Microsoft\.KubernetesConfiguration/extensions/[^/?]+$', re.IGNORECASE)
_MAYBE_PROCESSED = (500, 502, 503, 504)     # the gateway may have passed the request on before answering these


class OwnOperationPolicy:  # pylint: disable=too-few-public-methods
    """Notice that an extension PUT/PATCH whose answer was lost did start its operation, and follow that operation.

    - PUT: the client pipeline retries a PUT whose connection broke after the request was sent (or that got a
      gateway error). When the first attempt did reach Azure, the retry finds the operation it started still
      running and is refused with 409 Conflict, so the deploy would fail although it is in fact under way.
    - PATCH: the pipeline does not retry a PATCH whose answer was lost, so the update would fail with a bare
      connection error although Azure may have accepted it.

    In both cases this policy reads the extension: when it holds what was sent (and is not being deleted), the
    operation is ours, and the extension's own answer is returned in place of the 409 or the error, so the poller
    follows its provisioningState to the end. Anything else (someone else's operation, a change that never arrived)
    is passed on unchanged.

    A per-call azure-core policy, duck-typed (the pipeline sets ``next``) so that importing this module loads no SDK.
    """

    next = None

    def send(self, request):
        from azure.core.exceptions import ServiceResponseError
        http_request = request.http_request
        watched = http_request.method in ('PUT', 'PATCH') and bool(
            _EXTENSION_PATH.search(http_request.url.split('?')[0]))
        try:
            response = self.next.send(request)
        except ServiceResponseError:
            adopted = self._try_adopt(request) if watched and http_request.method == 'PATCH' else None
            if adopted is None:
                raise
            return adopted
        if not watched or response.http_response.status_code != 409 or \
                not self._retried_after_possible_delivery(response):
            return response
        return self._try_adopt(request) or response

    def _try_adopt(self, request):
        try:
            return self._adopt(request)
        except Exception:  # pylint: disable=broad-except
            return None     # never worse than the service's own answer

    @staticmethod
    def _retried_after_possible_delivery(response):
        from azure.core.exceptions import ServiceResponseError
        for attempt in response.context.get('history') or ():
            if isinstance(attempt.error, ServiceResponseError):
                return True
            if attempt.http_response is not None and attempt.http_response.status_code in _MAYBE_PROCESSED:
                return True
        return False

    def _adopt(self, request):
        import json
        from azure.core.pipeline import PipelineContext, PipelineRequest, PipelineResponse
        from knack.log import get_logger
        sent = json.loads(_body_bytes(request.http_request).decode('utf-8'))
        get = type(request.http_request)('GET', request.http_request.url)
        found = self.next.send(PipelineRequest(get, PipelineContext(request.context.transport, stream=False)))
        if found.http_response.status_code != 200:
            return None
        current = json.loads(found.http_response.text())
        if not _same_operation(request.http_request.method, sent, current):
            return None
        get_logger(__name__).warning(
            'The connection to Azure broke after the request was sent; the request did arrive, and its operation is '
            'running (provisioningState %s): waiting for it.', (current.get('properties') or {}).get(
                'provisioningState'))
        # The poller follows the resource's provisioningState when the answer has no operation header; it polls the
        # URL of the request the answer belongs to, which is the extension's own URL either way.
        found.http_response.request = request.http_request
        return PipelineResponse(request.http_request, found.http_response, found.context)


def _body_bytes(http_request):
    body = getattr(http_request, 'body', None)
    if body is None:
        body = getattr(http_request, 'content', None)
    if hasattr(body, 'getvalue'):
        return body.getvalue()
    if hasattr(body, 'read') and hasattr(body, 'seek'):
        position = body.tell()
        body.seek(0)
        try:
            return body.read()
        finally:
            body.seek(position)
    if isinstance(body, str):
        return body.encode('utf-8')
    return bytes(body or b'')


def _same_operation(method, sent, current):
    """Whether the extension ``current`` is what the PUT/PATCH body ``sent`` asked for (and not being deleted)."""
    sent_props = sent.get('properties') or {}
    props = current.get('properties') or {}
    state = str(props.get('provisioningState') or '').lower()
    if state == 'deleting':
        return False
    wanted = sent_props.get('configurationSettings') or {}
    stored = props.get('configurationSettings') or {}
    if method == 'PUT':
        return str(sent_props.get('extensionType') or '').lower() == str(props.get('extensionType') or '').lower() \
            and wanted == stored
    for key in ('autoUpgradeMinorVersion', 'version', 'releaseTrain'):
        if key in sent_props and str(props.get(key)).lower() != str(sent_props[key]).lower():
            return False
    if not wanted and state != 'updating':
        return False    # nothing in the resource shows that this PATCH arrived
    return all(stored.get(key) == value for key, value in wanted.items())


class ArmResponse:  # pylint: disable=too-few-public-methods
    def __init__(self, status, body, headers=None):
        self.status = status
        self.body = body
        self.headers = headers or {}


def arm_get(client, path, api_version, params=None, *, allow_404=True, logging_enable=True, object_hook=None):
    """GET an ARM path (or an absolute nextLink) through the client's pipeline.

    Returns an ``ArmResponse`` with the parsed JSON body. 404 is returned (status 404, body None) when
    ``allow_404``; any other failure raises ``HttpResponseError`` with the ARM error, as the SDK would.

    With an ``object_hook`` (for ``json.loads``; returning None drops an object while parsing) the body is streamed
    and parsed once, by that hook: for large catalogues of which only a few entries matter. Streamed bodies are not
    printed by --debug (which would otherwise show megabytes of catalogue); every other read's body is.
    """
    import json
    from azure.core.exceptions import HttpResponseError
    from azure.core.rest import HttpRequest
    from azure.mgmt.core.exceptions import ARMErrorFormat

    query = dict(params or {})
    if '?' not in path:
        query.setdefault('api-version', api_version)
    request = HttpRequest('GET', path, params=query)
    pipeline = client._client  # pylint: disable=protected-access
    request.url = pipeline.format_url(request.url)
    stream = object_hook is not None
    response = pipeline.send_request(request, stream=stream, logging_enable=logging_enable)
    if stream:
        # Otherwise the pipeline would parse the whole body too, before the hook could drop anything.
        try:
            response.read()
        finally:
            response.close()
    if response.status_code == 404 and allow_404:
        return ArmResponse(404, None, response.headers)
    if response.status_code >= 400:
        raise HttpResponseError(response=response, error_format=ARMErrorFormat)
    try:
        body = json.loads(response.content, object_hook=object_hook) if response.content else None
    except ValueError:
        body = None
    return ArmResponse(response.status_code, body, response.headers)


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


def arm_send(client, method, path, api_version, body=None, *, params=None, logging_enable=True, allow_404=True):
    """Send one ARM request (PUT, PATCH, DELETE, POST, GET) with a JSON body through the client's pipeline.

    Returns an ``ArmResponse`` (404 -> status 404, body None, when ``allow_404``); any other failure raises
    ``HttpResponseError`` with the ARM error, as the SDK would.
    """
    import json
    from azure.core.exceptions import HttpResponseError
    from azure.core.rest import HttpRequest
    from azure.mgmt.core.exceptions import ARMErrorFormat

    query = dict(params or {})
    if '?' not in path:
        query.setdefault('api-version', api_version)
    request = HttpRequest(method, path, params=query, json=body if body is not None else None)
    pipeline = client._client  # pylint: disable=protected-access
    request.url = pipeline.format_url(request.url)
    response = pipeline.send_request(request, logging_enable=logging_enable)
    if response.status_code == 404 and allow_404:
        return ArmResponse(404, None, response.headers)
    if response.status_code >= 400:
        raise HttpResponseError(response=response, error_format=ARMErrorFormat)
    try:
        parsed = json.loads(response.content) if response.content else None
    except ValueError:
        parsed = None
    return ArmResponse(response.status_code, parsed, response.headers)


def arm_post(client, path, api_version, body=None, params=None, *, logging_enable=True):
    """POST an ARM action (``listClusterUserCredential``, ``listKeys``, Resource Graph queries) through the client's
    pipeline: ``arm_send`` with method POST. ``logging_enable=False`` keeps the request and its answer (credentials,
    keys) out of ``--debug``."""
    return arm_send(client, 'POST', path, api_version, body, params=params, logging_enable=logging_enable)


def json_stream(body):
    """A JSON body as the SDK's ``begin_*`` calls take it (IO[bytes]): sent as is."""
    import io
    import json
    return io.BytesIO(json.dumps(body).encode('utf-8'))


def as_sdk_model(extension):
    """The extension as the KubernetesConfiguration SDK returns it, so output matches az k8s-extension (and
    `--query provisioningState` works as scripts written for it expect)."""
    from azure.mgmt.kubernetesconfiguration.v2023_05_01.models import Extension
    return Extension.deserialize(extension)


def retry_after_seconds(headers):
    """The wait Azure asks for: ``retry-after-ms``/``x-ms-retry-after-ms`` (milliseconds) or ``Retry-After``
    (seconds or an HTTP date); None when there is none."""
    import email.utils
    for name, scale in (('retry-after-ms', 1000.0), ('x-ms-retry-after-ms', 1000.0), ('Retry-After', 1.0)):
        value = headers.get(name) if headers is not None else None
        if value in (None, ''):
            continue
        try:
            return float(value) / scale
        except ValueError:
            try:
                return max(0.0, email.utils.parsedate_to_datetime(value).timestamp() - time.time())
            except (TypeError, ValueError):
                return None
    return None


class RetryNotice:  # pylint: disable=too-few-public-methods
    """A per-retry azure-core policy: when Azure asks the client to wait (429 or 503 with a Retry-After of 5 s or
    more), say so on stderr, so a long throttling wait shows progress instead of looking like a hang."""

    next = None
    NOTICE_FROM_SECONDS = 5

    def send(self, request):
        response = self.next.send(request)
        status = response.http_response.status_code
        if status in (429, 503):
            wait = retry_after_seconds(response.http_response.headers)
            if wait is not None and wait >= self.NOTICE_FROM_SECONDS:
                from knack.log import get_logger
                get_logger(__name__).warning(
                    'Azure answered %d (%s) and asks to wait %d s before retrying; waiting (the request is retried '
                    'unless the client\'s retries are spent).', status,
                    'throttled' if status == 429 else 'busy', round(wait))
        return response


# --- throttling ------------------------------------------------------------------------------------------------------

class _Bucket:  # pylint: disable=too-few-public-methods
    def __init__(self, size, refill):
        self.size, self.refill, self.tokens, self.stamp = size, refill, float(size), time.monotonic()

    def take(self):
        """Seconds to wait for a token (the token is taken)."""
        now = time.monotonic()
        self.tokens = min(self.size, self.tokens + (now - self.stamp) * self.refill)
        self.stamp = now
        self.tokens -= 1
        return 0.0 if self.tokens >= 0 else -self.tokens / self.refill


class ThrottleGate:  # pylint: disable=too-few-public-methods
    """A per-call azure-core policy (duck-typed: the pipeline sets ``next``): every request of the process takes a
    token from its subscription's bucket (reads 250 + 25/s, writes 200 + 10/s), and a 429 holds every worker of that
    subscription until its Retry-After has passed. One instance serves all the clients of a command."""

    next = None
    READS, READ_REFILL, WRITES, WRITE_REFILL = 250, 25.0, 200, 10.0
    _lock = threading.Lock()
    _buckets: Dict[tuple, _Bucket] = {}
    _held_until: Dict[str, float] = {}

    def send(self, request):
        url = request.http_request.url
        found = re.search(r'/subscriptions/([^/?]+)', url, re.IGNORECASE)
        subscription = found.group(1).lower() if found else ''
        write = request.http_request.method not in ('GET', 'HEAD')
        with self._lock:
            bucket = self._buckets.setdefault((subscription, write), _Bucket(
                self.WRITES if write else self.READS, self.WRITE_REFILL if write else self.READ_REFILL))
            wait = max(bucket.take(), self._held_until.get(subscription, 0.0) - time.monotonic())
        if wait > 0:
            time.sleep(wait)
        response = self.next.send(request)
        if response.http_response.status_code == 429:
            held = retry_after_seconds(response.http_response.headers)
            if held:
                with self._lock:
                    self._held_until[subscription] = max(self._held_until.get(subscription, 0.0),
                                                         time.monotonic() + held)
        return response
