"""Azure Resource Graph for the emulator: `POST /providers/Microsoft.ResourceGraph/resources`, as a World mixin.

Follows the Resource Graph REST spec (azure-rest-api-specs, specification/resourcegraph, stable/2022-10-01,
resourcegraph.json, operation Resources) and Microsoft Learn's Resource Graph pages ("Working with large Azure
resource data sets", "Guidance for throttled requests in Azure Resource Graph", "Understand the Azure Resource
Graph query language", the Azure Arc-enabled Kubernetes sample queries):

- Request `{subscriptions, managementGroups, query, options: {$top (1..1000), $skip, $skipToken, resultFormat
  (objectArray (default) | table)}, facets}`; response `{totalRecords, count, data, facets, resultTruncated,
  $skipToken}`. With `managementGroups` the query covers the subscriptions of those groups and of the groups below
  them (the world's `management_groups`; a world without any has one root group holding every subscription);
  without either, every subscription of the tenant; subscriptions the world does not know give no rows.
- Queries are evaluated by kql.py over the world's own resources. Tables (names case-insensitive):
  `resources` (tracked top-level resources: clusters, relay namespaces, workspaces, ...; child resources such as
  extensions, computes or trusted access bindings are not in it), `resourcecontainers` (subscriptions and
  resource groups) and `kubernetesconfigurationresources` (extensions, type
  microsoft.kubernetesconfiguration/extensions, ids ending /providers/Microsoft.KubernetesConfiguration/
  Extensions/<name>, top-level property names in PascalCase: ExtensionType, ProvisioningState, Version,
  InstalledVersion, ReleaseTrain, AutoUpgradeMinorVersion, ErrorInfo, Statuses, ConfigurationSettings, Scope, ...;
  protected settings never appear). Columns: id, name, type (lower-case), tenantId, kind, location,
  resourceGroup (lower-case), subscriptionId, managedBy, sku, plan, properties, tags, identity, zones,
  extendedLocation.
- Paging: a page holds options.$top rows, else settings(graph_page_size) (1000, the documented default and
  maximum). When more rows remain and the result has an `id` column the answer carries an opaque `$skipToken`
  (pass it back with the same query and scopes); without an `id` column it says resultTruncated "true" and has no
  token. options.$skip is ignored when the query itself uses take/limit/top. A $skipToken continues the result
  set the first page computed (pages of one walk agree with each other; the last SNAPSHOT_LIMIT walks are kept,
  an older token is evaluated afresh).
- Quota per user (the token's oid): settings(graph_quota) queries (15) per settings(graph_quota_window) seconds
  (5); every answer carries x-ms-user-quota-remaining and x-ms-user-quota-resets-after (hh:mm:ss); a spent quota
  answers 429 RateLimiting with Retry-After.
- An invalid query answers 400 BadRequest with details InvalidQuery and the specific failure (ParserFailure with
  line/characterPositionInLine/token, SemanticError, DisallowedLogicalTableName, UnsupportedOperator,
  UnsupportedJoinTable for a join from kubernetesconfigurationresources, which cannot join other tables).
"""

import base64
import hashlib
import json
import math
import time
import uuid

from . import kql

GRAPH_ROUTES = [
    (r"/providers/microsoft\.resourcegraph/resources", ("POST",), "graph_resources"),
]

COLUMNS = ["id", "name", "type", "tenantId", "kind", "location", "resourceGroup", "subscriptionId", "managedBy",
           "sku", "plan", "properties", "tags", "identity", "zones", "extendedLocation"]
TABLES = {"resources": COLUMNS, "resourcecontainers": COLUMNS, "kubernetesconfigurationresources": COLUMNS,
          "policyresources": COLUMNS}
MAX_TOP = 1000
SNAPSHOT_LIMIT = 64

