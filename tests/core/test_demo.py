"""The demo city 示范市: structure, national proportions (党内统计公报), accounts, and idempotence."""

from __future__ import annotations

import datetime as dt
from collections import Counter

import pytest

from dangjian.accounts.models import RoleAssignment, User
from dangjian.core.scoping import Role
from dangjian.members.choices import HAN, HIGHER_EDUCATION
from dangjian.members.idnumbers import parse_id_number
from dangjian.members.models import Member, MemberStatusChange
from dangjian.orgs.demo import DEFAULT_PASSWORD, load_demo, member_checksum
from dangjian.orgs.models import BRANCH_TYPES, CommitteePosition, CommitteeTerm, Organization, OrgEvent
from dangjian.orgs.selectors import org_flags, secretary_of

pytestmark = pytest.mark.django_db


def _district(org: Organization) -> Organization:
    return Organization.objects.get(path=org.path[: 2 * Organization.steplen])


def _years(start: dt.date, end: dt.date) -> int:
    return end.year - start.year - ((end.month, end.day) < (start.month, start.day))


def _counts() -> dict[str, int]:
    models = (Organization, Member, MemberStatusChange, CommitteeTerm, CommitteePosition, OrgEvent, User)
    return {m.__name__: m.objects.count() for m in (*models, RoleAssignment)}


def test_demo_city_has_the_shape_and_proportions_of_a_real_one():
    result = load_demo()
    root = result.root
    assert result.created and root.short_name == "示范市委" and root.depth == 1
    districts = [o.name for o in Organization.objects.get_children(root) if o.name.endswith("区委")]
    assert districts == ["东城区委", "西城区委", "南湖区委"]
    orgs = Organization.objects.filter(path__startswith=root.path)
    types = Counter(orgs.values_list("org_type", flat=True))
    expected_types = {"committee", "working_committee", "general_branch", "branch", "joint_branch", "group"}
    assert expected_types <= set(types)
    branches = orgs.filter(org_type__in=BRANCH_TYPES, status="active")
    assert branches.count() >= 40
    assert len(set(branches.values_list("sector", flat=True))) >= 7
    assert orgs.filter(name="第一党支部").count() == 1

    members = list(Member.objects.filter(org_path__startswith=root.path))
    n = len(members)
    assert 1900 <= n <= 2100
    share = lambda pred: sum(1 for m in members if pred(m)) / n  # noqa: E731
    # 党内统计公报 (end of 2024): 30.9% women, 7.7% minorities, 57.6% junior college or above.
    assert 0.28 <= share(lambda m: m.gender == "female") <= 0.34
    assert 0.05 <= share(lambda m: m.ethnicity != HAN) <= 0.10
    assert len({m.ethnicity for m in members}) >= 8
    assert 0.53 <= share(lambda m: m.education in HIGHER_EDUCATION) <= 0.63
    assert 0.02 <= share(lambda m: m.status == "probationary") <= 0.045

    today = dt.date.today()
    ids = set()
    for m in members:
        info = parse_id_number(m.decrypted_id_number())  # valid GB 11643 check digit
        assert (info.birth_date, info.gender) == (m.birth_date, m.gender)
        assert info.number[:4] == "3612"  # the fictional city's region codes
        ids.add(info.number)
        assert 18 <= m.age() <= 90
        assert _years(m.birth_date, m.join_date) >= 18  # 细则 §9
        if m.status == "probationary":
            assert m.full_date is None and (today - m.join_date).days <= 366
        else:  # a year of probation
            assert 365 <= (m.full_date - m.join_date).days <= 366
        assert {"retired": "retiree", "student": "student", "farmer": "farmer"}.get(
            m.occupation, m.dues_category
        ) == m.dues_category
        assert len(m.decrypted_phone()) == 11
    assert len(ids) == n
    school_students = [m for m in members if m.occupation == "student"]
    assert school_students and all(m.org.sector == "school" for m in school_students)
    retired = [m for m in members if m.occupation == "retired"]
    assert retired and all(m.org.sector == "community" for m in retired)

    # Committees, structure flags and history, so the org pages have something to show.
    flags = Counter(f.code for b in branches for f in org_flags(b))
    assert flags["branch_too_large"] >= 1 and flags["committee_missing"] >= 1 and flags["term_ending"] >= 1
    for branch in branches:
        full = branch.members.filter(status="full").count()
        term = CommitteeTerm.objects.filter(org=branch, end_date__isnull=True).first()
        assert term is not None and secretary_of(branch) is not None
        if full >= 7 and "committee_missing" not in {f.code for f in org_flags(branch)}:
            assert 3 <= term.positions.count() <= 5
    kinds = set(OrgEvent.objects.filter(org__path__startswith=root.path).values_list("kind", flat=True))
    assert {"found", "rename", "move", "upgrade", "dissolve"} <= kinds

    # Flowing members (流动党员) are full members away with an active flow certificate, the one record
    # of it: the statistics count the certificates, and none is old enough to call for a transfer yet.
    from dangjian.orgs.selectors import org_stats
    from dangjian.transfers import rules as transfer_rules
    from dangjian.transfers.models import FlowCertificate

    away = list(FlowCertificate.objects.filter(status="active").select_related("member"))
    assert 5 <= len(away) <= 0.03 * n
    assert all(c.member.status == "full" and c.home_org_id == c.member.org_id for c in away)
    assert org_stats(root)["flowing"] == len(away)
    rule = transfer_rules.rule_for(today)
    assert all(transfer_rules.fixed_place_due(c.start, rule) > today for c in away)


