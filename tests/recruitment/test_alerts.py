"""Alerts of developing members: talk overdue, assessment due, probation ending, approval overdue."""

from __future__ import annotations

import pytest

from dangjian.core.alerts import alerts_refresh
from dangjian.core.models import Alert
from tests.recruitment.helpers import D, journey, open_case, walk


@pytest.fixture
def people(tree, member_factory):
    return {
        "introducers": [member_factory(tree.branch_a), member_factory(tree.branch_a)],
        "mentor": member_factory(tree.branch_a),
    }


def _open(kind: str) -> list[Alert]:
    return list(Alert.objects.filter(kind=kind, status=Alert.Status.OPEN))


def test_talk_overdue_after_a_month_and_resolved_by_the_talk(tree, secretary_a):
    case = open_case(secretary_a, tree.branch_a)
    walk(secretary_a, case, [{"step": 1, "date": "2024-01-31"}])
    alerts_refresh(on=D(2024, 2, 29), kinds=["recruitment.talk_overdue"])
    assert _open("recruitment.talk_overdue") == []
    alerts_refresh(on=D(2024, 3, 1), kinds=["recruitment.talk_overdue"])
    (alert,) = _open("recruitment.talk_overdue")
    assert alert.org_id == tree.branch_a.pk and alert.due_date == D(2024, 2, 29)
    assert alert.rule_ref == "recruitment@2014"
    walk(secretary_a, case, [{"step": 2, "date": "2024-03-02", "handled_by": "王书记"}])
    alerts_refresh(on=D(2024, 3, 3), kinds=["recruitment.talk_overdue"])
    assert _open("recruitment.talk_overdue") == []


def test_assessment_due_half_a_year_after_the_last(tree, secretary_a, people):
    case = open_case(secretary_a, tree.branch_a)
    bodies = journey(people["introducers"], people["mentor"], tree.district_a)
    walk(secretary_a, case, bodies[:6])  # last assessment 2023-09-01
    alerts_refresh(on=D(2024, 1, 30), kinds=["recruitment.assessment_due"])
    assert _open("recruitment.assessment_due") == []
    alerts_refresh(on=D(2024, 1, 31), kinds=["recruitment.assessment_due"])
    (alert,) = _open("recruitment.assessment_due")
    assert alert.due_date == D(2024, 3, 1) and alert.severity == "info"


def test_probation_ending_and_approval_overdue(tree, secretary_a, people):
    case = open_case(secretary_a, tree.branch_a)
    bodies = journey(people["introducers"], people["mentor"], tree.district_a)
    walk(secretary_a, case, bodies[:17])  # general meeting 2024-06-01, not approved yet
    alerts_refresh(on=D(2024, 9, 2), kinds=["recruitment.approval_overdue"])
    (late,) = _open("recruitment.approval_overdue")
    assert late.due_date == D(2024, 9, 1)
    walk(secretary_a, case, bodies[17:22])  # approved; probation ends 2025-06-01
    alerts_refresh(on=D(2025, 5, 1), kinds=["recruitment.approval_overdue", "recruitment.probation_ending"])
    assert _open("recruitment.approval_overdue") == []
    assert _open("recruitment.probation_ending") == []
    alerts_refresh(on=D(2025, 5, 2), kinds=["recruitment.probation_ending"])
    (ending,) = _open("recruitment.probation_ending")
    assert ending.due_date == D(2025, 6, 1) and ending.member_id == case.member_id
