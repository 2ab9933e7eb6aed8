"""How the AzureML extension fails on real clusters, as objects of the Kubernetes API emulator and ARM error texts.

Built from the shapes in the public record (GitHub issues and pull requests on the extension's repository, the Azure
SDK, the Terraform provider and Microsoft's troubleshooting guides, 2021-2025): the scheduler's own messages, both
formats of the `arcml-healthcheck` report, the three eras of ARM's error text, OOMKilled containers, Helm releases left
`pending-*`, instance types no node can hold. Each builder returns plain dicts in the API's JSON shapes, like
`scenarios.py`, whose builders they use.
"""

import base64
import gzip
import json

from . import scenarios as ks
from .scenarios import AZUREML_NAMESPACE, ago

# ---------------------------------------------------------------------------------------------- scheduler
# The scheduler's FailedScheduling message (kube-scheduler 1.2x wording) for the reasons users report.
NODE_SELECTOR_MISMATCH = ("0/{n} nodes are available: {n} node(s) didn't match Pod's node affinity/selector. "
                          "preemption: 0/{n} nodes are available: {n} Preemption is not helpful for scheduling.")
TOO_MANY_PODS = ("0/{n} nodes are available: {n} Too many pods. preemption: 0/{n} nodes are available: {n} No "
                 "preemption victims found for incoming pod.")
INSUFFICIENT_GPU = ("0/{n} nodes are available: {n} Insufficient nvidia.com/gpu. preemption: 0/{n} nodes are "
                    "available: {n} No preemption victims found for incoming pod.")
ANTI_AFFINITY = ("0/{n} nodes are available: 1 node(s) didn't match pod anti-affinity rules, {rest} node(s) had "
                 "untolerated taint {{sku: gpu}}. preemption: 0/{n} nodes are available: {n} Preemption is not "
                 "helpful for scheduling.")
UNBOUND_PVC = "0/{n} nodes are available: pod has unbound immediate PersistentVolumeClaims. preemption: 0/{n} nodes " \
              "are available: {n} Preemption is not helpful for scheduling."


def pending_pod(name, message, n=3, ns=AZUREML_NAMESPACE, labels=None, owner=None, since=None):
    """A release pod the scheduler cannot place (condition PodScheduled=False, reason Unschedulable) and its
    FailedScheduling event; `message` may hold {n} and {rest} for the node count."""
    text = message.format(n=n, rest=max(n - 1, 0))
    pod = ks.pod(name, ns, state="Pending", message=text, labels=labels, owner=owner, created=since or ago(minutes=3))
    if since:
        pod["status"]["conditions"][0]["lastTransitionTime"] = since
    return [pod, ks.event(pod, "FailedScheduling", text)]


def crashing_pod(name, ns=AZUREML_NAMESPACE, reason="Error", exit_code=1, restarts=4, node_name=None, labels=None,
                 since=None):
    """A container in CrashLoopBackOff whose last run ended with `reason` (OOMKilled: exit code 137)."""
    pod = ks.pod(name, ns, state="CrashLoopBackOff", restarts=restarts, labels=labels,
                 node_name=node_name or "aks-nodepool1-12345678-vmss000000")
    for status in pod["status"]["containerStatuses"]:
        status["lastState"]["terminated"].update(reason=reason, exitCode=137 if reason == "OOMKilled" else exit_code)
    if since:
        for cond in pod["status"]["conditions"]:
            if cond["type"] in ("Ready", "ContainersReady"):
                cond["lastTransitionTime"] = since
    return pod


def image_pull_pod(name, ns=AZUREML_NAMESPACE, since=None):
    pod = ks.pod(name, ns, state="ImagePullBackOff")
    if since:
        for cond in pod["status"]["conditions"]:
            if cond["type"] in ("Ready", "ContainersReady"):
                cond["lastTransitionTime"] = since
    return pod


def tainted(node, key, value, effect="NoSchedule"):
    node.setdefault("spec", {}).setdefault("taints", []).append({"key": key, "value": value, "effect": effect})
    return node


# ---------------------------------------------------------------------------------------------- health-check report
def healthcheck_2022(entries):
    """The 2022 form of an `arcml-healthcheck` section (extension 1.0.x): YAML-like entries per checker, the message
    often a JSON object of component -> count. `entries`: (checker, code[, message])."""
    lines = []
    for entry in entries:
        checker, code = entry[0], entry[1]
        lines += [f"{checker}:", f"  code: {code}"]
        if len(entry) > 2 and entry[2] is not None:
            message = entry[2] if isinstance(entry[2], str) else json.dumps(entry[2], separators=(",", ":"))
            lines.append("  message: '" + message.replace("'", "''") + "'")
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------------------- instance types
def instance_type(name, cpu="1", memory="4Gi", gpus=None, node_selector=None, limits=None):
    """An InstanceType custom resource (amlarc.azureml.com/v1alpha1) of how-to-manage-kubernetes-instance-types."""
    lim = dict(limits or {"cpu": cpu, "memory": memory})
    if gpus:
        lim["nvidia.com/gpu"] = gpus
    spec = {"resources": {"requests": {"cpu": cpu, "memory": memory}, "limits": lim}}
    if node_selector:
        spec["nodeSelector"] = dict(node_selector)
    return {"apiVersion": "amlarc.azureml.com/v1alpha1", "kind": "InstanceType",
            "metadata": ks.meta(name, created=ago(days=1)), "spec": spec}


# ---------------------------------------------------------------------------------------------- Helm
def helm_release_secret(release, revision, status, ns=AZUREML_NAMESPACE):
    """Helm 3's release record (Secret `sh.helm.release.v1.<release>.v<revision>`, type helm.sh/release.v1) with
    its `status` label: deployed, superseded, failed, pending-install, pending-upgrade, pending-rollback."""
    record = base64.b64encode(gzip.compress(json.dumps({"name": release, "version": revision,
                                                        "info": {"status": status}}).encode())).decode()
    labels = {"name": release, "owner": "helm", "status": status, "version": str(revision)}
    secret = ks.secret(f"sh.helm.release.v1.{release}.v{revision}", ns, {"release": record},
                       type="helm.sh/release.v1", labels=labels)
    return secret


# ---------------------------------------------------------------------------------------------- ARM's error text
def arm_error(cause, era="2024", release="azureml"):
    """ARM's errorInfo message for a failed install, worded as the service did in `era`."""
    if era == "2021":
        return (f"Error: {{failed to install chart from path [] for release [{release}]: err [{cause}]}} occurred "
                "while doing the operation : {Installing the extension} on the config")
    if era == "2022":
        return (f"Error: {{Helm installation from path [] for release [{release}] failed with the following error: "
                f"err [{cause}]}} occurred while doing the operation : {{Installing the extension}} on the config")
    return ("Error: [ InnerError: [Helm installation failed : Unable to create/update Kubernetes resources for the "
            "extension : Recommendation Please check that there are no policies blocking the resource creation/"
            f"update for the extension : InnerError [release {release} failed, and has been uninstalled due to atomic "
            f"being set: {cause}]]] occurred while doing the operation : [Create] on the config, For general "
            "troubleshooting visit: https://aka.ms/k8s-extensions-TSG, For more application specific troubleshooting "
            "visit: https://aka.ms/arcmltsg")
