"""verify --collect (issue 22), end to end with the real az: a support bundle from a healthy and a failing cluster,
from one whose API cannot be read (ARM parts only, the manifest says why), redaction scans over every file, the size
bound, and --ids (one archive per cluster)."""
# pylint: disable=missing-docstring

import json
import os
import stat
import zipfile

from tests.emulator.kube import failures as kf
from tests.emulator.kube import scenarios as ks

VERIFY = "amlk8s verify -g rg-ml -c aks-with-ext -t aks"
TOKEN = "eyJhbGciOiJSUzI1NiIsImtpZCI6ImFtbGs4cy10ZXN0In0.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQ6YXp1cmVtbCJ9.c2ln"
RELAY_KEY = "bm90LWEtcmVhbC1rZXktYnV0LWxvbmctZW5vdWdoLXRvLWxvb2stbGlrZS1vbmU="
CONNECTION = f"Endpoint=sb://relay.servicebus.windows.net/;SharedAccessKeyName=azureml_rw;SharedAccessKey={RELAY_KEY}"
PEM = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7\n-----END PRIVATE KEY-----"
SECRETS = (TOKEN, RELAY_KEY, "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7", "s3cr3t-client-value-123")


def _files(path):
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name).decode("utf-8") for name in archive.namelist()}, archive.infolist()


def _no_secrets(files):
    for name, text in files.items():
        for secret in SECRETS:
            assert secret not in text, f"{secret[:12]}... in {name}"


def _failing_world():
    objects = ks.aks_world("MC_rg-ml_aks-with-ext_eastus")
    pod = next(o for o in objects if o["kind"] == "Pod" and o["metadata"]["name"].startswith("aml-operator"))
    crashing = kf.crashing_pod(pod["metadata"]["name"], restarts=6)
    crashing["spec"]["containers"][0]["env"] = [{"name": "AZURE_CLIENT_SECRET", "value": SECRETS[3]},
                                                {"name": "LOG_LEVEL", "value": "info"}]
    report = next(o for o in objects if o["kind"] == "ConfigMap" and o["metadata"]["name"] == "arcml-healthcheck")
    report["data"]["relay"] = f"connection: {CONNECTION}\nkey: {PEM}\n"
    container = crashing["spec"]["containers"][0]["name"]
    logs = {("azureml", crashing["metadata"]["name"], container):
            f"starting\nAuthorization: Bearer {TOKEN}\nrelay {CONNECTION}\nfatal: cannot start\n"}
    return [o for o in objects if o is not pod] + [crashing], logs, crashing["metadata"]["name"]


def test_a_healthy_clusters_bundle_holds_the_report_the_resources_and_the_cluster(az, kube, tmp_path):
    kube.aks("aks-with-ext")
    target = tmp_path / "bundle.zip"
    result = az(VERIFY + f" --collect {target}", expect=0)
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o600
    files, infos = _files(target)
    assert {"report.json", "report.txt", "manifest.json", "azure/extension.json", "azure/cluster.json",
            "cluster/azureml-pods.json", "cluster/azureml-events.json", "cluster/nodes.json",
            "cluster/azureml-configmaps-arcml-healthcheck.json"} <= set(files), sorted(files)
    assert json.loads(files["report.json"])["verdict"] == "Healthy"
    manifest = json.loads(files["manifest.json"])["files"]
    assert {m["file"] for m in manifest if m["status"] == "collected"} == set(files) - {"manifest.json"}
    releases = json.loads(files["cluster/azureml-secrets.json"])
    assert releases["kind"] == "PartialObjectMetadataList" and all("data" not in i for i in releases["items"])
    assert all(stat.S_IMODE(i.external_attr >> 16) == 0o600 for i in infos)
    assert not [r for r in kube.requests() if r.verb not in ("get", "list")]
    assert "Support bundle:" in result.stderr


