"""Recording and reversing dues payments (RULES.md §2, 中组发〔2008〕3号): the rules as a table citing the
article, the ledger entries booked with the payment, idempotence on ``source_key``, reversal, and — on
PostgreSQL — concurrent payments of one member from several threads."""

from __future__ import annotations

import datetime as dt
import threading
from decimal import Decimal
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, connections

from dangjian.core.ledger import account_balance, verify_ledgers
from dangjian.core.models import AuditEntry, LedgerEntry, Notification, RuleOverride
from dangjian.dues import rules
from dangjian.dues.models import (
    LEDGER,
    BillStatus,
    DuesBill,
    DuesOrgSetting,
    DuesPayment,
    DuesReduction,
    member_account,
    org_account,
)
from dangjian.dues.payments import (
    IdempotencyKeyReusedError,
    RuleViolationError,
    payment_record,
    payment_reverse,
)

D = dt.date
PAID_ON = D(2026, 5, 10)  # second quarter: April–June


def make_bill(
    member: Any, month: dt.date, amount: str = "30.00", *, org: Any = None, **fields: Any
) -> DuesBill:
    """A month's bill as bills_generate would write it (an employed member on a base of 3000.01–5000)."""
    org = org or member.org
    values = {
        "category": "employed",
        "base": Decimal("4000.00"),
        "rate": Decimal("0.01"),
        "standard_amount": Decimal(amount),
        "amount": Decimal(amount),
        "rule_ref": "dues@2008",
        **fields,
    }
    return DuesBill.objects.create(member=member, org=org, org_path=org.path, month=month, **values)


def make_bills(member: Any, first: dt.date, last: dt.date, amount: str = "30.00") -> list[DuesBill]:
    return [make_bill(member, m, amount) for m in rules.months_between(first, last)]


def pay(actor: Any, member: Any, months: list[dt.date], **kw: Any) -> DuesPayment:
    kw.setdefault("method", "cash")
    kw.setdefault("paid_on", PAID_ON)
    return payment_record(actor=actor, member=member, months=months, **kw)


def article(name: str, on: dt.date = PAID_ON) -> str:
    return rules.article(rules.rule_for(on), name)


@pytest.fixture(autouse=True)
def _recorded_on_the_payment_date(today_is):
    """The payments below are recorded on the day they are paid (PAID_ON), unless a test says otherwise."""
    today_is(PAID_ON)


@pytest.fixture
def member(tree, member_factory):
    return member_factory(tree.branch_a)


# ── booking ───────────────────────────────────────────────────────────────────────────────────────


def test_payment_settles_the_months_and_books_both_accounts(tree, secretary_a, member):
    bills = make_bills(member, D(2026, 2, 1), D(2026, 4, 1))
    payment = pay(secretary_a, member, [D(2026, 2, 1), D(2026, 3, 1), D(2026, 4, 1)], reference="收据001")

    assert payment.dues_amount == Decimal("90.00") and payment.total == Decimal("90.00")
    assert payment.org == tree.branch_a and payment.org_path == tree.branch_a.path
    assert payment.rule_ref.startswith("dues@")
    assert sorted(p.bill_id for p in payment.months.all()) == sorted(b.pk for b in bills)
    for bill in bills:
        bill.refresh_from_db()
        assert (bill.status, bill.paid_amount) == (BillStatus.PAID, Decimal("30.00"))
    assert account_balance(LEDGER, member_account(member.pk)) == Decimal("90.00")
    assert account_balance(LEDGER, org_account(tree.branch_a.pk)) == Decimal("90.00")
    assert payment.ledger_entry.account.key == member_account(member.pk)
    assert payment.ledger_entry.data["months"] == ["2026-02", "2026-03", "2026-04"]
    org_entry = LedgerEntry.objects.get(account__key=org_account(tree.branch_a.pk))
    assert org_entry.source_key == f"payment:{payment.pk}:org" and org_entry.kind == "payment"
    assert verify_ledgers().ok
    entry = AuditEntry.objects.get(action="dues.payment_recorded")
    assert entry.org_id == tree.branch_a.pk and entry.changes["months"] == ["2026-02", "2026-03", "2026-04"]


