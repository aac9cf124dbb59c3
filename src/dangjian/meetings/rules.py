"""Vote rules of a branch general meeting (支部党员大会): quorum and majority.

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

import math
from dataclasses import dataclass, field
from fractions import Fraction

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
