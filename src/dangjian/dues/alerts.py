"""Reminders and alerts of dues arrears (found by core.alerts; refreshed daily).

- ``dues.arrears_reminder``: a member with a login who owes dues for ``arrears_reminder_months`` (3)
  months or more is reminded on their phone, once a month while it lasts.
- ``dues.arrears_six_months``: ``arrears_alert_months`` (6) consecutive months unpaid that no approved
  hardship reduction covers (a month under a reduction has a proper reason and breaks the run; the
  other months still count) → an alert at the member's branch citing 党章 第九条: the member is
  to be treated as having left the Party, which the branch general meeting discusses and reports for
  approval. It is a proposal to the branch, never an automatic change of the member's status.

A month counts once it has ended (selectors: on 2 March, February's unpaid bill is owed), and only
when something is left to pay on it (a bill of 0.00 is never owed). Two grouped
queries find the candidates; only their owed months are read.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from decimal import Decimal
from types import SimpleNamespace

from django.db.models import Count, DecimalField, F, Sum
from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _l

from dangjian.core.alerts import AlertSpec, NotificationSpec, alert_producer
from dangjian.core.models import RuleOverride
from dangjian.dues import rules
from dangjian.dues.models import BillStatus, DuesBill, DuesReduction
from dangjian.members.choices import CURRENT_STATUSES
from dangjian.members.models import Member

OPEN = (BillStatus.OPEN, BillStatus.PART_PAID)


def _url(name: str, *args: object) -> str:
    try:
        return reverse(name, args=args)
    except NoReverseMatch:
        return ""


def _owing(on: dt.date, at_least: int, *, with_login: bool = False) -> dict[int, dict[str, object]]:
    """Current members owing ``at_least`` ended months or more: member id → count and amount."""
    qs = DuesBill.objects.filter(
        status__in=OPEN,
        month__lt=rules.month_start(on),
        member__status__in=CURRENT_STATUSES,
        amount__gt=F("paid_amount"),
    )
    if with_login:
        qs = qs.filter(member__user__isnull=False)
    rows = (
        qs.values("member_id")
        .annotate(
            n=Count("id"),
            amount=Sum(
                F("amount") - F("paid_amount"), output_field=DecimalField(max_digits=14, decimal_places=2)
            ),
        )
        .filter(n__gte=at_least)
        .order_by()
    )
    return {row["member_id"]: row for row in rows}


def _reminder_floor(on: dt.date) -> int:
    """The lowest reminder threshold anywhere (national, or any organisation's local value)."""
    values = [int(rules.rule_for(on)["arrears_reminder_months"])]
    for params in RuleOverride.objects.filter(key=rules.RULE_KEY).values_list("params", flat=True):
        if isinstance(params, dict) and params.get("arrears_reminder_months") not in (None, ""):
            values.append(int(params["arrears_reminder_months"]))
    return max(1, min(values))


@alert_producer(
    "dues.arrears_reminder", label=_l("Dues owed: reminder to the member"), notifications_only=True
)
def arrears_reminder(on: dt.date) -> Iterable[NotificationSpec]:
    """A member owing ``arrears_reminder_months`` (3, local practice) months or more: a reminder on the
    phone, once per month while the arrears last."""
    found = _owing(on, _reminder_floor(on), with_login=True)
    if not found:
        return
    members = Member.objects.filter(pk__in=list(found)).select_related("org").only("id", "user_id", "org")
    by_org = rules.rules_for_orgs(on, [m.org for m in members])
    url = _url("dues_mobile:home")
    for m in members:
        r = by_org[m.org_id]
        row = found[m.pk]
        if int(row["n"]) < int(r["arrears_reminder_months"]):  # type: ignore[call-overload]
            continue
        yield NotificationSpec(
            key=f"m{m.pk}:{on:%Y-%m}",
            user=m.user_id,
            title=_("Party dues owed for %(months)s months") % {"months": row["n"]},
            body=_(
                "You owe %(amount)s yuan of party dues for %(months)s months. Please pay at your branch, or "
                "ask the branch about a reduction if paying is difficult."
            )
            % {"amount": f"{Decimal(row['amount'] or 0):.2f}", "months": row["n"]},  # type: ignore[arg-type]
            url=url,
        )


@alert_producer("dues.arrears_six_months", label=_l("Dues unpaid for 6 consecutive months"))
def arrears_six_months(on: dt.date) -> Iterable[AlertSpec]:
    """党章 第九条: 6 consecutive months without paying dues and without a proper reason (an approved
    hardship reduction) → an alert at the member's branch proposing that the general meeting discuss it."""
    national = rules.rule_for(on)
    threshold = int(national["arrears_alert_months"])
    found = _owing(on, threshold)
    if not found:
        return
    months: dict[int, list[dt.date]] = {}
    for member_id, month in (
        DuesBill.objects.filter(
            member_id__in=list(found),
            status__in=OPEN,
            month__lt=rules.month_start(on),
            amount__gt=F("paid_amount"),
        )
        .order_by("member_id", "month")
        .values_list("member_id", "month")
    ):
        months.setdefault(member_id, []).append(month)
    periods: dict[int, list[SimpleNamespace]] = {}
    for red in DuesReduction.objects.filter(
        member_id__in=list(found), status=DuesReduction.Status.APPROVED
    ).values("member_id", "start_month", "end_month"):
        periods.setdefault(red["member_id"], []).append(SimpleNamespace(**red))
    members = {m.pk: m for m in Member.objects.filter(pk__in=list(found)).select_related("org")}
    by_org = rules.rules_for_orgs(on, [m.org for m in members.values()])
    for member_id, all_owed in months.items():
        # A month under an approved reduction or waiver has a proper reason: it breaks the run, but the
        # months outside the reduction still count.
        owed = [
            m
            for m in all_owed
            if not any(p.start_month <= m <= p.end_month for p in periods.get(member_id, ()))
        ]
        run, since = rules.longest_run_from(owed)
        if run < threshold or since is None:
            continue
        member = members[member_id]
        r = by_org[member.org_id]
        yield AlertSpec(
            key=f"m{member_id}",
            org=member.org,
            member=member,
            severity="danger",
            message=_(
                "%(name)s has not paid party dues for %(months)s consecutive months (from %(since)s) without an "
                "approved reduction for those months: the branch should talk with the member, and the general "
                "meeting may discuss treating the member as having left the Party (%(article)s). Nothing is "
                "decided automatically."
            )
            % {
                "name": member.name,
                "months": run,
                "since": f"{since:%Y-%m}",
                "article": rules.article(r, "arrears"),
            },
            due_date=rules.add_months(since, threshold),
            rule_ref=r.ref,
            url=_url("dues:member", member_id) or _url("members:detail", member_id),
        )
