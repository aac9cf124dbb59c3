"""Alerts of transfers and flowing members (found by core.alerts): letter expiring, transfer not
received, lost contact, 6 months at a fixed place. Each cites the rule version whose figure it applies."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from django.db.models import Max
from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _l

from dangjian.core.alerts import AlertSpec, alert_producer
from dangjian.members.choices import MemberStatus
from dangjian.members.models import Member
from dangjian.transfers import rules
from dangjian.transfers.models import OPEN_STATUSES, FlowCertificate, FlowStatus, Transfer


def _url(name: str, pk: int) -> str:
    try:
        return reverse(name, args=[pk])
    except NoReverseMatch:
        return ""


@alert_producer("transfers.letter_expiring", label=_l("Introduction letter expiring"))
def letter_expiring(on: dt.date) -> Iterable[AlertSpec]:
    """An open letter within ``expiring_alert_days`` (7) of its last valid day: an alert on both sides."""
    for t in Transfer.objects.filter(status__in=OPEN_STATUSES, valid_until__gte=on).select_related(
        "member", "from_org", "to_org"
    ):
        r = rules.rule_for(on, t.from_org or t.to_org)
        if t.valid_until > on + dt.timedelta(days=int(r["expiring_alert_days"])):  # type: ignore[operator]
            continue
        for side, org in (("from", t.from_org), ("to", t.to_org)):
            if org is None:
                continue
            yield AlertSpec(
                key=f"t{t.pk}:{side}",
                org=org,
                message=_("Letter %(number)s for %(name)s expires on %(date)s.")
                % {"number": t.letter_number, "name": t.member.name, "date": t.valid_until},
                severity="warning",
                due_date=t.valid_until,
                subject=t,
                rule_ref=r.ref,
                url=_url("transfers:detail", t.pk),
            )


@alert_producer("transfers.not_received", label=_l("Transfer not received"))
def not_received(on: dt.date) -> Iterable[AlertSpec]:
    """Sent and not accepted after ``receive_within_days``: the sending org, which stays responsible."""
    for t in Transfer.objects.filter(status__in=OPEN_STATUSES, sent_at__isnull=False).select_related(
        "member", "from_org", "to_org"
    ):
        org = t.from_org or t.to_org
        r = rules.rule_for(on, org)
        due = t.sent_at.date() + dt.timedelta(days=int(r["receive_within_days"]))  # type: ignore[union-attr]
        if on <= due:
            continue
        yield AlertSpec(
            key=f"t{t.pk}",
            org=org,
            message=_(
                "Letter %(number)s for %(name)s was sent on %(sent)s and has not been received by %(to)s."
            )
            % {"number": t.letter_number, "name": t.member.name, "sent": t.issued_on, "to": t.to_name},
            severity="warning",
            due_date=due,
            subject=t,
            member=t.member,
            rule_ref=r.ref,
            url=_url("transfers:detail", t.pk),
        )


@alert_producer("transfers.lost_contact", label=_l("Lost contact for 6 months"))
def lost_contact(on: dt.date) -> Iterable[AlertSpec]:
    """A suspended member (lost contact) still unreachable 2 years after the suspension: removal is due
    (条例 第三十四条). The 6-month suspension itself is the branch's decision (members.services.member_suspend),
    recorded with the date of last contact."""
    qs = (
        Member.objects.filter(status=MemberStatus.SUSPENDED)
        .annotate(suspended_on=Max("status_changes__date"))
        .select_related("org")
    )
    for m in qs.iterator(chunk_size=500):
        r = rules.rule_for(on, m.org)
        due = rules.add_months(m.suspended_on, 12 * int(r["lost_contact_removal_years"]))
        if on < due:
            continue
        yield AlertSpec(
            key=f"m{m.pk}",
            org=m.org,
            message=_("%(name)s has been suspended since %(date)s and can now be removed (%(article)s).")
            % {"name": m.name, "date": m.suspended_on, "article": r["articles"]["lost_contact"]},
            severity="warning",
            due_date=due,
            member=m,
            rule_ref=r.ref,
        )


@alert_producer("transfers.fixed_place", label=_l("Flowing member 6 months at a fixed place"))
def fixed_place(on: dt.date) -> Iterable[AlertSpec]:
    """条例 第三十条: away 6 months or more at a fixed place → prompt to transfer the relation."""
    for cert in FlowCertificate.objects.filter(status=FlowStatus.ACTIVE, fixed_place=True).select_related(
        "member", "home_org"
    ):
        r = rules.rule_for(on, cert.home_org)
        due = rules.fixed_place_due(cert.start, r)
        if on < due:
            continue
        yield AlertSpec(
            key=f"f{cert.pk}",
            org=cert.home_org,
            message=_(
                "%(name)s has been at %(host)s since %(start)s: 6 months at a fixed place, transfer the "
                "relation (%(article)s)."
            )
            % {
                "name": cert.member.name,
                "host": cert.host_name,
                "start": cert.start,
                "article": r["articles"]["fixed_place"],
            },
            severity="warning",
            due_date=due,
            subject=cert,
            member=cert.member,
            rule_ref=r.ref,
        )
