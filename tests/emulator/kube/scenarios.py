"""Builders of realistic Kubernetes objects (plain dicts in the API's JSON shapes) and of whole worlds.

Object builders: `node`, `namespace`, `deployment`, `replicaset`, `daemonset`, `statefulset`, `pod`
(`evicted` turns one into the kubelet's leftover of a node-pressure eviction), `job`, `configmap`, `secret`,
`serviceaccount`, `service`, `event`, `crd`, `clusterrole`,
`clusterrolebinding`, `ingressclass`, plus `helm_owned` (Helm 3 ownership metadata: label
`app.kubernetes.io/managed-by=Helm`, annotations `meta.helm.sh/release-name` and
`meta.helm.sh/release-namespace`, which Helm checks before adopting an existing object).

World builders:
- `azureml_components(...)`: the namespace `azureml` and the workloads of Microsoft's AzureML extension
  components table ("Review Azure Machine Learning extension component" in how-to-deploy-kubernetes-extension),
  all ready, with their pods, the inference router service `azureml-fe`, and the CRDs the chart owns.
- `healthcheck_report` / `healthcheck_configmap`: the `arcml-healthcheck` configmap of the extension's
  HealthCheck job (Azure/AML-Kubernetes docs/troubleshooting.md).
- `aks_nodes`, `arc_nodes`, `gpu_nodes`: nodes with the labels AKS (`kubernetes.azure.com/cluster` = the node
  resource group) or an Arc-connected cluster give them.
- `arc_clusterconfig`, `arc_agents`: the Arc agents' namespace `azure-arc` and configmap `azure-clusterconfig`.
- Conflicts the extension's troubleshooting guide names: `legacy_azureml_fe`, `volcano_crds`,
  `prometheus_operator_crds`, `foreign_ingress_nginx`, `terminating_namespace`, `ssl_secret`,
  `nvidia_device_plugin`, `dcgm_exporter`.
- `system_namespaces`, `aks_world`, `arc_world`: ready-made clusters.

Names and hashes are stable (derived from names), timestamps are relative to now.
"""

import base64
import datetime
import hashlib

from .store import now_iso

AZUREML_NAMESPACE = "azureml"
HEALTHCHECK_CONFIGMAP = "arcml-healthcheck"
HEALTHCHECK_KEYS = ("reports-pre-install", "reports-pre-upgrade", "reports-pre-rollback", "reports-pre-delete",
                    "reports-test")
HEALTHCHECK_CHECKERS = ("service", "helmchart", "instancetype", "clusterresource", "info")
TROUBLESHOOTING_GUIDE = "https://aka.ms/arcmltsg"
ROUTER_SERVICE = "azureml-fe"
DEFAULT_ROUTER_IP = "203.0.113.10"      # TEST-NET-3 (RFC 5737): never a real address
HELM_MANAGED_BY = "app.kubernetes.io/managed-by"
HELM_RELEASE_NAME = "meta.helm.sh/release-name"
HELM_RELEASE_NAMESPACE = "meta.helm.sh/release-namespace"
NVIDIA_GPU = "nvidia.com/gpu"
AKS_CLUSTER_LABEL = "kubernetes.azure.com/cluster"
IMAGE_REGISTRY = "mcr.microsoft.com/azureml/amlarc/docker"
PROMETHEUS_IMAGE = "mcr.microsoft.com/oss/prometheus/prometheus:v2.53.3"
SUBSCRIPTION_ID = "0b1f6471-1bf0-4dda-aec3-111122223333"     # the ARM emulator's subscription
HEX = "0123456789abcdef"

VOLCANO_CRDS = ("jobs.batch.volcano.sh", "commands.bus.volcano.sh", "podgroups.scheduling.volcano.sh",
                "queues.scheduling.volcano.sh", "numatopologies.nodeinfo.volcano.sh")
PROMETHEUS_OPERATOR_CRDS = ("alertmanagerconfigs.monitoring.coreos.com", "alertmanagers.monitoring.coreos.com",
                            "podmonitors.monitoring.coreos.com", "probes.monitoring.coreos.com",
                            "prometheuses.monitoring.coreos.com", "prometheusrules.monitoring.coreos.com",
                            "servicemonitors.monitoring.coreos.com", "thanosrulers.monitoring.coreos.com")
# The instance-type CRD of how-to-manage-kubernetes-instance-types (apiVersion amlarc.azureml.com/v1alpha1).
AZUREML_CRDS = ("instancetypes.amlarc.azureml.com",)
LEGACY_FE_NAMES = {"deployment": "azureml-fe", "service": "azureml-fe", "serviceaccount": "azureml-fe",
                   "internal_service": "azureml-fe-int-http", "secret": "azuremlfessl",
                   "configmap": "azuremlfeconfig", "clusterrole": "azureml-fe-role",
                   "clusterrolebinding": "azureml-fe-binding"}


# ---------------------------------------------------------------------------------------------- helpers
def ago(**delta):
    """An RFC 3339 timestamp `delta` before now (days=, hours=, minutes=, seconds=)."""
    return now_iso(datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(**delta))


def stable_hash(*parts, length=10, alphabet="bcdfghjklmnpqrstvwxz2456789"):
    """A pod-template-hash-like string (Kubernetes' SafeEncodeString alphabet) derived from `parts`."""
    digest = hashlib.sha256("/".join(str(p) for p in parts).encode()).digest()
    return "".join(alphabet[b % len(alphabet)] for b in digest[:length])


def meta(name, namespace=None, labels=None, annotations=None, created=None, owner=None):
    out = {"name": name}
    if namespace is not None:
        out["namespace"] = namespace
    out["creationTimestamp"] = created or ago(days=3)
    if labels:
        out["labels"] = dict(labels)
    if annotations:
        out["annotations"] = dict(annotations)
    if owner:
        out["ownerReferences"] = [dict(owner)]
    return out


def owner_ref(kind, name, api_version="apps/v1", uid=None, controller=True):
    return {"apiVersion": api_version, "kind": kind, "name": name,
            "uid": uid or _uid(kind, name), "controller": controller, "blockOwnerDeletion": True}


def _uid(*parts):
    digest = hashlib.sha256("/".join(parts).encode()).hexdigest()
    return f"{digest[:8]}-{digest[8:12]}-4{digest[13:16]}-a{digest[17:20]}-{digest[20:32]}"


def helm_owned(obj, release, release_namespace=AZUREML_NAMESPACE):
    """Add Helm 3 ownership metadata to `obj` (in place) and return it."""
    md = obj.setdefault("metadata", {})
    md.setdefault("labels", {})[HELM_MANAGED_BY] = "Helm"
    md.setdefault("annotations", {}).update({HELM_RELEASE_NAME: release, HELM_RELEASE_NAMESPACE: release_namespace})
    return obj


def helm_metadata(release, release_namespace=AZUREML_NAMESPACE):
    """(labels, annotations) of an object Helm release `release` owns."""
    return ({HELM_MANAGED_BY: "Helm"}, {HELM_RELEASE_NAME: release, HELM_RELEASE_NAMESPACE: release_namespace})


def _b64(value):
    if isinstance(value, str):
        value = value.encode("utf-8")
    return base64.b64encode(value).decode("ascii")


def _container(name, image, cpu="100m", memory="128Mi", ports=()):
    out = {"name": name, "image": image, "imagePullPolicy": "IfNotPresent",
           "resources": {"requests": {"cpu": cpu, "memory": memory}},
           "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File"}
    if ports:
        out["ports"] = [{"containerPort": p, "protocol": "TCP"} for p in ports]
    return out


def _template(labels, containers, node_selector=None, service_account=None):
    spec = {"containers": containers, "restartPolicy": "Always", "dnsPolicy": "ClusterFirst",
            "schedulerName": "default-scheduler", "terminationGracePeriodSeconds": 30, "securityContext": {}}
    if node_selector:
        spec["nodeSelector"] = dict(node_selector)
    if service_account:
        spec["serviceAccountName"] = service_account
    return {"metadata": {"labels": dict(labels)}, "spec": spec}


