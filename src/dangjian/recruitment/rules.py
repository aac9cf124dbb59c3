"""The rules of developing members (发展党员工作细则), one pure function per rule.

Every function takes the case as it stands (``CaseState``: the person and the steps already recorded),
the step being proposed (``Proposal``) and the rule version in force on the proposed step's date
(``rule_for(date, org)``: the 2014 细则, or the 2026 revision from 2026-05-18, with local overrides),
and returns ``Violation``s. A violation names its error code, its rule key, the article it enforces
(read from the rule file, so a renumbering needs no code change) and a message. ``severity="error"``
refuses the step; ``"warning"`` records it with the warning (a late talk, a late approval).

Checks that need the step's own data (introducers, vote counts) skip when ``Proposal.fields`` is None:
that is how ``check_prospective`` tells which steps are possible on a date before any data is entered.
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _

from dangjian.core import rulebook, workdays
from dangjian.meetings import rules as vote_rules
from dangjian.recruitment.steps import (
    APPROVAL_STEPS,
    PROBATION_CYCLE_STEPS,
    REDO_UNTIL,
    STEPS,
    VOTE_STEPS,
)

RULE_KEY = "recruitment"
ERROR, WARNING = "error", "warning"

# Member statuses as stored by members.choices.MemberStatus (plain strings: rules stay free of models).
# A flowing member (流动党员) keeps the status full or probationary: being away is told by a flow
# certificate, not by the status, so a full member away with one may introduce or mentor.
FULL, PROBATIONARY, SUSPENDED = "full", "probationary", "suspended"


# ---------------------------------------------------------------------------------------------- data


@dataclass(frozen=True)
class Violation:
    """A rule a step breaks: what, which rule and article, and when the step would become allowed."""

    code: str
    rule: str
    article: str
    message: str
    severity: str = ERROR
    earliest: dt.date | None = None
    latest: dt.date | None = None
    field: str = ""
    rule_ref: str = ""

    @property
    def blocking(self) -> bool:
        return self.severity == ERROR

    def as_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "rule": self.rule,
            "article": self.article,
            "message": self.message,
            "severity": self.severity,
            "earliest_date": self.earliest.isoformat() if self.earliest else None,
            "latest_date": self.latest.isoformat() if self.latest else None,
            "field": self.field,
            "rule_version": self.rule_ref,
        }


@dataclass(frozen=True)
class OrgInfo:
    id: int
    name: str
    org_type: str
    depth: int
    path: str


@dataclass(frozen=True)
class MemberInfo:
    """What the introducer and mentor rules need to know of a member."""

    id: int
    name: str
    status: str
    full_date: dt.date | None
    id_number_index: str
    # Under 留党察看 on the step's date with the rights not restored (members.selectors.
    # under_probation_within_party, filled in by recruitment/services.py).
    under_discipline: bool = False


@dataclass(frozen=True)
class StepRecord:
    step: int
    date: dt.date
    outcome: str
    fields: Mapping[str, Any] = field(default_factory=dict)
    seq: int = 0  # the order in which steps were recorded


@dataclass
class CaseState:
    """A case as the rules see it: the person, the branch, the steps recorded so far."""

    birth_date: dt.date
    id_number_index: str
    org: OrgInfo
    records: list[StepRecord] = field(default_factory=list)
    status: str = "active"

    # -- reading the record ------------------------------------------------------------------------

    def cycle_start(self) -> int:
        """The seq after which steps 22–24 count: the approval of the last probation extension."""
        start = 0
        for r in self.records:
            if r.step == 24 and r.outcome == "approved" and r.fields.get("motion") == "extend":
                start = max(start, r.seq)
        return start

    def _relevant(self, step: int) -> list[StepRecord]:
        rs = [r for r in self.records if r.step == step]
        if step in PROBATION_CYCLE_STEPS:
            start = self.cycle_start()
            rs = [r for r in rs if r.seq > start]
        return sorted(rs, key=lambda r: r.seq)

    def satisfied(self, step: int) -> StepRecord | None:
        """The latest record of ``step`` with a positive outcome (in the current probation period)."""
        ok = [r for r in self._relevant(step) if r.outcome in STEPS[step].positive]
        return ok[-1] if ok else None

    def first_satisfied(self, step: int) -> StepRecord | None:
        ok = [r for r in self.records if r.step == step and r.outcome in STEPS[step].positive]
        return min(ok, key=lambda r: r.seq) if ok else None

    def latest(self, step: int) -> StepRecord | None:
        rs = self._relevant(step)
        return rs[-1] if rs else None

    def date_of(self, step: int) -> dt.date | None:
        r = self.satisfied(step)
        return r.date if r else None

    def extensions_used(self) -> int:
        return sum(
            1
            for r in self.records
            if r.step == 24 and r.outcome == "approved" and r.fields.get("motion") == "extend"
        )

    def probation_end(self, probation_months: int) -> dt.date | None:
        """1 year from the general meeting's date, plus every approved extension (细则 第三十一、三十二条)."""
        meeting = self.date_of(15)
        if meeting is None:
            return None
        months = probation_months
        for r in self.records:
            if r.step == 24 and r.outcome == "approved" and r.fields.get("motion") == "extend":
                months += int(r.fields.get("extension_months") or 0)
        return add_months(meeting, months)


