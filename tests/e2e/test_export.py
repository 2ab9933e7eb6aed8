"""deploy --export (issue 21), end to end with the real az: the checked extension as an ARM template, Bicep,
Terraform and an Azure Policy definition, on AKS and Arc; a blocked export; no protected value in any of them."""
# pylint: disable=missing-docstring,redefined-outer-name

import json

import pytest

from tests.certs import SecretFragments, assert_no_secrets, make_tls_files

CNAME = "ml.contoso.com"
AKS = "amlk8s deploy -g rg-ml -c aks-prod -t aks --enable-training true"
ARC = "amlk8s deploy -g rg-arc -c arc-k3s -t arc --enable-training true"
EXTENSION = "Microsoft.KubernetesConfiguration/extensions"


@pytest.fixture
def tls(tmp_path):
    return make_tls_files(tmp_path / "tls", CNAME)


def https(tls):
    return (f" --enable-inference true --inference-router-service-type LoadBalancer --ssl-cname {CNAME} "
            f"--ssl-cert-pem-file {tls.cert_path} --ssl-key-pem-file {tls.key_path}")


def clean(result, secrets=None):
    """Nothing written to Azure, no traceback, no secret in what az printed."""
    assert result.writes == [], result.describe()
    assert "Traceback" not in result.stderr
    assert_no_secrets(result.stdout + result.stderr, secrets or SecretFragments())


def dry_run_body(az, command):
    return az(command + " --dry-run -o json", expect=0).json


def test_an_arm_template_on_aks_has_the_body_deploy_would_send(az, emu):
    result = az(AKS + " --export arm", expect=0)
    clean(result)
    template = json.loads(result.stdout)
    assert template["$schema"].endswith("deploymentTemplate.json#") and template["contentVersion"] == "1.0.0.0"
    [extension] = template["resources"]
    assert extension["type"] == EXTENSION and extension["apiVersion"] == "2023-05-01"
    assert extension["scope"] == "[format('Microsoft.ContainerService/managedClusters/{0}', " \
                                 "parameters('clusterName'))]"
    body = dry_run_body(az, AKS)
    assert extension["properties"]["configurationSettings"] == body["properties"]["configurationSettings"]
    for field in ("extensionType", "autoUpgradeMinorVersion", "releaseTrain", "scope"):
        assert extension["properties"][field] == body["properties"][field], field
    assert template["parameters"]["clusterName"]["defaultValue"] == "aks-prod"


def test_https_on_aks_becomes_secure_parameters_in_arm_bicep_and_terraform(az, emu, tls, tmp_path):
    secrets = tls.secret_fragments()
    arm = az(AKS + https(tls) + " --export arm", expect=0)
    clean(arm, secrets)
    template = json.loads(arm.stdout)
    protected = template["resources"][-1]["properties"]["configurationProtectedSettings"]
    assert protected == {"scoringFe.sslCert": "[parameters('scoringFeSslCert')]",
                         "scoringFe.sslKey": "[parameters('scoringFeSslKey')]"}
    assert template["parameters"]["scoringFeSslCert"]["type"] == "secureString"
    assert "base64 -w0" in template["parameters"]["scoringFeSslKey"]["metadata"]["description"]

    path = tmp_path / "azureml.bicep"
    bicep = az(AKS + https(tls) + f" --export bicep --export-file {path}", expect=0)
    clean(bicep, secrets)
    text = path.read_text(encoding="utf-8")
    assert_no_secrets(text, secrets)
    assert ("@secure()\n// Pass it from a .bicepparam file: param scoringFeSslCert = "
            "loadFileAsBase64('cert.pem')") in text
    assert "scope: cluster" in text and "resource cluster 'Microsoft.ContainerService/managedClusters@" in text
    assert f"sslCname: '{CNAME}'" in text and "'scoringFe.sslCert': scoringFeSslCert" in text
    assert "Wrote the bicep export of" in bicep.stderr

    terraform = az(AKS + https(tls) + " --export terraform", expect=0)
    clean(terraform, secrets)
    hcl = terraform.stdout
    assert 'resource "azurerm_kubernetes_cluster_extension" "azureml"' in hcl
    assert 'variable "scoringFeSslKey" {' in hcl and "sensitive   = true" in hcl and 'filebase64("key.pem")' in hcl
    assert '"scoringFe.sslCert" = var.scoringFeSslCert' in hcl
    assert '"sslCname"' in hcl and CNAME in hcl