# ---------------------------------------------------------------------------------------------- objects
def namespace(name, phase="Active", labels=None, annotations=None):
    """A Namespace. phase "Terminating" also sets deletionTimestamp, the kubernetes finalizer and the
    conditions the namespace controller reports while content remains."""
    labels = dict(labels or {})
    labels.setdefault("kubernetes.io/metadata.name", name)
    obj = {"apiVersion": "v1", "kind": "Namespace",
           "metadata": meta(name, labels=labels, annotations=annotations, created=ago(days=30)),
           "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": phase}}
    if phase == "Terminating":
        obj["metadata"]["deletionTimestamp"] = ago(minutes=20)
        when = ago(minutes=19)
        obj["status"]["conditions"] = [
            {"type": "NamespaceDeletionDiscoveryFailure", "status": "False", "reason": "ResourcesDiscovered",
             "message": "All resources successfully discovered", "lastTransitionTime": when},
            {"type": "NamespaceContentRemaining", "status": "True", "reason": "SomeResourcesRemain",
             "message": "Some resources are remaining: pods. has 2 resource instances", "lastTransitionTime": when},
            {"type": "NamespaceFinalizersRemaining", "status": "False", "reason": "ContentHasNoFinalizers",
             "message": "All content-preserving finalizers finished", "lastTransitionTime": when},
        ]
    return obj


def system_namespaces():
    return [namespace(n) for n in ("default", "kube-system", "kube-public", "kube-node-lease")]


def node(name, labels=None, allocatable_cpu="3860m", allocatable_memory="12880532Ki", arch="amd64", gpus=0,
         ready=True, os="linux", kubelet_version="v1.31.5", taints=None, internal_ip=None, unschedulable=False,
         os_image="Ubuntu 22.04.5 LTS", provider_id=None, annotations=None, capacity_cpu=None,
         capacity_memory=None, pods=110):
    """A Node with allocatable/capacity (cpu, memory, pods, and `nvidia.com/gpu` when gpus > 0), the
    standard `kubernetes.io/arch|os|hostname` labels, Ready and pressure conditions, and nodeInfo."""
    all_labels = {"beta.kubernetes.io/arch": arch, "beta.kubernetes.io/os": os, "kubernetes.io/arch": arch,
                  "kubernetes.io/hostname": name, "kubernetes.io/os": os}
    all_labels.update(labels or {})
    allocatable = {"cpu": str(allocatable_cpu), "memory": str(allocatable_memory), "pods": str(pods),
                   "ephemeral-storage": "119703055367", "hugepages-1Gi": "0", "hugepages-2Mi": "0"}
    capacity = dict(allocatable, cpu=str(capacity_cpu or _round_cpu(allocatable_cpu)),
                    memory=str(capacity_memory or allocatable_memory), **{"ephemeral-storage": "129886128Ki"})
    if gpus:
        allocatable[NVIDIA_GPU] = str(gpus)
        capacity[NVIDIA_GPU] = str(gpus)
    beat = ago(seconds=20)
    since = ago(days=3)
    conditions = [
        {"type": "MemoryPressure", "status": "False", "reason": "KubeletHasSufficientMemory",
         "message": "kubelet has sufficient memory available", "lastHeartbeatTime": beat,
         "lastTransitionTime": since},
        {"type": "DiskPressure", "status": "False", "reason": "KubeletHasNoDiskPressure",
         "message": "kubelet has no disk pressure", "lastHeartbeatTime": beat, "lastTransitionTime": since},
        {"type": "PIDPressure", "status": "False", "reason": "KubeletHasSufficientPID",
         "message": "kubelet has sufficient PID available", "lastHeartbeatTime": beat, "lastTransitionTime": since},
        {"type": "Ready", "status": "True" if ready else "Unknown",
         "reason": "KubeletReady" if ready else "NodeStatusUnknown",
         "message": "kubelet is posting ready status" if ready else "Kubelet stopped posting node status.",
         "lastHeartbeatTime": beat, "lastTransitionTime": since},
    ]
    index = int(hashlib.sha256(name.encode()).hexdigest()[:4], 16) % 250 + 4
    spec = {}
    if provider_id:
        spec["providerID"] = provider_id
    if taints:
        spec["taints"] = [dict(t) for t in taints]
    if unschedulable:
        spec["unschedulable"] = True
    return {"apiVersion": "v1", "kind": "Node",
            "metadata": meta(name, labels=all_labels, annotations=annotations, created=ago(days=3)),
            "spec": spec,
            "status": {"addresses": [{"type": "InternalIP", "address": internal_ip or f"10.224.0.{index}"},
                                     {"type": "Hostname", "address": name}],
                       "allocatable": allocatable, "capacity": capacity, "conditions": conditions,
                       "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
                       "nodeInfo": {"architecture": arch, "bootID": _uid("boot", name),
                                    "containerRuntimeVersion": "containerd://1.7.25-1",
                                    "kernelVersion": "5.15.0-1079-azure", "kubeProxyVersion": kubelet_version,
                                    "kubeletVersion": kubelet_version,
                                    "machineID": stable_hash(name, length=32, alphabet=HEX),
                                    "operatingSystem": os, "osImage": os_image,
                                    "systemUUID": _uid("system", name)}}}


def _round_cpu(cpu):
    text = str(cpu)
    if text.endswith("m"):
        return str(-(-int(text[:-1]) // 1000))
    return text


def deployment(name, ns=AZUREML_NAMESPACE, desired=1, ready=None, labels=None, annotations=None, image=None,
               containers=None, node_selector=None, selector=None, available=None, updated=None):
    """A Deployment whose status says `ready` of `desired` replicas are ready (default: all). The
    Available condition is False when fewer than desired are available, as the deployment controller sets it."""
    ready = desired if ready is None else ready
    available = ready if available is None else available
    updated = desired if updated is None else updated
    selector = dict(selector or {"app": name})
    template_labels = dict(selector, **{k: v for k, v in (labels or {}).items() if not k.startswith("helm.sh")})
    containers = containers or [_container(name, image or f"{IMAGE_REGISTRY}/{name}:1.1.88")]
    status = {"observedGeneration": 1, "replicas": desired, "updatedReplicas": updated}
    if ready:
        status["readyReplicas"] = ready
    if available:
        status["availableReplicas"] = available
    if desired - available > 0:
        status["unavailableReplicas"] = desired - available
    when = ago(days=3)
    status["conditions"] = [
        {"type": "Available", "status": "True" if available >= desired else "False",
         "reason": "MinimumReplicasAvailable" if available >= desired else "MinimumReplicasUnavailable",
         "message": "Deployment has minimum availability." if available >= desired
         else "Deployment does not have minimum availability.", "lastUpdateTime": when, "lastTransitionTime": when},
        {"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable",
         "message": f'ReplicaSet "{name}-{stable_hash(ns, name)}" has successfully progressed.',
         "lastUpdateTime": when, "lastTransitionTime": when},
    ]
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": dict(meta(name, ns, labels, dict(annotations or {}, **{
                "deployment.kubernetes.io/revision": "1"})), generation=1),
            "spec": {"replicas": desired, "selector": {"matchLabels": selector},
                     "template": _template(template_labels, containers, node_selector),
                     "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%",
                                                                             "maxUnavailable": "25%"}},
                     "revisionHistoryLimit": 10, "progressDeadlineSeconds": 600},
            "status": status}


def replicaset(dep):
    """The current ReplicaSet of a Deployment built by `deployment`."""
    md = dep["metadata"]
    pod_hash = stable_hash(md["namespace"], md["name"])
    name = f"{md['name']}-{pod_hash}"
    selector = dict(dep["spec"]["selector"]["matchLabels"], **{"pod-template-hash": pod_hash})
    template = {"metadata": {"labels": dict(dep["spec"]["template"]["metadata"]["labels"],
                                            **{"pod-template-hash": pod_hash})},
                "spec": dep["spec"]["template"]["spec"]}
    status = {"replicas": dep["spec"]["replicas"], "fullyLabeledReplicas": dep["spec"]["replicas"],
              "observedGeneration": 1}
    for key in ("readyReplicas", "availableReplicas"):
        if dep["status"].get(key):
            status[key] = dep["status"][key]
    return {"apiVersion": "apps/v1", "kind": "ReplicaSet",
            "metadata": meta(name, md["namespace"], selector, {"deployment.kubernetes.io/revision": "1"},
                             owner=owner_ref("Deployment", md["name"],
                                             uid=md.get("uid") or _uid("Deployment", md["name"]))),
            "spec": {"replicas": dep["spec"]["replicas"], "selector": {"matchLabels": selector},
                     "template": template},
            "status": status}


