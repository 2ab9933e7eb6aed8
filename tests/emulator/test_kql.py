"""The KQL evaluator behind the emulator's Resource Graph, on small tables (no server)."""

import pytest

from tests.emulator import kql

COLUMNS = ["id", "name", "type", "properties", "tags", "n"]
ROWS = [
    {"id": "/s/1/c/a", "name": "alpha", "type": "microsoft.x/clusters", "n": 3, "tags": {"env": "prod"},
     "properties": {"ExtensionType": "Microsoft.AzureML.Kubernetes", "ProvisioningState": "Succeeded",
                    "Settings": {"a.b": "1"}, "List": ["x", "y"], "Auto": True}},
    {"id": "/s/1/c/b", "name": "Beta", "type": "microsoft.x/clusters", "n": 1, "tags": None,
     "properties": {"ExtensionType": "microsoft.flux", "ProvisioningState": "Failed", "Auto": False}},
    {"id": "/s/2/c/c", "name": "gamma", "type": "microsoft.y/things", "n": None, "tags": {},
     "properties": {"extensionType": "Microsoft.AzureML.Kubernetes", "ProvisioningState": "Creating"}},
]
TABLES = {"resources": COLUMNS, "kubernetesconfigurationresources": COLUMNS}


def run(text):
    _, rows = kql.run(text, TABLES, lambda table: [dict(r) for r in ROWS])
    return rows


def names(text):
    return [r["name"] for r in run(text)]


def test_where_equality_is_case_sensitive_and_tilde_is_not():
    assert names("Resources | where name == 'beta'") == []
    assert names("resources | where name =~ 'beta'") == ["Beta"]
    assert names("resources | where name !~ 'BETA'") == ["alpha", "gamma"]
    assert names("resources | where name != 'alpha'") == ["Beta", "gamma"]
    assert names("resources | where properties.ExtensionType =~ 'microsoft.azureml.kubernetes'") == ["alpha"]
    # property names are case-sensitive: gamma spells extensionType in camelCase
    assert names("resources | where properties['extensionType'] == \"Microsoft.AzureML.Kubernetes\"") == ["gamma"]
    assert names('resources | where properties["Auto"] == true') == ["alpha"]
    assert names("resources | where tobool(properties.Auto) == false") == ["Beta"]


def test_string_operators_and_in():
    assert names("resources | where id startswith '/S/1/'") == ["alpha", "Beta"]
    assert names("resources | where id endswith '/C'") == ["gamma"]
    assert names("resources | where type has 'x' and name contains 'ET'") == ["Beta"]
    assert names("resources | where type has 'microsoft.y'") == ["gamma"]
    assert names("resources | where type !has 'things'") == ["alpha", "Beta"]
    assert names("resources | where name startswith_cs 'b'") == []
    assert names("resources | where name in ('alpha', 'beta')") == ["alpha"]
    assert names("resources | where name in~ ('ALPHA', 'beta')") == ["alpha", "Beta"]
    assert names("resources | where name !in ('alpha')") == ["Beta", "gamma"]
    assert names("resources | where name !in~ ('ALPHA')") == ["Beta", "gamma"]
    assert names("resources | where not(name == 'alpha') or n > 2") == ["alpha", "Beta", "gamma"]
    assert names("resources | where n >= 1 and n < 3") == ["Beta"]


def test_functions():
    rows = run("resources | where name == 'alpha' | project lower=tolower(name), upper=toupper(name), "
               "s=strcat(name, '-', n), parts=split(id, '/'), third=split(id, '/', 2), pick=iff(n > 2, 'big', 'small'),"
               " c=coalesce(properties.Missing, '', 'fallback'), e=isempty(properties.Missing), "
               "ne=isnotempty(tags.env), t=tostring(properties.List), i=toint('42'), dotted=properties.Settings['a.b'],"
               " first=properties.List[0], len=strlen(name), sub=substring(name, 1, 2), at=indexof(id, '/c/'),"
               " cluster=trim_end('/c/.*', id), ex=extract('/s/([0-9]+)/', 1, id)")
    assert rows == [{"lower": "alpha", "upper": "ALPHA", "s": "alpha-3", "parts": ["", "s", "1", "c", "a"],
                     "third": ["1"], "pick": "big", "c": "fallback", "e": True, "ne": True, "t": '["x","y"]', "i": 42,
                     "dotted": "1", "first": "x", "len": 5, "sub": "lp", "at": 4, "cluster": "/s/1", "ex": "1"}]
    assert run("resources | where name == 'Beta' | project x = isempty(tags), y = tostring(tags)") == \
        [{"x": True, "y": ""}]


