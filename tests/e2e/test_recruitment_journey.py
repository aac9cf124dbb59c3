"""Developing a member in the browser: shuji1 takes an applicant from step 1 to step 17 on the case page.

Realistic dates under the 2014 细则 (2024–2025). Halfway, a premature step 7 (less than a year after
becoming an activist) is refused with the rule, its article and the date it becomes allowed; step 17
creates the probationary member, who then shows in the member list.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.urls import reverse

from dangjian.members.idnumbers import make_id_number
from dangjian.members.models import Member
from dangjian.recruitment.models import CaseStatus, RecruitmentCase
from tests.conftest import PASSWORD

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

APPLICANT = "周明远"


def _step(page: Any, step: int, date: str, **fields: Any) -> None:
    """Fill the case page's form of ``step`` and submit it; lists select several options."""
    form = page.locator(f"form[data-testid=step-form-{step}]")
    form.locator("input[name=date]").fill(date)
    for name, value in fields.items():
        box = form.locator(f"[name={name}]")
        if isinstance(value, list):
            box.select_option([str(v) for v in value])
        elif box.evaluate("e => e.tagName") == "SELECT":
            box.select_option(str(value))
        else:
            box.fill(str(value))
    with page.expect_navigation():
        form.locator("button[type=submit]").click()


def _recorded(page: Any, step: int) -> None:
    problems = page.locator(".alert-danger").all_inner_texts()
    assert not problems, problems
    assert page.locator(".alert-success").filter(has_text=str(step)).count() >= 1, page.content()[:3000]


def test_secretary_takes_an_applicant_to_probationary_member(
    page, live_server, tree, secretary_a, member_factory
):
    old = {"join_date": dt.date(2005, 7, 1), "full_date": dt.date(2006, 7, 1)}
    full = [member_factory(tree.branch_a, name=n, **old) for n in ("李明", "王芳", "张伟", "刘洋", "陈静", "杨帆", "赵磊")]  # fmt: skip
    introducers, mentor = full[:2], full[2]

    page.goto(live_server.url + reverse("web:login"))
    page.fill("input[name=username]", secretary_a.username)
    page.fill("input[name=password]", PASSWORD)
    with page.expect_navigation():
        page.press("input[name=password]", "Enter")

    # Open the case on the form of /recruitment/new/.
    page.goto(live_server.url + reverse("recruitment:create"))
    page.fill("#id_name", APPLICANT)
    page.fill("#id_id_number", make_id_number("110105", dt.date(1998, 4, 2), 517))
    page.fill("#id_phone", "13712345678")
    page.select_option("#id_education", "bachelor")
    page.select_option("#id_occupation", "professional")
    page.fill("#id_work_unit", "示范市第一中学")
    page.select_option("#id_org", str(tree.branch_a.pk))
    with page.expect_navigation():
        page.locator("form[method=post] button[type=submit]").last.click()
    case = RecruitmentCase.objects.get(name=APPLICANT)
    assert page.url.endswith(reverse("recruitment:case", args=[case.pk])), page.content()[:2000]

    vote = {"expected_voting": 7, "present_voting": 7, "full_members_expected": 7, "yes": 6, "no": 1, "abstain": 0}  # fmt: skip
    before_candidate = [
        (1, "2024-01-10", {}),
        (2, "2024-01-20", {"handled_by": "王书记"}),
        (3, "2024-03-01", {"nomination_method": "member_recommendation"}),
        (4, "2024-03-10", {}),
        (5, "2024-03-10", {"mentors": [mentor.pk]}),
        (6, "2024-09-01", {}),
        (6, "2025-02-20", {}),
    ]
    for step, date, fields in before_candidate:
        _step(page, step, date, **fields)
        _recorded(page, step)

    # Too early: an activist since 2024-03-01 becomes a candidate a year later at the earliest.
    _step(page, 7, "2024-12-02")
    refusal = page.locator("[data-testid=rule-violation]")
    assert refusal.count() == 1
    text = refusal.inner_text()
    assert "第十三条" in text and "2025-03-01" in text, text
    assert not case.steps.filter(step=7).exists()

    rest = [
        (7, "2025-03-05", {}),
        (8, "2025-03-12", {}),
        (9, "2025-03-15", {"introducers": [m.pk for m in introducers]}),
        (10, "2025-04-01", {"outcome": "passed"}),
        (11, "2025-04-10", {"training_days": 3}),
        (12, "2025-05-06", {"outcome": "passed"}),
        (13, "2025-05-15", {"outcome": "passed"}),
        (14, "2025-05-20", {}),
        (15, "2025-06-01", vote),
        (16, "2025-06-10", {"handled_by": "东城区委组织员"}),
        (17, "2025-06-20", {"approver": tree.district_a.pk}),
    ]
    for step, date, fields in rest:
        _step(page, step, date, **fields)
        _recorded(page, step)

    case.refresh_from_db()
    assert case.status == CaseStatus.ADMITTED and case.last_step == 17
    member = Member.objects.get(pk=case.member_id)
    assert member.status == "probationary" and member.join_date == dt.date(2025, 6, 1)

    # The new probationary member is in the branch's member list.
    page.goto(live_server.url + reverse("members:list"))
    names = page.locator("table.member-table tbody tr td:first-child").all_inner_texts()
    assert APPLICANT in [n.strip() for n in names]