def test_part_paid_month_is_settled_for_what_remains(secretary_a, member):
    bill = make_bill(
        member, D(2026, 4, 1), "45.00", paid_amount=Decimal("30.00"), status=BillStatus.PART_PAID
    )
    payment = pay(secretary_a, member, [D(2026, 4, 1)], amount="15.00")
    bill.refresh_from_db()
    assert payment.dues_amount == Decimal("15.00")
    assert (bill.status, bill.paid_amount) == (BillStatus.PAID, Decimal("45.00"))


def test_member_with_a_login_is_notified(tree, secretary_a, member_a, django_capture_on_commit_callbacks):
    me = member_a.member
    make_bill(me, D(2026, 5, 1))
    with django_capture_on_commit_callbacks(execute=True):
        pay(secretary_a, me, [D(2026, 5, 1)])
    note = Notification.objects.get(user=member_a)
    assert "30.00" in note.title and note.body == "2026-05"


# ── the rules, as a table ─────────────────────────────────────────────────────────────────────────

# (case, months paid, extra arguments, branch consents to quarterly payment, violation, article key)
REFUSED = [
    ("back payment of 7 months", [D(2025, 10, 1)], {}, False, "back_payment_too_old", "back_payment"),
    ("back payment beyond the limit among others", [D(2025, 9, 1), D(2026, 4, 1)], {}, False,
     "back_payment_too_old", "back_payment"),
    ("next quarter", [D(2026, 7, 1)], {}, True, "future_month_outside_quarter", "payment"),
    ("rest of the quarter without the branch's consent", [D(2026, 6, 1)], {}, False, "quarterly_not_allowed",
     "payment"),
    ("deduction from pay", [D(2026, 5, 1)], {"method": "payroll_deduction"}, False, "method_not_allowed",
     "no_advance"),
    ("advance by the organisation", [D(2026, 5, 1)], {"method": "org_advance"}, False, "method_not_allowed",
     "no_advance"),
    ("proxy without the payer's name", [D(2026, 5, 1)], {"by_proxy": True}, False, "proxy_name_required",
     "payment"),
]  # fmt: skip


@pytest.mark.parametrize(("case", "months", "extra", "quarterly", "code", "article_key"), REFUSED)
def test_rule_refuses(case, months, extra, quarterly, code, article_key, tree, secretary_a, member):
    make_bills(member, D(2025, 9, 1), D(2026, 5, 1))
    DuesOrgSetting.objects.create(org=tree.branch_a, quarterly_allowed=quarterly)
    with pytest.raises(RuleViolationError) as caught:
        pay(secretary_a, member, months, **extra)
    v = caught.value.violation
    assert (v.code, v.rule) == (code, "dues"), case
    assert v.article == article(article_key) and "党费" in v.article, case
    assert v.message and v.rule_ref.startswith("dues@"), case
    assert not DuesPayment.objects.exists()
    assert not LedgerEntry.objects.exists()
    assert not DuesBill.objects.filter(status=BillStatus.PAID).exists()


# (case, months paid, branch consents to quarterly payment)
ALLOWED = [
    ("the month of payment", [D(2026, 5, 1)], False),
    ("back payment of exactly 6 months", [D(2025, 11, 1)], False),
    ("every month of the back-payment window", rules.months_between(D(2025, 11, 1), D(2026, 5, 1)), False),
    ("the rest of the quarter with the branch's consent", [D(2026, 5, 1), D(2026, 6, 1)], True),
]


@pytest.mark.parametrize(("case", "months", "quarterly"), ALLOWED)
def test_rule_allows(case, months, quarterly, tree, secretary_a, member):
    make_bills(member, D(2025, 9, 1), D(2026, 5, 1))
    DuesOrgSetting.objects.create(org=tree.branch_a, quarterly_allowed=quarterly)
    payment = pay(secretary_a, member, months)
    assert payment.months.count() == len(months), case
    assert payment.dues_amount == Decimal("30.00") * len(months), case


def test_paying_the_rest_of_the_quarter_creates_its_bills(tree, secretary_a, member):
    """Quarterly payment (经党支部同意可按季度交纳): June's bill is made from May's and settled."""
    DuesOrgSetting.objects.create(org=tree.branch_a, quarterly_allowed=True)
    make_bill(member, D(2026, 4, 1), "45.00")
    payment = pay(secretary_a, member, [D(2026, 4, 1), D(2026, 5, 1), D(2026, 6, 1)], paid_on=D(2026, 4, 3))
    june = DuesBill.objects.get(member=member, month=D(2026, 6, 1))
    assert (june.amount, june.status, june.org, june.rule_ref) == (
        Decimal("45.00"),
        "paid",
        tree.branch_a,
        "dues@2008",
    )
    assert payment.dues_amount == Decimal("135.00")


