"""Reads of dues (dues/selectors.py): the summary of a subtree in aggregate queries, arrears and their
consecutive months, a member's year, members needing a declaration, the remittance trail."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.http import Http404

from dangjian.dues import rules, selectors, services
from dangjian.dues.models import DuesBill, DuesPayment, DuesReduction, DuesRemittance

D = dt.date
MARCH = D(2026, 3, 1)


def make_bill(
    member, month=MARCH, *, amount="30.00", paid="0.00", status="open", category="employed", org=None
):
    org = org or member.org
    return DuesBill.objects.create(
        member=member, org=org, org_path=org.path, month=month, category=category,
        standard_amount=amount, amount=amount, paid_amount=paid, status=status, rule_ref="dues@2008",
    )  # fmt: skip


# ── summary ───────────────────────────────────────────────────────────────────────────────────────


def test_summary_totals_by_status(tree, secretary_a, member_factory):
    members = [member_factory(tree.branch_a) for _ in range(4)]
    make_bill(members[0], paid="30.00", status="paid")
    make_bill(members[1], paid="10.00", status="part_paid")
    make_bill(members[2])
    make_bill(members[3], amount="0.00", status="waived")
    s = selectors.summary(actor=secretary_a, org=tree.branch_a, period_start=MARCH)
    assert (s["due"], s["paid"], s["outstanding"]) == (Decimal("90.00"), Decimal("40.00"), Decimal("50.00"))
    assert (s["bills"], s["paid_bills"], s["open_bills"], s["waived"]) == (4, 1, 2, 1)
    assert (s["members"], s["members_owing"]) == (4, 2)
    assert s["collection_rate"] == Decimal("0.4444")
    # branch_a's own bills are its own row; its group has none.
    own = s["by_org"][0]
    assert own["own"] and own["org"] == tree.branch_a and own["due"] == Decimal("90.00")
    assert [r["org"] for r in s["by_org"][1:]] == [tree.group_a]
    assert s["by_org"][1]["collection_rate"] is None


def test_summary_paid_never_exceeds_what_was_due(tree, secretary_a, member_factory):
    """A bill with more paid than due (kept from before a reduction, or entered by hand) counts as paid in
    full; the rest is shown apart as overpaid, so the collection rate stays at most 100%."""
    over, owing = member_factory(tree.branch_a), member_factory(tree.branch_a)
    make_bill(over, amount="5.00", paid="20.00", status="paid")
    make_bill(owing)
    s = selectors.summary(actor=secretary_a, org=tree.branch_a, period_start=MARCH)
    assert (s["due"], s["paid"], s["overpaid"], s["outstanding"]) == (
        Decimal("35.00"), Decimal("5.00"), Decimal("15.00"), Decimal("30.00")
    )  # fmt: skip
    assert s["collection_rate"] == Decimal("0.1429")
    assert s["by_org"][0]["overpaid"] == Decimal("15.00") and s["by_category"][0]["paid"] == Decimal("5.00")


def test_summary_counts_bills_where_they_are_collected(tree, org_manager, member_factory):
    away = member_factory(tree.branch_a)
    make_bill(away, org=tree.branch_b)  # a flowing member paying at the host
    s = selectors.summary(actor=org_manager, org=tree.city, period_start=MARCH, period_end=MARCH)
    rows = {r["org"].name: r["due"] for r in s["by_org"]}
    assert rows == {"东城区委": Decimal("0.00"), "西城区委": Decimal("30.00")}


def test_summary_extra_dues_of_the_period(tree, secretary_a, member_factory):
    m = member_factory(tree.branch_a)
    common = {
        "member": m,
        "org": tree.branch_a,
        "org_path": tree.branch_a.path,
        "method": "cash",
        "rule_ref": "x",
    }
    DuesPayment.objects.create(
        paid_on=D(2026, 3, 5), dues_amount="30.00", extra_amount="1000.00", extra_to_central=True, **common
    )
    DuesPayment.objects.create(paid_on=D(2026, 3, 31), dues_amount="0.00", extra_amount="50.00", **common)
    DuesPayment.objects.create(paid_on=D(2026, 4, 1), dues_amount="0.00", extra_amount="70.00", **common)
    DuesPayment.objects.create(
        paid_on=D(2026, 3, 9), dues_amount="0.00", extra_amount="9.00", status="reversed", **common
    )
    s = selectors.summary(actor=secretary_a, org=tree.branch_a, period_start=MARCH)
    assert (s["extra"], s["extra_to_central"]) == (Decimal("1050.00"), Decimal("1000.00"))


def test_summary_over_several_months_counts_members_once(tree, secretary_a, member_factory):
    m = member_factory(tree.branch_a)
    make_bill(m, D(2026, 1, 1), category="employed")
    make_bill(m, D(2026, 2, 1), category="retiree")  # retired in February
    s = selectors.summary(
        actor=secretary_a, org=tree.branch_a, period_start=D(2026, 2, 1), period_end=D(2026, 1, 1)
    )
    assert (s["period_start"], s["period_end"]) == (D(2026, 1, 1), D(2026, 2, 1))
    assert (s["bills"], s["members"]) == (2, 1)
    assert {r["category"]: r["members"] for r in s["by_category"]} == {"employed": 1, "retiree": 1}


def test_summary_query_count_does_not_grow_with_the_subtree(
    tree, org_manager, member_factory, django_assert_max_num_queries
):
    for org in (tree.branch_a, tree.branch_b):
        make_bill(member_factory(org))
    with django_assert_max_num_queries(5) as small:
        selectors.summary(actor=org_manager, org=tree.city, period_start=MARCH)
    for i in range(30):
        make_bill(
            member_factory(tree.branch_a if i % 2 else tree.branch_b),
            category="student" if i % 3 else "employed",
        )
    with django_assert_max_num_queries(len(small.captured_queries)):
        s = selectors.summary(actor=org_manager, org=tree.city, period_start=MARCH)
    assert s["bills"] == 32


def test_summary_outside_the_scope_is_404(tree, secretary_a, member_a):
    for actor, org in ((secretary_a, tree.branch_b), (secretary_a, tree.city), (member_a, tree.branch_a)):
        with pytest.raises(Http404):
            selectors.summary(actor=actor, org=org, period_start=MARCH)


# ── arrears ───────────────────────────────────────────────────────────────────────────────────────


def test_arrears_counts_ended_months_and_the_longest_run(tree, secretary_a, member_factory):
    m = member_factory(tree.branch_a)
    for month in (
        D(2025, 7, 1),
        D(2025, 8, 1),
        D(2025, 10, 1),
        D(2025, 11, 1),
        D(2025, 12, 1),
        D(2026, 1, 1),
    ):
        make_bill(m, month)
    make_bill(m, D(2025, 9, 1), paid="30.00", status="paid")
    make_bill(m, MARCH)  # the current month is due, not owed
    payer = member_factory(tree.branch_a)
    make_bill(payer, D(2026, 1, 1), paid="30.00", status="paid")
    rows = selectors.arrears(actor=secretary_a, org=tree.branch_a, on=D(2026, 3, 2))
    assert len(rows) == 1
    row = rows[0]
    assert row["member"] == m and row["months_owed"] == 6 and row["consecutive"] == 4
    assert row["amount"] == Decimal("180.00") and row["since"] == D(2025, 7, 1) and row["reduction"] is False


def test_arrears_part_paid_counts_what_is_missing(tree, secretary_a, member_factory):
    m = member_factory(tree.branch_a)
    make_bill(m, D(2026, 1, 1), paid="20.00", status="part_paid")
    assert selectors.arrears(actor=secretary_a, org=tree.branch_a, on=MARCH)[0]["amount"] == Decimal("10.00")


def test_arrears_flags_an_approved_reduction(tree, secretary_a, member_factory):
    m = member_factory(tree.branch_a)
    make_bill(m, D(2026, 1, 1), amount="5.00")
    DuesReduction.objects.create(
        member=m, kind="reduce", monthly_amount="5.00", status="approved", start_month=D(2026, 1, 1),
        end_month=D(2026, 6, 1), reason="生活困难",
    )  # fmt: skip
    assert selectors.arrears(actor=secretary_a, org=tree.branch_a, on=MARCH)[0]["reduction"] is True


def test_a_month_under_a_reduction_breaks_the_run_but_the_others_count(tree, secretary_a, member_factory):
    """党章 第九条: a month under an approved reduction has a proper reason; the months around it still count
    (here 1 month reduced, then 9 consecutive unpaid months)."""
    m = member_factory(tree.branch_a)
    for month in rules.months_between(D(2026, 1, 1), D(2026, 10, 1)):
        make_bill(m, month)
    DuesReduction.objects.create(
        member=m, kind="reduce", monthly_amount="10.00", status="approved", start_month=D(2026, 1, 1),
        end_month=D(2026, 1, 1), reason="生活困难",
    )  # fmt: skip
    row = selectors.arrears(actor=secretary_a, org=tree.branch_a, on=D(2026, 11, 26))[0]
    assert (row["consecutive"], row["reduction"], row["unexcused"]) == (10, True, 9)


def test_nothing_left_to_pay_is_not_arrears(tree, secretary_a, member_factory):
    """A bill of 0.00 (a base whose dues round to nothing) is owed by nobody, even if an older record left
    it open."""
    m = member_factory(tree.branch_a)
    for month in rules.months_between(D(2026, 1, 1), D(2026, 8, 1)):
        make_bill(m, month, amount="0.00")
    assert selectors.arrears(actor=secretary_a, org=tree.branch_a, on=D(2026, 11, 26)) == []


def test_arrears_of_a_flowing_member_seen_at_home_and_at_the_host(
    tree, secretary_a, secretary_b, member_factory
):
    m = member_factory(tree.branch_a)
    make_bill(m, D(2026, 1, 1), org=tree.branch_b)
    assert [r["member"] for r in selectors.arrears(actor=secretary_a, org=tree.branch_a, on=MARCH)] == [m]
    assert [r["member"] for r in selectors.arrears(actor=secretary_b, org=tree.branch_b, on=MARCH)] == [m]


def test_arrears_min_months(tree, secretary_a, member_factory):
    m = member_factory(tree.branch_a)
    make_bill(m, D(2026, 1, 1))
    assert selectors.arrears(actor=secretary_a, org=tree.branch_a, on=MARCH, min_months=2) == []


# ── a member's year ───────────────────────────────────────────────────────────────────────────────


def test_member_dues_explains_the_amount(tree, secretary_a, member_factory):
    m = member_factory(tree.branch_a)
    services.declaration_create(
        actor=secretary_a, member=m, category="employed", base="5000.01", effective_month=D(2026, 1, 1),
        today=D(2025, 12, 1),
    )  # fmt: skip
    make_bill(m, D(2025, 12, 1))
    make_bill(m, D(2026, 1, 1), amount="75.00", paid="75.00", status="paid")
    make_bill(m, D(2026, 2, 1), amount="75.00")
    data = selectors.member_dues(actor=secretary_a, member=m, year=2026, today=MARCH)
    assert [b.month for b in data["bills"]] == [D(2026, 1, 1), D(2026, 2, 1)]
    assert (data["due"], data["paid"], data["outstanding"]) == (
        Decimal("150.00"),
        Decimal("75.00"),
        Decimal("75.00"),
    )
    assert data["owed"] == Decimal("105.00") and data["owed_months"] == [D(2025, 12, 1), D(2026, 2, 1)]
    computed = data["computed"]
    assert (
        computed.amount == Decimal("75.00")
        and computed.rate == Decimal("0.015")
        and "第二条" in computed.article
    )
    assert data["declaration"].base == Decimal("5000.01") and not data["needs_declaration"]


def test_member_dues_without_a_declaration(tree, member_a):
    data = selectors.member_dues(actor=member_a, member=member_a.member, year=2026)
    assert data["needs_declaration"] and data["computed"] is None and data["bills"] == []


def test_member_dues_scope(tree, member_a, secretary_b, member_factory):
    other = member_factory(tree.branch_a)
    for actor, member in ((member_a, other), (secretary_b, member_a.member)):
        with pytest.raises(Http404):
            selectors.member_dues(actor=actor, member=member, year=2026)


def test_members_needing_a_declaration(tree, secretary_a, member_factory):
    needs = member_factory(tree.branch_a)
    member_factory(tree.branch_a, dues_category="student")
    declared = member_factory(tree.branch_a)
    services.declaration_create(
        actor=secretary_a,
        member=declared,
        category="employed",
        base="3000",
        effective_month=MARCH,
        today=MARCH,
    )
    later = member_factory(tree.branch_a, status="probationary", join_date=D(2026, 4, 2), full_date=None)
    found = list(selectors.members_needing_declaration(actor=secretary_a, org=tree.branch_a, month=MARCH))
    assert found == [needs]
    assert later not in found


# ── remittances ───────────────────────────────────────────────────────────────────────────────────


def test_remittance_trail_top_to_bottom(tree, org_manager):
    def remit(from_org, to_org, start, amount):
        return DuesRemittance.objects.create(
            from_org=from_org, to_org=to_org, from_org_path=from_org.path, to_org_path=to_org.path,
            period_start=start, period_end=start, amount=amount, remitted_on=start,
        )  # fmt: skip

    a = remit(tree.branch_a, tree.district_a, D(2026, 1, 1), "120.00")
    d = remit(tree.district_a, tree.city, D(2026, 1, 1), "120.00")
    remit(tree.branch_a, tree.district_a, D(2025, 7, 1), "90.00")  # another year
    trail = selectors.remittance_trail(actor=org_manager, org=tree.district_a, year=2026)
    assert [(row["remittance"], row["depth"]) for row in trail] == [(d, 0), (a, 1)]


def test_transfer_letter_takes_dues_paid_up_to_from_the_bills(tree, secretary_a, member_factory):
    """党员组织关系介绍信 "党费已交到…月": the last month before the first unpaid bill."""
    import datetime as dt
    from decimal import Decimal

    from dangjian.dues.models import BillStatus, DuesBill
    from dangjian.dues.selectors import member_paid_up_to
    from dangjian.transfers.services import transfer_create

    member = member_factory(tree.branch_a)
    assert member_paid_up_to(member) is None
    for month, status in (
        (1, BillStatus.PAID),
        (2, BillStatus.WAIVED),
        (3, BillStatus.OPEN),
        (4, BillStatus.PAID),
    ):
        DuesBill.objects.create(
            member=member, org=tree.branch_a, org_path=tree.branch_a.path, month=dt.date(2026, month, 1),
            category="employed", standard_amount=Decimal("15.00"), amount=Decimal("15.00"), status=status,
            paid_amount=Decimal("15.00") if status == BillStatus.PAID else Decimal("0"), rule_ref="dues@2008",
        )  # fmt: skip
    assert member_paid_up_to(member) == dt.date(2026, 2, 1)
    transfer = transfer_create(
        actor=secretary_a,
        member=member,
        kind="out_of_platform",
        reason="工作调动",
        outside_org_name="外省某支部",
    )
    assert transfer.dues_paid_until == "2026-02"
