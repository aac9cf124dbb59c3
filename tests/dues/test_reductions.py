"""Hardship reductions and waivers (减免): the branch, then the next higher committee — someone else —
approve (中组发〔2008〕3号: 经党支部研究、报上一级党委批准); only then are the period's open bills changed, and
bills generated later follow the approved reduction (``approved_reductions`` / ``apply_reduction``)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from dangjian.core.models import AuditEntry
from dangjian.dues import rules
from dangjian.dues.models import BillStatus, DuesBill, DuesReduction
from dangjian.dues.payments import RuleViolationError, payment_reverse
from dangjian.dues.reductions import (
    apply_reduction,
    approved_reductions,
    reduction_decide,
    reduction_propose,
    reduction_withdraw,
)
from tests.dues.test_payments import PAID_ON, make_bill, make_bills, pay

D = dt.date


@pytest.fixture(autouse=True)
def _recorded_on_the_payment_date(today_is):
    """Payments below are recorded on the day they are paid (test_payments.PAID_ON)."""
    today_is(PAID_ON)


@pytest.fixture
def member(tree, member_factory):
    return member_factory(tree.branch_a)


MARCH, JUNE = D(2026, 3, 1), D(2026, 6, 1)


def propose(actor, member, kind="waive", start=MARCH, end=JUNE, **kw) -> DuesReduction:
    return reduction_propose(
        actor=actor,
        member=member,
        kind=kind,
        start_month=start,
        end_month=end,
        reason="家庭遭遇重大变故",
        **kw,
    )


def approved(member, secretary, committee, **kw) -> DuesReduction:
    reduction = propose(secretary, member, **kw)
    reduction_decide(actor=secretary, reduction=reduction, approve=True)
    return reduction_decide(actor=committee, reduction=reduction, approve=True)


def test_two_step_approval_waives_the_open_bills_of_the_period(
    tree, secretary_a, district_manager, member, member_factory
):
    bills = {b.month: b for b in make_bills(member, D(2026, 1, 1), D(2026, 7, 1))}
    pay(secretary_a, member, [D(2026, 3, 1)])  # paid before the approval: stays paid, no refund
    reduction = propose(secretary_a, member)
    assert (reduction.status, reduction.higher_org) == (DuesReduction.Status.PROPOSED, tree.district_a)
    assert not DuesBill.objects.filter(reduction__isnull=False).exists()

    reduction = reduction_decide(actor=secretary_a, reduction=reduction, approve=True)
    assert reduction.status == DuesReduction.Status.BRANCH_APPROVED
    assert reduction.branch_decided_by == secretary_a
    assert not DuesBill.objects.filter(reduction__isnull=False).exists()  # not before the committee

    reduction = reduction_decide(actor=district_manager, reduction=reduction, approve=True, reason="同意")
    assert reduction.status == DuesReduction.Status.APPROVED
    assert reduction.higher_decided_by == district_manager
    for month, bill in bills.items():
        bill.refresh_from_db()
        if month == D(2026, 3, 1):
            assert (bill.status, bill.amount, bill.reduction) == (BillStatus.PAID, Decimal("30.00"), None)
        elif D(2026, 4, 1) <= month <= D(2026, 6, 1):
            assert (bill.status, bill.amount, bill.reduction) == (
                BillStatus.WAIVED,
                Decimal("0.00"),
                reduction,
            )
            assert bill.standard_amount == Decimal("30.00") and bill.outstanding == Decimal("0.00")
        else:
            assert (bill.status, bill.amount, bill.reduction) == (BillStatus.OPEN, Decimal("30.00"), None)
    actions = list(
        AuditEntry.objects.filter(action__startswith="dues.reduction_").values_list("action", flat=True)
    )
    assert sorted(actions) == sorted(
        ["dues.reduction_proposed", "dues.reduction_branch_approved", "dues.reduction_approved"]
    )
    assert AuditEntry.objects.get(action="dues.reduction_approved").changes["bills_changed"] == 3


def test_reduction_lowers_the_amount(secretary_a, district_manager, member):
    make_bills(member, D(2026, 3, 1), D(2026, 4, 1), "45.00")
    reduction = approved(member, secretary_a, district_manager, kind="reduce", monthly_amount="5.00")
    for bill in DuesBill.objects.filter(member=member):
        assert (bill.amount, bill.status, bill.reduction) == (Decimal("5.00"), BillStatus.OPEN, reduction)
    assert pay(secretary_a, member, [D(2026, 3, 1)]).dues_amount == Decimal("5.00")


def test_reversing_a_payment_of_a_month_waived_since_reopens_it_waived(secretary_a, district_manager, member):
    """A month paid by mistake, then waived (减免 approved after the payment): reversing the payment leaves
    the month waived, not open at the full amount."""
    bill = make_bill(member, D(2026, 4, 1))
    payment = pay(secretary_a, member, [D(2026, 4, 1)])
    reduction = approved(member, secretary_a, district_manager, start=D(2026, 4, 1), end=D(2026, 4, 1))
    bill.refresh_from_db()
    assert (bill.status, bill.amount) == (BillStatus.PAID, Decimal("30.00"))  # paid: no refund
    payment_reverse(actor=secretary_a, payment=payment, reason="录错")
    bill.refresh_from_db()
    assert (bill.status, bill.amount, bill.paid_amount, bill.reduction) == (
        BillStatus.WAIVED, Decimal("0.00"), Decimal("0.00"), reduction
    )  # fmt: skip


def test_reversing_a_payment_of_a_month_reduced_since_reopens_it_at_the_reduced_amount(
    secretary_a, district_manager, member
):
    bill = make_bill(member, D(2026, 4, 1), "45.00")
    payment = pay(secretary_a, member, [D(2026, 4, 1)])
    approved(member, secretary_a, district_manager, kind="reduce", monthly_amount="5.00")
    payment_reverse(actor=secretary_a, payment=payment, reason="录错")
    bill.refresh_from_db()
    assert (bill.status, bill.amount) == (BillStatus.OPEN, Decimal("5.00"))


# (paid before the approval, reduced monthly amount or a waiver → the bill's amount and status)
# What was paid stays paid and settles the bill; the rest is forgiven; paid never exceeds the amount.
PART_PAID = [
    ("20.00", "5.00", "20.00", BillStatus.PAID),
    ("20.00", None, "20.00", BillStatus.PAID),  # a waiver
    ("3.00", "5.00", "5.00", BillStatus.PART_PAID),
    ("5.00", "5.00", "5.00", BillStatus.PAID),
]


@pytest.mark.parametrize(("paid", "monthly", "amount", "status"), PART_PAID)
def test_reduction_of_a_part_paid_bill_keeps_what_was_paid(
    secretary_a, district_manager, member, paid, monthly, amount, status
):
    bill = make_bill(member, D(2026, 4, 1), paid_amount=Decimal(paid), status=BillStatus.PART_PAID)
    kind = {"kind": "reduce", "monthly_amount": monthly} if monthly else {"kind": "waive"}
    approved(member, secretary_a, district_manager, start=D(2026, 4, 1), end=D(2026, 4, 1), **kind)
    bill.refresh_from_db()
    assert (bill.amount, bill.status, bill.paid_amount) == (Decimal(amount), status, Decimal(paid))
    assert bill.paid_amount <= bill.amount


def test_waived_month_cannot_be_paid(secretary_a, district_manager, member):
    make_bill(member, D(2026, 4, 1))
    approved(member, secretary_a, district_manager)
    with pytest.raises(ValidationError):
        pay(secretary_a, member, [D(2026, 4, 1)])


# (who tries the higher committee's step after secretary_a approved for the branch, what happens)
HIGHER_STEP = [
    ("secretary_a", PermissionDenied),  # the branch cannot approve for its own higher committee
    ("secretary_b", PermissionDenied),  # another district
    ("auditor", PermissionDenied),  # read-only
    ("district_manager", None),
    ("org_manager", None),  # the city manages district_a's subtree too
]


@pytest.mark.parametrize(("persona", "error"), HIGHER_STEP)
def test_who_may_approve_for_the_higher_committee(persona, error, people, member):
    reduction = propose(people["secretary_a"], member)
    reduction_decide(actor=people["secretary_a"], reduction=reduction, approve=True)
    if error is None:
        assert reduction_decide(actor=people[persona], reduction=reduction, approve=True).status == "approved"
    else:
        with pytest.raises(error):
            reduction_decide(actor=people[persona], reduction=reduction, approve=True)
        reduction.refresh_from_db()
        assert reduction.status == DuesReduction.Status.BRANCH_APPROVED


def test_the_same_person_cannot_approve_both_steps(org_manager, member):
    """两级审批: the committee's approval is someone else's, even for a manager of both levels."""
    make_bill(member, D(2026, 4, 1))
    reduction = propose(org_manager, member)
    reduction_decide(actor=org_manager, reduction=reduction, approve=True)
    with pytest.raises(RuleViolationError) as caught:
        reduction_decide(actor=org_manager, reduction=reduction, approve=True)
    v = caught.value.violation
    assert v.code == "same_approver"
    assert (
        v.article == rules.article(rules.rule_for(dt.date.today()), "hardship")
        and "上一级党委批准" in v.article
    )
    assert DuesBill.objects.get(member=member).status == BillStatus.OPEN


def test_only_the_members_branch_proposes_and_decides_first(secretary_a, secretary_b, auditor, member):
    for outsider in (secretary_b, auditor):
        with pytest.raises(PermissionDenied):
            propose(outsider, member)
    reduction = propose(secretary_a, member)
    for outsider in (secretary_b, auditor):
        with pytest.raises(PermissionDenied):
            reduction_decide(actor=outsider, reduction=reduction, approve=True)
    reduction.refresh_from_db()
    assert reduction.status == DuesReduction.Status.PROPOSED


def test_refusal_needs_a_reason_and_changes_nothing(secretary_a, district_manager, member):
    make_bill(member, D(2026, 4, 1))
    reduction = propose(secretary_a, member)
    with pytest.raises(ValidationError) as caught:
        reduction_decide(actor=secretary_a, reduction=reduction, approve=False)
    assert "reason" in caught.value.message_dict
    reduction_decide(actor=secretary_a, reduction=reduction, approve=True)
    reduction = reduction_decide(
        actor=district_manager, reduction=reduction, approve=False, reason="材料不足"
    )
    assert (reduction.status, reduction.decision_reason) == (DuesReduction.Status.REJECTED, "材料不足")
    assert DuesBill.objects.get(member=member).status == BillStatus.OPEN
    with pytest.raises(ValidationError):
        reduction_decide(actor=district_manager, reduction=reduction, approve=True)


# (case, arguments, field of the error)
INVALID = [
    ("reduction without an amount", {"kind": "reduce"}, "monthly_amount"),
    ("reduction to zero", {"kind": "reduce", "monthly_amount": "0"}, "monthly_amount"),
    ("reduction not below the standard", {"kind": "reduce", "monthly_amount": "30.00"}, "monthly_amount"),
    ("unknown kind", {"kind": "special"}, "kind"),
    ("period ends before it starts", {"start": D(2026, 6, 1), "end": D(2026, 3, 1)}, "end_month"),
]


@pytest.mark.parametrize(("case", "kw", "field"), INVALID)
def test_invalid_proposal_says_what_to_fix(case, kw, field, secretary_a, member):
    make_bill(member, D(2026, 2, 1))
    with pytest.raises(ValidationError) as caught:
        propose(secretary_a, member, **kw)
    assert field in caught.value.message_dict, case


def test_reason_is_required(secretary_a, member):
    with pytest.raises(ValidationError) as caught:
        reduction_propose(
            actor=secretary_a,
            member=member,
            kind="waive",
            start_month=D(2026, 1, 1),
            end_month=D(2026, 2, 1),
            reason="",
        )
    assert "reason" in caught.value.message_dict


def test_overlapping_periods_are_refused(secretary_a, member):
    propose(secretary_a, member, start=D(2026, 3, 1), end=D(2026, 6, 1))
    with pytest.raises(ValidationError) as caught:
        propose(secretary_a, member, start=D(2026, 6, 1), end=D(2026, 9, 1))
    assert "2026-03" in str(caught.value)
    assert propose(secretary_a, member, start=D(2026, 7, 1), end=D(2026, 9, 1)).status == "proposed"


def test_withdraw_before_approval_only(secretary_a, secretary_b, district_manager, member):
    pending = propose(secretary_a, member, start=D(2026, 1, 1), end=D(2026, 2, 1))
    with pytest.raises(PermissionDenied):
        reduction_withdraw(actor=secretary_b, reduction=pending)
    withdrawn = reduction_withdraw(actor=secretary_a, reduction=pending, reason="困难已解除")
    assert (withdrawn.status, withdrawn.decision_reason) == (DuesReduction.Status.WITHDRAWN, "困难已解除")
    assert AuditEntry.objects.filter(action="dues.reduction_withdrawn").exists()
    done = approved(member, secretary_a, district_manager, start=D(2026, 3, 1), end=D(2026, 4, 1))
    with pytest.raises(ValidationError):
        reduction_withdraw(actor=secretary_a, reduction=done)
    # A withdrawn period is free again.
    assert propose(secretary_a, member, start=D(2026, 1, 1), end=D(2026, 2, 1)).status == "proposed"


# ── what bills_generate uses ──────────────────────────────────────────────────────────────────────


def test_approved_reductions_for_a_month(tree, secretary_a, district_manager, member, member_factory):
    other = member_factory(tree.branch_a)
    done = approved(member, secretary_a, district_manager, start=D(2026, 3, 1), end=D(2026, 6, 1))
    propose(secretary_a, other, start=D(2026, 3, 1), end=D(2026, 6, 1))  # not approved: ignored
    assert approved_reductions(month=D(2026, 5, 1)) == {member.pk: done}
    assert approved_reductions(month=D(2026, 5, 20), member_ids=[other.pk]) == {}
    assert approved_reductions(month=D(2026, 7, 1)) == {}


# (kind, monthly amount, standard, paid so far, amount after, status after)
APPLY = [
    ("waive", None, "30.00", "0.00", "0.00", BillStatus.WAIVED),
    ("reduce", "5.00", "30.00", "0.00", "5.00", BillStatus.OPEN),
    ("reduce", "50.00", "30.00", "0.00", "30.00", BillStatus.OPEN),  # never raises the amount
    ("reduce", "5.00", "30.00", "5.00", "5.00", BillStatus.PAID),
    ("reduce", "10.00", "30.00", "5.00", "10.00", BillStatus.PART_PAID),
]


@pytest.mark.parametrize(("kind", "monthly", "standard", "paid", "amount", "status"), APPLY)
def test_apply_reduction_to_a_new_bill(kind, monthly, standard, paid, amount, status):
    reduction = DuesReduction(kind=kind, monthly_amount=Decimal(monthly) if monthly else None)
    bill = DuesBill(standard_amount=Decimal(standard), amount=Decimal(standard), paid_amount=Decimal(paid))
    apply_reduction(bill, reduction)
    assert (bill.amount, bill.status, bill.reduction) == (Decimal(amount), status, reduction)
