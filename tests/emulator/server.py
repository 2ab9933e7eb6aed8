"""The HTTPS server, fault injection, the request log, the control API and the `Emulator` class."""

import copy
import datetime
import itertools
import json
import re
import secrets
import shutil
import socket
import ssl
import sys
import tempfile
import threading
import time
import traceback
import uuid
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Optional
from urllib.parse import parse_qsl, unquote

from . import scenarios
from .certs import make_certs, server_context
from .log import Request, redact
from .throttle import Throttle, principal_of, throttled_message
from .world import KC, Reply, World, arm_error, is_poll_path, jwt, match_route, public_view, token_claims

CONTROL_PREFIX = "/_emulator"
GRAPH_PATH = "/providers/microsoft.resourcegraph/resources"
TOKEN_PATHS = ("/msi/token", "/metadata/identity/oauth2/token")

_DEFAULT_FAULT_CODES = {
    400: ("BadRequest", "The request is invalid (fault injected by the emulator)."),
    404: ("NotFound", "The requested resource was not found (fault injected by the emulator)."),
    409: ("Conflict", "The request conflicts with another operation (fault injected by the emulator)."),
    429: ("TooManyRequests", "The request is being throttled; retry after the period given in Retry-After "
                             "(fault injected by the emulator)."),
    500: ("InternalServerError", "Encountered internal server error (fault injected by the emulator)."),
    502: ("BadGateway", "The gateway did not receive a response in time (fault injected by the emulator)."),
    503: ("ServiceUnavailable", "The service is temporarily unavailable (fault injected by the emulator)."),
    504: ("GatewayTimeout", "The gateway timed out (fault injected by the emulator)."),
}


@dataclass
class Fault:
    """A fault rule: requests matching `method` and `path` (a regex searched in the path) are hit
    `times` times (None = forever), starting with the `nth` matching request."""

    name: str
    path: str
    method: Optional[str] = None
    action: str = "status"          # status | drop | drop_after | delay
    status: int = 500
    headers: Optional[dict] = None
    code: Optional[str] = None
    message: Optional[str] = None
    delay: float = 0.0
    times: Optional[int] = 1
    nth: Optional[int] = None
    kinds: tuple = ("arm", "poll", "graph", "token")
    matched: int = 0
    fired: int = 0

    def __post_init__(self):
        self._regex = re.compile(self.path, re.IGNORECASE)

    def matches(self, method, path, kind):
        if kind not in self.kinds:
            return False
        if self.method and self.method.upper() != method:
            return False
        return bool(self._regex.search(path))

    @property
    def exhausted(self):
        return self.times is not None and self.fired >= self.times

    def to_dict(self):
        return {k: getattr(self, k) for k in ("name", "path", "method", "action", "status", "headers", "code",
                                              "message", "delay", "times", "nth", "matched", "fired")}


class TlsServer(ThreadingHTTPServer):
    """A threading HTTPS server whose TLS handshake runs in the worker thread (a stalled client cannot block accept());
    shared by the ARM and Kubernetes API emulators. ``handler`` dispatches to ``emulator._serve``."""
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64

    def __init__(self, address, emulator, context, handler=None):
        self.emulator = emulator
        self.ssl_context = context
        self.connections = set()
        self.connections_lock = threading.Lock()
        super().__init__(address, handler or EmulatorHandler)

    def finish_request(self, request, client_address):
        # The TLS handshake happens here, in the worker thread, so a stalled client cannot block accept().
        request.settimeout(30)
        try:
            # Headers and body are separate writes: without NODELAY, Nagle + delayed ACK cost ~40 ms each.
            request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            tls = self.ssl_context.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError):
            return
        with self.connections_lock:
            self.connections.add(tls)
        try:
            self.RequestHandlerClass(tls, client_address, self)
        except (OSError, ssl.SSLError):
            pass
        finally:
            with self.connections_lock:
                self.connections.discard(tls)
            try:
                tls.close()
            except OSError:
                pass

    def close_connections(self):
        with self.connections_lock:
            live = list(self.connections)
        for conn in live:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def handle_error(self, request, client_address):
        pass


