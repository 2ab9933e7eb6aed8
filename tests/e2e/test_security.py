"""Secrets never leak, and the suite cannot reach past loopback.

Every az call of a test is collected (stdout + stderr) and scanned, together with the emulator's request log file
and what pytest captured, for every secret in play: the PEM key's lines, the key's base64, the certificate's
base64 (``TlsFiles.secret_fragments()``), every protected value and relay key/connection string the emulator holds
(``emu.secret_values()``), and the secrets a test passes itself. The protected PUT/PATCH and the relay listKeys
are sent with logging disabled, so azure-cli's ``--debug`` body log skips exactly those requests.

One leak is outside the extension's reach: with ``--debug`` azure-cli (knack) logs the raw command line
("Command arguments: [...]") before any extension code runs, so a secret typed inline after
``--config-protected`` shows there. Tests assert it shows nowhere else; the help and README steer users to
``--config-protected-file`` and PEM file paths, which keep secrets off the command line.
"""

import json
import os
import secrets
import socket
import subprocess
import sys

import pytest

from tests.certs import SecretFragments, assert_no_secrets, make_tls_files

KNACK_ARGS_LINE = "DEBUG: cli.knack.cli: Command arguments:"
PLACEHOLDER = "<protected>"


class Scan:
    """Collects every az call's output and scans it, the emulator's log file and pytest's capture for secrets."""

    def __init__(self, az, emu, capfd, caplog):
        self.az, self.emu, self.capfd, self.caplog = az, emu, capfd, caplog
        self.outputs = []
        self.secrets = SecretFragments()

    def add(self, *fragments):
        self.secrets = self.secrets + [f for f in fragments if f]

    def fragments(self):
        return self.secrets + self.emu.secret_values()

    def run(self, command, expect=0, inline_secrets=()):
        """Run az; on an unexpected exit code fail with the output REDACTED (a plain failure would print it)."""
        result = self.az(command)
        self.outputs.append((result, tuple(inline_secrets)))
        if result.exit_code != expect:
            text = result.describe()
            for fragment in self.fragments() + list(inline_secrets):
                text = text.replace(fragment, "<secret>")
            pytest.fail(f"expected exit code {expect}, got {result.exit_code}\n{text}", pytrace=False)
        return result

    def check(self):
        fragments = self.fragments()
        assert len(fragments) >= 1
        for result, inline in self.outputs:
            output = result.stdout + result.stderr
            if inline:
                # Only azure-cli's own echo of the command line (under --debug) may show a secret typed inline.
                output = "\n".join(line for line in output.splitlines() if not line.startswith(KNACK_ARGS_LINE))
            assert_no_secrets(output, fragments + list(inline))
            if "--debug" not in result.args:         # --debug logs the stack of every error on purpose
                assert "Traceback" not in result.stderr
        if self.emu.log_path:
            assert_no_secrets(self.emu.log_path.read_text(encoding="utf-8"), fragments)
        captured = self.capfd.readouterr()
        assert_no_secrets(captured.out + captured.err + self.caplog.text, fragments)


@pytest.fixture
def scan(az, emu, capfd, caplog):
    return Scan(az, emu, capfd, caplog)


@pytest.fixture
def tls(tmp_path):
    return make_tls_files(tmp_path / "tls", "ml.contoso.com")


def debug_flag(debug):
    return ["--debug"] if debug else []


def assert_debug_log_is_on(result):
    """--debug really logged request and response bodies (so the scan is not vacuous)."""
    assert "Request URL:" in result.stderr and "Response content:" in result.stderr


def stored_protected(emu, cluster):
    return emu.extension(cluster)["properties"]["configurationProtectedSettings"]


# --- deploys ------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("debug", [False, True], ids=["plain", "debug"])
def test_an_https_deploy_with_pem_files_on_aks_leaks_nothing(scan, emu, tls, debug):
    scan.add(*tls.secret_fragments())
    result = scan.run(["amlk8s", "deploy", "-g", "rg-ml", "-c", "aks-prod", "-t", "aks", "--enable-inference", "true",
                       "--inference-router-service-type", "LoadBalancer", "--ssl-cname", tls.cname,
                       "--ssl-cert-pem-file", str(tls.cert_path), "--ssl-key-pem-file", str(tls.key_path),
                       *debug_flag(debug)])
    sent = stored_protected(emu, "aks-prod")            # the secrets did travel, protected
    assert sent["scoringFe.sslKey"] == tls.secret_fragments()[1] and sent["scoringFe.sslCert"]
    assert result.json["provisioningState"] == "Succeeded"
    if debug:
        assert_debug_log_is_on(result)
    scan.check()


