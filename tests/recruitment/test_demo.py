"""The demo cases walk the steps through the services: every case obeys the rules of its dates."""

from __future__ import annotations

import datetime as dt

from dangjian.recruitment.demo import load_recruitment_demo
from dangjian.recruitment.models import RecruitmentCase


def test_demo_cases_reach_every_stage(tree, admin_user, member_factory):
    for branch in (tree.branch_a, tree.branch_b):
        for _ in range(3):
            member_factory(branch, full_date=dt.date(2010, 7, 1), join_date=dt.date(2009, 7, 1))
    made = load_recruitment_demo(actor=admin_user, branches=2)
    assert made == 2
    assert RecruitmentCase.objects.count() == 2
    assert load_recruitment_demo(actor=admin_user) == 0  # idempotent
