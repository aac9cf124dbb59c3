"""The rules of developing members as tables: one row per rule and boundary, each citing its article.

Rows are judged by the rule version in force on the proposed step's date — the 2014 细则 before
2026-05-18, the 2026 revision (pending confirmation) from then — exactly as the services do. No
database: the case is a ``CaseState`` built in the row.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

import pytest
from django.utils import timezone

from dangjian.recruitment import rules
from dangjian.recruitment.rules import CaseState, MemberInfo, OrgInfo, Proposal, StepRecord

D = dt.date

BRANCH = OrgInfo(id=4, name="第一党支部", org_type="branch", depth=3, path="000100010001")
DISTRICT = OrgInfo(id=2, name="东城区委", org_type="committee", depth=2, path="00010001")
CITY = OrgInfo(id=1, name="示范市委", org_type="committee", depth=1, path="0001")
OTHER_DISTRICT = OrgInfo(id=3, name="西城区委", org_type="committee", depth=2, path="00010002")
GENERAL_BRANCH = OrgInfo(id=7, name="医院党总支", org_type="general_branch", depth=2, path="00010001")
COMMUNITY = OrgInfo(id=8, name="社区党委", org_type="committee", depth=4, path="0001000100010001")
UNDER_COMMUNITY = OrgInfo(
    id=9, name="社区第一党支部", org_type="branch", depth=5, path="00010001000100010001"
)
SELF_INDEX = "candidate-index"
JOINED = D(2010, 7, 1)
BORN = D(2006, 5, 20)


def member(n: int, status: str = "full", full_date: dt.date | None = JOINED, **kw: Any) -> MemberInfo:
    return MemberInfo(
        id=n, name=f"党员{n}", status=status, full_date=full_date, id_number_index=f"index-{n}", **kw
    )


def state(*done: tuple, birth: dt.date = BORN, org: OrgInfo = BRANCH) -> CaseState:
    """A case with the given records: (step, "YYYY-MM-DD"[, outcome[, fields]])."""
    records = []
    for seq, row in enumerate(done, start=1):
        step, day, *rest = row
        outcome = rest[0] if rest else rules.STEPS[step].positive[0]
        fields = rest[1] if len(rest) > 1 else {}
        records.append(
            StepRecord(step=step, date=D.fromisoformat(day), outcome=outcome, fields=fields, seq=seq)
        )
    return CaseState(birth_date=birth, id_number_index=SELF_INDEX, org=org, records=records)


# A case ready for each step, the earlier steps done under the 2014 text.
UP_TO = {
    1: (),
    2: ((1, "2024-01-31"),),
    3: ((1, "2024-01-31"), (2, "2024-02-10")),
    7: ((1, "2023-01-10"), (2, "2023-01-20"), (3, "2024-03-01"), (4, "2024-03-05"), (5, "2024-03-05")),
}
UP_TO[5] = UP_TO[3] + ((3, "2024-03-01"),)
UP_TO[8] = UP_TO[7] + ((7, "2025-03-10"),)
UP_TO[9] = UP_TO[8] + ((8, "2025-03-15"),)
UP_TO[11] = UP_TO[9]
UP_TO[12] = UP_TO[9] + ((9, "2025-03-20"), (10, "2025-04-01", "passed"), (11, "2025-04-10"))
UP_TO[13] = UP_TO[12] + ((12, "2025-05-01", "passed"),)
UP_TO[15] = UP_TO[13] + ((13, "2025-05-10", "passed"), (14, "2025-05-12"))
UP_TO[17] = UP_TO[15] + ((15, "2024-06-01", "passed"), (16, "2024-06-05"))
UP_TO[23] = UP_TO[17] + (
    (17, "2024-06-20", "approved"),
    (19, "2024-06-25"),
    (20, "2024-07-01"),
    (22, "2025-05-01"),
)
UP_TO[24] = UP_TO[23] + ((23, "2025-06-01", "passed", {"motion": "full"}),)


def prereview_on(day: str) -> tuple:
    """A case whose pre-review (step 13) passed on ``day``, ready for the general meeting."""
    return UP_TO[13] + ((13, day, "passed"), (14, day))


VOTE = {
    "expected_voting": 20,
    "present_voting": 15,
    "full_members_expected": 20,
    "yes": 14,
    "no": 1,
    "abstain": 0,
}

# (id, article, records, step, date, outcome, fields, expected code or None, severity)
ROWS: list[tuple] = [
    # --- 细则 第五条; 党章 第一条: 18 on the application date -------------------------------------------
    ("age: 18 on the day", "细则 第五条", UP_TO[1], 1, "2024-05-20", "", {}, None, None),
    ("age: one day short of 18", "细则 第五条", UP_TO[1], 1, "2024-05-19", "", {}, "applicant_too_young", "error"),
    # --- step order and dates ----------------------------------------------------------------------
    ("order: activist before the talk", "细则 第二章", UP_TO[2], 3, "2024-03-01", "", {"nomination_method": "member_recommendation"}, "step_missing", "error"),
    ("order: talk dated before the application", "细则 第七条", UP_TO[2], 2, "2024-01-30", "", {}, "date_before_previous_step", "error"),
    ("order: the application twice", "细则 第二章", UP_TO[2], 1, "2024-02-01", "", {}, "step_already_done", "error"),
    ("order: a date in the future", "细则 第二章", UP_TO[2], 2, (timezone.localdate() + dt.timedelta(days=1)).isoformat(), "", {}, "date_in_future", "error"),
    # --- 细则 第七条: talk within a month (late → warning, never a block) -----------------------------
    ("talk: on the last day of the month (31 Jan → 29 Feb)", "细则 第七条", UP_TO[2], 2, "2024-02-29", "", {}, None, None),
    ("talk: a day late", "细则 第七条", UP_TO[2], 2, "2024-03-01", "", {}, "talk_late", "warning"),
    # --- 细则 第八条: nomination by 党员推荐 or 群团推优, recorded ---------------------------------------
    ("nomination: by party members", "细则 第八条", UP_TO[3], 3, "2024-03-01", "", {"nomination_method": "member_recommendation"}, None, None),
    ("nomination: by a mass organization (推优)", "细则 第八条", UP_TO[3], 3, "2024-03-01", "", {"nomination_method": "mass_organization_recommendation"}, None, None),
    ("nomination: not recorded", "细则 第八条", UP_TO[3], 3, "2024-03-01", "", {}, "nomination_method_missing", "error"),
    ("nomination: national text sets no wait after applying", "细则 第八条", UP_TO[3], 3, "2024-02-11", "", {"nomination_method": "member_recommendation"}, None, None),
    # --- 细则 第九条: one or two full members as mentors --------------------------------------------
    ("mentors: one full member", "细则 第九条", UP_TO[5], 5, "2024-03-05", "", {"mentors": [member(1)]}, None, None),
    ("mentors: three", "细则 第九条", UP_TO[5], 5, "2024-03-05", "", {"mentors": [member(1), member(2), member(3)]}, "mentor_count", "error"),
    ("mentors: a probationary member", "细则 第九条", UP_TO[5], 5, "2024-03-05", "", {"mentors": [member(1, "probationary", None)]}, "mentor_not_full", "error"),
    # --- 细则 第十三条: at least one year as an activist (activist 2024-03-01) -------------------------
    ("activist 364 days: refused", "细则 第十三条", UP_TO[7], 7, "2025-02-28", "", {}, "activist_period_too_short", "error"),
    ("activist 365 days: allowed", "细则 第十三条", UP_TO[7], 7, "2025-03-01", "", {}, None, None),
    # --- 2026 revision: 公示 of at least 5 working days before becoming a candidate --------------------
    ("2014: no public notice needed on 2026-05-17", "细则 第十三条", UP_TO[7], 7, "2026-05-17", "", {}, None, None),
    ("2026: no public notice on 2026-05-18", "细则 2026 公示", UP_TO[7], 7, "2026-05-18", "", {}, "public_notice_missing", "error"),
    ("2026: notice Mon–Fri, 5 working days", "细则 2026 公示", UP_TO[7], 7, "2026-06-15", "", {"public_notice_from": D(2026, 6, 8), "public_notice_to": D(2026, 6, 12)}, None, None),
    ("2026: notice of 4 working days", "细则 2026 公示", UP_TO[7], 7, "2026-06-15", "", {"public_notice_from": D(2026, 6, 8), "public_notice_to": D(2026, 6, 11)}, "public_notice_too_short", "error"),
    ("2026: notice over 端午 (19 June off): 4 working days", "细则 2026 公示", UP_TO[7], 7, "2026-06-22", "", {"public_notice_from": D(2026, 6, 15), "public_notice_to": D(2026, 6, 19)}, "public_notice_too_short", "error"),
    ("2026: notice with the 调休 Saturday 10 October worked: 5 days", "细则 2026 公示", UP_TO[7], 7, "2026-10-13", "", {"public_notice_from": D(2026, 10, 8), "public_notice_to": D(2026, 10, 13)}, None, None),
    ("2026: decision before the notice is over", "细则 2026 公示", UP_TO[7], 7, "2026-06-12", "", {"public_notice_from": D(2026, 6, 8), "public_notice_to": D(2026, 6, 15)}, "public_notice_not_over", "error"),
    # --- 细则 第十三条 (备案) vs 2026 (同意) -----------------------------------------------------------
    ("2014: candidate filed on 2026-05-17", "细则 第十三条", UP_TO[8], 8, "2026-05-17", "filed", {}, None, None),
    ("2026: filing is not enough on 2026-05-18", "细则 2026 同意", UP_TO[8], 8, "2026-05-18", "filed", {}, "committee_agreement_required", "error"),
    ("2026: the higher committee agreed", "细则 2026 同意", UP_TO[8], 8, "2026-05-18", "agreed", {}, None, None),
    # --- 细则 第十四条; 党章 第五条: two full-member introducers ---------------------------------------
    ("introducers: two full members", "细则 第十四条", UP_TO[9], 9, "2025-03-20", "", {"introducers": [member(1), member(2)]}, None, None),
    ("introducers: only one", "细则 第十四条", UP_TO[9], 9, "2025-03-20", "", {"introducers": [member(1)]}, "introducer_count", "error"),
    ("introducers: the same member twice", "细则 第十四条", UP_TO[9], 9, "2025-03-20", "", {"introducers": [member(1), member(1)]}, "introducer_count", "error"),
    ("introducers: a probationary member", "细则 第十四条", UP_TO[9], 9, "2025-03-20", "", {"introducers": [member(1), member(2, "probationary", None)]}, "introducer_probationary", "error"),
    ("introducers: under 留党察看, rights not restored", "细则 第十四条", UP_TO[9], 9, "2025-03-20", "", {"introducers": [member(1), member(2, under_discipline=True)]}, "introducer_under_discipline", "error"),
    ("introducers: membership suspended (停止党籍)", "细则 第十四条", UP_TO[9], 9, "2025-03-20", "", {"introducers": [member(1), member(2, "suspended")]}, "introducer_under_discipline", "error"),
    ("introducers: 留党察看 with rights restored", "细则 第十四条", UP_TO[9], 9, "2025-03-20", "", {"introducers": [member(1), member(2, under_discipline=False)]}, None, None),
    ("introducers: the candidate themself", "细则 第十四条", UP_TO[9], 9, "2025-03-20", "", {"introducers": [member(1), dataclasses.replace(member(2), id_number_index=SELF_INDEX)]}, "introducer_is_candidate", "error"),
    ("introducers: full only after the step's date", "细则 第十四条", UP_TO[9], 9, "2025-03-20", "", {"introducers": [member(1), member(2, full_date=D(2025, 4, 1))]}, "introducer_not_full", "error"),
    # --- 细则 第十八条: training ≥ 3 days or ≥ 24 class hours ------------------------------------------
    ("training: 3 days", "细则 第十八条", UP_TO[11], 11, "2025-04-10", "", {"training_days": 3}, None, None),
    ("training: 2 days but 24 hours", "细则 第十八条", UP_TO[11], 11, "2025-04-10", "", {"training_days": 2, "training_hours": 24}, None, None),
    ("training: 2.5 days and 23 hours", "细则 第十八条", UP_TO[11], 11, "2025-04-10", "", {"training_days": 2.5, "training_hours": 23}, "training_too_short", "error"),
    # --- 细则 第十七条: a passed political review before the committee's review -----------------------
    ("political review passed", "细则 第十七条", UP_TO[12], 12, "2025-05-01", "passed", {}, None, None),
    ("political review failed", "细则 第十七条", UP_TO[9] + ((9, "2025-03-20"), (10, "2025-04-01", "failed"), (11, "2025-04-10")), 12, "2025-05-01", "passed", {}, "political_review_not_passed", "error"),
    # --- 细则 第十九条: leaving the unit within 3 months (warning) -------------------------------------
    ("leaving the unit in 3 months and a day", "细则 第十九条", UP_TO[13], 13, "2025-05-10", "passed", {"expected_departure": D(2025, 8, 11)}, None, None),
    ("leaving the unit within 3 months", "细则 第十九条", UP_TO[13], 13, "2025-05-10", "passed", {"expected_departure": D(2025, 8, 10)}, "leaving_unit_soon", "warning"),
    # --- 2026 revision: general meeting within a month of 预审合格 -------------------------------------
    ("2014: meeting 2 months after the pre-review", "细则 第二十条", prereview_on("2025-01-10"), 15, "2025-03-10", "", VOTE, None, None),
    ("2026: meeting a month after the pre-review", "细则 2026 预审", prereview_on("2026-06-01"), 15, "2026-07-01", "", VOTE, None, None),
    ("2026: meeting a month and a day after", "细则 2026 预审", prereview_on("2026-06-01"), 15, "2026-07-02", "", VOTE, "meeting_too_late_after_prereview", "error"),
    # --- 细则 第二十条、第二十一条: quorum, one candidate per vote --------------------------------------
    ("quorum: 10 of 20 present (exactly half)", "细则 第二十条", UP_TO[15], 15, "2025-06-01", "", {**VOTE, "present_voting": 10, "yes": 10}, "no_quorum", "error"),
    ("quorum: 11 of 20 present", "细则 第二十条", UP_TO[15], 15, "2025-06-01", "", {**VOTE, "present_voting": 11, "yes": 11, "no": 0}, None, None),
    ("one candidate per vote", "细则 第二十一条", UP_TO[15], 15, "2025-06-01", "", {**VOTE, "candidates": 2}, "several_candidates", "error"),
    ("counts: more ballots than present", "细则 第二十一条", UP_TO[15], 15, "2025-06-01", "", {**VOTE, "yes": 15, "no": 1}, "vote_counts_inconsistent", "error"),
    # --- 细则 第二十三条: who may approve -------------------------------------------------------------
    ("approver: the district committee", "细则 第二十三条", UP_TO[17], 17, "2024-06-20", "approved", {"approver": DISTRICT}, None, None),
    ("approver: a general branch", "细则 第二十三条", UP_TO[17], 17, "2024-06-20", "approved", {"approver": GENERAL_BRANCH}, "approver_not_entitled", "error"),
    ("approver: the branch itself", "细则 第二十三条", UP_TO[17], 17, "2024-06-20", "approved", {"approver": BRANCH}, "approver_not_entitled", "error"),
    ("approver: a committee of another district", "细则 第二十三条", UP_TO[17], 17, "2024-06-20", "approved", {"approver": OTHER_DISTRICT}, "approver_not_entitled", "error"),
    # --- 细则 第二十四条: approval within 3 months (warning), never beyond 6 (meeting 2024-06-01) ------
    ("approval: 3 months to the day", "细则 第二十四条", UP_TO[17], 17, "2024-09-01", "approved", {"approver": DISTRICT}, None, None),
    ("approval: 3 months and a day", "细则 第二十四条", UP_TO[17], 17, "2024-09-02", "approved", {"approver": DISTRICT}, "approval_late", "warning"),
    ("approval: 6 months to the day", "细则 第二十四条", UP_TO[17], 17, "2024-12-01", "approved", {"approver": DISTRICT}, "approval_late", "warning"),
    ("approval: 6 months and a day", "细则 第二十四条", UP_TO[17], 17, "2024-12-02", "approved", {"approver": DISTRICT}, "approval_too_late", "error"),
    # --- 细则 第三十一条; 党章 第七条: probation of a year from the general meeting (2024-06-01) -------
    ("full membership: a day before the year is over", "细则 第三十一条", UP_TO[23], 23, "2025-05-31", "", {**VOTE, "motion": "full"}, "probation_not_over", "error"),
    ("full membership: the day the year is over", "细则 第三十一条", UP_TO[23], 23, "2025-06-01", "", {**VOTE, "motion": "full"}, None, None),
    # --- 细则 第三十二条; 党章 第七条: one extension of 6 to 12 months ---------------------------------
    ("extension: 5 months", "细则 第三十二条", UP_TO[23], 23, "2025-06-01", "", {**VOTE, "motion": "extend", "extension_months": 5}, "extension_length", "error"),
    ("extension: 6 months", "细则 第三十二条", UP_TO[23], 23, "2025-06-01", "", {**VOTE, "motion": "extend", "extension_months": 6}, None, None),
    ("extension: 12 months", "细则 第三十二条", UP_TO[23], 23, "2025-06-01", "", {**VOTE, "motion": "extend", "extension_months": 12}, None, None),
    ("extension: 13 months", "细则 第三十二条", UP_TO[23], 23, "2025-06-01", "", {**VOTE, "motion": "extend", "extension_months": 13}, "extension_length", "error"),
    (
        "extension: a second one",
        "细则 第三十二条",
        UP_TO[23] + ((23, "2025-06-01", "passed", {"motion": "extend", "extension_months": 6}), (24, "2025-06-10", "approved", {"motion": "extend", "extension_months": 6}), (22, "2025-11-01")),
        23, "2025-12-01", "", {**VOTE, "motion": "extend", "extension_months": 6}, "extension_already_used", "error",
    ),
    (
        "extension: the extended probation is not over",
        "细则 第三十二条",
        UP_TO[23] + ((23, "2025-06-01", "passed", {"motion": "extend", "extension_months": 6}), (24, "2025-06-10", "approved", {"motion": "extend", "extension_months": 6}), (22, "2025-11-01")),
        23, "2025-11-30", "", {**VOTE, "motion": "full"}, "probation_not_over", "error",
    ),
    (
        "extension: the extended probation is over (1 December)",
        "细则 第三十二条",
        UP_TO[23] + ((23, "2025-06-01", "passed", {"motion": "extend", "extension_months": 6}), (24, "2025-06-10", "approved", {"motion": "extend", "extension_months": 6}), (22, "2025-11-01")),
        23, "2025-12-01", "", {**VOTE, "motion": "full"}, None, None,
    ),
    # --- 细则 第三十四条 (S): approval of 转正 within 3 months (warning) -------------------------------
    ("full approval within 3 months", "细则 第三十四条", UP_TO[24], 24, "2025-09-01", "approved", {"approver": DISTRICT}, None, None),
    ("full approval 3 months and a day", "细则 第三十四条", UP_TO[24], 24, "2025-09-02", "approved", {"approver": DISTRICT}, "full_approval_late", "warning"),
]  # fmt: skip


def _admitted(records: tuple) -> str:
    return "admitted" if any(r[0] == 17 and (len(r) < 3 or r[2] == "approved") for r in records) else "active"


@pytest.mark.parametrize(
    ("why", "article", "records", "step", "date", "outcome", "fields", "code", "severity"),
    ROWS,
    ids=[row[0] for row in ROWS],
)
def test_rule_table(why, article, records, step, date, outcome, fields, code, severity):
    case = state(*records)
    case.status = _admitted(records)
    day = D.fromisoformat(date)
    r = rules.rule_for(day)
    found = rules.check_step(case, Proposal(step=step, date=day, outcome=outcome, fields=fields), r)
    codes = {v.code: v for v in found}
    if code is None:
        assert not found, f"{why} ({article}): {[v.message for v in found]}"
        return
    assert code in codes, f"{why} ({article}): expected {code}, got {list(codes)}"
    v = codes[code]
    assert v.severity == severity, why
    assert v.article, f"{why}: every violation cites its article"
    assert v.rule.startswith("recruitment."), why
    assert v.rule_ref == r.ref
    assert v.message


@pytest.mark.parametrize(
    ("day", "version"),
    [(D(2014, 6, 10), "2014"), (D(2026, 5, 17), "2014"), (D(2026, 5, 18), "2026"), (D(2026, 11, 1), "2026")],
)
def test_version_in_force_either_side_of_2026_05_18(day, version):
    r = rules.rule_for(day)
    assert r.version == version
    assert r.pending_confirmation is (version == "2026")


# 细则 第二十一条: the majority is counted against the full members who should attend, written opinions included.
MAJORITY = [
    ("yes exactly half of the expected full members", {"yes": 10}, False),
    ("yes one more than half", {"yes": 11}, True),
    (
        "more than half of those present, not of those expected",
        {"present_voting": 12, "yes": 10, "no": 2},
        False,
    ),
    ("written yes opinions of absent members count", {"yes": 9, "written_opinions_yes": 2}, True),
    ("written no opinions do not help", {"yes": 10, "written_opinions_no": 2}, False),
    (
        "odd base: 9 of 19 is not more than half",
        {"full_members_expected": 19, "expected_voting": 19, "yes": 9},
        False,
    ),
    ("odd base: 10 of 19 is", {"full_members_expected": 19, "expected_voting": 19, "yes": 10}, True),
]


@pytest.mark.parametrize(("why", "counts", "passes"), MAJORITY, ids=[m[0] for m in MAJORITY])
def test_majority_of_full_members_expected(why, counts, passes):
    fields = {"expected_voting": 20, "present_voting": 15, "full_members_expected": 20, "no": 0, "abstain": 0}
    fields.update(counts)
    assert rules.vote_passes(fields, rules.rule_for(D(2025, 1, 1))) is passes, why


def test_local_rule_six_months_before_activist_is_off_by_default_and_can_be_switched_on():
    """Local practice (S): the national text sets no wait; an organisation may require 6 months."""
    case = state(*UP_TO[3])
    p = Proposal(step=3, date=D(2024, 3, 1), fields={"nomination_method": "member_recommendation"})
    national = rules.rule_for(p.date)
    assert national["activist_min_months_after_application"] == 0
    assert rules.check_step(case, p, national) == []
    local = dataclasses.replace(
        national, params={**national.params, "activist_min_months_after_application": 6}
    )
    found = rules.check_step(case, p, local)
    assert [v.code for v in found] == ["activist_too_early"]
    assert found[0].earliest == D(2024, 7, 31)


def test_a_community_committee_below_a_street_cannot_approve():
    """细则 第二十三条: 乡镇（街道）党委所属的基层党委不能审批 — deeper than approver_max_depth."""
    case = state(*UP_TO[17], org=UNDER_COMMUNITY)
    p = Proposal(step=17, date=D(2024, 6, 20), outcome="approved", fields={"approver": COMMUNITY})
    found = rules.check_step(case, p, rules.rule_for(p.date))
    assert [v.code for v in found] == ["approver_not_entitled"]
    ok = rules.check_step(case, dataclasses.replace(p, fields={"approver": CITY}), rules.rule_for(p.date))
    assert ok == []


def test_every_article_cited_exists_in_both_versions():
    for day in (D(2020, 1, 1), D(2026, 6, 1)):
        articles = rules.rule_for(day)["articles"]
        for key in (
            "age",
            "talk",
            "activist_period",
            "introducers",
            "training",
            "quorum",
            "majority",
            "approver",
        ):
            assert articles[key], key


@pytest.mark.parametrize(
    ("start", "months", "end"),
    [
        (D(2024, 1, 31), 1, D(2024, 2, 29)),
        (D(2023, 1, 31), 1, D(2023, 2, 28)),
        (D(2024, 2, 29), 12, D(2025, 2, 28)),
        (D(2024, 6, 1), 12, D(2025, 6, 1)),
        (D(2024, 6, 1), 18, D(2025, 12, 1)),
    ],
)
def test_add_months_clamps_to_the_end_of_the_month(start, months, end):
    assert rules.add_months(start, months) == end