def test_demo_accounts_hold_the_right_roles():
    root = load_demo().root
    branch1 = Organization.objects.get(name="第一党支部")

    def roles(username: str) -> set[tuple[str, int]]:
        return set(RoleAssignment.objects.filter(user__username=username).values_list("role", "org_id"))

    admin = User.objects.get(username="admin")
    assert roles("admin") == {(Role.ADMIN, root.pk)} and admin.is_superuser and admin.is_staff
    assert roles("zuzhibu") == {(Role.ORG_MANAGER, root.pk)}
    assert roles("shuji1") == {(Role.SECRETARY, branch1.pk)}
    assert secretary_of(branch1).user.username == "shuji1"
    (_role, branch2_id), *_ = roles("shuji2")
    branch2 = Organization.objects.get(pk=branch2_id)
    assert roles("shuji2") == {(Role.SECRETARY, branch2.pk)} and branch2.org_type == "branch"
    assert secretary_of(branch2).user.username == "shuji2"
    assert _district(branch2) != _district(branch1)
    assert roles("dangyuan1") == {(Role.MEMBER, branch1.pk)}
    assert Member.objects.get(user__username="dangyuan1").org == branch1
    (_role, community_id), *_ = roles("qunzhong1")
    community = Organization.objects.get(pk=community_id)
    assert roles("qunzhong1") == {(Role.RESIDENT, community.pk)}
    assert (community.org_type, community.sector) == ("committee", "community")
    for username in ("admin", "zuzhibu", "shuji1", "shuji2", "dangyuan1", "qunzhong1"):
        assert User.objects.get(username=username).check_password(DEFAULT_PASSWORD)


def test_loading_the_demo_twice_changes_nothing():
    first = load_demo()
    before, digest = _counts(), member_checksum(first.root)
    admin = User.objects.get(username="admin")
    admin.set_password("Changed@2026x")
    admin.save()

    second = load_demo()
    assert not second.created
    assert _counts() == before and member_checksum(second.root) == digest
    assert User.objects.get(username="admin").check_password("Changed@2026x")  # kept without --password

    load_demo(password="Another@2026x")  # an explicit password is set on all six accounts, nothing else
    assert _counts() == before and member_checksum(second.root) == digest
    demo_users = User.objects.filter(
        username__in=["admin", "zuzhibu", "shuji1", "shuji2", "dangyuan1", "qunzhong1"]
    )
    assert len(demo_users) == 6 and all(u.check_password("Another@2026x") for u in demo_users)


def test_the_whole_demo_is_idempotent_and_fills_the_worklists(settings, tmp_path):
    """``dangjian demo`` (dangjian.demo_all): the city, the recruitment cases, then one alert refresh."""
    settings.MEDIA_ROOT = str(tmp_path)  # the meetings demo uploads a transcript file
    from dangjian.core.models import Alert, AuditEntry
    from dangjian.demo_all import load_all
    from dangjian.meetings.models import Vote
    from dangjian.recruitment.models import CaseStep, Introducer, RecruitmentCase

    def counts() -> dict[str, int]:
        rows = (RecruitmentCase, CaseStep, Introducer, Vote, Alert, AuditEntry)
        return {**_counts(), **{m.__name__: m.objects.count() for m in rows}}

    first = load_all()
    assert first.apps["recruitment"] >= 20
    stages = set(RecruitmentCase.objects.values_list("stage", flat=True))
    assert stages == {1, 2, 3, 4, 5}  # the funnel and every worklist have cases
    assert {"admitted", "full"} <= set(RecruitmentCase.objects.values_list("status", flat=True))
    kinds = set(Alert.objects.filter(status="open").values_list("kind", flat=True))
    assert {"recruitment.talk_overdue", "recruitment.approval_overdue", "recruitment.assessment_due"} <= kinds
    before, digest = counts(), member_checksum(first.city.root)

    second = load_all()
    assert not second.city.created and second.apps["recruitment"] == 0 and second.alerts_created == 0
    assert counts() == before and member_checksum(second.city.root) == digest
