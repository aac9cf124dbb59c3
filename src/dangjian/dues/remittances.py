"""Remittances of dues up the tree (上缴) and their confirmation by the receiving level (RULES.md §2).

An organisation passes what it collected to its parent: :func:`remittance_record` books ``−amount`` on
``org:<from>`` (kind ``remitted``) and can never take more than the organisation's balance on the dues
ledger (what it collected and received, less what it already passed up). The parent confirms receipt
(:func:`remittance_confirm`, ``+amount`` on ``org:<to>``, kind ``received``), or returns it
(:func:`remittance_return`: the amount goes back on the sender's account, e.g. a wrong amount or a
transfer that never arrived). Both ends are on the hash-chained ledger, so the trail from a branch to the
top is tamper-evident.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from dangjian.core.audit import audit_log
from dangjian.core.ledger import account_balance, ledger_append, ledger_reverse
from dangjian.core.scoping import can
from dangjian.dues.models import LEDGER, DuesRemittance, org_account
from dangjian.dues.payments import RuleViolationError, Violation
from dangjian.dues.rules import article, month_start, parse_money, rule_for
from dangjian.orgs.models import Organization


def _denied() -> PermissionDenied:
    return PermissionDenied(_("This is outside the part of the organisation tree you manage."))


def _ym(day: dt.date) -> str:
    return f"{day:%Y-%m}"


def _status_is_sent(remittance: DuesRemittance) -> None:
    if remittance.status != DuesRemittance.Status.SENT:
        raise ValidationError(
            {
                "status": _("This remittance is “%(status)s”: only one awaiting confirmation can be changed.")
                % {"status": remittance.get_status_display()}
            }
        )


def remittance_record(
    *,
    actor: Any,
    from_org: Organization,
    period_start: dt.date,
    period_end: dt.date,
    amount: Any,
    remitted_on: dt.date,
    reference: str = "",
    central_amount: Any = 0,
    note: str = "",
) -> DuesRemittance:
    """``from_org`` passes ``amount`` of the dues of ``period_start``–``period_end`` (months) to its parent
    on ``remitted_on``; ``central_amount`` of it is voluntary extra dues to be passed on in full to the
    centre. Refused when the amount is more than the organisation's balance on the dues ledger."""
    if not can(actor, "change", from_org):
        raise _denied()
    from_org = Organization.objects.get(pk=from_org.pk)
    errors: dict[str, str] = {}
    to_org = Organization.objects.get_parent(from_org)
    if to_org is None:
        errors["from_org"] = _("%(org)s is at the top of the tree: there is no higher level to remit to.") % {
            "org": from_org.name
        }
    total = parse_money(amount, field="amount", label=_("The amount remitted"))
    central = parse_money(
        central_amount or 0, field="central_amount", label=_("The extra dues for the centre")
    )
    if total <= 0:
        errors["amount"] = _("Enter the amount remitted (more than zero).")
    if central < 0 or central > total:
        errors["central_amount"] = _(
            "The extra dues for the centre are part of the amount remitted: between 0 and %(amount)s."
        ) % {"amount": total}
    start, end = month_start(period_start), month_start(period_end)
    if end < start:
        errors["period_end"] = _("The last month cannot be before the first month.")
    if remitted_on > timezone.localdate():
        errors["remitted_on"] = _("The date of the remittance cannot be in the future.")
    if errors:
        raise ValidationError(errors)
    r = rule_for(remitted_on, from_org)
    with transaction.atomic():
        remittance = DuesRemittance.objects.create(
            from_org=from_org,
            to_org=to_org,
            from_org_path=from_org.path,
            to_org_path=to_org.path,  # type: ignore[union-attr]
            period_start=start,
            period_end=end,
            amount=total,
            central_amount=central,
            remitted_on=remitted_on,
            reference=(reference or "").strip(),
            note=(note or "").strip()[:200],
            recorded_by=actor if getattr(actor, "is_authenticated", False) else None,
        )
        data = {
            "remittance": remittance.pk,
            "from_org": from_org.pk,
            "to_org": to_org.pk,  # type: ignore[union-attr]
            "period": f"{_ym(start)}/{_ym(end)}",
            "central": f"{central:.2f}",
        }
        try:
            with transaction.atomic():
                sent = ledger_append(
                    ledger=LEDGER,
                    key=org_account(from_org.pk),
                    amount=-total,
                    kind="remitted",
                    occurred_on=remitted_on,
                    org=from_org,
                    source_key=f"remittance:{remittance.pk}:sent",
                    data=data,
                    actor=actor,
                    allow_negative=False,
                )
        except ValidationError as exc:
            if getattr(exc, "code", None) != "insufficient_balance":
                raise
            balance = account_balance(LEDGER, org_account(from_org.pk))
            raise RuleViolationError(
                Violation(
                    code="remittance_exceeds_balance",
                    article=article(r, "remittance"),
                    message=_(
                        "%(org)s holds %(balance)s yuan of dues on the ledger; %(amount)s yuan cannot be "
                        "remitted. Remit at most the balance, or record the payments collected first."
                    )
                    % {"org": from_org.name, "balance": balance, "amount": total},
                    rule_ref=r.ref,
                    field="amount",
                )
            ) from None
        remittance.sent_entry = sent.entry
        remittance.save(update_fields=["sent_entry"])
        audit_log(
            actor=actor,
            action="dues.remittance_recorded",
            obj=remittance,
            org=from_org,
            changes={
                "to_org": to_org.pk,  # type: ignore[union-attr]
                "amount": f"{total:.2f}",
                "central_amount": f"{central:.2f}",
                "period": data["period"],
                "remitted_on": remitted_on,
                "reference": remittance.reference,
                "rule": r.ref,
            },
        )
    return remittance


