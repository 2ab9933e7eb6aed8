# --------------------------------------------------------------------------------------------
# Copyright (c) amlk8s contributors. Licensed under the MIT License.
# --------------------------------------------------------------------------------------------
"""Step 5 for ``deploy --export``: the checked extension body as the engines teams already use (pure).

- ``arm``: a resource group deployment template (deploymentTemplate.json 2019-04-01): the extension as an extension
  resource ``scope``d to the cluster, on Arc the Azure Relay namespace, hybrid connection and rule it needs with the
  connection string wired by ``listKeys`` (never a value); every protected setting a ``secureString`` parameter.
- ``bicep``: the same resources in Bicep (``existing`` cluster, ``scope:``, ``@secure()`` parameters,
  ``rule.listKeys()``).
- ``terraform``: ``azurerm_kubernetes_cluster_extension`` (AKS) or ``azurerm_arc_kubernetes_cluster_extension`` (Arc,
  with the ``azurerm_relay_*`` resources), protected settings from variables marked ``sensitive``.
- ``policy``: an Azure Policy definition (mode Indexed, ``deployIfNotExists`` on the cluster type, existence on the
  extension type, provisioning state, release train and the chosen settings), whose deployment is the ARM template.

The TLS files are sent as az k8s-extension sends them, base64 of the file bytes (``scoringFe.sslCert``,
``scoringFe.sslKey``): the parameters say so and how to pass them (``loadFileAsBase64`` in Bicep, ``filebase64`` in
Terraform, ``base64 -w0`` for an ARM parameter). No protected value, key or certificate is ever written here.
Sources: ARM template and Bicep references (extension resources, scope, listKeys), the azurerm provider docs,
Azure Policy definition structure (deployIfNotExists).
"""

import json
import re
from typing import Dict, List, Optional

from azext_amlk8s._constants import CONTAINER_SERVICE_API, EXTENSION_TYPE, EXTENSIONS_API, ML_API, RELAY_API

FORMATS = ('arm', 'bicep', 'terraform', 'policy')
ATTACH_FORMATS = ('arm', 'bicep', 'terraform')
COMPUTES = 'Microsoft.MachineLearningServices/workspaces/computes'
ARM_SCHEMA = 'https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#'
# Kubernetes Extension Contributor (built-in role): create and manage cluster extensions; Contributor for the
# Azure Relay an Arc cluster needs.
EXTENSION_CONTRIBUTOR = '/providers/Microsoft.Authorization/roleDefinitions/85cb6faf-e071-4c9b-8136-154b5a04f717'
CONTRIBUTOR = '/providers/Microsoft.Authorization/roleDefinitions/b24988ac-6180-42a0-ab88-20f7382dd24c'
_RELAY_KEYS = ('relayServerConnectionString', 'relayserver.relayConnectionString')
_HOW = {
    'scoringFe.sslCert': ('the certificate chain file (sslCertPemFile), base64 of its bytes',
                          "loadFileAsBase64('cert.pem')", 'filebase64("cert.pem")', 'cert.pem'),
    'scoringFe.sslKey': ('the private key file (sslKeyPemFile), base64 of its bytes',
                         "loadFileAsBase64('key.pem')", 'filebase64("key.pem")', 'key.pem'),
}


class Export:  # pylint: disable=too-few-public-methods,too-many-instance-attributes
    """What an export needs: the PUT body as deploy would send it, the cluster, the extension's name and the relay
    plan (Arc: the namespace and hybrid connection amlk8s would create)."""

    def __init__(self, body, ref, name, relay=None, trusted_access=None):
        self.trusted_access = trusted_access        # (name, body) of the Trusted Access binding to create
        self.properties = dict(body['properties'])
        self.identity = body.get('identity')
        self.ref, self.name, self.relay = ref, name, relay
        protected = self.properties.pop('configurationProtectedSettings', {}) or {}
        self.public: Dict[str, str] = dict(self.properties.pop('configurationSettings', {}) or {})
        self.wired = relay is not None and any(k in protected for k in _RELAY_KEYS)
        self.secrets: List[str] = [k for k in protected if not (self.wired and k in _RELAY_KEYS)]
        if relay is not None:
            self.public.pop('relayserver.hybridConnectionResourceID', None)

    @property
    def cluster_type(self):
        return 'Microsoft.Kubernetes/connectedClusters' if self.ref.is_arc else \
            'Microsoft.ContainerService/managedClusters'