@pytest.mark.parametrize("debug", [False, True], ids=["plain", "debug"])
def test_an_arc_deploy_that_creates_the_relay_and_reads_its_key_leaks_nothing(scan, emu, debug):
    result = scan.run(["amlk8s", "deploy", "-g", "rg-arc", "-c", "arc-k3s", "-t", "arc", "--enable-training", "true",
                       *debug_flag(debug)])
    assert [r for r in result.requests if r.is_list_keys and r.status == 200]
    connection = stored_protected(emu, "arc-k3s")["relayServerConnectionString"]
    assert connection in emu.secret_values() and "SharedAccessKey=" in connection
    if debug:
        assert_debug_log_is_on(result)
    scan.check()


# --- updates ------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("debug", [False, True], ids=["plain", "debug"])
def test_updates_rotating_tls_and_resupplying_the_relay_key_leak_nothing(scan, emu, tls, tmp_path, debug):
    scan.add(*tls.secret_fragments())
    # TLS rotation on aks-https: new certificate and key, sent protected.
    scan.run(["amlk8s", "update", "-g", "rg-ml", "-c", "aks-https", "-t", "aks", "--ssl-cert-pem-file",
              str(tls.cert_path), "--ssl-key-pem-file", str(tls.key_path), "--yes", *debug_flag(debug)])
    assert stored_protected(emu, "aks-https")["scoringFe.sslKey"] == tls.secret_fragments()[1]

    # A protected change on arc-with-ext: protected settings are replaced as a whole, so the relay's connection
    # string is read back (listKeys) and sent again with the new secret.
    relay_before = stored_protected(emu, "arc-with-ext")["relayServerConnectionString"]
    log_analytics = "DefaultEndpointsProtocol=https;AccountKey=" + secrets.token_urlsafe(32)
    scan.add(log_analytics)
    secret_file = tmp_path / "protected.json"
    secret_file.write_text(json.dumps({"azure_log_analytics.connection_string": log_analytics}))
    result = scan.run(["amlk8s", "update", "-g", "rg-arc", "-c", "arc-with-ext", "-t", "arc",
                       "--config-protected-file", str(secret_file), "--yes", *debug_flag(debug)])
    assert [r for r in result.requests if r.is_list_keys]
    after = stored_protected(emu, "arc-with-ext")
    assert after["azure_log_analytics.connection_string"] == log_analytics
    assert after["relayServerConnectionString"] == relay_before
    if debug:
        assert_debug_log_is_on(result)
    scan.check()


# --- dry runs -----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("debug", [False, True], ids=["plain", "debug"])
def test_dry_runs_show_only_placeholders(scan, emu, tls, tmp_path, debug):
    scan.add(*tls.secret_fragments())
    https = scan.run(["amlk8s", "deploy", "-g", "rg-ml", "-c", "aks-prod", "-t", "aks", "--enable-inference", "true",
                      "--inference-router-service-type", "NodePort", "--ssl-cname", tls.cname, "--ssl-cert-pem-file",
                      str(tls.cert_path), "--ssl-key-pem-file", str(tls.key_path), "--dry-run", *debug_flag(debug)])
    assert https.json["properties"]["configurationProtectedSettings"] == {"scoringFe.sslCert": PLACEHOLDER,
                                                                          "scoringFe.sslKey": PLACEHOLDER}
    # Bring-your-own relay on Arc, its connection string from a protected file.
    relay = emu.extension("arc-with-ext")["properties"]
    hc_id = relay["configurationSettings"]["relayserver.hybridConnectionResourceID"]
    protected_file = tmp_path / "relay.json"
    protected_file.write_text(json.dumps({
        "relayServerConnectionString": relay["configurationProtectedSettings"]["relayServerConnectionString"]}))
    arc = scan.run(["amlk8s", "deploy", "-g", "rg-arc", "-c", "arc-k3s", "-t", "arc", "--enable-training", "true",
                    "--config", f"relayserver.hybridConnectionResourceID={hc_id}", "--config-protected-file",
                    str(protected_file), "--dry-run", *debug_flag(debug)])
    protected = arc.json["properties"]["configurationProtectedSettings"]
    assert protected and set(protected.values()) == {PLACEHOLDER}
    assert https.writes == [] and arc.writes == []
    scan.check()


