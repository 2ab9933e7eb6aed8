# --------------------------------------------------------------------------------------------
# Copyright (c) Microsoft Corporation. All rights reserved.
# Licensed under the MIT License. See License.txt in the project root for license information.
# --------------------------------------------------------------------------------------------
"""Test helper: TLS certificate/key files for the inference HTTPS endpoint, and a secret-leak check.

Used by unit tests (``tests/unit/test_tls.py``) and end-to-end tests. Keys are generated once per process
and cached (RSA generation is the slow part); certificates are signed fresh for each call, which is fast.

    files = make_tls_files(tmp_path)                  # RSA 2048, self-signed, SAN ml.contoso.com, PKCS#8 key
    files = make_tls_files(tmp_path, key_type="ec", chain=True)
    ... run something that may print ...
    assert_no_secrets(output, files.secret_fragments())
"""

import base64
import datetime
import functools
import ipaddress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Sequence, Union

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

KEY_TYPES = ("rsa", "rsa1024", "ec", "ec-secp256k1", "ed25519", "ed448", "dsa")
KEY_FORMATS = ("pkcs8", "pkcs1", "sec1", "traditional")

_DEFAULT_CN = object()


class SecretFragments(list):
    """A list of secret strings whose repr does not show them (pytest prints arguments of failing frames)."""

    def __repr__(self):
        return f"<{len(self)} secret fragments>"

    def __add__(self, other):
        return SecretFragments(list(self) + list(other))


@dataclass
class TlsFiles:  # pylint: disable=too-many-instance-attributes
    """The files written by ``make_tls_files`` and their exact contents."""
    cert_path: Path
    key_path: Path
    cname: str
    cert_pem: bytes               # exact bytes of cert_path
    key_pem: bytes                # exact bytes of key_path
    ca_pem: bytes = b""           # what a client must trust: the root CA, or the self-signed leaf
    not_after: Optional[datetime.datetime] = None
    leaf_pem: bytes = b""         # the server certificate alone
    extra: dict = field(default_factory=dict)

    def __repr__(self):
        return (f"TlsFiles(cert_path={str(self.cert_path)!r}, key_path={str(self.key_path)!r}, cname={self.cname!r}, "
                f"not_after={self.not_after!r})")

    def secret_fragments(self) -> "SecretFragments":
        """Strings that must never appear in any output.

        The base64 of the whole certificate file and of the whole key file (what goes into the protected
        settings), 48-character slices of the key file's base64 past its BEGIN line (so a truncated echo is
        caught too), and every base64 body line of the key PEM of 40 characters or more.
        """
        fragments = [base64.b64encode(self.cert_pem).decode("ascii"), base64.b64encode(self.key_pem).decode("ascii")]
        key_b64 = fragments[1]
        fragments += [key_b64[i:i + 48] for i in range(48, len(key_b64) - 48, 48)]
        for line in self.key_pem.decode("ascii", "replace").splitlines():
            line = line.strip()
            if len(line) >= 40 and not line.startswith("-----") and ":" not in line:
                fragments.append(line)
        return SecretFragments(dict.fromkeys(fragments))


def assert_no_secrets(text: Union[str, bytes], fragments: Sequence[str]) -> None:
    """Raise AssertionError if any fragment occurs in ``text``; the error names only the fragment's index."""
    __tracebackhide__ = True  # pylint: disable=unused-variable
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    text = text or ""
    for index, fragment in enumerate(fragments):
        if fragment and fragment in text:
            # Deliberately a plain raise, not `assert fragment not in text`: pytest's assertion rewriting
            # would print both operands, that is, the secret.
            raise AssertionError(
                f"secret fragment #{index} of {len(fragments)} (length {len(fragment)}) leaked into the output "
                f"at offset {text.find(fragment)}")