def param_name(key: str) -> str:
    """A parameter or variable name for a setting key (letters, digits, underscores; a letter first)."""
    name = re.sub(r'[^A-Za-z0-9]+(.)?', lambda m: (m.group(1) or '').upper(), key)
    return name if name[:1].isalpha() else f'p{name}'


def _how(key):
    return _HOW.get(key, (f'the protected setting {key}', None, None, None))


# --- ARM -------------------------------------------------------------------------------------------------------------

def arm_template(exp: Export) -> dict:
    relay = exp.relay
    params = {'clusterName': {'type': 'string', 'defaultValue': exp.ref.cluster_name,
                              'metadata': {'description': f'The {exp.cluster_type} cluster in this resource group.'}},
              'extensionName': {'type': 'string', 'defaultValue': exp.name}}
    for key in exp.secrets:
        what, _, _, file = _how(key)
        how = f" Pass it with --parameters {param_name(key)}=\"$(base64 -w0 {file})\"." if file else ''
        params[param_name(key)] = {'type': 'secureString', 'metadata': {'description': f'{what}.{how}'}}
    protected = {key: f"[parameters('{param_name(key)}')]" for key in exp.secrets}
    public = dict(exp.public)
    resources, depends = [], []
    if relay is not None:
        params['relayNamespace'] = {'type': 'string', 'defaultValue': relay.namespace}
        params['hybridConnection'] = {'type': 'string', 'defaultValue': relay.hybrid_connection}
        rule = ("[resourceId('Microsoft.Relay/namespaces/hybridConnections/authorizationRules', "
                f"parameters('relayNamespace'), parameters('hybridConnection'), '{relay.rule}')]")
        resources += [
            {'type': 'Microsoft.Relay/namespaces', 'apiVersion': RELAY_API, 'name': "[parameters('relayNamespace')]",
             'location': relay.location or '[resourceGroup().location]',
             'sku': {'name': 'Standard', 'tier': 'Standard'}, 'tags': {'created_by': 'amlk8s'}},
            {'type': 'Microsoft.Relay/namespaces/hybridConnections', 'apiVersion': RELAY_API,
             'name': "[format('{0}/{1}', parameters('relayNamespace'), parameters('hybridConnection'))]",
             'properties': {'requiresClientAuthorization': True},
             'dependsOn': ["[resourceId('Microsoft.Relay/namespaces', parameters('relayNamespace'))]"]},
            {'type': 'Microsoft.Relay/namespaces/hybridConnections/authorizationRules', 'apiVersion': RELAY_API,
             'name': f"[format('{{0}}/{{1}}/{relay.rule}', parameters('relayNamespace'), "
                     "parameters('hybridConnection'))]",
             'properties': {'rights': ['Listen', 'Send', 'Manage']},
             'dependsOn': ["[resourceId('Microsoft.Relay/namespaces/hybridConnections', "
                           "parameters('relayNamespace'), parameters('hybridConnection'))]"]}]
        public['relayserver.hybridConnectionResourceID'] = (
            "[resourceId('Microsoft.Relay/namespaces/hybridConnections', parameters('relayNamespace'), "
            "parameters('hybridConnection'))]")
        if exp.wired:
            for key in _RELAY_KEYS:
                protected[key] = f"[listKeys({rule[1:-1]}, '{RELAY_API}').primaryConnectionString]"
        depends.append(rule)
    if exp.trusted_access is not None:
        binding, binding_body = exp.trusted_access
        resources.append(dict({'type': 'Microsoft.ContainerService/managedClusters/trustedAccessRoleBindings',
                               'apiVersion': CONTAINER_SERVICE_API,
                               'name': f"[format('{{0}}/{binding}', parameters('clusterName'))]"}, **binding_body))
    extension = {'type': 'Microsoft.KubernetesConfiguration/extensions', 'apiVersion': EXTENSIONS_API,
                 'name': "[parameters('extensionName')]",
                 'scope': f"[format('{exp.cluster_type}/{{0}}', parameters('clusterName'))]"}
    if exp.identity:
        extension['identity'] = dict(exp.identity)
    extension['properties'] = dict(exp.properties, configurationSettings=public,
                                   configurationProtectedSettings=protected)
    if depends:
        extension['dependsOn'] = depends
    resources.append(extension)
    return {'$schema': ARM_SCHEMA, 'contentVersion': '1.0.0.0',
            'metadata': {'generator': 'az amlk8s deploy --export arm',
                         'description': f'The AzureML extension ({EXTENSION_TYPE}) on {exp.ref.cluster_name}, as '
                                        'az amlk8s checked it.'},
            'parameters': params, 'resources': resources,
            'outputs': {'extensionId': {'type': 'string', 'value': (
                f"[extensionResourceId(resourceId('{exp.cluster_type}', parameters('clusterName')), "
                "'Microsoft.KubernetesConfiguration/extensions', parameters('extensionName'))]")}}}


