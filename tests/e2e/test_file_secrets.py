"""Nothing az read from a file reaches an error, a warning, a table or a log.

az expands an argument ``@FILE`` (and ``KEY=@FILE``) into the file's content before amlk8s sees it, so a message
that names where a value came from by quoting the argument would quote the file: a relay connection string, a PEM
private key, a kubeconfig's token. Each test below puts a secret in the files of one file-taking argument, drives
every error (and warning) path that names that argument, as ``@FILE`` and as a plain path, with and without
``--debug``, on each command that takes it, and asserts: the expected exit code, no traceback (without ``--debug``),
no write, and no fragment of the secret in stdout, stderr, the emulator's log, nor in any file az wrote under its
config dir (``commands/*.log``) or HOME.
"""

import base64
import json
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, Sequence, Tuple, Union

import pytest
from cryptography.hazmat.primitives import serialization

from tests.certs import SecretFragments, assert_no_secrets, make_tls_files
from tests.e2e.test_security import Scan
from tests.emulator import SUBSCRIPTION_ID as SUB

HC_ID = f"/subscriptions/{SUB}/resourceGroups/rg-ml/providers/Microsoft.Relay/namespaces/ns/hybridConnections/hc"
WORKSPACE = f"/subscriptions/{SUB}/resourceGroups/rg-ml/providers/Microsoft.MachineLearningServices/workspaces/ws1"
AKS_PROD = f"/subscriptions/{SUB}/resourceGroups/rg-ml/providers/Microsoft.ContainerService/managedClusters/aks-prod"

DEPLOY = ("amlk8s", "deploy", "-g", "rg-ml", "-c", "aks-prod", "-t", "aks", "--arm-only")
DRY_RUN = DEPLOY + ("--dry-run",)
CHECK = ("amlk8s", "check", "-g", "rg-ml", "-c", "aks-prod", "-t", "aks", "--arm-only")
UPDATE = ("amlk8s", "update", "-g", "rg-ml", "-c", "aks-with-ext", "-t", "aks", "--yes")
UPDATE_HTTPS = ("amlk8s", "update", "-g", "rg-ml", "-c", "aks-https", "-t", "aks", "--yes")
SETTINGS_COMMANDS = {"deploy": DEPLOY, "dry-run": DRY_RUN, "check": CHECK, "update": UPDATE}
PEM_COMMANDS = {"deploy": DEPLOY, "dry-run": DRY_RUN, "check": CHECK, "update": UPDATE_HTTPS}
# A case that only warns succeeds: only the commands that write nothing then.
READ_ONLY = ("dry-run", "check")

FORMS = ("@file", "path")


@dataclass
class Secrets:
    """The secrets of one test: a relay connection string (and its key), and a PEM key pair."""
    key: str
    connection: str
    tls: object
    other_key_pem: bytes
    fragments: SecretFragments = field(default_factory=SecretFragments)


@pytest.fixture
def secret(tmp_path):
    key = base64.b64encode(secrets.token_bytes(32)).decode("ascii")
    connection = f"Endpoint=sb://x.servicebus.windows.net/;SharedAccessKeyName=k;SharedAccessKey={key}"
    tls = make_tls_files(tmp_path / "tls", "ml.contoso.com")
    other = make_tls_files(tmp_path / "other", "ml.contoso.com", mismatched_key=True)
    fragments = SecretFragments([connection, key, key.rstrip("="), key[:24]]) + tls.secret_fragments()
    fragments += other.secret_fragments()[1:]
    return Secrets(key, connection, tls, other.key_pem, SecretFragments(dict.fromkeys(fragments)))


@dataclass
class Case:
    """One error path: the files it writes, the arguments (``ref(name)`` gives the file as the form asks), the exit
    code, and the commands it runs on."""
    name: str
    files: Dict[str, Union[str, bytes]]
    args: Callable[[Callable[[str], str]], Sequence[str]]
    expect: int = 1
    commands: Tuple[str, ...] = ("deploy", "dry-run", "check", "update")
    forms: Tuple[str, ...] = FORMS