_KC_PROVIDER = "/providers/microsoft.kubernetesconfiguration/"
# Extension properties as Resource Graph's kubernetesconfigurationresources spells them (top level only).
_PASCAL = {"extensionType": "ExtensionType", "provisioningState": "ProvisioningState", "version": "Version",
           "currentVersion": "InstalledVersion", "releaseTrain": "ReleaseTrain",
           "autoUpgradeMinorVersion": "AutoUpgradeMinorVersion", "errorInfo": "ErrorInfo", "statuses": "Statuses",
           "configurationSettings": "ConfigurationSettings", "scope": "Scope", "isSystemExtension":
           "IsSystemExtension", "aksAssignedIdentity": "AksAssignedIdentity", "customLocationSettings":
           "CustomLocationSettings", "packageUri": "PackageUri"}


def _support_message():
    return (f"Please provide below info when asking for support: timestamp = {time.strftime('%Y-%m-%dT%H:%M:%S')}."
            f"0000000Z, correlationId = {uuid.uuid4()}.")


def graph_error(status, code, message, details=None, headers=None):
    from .world import Reply
    error = {"code": code, "message": message}
    if details:
        error["details"] = details
    return Reply(status, {"error": error}, dict(headers or {}))


def invalid_query(failure, query_text, headers=None):
    detail = {"code": failure.code, "message": failure.message}
    if failure.code == "ParserFailure" and failure.position is not None:
        before = query_text[:failure.position]
        detail.update({"line": before.count("\n") + 1,
                       "characterPositionInLine": failure.position - (before.rfind("\n") + 1),
                       "token": failure.token or ""})
    return graph_error(400, "BadRequest", _support_message(), [
        {"code": "InvalidQuery", "message": "Query is invalid. Please refer to the documentation for the Azure "
                                            "Resource Graph service and fix the error before retrying."}, detail],
        headers)


def _bad_request(message, headers=None, code="BadRequest"):
    return graph_error(400, "BadRequest", _support_message(), [{"code": code, "message": message}], headers)


def _column_type(values):
    for value in values:
        if value is None:
            continue
        if isinstance(value, bool):
            return "boolean"
        if isinstance(value, int):
            return "integer"
        if isinstance(value, float):
            return "number"
        if isinstance(value, str):
            return "string"
        return "object"
    return "string"


def _hhmmss(seconds):
    seconds = max(0, int(math.ceil(seconds)))
    return f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