_KEY_FACTORIES = {
    "rsa": lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048),
    "rsa1024": lambda: rsa.generate_private_key(public_exponent=65537, key_size=1024),
    "ec": lambda: ec.generate_private_key(ec.SECP256R1()),
    "ec-secp256k1": lambda: ec.generate_private_key(ec.SECP256K1()),
    "ed25519": ed25519.Ed25519PrivateKey.generate,
    "ed448": ed448.Ed448PrivateKey.generate,
    # 1024 bits: DSA generation is slow, and DSA keys only feed "unusual key type" tests.
    "dsa": lambda: dsa.generate_private_key(key_size=1024),
}


@functools.lru_cache(maxsize=None)
def cached_key(key_type: str = "rsa", slot: str = "leaf"):
    """A private key of ``key_type``, generated once per (type, slot) per process."""
    del slot  # only part of the cache key: different slots give different keys of the same type
    if key_type not in _KEY_FACTORIES:
        raise ValueError(f"unknown key_type {key_type!r}; use one of {KEY_TYPES}")
    return _KEY_FACTORIES[key_type]()


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)


def _sign_hash(key):
    return None if isinstance(key, (ed25519.Ed25519PrivateKey, ed448.Ed448PrivateKey)) else hashes.SHA256()


def _name(common_name: Optional[str]) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)] if common_name else [])


def _ski(key):
    return x509.SubjectKeyIdentifier.from_public_key(key.public_key())


