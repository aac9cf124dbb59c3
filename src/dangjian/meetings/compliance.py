"""Compliance of organization life (三会一课): for every branch and period, each required kind held, not
yet held, missed, or not required (支部工作条例 第十四条至第十六条, RULES.md §3).

``compliance_table(actor, org, year)`` answers for the branches (and joint branches) of ``org``'s subtree
that the actor may see; ``branch_compliance(org, year)`` for one branch (no actor: for indices and
reports that already hold the branch). Both read the same engine:

- which kinds a branch must hold, and how often, is ``rules.required_kinds`` under the rule version in
  force at the **start of each period** for that branch (national version with the local overrides of
  the branch's ancestors: ``party_lecture_period`` is local practice and overridable). A revision in the
  middle of a year changes the periods from the next period on; the table records the rule reference
  of the year, and each cell judged by another version carries its own.
- a branch has a committee in a period when a committee term of it was in office during the period with
  an elected committee, i.e. a position besides secretary and deputy secretary (支部工作条例 第十条:
  below 7 full members a branch has a secretary, and optionally a deputy, not a committee);
- group meetings (党小组会) are held by the party groups: the branch's cell is held when **every** group
  in existence during the period held one; the cell counts the groups that met;
- a meeting counts when its status is ``held`` and its ``date`` is in the period;
- ``not_yet``: the period has not closed (its last day is today or later); ``missed``: closed without;
  ``not_required``: the kind is not required of the branch in that period, or the branch was founded
  after the period or dissolved before the period's last day (it could not finish the period).

The whole subtree is computed with a fixed number of queries, whatever its size: the branches, their
groups, their committee terms, one aggregate of held meetings grouped by organisation, kind and month,
and the local overrides of the rule. Nothing is read per branch.
"""

from __future__ import annotations

import datetime as dt
import gc
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import connections
from django.db.models import Count, Q
from django.db.models.functions import ExtractMonth
from django.utils import timezone
from django.utils.translation import gettext as _

from dangjian.core import rulebook
from dangjian.core.scoping import can, path_prefix_q
from dangjian.meetings import rules
from dangjian.meetings.models import Meeting, MeetingKind, MeetingStatus
from dangjian.orgs.models import BRANCH_TYPES, CommitteePosition, CommitteeTerm, Organization, OrgType

RULE_KEY = "meetings"
HELD, NOT_YET, MISSED, NOT_REQUIRED = "held", "not_yet", "missed", "not_required"
STATUSES = (HELD, NOT_YET, MISSED, NOT_REQUIRED)
OFFICER_TITLES = (CommitteePosition.Title.SECRETARY, CommitteePosition.Title.DEPUTY_SECRETARY)
MIN_YEAR, MAX_YEAR = 2000, 2100


def status_labels() -> dict[str, str]:
    return {
        HELD: _("Held"),
        NOT_YET: _("Not yet held"),
        MISSED: _("Missed"),
        NOT_REQUIRED: _("Not required"),
    }


def kind_labels() -> dict[str, str]:
    return {k.value: str(k.label) for k in MeetingKind}


@dataclass(slots=True)
class Cell:
    """One branch × kind × period."""

    kind: str
    period: rules.Period
    status: str
    count: int = 0  # meetings held in the period; for group meetings: groups that met
    needed: int = 1  # for group meetings: groups that should have met
    rule_ref: str = ""  # the version that judged the cell, when it is not the table's
    current: bool = False  # the period contains the reference day
    closing_soon: bool = False  # not yet held and the period ends within warn_days_before_period_end

    @property
    def future(self) -> bool:
        return self.status == NOT_YET and not self.current

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "period": self.period.label,
            "start": self.period.start.isoformat(),
            "end": self.period.end.isoformat(),
            "status": self.status,
            "count": self.count,
            "needed": self.needed,
            "closing_soon": self.closing_soon,
            "rule_ref": self.rule_ref or None,
        }


