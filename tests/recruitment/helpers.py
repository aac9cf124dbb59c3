"""Shared builders for the recruitment tests: a case, and a walk through its steps with realistic dates."""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

from dangjian.members.idnumbers import make_id_number
from dangjian.recruitment import services
from dangjian.recruitment.models import RecruitmentCase

_seq = itertools.count(1)

D = dt.date

BIRTH = D(1998, 4, 2)

VOTE_OK = {
    "expected_voting": 20,
    "present_voting": 15,
    "full_members_expected": 20,
    "yes": 14,
    "no": 1,
    "abstain": 0,
}


def case_data(org: Any, *, birth: dt.date = BIRTH, **extra: Any) -> dict[str, Any]:
    n = next(_seq)
    return {
        "name": f"申请人{n}",
        "ethnicity": "汉族",
        "id_number": make_id_number("110105", birth, 300 + n * 2 + 1),
        "phone": f"137{n:08d}",
        "education": "bachelor",
        "occupation": "professional",
        "work_unit": "示范市第一中学",
        "org": org.pk,
        **extra,
    }


def open_case(actor: Any, org: Any, **extra: Any) -> RecruitmentCase:
    return services.case_open(actor=actor, data=case_data(org, **extra))


def journey(introducers: list[Any], mentor: Any, approver: Any) -> list[dict[str, Any]]:
    """Steps 1–25 under the 2014 细则 (2023–2025), each a request body."""
    intro = [m.pk for m in introducers]
    return [
        {"step": 1, "date": "2023-01-10"},
        {"step": 2, "date": "2023-01-20", "handled_by": "王书记"},
        {"step": 3, "date": "2023-03-01", "nomination_method": "member_recommendation"},
        {"step": 4, "date": "2023-03-10"},
        {"step": 5, "date": "2023-03-10", "mentors": [mentor.pk]},
        {"step": 6, "date": "2023-09-01"},
        {"step": 6, "date": "2024-02-20"},
        {"step": 7, "date": "2024-03-01"},
        {"step": 8, "date": "2024-03-10"},
        {"step": 9, "date": "2024-03-15", "introducers": intro},
        {"step": 10, "date": "2024-04-01", "outcome": "passed"},
        {"step": 11, "date": "2024-04-10", "training_days": 3},
        {"step": 12, "date": "2024-05-06", "outcome": "passed"},
        {"step": 13, "date": "2024-05-15", "outcome": "passed"},
        {"step": 14, "date": "2024-05-20"},
        {"step": 15, "date": "2024-06-01", **VOTE_OK},
        {"step": 16, "date": "2024-06-10", "handled_by": "李组织员"},
        {"step": 17, "date": "2024-06-20", "approver": approver.pk},
        {"step": 18, "date": "2024-06-25"},
        {"step": 19, "date": "2024-06-26"},
        {"step": 20, "date": "2024-07-01"},
        {"step": 21, "date": "2024-12-01"},
        {"step": 22, "date": "2025-05-10"},
        {"step": 23, "date": "2025-06-01", "motion": "full", **VOTE_OK},
        {"step": 24, "date": "2025-06-15", "approver": approver.pk},
        {"step": 25, "date": "2025-06-20"},
    ]


def walk(actor: Any, case: RecruitmentCase, bodies: list[dict[str, Any]]) -> RecruitmentCase:
    for body in bodies:
        services.step_record(actor=actor, case=case, data=body)
    case.refresh_from_db()
    return case
