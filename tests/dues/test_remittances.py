"""Remittances up the tree (上缴): the sender's account goes down, never below zero; the receiving level
confirms (its account goes up) or returns (the sender's amount comes back); every step on the ledger."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from dangjian.core.ledger import account_balance, verify_ledgers
from dangjian.core.models import AuditEntry, LedgerEntry
from dangjian.dues import rules
from dangjian.dues.models import LEDGER, DuesRemittance, org_account
from dangjian.dues.payments import RuleViolationError
from dangjian.dues.remittances import (
    org_dues_balance,
    remittance_confirm,
    remittance_record,
    remittance_return,
)
from tests.dues.test_payments import make_bills, pay

D = dt.date
ON = D(2026, 7, 5)


@pytest.fixture(autouse=True)
def _on_the_remittance_date(today_is):
    """The collection and the remittances below are recorded around ON (the payments' back-payment limit
    is checked against the day they are recorded)."""
    today_is(ON)


@pytest.fixture
def collected(tree, secretary_a, member_factory):
    """Branch A collected 180.00: one member's first half of 2026."""
    member = member_factory(tree.branch_a)
    months = rules.months_between(D(2026, 1, 1), D(2026, 6, 1))
    make_bills(member, months[0], months[-1])
    pay(secretary_a, member, months, paid_on=D(2026, 6, 20))
    return member


def send(actor, org, amount="180.00", **kw) -> DuesRemittance:
    kw.setdefault("period_start", D(2026, 1, 1))
    kw.setdefault("period_end", D(2026, 6, 1))
    kw.setdefault("remitted_on", ON)
    return remittance_record(actor=actor, from_org=org, amount=amount, **kw)


def balance(org) -> Decimal:
    return account_balance(LEDGER, org_account(org.pk))


def test_remit_confirm_and_pass_on_to_the_top(tree, collected, secretary_a, district_manager, org_manager):
    remittance = send(secretary_a, tree.branch_a, reference="转账凭证 88", note="上半年")
    assert (remittance.to_org, remittance.status) == (tree.district_a, DuesRemittance.Status.SENT)
    assert remittance.sent_entry.amount == Decimal("-180.00") and remittance.sent_entry.kind == "remitted"
    assert balance(tree.branch_a) == Decimal("0.00") == org_dues_balance(tree.branch_a)
    assert balance(tree.district_a) == Decimal("0.00")  # not before the receipt is confirmed

    remittance = remittance_confirm(actor=district_manager, remittance=remittance)
    assert (remittance.status, remittance.confirmed_by) == (DuesRemittance.Status.CONFIRMED, district_manager)
    assert remittance.received_entry.kind == "received"
    assert balance(tree.district_a) == Decimal("180.00")

    # The district passes it on to the city: the trail runs from the branch to the top.
    upward = send(district_manager, tree.district_a, "180.00")
    remittance_confirm(actor=org_manager, remittance=upward)
    assert (balance(tree.district_a), balance(tree.city)) == (Decimal("0.00"), Decimal("180.00"))
    assert verify_ledgers().ok
    actions = set(
        AuditEntry.objects.filter(action__startswith="dues.remittance_").values_list("action", flat=True)
    )
    assert actions == {"dues.remittance_recorded", "dues.remittance_confirmed"}


def test_remitting_more_than_the_balance_is_refused(tree, collected, secretary_a):
    with pytest.raises(RuleViolationError) as caught:
        send(secretary_a, tree.branch_a, "180.01")
    v = caught.value.violation
    assert (v.code, v.field) == ("remittance_exceeds_balance", "amount")
    assert v.article == rules.article(rules.rule_for(ON), "remittance") and "上缴" in v.article
    assert "180.00" in v.message
    assert not DuesRemittance.objects.exists()
    assert balance(tree.branch_a) == Decimal("180.00")
    send(secretary_a, tree.branch_a, "100.00")
    with pytest.raises(RuleViolationError):
        send(secretary_a, tree.branch_a, "80.01")
    assert send(secretary_a, tree.branch_a, "80.00").amount == Decimal("80.00")


def test_nothing_collected_nothing_to_remit(tree, secretary_b):
    with pytest.raises(RuleViolationError):
        send(secretary_b, tree.branch_b, "1.00")