@dataclass(frozen=True)
class Proposal:
    """The step being recorded. ``fields`` is None for a prospective check (no data entered yet)."""

    step: int
    date: dt.date
    outcome: str = ""
    fields: Mapping[str, Any] | None = None


Check = Callable[[CaseState, Proposal, rulebook.RuleVersion], list[Violation]]


# ------------------------------------------------------------------------------------------ helpers


def add_months(day: dt.date, months: int) -> dt.date:
    """The same day ``months`` later, clamped to the month's end (31 January + 1 month → 28/29 February)."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    month += 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def add_years(day: dt.date, years: int) -> dt.date:
    return add_months(day, 12 * years)


def rule_for(on: dt.date, org: Any | None = None) -> rulebook.RuleVersion:
    """The recruitment rule version in force on ``on`` for ``org`` (with its subtree's overrides)."""
    return rulebook.rule(RULE_KEY, on=on, org=org)


def _v(
    r: rulebook.RuleVersion,
    code: str,
    rule: str,
    message: str,
    *,
    severity: str = ERROR,
    earliest: dt.date | None = None,
    latest: dt.date | None = None,
    field_name: str = "",
) -> Violation:
    articles = r.params.get("articles", {})
    return Violation(
        code=code,
        rule=f"{RULE_KEY}.{rule}",
        article=articles.get(rule, ""),
        message=message,
        severity=severity,
        earliest=earliest,
        latest=latest,
        field=field_name,
        rule_ref=r.ref,
    )


def _d(day: dt.date | None) -> str:
    return day.isoformat() if day else ""


def _title(step: int) -> str:
    return str(STEPS[step].title)


# ------------------------------------------------------------------------------- the rules, in order


def check_status(state: CaseState, p: Proposal, r: rulebook.RuleVersion) -> list[Violation]:
    """A stopped or cancelled case takes no more steps; an admitted person's case goes on in stage 5."""
    allowed = {"active": range(1, 18), "admitted": range(18, 26), "full": (25,)}.get(state.status, ())
    if p.step in allowed:
        return []
    return [
        _v(
            r,
            "case_closed",
            "step_order",
            _("Step %(step)d cannot be recorded on a case that is %(status)s.")
            % {"step": p.step, "status": state.status},
        )
    ]


def check_step_order(state: CaseState, p: Proposal, r: rulebook.RuleVersion) -> list[Violation]:
    """Steps follow the 细则's order: each needs the steps before it, on or before its own date."""
    spec = STEPS[p.step]
    out: list[Violation] = []
    for need in spec.requires:
        done = state.satisfied(need)
        if done is None:
            out.append(
                _v(
                    r,
                    "step_missing",
                    "step_order",
                    _("Step %(step)d (%(title)s) needs step %(need)d (%(need_title)s) first.")
                    % {"step": p.step, "title": _title(p.step), "need": need, "need_title": _title(need)},
                )
            )
        elif p.date < done.date:
            out.append(
                _v(
                    r,
                    "date_before_previous_step",
                    "step_order",
                    _("The date cannot be before step %(need)d (%(need_title)s) on %(date)s.")
                    % {"need": need, "need_title": _title(need), "date": _d(done.date)},
                    earliest=done.date,
                    field_name="date",
                )
            )
    if p.step in PROBATION_CYCLE_STEPS and state.cycle_start():
        extension = max(
            (x for x in state.records if x.seq == state.cycle_start()), key=lambda x: x.seq, default=None
        )
        if extension and p.date < extension.date:
            out.append(
                _v(
                    r,
                    "date_before_previous_step",
                    "step_order",
                    _("The date cannot be before the extension was approved on %(date)s.")
                    % {"date": _d(extension.date)},
                    earliest=extension.date,
                    field_name="date",
                )
            )
    already = state.satisfied(p.step)
    redo_until = REDO_UNTIL.get(p.step)
    if already and not spec.repeatable and not (redo_until and state.satisfied(redo_until) is None):
        out.append(
            _v(
                r,
                "step_already_done",
                "step_order",
                _("Step %(step)d (%(title)s) was already recorded on %(date)s.")
                % {"step": p.step, "title": _title(p.step), "date": _d(already.date)},
            )
        )
    return out


def check_age(state: CaseState, p: Proposal, r: rulebook.RuleVersion) -> list[Violation]:
    """细则 第五条; 党章 第一条: at least 18 years old on the date of the application."""
    if p.step != 1:
        return []
    adult_on = add_years(state.birth_date, r["min_age"])
    if p.date >= adult_on:
        return []
    return [
        _v(
            r,
            "applicant_too_young",
            "age",
            _("An applicant must be at least %(min)d years old on the application date (from %(date)s).")
            % {"min": r["min_age"], "date": _d(adult_on)},
            earliest=adult_on,
            field_name="date",
        )
    ]


def check_talk_deadline(state: CaseState, p: Proposal, r: rulebook.RuleVersion) -> list[Violation]:
    """细则 第七条: the talk within 1 month of the application. Late is a warning (and an alert), not a block."""
    if p.step != 2:
        return []
    applied = state.date_of(1)
    if applied is None:
        return []
    due = add_months(applied, r["talk_within_months"])
    if p.date <= due:
        return []
    return [
        _v(
            r,
            "talk_late",
            "talk",
            _("The talk should take place within %(n)d month(s) of the application, by %(date)s.")
            % {"n": r["talk_within_months"], "date": _d(due)},
            severity=WARNING,
            latest=due,
        )
    ]


def check_activist_nomination(state: CaseState, p: Proposal, r: rulebook.RuleVersion) -> list[Violation]:
    """细则 第八条: activists are nominated by party members (党员推荐) or a mass organization (群团推优)."""
    if p.step != 3 or p.fields is None:
        return []
    method = p.fields.get("nomination_method")
    if method in r["activist_nomination_methods"]:
        return []
    return [
        _v(
            r,
            "nomination_method_missing",
            "activist_nomination",
            _("Record how the activist was nominated: by party members or by a mass organization."),
            field_name="nomination_method",
        )
    ]


def check_activist_wait(state: CaseState, p: Proposal, r: rulebook.RuleVersion) -> list[Violation]:
    """Local practice (off by default): a minimum time between the application and becoming an activist."""
    months = r["activist_min_months_after_application"]
    if p.step != 3 or not months:
        return []
    applied = state.date_of(1)
    if applied is None:
        return []
    earliest = add_months(applied, months)
    if p.date >= earliest:
        return []
    return [
        _v(
            r,
            "activist_too_early",
            "activist_wait",
            _(
                "Local rule: an applicant becomes an activist at least %(n)d months after the application, "
                "from %(date)s."
            )
            % {"n": months, "date": _d(earliest)},
            earliest=earliest,
            field_name="date",
        )
    ]


def _member_problems(
    people: Iterable[MemberInfo],
    state: CaseState,
    on: dt.date,
    r: rulebook.RuleVersion,
    rule: str,
    field_name: str,
) -> list[Violation]:
    out: list[Violation] = []
    for m in people:
        if m.id_number_index and m.id_number_index == state.id_number_index:
            out.append(
                _v(
                    r,
                    "introducer_is_candidate" if rule == "introducers" else "mentor_is_candidate",
                    rule,
                    _("%(name)s is the person being developed and cannot take this role.") % {"name": m.name},
                    field_name=field_name,
                )
            )
        elif m.status == PROBATIONARY:
            out.append(
                _v(
                    r,
                    "introducer_probationary" if rule == "introducers" else "mentor_not_full",
                    rule,
                    _("%(name)s is a probationary member; only a full member can take this role.")
                    % {"name": m.name},
                    field_name=field_name,
                )
            )
        elif m.under_discipline or m.status == SUSPENDED:
            # 留党察看 not restored and 停止党籍 (suspended) both leave the member without party rights.
            out.append(
                _v(
                    r,
                    "introducer_under_discipline" if rule == "introducers" else "mentor_under_discipline",
                    rule,
                    (
                        _(
                            "%(name)s is under probation within the Party (留党察看) without restored rights "
                            "and cannot take this role."
                        )
                        if m.under_discipline
                        else _(
                            "%(name)s has their membership suspended (停止党籍) and cannot take this role."
                        )
                    )
                    % {"name": m.name},
                    field_name=field_name,
                )
            )
        elif m.status != FULL or m.full_date is None or m.full_date > on:
            out.append(
                _v(
                    r,
                    "introducer_not_full" if rule == "introducers" else "mentor_not_full",
                    rule,
                    _("%(name)s was not a full member on %(date)s.") % {"name": m.name, "date": _d(on)},
                    field_name=field_name,
                )
            )
    return out


def check_mentors(state: CaseState, p: Proposal, r: rulebook.RuleVersion) -> list[Violation]:
    """细则 第九条: one or two full members are designated as the activist's mentors (培养联系人)."""
    if p.step != 5 or p.fields is None:
        return []
    mentors: list[MemberInfo] = list(p.fields.get("mentors") or [])
    low, high = r["mentors_min"], r["mentors_max"]
    if not low <= len({m.id for m in mentors}) <= high or len(mentors) != len({m.id for m in mentors}):
        return [
            _v(
                r,
                "mentor_count",
                "mentors",
                _("Designate %(low)d to %(high)d different full members as mentors.")
                % {"low": low, "high": high},
                field_name="mentors",
            )
        ]
    return _member_problems(mentors, state, p.date, r, "mentors", "mentors")


def check_activist_period(state: CaseState, p: Proposal, r: rulebook.RuleVersion) -> list[Violation]:
    """细则 第十三条: at least one year (12 months, by the calendar) as an activist before becoming a candidate."""
    if p.step != 7:
        return []
    since = state.date_of(3)
    if since is None:
        return []
    earliest = add_months(since, r["activist_min_months"])
    if p.date >= earliest:
        return []
    return [
        _v(
            r,
            "activist_period_too_short",
            "activist_period",
            _(
                "A candidate must have been an activist for at least a year (since %(since)s): allowed from "
                "%(date)s."
            )
            % {"since": _d(since), "date": _d(earliest)},
            earliest=earliest,
            field_name="date",
        )
    ]


def check_candidate_public_notice(state: CaseState, p: Proposal, r: rulebook.RuleVersion) -> list[Violation]:
    """2026 revision (U): a public notice (公示) of at least 5 working days before someone becomes a candidate.

    Working days follow the State Council's holiday arrangements (core.workdays); the notice counts both
    its first and its last day, and must be over by the date of the decision.
    """
    need = r["candidate_public_notice_working_days"]
    if p.step != 7 or not need or p.fields is None:
        return []
    start, end = p.fields.get("public_notice_from"), p.fields.get("public_notice_to")
    if not start or not end:
        return [
            _v(
                r,
                "public_notice_missing",
                "candidate_public_notice",
                _("Record the public notice (公示) of at least %(n)d working days before the decision.")
                % {"n": need},
                field_name="public_notice_from",
            )
        ]
    out: list[Violation] = []
    if end < start:
        out.append(
            _v(
                r,
                "public_notice_dates",
                "candidate_public_notice",
                _("The public notice cannot end before it starts."),
                field_name="public_notice_to",
            )
        )
        return out
    days = workdays.working_days_in(start, end)
    if days < need:
        out.append(
            _v(
                r,
                "public_notice_too_short",
                "candidate_public_notice",
                _(
                    "The public notice lasted %(days)d working day(s); at least %(n)d are required "
                    "(it could end on %(date)s at the earliest)."
                )
                % {"days": days, "n": need, "date": _d(workdays.add_working_days(start, need - 1))},
                field_name="public_notice_to",
            )
        )
    if end > p.date:
        out.append(
            _v(
                r,
                "public_notice_not_over",
                "candidate_public_notice",
                _("The public notice must be over before the decision: it ends on %(date)s.")
                % {"date": _d(end)},
                earliest=end,
                field_name="date",
            )
        )
    return out


def check_candidate_filing(state: CaseState, p: Proposal, r: rulebook.RuleVersion) -> list[Violation]:
    """细则 第十三条 (2014): the candidate is filed (备案) with the higher committee.
    2026 revision (U): the higher committee must agree (同意); being filed is not enough."""
    if p.step != 8 or not r["candidate_committee_agreement_required"]:
        return []
    if p.fields is None or p.outcome in ("agreed", "refused"):
        return []
    return [
        _v(
            r,
            "committee_agreement_required",
            "candidate_filing",
            _(
                "Under the rule in force the higher committee must agree to the candidate; filing is not enough."
            ),
            field_name="outcome",
        )
    ]


def check_introducers(state: CaseState, p: Proposal, r: rulebook.RuleVersion) -> list[Violation]:
    """细则 第十四条; 党章 第五条: two introducers, full members, not under 留党察看, not the candidate."""
    if p.step != 9 or p.fields is None:
        return []
    people: list[MemberInfo] = list(p.fields.get("introducers") or [])
    need = r["introducers_required"]
    if len({m.id for m in people}) != need or len(people) != need:
        return [
            _v(
                r,
                "introducer_count",
                "introducers",
                _("A candidate needs exactly %(n)d different introducers.") % {"n": need},
                field_name="introducers",
            )
        ]
    return _member_problems(people, state, p.date, r, "introducers", "introducers")


def check_training(state: CaseState, p: Proposal, r: rulebook.RuleVersion) -> list[Violation]:
    """细则 第十八条: centralised training of at least 3 days or at least 24 class hours (either suffices)."""
    if p.step != 11 or p.fields is None:
        return []
    days = float(p.fields.get("training_days") or 0)
    hours = float(p.fields.get("training_hours") or 0)
    if days >= r["training_min_days"] or hours >= r["training_min_hours"]:
        return []
    return [
        _v(
            r,
            "training_too_short",
            "training",
            _("The training must last at least %(days)d days or %(hours)d class hours.")
            % {"days": r["training_min_days"], "hours": r["training_min_hours"]},
            field_name="training_days",
        )
    ]


def check_political_review(state: CaseState, p: Proposal, r: rulebook.RuleVersion) -> list[Violation]:
    """细则 第十七条: no admission without a passed political review, checked before the committee review."""
    if p.step != 12 or not r["political_review_required"]:
        return []
    if state.satisfied(10) is not None:
        return []
    latest = state.latest(10)
    return [
        _v(
            r,
            "political_review_not_passed" if latest else "political_review_missing",
            "political_review",
            _("The political review was not passed.")
            if latest
            else _("The political review must be passed before the branch committee's review."),
        )
    ]


def check_leaving_unit(state: CaseState, p: Proposal, r: rulebook.RuleVersion) -> list[Violation]:
    """细则 第十九条: a candidate leaving the unit within 3 months is generally not admitted (a warning)."""
    if p.step != 13 or p.fields is None:
        return []
    leaving = p.fields.get("expected_departure")
    if not leaving or leaving > add_months(p.date, r["leaving_unit_months"]):
        return []
    return [
        _v(
            r,
            "leaving_unit_soon",
            "leaving_unit",
            _(
                "The candidate leaves the unit within %(n)d months (on %(date)s): generally not admitted "
                "until settled in the new unit."
            )
            % {"n": r["leaving_unit_months"], "date": _d(leaving)},
            severity=WARNING,
        )
    ]


def check_prereview_to_meeting(state: CaseState, p: Proposal, r: rulebook.RuleVersion) -> list[Violation]:
    """2026 revision (U): the general meeting within 1 month after passing the pre-review (预审合格)."""
    months = r["general_meeting_within_months_of_prereview"]
    if p.step != 15 or not months:
        return []
    prereview = state.date_of(13)
    if prereview is None:
        return []
    latest = add_months(prereview, months)
    if p.date <= latest:
        return []
    return [
        _v(
            r,
            "meeting_too_late_after_prereview",
            "prereview_to_meeting",
            _(
                "The general meeting must be held within %(n)d month(s) of the pre-review (by %(date)s); "
                "have the pre-review done again."
            )
            % {"n": months, "date": _d(latest)},
            latest=latest,
            field_name="date",
        )
    ]


def check_vote(state: CaseState, p: Proposal, r: rulebook.RuleVersion) -> list[Violation]:
    """细则 第二十条、第二十一条、第三十三条: quorum, one candidate per vote, counts that add up.

    The majority itself is not a violation: a vote that misses it is recorded as not passed.
    """
    if p.step not in VOTE_STEPS or p.fields is None:
        return []
    counts = vote_counts(p.fields)
    result = vote_rules.vote_result(
        counts,
        quorum_more_than=r["quorum_more_than"],
        majority_more_than=r["majority_more_than"],
        candidates_per_vote=r["candidates_per_vote"],
    )
    rule_of = {"quorum": "quorum", "one_candidate": "one_candidate", "counts": "majority"}
    code_of = {
        "quorum": "no_quorum",
        "one_candidate": "several_candidates",
        "counts": "vote_counts_inconsistent",
    }
    return [
        _v(r, code_of[problem.code], rule_of[problem.code], problem.message, field_name=problem.field)
        for problem in result.problems
    ]


def vote_counts(fields: Mapping[str, Any]) -> vote_rules.VoteCounts:
    return vote_rules.VoteCounts(
        expected_voting=int(fields.get("expected_voting") or 0),
        present_voting=int(fields.get("present_voting") or 0),
        full_members_expected=int(fields.get("full_members_expected") or 0),
        yes=int(fields.get("yes") or 0),
        no=int(fields.get("no") or 0),
        abstain=int(fields.get("abstain") or 0),
        written_yes=int(fields.get("written_opinions_yes") or 0),
        written_no=int(fields.get("written_opinions_no") or 0),
        candidates=int(fields.get("candidates") or 1),
    )


def vote_passes(fields: Mapping[str, Any], r: rulebook.RuleVersion) -> bool:
    """细则 第二十一条: yes (with written yes opinions) > half of the full members who should attend."""
    return vote_rules.vote_result(
        vote_counts(fields),
        quorum_more_than=r["quorum_more_than"],
        majority_more_than=r["majority_more_than"],
        candidates_per_vote=r["candidates_per_vote"],
    ).passed


def check_approver(state: CaseState, p: Proposal, r: rulebook.RuleVersion) -> list[Violation]:
    """细则 第二十三条: a committee entitled to approve — never a general branch (党总支) or a branch, nor a
    基层党委 below a street or township (modelled by its depth in the tree) — above the case's branch."""
    if p.step not in APPROVAL_STEPS or p.fields is None or p.outcome == "refused":
        return []
    approver: OrgInfo | None = p.fields.get("approver")
    if approver is None:
        return [
            _v(
                r,
                "approver_missing",
                "approver",
                _("Name the committee that approved."),
                field_name="approver",
            )
        ]
    above = state.org.path.startswith(approver.path) and approver.path != state.org.path
    if approver.org_type not in r["approver_org_types"]:
        message = _("%(org)s is not a party committee and cannot approve new members.") % {
            "org": approver.name
        }
    elif approver.depth > r["approver_max_depth"]:
        message = _(
            "%(org)s is a grassroots committee below the street or township level and cannot approve new members."
        ) % {"org": approver.name}
    elif not above:
        message = _("%(org)s is not a committee above this branch.") % {"org": approver.name}
    else:
        return []
    return [_v(r, "approver_not_entitled", "approver", message, field_name="approver")]


def check_approval_deadline(state: CaseState, p: Proposal, r: rulebook.RuleVersion) -> list[Violation]:
    """细则 第二十四条: approval within 3 months of the general meeting; later is a warning, and beyond
    6 months it is refused (the branch has to start the admission again)."""
    if p.step != 17:
        return []
    meeting = state.date_of(15)
    if meeting is None:
        return []
    due, limit = (
        add_months(meeting, r["approval_within_months"]),
        add_months(meeting, r["approval_max_months"]),
    )
    if p.date > limit:
        return [
            _v(
                r,
                "approval_too_late",
                "approval_deadline",
                _(
                    "Approval more than %(n)d months after the general meeting (after %(date)s) is not allowed."
                )
                % {"n": r["approval_max_months"], "date": _d(limit)},
                latest=limit,
                field_name="date",
            )
        ]
    if p.date > due:
        return [
            _v(
                r,
                "approval_late",
                "approval_deadline",
                _("Approval is due within %(n)d months of the general meeting (by %(date)s).")
                % {"n": r["approval_within_months"], "date": _d(due)},
                severity=WARNING,
                latest=limit,
            )
        ]
    return []


def check_probation_over(state: CaseState, p: Proposal, r: rulebook.RuleVersion) -> list[Violation]:
    """细则 第三十一条; 党章 第七条: the probation lasts a year from the general meeting (plus any extension);
    the branch decides on full membership when it is over."""
    if p.step != 23:
        return []
    end = state.probation_end(r["probation_months"])
    if end is None or p.date >= end:
        return []
    return [
        _v(
            r,
            "probation_not_over",
            "probation",
            _("The probation ends on %(date)s; the branch decides on full membership from then.")
            % {"date": _d(end)},
            earliest=end,
            field_name="date",
        )
    ]


def check_extension(state: CaseState, p: Proposal, r: rulebook.RuleVersion) -> list[Violation]:
    """细则 第三十二条; 党章 第七条: the probation may be extended once, by at least 6 months and at most a year."""
    if p.step != 23 or p.fields is None or p.fields.get("motion") != "extend":
        return []
    if state.extensions_used() >= r["extensions_max"]:
        return [
            _v(
                r,
                "extension_already_used",
                "extension",
                _("The probation was already extended once; it cannot be extended again."),
                field_name="motion",
            )
        ]
    months = p.fields.get("extension_months")
    low, high = r["extension_min_months"], r["extension_max_months"]
    if months is None or not low <= int(months) <= high:
        return [
            _v(
                r,
                "extension_length",
                "extension",
                _("An extension lasts at least %(low)d and at most %(high)d months.")
                % {"low": low, "high": high},
                field_name="extension_months",
            )
        ]
    return []


def check_full_approval_deadline(state: CaseState, p: Proposal, r: rulebook.RuleVersion) -> list[Violation]:
    """细则 第三十四条 (S): the higher committee approves the full-membership decision within 3 months."""
    if p.step != 24:
        return []
    meeting = state.date_of(23)
    if meeting is None:
        return []
    due = add_months(meeting, r["full_approval_within_months"])
    if p.date <= due:
        return []
    return [
        _v(
            r,
            "full_approval_late",
            "full_approval_deadline",
            _("The decision should have been approved within %(n)d months of the meeting (by %(date)s).")
            % {"n": r["full_approval_within_months"], "date": _d(due)},
            severity=WARNING,
        )
    ]


def check_not_in_future(state: CaseState, p: Proposal, r: rulebook.RuleVersion) -> list[Violation]:
    if p.date <= timezone.localdate():
        return []
    return [
        _v(
            r,
            "date_in_future",
            "step_order",
            _("A step is recorded once it has happened: the date cannot be in the future."),
            field_name="date",
        )
    ]


CHECKS: tuple[Check, ...] = (
    check_status,
    check_step_order,
    check_not_in_future,
    check_age,
    check_talk_deadline,
    check_activist_nomination,
    check_activist_wait,
    check_mentors,
    check_activist_period,
    check_candidate_public_notice,
    check_candidate_filing,
    check_introducers,
    check_training,
    check_political_review,
    check_leaving_unit,
    check_prereview_to_meeting,
    check_vote,
    check_approver,
    check_approval_deadline,
    check_probation_over,
    check_extension,
    check_full_approval_deadline,
)


def check_step(state: CaseState, p: Proposal, r: rulebook.RuleVersion) -> list[Violation]:
    """Every rule on the proposed step, errors first."""
    found = [v for check in CHECKS for v in check(state, p, r)]
    return sorted(found, key=lambda v: v.severity != ERROR)


# --------------------------------------------------------------------------- what can be done next


@dataclass(frozen=True)
class NextStep:
    step: int
    earliest: dt.date | None
    latest: dt.date | None
    blocking: list[Violation]
    warnings: list[Violation]


def _earliest(state: CaseState, step: int, r: rulebook.RuleVersion) -> dt.date | None:
    """The first date the step's timing rules allow (None: no record to count from)."""
    dates = [d for need in STEPS[step].requires if (d := state.date_of(need))]
    probe = Proposal(step=step, date=dt.date.min)
    for check in CHECKS:
        if check in (check_not_in_future, check_step_order):
            continue
        for v in check(state, probe, r):
            if v.earliest:
                dates.append(v.earliest)
    return max(dates) if dates else None


def _latest(state: CaseState, step: int, r: rulebook.RuleVersion) -> dt.date | None:
    probe = Proposal(step=step, date=dt.date.max)
    latest = [
        v.latest for check in CHECKS if check is not check_not_in_future for v in check(state, probe, r)
    ]
    found = [d for d in latest if d]
    return min(found) if found else None


def possible_steps(state: CaseState) -> list[int]:
    """Steps whose prerequisites are done and that are not done yet (or may be repeated)."""
    out = []
    allowed = {"active": range(1, 18), "admitted": range(18, 26), "full": (25,)}.get(state.status, ())
    for number in allowed:
        spec = STEPS[number]
        if any(state.satisfied(need) is None for need in spec.requires):
            continue
        redo_until = REDO_UNTIL.get(number)
        if (
            state.satisfied(number)
            and not spec.repeatable
            and not (redo_until and not state.satisfied(redo_until))
        ):
            continue
        if number == 6 and state.satisfied(12):  # activist assessments end with the committee's review
            continue
        out.append(number)
    return out


def check_prospective(state: CaseState, on: dt.date, org: Any | None = None) -> list[NextStep]:
    """The steps that could be recorded next, the earliest date each is allowed, and what blocks it on ``on``."""
    out = []
    r = rule_for(on, org)
    for number in possible_steps(state):
        found = check_step(state, Proposal(step=number, date=on), r)
        until = REDO_UNTIL.get(number)
        if until and state.satisfied(number):
            # Offer to redo the pre-review only once the general meeting can no longer follow it.
            later = check_step(state, Proposal(step=until, date=on), r)
            if not any(v.code == "meeting_too_late_after_prereview" for v in later):
                continue
        earliest = _earliest(state, number, r)
        out.append(
            NextStep(
                step=number,
                earliest=earliest,
                latest=_latest(state, number, r),
                blocking=[v for v in found if v.blocking],
                warnings=[v for v in found if not v.blocking],
            )
        )
    return out
