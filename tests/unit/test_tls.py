# --------------------------------------------------------------------------------------------
# Copyright (c) Microsoft Corporation. All rights reserved.
# Licensed under the MIT License. See License.txt in the project root for license information.
# --------------------------------------------------------------------------------------------
"""Unit tests for azext_amlk8s.rules.tls: PEM reading, key/cert matching, validity, CNAME rules, no secret leaks."""
# pylint: disable=redefined-outer-name,too-many-lines,missing-function-docstring,too-many-arguments
# pylint: disable=too-many-positional-arguments,use-implicit-booleaness-not-comparison

import base64
import datetime
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
from azure.cli.core.azclierror import (
    AzCLIError,
    FileOperationError,
    InvalidArgumentValueError,
    RequiredArgumentMissingError,
)
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from azext_amlk8s.rules import tls
from azext_amlk8s.rules.tls import TlsMaterial, cname_matches, load_tls_material, validate_cname
from tests.certs import assert_no_secrets, cached_key, make_tls_files

UTC = datetime.timezone.utc
FLAG_LABELS = ("--ssl-cert-pem-file", "--ssl-key-pem-file", "--ssl-cname")
CONFIG_LABELS = ("sslCertPemFile", "sslKeyPemFile", "sslCname")
HAS_OPENSSL = shutil.which("openssl") is not None


@pytest.fixture(params=["flags", "config"])
def labels(request):
    """How the user gave the values: typed flags or --config-protected keys; messages must name that label."""
    return FLAG_LABELS if request.param == "flags" else CONFIG_LABELS


def _now():
    return datetime.datetime.now(UTC)


def _load(cert, key, cname="ml.contoso.com", labels=FLAG_LABELS, **kwargs):
    cert_arg, key_arg, cname_arg = labels
    return load_tls_material(str(cert), str(key), cname, cert_arg=cert_arg, key_arg=key_arg, cname_arg=cname_arg,
                             **kwargs)


def _check_error(exc: AzCLIError, names, fragments=()):
    """The contract every rejection honours: capitalised one-line message naming the argument, a
    recommendation, no secret anywhere."""
    message = exc.error_msg
    assert isinstance(message, str) and message
    assert message[0].isupper(), message
    assert "\n" not in message
    for name in names:
        assert name in message, (name, message)
    assert exc.recommendations, "a recommendation is required"
    for recommendation in exc.recommendations:
        assert isinstance(recommendation, str) and recommendation.strip()
        assert "\n" not in recommendation
    everything = " ".join([message, str(exc), repr(exc.args)] + list(exc.recommendations))
    assert_no_secrets(everything, fragments)


def _reject(exc_type, cert, key, cname="ml.contoso.com", labels=FLAG_LABELS, names=None, fragments=(), **kwargs):
    """Load, expect ``exc_type``, check the error contract, return the exception."""
    with pytest.raises(AzCLIError) as info:
        _load(cert, key, cname, labels=labels, **kwargs)
    assert info.value.__class__ is exc_type, (info.value.__class__, info.value.error_msg)
    _check_error(info.value, names if names is not None else (), fragments)
    return info.value


def _rec(exc):
    return " ".join(exc.recommendations)


# ----------------------------------------------------------------------------------------------
# Valid material
# ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("key_type,key_format,begin", [
    ("rsa", "pkcs8", b"-----BEGIN PRIVATE KEY-----"),
    ("rsa", "pkcs1", b"-----BEGIN RSA PRIVATE KEY-----"),
    ("ec", "pkcs8", b"-----BEGIN PRIVATE KEY-----"),
    ("ec", "sec1", b"-----BEGIN EC PRIVATE KEY-----"),
])
def test_valid_pair(tmp_path, key_type, key_format, begin):
    files = make_tls_files(tmp_path, key_type=key_type, key_format=key_format)
    assert files.key_pem.startswith(begin)
    material = _load(files.cert_path, files.key_path, "ml.contoso.com")
    assert isinstance(material, TlsMaterial)
    assert material.cert_b64 == base64.b64encode(files.cert_pem).decode("ascii")
    assert material.key_b64 == base64.b64encode(files.key_pem).decode("ascii")
    assert "\n" not in material.cert_b64 and "\n" not in material.key_b64
    assert base64.b64decode(material.cert_b64) == files.cert_path.read_bytes()
    assert base64.b64decode(material.key_b64) == files.key_path.read_bytes()
    assert material.subject_cn == "ml.contoso.com"
    assert material.dns_names == ("ml.contoso.com",)
    assert material.chain_length == 1
    assert material.not_after.tzinfo is not None and material.not_after.utcoffset() == datetime.timedelta(0)
    assert abs((material.not_after - files.not_after).total_seconds()) < 1
    assert material.key_type == ("RSA 2048" if key_type == "rsa" else "EC secp256r1")
    assert_no_secrets(" ".join(material.warnings), files.secret_fragments())


def test_chain_is_accepted(tmp_path):
    files = make_tls_files(tmp_path, chain=True)
    material = _load(files.cert_path, files.key_path)
    assert material.chain_length == 3
    assert material.warnings == ()
    assert material.cert_b64 == base64.b64encode(files.cert_pem).decode("ascii")


def test_cname_none_skips_the_name_check(tmp_path):
    files = make_tls_files(tmp_path, cname="other.example.org")
    material = _load(files.cert_path, files.key_path, None)
    assert material.dns_names == ("other.example.org",)


def test_cname_is_checked_case_insensitively_and_with_trailing_dot(tmp_path):
    files = make_tls_files(tmp_path, sans=["ML.Contoso.com"])
    _load(files.cert_path, files.key_path, "ml.CONTOSO.com.")


def test_default_arg_labels_are_the_typed_flags(tmp_path):
    files = make_tls_files(tmp_path, key_type="ec")
    with pytest.raises(InvalidArgumentValueError) as info:
        load_tls_material(str(files.cert_path), str(files.key_path), "nope.contoso.com")
    assert "--ssl-cname" in info.value.error_msg and "--ssl-cert-pem-file" in info.value.error_msg


def test_base64_is_of_the_exact_bytes_crlf_and_non_ascii_text_outside_blocks(tmp_path):
    files = make_tls_files(tmp_path, key_type="ec")
    cert = ("Bag Attributes\r\n    friendlyName: cértificat ☃\r\n".encode("utf-8") + b"\xff\xfe latin junk\r\n"
            + files.cert_pem.replace(b"\n", b"\r\n") + "trailing ünïcode\r\n".encode("utf-8"))
    key = b"\xef\xbb\xbfKey Attributes: <No Attributes>\r\n" + files.key_pem.replace(b"\n", b"\r\n")
    files.cert_path.write_bytes(cert)
    files.key_path.write_bytes(key)
    material = _load(files.cert_path, files.key_path)
    assert base64.b64decode(material.cert_b64) == cert
    assert base64.b64decode(material.key_b64) == key


def test_ec_parameters_block_before_the_key_is_accepted(tmp_path):
    files = make_tls_files(tmp_path, key_type="ec", key_format="sec1")
    files.key_path.write_bytes(b"-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC PARAMETERS-----\n"
                               + files.key_pem)
    assert _load(files.cert_path, files.key_path).key_type == "EC secp256r1"


