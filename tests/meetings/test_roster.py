"""Who is expected at a meeting (meetings.roster), kind by kind (RULES.md §3 and §4).

- General meeting and the other branch kinds: the branch's full and probationary members on the register
  on the date; only full members with their rights vote (党章 第七条, 第三十九条); flowing members hosted
  by the branch attend without a vote (RULES.md §4); a member flowing out keeps their place and vote.
- Committee meeting: the current committee term's positions, each with a vote (支部工作条例 第十四条).
- Group meeting: the group's members.
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import ValidationError

from dangjian.meetings import roster
from dangjian.members.models import DisciplineKind, MemberDiscipline
from dangjian.orgs.models import CommitteePosition, CommitteeTerm, Organization, OrgType
from dangjian.transfers.models import FlowCertificate

ON = dt.date(2026, 3, 10)


def _flow(member, *, home, host=None, start=dt.date(2025, 9, 1), end=None, status="active", n=[0]):  # noqa: B006
    n[0] += 1
    return FlowCertificate.objects.create(
        member=member,
        home_org=home,
        home_org_path=home.path,
        host_org=host,
        host_org_path=host.path if host else "",
        outside_host_name="" if host else "深圳某党支部",
        number=f"LD-T-{n[0]}",
        start=start,
        end=end,
        status=status,
    )


@pytest.fixture
def register(tree, member_factory):
    """Branch A's register on ON, one person per case, plus members of branch B flowing into A."""
    a, b = tree.branch_a, tree.branch_b
    m = {
        "full": member_factory(a, name="正式"),
        "probationary": member_factory(a, name="预备", status="probationary", join_date=dt.date(2025, 7, 1), full_date=None),
        "suspended": member_factory(a, name="停止党籍", status="suspended"),
        "left": member_factory(a, name="出党", status="left"),
        "deceased": member_factory(a, name="去世", status="deceased"),
        "historical": member_factory(a, name="历史", status="historical"),
        "joins_later": member_factory(a, name="后入党", status="probationary", join_date=dt.date(2026, 6, 1), full_date=None),
        "full_later": member_factory(a, name="后转正", join_date=dt.date(2025, 4, 1), full_date=dt.date(2026, 4, 1)),
        "on_probation": member_factory(a, name="留党察看"),
        "restored": member_factory(a, name="已恢复权利"),
        "flowing_out": member_factory(a, name="外出流动"),
        "guest": member_factory(b, name="流入"),
        "guest_probationary": member_factory(b, name="流入预备", status="probationary", full_date=None),
        "guest_ended": member_factory(b, name="流入已结束"),
        "guest_future": member_factory(b, name="流入未开始"),
        "guest_elsewhere": member_factory(b, name="流入他处"),
        "other_branch": member_factory(b, name="其他支部"),
    }  # fmt: skip
    MemberDiscipline.objects.create(
        member=m["on_probation"], kind=DisciplineKind.PROBATION_WITHIN_PARTY, decided_on=dt.date(2025, 6, 1),
        until=dt.date(2026, 6, 1), decided_by=tree.district_a, reason="违纪",
    )  # fmt: skip
    MemberDiscipline.objects.create(
        member=m["restored"], kind=DisciplineKind.PROBATION_WITHIN_PARTY, decided_on=dt.date(2024, 6, 1),
        until=dt.date(2025, 6, 1), rights_restored_on=dt.date(2025, 6, 1), decided_by=tree.district_a, reason="违纪",
    )  # fmt: skip
    _flow(m["flowing_out"], home=a)
    _flow(m["guest"], home=b, host=a)
    _flow(m["guest_probationary"], home=b, host=a)
    _flow(m["guest_ended"], home=b, host=a, status="ended", end=dt.date(2026, 1, 1))
    _flow(m["guest_future"], home=b, host=a, start=dt.date(2026, 5, 1))
    _flow(m["guest_elsewhere"], home=b, host=tree.district_b)
    return m


