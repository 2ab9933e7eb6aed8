"""While ARM's operation runs, deploy and verify --wait read the cluster and name a stuck release pod at once.

The real az against both emulators. The ARM emulator ends the operation a known number of seconds after it starts
(settings(complete_after=S)); the Kubernetes API emulator serves a cluster in which a release pod is, or turns,
Pending, ImagePullBackOff or CrashLoopBackOff. ARM's own wait would say so only when it ends.
"""

import subprocess
import threading
import time

from tests.e2e.harness import refused
from tests.emulator.kube import failures as kf
from tests.emulator.kube import scenarios as ks
from tests.emulator.kube.store import now_iso

NRG = "MC_rg-ml_aks-prod_eastus"
DEPLOY = "amlk8s deploy -g rg-ml -c aks-prod -t aks --enable-training"
OPERATOR = "aml-operator-7c9d8b6f5-x2x9z"


def fresh_cluster(*objects):
    """aks-prod before the install: nodes and system namespaces, plus ``objects`` (the release as far as it got)."""
    return ks.aks_world(NRG, installed=False) + [ks.namespace("azureml")] + list(objects)


def pod_reads(kube):
    return [r for r in kube.requests(cluster="aks-prod") if r.path == "/api/v1/namespaces/azureml/pods"]


def test_fail_fast_stops_at_a_crashing_release_pod_and_says_azure_goes_on(az, kube, emu):
    kube.aks("aks-prod", fresh_cluster(kf.crashing_pod(OPERATOR, reason="OOMKilled")))
    emu.settings(complete_after=60)
    started = time.monotonic()
    result = az(DEPLOY + " --grace 0 --fail-fast", timeout=50)
    took = time.monotonic() - started
    assert result.exit_code == 1, result.describe()
    assert "Traceback" not in result.stderr
    assert "Stopped waiting (--fail-fast)" in result.stderr and OPERATOR in result.stderr
    assert "keeps installing in Azure" in result.stderr and "az amlk8s verify" in result.stderr
    assert took < 30, result.describe()
    assert kube.writes() == []
    assert [w.method for w in result.writes] == ["PUT"]       # the one write; nothing after it


def test_a_pod_turning_pending_is_diagnosed_while_the_deploy_runs(az, kube, emu):
    kube.aks("aks-prod", fresh_cluster())
    emu.settings(complete_after=20)
    turned = {}

    def turn_pending():
        time.sleep(3)
        turned["at"] = time.monotonic()
        kube.emulator.put("aks-prod", *kf.pending_pod("aml-operator-7c9d8b6f5-p3n4q", kf.NODE_SELECTOR_MISMATCH,
                                                      since=now_iso()))
    threading.Thread(target=turn_pending, daemon=True).start()
    proc = az.popen(DEPLOY + " --grace 4", stderr=subprocess.PIPE, bufsize=1)
    said = None
    lines = []
    for line in proc.stderr:
        lines.append(line)
        if said is None and "In the cluster, for" in line:
            said = time.monotonic()
    proc.wait(timeout=90)
    err = "".join(lines)
    assert proc.returncode == 0, err                          # ARM says Succeeded: the deploy itself succeeded
    live = [line for line in lines if "In the cluster, for" in line]
    assert len(live) == 1 and "aml-operator-7c9d8b6f5-p3n4q cannot be scheduled" in live[0], err
    assert "didn't match Pod's node affinity/selector" in live[0]
    # named once the grace period had passed, and long before ARM ended the operation (20 s after the PUT)
    assert 4 <= said - turned["at"] <= 4 + 10, (said - turned["at"], err)
    assert err.index(live[0]) < err.index("Next: ")
    assert "components ready" in err
    assert kube.writes() == []


def test_reads_while_waiting_are_one_round_per_five_seconds(az, kube, emu):
    kube.aks("aks-prod", fresh_cluster())
    emu.settings(complete_after=16)
    started = time.monotonic()
    az(DEPLOY, expect=0, timeout=90)
    took = time.monotonic() - started
    reads = pod_reads(kube)
    # before the write none, during the wait one per round, after it one for the report
    assert 2 <= len(reads) <= took / 5 + 2, [r.line() for r in reads]
    assert kube.writes() == []


def test_without_fail_fast_the_deploy_waits_for_arm(az, kube, emu):
    kube.aks("aks-prod", fresh_cluster(kf.image_pull_pod("aml-operator-7c9d8b6f5-i9m8k")))
    emu.settings(complete_after=8)
    result = az(DEPLOY + " --grace 0", expect=0, timeout=90)
    live = [line for line in result.stderr.splitlines() if "In the cluster, for" in line]
    assert len(live) == 1 and "aml-operator-7c9d8b6f5-i9m8k cannot pull its image" in live[0], result.stderr


def test_a_cluster_that_cannot_be_read_leaves_the_wait_as_it_was(az, kube, emu):
    kube.unreachable("aks-prod")
    emu.settings(complete_after=6)
    result = az(DEPLOY + " --grace 0 --fail-fast", expect=0, timeout=90)
    assert "Stopped waiting" not in result.stderr


def test_verify_wait_fail_fast(az, kube, emu):
    kube.aks("aks-prod", fresh_cluster(kf.crashing_pod(OPERATOR)))
    emu.settings(complete_after=60)
    az(DEPLOY + " --no-wait", expect=0)
    result = az("amlk8s verify -g rg-ml -c aks-prod -t aks --wait --grace 0 --fail-fast", timeout=50)
    assert result.exit_code == 1, result.describe()
    assert "Stopped waiting (--fail-fast)" in result.stderr and "CrashLoopBackOff" in result.stderr
    assert kube.writes() == []


def test_live_options_are_usage_errors_where_nothing_waits(az):
    for command in (DEPLOY + " --no-wait --fail-fast", DEPLOY + " --dry-run --grace 5",
                    DEPLOY + " --arm-only --fail-fast", DEPLOY + " --grace -1",
                    "amlk8s verify -g rg-ml -c aks-with-ext -t aks --fail-fast"):
        result = refused(az(command))
        assert "--grace" in result.stderr or "--fail-fast" in result.stderr, result.describe()
