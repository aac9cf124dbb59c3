"""Demo party dues: a year of history for the demo branches, so that every dues page has real content.

``load_dues_demo(on: date) -> int`` (idempotent: does nothing when any declaration exists; returns the
number of rows made). Everything goes through the dues services, as a secretary would record it:

- the members of shuji1's organisation (the committee above the branch: its three branches) and of
  shuji2's branch declare their base (employed and retired members) or their amount (farmers) twelve
  months back; the monthly bills of the year are generated month by month;
- most members pay monthly on the 10th (cash, bank transfer, online), some quarterly, one by proxy, two
  with voluntary extra dues (one of 1000 yuan, passed in full to the centre); the current month is
  about half paid;
- a few members stop paying: some for three months (reminders), a few for seven (the alert); dangyuan1
  owes last month and this month;
- a hardship waiver approved by the branch and the next committee, and one proposal awaiting the branch;
- shuji1's branch allows quarterly payment; its remittances of the first half-year (confirmed) and of
  the third quarter (awaiting confirmation), and the committee's own remittance above it.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.db.models import Sum

from dangjian.accounts.models import RoleAssignment, User
from dangjian.core.scoping import Role
from dangjian.dues import reductions, remittances, rules, services
from dangjian.dues.models import DuesBill, DuesDeclaration, DuesPayment, DuesReduction
from dangjian.dues.payments import payment_record
from dangjian.members.choices import CURRENT_STATUSES, DuesCategory
from dangjian.members.models import Member
from dangjian.orgs.models import Organization

HISTORY_MONTHS = 12
# Monthly pay after tax / pensions, chosen by member id so that a rerun on a fresh city is the same and
# every band (and its edges) appears.
EMPLOYED_BASES = [
    "2800.00",
    "3000.00",
    "3000.01",
    "3650.00",
    "4500.00",
    "5000.00",
    "6200.00",
    "8800.00",
    "10000.00",
    "12600.00",
]
RETIREE_BASES = ["3200.00", "4100.00", "5000.00", "5600.00", "7300.00"]
FARMER_AMOUNTS = ["0.20", "0.50", "1.00"]
METHODS = ["cash", "bank_transfer", "online", "online", "cash"]


def _secretary_branch(username: str) -> Organization | None:
    ra = (
        RoleAssignment.objects.filter(user__username=username, role=Role.SECRETARY, active=True)
        .select_related("org")
        .first()
    )
    return ra.org if ra else None


def _declare(actor: Any, member: Member, start: dt.date, on: dt.date) -> bool:
    category = member.dues_category
    kwargs: dict[str, Any] = {}
    if category in (DuesCategory.EMPLOYED, DuesCategory.OTHER):
        kwargs["base"] = EMPLOYED_BASES[member.pk % len(EMPLOYED_BASES)]
    elif category == DuesCategory.RETIREE:
        kwargs["base"] = RETIREE_BASES[member.pk % len(RETIREE_BASES)]
    elif category == DuesCategory.FARMER:
        kwargs["chosen_amount"] = FARMER_AMOUNTS[member.pk % len(FARMER_AMOUNTS)]
    services.declaration_create(
        actor=actor,
        member=member,
        category=category,
        effective_month=start,
        today=on,
        note="演示数据",
        **kwargs,
    )
    return True


def _pay(actor: Any, member: Member, months: list[dt.date], paid_on: dt.date, i: int, **extra: Any) -> int:
    months = list(
        DuesBill.objects.filter(member=member, month__in=months, status__in=("open", "part_paid"))
        .order_by("month")
        .values_list("month", flat=True)
    )
    if not months:
        return 0
    method = METHODS[(member.pk + i) % len(METHODS)]
    reference = (
        ""
        if method == "cash"
        else f"{'YH' if method == 'bank_transfer' else 'WX'}{paid_on:%Y%m%d}{member.pk:05d}"
    )
    payment_record(
        actor=actor,
        member=member,
        months=months,
        method=method,
        paid_on=paid_on,
        reference=reference,
        recorded_on=paid_on,  # the year of history as it was entered, month by month
        **extra,
    )
    return 1


def load_dues_demo(on: dt.date) -> int:
    if DuesDeclaration.objects.exists():
        return 0
    admin = User.objects.filter(username="admin").first()
    branch1, branch2 = _secretary_branch("shuji1"), _secretary_branch("shuji2")
    if admin is None or branch1 is None:
        return 0
    secretary = User.objects.get(username="shuji1")
    committee = Organization.objects.get_parent(branch1) or branch1
    this_month = rules.month_start(on)
    start = rules.add_months(this_month, -(HISTORY_MONTHS - 1))
    months = rules.months_between(start, this_month)
    made = 0

    # Quarterly payment, with the branch's consent (decided at a general meeting).
    services.org_setting_set(
        actor=secretary, org=branch1, quarterly_allowed=True, decided_on=start, note="支部党员大会讨论同意"
    )
    scopes = [committee] + ([branch2] if branch2 is not None else [])
    members = list(
        Member.objects.filter(status__in=CURRENT_STATUSES)
        .filter(
            org__in=[o for scope in scopes for o in Organization.objects.filter(path__startswith=scope.path)]
        )
        .select_related("org")
        .order_by("org_path", "pk")
    )
    for member in members:
        _declare(admin, member, max(start, rules.month_start(member.join_date)), on)
        made += 1
    for month in months:
        for scope in scopes:
            made += services.bills_generate(month=month, org=scope, actor=admin).created

    # Who pays how: by position in the list (stable for the demo city). dangyuan1 has last month and
    # this month to pay, so that the phone page shows what is owed.
    phone_user = User.objects.filter(username="dangyuan1").values_list("pk", flat=True).first()
    for i, member in enumerate(members):
        stops = None  # the last month this member paid
        if phone_user is not None and member.user_id == phone_user:
            stops = rules.add_months(this_month, -2)
        elif i % 29 == 5:
            stops = rules.add_months(this_month, -8)  # seven ended months unpaid: the alert
        elif i % 17 == 3:
            stops = rules.add_months(this_month, -4)  # three ended months unpaid: a reminder
        quarterly = i % 4 == 1 and member.org_id == branch1.pk
        paid_months = [m for m in months if (stops is None or m <= stops) and m < this_month]
        if quarterly:
            groups: dict[tuple[int, int], list[dt.date]] = {}
            for m in paid_months:
                groups.setdefault((m.year, (m.month - 1) // 3), []).append(m)
            batches = [
                (g, min(rules.add_months(g[-1], 1) + dt.timedelta(days=4), on)) for g in groups.values()
            ]
        else:
            batches = [([m], min(m + dt.timedelta(days=9), on)) for m in paid_months]
        for n, (group, paid_on) in enumerate(batches):
            extra: dict[str, Any] = {}
            if i == 2 and n == len(batches) - 1:
                extra = {"by_proxy": True, "proxy_name": "家属代交"}
            elif i == 7 and n == 3:
                extra = {"extra_amount": Decimal("1000.00")}  # passed in full to the centre
            elif i % 23 == 11 and n == 5:
                extra = {"extra_amount": Decimal("50.00")}
            made += _pay(admin, member, group, paid_on, n, **extra)
        # The current month: about half have paid by now.
        if stops is None and not quarterly and i % 2 == 0:
            made += _pay(admin, member, [this_month], on, 99)

    # Hardship: a waiver through both approvals, and a proposal awaiting the branch.
    in_branch = [m for m in members if m.org_id == branch1.pk]
    manager = User.objects.filter(username="zuzhibu").first() or admin
    if len(in_branch) > 12:
        waived = in_branch[-3]
        reduction = reductions.reduction_propose(
            actor=secretary,
            member=waived,
            kind=DuesReduction.Kind.WAIVE,
            start_month=this_month,
            end_month=rules.add_months(this_month, 5),
            reason="家庭成员重病住院，经济十分困难",
        )
        reductions.reduction_decide(
            actor=secretary, reduction=reduction, approve=True, reason="支部委员会研究同意"
        )
        reductions.reduction_decide(actor=manager, reduction=reduction, approve=True, reason="同意免交半年")
        reductions.reduction_propose(
            actor=secretary,
            member=in_branch[-5],
            kind=DuesReduction.Kind.REDUCE,
            monthly_amount=Decimal("5.00"),
            start_month=this_month,
            end_month=rules.add_months(this_month, 2),
            reason="下岗待业，收入大幅减少",
        )
        made += 2

    # Remittances up the tree: the first half-year confirmed, the third quarter awaiting confirmation.
    def collected(org: Organization, first: dt.date, last: dt.date) -> Decimal:
        total = DuesPayment.objects.filter(
            org=org, status="booked", paid_on__gte=first, paid_on__lt=rules.add_months(last, 1)
        ).aggregate(s=Sum("dues_amount"))["s"]
        return Decimal(total or 0)

    halves = [
        (dt.date(this_month.year, 1, 1), dt.date(this_month.year, 6, 1)),
        (dt.date(this_month.year, 7, 1), dt.date(this_month.year, 9, 1)),
    ]
    for k, (first, last) in enumerate(halves):
        if last >= this_month or first < start:
            continue
        for org, actor, confirmer in ((branch1, secretary, manager),) + (
            ((branch2, User.objects.get(username="shuji2"), manager),) if branch2 is not None else ()
        ):
            amount = collected(org, first, last)
            if amount <= 0:
                continue
            r = remittances.remittance_record(
                actor=actor,
                from_org=org,
                period_start=first,
                period_end=last,
                amount=amount,
                remitted_on=min(rules.add_months(last, 1) + dt.timedelta(days=14), on),
                reference=f"HD{last:%Y%m}{org.pk:04d}",
                note="按期上缴",
            )
            made += 1
            if k == 0:
                remittances.remittance_confirm(actor=confirmer, remittance=r)
                if (
                    org == branch1
                    and committee != branch1
                    and Organization.objects.get_parent(committee) is not None
                ):
                    up = remittances.remittance_record(
                        actor=manager,
                        from_org=committee,
                        period_start=first,
                        period_end=last,
                        amount=amount,
                        remitted_on=min(rules.add_months(last, 1) + dt.timedelta(days=24), on),
                        reference=f"HD{last:%Y%m}{committee.pk:04d}",
                    )
                    remittances.remittance_confirm(actor=admin, remittance=up)
                    made += 1
    return made
