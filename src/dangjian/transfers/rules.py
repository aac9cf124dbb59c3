"""The rules of transfers, flowing members and status changes (党员教育管理工作条例), as pure functions.

Each check takes the rule version in force (``rule_for(on, org)``: rules/transfers.yaml with local
overrides) and returns ``None`` or a ``Violation`` naming the rule key and the article it enforces, so
the API can answer ``{"error": {"code": "rule_violation", "rule": ..., "article": ...}}``.

"6 months" is calendar months (1 December + 6 months = 1 June), the way the 条例 counts, not 180 days.
"""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.utils.translation import gettext as _

from dangjian.core import rulebook

RULE_KEY = "transfers"


@dataclass(frozen=True)
class Violation:
    """A refused action: its code, rule key, article and message, and the rule version applied."""

    code: str
    article: str
    message: str
    rule_ref: str
    rule: str = RULE_KEY
    earliest: dt.date | None = None


class RuleViolationError(Exception):
    """Raised by services when a rule refuses an action (rendered as ``rule_violation`` by the API)."""

    def __init__(self, violation: Violation) -> None:
        super().__init__(violation.message)
        self.violation = violation


def add_months(day: dt.date, months: int) -> dt.date:
    """The same day ``months`` later, clamped to the month's end (31 August + 6 months → 28/29 February)."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    month += 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def rule_for(on: dt.date, org: Any | None = None) -> rulebook.RuleVersion:
    """The transfer rules in force on ``on`` for ``org``; dates before 2019 use the first version."""
    first = rulebook.versions(RULE_KEY)[0].effective_from
    return rulebook.rule(RULE_KEY, on=max(on, first), org=org)


def letter_validity_days(r: rulebook.RuleVersion) -> int:
    """The letter's validity: the (possibly local) value, never above the national maximum of 90 days."""
    return max(1, min(int(r["letter_validity_days"]), int(r["letter_validity_max_days"])))


def letter_valid_until(issued: dt.date, r: rulebook.RuleVersion) -> dt.date:
    return issued + dt.timedelta(days=letter_validity_days(r))


def check_letter_valid(
    *, valid_until: dt.date | None, on: dt.date, r: rulebook.RuleVersion
) -> Violation | None:
    """An introduction letter can be accepted up to and including its last valid day."""
    if valid_until is not None and on > valid_until:
        return Violation(
            code="letter_expired",
            article=r["articles"]["letter"],
            message=_(
                "The introduction letter expired on %(date)s; the sending organisation must issue a new one."
            )
            % {"date": valid_until},
            rule_ref=r.ref,
        )
    return None


def lost_contact_threshold(last_contact: dt.date, r: rulebook.RuleVersion) -> dt.date:
    """The first day on which a member who was last reached on ``last_contact`` may be suspended."""
    return add_months(last_contact, int(r["lost_contact_months"]))


def check_suspension(*, last_contact: dt.date, on: dt.date, r: rulebook.RuleVersion) -> Violation | None:
    """Suspension (停止党籍) needs 6 months or more without contact (条例 第三十四条)."""
    earliest = lost_contact_threshold(last_contact, r)
    if last_contact > on:
        return Violation(
            code="last_contact_after_date",
            article=r["articles"]["lost_contact"],
            message=_("The date of last contact cannot be after the date of the decision."),
            rule_ref=r.ref,
        )
    if on < earliest:
        return Violation(
            code="lost_contact_too_short",
            article=r["articles"]["lost_contact"],
            message=_(
                "Contact was lost on %(last)s: a member can be suspended only after %(months)s months without "
                "contact, from %(earliest)s (%(article)s)."
            )
            % {
                "last": last_contact,
                "months": r["lost_contact_months"],
                "earliest": earliest,
                "article": r["articles"]["lost_contact"],
            },
            rule_ref=r.ref,
            earliest=earliest,
        )
    return None


def check_removal_after_suspension(
    *, suspended_on: dt.date, on: dt.date, r: rulebook.RuleVersion
) -> Violation | None:
    """Removal as having left (除名) of a suspended member who stayed unreachable for 2 years."""
    earliest = add_months(suspended_on, 12 * int(r["lost_contact_removal_years"]))
    if on < earliest:
        return Violation(
            code="suspension_too_short",
            article=r["articles"]["lost_contact"],
            message=_(
                "The membership was suspended on %(date)s: removal for lost contact is possible from "
                "%(earliest)s (%(article)s)."
            )
            % {"date": suspended_on, "earliest": earliest, "article": r["articles"]["lost_contact"]},
            rule_ref=r.ref,
            earliest=earliest,
        )
    return None


def check_inactive(*, inactive_since: dt.date, on: dt.date, r: rulebook.RuleVersion) -> Violation | None:
    """党章 第九条: a proposal to treat a member as having left needs 6 consecutive months of inactivity."""
    earliest = add_months(inactive_since, int(r["inactive_months"]))
    if on < earliest:
        return Violation(
            code="inactive_too_short",
            article=r["articles"]["inactive"],
            message=_(
                "Inactive since %(since)s: the proposal is possible after %(months)s consecutive months, "
                "from %(earliest)s (%(article)s)."
            )
            % {
                "since": inactive_since,
                "months": r["inactive_months"],
                "earliest": earliest,
                "article": r["articles"]["inactive"],
            },
            rule_ref=r.ref,
            earliest=earliest,
        )
    return None


def fixed_place_due(start: dt.date, r: rulebook.RuleVersion) -> dt.date:
    """The day a flowing member away at a fixed place since ``start`` must transfer the relation."""
    return add_months(start, int(r["fixed_place_months"]))


def flow_report_due(start: dt.date, last_report: dt.date | None, r: rulebook.RuleVersion) -> dt.date:
    """The last day of a flowing member's next report to the home organisation: ``flow_report_interval_months``
    (12) after the latest report, or after the certificate's start when none was made yet (confidence S)."""
    return add_months(last_report or start, int(r["flow_report_interval_months"]))


def rules_for_orgs(on: dt.date, orgs: Any) -> dict[int, rulebook.RuleVersion]:
    """``rule_for(on, org)`` for many organisations at once, keyed by org id: one query for the local
    overrides of the rule (there are few), instead of one per organisation of a list."""
    from dangjian.core.models import RuleOverride

    base = rule_for(on)
    rows = list(RuleOverride.objects.filter(key=RULE_KEY).select_related("org", "created_by"))
    result: dict[int, rulebook.RuleVersion] = {}
    for org in orgs:
        if org.pk not in result:
            mine = [row for row in rows if org.path.startswith(row.org.path)]
            layers = rulebook.active_layers(mine, RULE_KEY, on) if mine else []
            result[org.pk] = rulebook.apply_layers(base, layers) if layers else base
    return result