def test_arc_exports_create_the_relay_and_wire_its_key_by_reference(az, emu):
    secrets = SecretFragments(emu.secret_values())
    arm = az(ARC + " --export arm", expect=0)
    clean(arm, secrets)
    template = json.loads(arm.stdout)
    types = [r["type"] for r in template["resources"]]
    assert types == ["Microsoft.Relay/namespaces", "Microsoft.Relay/namespaces/hybridConnections",
                     "Microsoft.Relay/namespaces/hybridConnections/authorizationRules", EXTENSION]
    extension = template["resources"][-1]
    assert extension["identity"] == {"type": "SystemAssigned"}
    protected = extension["properties"]["configurationProtectedSettings"]
    assert set(protected) == {"relayServerConnectionString", "relayserver.relayConnectionString"}
    assert all(v.startswith("[listKeys(resourceId('Microsoft.Relay/namespaces/hybridConnections/authorizationRules'")
               and v.endswith(".primaryConnectionString]") for v in protected.values())
    assert extension["properties"]["configurationSettings"]["relayserver.hybridConnectionResourceID"].startswith(
        "[resourceId('Microsoft.Relay/namespaces/hybridConnections'")
    assert extension["scope"].startswith("[format('Microsoft.Kubernetes/connectedClusters/{0}'")

    bicep = az(ARC + " --export bicep", expect=0)
    clean(bicep, secrets)
    assert "relayServerConnectionString: rule.listKeys().primaryConnectionString" in bicep.stdout
    assert "parent: connection" in bicep.stdout
    terraform = az(ARC + " --export terraform", expect=0)
    clean(terraform, secrets)
    assert 'resource "azurerm_arc_kubernetes_cluster_extension" "azureml"' in terraform.stdout
    assert "azurerm_relay_hybrid_connection_authorization_rule.azureml.primary_connection_string" in terraform.stdout
    assert 'identity {\n    type = "SystemAssigned"' in terraform.stdout


@pytest.mark.parametrize("command, kind", [(AKS, "Microsoft.ContainerService/managedClusters"),
                                           (ARC, "Microsoft.Kubernetes/connectedClusters")])
def test_a_policy_definition_deploys_the_checked_extension_where_it_is_missing(az, emu, command, kind):
    result = az(command + " --export policy", expect=0)
    clean(result, SecretFragments(emu.secret_values()))
    definition = json.loads(result.stdout)["properties"]
    assert definition["mode"] == "Indexed" and definition["policyType"] == "Custom"
    rule = definition["policyRule"]
    assert rule["if"] == {"field": "type", "equals": kind}
    details = rule["then"]["details"]
    assert rule["then"]["effect"] == "[parameters('effect')]"
    assert definition["parameters"]["effect"]["defaultValue"] == "DeployIfNotExists"
    conditions = details["existenceCondition"]["allOf"]
    assert {"field": "Microsoft.KubernetesConfiguration/extensions/extensionType",
            "equals": "Microsoft.AzureML.Kubernetes"} in conditions
    assert any(c.get("field", "").endswith("/provisioningState") for c in conditions)
    assert any("['enableTraining']" in c.get("value", "") for c in conditions)
    assert "/providers/Microsoft.Authorization/roleDefinitions/85cb6faf-e071-4c9b-8136-154b5a04f717" in \
        details["roleDefinitionIds"]
    template = details["deployment"]["properties"]["template"]
    settings = template["resources"][-1]["properties"]["configurationSettings"]
    assert settings["clusterId"].startswith(f"[resourceId('{kind}'") and "aks-prod" not in json.dumps(template)
    assert details["deployment"]["properties"]["parameters"]["clusterName"] == {"value": "[field('name')]"}


