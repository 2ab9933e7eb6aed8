"""Azure Machine Learning workspaces and their computes (Microsoft.MachineLearningServices), as a World mixin.

Follows the MachineLearningServices REST spec (azure-rest-api-specs, specification/machinelearningservices,
stable/2024-10-01: workspaceRP.json and machineLearningServices.json):

- Workspaces_Get / Workspaces_ListByResourceGroup / Workspaces_ListBySubscription (read-only here).
- Compute_Get, Compute_List (paged: `value` + `nextLink`, continuation in `$skip`), Compute_CreateOrUpdate
  (long-running: 201 new / 200 existing with `Azure-AsyncOperation`, body provisioningState Creating/Updating),
  Compute_Delete (query `underlyingResourceAction` = Delete | Detach is required: 400 without it; long-running:
  202 with `Azure-AsyncOperation` and `Location`; 204 when the compute does not exist).
  Examples: Compute/createOrUpdate/KubernetesCompute.json, Compute/get/AKSCompute.json, Compute/delete.json.
- The operation status URLs are under /subscriptions/{sub}/providers/Microsoft.MachineLearningServices/
  locations/{location}/computeOperationsStatus/{id} (and computeOperationsResult/{id} for Location).

Attaching a Kubernetes compute (computeType "Kubernetes", properties.resourceId = an AKS or Arc cluster) ends
Failed when the cluster does not exist, is in another subscription than the workspace (the limitation documented
in "Attach a Kubernetes cluster to Azure Machine Learning workspace"), or has no AzureML extension
(Microsoft.AzureML.Kubernetes) in provisioningState Succeeded; otherwise Succeeded. A legacy v1 attach
(computeType "AKS", resourceId = an AKS cluster) succeeds when the cluster exists. Detach or Delete of an
attached compute removes the compute only: the emulator never deletes the cluster.
"""

import copy
import re

from . import scenarios
from .scenarios import guid, iso

ML = "Microsoft.MachineLearningServices"
AZUREML_TYPE = scenarios.AZUREML_TYPE.lower()

_S = r"/subscriptions/(?P<sub>[^/]+)"
_R = _S + r"/resourcegroups/(?P<rg>[^/]+)"
_W = _R + r"/providers/microsoft\.machinelearningservices/workspaces"

ML_ROUTES = [
    (_S + r"/providers/microsoft\.machinelearningservices/workspaces", ("GET",), "list_workspaces"),
    (_W, ("GET",), "list_workspaces"),
    (_W + r"/(?P<ws>[^/]+)", ("GET",), "get_workspace"),
    (_W + r"/(?P<ws>[^/]+)/computes", ("GET",), "list_computes"),
    (_W + r"/(?P<ws>[^/]+)/computes/(?P<compute>[^/]+)", ("GET", "PUT", "DELETE"), "compute"),
    (_S + r"/providers/microsoft\.machinelearningservices/locations/(?P<loc>[^/]+)/computeoperationsstatus/"
          r"(?P<op>[^/]+)", ("GET",), "poll_async"),
    (_S + r"/providers/microsoft\.machinelearningservices/locations/(?P<loc>[^/]+)/computeoperationsresult/"
          r"(?P<op>[^/]+)", ("GET",), "poll_location"),
]

_COMPUTE_NAME = re.compile(r"[A-Za-z][A-Za-z0-9-]{1,23}")