class FileScan(Scan):
    """``Scan`` that records every call instead of failing at the first, and also scans what az wrote on disk."""

    def __init__(self, az, emu, capfd, caplog, fragments):
        super().__init__(az, emu, capfd, caplog)
        self.add(*fragments)
        self.problems = []
        self._seen = {}

    def _written(self):
        """Files under az's config dir and HOME that are new or changed since the last call."""
        changed = []
        for root in (self.az.config_dir, self.az.home):
            for folder, _, names in os.walk(root):
                for name in names:
                    path = Path(folder) / name
                    try:
                        stamp = path.stat()
                    except OSError:
                        continue
                    key = (stamp.st_mtime_ns, stamp.st_size)
                    if self._seen.get(path) != key:
                        self._seen[path] = key
                        changed.append(path)
        return changed

    def call(self, label, command, expect):
        self._written()
        result = self.az(list(command))
        fragments = self.fragments()
        problems = []
        if result.exit_code != expect:
            problems.append(f"exit code {result.exit_code}, expected {expect}")
        if result.writes:
            problems.append(f"{len(result.writes)} write request(s)")
        if "--debug" not in command and "Traceback" in result.stderr:
            problems.append("a traceback")
        for stream, text in (("stdout", result.stdout), ("stderr", result.stderr)):
            try:
                assert_no_secrets(text, fragments)
            except AssertionError as ex:
                problems.append(f"{stream}: {ex}")
        for path in self._written():
            try:
                assert_no_secrets(path.read_bytes(), fragments)
            except AssertionError as ex:
                problems.append(f"{path.relative_to(path.parents[1])}: {ex}")
        if problems:
            self.problems.append(f"{label}: " + "; ".join(problems))
        return result

    def drive(self, cases, commands, tmp_path):
        for case in cases:
            folder = tmp_path / "files" / case.name
            folder.mkdir(parents=True)
            paths = {}
            for name, content in case.files.items():
                paths[name] = folder / name
                if isinstance(content, bytes):
                    paths[name].write_bytes(content)
                else:
                    paths[name].write_text(content, encoding="utf-8")
            for form_index, form in enumerate(case.forms):
                def ref(name, form=form):
                    return ("@" if form == "@file" else "") + str(paths[name])
                runs = [(command, (form_index + index) % 2 == 1) for index, command in enumerate(case.commands)]
                if len(case.commands) == 1:
                    runs = [(case.commands[0], False), (case.commands[0], True)]
                elif form == "path":
                    # A plain path is never content: one command (with --debug) covers how the path is named.
                    runs = [(case.commands[form_index % len(case.commands)], True)]
                for command, debug in runs:
                    args = list(commands[command]) + list(case.args(ref)) + (["--debug"] if debug else [])
                    self.call(f"{case.name} [{form}, {command}{', --debug' if debug else ''}]", args, case.expect)

    def verify(self):
        assert not self.problems, "\n".join(self.problems)
        self.check()


@pytest.fixture
def scan(az, emu, capfd, caplog, secret):
    return FileScan(az, emu, capfd, caplog, secret.fragments)


def nested(depth, inner):
    return '{"a": ' * depth + json.dumps(inner) + "}" * depth


# --- --config-file --------------------------------------------------------------------------------------------------

def config_file_cases(s):
    conn, token = s.connection, "scoringFe.customToken"

    def given(name="s.json", *extra):
        return lambda ref: ["--config-file", ref(name), *extra]
    return [
        Case("secret-in-public",
             {"s.json": json.dumps({"enableTraining": "true", "relayServerConnectionString": conn})},
             given()),
        Case("duplicate-key", {"s.json": '{"enableTraining": "true", "%s": "%s", "enableTraining": "false"}'
                               % (token, conn)}, given()),
        Case("not-json", {"s.json": '{"enableTraining": "true", "%s": "%s' % (token, conn)}, given()),
        Case("not-an-object", {"s.json": json.dumps([conn, "enableTraining"])}, given()),
        Case("list-value", {"s.json": json.dumps({"enableTraining": "true", token: [conn]})}, given()),
        Case("too-deep", {"s.json": nested(3000, conn)}, given()),
        Case("one-line-not-json", {"s.json": conn}, given()),
        Case("unknown-setting", {"s.json": json.dumps({"enableTrainin": "true", token: conn})}, given()),
        Case("bad-value", {"s.json": json.dumps({"enableTraining": "maybe", token: conn})}, given()),
        Case("typed-flag-conflict", {"s.json": json.dumps({"enableTraining": "true", token: conn})},
             given("s.json", "--enable-training", "false")),
        Case("given-twice", {"s.json": json.dumps({"enableTraining": "true", token: conn})},
             given("s.json", "--config", "enableTraining=false")),
        Case("old-and-new-name", {"s.json": json.dumps({"enableTraining": "true", "inferenceLoadBalancerHA": "false",
                                                        "inferenceRouterHA": "true", token: conn})}, given()),
        Case("unsupported", {"s.json": json.dumps({"enableTraining": "true", "logAnalyticsWS": "true",
                                                   token: conn})}, given()),
        Case("public-and-protected", {"s.json": json.dumps({"enableTraining": "true", token: conn})},
             given("s.json", "--config-protected", f"{token}=x")),
        Case("inference-rule", {"s.json": json.dumps({
            "enableInference": "true", "inferenceRouterServiceType": "NodePort",
            "internalLoadBalancerProvider": "azure",
            "allowInsecureConnections": "true", token: conn})}, given()),
        Case("inference-setting-without-workload", {"s.json": json.dumps({"sslCname": "ml.contoso.com", token: conn})},
             given(), commands=("deploy", "dry-run", "check")),
        Case("relay-id-without-string", {"s.json": json.dumps({
            "enableTraining": "true", "relayserver.hybridConnectionResourceID": HC_ID, token: conn})}, given()),
        Case("bad-cname", {"s.json": json.dumps({
            "enableInference": "true", "inferenceRouterServiceType": "NodePort", "allowInsecureConnections": "true",
            "sslCname": "https://ml.contoso.com/", token: conn})}, given()),
        Case("warnings-only", {"s.json": json.dumps({"enableTraining": "true", "volumePluginDir": "/x",
                                                     "inferenceLoadBalancerHA": "false", "sslCname": "ml.contoso.com",
                                                     token: conn})}, given(), expect=0, commands=("check",)),
    ]


