"""Hardship reductions and waivers of dues (减免), a two-step approval (RULES.md §2).

"生活困难的党员，经党支部同意、报上一级党委批准，可以少交或免交党费" (中组发〔2008〕3号): the branch proposes for
a member and a period of months; someone who may change the member's branch approves for the branch;
then someone else, who may change the next higher committee (the branch's parent organisation), approves
for the committee. Only then does the reduction change bills: the open bills of the period get the
reduced amount (or nothing, a waiver: status ``waived``), and every bill generated later for a month of
the period gets it too (``dues.services.bills_generate`` applies approved reductions itself, through
``dues.rules.reduced``, with the same result as :func:`apply_reduction`).
Bills already paid are not refunded, and what a member has paid on a bill stays paid: a reduction
approved on a partly paid bill lowers it to the reduced amount or to what was paid, whichever is more
(paid 20.00 of 30.00, reduced to 5.00 → the bill is 20.00 and settled; the rest is forgiven, nothing is
owed back). So a bill never shows more paid than due. A payment reversed later on a month of the period
reopens the bill under the reduction (``payments.payment_reverse``), not at the standard amount.
A reduction not yet approved can be withdrawn by the branch.
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
from dangjian.core.scoping import can
from dangjian.dues.models import BillStatus, DuesBill, DuesReduction
from dangjian.dues.payments import RuleViolationError, Violation
from dangjian.dues.rules import article, month_start, parse_money, reduced, rule_for
from dangjian.members.models import Member
from dangjian.orgs.models import Organization

PENDING = (DuesReduction.Status.PROPOSED, DuesReduction.Status.BRANCH_APPROVED)
# DuesReduction.monthly_amount holds 8 digits.
MAX_MONTHLY = Decimal("999999.99")
ACTIVE = (*PENDING, DuesReduction.Status.APPROVED)


def _denied() -> PermissionDenied:
    return PermissionDenied(_("This is outside the part of the organisation tree you manage."))


def _ym(day: dt.date) -> str:
    return f"{day:%Y-%m}"


# ── what an approved reduction does to a bill (also used by bills_generate) ───────────────────────


def apply_reduction(bill: DuesBill, reduction: DuesReduction) -> DuesBill:
    """Set ``bill`` (saved or not) to what it is under an approved ``reduction``: the reduced amount (never
    above the standard amount) or nothing for a waiver — but never below what was already paid on it (no
    refund: the payment settles the bill) — and the status that follows from what was paid. The caller
    saves the bill."""
    amount, _waived = reduced(
        bill.standard_amount, kind=reduction.kind, monthly_amount=reduction.monthly_amount
    )
    paid = bill.paid_amount or Decimal("0.00")
    amount = min(max(amount, paid), bill.standard_amount) if paid else amount
    bill.reduction = reduction
    bill.amount = amount
    if amount == 0 and paid == 0:
        bill.status = BillStatus.WAIVED
    elif paid >= amount:
        bill.status = BillStatus.PAID
    elif paid > 0:
        bill.status = BillStatus.PART_PAID
    else:
        bill.status = BillStatus.OPEN
    return bill


def approved_reductions(*, month: dt.date, member_ids: Any = None) -> dict[int, DuesReduction]:
    """The approved reduction covering ``month`` for each member (one query), by member id; with
    ``member_ids`` (ids or a subquery) only for those members. The latest approved one wins."""
    month = month_start(month)
    qs = DuesReduction.objects.filter(
        status=DuesReduction.Status.APPROVED, start_month__lte=month, end_month__gte=month
    )
    if member_ids is not None:
        qs = qs.filter(member_id__in=member_ids)
    found: dict[int, DuesReduction] = {}
    for reduction in qs.order_by("id"):
        found[reduction.member_id] = reduction
    return found


# ── the workflow ──────────────────────────────────────────────────────────────────────────────────


def _higher_committee(member: Member) -> Organization:
    branch = Organization.objects.get(pk=member.org_id)
    parent = Organization.objects.get_parent(branch)
    if parent is None:
        raise ValidationError(
            {"member": _("%(org)s has no higher committee to approve a reduction.") % {"org": branch.name}}
        )
    return parent


def reduction_propose(
    *,
    actor: Any,
    member: Member,
    kind: str,
    start_month: dt.date,
    end_month: dt.date,
    reason: str,
    monthly_amount: Any = None,
) -> DuesReduction:
    """The branch proposes a reduction (``kind`` "reduce", with the reduced ``monthly_amount``) or a waiver
    ("waive") of ``member``'s dues from ``start_month`` to ``end_month`` (months, inclusive) for a
    hardship ``reason``. It changes nothing until the branch and the higher committee have approved."""
    if not can(actor, "change", member.org):
        raise _denied()
    reason = (reason or "").strip()
    errors: dict[str, str] = {}
    if kind not in DuesReduction.Kind.values:
        errors["kind"] = _("Choose a reduction or a waiver.")
    if not reason:
        errors["reason"] = _("Describe the member's hardship: the reason for the reduction.")
    start, end = month_start(start_month), month_start(end_month)
    if end < start:
        errors["end_month"] = _("The last month cannot be before the first month.")
    amount = None
    if kind == DuesReduction.Kind.REDUCE:
        if monthly_amount in (None, ""):
            errors["monthly_amount"] = _("Enter the reduced monthly amount, or choose a waiver.")
        else:
            amount = parse_money(monthly_amount, field="monthly_amount", label=_("The reduced amount"))
            if amount <= 0:
                errors["monthly_amount"] = _(
                    "A reduced amount must be more than zero; to pay nothing, choose a waiver."
                )
            elif amount > MAX_MONTHLY:
                errors["monthly_amount"] = _(
                    "The reduced amount is too large: at most %(max)s yuan a month. Check the number."
                ) % {"max": f"{MAX_MONTHLY:,.2f}"}
            else:
                latest = DuesBill.objects.filter(member=member).order_by("-month").first()
                if latest is not None and amount >= latest.standard_amount:
                    errors["monthly_amount"] = _(
                        "The reduced amount must be less than the standard amount of %(standard)s yuan."
                    ) % {"standard": latest.standard_amount}
    if errors:
        raise ValidationError(errors)
    higher = _higher_committee(member)
    with transaction.atomic():
        Member.objects.select_for_update().get(pk=member.pk)
        overlapping = (
            DuesReduction.objects.filter(member=member, status__in=ACTIVE)
            .filter(start_month__lte=end, end_month__gte=start)
            .order_by("start_month")
            .first()
        )
        if overlapping is not None:
            raise ValidationError(
                {
                    "start_month": _(
                        "This period overlaps another reduction (%(start)s–%(end)s, %(status)s): withdraw "
                        "it or choose other months."
                    )
                    % {
                        "start": _ym(overlapping.start_month),
                        "end": _ym(overlapping.end_month),
                        "status": overlapping.get_status_display(),
                    }
                }
            )
        reduction = DuesReduction.objects.create(
            member=member,
            kind=kind,
            monthly_amount=amount,
            start_month=start,
            end_month=end,
            reason=reason[:300],
            proposed_by=actor if getattr(actor, "is_authenticated", False) else None,
            higher_org=higher,
        )
        audit_log(
            actor=actor,
            action="dues.reduction_proposed",
            obj=reduction,
            org=member.org,
            changes={
                "member": member.pk,
                "kind": kind,
                "monthly_amount": amount,
                "start_month": _ym(start),
                "end_month": _ym(end),
                "reason": reason,
            },
        )
    return reduction


def _apply_to_bills(reduction: DuesReduction) -> int:
    bills = DuesBill.objects.select_for_update().filter(
        member_id=reduction.member_id,
        month__gte=reduction.start_month,
        month__lte=reduction.end_month,
        status__in=(BillStatus.OPEN, BillStatus.PART_PAID),
    )
    changed = 0
    for bill in bills:
        apply_reduction(bill, reduction)
        bill.save(update_fields=["reduction", "amount", "status"])
        changed += 1
    return changed


def reduction_decide(
    *, actor: Any, reduction: DuesReduction, approve: bool, reason: str = ""
) -> DuesReduction:
    """The next decision on ``reduction``: first the branch's (someone who may change the member's
    branch), then the higher committee's (someone else, who may change the branch's parent). A refusal
    needs a reason and ends the reduction; the committee's approval applies it to the open bills of the
    period."""
    reason = (reason or "").strip()
    if not approve and not reason:
        raise ValidationError({"reason": _("Give the reason for refusing the reduction.")})
    with transaction.atomic():
        reduction = (
            DuesReduction.objects.select_for_update(of=("self",))
            .select_related("member__org")
            .get(pk=reduction.pk)
        )
        member = reduction.member
        now = timezone.now()
        r = rule_for(timezone.localdate(), member.org)
        if reduction.status == DuesReduction.Status.PROPOSED:
            if not can(actor, "change", member.org):
                raise _denied()
            reduction.branch_decided_by = actor
            reduction.branch_decided_at = now
            reduction.status = (
                DuesReduction.Status.BRANCH_APPROVED if approve else DuesReduction.Status.REJECTED
            )
            if reduction.higher_org_id is None:
                reduction.higher_org = _higher_committee(member)
            step = "branch_approved" if approve else "rejected"
        elif reduction.status == DuesReduction.Status.BRANCH_APPROVED:
            higher = reduction.higher_org or _higher_committee(member)
            if not can(actor, "change", higher):
                raise PermissionDenied(
                    _("The branch has approved; the decision now belongs to %(org)s.") % {"org": higher.name}
                )
            if reduction.branch_decided_by_id is not None and actor.pk == reduction.branch_decided_by_id:
                raise RuleViolationError(
                    Violation(
                        code="same_approver",
                        article=article(r, "hardship"),
                        message=_(
                            "You approved this reduction for the branch; the higher committee's approval "
                            "must be given by someone else of %(org)s."
                        )
                        % {"org": higher.name},
                        rule_ref=r.ref,
                    )
                )
            reduction.higher_org = higher
            reduction.higher_decided_by = actor
            reduction.higher_decided_at = now
            reduction.status = DuesReduction.Status.APPROVED if approve else DuesReduction.Status.REJECTED
            step = "approved" if approve else "rejected"
        else:
            raise ValidationError(
                {
                    "status": _("This reduction is “%(status)s”: there is nothing left to decide.")
                    % {"status": reduction.get_status_display()}
                }
            )
        reduction.decision_reason = reason[:200]
        reduction.save()
        changes: dict[str, Any] = {"status": reduction.status, "reason": reason, "rule": r.ref}
        if reduction.status == DuesReduction.Status.APPROVED:
            changes["bills_changed"] = _apply_to_bills(reduction)
        audit_log(
            actor=actor, action=f"dues.reduction_{step}", obj=reduction, org=member.org, changes=changes
        )
        if member.user_id and reduction.status in (
            DuesReduction.Status.APPROVED,
            DuesReduction.Status.REJECTED,
        ):
            user_id, pk = member.user_id, reduction.pk
            title = (
                _("Your dues reduction for %(start)s–%(end)s was approved")
                if reduction.status == DuesReduction.Status.APPROVED
                else _("Your dues reduction for %(start)s–%(end)s was not approved")
            ) % {"start": _ym(reduction.start_month), "end": _ym(reduction.end_month)}
            transaction.on_commit(lambda: _notify(user_id, title, reason, pk))
    return reduction


def _notify(user_id: int, title: str, body: str, reduction_id: int) -> None:
    from dangjian.core.notifications import notify

    notify(user_id, title=title, body=body, kind="dues_reduction", key=str(reduction_id))


def reduction_withdraw(*, actor: Any, reduction: DuesReduction, reason: str = "") -> DuesReduction:
    """The branch withdraws a reduction that is not yet approved (e.g. the hardship has ended)."""
    reason = (reason or "").strip()
    with transaction.atomic():
        reduction = (
            DuesReduction.objects.select_for_update(of=("self",))
            .select_related("member__org")
            .get(pk=reduction.pk)
        )
        if not can(actor, "change", reduction.member.org):
            raise _denied()
        if reduction.status not in PENDING:
            raise ValidationError(
                {
                    "status": _(
                        "Only a reduction awaiting approval can be withdrawn; this one is “%(status)s”."
                    )
                    % {"status": reduction.get_status_display()}
                }
            )
        reduction.status = DuesReduction.Status.WITHDRAWN
        reduction.decision_reason = reason[:200]
        reduction.save(update_fields=["status", "decision_reason"])
        audit_log(
            actor=actor,
            action="dues.reduction_withdrawn",
            obj=reduction,
            org=reduction.member.org,
            changes={"reason": reason},
        )
    return reduction
