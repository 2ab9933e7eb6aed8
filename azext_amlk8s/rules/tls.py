# --------------------------------------------------------------------------------------------
# Copyright (c) Microsoft Corporation. All rights reserved.
# Licensed under the MIT License. See License.txt in the project root for license information.
# --------------------------------------------------------------------------------------------
"""Reading and validating the TLS certificate and key for the AzureML inference HTTPS endpoint.

The AzureML extension takes the PEM files as protected settings ``scoringFe.sslCert`` and
``scoringFe.sslKey`` (base64 of the file bytes, exactly as ``az k8s-extension`` sends them). The
service only checks them once the Helm release runs, 15 minutes later (HealthCheck E40007
INVALID_SSL_SETTING). Everything that can be checked locally is checked here, before anything is
written: the files exist and are PEM, the key is not passphrase-protected, the key matches the
server certificate, the chain starts with the server certificate, the certificate is valid now and
it covers ``sslCname``.

Pure: no network, no subprocess. ``cryptography`` is imported inside functions so importing this
module stays cheap (every ``az`` call imports every extension's loader).

Secrets rule: no message, warning or repr built here contains key material, base64 or file
contents. Paths, certificate subjects and host names (public data) are fine.
"""

import base64
import binascii
import os
import re
import shlex
import stat
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import List, NamedTuple, Optional, Sequence, Tuple

from azure.cli.core.azclierror import (
    FileOperationError,
    InvalidArgumentValueError,
    RequiredArgumentMissingError,
)

from azext_amlk8s._validators import looks_secret
from azext_amlk8s.rules.hostnames import (CNAME_ARG, arg_with_value as _arg_with_value, cname_matches,
                                          parse_ip as _parse_ip, shown as _shown, validate_cname)

CERT_ARG = "--ssl-cert-pem-file"
KEY_ARG = "--ssl-key-pem-file"

EXPIRY_WARNING_DAYS = 30
MIN_RSA_KEY_BITS = 2048
# A certificate chain is a few kilobytes; anything this large is the wrong file (and must not be
# read into memory and sent to ARM as a protected setting).
MAX_PEM_FILE_BYTES = 1024 * 1024
_MAX_NAMES_SHOWN = 10

_CERT_LABEL = "CERTIFICATE"
_PRIVATE_KEY_LABELS = frozenset({
    "PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY", "DSA PRIVATE KEY", "ENCRYPTED PRIVATE KEY",
})
_PUBLIC_KEY_LABELS = frozenset({"PUBLIC KEY", "RSA PUBLIC KEY"})
_CSR_LABELS = frozenset({"CERTIFICATE REQUEST", "NEW CERTIFICATE REQUEST"})
_PKCS7_LABELS = frozenset({"PKCS7", "PKCS #7 SIGNED DATA", "CMS"})
_OPENSSH_KEY_LABEL = "OPENSSH PRIVATE KEY"
_TRUSTED_CERT_LABELS = frozenset({"TRUSTED CERTIFICATE", "X509 CERTIFICATE", "X.509 CERTIFICATE"})

_BEGIN_RE = re.compile(rb"-----BEGIN ([^\r\n-]{1,64})-----")
_END_RE = re.compile(rb"-----END ([^\r\n-]{1,64})-----")
_SAFE_LABEL_RE = re.compile(r"^[A-Z0-9 .#]{1,64}$")
_BASE64_TEXT_RE = re.compile(rb"^[A-Za-z0-9+/=\s]+$")
# PKCS#12 PFX: SEQUENCE { INTEGER 3, SEQUENCE { OID pkcs7-data ... } ... }
_PKCS12_VERSION = b"\x02\x01\x03\x30"
_PKCS7_DATA_OID = b"\x06\x09\x2a\x86\x48\x86\xf7\x0d\x01\x07\x01"

_LIST_CHAIN_CMD = "openssl crl2pkcs7 -nocrl -certfile {path} | openssl pkcs7 -print_certs -noout"


@dataclass(frozen=True, repr=False)
class TlsMaterial:  # pylint: disable=too-many-instance-attributes
    """Validated TLS material, ready for the protected settings ``scoringFe.sslCert``/``scoringFe.sslKey``.

    ``cert_b64`` and ``key_b64`` are secrets: ``repr``/``str`` never show them, and nothing else in
    this object is derived from the key.
    """
    cert_b64: str                 # base64 of the certificate file bytes (the whole chain file as given)
    key_b64: str                  # base64 of the key file bytes
    subject_cn: Optional[str]     # subject common name of the server (leaf) certificate
    dns_names: Tuple[str, ...]    # subject alternative DNS names of the leaf
    not_after: datetime           # end of validity of the leaf, aware UTC
    chain_length: int             # number of certificates in the certificate file
    warnings: Tuple[str, ...]     # things that work but deserve attention (self-signed, expiring soon, ...)
    ip_addresses: Tuple[str, ...] = ()  # subject alternative IP addresses of the leaf
    key_type: str = ""            # e.g. "RSA 2048" or "EC secp256r1" (public information)

    def __repr__(self):
        return (f"TlsMaterial(subject_cn={self.subject_cn!r}, dns_names={self.dns_names!r}, "
                f"ip_addresses={self.ip_addresses!r}, not_after={_iso(self.not_after)!r}, "
                f"chain_length={self.chain_length!r}, key_type={self.key_type!r}, warnings={self.warnings!r}, "
                "cert_b64=<redacted>, key_b64=<redacted>)")

    __str__ = __repr__

    def public_summary(self) -> dict:
        """The public facts about the certificate (for reports and ``--dry-run``), without any secret."""
        return {
            "subjectCommonName": self.subject_cn,
            "dnsNames": list(self.dns_names),
            "ipAddresses": list(self.ip_addresses),
            "notAfter": _iso(self.not_after),
            "chainLength": self.chain_length,
            "keyType": self.key_type,
            "warnings": list(self.warnings),
        }