def test_config_file_content_is_never_quoted(scan, secret, tmp_path):
    scan.drive(config_file_cases(secret), SETTINGS_COMMANDS, tmp_path)
    scan.verify()


# --- --config-protected-file ----------------------------------------------------------------------------------------

def protected_file_cases(s):
    conn, full = s.connection, s.connection + ";EntityPath=hc"
    relay = "relayServerConnectionString"

    def given(name="p.json", *extra):
        return lambda ref: ["--enable-training", "true", "--config-protected-file", ref(name), *extra]
    with_hc = ("--config", f"relayserver.hybridConnectionResourceID={HC_ID}")
    return [
        Case("unknown-setting", {"p.json": json.dumps({"relayServerConnectionStrin": full})}, given()),
        Case("malformed-relay-string", {"p.json": json.dumps({relay: conn})}, given("p.json", *with_hc)),
        Case("relay-string-without-id", {"p.json": json.dumps({relay: full})}, given()),
        Case("other-hybrid-connection", {"p.json": json.dumps({relay: conn + ";EntityPath=other"})},
             given("p.json", *with_hc)),
        Case("alias-conflict", {"p.json": json.dumps({relay: full, "relayserver.relayConnectionString": full + "x"})},
             given("p.json", *with_hc)),
        Case("duplicate-key", {"p.json": '{"%s": "%s", "%s": "%s"}' % (relay, full, relay, conn)}, given()),
        Case("not-json", {"p.json": '{"%s": "%s' % (relay, full)}, given()),
        Case("not-an-object", {"p.json": json.dumps([full])}, given()),
        Case("list-value", {"p.json": json.dumps({relay: [full]})}, given()),
        Case("too-deep", {"p.json": nested(3000, full)}, given()),
        Case("one-line-not-json", {"p.json": full}, given()),
        Case("given-twice", {"p.json": json.dumps({relay: full, "scoringFe.customToken": "a"})},
             given("p.json", "--config-protected", "scoringFe.customToken=b")),
        Case("public-and-protected", {"p.json": json.dumps({relay: full, "scoringFe.customToken": "a"})},
             given("p.json", "--config", "scoringFe.customToken=a")),
        Case("not-secret-moved-to-public", {"p.json": json.dumps({relay: full, "enableInference": "maybe"})},
             given("p.json", *with_hc)),
    ]


def test_config_protected_file_content_is_never_quoted(scan, secret, tmp_path):
    scan.drive(protected_file_cases(secret), SETTINGS_COMMANDS, tmp_path)
    scan.verify()


# --- PEM files: --ssl-cert-pem-file/--ssl-key-pem-file, and sslCertPemFile/sslKeyPemFile as settings -------------

HTTPS = ("--enable-inference", "true", "--inference-router-service-type", "NodePort", "--ssl-cname", "ml.contoso.com")


def pem_files(s):
    key = serialization.load_pem_private_key(s.tls.key_pem, None)
    der = key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    lines = s.tls.key_pem.decode("ascii").splitlines()
    return {"cert.pem": s.tls.cert_pem, "key.pem": s.tls.key_pem, "other-key.pem": s.other_key_pem,
            "key.der": der, "cut-key.pem": "\n".join(lines[:-1]) + "\n",
            "two-keys.pem": s.tls.key_pem + s.other_key_pem, "body-only.pem": "\n".join(lines[1:-1]) + "\n",
            "both.pem": s.tls.cert_pem + s.tls.key_pem}


