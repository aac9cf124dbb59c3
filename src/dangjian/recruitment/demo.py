"""Demo recruitment cases: applicants at every one of the 25 steps, recorded through the services.

``load_recruitment_demo(actor=...)`` walks each case through ``services.step_record`` with realistic
dates ending shortly before today, so every case obeys the rules of its dates (the 2014 细则, and the
2026 revision's public notice, agreement and one-month meeting from 2026-05-18) and the worklists, the
funnel and the alerts have something to show. Idempotent: it does nothing when cases exist.
"""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from dangjian.core import workdays
from dangjian.members.choices import MemberStatus
from dangjian.members.idnumbers import make_id_number
from dangjian.members.models import Member
from dangjian.members.selectors import voting_members
from dangjian.orgs.models import BRANCH_TYPES, Organization, OrgStatus
from dangjian.recruitment import rules, services
from dangjian.recruitment.models import RecruitmentCase


def _words(text: str) -> list[str]:
    return text.split()


# Days from the application to each step (step 6 twice: the half-yearly assessments).
OFFSETS: list[tuple[int, int]] = [
    (1, 0), (2, 15), (3, 60), (4, 70), (5, 70), (6, 240), (6, 420), (7, 430), (8, 440), (9, 450),
    (10, 460), (11, 470), (12, 490), (13, 500), (14, 505), (15, 520), (16, 530), (17, 545), (18, 550),
    (19, 552), (20, 560), (21, 700), (22, 860),
]  # fmt: skip
# The last step each demo case has reached, cycled over the branches: every stage is represented.
TARGETS = [1, 1, 2, 3, 5, 6, 7, 8, 9, 11, 12, 13, 14, 15, 17, 19, 20, 21, 22, 24, 25, 16, 6, 9]
# Extra days in the past for some of them, so that every alert has a case: the approval after the
# general meeting overdue (index 21) and the half-yearly assessment of an activist and a candidate due.
LAGS = {21: 100, 22: 200, 23: 200}
NAMES = _words(
    "张晓宇 王思雨 李浩然 赵欣怡 陈子涵 刘一鸣 杨梦瑶 黄俊杰 周佳怡 吴天宇 徐若曦 孙博文 马诗涵 朱明哲 胡雨桐 "
    "郭志远 何欣妍 林晨阳 高可馨 罗宇航 郑雨欣 梁嘉豪 谢语桐 宋逸飞 唐心怡 许泽宇 韩佳琪 邓皓轩 冯思彤 曹一诺"
)


def _approver(branch: Organization, max_depth: int) -> Organization | None:
    steplen = Organization.steplen
    paths = [branch.path[: i * steplen] for i in range(1, branch.depth)]
    for org in Organization.objects.filter(path__in=paths).order_by("-depth"):
        if org.org_type in ("committee", "working_committee") and org.depth <= max_depth:
            return org
    return None


def _plan(
    target: int, start: dt.date, branch: Organization, people: list[Member], approver: Organization
) -> list:
    """The request bodies of steps 1..target (through 25), dated from ``start``."""
    bodies: list[dict[str, Any]] = []
    dates: dict[int, dt.date] = {}

    def vote(day: dt.date) -> dict[str, int]:
        # The branch's register on the day (细则 第二十一条: the full members who should attend), most of
        # them present; the meetings demo then gives each vote the general meeting with this attendance.
        n = voting_members(branch, day).count()
        present = n - max(1, n // 8)
        no = 1 if present - 1 > n / 2 else 0
        return {
            "expected_voting": n,
            "present_voting": present,
            "full_members_expected": n,
            "yes": present - no,
            "no": no,
            "abstain": 0,
        }

    for step, offset in OFFSETS:
        if step > target:
            break
        day = start + dt.timedelta(days=offset)
        dates[step] = day
        body: dict[str, Any] = {"step": step, "date": day.isoformat()}
        if step in (2, 16):
            body["handled_by"] = "组织委员" if step == 2 else "党委组织员"
        elif step == 3:
            body["nomination_method"] = (
                "member_recommendation" if offset % 2 else "mass_organization_recommendation"
            )
        elif step == 5:
            body["mentors"] = [people[2].pk]
        elif step == 7:
            body["public_notice_from"] = workdays.add_working_days(day, -7).isoformat()
            body["public_notice_to"] = workdays.add_working_days(day, -1).isoformat()
        elif step == 8:
            body["outcome"] = "agreed"
        elif step == 9:
            body["introducers"] = [people[0].pk, people[1].pk]
        elif step in (10, 12, 13):
            body["outcome"] = "passed"
        elif step == 11:
            body["training_days"] = 3
        elif step == 15:
            body.update(vote(day))
        elif step == 17:
            body["approver"] = approver.pk
        bodies.append(body)
    if target >= 23:
        meeting = rules.add_months(dates[15], 12) + dt.timedelta(days=2)
        bodies.append({"step": 23, "date": meeting.isoformat(), "motion": "full", **vote(meeting)})
        if target >= 24:
            bodies.append(
                {"step": 24, "date": (meeting + dt.timedelta(days=14)).isoformat(), "approver": approver.pk}
            )
        if target >= 25:
            bodies.append({"step": 25, "date": (meeting + dt.timedelta(days=20)).isoformat()})
    return bodies


def _span(target: int) -> int:
    """Days from the application to the target step."""
    if target >= 23:
        return 520 + 367 + {23: 0, 24: 14, 25: 20}[target]
    return max(offset for step, offset in OFFSETS if step <= target)


def load_recruitment_demo(*, actor: Any, today: dt.date | None = None, branches: int = 24) -> int:
    """Open and walk demo cases in the first ``branches`` branches with enough full members."""
    if RecruitmentCase.objects.exists():
        return 0
    today = today or timezone.localdate()
    max_depth = rules.rule_for(today)["approver_max_depth"]
    made = 0
    seq = itertools.count(1)
    candidates = Organization.objects.filter(org_type__in=BRANCH_TYPES, status=OrgStatus.ACTIVE).order_by(
        "path"
    )
    for branch in candidates:
        if made >= branches:
            break
        approver = _approver(branch, max_depth)
        people = list(
            Member.objects.filter(
                org=branch, status=MemberStatus.FULL, full_date__lte=today - dt.timedelta(days=1200)
            ).order_by("id")[:3]
        )
        if approver is None or len(people) < 3:
            continue
        target = TARGETS[made % len(TARGETS)]
        jitter = (made * 7) % 25 + (40 if target == 1 and made % 2 == 0 else 3)  # some talks overdue
        jitter += LAGS.get(made % len(TARGETS), 0)
        start = today - dt.timedelta(days=_span(target) + jitter)
        n = next(seq)
        birth = dt.date(1996 + n % 8, 1 + n % 12, 1 + n % 27)
        data = {
            "name": NAMES[made % len(NAMES)],
            "ethnicity": "汉族",
            "id_number": make_id_number("110108", birth, 600 + 2 * n + (n % 2)),
            "phone": f"135{n:08d}",
            "education": "bachelor",
            "occupation": "professional",
            "work_unit": branch.name.removesuffix("党支部"),
            "org": branch.pk,
        }
        try:
            with transaction.atomic():
                case = services.case_open(actor=actor, data=data)
                for body in _plan(target, start, branch, people, approver):
                    services.step_record(actor=actor, case=case, data=body)
        except (ValidationError, services.RuleViolationError):
            continue  # a clash with the register (same ID number) or an odd calendar: skip this one
        made += 1
    return made