def test_month_ahead_applies_an_approved_reduction(tree, secretary_a, member):
    DuesOrgSetting.objects.create(org=tree.branch_a, quarterly_allowed=True)
    make_bill(member, D(2026, 4, 1), "45.00")
    reduction = DuesReduction.objects.create(
        member=member, kind="reduce", monthly_amount=Decimal("10.00"), start_month=D(2026, 5, 1),
        end_month=D(2026, 12, 1), reason="困难", status="approved",
    )  # fmt: skip
    payment = pay(secretary_a, member, [D(2026, 5, 1)], paid_on=D(2026, 4, 3))
    may = DuesBill.objects.get(member=member, month=D(2026, 5, 1))
    assert (may.amount, may.standard_amount, may.reduction) == (Decimal("10.00"), Decimal("45.00"), reduction)
    assert payment.dues_amount == Decimal("10.00")


# (extra amount, passed in full to the centre?) — 规定 第十一条: a single extra of 1000 yuan or more.
EXTRA = [("0.00", False), ("200.00", False), ("999.99", False), ("1000.00", True), ("5000.00", True)]


@pytest.mark.parametrize(("extra", "to_central"), EXTRA)
def test_extra_of_1000_or_more_goes_to_the_centre(extra, to_central, tree, secretary_a, member):
    make_bill(member, D(2026, 5, 1))
    payment = pay(secretary_a, member, [D(2026, 5, 1)], extra_amount=extra)
    assert payment.extra_to_central is to_central
    assert payment.total == Decimal("30.00") + Decimal(extra)
    assert account_balance(LEDGER, org_account(tree.branch_a.pk)) == payment.total
    assert article("extra").startswith("《关于中国共产党党费收缴、使用和管理的规定》第十一条")


def test_extra_alone_is_a_payment(tree, secretary_a, member):
    payment = pay(secretary_a, member, [], extra_amount="1000.00")
    assert (payment.dues_amount, payment.extra_to_central, payment.org) == (
        Decimal("0.00"),
        True,
        tree.branch_a,
    )


def test_proxy_payment_records_who_paid(secretary_a, member):
    make_bill(member, D(2026, 5, 1))
    payment = pay(secretary_a, member, [D(2026, 5, 1)], by_proxy=True, proxy_name="李四（配偶）")
    assert (payment.by_proxy, payment.proxy_name) == (True, "李四（配偶）")


# (case, bills to make, months sent, extra arguments, field of the error)
INVALID = [
    ("amount differs from what is due", [D(2026, 5, 1)], [D(2026, 5, 1)], {"amount": "20.00"}, "amount"),
    ("amount forgets the extra", [D(2026, 5, 1)], [D(2026, 5, 1)], {"amount": "30.00", "extra_amount": "5"},
     "amount"),
    ("a month without a bill", [D(2026, 5, 1)], [D(2026, 4, 1)], {}, "months"),
    ("nothing to pay", [], [], {}, "months"),
    ("a date in the future", [D(2026, 5, 1)], [D(2026, 5, 1)], {"paid_on": dt.date.today() + dt.timedelta(days=1)},
     "paid_on"),
    ("negative extra", [D(2026, 5, 1)], [D(2026, 5, 1)], {"extra_amount": "-1"}, "extra_amount"),
    ("extra with three decimals", [D(2026, 5, 1)], [D(2026, 5, 1)], {"extra_amount": "1.005"}, "extra_amount"),
    ("amount not a number", [D(2026, 5, 1)], [D(2026, 5, 1)], {"amount": "三十"}, "amount"),
    ("a name without proxy", [D(2026, 5, 1)], [D(2026, 5, 1)], {"proxy_name": "李四"}, "by_proxy"),
]  # fmt: skip


@pytest.mark.parametrize(("case", "bills", "months", "extra", "field"), INVALID)
def test_invalid_payment_is_refused_with_what_to_fix(case, bills, months, extra, field, secretary_a, member):
    for m in bills:
        make_bill(member, m)
    with pytest.raises(ValidationError) as caught:
        pay(secretary_a, member, months, **extra)
    assert field in caught.value.message_dict, (case, caught.value)
    assert not DuesPayment.objects.exists() and not LedgerEntry.objects.exists()


