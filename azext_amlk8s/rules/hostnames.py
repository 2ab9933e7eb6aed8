# --------------------------------------------------------------------------------------------
# Copyright (c) amlk8s contributors. Licensed under the MIT License.
# --------------------------------------------------------------------------------------------
"""Host names for the inference HTTPS endpoint: ``sslCname`` checked as a plain host name (or IP address), and
matched against a certificate's names as TLS clients match them (RFC 6125: a wildcard covers exactly one left-most
label; the subject common name only when there is no DNS subject alternative name).

Pure and stdlib-only. Secrets rule: a value that may be a secret or a file's content (az expands ``@path``) is never
quoted back.
"""

import ipaddress
import re
from typing import Iterable, Optional

from azure.cli.core.azclierror import InvalidArgumentValueError

from azext_amlk8s._validators import looks_secret

CNAME_ARG = "--ssl-cname"
_LABEL_RE = re.compile(r"^[a-z0-9-]{1,63}$")


def shown(text: str) -> str:
    """A user-given string as it can be shown in a one-line message."""
    return text if text.isprintable() else ascii(text)[1:-1]


def arg_with_value(arg: str, value: str) -> str:
    """How the user passes ``value`` to ``arg``: ``--ssl-cname x`` for a flag, ``--config sslCname=x`` for a setting
    given with an option, ``sslCname=x`` for a bare setting key, ``"sslCname": "x"`` for a key in a settings file."""
    if arg.startswith("-"):
        option, _, key = arg.partition(" ")
        return f"{option} {key}={value}" if key else f"{arg} {value}"
    if " in " in arg:
        key = arg.split(" in ", 1)[0]
        return f'"{key}": "{value}" in that file'
    return f"{arg}={value}"


def validate_cname(cname: str, cname_arg: str = CNAME_ARG) -> str:
    """Check that ``cname`` is a plain host name (or IP address) and return it normalised.

    Returns the name in lower case without a trailing dot (an IP address in its canonical form).
    Rejects, with ``InvalidArgumentValueError``: empty values, URLs (a scheme), ports, paths, spaces,
    wildcards, labels longer than 63 characters or with characters other than letters, digits and
    hyphens, and names longer than 253 characters.
    """
    example = arg_with_value(cname_arg, "ml.contoso.com")
    if not isinstance(cname, str) or not cname.strip():
        raise InvalidArgumentValueError(
            f"The {cname_arg} value is empty. It must be the host name that clients use to reach the "
            "inference HTTPS endpoint, and the certificate must be issued for it.",
            f"Pass the host name, for example {example}.")
    value = cname
    inner = value.strip()
    if any(c in inner for c in "\n\r;{") or len(value) > 260 or looks_secret(value.replace("=", "")):
        # az expands @path into the file's content: a connection string or key must not be quoted back.
        raise InvalidArgumentValueError(
            f"The {cname_arg} value ({len(value)} characters, not shown: it may be a secret or a file's content) is "
            "not a host name.", f"Pass the host name clients connect to, for example {example}.")
    if "://" in value:
        host = value.split("://", 1)[1].split("/", 1)[0].split("?", 1)[0].split("#", 1)[0]
        host = host.rsplit("@", 1)[-1]
        if not host.startswith("[") and host.count(":") == 1:
            host = host.split(":", 1)[0]
        hint = f"Pass only the host name, for example {arg_with_value(cname_arg, shown(host) or 'ml.contoso.com')}."
        raise InvalidArgumentValueError(
            f"The {cname_arg} value '{shown(value)}' is a URL. It must be a host name only, without "
            "a scheme such as https://, a port or a path.", hint)
    if any(ch.isspace() for ch in value):
        raise InvalidArgumentValueError(
            f"The {cname_arg} value '{shown(value)}' contains spaces. A host name cannot contain "
            "whitespace.", f"Remove the spaces (check for a pasted space or line break), for example {example}.")
    if any(ch in value for ch in "/?#\\"):
        host = re.split(r"[/?#\\]", value, maxsplit=1)[0]
        raise InvalidArgumentValueError(
            f"The {cname_arg} value '{shown(value)}' contains a path. It must be a host name only.",
            f"Pass only the host name, for example {arg_with_value(cname_arg, shown(host) or 'ml.contoso.com')}.")
    if "*" in value:
        raise InvalidArgumentValueError(
            f"The {cname_arg} value '{shown(value)}' is a wildcard. The certificate may be a wildcard "
            "certificate, but the CNAME must be the one concrete host name clients connect to.",
            "Replace the '*' with the host label, for example "
            f"{arg_with_value(cname_arg, shown(value.replace('*', 'ml', 1)))}.")
    ip_value = parse_ip(value)
    if ip_value is not None:
        return str(ip_value)
    if value.startswith("[") or value.count(":") > 1:
        raise InvalidArgumentValueError(
            f"The {cname_arg} value '{shown(value)}' is not a valid host name or IP address.",
            f"Pass a host name such as {example}, or an IPv6 address without brackets or port.")
    if ":" in value:
        host, port = value.split(":", 1)
        kind = "a port" if port.isdigit() else "a ':'"
        raise InvalidArgumentValueError(
            f"The {cname_arg} value '{shown(value)}' contains {kind}. It must be a host name only; the "
            "inference endpoint port is not part of the CNAME.",
            f"Pass only the host name, for example {arg_with_value(cname_arg, shown(host) or 'ml.contoso.com')}.")
    return _validate_hostname(value, cname_arg, example)