def _by_name(entries):
    return {e.member.name: (e.role, e.can_vote) for e in entries}


# (case, expected at a branch meeting?, role, vote, why)
BRANCH_TABLE = [
    ("full", True, "roster", True, "full member: 党章 第七条"),
    ("probationary", True, "roster", False, "probationary members attend without a vote (党章 第七条)"),
    ("suspended", False, None, None, "停止党籍: not a current member"),
    ("left", False, None, None, "出党"),
    ("deceased", False, None, None, "去世"),
    ("historical", False, None, None, "historical record only"),
    ("joins_later", False, None, None, "not on the register yet on the date"),
    ("full_later", True, "roster", False, "full only from 2026-04-01: no vote on 2026-03-10"),
    ("on_probation", True, "roster", False, "留党察看 without restored rights: no vote (党章 第三十九条)"),
    ("restored", True, "roster", True, "rights restored: votes again"),
    ("flowing_out", True, "roster", True, "flowing out: stays on the home roster with the vote"),
    ("guest", True, "guest", False, "流动党员 hosted here: attends, no vote (RULES.md §4)"),
    ("guest_probationary", True, "guest", False, "hosted probationary member"),
    ("guest_ended", False, None, None, "certificate ended"),
    ("guest_future", False, None, None, "certificate not started yet on the date"),
    ("guest_elsewhere", False, None, None, "hosted by another organisation"),
    ("other_branch", False, None, None, "another branch's member"),
]


@pytest.mark.parametrize(
    ("case", "expected", "role", "vote", "why"), BRANCH_TABLE, ids=[r[0] for r in BRANCH_TABLE]
)
def test_general_meeting_roster(tree, register, case, expected, role, vote, why):
    got = _by_name(roster.expected_attendees(tree.branch_a, "general_meeting", ON))
    name = register[case].name
    if expected:
        assert got.get(name) == (role, vote), why
    else:
        assert name not in got, why


@pytest.mark.parametrize(
    "kind", ["theme_day", "party_lecture", "life_meeting", "democratic_appraisal", "other"]
)
def test_other_branch_kinds_expect_the_same_people(tree, register, kind):
    general = roster.expected_attendees(tree.branch_a, "general_meeting", ON)
    assert _by_name(roster.expected_attendees(tree.branch_a, kind, ON)) == _by_name(general)


def test_branch_roster_votes_match_the_register(tree, register):
    """can_vote is exactly members.selectors.voting_members (the vote rules read both)."""
    from dangjian.members.selectors import voting_members

    entries = roster.expected_attendees(tree.branch_a, "general_meeting", ON)
    assert {e.member.pk for e in entries if e.can_vote} == set(
        voting_members(tree.branch_a, ON).values_list("pk", flat=True)
    )
    # Guests come after the branch's own members, and nobody appears twice.
    roles = [e.role for e in entries]
    assert roles == sorted(roles, key=lambda r: r == "guest")
    assert len({e.member.pk for e in entries}) == len(entries)


def _term(org, *, positions, start=dt.date(2024, 1, 1), end_date=None):
    term = CommitteeTerm.objects.create(org=org, start_date=start, term_years=3, end_date=end_date)
    for title, member, pos_start, pos_end in positions:
        CommitteePosition.objects.create(
            term=term, title=title, member=member, start_date=pos_start, end_date=pos_end
        )
    return term


def test_committee_meeting_is_the_current_committee(tree, member_factory):
    a = tree.branch_a
    sec, org_c, both, gone, future, ordinary = (
        member_factory(a, name=n) for n in ("书记", "组织委员", "兼职", "已离任", "新任", "普通党员")
    )
    old = member_factory(a, name="上届委员")
    _term(
        a,
        positions=[("secretary", old, None, None)],
        start=dt.date(2020, 1, 1),
        end_date=dt.date(2023, 12, 31),
    )
    _term(
        a,
        positions=[
            ("secretary", sec, None, None),
            ("organization", org_c, dt.date(2024, 1, 1), None),
            ("publicity", both, None, dt.date(2026, 12, 31)),
            ("youth", both, None, None),  # two positions, one person
            ("discipline", gone, None, dt.date(2026, 3, 1)),  # ended before the date
            ("women", future, dt.date(2026, 4, 1), None),  # starts after the date
        ],
    )
    got = _by_name(roster.expected_attendees(a, "committee_meeting", ON))
    assert got == {"书记": ("roster", True), "组织委员": ("roster", True), "兼职": ("roster", True)}
    assert ordinary.name not in got