def test_amount_equal_to_the_due_is_accepted(secretary_a, member):
    make_bills(member, D(2026, 4, 1), D(2026, 5, 1))
    payment = pay(secretary_a, member, [D(2026, 4, 1), D(2026, 5, 1)], amount="65.50", extra_amount="5.50")
    assert payment.total == Decimal("65.50")


@pytest.mark.parametrize("status", [BillStatus.PAID, BillStatus.WAIVED])
def test_closed_months_cannot_be_paid(status, secretary_a, member):
    make_bill(member, D(2026, 5, 1), status=status)
    with pytest.raises(ValidationError) as caught:
        pay(secretary_a, member, [D(2026, 5, 1)])
    assert "2026-05" in str(caught.value)


def test_another_members_month_is_not_this_members(tree, secretary_a, member, member_factory):
    other = member_factory(tree.branch_a)
    make_bill(other, D(2026, 5, 1))
    with pytest.raises(ValidationError):
        pay(secretary_a, member, [D(2026, 5, 1)])
    assert DuesBill.objects.get(member=other).status == BillStatus.OPEN


def test_months_of_two_collecting_organisations_are_paid_separately(tree, secretary_a, org_manager, member):
    make_bill(member, D(2026, 4, 1))
    make_bill(member, D(2026, 5, 1), org=tree.branch_b)
    with pytest.raises(ValidationError) as caught:
        pay(org_manager, member, [D(2026, 4, 1), D(2026, 5, 1)])
    assert "months" in caught.value.message_dict


def test_other_branch_cannot_record(secretary_b, member):
    make_bill(member, D(2026, 5, 1))
    with pytest.raises(PermissionDenied):
        pay(secretary_b, member, [D(2026, 5, 1)])
    assert not DuesPayment.objects.exists()


def test_host_organisation_collects_a_flowing_members_bill(tree, secretary_b, member):
    """A 流动党员 paying at the host: the bill's organisation collects and is credited."""
    make_bill(member, D(2026, 5, 1), org=tree.branch_b)
    payment = pay(secretary_b, member, [D(2026, 5, 1)])
    assert payment.org == tree.branch_b
    assert account_balance(LEDGER, org_account(tree.branch_b.pk)) == Decimal("30.00")


# ── idempotence ───────────────────────────────────────────────────────────────────────────────────


def test_same_source_key_books_once(tree, secretary_a, member):
    make_bills(member, D(2026, 4, 1), D(2026, 5, 1))
    first = pay(secretary_a, member, [D(2026, 4, 1)], source_key="stmt:1:abc")
    again = pay(secretary_a, member, [D(2026, 4, 1)], source_key="stmt:1:abc")
    assert first.pk == again.pk
    assert (first.replayed, again.replayed) == (False, True)
    assert DuesPayment.objects.count() == 1
    assert LedgerEntry.objects.count() == 2
    assert account_balance(LEDGER, member_account(member.pk)) == Decimal("30.00")
    assert DuesBill.objects.get(month=D(2026, 5, 1)).status == BillStatus.OPEN


# Backdating (补交不超过6个月, 规定 on back payment): recorded on PAID_ON (2026-05-10), the limit counts from
# the payment date and from the day of recording; a payment date more than paid_on_grace_days (62) before
# that day is refused. (case, months, payment date, violation or None)
BACKDATED = [
    ("recent cash entered late", [D(2026, 1, 1)], D(2026, 3, 20), None),
    ("in the limit of both dates", [D(2025, 11, 1)], D(2026, 4, 1), None),
    ("in the limit of the payment date, not of today", [D(2025, 10, 1)], D(2026, 3, 20), "back_payment_too_old"),
    ("payment date beyond the grace period", [D(2026, 2, 1)], D(2026, 3, 1), "paid_on_too_early"),
    ("a bill 16 months old, backdated to its month", [D(2025, 1, 1)], D(2025, 2, 1), "paid_on_too_early"),
]  # fmt: skip


