"""Rules of organization life: the vote rules of a branch general meeting (支部党员大会: quorum and
majority), the periods meetings are counted in and the kinds each organisation must hold
(``period_of``, ``periods_in_year``, ``required_kinds``: 支部工作条例 第十条、第十四条至第十六条) and the
quorum of a branch committee meeting (``committee_quorum_met``). Pure functions; the parameters come
from the caller's rule version (``rules/meetings.yaml``).

Votes:

Pure functions over the counts of one vote, so that the recruitment steps (细则 第二十条、第二十一条、
第三十三条) and, later, any meeting decision share one implementation. The thresholds come from the
caller's rule version (``quorum_more_than`` / ``majority_more_than``, both "more than half" today).

- Quorum: voting members present must be **more than** ``quorum_more_than`` of the voting members who
  should attend (细则 第二十条).
- Majority: yes votes — including the written yes opinions of absent full members handed in before the
  meeting — must be **more than** ``majority_more_than`` of the **full members who should attend**, not
  of those present (细则 第二十一条).
- One candidate per vote (细则 第二十一条: several candidates are discussed and voted on one at a time).
- Only members with a vote are counted: probationary members (党章 第七条), flowing members attending
  as guests at a host organisation (RULES.md §4) and members under 留党察看 without restored rights
  (党章 第三十九条) have none, so they are in none of these numbers. The register's count of who has a
  vote on a date is one selector, ``members.selectors.voting_members``, used to prefill every vote.
"""

from __future__ import annotations

import calendar
import datetime as dt
import math
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from django.utils.translation import gettext as _


@dataclass(frozen=True)
class VoteCounts:
    """The numbers a secretary records for one vote on one motion."""

    expected_voting: int  # 应到会有表决权人数
    present_voting: int  # 实到会有表决权人数
    full_members_expected: int  # 应到会有表决权的正式党员人数 (the base of the majority)
    yes: int
    no: int
    abstain: int
    written_yes: int = 0  # written opinions of absent full members, handed in before the meeting
    written_no: int = 0
    candidates: int = 1  # how many people this one vote decides on


@dataclass(frozen=True)
class VoteProblem:
    """Why the counts cannot stand: ``code`` names the check (``quorum``, ``one_candidate``, ``counts``)."""

    code: str
    message: str
    field: str = ""


@dataclass(frozen=True)
class VoteResult:
    quorum_met: bool
    passed: bool
    yes_total: int
    quorum_needed: int  # the least number present for a quorum
    yes_needed: int  # the least number of yes votes that passes
    problems: list[VoteProblem] = field(default_factory=list)


def least_more_than(whole: int, fraction: float | str | Fraction) -> int:
    """The least integer strictly greater than ``whole × fraction`` (more than half of 10 → 6, of 9 → 5)."""
    return math.floor(whole * Fraction(str(fraction))) + 1


def quorum_met(expected_voting: int, present_voting: int, more_than: float = 0.5) -> bool:
    return present_voting >= least_more_than(expected_voting, more_than)


def majority_met(yes_total: int, full_members_expected: int, more_than: float = 0.5) -> bool:
    return yes_total >= least_more_than(full_members_expected, more_than)


def count_problems(c: VoteCounts, *, candidates_per_vote: int = 1) -> list[VoteProblem]:
    """Counts that contradict each other, or a vote on several candidates at once."""
    problems: list[VoteProblem] = []
    numbers = {
        "expected_voting": c.expected_voting,
        "present_voting": c.present_voting,
        "full_members_expected": c.full_members_expected,
        "yes": c.yes,
        "no": c.no,
        "abstain": c.abstain,
        "written_yes": c.written_yes,
        "written_no": c.written_no,
    }
    for name, value in numbers.items():
        if value < 0:
            problems.append(VoteProblem("counts", _("A count cannot be negative."), name))
    if problems:
        return problems
    if c.expected_voting < 1:
        problems.append(
            VoteProblem("counts", _("At least one member with a vote should attend."), "expected_voting")
        )
    if c.present_voting > c.expected_voting:
        problems.append(
            VoteProblem(
                "counts",
                _("More voting members are present than should attend."),
                "present_voting",
            )
        )
    if c.full_members_expected > c.expected_voting:
        problems.append(
            VoteProblem(
                "counts",
                _(
                    "The full members who should attend cannot outnumber the voting members who should attend."
                ),
                "full_members_expected",
            )
        )
    if c.yes + c.no + c.abstain > c.present_voting:
        problems.append(
            VoteProblem("counts", _("More ballots were cast than voting members were present."), "yes")
        )
    absent = max(c.expected_voting - c.present_voting, 0)
    if c.written_yes + c.written_no > absent:
        problems.append(
            VoteProblem(
                "counts",
                _("Written opinions can only come from absent members: at most %(n)d.") % {"n": absent},
                "written_yes",
            )
        )
    if c.candidates != candidates_per_vote:
        problems.append(
            VoteProblem(
                "one_candidate",
                _("Several candidates must be discussed and voted on one at a time."),
                "candidates",
            )
        )
    return problems


