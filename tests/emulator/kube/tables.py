"""Server-side printing: `meta.k8s.io/v1` Table answers, as `kubectl get` asks for them.

kubectl sends `Accept: application/json;as=Table;v=v1;g=meta.k8s.io,...,application/json`; the API server
then answers a Table whose columns are the ones kube-apiserver's printers define (pkg/printers/internalversion
in kubernetes/kubernetes), and whose rows carry the object as `PartialObjectMetadata` (the default
`includeObject=Metadata`), the full object (`includeObject=Object`) or nothing (`includeObject=None`).
Resources without a specific printer get the default "Name" + "Created At" columns, as the real server
gives custom resources without additionalPrinterColumns.
"""

import datetime

from .store import parse_time

_NAME = {"name": "Name", "type": "string", "format": "name",
         "description": "Name must be unique within a namespace. More info: "
                        "http://kubernetes.io/docs/user-guide/identifiers#names", "priority": 0}


def _col(name, kind="string", priority=0, fmt="", description=""):
    return {"name": name, "type": kind, "format": fmt, "description": description or name, "priority": priority}


def human_duration(seconds):
    """The short ages kubectl shows (k8s.io/apimachinery/pkg/util/duration.HumanDuration)."""
    seconds = max(0, int(seconds))
    if seconds < 120:
        return f"{seconds}s"
    minutes = seconds // 60
    if minutes < 10:
        return f"{minutes}m{seconds % 60}s" if seconds % 60 else f"{minutes}m"
    if minutes < 180:
        return f"{minutes}m"
    hours = minutes // 60
    if hours < 8:
        return f"{hours}h{minutes % 60}m" if minutes % 60 else f"{hours}h"
    if hours < 48:
        return f"{hours}h"
    if hours < 192:
        return f"{hours // 24}d{hours % 24}h" if hours % 24 else f"{hours // 24}d"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    return f"{hours // (24 * 365)}y{(hours // 24) % 365}d"


def age(obj):
    created = parse_time((obj.get("metadata") or {}).get("creationTimestamp"))
    if created is None:
        return "<unknown>"
    return human_duration((datetime.datetime.now(datetime.timezone.utc) - created).total_seconds())


def pod_status(pod):
    """The STATUS column of `kubectl get pods` (waiting/terminated reasons win over the phase)."""
    meta = pod.get("metadata") or {}
    status = pod.get("status") or {}
    reason = status.get("reason") or status.get("phase") or "Unknown"
    for cs in status.get("containerStatuses") or []:
        state = cs.get("state") or {}
        if state.get("waiting", {}).get("reason"):
            reason = state["waiting"]["reason"]
        elif state.get("terminated", {}).get("reason"):
            reason = state["terminated"]["reason"]
    if meta.get("deletionTimestamp"):
        reason = "Terminating"
    return reason


def _pod_row(pod):
    status = pod.get("status") or {}
    statuses = status.get("containerStatuses") or []
    total = len((pod.get("spec") or {}).get("containers") or []) or len(statuses)
    ready = sum(1 for cs in statuses if cs.get("ready"))
    restarts = sum(int(cs.get("restartCount") or 0) for cs in statuses)
    return [f"{ready}/{total}", pod_status(pod), str(restarts), age(pod), status.get("podIP") or "<none>",
            (pod.get("spec") or {}).get("nodeName") or "<none>", status.get("nominatedNodeName") or "<none>",
            "<none>"]


def _node_row(node):
    conditions = {c.get("type"): c.get("status") for c in (node.get("status") or {}).get("conditions") or []}
    state = {"True": "Ready", "False": "NotReady"}.get(conditions.get("Ready"), "Unknown")
    if (node.get("spec") or {}).get("unschedulable"):
        state += ",SchedulingDisabled"
    labels = (node.get("metadata") or {}).get("labels") or {}
    roles = sorted(k.split("/", 1)[1] for k in labels if k.startswith("node-role.kubernetes.io/")) or ["<none>"]
    info = (node.get("status") or {}).get("nodeInfo") or {}
    addresses = {a.get("type"): a.get("address") for a in (node.get("status") or {}).get("addresses") or []}
    return [state, ",".join(roles), age(node), info.get("kubeletVersion", ""), addresses.get("InternalIP", "<none>"),
            addresses.get("ExternalIP", "<none>"), info.get("osImage", ""), info.get("kernelVersion", ""),
            info.get("containerRuntimeVersion", "")]