def test_a_policy_with_tls_files_is_refused_and_a_blocked_export_writes_nothing(az, emu, tls, tmp_path):
    refused = az(AKS + https(tls) + " --export policy")
    assert refused.exit_code == 1 and "--ssl-secret" in refused.stderr and refused.stdout == ""
    clean(refused, tls.secret_fragments())
    target = tmp_path / "never.json"
    blocked = az(f"amlk8s deploy -g rg-ml -c aks-sp -t aks --enable-training true --export arm "
                 f"--export-file {target}")
    assert blocked.exit_code == 1 and "cannot take the AzureML extension yet" in blocked.stderr
    assert not target.exists() and blocked.stdout == "" and blocked.writes == []


def test_export_arguments_in_the_wrong_company_are_usage_errors(az, emu):
    ids = emu.cluster_id("aks-prod")
    many = az(["amlk8s", "deploy", "--ids", ids, "--enable-training", "true", "--export", "arm"])
    assert many.exit_code == 2 and "argument --export" in many.stderr and many.requests == []
    lonely = az(AKS + " --export-file x.json")
    assert lonely.exit_code == 1 and "--export-file needs --export" in lonely.stderr and lonely.writes == []


def _deploy_template(az, tmp_path, group, template, *parameters):
    path = tmp_path / "azureml.json"
    path.write_text(template, encoding="utf-8")
    args = ["deployment", "group", "create", "-g", group, "-n", "azureml", "--template-file", str(path)]
    if parameters:
        args += ["--parameters", *parameters]
    return az(args, expect=0)


@pytest.mark.parametrize("command, cluster, group", [(AKS, "aks-prod", "rg-ml"), (ARC, "arc-k3s", "rg-arc")])
def test_the_exported_template_deployed_gives_the_extension_deploy_sends(az, emu, tmp_path, command, cluster, group):
    template = az(command + " --export arm", expect=0).stdout
    _deploy_template(az, tmp_path, group, template)
    deployed = emu.extension(cluster)
    assert deployed is not None, "the deployment made no extension"
    az(["amlk8s", "delete", "-g", group, "-c", cluster, "-t", "arc" if group == "rg-arc" else "aks", "--yes",
        "--force"], expect=0)
    az(command, expect=0)
    sent = emu.extension(cluster)
    for field in ("extensionType", "autoUpgradeMinorVersion", "releaseTrain", "scope", "configurationSettings",
                  "configurationProtectedSettings"):
        assert deployed["properties"].get(field) == sent["properties"].get(field), field
    assert deployed.get("identity", {}).get("type") == sent.get("identity", {}).get("type")


def test_the_exported_https_template_with_secure_parameters_gives_the_same_protected_settings(az, emu, tls, tmp_path):
    import base64
    template = az(AKS + https(tls) + " --export arm", expect=0).stdout
    cert, key = (base64.b64encode(p.read_bytes()).decode() for p in (tls.cert_path, tls.key_path))
    result = _deploy_template(az, tmp_path, "rg-ml", template, f"scoringFeSslCert={cert}", f"scoringFeSslKey={key}")
    deployed = emu.extension("aks-prod")["properties"]
    assert deployed["configurationProtectedSettings"] == {"scoringFe.sslCert": cert, "scoringFe.sslKey": key}
    assert deployed["configurationSettings"]["sslCname"] == CNAME
    assert "secure" in json.dumps(result.json["properties"]["parameters"]).lower() and cert not in result.stdout


@pytest.mark.parametrize("command", [AKS, ARC])
def test_every_export_is_valid_for_its_tool(az, emu, command):
    import hcl2
    import jsonschema
    from tests.schemas import DEPLOYMENT_TEMPLATE, POLICY_DEFINITION
    jsonschema.validate(json.loads(az(command + " --export arm", expect=0).stdout), DEPLOYMENT_TEMPLATE)
    jsonschema.validate(json.loads(az(command + " --export policy", expect=0).stdout), POLICY_DEFINITION)
    parsed = hcl2.loads(az(command + " --export terraform", expect=0).stdout)
    kind = "azurerm_arc_kubernetes_cluster_extension" if command == ARC else "azurerm_kubernetes_cluster_extension"
    [resource] = [r[f'"{kind}"'] for r in parsed["resource"] if f'"{kind}"' in r]     # python-hcl2 keeps the quotes
    extension = resource['"azureml"']
    assert extension["extension_type"] == '"Microsoft.AzureML.Kubernetes"'
    assert extension["configuration_settings"]['"enableTraining"'] == '"true"'
    assert "var.cluster_id" in extension["cluster_id"]