class EmulatorHandler(BaseHTTPRequestHandler):
    """Every method goes to the emulator's ``_serve``; HTTP/1.1 keep-alive, no stderr log. The Kubernetes API
    emulator subclasses it with its own ``server_version``."""
    protocol_version = "HTTP/1.1"
    server_version = "amlk8s-arm-emulator/1.0"
    sys_version = ""
    timeout = 60

    def log_message(self, format, *args):  # noqa: A002 - the stdlib's signature
        pass

    def _dispatch(self):
        self.server.emulator._serve(self)

    do_GET = do_PUT = do_POST = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _dispatch


def _parse_body(raw, content_type):
    if not raw:
        return None
    text = raw.decode("utf-8", errors="replace")
    if "json" in (content_type or "") or text[:1] in "{[":
        try:
            return json.loads(text)
        except ValueError:
            return text
    return text


def _read_body(handler):
    if "chunked" in (handler.headers.get("Transfer-Encoding") or "").lower():
        chunks = []
        while True:
            size = int(handler.rfile.readline().split(b";")[0].strip() or b"0", 16)
            if size == 0:
                handler.rfile.readline()
                break
            chunks.append(handler.rfile.read(size))
            handler.rfile.readline()
        return b"".join(chunks)
    length = int(handler.headers.get("Content-Length") or 0)
    return handler.rfile.read(length) if length > 0 else b""