def _iso(moment) -> Optional[str]:
    return moment.isoformat() if isinstance(moment, datetime) else None


class _Block(NamedTuple):
    label: str        # the BEGIN label, decoded leniently
    raw: bytes        # from "-----BEGIN" to the end of the matching "-----END ...-----"
    complete: bool    # False when there is no matching END line before the next BEGIN / end of file


# ----------------------------------------------------------------------------------------------
# Small helpers
# ----------------------------------------------------------------------------------------------

def _q(path: str) -> str:
    """A path quoted for a shell command in a recommendation."""
    return shlex.quote(path)


def _safe_label(label: str) -> str:
    return label if _SAFE_LABEL_RE.match(label) else "(unrecognised)"


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        return moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)


def _fmt_time(moment: datetime) -> str:
    return _utc(moment).strftime("%Y-%m-%d %H:%M:%S UTC")


def _names_list(names: Sequence[str]) -> str:
    shown = [_shown(n) for n in names[:_MAX_NAMES_SHOWN]]
    more = len(names) - len(shown)
    return ", ".join(shown) + (f" and {more} more" if more > 0 else "")


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


# ----------------------------------------------------------------------------------------------
# Files
# ----------------------------------------------------------------------------------------------

def _check_path_value(path, arg: str, what: str) -> str:
    """Reject a missing path or a value that is clearly not a path; returns the path."""
    stem = "cert" if what == "certificate" else "key"
    if path is None or (isinstance(path, str) and not path.strip()):
        raise RequiredArgumentMissingError(
            f"No file was given to {arg}. The AzureML extension needs the PEM {what} file for the "
            "inference HTTPS endpoint.", f"Pass the path of the PEM {what} file with {arg}.")
    if not isinstance(path, str):
        raise InvalidArgumentValueError(
            f"The value given to {arg} is not a file path.", f"Pass the path of the PEM {what} file with {arg}.")
    if _is_content(path):
        # The file's contents instead of its path ("$(cat key.pem)", or "@key.pem", which az expands into the
        # content, binary DER included): never echo it.
        raise InvalidArgumentValueError(
            f"The value given to {arg} looks like the contents of a file, not a file path (it is not shown here "
            "because it may be secret). az reads a file in place of an argument written @path.",
            f"Pass the path of the file, without '@', for example "
            f"{_arg_with_value(arg, '~/certs/' + stem + '.pem')}.")
    return path


def _is_content(path: str) -> bool:
    if "-----BEGIN" in path or "\n" in path or "\r" in path or len(path) > 4096:
        return True
    return (looks_secret(path) or not path.isprintable()) and not os.path.exists(os.path.expanduser(path))


def _stat_regular_file(resolved: str, where: str, arg: str, what: str):
    """Check that ``resolved`` is an existing, accessible, regular file of a plausible size."""
    try:
        info = os.stat(resolved)
    except (FileNotFoundError, NotADirectoryError):
        raise FileOperationError(
            f"The {what} file {where} given to {arg} does not exist.",
            f"Check the path; relative paths are resolved against the current directory ({_shown(os.getcwd())})."
        ) from None
    except PermissionError:
        raise FileOperationError(
            f"The {what} file {where} given to {arg} cannot be accessed: permission denied.",
            "Make the file and its directories readable by the current user, or copy the file somewhere "
            "readable and pass that path.") from None
    except (OSError, ValueError) as ex:
        raise FileOperationError(
            f"The {what} file {where} given to {arg} cannot be accessed: {ex.__class__.__name__}.",
            "Check the path and pass the path of a readable PEM file.") from None
    if stat.S_ISDIR(info.st_mode):
        inside = os.path.join(resolved, "cert.pem" if what == "certificate" else "key.pem")
        raise FileOperationError(
            f"The path {where} given to {arg} is a directory, not a {what} file.",
            f"Pass the path of the PEM {what} file inside it, for example {_arg_with_value(arg, _q(inside))}.")
    if not stat.S_ISREG(info.st_mode):
        raise FileOperationError(
            f"The path {where} given to {arg} is not a regular file (it is a device, pipe or socket).",
            f"Save the PEM {what} to a file and pass its path.")
    if info.st_size > MAX_PEM_FILE_BYTES:
        raise InvalidArgumentValueError(
            f"The {what} file {where} given to {arg} is {info.st_size} bytes, too large to be a PEM {what} "
            f"(a certificate chain or key is a few kilobytes; the limit is {MAX_PEM_FILE_BYTES} bytes).",
            f"Check that {arg} names the PEM {what} file.")


def is_pem_text(value) -> bool:
    """True when a path argument holds PEM text itself: az expands ``@file`` arguments (and ``KEY=@file``) into
    the file's content before the extension sees them, so ``--ssl-key-pem-file @key.pem`` arrives as the key."""
    return isinstance(value, str) and "-----BEGIN " in value and "-----END " in value