@dataclass
class BranchRow:
    """One branch of the table: its cells per kind, in period order."""

    branch: Organization
    cells: dict[str, list[Cell]] = field(default_factory=dict)

    def statuses(self, kind: str | None = None) -> dict[str, int]:
        """How many cells have each status (of one kind, or of all)."""
        counts = dict.fromkeys(STATUSES, 0)
        for k, cells in self.cells.items():
            if kind is None or k == kind:
                for c in cells:
                    counts[c.status] += 1
        return counts

    @property
    def missed(self) -> int:
        return sum(1 for cells in self.cells.values() for c in cells if c.status == MISSED)

    def cell(self, kind: str, day: dt.date) -> Cell | None:
        """The cell of ``kind`` whose period contains ``day``."""
        for c in self.cells.get(kind, ()):
            if day in c.period:
                return c
        return None


@dataclass
class KindSummary:
    """How a kind stands over the table: held of the periods due so far (closed or already held)."""

    kind: str
    held: int = 0
    missed: int = 0
    not_yet: int = 0
    not_required: int = 0

    @property
    def required(self) -> int:
        return self.held + self.missed + self.not_yet

    @property
    def due(self) -> int:
        return self.held + self.missed

    @property
    def rate(self) -> float | None:
        """Held as a percentage of the periods due (held, or closed without): None when none is due."""
        return round(100 * self.held / self.due, 1) if self.due else None

    @property
    def year_rate(self) -> float | None:
        """Held as a percentage of every required period of the year (those not yet closed included)."""
        return round(100 * self.held / self.required, 1) if self.required else None

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "held": self.held,
            "missed": self.missed,
            "not_yet": self.not_yet,
            "not_required": self.not_required,
            "required": self.required,
            "due": self.due,
            "rate": self.rate,
            "year_rate": self.year_rate,
        }


@dataclass
class ComplianceTable:
    org: Organization
    year: int
    on: dt.date  # the reference day: periods ending before it are closed
    rule_ref: str
    rows: list[BranchRow]
    kinds: list[str]  # the kinds required of at least one branch, in table order
    summary: dict[str, KindSummary]
    rule_refs: list[str] = field(default_factory=list)  # every version that judged a cell

    def periods_of(self, kind: str) -> list[rules.Period]:
        """The columns of one kind: the finest period any branch uses for it (months when a local rule
        asks some branch for monthly lectures), so that coarser cells span several columns."""
        found: set[str] = set()
        for row in self.rows:
            for c in row.cells.get(kind, ()):
                if c.status != NOT_REQUIRED or c.period.kind != rules.MONTH:
                    found.add(c.period.kind)
        for p in rules.PERIODS:
            if p in found:
                return rules.periods_in_year(self.year, p)
        return rules.periods_in_year(self.year, rules.MONTH)

    def as_dict(self) -> dict[str, Any]:
        return {
            "org": {"id": self.org.pk, "name": self.org.name},
            "year": self.year,
            "on": self.on.isoformat(),
            "rule_ref": self.rule_ref,
            "rule_refs": self.rule_refs,
            "kinds": self.kinds,
            "rows": [
                {
                    "branch": {"id": r.branch.pk, "name": r.branch.name, "org_type": r.branch.org_type},
                    "cells": {kind: [c.as_dict() for c in cells] for kind, cells in r.cells.items()},
                }
                for r in self.rows
            ],
            "summary": {kind: s.as_dict() for kind, s in self.summary.items()},
        }


# --- the engine ----------------------------------------------------------------------------------------


def _first_effective() -> dt.date:
    return rulebook.versions(RULE_KEY)[0].effective_from


