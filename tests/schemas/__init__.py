"""JSON Schemas the exports are validated against, written from Microsoft's published structure of an ARM deployment
template (Template structure and syntax; schemas/2019-04-01/deploymentTemplate.json) and of a policy definition
(Azure Policy definition structure; schemas/2020-10-01/policyDefinition.json): what the service requires and the
values it accepts, for the parts an export writes."""

EXPRESSION = {"type": "string", "pattern": r"^\[[^\[].*\]$"}

_PARAMETER = {
    "type": "object",
    "properties": {
        "type": {"enum": ["string", "securestring", "int", "bool", "object", "secureObject", "secureString", "array",
                          "String", "SecureString", "Int", "Bool", "Object", "SecureObject", "Array"]},
        "defaultValue": {}, "allowedValues": {"type": "array"}, "metadata": {"type": "object"},
        "minLength": {"type": "integer"}, "maxLength": {"type": "integer"},
    },
    "required": ["type"],
    "additionalProperties": False,
}

_RESOURCE = {
    "type": "object",
    "properties": {
        "type": {"type": "string", "pattern": r"^[A-Za-z0-9.]+(/[A-Za-z0-9]+)+$"},
        "apiVersion": {"type": "string", "pattern": r"^\d{4}-\d{2}-\d{2}(-preview)?$"},
        "name": {"type": "string", "minLength": 1},
        "location": {"type": "string"}, "scope": {"type": "string"}, "tags": {"type": "object"},
        "sku": {"type": "object"}, "identity": {"type": "object"}, "properties": {"type": "object"},
        "dependsOn": {"type": "array", "items": {"type": "string"}}, "condition": {}, "comments": {"type": "string"},
    },
    "required": ["type", "apiVersion", "name"],
    "additionalProperties": False,
}

DEPLOYMENT_TEMPLATE = {
    "type": "object",
    "properties": {
        "$schema": {"enum": ["https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#"]},
        "contentVersion": {"type": "string", "pattern": r"^\d+(\.\d+){3}$"},
        "metadata": {"type": "object"}, "apiProfile": {"type": "string"},
        "parameters": {"type": "object", "additionalProperties": _PARAMETER},
        "variables": {"type": "object"}, "functions": {"type": "array"},
        "resources": {"type": "array", "items": _RESOURCE, "minItems": 1},
        "outputs": {"type": "object", "additionalProperties": {
            "type": "object", "properties": {"type": {"type": "string"}, "value": {}}, "required": ["type"]}},
    },
    "required": ["$schema", "contentVersion", "resources"],
    "additionalProperties": False,
}

_CONDITIONS = {"oneOf": [{"$ref": "#/definitions/condition"}, {"$ref": "#/definitions/allOf"},
                         {"$ref": "#/definitions/anyOf"}, {"$ref": "#/definitions/not"}]}
_OPERATORS = ["equals", "notEquals", "like", "notLike", "contains", "notContains", "in", "notIn", "containsKey",
              "notContainsKey", "match", "matchInsensitively", "notMatch", "notMatchInsensitively", "exists",
              "greater", "less", "greaterOrEquals", "lessOrEquals"]

POLICY_DEFINITION = {
    "type": "object",
    "properties": {"properties": {
        "type": "object",
        "properties": {
            "displayName": {"type": "string", "maxLength": 128},
            "policyType": {"enum": ["Custom", "BuiltIn", "Static", "NotSpecified"]},
            "mode": {"enum": ["All", "Indexed"]},
            "description": {"type": "string", "maxLength": 512},
            "metadata": {"type": "object"},
            "parameters": {"type": "object", "additionalProperties": {
                "type": "object",
                "properties": {"type": {"enum": ["String", "Array", "Object", "Boolean", "Integer", "Float",
                                                 "DateTime"]},
                               "defaultValue": {}, "allowedValues": {"type": "array"}, "metadata": {"type": "object"}},
                "required": ["type"], "additionalProperties": False}},
            "policyRule": {
                "type": "object",
                "properties": {
                    "if": _CONDITIONS,
                    "then": {
                        "type": "object",
                        "properties": {
                            "effect": {"oneOf": [{"enum": ["append", "audit", "auditIfNotExists", "deny",
                                                           "deployIfNotExists", "manual", "modify", "disabled"]},
                                                 EXPRESSION]},
                            "details": {
                                "type": "object",
                                "properties": {
                                    "type": {"type": "string"}, "name": {"type": "string"},
                                    "existenceScope": {"enum": ["resourceGroup", "subscription"]},
                                    "deploymentScope": {"enum": ["resourceGroup", "subscription"]},
                                    "roleDefinitionIds": {"type": "array", "minItems": 1, "items": {
                                        "type": "string", "pattern": r"^/providers/Microsoft\.Authorization/"
                                                                     r"roleDefinitions/[0-9a-f-]{36}$"}},
                                    "evaluationDelay": {"type": "string"},
                                    "existenceCondition": _CONDITIONS,
                                    "deployment": {"type": "object", "properties": {"properties": {
                                        "type": "object",
                                        "properties": {"mode": {"enum": ["incremental", "Incremental"]},
                                                       "template": DEPLOYMENT_TEMPLATE,
                                                       "parameters": {"type": "object"}},
                                        "required": ["mode", "template"]}}, "required": ["properties"]},
                                },
                                "required": ["type"], "additionalProperties": False},
                        },
                        "required": ["effect"], "additionalProperties": False},
                },
                "required": ["if", "then"], "additionalProperties": False},
        },
        "required": ["displayName", "mode", "policyRule"]}},
    "required": ["properties"],
    "definitions": {
        "condition": {"allOf": [
            {"oneOf": [{"required": ["field"]}, {"required": ["value"]}, {"required": ["count"]}]},
            {"oneOf": [{"required": [op]} for op in _OPERATORS]}]},
        "allOf": {"type": "object", "properties": {"allOf": {"type": "array", "minItems": 1, "items": _CONDITIONS}},
                  "required": ["allOf"], "additionalProperties": False},
        "anyOf": {"type": "object", "properties": {"anyOf": {"type": "array", "minItems": 1, "items": _CONDITIONS}},
                  "required": ["anyOf"], "additionalProperties": False},
        "not": {"type": "object", "properties": {"not": _CONDITIONS}, "required": ["not"],
                "additionalProperties": False},
    },
}
