"""End to end, with the real az on the emulator: what a new user and the live service's bodies found (issue 14).

One test (or a small table of them) per class: the seed's limitations ARM shows (pod identity, proxy or firewall,
local accounts by default), secrets and values echoed back (az's @file expansion, defaults' wrappers), verdicts that
must not say Healthy (offline/stopped clusters, two AzureML extensions), inputs that would fail later (versions,
duplicate keys, legacy keys, names, your own relay), fixes that must run as printed, relay cleanup, output
vocabulary, faults around the write, and tab completion. Each asserts the exit code, the message, and no write
where amlk8s refuses.
"""
# pylint: disable=missing-docstring,redefined-outer-name

import json
import re
import shlex
import subprocess
import time

import pytest

from tests.certs import assert_no_secrets
from tests.e2e.harness import check_rows, refused
from tests.emulator import scenarios

PROD = "-g rg-ml -c aks-prod -t aks"
POC = ["--enable-training", "true"]


# --- the seed's limitations that ARM shows ------------------------------------------------------------------------

def test_pod_identity_blocks_check_and_deploy_with_the_fix(az):
    result = az("amlk8s check -g rg-ml -c aks-podid -t aks")
    assert result.exit_code == 1, result.describe()
    row = check_rows(result)["pod-identity"]
    assert row["status"] == "fail" and "pod identity" in row["finding"]
    assert "--disable-pod-identity" in row["fix"] and "--enable-workload-identity" in row["fix"]
    assert "pod-identity" in result.stderr
    refused(az("amlk8s deploy -g rg-ml -c aks-podid -t aks --enable-training true"), 1)


@pytest.mark.parametrize("cluster,expected", [
    ("aks-proxy", "proxy.contoso.com"), ("aks-udr", "userDefinedRouting"), ("aks-private", "private")])
def test_an_outbound_proxy_or_firewall_is_a_warning_naming_the_network_requirements(az, cluster, expected):
    result = az(f"amlk8s check -g rg-ml -c {cluster} -t aks")
    row = check_rows(result)["outbound-network"]
    assert row["status"] == "warning" and expected in row["finding"], row
    assert "how-to-access-azureml-behind-firewall" in row["fix"]
    if cluster == "aks-proxy":
        assert "localhost and 127.0.0.1 in noProxy" in row["fix"]
    assert check_rows(az(f"amlk8s check {PROD}"))["outbound-network"]["status"] == "pass"


def test_local_accounts_absent_from_the_body_means_enabled(az):
    row = check_rows(az("amlk8s check -g rg-ml -c aks-legacy-body -t aks", expect=0))["local-accounts"]
    assert row["status"] == "pass", row


# --- secrets and values echoed back -------------------------------------------------------------------------------

def _command_logs(az):
    folder = az.config_dir / "commands"
    return "".join(p.read_text(encoding="utf-8", errors="replace") for p in folder.glob("*.log")) \
        if folder.is_dir() else ""


def test_at_file_arguments_are_read_as_the_file_and_never_echoed(az, emu, tmp_path):
    connection = ("Endpoint=sb://mine.servicebus.windows.net/;SharedAccessKeyName=azureml_rw;"
                  "SharedAccessKey=U2VjcmV0S2V5Rm9yVGVzdHNPbmx5MTIzNDU2Nzg5MA==;EntityPath=arc-k3s")
    broken = tmp_path / "prot.json"
    broken.write_text('{"relayServerConnectionString": "' + connection + '",}\n', encoding="utf-8")
    result = az(["amlk8s", "deploy", "-g", "rg-arc", "-c", "arc-k3s", "-t", "arc", "--enable-training", "true",
                 "--config-protected-file", "@" + str(broken)])
    refused(result)
    said = " ".join(result.stderr.split()).lower()
    assert "is not json" in said and "the file given to --config-protected-file (az read it from @file)" in said
    assert_no_secrets(result.output + _command_logs(az), ["U2VjcmV0S2V5Rm9yVGVzdHNPbmx5MTIzNDU2Nzg5MA=="])
    assert (az.config_dir / "commands").is_dir(), "az keeps a command log; the scan must not be vacuous"

    good = tmp_path / "settings.json"
    good.write_text('{"enableTraining": "true"}\n', encoding="utf-8")
    dry = az(["amlk8s", "deploy", "-g", "rg-ml", "-c", "aks-prod", "-t", "aks", "--config-file", "@" + str(good),
              "--dry-run"], expect=0)
    assert dry.json["properties"]["configurationSettings"]["enableTraining"] == "true"