def test_one_combined_file_for_both_is_accepted_without_warning(tmp_path):
    files = make_tls_files(tmp_path, key_type="ec", chain=True)
    combined = tmp_path / "combined.pem"
    combined.write_bytes(files.cert_pem + files.key_pem)
    material = _load(combined, combined)
    assert material.chain_length == 3
    assert material.warnings == ()


def test_private_key_inside_the_cert_file_is_accepted_with_a_warning(tmp_path, labels):
    files = make_tls_files(tmp_path, key_type="ec", chain=True)
    files.cert_path.write_bytes(files.cert_pem + files.key_pem)
    material = _load(files.cert_path, files.key_path, labels=labels)
    assert len(material.warnings) == 1
    assert "also contains a private key" in material.warnings[0] and labels[0] in material.warnings[0]
    assert_no_secrets(" ".join(material.warnings), files.secret_fragments())


def test_tilde_is_expanded(tmp_path, monkeypatch):
    files = make_tls_files(tmp_path, key_type="ec")
    monkeypatch.setenv("HOME", str(tmp_path))
    material = load_tls_material("~/cert.pem", "~/key.pem", "ml.contoso.com")
    assert material.cert_b64 == base64.b64encode(files.cert_pem).decode("ascii")


def test_relative_paths_resolve_against_the_current_directory(tmp_path, monkeypatch):
    make_tls_files(tmp_path / "certs", key_type="ec")
    monkeypatch.chdir(tmp_path)
    material = load_tls_material(os.path.join("certs", "cert.pem"), "certs/key.pem", "ml.contoso.com")
    assert material.chain_length == 1


def test_naive_now_is_taken_as_utc(tmp_path):
    end = datetime.datetime(2031, 1, 1, tzinfo=UTC)
    files = make_tls_files(tmp_path, key_type="ec", not_before=datetime.datetime(2030, 1, 1, tzinfo=UTC), not_after=end)
    material = _load(files.cert_path, files.key_path, now=datetime.datetime(2030, 6, 1))
    assert material.not_after == end
    with pytest.raises(InvalidArgumentValueError):
        _load(files.cert_path, files.key_path, now=datetime.datetime(2031, 1, 1, 0, 0, 1))


def test_repr_str_and_summary_never_show_secrets(tmp_path):
    files = make_tls_files(tmp_path)
    material = _load(files.cert_path, files.key_path)
    old_style = "%s" % (material,)  # pylint: disable=consider-using-f-string
    for text in (repr(material), str(material), f"{material}", old_style, str(material.public_summary())):
        assert_no_secrets(text, files.secret_fragments())
        assert "redacted" in text or "subjectCommonName" in text
    assert "ml.contoso.com" in repr(material)
    assert material.public_summary()["chainLength"] == 1


def test_tls_material_is_frozen(tmp_path):
    files = make_tls_files(tmp_path, key_type="ec")
    material = _load(files.cert_path, files.key_path)
    with pytest.raises(AttributeError):
        material.cert_b64 = "x"  # pylint: disable=assigning-non-slot


def test_secret_fragments_and_assert_no_secrets(tmp_path):
    files = make_tls_files(tmp_path)
    fragments = files.secret_fragments()
    key_b64 = base64.b64encode(files.key_pem).decode("ascii")
    assert key_b64 in fragments and base64.b64encode(files.cert_pem).decode("ascii") in fragments
    body_line = files.key_pem.splitlines()[1].decode("ascii")
    assert body_line in fragments
    assert_no_secrets("nothing to see", fragments)
    for leaked in (f"value: {key_b64[:200]}...", f"line {body_line}", files.key_pem):
        with pytest.raises(AssertionError) as info:
            assert_no_secrets(leaked, fragments)
        assert_no_secrets(str(info.value), fragments)  # the failure names an index, not the secret
        assert "fragment #" in str(info.value)


# ----------------------------------------------------------------------------------------------
# Warnings
# ----------------------------------------------------------------------------------------------

def test_self_signed_warning(tmp_path, labels):
    files = make_tls_files(tmp_path, key_type="ec")
    material = _load(files.cert_path, files.key_path, labels=labels)
    assert len(material.warnings) == 1
    assert "self-signed" in material.warnings[0] and labels[0] in material.warnings[0]


@pytest.mark.parametrize("days,warned", [(1, True), (10, True), (29, True), (31, False), (90, False)])
def test_expiring_soon_warning(tmp_path, days, warned):
    files = make_tls_files(tmp_path, key_type="ec", chain=True, not_after=_now() + datetime.timedelta(days=days))
    material = _load(files.cert_path, files.key_path)
    expiring = [w for w in material.warnings if "expires on" in w]
    assert bool(expiring) == warned, material.warnings
    if warned:
        assert any(f"in {n} day" in expiring[0] for n in (days - 1, days)) or "less than a day" in expiring[0]


def test_expiring_within_hours_says_less_than_a_day(tmp_path):
    files = make_tls_files(tmp_path, key_type="ec", chain=True, not_after=_now() + datetime.timedelta(hours=3))
    material = _load(files.cert_path, files.key_path)
    assert any("less than a day" in w for w in material.warnings)


def test_small_rsa_key_warning(tmp_path, labels):
    files = make_tls_files(tmp_path, key_type="rsa1024", chain=True)
    material = _load(files.cert_path, files.key_path, labels=labels)
    assert material.key_type == "RSA 1024"
    assert any("1024 bits" in w and labels[1] in w for w in material.warnings), material.warnings


@pytest.mark.parametrize("key_type,expected", [
    ("ec-secp256k1", "secp256k1"), ("ed25519", "Ed25519"), ("ed448", "Ed448"), ("dsa", "DSA 1024"),
])
def test_unusual_key_type_warning(tmp_path, key_type, expected):
    files = make_tls_files(tmp_path, key_type=key_type, chain=True)
    material = _load(files.cert_path, files.key_path)
    assert any(expected in w for w in material.warnings), material.warnings


def test_leaf_without_intermediates_warning(tmp_path):
    files = make_tls_files(tmp_path, key_type="ec", chain=True)
    files.cert_path.write_bytes(files.leaf_pem)
    material = _load(files.cert_path, files.key_path)
    assert material.chain_length == 1
    assert any("full certificate chain" in w for w in material.warnings)


def test_chain_with_an_unrelated_certificate_warning(tmp_path):
    files = make_tls_files(tmp_path, key_type="ec", chain=True)
    other = make_tls_files(tmp_path / "other", key_type="rsa")
    files.cert_path.write_bytes(files.leaf_pem + other.cert_pem)
    material = _load(files.cert_path, files.key_path)
    assert any("did not issue" in w for w in material.warnings), material.warnings


def test_expired_intermediate_warning(tmp_path):
    files = make_tls_files(tmp_path, key_type="ec", chain=True, not_after=_now() + datetime.timedelta(days=365 * 15))
    material = _load(files.cert_path, files.key_path, now=_now() + datetime.timedelta(days=365 * 11))
    assert any("Certificate #2" in w and "expired on" in w for w in material.warnings), material.warnings