def _deployment_row(dep):
    spec, status = dep.get("spec") or {}, dep.get("status") or {}
    return [f"{status.get('readyReplicas', 0)}/{spec.get('replicas', 1)}", status.get("updatedReplicas", 0),
            status.get("availableReplicas", 0), age(dep)]


def _daemonset_row(ds):
    status = ds.get("status") or {}
    selector = ((ds.get("spec") or {}).get("template") or {}).get("spec", {}).get("nodeSelector") or {}
    return [status.get("desiredNumberScheduled", 0), status.get("currentNumberScheduled", 0),
            status.get("numberReady", 0), status.get("updatedNumberScheduled", 0), status.get("numberAvailable", 0),
            ",".join(f"{k}={v}" for k, v in sorted(selector.items())) or "<none>", age(ds)]


def _statefulset_row(sts):
    spec, status = sts.get("spec") or {}, sts.get("status") or {}
    return [f"{status.get('readyReplicas', 0)}/{spec.get('replicas', 1)}", age(sts)]


def _service_row(svc):
    spec, status = svc.get("spec") or {}, svc.get("status") or {}
    ingress = (status.get("loadBalancer") or {}).get("ingress") or []
    external = ",".join(i.get("ip") or i.get("hostname") or "" for i in ingress)
    if not external:
        external = "<pending>" if spec.get("type") == "LoadBalancer" else "<none>"
    ports = ",".join(f"{p.get('port')}{':' + str(p['nodePort']) if p.get('nodePort') else ''}"
                     f"/{p.get('protocol', 'TCP')}" for p in spec.get("ports") or []) or "<none>"
    return [spec.get("type", "ClusterIP"), spec.get("clusterIP", "<none>"), external, ports, age(svc)]


def _namespace_row(ns):
    return [(ns.get("status") or {}).get("phase", "Active"), age(ns)]


def _data_row(obj):
    return [len(obj.get("data") or {}) + len(obj.get("binaryData") or {}), age(obj)]


def _secret_row(obj):
    return [obj.get("type", "Opaque"), len(obj.get("data") or {}), age(obj)]


def _crd_row(crd):
    return [crd.get("metadata", {}).get("creationTimestamp", "")]


def _ingressclass_row(obj):
    spec = obj.get("spec") or {}
    params = spec.get("parameters")
    return [spec.get("controller", ""), params.get("name") if params else "<none>", age(obj)]


def _job_row(job):
    spec, status = job.get("spec") or {}, job.get("status") or {}
    conditions = {c.get("type"): c.get("status") for c in status.get("conditions") or []}
    state = "Complete" if conditions.get("Complete") == "True" else (
        "Failed" if conditions.get("Failed") == "True" else "Running")
    return [state, f"{status.get('succeeded', 0)}/{spec.get('completions', 1)}", "", age(job)]