# --- Bicep -----------------------------------------------------------------------------------------------------------

def _bicep_string(value) -> str:
    text = str(value).replace('\\', '\\\\').replace("'", "\\'").replace('${', '\\${').replace('\n', '\\n')
    return f"'{text}'"


def _bicep_value(value) -> str:
    if isinstance(value, bool):
        return 'true' if value else 'false'
    return _bicep_string(value)


def _bicep_key(key) -> str:
    return key if re.fullmatch(r'[A-Za-z_][A-Za-z0-9_]*', key) else _bicep_string(key)


def _bicep_object(entries, indent) -> List[str]:
    pad = ' ' * indent
    return ['{'] + [f'{pad}  {_bicep_key(k)}: {v}' for k, v in entries] + [f'{pad}}}']


def bicep(exp: Export) -> str:
    relay = exp.relay
    short = 'Microsoft.Kubernetes/connectedClusters@2024-01-01' if exp.ref.is_arc else \
        'Microsoft.ContainerService/managedClusters@2024-09-01'
    lines = [f'// The AzureML extension ({EXTENSION_TYPE}) on {exp.ref.cluster_name}, as az amlk8s checked it.',
             '// Deploy: az deployment group create -g <resource-group> --template-file azureml.bicep',
             '', f'param clusterName string = {_bicep_string(exp.ref.cluster_name)}',
             f'param extensionName string = {_bicep_string(exp.name)}']
    for key in exp.secrets:
        what, load, _, _ = _how(key)
        lines += ['', f'@description({_bicep_string(what)})', '@secure()',
                  f'// Pass it from a .bicepparam file: param {param_name(key)} = {load}' if load else
                  '// Pass it from a .bicepparam file or --parameters; never write it here.',
                  f'param {param_name(key)} string']
    lines += ['', f"resource cluster '{short}' existing = {{", '  name: clusterName', '}']
    public = [(k, _bicep_value(v)) for k, v in exp.public.items()]
    protected = [(k, param_name(k)) for k in exp.secrets]
    if relay is not None:
        lines += ['', f'param relayNamespace string = {_bicep_string(relay.namespace)}',
                  f'param hybridConnection string = {_bicep_string(relay.hybrid_connection)}', '',
                  f"resource relay 'Microsoft.Relay/namespaces@{RELAY_API}' = {{", '  name: relayNamespace',
                  f"  location: {_bicep_string(relay.location) if relay.location else 'resourceGroup().location'}",
                  "  sku: {\n    name: 'Standard'\n    tier: 'Standard'\n  }",
                  "  tags: {\n    created_by: 'amlk8s'\n  }", '}', '',
                  f"resource connection 'Microsoft.Relay/namespaces/hybridConnections@{RELAY_API}' = {{",
                  '  parent: relay', '  name: hybridConnection',
                  '  properties: {\n    requiresClientAuthorization: true\n  }', '}', '',
                  f"resource rule 'Microsoft.Relay/namespaces/hybridConnections/authorizationRules@{RELAY_API}' = {{",
                  '  parent: connection', f'  name: {_bicep_string(relay.rule)}',
                  "  properties: {\n    rights: [\n      'Listen'\n      'Send'\n      'Manage'\n    ]\n  }", '}']
        public.append(('relayserver.hybridConnectionResourceID', 'connection.id'))
        if exp.wired:
            protected += [(k, 'rule.listKeys().primaryConnectionString') for k in _RELAY_KEYS]
    if exp.trusted_access is not None:
        binding, binding_body = exp.trusted_access
        lines += ['', "resource trustedAccess 'Microsoft.ContainerService/managedClusters/trustedAccessRoleBindings@"
                  f"{CONTAINER_SERVICE_API}' = {{", '  parent: cluster', f'  name: {_bicep_string(binding)}',
                  f"  properties: {_bicep_json(binding_body['properties'], 2)}", '}']
    props = [(k, _bicep_value(v)) for k, v in exp.properties.items() if k != 'scope']
    props.append(('scope', "{\n      cluster: {\n        releaseNamespace: 'azureml'\n      }\n    }"))
    props.append(('configurationSettings', '\n'.join(_bicep_object(public, 4))))
    props.append(('configurationProtectedSettings', '\n'.join(_bicep_object(protected, 4))))
    lines += ['', f"resource extension 'Microsoft.KubernetesConfiguration/extensions@{EXTENSIONS_API}' = {{",
              '  name: extensionName', '  scope: cluster']
    if exp.identity:
        lines.append(f"  identity: {{\n    type: {_bicep_string(exp.identity.get('type'))}\n  }}")
    lines.append('  properties: ' + '\n'.join(_bicep_object(props, 2)))
    lines += ['}', '', 'output extensionId string = extension.id', '']
    return '\n'.join(lines)