def vote_result(
    c: VoteCounts,
    *,
    quorum_more_than: float = 0.5,
    majority_more_than: float = 0.5,
    candidates_per_vote: int = 1,
) -> VoteResult:
    """Quorum, majority and consistency of one vote. ``passed`` needs the quorum and the majority."""
    problems = count_problems(c, candidates_per_vote=candidates_per_vote)
    yes_total = c.yes + c.written_yes
    quorum = quorum_met(c.expected_voting, c.present_voting, quorum_more_than)
    if not quorum:
        problems.append(
            VoteProblem(
                "quorum",
                _(
                    "No quorum: %(present)d of %(expected)d voting members present; more than half "
                    "(at least %(needed)d) must attend."
                )
                % {
                    "present": c.present_voting,
                    "expected": c.expected_voting,
                    "needed": least_more_than(c.expected_voting, quorum_more_than),
                },
                "present_voting",
            )
        )
    passed = quorum and not problems and majority_met(yes_total, c.full_members_expected, majority_more_than)
    return VoteResult(
        quorum_met=quorum,
        passed=passed,
        yes_total=yes_total,
        quorum_needed=least_more_than(c.expected_voting, quorum_more_than),
        yes_needed=least_more_than(c.full_members_expected, majority_more_than),
        problems=problems,
    )


# --- periods and required frequencies (支部工作条例 第十四条至第十六条, RULES.md §3) ----------------------

MONTH, QUARTER, YEAR = "month", "quarter", "year"
PERIODS = (MONTH, QUARTER, YEAR)


@dataclass(frozen=True, order=True)
class Period:
    """A calendar period a required meeting is counted in: a month, a quarter or a year (inclusive dates).

    ``label`` is language-neutral and unique within a year's periods of one length: ``2025-03`` (March),
    ``2025-Q1`` (first quarter), ``2025`` (the year); pages translate it with ``period_display``.
    """

    start: dt.date
    end: dt.date
    label: str

    @property
    def kind(self) -> str:
        if "-Q" in self.label:
            return QUARTER
        return MONTH if "-" in self.label else YEAR

    def __contains__(self, day: object) -> bool:
        return isinstance(day, dt.date) and self.start <= day <= self.end

    def closed(self, today: dt.date) -> bool:
        """The period is over: its last day is before ``today`` (on its last day it is still open)."""
        return self.end < today

    def days_left(self, today: dt.date) -> int:
        """Days from ``today`` to the period's last day (0 on the last day, negative once over)."""
        return (self.end - today).days


def _month_end(year: int, month: int) -> dt.date:
    return dt.date(year, month, calendar.monthrange(year, month)[1])


def period_of(day: dt.date, period: str) -> Period:
    """The month, quarter or year that contains ``day``."""
    if period == MONTH:
        return Period(day.replace(day=1), _month_end(day.year, day.month), f"{day.year}-{day.month:02d}")
    if period == QUARTER:
        q = (day.month - 1) // 3 + 1
        first = 3 * q - 2
        return Period(dt.date(day.year, first, 1), _month_end(day.year, first + 2), f"{day.year}-Q{q}")
    if period == YEAR:
        return Period(dt.date(day.year, 1, 1), dt.date(day.year, 12, 31), str(day.year))
    raise ValueError(f"unknown period {period!r} (one of {', '.join(PERIODS)})")


