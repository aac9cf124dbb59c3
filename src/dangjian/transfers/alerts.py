"""Alerts of transfers and flowing members (found by core.alerts): letter expiring, transfer not
received, lost contact, 6 months at a fixed place. Each cites the rule version whose figure it applies."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from django.db.models import Max, Q
from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _l

from dangjian.core.alerts import AlertSpec, alert_producer
from dangjian.members.choices import CURRENT_STATUSES, MemberStatus
from dangjian.members.models import Member
from dangjian.transfers import rules
from dangjian.transfers.models import OPEN_STATUSES, FlowCertificate, FlowStatus, Transfer


def _url(name: str, *args: object) -> str:
    try:
        return reverse(name, args=args)
    except NoReverseMatch:
        return ""


@alert_producer("transfers.letter_expiring", label=_l("Introduction letter expiring"))
def letter_expiring(on: dt.date) -> Iterable[AlertSpec]:
    """An open letter within ``expiring_alert_days`` (7) of its last valid day: an alert on both sides,
    one matter (a user who sees both branches sees it once)."""
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
                key=f"t{t.pk}",
                side=side,
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
    """党员教育管理工作条例 第三十四条, both of its deadlines:

    - a current member whose last contact (``Member.last_contact_on``) is ``lost_contact_months`` (6) or
      more ago: the branch should decide on suspending the membership (members.services.member_suspend);
    - a suspended member still unreachable ``lost_contact_removal_years`` (2) after the suspension:
      removal is due.
    """
    first = rules.rule_for(on)
    # A slightly wider window than the rule's months (month ends clamp), checked exactly per member.
    window = rules.add_months(on, -int(first["lost_contact_months"])) + dt.timedelta(days=3)
    current = (
        Member.objects.filter(status__in=CURRENT_STATUSES, last_contact_on__lte=window)
        .select_related("org")
        .only("id", "name", "last_contact_on", "org")
    )
    for m in current.iterator(chunk_size=500):
        r = rules.rule_for(on, m.org)
        due = rules.lost_contact_threshold(m.last_contact_on, r)  # type: ignore[arg-type]
        if on < due:
            continue
        yield AlertSpec(
            key=f"c{m.pk}",
            org=m.org,
            message=_(
                "%(name)s has not been reached since %(date)s: %(months)s months or more without contact, "
                "decide on suspending the membership (%(article)s)."
            )
            % {
                "name": m.name,
                "date": m.last_contact_on,
                "months": r["lost_contact_months"],
                "article": r["articles"]["lost_contact"],
            },
            severity="warning",
            due_date=due,
            member=m,
            rule_ref=r.ref,
            url=_url("members:detail", m.pk),
        )
    qs = (
        Member.objects.filter(status=MemberStatus.SUSPENDED)
        .annotate(suspended_on=Max("status_changes__date", filter=Q(status_changes__to_status="suspended")))
        .select_related("org")
    )
    for m in qs.iterator(chunk_size=500):
        if m.suspended_on is None:  # no suspension recorded in the history: nothing to count from
            continue
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
            url=_url("members:status_event", m.pk, "remove"),
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


@alert_producer("transfers.flow_report_overdue", label=_l("Flowing member's yearly report overdue"))
def flow_report_overdue(on: dt.date) -> Iterable[AlertSpec]:
    """A flowing member reports to the home organisation at least yearly (流动党员管理规定; secondary
    sources only, confidence S): an active certificate without a report within
    ``flow_report_interval_months`` (12) of the latest one — or of its start, when none was made — is an
    alert at the home branch."""
    certs = (
        FlowCertificate.objects.filter(status=FlowStatus.ACTIVE)
        .annotate(last_report=Max("reports__date"))
        .select_related("member", "home_org", "host_org")
    )
    for cert in certs:
        r = rules.rule_for(on, cert.home_org)
        due = rules.flow_report_due(cert.start, cert.last_report, r)
        if on <= due:
            continue
        yield AlertSpec(
            key=f"f{cert.pk}",
            org=cert.home_org,
            message=_(
                "%(name)s (flowing, at %(host)s) has made no report to the home organisation since "
                "%(since)s: due by %(due)s (%(article)s)."
            )
            % {
                "name": cert.member.name,
                "host": cert.host_name,
                "since": cert.last_report or cert.start,
                "due": due,
                "article": r["articles"]["flow_report"],
            },
            severity="warning",
            due_date=due,
            subject=cert,
            member=cert.member,
            rule_ref=r.ref,
            url=_url("transfers:flowing_detail", cert.pk),
        )