def pem_cases(s, give):
    """The PEM error paths; ``give(ref, cert, key)`` passes the two files the way under test."""
    files = pem_files(s)

    def pair(cert, key, *extra, https=HTTPS):
        return lambda ref: [*https, *give(ref, cert, key), *extra]
    return [
        Case("mismatched-key", files, pair("cert.pem", "other-key.pem")),
        Case("swapped", files, pair("key.pem", "cert.pem")),
        Case("key-as-certificate", files, pair("key.pem", "key.pem")),
        Case("der-key", files, pair("cert.pem", "key.der")),
        Case("truncated-key", files, pair("cert.pem", "cut-key.pem")),
        Case("two-keys", files, pair("cert.pem", "two-keys.pem")),
        Case("key-without-pem-lines", files, pair("cert.pem", "body-only.pem")),
        Case("cname-not-in-certificate", files, pair("cert.pem", "key.pem", "--ssl-cname", "api.fabrikam.com")),
        Case("with-ssl-secret", files, pair("cert.pem", "key.pem", "--ssl-secret", "my-tls")),
        Case("https-off", files, pair("cert.pem", "key.pem", "--allow-insecure-connections", "true")),
        Case("inference-off-warning", files, pair("both.pem", "key.pem", https=("--enable-training", "true")),
             expect=0, commands=READ_ONLY),
    ]


def test_pem_flag_files_are_never_quoted(scan, secret, tmp_path):
    def flags(ref, cert, key):
        return ["--ssl-cert-pem-file", ref(cert), "--ssl-key-pem-file", ref(key)]
    cases = pem_cases(secret, flags)
    cases.append(Case("flag-and-setting", pem_files(secret), lambda ref: [
        *HTTPS, *flags(ref, "cert.pem", "key.der"), "--config-protected", "sslKeyPemFile=" + ref("key.pem")]))
    scan.drive(cases, PEM_COMMANDS, tmp_path)
    scan.verify()


def test_pem_files_given_as_protected_settings_are_never_quoted(scan, secret, tmp_path):
    def settings(ref, cert, key):
        return ["--config-protected", "sslCertPemFile=" + ref(cert), "sslKeyPemFile=" + ref(key)]
    scan.drive(pem_cases(secret, settings), PEM_COMMANDS, tmp_path)
    scan.verify()


def test_pem_files_named_in_a_protected_file_are_never_quoted(scan, secret, tmp_path):
    """The protected file names the PEM files and holds a secret; its content must not show, whatever the PEM."""
    def named(ref, cert, key):
        folder = Path(ref(cert).lstrip("@")).parent
        content = {"sslCertPemFile": str(folder / cert), "sslKeyPemFile": str(folder / key),
                   "azure_log_analytics.connection_string": secret.connection}
        (folder / "p.json").write_text(json.dumps(content), encoding="utf-8")
        return ["--config-protected-file", ref("p.json")]
    cases = pem_cases(secret, named)
    for case in cases:
        case.files = dict(case.files, **{"p.json": "{}"})
    scan.drive(cases, PEM_COMMANDS, tmp_path)
    scan.verify()


# --- --config KEY=@file ---------------------------------------------------------------------------------------------

def test_config_values_read_from_files_are_never_quoted(scan, secret, tmp_path):
    conn = secret.connection
    files = {"conn.txt": conn, "two-lines.txt": conn + "\n" + conn}
    cases = [
        Case(f"{what}-{name}", files, lambda ref, key=key, name=name, extra=extra: [
            *extra, "--config", f"{key}=" + ref(name)], forms=("@file",))
        for name in files
        for what, key, extra in (
            ("bool", "enableTraining", ()),
            ("enum", "inferenceRouterServiceType", ("--enable-inference", "true", "--allow-insecure-connections",
                                                    "true")),
            ("cname", "sslCname", ("--enable-inference", "true", "--inference-router-service-type", "NodePort")),
            ("secret-name", "sslSecret", ("--enable-inference", "true", "--inference-router-service-type",
                                          "NodePort", "--ssl-cname", "ml.contoso.com")),
            ("relay-id", "relayserver.hybridConnectionResourceID", ("--enable-training", "true")),
            ("node-selector", "nodeSelector.pool", ("--enable-training", "true")),
        )]
    scan.drive(cases, SETTINGS_COMMANDS, tmp_path)
    scan.verify()


# --- --ids @file ----------------------------------------------------------------------------------------------------