# (who confirms or returns a remittance from branch A to district A, allowed?)
RECEIVERS = [
    ("secretary_a", False),  # the sender cannot confirm its own remittance
    ("secretary_b", False),
    ("auditor", False),
    ("district_manager", True),
    ("org_manager", True),
]


@pytest.mark.parametrize(("persona", "allowed"), RECEIVERS)
def test_only_the_receiving_organisation_confirms(persona, allowed, tree, collected, people):
    remittance = send(people["secretary_a"], tree.branch_a)
    if allowed:
        assert remittance_confirm(actor=people[persona], remittance=remittance).status == "confirmed"
    else:
        with pytest.raises(PermissionDenied):
            remittance_confirm(actor=people[persona], remittance=remittance)
        with pytest.raises(PermissionDenied):
            remittance_return(actor=people[persona], remittance=remittance, reason="金额不符")
        remittance.refresh_from_db()
        assert remittance.status == DuesRemittance.Status.SENT
        assert balance(tree.district_a) == Decimal("0.00")


def test_return_books_the_amount_back(tree, collected, secretary_a, district_manager):
    remittance = send(secretary_a, tree.branch_a)
    with pytest.raises(ValidationError) as caught:
        remittance_return(actor=district_manager, remittance=remittance, reason=" ")
    assert "reason" in caught.value.message_dict
    remittance = remittance_return(actor=district_manager, remittance=remittance, reason="未收到转账")
    assert remittance.status == DuesRemittance.Status.RETURNED
    back = LedgerEntry.objects.get(reverses=remittance.sent_entry)
    assert (back.amount, back.kind, back.data["reason"]) == (
        Decimal("180.00"),
        "remittance_returned",
        "未收到转账",
    )
    assert balance(tree.branch_a) == Decimal("180.00")
    assert balance(tree.district_a) == Decimal("0.00")
    with pytest.raises(ValidationError):
        remittance_confirm(actor=district_manager, remittance=remittance)
    with pytest.raises(ValidationError):
        remittance_return(actor=district_manager, remittance=remittance, reason="再次")
    assert verify_ledgers().ok
    # The sender records it again.
    assert send(secretary_a, tree.branch_a).status == DuesRemittance.Status.SENT


def test_confirmed_once(tree, collected, secretary_a, district_manager):
    remittance = send(secretary_a, tree.branch_a)
    remittance_confirm(actor=district_manager, remittance=remittance)
    with pytest.raises(ValidationError):
        remittance_confirm(actor=district_manager, remittance=remittance)
    assert balance(tree.district_a) == Decimal("180.00")


# (case, arguments, field of the error)
INVALID = [
    ("zero", {"amount": "0"}, "amount"),
    ("centre's part above the amount", {"central_amount": "200.00"}, "central_amount"),
    ("negative centre's part", {"central_amount": "-1"}, "central_amount"),
    ("period backwards", {"period_start": D(2026, 6, 1), "period_end": D(2026, 1, 1)}, "period_end"),
    ("in the future", {"remitted_on": dt.date.today() + dt.timedelta(days=2)}, "remitted_on"),
]


@pytest.mark.parametrize(("case", "kw", "field"), INVALID)
def test_invalid_remittance_says_what_to_fix(case, kw, field, tree, collected, secretary_a):
    with pytest.raises(ValidationError) as caught:
        send(secretary_a, tree.branch_a, **kw)
    assert field in caught.value.message_dict, case
    assert not DuesRemittance.objects.exists()


def test_top_of_the_tree_has_no_one_to_remit_to(tree, org_manager):
    with pytest.raises(ValidationError) as caught:
        send(org_manager, tree.city, "1.00")
    assert "from_org" in caught.value.message_dict


def test_only_the_sending_organisation_records(tree, collected, secretary_b, auditor):
    for actor in (secretary_b, auditor):
        with pytest.raises(PermissionDenied):
            send(actor, tree.branch_a)
    assert balance(tree.branch_a) == Decimal("180.00")


def test_extra_for_the_centre_is_carried(tree, secretary_a, member_factory):
    member = member_factory(tree.branch_a)
    pay(secretary_a, member, [], extra_amount="1000.00", paid_on=D(2026, 6, 1))
    remittance = send(secretary_a, tree.branch_a, "1000.00", central_amount="1000.00")
    assert remittance.central_amount == Decimal("1000.00")
    assert remittance.sent_entry.data["central"] == "1000.00"
