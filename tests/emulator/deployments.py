"""Azure Resource Manager template deployments for the emulator, as a World mixin: enough of the deployments API and
the template language to deploy what `az amlk8s deploy --export arm` writes, through the real `az deployment group
create`.

Follows the Resources REST spec (azure-rest-api-specs, specification/resources, Deployments_CreateOrUpdate,
Deployments_Validate, Deployments_Get; API 2022-09-01 and later) and Microsoft Learn's template pages ("Template
functions": parameters, format, concat, resourceId, extensionResourceId, resourceGroup, subscription, listKeys,
uniqueString; "Extension resource types" for `scope`):

- `PUT .../resourcegroups/{rg}/providers/Microsoft.Resources/deployments/{name}` with `{properties: {mode,
  template, parameters}}`: the parameters are bound (given values over defaults; a parameter with neither is
  400 InvalidTemplate), then every resource is expanded (expressions evaluated, `[[` kept literal) and sent, in the
  template's order, through the world's own handler for its type, as if ARM had sent the PUT itself, and the
  resource's own operation is ended with its outcome (ARM waits for it); an extension resource's id is its `scope`
  plus its own segments. The deployment answers 200 with provisioningState Succeeded,
  outputResources and the evaluated outputs; a resource the world refuses fails the deployment (its error nested
  as ARM nests it: DeploymentFailed with the resource's error in details).
- `POST .../deployments/{name}/validate`: the same binding and expansion without sending anything.
- `GET .../deployments/{name}`: the last result.

secureString parameters are never echoed: the stored deployment keeps their names only.

az sends the template's own text after an unquoted `template:` key (azure-cli's JsonCTemplatePolicy, so that
comments in a template survive); ARM reads that body, and so does the emulator.
"""

import copy
import hashlib
import json
import re

from .log import parse_deployment_body

DEPLOYMENTS_ROUTES = [
    (r"/subscriptions/(?P<sub>[^/]+)/resourcegroups/(?P<rg>[^/]+)/providers/microsoft\.resources/deployments/"
     r"(?P<dep>[^/]+)", ("GET", "PUT"), "deployment"),
    (r"/subscriptions/(?P<sub>[^/]+)/resourcegroups/(?P<rg>[^/]+)/providers/microsoft\.resources/deployments/"
     r"(?P<dep>[^/]+)/validate", ("POST",), "deployment_validate"),
]


class TemplateError(Exception):
    pass


# --- the template language (the expressions an exported template uses) ------------------------------------------

_TOKEN = re.compile(r"\s*(?:(?P<str>'(?:[^']|'')*')|(?P<num>-?\d+)|(?P<id>[A-Za-z_][A-Za-z0-9_]*)|(?P<op>[(),.\[\]]))")


def _tokens(text):
    pos, out = 0, []
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        found = _TOKEN.match(text, pos)
        if not found:
            raise TemplateError(f"cannot read the expression at {text[pos:pos + 20]!r}")
        pos = found.end()
        kind = found.lastgroup
        value = found.group(kind)
        out.append((kind, value[1:-1].replace("''", "'") if kind == "str" else int(value) if kind == "num"
                    else value))
    return out


class _Parser:
    def __init__(self, text, functions):
        self.items, self.at, self.functions = _tokens(text), 0, functions

    def peek(self):
        return self.items[self.at] if self.at < len(self.items) else (None, None)

    def take(self, value=None):
        item = self.peek()
        if value is not None and item[1] != value:
            raise TemplateError(f"expected {value!r}, found {item[1]!r}")
        self.at += 1
        return item

    def expression(self):
        kind, value = self.take()
        if kind in ("str", "num"):
            result = value
        elif kind == "id":
            self.take("(")
            args = []
            while self.peek()[1] != ")":
                args.append(self.expression())
                if self.peek()[1] == ",":
                    self.take(",")
            self.take(")")
            if value.lower() not in self.functions:
                raise TemplateError(f"the template function {value!r} is not known")
            result = self.functions[value.lower()](*args)
        else:
            raise TemplateError(f"unexpected {value!r}")
        while self.peek()[1] in (".", "["):
            if self.take()[1] == ".":
                result = _member(result, self.take()[1])
            else:
                key = self.expression()
                self.take("]")
                result = _member(result, key)
        return result


def _member(value, key):
    if isinstance(value, dict):
        for name in value:
            if str(name).lower() == str(key).lower():
                return value[name]
    if isinstance(value, list) and isinstance(key, int):
        return value[key]
    raise TemplateError(f"the value has no property {key!r}")