def daemonset(name, ns=AZUREML_NAMESPACE, desired=3, ready=None, labels=None, annotations=None, image=None,
              node_selector=None, containers=None):
    """A DaemonSet scheduled on `desired` nodes with `ready` of them ready (default: all)."""
    ready = desired if ready is None else ready
    selector = {"app": name}
    containers = containers or [_container(name, image or f"{IMAGE_REGISTRY}/{name}:1.1.88")]
    status = {"currentNumberScheduled": desired, "desiredNumberScheduled": desired, "numberMisscheduled": 0,
              "numberReady": ready, "observedGeneration": 1, "updatedNumberScheduled": desired}
    if ready:
        status["numberAvailable"] = ready
    if desired - ready:
        status["numberUnavailable"] = desired - ready
    return {"apiVersion": "apps/v1", "kind": "DaemonSet",
            "metadata": dict(meta(name, ns, labels, annotations), generation=1),
            "spec": {"selector": {"matchLabels": selector},
                     "template": _template(dict(selector), containers, node_selector),
                     "updateStrategy": {"type": "RollingUpdate",
                                        "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}},
                     "revisionHistoryLimit": 10},
            "status": status}


def statefulset(name, ns=AZUREML_NAMESPACE, desired=1, ready=None, labels=None, annotations=None, image=None,
                service_name=None):
    """A StatefulSet with `ready` of `desired` replicas ready (default: all)."""
    ready = desired if ready is None else ready
    selector = {"app": name}
    status = {"replicas": desired, "currentReplicas": desired, "updatedReplicas": desired, "observedGeneration": 1,
              "currentRevision": f"{name}-{stable_hash(ns, name)}", "updateRevision": f"{name}-{stable_hash(ns, name)}",
              "collisionCount": 0}
    if ready:
        status["readyReplicas"] = ready
        status["availableReplicas"] = ready
    return {"apiVersion": "apps/v1", "kind": "StatefulSet",
            "metadata": dict(meta(name, ns, labels, annotations), generation=1),
            "spec": {"replicas": desired, "selector": {"matchLabels": selector},
                     "serviceName": service_name or name, "podManagementPolicy": "Parallel",
                     "template": _template(selector, [_container(name, image or PROMETHEUS_IMAGE)]),
                     "updateStrategy": {"type": "RollingUpdate"}},
            "status": status}


POD_STATES = ("Running", "NotReady", "CrashLoopBackOff", "ImagePullBackOff", "ErrImagePull", "Pending",
              "ContainerCreating", "Succeeded", "Failed")


def pod(name, ns=AZUREML_NAMESPACE, state="Running", node_name="aks-nodepool1-12345678-vmss000000", labels=None,
        containers=None, restarts=None, message=None, owner=None, image=None, annotations=None, pod_ip=None,
        service_account="default", created=None):
    """A Pod whose containers are all in `state`:
    - "Running": Running and ready; "NotReady": Running, readiness probe failing;
    - "CrashLoopBackOff": waiting CrashLoopBackOff, lastState terminated Error, restartCount `restarts` (default 5);
    - "ImagePullBackOff" / "ErrImagePull": waiting, with the kubelet's pull error `message`;
    - "Pending": unschedulable: phase Pending, no node, condition PodScheduled=False reason Unschedulable with
      `message` (default "0/3 nodes are available: 3 Insufficient cpu. ...");
    - "ContainerCreating": scheduled, waiting ContainerCreating;
    - "Succeeded" / "Failed": terminated with exit code 0 / 1 (restartPolicy Never).
    `containers`: names (default [name's workload]); `owner`: an ownerReference dict."""
    if state not in POD_STATES:
        raise ValueError(f"state must be one of {POD_STATES}")
    names = list(containers or [name.rsplit("-", 2)[0] if name.count("-") >= 2 else name])
    image = image or f"{IMAGE_REGISTRY}/{names[0]}:1.1.88"
    created = created or ago(days=2)
    started = created
    scheduled = state != "Pending"
    phase = {"Pending": "Pending", "ContainerCreating": "Pending", "ImagePullBackOff": "Pending",
             "ErrImagePull": "Pending", "Succeeded": "Succeeded", "Failed": "Failed"}.get(state, "Running")
    ready = state == "Running"
    index = int(hashlib.sha256(f"{ns}/{name}".encode()).hexdigest()[:4], 16)
    statuses = []
    for cname in names:
        cimage = image if len(names) == 1 else f"{IMAGE_REGISTRY}/{cname}:1.1.88"
        cs = {"name": cname, "image": cimage, "imageID": "", "ready": ready, "restartCount": 0,
              "started": state in ("Running", "NotReady")}
        if state in ("Running", "NotReady"):
            cs["imageID"] = f"{cimage.split(':')[0]}@sha256:{hashlib.sha256(cimage.encode()).hexdigest()}"
            cs["containerID"] = f"containerd://{hashlib.sha256((ns + name + cname).encode()).hexdigest()}"
            cs["state"] = {"running": {"startedAt": started}}
            cs["restartCount"] = int(restarts or 0)
        elif state == "CrashLoopBackOff":
            count = 5 if restarts is None else int(restarts)
            cs["imageID"] = f"{cimage.split(':')[0]}@sha256:{hashlib.sha256(cimage.encode()).hexdigest()}"
            cs["containerID"] = f"containerd://{hashlib.sha256((ns + name + cname).encode()).hexdigest()}"
            cs["restartCount"] = count
            cs["state"] = {"waiting": {"reason": "CrashLoopBackOff", "message": message or (
                f"back-off 5m0s restarting failed container={cname} pod={name}_{ns}"
                f"({_uid('Pod', ns, name)})")}}
            cs["lastState"] = {"terminated": {"exitCode": 1, "reason": "Error", "startedAt": ago(minutes=6),
                                              "finishedAt": ago(minutes=5), "containerID": cs["containerID"]}}
        elif state in ("ImagePullBackOff", "ErrImagePull"):
            default = (f'Back-off pulling image "{cimage}"' if state == "ImagePullBackOff" else
                       f'failed to pull and unpack image "{cimage}": failed to resolve reference "{cimage}": '
                       f'{cimage.split("/")[0]}/{"/".join(cimage.split("/")[1:]).split(":")[0]}: not found')
            cs["state"] = {"waiting": {"reason": state, "message": message or default}}
        elif state == "ContainerCreating":
            cs["state"] = {"waiting": {"reason": "ContainerCreating"}}
        elif state in ("Succeeded", "Failed"):
            code = 0 if state == "Succeeded" else 1
            cs["imageID"] = f"{cimage.split(':')[0]}@sha256:{hashlib.sha256(cimage.encode()).hexdigest()}"
            cs["containerID"] = f"containerd://{hashlib.sha256((ns + name + cname).encode()).hexdigest()}"
            cs["state"] = {"terminated": {"exitCode": code, "reason": "Completed" if code == 0 else "Error",
                                          "startedAt": started, "finishedAt": ago(days=1),
                                          "containerID": cs["containerID"]}}
        statuses.append(cs)
    conditions = []
    if scheduled:
        ready_status = "True" if ready else "False"
        conditions = [
            {"type": "PodReadyToStartContainers", "status": "True" if state != "ContainerCreating" else "False",
             "lastTransitionTime": started},
            {"type": "Initialized", "status": "True", "lastTransitionTime": started},
            {"type": "Ready", "status": ready_status, "lastTransitionTime": started},
            {"type": "ContainersReady", "status": ready_status, "lastTransitionTime": started},
            {"type": "PodScheduled", "status": "True", "lastTransitionTime": started},
        ]
        if not ready:
            not_ready = [cs["name"] for cs in statuses]
            reason = "PodCompleted" if state in ("Succeeded", "Failed") else "ContainersNotReady"
            for cond in conditions[2:4]:
                cond["reason"] = reason
                if reason == "ContainersNotReady":
                    cond["message"] = f"containers with unready status: [{' '.join(not_ready)}]"
    else:
        conditions = [{"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                       "lastTransitionTime": started,
                       "message": message or "0/3 nodes are available: 3 Insufficient cpu. preemption: 0/3 nodes "
                                             "are available: 3 No preemption victims found for incoming pod."}]
    status = {"phase": phase, "conditions": conditions, "qosClass": "Burstable"}
    if scheduled:
        status["hostIP"] = f"10.224.0.{index % 250 + 4}"
        status["hostIPs"] = [{"ip": status["hostIP"]}]
        status["podIP"] = pod_ip or f"10.244.{index % 4}.{index % 250 + 2}"
        status["podIPs"] = [{"ip": status["podIP"]}]
        status["startTime"] = started
        status["containerStatuses"] = statuses
    spec = {"containers": [_container(c, image if len(names) == 1 else f"{IMAGE_REGISTRY}/{c}:1.1.88")
                           for c in names],
            "restartPolicy": "Never" if state in ("Succeeded", "Failed") else "Always",
            "schedulerName": "default-scheduler", "serviceAccountName": service_account,
            "serviceAccount": service_account, "terminationGracePeriodSeconds": 30, "dnsPolicy": "ClusterFirst",
            "enableServiceLinks": True, "preemptionPolicy": "PreemptLowerPriority", "priority": 0,
            "tolerations": [{"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute",
                             "tolerationSeconds": 300},
                            {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute",
                             "tolerationSeconds": 300}]}
    if scheduled and node_name:
        spec["nodeName"] = node_name
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": meta(name, ns, labels, annotations, created=created, owner=owner),
            "spec": spec, "status": status}