def _validate_hostname(value: str, cname_arg: str, example: str) -> str:
    name = value[:-1] if value.endswith(".") else value
    if not name.isascii():
        try:
            suggestion = name.encode("idna").decode("ascii").lower()
        except UnicodeError:
            suggestion = ""
        hint = (f"Pass the ASCII (punycode) form, {arg_with_value(cname_arg, suggestion)}, and make sure the "
                "certificate names it." if suggestion else f"Pass an ASCII host name, for example {example}.")
        raise InvalidArgumentValueError(
            f"The {cname_arg} value '{shown(value)}' contains non-ASCII characters. Certificates and "
            "DNS use the ASCII (punycode) form of internationalised names.", hint)
    name = name.lower()
    if len(name) > 253:
        raise InvalidArgumentValueError(
            f"The {cname_arg} value is {len(name)} characters long. A DNS name is at most 253 characters.",
            f"Use a shorter host name, for example {example}.")
    labels = name.split(".")
    for label in labels:
        if not label:
            raise InvalidArgumentValueError(
                f"The {cname_arg} value '{shown(value)}' has an empty label (a leading dot or two dots "
                "in a row).", f"Remove the extra dot, for example {example}.")
        if len(label) > 63:
            raise InvalidArgumentValueError(
                f"The {cname_arg} value has a label of {len(label)} characters ('{label[:20]}...'). Each "
                "dot-separated part of a DNS name is at most 63 characters.",
                f"Use a host name whose labels are at most 63 characters, for example {example}.")
        if not _LABEL_RE.match(label):
            raise InvalidArgumentValueError(
                f"The {cname_arg} value '{shown(value)}' has the label '{shown(label)}' with characters "
                "that are not allowed in a host name: only letters, digits and hyphens are.",
                f"Use a valid host name, for example {example}.")
        if label.startswith("-") or label.endswith("-"):
            raise InvalidArgumentValueError(
                f"The {cname_arg} value '{shown(value)}' has the label '{label}' that starts or ends with a "
                "hyphen, which is not allowed in a host name.", f"Use a valid host name, for example {example}.")
    if len(labels) > 1 and labels[-1].isdigit():
        raise InvalidArgumentValueError(
            f"The {cname_arg} value '{shown(value)}' looks like an IP address but is not a valid one, and "
            "a host name cannot end with an all-numeric label.",
            f"Pass a valid IPv4 address or a host name, for example {example}.")
    return name


def parse_ip(value: str):
    if "%" in value:  # no IPv6 zone ids
        return None
    try:
        return ipaddress.ip_address(value)
    except ValueError:
        return None


def _dns_name_matches(name: str, pattern: str) -> bool:
    pattern = pattern.strip().lower()
    if pattern.endswith("."):
        pattern = pattern[:-1]
    if not pattern:
        return False
    if pattern.startswith("*."):
        parent = pattern[2:]
        # Only a whole left-most label may be a wildcard, and it needs at least two labels after it.
        if "*" in parent or "." not in parent:
            return False
        label, _, rest = name.partition(".")
        return bool(label) and rest == parent
    if "*" in pattern:  # partial-label wildcards (f*.contoso.com) are not honoured by browsers
        return False
    return name == pattern


def cname_matches(cname: str, dns_names: Iterable[str], subject_cn: Optional[str],
                  ip_addresses: Iterable[str] = ()) -> bool:
    """Whether a certificate with these names is valid for the host ``cname`` (RFC 6125 rules, as browsers apply them).

    Case-insensitive, trailing dots ignored. A wildcard ``*.contoso.com`` matches exactly one left-most
    label (``ml.contoso.com``, not ``a.b.contoso.com`` nor ``contoso.com``). The subject CN is used only
    when the certificate has no DNS subject alternative names. An IP address matches only IP SANs.
    """
    name = (cname or "").strip().lower()
    if name.endswith("."):
        name = name[:-1]
    if not name:
        return False
    ip_value = parse_ip(name)
    if ip_value is not None:
        return any(parse_ip(str(a).strip()) == ip_value for a in ip_addresses)
    names = [d for d in dns_names if isinstance(d, str)]
    if names:
        return any(_dns_name_matches(name, d) for d in names)
    return isinstance(subject_cn, str) and _dns_name_matches(name, subject_cn)