def test_issuer_equal_to_subject_but_signed_by_another_key_is_not_self_signed(tmp_path):
    files = make_tls_files(tmp_path, key_type="ec")
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ml.contoso.com")])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(cached_key("ec", "leaf").public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(_now() - datetime.timedelta(days=1)).not_valid_after(_now() + datetime.timedelta(days=90))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("ml.contoso.com")]), critical=False)
            .sign(cached_key("ec", "other"), hashes.SHA256()))
    files.cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    material = _load(files.cert_path, files.key_path)
    assert not any("self-signed" in w for w in material.warnings)
    assert any("full certificate chain" in w for w in material.warnings)


def test_cn_only_match_warns_about_missing_san(tmp_path):
    files = make_tls_files(tmp_path, key_type="ec", sans=[])
    material = _load(files.cert_path, files.key_path)
    assert material.dns_names == ()
    assert any("subject alternative name" in w for w in material.warnings)


# ----------------------------------------------------------------------------------------------
# File problems
# ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("which", ["cert", "key"])
def test_missing_file(tmp_path, labels, which):
    files = make_tls_files(tmp_path, key_type="ec")
    missing = tmp_path / "nope" / "missing.pem"
    cert, key = (missing, files.key_path) if which == "cert" else (files.cert_path, missing)
    exc = _reject(FileOperationError, cert, key, labels=labels,
                  names=[labels[0] if which == "cert" else labels[1], str(missing)])
    assert "does not exist" in exc.error_msg


def test_missing_file_with_tilde_shows_where_it_resolved(tmp_path, monkeypatch):
    files = make_tls_files(tmp_path, key_type="ec")
    monkeypatch.setenv("HOME", str(tmp_path))
    exc = _reject(FileOperationError, "~/absent.pem", files.key_path, names=["~/absent.pem", str(tmp_path)])
    assert "resolved to" in exc.error_msg


def test_relative_missing_file_mentions_the_current_directory(tmp_path, monkeypatch):
    files = make_tls_files(tmp_path, key_type="ec")
    monkeypatch.chdir(tmp_path)
    exc = _reject(FileOperationError, files.cert_path, "absent.pem", names=["--ssl-key-pem-file", "absent.pem"])
    assert str(tmp_path) in _rec(exc)


@pytest.mark.parametrize("which", ["cert", "key"])
def test_directory(tmp_path, labels, which):
    files = make_tls_files(tmp_path, key_type="ec")
    cert, key = (tmp_path, files.key_path) if which == "cert" else (files.cert_path, tmp_path)
    exc = _reject(FileOperationError, cert, key, labels=labels, names=[labels[0] if which == "cert" else labels[1]])
    assert "is a directory" in exc.error_msg


@pytest.mark.parametrize("content", [b"", b"   \n\t\r\n"])
@pytest.mark.parametrize("which", ["cert", "key"])
def test_empty_file(tmp_path, labels, which, content):
    files = make_tls_files(tmp_path, key_type="ec")
    (files.cert_path if which == "cert" else files.key_path).write_bytes(content)
    exc = _reject(FileOperationError, files.cert_path, files.key_path, labels=labels,
                  names=[labels[0] if which == "cert" else labels[1]], fragments=files.secret_fragments())
    assert "is empty" in exc.error_msg


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this platform")
def test_fifo_is_not_read(tmp_path):
    files = make_tls_files(tmp_path, key_type="ec")
    fifo = tmp_path / "pipe.pem"
    os.mkfifo(fifo)
    exc = _reject(FileOperationError, fifo, files.key_path, names=["--ssl-cert-pem-file"])
    assert "not a regular file" in exc.error_msg


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root reads any file")
def test_unreadable_file_real_permissions(tmp_path):
    files = make_tls_files(tmp_path, key_type="ec")
    files.key_path.chmod(0)
    try:
        _reject(FileOperationError, files.cert_path, files.key_path, names=["--ssl-key-pem-file"])
    finally:
        files.key_path.chmod(0o600)


def test_unreadable_file_permission_denied(tmp_path, monkeypatch, labels):
    files = make_tls_files(tmp_path, key_type="ec")

    def deny(*_args, **_kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(tls, "open", deny, raising=False)
    exc = _reject(FileOperationError, files.cert_path, files.key_path, labels=labels, names=[labels[0]])
    assert "permission denied" in exc.error_msg
    assert "chmod" in _rec(exc)


def test_other_read_error(tmp_path, monkeypatch):
    files = make_tls_files(tmp_path, key_type="ec")

    def broken(*_args, **_kwargs):
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(tls, "open", broken, raising=False)
    exc = _reject(FileOperationError, files.cert_path, files.key_path, names=["--ssl-cert-pem-file"])
    assert "Input/output error" in exc.error_msg


@pytest.mark.parametrize("value", [None, "", "   "])
@pytest.mark.parametrize("which", ["cert", "key"])
def test_no_path(tmp_path, labels, which, value):
    files = make_tls_files(tmp_path, key_type="ec")
    cert, key = (value, str(files.key_path)) if which == "cert" else (str(files.cert_path), value)
    cert_arg, key_arg, cname_arg = labels
    with pytest.raises(RequiredArgumentMissingError) as info:
        load_tls_material(cert, key, "ml.contoso.com", cert_arg=cert_arg, key_arg=key_arg, cname_arg=cname_arg)
    _check_error(info.value, [cert_arg if which == "cert" else key_arg])


def test_path_of_the_wrong_type(tmp_path, labels):
    files = make_tls_files(tmp_path, key_type="ec")
    cert_arg, key_arg, cname_arg = labels
    with pytest.raises(InvalidArgumentValueError) as info:
        load_tls_material(str(files.cert_path), 42, "ml.contoso.com", cert_arg=cert_arg, key_arg=key_arg,
                          cname_arg=cname_arg)
    _check_error(info.value, [key_arg])


@pytest.mark.parametrize("error,expected", [
    (PermissionError(13, "Permission denied"), "permission denied"),
    (OSError(36, "File name too long"), "cannot be accessed"),
])
def test_stat_errors(tmp_path, monkeypatch, error, expected):
    files = make_tls_files(tmp_path, key_type="ec")
    real_stat = os.stat

    def failing_stat(path, *args, **kwargs):
        if str(path) == str(files.cert_path):
            raise error
        return real_stat(path, *args, **kwargs)

    monkeypatch.setattr(tls.os, "stat", failing_stat)
    exc = _reject(FileOperationError, files.cert_path, files.key_path, names=["--ssl-cert-pem-file"])
    assert expected in exc.error_msg


def test_pem_contents_in_place_of_a_path_are_taken_as_the_file(tmp_path, labels):
    """az expands `@key.pem` (and `sslKeyPemFile=@key.pem`) into the file's text, without its last newline."""
    files = make_tls_files(tmp_path)
    from_paths = _load(files.cert_path, files.key_path, labels=labels)
    from_text = _load(files.cert_pem.decode("ascii").rstrip("\n"), files.key_pem.decode("ascii").rstrip("\n"),
                      labels=labels)
    assert (from_text.cert_b64, from_text.key_b64) != ("", "")
    assert from_text.key_b64 == base64.b64encode(files.key_pem.rstrip(b"\n") + b"\n").decode()
    assert from_paths.dns_names == from_text.dns_names


def test_pem_contents_that_fail_a_check_are_never_echoed(tmp_path, labels):
    files = make_tls_files(tmp_path)
    other = make_tls_files(tmp_path / "other", key_type="ec")
    exc = _reject(InvalidArgumentValueError, files.cert_path, other.key_pem.decode("ascii"), labels=labels,
                  names=[labels[1]], fragments=files.secret_fragments() + other.secret_fragments())
    assert "does not match" in exc.error_msg and "PRIVATE KEY" not in exc.error_msg
    assert "contents given to" in exc.error_msg or "contents given to" in _rec(exc)


def test_huge_file_is_rejected_without_reading_it(tmp_path):
    files = make_tls_files(tmp_path, key_type="ec")
    with open(files.cert_path, "ab") as handle:
        handle.truncate(tls.MAX_PEM_FILE_BYTES + 10)
    exc = _reject(InvalidArgumentValueError, files.cert_path, files.key_path, names=["--ssl-cert-pem-file"])
    assert "too large" in exc.error_msg


# ----------------------------------------------------------------------------------------------
# Not PEM, wrong kind of PEM
# ----------------------------------------------------------------------------------------------

def _der_cert(files):
    return x509.load_pem_x509_certificate(files.cert_pem).public_bytes(serialization.Encoding.DER)


def _der_key(key_type="rsa"):
    return cached_key(key_type, "leaf").private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())