# --- error messages -----------------------------------------------------------------------------------------------

def test_error_messages_never_echo_protected_values(scan, emu, tls, tmp_path):
    scan.add(*tls.secret_fragments())
    key = secrets.token_urlsafe(33)
    hc_id = emu.extension("arc-with-ext")["properties"]["configurationSettings"][
        "relayserver.hybridConnectionResourceID"]
    deploy = ["amlk8s", "deploy", "-g", "rg-arc", "-c", "arc-k3s", "-t", "arc", "--enable-training", "true"]

    # A malformed relay connection string (no EntityPath), typed inline.
    malformed = f"Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=azureml_rw;SharedAccessKey={key}"
    bad = scan.run(deploy + ["--config", f"relayserver.hybridConnectionResourceID={hc_id}",
                             "--config-protected", f"relayServerConnectionString={malformed}"],
                   expect=1, inline_secrets=[key])
    assert "relayServerConnectionString" in bad.stderr
    # The same in --debug: the secret shows only in azure-cli's own echo of the command line.
    scan.run(deploy + ["--config", f"relayserver.hybridConnectionResourceID={hc_id}", "--config-protected",
                       f"relayServerConnectionString={malformed}", "--debug"], expect=1, inline_secrets=[key])
    # Bad KEY=VALUE items in --config-protected: a secret pasted without its name, or with an empty name.
    for item in (key, "=" + key, " =" + key):
        bad = scan.run(deploy + ["--config-protected", item], expect=1, inline_secrets=[key, key[:12]])
        assert "--config-protected" in bad.stderr
    # A protected file whose value has the wrong type, and one that is cut off.
    for name, text in (("list.json", json.dumps({"relayServerConnectionString": [malformed]})),
                       ("cut.json", '{"relayServerConnectionString": "' + malformed)):
        path = tmp_path / name
        path.write_text(text)
        scan.add(key)
        bad = scan.run(deploy + ["--config-protected-file", str(path), "--debug"], expect=1)
        assert "--config-protected-file" in bad.stderr
    # PEM files swapped, and a key where the certificate should be: TLS errors name the file, not its content.
    https = ["amlk8s", "deploy", "-g", "rg-ml", "-c", "aks-prod", "-t", "aks", "--enable-inference", "true",
             "--inference-router-service-type", "NodePort", "--ssl-cname", tls.cname, "--debug"]
    for cert, pem_key in ((tls.key_path, tls.cert_path), (tls.key_path, tls.key_path)):
        bad = scan.run(https + ["--ssl-cert-pem-file", str(cert), "--ssl-key-pem-file", str(pem_key)], expect=1)
        assert "--ssl-cert-pem-file" in bad.stderr or "--ssl-key-pem-file" in bad.stderr
    assert emu.writes() == []
    scan.check()


# --- isolation ----------------------------------------------------------------------------------------------------

OUTSIDE = [("1.1.1.1", 443), ("8.8.8.8", 53), ("20.50.2.1", 443), ("169.254.169.254", 80), ("10.0.0.1", 443)]
PROBE = """
import socket, sys
for host, port in {outside!r}:
    try:
        socket.create_connection((host, port), timeout=2).close()
    except OSError:
        continue
    sys.exit('reached %s:%d' % (host, port))
"""


@pytest.mark.skipif(not os.environ.get("AMLK8S_NETNS"), reason="not in the loopback-only network namespace "
                                                               "(python -m tests.isolated -m pytest ..., as root)")
def test_inside_the_namespace_nothing_but_loopback_is_reachable(emu):
    assert [name for _, name in socket.if_nameindex()] == ["lo"]
    for host, port in OUTSIDE:
        with pytest.raises(OSError):
            socket.create_connection((host, port), timeout=2).close()
    # Child processes (az) inherit the namespace.
    probe = subprocess.run([sys.executable, "-c", PROBE.format(outside=OUTSIDE)], capture_output=True, text=True,
                           timeout=60, check=False)
    assert probe.returncode == 0, probe.stderr
    # Loopback works: the emulator answers.
    socket.create_connection(("127.0.0.1", emu.port), timeout=2).close()