def test_a_failing_clusters_bundle_has_its_logs_and_no_secret_in_any_file(az, kube, tmp_path):
    objects, logs, pod = _failing_world()
    kube.aks("aks-with-ext", objects, logs=logs)
    target = tmp_path / "bundle.zip"
    result = az(VERIFY + f" --collect {target}", expect=1)
    files, _ = _files(target)
    _no_secrets(files)
    assert all(s not in result.stdout + result.stderr for s in SECRETS)
    names = [n for n in files if n.startswith("logs/") and pod in n]
    assert any(n.endswith("-previous.log") for n in names) and len(names) == 2, sorted(files)
    log = files[[n for n in names if not n.endswith("-previous.log")][0]]
    assert "fatal: cannot start" in log and "[redacted]" in log
    pods = json.loads(files["cluster/azureml-pods.json"])
    env = next(p for p in pods["items"] if p["metadata"]["name"] == pod)["spec"]["containers"][0]["env"]
    assert env == [{"name": "AZURE_CLIENT_SECRET", "value": "<redacted>"}, {"name": "LOG_LEVEL", "value": "info"}]
    assert json.loads(files["report.json"])["verdict"] == "Degraded"
    assert not [r for r in kube.requests() if "/secrets" in r.path and "PartialObjectMetadata" not in r.accept]


def test_a_cluster_that_cannot_be_read_gives_the_arm_parts_and_says_why(az, emu, tmp_path):
    target = tmp_path / "arc"
    result = az(f"amlk8s verify -g rg-arc -c arc-with-ext -t arc --collect {target}")
    assert result.exit_code in (0, 1) and "Traceback" not in result.stderr
    assert stat.S_IMODE(os.stat(target / "report.json").st_mode) == 0o600
    manifest = json.loads((target / "manifest.json").read_text())["files"]
    [unread] = [m for m in manifest if m["status"] == "not read"]
    assert unread["what"] == "the cluster" and "connectedk8s proxy" in unread["reason"]
    assert {"report.json", "azure/extension.json", "azure/cluster.json"} <= {m["file"] for m in manifest}
    assert not (target / "cluster").exists()


def test_the_bundle_stops_at_its_size_bound_and_says_what_it_left_out(az, kube, tmp_path):
    objects = ks.aks_world("MC_rg-ml_aks-with-ext_eastus")
    report = next(o for o in objects if o["kind"] == "ConfigMap" and o["metadata"]["name"] == "arcml-healthcheck")
    report["data"]["padding"] = "line of the report\n" * 80000          # about 1.5 MB
    kube.aks("aks-with-ext", objects)
    target = tmp_path / "bundle.zip"
    az(VERIFY + f" --collect {target} --collect-max-mb 1")
    files, _ = _files(target)
    manifest = json.loads(files["manifest.json"])
    assert manifest["bytes"] <= 1024 * 1024
    [left] = [m for m in manifest["files"] if m["status"] == "left out"]
    assert left["file"] == "cluster/azureml-configmaps-arcml-healthcheck.json" and "1 MB" in left["reason"]
    bad = az(VERIFY + " --collect-max-mb 5")
    assert bad.exit_code != 0 and "--collect-max-mb applies to --collect" in bad.stderr


def test_ids_write_one_archive_per_cluster_into_a_folder(az, kube, emu, tmp_path):
    kube.aks("aks-with-ext")
    ids = [emu.cluster_id("aks-with-ext"), emu.cluster_id("aks-many-ext")]
    folder = tmp_path / "bundles"
    result = az(["amlk8s", "verify", "--ids", *ids, "--collect", str(folder)])
    assert "Traceback" not in result.stderr, result.describe()
    assert sorted(os.listdir(folder)) == ["aks-many-ext-rg-ml.zip", "aks-with-ext-rg-ml.zip"]
    for name in os.listdir(folder):
        files, _ = _files(folder / name)
        assert "report.json" in files and "manifest.json" in files


def test_a_log_that_does_not_answer_in_time_is_left_out_and_the_rest_is_kept(az, kube, tmp_path):
    from azext_amlk8s._constants import KUBE_READ_TIMEOUT
    objects, logs, pod = _failing_world()
    kube.aks("aks-with-ext", objects, logs=logs)
    kube.emulator.cluster("aks-with-ext").log_delay = KUBE_READ_TIMEOUT + 1.0     # a kubelet that hangs
    target = tmp_path / "bundle.zip"
    result = az(VERIFY + f" --collect {target}", expect=1)
    assert "Traceback" not in result.stderr and result.duration < 3 * KUBE_READ_TIMEOUT, result.describe()
    files, _ = _files(target)
    manifest = json.loads(files["manifest.json"])["files"]
    unread = [m for m in manifest if m["status"] == "not read" and "/log" in m["source"]]
    assert unread and all(pod in m["source"] for m in unread) and not [n for n in files if n.startswith("logs/")]
    assert "cluster/azureml-pods.json" in files and "cluster/nodes.json" in files          # the rest was kept