def test_der_certificate(tmp_path, labels):
    files = make_tls_files(tmp_path)
    files.cert_path.write_bytes(_der_cert(files))
    exc = _reject(InvalidArgumentValueError, files.cert_path, files.key_path, labels=labels,
                  names=[labels[0], "DER"], fragments=files.secret_fragments())
    assert "openssl x509 -inform der -in" in _rec(exc)


def test_der_key(tmp_path, labels):
    files = make_tls_files(tmp_path)
    files.key_path.write_bytes(_der_key())
    exc = _reject(InvalidArgumentValueError, files.cert_path, files.key_path, labels=labels,
                  names=[labels[1], "DER"], fragments=files.secret_fragments())
    assert "openssl pkey -inform der" in _rec(exc)


def test_encrypted_der_key(tmp_path):
    files = make_tls_files(tmp_path)
    files.key_path.write_bytes(cached_key("rsa", "leaf").private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.BestAvailableEncryption(b"pw")))
    _reject(InvalidArgumentValueError, files.cert_path, files.key_path, names=["--ssl-key-pem-file", "DER"],
            fragments=files.secret_fragments())


def test_der_key_given_as_the_cert_and_der_cert_given_as_the_key(tmp_path, labels):
    files = make_tls_files(tmp_path)
    files.cert_path.write_bytes(_der_key())
    exc = _reject(InvalidArgumentValueError, files.cert_path, files.key_path, labels=labels,
                  names=[labels[0], labels[1]], fragments=files.secret_fragments())
    assert "private key (DER), not a certificate" in exc.error_msg
    files = make_tls_files(tmp_path / "2")
    files.key_path.write_bytes(_der_cert(files))
    exc = _reject(InvalidArgumentValueError, files.cert_path, files.key_path, labels=labels,
                  names=[labels[1], labels[0]], fragments=files.secret_fragments())
    assert "certificate (DER), not a private key" in exc.error_msg


@pytest.mark.parametrize("password", [None, b"pfx-pass"])
@pytest.mark.parametrize("which", ["cert", "key"])
def test_pkcs12_bundle(tmp_path, labels, which, password):
    files = make_tls_files(tmp_path)
    encryption = serialization.BestAvailableEncryption(password) if password else serialization.NoEncryption()
    pfx = pkcs12.serialize_key_and_certificates(
        b"ml", cached_key("rsa", "leaf"), x509.load_pem_x509_certificate(files.cert_pem), None, encryption)
    (files.cert_path if which == "cert" else files.key_path).write_bytes(pfx)
    exc = _reject(InvalidArgumentValueError, files.cert_path, files.key_path, labels=labels,
                  names=[labels[0] if which == "cert" else labels[1], "PKCS#12"], fragments=files.secret_fragments())
    expected = "-nokeys -out cert.pem" if which == "cert" else "-nocerts -nodes -out key.pem"
    assert f"openssl pkcs12 -in {files.cert_path if which == 'cert' else files.key_path} {expected}" in _rec(exc)


@pytest.mark.parametrize("content", [
    b"hello world\n",
    "Zertifikat für ml.contoso.com — ☃\n".encode("utf-8"),
    b"\xff\xfe\x00\x01\x80\x81garbage\x00",
    bytes(range(256)) * 4,
    b"\x30\x82\x01\x00" + b"\x00" * 300,
    b"-----BEGIN-----\n-----END-----\n",
    b"ssh-rsa AAAAB3NzaC1yc2E= user@host\n",
])
@pytest.mark.parametrize("which", ["cert", "key"])
def test_garbage(tmp_path, labels, which, content):
    files = make_tls_files(tmp_path, key_type="ec")
    (files.cert_path if which == "cert" else files.key_path).write_bytes(content)
    exc = _reject(InvalidArgumentValueError, files.cert_path, files.key_path, labels=labels,
                  names=[labels[0] if which == "cert" else labels[1]], fragments=files.secret_fragments())
    assert "not a PEM" in exc.error_msg
    assert "openssl" in _rec(exc)


@pytest.mark.parametrize("which", ["cert", "key"])
def test_base64_body_without_begin_and_end_lines(tmp_path, labels, which):
    files = make_tls_files(tmp_path, key_type="ec")
    path, pem = (files.cert_path, files.cert_pem) if which == "cert" else (files.key_path, files.key_pem)
    path.write_bytes(b"\n".join(pem.splitlines()[1:-1]) + b"\n")
    exc = _reject(InvalidArgumentValueError, files.cert_path, files.key_path, labels=labels,
                  names=[labels[0] if which == "cert" else labels[1], "BEGIN"], fragments=files.secret_fragments())
    assert "no '-----BEGIN" in exc.error_msg


def test_key_and_cert_swapped(tmp_path, labels):
    files = make_tls_files(tmp_path)
    exc = _reject(InvalidArgumentValueError, files.key_path, files.cert_path, labels=labels,
                  names=[labels[0], labels[1]], fragments=files.secret_fragments())
    assert "swapped" in exc.error_msg


def test_key_given_as_both(tmp_path, labels):
    files = make_tls_files(tmp_path)
    exc = _reject(InvalidArgumentValueError, files.key_path, files.key_path, labels=labels,
                  names=[labels[0], labels[1]], fragments=files.secret_fragments())
    assert "contains a private key but no certificate" in exc.error_msg