def _read_pem_file(path: str, arg: str, what: str) -> Tuple[str, bytes]:
    """Read a file named by the user; returns (absolute path, bytes). ``what`` is 'certificate' or 'private key'.

    PEM text given in place of the path (az's ``@file`` expansion) is taken as the file's content; messages then
    name it "the contents given to <arg>" and never show it.
    """
    if is_pem_text(path):
        data = path.encode("utf-8", "replace")
        if len(data) > MAX_PEM_FILE_BYTES:
            raise InvalidArgumentValueError(
                f"The PEM {what} given to {arg} is larger than {MAX_PEM_FILE_BYTES} bytes, too large to be a PEM "
                f"{what}.", f"Check that {arg} names the PEM {what} file.")
        return f"<contents given to {arg}>", data + b"\n"
    given = _shown(_check_path_value(path, arg, what))
    resolved = os.path.abspath(os.path.expanduser(path))
    where = f"'{given}'" if given == resolved else f"'{given}' (resolved to '{_shown(resolved)}')"
    _stat_regular_file(resolved, where, arg, what)
    try:
        with open(resolved, "rb") as handle:
            data = handle.read(MAX_PEM_FILE_BYTES + 1)
    except PermissionError:
        raise FileOperationError(
            f"The {what} file {where} given to {arg} cannot be read: permission denied.",
            f"Make the file readable by the current user (for example: chmod u+r {_q(resolved)}), or run the "
            "command as its owner.") from None
    except OSError as ex:
        raise FileOperationError(
            f"The {what} file {where} given to {arg} cannot be read: {ex.strerror or ex.__class__.__name__}.",
            "Check the file and pass the path of a readable PEM file.") from None
    if not data.strip():
        raise FileOperationError(
            f"The {what} file {where} given to {arg} is empty.",
            f"Pass the PEM {what} file; check that it was fully copied or downloaded.")
    if len(data) > MAX_PEM_FILE_BYTES:
        raise InvalidArgumentValueError(
            f"The {what} file {where} given to {arg} is larger than {MAX_PEM_FILE_BYTES} bytes, too large to "
            f"be a PEM {what}.", f"Check that {arg} names the PEM {what} file.")
    return resolved, data


def _scan_pem_blocks(data: bytes) -> List[_Block]:
    """Find the PEM blocks of a file, in order, in linear time. Bytes outside blocks are ignored."""
    blocks: List[_Block] = []
    pos = 0
    end_match = None
    while True:
        begin = _BEGIN_RE.search(data, pos)
        if begin is None:
            return blocks
        label = begin.group(1).decode("ascii", "replace").strip()
        if end_match is None or end_match.start() < begin.end():
            end_match = _END_RE.search(data, begin.end())
        if end_match is None:
            blocks.append(_Block(label, data[begin.start():], False))
            return blocks
        next_begin = _BEGIN_RE.search(data, begin.end(), end_match.start())
        if next_begin is not None:
            blocks.append(_Block(label, data[begin.start():next_begin.start()], False))
            pos = next_begin.start()
            continue
        end_label = end_match.group(1).decode("ascii", "replace").strip()
        blocks.append(_Block(label, data[begin.start():end_match.end()], end_label == label))
        pos = end_match.end()


def _looks_like_pkcs12(data: bytes) -> bool:
    return data[:1] == b"\x30" and _PKCS12_VERSION in data[:12] and _PKCS7_DATA_OID in data[:40]


def _der_kind(data: bytes) -> Optional[str]:
    """'certificate', 'private key', 'pkcs12' when binary ``data`` is one of those in DER form."""
    from cryptography import x509
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives import serialization

    if data[:1] != b"\x30":
        return None
    if _looks_like_pkcs12(data):
        return "pkcs12"
    try:
        x509.load_der_x509_certificate(data)
        return "certificate"
    except (ValueError, TypeError, UnsupportedAlgorithm):
        pass
    try:
        serialization.load_der_private_key(data, password=None)
        return "private key"
    except TypeError:  # an encrypted DER key
        return "private key"
    except (ValueError, UnsupportedAlgorithm):
        return None


def _headerless_der_kind(data: bytes) -> Optional[str]:
    """The kind of a file that holds only the base64 body of a PEM block (BEGIN/END lines removed)."""
    if not _BASE64_TEXT_RE.match(data):
        return None
    try:
        der = base64.b64decode(b"".join(data.split()), validate=True)
    except (binascii.Error, ValueError):
        return None
    return _der_kind(der)


# ----------------------------------------------------------------------------------------------
# Rejections for files that are not what they should be
# ----------------------------------------------------------------------------------------------

def _der_error(kind: str, path: str, arg: str, what: str, other_arg: str) -> InvalidArgumentValueError:
    """The error for a binary file of ``kind`` ('pkcs12', 'certificate', 'private key') given where a PEM is needed."""
    is_cert = what == "certificate"
    src = _q(path)
    if kind == "pkcs12":
        cert_cmd = f"openssl pkcs12 -in {src} -nokeys -out cert.pem"
        key_cmd = f"openssl pkcs12 -in {src} -nocerts -nodes -out key.pem"
        message = (f"is a PKCS#12 (.pfx/.p12) bundle, not a PEM {what}. The AzureML extension needs the certificate "
                   "chain and the private key as two separate PEM files.")
        recommendation = [f"Extract the PEM {what}: {cert_cmd if is_cert else key_cmd}",
                          f"Extract the other part too and pass it to {other_arg}: {key_cmd if is_cert else cert_cmd}",
                          "With OpenSSL 3, add -legacy for bundles exported by older Windows tools."]
    elif kind == "certificate" and is_cert:
        message = "is a DER (binary) certificate, not a PEM certificate."
        recommendation = f"Convert it to PEM and pass the new file: openssl x509 -inform der -in {src} -out cert.pem"
    elif kind == "certificate":
        message = f"is a certificate (DER), not a private key; it may belong to {other_arg}."
        recommendation = f"Pass the private key file to {arg} and the certificate file to {other_arg}."
    elif is_cert:
        message = f"is a private key (DER), not a certificate; it may belong to {other_arg}."
        recommendation = f"Pass the PEM certificate chain to {arg} and the private key to {other_arg}."
    else:
        message = "is a DER (binary) private key, not a PEM private key."
        recommendation = f"Convert it to PEM and pass the new file: openssl pkey -inform der -in {src} -out key.pem"
    return InvalidArgumentValueError(f"The file '{_shown(path)}' given to {arg} {message}", recommendation)