def test_the_validators_catch_a_broken_export():
    import hcl2
    import jsonschema
    from tests.schemas import DEPLOYMENT_TEMPLATE, POLICY_DEFINITION
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"$schema": "x", "contentVersion": "1.0.0.0", "resources": []}, DEPLOYMENT_TEMPLATE)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"properties": {"displayName": "d", "mode": "Indexed", "policyRule": {
            "if": {"field": "type"}, "then": {"effect": "deployIfNotExists"}}}}, POLICY_DEFINITION)
    with pytest.raises(Exception):  # noqa: B017  (lark's own parse errors)
        hcl2.loads('resource "a" "b" {\n  x = {\n}\n')


WS1 = ("/subscriptions/{sub}/resourceGroups/rg-ml/providers/Microsoft.MachineLearningServices/workspaces/ws1")
ATTACH = "amlk8s attach -g rg-ml -c aks-with-ext -t aks --compute-name k8s-new --namespace azureml --workspace "


def test_attach_exports_the_compute_for_each_tool_and_the_template_deploys_it(az, emu, tmp_path):
    import hcl2
    import jsonschema
    from tests.schemas import DEPLOYMENT_TEMPLATE
    workspace = WS1.format(sub=emu.subscription_id)
    arm = az(ATTACH + workspace + " --export arm", expect=0)
    clean(arm)
    template = json.loads(arm.stdout)
    jsonschema.validate(template, DEPLOYMENT_TEMPLATE)
    [compute] = template["resources"]
    assert compute["type"] == "Microsoft.MachineLearningServices/workspaces/computes"
    assert compute["properties"]["computeType"] == "Kubernetes"
    assert compute["properties"]["resourceId"] == emu.cluster_id("aks-with-ext")
    assert compute["properties"]["properties"] == {"namespace": "azureml"}
    bicep = az(ATTACH + workspace + " --export bicep", expect=0).stdout
    assert "parent: workspace" in bicep and "computeType: 'Kubernetes'" in bicep
    hcl = az(ATTACH + workspace + " --export terraform", expect=0).stdout
    parsed = hcl2.loads(hcl)
    assert 'resource "azapi_resource"' in hcl and parsed["resource"]
    assert f'parent_id = "{workspace}"' in hcl and '"computeType": "Kubernetes"' in hcl

    _deploy_template(az, tmp_path, "rg-ml", arm.stdout)
    attached = az(["amlk8s", "attach", "-g", "rg-ml", "-c", "aks-with-ext", "-t", "aks", "--compute-name",
                   "k8s-new", "--namespace", "azureml", "--workspace", workspace], expect=0)
    assert attached.writes == [] and "No change" in attached.stderr      # the deployed compute is what attach sends


def test_an_export_with_create_trusted_access_carries_the_binding_and_its_template_deploys_both(az, emu, tmp_path):
    workspace = WS1.format(sub=emu.subscription_id)
    command = (f"amlk8s deploy -g rg-ml -c aks-nolocal -t aks --enable-training true --workspace {workspace} "
               "--create-trusted-access")
    arm = az(command + " --export arm", expect=0)
    clean(arm)
    template = json.loads(arm.stdout)
    binding = template["resources"][0]
    assert binding["type"] == "Microsoft.ContainerService/managedClusters/trustedAccessRoleBindings"
    assert binding["properties"] == {"sourceResourceId": workspace,
                                     "roles": ["Microsoft.MachineLearningServices/workspaces/mlworkload"]}
    assert binding["name"] == "[format('{0}/aml-ws1', parameters('clusterName'))]"
    assert "azurerm_kubernetes_cluster_trusted_access_role_binding" in az(command + " --export terraform",
                                                                          expect=0).stdout
    assert "parent: cluster\n  name: 'aml-ws1'" in az(command + " --export bicep", expect=0).stdout
    _deploy_template(az, tmp_path, "rg-ml", arm.stdout)
    again = az(command + " --dry-run -o json", expect=0)
    assert "Would create the Trusted Access binding" not in again.stderr      # the deployment made it
    assert emu.extension(cluster="aks-nolocal") is not None