def test_cert_given_as_both(tmp_path, labels):
    files = make_tls_files(tmp_path)
    exc = _reject(InvalidArgumentValueError, files.cert_path, files.cert_path, labels=labels,
                  names=[labels[1], labels[0]], fragments=files.secret_fragments())
    assert "contains a certificate but no private key" in exc.error_msg


def _public_key_pem(key_type="rsa"):
    return cached_key(key_type, "leaf").public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def _csr_pem(key_type="ec"):
    key = cached_key(key_type, "leaf")
    return (x509.CertificateSigningRequestBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ml.contoso.com")]))
            .sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM))


def _pkcs7_pem(files):
    from cryptography.hazmat.primitives.serialization import pkcs7  # pylint: disable=import-outside-toplevel
    return pkcs7.serialize_certificates([x509.load_pem_x509_certificate(files.cert_pem)], serialization.Encoding.PEM)


def _openssh_key_pem():
    return cached_key("ed25519", "leaf").private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, serialization.NoEncryption())


@pytest.mark.parametrize("maker,expected", [
    (lambda f: _public_key_pem(), "public key, not a certificate"),
    (lambda f: _csr_pem(), "certificate signing request"),
    (_pkcs7_pem, "PKCS#7"),
    (lambda f: f.cert_pem.replace(b"CERTIFICATE", b"TRUSTED CERTIFICATE"), "non-standard PEM form"),
    (lambda f: b"-----BEGIN X509 CRL-----\nAAAA\n-----END X509 CRL-----\n", "found: X509 CRL"),
    (lambda f: _openssh_key_pem(), "private key but no certificate"),
])
def test_wrong_kind_of_pem_as_the_cert(tmp_path, labels, maker, expected):
    files = make_tls_files(tmp_path, key_type="ec")
    files.cert_path.write_bytes(maker(files))
    exc = _reject(InvalidArgumentValueError, files.cert_path, files.key_path, labels=labels, names=[labels[0]],
                  fragments=files.secret_fragments())
    assert expected in exc.error_msg


@pytest.mark.parametrize("maker,expected", [
    (lambda f: _public_key_pem("ec"), "public key, not a private key"),
    (lambda f: _csr_pem(), "certificate signing request"),
    (lambda f: _openssh_key_pem(), "OpenSSH private key"),
    (lambda f: b"-----BEGIN SOMETHING ELSE-----\nAAAA\n-----END SOMETHING ELSE-----\n", "found: SOMETHING ELSE"),
])
def test_wrong_kind_of_pem_as_the_key(tmp_path, labels, maker, expected):
    files = make_tls_files(tmp_path, key_type="ec")
    files.key_path.write_bytes(maker(files))
    exc = _reject(InvalidArgumentValueError, files.cert_path, files.key_path, labels=labels, names=[labels[1]],
                  fragments=files.secret_fragments())
    assert expected in exc.error_msg


def test_unsafe_labels_are_not_echoed(tmp_path):
    files = make_tls_files(tmp_path, key_type="ec")
    files.key_path.write_bytes("-----BEGIN <script>ünï-----\nAAAA\n-----END <script>ünï-----\n".encode("utf-8"))
    exc = _reject(InvalidArgumentValueError, files.cert_path, files.key_path, names=["--ssl-key-pem-file"])
    assert "<script>" not in exc.error_msg and "(unrecognised)" in exc.error_msg


@pytest.mark.parametrize("which", ["cert", "key"])
def test_truncated_pem(tmp_path, labels, which):
    files = make_tls_files(tmp_path, chain=which == "cert")
    path, pem = (files.cert_path, files.cert_pem) if which == "cert" else (files.key_path, files.key_pem)
    path.write_bytes(pem[: len(pem) - 40])
    exc = _reject(InvalidArgumentValueError, files.cert_path, files.key_path, labels=labels,
                  names=[labels[0] if which == "cert" else labels[1]], fragments=files.secret_fragments())
    assert "no matching END line" in exc.error_msg


def test_block_without_end_followed_by_another_block(tmp_path, labels):
    files = make_tls_files(tmp_path, key_type="ec", chain=True)
    files.cert_path.write_bytes(files.cert_pem.replace(b"-----END CERTIFICATE-----\n", b"", 1))
    exc = _reject(InvalidArgumentValueError, files.cert_path, files.key_path, labels=labels,
                  names=[labels[0], "#1", "no matching END line"], fragments=files.secret_fragments())
    assert "BEGIN CERTIFICATE" in exc.error_msg


def test_two_pem_files_glued_without_a_line_break_are_parsed(tmp_path):
    files = make_tls_files(tmp_path, key_type="ec", chain=True)
    blocks = files.cert_pem.split(b"-----END CERTIFICATE-----\n")
    files.cert_path.write_bytes(b"-----END CERTIFICATE-----".join(blocks))
    assert _load(files.cert_path, files.key_path).chain_length == 3


def test_damaged_certificate_body(tmp_path, labels):
    files = make_tls_files(tmp_path, key_type="ec", chain=True)
    lines = files.cert_pem.split(b"\n")
    lines[3] = b"!!!!" + lines[3][4:]
    files.cert_path.write_bytes(b"\n".join(lines))
    exc = _reject(InvalidArgumentValueError, files.cert_path, files.key_path, labels=labels,
                  names=[labels[0], "#1"], fragments=files.secret_fragments())
    assert "damaged" in exc.error_msg


def test_damaged_chain_certificate(tmp_path):
    files = make_tls_files(tmp_path, key_type="ec", chain=True)
    first_end = files.cert_pem.index(b"-----END CERTIFICATE-----") + len(b"-----END CERTIFICATE-----\n")
    files.cert_path.write_bytes(files.cert_pem[:first_end] + b"-----BEGIN CERTIFICATE-----\nAAAA\n"
                                b"-----END CERTIFICATE-----\n")
    exc = _reject(InvalidArgumentValueError, files.cert_path, files.key_path, names=["#2", "chain certificate"])
    assert "crl2pkcs7" in _rec(exc)


@pytest.mark.parametrize("key_format", ["pkcs8", "pkcs1"])
def test_damaged_key_body(tmp_path, labels, key_format):
    files = make_tls_files(tmp_path, key_format=key_format)
    lines = files.key_pem.split(b"\n")
    lines[5] = b"A" * len(lines[5])
    files.key_path.write_bytes(b"\n".join(lines))
    exc = _reject(InvalidArgumentValueError, files.cert_path, files.key_path, labels=labels,
                  names=[labels[1]], fragments=files.secret_fragments())
    assert "damaged" in exc.error_msg
    assert "-check" in _rec(exc)


def test_two_private_keys_in_the_key_file(tmp_path, labels):
    files = make_tls_files(tmp_path, key_type="ec")
    other = cached_key("ec", "other").private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    files.key_path.write_bytes(files.key_pem + other)
    _reject(InvalidArgumentValueError, files.cert_path, files.key_path, labels=labels, names=[labels[1], "2 private"],
            fragments=files.secret_fragments())


