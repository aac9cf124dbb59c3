"""Declarations, the monthly bills and a branch's arrangements (dues/services.py; RULES.md §2)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.base import ContentFile

from dangjian.core.models import AuditEntry, RuleOverride
from dangjian.dues import rules, services
from dangjian.dues.models import BillStatus, DuesBill, DuesDeclaration, DuesOrgSetting, DuesReduction
from dangjian.dues.rules import DuesRuleError
from dangjian.transfers.models import FlowCertificate

D = dt.date
MARCH = D(2026, 3, 1)
JANUARY = D(2026, 1, 1)


def declare(actor, member, month=JANUARY, category="employed", **kw):
    return services.declaration_create(
        actor=actor,
        member=member,
        category=category,
        effective_month=month,
        today=kw.pop("today", MARCH),
        **kw,
    )


def bill(member, month=MARCH) -> DuesBill:
    return DuesBill.objects.get(member=member, month=month)


# ── who owes, and how much ────────────────────────────────────────────────────────────────────────


def test_monthly_bill_from_the_declaration(tree, secretary_a, member_factory):
    m = member_factory(tree.branch_a)
    declare(secretary_a, m, base="4500.00", today=D(2025, 12, 1))  # effective January: nothing to backfill
    result = services.bills_generate(month=MARCH)
    assert (result.created, result.skipped, result.needs_declaration) == (1, 0, ())
    b = bill(m)
    assert (b.amount, b.standard_amount, b.rate, b.base) == (
        Decimal("45.00"),
        Decimal("45.00"),
        Decimal("0.01"),
        Decimal("4500.00"),
    )
    assert b.status == BillStatus.OPEN and b.org == tree.branch_a and b.org_path == tree.branch_a.path
    assert b.rule_ref == "dues@2008" and b.category == "employed" and b.declaration.base == Decimal("4500.00")


def test_bills_generate_is_idempotent(tree, member_factory):
    m = member_factory(tree.branch_a, dues_category="student")
    first = services.bills_generate(month=D(2026, 3, 17))  # any day of the month: the month's bill
    again = services.bills_generate(month=MARCH)
    assert (first.created, again.created, again.skipped) == (1, 0, 1)
    assert DuesBill.objects.filter(member=m).count() == 1
    assert bill(m).amount == Decimal("0.20")


def test_base_categories_need_a_declaration(tree, member_factory):
    employed = member_factory(tree.branch_a)
    farmer = member_factory(tree.branch_a, dues_category="farmer")
    unemployed = member_factory(tree.branch_a, dues_category="unemployed")
    result = services.bills_generate(month=MARCH)
    assert set(result.needs_declaration) == {employed.pk, farmer.pk}
    assert (
        result.created == 1 and bill(unemployed).amount == Decimal("0.20") and bill(unemployed).rate is None
    )


@pytest.mark.parametrize(
    ("status", "billed"),
    [("full", True), ("probationary", True), ("suspended", False), ("left", False), ("deceased", False),
     ("historical", False)],
)  # fmt: skip
def test_who_owes_dues(tree, member_factory, status, billed):
    m = member_factory(tree.branch_a, dues_category="student", status=status)
    services.bills_generate(month=MARCH)
    assert DuesBill.objects.filter(member=m).exists() is billed


def test_probationary_member_pays_from_the_general_meetings_month(tree, member_factory):
    # 预备党员从支部大会通过之日起交纳党费: admitted on 15 March → billed for March, not February.
    m = member_factory(
        tree.branch_a,
        dues_category="student",
        status="probationary",
        join_date=D(2026, 3, 15),
        full_date=None,
    )
    assert services.bills_generate(month=D(2026, 2, 1)).created == 0
    assert services.bills_generate(month=MARCH).created == 1
    assert bill(m).amount == Decimal("0.20")


def test_a_change_of_pay_applies_from_the_month_of_the_new_pay(tree, secretary_a, member_factory):
    m = member_factory(tree.branch_a)
    declare(secretary_a, m, D(2026, 1, 1), base="3000.00", today=D(2025, 12, 1))
    declare(secretary_a, m, D(2026, 5, 1), base="6000.00", today=D(2025, 12, 1))
    for month in (D(2026, 4, 1), D(2026, 5, 1)):
        services.bills_generate(month=month)
    assert bill(m, D(2026, 4, 1)).amount == Decimal("15.00")
    assert bill(m, D(2026, 5, 1)).amount == Decimal("90.00")


def test_fixed_for_the_year_where_the_rule_says_so(tree, secretary_a, member_factory):
    RuleOverride.objects.create(
        key="dues", org=tree.district_a, effective_from=D(2020, 1, 1), params={"fix_for_year": True},
        reason="年初核定，年内不变",
    )  # fmt: skip
    m = member_factory(tree.branch_a)
    declare(secretary_a, m, D(2026, 1, 1), base="3000.00", today=D(2025, 12, 1))
    declare(secretary_a, m, D(2026, 5, 1), base="6000.00", today=D(2025, 12, 1))
    for month in (D(2026, 5, 1), D(2027, 1, 1)):
        services.bills_generate(month=month)
    may = bill(m, D(2026, 5, 1))
    assert may.amount == Decimal("15.00") and "+org" in may.rule_ref
    assert bill(m, D(2027, 1, 1)).amount == Decimal("90.00")


def test_approved_reductions_lower_or_waive_the_bill(tree, member_factory):
    reduced_member = member_factory(tree.branch_a, dues_category="student")
    waived_member = member_factory(tree.branch_a, dues_category="student")
    proposed_only = member_factory(tree.branch_a, dues_category="student")
    common = {"start_month": D(2026, 1, 1), "end_month": D(2026, 6, 1), "reason": "生活困难"}
    DuesReduction.objects.create(
        member=reduced_member, kind="reduce", monthly_amount=Decimal("0.10"), status="approved", **common
    )
    DuesReduction.objects.create(member=waived_member, kind="waive", status="approved", **common)
    DuesReduction.objects.create(member=proposed_only, kind="waive", status="proposed", **common)
    services.bills_generate(month=MARCH)
    r = bill(reduced_member)
    assert (r.standard_amount, r.amount, r.status) == (Decimal("0.20"), Decimal("0.10"), BillStatus.OPEN)
    assert r.reduction is not None
    w = bill(waived_member)
    assert (w.amount, w.status, w.outstanding) == (Decimal("0.00"), BillStatus.WAIVED, Decimal("0.00"))
    assert bill(proposed_only).amount == Decimal("0.20")
    services.bills_generate(month=D(2026, 7, 1))  # after the period: the standard amount again
    assert bill(waived_member, D(2026, 7, 1)).status == BillStatus.OPEN


def _certificate(member, home, host, start=JANUARY):
    return FlowCertificate.objects.create(
        member=member, home_org=home, home_org_path=home.path, host_org=host, host_org_path=host.path,
        number=f"LD-{member.pk}", start=start,
    )  # fmt: skip


def test_flowing_member_pays_at_home_unless_declared_at_the_host(tree, secretary_a, member_factory):
    at_home = member_factory(tree.branch_a)
    at_host = member_factory(tree.branch_a)
    for m in (at_home, at_host):
        _certificate(m, tree.branch_a, tree.branch_b)
    declare(secretary_a, at_home, base="2000.00", today=D(2025, 12, 1))
    declare(secretary_a, at_host, base="2000.00", pay_at_host=True, today=D(2025, 12, 1))
    services.bills_generate(month=MARCH)
    assert bill(at_home).org == tree.branch_a
    b = bill(at_host)
    assert b.org == tree.branch_b and b.org_path == tree.branch_b.path and b.amount == Decimal("10.00")
    # The certificate ends in April: May's bill is the home branch's again.
    FlowCertificate.objects.filter(member=at_host).update(end=D(2026, 4, 30))
    services.bills_generate(month=D(2026, 5, 1))
    assert bill(at_host, D(2026, 5, 1)).org == tree.branch_a


def test_paying_at_the_host_needs_an_activity_certificate(tree, secretary_a, member_factory):
    m = member_factory(tree.branch_a)
    with pytest.raises(ValidationError) as exc:
        declare(secretary_a, m, base="2000.00", pay_at_host=True)
    assert "pay_at_host" in exc.value.message_dict


def test_bills_for_one_subtree_only(tree, member_factory):
    a = member_factory(tree.branch_a, dues_category="student")
    b = member_factory(tree.branch_b, dues_category="student")
    result = services.bills_generate(month=MARCH, org=tree.district_a)
    assert result.created == 1
    assert DuesBill.objects.filter(member=a).exists() and not DuesBill.objects.filter(member=b).exists()


def test_who_may_generate_bills(tree, secretary_a, org_manager, admin_user, auditor, member_factory):
    member_factory(tree.branch_a, dues_category="student")
    assert services.bills_generate(month=MARCH, org=tree.branch_a, actor=secretary_a).created == 1
    for actor, org in (
        (secretary_a, tree.branch_b),
        (secretary_a, None),
        (auditor, tree.branch_a),
        (org_manager, None),
    ):
        with pytest.raises(PermissionDenied):
            services.bills_generate(month=MARCH, org=org, actor=actor)
    assert services.bills_generate(month=MARCH, actor=admin_user).skipped == 1
    assert AuditEntry.objects.filter(action="dues.bills_generated").count() == 2


def test_daily_job_writes_nothing_when_there_is_nothing_to_do(tree, member_factory):
    from dangjian.dues.tasks import dues_bills_daily

    member_factory(tree.branch_a, dues_category="student")
    assert dues_bills_daily.call_local()["created"] == 1
    assert dues_bills_daily.call_local() == {"created": 0, "skipped": 1, "needs_declaration": 0}
    assert AuditEntry.objects.filter(action="dues.bills_generated").count() == 1


# ── declarations ──────────────────────────────────────────────────────────────────────────────────


def test_declaration_recorded_with_who_declared(tree, secretary_a, member_factory):
    m = member_factory(tree.branch_a)
    d = declare(secretary_a, m, D(2026, 2, 14), base="5000.01", note="工资调整")
    assert (
        d.effective_month == D(2026, 2, 1) and d.base == Decimal("5000.01") and d.declared_by == secretary_a
    )
    entry = AuditEntry.objects.get(action="dues.declared")
    assert entry.changes["amount"] == "75.00" and entry.changes["rule"] == "dues@2008"
    assert entry.org_id == tree.branch_a.pk


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"category": "employed"}, "base"),
        ({"category": "employed", "base": "-1"}, "base"),
        ({"category": "retiree", "base": "12.345"}, "base"),
        ({"category": "farmer", "chosen_amount": "1.50"}, "chosen_amount"),
        ({"category": "farmer"}, "chosen_amount"),
    ],
)
def test_declaration_input_checked_by_the_rule(tree, secretary_a, member_factory, kwargs, field):
    m = member_factory(tree.branch_a)
    with pytest.raises(DuesRuleError) as exc:
        services.declaration_create(actor=secretary_a, member=m, effective_month=MARCH, **kwargs)
    assert field in exc.value.message_dict and exc.value.rule_ref == "dues@2008"
    assert not DuesDeclaration.objects.exists()


def test_farmer_declares_the_chosen_amount(tree, secretary_a, member_factory):
    m = member_factory(tree.branch_a, dues_category="farmer")
    d = declare(secretary_a, m, MARCH, category="farmer", chosen_amount="0.50")
    assert d.chosen_amount == Decimal("0.50") and d.base is None
    assert bill(m).amount == Decimal("0.50")  # March is the current month: billed at once


def test_only_the_members_branch_declares(tree, secretary_b, auditor, member_a):
    for actor in (secretary_b, auditor, member_a):
        with pytest.raises(PermissionDenied):
            declare(actor, member_a.member, base="3000")


def test_a_member_who_left_declares_nothing(tree, secretary_a, member_factory):
    m = member_factory(tree.branch_a, status="left")
    with pytest.raises(ValidationError):
        declare(secretary_a, m, base="3000")


def test_a_second_declaration_for_the_month_replaces_the_first(tree, secretary_a, member_factory):
    m = member_factory(tree.branch_a)
    declare(secretary_a, m, MARCH, base="3000.00")
    declare(secretary_a, m, MARCH, base="3500.00")
    assert DuesDeclaration.objects.get(member=m).base == Decimal("3500.00")
    assert (
        AuditEntry.objects.filter(action="dues.declared").latest("id").changes["replaced"]["base"]
        == "3000.00"
    )
    assert bill(m).amount == Decimal("35.00")


def test_late_declaration_recomputes_unpaid_bills_and_keeps_paid_ones(tree, secretary_a, member_factory):
    m = member_factory(tree.branch_a)
    declare(secretary_a, m, D(2026, 1, 1), base="3000.00", today=D(2025, 12, 1))
    for month in (D(2026, 1, 1), D(2026, 2, 1), MARCH):
        services.bills_generate(month=month)
    DuesBill.objects.filter(member=m, month=D(2026, 1, 1)).update(paid_amount=Decimal("15.00"), status="paid")
    # In March the branch learns the raise of January: the unpaid February and March are recomputed.
    declare(secretary_a, m, D(2026, 1, 1), base="4000.00")
    assert bill(m, D(2026, 1, 1)).amount == Decimal("15.00")
    assert bill(m, D(2026, 2, 1)).amount == Decimal("40.00")
    assert bill(m, MARCH).amount == Decimal("40.00")


def test_missing_bills_created_within_the_back_payment_window(tree, secretary_a, member_factory):
    m = member_factory(tree.branch_a)
    assert services.bills_generate(month=MARCH).needs_declaration == (m.pk,)
    # Declared in March 2026, effective since 2025: bills for every month a payment recorded in March may
    # still settle — the 6 months before it (September 2025, 补交不超过6个月) and March itself.
    declare(secretary_a, m, D(2025, 1, 1), base="3000.00")
    months = list(DuesBill.objects.filter(member=m).order_by("month").values_list("month", flat=True))
    assert months == rules.months_between(D(2025, 9, 1), MARCH) and len(months) == 7


def test_a_bill_of_nothing_is_settled_not_owed(tree, secretary_a, member_factory):
    """A base whose dues round to 0.00 (0.50 × 0.5%) makes bills that are settled — status paid, nothing
    paid — not open forever (nothing can be paid on them) and not waived (that is a hardship decision)."""
    from dangjian.dues import selectors

    m = member_factory(tree.branch_a)
    declare(secretary_a, m, D(2025, 12, 1), base="0.50")
    bills = DuesBill.objects.filter(member=m)
    assert bills.count() == 4  # December to March
    assert {(b.amount, b.paid_amount, b.status) for b in bills} == {
        (Decimal("0.00"), Decimal("0.00"), BillStatus.PAID)
    }
    assert selectors.arrears(actor=secretary_a, org=tree.branch_a, on=D(2026, 11, 26)) == []
    # A later declaration with a real base recomputes them: nothing was paid on them.
    declare(secretary_a, m, D(2025, 12, 1), base="4000.00")
    assert {(b.amount, b.status) for b in bills.all()} == {(Decimal("40.00"), BillStatus.OPEN)}


def test_declaration_attachment_checked_by_content(tree, secretary_a, member_factory, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    m = member_factory(tree.branch_a)
    with pytest.raises(ValidationError) as exc:
        declare(secretary_a, m, base="3000", attachment=ContentFile(b"MZ not a scan", name="工资条.pdf"))
    assert "attachment" in exc.value.message_dict
    d = declare(secretary_a, m, base="3000", attachment=ContentFile(b"%PDF-1.4 pay slip", name="工资条.pdf"))
    assert d.attachment.name.startswith("dues/declarations/")


def test_bills_recompute_after_a_reduction(tree, secretary_a, member_factory):
    m = member_factory(tree.branch_a, dues_category="student")
    services.bills_generate(month=MARCH)
    DuesReduction.objects.create(
        member=m, kind="waive", status="approved", start_month=MARCH, end_month=MARCH, reason="生活困难"
    )
    assert services.bills_recompute(actor=secretary_a, member=m, start_month=MARCH, end_month=MARCH) == 1
    assert bill(m).status == BillStatus.WAIVED
    assert AuditEntry.objects.filter(action="dues.bills_recomputed").exists()


# ── a branch's arrangements ───────────────────────────────────────────────────────────────────────


def test_branch_decides_quarterly_payment(tree, secretary_a, secretary_b):
    s = services.org_setting_set(
        actor=secretary_a, org=tree.branch_a, quarterly_allowed=True, decided_on=MARCH
    )
    assert s.quarterly_allowed and s.decided_on == MARCH and s.updated_by == secretary_a
    services.org_setting_set(actor=secretary_a, org=tree.branch_a, quarterly_allowed=False, note="恢复按月")
    assert DuesOrgSetting.objects.get(org=tree.branch_a).quarterly_allowed is False
    with pytest.raises(PermissionDenied):
        services.org_setting_set(actor=secretary_b, org=tree.branch_a, quarterly_allowed=True)
    with pytest.raises(ValidationError):
        services.org_setting_set(actor=secretary_a, org=tree.group_a, quarterly_allowed=True)


def test_a_concurrent_runs_bill_is_not_inserted_twice(tree, member_factory):
    """Two runs racing for a month: the second insert of a member's month is ignored, not an error."""
    m = member_factory(tree.branch_a, dues_category="student")
    services.bills_generate(month=MARCH)
    first = bill(m)
    row = {
        "member_id": m.pk, "month": MARCH, "org_id": tree.branch_a.pk, "org_path": tree.branch_a.path,
        "category": "student", "base": None, "rate": None, "standard_amount": Decimal("9.99"),
        "amount": Decimal("9.99"), "status": "open", "declaration_id": None, "reduction_id": None,
        "rule_ref": "dues@2008",
    }  # fmt: skip
    services._insert_bills([row])
    assert DuesBill.objects.filter(member=m).count() == 1 and bill(m).amount == first.amount


def test_the_declared_category_wins_over_the_register(tree, secretary_a, member_factory):
    m = member_factory(tree.branch_a, dues_category="student")  # the register still says student
    declare(secretary_a, m, base="6000.00", category="retiree", today=D(2025, 12, 1))
    services.bills_generate(month=MARCH)
    b = bill(m)
    assert (b.category, b.amount, b.rate) == ("retiree", Decimal("60.00"), Decimal("0.01"))
