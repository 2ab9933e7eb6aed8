"""Failures as users meet them (../shared/reference/real-failures.md): ARM's error text in each service era, the
health-check report in both formats, codes diagnosed by code."""

import pytest

from azext_amlk8s.rules import health, running

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


def _failed(message, where="errorInfo"):
    props = {"provisioningState": "Failed"}
    if where == "errorInfo":
        props["errorInfo"] = {"code": "ExtensionOperationFailed", "message": message}
    else:
        props["statuses"] = [{"code": "InstallationFailed", "level": "Error", "message": message}]
    return {"properties": props}


@pytest.mark.parametrize("era", sorted(ERAS))
def test_the_hook_in_each_era_names_the_fresh_report_section(era):
    assert running.fresh_report_keys(_failed(ERAS[era])) == ["reports-pre-install"]
    assert running.fresh_report_keys(_failed(ERAS[era], "statuses")) == ["reports-pre-install"]


@pytest.mark.parametrize("text, keys", [
    ("UPGRADE FAILED: pre-upgrade hooks failed: pod healthcheck failed", ["reports-pre-upgrade"]),
    ("UPGRADE FAILED: pre-upgrade hooks failed, and has been rolled back due to atomic being set",
     ["reports-pre-upgrade", "reports-pre-rollback"]),
    ("Unable to get the status from the local CRD with the error : {Error : Retry for given duration didn't get "
     "any results with err {status not populated}}", None),
    ("", None),
])
def test_a_text_names_its_hook_or_none(text, keys):
    assert running.fresh_report_keys(_failed(text)) == keys


def test_a_stale_section_is_listed_but_not_diagnosed():
    from tests.emulator.kube import scenarios as ks
    from azext_amlk8s.facts.kube import path_of
    data = {"reports-pre-install": ks.healthcheck_report([("Failed", "helmchart", "E45005", "confict")]),
            "reports-pre-upgrade": ks.healthcheck_report([("Passed", "service")])}
    bodies = {path_of("azureml", "configmaps", "arcml-healthcheck"): {"data": data}}
    read = running._healthcheck  # pylint: disable=protected-access
    sections, findings = read(bodies, health.Context(), ["reports-pre-upgrade"])
    seen = [(s["section"], s["current"]) for s in sections]
    assert seen == [("reports-pre-install", False), ("reports-pre-upgrade", True)]
    assert findings == []
    _, findings = read(bodies, health.Context(), None)
    assert [f["code"] for f in findings] == ["E45005"]