class _Rules:
    """The meetings rule for a branch on a date: the national version with the local overrides of the
    branch's ancestors, from one query of overrides (there are few), cached per set of overrides."""

    def __init__(self) -> None:
        from dangjian.core.models import RuleOverride

        self.rows = list(RuleOverride.objects.filter(key=RULE_KEY).select_related("org"))
        self.first = _first_effective()
        self.cache: dict[tuple[tuple[int, ...], dt.date], rulebook.RuleVersion] = {}

    def context(self, org: Organization) -> tuple[int, ...]:
        return tuple(r.pk for r in self.rows if org.path.startswith(r.org.path))

    def at(self, ctx: tuple[int, ...], on: dt.date) -> rulebook.RuleVersion:
        on = max(on, self.first)  # before 2018 the first version is the best statement of the rule
        key = (ctx, on)
        hit = self.cache.get(key)
        if hit is None:
            base = rulebook.national_rule(RULE_KEY, on)
            if ctx:
                mine = [r for r in self.rows if r.pk in ctx]
                layers = rulebook.active_layers(mine, RULE_KEY, on)
                hit = rulebook.apply_layers(base, layers) if layers else base
            else:
                hit = base
            self.cache[key] = hit
        return hit


@dataclass(frozen=True)
class _Span:
    start: dt.date
    end: dt.date | None  # None: still in office / in existence

    def overlaps(self, period: rules.Period) -> bool:
        return self.start <= period.end and (self.end is None or self.end >= period.start)


def _alive_q(prefix: str, first: dt.date, last: dt.date) -> Q:
    """Organisations in existence at some time between ``first`` and ``last``."""
    return (Q(**{f"{prefix}founded_on__isnull": True}) | Q(**{f"{prefix}founded_on__lte": last})) & (
        Q(**{f"{prefix}dissolved_on__isnull": True}, **{f"{prefix}status": "active"})
        | Q(**{f"{prefix}dissolved_on__gte": first})
    )


@dataclass(frozen=True, slots=True)
class _Entry:
    """One period of one kind in a schedule, with what can be said of it before looking at a branch."""

    kind: str
    period: rules.Period
    version: rulebook.RuleVersion
    ref: str
    first_month: int
    last_month: int  # inclusive
    current: bool
    closed: bool
    closing_soon: bool  # if not held: the period is open and ends within the warning days


def _schedule(rulebook_for: _Rules, ctx: tuple[int, ...], year: int, on: dt.date) -> list[_Entry]:
    """For one set of local overrides: every period of every kind of the year, walking each kind from
    1 January period by period under the version in force at the period's start. A kind no version asks
    for gets monthly cells (not required)."""
    full = rules.OrgFacts(org_type=OrgType.BRANCH, has_committee=True, groups=1)
    out: list[_Entry] = []
    year_end = dt.date(year, 12, 31)
    for kind in rules.BRANCH_KINDS:
        day = dt.date(year, 1, 1)
        while day <= year_end:
            version = rulebook_for.at(ctx, day)
            length = rules.required_kinds(version, full).get(kind)
            period = rules.period_of(day, length or rules.MONTH)
            # A period is counted from its own first day: a version that takes effect within a period
            # starts with the next one.
            if period.start != day:
                period = rules.Period(day, period.end, period.label)
            current = period.start <= on <= period.end
            out.append(
                _Entry(
                    kind=kind,
                    period=period,
                    version=version,
                    ref=version.ref,
                    first_month=period.start.month,
                    last_month=period.end.month,
                    current=current,
                    closed=period.end < on,
                    closing_soon=current
                    and period.days_left(on) <= int(version["warn_days_before_period_end"]),
                )
            )
            day = period.end + dt.timedelta(days=1)
    return out


def _month_expression() -> Any:
    """The month of ``Meeting.date`` in SQL. Django's ExtractMonth runs a Python function per row on
    SQLite; strftime is SQLite's own."""
    from django.db.models import F, Func, IntegerField, Value
    from django.db.models.functions import Cast

    if connections[Meeting.objects.db].vendor == "sqlite":
        return Cast(Func(Value("%m"), F("date"), function="strftime"), IntegerField())
    return ExtractMonth("date")