# --- Terraform -------------------------------------------------------------------------------------------------------

def _hcl_string(value) -> str:
    return json.dumps(str(value)).replace('${', '$${').replace('%{', '%%{')


def _hcl_map(entries, indent=2) -> List[str]:
    pad = ' ' * indent
    width = max([len(_hcl_string(k)) for k, _ in entries] or [0])
    return ['{'] + [f'{pad}  {_hcl_string(k).ljust(width)} = {v}' for k, v in entries] + [f'{pad}}}']


def terraform(exp: Export) -> str:
    ref, relay = exp.ref, exp.relay
    kind = 'azurerm_arc_kubernetes_cluster_extension' if ref.is_arc else 'azurerm_kubernetes_cluster_extension'
    lines = [f'# The AzureML extension ({EXTENSION_TYPE}) on {ref.cluster_name}, as az amlk8s checked it.',
             '# terraform init && terraform apply (azurerm provider 3.x or 4.x)', '',
             'variable "cluster_id" {', '  type    = string', f'  default = {_hcl_string(ref.resource_id)}', '}']
    for key in exp.secrets:
        what, _, load, _ = _how(key)
        lines += ['', f'variable "{param_name(key)}" {{', f'  description = {_hcl_string(what)}',
                  '  type        = string', '  sensitive   = true']
        if load:
            lines.append(f'  # Give it in a .tfvars file or TF_VAR_{param_name(key)}, for example {load}')
        lines.append('}')
    protected = [(k, f'var.{param_name(k)}') for k in exp.secrets]
    public = [(k, _hcl_string(str(v).lower() if isinstance(v, bool) else v)) for k, v in exp.public.items()]
    if relay is not None:
        lines += ['', 'resource "azurerm_relay_namespace" "azureml" {', f'  name                = '
                  f'{_hcl_string(relay.namespace)}', f'  resource_group_name = {_hcl_string(relay.resource_group)}',
                  f'  location            = {_hcl_string(relay.location or "eastus")}', '  sku_name            = '
                  '"Standard"', '  tags = {', '    created_by = "amlk8s"', '  }', '}', '',
                  'resource "azurerm_relay_hybrid_connection" "azureml" {',
                  f'  name                          = {_hcl_string(relay.hybrid_connection)}',
                  '  resource_group_name           = azurerm_relay_namespace.azureml.resource_group_name',
                  '  relay_namespace_name          = azurerm_relay_namespace.azureml.name',
                  '  requires_client_authorization = true', '}', '',
                  'resource "azurerm_relay_hybrid_connection_authorization_rule" "azureml" {',
                  f'  name                   = {_hcl_string(relay.rule)}',
                  '  resource_group_name    = azurerm_relay_namespace.azureml.resource_group_name',
                  '  namespace_name         = azurerm_relay_namespace.azureml.name',
                  '  hybrid_connection_name = azurerm_relay_hybrid_connection.azureml.name',
                  '  listen                 = true', '  send                   = true',
                  '  manage                 = true', '}']
        public.append(('relayserver.hybridConnectionResourceID', 'azurerm_relay_hybrid_connection.azureml.id'))
        if exp.wired:
            protected += [(k, 'azurerm_relay_hybrid_connection_authorization_rule.azureml.primary_connection_string')
                          for k in _RELAY_KEYS]
    if exp.trusted_access is not None:
        binding, binding_body = exp.trusted_access
        roles = ', '.join(_hcl_string(r) for r in binding_body['properties']['roles'])
        lines += ['', 'resource "azurerm_kubernetes_cluster_trusted_access_role_binding" "azureml" {',
                  '  kubernetes_cluster_id = var.cluster_id', f'  name                  = {_hcl_string(binding)}',
                  f'  roles                 = [{roles}]',
                  f"  source_resource_id    = {_hcl_string(binding_body['properties']['sourceResourceId'])}", '}']
    lines += ['', f'resource "{kind}" "azureml" {{', f'  name              = {_hcl_string(exp.name)}',
              '  cluster_id        = var.cluster_id', f'  extension_type    = {_hcl_string(EXTENSION_TYPE)}',
              '  release_namespace = "azureml"',
              f"  release_train     = {_hcl_string(exp.properties.get('releaseTrain') or 'stable')}"]
    if exp.properties.get('version'):
        lines.append(f"  version           = {_hcl_string(exp.properties['version'])}")
    if ref.is_arc:
        lines += ['  identity {', '    type = "SystemAssigned"', '  }']
    lines.append('  configuration_settings = ' + '\n'.join(_hcl_map(public)))
    if protected:
        lines.append('  configuration_protected_settings = ' + '\n'.join(_hcl_map(protected)))
    lines += ['}', '', 'output "extension_id" {', f'  value = {kind}.azureml.id', '}', '']
    return '\n'.join(lines)


