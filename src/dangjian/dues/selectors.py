"""Reads of dues: a member's year, arrears, the collection summary of a subtree, the remittance trail.

Every function takes the ``actor`` and answers only within their scope: an organisation or a member the
actor may not see is ``Http404``, the same as a missing one. Reports over a subtree are aggregate
queries (the summary is benchmarked at 100,000 members against raw SQL): nothing loops over members in
Python, only over the small grouped answers.

A month counts as owed (arrears) once it has ended: on 2 March, February's unpaid bill is owed, March's
is simply due.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.db.models import Count, DecimalField, F, Q, QuerySet, Sum, Value
from django.db.models.functions import Coalesce, Least, Substr
from django.http import Http404
from django.utils import timezone

from dangjian.core.scoping import can, path_prefix_q
from dangjian.dues import rules
from dangjian.dues.models import (
    BillStatus,
    DuesBill,
    DuesDeclaration,
    DuesPayment,
    DuesReduction,
    DuesRemittance,
)
from dangjian.members.choices import CURRENT_STATUSES, DuesCategory
from dangjian.members.models import Member
from dangjian.orgs.models import Organization

ZERO = Decimal("0.00")
OPEN_STATUSES = (BillStatus.OPEN, BillStatus.PART_PAID)
_MONEY = DecimalField(max_digits=16, decimal_places=2)


def _money(expr: Any, **kw: Any) -> Any:
    return Coalesce(Sum(expr, output_field=_MONEY, **kw), Value(ZERO), output_field=_MONEY)


def _cents(value: Any) -> Decimal:
    return Decimal(value or 0).quantize(Decimal("0.01"))


def collection_rate(paid: Decimal, due: Decimal) -> Decimal | None:
    """Paid ÷ due, to four decimals (0.9512 = 95.12%); None when nothing was due."""
    if not due:
        return None
    return (Decimal(paid) / Decimal(due)).quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP)


def ensure_org_visible(actor: Any, org: Organization) -> None:
    """Reports need the subtree: a role that sees the organisation and everything below it."""
    if not can(actor, "view", org):
        raise Http404


def ensure_member_visible(actor: Any, member: Member) -> None:
    if not Member.objects.restrict(actor, "view").filter(pk=member.pk).exists():
        raise Http404


# ── lists ─────────────────────────────────────────────────────────────────────────────────────────


def bills_for(
    *,
    actor: Any,
    member: Any = None,
    org: Organization | None = None,
    year: int | None = None,
    month: dt.date | None = None,
    status: str | None = None,
) -> QuerySet[DuesBill]:
    """The bills the actor may see, filtered (a member: their own; ``org``: collected in its subtree or
    of its members), oldest month first."""
    qs = DuesBill.objects.restrict(actor, "view").select_related("member", "org", "reduction")
    if member is not None:
        qs = qs.filter(member=member)
    if org is not None:
        qs = qs.filter(path_prefix_q("org_path", org.path) | path_prefix_q("member__org_path", org.path))
    if year is not None:
        qs = qs.filter(month__gte=dt.date(year, 1, 1), month__lte=dt.date(year, 12, 1))
    if month is not None:
        qs = qs.filter(month=rules.month_start(month))
    if status:
        qs = qs.filter(status=status)
    return qs.order_by("month", "member_id")


def declarations_for(
    *, actor: Any, member: Any = None, org: Organization | None = None
) -> QuerySet[DuesDeclaration]:
    qs = DuesDeclaration.objects.restrict(actor, "view").select_related("member", "declared_by")
    if member is not None:
        qs = qs.filter(member=member)
    if org is not None:
        qs = qs.filter(path_prefix_q("member__org_path", org.path))
    return qs.order_by("member_id", "-effective_month", "-id")


def members_needing_declaration(*, actor: Any, org: Organization, month: dt.date) -> QuerySet[Member]:
    """Current members of the subtree who owe dues for ``month`` and whose amount cannot be computed yet:
    a base category (or a farmer) with no declaration in effect by that month."""
    ensure_org_visible(actor, org)
    month = rules.month_start(month)
    r = rules.rule_for(month, org)
    categories = [c for c in rules.CATEGORIES if rules.needs_declaration(c, r)]
    return (
        Member.objects.filter(
            path_prefix_q("org_path", org.path),
            status__in=CURRENT_STATUSES,
            join_date__lt=rules.add_months(month, 1),
            dues_category__in=categories,
        )
        .exclude(dues_declarations__effective_month__lte=month)
        .select_related("org")
        .order_by("org_path", "name", "id")
    )


# ── one member ────────────────────────────────────────────────────────────────────────────────────


def member_dues(*, actor: Any, member: Member, year: int, today: dt.date | None = None) -> dict[str, Any]:
    """A member's dues for a year, as the member's phone and the annual statement show them: the bills,
    the payments, what is owed (any year), the declaration in effect and how the amount is computed."""
    ensure_member_visible(actor, member)
    today = today or timezone.localdate()
    bills = list(
        DuesBill.objects.filter(
            member=member, month__gte=dt.date(year, 1, 1), month__lte=dt.date(year, 12, 1)
        )
        .select_related("org", "reduction", "declaration")
        .order_by("month")
    )
    payments = list(
        DuesPayment.objects.filter(member=member)
        .filter(
            Q(paid_on__gte=dt.date(year, 1, 1), paid_on__lte=dt.date(year, 12, 31))
            | Q(months__bill__month__gte=dt.date(year, 1, 1), months__bill__month__lte=dt.date(year, 12, 1))
        )
        .distinct()
        .select_related("org")
        .prefetch_related("months__bill")
        .order_by("paid_on", "id")
    )
    owed_bills = list(
        DuesBill.objects.filter(
            member=member, status__in=OPEN_STATUSES, month__lte=rules.month_start(today)
        ).order_by("month")
    )
    declarations = list(member.dues_declarations.order_by("effective_month", "id"))
    r = rules.rule_for(today, member.org)
    current = rules.effective_declaration(declarations, today, fix_for_year=bool(r["fix_for_year"]))
    category = current.category if current is not None else member.dues_category
    computed = None
    if current is not None or not rules.needs_declaration(category, r):
        try:
            computed = rules.amount_for(
                r,
                category=category,
                base=current.base if current is not None else None,
                chosen_amount=current.chosen_amount if current is not None else None,
                social_insurance=current.social_insurance if current is not None else None,
            )
        except rules.DuesRuleError:
            computed = None
    due = sum((b.amount for b in bills if b.status != BillStatus.WAIVED), ZERO)
    paid = sum((b.paid_amount for b in bills), ZERO)
    return {
        "member": member,
        "year": year,
        "bills": bills,
        "payments": payments,
        "due": due,
        "paid": paid,
        "outstanding": sum((b.outstanding for b in bills), ZERO),
        "extra": sum((p.extra_amount for p in payments if p.status == DuesPayment.Status.BOOKED), ZERO),
        "owed": sum((b.outstanding for b in owed_bills), ZERO),
        "owed_months": [b.month for b in owed_bills],
        "declaration": current,
        "category": category,
        "computed": computed,
        "needs_declaration": computed is None,
        "standard": rules.band_table(r),
        "rule": r,
    }


# ── arrears ───────────────────────────────────────────────────────────────────────────────────────


def _arrears_rows(bill_filter: Q, on: dt.date) -> dict[int, dict[str, Any]]:
    """Owed months and amounts per member for the bills matching ``bill_filter`` (months ended by ``on``)."""
    rows: dict[int, dict[str, Any]] = {}
    qs = (
        DuesBill.objects.filter(
            bill_filter,
            status__in=OPEN_STATUSES,
            month__lt=rules.month_start(on),
            amount__gt=F("paid_amount"),  # a bill with nothing left to pay (0.00) is not owed
        )
        .order_by("member_id", "month")
        .values_list("member_id", "month", "amount", "paid_amount")
    )
    for member_id, month, amount, paid in qs.iterator(chunk_size=5000):
        row = rows.setdefault(member_id, {"months": [], "amount": ZERO})
        row["months"].append(month)
        row["amount"] += max(amount - paid, ZERO)
    return rows


def _reduced_members(member_ids: list[int]) -> dict[int, list[tuple[dt.date, dt.date]]]:
    periods: dict[int, list[tuple[dt.date, dt.date]]] = defaultdict(list)
    for member_id, start, end in DuesReduction.objects.filter(
        member_id__in=member_ids, status=DuesReduction.Status.APPROVED
    ).values_list("member_id", "start_month", "end_month"):
        periods[member_id].append((start, end))
    return periods


def arrears(
    *, actor: Any, org: Organization, on: dt.date | None = None, min_months: int = 1
) -> list[dict[str, Any]]:
    """Members of the subtree (or paying in it) who owe dues on ``on``: the months owed, the longest run
    of consecutive months owed (``consecutive``), the amount, whether an approved hardship reduction
    covers any of those months (``reduction``) and the longest run of owed months no reduction covers
    (``unexcused``: what 党章 第九条 counts — a month under a reduction has a proper reason and breaks the
    run, the other months still count). Only bills with something left to pay are owed. Longest runs
    first."""
    ensure_org_visible(actor, org)
    on = on or timezone.localdate()
    found = _arrears_rows(
        path_prefix_q("org_path", org.path) | path_prefix_q("member__org_path", org.path), on
    )
    found = {k: v for k, v in found.items() if len(v["months"]) >= min_months}
    if not found:
        return []
    members = {m.pk: m for m in Member.objects.filter(pk__in=list(found)).select_related("org")}
    reductions = _reduced_members(list(found))
    result = []
    for member_id, row in found.items():
        months = row["months"]
        periods = reductions.get(member_id, ())
        uncovered = [m for m in months if not any(start <= m <= end for start, end in periods)]
        result.append(
            {
                "member": members[member_id],
                "months": months,
                "months_owed": len(months),
                "consecutive": rules.longest_run(months),
                "amount": row["amount"],
                "since": months[0],
                "reduction": len(uncovered) < len(months),
                "unexcused": rules.longest_run(uncovered),
            }
        )
    result.sort(key=lambda r: (-r["consecutive"], -r["months_owed"], r["member"].org_path, r["member"].name))
    return result


# ── the collection summary of a subtree ───────────────────────────────────────────────────────────

_COUNTS = ("bills", "paid_bills", "open_bills", "waived", "members", "members_owing")
_SUMS = ("due", "paid", "outstanding", "overpaid")


def _measures(*, distinct_members: bool) -> dict[str, Any]:
    """The aggregates of a group of bills. Within one month a member has one bill, so members are
    counted as bills there; over several months they are counted distinct."""
    open_q = Q(status__in=OPEN_STATUSES)
    measures: dict[str, Any] = {
        "bills": Count("id"),
        "paid_bills": Count("id", filter=Q(status=BillStatus.PAID)),
        "open_bills": Count("id", filter=open_q),
        "waived": Count("id", filter=Q(status=BillStatus.WAIVED)),
        "due": _money("amount", filter=~Q(status=BillStatus.WAIVED)),
        # Paid towards what was due, bill by bill: never more than the bill (a rate above 100% would
        # hide arrears elsewhere). Anything paid beyond a bill (data from before reductions kept paid
        # amounts, or entered by hand) is shown apart as ``overpaid``.
        "paid": _money(Least(F("paid_amount"), F("amount"))),
        "overpaid": _money(F("paid_amount") - F("amount"), filter=Q(paid_amount__gt=F("amount"))),
        "outstanding": _money(F("amount") - F("paid_amount"), filter=open_q & Q(amount__gt=F("paid_amount"))),
    }
    if distinct_members:
        measures.update(_member_counts())
    return measures


def _member_counts() -> dict[str, Any]:
    open_q = Q(status__in=OPEN_STATUSES)
    return {
        "members": Count("member_id", distinct=True),
        "members_owing": Count("member_id", distinct=True, filter=open_q),
    }


def _summary_row(values: dict[str, Any] | None) -> dict[str, Any]:
    values = values or {}
    row: dict[str, Any] = {k: int(values.get(k) or 0) for k in _COUNTS}
    if "members" not in values:  # one month: one bill per member
        row["members"], row["members_owing"] = row["bills"], row["open_bills"]
    row.update({k: _cents(values.get(k)) for k in _SUMS})
    row["collection_rate"] = collection_rate(row["paid"], row["due"])
    return row


def _add(target: dict[str, Any], values: dict[str, Any]) -> None:
    for k, v in values.items():
        if k in _COUNTS or k in _SUMS:
            target[k] = target.get(k, 0) + (v or 0)


def summary(
    *, actor: Any, org: Organization, period_start: dt.date, period_end: dt.date | None = None
) -> dict[str, Any]:
    """Dues of ``org``'s subtree for the months from ``period_start`` to ``period_end`` (one month when
    omitted): due, paid, outstanding and the collection rate (paid ÷ due), in total, by child organisation
    (``by_org``: one level down; bills collected by ``org`` itself are its own row, ``own``) and by
    category, plus the voluntary extra dues paid in the period.

    Aggregate queries only, whatever the size of the subtree: one grouped query (by child and category)
    and one over the payments, plus, over several months, one counting the members distinct for the
    total. (Within one month a member has one bill, so members are bills. Over several months a row counts
    a member once per category: one who retired within the period counts under both categories, and in
    their organisation's row twice; the total counts everyone once.) Bills count where they are
    collected (a flowing member paying at the host counts there). ``due`` leaves out waived bills;
    ``paid`` counts at most each bill's amount, so the collection rate never exceeds 100%, and anything
    paid beyond a bill is ``overpaid``; ``outstanding`` is what open and partly paid bills still lack.
    """
    ensure_org_visible(actor, org)
    start = rules.month_start(period_start)
    end = rules.month_start(period_end or period_start)
    if end < start:
        start, end = end, start
    bills = DuesBill.objects.filter(path_prefix_q("org_path", org.path), month__gte=start, month__lte=end)
    child = Substr("org_path", 1, len(org.path) + Organization.steplen)
    by_child: dict[str, dict[str, Any]] = {}
    by_category: dict[str, dict[str, Any]] = {}
    total: dict[str, Any] = {}
    several = start != end
    grouped = (
        bills.annotate(child=child)
        .values("child", "category")
        .annotate(**_measures(distinct_members=several))
    )
    for row in grouped.order_by():
        for target in (
            by_child.setdefault(row["child"], {}),
            by_category.setdefault(row["category"], {}),
            total,
        ):
            _add(target, row)
    if several:  # the total counts each member once, whatever their organisation or category
        total.update(bills.aggregate(**_member_counts()))
    extra = DuesPayment.objects.filter(
        path_prefix_q("org_path", org.path),
        status=DuesPayment.Status.BOOKED,
        paid_on__gte=start,
        paid_on__lt=rules.add_months(end, 1),
    ).aggregate(
        extra=_money("extra_amount"), to_central=_money("extra_amount", filter=Q(extra_to_central=True))
    )

    by_org = []
    own = by_child.pop(org.path, None)
    if own:
        by_org.append({"org": org, "name": org.name, "own": True, **_summary_row(own)})
    for sub in Organization.objects.filter(path_prefix_q("path", org.path), depth=org.depth + 1).order_by(
        "path"
    ):
        by_org.append(
            {"org": sub, "name": sub.name, "own": False, **_summary_row(by_child.pop(sub.path, None))}
        )
    for path, values in sorted(by_child.items()):  # collected by an organisation moved away since
        by_org.append({"org": None, "name": path, "own": False, **_summary_row(values)})
    categories = [
        {"category": value, "name": str(label), **_summary_row(by_category[value])}
        for value, label in DuesCategory.choices
        if value in by_category
    ]
    return {
        "org": org,
        "period_start": start,
        "period_end": end,
        **_summary_row(total),
        "extra": _cents(extra["extra"]),
        "extra_to_central": _cents(extra["to_central"]),
        "by_org": by_org,
        "by_category": categories,
    }


# ── remittances ───────────────────────────────────────────────────────────────────────────────────


def remittance_trail(*, actor: Any, org: Organization, year: int) -> list[dict[str, Any]]:
    """What ``org`` and every organisation below it passed up in ``year`` (periods starting in the year),
    top to bottom: each remittance with its depth below ``org`` (0: the organisation's own, to its parent)."""
    ensure_org_visible(actor, org)
    qs = (
        DuesRemittance.objects.filter(
            path_prefix_q("from_org_path", org.path),
            period_start__gte=dt.date(year, 1, 1),
            period_start__lte=dt.date(year, 12, 31),
        )
        .select_related("from_org", "to_org", "recorded_by", "confirmed_by")
        .order_by("from_org_path", "period_start", "id")
    )
    step = Organization.steplen
    return [
        {
            "remittance": r,
            "depth": (len(r.from_org_path) - len(org.path)) // step,
            "from_org": r.from_org,
            "to_org": r.to_org,
            "amount": r.amount,
            "status": r.status,
        }
        for r in qs
    ]


def member_paid_up_to(member: Member) -> dt.date | None:
    """The last month up to which ``member`` has settled every bill (paid or waived), or None when the
    first bill is still open or there are no bills. For the introduction letter of a transfer
    ("党费已交到…"), read by transfers.services; not scoped (the caller has checked the member)."""
    bills = DuesBill.objects.filter(member=member)
    first_open = (
        bills.filter(status__in=(BillStatus.OPEN, BillStatus.PART_PAID))
        .order_by("month")
        .values_list("month", flat=True)
        .first()
    )
    if first_open is not None:
        settled = (
            bills.filter(month__lt=first_open).order_by("-month").values_list("month", flat=True).first()
        )
        return settled
    return bills.order_by("-month").values_list("month", flat=True).first()