def test_extend_project_away_order_take_and_naming():
    rows = run("resources | extend state = tostring(properties.ProvisioningState), big = n > 1 "
               "| project-away properties, tags | order by name asc | take 2")
    assert [r["name"] for r in rows] == ["Beta", "alpha"]        # ordinal string order
    assert list(rows[0]) == ["id", "name", "type", "n", "state", "big"]
    assert names("resources | order by n") == ["alpha", "Beta", "gamma"]          # desc by default, nulls last
    assert names("resources | sort by n asc") == ["gamma", "Beta", "alpha"]       # asc: nulls first
    assert names("resources | order by type asc, name desc") == ["alpha", "Beta", "gamma"]
    assert names("resources | limit 1") == ["alpha"]
    assert names("resources | top 1 by n asc") == ["gamma"]
    assert list(run("resources | project id, properties.ProvisioningState, tolower(name)")[0]) == \
        ["id", "properties_ProvisioningState", "name"]


def test_summarize_count_distinct():
    assert run("resources | summarize count() by type | order by type asc") == [
        {"type": "microsoft.x/clusters", "count_": 2}, {"type": "microsoft.y/things", "count_": 1}]
    assert run("resources | summarize total = count(), failed = countif(properties.ProvisioningState == 'Failed'), "
               "kinds = dcount(type), most = max(n), least = min(n), all = sum(n)") == [
        {"total": 3, "failed": 1, "kinds": 2, "most": 3, "least": 1, "all": 4}]
    assert run("resources | summarize n = count() by state = tostring(properties.ProvisioningState), type "
               "| where n > 0 | order by state asc")[0] == {"state": "Creating", "type": "microsoft.y/things", "n": 1}
    assert run("resources | where name == 'none' | summarize count()") == [{"count_": 0}]
    assert run("resources | count") == [{"Count": 3}]
    assert run("resources | distinct type | order by type asc") == [
        {"type": "microsoft.x/clusters"}, {"type": "microsoft.y/things"}]


def test_query_records_whether_it_limits_itself_and_its_columns():
    query = kql.parse("resources | project id, name | take 2", TABLES)
    assert query.limited and query.columns == ["id", "name"] and query.table == "resources"
    assert not kql.parse("KubernetesConfigurationResources | where name == 'x'", TABLES).limited


@pytest.mark.parametrize("text, code", [
    ("resources | where", "ParserFailure"),
    ("resources | where name == 'x", "ParserFailure"),
    ("resources | where name = 'x'", "ParserFailure"),
    ("resources | where nope == 1", "SemanticError"),
    ("resources | where Name == 'x'", "SemanticError"),            # column names are case-sensitive
    ("resources | where nosuchfn(name)", "SemanticError"),
    ("resources | mv-expand properties", "UnsupportedOperator"),
    ("resources | join (resources) on id", "UnsupportedOperator"),
    ("kubernetesconfigurationresources | join kind=inner (resources) on id", "UnsupportedJoinTable"),
    ("securityresources | take 1", "DisallowedLogicalTableName"),
    ("resources | project name | where id == 'x'", "SemanticError"),
    ("resources | project-away nope", "SemanticError"),
    ("resources | take x", "ParserFailure"),
    ("resources | summarize make_list(name)", "SemanticError"),
    ("", "ParserFailure"),
])
def test_invalid_queries(text, code):
    with pytest.raises(kql.KqlError) as raised:
        run(text)
    assert raised.value.code == code