# --- Azure Policy ----------------------------------------------------------------------------------------------------

_POLICY_FIXED = ('clusterId', 'cluster_name', 'clusterName', 'cluster_name_friendly', 'domain', 'location',
                 'jobSchedulerLocation', 'prometheus.prometheusSpec.externalLabels.cluster_name',
                 'relayserver.hybridConnectionName')


def policy(exp: Export, display_name: Optional[str] = None) -> dict:
    """deployIfNotExists for every cluster of the type; the settings that name this one cluster (its id, name,
    location, relay) are derived per cluster by the deployment from ``field()`` values instead."""
    template = arm_template(exp)
    params = template['parameters']
    params['clusterName'] = {'type': 'string'}
    params['location'] = {'type': 'string'}
    deploy_values = {'clusterName': {'value': "[field('name')]"}, 'location': {'value': "[field('location')]"}}
    if exp.relay is not None:
        params['relayNamespace'] = {'type': 'string'}
        params['hybridConnection'] = {'type': 'string'}
        deploy_values['relayNamespace'] = {'value': "[concat('amlrelay', uniqueString(field('id')))]"}
        deploy_values['hybridConnection'] = {'value': "[field('name')]"}
        template['resources'][0]['location'] = "[parameters('location')]"
    settings = template['resources'][-1]['properties']['configurationSettings']
    for key in list(settings):
        if key in _POLICY_FIXED:
            settings.pop(key)
    # What deploy derives from the cluster, derived here from the cluster the policy evaluates.
    cluster_id = f"[resourceId('{exp.cluster_type}', parameters('clusterName'))]"
    for key in ('clusterId', 'cluster_name', 'prometheus.prometheusSpec.externalLabels.cluster_name'):
        settings[key] = cluster_id
    settings['cluster_name_friendly'] = "[parameters('clusterName')]"
    settings['location'] = settings['jobSchedulerLocation'] = "[parameters('location')]"
    settings['domain'] = "[format('{0}.cloudapp.azure.com', parameters('location'))]"
    template['metadata']['description'] = 'The AzureML extension on the cluster the policy evaluates.'
    if exp.relay is not None:
        settings['relayserver.hybridConnectionName'] = "[parameters('hybridConnection')]"
    definition_params = {
        'effect': {'type': 'String', 'allowedValues': ['DeployIfNotExists', 'AuditIfNotExists', 'Disabled'],
                   'defaultValue': 'DeployIfNotExists', 'metadata': {'displayName': 'Effect'}},
        'releaseTrain': {'type': 'String', 'defaultValue': exp.properties.get('releaseTrain') or 'stable',
                         'metadata': {'displayName': 'Release train'}}}
    condition = [{'field': 'Microsoft.KubernetesConfiguration/extensions/extensionType', 'equals': EXTENSION_TYPE},
                 {'field': 'Microsoft.KubernetesConfiguration/extensions/provisioningState', 'equals': 'Succeeded'},
                 {'field': 'Microsoft.KubernetesConfiguration/extensions/releaseTrain',
                  'equals': "[parameters('releaseTrain')]"}]
    for key, value in exp.public.items():
        if key in _POLICY_FIXED or key.startswith('relayserver.hybridConnection'):
            continue
        name = param_name(key)
        definition_params[name] = {'type': 'String', 'defaultValue': str(value), 'metadata': {'displayName': key}}
        condition.append({'value': "[string(field('Microsoft.KubernetesConfiguration/extensions/"
                                   f"configurationSettings')['{key}'])]", 'equals': f"[parameters('{name}')]"})
        template['parameters'][name] = {'type': 'string'}
        settings[key] = f"[parameters('{name}')]"
        deploy_values[name] = {'value': f"[parameters('{name}')]"}
    template['resources'][-1]['properties']['releaseTrain'] = "[parameters('releaseTrain')]"
    template['parameters']['releaseTrain'] = {'type': 'string'}
    deploy_values['releaseTrain'] = {'value': "[parameters('releaseTrain')]"}
    kind = 'Azure Arc-enabled Kubernetes clusters' if exp.ref.is_arc else 'AKS clusters'
    roles = [EXTENSION_CONTRIBUTOR] + ([CONTRIBUTOR] if exp.relay is not None else [])
    return {'properties': {
        'displayName': display_name or f'Deploy the Azure Machine Learning extension to {kind}',
        'policyType': 'Custom', 'mode': 'Indexed',
        'description': f'Deploys the AzureML extension ({EXTENSION_TYPE}) with the settings az amlk8s checked to '
                       f'{kind} that do not have it Succeeded on the release train and settings given.',
        'metadata': {'category': 'Kubernetes', 'version': '1.0.0', 'generator': 'az amlk8s deploy --export policy'},
        'parameters': definition_params,
        'policyRule': {
            'if': {'field': 'type', 'equals': exp.cluster_type},
            'then': {'effect': "[parameters('effect')]", 'details': {
                'type': 'Microsoft.KubernetesConfiguration/extensions',
                'existenceCondition': {'allOf': condition},
                'roleDefinitionIds': roles,
                'deployment': {'properties': {'mode': 'incremental', 'template': template,
                                              'parameters': deploy_values}}}}}}}