# ----------------------------------------------------------------------------------------------
# Passphrase, key match, chain order
# ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("key_type,key_format,begin,fix", [
    ("rsa", "pkcs8", b"-----BEGIN ENCRYPTED PRIVATE KEY-----", "openssl pkcs8 -in"),
    ("ec", "pkcs8", b"-----BEGIN ENCRYPTED PRIVATE KEY-----", "openssl pkcs8 -in"),
    ("rsa", "pkcs1", b"-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED", "openssl rsa -in"),
    ("ec", "sec1", b"-----BEGIN EC PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED", "openssl ec -in"),
])
def test_passphrase_protected_key(tmp_path, labels, key_type, key_format, begin, fix):
    files = make_tls_files(tmp_path, key_type=key_type, key_format=key_format, passphrase="s3cret-pass-phrase")
    assert files.key_pem.startswith(begin)
    exc = _reject(InvalidArgumentValueError, files.cert_path, files.key_path, labels=labels, names=[labels[1]],
                  fragments=files.secret_fragments() + ["s3cret-pass-phrase"])
    assert "passphrase-protected keys are not supported by the azureml extension" in exc.error_msg.lower()
    assert fix in _rec(exc) and "key-nopass.pem" in _rec(exc)
    assert "openssl pkey -in" in _rec(exc)


def test_loader_type_error_is_reported_as_a_passphrase(tmp_path, monkeypatch):
    """An encrypted key the quick label/header check misses still gives the passphrase error, not a traceback."""
    files = make_tls_files(tmp_path, key_type="ec")

    def encrypted(*_args, **_kwargs):
        raise TypeError("Password was not given but private key is encrypted")

    monkeypatch.setattr(serialization, "load_pem_private_key", encrypted)
    _reject(InvalidArgumentValueError, files.cert_path, files.key_path, names=["--ssl-key-pem-file", "passphrase"])


@pytest.mark.parametrize("key_type", ["rsa", "ec"])
def test_mismatched_key(tmp_path, labels, key_type):
    files = make_tls_files(tmp_path, key_type=key_type, mismatched_key=True)
    exc = _reject(InvalidArgumentValueError, files.cert_path, files.key_path, labels=labels,
                  names=[labels[0], labels[1], "does not match"], fragments=files.secret_fragments())
    recommendation = _rec(exc)
    assert "openssl x509 -noout -pubkey -in" in recommendation
    # The RSA moduli comparison fails on EC and Ed25519 certificates: only the public-key one is offered.
    assert "-modulus" not in recommendation


def test_key_of_another_type_does_not_match(tmp_path):
    files = make_tls_files(tmp_path, key_type="rsa")
    files.key_path.write_bytes(make_tls_files(tmp_path / "ec", key_type="ec").key_pem)
    _reject(InvalidArgumentValueError, files.cert_path, files.key_path, names=["does not match"])


def test_out_of_order_chain(tmp_path, labels):
    files = make_tls_files(tmp_path, chain_out_of_order=True)
    exc = _reject(InvalidArgumentValueError, files.cert_path, files.key_path, labels=labels,
                  names=[labels[0], labels[1], "out of order", "#2"], fragments=files.secret_fragments())
    assert "must come first" in exc.error_msg
    assert "crl2pkcs7" in _rec(exc)


def test_key_matching_the_root_of_the_chain_is_out_of_order(tmp_path):
    files = make_tls_files(tmp_path, key_type="ec", chain=True)
    files.key_path.write_bytes(cached_key("ec", "root-ca").private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    _reject(InvalidArgumentValueError, files.cert_path, files.key_path, names=["#3", "out of order"])


# ----------------------------------------------------------------------------------------------
# Validity
# ----------------------------------------------------------------------------------------------

def test_expired(tmp_path, labels):
    files = make_tls_files(tmp_path, key_type="ec", not_before=datetime.datetime(2020, 1, 1, tzinfo=UTC),
                           not_after=datetime.datetime(2021, 3, 4, 5, 6, 7, tzinfo=UTC))
    exc = _reject(InvalidArgumentValueError, files.cert_path, files.key_path, labels=labels,
                  names=[labels[0], "expired on 2021-03-04 05:06:07 UTC"], fragments=files.secret_fragments())
    assert "-dates" in _rec(exc)


def test_not_yet_valid(tmp_path, labels):
    start = _now().replace(microsecond=0) + datetime.timedelta(days=2)
    files = make_tls_files(tmp_path, key_type="ec", not_before=start, not_after=start + datetime.timedelta(days=90))
    exc = _reject(InvalidArgumentValueError, files.cert_path, files.key_path, labels=labels,
                  names=[labels[0], "not valid until " + start.strftime("%Y-%m-%d %H:%M:%S UTC")],
                  fragments=files.secret_fragments())
    assert "clock" in _rec(exc)


def test_validity_uses_the_given_now(tmp_path):
    files = make_tls_files(tmp_path, key_type="ec", chain=True,
                           not_before=datetime.datetime(2030, 1, 1, tzinfo=UTC),
                           not_after=datetime.datetime(2030, 12, 31, tzinfo=UTC))
    assert _load(files.cert_path, files.key_path, now=datetime.datetime(2030, 6, 1, tzinfo=UTC)).warnings == ()
    near_end = _load(files.cert_path, files.key_path, now=datetime.datetime(2030, 12, 20, tzinfo=UTC))
    assert any("expires on 2030-12-31" in w for w in near_end.warnings)
    _reject(InvalidArgumentValueError, files.cert_path, files.key_path, names=["expired"],
            now=datetime.datetime(2031, 1, 2, tzinfo=UTC))
    _reject(InvalidArgumentValueError, files.cert_path, files.key_path, names=["not valid until"],
            now=datetime.datetime(2029, 12, 31, tzinfo=datetime.timezone(datetime.timedelta(hours=-5))))


# ----------------------------------------------------------------------------------------------
# CNAME against the certificate
# ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("sans,common_name,cname,ok", [
    (["ml.contoso.com"], "ml.contoso.com", "ml.contoso.com", True),
    (["ML.CONTOSO.COM"], None, "ml.contoso.com", True),
    (["other.contoso.com", "ml.contoso.com"], None, "ml.contoso.com", True),
    (["*.contoso.com"], None, "ml.contoso.com", True),
    (["*.contoso.com"], None, "a.b.contoso.com", False),
    (["*.contoso.com"], None, "contoso.com", False),
    (["*.contoso.com", "contoso.com"], None, "contoso.com", True),
    (["other.contoso.com"], "ml.contoso.com", "ml.contoso.com", False),  # CN ignored when SAN DNS exists
    ([], "ml.contoso.com", "ml.contoso.com", True),  # CN fallback without SAN
    ([], "*.contoso.com", "ml.contoso.com", True),
    ([], None, "ml.contoso.com", False),
    (["10.1.2.3"], None, "10.1.2.3", True),
    (["10.1.2.3"], "10.1.2.3", "10.1.2.4", False),
    (["ml.contoso.com"], "10.1.2.3", "10.1.2.3", False),  # an IP matches IP SANs only
    (["2001:db8::1"], None, "2001:DB8:0::1", True),
    (["10.1.2.3"], "ml.contoso.com", "ml.contoso.com", True),  # no DNS SAN: CN is used
])
def test_cname_against_certificate(tmp_path, sans, common_name, cname, ok):
    files = make_tls_files(tmp_path, key_type="ec", chain=True, sans=sans, common_name=common_name)
    if ok:
        _load(files.cert_path, files.key_path, cname)
    else:
        exc = _reject(InvalidArgumentValueError, files.cert_path, files.key_path, cname,
                      names=["--ssl-cname", "--ssl-cert-pem-file", "not covered"], fragments=files.secret_fragments())
        for name in sans or ([common_name] if common_name else []):
            assert name.lower() in exc.error_msg.lower()