class MachineLearningMixin:
    """Handlers for Microsoft.MachineLearningServices workspaces and computes (see the module docstring)."""

    def _workspace_id(self, g):
        return f"{self.rg_id(g['rg'])}/providers/{ML}/workspaces/{g['ws']}"

    def _workspace_or_404(self, g):
        from .world import not_found
        found = self.get(self._workspace_id(g))
        if found is None:
            return None, not_found(f"{ML}/workspaces", g["ws"], g["rg"])
        return found, None

    def h_list_workspaces(self, method, path, query, body, g):
        from .world import Reply, public_view
        prefix = (self.rg_id(g["rg"]) if g.get("rg") else f"/subscriptions/{self.current_sub}").lower() + "/"
        marker = f"/providers/{ML.lower()}/workspaces/"
        items = [public_view(b) for k, b in self.resources.items()
                 if k.startswith(prefix) and marker in k and "/" not in k.split(marker, 1)[1]]
        return Reply(200, {"value": items})

    def h_get_workspace(self, method, path, query, body, g):
        from .world import Reply, public_view
        found, error = self._workspace_or_404(g)
        return error or Reply(200, public_view(found))

    def h_list_computes(self, method, path, query, body, g):
        from .world import arm_error
        found, error = self._workspace_or_404(g)
        if error:
            return error
        items = self.children(found["id"], "computes")
        for item in items:
            self.advance(item["id"])
        return self.page_of(self.children(found["id"], "computes"), path, query, "$skip",
                            arm_error(400, "BadRequest", "The $skip continuation token is invalid."))

    def h_compute(self, method, path, query, body, g):
        from .world import Reply, arm_error, invalid_content, not_found, public_view
        ws, error = self._workspace_or_404(g)
        if error:
            return Reply(204) if method == "DELETE" else error
        cid = f"{ws['id']}/computes/{g['compute']}"
        existing = self.get(cid)
        api = query.get("api-version")
        if method == "GET":
            if existing is None:
                return not_found(f"{ML}/workspaces/computes", g["compute"], g["rg"])
            self.advance(existing["id"])
            current = self.get(existing["id"])
            if current is None:
                return not_found(f"{ML}/workspaces/computes", g["compute"], g["rg"])
            return Reply(200, public_view(current))
        if method == "DELETE":
            action = query.get("underlyingResourceAction")
            if str(action or "").lower() not in ("delete", "detach"):
                return arm_error(400, "BadRequest",
                                 "The query parameter 'underlyingResourceAction' is required and must be Delete or "
                                 f"Detach (got '{action or ''}').")
            if existing is None:
                return Reply(204)
            if self.active.get(existing["id"].lower()):
                return arm_error(409, "Conflict", f"Compute '{existing['name']}' has an operation in progress.")
            existing["properties"]["provisioningState"] = "Deleting"
            op = self.start_operation("delete", existing["id"], "compute")
            op.action = "Detach" if str(action).lower() == "detach" else "Delete"
            headers = self._compute_op_headers(ws, op, api, location=True)
            return Reply(202, None, headers)
        missing = self.require_registered(ML)
        if missing:
            return missing
        if not isinstance(body, dict) or not isinstance(body.get("properties"), dict):
            return invalid_content()
        if not _COMPUTE_NAME.fullmatch(g["compute"]):
            return arm_error(400, "BadRequest", f"Compute name '{g['compute']}' is invalid: it must be 2 to 24 "
                                                "characters, start with a letter, and contain only letters, digits "
                                                "and hyphens.")
        if existing is not None and self.active.get(existing["id"].lower()):
            return arm_error(409, "Conflict", f"Compute '{existing['name']}' has an operation in progress.")
        props = body["properties"]
        compute_type = props.get("computeType")
        if not compute_type:
            return arm_error(400, "BadRequest", "properties.computeType is required.")
        resource_id = props.get("resourceId")
        if compute_type in ("Kubernetes", "AKS") and not resource_id:
            return arm_error(400, "BadRequest", f"properties.resourceId is required to attach a {compute_type} "
                                                "compute.")
        identity = self._compute_identity(body.get("identity"), cid)
        if isinstance(identity, Reply):
            return identity
        inner = props.get("properties") if isinstance(props.get("properties"), dict) else {}
        stored = scenarios.compute(ws, existing["name"] if existing else g["compute"], compute_type, resource_id,
                                   namespace=inner.get("namespace") or "default", state="Updating" if existing
                                   else "Creating", identity=identity, description=props.get("description"),
                                   properties={k: v for k, v in inner.items() if k != "namespace"}
                                   if compute_type == "Kubernetes" else (inner or None))
        stored["id"] = existing["id"] if existing else cid
        stored["location"] = body.get("location") or ws["location"]
        now = iso()
        stored["properties"]["createdOn"] = (existing or {}).get("properties", {}).get("createdOn", now)
        stored["properties"]["modifiedOn"] = now
        stored["systemData"] = scenarios.system_data(now, by=self.identity["client_id"])
        self.store(stored)
        op = self.start_operation("update" if existing else "create", stored["id"], "compute",
                                  outcome=self._attach_outcome(ws, compute_type, resource_id))
        return Reply(200 if existing else 201, public_view(self.get(stored["id"])),
                     self._compute_op_headers(ws, op, api))

    def _compute_op_headers(self, ws, op, api, location=False):
        base = f"/subscriptions/{self.current_sub}/providers/{ML}/locations/{ws['location']}"
        headers = {"Azure-AsyncOperation": self.url(f"{base}/computeOperationsStatus/{op.id}", api)}
        if location:
            headers["Location"] = self.url(f"{base}/computeOperationsResult/{op.id}", api)
        headers.update(self.retry_headers())
        return headers

    def _compute_identity(self, identity, cid):
        from .world import arm_error
        if identity in (None, {}):
            return None
        if not isinstance(identity, dict) or not identity.get("type"):
            return arm_error(400, "BadRequest", "identity.type is required (SystemAssigned, UserAssigned, "
                                                "'SystemAssigned,UserAssigned' or None).")
        kind = str(identity["type"]).replace(" ", "")
        if kind.lower() == "none":
            return None
        out = {"type": kind}
        if "systemassigned" in kind.lower():
            out.update({"principalId": guid("compute-principal", cid.lower()), "tenantId": self.tenant_id})
        if "userassigned" in kind.lower():
            uamis = identity.get("userAssignedIdentities")
            if not isinstance(uamis, dict) or not uamis:
                return arm_error(400, "BadRequest", "identity.userAssignedIdentities must name at least one "
                                                    "user-assigned identity for type UserAssigned.")
            out["userAssignedIdentities"] = {
                uid: {"principalId": guid("uami-principal", uid.lower()), "clientId": guid("uami-client", uid.lower())}
                for uid in uamis}
        return out

    def _attach_outcome(self, ws, compute_type, resource_id):
        """How the attach operation ends: {"status", "error"}."""
        if compute_type not in ("Kubernetes", "AKS"):
            return {"status": "Succeeded"}
        cluster = self.get(resource_id)
        lowered = str(resource_id).lower()
        is_arc = "/microsoft.kubernetes/connectedclusters/" in lowered
        is_aks = "/microsoft.containerservice/managedclusters/" in lowered
        if cluster is None or not (is_aks or (is_arc and compute_type == "Kubernetes")):
            wanted = "an AKS cluster" if compute_type == "AKS" else "an AKS or Azure Arc-enabled Kubernetes cluster"
            return _failed("BadRequest", f"The resource '{resource_id}' was not found, or is not {wanted}. Check "
                                         "properties.resourceId.")
        ws_sub = self.subscription_of(ws["id"])
        cluster_sub = self.subscription_of(cluster["id"])
        if compute_type == "Kubernetes" and (ws_sub or "").lower() != (cluster_sub or "").lower():
            return _failed("BadRequest",
                           f"The Kubernetes cluster '{cluster['id']}' is in subscription '{cluster_sub}', but the "
                           f"workspace '{ws['name']}' is in subscription '{ws_sub}'. Attaching a Kubernetes cluster "
                           "from another subscription is not supported: connect the AKS cluster to Azure Arc in the "
                           "workspace's subscription and attach the Azure Arc-enabled Kubernetes cluster instead.")
        if compute_type == "AKS":
            return {"status": "Succeeded"}
        segment = "providers/Microsoft.KubernetesConfiguration/extensions"
        azureml = [e for e in self.children(cluster["id"], segment)
                   if str(e["properties"].get("extensionType", "")).lower() == AZUREML_TYPE]
        if not any(e["properties"].get("provisioningState") == "Succeeded" for e in azureml):
            state = azureml[0]["properties"].get("provisioningState") if azureml else None
            found = f"its AzureML extension '{azureml[0]['name']}' is in provisioningState {state}" if azureml \
                else "no extension of type Microsoft.AzureML.Kubernetes is installed"
            return _failed("BadRequest",
                           f"Failed to attach the Kubernetes cluster '{cluster['name']}': {found}. Deploy the "
                           "AzureML extension (az k8s-extension create --extension-type Microsoft.AzureML.Kubernetes) "
                           "and wait until its provisioningState is Succeeded before attaching the cluster.")
        return {"status": "Succeeded"}

    def finish_compute(self, body, status, error):
        props = body["properties"]
        props["modifiedOn"] = iso()
        if status == "Failed":
            props["provisioningErrors"] = [{"error": copy.deepcopy(error or {"code": "BadRequest", "message": ""})}]
        else:
            props["provisioningErrors"] = None
            if props.get("computeType") == "Kubernetes" and isinstance(props.get("properties"), dict):
                props["properties"]["extensionPrincipalId"] = guid("ext-principal", str(props.get("resourceId"))
                                                                   .lower())


def _failed(code, message):
    return {"status": "Failed", "error": {"code": code, "message": message}}