def refuse_policy_secrets(exp: Export):
    """A policy's parameters are readable by whoever reads its assignment: protected values (the TLS files) do not
    belong there. HTTPS under a policy takes the certificate from a Kubernetes secret (--ssl-secret)."""
    if exp.secrets:
        from azure.cli.core.azclierror import InvalidArgumentValueError
        raise InvalidArgumentValueError(
            f"--export policy: the protected settings ({', '.join(exp.secrets)}) would have to be policy parameters, "
            "which anyone who can read the assignment can read.",
            'Give HTTPS through a Kubernetes secret in the cluster instead (--ssl-secret <secret> --ssl-cname '
            '<fqdn>), or export arm/bicep/terraform, whose secure parameters stay out of the files.')


def render(fmt: str, exp: Export) -> str:
    if fmt == 'arm':
        return json.dumps(arm_template(exp), indent=2) + '\n'
    if fmt == 'bicep':
        return bicep(exp)
    if fmt == 'terraform':
        return terraform(exp)
    refuse_policy_secrets(exp)
    return json.dumps(policy(exp), indent=2) + '\n'


# --- attach: the workspace's Kubernetes compute -----------------------------------------------------------------------

def compute(fmt: str, body: dict, workspace, compute_name: str) -> str:
    """``attach --export``: the compute target attach would PUT (no Terraform resource exists for it: azapi)."""
    if fmt == 'arm':
        resource = dict({'type': COMPUTES, 'apiVersion': ML_API,
                         'name': "[format('{0}/{1}', parameters('workspaceName'), parameters('computeName'))]"},
                        **body)
        template = {'$schema': ARM_SCHEMA, 'contentVersion': '1.0.0.0',
                    'metadata': {'generator': 'az amlk8s attach --export arm'},
                    'parameters': {'workspaceName': {'type': 'string', 'defaultValue': workspace.name},
                                   'computeName': {'type': 'string', 'defaultValue': compute_name}},
                    'resources': [resource]}
        return json.dumps(template, indent=2) + '\n'
    if fmt == 'bicep':
        lines = [f'// The Kubernetes compute {compute_name} of workspace {workspace.name}, as az amlk8s checked it.',
                 f'param workspaceName string = {_bicep_string(workspace.name)}',
                 f'param computeName string = {_bicep_string(compute_name)}', '',
                 f"resource workspace 'Microsoft.MachineLearningServices/workspaces@{ML_API}' existing = {{",
                 '  name: workspaceName', '}', '', f"resource compute '{COMPUTES}@{ML_API}' = {{",
                 '  parent: workspace', '  name: computeName']
        for key, value in body.items():
            lines.append(f'  {key}: {_bicep_json(value, 2)}')
        return '\n'.join(lines + ['}', '', 'output computeId string = compute.id', ''])
    body_text = json.dumps(body.get('properties') or {}, indent=2).replace('\n', '\n    ')
    lines = [f'# The Kubernetes compute {compute_name} of workspace {workspace.name}, as az amlk8s checked it.',
             '# The azurerm provider has no resource for it: azapi (Azure/azapi provider) sends the same body.', '',
             f'resource "azapi_resource" {_hcl_string(param_name(compute_name))} {{',
             f'  type      = "{COMPUTES}@{ML_API}"', f'  name      = {_hcl_string(compute_name)}',
             f'  parent_id = {_hcl_string(workspace.resource_id)}',
             f"  location  = {_hcl_string(body.get('location') or '')}"]
    identity = body.get('identity') or {}
    if identity:
        lines += ['  identity {', f"    type = {_hcl_string(identity.get('type'))}"]
        if identity.get('userAssignedIdentities'):
            ids = ', '.join(_hcl_string(i) for i in identity['userAssignedIdentities'])
            lines.append(f'    identity_ids = [{ids}]')
        lines.append('  }')
    lines += ['  body = {', f'    properties = {body_text}', '  }', '}', '']
    return '\n'.join(lines)


def _bicep_json(value, indent) -> str:
    pad = ' ' * indent
    if isinstance(value, dict):
        inner = [f'{pad}  {_bicep_key(str(k))}: {_bicep_json(v, indent + 2)}' for k, v in value.items()]
        return '{\n' + '\n'.join(inner) + f'\n{pad}}}' if inner else '{}'
    if isinstance(value, list):
        inner = [f'{pad}  {_bicep_json(v, indent + 2)}' for v in value]
        return '[\n' + '\n'.join(inner) + f'\n{pad}]' if inner else '[]'
    if value is None:
        return 'null'
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    return _bicep_value(value)