def test_cname_not_covered_lists_names_and_recommends(tmp_path, labels):
    files = make_tls_files(tmp_path, key_type="ec", sans=["*.contoso.com", "api.fabrikam.com"])
    exc = _reject(InvalidArgumentValueError, files.cert_path, files.key_path, "a.b.contoso.com", labels=labels,
                  names=[labels[2], labels[0], "a.b.contoso.com", "*.contoso.com", "api.fabrikam.com", "E40007"],
                  fragments=files.secret_fragments())
    recommendation = _rec(exc)
    expected = "--ssl-cname a.contoso.com" if labels is FLAG_LABELS else "sslCname=a.contoso.com"
    assert expected in recommendation
    assert "subjectAltName" in recommendation


@pytest.mark.parametrize("cname,example,apex", [
    ("contoso.com", "<name>.contoso.com", True),  # the apex: not contoso.contoso.com
    ("fabrikam.com", "<name>.contoso.com", False),
    ("ml.fabrikam.com", "ml.contoso.com", False),
])
def test_wildcard_suggestion_is_a_name_the_certificate_covers(tmp_path, cname, example, apex):
    files = make_tls_files(tmp_path, key_type="ec", sans=["*.contoso.com"])
    exc = _reject(InvalidArgumentValueError, files.cert_path, files.key_path, cname, labels=FLAG_LABELS,
                  names=["not covered", "exactly one left-most label"])
    assert f"--ssl-cname {example}" in _rec(exc)
    assert "contoso.contoso.com" not in _rec(exc) + exc.error_msg
    assert ("does not cover contoso.com" in exc.error_msg) is apex


def test_cname_not_covered_truncates_a_long_list(tmp_path):
    sans = [f"host{i}.contoso.com" for i in range(25)]
    files = make_tls_files(tmp_path, key_type="ec", sans=sans, chain=True)
    exc = _reject(InvalidArgumentValueError, files.cert_path, files.key_path, "ml.contoso.com", names=["and 15 more"])
    assert "host9.contoso.com" in exc.error_msg and "host10.contoso.com" not in exc.error_msg


def test_certificate_without_any_name(tmp_path):
    files = make_tls_files(tmp_path, key_type="ec", chain=True, sans=[], common_name=None)
    _reject(InvalidArgumentValueError, files.cert_path, files.key_path, names=["names no host at all"])


def test_invalid_cname_is_rejected_before_files_are_read(tmp_path, labels):
    exc = _reject(InvalidArgumentValueError, tmp_path / "missing.pem", tmp_path / "missing.key",
                  "https://ml.contoso.com", labels=labels, names=[labels[2]])
    assert "URL" in exc.error_msg


@pytest.mark.parametrize("cname,dns_names,subject_cn,ips,expected", [
    ("ml.contoso.com", ["ml.contoso.com"], None, (), True),
    ("ML.contoso.com.", ["ml.CONTOSO.com."], None, (), True),
    ("ml.contoso.com", ["*.contoso.com"], None, (), True),
    ("a.b.contoso.com", ["*.contoso.com"], None, (), False),
    ("contoso.com", ["*.contoso.com"], None, (), False),
    ("ml.contoso.com", ["*.com"], None, (), False),  # a wildcard needs two labels after it
    ("ml.contoso.com", ["m*.contoso.com"], None, (), False),  # partial-label wildcards are not honoured
    ("ml.contoso.com", ["*.*.com"], None, (), False),
    ("ml.contoso.com", ["ml.*.com"], None, (), False),
    ("ml.contoso.com", [], "ml.contoso.com", (), True),
    ("ml.contoso.com", [], "*.contoso.com", (), True),
    ("ml.contoso.com", ["x.contoso.com"], "ml.contoso.com", (), False),
    ("ml.contoso.com", [], None, (), False),
    ("ml.contoso.com", [""], "ml.contoso.com", (), False),
    ("10.0.0.1", [], None, ("10.0.0.1",), True),
    ("10.0.0.1", ["10.0.0.1"], "10.0.0.1", (), False),
    ("::1", [], None, ("0:0:0:0:0:0:0:1",), True),
    ("", ["ml.contoso.com"], None, (), False),
])
def test_cname_matches(cname, dns_names, subject_cn, ips, expected):
    assert cname_matches(cname, dns_names, subject_cn, ips) is expected


def test_cname_matches_three_argument_form():
    assert cname_matches("ml.contoso.com", ("*.contoso.com",), None)
    assert not cname_matches("10.0.0.1", (), "10.0.0.1")


# ----------------------------------------------------------------------------------------------
# validate_cname
# ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("value,expected", [
    ("ml.contoso.com", "ml.contoso.com"),
    ("ML.Contoso.COM.", "ml.contoso.com"),
    ("localhost", "localhost"),
    ("xn--bcher-kva.de", "xn--bcher-kva.de"),
    ("a-b.c-d.example", "a-b.c-d.example"),
    ("10.0.0.1", "10.0.0.1"),
    ("2001:DB8:0:0::1", "2001:db8::1"),
    ("a" * 63 + ".com", "a" * 63 + ".com"),
    (".".join(["a" * 63] * 3 + ["b" * 61]), ".".join(["a" * 63] * 3 + ["b" * 61])),
    ("123.contoso.com", "123.contoso.com"),
])
def test_validate_cname_accepts(value, expected):
    assert validate_cname(value) == expected


@pytest.mark.parametrize("value,fragment", [
    ("", "empty"),
    ("   ", "empty"),
    (None, "empty"),
    ("https://ml.contoso.com", "URL"),
    ("http://ml.contoso.com:8443/score", "URL"),
    ("ml.contoso.com:443", "port"),
    ("ml.contoso.com:abc", "':'"),
    ("ml.contoso.com/score", "path"),
    ("ml.contoso.com?x=1", "path"),
    ("ml contoso.com", "spaces"),
    (" ml.contoso.com", "spaces"),
    ("ml.contoso.com\n", "spaces"),
    ("*.contoso.com", "wildcard"),
    ("ml*.contoso.com", "wildcard"),
    ("a" * 64 + ".com", "63"),
    (".".join(["a" * 63] * 4), "253"),
    ("ml_1.contoso.com", "characters"),
    ("user@ml.contoso.com", "characters"),
    ("-ml.contoso.com", "hyphen"),
    ("ml-.contoso.com", "hyphen"),
    ("ml..contoso.com", "empty label"),
    (".contoso.com", "empty label"),
    ("bücher.de", "non-ASCII"),
    ("1.2.3.999", "IP address"),
    ("[::1]", "not a valid host name"),
    ("[::1]:443", "not a valid host name"),
    ("fe80::1%eth0", "not a valid host name"),
])
def test_validate_cname_rejects(value, fragment, labels):
    with pytest.raises(InvalidArgumentValueError) as info:
        validate_cname(value, labels[2])
    _check_error(info.value, [labels[2], fragment])