def evicted(pod_obj, resource="memory", used="1536Mi"):
    """`pod_obj` (in place, returned) as the kubelet leaves a pod it evicted under node pressure: phase Failed,
    reason Evicted with the kubelet's message, condition DisruptionTarget (reason TerminationByKubelet, Kubernetes
    1.26+), containers terminated. The pod stays until it is deleted; its controller has already replaced it."""
    container = (pod_obj["spec"]["containers"] or [{}])[0].get("name", "")
    message = (f"The node was low on resource: {resource}. Threshold quantity: 100Mi, available: 92844Ki. "
               f"Container {container} was using {used}, request is 128Mi, has larger consumption of {resource}. ")
    status = pod_obj["status"]
    status.update(phase="Failed", reason="Evicted", message=message)
    when = ago(hours=5)
    for cond in status.get("conditions") or []:
        if cond["type"] in ("Ready", "ContainersReady"):
            cond.update(status="False", reason="PodFailed", lastTransitionTime=when)
    status.setdefault("conditions", []).append({"type": "DisruptionTarget", "status": "True",
                                                "reason": "TerminationByKubelet", "message": message,
                                                "lastTransitionTime": when})
    for cs in status.get("containerStatuses") or []:
        cs.update(ready=False, started=False)
        cs["state"] = {"terminated": {"exitCode": 137, "reason": "ContainerStatusUnknown",
                                      "message": "The container could not be located when the pod was terminated",
                                      "startedAt": None, "finishedAt": None}}
    return pod_obj


def pods_for(workload, nodes=("aks-nodepool1-12345678-vmss000000",), state="Running", count=None, **kwargs):
    """The pods a Deployment, StatefulSet or DaemonSet (built here) runs: named and owned like the
    controllers name them (`<rs>-<5 chars>`, `<sts>-<ordinal>`, `<ds>-<5 chars>` one per node)."""
    md, kind = workload["metadata"], workload["kind"]
    ns, name = md["namespace"], md["name"]
    labels = dict(workload["spec"]["template"]["metadata"]["labels"])
    containers = [c["name"] for c in workload["spec"]["template"]["spec"]["containers"]]
    image = workload["spec"]["template"]["spec"]["containers"][0]["image"]
    nodes = list(nodes) or [None]
    out = []
    if kind == "Deployment":
        rs = replicaset(workload)
        pod_hash = rs["metadata"]["labels"]["pod-template-hash"]
        labels["pod-template-hash"] = pod_hash
        total = workload["spec"]["replicas"] if count is None else count
        for i in range(total):
            suffix = stable_hash(ns, name, i, length=5)
            out.append(pod(f"{rs['metadata']['name']}-{suffix}", ns, state, nodes[i % len(nodes)], dict(labels),
                           containers, owner=owner_ref("ReplicaSet", rs["metadata"]["name"],
                                                       uid=_uid("ReplicaSet", rs["metadata"]["name"])),
                           image=image, **kwargs))
    elif kind == "StatefulSet":
        total = workload["spec"]["replicas"] if count is None else count
        for i in range(total):
            pod_labels = dict(labels, **{"statefulset.kubernetes.io/pod-name": f"{name}-{i}",
                                         "apps.kubernetes.io/pod-index": str(i),
                                         "controller-revision-hash": workload["status"]["currentRevision"]})
            out.append(pod(f"{name}-{i}", ns, state, nodes[i % len(nodes)], pod_labels, containers,
                           owner=owner_ref("StatefulSet", name, uid=_uid("StatefulSet", name)), image=image,
                           **kwargs))
    elif kind == "DaemonSet":
        targets = nodes if count is None else nodes[:count]
        for i, node_name in enumerate(targets):
            suffix = stable_hash(ns, name, node_name, length=5)
            pod_labels = dict(labels, **{"controller-revision-hash": stable_hash(ns, name, length=10),
                                         "pod-template-generation": "1"})
            out.append(pod(f"{name}-{suffix}", ns, state, node_name, pod_labels, containers,
                           owner=owner_ref("DaemonSet", name, uid=_uid("DaemonSet", name)), image=image, **kwargs))
    else:
        raise ValueError(f"pods_for: unsupported kind {kind}")
    return out


def job(name, ns=AZUREML_NAMESPACE, succeeded=1, failed=0, labels=None, annotations=None, active=0):
    when = ago(days=1)
    status = {"startTime": ago(days=1, minutes=1)}
    conditions = []
    if succeeded:
        status["succeeded"] = succeeded
        status["completionTime"] = when
        conditions = [{"type": "SuccessCriteriaMet", "status": "True", "reason": "CompletionsReached",
                       "message": "Reached expected number of succeeded pods", "lastProbeTime": when,
                       "lastTransitionTime": when},
                      {"type": "Complete", "status": "True", "reason": "CompletionsReached",
                       "message": "Reached expected number of succeeded pods", "lastProbeTime": when,
                       "lastTransitionTime": when}]
    elif failed:
        status["failed"] = failed
        conditions = [{"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded",
                       "message": "Job has reached the specified backoff limit", "lastProbeTime": when,
                       "lastTransitionTime": when}]
    if active:
        status["active"] = active
    if conditions:
        status["conditions"] = conditions
    selector = {"batch.kubernetes.io/job-name": name}
    template = _template(selector, [_container(name, f"{IMAGE_REGISTRY}/{name}:1.1.88")])
    template["spec"]["restartPolicy"] = "Never"
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": meta(name, ns, labels, annotations),
            "spec": {"completions": 1, "parallelism": 1, "backoffLimit": 6, "selector": {"matchLabels": selector},
                     "template": template},
            "status": status}


def configmap(name, ns=AZUREML_NAMESPACE, data=None, labels=None, annotations=None):
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta(name, ns, labels, annotations),
            "data": {k: str(v) for k, v in (data or {}).items()}}


def secret(name, ns=AZUREML_NAMESPACE, data=None, type="Opaque", labels=None, annotations=None):  # noqa: A002
    """A Secret; `data` values (str or bytes) are base64-encoded as the API stores them."""
    return {"apiVersion": "v1", "kind": "Secret", "metadata": meta(name, ns, labels, annotations), "type": type,
            "data": {k: _b64(v) for k, v in (data or {}).items()}}