def test_pem_files_given_with_at_are_taken_as_their_content(az, emu, tmp_path):
    from tests.certs import make_tls_files
    tls = make_tls_files(tmp_path / "tls", "ml.contoso.com")
    result = az(["amlk8s", "deploy", "-g", "rg-ml", "-c", "aks-prod", "-t", "aks", "--enable-inference", "true",
                 "--inference-router-service-type", "LoadBalancer", "--ssl-cname", "ml.contoso.com",
                 "--config-protected", "sslCertPemFile=@" + str(tls.cert_path), "sslKeyPemFile=@" + str(tls.key_path),
                 "--verbose"], expect=0)
    stored = emu.extension("aks-prod")["properties"]["configurationProtectedSettings"]
    assert stored["scoringFe.sslKey"] and stored["scoringFe.sslCert"]
    assert_no_secrets(result.output + _command_logs(az), tls.secret_fragments())


@pytest.mark.parametrize("command,query", [
    ("amlk8s deploy -g rg-ml -c aks-prod -t aks --enable-training true --dry-run", "name"),
    ("amlk8s show -g rg-ml -c aks-with-ext -t aks", "name"),
    ("amlk8s verify -g rg-ml -c aks-with-ext -t aks", "name"),
])
def test_defaults_reach_the_output_as_plain_values(az, command, query):
    result = az(f"{command} --query {query} -o json", expect=0)
    assert result.json == "azureml", result.describe()
    assert "isDefault" not in result.stdout


# --- verdicts that must not say Healthy --------------------------------------------------------------------------

@pytest.mark.parametrize("args,code", [("-g rg-arc -c arc-offline-ext -t arc", "cluster-offline"),
                                       ("-g rg-ml -c aks-stopped -t aks", "cluster-stopped")])
def test_verify_reads_the_cluster_and_calls_a_stale_verdict_stale(az, args, code):
    result = az(f"amlk8s verify {args}")
    assert result.exit_code == 1, result.describe()
    assert result.json["verdict"] == "Stale" and result.json["provisioningState"] == "Succeeded"
    finding = next(f for f in result.json["findings"] if f["code"] == code)
    assert finding["level"] == "error" and finding["fix"]
    assert "Healthy" not in result.stderr


def test_verify_refuses_healthy_when_a_second_azureml_extension_exists(az):
    result = az("amlk8s verify -g rg-ml -c aks-two-azureml -t aks")
    assert result.exit_code == 1 and result.json["verdict"] != "Healthy", result.describe()
    finding = next(f for f in result.json["findings"] if f["code"] == "duplicate-extension")
    assert "azureml-second" in finding["diagnosis"] and "az amlk8s delete" in finding["fix"]


def test_two_deploys_at_once_with_different_names_are_caught_after_the_put(az, emu):
    emu.settings(polls=40)
    proc = az.popen(f"amlk8s deploy {PROD} -n azureml --enable-training true -o json")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not [r for r in emu.writes() if r.method == "PUT"]:
        time.sleep(0.05)
    other = scenarios.extension(emu.cluster_id("aks-prod"), "azureml-rival", scenarios.AZUREML_TYPE, "1.1.88",
                                namespace="azureml", settings={"enableTraining": "true"})
    emu.put_resource(other["id"], other)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 1, out + err
    assert "azureml-rival" in err and "only" in err and "az amlk8s delete" in err


# --- inputs accepted that would fail later ------------------------------------------------------------------------

def test_a_version_that_does_not_exist_is_refused_before_any_write(az, emu):
    result = refused(az(f"amlk8s deploy {PROD} --enable-training true --auto-upgrade-minor-version false "
                        "--version 9.9.9"), 1)
    assert "9.9.9" in result.stderr and "1.1.88" in result.stderr and "stable" in result.stderr
    assert any("extensionTypes" in r.path for r in result.requests)
    ok = az(f"amlk8s deploy {PROD} --enable-training true --auto-upgrade-minor-version false --version 1.1.86",
            expect=0)
    assert ok.json["version"] == "1.1.86"
    preview = refused(az(f"amlk8s update {PROD} --version 1.1.89"), 1)
    assert "1.1.89" in preview.stderr and "1.1.88" in preview.stderr
    assert az(f"amlk8s update {PROD} --release-train preview --version 1.1.89", expect=0).json["version"] == "1.1.89"