def _not_pem_error(path: str, data: bytes, arg: str, what: str, other_arg: str) -> InvalidArgumentValueError:
    """The error for a file without any PEM block."""
    is_cert = what == "certificate"
    kind = _der_kind(data)
    if kind is not None:
        return _der_error(kind, path, arg, what, other_arg)
    headerless = _headerless_der_kind(data)
    if headerless is not None:
        label = {"certificate": "CERTIFICATE", "private key": "PRIVATE KEY"}.get(headerless, "...")
        return InvalidArgumentValueError(
            f"The file '{_shown(path)}' given to {arg} has base64 data but no '-----BEGIN {label}-----' and "
            f"'-----END {label}-----' lines, so it is not a PEM {what}.",
            f"Restore the BEGIN and END lines around the base64 data, or export the {what} again in PEM format.")
    src = _q(path)
    if is_cert:
        fixes = ["If it is DER (binary): openssl x509 -inform der -in " + src + " -out cert.pem",
                 "If it is a PKCS#12 (.pfx/.p12) bundle: openssl pkcs12 -in " + src + " -nokeys -out cert.pem",
                 "If it is a PKCS#7 (.p7b) bundle: openssl pkcs7 -print_certs -in " + src + " -out cert.pem"]
    else:
        fixes = ["If it is DER (binary): openssl pkey -inform der -in " + src + " -out key.pem",
                 "If it is a PKCS#12 (.pfx/.p12) bundle: openssl pkcs12 -in " + src + " -nocerts -nodes -out key.pem"]
    begin = "-----BEGIN CERTIFICATE-----" if is_cert else "-----BEGIN PRIVATE KEY-----"
    return InvalidArgumentValueError(
        f"The file '{_shown(path)}' given to {arg} is not a PEM {what}: it has no '{begin}' block.",
        [f"Pass the PEM {what} file (text starting with {begin})."] + fixes)


def _reject_cert_file(path: str, data: bytes, blocks: List[_Block], cert_arg: str, key_arg: str):
    labels = {b.label for b in blocks}
    src = _q(path)
    if not blocks:
        raise _not_pem_error(path, data, cert_arg, "certificate", key_arg)
    if labels & _PRIVATE_KEY_LABELS or _OPENSSH_KEY_LABEL in labels:
        raise InvalidArgumentValueError(
            f"The file '{_shown(path)}' given to {cert_arg} contains a private key but no certificate; the private "
            f"key belongs to {key_arg}.",
            f"Pass the PEM certificate chain (-----BEGIN CERTIFICATE-----) to {cert_arg} and the private key "
            f"to {key_arg}.")
    if labels & _CSR_LABELS:
        raise InvalidArgumentValueError(
            f"The file '{_shown(path)}' given to {cert_arg} is a certificate signing request (CSR), not a "
            "certificate.", f"Submit the CSR to your certificate authority and pass the certificate chain it "
                            f"issues to {cert_arg}.")
    if labels & _PKCS7_LABELS:
        raise InvalidArgumentValueError(
            f"The file '{_shown(path)}' given to {cert_arg} is a PKCS#7 bundle, not PEM certificates.",
            f"Convert it and pass the new file: openssl pkcs7 -print_certs -in {src} -out cert.pem")
    if labels & _TRUSTED_CERT_LABELS:
        raise InvalidArgumentValueError(
            f"The file '{_shown(path)}' given to {cert_arg} holds certificates in a non-standard PEM form "
            "(TRUSTED CERTIFICATE or X509 CERTIFICATE), not CERTIFICATE blocks.",
            f"Convert it and pass the new file: openssl x509 -in {src} -out cert.pem")
    if labels & _PUBLIC_KEY_LABELS:
        raise InvalidArgumentValueError(
            f"The file '{_shown(path)}' given to {cert_arg} contains a public key, not a certificate.",
            f"Pass the PEM certificate chain issued for the server to {cert_arg}.")
    found = ", ".join(sorted({_safe_label(b.label) for b in blocks}))
    raise InvalidArgumentValueError(
        f"The file '{_shown(path)}' given to {cert_arg} has no complete CERTIFICATE block (found: {found}).",
        f"Pass the PEM certificate chain (-----BEGIN CERTIFICATE-----) to {cert_arg}.")


