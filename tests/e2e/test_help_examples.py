"""Every example in ``az amlk8s <command> --help`` runs as printed, with the real az: the example's names are mapped
onto the emulator's world (``myrg``/``myaks``/``myarc``, ``<sub>``, the files it names, in the folder az runs in), and
the command must parse (never a usage error, exit code 2) and end without a traceback. What it then finds in that
world (a refusal, a missing resource) is the product working, not the example failing."""
# pylint: disable=missing-docstring

import shlex

import pytest
import yaml

from azext_amlk8s._help import helps
from tests.certs import make_tls_files
from tests.emulator import SUBSCRIPTION_ID


def _examples():
    found = []
    for command, text in sorted(helps.items()):
        for index, example in enumerate(yaml.safe_load(text).get("examples") or []):
            line = " ".join(example["text"].split())
            if "$(" in line:            # a shell pipeline: its inner az command is another example
                continue
            found.append(pytest.param(line, id=f"{command.split()[-1]}-{index}"))
    return found


def _mapped(line):
    arc = "myarc" in line
    # wait --created needs an extension that exists (aks-with-ext), --deleted one that does not (aks-prod).
    aks = "aks-with-ext" if line.startswith("az amlk8s wait") and "--created" in line else "aks-prod"
    names = {"myrg": "rg-arc" if arc else "rg-ml", "myaks": aks, "myarc": "arc-k3s", "myws": "ws1",
             "<subscription-id>": SUBSCRIPTION_ID, "<sub>": SUBSCRIPTION_ID, "<rg>": "rg-ml", "<aks>": "aks-prod",
             "<arc>": "arc-k3s", "<ns>": "relayns", "<hc>": "hc", "00000000-0000-0000-0000-000000000001":
             SUBSCRIPTION_ID}
    for name, value in names.items():
        line = line.replace(name, value)
    return shlex.split(line)[1:]       # without the leading "az"


def _files(folder, home):
    tls = make_tls_files(folder / "tls", "ml.contoso.com")
    for name in ("cert.pem", "new-cert.pem"):
        (folder / name).write_bytes(tls.cert_pem)
    for name in ("key.pem", "new-key.pem"):
        (folder / name).write_bytes(tls.key_pem)
    (folder / "relay.json").write_text(
        '{"relayserver.relayConnectionString": "Endpoint=sb://relayns.servicebus.windows.net/;SharedAccessKeyName='
        'azureml_rw;SharedAccessKey=bm90LWEta2V5LWZvci1hLWhlbHAtZXhhbXBsZQ==;EntityPath=hc"}', encoding="utf-8")
    (folder / "clusters.txt").write_text(
        f"/subscriptions/{SUBSCRIPTION_ID}/resourceGroups/rg-ml/providers/Microsoft.ContainerService/managedClusters/"
        "aks-prod\n", encoding="utf-8")
    kubeconfig = ("apiVersion: v1\nkind: Config\ncurrent-context: onprem\nclusters:\n- name: k\n  cluster:\n"
                  "    server: https://127.0.0.1:9\ncontexts:\n- name: onprem\n  context:\n    cluster: k\n"
                  "    user: u\nusers:\n- name: u\n  user:\n    token: not-a-token\n")
    (folder / "arc.kubeconfig").write_text(kubeconfig, encoding="utf-8")
    (home / ".kube").mkdir(exist_ok=True)
    (home / ".kube" / "config").write_text(kubeconfig, encoding="utf-8")


@pytest.mark.parametrize("line", _examples())
def test_help_example_runs_as_printed(az, emu, tmp_path, line):
    _files(tmp_path, az.home)
    emu.settings(complete_after=0)
    result = az(_mapped(line), timeout=180)
    assert "Traceback" not in result.stderr, result.describe()
    assert result.exit_code != 2, result.describe()
    assert result.exit_code in (0, 1, 3), result.describe()