@functools.lru_cache(maxsize=None)
def _ca_pair():
    """(root key, root cert, intermediate key, intermediate cert); EC keys, valid for a long time."""
    start = _now() - datetime.timedelta(days=3650)
    end = _now() + datetime.timedelta(days=3650)
    root_key, int_key = cached_key("ec", "root-ca"), cached_key("ec", "intermediate-ca")
    root_name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "amlk8s tests"),
                           x509.NameAttribute(NameOID.COMMON_NAME, "amlk8s test root CA")])
    int_name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "amlk8s tests"),
                          x509.NameAttribute(NameOID.COMMON_NAME, "amlk8s test intermediate CA")])
    root = (x509.CertificateBuilder().subject_name(root_name).issuer_name(root_name)
            .public_key(root_key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(start).not_valid_after(end)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(_ski(root_key), critical=False)
            .sign(root_key, hashes.SHA256()))
    intermediate = (x509.CertificateBuilder().subject_name(int_name).issuer_name(root_name)
                    .public_key(int_key.public_key()).serial_number(x509.random_serial_number())
                    .not_valid_before(start).not_valid_after(end)
                    .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
                    .add_extension(_ski(int_key), critical=False)
                    .sign(root_key, hashes.SHA256()))
    return root_key, root, int_key, intermediate


def _san_entry(name: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(name))
    except ValueError:
        return x509.DNSName(name)


def _private_bytes(key, key_format: str, passphrase: Optional[Union[str, bytes]]) -> bytes:
    if key_format not in KEY_FORMATS:
        raise ValueError(f"unknown key_format {key_format!r}; use one of {KEY_FORMATS}")
    if key_format == "pkcs1" and not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("key_format='pkcs1' needs an RSA key")
    if key_format == "sec1" and not isinstance(key, ec.EllipticCurvePrivateKey):
        raise ValueError("key_format='sec1' needs an EC key")
    fmt = serialization.PrivateFormat.PKCS8 if key_format == "pkcs8" else serialization.PrivateFormat.TraditionalOpenSSL
    if passphrase is None:
        encryption = serialization.NoEncryption()
    else:
        secret = passphrase.encode() if isinstance(passphrase, str) else passphrase
        encryption = serialization.BestAvailableEncryption(secret)
    return key.private_bytes(serialization.Encoding.PEM, fmt, encryption)


def _pem(cert) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def make_tls_files(directory, cname: str = "ml.contoso.com", *,  # pylint: disable=too-many-arguments,too-many-locals
                   sans: Optional[Sequence[str]] = None, wildcard: bool = False, key_type: str = "rsa",
                   not_before: Optional[datetime.datetime] = None, not_after: Optional[datetime.datetime] = None,
                   passphrase: Optional[Union[str, bytes]] = None, chain: bool = False, mismatched_key: bool = False,
                   chain_out_of_order: bool = False, key_format: str = "pkcs8",
                   common_name=_DEFAULT_CN, cert_name: str = "cert.pem", key_name: str = "key.pem") -> TlsFiles:
    """Write a certificate file and a key file under ``directory`` and return their description.

    - ``sans``: the DNS (or IP) subject alternative names; default ``[cname]`` (``["*.<parent of cname>"]`` with
      ``wildcard=True``); ``[]`` writes no SAN extension at all (CN-only certificate).
    - ``common_name``: the subject CN; default ``cname`` (or the wildcard); ``None`` for no CN.
    - ``key_type``: one of ``KEY_TYPES`` ("rsa" is 2048 bits, "rsa1024" 1024; "ec" is P-256; "dsa" is 1024 bits).
    - ``key_format``: "pkcs8" (BEGIN PRIVATE KEY), "pkcs1" (BEGIN RSA PRIVATE KEY), "sec1" (BEGIN EC PRIVATE KEY)
      or "traditional" (whichever of the last two fits the key).
    - ``passphrase``: encrypt the key (PKCS#8 → ENCRYPTED PRIVATE KEY; traditional → Proc-Type: 4,ENCRYPTED).
    - ``chain``: the leaf is issued by a test intermediate CA issued by a test root CA, and the certificate
      file holds leaf, intermediate, root. Without it, the leaf is self-signed and alone.
    - ``chain_out_of_order``: like ``chain``, but the file holds intermediate, leaf, root.
    - ``mismatched_key``: the key file holds a different key of the same type than the certificate.
    - ``not_before``/``not_after``: the leaf's validity (default: one day ago / in 365 days).
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    chain = chain or chain_out_of_order
    leaf_key = cached_key(key_type, "leaf")
    parent = cname.split(".", 1)[1] if "." in cname else cname
    if sans is None:
        sans = [f"*.{parent}"] if wildcard else [cname]
    if common_name is _DEFAULT_CN:
        common_name = f"*.{parent}" if wildcard else cname
    start = not_before or (_now() - datetime.timedelta(days=1))
    end = not_after or (_now() + datetime.timedelta(days=365))

    builder = (x509.CertificateBuilder().subject_name(_name(common_name))
               .public_key(leaf_key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(start).not_valid_after(end)
               .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
               .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False))
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName([_san_entry(n) for n in sans]), critical=False)
    if chain:
        root_key, root, int_key, intermediate = _ca_pair()
        del root_key
        leaf = builder.issuer_name(intermediate.subject).sign(int_key, hashes.SHA256())
        order = [intermediate, leaf, root] if chain_out_of_order else [leaf, intermediate, root]
        ca_pem = _pem(root)
    else:
        leaf = builder.issuer_name(_name(common_name)).sign(leaf_key, _sign_hash(leaf_key))
        order = [leaf]
        ca_pem = _pem(leaf)
    cert_pem = b"".join(_pem(c) for c in order)

    if key_format == "traditional":
        key_format = "pkcs1" if isinstance(leaf_key, rsa.RSAPrivateKey) else "sec1"
    key_for_file = cached_key(key_type, "other") if mismatched_key else leaf_key
    key_pem = _private_bytes(key_for_file, key_format, passphrase)

    cert_path, key_path = directory / cert_name, directory / key_name
    cert_path.write_bytes(cert_pem)
    key_path.write_bytes(key_pem)
    return TlsFiles(cert_path=cert_path, key_path=key_path, cname=cname, cert_pem=cert_pem, key_pem=key_pem,
                    ca_pem=ca_pem, not_after=end, leaf_pem=_pem(leaf))
