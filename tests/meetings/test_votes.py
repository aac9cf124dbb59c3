"""Votes of branch general meetings: quorum and majority (细则 第二十条、第二十一条) and their record."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from dangjian.meetings import rules, services
from dangjian.meetings.models import Vote

# (why, expected, present, full expected, yes, written yes, quorum, passed)
TABLE = [
    ("present exactly half: no quorum", 20, 10, 20, 10, 0, False, False),
    ("present one more than half", 20, 11, 20, 11, 0, True, True),
    ("yes exactly half of the full members expected", 20, 15, 20, 10, 0, True, False),
    ("yes more than half of those present but not of those expected", 20, 15, 20, 9, 0, True, False),
    ("written yes opinions of absent full members count", 20, 15, 20, 9, 2, True, True),
    ("odd numbers: 5 of 9 present is a quorum", 9, 5, 9, 5, 0, True, True),
    ("odd numbers: 4 of 9 present is not", 9, 4, 9, 4, 0, False, False),
]


@pytest.mark.parametrize(
    ("why", "expected", "present", "full", "yes", "written", "quorum", "passed"),
    TABLE,
    ids=[t[0] for t in TABLE],
)
def test_quorum_and_majority(why, expected, present, full, yes, written, quorum, passed):
    counts = rules.VoteCounts(
        expected_voting=expected,
        present_voting=present,
        full_members_expected=full,
        yes=yes,
        no=0,
        abstain=0,
        written_yes=written,
    )
    result = rules.vote_result(counts)
    assert (result.quorum_met, result.passed) == (quorum, passed), why


def test_least_more_than_half():
    assert [rules.least_more_than(n, 0.5) for n in (1, 2, 9, 10, 19, 20)] == [1, 2, 5, 6, 10, 11]


def test_one_candidate_per_vote():
    counts = rules.VoteCounts(20, 15, 20, 14, 1, 0, candidates=2)
    assert [p.code for p in rules.vote_result(counts).problems] == ["one_candidate"]


def _record(actor, org, **over):
    values = {
        "expected_voting": 20,
        "present_voting": 15,
        "full_members_expected": 20,
        "yes": 12,
        "no": 2,
        "abstain": 1,
    }
    values.update(over)
    return services.vote_record(
        actor=actor,
        org=org,
        subject=None,
        kind="admission",
        date=dt.date(2025, 6, 1),
        rule_ref="test@1",
        **values,
    )


def test_vote_record_computes_passed_and_audits(tree, secretary_a):
    vote = _record(secretary_a, tree.branch_a)
    assert vote.passed and vote.quorum_met and vote.rule_ref == "test@1"
    assert not _record(secretary_a, tree.branch_a, yes=10, no=4).passed


def test_vote_record_refuses_inconsistent_counts_and_no_quorum(tree, secretary_a):
    with pytest.raises(ValidationError):
        _record(secretary_a, tree.branch_a, yes=14, no=2)  # 17 ballots, 15 present
    with pytest.raises(ValidationError):
        _record(secretary_a, tree.branch_a, present_voting=10, yes=9, no=1, abstain=0)
    assert Vote.objects.count() == 0


def test_vote_record_is_scoped(tree, secretary_b):
    with pytest.raises(PermissionDenied):
        _record(secretary_b, tree.branch_a)