def _compute(
    branches: list[Organization], year: int, on: dt.date, *, root_path: str | None
) -> tuple[list[BranchRow], list[rulebook.RuleVersion]]:
    if not branches:
        return [], []
    first, last = dt.date(year, 1, 1), dt.date(year, 12, 31)
    step = Organization.steplen
    branch_ids = {b.pk for b in branches}
    by_path = {b.path: b for b in branches}

    def scoped(field_name: str) -> Q:
        return path_prefix_q(field_name, root_path) if root_path else Q()

    # 1. party groups of these branches in existence during the year.
    groups: dict[int, list[tuple[int, _Span]]] = defaultdict(list)
    for gid, gpath, founded, dissolved in (
        Organization.objects.filter(scoped("path"), _alive_q("", first, last), org_type=OrgType.GROUP)
        .values_list("pk", "path", "founded_on", "dissolved_on")
        .order_by()
    ):
        parent = by_path.get(gpath[:-step])
        if parent is not None:
            groups[parent.pk].append((gid, _Span(founded or dt.date.min, dissolved)))

    # 2. committee terms with an elected committee (a position besides secretary and deputy).
    terms: dict[int, list[_Span]] = defaultdict(list)
    for org_id, start, end, elected in (
        CommitteeTerm.objects.filter(
            scoped("org__path"), start_date__lte=last, org__org_type__in=BRANCH_TYPES
        )
        .filter(Q(end_date__isnull=True) | Q(end_date__gte=first))
        .annotate(elected=Count("positions", filter=~Q(positions__title__in=OFFICER_TITLES)))
        .values_list("org_id", "start_date", "end_date", "elected")
        .order_by()
    ):
        if org_id in branch_ids and elected:
            terms[org_id].append(_Span(start, end))

    # 3. held meetings, grouped by organisation, kind and month (Meeting.date, the local date):
    #    (org, kind) → meetings per month (index 1–12).
    held: dict[tuple[int, str], list[int]] = {}
    aggregate = (
        Meeting.objects.filter(
            scoped("org__path"),
            status=MeetingStatus.HELD,
            date__gte=first,
            date__lte=last,
            kind__in=rules.BRANCH_KINDS,
        )
        .annotate(month=_month_expression())
        .values("org_id", "kind", "month")
        .annotate(n=Count("id"))
        .values_list("org_id", "kind", "month", "n")
        .order_by()
    )
    # Read with a plain cursor: tens of thousands of small rows, no model and no converter needed.
    sql, params = aggregate.query.sql_with_params()
    with connections[aggregate.db].cursor() as cursor:
        cursor.execute(sql, params)
        found = cursor.fetchall()
    for org_id, kind, month, n in found:
        months = held.get((org_id, kind))
        if months is None:
            months = held[(org_id, kind)] = [0] * 13
        months[int(month)] += n

    # 4. the rule: overrides read once, versions cached per set of overrides and date.
    rulebook_for = _Rules()
    schedules: dict[tuple[int, ...], list[_Entry]] = {}
    required_memo: dict[tuple[int, bool, bool], dict[str, str]] = {}
    versions: dict[str, rulebook.RuleVersion] = {}
    no_months = [0] * 13
    group_kind = MeetingKind.GROUP_MEETING

    required_flags: dict[tuple[tuple[int, ...], bool, bool], list[bool]] = {}

    def required(entry: _Entry, org_type: str, has_committee: bool, has_groups: bool) -> bool:
        key = (id(entry.version), has_committee, has_groups)
        found = required_memo.get(key)
        if found is None:
            facts = rules.OrgFacts(org_type=org_type, has_committee=has_committee, groups=int(has_groups))
            found = required_memo[key] = rules.required_kinds(entry.version, facts)
        return entry.kind in found

    rows: list[BranchRow] = []

    def fill() -> None:
        for branch in branches:
            ctx = rulebook_for.context(branch)
            schedule = schedules.get(ctx)
            if schedule is None:
                schedule = schedules[ctx] = _schedule(rulebook_for, ctx, year, on)
                for entry in schedule:
                    versions[entry.ref] = entry.version
            my_groups = groups.get(branch.pk, ())
            my_terms = terms.get(branch.pk, ())
            founded, dissolved = branch.founded_on, branch.dissolved_on
            whole_year = (founded is None or founded <= first) and (dissolved is None or dissolved >= last)
            # The usual case: committee and groups the same all year → one list of flags per schedule.
            committee_const = not my_terms or any(
                t.start <= first and (t.end is None or t.end >= last) for t in my_terms
            )
            groups_const = all(
                span.start <= first and (span.end is None or span.end >= last) for _g, span in my_groups
            )
            flags = None
            if whole_year and committee_const and groups_const:
                flag_key = (ctx, bool(my_terms), bool(my_groups))
                flags = required_flags.get(flag_key)
                if flags is None:
                    flags = required_flags[flag_key] = [
                        required(e, branch.org_type, bool(my_terms), bool(my_groups)) for e in schedule
                    ]
            cells: dict[str, list[Cell]] = {kind: [] for kind in rules.BRANCH_KINDS}
            for i, e in enumerate(schedule):
                period = e.period
                cell = Cell(e.kind, period, NOT_REQUIRED, 0, 1, e.ref, e.current, False)
                cells[e.kind].append(cell)
                if flags is not None:
                    if not flags[i]:
                        continue
                    live_groups = [gid for gid, _span in my_groups]
                else:
                    # A branch dissolved before a period ends is not judged on it: it could not finish
                    # it (a yearly organization life meeting of a branch dissolved in February, an alert
                    # about a quarter the branch will not see close).
                    if not (founded is None or founded <= period.end) or not (
                        dissolved is None or dissolved >= period.end
                    ):
                        continue
                    has_committee = any(t.overlaps(period) for t in my_terms)
                    live_groups = [gid for gid, span in my_groups if span.overlaps(period)]
                    if not required(e, branch.org_type, has_committee, bool(live_groups)):
                        continue
                lo, hi = e.first_month, e.last_month + 1
                if e.kind == group_kind:
                    met = sum(1 for gid in live_groups if sum(held.get((gid, group_kind), no_months)[lo:hi]))
                    cell.count, cell.needed = met, len(live_groups)
                    done = met >= len(live_groups)
                else:
                    cell.count = sum(held.get((branch.pk, e.kind), no_months)[lo:hi])
                    done = cell.count > 0
                if done:
                    cell.status = HELD
                elif e.closed:
                    cell.status = MISSED
                else:
                    cell.status = NOT_YET
                    cell.closing_soon = e.closing_soon
            rows.append(BranchRow(branch=branch, cells=cells))

    # Hundreds of thousands of small acyclic objects: the cyclic collector would only re-scan them.
    collecting = gc.isenabled()
    gc.disable()
    try:
        fill()
    finally:
        if collecting:
            gc.enable()
    return rows, list(versions.values())


