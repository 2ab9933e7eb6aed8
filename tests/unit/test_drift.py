"""list --drift's rules (azext_amlk8s/rules/drift.py): the majority, given values, ties said and not guessed."""

from azext_amlk8s.rules import drift


def _row(name, version="1.1.88", train="stable", auto=True, **settings):
    return {"clusterId": f"/subscriptions/s/resourceGroups/g/providers/Microsoft.ContainerService/managedClusters/"
                         f"{name}", "name": "azureml", "version": version, "releaseTrain": train,
            "autoUpgradeMinorVersion": auto, "configurationSettings": settings}


def test_the_majority_is_the_expectation_and_only_the_odd_ones_drift():
    rows = [_row("a"), _row("b"), _row("c", version="1.1.80"), _row("d", auto=False)]
    found, notes = drift.find(rows, drift.parse(None))
    assert [(r["clusterId"][-1], [(d["field"], d["value"], d["expected"]) for d in r["drift"]]) for r in found] == [
        ("c", [("version", "1.1.80", "1.1.88")]), ("d", [("autoUpgradeMinorVersion", "false", "true")])]
    assert notes == [] and all("configurationSettings" not in r for r in found)


def test_a_given_value_and_a_setting_with_booleans_in_any_case():
    rows = [_row("a", enableInference="True"), _row("b", enableInference="true"), _row("c", enableInference="False")]
    found, _ = drift.find(rows, drift.parse(["version=1.1.88", "enableInference"]))
    assert [r["clusterId"][-1] for r in found] == ["c"]
    assert found[0]["drift"] == [{"field": "enableInference", "value": "false", "expected": "true",
                                  "basis": "majority"}]
    found, _ = drift.find(rows, drift.parse(["version=1.1.90"]))
    assert len(found) == 3 and {d["basis"] for r in found for d in r["drift"]} == {"given"}


def test_a_tie_is_said_not_guessed():
    found, notes = drift.find([_row("a", version="1"), _row("b", version="2")], drift.parse(["--release-train"]))
    assert found == [] and notes and notes[0].startswith("version: no majority")
