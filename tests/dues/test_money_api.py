"""The dues money API: ``POST /api/v1/dues/payments/`` (the issue's contract), payment lists and reversal,
reductions with their two decisions, remittances with confirmation and return; the error format of a
refusal by a rule (``rule_violation`` with the article)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from dangjian.dues import rules
from dangjian.dues.models import BillStatus, DuesBill, DuesPayment, DuesRemittance
from tests.dues.test_payments import make_bill, make_bills, pay

D = dt.date
TODAY = dt.date.today()
THIS_MONTH = TODAY.replace(day=1)
URL = "/api/v1/dues/payments/"


@pytest.fixture
def member(tree, member_factory):
    return member_factory(tree.branch_a)


def ym(day: dt.date) -> str:
    return f"{day:%Y-%m}"


# ── payments ──────────────────────────────────────────────────────────────────────────────────────


def test_record_a_payment(tree, secretary_a, member, api):
    last = rules.add_months(THIS_MONTH, -1)
    make_bill(member, last, "45.00")
    make_bill(member, THIS_MONTH, "45.00")
    resp = api(secretary_a).post(
        URL,
        {"member": member.pk, "months": [ym(last), ym(THIS_MONTH)], "method": "bank_transfer", "amount": "90.00",
         "reference": "网银流水 20260301001"},
        format="json",
    )  # fmt: skip
    assert resp.status_code == 201, resp.json()
    body = resp.json()
    assert body["member"] == member.pk and body["member_name"] == member.name
    assert body["org"] == tree.branch_a.pk and body["paid_on"] == TODAY.isoformat()
    assert [m["month"] for m in body["months"]] == [ym(last), ym(THIS_MONTH)]
    assert (body["dues_amount"], body["extra_amount"], body["total"]) == ("90.00", "0.00", "90.00")
    assert (body["method"], body["status"], body["extra_to_central"]) == ("bank_transfer", "booked", False)
    assert len(body["ledger_hash"]) == 64 and body["rule_ref"].startswith("dues@")
    assert not DuesBill.objects.filter(member=member).exclude(status=BillStatus.PAID).exists()


@pytest.mark.parametrize("how", ["body", "header"])
def test_sending_a_payment_twice_books_it_once(how, secretary_a, member, api):
    make_bill(member, THIS_MONTH)
    client = api(secretary_a)
    payload = {"member": member.pk, "months": [ym(THIS_MONTH)], "method": "online"}
    extra = {}
    if how == "body":
        payload["source_key"] = "wx-pay-4200001"
    else:
        extra["HTTP_IDEMPOTENCY_KEY"] = "wx-pay-4200001"
    first = client.post(URL, payload, format="json", **extra)
    again = client.post(URL, payload, format="json", **extra)
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["id"] == again.json()["id"]
    assert DuesPayment.objects.count() == 1


def test_an_idempotency_key_reused_for_another_member_is_a_conflict(tree, secretary_a, member_factory, api):
    first, second = member_factory(tree.branch_a), member_factory(tree.branch_a)
    make_bill(first, THIS_MONTH)
    make_bill(second, THIS_MONTH)
    client = api(secretary_a)
    booked = client.post(
        URL, {"member": first.pk, "months": [ym(THIS_MONTH)], "method": "cash"}, format="json",
        HTTP_IDEMPOTENCY_KEY="receipt-1",
    )  # fmt: skip
    reused = client.post(
        URL, {"member": second.pk, "months": [ym(THIS_MONTH)], "method": "cash"}, format="json",
        HTTP_IDEMPOTENCY_KEY="receipt-1",
    )  # fmt: skip
    assert (booked.status_code, reused.status_code) == (201, 409)
    error = reused.json()["error"]
    assert error["code"] == "idempotency_key_reused" and first.name in error["message"]
    assert DuesPayment.objects.count() == 1  # the first member's payment was not answered for the second
    assert DuesBill.objects.get(member=second).status == BillStatus.OPEN


def test_idempotency_keys_belong_to_the_user_who_sent_them(
    tree, secretary_a, secretary_b, member_factory, api
):
    in_a, in_b = member_factory(tree.branch_a), member_factory(tree.branch_b)
    make_bill(in_a, THIS_MONTH)
    make_bill(in_b, THIS_MONTH)
    for user, member in ((secretary_a, in_a), (secretary_b, in_b)):
        resp = api(user).post(
            URL, {"member": member.pk, "months": [ym(THIS_MONTH)], "method": "cash"}, format="json",
            HTTP_IDEMPOTENCY_KEY="k-1",
        )  # fmt: skip
        assert resp.status_code == 201, (user.username, resp.json())
        assert resp.json()["member"] == member.pk
    assert DuesPayment.objects.count() == 2


def test_backdated_payment_date_cannot_reach_older_months(secretary_a, member, api):
    """补交不超过6个月: the limit counts from the day the payment is recorded too, and a payment date
    long before that day is refused (``paid_on_grace_days``)."""
    old = rules.add_months(THIS_MONTH, -8)
    make_bill(member, old)
    resp = api(secretary_a).post(
        URL, {"member": member.pk, "months": [ym(old)], "method": "cash",
              "paid_on": rules.add_months(old, 1).isoformat()}, format="json",
    )  # fmt: skip
    assert resp.status_code == 400
    error = resp.json()["error"]
    assert (error["code"], error["violation"], error["article"]) == (
        "rule_violation",
        "paid_on_too_early",
        rules.article(rules.rule_for(TODAY), "back_payment"),
    )
    assert not DuesPayment.objects.exists()


# (case, payload changes, violation, article key, field)
RULE_REFUSALS = [
    ("deduction from pay", {"method": "payroll_deduction"}, "method_not_allowed", "no_advance", "method"),
    ("proxy without a name", {"by_proxy": True}, "proxy_name_required", "payment", "proxy_name"),
    ("next quarter", {"months": [ym(rules.add_months(THIS_MONTH, 4))]}, "future_month_outside_quarter", "payment",
     "months"),
    ("seven months back", {"months": [ym(rules.add_months(THIS_MONTH, -7))]}, "back_payment_too_old", "back_payment",
     "months"),
]  # fmt: skip


@pytest.mark.parametrize(("case", "change", "violation", "article_key", "field"), RULE_REFUSALS)
def test_refusal_by_a_rule_names_the_article(
    case, change, violation, article_key, field, secretary_a, member, api
):
    make_bill(member, THIS_MONTH)
    payload = {"member": member.pk, "months": [ym(THIS_MONTH)], "method": "cash", **change}
    resp = api(secretary_a).post(URL, payload, format="json")
    assert resp.status_code == 400, resp.json()
    error = resp.json()["error"]
    assert (error["code"], error["rule"], error["violation"]) == ("rule_violation", "dues", violation), case
    assert error["article"] == rules.article(rules.rule_for(TODAY), article_key)
    assert error["message"] and error["rule_version"].startswith("dues@")
    assert field in error["fields"]
    assert not DuesPayment.objects.exists()


# (case, payload changes, field)
INVALID = [
    ("amount differs", {"amount": "29.99"}, "amount"),
    ("three decimals", {"extra_amount": "1.005"}, "extra_amount"),
    ("not a month", {"months": ["2026-13"]}, "months"),
    ("unknown member", {"member": 999999}, "member"),
    ("no method", {"method": None}, "method"),
]


@pytest.mark.parametrize(("case", "change", "field"), INVALID)
def test_invalid_payment_answers_the_error_format(case, change, field, secretary_a, member, api):
    make_bill(member, THIS_MONTH)
    payload = {"member": member.pk, "months": [ym(THIS_MONTH)], "method": "cash", **change}
    payload = {k: v for k, v in payload.items() if v is not None}
    resp = api(secretary_a).post(URL, payload, format="json")
    assert resp.status_code == 400, case
    error = resp.json()["error"]
    assert error["code"] == "invalid" and field in error["fields"], (case, error)


def test_other_branch_cannot_record_for_a_member(secretary_b, member, api):
    make_bill(member, THIS_MONTH)
    resp = api(secretary_b).post(
        URL, {"member": member.pk, "months": [ym(THIS_MONTH)], "method": "cash"}, format="json"
    )
    assert resp.status_code == 400 and "member" in resp.json()["error"]["fields"]


def test_host_records_for_a_flowing_member_it_collects_from(tree, secretary_b, member, api):
    make_bill(member, THIS_MONTH, org=tree.branch_b)
    resp = api(secretary_b).post(
        URL, {"member": member.pk, "months": [ym(THIS_MONTH)], "method": "cash"}, format="json"
    )
    assert resp.status_code == 201, resp.json()
    assert resp.json()["org"] == tree.branch_b.pk


def test_reverse_a_payment(secretary_a, member, api):
    make_bill(member, THIS_MONTH)
    payment = pay(secretary_a, member, [THIS_MONTH], paid_on=TODAY)
    client = api(secretary_a)
    url = f"{URL}{payment.pk}/reverse/"
    assert client.post(url, {}, format="json").json()["error"]["fields"].keys() == {"reason"}
    resp = client.post(url, {"reason": "重复录入"}, format="json")
    assert resp.status_code == 200
    assert (resp.json()["status"], resp.json()["reversal_reason"]) == ("reversed", "重复录入")
    assert resp.json()["reversal_entry"] is not None
    assert DuesBill.objects.get(member=member).status == BillStatus.OPEN
    assert client.post(url, {"reason": "再次"}, format="json").status_code == 400


def test_list_filters_and_query_count(tree, secretary_a, member_factory, api, django_assert_max_num_queries):
    members = [member_factory(tree.branch_a) for _ in range(6)]
    for m in members:
        make_bills(m, rules.add_months(THIS_MONTH, -2), THIS_MONTH)
        pay(
            secretary_a,
            m,
            [rules.add_months(THIS_MONTH, -2), rules.add_months(THIS_MONTH, -1)],
            paid_on=TODAY,
        )
        pay(secretary_a, m, [THIS_MONTH], paid_on=TODAY)
    client = api(secretary_a)
    with django_assert_max_num_queries(12):
        resp = client.get(URL)
    assert resp.json()["count"] == 12
    assert {len(row["months"]) for row in resp.json()["results"]} == {1, 2}
    mine = client.get(URL, {"member": members[0].pk}).json()
    assert mine["count"] == 2 and {r["member"] for r in mine["results"]} == {members[0].pk}
    assert client.get(URL, {"year": TODAY.year - 1}).json()["count"] == 0
    assert client.get(URL, {"org": tree.branch_a.pk, "status": "booked"}).json()["count"] == 12
    assert client.get(URL, {"member": "x"}).status_code == 400


def test_member_sees_own_payments_only(tree, secretary_a, member_a, member, api):
    me = member_a.member
    make_bill(me, THIS_MONTH)
    make_bill(member, THIS_MONTH)
    mine = pay(secretary_a, me, [THIS_MONTH], paid_on=TODAY)
    pay(secretary_a, member, [THIS_MONTH], paid_on=TODAY)
    client = api(member_a)
    assert [row["id"] for row in client.get(URL).json()["results"]] == [mine.pk]
    assert client.post(f"{URL}{mine.pk}/reverse/", {"reason": "x"}, format="json").status_code == 403
    assert (
        client.post(
            URL, {"member": me.pk, "months": [ym(THIS_MONTH)], "method": "cash"}, format="json"
        ).status_code
        == 403
    )


# ── reductions ────────────────────────────────────────────────────────────────────────────────────

REDUCTIONS = "/api/v1/dues/reductions/"


def test_reduction_two_decisions(tree, secretary_a, district_manager, member, api):
    make_bills(member, D(2026, 1, 1), D(2026, 3, 1))
    resp = api(secretary_a).post(
        REDUCTIONS,
        {"member": member.pk, "kind": "reduce", "monthly_amount": "5.00", "start_month": "2026-02",
         "end_month": "2026-03-15", "reason": "长期患病，生活困难"},
        format="json",
    )  # fmt: skip
    assert resp.status_code == 201, resp.json()
    body = resp.json()
    assert (body["start_month"], body["end_month"], body["status"]) == ("2026-02", "2026-03", "proposed")
    assert body["higher_org"] == tree.district_a.pk
    decide = f"{REDUCTIONS}{body['id']}/decide/"
    assert (
        api(secretary_a).post(decide, {"approve": True}, format="json").json()["status"] == "branch_approved"
    )
    # The branch cannot give the higher committee's approval.
    refused = api(secretary_a).post(decide, {"approve": True}, format="json")
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "permission_denied"
    resp = api(district_manager).post(decide, {"approve": True, "reason": "同意"}, format="json")
    assert resp.json()["status"] == "approved" and resp.json()["higher_decided_by_name"]
    amounts = dict(DuesBill.objects.filter(member=member).values_list("month", "amount"))
    assert amounts == {
        D(2026, 1, 1): Decimal("30.00"),
        D(2026, 2, 1): Decimal("5.00"),
        D(2026, 3, 1): Decimal("5.00"),
    }


def test_same_person_both_steps_is_a_rule_violation(org_manager, member, api):
    client = api(org_manager)
    rid = client.post(
        REDUCTIONS,
        {
            "member": member.pk,
            "kind": "waive",
            "start_month": "2026-01",
            "end_month": "2026-02",
            "reason": "困难",
        },
        format="json",
    ).json()["id"]
    client.post(f"{REDUCTIONS}{rid}/decide/", {"approve": True}, format="json")
    resp = client.post(f"{REDUCTIONS}{rid}/decide/", {"approve": True}, format="json")
    assert resp.status_code == 400
    error = resp.json()["error"]
    assert (error["code"], error["violation"]) == ("rule_violation", "same_approver")
    assert "上一级党委批准" in error["article"]


def test_withdraw_and_refuse_need_the_branch(secretary_a, secretary_b, member, api):
    rid = (
        api(secretary_a)
        .post(
            REDUCTIONS,
            {
                "member": member.pk,
                "kind": "waive",
                "start_month": "2026-01",
                "end_month": "2026-02",
                "reason": "困难",
            },
            format="json",
        )
        .json()["id"]
    )
    assert api(secretary_b).post(f"{REDUCTIONS}{rid}/withdraw/", {}, format="json").status_code == 404
    no_reason = api(secretary_a).post(f"{REDUCTIONS}{rid}/decide/", {"approve": False}, format="json")
    assert no_reason.status_code == 400 and "reason" in no_reason.json()["error"]["fields"]
    resp = api(secretary_a).post(f"{REDUCTIONS}{rid}/withdraw/", {"reason": "已好转"}, format="json")
    assert resp.json()["status"] == "withdrawn"
    assert api(secretary_a).get(REDUCTIONS, {"status": "withdrawn"}).json()["count"] == 1


# ── remittances ───────────────────────────────────────────────────────────────────────────────────

REMITTANCES = "/api/v1/dues/remittances/"


def test_remittance_over_the_balance_then_confirmed_and_returned(
    tree, secretary_a, district_manager, member, api
):
    make_bill(member, THIS_MONTH, "60.00")
    pay(secretary_a, member, [THIS_MONTH], paid_on=TODAY)
    payload = {"from_org": tree.branch_a.pk, "period_start": ym(THIS_MONTH), "period_end": ym(THIS_MONTH)}
    over = api(secretary_a).post(REMITTANCES, {**payload, "amount": "60.01"}, format="json")
    assert over.status_code == 400
    error = over.json()["error"]
    assert (error["code"], error["violation"]) == ("rule_violation", "remittance_exceeds_balance")
    assert "amount" in error["fields"] and "上缴" in error["article"]

    first = api(secretary_a).post(REMITTANCES, {**payload, "amount": "20.00"}, format="json")
    assert first.status_code == 201, first.json()
    assert (first.json()["to_org"], first.json()["status"]) == (tree.district_a.pk, "sent")
    rid = first.json()["id"]
    assert api(secretary_a).post(f"{REMITTANCES}{rid}/confirm/", {}, format="json").status_code == 403
    confirmed = api(district_manager).post(f"{REMITTANCES}{rid}/confirm/", {}, format="json")
    assert confirmed.json()["status"] == "confirmed" and confirmed.json()["received_entry"]

    second = api(secretary_a).post(REMITTANCES, {**payload, "amount": "40.00"}, format="json").json()["id"]
    returned = api(district_manager).post(
        f"{REMITTANCES}{second}/return/", {"reason": "金额与凭证不符"}, format="json"
    )
    assert (returned.json()["status"], returned.json()["return_reason"]) == ("returned", "金额与凭证不符")

    # Both ends see the trail; a list filtered by the receiving organisation.
    for user in (secretary_a, district_manager):
        assert api(user).get(REMITTANCES, {"org": tree.district_a.pk}).json()["count"] == 2
    assert api(district_manager).get(REMITTANCES, {"status": "confirmed"}).json()["count"] == 1
    assert DuesRemittance.objects.count() == 2