def test_duplicate_keys_in_a_settings_file_are_refused(az, tmp_path):
    settings = tmp_path / "dup.json"
    settings.write_text('{"enableTraining": "true", "enableTraining": "false"}', encoding="utf-8")
    result = refused(az(f"amlk8s deploy {PROD} --config-file {settings}"), 1)
    assert "enableTraining is given twice" in result.stderr
    assert result.requests == [] or all(r.method == "GET" or r.kind == "token" for r in result.requests)


def test_privateendpointilb_maps_like_its_sibling_with_a_warning_naming_it(az):
    result = az(f"amlk8s deploy {PROD} --config enableInference=True privateEndpointILB=True "
                "allowInsecureConnections=True --dry-run", expect=0)
    settings = result.json["properties"]["configurationSettings"]
    assert settings["internalLoadBalancerProvider"] == "azure"
    assert settings["inferenceRouterServiceType"] == "LoadBalancer"
    assert "privateEndpointILB" in result.stderr and "internalLoadBalancerProvider=azure" in result.stderr
    sibling = az(f"amlk8s deploy {PROD} --config enableInference=True privateEndpointNodeport=True "
                 "allowInsecureConnections=True --dry-run", expect=0)
    assert sibling.json["properties"]["configurationSettings"]["inferenceRouterServiceType"] == "NodePort"
    assert "privateEndpointNodeport" in sibling.stderr


@pytest.mark.parametrize("name", ["ml$(id)", "AzureML", "9lives", "x" * 54, "ml.ext", "ml-"])
def test_extension_names_the_service_would_refuse_never_reach_the_put(az, name):
    result = refused(az(["amlk8s", "deploy", "-g", "rg-ml", "-c", "aks-prod", "-t", "aks", "-n", name,
                         "--enable-training", "true"]))
    assert "--name" in result.stderr and "not a valid extension name" in result.stderr
    if "$" in name:
        assert shlex.quote(name) in result.stderr


def test_your_own_relay_under_the_charts_key_is_used_and_never_replaced(az, emu, tmp_path):
    hc = ("/subscriptions/{}/resourceGroups/rg-arc/providers/Microsoft.Relay/namespaces/mine/hybridConnections/"
          "arc-k3s".format(emu.subscription_id))
    connection = ("Endpoint=sb://mine.servicebus.windows.net/;SharedAccessKeyName=azureml_rw;"
                  "SharedAccessKey=TXlPd25SZWxheUtleUZvclRlc3RzMTIzNDU2Nzg5MA==;EntityPath=arc-k3s")
    protected = tmp_path / "relay.json"
    protected.write_text(json.dumps({"relayserver.relayConnectionString": connection}), encoding="utf-8")
    result = az(["amlk8s", "deploy", "-g", "rg-arc", "-c", "arc-k3s", "-t", "arc", "--enable-training", "true",
                 "--config", "relayserver.hybridConnectionResourceID=" + hc, "--config-protected-file",
                 str(protected)], expect=0)
    assert not [w for w in result.writes if "Microsoft.Relay" in w.path], result.describe()
    stored = emu.extension("arc-k3s")["properties"]
    assert stored["configurationProtectedSettings"]["relayServerConnectionString"] == connection
    assert stored["configurationSettings"]["relayserver.hybridConnectionResourceID"] == hc

    alone = refused(az(["amlk8s", "deploy", "-g", "rg-arc", "-c", "arc-k3s", "-t", "arc", "--enable-training",
                        "true", "--config-protected-file", str(protected)]), 1)
    assert "relayserver.hybridConnectionResourceID" in alone.stderr and "relayServerConnectionString" in \
        alone.stderr
    assert_no_secrets(alone.output, ["TXlPd25SZWxheUtleUZvclRlc3RzMTIzNDU2Nzg5MA=="])


# --- fixes that must fix -------------------------------------------------------------------------------------------

