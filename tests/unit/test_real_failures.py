"""Failures as users meet them (../shared/reference/real-failures.md): ARM's error text in each service era, the
health-check report in both formats, codes diagnosed by code."""

import pytest

from azext_amlk8s import health, running

CAUSE = "failed pre-install: pod healthcheck failed"
ERAS = {
    "2021": ("(ExtensionCreationFailed) Error: {failed to install chart from path [] for release [azureml]: err "
             f"[{CAUSE}]}} occurred while doing the operation : {{Installing the extension}} on the config"),
    "2022": ("Error: {Helm installation from path [] for release [azureml] failed with the following error: err "
             f"[{CAUSE}]}} occurred while doing the operation : {{Installing the extension}} on the config"),
    "2024": ("Error: [ InnerError: [Helm installation failed : Unable to create/update Kubernetes resources for the "
             "extension : Recommendation Please check that there are no policies blocking the resource "
             "creation/update for the extension : InnerError [release azureml failed, and has been uninstalled due "
             f"to atomic being set: {CAUSE}]]] occurred while doing the operation : [Create] on the config, For "
             "general troubleshooting visit: https://aka.ms/k8s-extensions-TSG, For more application specific "
             "troubleshooting visit: https://aka.ms/arcmltsg"),
}


@pytest.mark.parametrize("era", sorted(ERAS))
def test_the_innermost_cause_of_each_era(era):
    assert health.innermost_cause(ERAS[era]).endswith(CAUSE)


@pytest.mark.parametrize("era", sorted(ERAS))
def test_each_era_is_diagnosed_by_its_cause(era):
    codes = [d.code for d in health.diagnose_text(ERAS[era])]
    assert codes[0] == "healthcheck-failed", codes
    assert "pre-install" in health.diagnose_text(ERAS[era])[0].fix


def test_a_text_without_a_wrapper_is_its_own_cause():
    assert health.innermost_cause("status not populated") == "status not populated"
    assert health.innermost_cause("unbalanced err [oops") == "oops"


REPORT_2022 = """agent:
  code: AgentWarning
  message: '{"aml-operator":0,"azureml-fe":0,"gateway":0}'
service:
  code: Passed
instancetype:
  code: E45006
  message: Failed to validate or update instancetype
"""


def test_the_2022_report_format_is_read():
    parsed = running.parse_healthcheck(REPORT_2022)
    assert [(e["name"], e["status"], e["errorCode"]) for e in parsed["entries"]] == [
        ("agent", "Failed", "AgentWarning"), ("service", "Passed", None), ("instancetype", "Failed", "E45006")]
    assert parsed["entries"][0]["errorMessage"] == '{"aml-operator":0,"azureml-fe":0,"gateway":0}'


def test_codes_are_diagnosed_by_code_not_message():
    # The real message of E45005 carries a typo ("confict"); the code still finds the rule.
    assert health.diagnose_code("E45005", "Azureml Fe deployment confict").title == "AZUREML_FE_DEPLOYMENT_CONFLICT"
    unknown = health.diagnose_code("E47123", "something new")
    assert unknown.code == "E47123" and "something new" in unknown.diagnosis
    assert health.diagnose_code("AgentWarning", '{"gateway":0}').title == "HEALTHCHECK_AGENTWARNING"
