"""Recording dues payments (实交) and reversing them, booked on the dues ledger (RULES.md §2).

A payment settles the listed months' open bills of one member in full, plus any voluntary extra dues,
paid in cash, by bank transfer or online (there is no "advance by the organisation" and no "deduction
from pay": 不得垫交、扣缴). What the 2008 rule (中组发〔2008〕3号) says, and how it is enforced here:

- back payment (补交) covers at most ``back_payment_max_months`` months before the month of payment
  (6: paid in March, September of the year before is the oldest month accepted). The limit is checked
  against the payment date *and* the day it is recorded, and the payment date may lie at most
  ``paid_on_grace_days`` (62) days before the day it is recorded: a late entry of cash received last
  month is fine, but backdating a payment cannot settle a month the rule no longer lets the member pay;
- members pay monthly; with the branch's consent (``DuesOrgSetting.quarterly_allowed``) they may also
  pay the rest of the current quarter ahead; no other month after the month of payment;
- a single voluntary extra payment of ``extra_to_central_threshold`` yuan or more (1000) is passed in full
  to the central organisation (``extra_to_central``);
- a payment by someone else (代缴) records who paid.

Money: one ledger entry on ``member:<id>`` and one on ``org:<collecting org>`` (+ the total), in the same
transaction as the payment, with source keys ``<key>:member`` / ``<key>:org`` where ``<key>`` is the
caller's ``source_key`` (a bank statement line, an idempotency key) or ``payment:<id>``. The same
``source_key`` sent twice with the same request returns the first payment and books nothing twice; sent
with a different request (another member, other months, method or amounts) it is refused
(``IdempotencyKeyReusedError``): the payment keeps a fingerprint of the request it was booked for. The API
scopes its keys per user (``api:<user id>:<key>``), so one user's key never meets another's. Concurrency: the member's
row is locked (``select_for_update``) for the duration, so two payments of one member queue and a month
can never be settled twice; the second one is refused because the month is no longer open.

A reversal books the opposite entries on both accounts and reopens the bills it settled. It may take the
collecting organisation's balance below zero when the money was already remitted: the next remittance is
then that much smaller (a remittance can never exceed the balance).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from dangjian.core.audit import audit_log
from dangjian.core.ledger import ledger_append, ledger_reverse, money
from dangjian.core.models import LedgerEntry
from dangjian.core.scoping import can
from dangjian.dues import rules
from dangjian.dues.models import (
    LEDGER,
    BillStatus,
    DuesBill,
    DuesOrgSetting,
    DuesPayment,
    DuesPaymentMonth,
    DuesReduction,
    PaymentMethod,
    member_account,
    org_account,
)
from dangjian.members.choices import CURRENT_STATUSES
from dangjian.members.models import Member

ZERO = Decimal("0.00")


# ── rule violations ───────────────────────────────────────────────────────────────────────────────


@dataclass(frozen=True)
class Violation:
    """A refused dues action: its code, the article it enforces, a message saying what to do, the rule
    version applied and (optionally) the request field it concerns."""

    code: str
    article: str
    message: str
    rule_ref: str
    rule: str = rules.RULE_KEY
    field: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "rule": self.rule,
            "article": self.article,
            "message": self.message,
            "rule_version": self.rule_ref,
            "field": self.field,
        }


class RuleViolationError(ValidationError):
    """A dues rule refuses the action. A ``ValidationError`` (code = the violation's code), so callers
    that treat any validation error alike still catch it; the API renders it as ``rule_violation``."""

    def __init__(self, violation: Violation) -> None:
        super().__init__(violation.message, code=violation.code)
        self.violation = violation


def _months_back(month: dt.date, paid_on: dt.date) -> int:
    """Whole calendar months from ``month`` to the month of ``paid_on`` (paid in March: September = 6)."""
    return (paid_on.year * 12 + paid_on.month) - (month.year * 12 + month.month)


def _quarter_end(day: dt.date) -> dt.date:
    """The first day of the last month of ``day``'s quarter (2026-02-10 → 2026-03-01)."""
    return dt.date(day.year, ((day.month - 1) // 3) * 3 + 3, 1)


def _ym(day: dt.date) -> str:
    return f"{day:%Y-%m}"


# ── recording ─────────────────────────────────────────────────────────────────────────────────────


def _denied() -> PermissionDenied:
    return PermissionDenied(_("This is outside the part of the organisation tree you manage."))


class IdempotencyKeyReusedError(ValidationError):
    """A ``source_key`` already booked for a different request: the client reused a key for a new
    payment. Nothing is booked; the API answers 409."""

    def __init__(self, earlier: DuesPayment) -> None:
        super().__init__(
            {
                "source_key": _(
                    "This idempotency key was already used for another payment (%(member)s, recorded on "
                    "%(date)s). Send a new key for a new payment; resend the same key only with the same "
                    "request."
                )
                % {"member": earlier.member.name, "date": f"{earlier.recorded_at:%Y-%m-%d}"}
            },
            code="idempotency_key_reused",
        )
        self.earlier = earlier


def _request_fingerprint(
    *,
    member: Member,
    months: list[dt.date],
    method: str,
    extra_amount: Any,
    amount: Any,
    by_proxy: bool,
    proxy_name: str,
) -> str:
    """What a payment request asks for, as a hash: the member, the months, the method and the amounts
    (and who paid by proxy). A resend under the same key must match it."""

    def cents(value: Any) -> str | None:
        if value in (None, ""):
            return None
        try:
            return f"{Decimal(str(value)):.2f}"
        except ArithmeticError:
            return str(value)

    data = {
        "member": member.pk,
        "months": sorted(f"{rules.month_start(m):%Y-%m}" for m in months),
        "method": str(method),
        "extra": cents(extra_amount or 0),
        "amount": cents(amount),
        "by_proxy": bool(by_proxy),
        "proxy_name": (proxy_name or "").strip(),
    }
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


def _earlier_payment(source_key: str | None) -> DuesPayment | None:
    if not source_key:
        return None
    entry = LedgerEntry.objects.filter(ledger=LEDGER, source_key=f"{source_key}:member").first()
    if entry is None:
        return None
    return DuesPayment.objects.filter(ledger_entry=entry).select_related("member", "org").first()


def _replay(actor: Any, source_key: str | None, fingerprint: str) -> DuesPayment | None:
    """The payment already booked under ``source_key`` (an idempotent resend of the same request), if the
    actor may see it; a different request under the same key is refused."""
    earlier = _earlier_payment(source_key)
    if earlier is None:
        return None
    if not can(actor, "change", earlier.org):
        raise _denied()
    if earlier.request_fingerprint and earlier.request_fingerprint != fingerprint:
        raise IdempotencyKeyReusedError(earlier)
    earlier.replayed = True  # type: ignore[attr-defined]
    return earlier


def _future_bill(*, member: Member, month: dt.date, before: DuesBill | None) -> DuesBill:
    """The bill of a month paid ahead (quarterly payment): the same computation as the latest bill
    (declaration, category, rule), with an approved reduction covering the month applied."""
    if before is None:
        raise ValidationError(
            {
                "months": _(
                    "There is no bill yet for %(month)s and no earlier bill to compute it from: generate "
                    "this month's bills first."
                )
                % {"month": _ym(month)}
            }
        )
    bill = DuesBill(
        member=member,
        org=before.org,
        org_path=before.org.path,
        month=month,
        category=before.category,
        base=before.base,
        rate=before.rate,
        standard_amount=before.standard_amount,
        amount=before.standard_amount,
        declaration=before.declaration,
        rule_ref=before.rule_ref,
    )
    reduction = (
        DuesReduction.objects.filter(
            member=member,
            status=DuesReduction.Status.APPROVED,
            start_month__lte=month,
            end_month__gte=month,
        )
        .order_by("-id")
        .first()
    )
    if reduction is not None:
        from dangjian.dues.reductions import apply_reduction

        apply_reduction(bill, reduction)
    bill.save()
    return bill


def payment_record(
    *,
    actor: Any,
    member: Member,
    months: list[dt.date],
    method: str,
    paid_on: dt.date,
    reference: str = "",
    extra_amount: Any = Decimal(0),
    by_proxy: bool = False,
    proxy_name: str = "",
    amount: Any = None,
    source_key: str | None = None,
    recorded_on: dt.date | None = None,
) -> DuesPayment:
    """Record what ``member`` paid for ``months`` (first days of months), plus voluntary ``extra_amount``.

    Refuses (``RuleViolationError``, with the article): back payment older than the rule allows, a month
    after the month of payment (outside the quarter, or without the branch's consent to quarterly
    payment), a method that is not cash / bank transfer / online, a proxy payment without the payer's
    name. Refuses (``ValidationError``): months that are not this member's open bills, an ``amount`` that
    is not the months' outstanding total plus the extra, a date in the future, nothing to pay.
    With a ``source_key`` already booked for the same request, returns that payment (``payment.replayed``
    is True); for a different request, ``IdempotencyKeyReusedError``.
    ``recorded_on``: the day the payment is entered (today; never later). Only a loader of historical data
    (the demo's year of history, entered as it happened) passes an earlier day; pages and the API never do."""
    fingerprint = _request_fingerprint(
        member=member,
        months=months,
        method=method,
        extra_amount=extra_amount,
        amount=amount,
        by_proxy=by_proxy,
        proxy_name=proxy_name,
    )
    earlier = _replay(actor, source_key, fingerprint)
    if earlier is not None:
        return earlier
    wanted = sorted({rules.month_start(m) for m in months})
    reference = (reference or "").strip()
    proxy_name = (proxy_name or "").strip()
    extra = rules.parse_money(extra_amount or 0, field="extra_amount", label=_("Voluntary extra dues"))
    today = min(recorded_on or timezone.localdate(), timezone.localdate())
    if paid_on > today:
        raise ValidationError({"paid_on": _("The payment date cannot be in the future.")})
    r = rules.rule_for(paid_on, member.org)
    if method not in PaymentMethod.values:
        # 不得垫交、扣缴: dues are paid by the member (or a proxy), in cash, by transfer or online.
        raise RuleViolationError(
            Violation(
                code="method_not_allowed",
                article=rules.article(r, "no_advance"),
                message=_(
                    "Record the payment as cash, bank transfer or online payment: dues may not be advanced "
                    "by the organisation or deducted from pay."
                ),
                rule_ref=r.ref,
                field="method",
            )
        )
    if by_proxy and not proxy_name:
        raise RuleViolationError(
            Violation(
                code="proxy_name_required",
                article=rules.article(r, "payment"),
                message=_("Enter the name of the person who paid on the member's behalf (代缴)."),
                rule_ref=r.ref,
                field="proxy_name",
            )
        )
    if len(proxy_name) > 50 or len(reference) > 100:
        field = "proxy_name" if len(proxy_name) > 50 else "reference"
        raise ValidationError(
            {field: _("Too long: at most 50 characters for the payer, 100 for the reference.")}
        )
    if proxy_name and not by_proxy:
        raise ValidationError({"by_proxy": _("A payer's name is given: mark the payment as paid by proxy.")})
    if not wanted and extra == 0:
        raise ValidationError({"months": _("Choose the months paid, or enter voluntary extra dues.")})
    max_back = int(r["back_payment_max_months"])
    grace = int(r["paid_on_grace_days"])
    if (today - paid_on).days > grace:
        # 补交一般不超过6个月: a payment date far before the day it is recorded would let a backdated
        # entry settle months the rule no longer accepts; late entry of recent cash is allowed.
        raise RuleViolationError(
            Violation(
                code="paid_on_too_early",
                article=rules.article(r, "back_payment"),
                message=_(
                    "A payment can be recorded at most %(days)s days after it was paid: %(date)s is too long "
                    "ago. Record it with a recent payment date, or ask the branch how to deal with older "
                    "arrears."
                )
                % {"days": grace, "date": paid_on},
                rule_ref=r.ref,
                field="paid_on",
            )
        )
    # Checked against the payment date and against today: backdating cannot reach further back.
    too_old = [m for m in wanted if max(_months_back(m, paid_on), _months_back(m, today)) > max_back]
    if too_old:
        raise RuleViolationError(
            Violation(
                code="back_payment_too_old",
                article=rules.article(r, "back_payment"),
                message=_(
                    "Back payment covers at most %(max)s months before the month of payment: %(months)s "
                    "cannot be paid on %(date)s. Choose later months; older arrears are for the branch to "
                    "deal with."
                )
                % {"max": max_back, "months": ", ".join(_ym(m) for m in too_old), "date": today},
                rule_ref=r.ref,
                field="months",
            )
        )
    future = [m for m in wanted if m > rules.month_start(paid_on)]
    beyond = [m for m in future if m > _quarter_end(paid_on)]
    if beyond:
        raise RuleViolationError(
            Violation(
                code="future_month_outside_quarter",
                article=rules.article(r, "payment"),
                message=_(
                    "Dues are paid monthly, or quarterly with the branch's consent: %(months)s is after "
                    "the quarter of the payment date %(date)s and cannot be paid yet."
                )
                % {"months": ", ".join(_ym(m) for m in beyond), "date": paid_on},
                rule_ref=r.ref,
                field="months",
            )
        )
    extra_threshold = money(r["extra_to_central_threshold"])

    with transaction.atomic():
        # One member at a time: a second payment of the same member waits here, then finds the months
        # it wanted already paid (or its source_key already booked).
        member = Member.objects.select_for_update().get(pk=member.pk)
        earlier = _replay(actor, source_key, fingerprint)
        if earlier is not None:
            return earlier
        bills = {
            b.month: b for b in DuesBill.objects.filter(member=member, month__in=wanted).select_related("org")
        }
        latest = (
            DuesBill.objects.filter(member=member, month__lte=rules.month_start(paid_on))
            .select_related("org")
            .order_by("-month")
            .first()
        )
        org = bills[min(bills)].org if bills else (latest.org if latest else member.org)
        if future:
            setting = DuesOrgSetting.objects.filter(org=org).first()
            if setting is None or not setting.quarterly_allowed:
                raise RuleViolationError(
                    Violation(
                        code="quarterly_not_allowed",
                        article=rules.article(r, "payment"),
                        message=_(
                            "%(org)s has not agreed to quarterly payment: months after the payment month "
                            "(%(months)s) cannot be paid ahead. The branch records its consent in its dues "
                            "arrangements first."
                        )
                        % {"org": org.name, "months": ", ".join(_ym(m) for m in future)},
                        rule_ref=r.ref,
                        field="months",
                    )
                )
            if member.status not in CURRENT_STATUSES:
                raise ValidationError({"months": _("Only a current member can pay months ahead.")})
            for m in future:
                if m not in bills:
                    bills[m] = _future_bill(member=member, month=m, before=latest)
        missing = [m for m in wanted if m not in bills]
        if missing:
            raise ValidationError(
                {
                    "months": _(
                        "%(member)s has no bill for %(months)s: choose months with a bill, or generate the "
                        "month's bills first."
                    )
                    % {"member": member.name, "months": ", ".join(_ym(m) for m in missing)}
                }
            )
        closed = [b for b in bills.values() if b.status in (BillStatus.PAID, BillStatus.WAIVED)]
        if closed:
            raise ValidationError(
                {
                    "months": _("Already paid or waived: %(months)s. Choose open months only.")
                    % {"months": ", ".join(_ym(b.month) for b in sorted(closed, key=lambda b: b.month))}
                }
            )
        orgs = {b.org_id for b in bills.values()}
        if len(orgs) > 1:
            raise ValidationError(
                {
                    "months": _(
                        "These months are collected by different organisations: record one payment per "
                        "collecting organisation."
                    )
                }
            )
        if not can(actor, "change", org):
            raise _denied()
        ordered = [bills[m] for m in wanted]
        dues_amount = sum((b.outstanding for b in ordered), ZERO)
        total = dues_amount + extra
        given = (
            None
            if amount in (None, "")
            else rules.parse_money(amount, field="amount", limit=Decimal("99999999999999.99"))
        )
        if given is not None and given != total:
            raise ValidationError(
                {
                    "amount": _(
                        "The amount %(amount)s does not match what is due: %(dues)s for %(count)s month(s) "
                        "plus %(extra)s extra = %(total)s."
                    )
                    % {
                        "amount": given,
                        "dues": dues_amount,
                        "count": len(ordered),
                        "extra": extra,
                        "total": total,
                    }
                }
            )
        if total <= 0:
            raise ValidationError(
                {"months": _("Nothing is due for these months; there is nothing to record.")}
            )
        payment = DuesPayment.objects.create(
            member=member,
            org=org,
            org_path=org.path,
            paid_on=paid_on,
            method=method,
            reference=reference,
            dues_amount=dues_amount,
            extra_amount=extra,
            extra_to_central=extra >= extra_threshold,
            by_proxy=by_proxy,
            proxy_name=proxy_name,
            rule_ref=r.ref,
            recorded_by=actor if getattr(actor, "is_authenticated", False) else None,
            request_fingerprint=fingerprint if source_key else "",
        )
        for bill in ordered:
            share = bill.outstanding
            DuesPaymentMonth.objects.create(payment=payment, bill=bill, amount=share)
            bill.paid_amount += share
            bill.status = BillStatus.PAID
            bill.save(update_fields=["paid_amount", "status"])
        key = source_key or f"payment:{payment.pk}"
        data = {
            "payment": payment.pk,
            "member": member.pk,
            "months": [_ym(m) for m in wanted],
            "method": method,
            "dues": f"{dues_amount:.2f}",
            "extra": f"{extra:.2f}",
        }
        member_entry = ledger_append(
            ledger=LEDGER,
            key=member_account(member.pk),
            amount=total,
            kind="payment",
            occurred_on=paid_on,
            org=org,
            source_key=f"{key}:member",
            data=data,
            actor=actor,
        )
        ledger_append(
            ledger=LEDGER,
            key=org_account(org.pk),
            amount=total,
            kind="payment",
            occurred_on=paid_on,
            org=org,
            source_key=f"{key}:org",
            data=data,
            actor=actor,
        )
        payment.ledger_entry = member_entry.entry
        payment.save(update_fields=["ledger_entry"])
        audit_log(
            actor=actor,
            action="dues.payment_recorded",
            obj=payment,
            org=org,
            changes={
                "member": member.pk,
                "months": data["months"],
                "method": method,
                "dues_amount": data["dues"],
                "extra_amount": data["extra"],
                "extra_to_central": payment.extra_to_central,
                "by_proxy": by_proxy,
                "proxy_name": proxy_name,
                "reference": reference,
                "source_key": key,
            },
        )
        if member.user_id:
            user_id, title = member.user_id, _("Dues payment recorded: %(total)s yuan") % {"total": total}
            body = ", ".join(data["months"])
            transaction.on_commit(lambda: _notify(user_id, title, body, payment.pk))
    payment.replayed = False  # type: ignore[attr-defined]
    return payment


def _notify(user_id: int, title: str, body: str, payment_id: int) -> None:
    from dangjian.core.notifications import notify

    notify(user_id, title=title, body=body, kind="dues_payment", key=str(payment_id))


# ── reversing ─────────────────────────────────────────────────────────────────────────────────────


def _reopen(bill: DuesBill, reductions: list[DuesReduction]) -> None:
    """The bill as it stands once a payment on it is undone: under the approved reduction covering its
    month (the latest; it may have been approved after the payment, e.g. a waiver of a month paid by
    mistake), else at its standard amount; the status follows from what is still paid. A bill of 0.00 is
    settled (paid), never open."""
    from dangjian.dues.reductions import apply_reduction

    covering = [r for r in reductions if r.start_month <= bill.month <= r.end_month]
    if covering:
        apply_reduction(bill, covering[-1])
        return
    if bill.reduction_id is None:
        bill.amount = bill.standard_amount
    if bill.paid_amount >= bill.amount:
        bill.status = BillStatus.PAID
    elif bill.paid_amount > 0:
        bill.status = BillStatus.PART_PAID
    else:
        bill.status = BillStatus.OPEN


def payment_reverse(*, actor: Any, payment: DuesPayment, reason: str) -> DuesPayment:
    """Correct a payment recorded by mistake: the opposite entries on the member's and the collecting
    organisation's accounts, and the bills it settled open again. A payment is reversed at most once."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": _("Say why the payment is reversed.")})
    if not can(actor, "change", payment.org):
        raise _denied()
    with transaction.atomic():
        Member.objects.select_for_update().get(pk=payment.member_id)
        payment = DuesPayment.objects.select_related("ledger_entry__account", "org").get(pk=payment.pk)
        if payment.status != DuesPayment.Status.BOOKED:
            raise ValidationError({"status": _("This payment has already been reversed.")})
        on = timezone.localdate()
        entry = payment.ledger_entry
        reversal = None
        if entry is not None:
            key = entry.source_key.removesuffix(":member") if entry.source_key else f"payment:{payment.pk}"
            reversal = ledger_reverse(
                entry, occurred_on=on, reason=reason, actor=actor, kind="payment_reversal"
            ).entry
            org_entry = (
                LedgerEntry.objects.filter(ledger=LEDGER, source_key=f"{key}:org")
                .select_related("account")
                .first()
            )
            if org_entry is not None:
                ledger_reverse(org_entry, occurred_on=on, reason=reason, actor=actor, kind="payment_reversal")
        approved = list(
            DuesReduction.objects.filter(
                member_id=payment.member_id, status=DuesReduction.Status.APPROVED
            ).order_by("id")
        )
        for part in payment.months.select_related("bill").order_by("bill__month"):
            bill = DuesBill.objects.select_for_update().get(pk=part.bill_id)
            bill.paid_amount = max(bill.paid_amount - part.amount, ZERO)
            _reopen(bill, approved)
            bill.save(update_fields=["paid_amount", "status", "amount", "reduction"])
        payment.status = DuesPayment.Status.REVERSED
        payment.reversal_reason = reason[:200]
        payment.reversal_entry = reversal
        payment.save(update_fields=["status", "reversal_reason", "reversal_entry"])
        audit_log(
            actor=actor,
            action="dues.payment_reversed",
            obj=payment,
            org=payment.org,
            changes={"reason": reason, "total": f"{payment.total:.2f}"},
        )
    return payment