def remittance_confirm(
    *, actor: Any, remittance: DuesRemittance, on: dt.date | None = None
) -> DuesRemittance:
    """The receiving organisation confirms the money arrived: ``+amount`` on its own account."""
    on = on or timezone.localdate()
    with transaction.atomic():
        remittance = (
            DuesRemittance.objects.select_for_update(of=("self",))
            .select_related("from_org", "to_org")
            .get(pk=remittance.pk)
        )
        if not can(actor, "change", remittance.to_org):
            raise PermissionDenied(
                _("Receipt is confirmed by %(org)s, the receiving organisation.")
                % {"org": remittance.to_org.name}
            )
        _status_is_sent(remittance)
        received = ledger_append(
            ledger=LEDGER,
            key=org_account(remittance.to_org_id),
            amount=remittance.amount,
            kind="received",
            occurred_on=on,
            org=remittance.to_org,
            source_key=f"remittance:{remittance.pk}:received",
            data={
                "remittance": remittance.pk,
                "from_org": remittance.from_org_id,
                "to_org": remittance.to_org_id,
                "period": f"{_ym(remittance.period_start)}/{_ym(remittance.period_end)}",
                "central": f"{remittance.central_amount:.2f}",
            },
            actor=actor,
        )
        remittance.status = DuesRemittance.Status.CONFIRMED
        remittance.received_entry = received.entry
        remittance.confirmed_by = actor if getattr(actor, "is_authenticated", False) else None
        remittance.confirmed_at = timezone.now()
        remittance.save(update_fields=["status", "received_entry", "confirmed_by", "confirmed_at"])
        audit_log(
            actor=actor,
            action="dues.remittance_confirmed",
            obj=remittance,
            org=remittance.to_org,
            changes={"amount": f"{remittance.amount:.2f}", "from_org": remittance.from_org_id},
        )
    return remittance


def remittance_return(*, actor: Any, remittance: DuesRemittance, reason: str) -> DuesRemittance:
    """The receiving organisation returns a remittance it cannot confirm (wrong amount, money not
    arrived): the amount is booked back on the sender's account; the sender records a new one."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError(
            {"reason": _("Say why the remittance is returned, so the sender can correct it.")}
        )
    with transaction.atomic():
        remittance = (
            DuesRemittance.objects.select_for_update(of=("self",))
            .select_related("from_org", "to_org", "sent_entry__account")
            .get(pk=remittance.pk)
        )
        if not can(actor, "change", remittance.to_org):
            raise PermissionDenied(
                _("A remittance is returned by %(org)s, the receiving organisation.")
                % {"org": remittance.to_org.name}
            )
        _status_is_sent(remittance)
        if remittance.sent_entry is not None:
            ledger_reverse(
                remittance.sent_entry,
                occurred_on=timezone.localdate(),
                reason=reason,
                actor=actor,
                kind="remittance_returned",
                source_key=f"remittance:{remittance.pk}:returned",
            )
        remittance.status = DuesRemittance.Status.RETURNED
        remittance.save(update_fields=["status"])
        audit_log(
            actor=actor,
            action="dues.remittance_returned",
            obj=remittance,
            org=remittance.to_org,
            changes={"reason": reason, "amount": f"{remittance.amount:.2f}"},
        )
    return remittance


def org_dues_balance(org: Organization) -> Decimal:
    """What ``org`` holds on the dues ledger: collected and received, less what it passed up."""
    return account_balance(LEDGER, org_account(org.pk))