def test_validate_cname_default_label_and_idn_suggestion():
    with pytest.raises(InvalidArgumentValueError) as info:
        validate_cname("bücher.de")
    assert "--ssl-cname" in info.value.error_msg
    assert "xn--bcher-kva.de" in _rec(info.value)


def test_validate_cname_url_recommends_the_host():
    with pytest.raises(InvalidArgumentValueError) as info:
        validate_cname("https://user@ML.contoso.com:8443/score", "sslCname")
    assert "sslCname=ML.contoso.com" in _rec(info.value)


# ----------------------------------------------------------------------------------------------
# Recommendations really work (when the openssl CLI is installed)
# ----------------------------------------------------------------------------------------------

def _run(command, cwd):
    subprocess.run(command, shell=True, cwd=cwd, check=True, capture_output=True, timeout=30)


def _command_in(exc, prefix):
    for recommendation in exc.recommendations:
        if prefix in recommendation:
            return recommendation[recommendation.index(prefix):]
    raise AssertionError(f"no recommendation contains {prefix!r}")


@pytest.mark.skipif(not HAS_OPENSSL, reason="openssl CLI not installed")
def test_recommended_conversions_produce_accepted_files(tmp_path):
    files = make_tls_files(tmp_path, key_type="ec", chain=True)
    files.cert_path.write_bytes(_der_cert(files))
    exc = _reject(InvalidArgumentValueError, files.cert_path, files.key_path)
    _run(_command_in(exc, "openssl x509 -inform der"), tmp_path)
    assert _load(tmp_path / "cert.pem", files.key_path).chain_length == 1

    files = make_tls_files(tmp_path / "pfx", key_type="ec", chain=True)
    pfx = pkcs12.serialize_key_and_certificates(
        b"ml", cached_key("ec", "leaf"), x509.load_pem_x509_certificate(files.cert_pem), None,
        serialization.NoEncryption())
    files.key_path.write_bytes(pfx)
    exc = _reject(InvalidArgumentValueError, files.cert_path, files.key_path)
    _run(_command_in(exc, "openssl pkcs12") + " -passin pass:", tmp_path / "pfx")
    assert _load(files.cert_path, tmp_path / "pfx" / "key.pem").key_type == "EC secp256r1"


@pytest.mark.skipif(not HAS_OPENSSL, reason="openssl CLI not installed")
@pytest.mark.parametrize("key_type,key_format", [("rsa", "pkcs8"), ("rsa", "pkcs1"), ("ec", "sec1")])
def test_recommended_passphrase_removal_works(tmp_path, key_type, key_format):
    files = make_tls_files(tmp_path, key_type=key_type, key_format=key_format, passphrase="pw", chain=True)
    exc = _reject(InvalidArgumentValueError, files.cert_path, files.key_path)
    command = exc.recommendations[0].split(": ", 1)[1]
    _run(command + " -passin pass:pw", tmp_path)
    assert _load(files.cert_path, tmp_path / "key-nopass.pem").chain_length == 3


@pytest.mark.skipif(not HAS_OPENSSL, reason="openssl CLI not installed")
@pytest.mark.parametrize("cert_type,key_type", [("rsa", "rsa"), ("ec", "ec"), ("ec", "rsa"), ("rsa", "ec")])
def test_recommended_public_key_commands_show_the_mismatch(tmp_path, cert_type, key_type):
    """The comparison offered runs for every key type and shows that the two differ."""
    files = make_tls_files(tmp_path, key_type=cert_type, mismatched_key=True)
    if key_type != cert_type:
        files.key_path.write_bytes(make_tls_files(tmp_path / "other", key_type=key_type).key_pem)
    exc = _reject(InvalidArgumentValueError, files.cert_path, files.key_path)
    assert "-modulus" not in _rec(exc)
    line = _command_in(exc, "openssl x509 -noout -pubkey")
    first, second = line.split(" and ", 1)
    second = second.split(" (", 1)[0]
    outputs = [subprocess.run(c, shell=True, check=True, capture_output=True, timeout=30).stdout
               for c in (first, second)]
    assert outputs[0] != outputs[1]


# ----------------------------------------------------------------------------------------------
# Property: arbitrary contents never escape as anything but an AzCLIError
# ----------------------------------------------------------------------------------------------

_SAMPLE_DIR = Path(tempfile.mkdtemp(prefix="amlk8s-tls-sample-"))
_SAMPLE = make_tls_files(_SAMPLE_DIR, key_type="ec", chain=True)


def _mutations():
    pems = st.sampled_from([_SAMPLE.cert_pem, _SAMPLE.key_pem, _SAMPLE.cert_pem + _SAMPLE.key_pem])

    def mutate(args):
        pem, position, replacement, cut = args
        position %= len(pem)
        mutated = pem[:position] + replacement + pem[position + len(replacement):]
        return mutated[: len(mutated) - cut] if cut else mutated

    return st.tuples(pems, st.integers(min_value=0), st.binary(max_size=8), st.integers(0, 64)).map(mutate)


_CONTENTS = st.one_of(
    st.binary(max_size=2048),
    st.text(max_size=512).map(lambda t: t.encode("utf-8")),
    st.lists(st.sampled_from([b"-----BEGIN CERTIFICATE-----\n", b"-----END CERTIFICATE-----\n",
                              b"-----BEGIN PRIVATE KEY-----\n", b"-----END PRIVATE KEY-----\n",
                              b"MIIBIjANBgkqhkiG9w0BAQEFAAOC\n", b"Proc-Type: 4,ENCRYPTED\n", b"\xff\x00\r\n"]),
             max_size=12).map(b"".join),
    _mutations(),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cert=_CONTENTS, key=_CONTENTS, cname=st.one_of(st.none(), st.just("ml.contoso.com"), st.text(max_size=30)))
def test_arbitrary_contents_give_material_or_an_az_cli_error(cert, key, cname):
    with tempfile.TemporaryDirectory() as directory:
        cert_path, key_path = Path(directory, "c.pem"), Path(directory, "k.pem")
        cert_path.write_bytes(cert)
        key_path.write_bytes(key)
        try:
            material = load_tls_material(str(cert_path), str(key_path), cname)
        except AzCLIError as exc:
            assert exc.error_msg and exc.error_msg[0].isupper() and "\n" not in exc.error_msg
            assert exc.recommendations
            assert_no_secrets(" ".join([exc.error_msg] + exc.recommendations), _SAMPLE.secret_fragments())
        else:
            assert isinstance(material, TlsMaterial)
            assert base64.b64decode(material.cert_b64) == cert
            assert_no_secrets(repr(material) + " ".join(material.warnings), _SAMPLE.secret_fragments())