@pytest.mark.parametrize(("case", "months", "paid_on", "violation"), BACKDATED, ids=[c[0] for c in BACKDATED])
def test_backdating_cannot_stretch_the_back_payment_limit(
    secretary_a, member, case, months, paid_on, violation
):
    for month in months:
        make_bill(member, month)
    if violation is None:
        assert pay(secretary_a, member, months, paid_on=paid_on).paid_on == paid_on
        return
    with pytest.raises(RuleViolationError) as refused:
        pay(secretary_a, member, months, paid_on=paid_on)
    assert refused.value.violation.code == violation, case
    assert refused.value.violation.article == article("back_payment")
    assert not DuesPayment.objects.exists()


def test_a_branch_may_allow_later_entry_of_payments(tree, admin_user, secretary_a, member):
    """paid_on_grace_days is local practice: a branch importing quarterly bank statements extends it; the
    back-payment limit still counts from the day of recording."""
    RuleOverride.objects.create(
        key="dues", org=tree.branch_a, effective_from=D(2026, 1, 1), params={"paid_on_grace_days": 120},
        reason="按季度导入银行流水",
    )  # fmt: skip
    make_bill(member, D(2026, 1, 1))
    assert pay(secretary_a, member, [D(2026, 1, 1)], paid_on=D(2026, 1, 20)).paid_on == D(2026, 1, 20)


# (case, what the second request changes) — the same key with a different request is a new payment sent
# with a reused key: refused, never answered with the first payment.
DIFFERENT_REQUESTS = [
    ("other months", {"months": [D(2026, 5, 1)]}),
    ("another member", {"other_member": True}),
    ("another method", {"method": "bank_transfer"}),
    ("an extra amount", {"extra_amount": "10.00"}),
    ("a stated amount", {"amount": "30.00"}),
    ("paid by proxy", {"by_proxy": True, "proxy_name": "李四"}),
]


@pytest.mark.parametrize("case,change", DIFFERENT_REQUESTS, ids=[c for c, _ in DIFFERENT_REQUESTS])
def test_same_source_key_with_a_different_request_is_refused(
    tree, secretary_a, member, member_factory, case, change
):
    make_bills(member, D(2026, 4, 1), D(2026, 5, 1))
    first = pay(secretary_a, member, [D(2026, 4, 1)], source_key="api:7:k")
    change = dict(change)
    target = member
    if change.pop("other_member", False):
        target = member_factory(tree.branch_a)
        make_bill(target, D(2026, 4, 1))
    months = change.pop("months", [D(2026, 4, 1)])
    with pytest.raises(IdempotencyKeyReusedError) as refused:
        pay(secretary_a, target, months, source_key="api:7:k", **change)
    assert refused.value.earlier.pk == first.pk
    assert "source_key" in refused.value.message_dict
    assert DuesPayment.objects.count() == 1 and verify_ledgers().ok


def test_replay_by_someone_outside_the_scope_is_refused(secretary_a, secretary_b, member):
    make_bill(member, D(2026, 5, 1))
    pay(secretary_a, member, [D(2026, 5, 1)], source_key="k1")
    with pytest.raises(PermissionDenied):
        pay(secretary_b, member, [D(2026, 5, 1)], source_key="k1")


# ── reversal ──────────────────────────────────────────────────────────────────────────────────────


def test_reversal_books_the_opposite_and_reopens_the_bills(tree, secretary_a, member):
    bills = make_bills(member, D(2026, 4, 1), D(2026, 5, 1))
    payment = pay(secretary_a, member, [D(2026, 4, 1), D(2026, 5, 1)], extra_amount="10.00")
    payment_reverse(actor=secretary_a, payment=payment, reason="重复录入")
    payment.refresh_from_db()
    assert (payment.status, payment.reversal_reason) == (DuesPayment.Status.REVERSED, "重复录入")
    assert payment.reversal_entry.reverses_id == payment.ledger_entry_id
    assert payment.reversal_entry.amount == Decimal("-70.00")
    for bill in bills:
        bill.refresh_from_db()
        assert (bill.status, bill.paid_amount) == (BillStatus.OPEN, Decimal("0.00"))
    assert account_balance(LEDGER, member_account(member.pk)) == Decimal("0.00")
    assert account_balance(LEDGER, org_account(tree.branch_a.pk)) == Decimal("0.00")
    assert LedgerEntry.objects.count() == 4 and verify_ledgers().ok
    assert AuditEntry.objects.filter(action="dues.payment_reversed", org=tree.branch_a).exists()
    # The months can be paid again.
    assert pay(secretary_a, member, [D(2026, 4, 1), D(2026, 5, 1)]).total == Decimal("60.00")


