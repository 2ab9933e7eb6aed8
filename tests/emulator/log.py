"""The emulator's request log: one `Request` record per HTTP request, and the redaction of secrets.

Records keep full bodies in memory (tests assert on protected settings and relay keys), but their
repr/str, `to_dict()` and every file log replace secret values with "<redacted>":
- every value under a `configurationProtectedSettings` object,
- the keys and connection strings of Relay listKeys/regenerateKeys answers,
- the kubeconfigs of AKS listClusterUserCredential/listClusterAdminCredential answers (and of
  /_emulator/kubeconfig requests),
- managed-identity access tokens,
- the values of a template deployment's `secureString`/`secureObject` parameters (ARM never logs or returns them:
  "Use secure strings and objects", ARM template best practices),
- and, wherever they appear, `SharedAccessKey=...` parts and PEM private-key blocks.
"""

import copy
import json
import re
from dataclasses import dataclass, field
from typing import Any, Optional

REDACTED = "<redacted>"

_SECRET_FIELDS = {"primaryconnectionstring", "secondaryconnectionstring", "primarykey", "secondarykey",
                  "access_token", "refresh_token", "client_secret", "kubeconfig"}
_PROTECTED_FIELDS = {"configurationprotectedsettings"}
_KUBECONFIG_FIELDS = {"kubeconfigs"}
_CREDENTIAL_ACTIONS = ("/listkeys", "/listclusterusercredential", "/listclusteradmincredential",
                       "/listclustermonitoringusercredential")
_SAS = re.compile(r"(SharedAccessKey=)[^;\"'\s]+", re.IGNORECASE)
_PEM_KEY = re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?-----END [A-Z ]*PRIVATE KEY-----", re.DOTALL)

KINDS = ("token", "arm", "poll", "graph", "control")
WRITE_METHODS = ("PUT", "PATCH", "DELETE")


_SECURE_TYPES = {"securestring", "secureobject"}


def _secure_parameter_names(properties):
    """The parameters a deployment's template declares secure (type secureString or secureObject)."""
    declared = properties.get("template") if isinstance(properties.get("template"), dict) else {}
    declared = declared.get("parameters") if isinstance(declared.get("parameters"), dict) else {}
    return {name for name, spec in declared.items()
            if isinstance(spec, dict) and str(spec.get("type", "")).lower() in _SECURE_TYPES}


def _redact_deployment(properties):
    """Deployment properties with the secure parameters' values replaced; the rest redacted as usual."""
    secure = _secure_parameter_names(properties)
    out = {key: redact(item) for key, item in properties.items() if key != "parameters"}
    out["parameters"] = {name: ({"value": REDACTED} if name in secure else redact(item))
                         for name, item in properties["parameters"].items()}
    return out


def redact(value):
    """A deep copy of `value` with secrets replaced by "<redacted>"."""
    if isinstance(value, dict) and isinstance(value.get("parameters"), dict) and "template" in value:
        return _redact_deployment(value)
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            lowered = str(key).lower()
            if lowered in _PROTECTED_FIELDS and isinstance(item, dict):
                out[key] = {name: REDACTED for name in item}
            elif lowered in _PROTECTED_FIELDS and item is not None:
                out[key] = REDACTED
            elif lowered in _SECRET_FIELDS and item is not None:
                out[key] = REDACTED
            elif lowered in _KUBECONFIG_FIELDS and isinstance(item, list):
                out[key] = [dict(k, value=REDACTED) if isinstance(k, dict) else REDACTED for k in item]
            else:
                out[key] = redact(item)
        return out
    if isinstance(value, list):
        return [redact(item) for item in value]
    if isinstance(value, str):
        return _PEM_KEY.sub(REDACTED, _SAS.sub(r"\1" + REDACTED, value))
    return copy.deepcopy(value)


_UNQUOTED_TEMPLATE = re.compile(r'([{,]\s*)template:')


def parse_deployment_body(text):
    """A template deployment's body as ARM reads it: JSON, or JSON with azure-cli's unquoted ``template:`` key
    (``{"properties": {template: {...}, ...}}``). Raises ValueError when it is neither."""
    return json.loads(_UNQUOTED_TEMPLATE.sub(r'\1"template":', text, count=1))


def _deployment_body(path, body):
    """A template deployment's body as JSON, so its secure parameters can be redacted (azure-cli's body, with the
    unquoted template key, is kept as a string)."""
    if not isinstance(body, str) or "/providers/microsoft.resources/deployments/" not in path.lower():
        return body
    try:
        return parse_deployment_body(body)
    except ValueError:
        return REDACTED


@dataclass(repr=False)
class Request:
    """One request the emulator received.

    kind: "token" (managed identity), "arm", "poll" (an LRO status URL), "graph" (an Azure Resource Graph
    query, POST /providers/Microsoft.ResourceGraph/resources), "control" (/_emulator/).
    status: the HTTP status answered, or None when a fault dropped the connection.
    fault: the name of the fault rule that acted on this request, or None.
    unknown: True when no emulated API matched the path (answered 404/405).
    body/response: parsed JSON (or text, or None) of the request and of the answer.
    """

    seq: int
    time: float
    method: str
    path: str
    query: dict
    body: Any = None
    status: Optional[int] = None
    kind: str = "arm"
    fault: Optional[str] = None
    unknown: bool = False
    host: str = ""
    response: Any = field(default=None)

    @property
    def is_write(self):
        if self.kind != "arm":
            return False
        if self.method in WRITE_METHODS:
            return True
        return self.method == "POST" and not self.is_list_keys

    @property
    def is_list_keys(self):
        """A POST that only reads secrets: Relay listKeys, AKS list*Credential."""
        return self.method == "POST" and self.path.lower().rstrip("/").endswith(_CREDENTIAL_ACTIONS)

    @property
    def is_arm_read(self):
        """GET/HEAD that are not polls, the secret-reading POSTs (listKeys, list*Credential) and Resource Graph
        queries."""
        if self.kind == "graph":
            return True
        return self.kind == "arm" and (self.method in ("GET", "HEAD") or self.is_list_keys)

    def to_dict(self, redacted=True):
        body = _deployment_body(self.path, self.body) if redacted else self.body
        data = {"seq": self.seq, "time": self.time, "method": self.method, "path": self.path,
                "query": dict(self.query), "body": body, "status": self.status, "kind": self.kind,
                "fault": self.fault, "unknown": self.unknown, "host": self.host, "response": self.response}
        return redact(data) if redacted else copy.deepcopy(data)

    def to_json(self):
        return json.dumps(self.to_dict(redacted=True), sort_keys=False, default=str)

    def __repr__(self):
        data = self.to_dict(redacted=True)
        shown = ", ".join(f"{key}={data[key]!r}" for key in
                          ("seq", "method", "path", "query", "status", "kind", "fault", "unknown", "body"))
        return f"Request({shown})"

    __str__ = __repr__

    def line(self):
        """A one-line summary for failure messages (no bodies)."""
        query = "&".join(f"{k}={v}" for k, v in self.query.items())
        mark = f" fault={self.fault}" if self.fault else ""
        mark += " unknown" if self.unknown else ""
        target = self.path + ("?" + query if query else "")
        return f"#{self.seq} {self.kind:7} {self.method:6} {target} -> {self.status}{mark}"