class GraphMixin:
    """Resource Graph's Resources operation over the world's resources (see the module docstring)."""

    # ---------------------------------------------------------------- rows
    def graph_rows(self, table, subscriptions):
        """The rows of a Resource Graph table for the given subscription ids (lower-cased set)."""
        rows = []
        for key, body in self.resources.items():
            parts = key.split("/")
            if len(parts) < 3 or parts[1] != "subscriptions" or parts[2] not in subscriptions:
                continue
            if table == "resourcecontainers":
                if len(parts) == 3 or (len(parts) == 5 and parts[3] == "resourcegroups"):
                    rows.append(self._container_row(body, parts))
            elif table == "resources":
                # /subscriptions/s/resourcegroups/rg/providers/ns/type/name: tracked top-level resources only.
                if len(parts) == 9 and parts[3] == "resourcegroups" and parts[5] == "providers":
                    rows.append(self._resource_row(body))
            elif _KC_PROVIDER in key and key.split(_KC_PROVIDER, 1)[1].count("/") == 1:
                rows.append(self._kc_row(body, key))
        if table == "policyresources":
            rows += self._policy_rows(subscriptions)
        if table == "resourcecontainers":
            known = {r["id"].lower() for r in rows}
            for sub in self.subscriptions.values():
                sid = f"/subscriptions/{sub['id']}"
                if sub["id"].lower() in subscriptions and sid.lower() not in known:
                    rows.insert(0, self._row(sid, sub["name"], "microsoft.resources/subscriptions", sub["id"], "",
                                             {"subscriptionId": sub["id"], "tenantId": sub["tenant_id"],
                                              "state": sub["state"]}, tenant=sub["tenant_id"]))
        return rows

    def _policy_rows(self, subscriptions):
        """policyresources: the world's policy states (`policy_states`: resourceId, policyAssignmentName,
        policyDefinitionName, complianceState), as rows of type microsoft.policyinsights/policystates whose
        properties carry those fields, the resource's type and a timestamp (Resource Graph's policy samples)."""
        rows = []
        for state in getattr(self, "policy_states", None) or []:
            resource = str(state.get("resourceId") or "")
            parts = resource.split("/")
            sub = parts[2] if len(parts) > 2 else ""
            if sub.lower() not in subscriptions:
                continue
            key = hashlib.sha256(f"{resource}|{state.get('policyAssignmentName')}".lower().encode()).hexdigest()[:32]
            rtype = f"{parts[6]}/{parts[7]}".lower() if len(parts) > 7 else ""
            properties = {"resourceId": resource, "resourceType": rtype, "timestamp": state.get("timestamp", ""),
                          "complianceState": state.get("complianceState", "NonCompliant"),
                          "policyAssignmentName": state.get("policyAssignmentName", ""),
                          "policyDefinitionName": state.get("policyDefinitionName", ""),
                          "policyDefinitionAction": state.get("policyDefinitionAction", "deployifnotexists")}
            rows.append(self._row(f"/subscriptions/{sub}/providers/microsoft.policyinsights/policystates/{key}", key,
                                  "microsoft.policyinsights/policystates", sub, parts[4] if len(parts) > 4 else "",
                                  properties))
        return rows

    def _row(self, rid, name, rtype, sub, rg, properties, body=None, tenant=None, location=None):
        body = body or {}       # already a public view (no protected settings): rows never change the world
        return {"id": rid, "name": name, "type": rtype.lower(), "tenantId": tenant or self.tenant_id,
                "kind": body.get("kind", ""),
                "location": location if location is not None else body.get("location", ""),
                "resourceGroup": rg.lower(), "subscriptionId": sub, "managedBy": body.get("managedBy", ""),
                "sku": body.get("sku"), "plan": body.get("plan"), "properties": properties,
                "tags": body.get("tags"), "identity": body.get("identity"), "zones": body.get("zones"),
                "extendedLocation": body.get("extendedLocation")}

    def _resource_row(self, body):
        body = _public(body)
        parts = body["id"].split("/")
        return self._row(body["id"], body.get("name", parts[-1]), body.get("type") or f"{parts[6]}/{parts[7]}",
                         parts[2], parts[4], body.get("properties"), body)

    def _container_row(self, body, parts):
        body = _public(body)
        if len(parts) == 3:
            return self._row(body["id"], body.get("name", parts[2]), "microsoft.resources/subscriptions",
                             body["id"].split("/")[2], "", body.get("properties"), body)
        ids = body["id"].split("/")
        return self._row(body["id"], body.get("name", ids[4]), "microsoft.resources/subscriptions/resourcegroups",
                         ids[2], ids[4], body.get("properties"), body)

    def _kc_row(self, body, key):
        body = _public(body)
        at = key.index(_KC_PROVIDER)
        cluster_id, rest = body["id"][:at], body["id"][at + len(_KC_PROVIDER):]
        segment, name = rest.split("/", 1)
        stored = body.get("properties") or {}
        if segment.lower() == "extensions":
            properties = {_PASCAL.get(k, k[:1].upper() + k[1:]): v for k, v in stored.items()}
            segment = "Extensions"
        else:
            properties = stored     # flux configurations keep camelCase
        cluster = self.get(cluster_id) or {}
        ids = cluster_id.split("/")
        return self._row(f"{cluster_id}/providers/Microsoft.KubernetesConfiguration/{segment}/{name}", name,
                         f"microsoft.kubernetesconfiguration/{segment.lower()}", ids[2], ids[4], properties, body,
                         location=cluster.get("location", ""))

    # ---------------------------------------------------------------- quota
    def _graph_quota(self):
        """(allowed, headers, retry_after) for the caller's Resource Graph quota window."""
        quota = self.settings.get("graph_quota")
        if quota in (None, ""):
            return True, {}, 0
        window = float(self.settings.get("graph_quota_window") or 5.0)
        now = time.monotonic()
        entry = self.graph_quota.get(self.caller)
        if entry is None or now >= entry[0] + window:
            entry = self.graph_quota[self.caller] = [now, 0]
        resets = entry[0] + window - now
        if entry[1] >= int(quota):
            retry = max(1, int(math.ceil(resets)))
            return False, {"x-ms-user-quota-remaining": "0", "x-ms-user-quota-resets-after": _hhmmss(resets),
                           "Retry-After": str(retry)}, retry
        entry[1] += 1
        return True, {"x-ms-user-quota-remaining": str(int(quota) - entry[1]),
                      "x-ms-user-quota-resets-after": _hhmmss(resets)}, 0

    # ---------------------------------------------------------------- the operation
    def h_graph_resources(self, method, path, query, body, g):
        allowed, headers, retry = self._graph_quota()
        if not allowed:
            return graph_error(429, "RateLimiting", _support_message() + " Client application has been throttled "
                               "and should not attempt to repeat the request until an amount of time has elapsed. "
                               "Please see https://aka.ms/resourcegraph-throttling for help.", headers=headers)
        if not isinstance(body, dict) or not isinstance(body.get("query"), str):
            return _bad_request("The request content was invalid: 'query' (a string) is required.", headers,
                                "InvalidRequestContent")
        options = body.get("options") or {}
        if not isinstance(options, dict):
            return _bad_request("'options' must be an object.", headers, "InvalidRequestContent")
        top, skip = options.get("$top"), options.get("$skip")
        if top is not None and (not isinstance(top, int) or isinstance(top, bool) or not 1 <= top <= MAX_TOP):
            return _bad_request(f"options.$top must be an integer from 1 to {MAX_TOP} (got {top!r}).", headers,
                                "InvalidQueryRequestOptions")
        if skip is not None and (not isinstance(skip, int) or isinstance(skip, bool) or skip < 0):
            return _bad_request(f"options.$skip must be a non-negative integer (got {skip!r}).", headers,
                                "InvalidQueryRequestOptions")
        result_format = options.get("resultFormat") or "objectArray"
        if result_format not in ("objectArray", "table"):
            return _bad_request(f"options.resultFormat must be objectArray or table (got {result_format!r}).",
                                headers, "InvalidQueryRequestOptions")
        scope = self._graph_scope(body)
        text = body["query"]
        fingerprint = hashlib.sha256(json.dumps([text, sorted(scope)]).encode()).hexdigest()[:16]
        offset, snapshot = 0, None
        token = options.get("$skipToken")
        if token:
            decoded = _decode_token(token)
            if decoded is None or decoded.get("q") != fingerprint:
                return _bad_request("The $skipToken is invalid, or was issued for another query or other scopes.",
                                    headers, "InvalidSkipToken")
            offset = int(decoded.get("o", 0))
            snapshot = self._graph_snapshots().get(decoded.get("s"))
        if snapshot is not None:    # the next page of the same result set, as the first page saw the world
            parsed, rows = snapshot
        else:
            try:
                parsed, rows = kql.run(text, TABLES, lambda table: self.graph_rows(table, scope))
            except kql.KqlError as failure:
                return invalid_query(failure, text, headers)
        if skip is not None and not parsed.limited:
            offset = skip         # with a $skipToken too: $skip overrides its offset (the spec)
        size = top or int(self.settings.get("graph_page_size") or MAX_TOP)
        size = max(1, min(MAX_TOP, size))
        page = rows[offset:offset + size]
        more = offset + len(page) < len(rows)
        columns = parsed.columns
        pageable = "id" in columns
        answer = {"totalRecords": len(rows), "count": len(page)}
        if result_format == "table":
            answer["data"] = {"columns": [{"name": c, "type": _column_type(r.get(c) for r in rows)} for c in columns],
                              "rows": [[r.get(c) for c in columns] for r in page]}
        else:
            answer["data"] = [{c: r.get(c) for c in columns} for r in page]
        answer["facets"] = self._graph_facets(body.get("facets"), rows)
        answer["resultTruncated"] = "true" if more and not pageable else "false"
        if more and pageable:
            key = (decoded.get("s") if token and snapshot is not None else None) or uuid.uuid4().hex
            snapshots = self._graph_snapshots()
            snapshots[key] = (parsed, rows)
            while len(snapshots) > SNAPSHOT_LIMIT:
                snapshots.pop(next(iter(snapshots)))
            answer["$skipToken"] = _encode_token({"o": offset + len(page), "q": fingerprint, "s": key})
        from .world import Reply
        return Reply(200, json.loads(json.dumps(answer)), headers)

    def _graph_snapshots(self):
        """The result sets that $skipToken pages continue, newest last (one per world)."""
        if "_graph_result_sets" not in self.__dict__:
            self.__dict__["_graph_result_sets"] = {}
        return self.__dict__["_graph_result_sets"]

    def _graph_scope(self, body):
        """The lower-cased subscription ids the query covers: the given subscriptions; or the subscriptions of the
        given management groups and of every group below them (the world's `management_groups`; without any, one
        root group holding every subscription); or, with neither, every subscription of the tenant."""
        known = {sid for sid in self.subscriptions}
        wanted, groups = body.get("subscriptions"), body.get("managementGroups")
        if groups:
            tree = self.management_groups
            if not tree:
                return known
            found, todo = set(), [str(g).lower() for g in groups]
            while todo:
                name = todo.pop()
                for key, group in tree.items():
                    if key.lower() == name:
                        found.update(str(s).lower() for s in group.get("subscriptions") or [])
                    if str(group.get("parent") or "").lower() == name:
                        todo.append(key.lower())
            return found & known
        if wanted is None:
            return known
        return {str(s).lower() for s in wanted if str(s).lower() in known}

    @staticmethod
    def _graph_facets(facets, rows):
        """FacetResult per requested facet whose expression is a column (count per value, count desc)."""
        out = []
        for facet in facets or []:
            expression = str((facet or {}).get("expression", ""))
            if not expression or not rows or expression not in rows[0]:
                out.append({"expression": expression, "resultType": "FacetError", "errors": [
                    {"code": "NoValidColumns", "message": f"The facet expression '{expression}' is not a column of "
                                                          "the query result."}]})
                continue
            counts = {}
            for row in rows:
                value = kql.tostring(row.get(expression))
                counts[value] = counts.get(value, 0) + 1
            top = int(((facet.get("options") or {}).get("$top")) or 10)
            data = [{expression: v, "count": n} for v, n in sorted(counts.items(), key=lambda i: (-i[1], i[0]))]
            out.append({"expression": expression, "resultType": "FacetResult", "totalRecords": len(data),
                        "count": min(top, len(data)), "data": data[:top]})
        return out


def _public(body):
    """A stored body as the service shows it (never configurationProtectedSettings): a shallow view for scanning;
    the rows an answer returns are copied (h_graph_resources), so the world is never shared with a reply."""
    out = dict(body)
    if isinstance(out.get("properties"), dict) and "configurationProtectedSettings" in out["properties"]:
        out["properties"] = {k: v for k, v in out["properties"].items() if k != "configurationProtectedSettings"}
    return out


def _encode_token(data):
    return base64.urlsafe_b64encode(json.dumps(data, separators=(",", ":")).encode()).decode().rstrip("=")


def _decode_token(token):
    try:
        data = json.loads(base64.urlsafe_b64decode(str(token) + "=" * (-len(str(token)) % 4)))
        return data if isinstance(data, dict) else None
    except (ValueError, TypeError):
        return None