def test_reversal_restores_a_part_payment(secretary_a, member):
    bill = make_bill(
        member, D(2026, 5, 1), "45.00", paid_amount=Decimal("30.00"), status=BillStatus.PART_PAID
    )
    payment = pay(secretary_a, member, [D(2026, 5, 1)])
    payment_reverse(actor=secretary_a, payment=payment, reason="金额有误")
    bill.refresh_from_db()
    assert (bill.status, bill.paid_amount) == (BillStatus.PART_PAID, Decimal("30.00"))


def test_reversal_happens_once_and_needs_a_reason(secretary_a, secretary_b, member):
    make_bill(member, D(2026, 5, 1))
    payment = pay(secretary_a, member, [D(2026, 5, 1)])
    with pytest.raises(ValidationError) as caught:
        payment_reverse(actor=secretary_a, payment=payment, reason="  ")
    assert "reason" in caught.value.message_dict
    with pytest.raises(PermissionDenied):
        payment_reverse(actor=secretary_b, payment=payment, reason="错")
    payment_reverse(actor=secretary_a, payment=payment, reason="错")
    with pytest.raises(ValidationError):
        payment_reverse(actor=secretary_a, payment=payment, reason="错")
    assert LedgerEntry.objects.count() == 4


# ── concurrency (PostgreSQL: real row locks between connections) ────────────────────────────────


def _run_threads(n: int, work) -> tuple[list[Any], list[BaseException]]:
    barrier = threading.Barrier(n)
    results: list[Any] = []
    errors: list[BaseException] = []

    def worker(i: int) -> None:
        try:
            barrier.wait()
            results.append(work(i))
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results, errors


@pytest.mark.django_db(transaction=True)
def test_concurrent_payments_of_one_month_book_exactly_once(tree, secretary_a, member):
    if connection.vendor != "postgresql":
        pytest.skip("row locks between connections are tested on PostgreSQL")
    make_bill(member, D(2026, 5, 1))
    results, errors = _run_threads(8, lambda i: pay(secretary_a, member, [D(2026, 5, 1)], reference=f"T{i}"))
    assert len(results) == 1, errors
    assert len(errors) == 7
    assert all(isinstance(e, ValidationError) and "months" in e.message_dict for e in errors), errors
    assert DuesPayment.objects.count() == 1
    bill = DuesBill.objects.get(member=member)
    assert (bill.status, bill.paid_amount) == (BillStatus.PAID, Decimal("30.00"))
    assert account_balance(LEDGER, member_account(member.pk)) == Decimal("30.00")
    assert account_balance(LEDGER, org_account(tree.branch_a.pk)) == Decimal("30.00")
    assert verify_ledgers().ok


@pytest.mark.django_db(transaction=True)
def test_concurrent_payments_of_different_months_all_book(tree, secretary_a, member, member_factory):
    if connection.vendor != "postgresql":
        pytest.skip("row locks between connections are tested on PostgreSQL")
    other = member_factory(tree.branch_a)
    months = rules.months_between(D(2025, 12, 1), D(2026, 5, 1))  # six months each
    for m in months:
        make_bill(member, m)
        make_bill(other, m)
    # Twelve threads: each pays one month of one of the two members, and each sends it twice.
    jobs = [(who, m) for who in (member, other) for m in months]

    def work(i: int) -> DuesPayment:
        who, m = jobs[i // 2]
        return pay(secretary_a, who, [m], source_key=f"stmt:{who.pk}:{m:%Y%m}")

    results, errors = _run_threads(len(jobs) * 2, work)
    assert not errors, errors
    assert DuesPayment.objects.count() == len(jobs)
    assert len({p.pk for p in results}) == len(jobs)
    assert not DuesBill.objects.exclude(status=BillStatus.PAID).exists()
    assert account_balance(LEDGER, member_account(member.pk)) == Decimal("180.00")
    assert account_balance(LEDGER, org_account(tree.branch_a.pk)) == Decimal("360.00")
    assert LedgerEntry.objects.count() == 2 * len(jobs)
    assert verify_ledgers().ok