def _finish(
    org: Organization, year: int, on: dt.date, rows: list[BranchRow], versions: list[rulebook.RuleVersion]
) -> ComplianceTable:
    ref_day = min(max(on, dt.date(year, 1, 1)), dt.date(year, 12, 31))
    try:
        table_ref = rulebook.rule(RULE_KEY, on=max(ref_day, _first_effective()), org=org).ref
    except rulebook.RuleNotFound:  # pragma: no cover - the rule file ships a version from 2018
        table_ref = ""
    summary: dict[str, KindSummary] = {k: KindSummary(k) for k in rules.BRANCH_KINDS}
    used: set[str] = set()
    for row in rows:
        for kind, cells in row.cells.items():
            s = summary[kind]
            for c in cells:
                if c.rule_ref == table_ref:
                    c.rule_ref = ""
                else:
                    used.add(c.rule_ref)
                if c.status == HELD:
                    s.held += 1
                elif c.status == MISSED:
                    s.missed += 1
                elif c.status == NOT_YET:
                    s.not_yet += 1
                else:
                    s.not_required += 1
    kinds = [k for k in rules.BRANCH_KINDS if summary[k].required]
    refs = sorted({table_ref, *used} - {""})
    return ComplianceTable(
        org=org,
        year=year,
        on=on,
        rule_ref=table_ref,
        rows=rows,
        kinds=kinds,
        summary={k: summary[k] for k in kinds},
        rule_refs=refs,
    )