def _reject_key_file(path: str, data: bytes, blocks: List[_Block], key_arg: str, cert_arg: str):
    labels = {b.label for b in blocks}
    src = _q(path)
    if not blocks:
        raise _not_pem_error(path, data, key_arg, "private key", cert_arg)
    if _OPENSSH_KEY_LABEL in labels:
        raise InvalidArgumentValueError(
            f"The file '{_shown(path)}' given to {key_arg} is an OpenSSH private key. The AzureML extension "
            "needs a PEM private key (PKCS#1, PKCS#8 or SEC1) that matches the certificate.",
            ["Pass the private key that was used to request the certificate.",
             f"If this is that key, convert a copy of it (ssh-keygen rewrites the file in place): "
             f"cp {src} key.pem && ssh-keygen -p -N '' -m PKCS8 -f key.pem"])
    if _CERT_LABEL in labels or labels & _TRUSTED_CERT_LABELS:
        raise InvalidArgumentValueError(
            f"The file '{_shown(path)}' given to {key_arg} contains a certificate but no private key; the certificate "
            f"chain belongs to {cert_arg}.",
            f"Pass the PEM private key (-----BEGIN PRIVATE KEY-----) to {key_arg} and the certificate chain to "
            f"{cert_arg}.")
    if labels & _PUBLIC_KEY_LABELS:
        raise InvalidArgumentValueError(
            f"The file '{_shown(path)}' given to {key_arg} contains a public key, not a private key.",
            f"Pass the PEM private key that was used to request the certificate to {key_arg}.")
    if labels & _CSR_LABELS:
        raise InvalidArgumentValueError(
            f"The file '{_shown(path)}' given to {key_arg} is a certificate signing request (CSR), not a "
            "private key.", f"Pass the private key that was used to create the CSR to {key_arg}.")
    found = ", ".join(sorted({_safe_label(b.label) for b in blocks}))
    raise InvalidArgumentValueError(
        f"The file '{_shown(path)}' given to {key_arg} has no complete private key block (found: {found}).",
        f"Pass the PEM private key (-----BEGIN PRIVATE KEY-----) to {key_arg}.")


def _reject_incomplete(path: str, blocks: List[_Block], arg: str, what: str):
    for index, block in enumerate(blocks, start=1):
        if not block.complete:
            raise InvalidArgumentValueError(
                f"The file '{_shown(path)}' given to {arg} is damaged: PEM block #{index} "
                f"(BEGIN {_safe_label(block.label)}) has no matching END line. The file may be truncated or two "
                "files may have been joined without a line break.",
                f"Copy or export the PEM {what} file again; every '-----BEGIN X-----' line needs a matching "
                "'-----END X-----' line.")


# ----------------------------------------------------------------------------------------------
# Parsing
# ----------------------------------------------------------------------------------------------

def _load_certificates(path: str, blocks: List[_Block], cert_arg: str) -> list:
    from cryptography import x509
    from cryptography.exceptions import UnsupportedAlgorithm

    certs = []
    for index, block in enumerate(blocks, start=1):
        try:
            cert = x509.load_pem_x509_certificate(block.raw)
            cert.public_key()  # fail here, not later, on an unsupported or broken key
            _ = cert.subject, cert.issuer, cert.not_valid_after_utc, cert.not_valid_before_utc
        except (ValueError, TypeError, UnsupportedAlgorithm):
            position = "the server certificate" if index == 1 else "a chain certificate"
            raise InvalidArgumentValueError(
                f"Certificate #{index} ({position}) in the file '{_shown(path)}' given to {cert_arg} is damaged or "
                "is not a valid X.509 certificate.",
                [f"Inspect it: openssl x509 -in {_q(path)} -noout -text",
                 "List every certificate in the file: " + _LIST_CHAIN_CMD.format(path=_q(path)),
                 "Export the certificate chain again in PEM format."]) from None
        certs.append(cert)
    return certs


def _passphrase_error(path: str, key_arg: str, label: str) -> InvalidArgumentValueError:
    src = _q(path)
    if label == "RSA PRIVATE KEY":
        fix = f"openssl rsa -in {src} -out key-nopass.pem"
    elif label == "EC PRIVATE KEY":
        fix = f"openssl ec -in {src} -out key-nopass.pem"
    else:
        fix = f"openssl pkcs8 -in {src} -out key-nopass.pem"
    return InvalidArgumentValueError(
        f"The private key in the file '{_shown(path)}' given to {key_arg} is passphrase-protected. "
        "Passphrase-protected keys are not supported by the AzureML extension.",
        [f"Write an unencrypted copy (it asks for the passphrase once) and pass it to {key_arg}: {fix}",
         "Or, for any key type: openssl pkey -in " + src + " -out key-nopass.pem",
         "Protect the unencrypted copy: chmod 600 key-nopass.pem"])


def _load_private_key(path: str, block: _Block, key_arg: str):
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives import serialization

    head = block.raw[:200].upper()
    if block.label == "ENCRYPTED PRIVATE KEY" or (b"PROC-TYPE:" in head and b"ENCRYPTED" in head):
        raise _passphrase_error(path, key_arg, block.label)
    try:
        return serialization.load_pem_private_key(block.raw, password=None)
    except TypeError:
        raise _passphrase_error(path, key_arg, block.label) from None
    except (ValueError, UnsupportedAlgorithm):
        raise InvalidArgumentValueError(
            f"The private key in the file '{_shown(path)}' given to {key_arg} is damaged or uses an unsupported "
            "algorithm.",
            [f"Check it: openssl pkey -in {_q(path)} -noout -check",
             f"For an RSA key: openssl rsa -in {_q(path)} -noout -check (expect 'RSA key ok')",
             "Export the private key again in PEM format (PKCS#8, PKCS#1 or SEC1)."]) from None