def test_committee_meeting_refused_without_a_committee(tree, member_factory):
    """A branch with fewer than 7 full members has no committee (支部工作条例; RULES.md §3)."""
    for _ in range(3):
        member_factory(tree.branch_a)
    with pytest.raises(ValidationError) as exc:
        roster.expected_attendees(tree.branch_a, "committee_meeting", ON)
    assert "kind" in exc.value.message_dict
    assert "7" in exc.value.message_dict["kind"][0]


def test_group_meeting_is_the_group(tree, member_factory):
    a, group = tree.branch_a, tree.group_a
    in_group = member_factory(a, name="组员", group=group)
    probationary = member_factory(a, name="预备组员", group=group, status="probationary", full_date=None)
    member_factory(a, name="停止党籍组员", group=group, status="suspended")
    member_factory(a, name="不在小组")
    got = _by_name(roster.expected_attendees(group, "group_meeting", ON))
    assert got == {in_group.name: ("roster", True), probationary.name: ("roster", False)}


# (org, kind, allowed)
KIND_TABLE = [
    ("branch_a", "general_meeting", True),
    ("branch_a", "group_meeting", False),
    ("group_a", "group_meeting", True),
    ("group_a", "general_meeting", False),
    ("group_a", "party_lecture", False),
    ("district_a", "party_lecture", True),  # 党委书记讲党课
    ("district_a", "other", True),
    ("district_a", "general_meeting", False),
    ("district_a", "committee_meeting", False),
    ("district_a", "theme_day", False),
]


@pytest.mark.parametrize(("org", "kind", "allowed"), KIND_TABLE, ids=[f"{o}-{k}" for o, k, _a in KIND_TABLE])
def test_which_org_holds_which_kind(tree, org, kind, allowed):
    organisation = getattr(tree, org)
    if allowed:
        roster.check_kind(organisation, kind)
    else:
        with pytest.raises(ValidationError) as exc:
            roster.check_kind(organisation, kind)
        assert exc.value.message_dict["kind"]


def test_general_branch_and_joint_branch_hold_branch_meetings(tree, member_factory):
    general = Organization.objects.add_child(
        Organization.objects.get(pk=tree.district_a.pk),
        {"org_type": OrgType.GENERAL_BRANCH, "code": "T0100", "name": "机关总支"},
    )
    joint = Organization.objects.add_child(
        Organization.objects.get(pk=tree.district_a.pk),
        {"org_type": OrgType.JOINT_BRANCH, "code": "T0101", "name": "联合支部"},
    )
    g, j = member_factory(general, name="总支党员"), member_factory(joint, name="联合支部党员")
    assert _by_name(roster.expected_attendees(general, "general_meeting", ON)) == {g.name: ("roster", True)}
    assert _by_name(roster.expected_attendees(joint, "theme_day", ON)) == {j.name: ("roster", True)}


def test_committee_party_lecture_expects_its_committee(tree, member_factory):
    secretary = member_factory(tree.branch_a, name="区委书记")
    _term(tree.district_a, positions=[("secretary", secretary, None, None)])
    got = _by_name(roster.expected_attendees(tree.district_a, "party_lecture", ON))
    assert got == {"区委书记": ("roster", True)}
    # Without a term on record the list starts empty (the secretary adds people).
    assert roster.expected_attendees(tree.district_b, "party_lecture", ON) == []