def warn_days(org: Organization, on: dt.date) -> int:
    """``warn_days_before_period_end`` for the organisation on a date (the page's legend)."""
    return int(
        rulebook.rule(RULE_KEY, on=max(on, _first_effective()), org=org)["warn_days_before_period_end"]
    )


def check_year(year: Any) -> int:
    """The year as an int within the bounds the tables accept; ValueError with a message otherwise."""
    try:
        value = int(str(year).strip())
    except (TypeError, ValueError):
        raise ValueError(_("Give the year as four digits, e.g. 2025.")) from None
    if not MIN_YEAR <= value <= MAX_YEAR:
        raise ValueError(
            _("The year must be between %(min)s and %(max)s.") % {"min": MIN_YEAR, "max": MAX_YEAR}
        )
    return value


def branches_of(actor: Any, org: Organization, year: int) -> list[Organization]:
    """The branches and joint branches of ``org``'s subtree the actor may see that existed in ``year``,
    in tree order (one query)."""
    first, last = dt.date(year, 1, 1), dt.date(year, 12, 31)
    qs = Organization.objects.filter(path_prefix_q("path", org.path), org_type__in=BRANCH_TYPES).filter(
        _alive_q("", first, last)
    )
    if actor is not None:
        qs = qs.restrict(actor, "view")
    return list(
        qs.only(
            "id", "name", "short_name", "path", "depth", "org_type", "founded_on", "dissolved_on", "status"
        )
    )


def compliance_table(actor: Any, org: Organization, year: int, on: dt.date | None = None) -> ComplianceTable:
    """The compliance of every branch of ``org``'s subtree within the actor's scope for ``year``.

    ``on`` is the reference day (default today): a period ending before it is closed. Raises
    ``PermissionDenied`` when the actor may not view ``org`` (the API and the page answer 404).
    """
    if not can(actor, "view", org):
        raise PermissionDenied(_("This is outside the part of the organisation tree you manage."))
    year = check_year(year)
    on = on or timezone.localdate()
    branches = branches_of(actor, org, year)
    rows, versions = _compute(branches, year, on, root_path=org.path)
    return _finish(org, year, on, rows, versions)


def branch_compliance(org: Organization, year: int, on: dt.date | None = None) -> BranchRow:
    """One branch's cells for ``year`` (no scope check: for callers that already hold the branch, like
    the indices). A branch that did not exist that year, or an organisation that is not a branch, gets a
    row without cells."""
    on = on or timezone.localdate()
    year = check_year(year)
    if org.org_type not in BRANCH_TYPES:
        return BranchRow(branch=org)
    rows, versions = _compute([org], year, on, root_path=org.path)
    table = _finish(org, year, on, rows, versions)
    return table.rows[0] if table.rows else BranchRow(branch=org)


def all_branches_compliance(
    year: int, on: dt.date, branches: Iterable[Organization] | None = None
) -> list[BranchRow]:
    """Every branch of the platform (or the given ones) for ``year``, without scope: for the nightly
    alerts. Rule references are kept on every cell."""
    first, last = dt.date(year, 1, 1), dt.date(year, 12, 31)
    if branches is None:
        branches = Organization.objects.filter(org_type__in=BRANCH_TYPES).filter(_alive_q("", first, last))
    rows, _versions = _compute(list(branches), year, on, root_path=None)
    return rows