def _public_bytes(key) -> Optional[bytes]:
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives import serialization

    try:
        return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        return None


def _describe_key(key) -> str:
    from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa

    if isinstance(key, rsa.RSAPrivateKey):
        return f"RSA {key.key_size}"
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return f"EC {key.curve.name}"
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return "Ed25519"
    if isinstance(key, ed448.Ed448PrivateKey):
        return "Ed448"
    if isinstance(key, dsa.DSAPrivateKey):
        return f"DSA {key.key_size}"
    return type(key).__name__


def _subject_text(cert) -> str:
    try:
        text = cert.subject.rfc4514_string()
    except ValueError:
        return "(unreadable subject)"
    text = _shown(text) or "(empty subject)"
    return text if len(text) <= 200 else text[:197] + "..."


def _check_key_matches(key, certs: list, *,  # pylint: disable=too-many-arguments
                       cert_path: str, key_path: str, cert_arg: str, key_arg: str):
    key_public = _public_bytes(key.public_key())
    cert_publics = [_public_bytes(c.public_key()) for c in certs]
    if key_public is not None and cert_publics[0] == key_public:
        return
    for index, public in enumerate(cert_publics[1:], start=2):
        if key_public is not None and public == key_public:
            raise InvalidArgumentValueError(
                f"The private key given to {key_arg} matches certificate #{index} ({_subject_text(certs[index - 1])}) "
                f"in the file '{_shown(cert_path)}' given to {cert_arg}, not the first one. The chain is out of order: "
                "the server certificate must come first, followed by its intermediate certificates.",
                [f"Reorder the file: the server certificate ({_subject_text(certs[index - 1])}) first, then the "
                 "certificate that issued it, and so on up the chain.",
                 "List the certificates in their current order: " + _LIST_CHAIN_CMD.format(path=_q(cert_path))])
    src_cert, src_key = _q(cert_path), _q(key_path)
    # Public keys compare for every key type; RSA moduli (openssl x509 -modulus) fail on EC and Ed25519.
    commands = [f"Compare the public keys: openssl x509 -noout -pubkey -in {src_cert} | openssl md5 "
                f"and openssl pkey -pubout -in {src_key} | openssl md5 (the two hashes must be equal)"]
    raise InvalidArgumentValueError(
        f"The private key given to {key_arg} does not match the server certificate "
        f"({_subject_text(certs[0])}) in the file '{_shown(cert_path)}' given to {cert_arg}. The inference endpoint "
        "cannot serve HTTPS with a key that does not belong to its certificate (E40007 INVALID_SSL_SETTING).",
        ["Pass the private key that was used to request this certificate, or the certificate issued for this key."]
        + commands)


def _wildcard_example(name: str, cname: str) -> str:
    """A name ``name`` covers, to suggest: a wildcard's label from ``cname`` when it has a host label of its own
    (``ml.fabrikam.com`` -> ``ml.contoso.com``), else ``<name>`` (never the invented ``contoso.contoso.com``)."""
    if not name.startswith("*."):
        return name
    labels = cname.rstrip(".").split(".")
    label = labels[0] if len(labels) >= 3 and _parse_ip(cname) is None else "<name>"
    return label + name[1:]


def _leaf_names(cert, cert_path: str, cert_arg: str) -> Tuple[Optional[str], Tuple[str, ...], Tuple[str, ...]]:
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    try:
        cns = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        subject_cn = next((a.value for a in cns if isinstance(a.value, str)), None)
        try:
            san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
            dns_names = tuple(v for v in san.get_values_for_type(x509.DNSName) if isinstance(v, str))
            ips = tuple(str(v) for v in san.get_values_for_type(x509.IPAddress))
        except x509.ExtensionNotFound:
            dns_names, ips = (), ()
    except (ValueError, TypeError, x509.DuplicateExtension, x509.UnsupportedGeneralNameType):
        raise InvalidArgumentValueError(
            f"The server certificate in the file '{_shown(cert_path)}' given to {cert_arg} has a malformed subject "
            "or extensions.",
            [f"Inspect it: openssl x509 -in {_q(cert_path)} -noout -text",
             "Issue the certificate again."]) from None
    return subject_cn, dns_names, ips


def _check_validity(leaf, now: datetime, cert_path: str, cert_arg: str, warnings: List[str]):
    not_before, not_after = leaf.not_valid_before_utc, leaf.not_valid_after_utc
    dates_cmd = f"openssl x509 -in {_q(cert_path)} -noout -dates"
    if now > not_after:
        raise InvalidArgumentValueError(
            f"The server certificate ({_subject_text(leaf)}) in the file '{_shown(cert_path)}' given to {cert_arg} "
            f"expired on {_fmt_time(not_after)}. Clients reject expired certificates.",
            ["Renew the certificate and pass the new certificate chain and key.", f"Check the dates: {dates_cmd}"])
    if now < not_before:
        raise InvalidArgumentValueError(
            f"The server certificate ({_subject_text(leaf)}) in the file '{_shown(cert_path)}' given to {cert_arg} "
            f"is not valid until {_fmt_time(not_before)} (it is now {_fmt_time(now)}).",
            ["Wait until the certificate is valid, or check the clock of this machine and of the issuing CA.",
             f"Check the dates: {dates_cmd}"])
    remaining = not_after - now
    if remaining <= timedelta(days=EXPIRY_WARNING_DAYS):
        days = round(remaining.total_seconds() / 86400)
        when = "in less than a day" if remaining < timedelta(days=1) else f"in {days} day{'s' if days != 1 else ''}"
        warnings.append(
            f"The server certificate in the file given to {cert_arg} expires on {_fmt_time(not_after)} ({when}). "
            "Renew it and update the extension with the new certificate and key before then.")