def serviceaccount(name, ns=AZUREML_NAMESPACE, labels=None, annotations=None):
    return {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": meta(name, ns, labels, annotations)}


def service(name, ns=AZUREML_NAMESPACE, type="ClusterIP", load_balancer_ip=None, ports=None,  # noqa: A002
            selector=None, labels=None, annotations=None, cluster_ip=None):
    """A Service. LoadBalancer services get `status.loadBalancer.ingress[0].ip` = load_balancer_ip (or
    stay <pending> when None) and node ports."""
    index = int(hashlib.sha256(f"{ns}/{name}".encode()).hexdigest()[:4], 16)
    ports = [dict(p) for p in (ports or [{"name": "http", "port": 80, "targetPort": 80, "protocol": "TCP"}])]
    for i, port in enumerate(ports):
        port.setdefault("protocol", "TCP")
        port.setdefault("targetPort", port["port"])
        if type in ("LoadBalancer", "NodePort"):
            port.setdefault("nodePort", 30000 + (index + i) % 2767)
    cluster_ip = cluster_ip or f"10.0.{index % 250}.{index % 200 + 10}"
    spec = {"type": type, "ports": ports, "selector": dict(selector or {"app": name}), "clusterIP": cluster_ip,
            "clusterIPs": [cluster_ip], "sessionAffinity": "None", "ipFamilies": ["IPv4"],
            "ipFamilyPolicy": "SingleStack", "internalTrafficPolicy": "Cluster"}
    if type in ("LoadBalancer", "NodePort"):
        spec["externalTrafficPolicy"] = "Cluster"
    if type == "LoadBalancer":
        spec["allocateLoadBalancerNodePorts"] = True
    status = {"loadBalancer": {}}
    if type == "LoadBalancer" and load_balancer_ip:
        status["loadBalancer"] = {"ingress": [{"ip": load_balancer_ip, "ipMode": "VIP"}]}
    return {"apiVersion": "v1", "kind": "Service", "metadata": meta(name, ns, labels, annotations), "spec": spec,
            "status": status}


def endpoints(service_obj, ready=(), not_ready=(), port=None):
    """The Endpoints object the endpoints controller keeps for `service_obj`: one subset whose `addresses` are the
    ready pods' IPs and `notReadyAddresses` the others (core/v1 Endpoints); no pods at all: no subset."""
    spec = service_obj["spec"]
    ports = [{"name": p.get("name"), "port": p.get("targetPort") if isinstance(p.get("targetPort"), int) else
              p.get("port"), "protocol": p.get("protocol", "TCP")} for p in spec.get("ports") or []]
    subset = {"ports": [port] if port else ports}
    if ready:
        subset["addresses"] = [{"ip": ip} for ip in ready]
    if not_ready:
        subset["notReadyAddresses"] = [{"ip": ip} for ip in not_ready]
    name, ns = service_obj["metadata"]["name"], service_obj["metadata"]["namespace"]
    return {"apiVersion": "v1", "kind": "Endpoints", "metadata": meta(name, ns),
            "subsets": [subset] if ready or not_ready else []}


def pod_ips(objects, prefix):
    """The IPs of the Running, ready pods in `objects` whose name starts with `prefix`."""
    return [o["status"].get("podIP") for o in objects if o["kind"] == "Pod"
            and o["metadata"]["name"].startswith(prefix) and o["status"].get("podIP")
            and all(c.get("ready") for c in o["status"].get("containerStatuses") or [])]


def event(involved, reason, message, type="Warning", count=1, source="default-scheduler",  # noqa: A002
          name=None, last_seen=None):
    """A core/v1 Event about `involved` (an object built here)."""
    md = involved["metadata"]
    ns = md.get("namespace", "default")
    last = last_seen or ago(minutes=2)
    return {"apiVersion": "v1", "kind": "Event",
            "metadata": meta(name or f"{md['name']}.{stable_hash(md['name'], reason, length=16, alphabet=HEX)}",
                             ns, created=last),
            "involvedObject": {"kind": involved["kind"], "namespace": ns, "name": md["name"],
                               "uid": md.get("uid") or _uid(involved["kind"], md["name"]),
                               "apiVersion": involved["apiVersion"]},
            "reason": reason, "message": message, "type": type, "count": count, "firstTimestamp": ago(minutes=30),
            "lastTimestamp": last, "source": {"component": source}, "reportingComponent": source,
            "reportingInstance": ""}


def crd(name, helm_release=None, helm_namespace=AZUREML_NAMESPACE, kind=None, versions=("v1",), scope="Namespaced",
        labels=None, annotations=None, short_names=()):
    """A CustomResourceDefinition `<plural>.<group>`; with `helm_release`, Helm-owned by that release."""
    plural, _, group = name.partition(".")
    if not group:
        raise ValueError("a CRD name is <plural>.<group>")
    if plural.endswith("ies"):
        singular = plural[:-3] + "y"
    elif plural.endswith("s"):
        singular = plural[:-1]
    else:
        singular = plural
    kind = kind or "".join(part.capitalize() for part in singular.split("-"))
    all_labels = dict(labels or {})
    all_annotations = dict(annotations or {})
    if helm_release:
        helm_labels, helm_annotations = helm_metadata(helm_release, helm_namespace)
        all_labels.update(helm_labels)
        all_annotations.update(helm_annotations)
    names = {"plural": plural, "singular": singular, "kind": kind, "listKind": f"{kind}List"}
    if short_names:
        names["shortNames"] = list(short_names)
    return {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": meta(name, labels=all_labels, annotations=all_annotations, created=ago(days=10)),
            "spec": {"group": group, "names": names, "scope": scope,
                     "versions": [{"name": v, "served": True, "storage": i == 0,
                                   "schema": {"openAPIV3Schema": {"type": "object",
                                                                  "x-kubernetes-preserve-unknown-fields": True}}}
                                  for i, v in enumerate(versions)],
                     "conversion": {"strategy": "None"}}}


def clusterrole(name, rules=None, labels=None, annotations=None):
    return {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
            "metadata": meta(name, labels=labels, annotations=annotations),
            "rules": rules if rules is not None else [{"apiGroups": [""], "resources": ["pods", "services"],
                                                       "verbs": ["get", "list", "watch"]}]}


def clusterrolebinding(name, role, subjects=None, labels=None, annotations=None):
    return {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
            "metadata": meta(name, labels=labels, annotations=annotations),
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
            "subjects": subjects if subjects is not None else []}


def ingressclass(name, controller="k8s.io/ingress-nginx", labels=None, annotations=None, default=False):
    annotations = dict(annotations or {})
    if default:
        annotations["ingressclass.kubernetes.io/is-default-class"] = "true"
    return {"apiVersion": "networking.k8s.io/v1", "kind": "IngressClass",
            "metadata": meta(name, labels=labels, annotations=annotations), "spec": {"controller": controller}}


# ---------------------------------------------------------------------------------------------- nodes
def aks_nodes(node_resource_group, count=3, pool="nodepool1", allocatable_cpu="3860m",
              allocatable_memory="12880532Ki", arch="amd64", gpus=0, vm_size="Standard_D4s_v3", location="eastus",
              ready=True, kubelet_version="v1.31.5", subscription_id=SUBSCRIPTION_ID,
              mode="System", start=0):
    """AKS VMSS nodes `aks-<pool>-<8 digits>-vmss00000N`, labelled as AKS labels them (among them
    `kubernetes.azure.com/cluster` = the node resource group, `kubernetes.azure.com/agentpool`,
    `node.kubernetes.io/instance-type`, and `accelerator=nvidia` on GPU pools)."""
    digits = str(int(hashlib.sha256(f"{node_resource_group}/{pool}".encode()).hexdigest()[:8], 16) % 10 ** 8)
    digits = digits.zfill(8)
    vmss = f"aks-{pool}-{digits}-vmss"
    image = "AKSUbuntu-2204gen2arm64containerd-202501.12.0" if arch == "arm64" else \
        "AKSUbuntu-2204gen2containerd-202501.12.0"
    out = []
    for i in range(start, start + count):
        name = f"{vmss}{i:06x}"
        labels = {"agentpool": pool, "kubernetes.azure.com/agentpool": pool, AKS_CLUSTER_LABEL: node_resource_group,
                  "kubernetes.azure.com/mode": mode.lower(), "kubernetes.azure.com/role": "agent",
                  "kubernetes.azure.com/node-image-version": image, "kubernetes.azure.com/os-sku": "Ubuntu",
                  "kubernetes.azure.com/kubelet-identity-client-id": _uid("kubelet", node_resource_group),
                  "node.kubernetes.io/instance-type": vm_size, "beta.kubernetes.io/instance-type": vm_size,
                  "topology.kubernetes.io/region": location, "topology.kubernetes.io/zone": "0",
                  "failure-domain.beta.kubernetes.io/region": location, "storageprofile": "managed",
                  "storagetier": "Premium_LRS", "kubernetes.azure.com/storageprofile": "managed",
                  "kubernetes.azure.com/storagetier": "Premium_LRS"}
        if gpus:
            labels["accelerator"] = "nvidia"
        if vm_size.lower().startswith(("standard_nc", "standard_nd", "standard_nv")):
            labels["kubernetes.azure.com/accelerator"] = "nvidia"
        provider = (f"azure:///subscriptions/{subscription_id}/resourceGroups/{node_resource_group.lower()}/providers/"
                    f"Microsoft.Compute/virtualMachineScaleSets/{vmss}/virtualMachines/{i}")
        out.append(node(name, labels, allocatable_cpu, allocatable_memory, arch, gpus, ready,
                        kubelet_version=kubelet_version, provider_id=provider,
                        os_image="Ubuntu 22.04.5 LTS"))
    return out


def gpu_nodes(node_resource_group, count=1, pool="gpupool", gpus=1, vm_size="Standard_NC6s_v3", **kwargs):
    """AKS GPU nodes: allocatable `nvidia.com/gpu`, label accelerator=nvidia."""
    kwargs.setdefault("allocatable_cpu", "5840m")
    kwargs.setdefault("allocatable_memory", "104698788Ki")
    kwargs.setdefault("mode", "User")
    return aks_nodes(node_resource_group, count, pool=pool, gpus=gpus, vm_size=vm_size, **kwargs)


def arc_nodes(count=3, prefix="arc-node", arch="amd64", allocatable_cpu="4", allocatable_memory="16283948Ki", gpus=0,
              ready=True, kubelet_version="v1.31.5+k3s1", control_plane=1):
    """Nodes of an on-premises cluster connected to Azure Arc (k3s-like: the first `control_plane` nodes
    carry the control-plane role label; no AKS labels; Arc reports neither CPU, memory nor architecture)."""
    out = []
    for i in range(count):
        labels = {}
        if i < control_plane:
            labels["node-role.kubernetes.io/control-plane"] = "true"
            labels["node-role.kubernetes.io/master"] = "true"
        out.append(node(f"{prefix}-{i}", labels, allocatable_cpu, allocatable_memory, arch, gpus, ready,
                        kubelet_version=kubelet_version, os_image="Ubuntu 22.04.4 LTS",
                        internal_ip=f"192.0.2.{10 + i}"))
    return out


def node_names(nodes):
    return [n["metadata"]["name"] for n in nodes]


# ---------------------------------------------------------------------------------------------- AzureML
def _with_pods(workload, nodes):
    return [workload] + ([replicaset(workload)] if workload["kind"] == "Deployment" else []) + \
        pods_for(workload, nodes)


def azureml_components(extension_name="azureml", training=True, inference=True, arc=False, install_volcano=True,
                       install_prom_op=True, nvidia=False, dcgm=False, ha=True, nodes=None,
                       namespace_name=AZUREML_NAMESPACE, router_service_type="LoadBalancer",
                       router_ip=DEFAULT_ROUTER_IP, nginx=None, version="1.1.88", crds=True,
                       identity_audience="https://management.azure.com/"):
    """The objects a healthy AzureML extension release `extension_name` leaves in the cluster.

    Per Microsoft's components table: deployments gateway, metrics-controller-manager,
    <ext>-kube-state-metrics, <ext>-prometheus-operator (install_prom_op), relayserver (arc); training:
    aml-operator and, with install_volcano, volcano-admission/-controllers/-scheduler; inference:
    azureml-fe-v2 (3 replicas with ha, else 1), inference-operator-controller-manager,
    amlarc-identity-controller, amlarc-identity-proxy and, on AKS (nginx default: not arc),
    azureml-ingress-nginx-controller; statefulset prometheus-prom-prometheus; daemonsets
    <ext>-dcgm-exporter (dcgm) and nvidia-device-plugin-daemonset (nvidia). Every object carries this
    release's Helm ownership; each workload has a ReplicaSet (deployments) and Running pods spread over
    `nodes` (names; default three AKS node names). Also the inference router Service `azureml-fe`
    (type `router_service_type`, LoadBalancer ingress IP `router_ip`), the namespace, and (crds=True) the
    CRDs the chart installs (instance types; volcano and Prometheus operator CRDs when installed)."""
    nodes = list(nodes or node_names(aks_nodes("MC_rg-ml_aks-prod_eastus")))
    nginx = (not arc) if nginx is None else nginx
    ns = namespace_name
    labels, annotations = helm_metadata(extension_name, ns)
    chart = dict(labels, **{"helm.sh/chart": f"azureml-k8s-extension-{version}",
                            "app.kubernetes.io/instance": extension_name})

    def dep(name, replicas=1, image_name=None):
        return deployment(name, ns, replicas, labels=dict(chart, **{"app.kubernetes.io/name": name}),
                          annotations=annotations, image=f"{IMAGE_REGISTRY}/{image_name or name}:{version}")

    deployments = [dep("gateway"), dep("metrics-controller-manager"),
                   dep(f"{extension_name}-kube-state-metrics", image_name="kube-state-metrics")]
    if install_prom_op:
        deployments.append(dep(f"{extension_name}-prometheus-operator", image_name="prometheus-operator"))
    if arc:
        deployments.append(dep("relayserver", 2 if ha else 1))
    if training:
        deployments.append(dep("aml-operator"))
        if install_volcano:
            deployments += [dep("volcano-admission"), dep("volcano-controllers"), dep("volcano-scheduler")]
    if inference:
        deployments += [dep("azureml-fe-v2", 3 if ha else 1), dep("inference-operator-controller-manager"),
                        dep("amlarc-identity-controller"), dep("amlarc-identity-proxy")]
        if nginx:
            deployments.append(dep("azureml-ingress-nginx-controller", image_name="ingress-nginx-controller"))
    objects = [namespace(ns, labels={"name": ns})]
    for workload in deployments:
        objects += _with_pods(workload, nodes)
    prom = statefulset("prometheus-prom-prometheus", ns, 1, labels=dict(chart), annotations=annotations)
    objects += _with_pods(prom, nodes)
    daemonsets = []
    if dcgm:
        daemonsets.append(daemonset(f"{extension_name}-dcgm-exporter", ns, len(nodes), labels=dict(chart),
                                    annotations=annotations, image="nvcr.io/nvidia/k8s/dcgm-exporter:3.3.9-3.6.1"))
    if nvidia:
        daemonsets.append(daemonset("nvidia-device-plugin-daemonset", ns, len(nodes), labels=dict(chart),
                                    annotations=annotations, image="nvcr.io/nvidia/k8s-device-plugin:v0.17.0"))
    for workload in daemonsets:
        objects += _with_pods(workload, nodes)
    if inference:
        router = inference_router_service(router_service_type, router_ip, extension_name, ns)
        objects += [router, endpoints(router, pod_ips(objects, "azureml-fe-v2"))]
        if nginx:
            objects.append(ingressclass("azureml-ingress-nginx", "k8s.io/ingress-nginx", labels=dict(chart),
                                        annotations=annotations))
            webhook = service("azureml-ingress-nginx-controller-admission", ns, ports=[
                {"name": "https-webhook", "port": 443, "targetPort": 8443}],
                selector={"app.kubernetes.io/name": "azureml-ingress-nginx-controller"}, labels=dict(chart),
                annotations=annotations)
            objects += [webhook, endpoints(webhook, pod_ips(objects, "azureml-ingress-nginx-controller"))]
    if inference:
        # The identity components' configuration; AML-Kubernetes#299 shows its audience, the public cloud's ARM
        # endpoint unless the extension was deployed from another cloud.
        objects.append(configmap("amlarc-identity-config", ns, {"audience": identity_audience},
                                 labels=dict(chart), annotations=annotations))
    # Helm's record of the release (one deployed revision): the labels verify reads, a payload it never reads.
    objects.append(secret(f"sh.helm.release.v1.{extension_name}.v1", ns, {"release": _b64("H4sIA...")},
                          type="helm.sh/release.v1", labels={"name": extension_name, "owner": "helm",
                                                             "status": "deployed", "version": "1"}))
    objects.append(serviceaccount("default", ns))
    if crds:
        for name in AZUREML_CRDS:
            objects.append(crd(name, extension_name, ns, kind="InstanceType", versions=("v1alpha1",)))
        if training and install_volcano:
            objects += volcano_crds(extension_name, ns)
        if install_prom_op:
            objects += prometheus_operator_crds(extension_name, ns)
    return objects


def inference_router_service(type="LoadBalancer", load_balancer_ip=DEFAULT_ROUTER_IP,  # noqa: A002
                             extension_name="azureml", ns=AZUREML_NAMESPACE):
    """The inference router Service `azureml-fe` in `azureml` (ports 80 and 443) selecting azureml-fe-v2."""
    labels, annotations = helm_metadata(extension_name, ns)
    kind = {"loadbalancer": "LoadBalancer", "nodeport": "NodePort", "clusterip": "ClusterIP"}.get(
        str(type).lower(), type)
    return service(ROUTER_SERVICE, ns, kind, load_balancer_ip if kind == "LoadBalancer" else None,
                   ports=[{"name": "http", "port": 80, "targetPort": 9001},
                          {"name": "https", "port": 443, "targetPort": 9001}],
                   selector={"app": "azureml-fe-v2"}, labels=labels, annotations=annotations)


def healthcheck_report(entries=None, date=None, duration="149.978981ms", correlation_id=None,
                       distribution="", infrastructure=""):
    """The text the HealthCheck job writes per section. `entries`: (status, name) or
    (status, name, error_code, error_message) tuples or dicts {status, name, error_code, error_message};
    default: every known checker Passed."""
    if entries is None:
        entries = [("Passed", name) for name in HEALTHCHECK_CHECKERS]
    lines = ["Report:", f"Duration: {duration}", f"Date: {date or ago(minutes=30)}",
             f"K8sDistribution: {distribution}".rstrip(), f"K8sInfrastructure: {infrastructure}".rstrip(),
             f"CorrelationId: {correlation_id or _uid('healthcheck', str(entries))}",
             f"TroubleShootingGuide: {TROUBLESHOOTING_GUIDE}"]
    for entry in entries:
        if isinstance(entry, dict):
            entry = (entry.get("status"), entry.get("name"), entry.get("error_code"), entry.get("error_message"))
        status, name = entry[0], entry[1]
        code = entry[2] if len(entry) > 2 else None
        message = entry[3] if len(entry) > 3 else None
        line = f"Status: {status} Name: {name}"
        if code:
            line += f" ErrorCode: {code}"
        if message:
            line += f" ErrorMessage: {message}"
        lines.append(line)
    return "\n".join(lines) + "\n"


def healthcheck_configmap(sections=None, ns=AZUREML_NAMESPACE, extension_name="azureml"):
    """Configmap `arcml-healthcheck`. sections: None (all five keys, every checker Passed) or a dict whose
    keys are `reports-pre-install` (or just `pre-install`) ... `reports-test` and whose values are report
    text or entry lists for `healthcheck_report`; only those keys are written."""
    if sections is None:
        sections = {key: None for key in HEALTHCHECK_KEYS}
    data = {}
    for key, value in sections.items():
        full = key if key.startswith(("reports-", "status-")) else f"reports-{key}"
        data[full] = value if isinstance(value, str) else healthcheck_report(value)
    labels, annotations = helm_metadata(extension_name, ns)
    return configmap(HEALTHCHECK_CONFIGMAP, ns, data, labels=labels, annotations=annotations)


# ---------------------------------------------------------------------------------------------- Arc
def arc_clusterconfig(resource_name, resource_group, subscription_id, location="eastus", tenant_id=None):
    """Configmap `azure-clusterconfig` in `azure-arc`, as the Arc agents keep it."""
    data = {"AZURE_RESOURCE_NAME": resource_name, "AZURE_RESOURCE_GROUP": resource_group,
            "AZURE_SUBSCRIPTION_ID": subscription_id, "AZURE_REGION": location,
            "AZURE_ARC_AGENT_VERSION": "1.24.4", "AZURE_ENVIRONMENT": "AZUREPUBLICCLOUD",
            "ARC_AGENT_RELEASE_TRAIN": "stable", "CLUSTER_TYPE": "ConnectedClusters", "FLUX_CLIENT_DEFAULT_LOCATION":
                "azurearcfork8s.azurecr.io/arc-preview/fluxctl:0.2.0", "IS_CLIENT_SECRET_A_TOKEN": "false",
            "KUBERNETES_DISTRO": "k3s", "KUBERNETES_INFRA": "generic"}
    if tenant_id:
        data["AZURE_TENANT_ID"] = tenant_id
    return configmap("azure-clusterconfig", "azure-arc", data,
                     labels={HELM_MANAGED_BY: "Helm"},
                     annotations={HELM_RELEASE_NAME: "azure-arc", HELM_RELEASE_NAMESPACE: "default"})


def arc_agents(resource_name, resource_group, subscription_id, nodes=("arc-node-0",), location="eastus"):
    """Namespace `azure-arc`, its clusterconfig configmap and the main Arc agent deployments with pods."""
    objects = [namespace("azure-arc"), arc_clusterconfig(resource_name, resource_group, subscription_id, location)]
    for name in ("clusterconnect-agent", "clusteridentityoperator", "config-agent", "controller-manager",
                 "extension-manager", "kube-aad-proxy", "metrics-agent", "resource-sync-agent"):
        objects += _with_pods(deployment(name, "azure-arc", 1, image=f"mcr.microsoft.com/azurearck8s/{name}:1.24.4"),
                              nodes)
    return objects


def aks_extension_manager(nodes=("aks-nodepool1-12345678-vmss000000",)):
    """The AKS extension manager in kube-system (deployments extension-agent and extension-operator, with pods): it
    installs cluster extensions and reports their state to Azure."""
    objects = []
    for name in ("extension-agent", "extension-operator"):
        objects += _with_pods(deployment(name, "kube-system", 1, image=f"mcr.microsoft.com/azurek8sflux/{name}:1.24.4"),
                              nodes)
    return objects


# ---------------------------------------------------------------------------------------------- conflicts
def legacy_azureml_fe(ns="default", enable_upgrade=False, nodes=("aks-nodepool1-12345678-vmss000000",),
                      load_balancer_ip="203.0.113.20"):
    """The AKS v1 (AksCompute) inference router left in namespace `default`, without Helm metadata:
    deployment/service/serviceaccount azureml-fe, service azureml-fe-int-http, secret azuremlfessl,
    configmap azuremlfeconfig, ClusterRole azureml-fe-role, ClusterRoleBinding azureml-fe-binding."""
    annotations = {"azureml-fe-enable-upgrade": "true"} if enable_upgrade else None
    fe = deployment("azureml-fe", ns, 3, labels={"app": "azureml-fe", "isazuremlapp": "true"},
                    annotations=annotations, image="mcr.microsoft.com/azureml/azureml-fe:1.55.0")
    return ([fe, replicaset(fe)] + pods_for(fe, nodes) + [
        service("azureml-fe", ns, "LoadBalancer", load_balancer_ip,
                ports=[{"name": "http", "port": 80, "targetPort": 5001},
                       {"name": "https", "port": 443, "targetPort": 5001}], selector={"app": "azureml-fe"},
                labels={"app": "azureml-fe", "isazuremlapp": "true"}),
        service("azureml-fe-int-http", ns, "ClusterIP", ports=[{"name": "http", "port": 80, "targetPort": 5001}],
                selector={"app": "azureml-fe"}, labels={"app": "azureml-fe", "isazuremlapp": "true"}),
        serviceaccount("azureml-fe", ns, labels={"isazuremlapp": "true"}),
        secret("azuremlfessl", ns, {"cert.pem": "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
                                    "key.pem": "-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n"},
               labels={"isazuremlapp": "true"}),
        configmap("azuremlfeconfig", ns, {"config.json": '{"scoringFe": {"replicas": 3}}'},
                  labels={"isazuremlapp": "true"}),
        clusterrole("azureml-fe-role", [{"apiGroups": [""], "resources": ["pods", "endpoints", "services"],
                                         "verbs": ["get", "list", "watch"]}], labels={"isazuremlapp": "true"}),
        clusterrolebinding("azureml-fe-binding", "azureml-fe-role",
                           [{"kind": "ServiceAccount", "name": "azureml-fe", "namespace": ns}],
                           labels={"isazuremlapp": "true"}),
    ])


def volcano_crds(helm_release="volcano", helm_namespace="volcano-system", names=VOLCANO_CRDS):
    """Volcano CRDs (jobs.batch.volcano.sh, ...), Helm-owned by `helm_release` (None: no Helm metadata)."""
    kinds = {"jobs": "Job", "commands": "Command", "podgroups": "PodGroup", "queues": "Queue",
             "numatopologies": "Numatopology"}
    out = []
    for name in names:
        plural = name.split(".")[0]
        versions = ("v1alpha1",) if "batch" in name or "bus" in name or "nodeinfo" in name else ("v1beta1",)
        scope = "Cluster" if plural in ("queues", "numatopologies") else "Namespaced"
        out.append(crd(name, helm_release, helm_namespace, kind=kinds.get(plural), versions=versions, scope=scope))
    return out


def prometheus_operator_crds(helm_release="kube-prometheus-stack", helm_namespace="monitoring",
                             names=PROMETHEUS_OPERATOR_CRDS):
    """Prometheus operator CRDs (*.monitoring.coreos.com), Helm-owned by `helm_release` (None: no Helm)."""
    kinds = {"alertmanagerconfigs": "AlertmanagerConfig", "alertmanagers": "Alertmanager",
             "podmonitors": "PodMonitor", "probes": "Probe", "prometheuses": "Prometheus",
             "prometheusrules": "PrometheusRule", "servicemonitors": "ServiceMonitor", "thanosrulers": "ThanosRuler"}
    out = []
    for name in names:
        plural = name.split(".")[0]
        versions = ("v1alpha1",) if plural == "alertmanagerconfigs" else ("v1",)
        item = crd(name, helm_release, helm_namespace, kind=kinds.get(plural), versions=versions)
        item["spec"]["names"]["singular"] = kinds.get(plural, plural).lower()
        out.append(item)
    return out


def foreign_ingress_nginx(name="nginx", controller="k8s.io/ingress-nginx", release="ingress-nginx",
                          ns="ingress-nginx", nodes=("aks-nodepool1-12345678-vmss000000",), default=False):
    """An ingress-nginx installed by another Helm release: its IngressClass (spec.controller
    `controller`), namespace, controller deployment with pods and LoadBalancer service."""
    labels, annotations = helm_metadata(release, ns)
    labels = dict(labels, **{"app.kubernetes.io/name": "ingress-nginx", "app.kubernetes.io/instance": release,
                             "app.kubernetes.io/component": "controller"})
    controller_dep = deployment("ingress-nginx-controller", ns, 1, labels=labels, annotations=annotations,
                                image="registry.k8s.io/ingress-nginx/controller:v1.12.0")
    return ([ingressclass(name, controller, labels=labels, annotations=annotations, default=default), namespace(ns)]
            + _with_pods(controller_dep, nodes)
            + [service("ingress-nginx-controller", ns, "LoadBalancer", "203.0.113.30",
                       ports=[{"name": "http", "port": 80}, {"name": "https", "port": 443}],
                       selector={"app": "ingress-nginx-controller"}, labels=labels, annotations=annotations)])


def terminating_namespace(name=AZUREML_NAMESPACE):
    return namespace(name, "Terminating")


def ssl_secret(name="azureml-ssl", ns=AZUREML_NAMESPACE, cert_pem=None, key_pem=None, keys=("cert.pem", "key.pem"),
               cname="ml.contoso.com"):
    """A TLS secret for `sslSecret`. Only the `keys` listed are present; missing PEMs are generated
    (a real certificate for `cname` and its key, from a throwaway CA)."""
    if (cert_pem is None and "cert.pem" in keys) or (key_pem is None and "key.pem" in keys):
        import trustme

        issued = trustme.CA(organization_name="amlk8s test CA").issue_cert(cname)
        cert_pem = cert_pem or b"".join(p.bytes() for p in issued.cert_chain_pems)
        key_pem = key_pem or issued.private_key_pem.bytes()
    data = {}
    if "cert.pem" in keys:
        data["cert.pem"] = cert_pem
    if "key.pem" in keys:
        data["key.pem"] = key_pem
    for key in keys:
        data.setdefault(key, "")
    return secret(name, ns, data)


def nvidia_device_plugin(ns="kube-system", nodes=("aks-gpupool-12345678-vmss000000",),
                         name="nvidia-device-plugin-daemonset"):
    """NVIDIA's device plugin DaemonSet (its static manifest's name and namespace) with one pod per node."""
    ds = daemonset(name, ns, len(nodes), labels={"name": "nvidia-device-plugin-ds"},
                   image="nvcr.io/nvidia/k8s-device-plugin:v0.17.0", node_selector={"accelerator": "nvidia"})
    return [ds] + pods_for(ds, nodes)


def dcgm_exporter(ns="gpu-operator", nodes=("aks-gpupool-12345678-vmss000000",), name="nvidia-dcgm-exporter"):
    """A DCGM exporter DaemonSet from another install (the NVIDIA GPU operator's name by default)."""
    ds = daemonset(name, ns, len(nodes), labels={"app": "nvidia-dcgm-exporter"},
                   image="nvcr.io/nvidia/k8s/dcgm-exporter:3.3.9-3.6.1", node_selector={"accelerator": "nvidia"})
    return [namespace(ns), ds] + pods_for(ds, nodes)


# ---------------------------------------------------------------------------------------------- worlds
def aks_world(node_resource_group="MC_rg-ml_aks-prod_eastus", extension_name="azureml", count=3, installed=True,
              healthcheck=True, subscription_id=SUBSCRIPTION_ID, **components):
    """An AKS cluster: system namespaces, `count` nodes of `node_resource_group` in `subscription_id` (their
    spec.providerID), and (installed) a healthy AzureML release with its passing health-check report."""
    nodes = aks_nodes(node_resource_group, count, subscription_id=subscription_id)
    objects = system_namespaces() + nodes + aks_extension_manager(node_names(nodes)[:1])
    if installed:
        objects += azureml_components(extension_name, nodes=node_names(nodes), **components)
        if healthcheck:
            objects.append(healthcheck_configmap(extension_name=extension_name))
    return objects


def arc_world(resource_name="arc-onprem", resource_group="rg-ml", subscription_id=SUBSCRIPTION_ID,
              extension_name="azureml", count=3, arch="amd64", installed=True, healthcheck=True, **components):
    """An Arc-connected cluster: system namespaces, nodes, the Arc agents and (installed) AzureML."""
    nodes = arc_nodes(count, arch=arch)
    objects = system_namespaces() + nodes + arc_agents(resource_name, resource_group, subscription_id,
                                                       node_names(nodes)[:1])
    if installed:
        components.setdefault("arc", True)
        objects += azureml_components(extension_name, nodes=node_names(nodes), **components)
        if healthcheck:
            objects.append(healthcheck_configmap(extension_name=extension_name))
    return objects