def periods_in_year(year: int, period: str) -> list[Period]:
    """Every period of that length in the calendar year, in order (12 months, 4 quarters or 1 year)."""
    if period == MONTH:
        return [period_of(dt.date(year, m, 1), MONTH) for m in range(1, 13)]
    if period == QUARTER:
        return [period_of(dt.date(year, m, 1), QUARTER) for m in (1, 4, 7, 10)]
    if period == YEAR:
        return [period_of(dt.date(year, 1, 1), YEAR)]
    raise ValueError(f"unknown period {period!r} (one of {', '.join(PERIODS)})")


def period_display(period: Period) -> str:
    """The period as a party worker reads it: 2025年3月, 2025年第1季度, 2025年."""
    year = period.start.year
    if period.kind == MONTH:
        return _("%(year)s-%(month)s") % {"year": year, "month": period.start.month}
    if period.kind == QUARTER:
        return _("%(year)s Q%(quarter)s") % {"year": year, "quarter": (period.start.month - 1) // 3 + 1}
    return _("Year %(year)s") % {"year": year}


# Kinds whose requirement is counted per branch, in the order of the compliance table.
BRANCH_KINDS = (
    "general_meeting",
    "committee_meeting",
    "group_meeting",
    "party_lecture",
    "theme_day",
    "life_meeting",
    "democratic_appraisal",
)
_BRANCH_ORG_TYPES = ("branch", "joint_branch")
_COMMITTEE_ORG_TYPES = ("committee", "working_committee")


@dataclass(frozen=True)
class OrgFacts:
    """What decides which kinds an organisation must hold in a period.

    ``has_committee``: a branch committee (支委会) in office during the period — a branch below
    ``committee_required_full_members`` (7) full members has a secretary, not a committee (支部工作条例
    第十条), so it holds no committee meetings. ``full_members`` (None when not counted) lets a caller
    apply that threshold itself. ``groups``: party groups (党小组) of the branch during the period.
    """

    org_type: str = "branch"
    has_committee: bool = False
    groups: int = 0
    full_members: int | None = None


def required_kinds(version: Any, facts: OrgFacts) -> dict[str, str]:
    """The kinds an organisation must hold and the period of each (``month``/``quarter``/``year``),
    under the rule ``version`` (``rulebook.rule("meetings", ...)``).

    - A branch or joint branch: every kind in ``periods`` (支部工作条例 第十四条至第十六条) and the branch
      party lecture every ``party_lecture_period`` (quarterly is local practice, overridable);
      committee meetings only when it has a committee (第十条: 7 or more full members); group meetings only
      when it has party groups, and then each group monthly (第十四条).
    - A party committee (党委, 党工委): its secretary's party lecture every ``committee_lecture_period``
      (at least once a year).
    - Anything else (a general branch, a party group): nothing counted on its own — a group's meetings
      count for its branch.
    """
    params = version.params if hasattr(version, "params") else version
    if facts.org_type in _COMMITTEE_ORG_TYPES:
        period = params.get("committee_lecture_period")
        return {"party_lecture": period} if period else {}
    if facts.org_type not in _BRANCH_ORG_TYPES:
        return {}
    periods = dict(params.get("periods") or {})
    lecture = params.get("party_lecture_period")
    if lecture:
        periods["party_lecture"] = lecture
    committee = facts.has_committee and (
        facts.full_members is None or facts.full_members >= int(params["committee_required_full_members"])
    )
    if not committee:
        periods.pop("committee_meeting", None)
    if facts.groups <= 0:
        periods.pop("group_meeting", None)
    for kind, period in periods.items():
        if period not in PERIODS:
            raise ValueError(f"meetings rule: {kind} has unknown period {period!r}")
    return {kind: periods[kind] for kind in BRANCH_KINDS if kind in periods}


def committee_quorum_met(members_expected: int, present: int, more_than: float = 0.5) -> bool:
    """支部工作条例 第十四条: a branch committee meeting needs **more than half** of the committee members
    present (``committee_quorum_more_than``): 3 of 5, 2 of 3, 3 of 4."""
    if members_expected < 1:
        return False
    return present >= least_more_than(members_expected, more_than)