def _is_self_signed(cert) -> bool:
    from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm

    try:
        if cert.issuer != cert.subject:
            return False
        cert.verify_directly_issued_by(cert)
        return True
    except (ValueError, TypeError, InvalidSignature, UnsupportedAlgorithm):
        return False


def _chain_warnings(certs: list, now: datetime, cert_arg: str, warnings: List[str]):
    leaf = certs[0]
    self_signed = _is_self_signed(leaf)
    if self_signed:
        warnings.append(
            f"The server certificate in the file given to {cert_arg} is self-signed. Clients must be configured to "
            "trust it explicitly; use a certificate from a trusted CA for production.")
    elif len(certs) == 1:
        warnings.append(
            f"The file given to {cert_arg} holds only the server certificate, without the intermediate CA "
            "certificates. Microsoft asks for the full certificate chain; clients that do not already have the "
            "intermediates will fail to verify the endpoint.")
    for index in range(len(certs) - 1):
        try:
            linked = certs[index].issuer == certs[index + 1].subject
        except ValueError:
            linked = False
        if not linked:
            warnings.append(
                f"In the file given to {cert_arg}, certificate #{index + 2} did not issue certificate #{index + 1}. "
                "The chain may be out of order, incomplete or contain an unrelated certificate; order it from the "
                "server certificate up to the root.")
            break
    for index, cert in enumerate(certs[1:], start=2):
        if cert.not_valid_after_utc < now:
            warnings.append(
                f"Certificate #{index} in the file given to {cert_arg} ({_subject_text(cert)}) expired on "
                f"{_fmt_time(cert.not_valid_after_utc)}. Clients may reject the chain; use the current intermediate "
                "certificates from your CA.")


def _key_warnings(key, key_arg: str, warnings: List[str]):
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

    if isinstance(key, rsa.RSAPrivateKey):
        if key.key_size < MIN_RSA_KEY_BITS:
            warnings.append(
                f"The RSA private key given to {key_arg} has {key.key_size} bits. Keys shorter than "
                f"{MIN_RSA_KEY_BITS} bits are rejected by current clients; issue a new certificate with an RSA "
                f"key of at least {MIN_RSA_KEY_BITS} bits or an EC P-256 key.")
    elif isinstance(key, ec.EllipticCurvePrivateKey):
        if key.curve.name not in ("secp256r1", "secp384r1", "secp521r1"):
            warnings.append(
                f"The EC private key given to {key_arg} uses the curve {key.curve.name}, which most TLS clients do "
                "not support. Use P-256 or P-384.")
    else:
        warnings.append(
            f"The private key given to {key_arg} is a {_describe_key(key)} key. Most TLS clients only accept RSA "
            "and EC (P-256, P-384) server certificates.")


# ----------------------------------------------------------------------------------------------
# Entry point
# ----------------------------------------------------------------------------------------------

# pylint: disable-next=too-many-locals,too-many-arguments
def load_tls_material(cert_path: str, key_path: str, cname: Optional[str], *,
                      now: Optional[datetime] = None,
                      cert_arg: str = CERT_ARG, key_arg: str = KEY_ARG, cname_arg: str = CNAME_ARG) -> TlsMaterial:
    """Read, check and encode the TLS certificate chain and private key for the inference HTTPS endpoint.

    ``cert_arg``/``key_arg``/``cname_arg`` are how the user gave each value (``--ssl-cert-pem-file`` or
    ``sslCertPemFile``...), used in messages. ``cname`` is checked against the certificate when it is not
    None. ``now`` (default: the current time; a naive value is taken as UTC) is when validity is checked.

    Raises ``RequiredArgumentMissingError`` (no path), ``FileOperationError`` (missing, directory,
    unreadable, empty) or ``InvalidArgumentValueError`` (anything wrong with the contents or the CNAME).
    """
    moment = _utc(now) if now is not None else datetime.now(timezone.utc)
    normalised_cname = validate_cname(cname, cname_arg) if cname is not None else None

    cert_file, cert_data = _read_pem_file(cert_path, cert_arg, "certificate")
    key_file, key_data = _read_pem_file(key_path, key_arg, "private key")
    return _material((cert_file, cert_data), (key_file, key_data), normalised_cname, moment,
                     (cert_arg, key_arg, cname_arg))


def check_tls_data(cert_data: bytes, key_data: bytes, cname: Optional[str], *, cert_label: str, key_label: str,
                   arg: str, now: Optional[datetime] = None) -> TlsMaterial:
    """The same checks as ``load_tls_material`` on certificate and key bytes held in memory (the ``cert.pem`` and
    ``key.pem`` of a Kubernetes secret): the labels stand where file names would, and no message quotes the data."""
    moment = _utc(now) if now is not None else datetime.now(timezone.utc)
    normalised_cname = validate_cname(cname, CNAME_ARG) if cname is not None else None
    return _material((cert_label, cert_data), (key_label, key_data), normalised_cname, moment, (arg, arg, CNAME_ARG))


