"""Organisation structure rules (支部工作条例): a table of (situation → flags, article) rows."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import translation

from dangjian.orgs.models import OrgType, Sector
from dangjian.orgs.rules import rule_label, structure_flags, term_years

B, J, GB, C = OrgType.BRANCH, OrgType.JOINT_BRANCH, OrgType.GENERAL_BRANCH, OrgType.COMMITTEE

FLAG_TABLE = [
    # (org type, members, full members, has committee, committee size) → flag codes, article
    ((B, 50, 50, True, 5), set(), "支部工作条例 第五条: up to 50 members is fine"),
    ((B, 51, 51, True, 5), {"branch_too_large"}, "支部工作条例 第五条: a branch over 50 members"),
    ((J, 60, 60, True, 5), {"branch_too_large"}, "支部工作条例 第五条: joint branches too"),
    ((B, 7, 7, False, 0), {"committee_missing"}, "支部工作条例 第十条: 7 full members, no committee"),
    ((B, 9, 6, False, 0), set(), "支部工作条例 第十条: 6 full members need no committee"),
    ((B, 7, 7, True, 3), set(), "支部工作条例 第十条: a committee of 3 is fine"),
    ((B, 2, 2, False, 0), {"branch_too_small"}, "支部工作条例 第五条: fewer than 3 full members"),
    ((B, 5, 2, False, 0), {"branch_too_small"}, "支部工作条例 第五条: probationary ones do not count"),
    ((B, 3, 3, False, 0), set(), "支部工作条例 第五条: 3 full members is enough"),
    ((J, 2, 2, False, 0), set(), "支部工作条例 第五条: a joint branch may be small"),
    ((B, 12, 12, True, 9), {"committee_size"}, "支部工作条例 第十条: a committee of 9 is too big"),
    ((B, 12, 12, True, 2), {"committee_size"}, "支部工作条例 第十条: a committee of 2 is too small"),
    ((B, 12, 12, True, 7), set(), "支部工作条例 第十条: up to 7 is tolerated"),
    ((GB, 49, 49, True, 5), {"general_branch_small"}, "支部工作条例: a general branch below 50"),
    ((GB, 50, 50, True, 5), set(), "支部工作条例: a general branch of 50"),
    ((C, 99, 99, True, 7), {"committee_small"}, "支部工作条例: a committee below 100"),
    ((C, 100, 100, True, 7), set(), "支部工作条例: a committee of 100"),
    (
        (OrgType.WORKING_COMMITTEE, 10, 10, True, 5),
        set(),
        "支部工作条例: no size rule for working committees",
    ),
    ((OrgType.GROUP, 1, 1, False, 0), set(), "支部工作条例: no size rule for party groups"),
]


@pytest.mark.parametrize(("situation", "codes", "article"), FLAG_TABLE, ids=[r[2] for r in FLAG_TABLE])
def test_structure_flags(situation, codes, article):
    org_type, members, full, has_committee, size = situation
    flags = structure_flags(
        org_type=org_type,
        members=members,
        full_members=full,
        has_committee=has_committee,
        committee_size=size,
        on=dt.date(2024, 1, 1),
    )
    assert {f.code for f in flags} == codes, article
    for f in flags:
        assert f.rule == "org.structure@2018", "each flag names the rule version that raised it"
        assert any(str(n) in f.message for n in (members, full, size)), "the message gives the number"


def test_flags_render_as_dicts():
    (flag,) = structure_flags(org_type=B, members=51, full_members=51, has_committee=True, committee_size=5)
    assert flag.as_dict() == {
        "code": "branch_too_large",
        "message": flag.message,
        "rule": "org.structure@2018",
    }


TERM_TABLE = [
    # (sector → years) — 党章 第三十一条: 3 to 5 years; village and community committees serve 5 (S)
    (Sector.RURAL, 5),
    (Sector.COMMUNITY, 5),
    (Sector.ORGAN, 3),
    (Sector.INSTITUTION, 3),
    (Sector.ENTERPRISE, 3),
    (Sector.SCHOOL, 3),
    (Sector.SOCIAL, 3),
    (Sector.OTHER, 3),
]


@pytest.mark.parametrize(("sector", "years"), TERM_TABLE)
def test_term_years_by_sector(sector, years):
    assert term_years(sector, on=dt.date(2024, 1, 1)) == (years, "org.terms@2018")


OFFICERS_TABLE = [
    # (full members, committee size, only secretary/deputy) → committee_size flagged?, article
    (5, 2, True, False, "支部工作条例 第十条: below 7 full members a secretary and a deputy are normal"),
    (6, 2, True, False, "支部工作条例 第十条: 6 full members, secretary and deputy"),
    (7, 2, True, True, "支部工作条例 第十条: 7 full members need a committee of 3 to 5"),
    (5, 2, False, True, "支部工作条例 第十条: a committee member makes it a committee, of 3 to 5"),
    (5, 3, False, False, "支部工作条例 第十条: a small branch may still elect a committee of 3"),
]


@pytest.mark.parametrize(
    ("full", "size", "officers_only", "flagged", "article"),
    OFFICERS_TABLE,
    ids=[r[4] for r in OFFICERS_TABLE],
)
def test_committee_size_only_for_real_committees(full, size, officers_only, flagged, article):
    flags = structure_flags(
        org_type=B,
        members=full,
        full_members=full,
        has_committee=True,
        committee_size=size,
        officers_only=officers_only,
        on=dt.date(2024, 1, 1),
    )
    assert ("committee_size" in {f.code for f in flags}) is flagged, article


def test_rule_label_names_the_rule():
    with translation.override("zh-hans"):
        assert rule_label("org.terms@2018") == "党组织委员会任期（2018 版）"
        assert rule_label("org.terms@2018/local-2025-01-01+org7") == "党组织委员会任期（2018 版，含本地规定）"
        assert rule_label("no.such@1") == "no.such@1"