def test_a_name_taken_by_another_extension_type_is_not_offered_ignore_check(az):
    result = refused(az("amlk8s deploy -g rg-ml -c aks-with-ext -t aks -n flux --enable-training true"), 1)
    assert "--ignore-check" not in result.stderr and "cannot change" in result.stderr
    ignored = refused(az("amlk8s deploy -g rg-ml -c aks-with-ext -t aks -n flux --enable-training true "
                         "--ignore-check existing-extension"), 1)
    assert "microsoft.flux" in ignored.stderr


def test_an_update_turning_off_the_last_workload_says_so(az):
    result = refused(az("amlk8s update -g rg-ml -c aks-with-ext -t aks --enable-training false "
                        "--enable-inference false --yes"), 1)
    assert "neither training nor inference" in result.stderr and "enableInference=True" not in result.stderr


def _printed_commands(text):
    """Every `az ...` command in the text, as shell words, up to the end of its clause (an unquoted ; ( ) or `, a
    word ending a sentence, or "then"/"or"). Raises ValueError when the rest of the line is not valid shell."""
    found = []
    for match in re.finditer(r"(?<![\w-])az (?:amlk8s|aks|k8s-extension|connectedk8s|provider|resource|relay)\b"
                             r"[^`\n]*", text):
        lexer = shlex.shlex(match.group(0), posix=True, punctuation_chars=";()")
        lexer.whitespace_split = True
        words = []
        for word in lexer:
            if word in (";", "(", ")", "then", "or", "and") or word.startswith(("(", ";")):
                break
            if word.endswith((".", ",", ":")) and not word.endswith(".."):
                words.append(word.rstrip(".,:"))
                break
            words.append(word)
        found.append(words)
    return found


