"""Who has a vote at a branch general meeting (members.selectors.voting_members), one row per rule.

The same count prefills every vote (recruitment's general meetings today, any meeting later), so the
quorum (细则 第二十条) and the majority (细则 第二十一条: more than half of the full members who should
attend) are counted over the right people.
"""

from __future__ import annotations

import datetime as dt

import pytest

from dangjian.members import selectors
from dangjian.members.choices import MemberStatus
from dangjian.members.models import DisciplineKind, MemberDiscipline
from dangjian.transfers.models import FlowCertificate
from tests.recruitment.helpers import open_case

D = dt.date
ON = D(2025, 6, 1)
DECIDED = D(2025, 1, 10)


def _probation(member, org, *, decided=DECIDED, restored=None):
    return MemberDiscipline.objects.create(
        member=member, kind=DisciplineKind.PROBATION_WITHIN_PARTY, decided_on=decided,
        until=decided.replace(year=decided.year + 1), rights_restored_on=restored, decided_by=org, reason="x",
    )  # fmt: skip


def _hosted_here(member, host):
    """A flowing member of another branch with a 活动证 naming ``host`` as the host organisation."""
    FlowCertificate.objects.create(
        member=member, home_org=member.org, home_org_path=member.org.path, host_org=host,
        host_org_path=host.path, number=f"LD-T{member.pk}", start=D(2025, 1, 1),
    )  # fmt: skip


def _away(member):
    """A member flowing out (a 活动证 to a host outside the platform): the status stays full or
    probationary — being away is told by the certificate, not by the status."""
    FlowCertificate.objects.create(
        member=member, home_org=member.org, home_org_path=member.org.path, outside_host_name="外地某党支部",
        number=f"LD-A{member.pk}", start=D(2025, 1, 1),
    )  # fmt: skip


ROWS = [
    # (why, where, fields, setup, votes)
    ("a full member of the branch votes (党章 第四条)", "a", {}, None, True),
    (
        "a probationary member has no vote (党章 第七条)",
        "a",
        {"status": MemberStatus.PROBATIONARY, "full_date": None},
        None,
        False,
    ),
    (
        "a full member flowing out keeps the vote at home (RULES.md §4)",
        "a",
        {},
        "away",
        True,
    ),
    (
        "a probationary member flowing out has no vote either (党章 第七条)",
        "a",
        {"status": MemberStatus.PROBATIONARY, "full_date": None},
        "away",
        False,
    ),
    (
        "a flowing member hosted here from another branch has no vote here (RULES.md §4)",
        "b",
        {},
        "hosted",
        False,
    ),
    ("under 留党察看 there is no vote (党章 第三十九条)", "a", {}, "probation", False),
    ("留党察看 decided after the meeting does not count yet", "a", {}, "probation_later", True),
    ("rights restored by a decision give the vote back (党章 第三十九条)", "a", {}, "restored", True),
    (
        "a member who became full after the meeting's date has no vote on it",
        "a",
        {"full_date": D(2025, 6, 2)},
        None,
        False,
    ),
    (
        "a suspended member has no vote (条例 第三十四条)",
        "a",
        {"status": MemberStatus.SUSPENDED},
        None,
        False,
    ),
    ("a member of another branch is not counted", "b", {}, None, False),
]


@pytest.mark.parametrize(("why", "where", "fields", "setup", "votes"), ROWS, ids=[r[0] for r in ROWS])
def test_voting_members(tree, member_factory, why, where, fields, setup, votes):
    member = member_factory(tree.branch_a if where == "a" else tree.branch_b, **fields)
    if setup == "hosted":
        _hosted_here(member, tree.branch_a)
    elif setup == "away":
        _away(member)
    elif setup == "probation":
        _probation(member, tree.branch_a)
    elif setup == "probation_later":
        _probation(member, tree.branch_a, decided=D(2025, 6, 2))
    elif setup == "restored":
        _probation(member, tree.branch_a, restored=D(2025, 5, 31))
    assert selectors.voting_members(tree.branch_a, ON).filter(pk=member.pk).exists() is votes, why


def test_vote_prefill_of_recruitment_uses_the_one_selector(tree, secretary_a, member_factory):
    """The recruitment vote form starts from the register: expected voting = full members who should
    attend = full members of the branch with their rights (细则 第二十条、第二十一条)."""
    from dangjian.recruitment.selectors import vote_defaults

    member_factory(tree.branch_a)
    member_factory(tree.branch_a)
    _probation(member_factory(tree.branch_a), tree.branch_a)
    member_factory(tree.branch_a, status=MemberStatus.PROBATIONARY, full_date=None)
    _hosted_here(member_factory(tree.branch_b), tree.branch_a)
    case = open_case(secretary_a, tree.branch_a)
    assert vote_defaults(case, ON) == {"expected_voting": 2, "full_members_expected": 2}
    assert selectors.vote_counts_expected(tree.branch_a, ON) == vote_defaults(case, ON)