def unique_string(*parts):
    """ARM's uniqueString: 13 characters from a hash of the parts (the emulator's own hash, stable)."""
    digest = hashlib.sha256("|".join(str(p) for p in parts).encode()).digest()
    alphabet = "abcdefghijklmnopqrstuvwxyz234567"
    return "".join(alphabet[b % 32] for b in digest[:13])


class _Binding:
    """One deployment's parameters and functions."""

    def __init__(self, world, sub, rg, template, given):
        self.world, self.sub, self.rg = world, sub, rg
        self.params = {}
        for name, spec in (template.get("parameters") or {}).items():
            if name in (given or {}) and isinstance(given[name], dict) and "value" in given[name]:
                self.params[name.lower()] = given[name]["value"]
            elif "defaultValue" in (spec or {}):
                self.params[name.lower()] = self.evaluate(spec["defaultValue"])
            else:
                raise TemplateError(f"The value for the template parameter '{name}' is not provided.")
        self.functions = {
            "parameters": self._parameter, "format": _format, "concat": lambda *a: "".join(str(x) for x in a),
            "resourceid": self._resource_id, "extensionresourceid": _extension_resource_id,
            "resourcegroup": self._group, "subscription": lambda: {"subscriptionId": self.sub, "id":
                                                                   f"/subscriptions/{self.sub}"},
            "listkeys": self._list_keys, "uniquestring": unique_string, "string": lambda v: str(v),
            "take": lambda v, n: v[:n], "replace": lambda v, a, b: str(v).replace(a, b),
        }

    def _parameter(self, name):
        if name.lower() not in self.params:
            raise TemplateError(f"The template parameter '{name}' is not found.")
        return self.params[name.lower()]

    def _group(self):
        body = self.world.get(self.world.rg_id(self.rg, self.sub)) or {}
        return {"id": self.world.rg_id(self.rg, self.sub), "name": self.rg, "location": body.get("location")}

    def _resource_id(self, rtype, *names):
        namespace, *types = rtype.split("/")
        if len(types) != len(names):
            raise TemplateError(f"resourceId('{rtype}') needs {len(types)} names, got {len(names)}")
        tail = "/".join(f"{t}/{n}" for t, n in zip(types, names))
        return f"{self.world.rg_id(self.rg, self.sub)}/providers/{namespace}/{tail}"

    def _list_keys(self, resource_id, api_version):
        from .world import match_route
        path = f"{resource_id}/listKeys"
        route = match_route(path)
        if route is None:
            raise TemplateError(f"listKeys is not available for {resource_id}")
        reply = self.world.handle("POST", path, {"api-version": api_version}, None, route)
        if reply.status >= 300:
            raise TemplateError(f"listKeys({resource_id}) answered {reply.status}")
        return reply.body

    def evaluate(self, value):
        if isinstance(value, dict):
            return {k: self.evaluate(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.evaluate(v) for v in value]
        if isinstance(value, str) and value.startswith("[[") and value.endswith("]"):
            return value[1:]
        if isinstance(value, str) and value.startswith("[") and value.endswith("]"):
            parser = _Parser(value[1:-1], self.functions)
            result = parser.expression()
            if parser.peek()[0] is not None:
                raise TemplateError(f"unexpected text after the expression {value!r}")
            return result
        return value


def _format(text, *args):
    return re.sub(r"\{(\d+)\}", lambda m: str(args[int(m.group(1))]), text)


def _extension_resource_id(base, rtype, *names):
    namespace, *types = rtype.split("/")
    return f"{base}/providers/{namespace}/" + "/".join(f"{t}/{n}" for t, n in zip(types, names))


def resource_id(binding, resource):
    """The id a template resource gets: its type and name segments, under its scope for an extension resource."""
    rtype, name = binding.evaluate(resource["type"]), binding.evaluate(resource["name"])
    namespace, *types = rtype.split("/")
    names = str(name).split("/")
    if len(types) != len(names):
        raise TemplateError(f"The resource '{rtype}' needs {len(types)} name segments, got {name!r}.")
    tail = f"/providers/{namespace}/" + "/".join(f"{t}/{n}" for t, n in zip(types, names))
    scope = binding.evaluate(resource.get("scope")) if resource.get("scope") else None
    if scope:
        base = scope if scope.startswith("/") else f"{binding.world.rg_id(binding.rg, binding.sub)}/providers/{scope}"
        return base + tail
    return binding.world.rg_id(binding.rg, binding.sub) + tail


def _body(body):
    """The request body as ARM reads it: JSON, or JSON with az's unquoted `template:` key."""
    if isinstance(body, (bytes, str)):
        text = body.decode("utf-8") if isinstance(body, bytes) else body
        try:
            return parse_deployment_body(text)
        except ValueError as ex:
            raise TemplateError(f"The request content is not valid JSON: {ex}") from None
    return body if isinstance(body, dict) else {}


class DeploymentsMixin:
    """Template deployments at resource group scope (see the module docstring)."""

    def _expand(self, g, body):
        properties = _body(body).get("properties") or {}
        template = properties.get("template")
        if not isinstance(template, dict) or not isinstance(template.get("resources"), list):
            raise TemplateError("The request content has no template with resources.")
        binding = _Binding(self, self.current_sub, g["rg"], template, properties.get("parameters"))
        return binding, template

    def h_deployment_validate(self, method, path, query, body, g):
        from .world import Reply, arm_error
        try:
            binding, template = self._expand(g, body)
            for resource in template["resources"]:
                resource_id(binding, resource)
        except TemplateError as ex:
            return arm_error(400, "InvalidTemplate", f"Deployment template validation failed: '{ex}'.")
        return Reply(200, {"id": path[:-len("/validate")], "name": g["dep"],
                           "properties": {"provisioningState": "Succeeded", "mode": "Incremental"}})

    def h_deployment(self, method, path, query, body, g):
        from .world import Reply, arm_error, match_route
        did = self.rg_id(g["rg"]) + f"/providers/Microsoft.Resources/deployments/{g['dep']}"
        kept = self.__dict__.setdefault("_deployments", {})    # not resources: Resource Graph does not list them
        if method == "GET":
            stored = kept.get(did.lower())
            return Reply(200, copy.deepcopy(stored)) if stored else arm_error(
                404, "DeploymentNotFound", f"Deployment '{g['dep']}' could not be found.")
        try:
            binding, template = self._expand(g, body)
        except TemplateError as ex:
            return arm_error(400, "InvalidTemplate", f"Deployment template validation failed: '{ex}'.")
        outputs, made = {}, []
        for resource in template["resources"]:
            try:
                rid = resource_id(binding, resource)
                sent = {k: binding.evaluate(v) for k, v in resource.items()
                        if k not in ("type", "name", "apiVersion", "scope", "dependsOn", "condition", "comments")}
            except TemplateError as ex:
                return arm_error(400, "InvalidTemplate", f"Deployment template validation failed: '{ex}'.")
            route = match_route(rid)
            if route is None:
                reply = self.fallback("PUT", rid, {"api-version": resource.get("apiVersion", "")})
            else:
                reply = self.handle("PUT", rid, {"api-version": resource.get("apiVersion", "")},
                                    json.loads(json.dumps(sent)), route)
            if reply.status >= 300:
                error = (reply.body or {}).get("error") or {"code": "Failed", "message": str(reply.status)}
                return arm_error(400, "DeploymentFailed", "At least one resource deployment operation failed.",
                                 details=[error])
            # ARM waits for each resource's own operation; the emulator ends it at once, with its outcome.
            op_id = self.active.get(rid.lower())
            if op_id and self.ops[op_id].status == "InProgress":
                self.complete(self.ops[op_id])
            state = str(((self.get(rid) or {}).get("properties") or {}).get("provisioningState") or "")
            if state.lower() == "failed":
                error = ((self.get(rid) or {}).get("properties") or {}).get("errorInfo") or {
                    "code": "ResourceDeploymentFailure", "message": f"The resource '{rid}' ended Failed."}
                return arm_error(400, "DeploymentFailed", "At least one resource deployment operation failed.",
                                 details=[error])
            made.append({"id": rid})
        for name, spec in (template.get("outputs") or {}).items():
            try:
                outputs[name] = {"type": spec.get("type"), "value": binding.evaluate(spec.get("value"))}
            except TemplateError:
                outputs[name] = {"type": spec.get("type"), "value": None}
        secure = [n for n, s in (template.get("parameters") or {}).items()
                  if str((s or {}).get("type", "")).lower() in ("securestring", "secureobject")]
        result = {"id": did, "name": g["dep"], "type": "Microsoft.Resources/deployments",
                  "properties": {"provisioningState": "Succeeded", "mode": "Incremental",
                                 "outputResources": made, "outputs": outputs,
                                 "parameters": {n: {"type": "SecureString"} for n in secure}}}
        kept[did.lower()] = result
        return Reply(200, copy.deepcopy(result))