_PRINTERS = {
    "pods": ([_col("Ready"), _col("Status"), _col("Restarts", "string"), _col("Age"), _col("IP", priority=1),
              _col("Node", priority=1), _col("Nominated Node", priority=1), _col("Readiness Gates", priority=1)],
             _pod_row),
    "nodes": ([_col("Status"), _col("Roles"), _col("Age"), _col("Version"), _col("Internal-IP", priority=1),
               _col("External-IP", priority=1), _col("OS-Image", priority=1), _col("Kernel-Version", priority=1),
               _col("Container-Runtime", priority=1)], _node_row),
    "deployments": ([_col("Ready"), _col("Up-to-date", "integer"), _col("Available", "integer"), _col("Age")],
                    _deployment_row),
    "daemonsets": ([_col("Desired", "integer"), _col("Current", "integer"), _col("Ready", "integer"),
                    _col("Up-to-date", "integer"), _col("Available", "integer"), _col("Node Selector"),
                    _col("Age")], _daemonset_row),
    "statefulsets": ([_col("Ready"), _col("Age")], _statefulset_row),
    "services": ([_col("Type"), _col("Cluster-IP"), _col("External-IP"), _col("Port(s)"), _col("Age")],
                 _service_row),
    "namespaces": ([_col("Status"), _col("Age")], _namespace_row),
    "configmaps": ([_col("Data", "integer"), _col("Age")], _data_row),
    "secrets": ([_col("Type"), _col("Data", "integer"), _col("Age")], _secret_row),
    "serviceaccounts": ([_col("Secrets", "integer"), _col("Age")],
                        lambda sa: [len(sa.get("secrets") or []), age(sa)]),
    "customresourcedefinitions": ([_col("Created At", "date")], _crd_row),
    "ingressclasses": ([_col("Controller"), _col("Parameters"), _col("Age")], _ingressclass_row),
    "jobs": ([_col("Status"), _col("Completions"), _col("Duration"), _col("Age")], _job_row),
}


def _row_object(obj, rtype, include):
    if include == "None":
        return None
    if include == "Object":
        full = dict(obj)
        full.setdefault("kind", rtype.kind)
        full.setdefault("apiVersion", rtype.api_version)
        return full
    return {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": obj.get("metadata", {})}


def to_table(objects, rtype, list_metadata=None, include_object="Metadata"):
    """A `meta.k8s.io/v1` Table for `objects` of `rtype`."""
    columns, row_fn = _PRINTERS.get(rtype.plural if not rtype.custom else "", (None, None))
    if columns is None:
        columns, row_fn = [_col("Created At", "date")], _crd_row
    rows = []
    for obj in objects:
        row = {"cells": [obj.get("metadata", {}).get("name", "")] + row_fn(obj)}
        included = _row_object(obj, rtype, include_object or "Metadata")
        if included is not None:
            row["object"] = included
        rows.append(row)
    return {"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": dict(list_metadata or {}),
            "columnDefinitions": [dict(_NAME)] + columns, "rows": rows}


def wants_table(accept):
    """True when the Accept header asks for a meta.k8s.io Table (v1 or v1beta1)."""
    for part in (accept or "").split(","):
        params = {p.split("=", 1)[0].strip(): p.split("=", 1)[1].strip() for p in part.split(";")[1:] if "=" in p}
        if params.get("as") == "Table" and params.get("g") == "meta.k8s.io" and part.strip().startswith(
                "application/json"):
            return params.get("v", "v1")
    return None


def wants_metadata(accept):
    """The meta.k8s.io version when the Accept header asks for PartialObjectMetadata(List): the API server then
    answers with each object's metadata only (Kubernetes API concepts, "Alternate representations of resources");
    clients use it to list Secrets without their data."""
    for part in (accept or "").split(","):
        params = {p.split("=", 1)[0].strip(): p.split("=", 1)[1].strip() for p in part.split(";")[1:] if "=" in p}
        if params.get("as") in ("PartialObjectMetadata", "PartialObjectMetadataList") and \
                params.get("g") == "meta.k8s.io" and part.strip().startswith("application/json"):
            return params.get("v", "v1")
    return None


def to_metadata_list(items, list_metadata, version="v1"):
    """A PartialObjectMetadataList of ``items``: apiVersion/kind/metadata of each, nothing else."""
    return {"apiVersion": f"meta.k8s.io/{version}", "kind": "PartialObjectMetadataList", "metadata": list_metadata,
            "items": [{"apiVersion": f"meta.k8s.io/{version}", "kind": "PartialObjectMetadata",
                       "metadata": item.get("metadata") or {}} for item in items]}