def _strings(value):
    """Every string in a JSON value (the printed fixes and next steps live there, JSON-escaped in stdout)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


@pytest.fixture
def odd_group(emu):
    """A resource group whose name needs quoting in a shell (parentheses are valid in resource group names)."""
    group = "rg-ml(prod)"
    emu.put_resource(scenarios.rg_id(group), scenarios.resource_group(group, "eastus"))
    for body in (scenarios.aks_cluster("aks-tiny", rg=group, pools=[scenarios.pool("nodepool1", 1, "Standard_B2s")]),
                 scenarios.aks_cluster("aks-odd", rg=group, disable_local_accounts=True)):
        emu.put_resource(body["id"], body)
    return group


def test_every_printed_command_is_quoted_and_the_complete_ones_run(az, emu, odd_group):
    outputs = []
    for command in (["amlk8s", "check", "-g", odd_group, "-c", "aks-tiny", "-t", "aks", "--enable-inference", "true",
                     "--inference-router-service-type", "LoadBalancer", "--allow-insecure-connections", "true",
                     "--inference-router-ha", "true"],
                    ["amlk8s", "check", "-g", odd_group, "-c", "aks-odd", "-t", "aks"],
                    ["amlk8s", "verify", "-g", "rg-ml", "-c", "aks-failed", "-t", "aks"],
                    ["amlk8s", "verify", "-g", "rg-ml", "-c", "aks-stopped", "-t", "aks"]):
        result = az(command)
        assert "Traceback" not in result.stderr
        outputs.append("\n".join(_strings(result.json)) + "\n" + result.stderr)
    text = "\n".join(outputs)
    commands = _printed_commands(text)           # shlex raises if a printed command is not valid shell
    assert len(commands) > 10
    for words in commands:
        for flag in ("-g", "--resource-group"):
            if flag in words[:-1]:
                assert words[words.index(flag) + 1] in ("rg-ml", odd_group, "<resource-group>", "<workspace-rg>",
                                                        "<rg>"), words
    assert "-g rg-ml(prod)" not in text and "--resource-group rg-ml(prod)" not in text
    assert "'rg-ml(prod)'" in text
    complete = sorted({tuple(w) for w in commands if w[:2] == ["az", "amlk8s"] and w[2] in ("check", "verify", "show",
                                                                                            "list", "wait")
                       and not any("<" in word for word in w)})
    assert complete
    for words in complete[:8]:
        result = az(list(words[1:]) + ["--only-show-errors"], timeout=180)
        assert result.exit_code != 2 and "unrecognized arguments" not in result.stderr, result.describe()


def test_delete_cleanup_removes_relays_either_tool_tagged_and_never_an_untagged_one(az, emu):
    k8s_ext_ns = scenarios.k8s_extension_relay_name("arc-k8sext-relay", "rg-arc", emu.subscription_id)
    namespace = f"{scenarios.rg_id('rg-arc')}/providers/Microsoft.Relay/namespaces/{k8s_ext_ns}"
    result = az("amlk8s delete -g rg-arc -c arc-k8sext-relay -t arc --cleanup --yes", expect=0)
    assert emu.resource(namespace) is None and "az k8s-extension" in result.stderr
    mine = f"{scenarios.rg_id('rg-arc')}/providers/Microsoft.Relay/namespaces/contoso-private-relay"
    kept = az("amlk8s delete -g rg-arc -c arc-byo-relay -t arc --cleanup --yes", expect=0)
    assert emu.resource(mine) is not None and "never deletes it" in kept.stderr
    assert not [w for w in kept.writes if "Microsoft.Relay" in w.path]


# --- output and faults --------------------------------------------------------------------------------------------

def test_table_words_match_the_json_and_rows_fit_in_120_columns(az):
    table = az(f"amlk8s check {PROD} -o table", expect=0)
    assert " pass " in table.stdout and " ok " not in table.stdout and "None" not in table.stdout
    assert max(len(line) for line in table.stdout.splitlines()) <= 120, table.stdout
    data = az(f"amlk8s check {PROD} --query \"[?status=='pass'].check\" -o json", expect=0)
    assert "cluster-state" in data.json
    verify = az("amlk8s verify -g rg-ml -c aks-failed -t aks -o table")
    assert "None" not in verify.stdout and max(len(line) for line in verify.stdout.splitlines()) <= 120
    dry = az(f"amlk8s deploy {PROD} --enable-training true --dry-run -o table", expect=0)
    assert "enableTraining" in dry.stdout and "extensionType" in dry.stdout


def test_a_connection_lost_around_the_put_says_whether_it_reached_azure(az, emu):
    emu.add_fault(method="PUT", path=r"/extensions/azureml$", action="drop", times=None)
    result = az(f"amlk8s deploy {PROD} --enable-training true")
    assert result.exit_code == 1 and "Traceback" not in result.stderr
    assert "Connection aborted" not in result.stderr and "RemoteDisconnected" not in result.stderr
    assert "may have reached Azure" in result.stderr and "az amlk8s show" in result.stderr


def test_spent_retries_on_the_put_say_what_to_check(az, emu):
    emu.add_fault(method="PUT", path=r"/extensions/azureml$", status=503, times=None)
    result = az(f"amlk8s deploy {PROD} --enable-training true")
    assert result.exit_code == 1 and "Traceback" not in result.stderr
    assert "503" in result.stderr and "retries" in result.stderr and "az amlk8s show" in result.stderr


def test_a_long_retry_after_wait_shows_progress(az, emu):
    emu.add_fault(method="GET", path=r"/managedClusters/aks-prod$", status=429, headers={"Retry-After": "6"}, times=1)
    result = az(f"amlk8s check {PROD}", expect=0)
    assert "asks to wait 6 s" in result.stderr


def test_tab_completion_offers_clusters_extensions_checks_and_trains(az, tmp_path):
    def complete(line):
        out = tmp_path / "completions.txt"
        env = dict(az.env, _ARGCOMPLETE="1", COMP_LINE=line, COMP_POINT=str(len(line)), _ARGCOMPLETE_IFS="\n",
                   _ARGCOMPLETE_STDOUT_FILENAME=str(out), COMP_TYPE="9")
        subprocess.run([az.executable], env=env, cwd=az.cwd, capture_output=True, timeout=120, check=False,
                       stdin=subprocess.DEVNULL)
        return [w.strip() for w in out.read_text(encoding="utf-8").split("\n")] if out.exists() else []
    assert "aks-prod" in complete("az amlk8s show -g rg-ml -t aks -c aks-p")
    assert "aml-ext" in complete("az amlk8s show -g rg-ml -t aks -c aks-other-name -n a")
    assert "pod-identity" in complete("az amlk8s check -g rg-ml -c aks-prod -t aks --ignore-check po")
    assert "preview" in complete("az amlk8s deploy -g rg-ml -c aks-prod -t aks --release-train p")