def _material(cert, key, normalised_cname, moment, args):  # pylint: disable=too-many-locals
    (cert_file, cert_data), (key_file, key_data) = cert, key
    cert_arg, key_arg, cname_arg = args
    cert_blocks, key_blocks = _scan_pem_blocks(cert_data), _scan_pem_blocks(key_data)

    cert_certs = [b for b in cert_blocks if b.label == _CERT_LABEL and b.complete]
    key_keys = [b for b in key_blocks if b.label in _PRIVATE_KEY_LABELS and b.complete]
    cert_has_key = any(b.label in _PRIVATE_KEY_LABELS for b in cert_blocks)
    key_has_cert = any(b.label == _CERT_LABEL for b in key_blocks)
    if not cert_certs and not key_keys and cert_has_key and key_has_cert:
        raise InvalidArgumentValueError(
            f"The files given to {cert_arg} ('{_shown(cert_file)}') and {key_arg} ('{_shown(key_file)}') are swapped: "
            f"the first holds a private key and the second a certificate.",
            f"Pass the certificate chain to {cert_arg} and the private key to {key_arg}.")
    _reject_incomplete(cert_file, cert_blocks, cert_arg, "certificate")
    if not cert_certs:
        _reject_cert_file(cert_file, cert_data, cert_blocks, cert_arg, key_arg)
    _reject_incomplete(key_file, key_blocks, key_arg, "private key")
    if not key_keys:
        _reject_key_file(key_file, key_data, key_blocks, key_arg, cert_arg)
    if len(key_keys) > 1:
        raise InvalidArgumentValueError(
            f"The file '{_shown(key_file)}' given to {key_arg} holds {len(key_keys)} private keys. It must hold "
            "exactly one: the key of the server certificate.",
            f"Keep only the private key that matches the server certificate in the file given to {key_arg}.")

    certs = _load_certificates(cert_file, cert_certs, cert_arg)
    key = _load_private_key(key_file, key_keys[0], key_arg)
    _check_key_matches(key, certs, cert_path=cert_file, key_path=key_file, cert_arg=cert_arg, key_arg=key_arg)

    leaf = certs[0]
    warnings: List[str] = []
    _check_validity(leaf, moment, cert_file, cert_arg, warnings)
    subject_cn, dns_names, ips = _leaf_names(leaf, cert_file, cert_arg)
    if normalised_cname is not None:
        _check_cname(normalised_cname, (subject_cn, dns_names, ips),
                     cert_path=cert_file, cert_arg=cert_arg, cname_arg=cname_arg, warnings=warnings)
    _chain_warnings(certs, moment, cert_arg, warnings)
    _key_warnings(key, key_arg, warnings)
    if cert_has_key and cert_file != key_file:
        warnings.append(
            f"The file given to {cert_arg} also contains a private key. It is sent with the certificate (as an "
            f"encrypted protected setting); keep only the certificate chain in that file and the key in {key_arg}.")

    return TlsMaterial(
        cert_b64=_b64(cert_data),
        key_b64=_b64(key_data),
        subject_cn=subject_cn,
        dns_names=dns_names,
        not_after=leaf.not_valid_after_utc,
        chain_length=len(certs),
        warnings=tuple(warnings),
        ip_addresses=ips,
        key_type=_describe_key(key),
    )


_Names = Tuple[Optional[str], Tuple[str, ...], Tuple[str, ...]]  # (subject CN, SAN DNS names, SAN IP addresses)


def _check_cname(cname: str, names: _Names, *,  # pylint: disable=too-many-arguments
                 cert_path: str, cert_arg: str, cname_arg: str, warnings: List[str]):
    subject_cn, dns_names, ips = names
    if cname_matches(cname, dns_names, subject_cn, ips):
        if not dns_names and _parse_ip(cname) is None:
            warnings.append(
                f"The server certificate in the file given to {cert_arg} names {cname} only in its subject common "
                "name, without a subject alternative name. Browsers and many clients ignore the common name; issue "
                "a certificate with the name as a DNS subject alternative name.")
        return
    covered = list(dns_names) + list(ips)
    if not dns_names and subject_cn:
        covered.insert(0, subject_cn)
    covered = list(dict.fromkeys(covered))
    if covered:
        listing = f"it is valid for: {_names_list(covered)}"
        examples = [_wildcard_example(n, cname) for n in covered]
        use = (f"Use one of the names the certificate covers, for example "
               f"{_arg_with_value(cname_arg, _shown(examples[0]))}, and point that name at the inference endpoint.")
    else:
        listing = "it names no host at all (no subject alternative names and no common name)"
        use = f"Issue a certificate whose subject alternative names include {cname}."
    url_host = f"[{cname}]" if ":" in cname else cname
    wildcard_note = ""
    if any(n.startswith("*.") for n in covered):
        wildcard_note = " A wildcard name covers exactly one left-most label"
        apex = [n for n in covered if n.startswith("*.") and n[2:].lower().rstrip(".") == cname.lower().rstrip(".")]
        wildcard_note += (f", not the domain itself: {apex[0]} does not cover {cname}." if apex else ".")
    raise InvalidArgumentValueError(
        f"The {cname_arg} value '{cname}' is not covered by the server certificate in the file "
        f"'{_shown(cert_path)}' given to {cert_arg}: {listing}. Clients connecting to https://{url_host} would reject "
        "the certificate (E40007 INVALID_SSL_SETTING)." + wildcard_note,
        [use, f"Or issue a certificate whose subject alternative names include {cname}.",
         f"Inspect the certificate's names: openssl x509 -in {_q(cert_path)} -noout -ext subjectAltName"])