def test_ids_files_are_never_quoted(scan, secret, tmp_path):
    conn, key = secret.connection, secret.key
    commands = {"deploy": ("amlk8s", "deploy", "--arm-only", "--enable-training", "true"),
                "dry-run": ("amlk8s", "deploy", "--arm-only", "--enable-training", "true", "--dry-run"),
                "check": ("amlk8s", "check", "--arm-only"), "update": ("amlk8s", "update", "--yes")}
    cases = [
        Case(name, {"ids.txt": content}, lambda ref: ["--ids", ref("ids.txt")], forms=("@file",))
        for name, content in (("secret-line", f"{AKS_PROD}\n{conn}\n"), ("one-line", conn),
                              ("bare-key", f"{AKS_PROD}\n{key}\n"), ("key-in-id", f"{AKS_PROD}/{key}\n"))]
    scan.drive(cases, commands, tmp_path)
    scan.verify()


# --- --kube-config @file --------------------------------------------------------------------------------------------

def kubeconfig(token, context="c", current="c"):
    return (f"apiVersion: v1\nkind: Config\ncurrent-context: {current}\nclusters:\n- name: k\n  cluster:\n"
            f"    server: https://127.0.0.1:9\ncontexts:\n- name: {context}\n  context:\n    cluster: k\n    user: u\n"
            f"users:\n- name: u\n  user:\n    token: {token}\n")


def test_kubeconfig_files_are_never_quoted(scan, secret, tmp_path):
    key = secret.key
    commands = {"deploy": DEPLOY[:-1] + ("--enable-training", "true"),
                "check": CHECK[:-1],
                "verify": ("amlk8s", "verify", "-g", "rg-ml", "-c", "aks-with-ext", "-t", "aks"),
                "attach": ("amlk8s", "attach", "-g", "rg-ml", "-c", "aks-with-ext", "-t", "aks", "--workspace",
                           WORKSPACE, "--compute-name", "k8s-new")}
    given = ("deploy", "check", "verify", "attach")
    cases = [
        Case("not-yaml", {"k.yaml": kubeconfig(key) + "  - [\n"}, lambda ref: ["--kube-config", ref("k.yaml")],
             commands=given),
        Case("no-contexts", {"k.yaml": f"apiVersion: v1\nusers:\n- name: u\n  user:\n    token: {key}\n"},
             lambda ref: ["--kube-config", ref("k.yaml")], commands=given),
        Case("no-current-context", {"k.yaml": kubeconfig(key, current='""')},
             lambda ref: ["--kube-config", ref("k.yaml")], commands=given),
        Case("unknown-context", {"k.yaml": kubeconfig(key)},
             lambda ref: ["--kube-config", ref("k.yaml"), "--kube-context", "nope"], commands=given),
        Case("one-line", {"k.yaml": key}, lambda ref: ["--kube-config", ref("k.yaml")], commands=given),
    ]
    scan.drive(cases, commands, tmp_path)
    scan.verify()


# --- attach and detach ----------------------------------------------------------------------------------------------

def test_attach_arguments_read_from_files_are_never_quoted(scan, secret, tmp_path):
    conn, key = secret.connection, secret.key
    files = {"conn.txt": conn, "key.txt": key, "two-lines.txt": f"{conn}\n{key}"}
    attach = ("amlk8s", "attach", "-g", "rg-ml", "-c", "aks-with-ext", "-t", "aks", "--arm-only")
    detach = ("amlk8s", "detach", "--yes")
    commands = {"attach": attach, "detach": detach}
    cases = []
    for name in files:
        cases += [
            Case(f"workspace-{name}", files,
                 lambda ref, name=name: ["--workspace", ref(name), "--compute-name", "k8s-new"], forms=("@file",),
                 commands=("attach", "detach")),
            Case(f"compute-name-{name}", files,
                 lambda ref, name=name: ["--workspace", WORKSPACE, "--compute-name", ref(name)], forms=("@file",),
                 commands=("attach", "detach")),
            Case(f"namespace-{name}", files, lambda ref, name=name: [
                "--workspace", WORKSPACE, "--compute-name", "k8s-new", "--namespace", ref(name)],
                forms=("@file",), commands=("attach",)),
            Case(f"identity-{name}", files, lambda ref, name=name: [
                "--workspace", WORKSPACE, "--compute-name", "k8s-new", "--identity-type", "UserAssigned",
                "--user-assigned-identity", ref(name)], forms=("@file",), commands=("attach",)),
        ]
    scan.drive(cases, commands, tmp_path)
    scan.verify()