class Served:
    """What both emulators do to serve: HTTPS (TlsServer) on a background thread, an optional JSON-lines request log,
    a throwaway state directory removed on stop. Subclasses set host, state_dir, _requested_port, _log_file_wanted
    and _own_state_dir, and call _listen / _serve_in_background / _close."""

    _server = None
    _thread = None
    _log_handle = None

    def _listen(self, tls_dir, log_name, handler=None):
        self.state_dir.mkdir(parents=True, exist_ok=True)
        certs = make_certs(self.state_dir / tls_dir)
        self.ca_path = certs.ca_path
        self._server = TlsServer((self.host, self._requested_port), self, server_context(certs), handler=handler)
        self.port = self._server.server_address[1]
        self.base_url = f"https://127.0.0.1:{self.port}"
        self.log_path = self.state_dir / log_name if self._log_file_wanted else None
        if self.log_path is not None:
            self._log_handle = open(self.log_path, "a", encoding="utf-8", buffering=1)

    def _serve_in_background(self, thread_name):
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.2},
                                        name=thread_name, daemon=True)
        self._thread.start()

    def _close(self):
        """Stop serving and close live connections. Safe to call twice."""
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.close_connections()
            server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        if self._log_handle is not None:
            self._log_handle.close()
            self._log_handle = None
        if self._own_state_dir:
            shutil.rmtree(self.state_dir, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    @property
    def running(self):
        return self._server is not None


class Emulator(Served):
    """A local HTTPS Azure Resource Manager for the amlk8s tests. See tests/emulator/__init__.py."""

    def __init__(self, scenario="default", state_dir=None, host="127.0.0.1", port=0, log_file=True):
        self.scenario = scenario
        self._own_state_dir = state_dir is None
        self.state_dir = Path(state_dir) if state_dir else Path(tempfile.mkdtemp(prefix="amlk8s-emulator-"))
        self.host = host
        self._requested_port = port
        self._log_file_wanted = log_file
        self._seed = secrets.token_bytes(32)
        self._lock = threading.RLock()
        self._log = []
        self._seq = itertools.count(1)
        self._faults = []
        self._fault_counter = itertools.count(1)
        self._world = None
        self._kubeconfig_factory = None
        self._server = None
        self._thread = None
        self._log_handle = None
        self.port = None
        self.base_url = None
        self.ca_path = None
        self.subscription_id = None
        self.tenant_id = None

    # ------------------------------------------------------------------ lifecycle
    def start(self):
        """Start serving (in a background thread). Returns self."""
        if self._server is not None:
            return self
        self._listen("tls", "requests.jsonl")
        self.reset(self.scenario)
        self._serve_in_background("amlk8s-emulator")
        return self

    def stop(self):
        """Stop serving and close live connections. Safe to call twice."""
        self._close()

    def info(self):
        """What emulator.json holds."""
        return {"base_url": self.base_url, "ca_path": self.ca_path, "subscription_id": self.subscription_id,
                "tenant_id": self.tenant_id, "port": self.port,
                "subscriptions": self.subscriptions if self._world is not None else []}

    # ------------------------------------------------------------------ world
    def reset(self, scenario="default"):
        """Load a fresh world (a scenario name or a world dict), empty the log, remove every fault."""
        if self.base_url is None:
            raise RuntimeError("start() the emulator first")
        spec = scenarios.build(scenario, seed=self._seed)
        with self._lock:
            self.scenario = scenario if isinstance(scenario, str) else spec.get("name", "custom")
            self._world = World(spec, self._seed, self.base_url)
            self._world.throttle = Throttle(self._world.settings)
            self.subscription_id = self._world.subscription_id
            self.tenant_id = self._world.tenant_id
            self._log.clear()
            self._faults.clear()
            for fault in spec.get("faults", []):
                self.add_fault(**fault)
        return self

    @property
    def world(self):
        """The live World (for advanced tests; take `emu.lock` when mutating it from a test)."""
        return self._world

    @property
    def lock(self):
        return self._lock

    def settings(self, **values):
        """Change settings (see scenarios.DEFAULT_SETTINGS: polls, retry_after, retry_after_ms, page_size, delay,
        register_polls, complete_after, throttle*, graph_*); returns them all. Changing a throttle setting refills
        every ARM bucket; changing a graph_quota setting starts fresh Resource Graph quota windows."""
        unknown = set(values) - set(scenarios.DEFAULT_SETTINGS)
        if unknown:
            raise ValueError(f"unknown settings: {', '.join(sorted(unknown))}")
        with self._lock:
            self._world.settings.update(values)
            if any(key.startswith("throttle") for key in values):
                self._world.throttle.reset()
            if any(key.startswith("graph_quota") for key in values):
                self._world.graph_quota.clear()
            return dict(self._world.settings)

    @property
    def subscriptions(self):
        """The world's subscription ids, the default one first."""
        with self._lock:
            return [sub["id"] for sub in self._world.subscriptions.values()]

    def set_kubeconfig(self, cluster, text):
        """The kubeconfig (YAML text) listClusterUserCredential/listClusterAdminCredential hand out for an AKS
        cluster (a name or id) in this world; None removes it. reset() forgets these."""
        cid = self.cluster_id(cluster)
        with self._lock:
            if text is None:
                self._world.kubeconfigs.pop(cid.lower(), None)
            else:
                self._world.kubeconfigs[cid.lower()] = str(text)

    @property
    def kubeconfig_factory(self):
        """callable(cluster_body) -> kubeconfig YAML text or None, used for clusters without set_kubeconfig();
        kept across reset(). It is called under the emulator's lock with a copy of the stored cluster body."""
        return self._kubeconfig_factory

    @kubeconfig_factory.setter
    def kubeconfig_factory(self, factory):
        if factory is not None and not callable(factory):
            raise TypeError("kubeconfig_factory must be callable(cluster_body) -> str | None")
        self._kubeconfig_factory = factory

    def cluster_id(self, cluster):
        """The resource id of a cluster given by name (AKS or Arc) or id."""
        with self._lock:
            body = self._world.find_cluster(cluster)
        if body is None:
            raise KeyError(f"no cluster {cluster!r} in the emulator's world")
        return body["id"]

    def extension_id(self, cluster, name="azureml"):
        return f"{self.cluster_id(cluster)}/providers/{KC}/extensions/{name}"

    def extension(self, cluster, name="azureml"):
        """The stored extension body, INCLUDING configurationProtectedSettings, or None."""
        with self._lock:
            body = self._world.find_cluster(cluster)
            if body is None:
                return None
            return copy.deepcopy(self._world.get(f"{body['id']}/providers/{KC}/extensions/{name}"))

    def resource(self, resource_id):
        """Any stored resource (a deep copy, protected settings included), or None."""
        with self._lock:
            return copy.deepcopy(self._world.get(resource_id))

    def put_resource(self, resource_id, body):
        """Store `body` at `resource_id` (no validation, no operation). Returns the stored copy."""
        body = copy.deepcopy(body)
        body["id"] = resource_id
        body.setdefault("name", resource_id.rstrip("/").rsplit("/", 1)[-1])
        with self._lock:
            return copy.deepcopy(self._world.store(body))

    def delete_resource(self, resource_id):
        """Remove a resource and everything under it. Returns whether something was removed."""
        with self._lock:
            return self._world.remove(resource_id)

    def set_provider(self, namespace, state):
        """Set a provider's registrationState (Registered, NotRegistered, Registering, Unregistered)."""
        with self._lock:
            entry = self._world.providers.setdefault(namespace.lower(), {"namespace": namespace, "pending": 0})
            entry["state"] = state
            entry["pending"] = 0

    def provider_state(self, namespace):
        with self._lock:
            entry = self._world.providers.get(namespace.lower())
            return entry["state"] if entry else None

    def set_outcome(self, cluster=None, status="Failed", error=None, statuses=None, polls=None, extension=None,
                    operation=None, times=1, http_status=None):
        """Decide how the next extension operation(s) on `cluster` end.

        cluster: a name or id (None = any cluster); extension: a name (None = any).
        operation: "create" | "update" | "delete" | "any"; None = create or update (PUT/PATCH).
        status: "Succeeded" or "Failed"; error: {"code", "message"} (a Helm-like default when Failed);
        statuses: the extension's statuses list after the failure; polls: InProgress polls before the end;
        times: how many operations the rule applies to (None = all); http_status: for a failed delete,
        the status its Location poll answers (default 400).
        """
        if status not in ("Succeeded", "Failed", "Canceled"):
            raise ValueError("status must be Succeeded, Failed or Canceled")
        if status == "Failed" and error is None:
            error = {"code": "ExtensionOperationFailed", "message": scenarios.HEALTHCHECK_FAILURE}
        rule = {"cluster": cluster, "extension": extension, "status": status, "error": error,
                "statuses": statuses, "polls": polls, "operation": operation, "times": times,
                "http_status": http_status}
        with self._lock:
            self._world.outcomes.append(rule)
        return rule

    def finish_operation(self, cluster, extension="azureml", status="Succeeded", error=None, statuses=None):
        """End the extension's running operation now (or settle a stuck Creating/Updating/Deleting state).
        Returns the extension as the service shows it afterwards (None when deleted)."""
        with self._lock:
            world = self._world
            eid = f"{self.cluster_id(cluster)}/providers/{KC}/extensions/{extension}"
            body = world.get(eid)
            if body is None:
                raise KeyError(f"no extension {extension!r} on {cluster!r}")
            if status == "Failed" and error is None:
                error = {"code": "ExtensionOperationFailed", "message": scenarios.HEALTHCHECK_FAILURE}
            op_id = world.active.get(eid.lower())
            if op_id:
                world.complete(world.ops[op_id], status=status, error=error, statuses=statuses)
            else:
                state = body["properties"].get("provisioningState")
                kind = {"Creating": "create", "Updating": "update", "Deleting": "delete"}.get(state, "update")
                world.finish_extension(body, kind, status, error, statuses)
            return public_view(world.get(eid))

    def operations(self, cluster=None, extension=None):
        """The operations started so far (dicts: id, kind, target, status, polls, force, started_at, due, ended_at)."""
        with self._lock:
            ops = list(self._world.ops.values())
        out = []
        for op in ops:
            if cluster and f"/{cluster.lower()}/" not in op.target + "/" and not op.target.startswith(cluster.lower()):
                continue
            if extension and not op.target.endswith("/extensions/" + extension.lower()):
                continue
            out.append({"id": op.id, "kind": op.kind, "target": op.target_id, "status": op.status,
                        "polls": op.polls, "force": op.force, "resource": op.resource,
                        "started_at": op.started_at, "due": op.due, "ended_at": op.ended_at,
                        "action": op.action})
        return out

    def secret_values(self):
        """Every secret the world holds: protected setting values, relay keys, relay connection strings, and the
        kubeconfigs (and their tokens and keys) handed out by list*Credential."""
        with self._lock:
            return self._world.secret_values()

    # ------------------------------------------------------------------ faults
    def add_fault(self, method=None, path=".*", status=None, headers=None, code=None, message=None, action=None,
                  delay=None, times=1, nth=None, name=None, kinds=("arm", "poll", "graph", "token")):
        """Add a fault rule; returns its name. action: "status" (default when status is given), "drop"
        (close the connection without answering), "drop_after" (handle the request, then close the
        connection without answering: the write happened but the client never hears of it) or
        "delay" (wait `delay` seconds, then answer normally)."""
        if action is None:
            action = "delay" if delay is not None and status is None else "status"
        if action not in ("status", "drop", "drop_after", "delay"):
            raise ValueError("action must be status, drop, drop_after or delay")
        if action == "status" and status is None:
            status = 500
        name = name or f"fault-{next(self._fault_counter)}-{action}{'-' + str(status) if action == 'status' else ''}"
        fault = Fault(name=name, path=path, method=method.upper() if method else None, action=action,
                      status=int(status or 0), headers=dict(headers or {}), code=code, message=message,
                      delay=float(delay or 0.0), times=times, nth=nth, kinds=tuple(kinds))
        with self._lock:
            self._faults.append(fault)
        return name

    def clear_faults(self):
        with self._lock:
            self._faults.clear()

    def faults(self):
        with self._lock:
            return [f.to_dict() for f in self._faults]

    def _pick_fault(self, method, path, kind):
        chosen = None
        for fault in self._faults:
            if not fault.matches(method, path, kind):
                continue
            fault.matched += 1
            if chosen is None and not fault.exhausted and fault.matched >= (fault.nth or 1):
                fault.fired += 1
                chosen = fault
        return chosen

    # ------------------------------------------------------------------ log
    def requests(self, kind=None, since=None):
        """Logged requests (optionally of one kind, and with seq > since)."""
        with self._lock:
            records = list(self._log)
        return [r for r in records if (kind is None or r.kind == kind) and (since is None or r.seq > since)]

    def writes(self, since=None):
        """ARM writes: PUT/PATCH/DELETE and POST other than listKeys and list*Credential (never tokens, polls,
        Resource Graph queries or control)."""
        return [r for r in self.requests(since=since) if r.is_write]

    def arm_reads(self, since=None):
        """ARM reads: GET/HEAD that are not polls, plus listKeys, list*Credential and Resource Graph queries."""
        return [r for r in self.requests(since=since) if r.is_arm_read]

    def clear_log(self):
        with self._lock:
            self._log.clear()

    def mark(self):
        """The seq of the last logged request (use with requests(since=...))."""
        with self._lock:
            return self._log[-1].seq if self._log else self._last_seq

    _last_seq = 0

    def _record(self, record):
        with self._lock:
            self._log.append(record)
            self._last_seq = record.seq
            if self._log_handle is not None:
                try:
                    self._log_handle.write(record.to_json() + "\n")
                except (OSError, ValueError):
                    pass

    # ------------------------------------------------------------------ HTTP
    def _serve(self, handler):
        started = time.time()
        method = handler.command.upper()
        raw_path, _, raw_query = handler.path.partition("?")
        if raw_path.startswith(("http://", "https://")):
            raw_path = "/" + raw_path.split("/", 3)[-1]
        path = unquote(raw_path)
        query = {}
        for key, value in parse_qsl(raw_query, keep_blank_values=True):
            if key in query:
                query[key] = query[key] if isinstance(query[key], list) else [query[key]]
                query[key].append(value)
            else:
                query[key] = value
        try:
            raw = _read_body(handler)
        except (OSError, ValueError):
            handler.close_connection = True
            return
        body = _parse_body(raw, handler.headers.get("Content-Type"))
        kind = self._kind(path)
        record = Request(seq=0, time=started, method=method, path=raw_path, query=query, body=body, kind=kind,
                         host=handler.headers.get("Host", ""))

        fault = None
        if kind != "control":
            with self._lock:
                fault = self._pick_fault(method, path, kind)
        action = fault.action if fault else None
        if fault is not None:
            record.fault = fault.name
        if action == "delay":
            time.sleep(fault.delay)
        elif action == "drop":
            record.seq = next(self._seq)
            self._record(record)
            self._drop(handler)
            return

        if action == "status":
            default = (f"HttpStatus{fault.status}", "Fault injected by the emulator.")
            code, message = _DEFAULT_FAULT_CODES.get(fault.status, default)
            reply = arm_error(fault.status, fault.code or code, fault.message or message, fault.headers)
        else:
            try:
                reply = self._answer(method, path, query, body, handler, kind)
            except Exception as exc:  # pragma: no cover - a bug in the emulator must not hang the client
                traceback.print_exc(file=sys.stderr)
                reply = arm_error(500, "EmulatorError", f"The ARM emulator failed: {exc!r}")
        if kind in ("arm", "poll", "graph"):
            with self._lock:
                delay = float(self._world.settings.get("delay") or 0.0)
            if delay > 0:
                time.sleep(delay)
        record.status = None if action == "drop_after" else reply.status
        record.unknown = reply.unknown
        # Control answers can carry secrets (GET /_emulator/secrets): they are never logged.
        record.response = reply.body if kind != "control" else None
        record.seq = next(self._seq)
        self._record(record)
        if action == "drop_after":
            self._drop(handler)
        else:
            self._send(handler, method, reply)

    @staticmethod
    def _drop(handler):
        handler.close_connection = True
        try:
            handler.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def _kind(self, path):
        lowered = path.lower()
        if lowered.startswith(CONTROL_PREFIX + "/") or lowered == CONTROL_PREFIX:
            return "control"
        if lowered.rstrip("/") in TOKEN_PATHS:
            return "token"
        if is_poll_path(path):
            return "poll"
        if lowered.rstrip("/") == GRAPH_PATH:
            return "graph"
        return "arm"

    def _answer(self, method, path, query, body, handler, kind):
        if kind == "control":
            return self._control(method, path, query, body)
        if kind == "token":
            return self._token(path, query, handler)
        route = match_route(path)
        with self._lock:
            world = self._world
            auth = handler.headers.get("Authorization") or ""
            if not auth.lower().startswith("bearer ") or not auth[7:].strip():
                reply = arm_error(401, "AuthenticationFailed",
                                  "Authentication failed. The 'Authorization' header is missing.",
                                  {"WWW-Authenticate": f'Bearer authorization_uri="{self.base_url}/{world.tenant_id}", '
                                                       'error="invalid_token", error_description="The authentication '
                                                       'failed because of missing \'Authorization\' header."'})
                reply.unknown = route is None
                return reply
            if not query.get("api-version"):
                reply = arm_error(400, "MissingApiVersionParameter",
                                  "The api-version query parameter (?api-version=) is required for all requests.")
                reply.unknown = route is None
                return reply
            principal = principal_of(auth)
            world.caller = principal
            world.kubeconfig_factory = self._kubeconfig_factory
            throttle_headers = {}
            if kind != "graph":
                allowed, throttle_headers, retry_after, operation, scope, sub = world.throttle.check(
                    method, path, principal)
                if not allowed:
                    code, message = throttled_message(operation, scope, sub, principal, retry_after)
                    reply = arm_error(429, code, message, throttle_headers)
                    reply.unknown = route is None
                    return reply
            if route is None:
                reply = world.fallback(method, path, query)
            else:
                reply = world.handle(method, path, query, body, route)
            for key, value in throttle_headers.items():
                reply.headers.setdefault(key, value)
            return reply

    def _token(self, path, query, handler):
        """Managed-identity tokens, in the three protocols az has used.

        - App Service 2019-08-01 (IDENTITY_ENDPOINT/IDENTITY_HEADER; MSAL in newer az):
          GET /msi/token, header X-IDENTITY-HEADER; expires_on in epoch seconds.
        - App Service 2017-09-01 (MSI_ENDPOINT/MSI_SECRET; msrestazure's MSIAuthentication in older az):
          GET /msi/token/?resource=...&api-version=2017-09-01, header `secret`; expires_on as the
          "MM/DD/YYYY HH:MM:SS +00:00" string App Service sends for this version.
        - IMDS 2018-02-01: GET /metadata/identity/oauth2/token, header Metadata: true.
        """
        with self._lock:
            world = self._world
        if handler.command.upper() != "GET":
            return Reply(405, {"error": "invalid_request",
                               "error_description": "Managed-identity tokens are requested with GET."})
        resource = query.get("resource") or query.get("scope") or "https://management.azure.com/"
        legacy_app_service = False
        if path.lower().rstrip("/") == "/msi/token":
            if query.get("api-version") == "2017-09-01":
                legacy_app_service = True
                if not handler.headers.get("secret"):
                    return Reply(400, {"error": "invalid_request",
                                       "error_description": "The secret header is required (api-version "
                                                            "2017-09-01)."})
            elif not handler.headers.get("X-IDENTITY-HEADER"):
                return Reply(400, {"error": "invalid_request",
                                   "error_description": "The X-IDENTITY-HEADER header is required."})
        elif (handler.headers.get("Metadata") or "").lower() != "true":
            return Reply(400, {"error": "invalid_request", "error_description": "Required metadata header not "
                                                                                "specified"})
        claims = token_claims(world, resource.rstrip("/") + "/" if resource.startswith("http") else resource)
        if legacy_app_service:
            expires = datetime.datetime.fromtimestamp(claims["exp"], datetime.timezone.utc)
            return Reply(200, {"access_token": jwt(claims), "expires_on": expires.strftime("%m/%d/%Y %H:%M:%S +00:00"),
                               "resource": resource, "token_type": "Bearer", "client_id": world.identity["client_id"]})
        lifetime = claims["exp"] - claims["iat"]
        return Reply(200, {"access_token": jwt(claims), "expires_on": str(claims["exp"]),
                           "expires_in": str(lifetime), "ext_expires_in": str(lifetime),
                           "not_before": str(claims["nbf"]),
                           "resource": resource, "token_type": "Bearer", "client_id": world.identity["client_id"]})

    def _send(self, handler, method, reply):
        body = reply.body
        if body is None or reply.status in (204, 304) or method == "HEAD":
            payload = b""
        elif isinstance(body, bytes):
            payload = body
        elif isinstance(body, str):
            payload = body.encode("utf-8")
        else:
            payload = json.dumps(body).encode("utf-8")
        try:
            handler.send_response(reply.status)
            request_id = str(uuid.uuid4())
            headers = {"Cache-Control": "no-cache", "Pragma": "no-cache", "Expires": "-1",
                       "x-ms-request-id": request_id,
                       "x-ms-correlation-request-id": handler.headers.get("x-ms-correlation-request-id") or request_id,
                       "x-ms-routing-request-id": f"EASTUS:{time.strftime('%Y%m%dT%H%M%SZ')}:{request_id}",
                       "Strict-Transport-Security": "max-age=31536000; includeSubDomains",
                       "X-Content-Type-Options": "nosniff"}
            if payload:
                headers["Content-Type"] = "application/json; charset=utf-8"
            headers.update(reply.headers or {})
            for key, value in headers.items():
                handler.send_header(key, value)
            handler.send_header("Content-Length", str(len(payload)))
            handler.end_headers()
            if payload:
                handler.wfile.write(payload)
        except (OSError, ssl.SSLError):
            handler.close_connection = True

    # ------------------------------------------------------------------ control API
    def _control(self, method, path, query, body):
        """The control API (no auth; JSON in and out; protected values redacted in answers)."""
        action = path[len(CONTROL_PREFIX):].strip("/").lower()
        data = body if isinstance(body, dict) else {}
        try:
            if action in ("", "info", "health") and method == "GET":
                info = dict(self.info(), scenario=self.scenario, settings=self.settings(),
                            scenarios=sorted(scenarios.SCENARIOS))
                return Reply(200, info)
            if action == "reset" and method == "POST":
                self.reset(data.get("scenario") or query.get("scenario") or "default")
                return Reply(200, {"scenario": self.scenario})
            if action == "requests" and method == "GET":
                since = int(query["since"]) if query.get("since") else None
                records = self.requests(kind=query.get("kind") or None, since=since)
                return Reply(200, {"value": [r.to_dict(redacted=True) for r in records]})
            if action == "requests" and method == "DELETE":
                self.clear_log()
                return Reply(204)
            if action == "settings" and method in ("GET", "POST", "PUT", "PATCH"):
                return Reply(200, self.settings(**data))
            if action == "faults" and method == "POST":
                return Reply(200, {"name": self.add_fault(**data)})
            if action == "faults" and method == "GET":
                return Reply(200, {"value": self.faults()})
            if action == "faults" and method == "DELETE":
                self.clear_faults()
                return Reply(204)
            if action == "outcomes" and method == "POST":
                return Reply(200, self.set_outcome(**data))
            if action == "finish" and method == "POST":
                return Reply(200, {"extension": self.finish_operation(**data)})
            if action == "providers" and method == "POST":
                self.set_provider(data["namespace"], data["state"])
                return Reply(200, {"namespace": data["namespace"], "state": data["state"]})
            if action == "resource":
                rid = query.get("id") or data.get("id")
                if not rid:
                    raise ValueError("the resource id is required (?id=...)")
                if method == "GET":
                    found = self.resource(rid)
                    return Reply(200, redact(found)) if found else Reply(404, {"error": {
                        "code": "NotFound", "message": f"no resource {rid}"}})
                if method == "PUT":
                    return Reply(200, redact(self.put_resource(rid, data.get("body", data))))
                if method == "DELETE":
                    return Reply(200, {"deleted": self.delete_resource(rid)})
            if action == "secrets" and method == "GET":
                return Reply(200, {"value": self.secret_values()})
            if action == "subscriptions" and method == "GET":
                return Reply(200, {"value": self.subscriptions})
            if action == "kubeconfig" and method in ("PUT", "POST"):
                self.set_kubeconfig(data["cluster"], data.get("kubeconfig"))
                return Reply(200, {"cluster": self.cluster_id(data["cluster"])})
            if action == "kubeconfig" and method == "DELETE":
                self.set_kubeconfig(data.get("cluster") or query["cluster"], None)
                return Reply(204)
        except (TypeError, ValueError, KeyError) as exc:
            return Reply(400, {"error": {"code": "BadControlRequest", "message": str(exc)}})
        return Reply(404, {"error": {"code": "NotFound", "message": f"no control action {method} {path}"}},
                     unknown=True)
