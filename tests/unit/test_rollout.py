"""The pure parts of a staged rollout (azext_amlk8s/act/rollout.py): stages, allowed failures, the resume command."""

import pytest
from hypothesis import given, strategies as st

from azext_amlk8s.act import rollout


@pytest.mark.parametrize("text, total, counts", [
    ("1,10%,100%", 100, [1, 10, 100]),
    ("1,10%,100%", 3, [1, 3]),            # 10% of 3 rounds up to 1, the stage before's count: left out
    ("50%,60%,100%", 2, [1, 2]),
    ("1,10%,100%", 1, [1]),
    ("5,50", 20, [5, 20]),                # counts beyond the targets stop at them
    ("25%,50%,75%,100%", 7, [2, 4, 6, 7]),
    ("1", 10, [1]),                       # a canary only: the rest is in no stage
])
def test_stages_are_cumulative_counts(text, total, counts):
    assert rollout.parse_stages(text, total) == counts


@pytest.mark.parametrize("text", ["", "0", "-1", "abc", "150%", "0%", "10,5", "1,1"])
def test_bad_stages_are_refused(text):
    from azure.cli.core.azclierror import InvalidArgumentValueError
    with pytest.raises(InvalidArgumentValueError):
        rollout.parse_stages(text, 100)


@given(st.lists(st.integers(min_value=1, max_value=100), min_size=1, max_size=6), st.integers(1, 500))
def test_stages_grow_and_never_pass_the_targets(shares, total):
    text = ",".join(f"{s}%" for s in sorted(set(shares)))
    counts = rollout.parse_stages(text, total)      # shares that add no cluster are left out, never refused
    assert counts == sorted(set(counts)) and counts[-1] <= total and counts[0] >= 1
    groups = rollout.plan(list(range(total)), counts)
    assert sum(len(g) for g in groups) == counts[-1] and all(groups)


@pytest.mark.parametrize("text, size, allowed", [(None, 10, 0), ("0", 10, 0), ("2", 10, 2), ("50%", 3, 1),
                                                 ("5%", 10, 0), ("100%", 4, 4)])
def test_allowed_failures(text, size, allowed):
    assert rollout.allowed_failures(text, size) == allowed


def test_the_resume_command_never_shows_a_protected_value():
    argv = ["amlk8s", "deploy", "--where", "tags.env == 'prod'", "--stages", "1,10%,100%", "--config-protected",
            "sslKeyPemFile=./key.pem", "relayserver.relayConnectionString=Endpoint=sb://x/;SharedAccessKey=c2Vj",
            "--enable-training", "true", "--config-protected=token=abc"]
    shown = rollout.resume_command(argv)
    assert "c2Vj" not in shown and "./key.pem" not in shown and "abc" not in shown
    assert shown.startswith("az amlk8s deploy --where ") and "tags.env == " in shown and "--stages 1,10%,100%" in shown
    assert "sslKeyPemFile=<as given>" in shown and "--enable-training true" in shown
